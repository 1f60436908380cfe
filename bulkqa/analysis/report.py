"""The QA results report: per class and confidence band, thresholds and calibration.

Pure: no AWS, no files. ``build_report(records)`` takes any iterable of
``(image, label, confidence, c, d)`` (``Record`` or plain tuples), collects it in one pass into
compact arrays, and computes every figure with numpy -- a million records take about a second.

Definitions (c = confirm votes, d = disconfirm votes; an image with no vote is *unreviewed*: it
is counted apart and left out of every other figure):

- outcome: see ``records.outcome`` (unanimous / majority); split = c > 0 and d > 0.
- per label and band: total, incorrect = total - confirmed, %correct = confirmed / total
  (None -- "n/a" -- for an empty band). Bands are ``[lo, hi)``, the last closed.
- per label: total (every reviewed image, also those whose confidence is outside all bands),
  confirmed, disconfirmed, split, unreviewed, %correct; a TOTALS row; a Class Average row (the
  mean of the labels' %correct, and per band the mean over the labels whose band is not empty).
- per label threshold: ``thresholds.walk_threshold``; beyond it ``thresholds.precision_threshold``
  and ``calibration.calibration``.
- threshold status (why a script never needs the table): ``no_data`` when the class has no reviewed
  image in any band -- the walk would pass every empty band and say "accept everything", so the
  threshold is None instead; ``never`` when the walk stops at the top edge (the threshold is that
  edge, 100 by default: the method's convention for "never accept automatically"); ``too_few`` when
  fewer than ``min_reviewed`` images were reviewed (the threshold is given, but weak); else ``ok``.
"""

from __future__ import annotations

import enum
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from bulkqa.analysis.calibration import DEFAULT_CALIBRATION_BINS, Calibration, bin_index, calibration_from_sums
from bulkqa.analysis.records import DEFAULT_BANDS, Bands, Policy, number, parse_bands
from bulkqa.analysis.thresholds import (
    PrecisionThreshold,
    fp_ratio,
    precision_threshold,
    target_precision,
    walk_threshold,
)

DEFAULT_MAX_FP_RATIO = 0.1
DEFAULT_MIN_REVIEWED = 30
TOTALS_LABEL = "TOTALS"
CLASS_AVERAGE_LABEL = "Class Average"


class ThresholdStatus(enum.StrEnum):
    """What a class's threshold means (see the module docstring)."""

    OK = "ok"
    NEVER = "never"
    NO_DATA = "no_data"
    TOO_FEW = "too_few"


def pct(part: int, whole: int) -> float | None:
    """``part / whole`` as a percentage 0-100; None ("n/a") when ``whole`` is 0."""
    return 100.0 * part / whole if whole else None


@dataclass(frozen=True)
class BandRow:
    lo: float | int
    hi: float | int
    total: int
    incorrect: int
    pct_correct: float | None

    @property
    def confirmed(self) -> int:
        return self.total - self.incorrect

    def to_json(self) -> dict[str, Any]:
        return {
            "lo": self.lo,
            "hi": self.hi,
            "total": self.total,
            "incorrect": self.incorrect,
            "pct_correct": self.pct_correct,
        }


@dataclass(frozen=True)
class ClassRow:
    """One label's figures (or the TOTALS row, whose threshold is None)."""

    label: str
    total: int
    confirmed: int
    disconfirmed: int
    split: int
    unreviewed: int
    pct_correct: float | None
    bands: tuple[BandRow, ...]
    threshold: float | int | None  # None: no data (or the TOTALS row)
    threshold_status: ThresholdStatus | None = None  # None for the TOTALS row
    warnings: tuple[str, ...] = ()
    exact: PrecisionThreshold | None = None  # the exact-confidence threshold (None for TOTALS)

    def to_json(self, *, with_threshold: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "label": self.label,
            "total": self.total,
            "confirmed": self.confirmed,
            "disconfirmed": self.disconfirmed,
            "split": self.split,
            "unreviewed": self.unreviewed,
            "pct_correct": self.pct_correct,
            "bands": [b.to_json() for b in self.bands],
        }
        if with_threshold:
            out["threshold"] = self.threshold
            out["threshold_status"] = None if self.threshold_status is None else self.threshold_status.value
            if self.exact is not None:
                out["exact_threshold"] = exact_json(self.exact)
            out["warnings"] = list(self.warnings)
        return out


