"""What one QA round did to its population: auto-accepted, sampled out, reviewed; estimates; cost saved.

Pure: no AWS, no files. Why a module of its own: a round's report is the ordinary report (built
from the pairs that were reviewed or queued, with *this round's* confidences) plus what the round
decided *not* to review. Those pairs have no votes, so the ordinary report would show them as
"unreviewed" and hide that a threshold or a sample stood in for a human. Here they are counted
apart, and for sampled rounds the sample is extrapolated to the whole population of each cell.

Interface for the data side (``bulkqa/round_source.py``, H4b)
-------------------------------------------------------------
Feed every round-pair item of the round, joined with its pair item's votes, as ``RoundPair``s
(plain 6-tuples ``(image, label, confidence, state, confirm, disconfirm)`` work too), with
``state`` one of ``handlers.settings.ROUND_STATES`` (``queued``, ``reused``, ``accepted``,
``sampled_out``), and the round's metadata as ``RoundInfo``::

    from bulkqa.analysis.rounds import RoundInfo, build_round_report

    round_report = build_round_report(
        pairs,  # Iterable[RoundPair]: every pair of the round, all states, this round's confidence
        RoundInfo(name="r1", batch_size=25, tasks_queued=sum(p["batches"] for p in meta["parts"])),
        policy=policy, bands=bands, max_fp_ratio=ratio, min_reviewed=min_reviewed,
    )
    round_report.report      # the ordinary Report, over queued + reused pairs only
    round_report.population  # RoundPopulation: per (label, band) counts by state
    round_report.estimates   # per-cell sample precision and extrapolation (sampled rounds)
    round_report.cost        # ReviewCost: tasks queued vs a full review; saved by threshold/sampling

``bulkqa.renderers.render_round(round_report, fmt)`` prints it in every format (the table renderer's
``print_round_report(round_report, console)`` for a terminal). ``build_round_report`` makes one pass
over ``pairs``: an iterator is fine.

Definitions
-----------
- A pair's *cell* is (label, confidence band) with the report's bands; a confidence in no band is
  counted per label in ``outside_bands``.
- ``accepted``: at or above its class's threshold when seeded: accepted by threshold, not reviewed.
  Counted apart; its votes (another round may have reviewed it since) are not in the report.
- ``sampled_out``: not drawn by ``--sample``. The cell's *population* for estimates is
  queued + reused + sampled_out (accepted pairs were never in the sampling frame).
- Estimate of a cell: among its reviewed pairs (votes > 0), ``k`` confirmed of ``n``; the sample
  precision ``k / n`` with its Wilson 95% interval ``[lo, hi]``. Extrapolated to the cell's
  population ``N``: the reviewed pairs are known exactly, the ``N - n`` others are estimated, so
  ``correct ≈ k + (N - n) * k / n`` within ``[k + (N - n) * lo, k + (N - n) * hi]``. The interval
  treats the sample as drawn with replacement (no finite-population correction), so it is slightly
  wide when ``n`` is a large part of ``N``; with ``n = N`` it is exact.
- Review cost, in tasks (pages): a page holds one label, so a label with ``r`` rows needs
  ``ceil(r / batch_size)`` pages. ``full`` = over every pair of the round; then the seed's own
  decision order removes pairs: threshold (accepted) -> reused verdicts -> sampling. Saved by each
  step = pages before it minus pages after it, so the steps add up to ``full - needed``. ``queued``
  is the pages the round's manifests actually hold (``RoundInfo.tasks_queued``; it can exceed
  ``needed`` when a round was seeded in several parts), else ``needed``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, NamedTuple

import numpy as np

from bulkqa.analysis.records import DEFAULT_BANDS, Bands, Outcome, Policy, outcome, parse_bands
from bulkqa.analysis.report import DEFAULT_MAX_FP_RATIO, DEFAULT_MIN_REVIEWED, Report, build_report
from bulkqa.analysis.thresholds import wilson_interval
from handlers.settings import ROUND_STATES, STATE_ACCEPTED, STATE_QUEUED, STATE_REUSED

REVIEW_STATES = (STATE_QUEUED, STATE_REUSED)  # the pairs the ordinary report is built from


class RoundPair(NamedTuple):
    """One pair of a round: this round's confidence, its state in the round, the shared votes."""

    image: str
    label: str
    confidence: float
    state: str  # one of ROUND_STATES
    confirm: int
    disconfirm: int


