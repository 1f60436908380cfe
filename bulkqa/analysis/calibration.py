"""Calibration: does a confidence of 90 mean 90% of those labels are confirmed?

Pure: no AWS, no files. Over the reviewed images, the model's confidence (0-100) is compared with
the outcome (1 if confirmed under the policy, else 0 -- the same correctness as %correct). The
confidences are put in equal-width bins over [0, 100] (half-open, the last closed); per bin the
count, the mean confidence and the accuracy (% confirmed) make the reliability diagram, and the
expected calibration error is ``ECE = sum_b (n_b / N) * |accuracy_b - mean_confidence_b|``, in
percentage points (0 = perfectly calibrated).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_CALIBRATION_BINS = 20  # 5 points wide, the width of the default bands


@dataclass(frozen=True)
class ReliabilityBin:
    lo: float
    hi: float
    count: int
    mean_confidence: float | None  # %, None for an empty bin
    accuracy: float | None  # % confirmed, None for an empty bin


@dataclass(frozen=True)
class Calibration:
    label: str | None  # None: all classes together
    reviewed: int
    ece: float | None  # percentage points; None with no reviewed image
    bins: tuple[ReliabilityBin, ...]

    @property
    def filled(self) -> tuple[ReliabilityBin, ...]:
        return tuple(b for b in self.bins if b.count)


def bin_edges(bins: int) -> np.ndarray:
    if bins < 1:
        raise ValueError("calibration needs at least one bin")
    return np.linspace(0.0, 100.0, bins + 1)


def bin_index(confidences: np.ndarray, bins: int) -> np.ndarray:
    """Bin of each confidence: ``[lo, hi)``, the last ``[lo, 100]``; values outside clamp to the ends."""
    edges = bin_edges(bins)
    index = np.searchsorted(edges, np.asarray(confidences, dtype=np.float64), side="right") - 1
    return np.clip(index, 0, bins - 1)


def calibration_from_sums(
    label: str | None, counts: np.ndarray, conf_sums: np.ndarray, correct: np.ndarray
) -> Calibration:
    """Build from per-bin count, sum of confidences and number confirmed."""
    n_bins = int(counts.size)
    edges = bin_edges(n_bins)
    total = int(counts.sum())
    out = []
    ece = 0.0
    for i in range(n_bins):
        n = int(counts[i])
        if n:
            mean_conf = float(conf_sums[i]) / n
            accuracy = 100.0 * float(correct[i]) / n
            ece += n / total * abs(accuracy - mean_conf)
            out.append(ReliabilityBin(float(edges[i]), float(edges[i + 1]), n, mean_conf, accuracy))
        else:
            out.append(ReliabilityBin(float(edges[i]), float(edges[i + 1]), 0, None, None))
    return Calibration(label, total, ece if total else None, tuple(out))


def calibration(
    label: str | None, confidences: np.ndarray, confirmed: np.ndarray, bins: int = DEFAULT_CALIBRATION_BINS
) -> Calibration:
    """Reliability bins and ECE of one set of reviewed images."""
    conf = np.asarray(confidences, dtype=np.float64)
    ok = np.asarray(confirmed, dtype=bool)
    index = bin_index(conf, bins)
    counts = np.bincount(index, minlength=bins)
    sums = np.bincount(index, weights=conf, minlength=bins)
    correct = np.bincount(index, weights=ok.astype(np.float64), minlength=bins)
    return calibration_from_sums(label, counts, sums, correct)