def exact_json(t: PrecisionThreshold) -> dict[str, Any]:
    """The exact-confidence threshold in the json report (percentages 0-100, None when there is none)."""
    return {
        "confidence": t.confidence,
        "accepted": t.accepted,
        "confirmed": t.confirmed,
        "precision": t.precision,
        "wilson95_lower": t.wilson_lower,
        "supported": t.supported,
    }


@dataclass(frozen=True)
class BandAverage:
    lo: float | int
    hi: float | int
    pct_correct: float | None


@dataclass(frozen=True)
class ClassAverage:
    pct_correct: float | None
    bands: tuple[BandAverage, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "pct_correct": self.pct_correct,
            "bands": [{"lo": b.lo, "hi": b.hi, "pct_correct": b.pct_correct} for b in self.bands],
        }


@dataclass(frozen=True)
class Report:
    policy: Policy
    bands: Bands
    max_fp_ratio: float
    min_reviewed: int
    classes: tuple[ClassRow, ...]
    totals: ClassRow
    class_average: ClassAverage
    precision_thresholds: tuple[PrecisionThreshold, ...]  # one per class, same order
    calibration: tuple[Calibration, ...]  # one per class, same order
    overall_calibration: Calibration
    outside_bands: int  # reviewed images whose confidence is in no band (in the totals, in no band)

    @property
    def target_precision(self) -> float:
        """The precision (%) the max-fp-ratio amounts to: 100 / (1 + ratio)."""
        return 100.0 * target_precision(self.max_fp_ratio)

    @property
    def images(self) -> int:
        return self.totals.total + self.totals.unreviewed

    def to_json(self) -> dict[str, Any]:
        """The shape of issue 6 (percentages 0-100, n/a as None) with issue 13's threshold fields."""
        return {
            "policy": self.policy.value,
            "bands": [[lo, hi] for lo, hi in self.bands.intervals],
            "max_fp_ratio": self.max_fp_ratio,
            "target_precision": self.target_precision,
            "min_reviewed": self.min_reviewed,
            "threshold_never": number(self.bands.edges[-1]),
            "outside_bands": self.outside_bands,
            "classes": [c.to_json() for c in self.classes],
            "totals": self.totals.to_json(with_threshold=False),
            "class_average": self.class_average.to_json(),
        }


class Columns:
    """Records gathered into compact columns in one pass (labels as small integers)."""

    def __init__(self) -> None:
        self.label_ids: dict[str, int] = {}
        self.label: array[int] = array("q")
        self.confidence: array[float] = array("d")
        self.confirm: array[int] = array("q")
        self.disconfirm: array[int] = array("q")

    def extend(self, records: Iterable[Sequence[Any]]) -> Columns:
        ids = self.label_ids
        add_label, add_conf = self.label.append, self.confidence.append
        add_c, add_d = self.confirm.append, self.disconfirm.append
        for _image, label, confidence, c, d in records:
            i = ids.get(label)
            if i is None:
                i = ids[label] = len(ids)
            add_label(i)
            add_conf(confidence)
            add_c(c)
            add_d(d)
        return self

    @property
    def labels(self) -> list[str]:
        return list(self.label_ids)

    def __len__(self) -> int:
        return len(self.label)


def build_report(
    records: Iterable[Sequence[Any]],
    *,
    policy: Policy | str = Policy.UNANIMOUS,
    bands: Bands | str | Sequence[float] = DEFAULT_BANDS,
    max_fp_ratio: float | Fraction | str = DEFAULT_MAX_FP_RATIO,
    min_reviewed: int = DEFAULT_MIN_REVIEWED,
    calibration_bins: int = DEFAULT_CALIBRATION_BINS,
) -> Report:
    """The full report from ``(image, label, confidence, c, d)`` records, in one pass over them."""
    cols = Columns().extend(records)
    return build_report_from_columns(
        cols.labels,
        np.frombuffer(cols.label, dtype=np.int64) if len(cols) else np.zeros(0, np.int64),
        np.frombuffer(cols.confidence, dtype=np.float64) if len(cols) else np.zeros(0),
        np.frombuffer(cols.confirm, dtype=np.int64) if len(cols) else np.zeros(0, np.int64),
        np.frombuffer(cols.disconfirm, dtype=np.int64) if len(cols) else np.zeros(0, np.int64),
        policy=policy,
        bands=bands,
        max_fp_ratio=max_fp_ratio,
        min_reviewed=min_reviewed,
        calibration_bins=calibration_bins,
    )