@dataclass(frozen=True)
class RoundInfo:
    """The round's metadata (the ``round`` item): its name, page size and pages queued."""

    name: str
    batch_size: int
    tasks_queued: int | None = None  # pages in the round's manifests; None: computed from the pairs
    sample: int | None = None  # --sample N, if the round was sampled (shown in the report)

    def __post_init__(self) -> None:
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"round {self.name!r}: batch size must be a positive integer, got {self.batch_size!r}")
        if self.tasks_queued is not None and (
            isinstance(self.tasks_queued, bool) or not isinstance(self.tasks_queued, int) or self.tasks_queued < 0
        ):
            raise ValueError(
                f"round {self.name!r}: tasks queued must be a whole number >= 0, got {self.tasks_queued!r}"
            )


@dataclass(frozen=True)
class CellCounts:
    """Pairs of one (label, band) cell by state; ``reviewed``/``confirmed`` among queued + reused."""

    queued: int = 0
    reused: int = 0
    accepted: int = 0
    sampled_out: int = 0
    reviewed: int = 0  # queued or reused pairs with at least one vote
    confirmed: int = 0  # of those, confirmed under the policy

    @property
    def rows(self) -> int:
        return self.queued + self.reused + self.accepted + self.sampled_out

    @property
    def population(self) -> int:
        """The sampling frame: every pair of the cell that was not accepted by threshold."""
        return self.queued + self.reused + self.sampled_out

    def to_json(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "queued": self.queued,
            "reused": self.reused,
            "accepted": self.accepted,
            "sampled_out": self.sampled_out,
            "reviewed": self.reviewed,
            "confirmed": self.confirmed,
        }


@dataclass(frozen=True)
class LabelPopulation:
    label: str
    bands: tuple[CellCounts, ...]  # one per band, in order
    outside_bands: CellCounts  # pairs whose confidence is in no band

    @property
    def total(self) -> CellCounts:
        return _sum_cells((*self.bands, self.outside_bands))


@dataclass(frozen=True)
class RoundPopulation:
    """Per (label, band) counts of the round's pairs by state. Labels sorted."""

    bands: Bands
    labels: tuple[LabelPopulation, ...]

    @property
    def total(self) -> CellCounts:
        return _sum_cells(tuple(lp.total for lp in self.labels))

    def label(self, name: str) -> LabelPopulation:
        for lp in self.labels:
            if lp.label == name:
                return lp
        raise KeyError(name)


@dataclass(frozen=True)
class CellEstimate:
    """Sample precision of one cell and its extrapolation to the cell's population (percent, counts)."""

    label: str
    lo: float | int
    hi: float | int
    population: int  # N: queued + reused + sampled out
    reviewed: int  # n
    confirmed: int  # k
    precision: float | None  # k / n, %
    precision_low: float | None  # Wilson 95%, %
    precision_high: float | None
    estimated_correct: float | None  # k + (N - n) k / n
    estimated_correct_low: float | None
    estimated_correct_high: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "lo": self.lo,
            "hi": self.hi,
            "population": self.population,
            "reviewed": self.reviewed,
            "confirmed": self.confirmed,
            "precision": self.precision,
            "precision_wilson95": [self.precision_low, self.precision_high],
            "estimated_correct": self.estimated_correct,
            "estimated_correct_wilson95": [self.estimated_correct_low, self.estimated_correct_high],
        }