def build_report_from_columns(
    labels: Sequence[str],
    label_ids: np.ndarray,
    confidence: np.ndarray,
    confirm: np.ndarray,
    disconfirm: np.ndarray,
    *,
    policy: Policy | str = Policy.UNANIMOUS,
    bands: Bands | str | Sequence[float] = DEFAULT_BANDS,
    max_fp_ratio: float | Fraction | str = DEFAULT_MAX_FP_RATIO,
    min_reviewed: int = DEFAULT_MIN_REVIEWED,
    calibration_bins: int = DEFAULT_CALIBRATION_BINS,
) -> Report:
    """The report from columns: ``labels[label_ids[i]]`` is the label of image i."""
    policy = Policy(policy)
    bands = bands if isinstance(bands, Bands) else parse_bands(bands)
    ratio = fp_ratio(max_fp_ratio)
    lab = np.asarray(label_ids, dtype=np.int64)
    conf = np.asarray(confidence, dtype=np.float64)
    c = np.asarray(confirm, dtype=np.int64)
    d = np.asarray(disconfirm, dtype=np.int64)
    if not (lab.shape == conf.shape == c.shape == d.shape):
        raise ValueError("the columns differ in length")
    if (c < 0).any() or (d < 0).any():
        raise ValueError("vote counts cannot be negative")
    if not np.isfinite(conf).all():
        raise ValueError("confidences must be finite numbers")
    n_labels, n_bands = len(labels), len(bands)

    reviewed = (c + d) > 0
    if policy is Policy.UNANIMOUS:
        confirmed = reviewed & (d == 0)
        disconfirmed = reviewed & (c == 0)
    else:
        confirmed = c > d
        disconfirmed = d > c
    split = (c > 0) & (d > 0)

    def per_label(mask: np.ndarray) -> np.ndarray:
        return np.bincount(lab[mask], minlength=n_labels)

    total_l, confirmed_l = per_label(reviewed), per_label(confirmed)
    disconfirmed_l, split_l, unreviewed_l = per_label(disconfirmed), per_label(split), per_label(~reviewed)

    edges = np.asarray(bands.edges, dtype=np.float64)
    band = np.searchsorted(edges, conf, side="right") - 1
    band[conf == edges[-1]] = n_bands - 1
    in_band = reviewed & (band >= 0) & (band < n_bands)
    cell = lab * n_bands + band
    band_total = np.bincount(cell[in_band], minlength=n_labels * n_bands).reshape(n_labels, n_bands)
    band_confirmed = np.bincount(cell[in_band & confirmed], minlength=n_labels * n_bands).reshape(n_labels, n_bands)
    intervals = bands.intervals

    def band_rows(totals: np.ndarray, confirms: np.ndarray) -> tuple[BandRow, ...]:
        return tuple(
            BandRow(lo, hi, int(t), int(t - k), pct(int(k), int(t)))
            for (lo, hi), t, k in zip(intervals, totals, confirms, strict=True)
        )

    # Reviewed images per label, for the exact thresholds and calibration.
    r_lab, r_conf, r_ok = lab[reviewed], conf[reviewed], confirmed[reviewed]
    # Same order either way; int16 keys make numpy's stable sort a radix sort (8x faster at 1M rows).
    order = np.argsort(r_lab.astype(np.int16) if n_labels < 2**15 else r_lab, kind="stable")
    r_conf, r_ok = r_conf[order], r_ok[order]
    starts = np.concatenate(([0], np.cumsum(total_l)))
    cal_bin = bin_index(conf[reviewed], calibration_bins)
    cal_cell = r_lab * calibration_bins + cal_bin
    size = n_labels * calibration_bins
    cal_count = np.bincount(cal_cell, minlength=size).reshape(n_labels, calibration_bins)
    cal_sum = np.bincount(cal_cell, weights=conf[reviewed], minlength=size).reshape(n_labels, calibration_bins)
    cal_ok = np.bincount(cal_cell, weights=confirmed[reviewed].astype(np.float64), minlength=size).reshape(
        n_labels, calibration_bins
    )

    classes, exact, calibrations = [], [], []
    for i in sorted(range(n_labels), key=lambda j: labels[j]):
        rows = band_rows(band_total[i], band_confirmed[i])
        walk = walk_threshold([(b.lo, b.hi, b.total, b.confirmed) for b in rows], ratio)
        total, ok = int(total_l[i]), int(confirmed_l[i])
        segment = slice(int(starts[i]), int(starts[i + 1]))
        precise = precision_threshold(labels[i], r_conf[segment], r_ok[segment], ratio, min_reviewed)
        exact.append(precise)
        status, threshold, notes = threshold_verdict(bands, rows, number(walk), total, min_reviewed, precise)
        classes.append(
            ClassRow(
                labels[i],
                total,
                ok,
                int(disconfirmed_l[i]),
                int(split_l[i]),
                int(unreviewed_l[i]),
                pct(ok, total),
                rows,
                threshold,
                status,
                notes,
                precise,
            )
        )
        calibrations.append(calibration_from_sums(labels[i], cal_count[i], cal_sum[i], cal_ok[i]))

    grand_total, grand_ok = int(total_l.sum()), int(confirmed_l.sum())
    totals = ClassRow(
        TOTALS_LABEL,
        grand_total,
        grand_ok,
        int(disconfirmed_l.sum()),
        int(split_l.sum()),
        int(unreviewed_l.sum()),
        pct(grand_ok, grand_total),
        band_rows(band_total.sum(axis=0), band_confirmed.sum(axis=0)),
        None,
    )
    average = class_average(classes, intervals)
    overall = calibration_from_sums(None, cal_count.sum(axis=0), cal_sum.sum(axis=0), cal_ok.sum(axis=0))
    return Report(
        policy,
        bands,
        float(ratio),
        min_reviewed,
        tuple(classes),
        totals,
        average,
        tuple(exact),
        tuple(calibrations),
        overall,
        int((reviewed & ~in_band).sum()),
    )