@dataclass(frozen=True)
class ReviewCost:
    """Pages (tasks): a full review, and what each of the seed's decisions saved, in its order."""

    batch_size: int
    full: int  # every pair of the round reviewed
    after_threshold: int  # accepted pairs left out
    after_reuse: int  # and reused verdicts
    needed: int  # and sampled-out pairs: the pages the queued pairs need
    queued: int  # pages actually queued (the round's manifests), else ``needed``

    @property
    def saved_by_threshold(self) -> int:
        return self.full - self.after_threshold

    @property
    def saved_by_reuse(self) -> int:
        return self.after_threshold - self.after_reuse

    @property
    def saved_by_sampling(self) -> int:
        return self.after_reuse - self.needed

    @property
    def saved(self) -> int:
        return max(0, self.full - self.queued)

    def to_json(self) -> dict[str, int]:
        return {
            "batch_size": self.batch_size,
            "full_review_tasks": self.full,
            "tasks_queued": self.queued,
            "tasks_saved": self.saved,
            "saved_by_threshold": self.saved_by_threshold,
            "saved_by_reused_verdicts": self.saved_by_reuse,
            "saved_by_sampling": self.saved_by_sampling,
        }


@dataclass(frozen=True)
class ExtraSection:
    """A section some rounds add to their report (workers left out, relabelled images): a title,
    sentences, an optional table of text cells, and the same figures as JSON under ``key``.

    Kept as plain data so every format draws it the same way without knowing what it is about.
    """

    key: str
    title: str
    lines: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    data: Any = None


@dataclass(frozen=True)
class RoundReport:
    info: RoundInfo
    report: Report  # over queued + reused pairs, this round's confidences
    population: RoundPopulation
    estimates: tuple[CellEstimate, ...]  # cells with sampled-out pairs (label order, then band)
    cost: ReviewCost
    accepted_reviewed: int  # accepted pairs that have votes anyway (reviewed by another round)
    accepted_confirmed: int  # of which confirmed: a check on the threshold
    extras: tuple[ExtraSection, ...] = ()  # worker exclusion, relabel confusion, ...

    @property
    def sampled(self) -> bool:
        return self.population.total.sampled_out > 0 or self.info.sample is not None

    def to_json(self) -> dict[str, Any]:
        """The ordinary report's JSON plus a ``round`` object."""
        out = self.report.to_json()
        total = self.population.total
        out["round"] = {
            "name": self.info.name,
            "sample": self.info.sample,
            "pairs": total.to_json(),
            "accepted_not_reviewed": total.accepted,  # by this round; some may be reviewed elsewhere since
            "accepted_reviewed_elsewhere": {"reviewed": self.accepted_reviewed, "confirmed": self.accepted_confirmed},
            "classes": [
                {
                    "label": lp.label,
                    **lp.total.to_json(),
                    "bands": [
                        {"lo": lo, "hi": hi, **cell.to_json()}
                        for (lo, hi), cell in zip(self.population.bands.intervals, lp.bands, strict=True)
                    ],
                    "outside_bands": lp.outside_bands.to_json(),
                }
                for lp in self.population.labels
            ],
            "estimates": [e.to_json() for e in self.estimates],
            "review_cost": self.cost.to_json(),
        }
        for section in self.extras:
            out[section.key] = section.data
        return out


def _sum_cells(cells: Sequence[CellCounts]) -> CellCounts:
    return CellCounts(
        sum(c.queued for c in cells),
        sum(c.reused for c in cells),
        sum(c.accepted for c in cells),
        sum(c.sampled_out for c in cells),
        sum(c.reviewed for c in cells),
        sum(c.confirmed for c in cells),
    )


@dataclass
class _Tally:
    """Mutable per-cell counters while the pairs stream in: [queued, reused, accepted, sampled_out, reviewed, ok]."""

    counts: dict[tuple[str, int], list[int]] = field(default_factory=dict)

    def add(self, label: str, band: int, state_index: int, reviewed: bool, confirmed: bool) -> None:
        row = self.counts.get((label, band))
        if row is None:
            row = self.counts[(label, band)] = [0, 0, 0, 0, 0, 0]
        row[state_index] += 1
        if state_index in (0, 1):
            row[4] += reviewed
            row[5] += confirmed

    def cell(self, label: str, band: int) -> CellCounts:
        return CellCounts(*self.counts.get((label, band), [0] * 6))


def estimate_cell(label: str, lo: float | int, hi: float | int, cell: CellCounts) -> CellEstimate:
    """The sample precision of ``cell`` and its extrapolation to the cell's population (see module doc)."""
    n, k, population = cell.reviewed, cell.confirmed, cell.population
    if n == 0:
        return CellEstimate(label, lo, hi, population, 0, 0, None, None, None, None, None, None)
    low, high = wilson_interval(k, n)
    rest = population - n
    return CellEstimate(
        label,
        lo,
        hi,
        population,
        n,
        k,
        100.0 * k / n,
        100.0 * low,
        100.0 * high,
        k + rest * k / n,
        k + rest * low,
        k + rest * high,
    )