def threshold_verdict(
    bands: Bands,
    rows: Sequence[BandRow],
    walk: float | int,
    reviewed: int,
    min_reviewed: int,
    exact: PrecisionThreshold,
) -> tuple[ThresholdStatus, float | int | None, tuple[str, ...]]:
    """The class's threshold status, its threshold (None without data) and its warnings, worst first."""
    in_bands = sum(b.total for b in rows)
    notes: list[str] = []
    if in_bands == 0:
        status: ThresholdStatus = ThresholdStatus.NO_DATA
        notes.append("no reviewed image in any band: no threshold")
    elif float(walk) == bands.edges[-1]:
        status = ThresholdStatus.NEVER
        notes.append(f"the top band fails: never accept automatically ({number(bands.edges[-1])} = never)")
    elif reviewed < min_reviewed:
        status = ThresholdStatus.TOO_FEW
    else:
        status = ThresholdStatus.OK
    if reviewed < min_reviewed:
        notes.append(f"too few reviewed ({reviewed} < {min_reviewed})")
    if reviewed > in_bands:
        notes.append(f"{reviewed - in_bands} reviewed outside every band")
    if exact.confidence is not None and not exact.supported:
        notes.append("Wilson bound below target")
    elif exact.confidence is None and reviewed:
        notes.append("no confidence reaches the target")
    return status, None if status is ThresholdStatus.NO_DATA else walk, tuple(notes)


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def class_average(classes: Sequence[ClassRow], intervals: Sequence[tuple[float | int, float | int]]) -> ClassAverage:
    """Mean of the labels' %correct (labels with no reviewed image have none to give), and per band
    the mean over the labels whose band is not empty."""
    return ClassAverage(
        _mean(c.pct_correct for c in classes),
        tuple(
            BandAverage(lo, hi, _mean(c.bands[i].pct_correct for c in classes)) for i, (lo, hi) in enumerate(intervals)
        ),
    )