def pages(rows: int, batch_size: int) -> int:
    return -(-rows // batch_size) if rows > 0 else 0


def review_cost(population: RoundPopulation, info: RoundInfo) -> ReviewCost:
    """Pages for a full review and after each of the seed's decisions, per label (a page is one label)."""
    b = info.batch_size
    full = after_threshold = after_reuse = needed = 0
    for lp in population.labels:
        t = lp.total
        full += pages(t.rows, b)
        after_threshold += pages(t.rows - t.accepted, b)
        after_reuse += pages(t.rows - t.accepted - t.reused, b)
        needed += pages(t.queued, b)
    queued = needed if info.tasks_queued is None else info.tasks_queued
    return ReviewCost(b, full, after_threshold, after_reuse, needed, queued)


def _state_index(state: str, where: str) -> int:
    try:
        return ROUND_STATES.index(state)
    except ValueError:
        raise ValueError(f"{where}: unknown round state {state!r}; expected one of {', '.join(ROUND_STATES)}") from None


def build_round_report(
    pairs: Iterable[Sequence[Any]],
    info: RoundInfo,
    *,
    policy: Policy | str = Policy.UNANIMOUS,
    bands: Bands | str | Sequence[float] = DEFAULT_BANDS,
    max_fp_ratio: float | Fraction | str = DEFAULT_MAX_FP_RATIO,
    min_reviewed: int = DEFAULT_MIN_REVIEWED,
) -> RoundReport:
    """The round's report from every one of its pairs (see the module docstring), in one pass."""
    policy = Policy(policy)
    bands = bands if isinstance(bands, Bands) else parse_bands(bands)
    tally = _Tally()
    records: list[tuple[str, str, float, int, int]] = []
    labels: set[str] = set()
    accepted_reviewed = accepted_confirmed = 0
    for position, (image, label, confidence, state, c, d) in enumerate(pairs):
        where = f"round {info.name!r}, pair {position + 1} ({image}, {label!r})"
        index = _state_index(state, where)
        if not isinstance(confidence, (int, float)) or not math.isfinite(confidence):
            raise ValueError(f"{where}: confidence must be a finite number, got {confidence!r}")
        result = outcome(int(c), int(d), policy)
        reviewed = result is not Outcome.UNREVIEWED
        confirmed = result is Outcome.CONFIRMED
        band = bands.index(float(confidence))
        labels.add(label)
        tally.add(label, -1 if band is None else band, index, reviewed, confirmed)
        if state in REVIEW_STATES:
            records.append((image, label, float(confidence), int(c), int(d)))
        elif state == STATE_ACCEPTED and reviewed:
            accepted_reviewed += 1
            accepted_confirmed += confirmed
    report = build_report(records, policy=policy, bands=bands, max_fp_ratio=max_fp_ratio, min_reviewed=min_reviewed)
    population = RoundPopulation(
        bands,
        tuple(
            LabelPopulation(name, tuple(tally.cell(name, i) for i in range(len(bands))), tally.cell(name, -1))
            for name in sorted(labels)
        ),
    )
    estimates = tuple(
        estimate_cell(lp.label, lo, hi, cell)
        for lp in population.labels
        for (lo, hi), cell in zip(bands.intervals, lp.bands, strict=True)
        if cell.sampled_out
    )
    return RoundReport(
        info,
        report,
        population,
        estimates,
        review_cost(population, info),
        accepted_reviewed,
        accepted_confirmed,
    )


def population_array(population: RoundPopulation, state: str) -> np.ndarray:
    """A (labels x bands) matrix of one state's counts, for plots and tests."""
    index = _state_index(state, "population_array")
    name = ROUND_STATES[index]
    return np.array([[getattr(cell, name) for cell in lp.bands] for lp in population.labels], dtype=np.int64).reshape(
        len(population.labels), len(population.bands)
    )
