"""Estimation accuracy against review cost (issue 14 item 6): how small may ``--sample N`` be?

A simulated round of ``rows`` predictions over 20 classes with *known* truth: each class has its
own precision curve by confidence (a logistic in the confidence, so some classes are good from
85 and some never are), confidences spread over 80-100, class sizes unequal (Zipf-like). For
each replication (a ``--sample-seed``) and each ``N``:

1. the sample is what ``bulkqa seed --sample N --sample-seed S`` queues: per (label, band) cell the
   ``N`` rows with the smallest :func:`handlers.seeding.sample_priority` (the seed's own rule; the
   vectorised selection here is checked against the seed's ``Sampler`` on a slice of the rows);
2. a pure Ground Truth simulator answers it: ``workers`` workers per image, each wrong with
   probability ``worker_error``, the majority verdict counts (no emulator: 1M rows);
3. each cell is estimated as the round report does (:func:`bulkqa.analysis.rounds.estimate_cell`:
   sample precision, Wilson 95% interval, extrapolated to the cell's population), and each class
   is the population-weighted sum of its cells, with a stratified 95% interval
   (``1.96 * sqrt(sum w_c^2 se_c^2 (N_c - n_c) / (N_c - 1))``, ``se_c`` the cell's Wilson
   half-width / 1.96);
4. compared with the class's true precision (the share of its population that is right).

Tasks used = pages of the sample (``ceil(sampled rows of a label / 25)`` per label) against a full
review (``ceil(rows of a label / 25)``). Goal: every class within +-3 points at 95% for < 2% of a
full review's tasks.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bulkqa.analysis.rounds import CellCounts, estimate_cell
from handlers.seed_options import SAMPLE_BAND_EDGES, sample_band
from handlers.seeding import Sampler, sample_priority

CLASSES = 20
BATCH = 25
Z = 1.959963984540054
GOAL_POINTS = 3.0
GOAL_SHARE = 0.02  # of a full review's tasks
GOAL_COVERAGE = 0.95


def population(rows: int, seed: int = 14) -> dict[str, Any]:
    """The round: per row its class, confidence and truth (1 = the label is right); pure numpy."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, CLASSES + 1) ** 0.8
    labels = rng.choice(CLASSES, size=rows, p=weights / weights.sum())
    confidence = np.round(80.0 + 20.0 * rng.beta(2.0, 1.2, size=rows), 2)
    # Per class a logistic precision curve: centre (the confidence where it is 50 % right) and slope.
    centre = rng.uniform(60.0, 88.0, size=CLASSES)
    slope = rng.uniform(0.12, 0.45, size=CLASSES)
    p_right = 1.0 / (1.0 + np.exp(-slope[labels] * (confidence - centre[labels])))
    truth = rng.random(rows) < p_right
    band = np.digitize(confidence, SAMPLE_BAND_EDGES[1:-1])  # 0..3; 100.0 falls in the last band
    return {"label": labels, "confidence": confidence, "truth": truth, "band": band, "rows": rows}


def priorities(rows: int, seed: int) -> np.ndarray:
    """Each row's place in its cell's sample, by the seed's own function (image name = row number)."""
    return np.fromiter(
        (sample_priority(seed, f"img/{i:07d}.jpg", "") for i in range(rows)), dtype=np.uint64, count=rows
    )


def sample_order(pop: dict[str, Any], prio: np.ndarray) -> np.ndarray:
    """Rank of each row within its (label, band) cell by priority (0 = drawn first)."""
    cell = pop["label"].astype(np.int64) * 8 + pop["band"]
    order = np.lexsort((prio, cell))
    rank = np.empty(len(order), dtype=np.int64)
    sorted_cells = cell[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_cells)) + 1]
    run = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    rank[order] = run
    return rank


def check_against_sampler(pop: dict[str, Any], seed: int, size: int, rows: int = 20_000) -> None:
    """The vectorised draw is the seed's: same rows as ``handlers.seeding.Sampler`` on a slice."""
    sub = {k: (v[:rows] if isinstance(v, np.ndarray) else rows) for k, v in pop.items()}
    rank = sample_order(sub, priorities(rows, seed))
    ours = set(np.flatnonzero(rank < size).tolist())
    sampler = Sampler(size, seed)
    for i in range(rows):
        confidence = float(sub["confidence"][i])
        assert sample_band(confidence) is not None
        sampler.add(i, f"img/{i:07d}.jpg", "", confidence, i + 1)
    # the Sampler keys cells by its own label argument: re-key by class here
    kept = set()
    for label in range(CLASSES):
        per_class = Sampler(size, seed)
        for i in np.flatnonzero(sub["label"] == label).tolist():
            per_class.add(i, f"img/{i:07d}.jpg", "", float(sub["confidence"][i]), i + 1)
        kept.update(per_class.drain())
    if kept != ours:
        raise AssertionError(f"the bench's sample differs from Sampler's: {len(kept ^ ours)} rows")


def answer(truth: np.ndarray, workers: int, error: float, rng: np.random.Generator) -> np.ndarray:
    """Majority of ``workers`` simulated workers, each wrong with probability ``error``: confirmed?"""
    wrong_votes = rng.binomial(workers, error, size=truth.shape)
    right_votes = workers - wrong_votes
    return np.where(truth, right_votes > workers / 2, wrong_votes > workers / 2)


def pages_of(counts: np.ndarray) -> int:
    return int(np.sum(-(-counts // BATCH)))


def evaluate(
    pop: dict[str, Any], sizes: Sequence[int], replications: int, workers: int, worker_error: float
) -> dict[str, Any]:
    labels, band, truth, rows = pop["label"], pop["band"], pop["truth"], pop["rows"]
    per_class_rows = np.bincount(labels, minlength=CLASSES)
    true_precision = 100.0 * np.bincount(labels, weights=truth, minlength=CLASSES) / per_class_rows
    full_tasks = pages_of(per_class_rows)
    errors = {n: [] for n in sizes}  # per N: list of arrays (per class |estimate - truth|)
    halves = {n: [] for n in sizes}
    misses = {n: 0 for n in sizes}  # truth outside the stratified 95 % interval
    tasks = {}
    rng = np.random.default_rng(99)
    for replication in range(replications):
        rank = sample_order(pop, priorities(rows, 1000 + replication))
        verdict = answer(truth, workers, worker_error, rng)
        for n in sizes:
            drawn = rank < n
            tasks[n] = pages_of(np.bincount(labels[drawn], minlength=CLASSES))
            est = np.zeros(CLASSES)
            var = np.zeros(CLASSES)
            for c in range(CLASSES):
                in_class = labels == c
                for b in range(len(SAMPLE_BAND_EDGES) - 1):
                    cell = in_class & (band == b)
                    size = int(cell.sum())
                    if not size:
                        continue
                    reviewed = cell & drawn
                    k, m = int(verdict[reviewed].sum()), int(reviewed.sum())
                    counts = CellCounts(queued=m, sampled_out=size - m, reviewed=m, confirmed=k)
                    cell_estimate = estimate_cell(str(c), SAMPLE_BAND_EDGES[b], SAMPLE_BAND_EDGES[b + 1], counts)
                    est[c] += cell_estimate.estimated_correct or 0.0
                    # The cell's Wilson interval as its standard error (never zero, unlike p(1-p)/n at
                    # 0 or 100 %), with the finite-population correction of sampling without replacement.
                    se = (cell_estimate.precision_high - cell_estimate.precision_low) / 100.0 / (2 * Z)
                    var[c] += (size**2) * se**2 * ((size - m) / max(size - 1, 1))
            estimate = 100.0 * est / per_class_rows
            half = 100.0 * Z * np.sqrt(var) / per_class_rows
            errors[n].append(np.abs(estimate - true_precision))
            halves[n].append(half)
            misses[n] += int(np.sum(np.abs(estimate - true_precision) > half))
    curve = []
    for n in sizes:
        err = np.array(errors[n])  # replications x classes
        within = (err <= GOAL_POINTS).mean(axis=0)  # per class: share of replications within 3 points
        half = np.array(halves[n])
        share = tasks[n] / full_tasks
        curve.append(
            {
                "sample_per_cell": n,
                "tasks": tasks[n],
                "share_of_full_review": round(share, 5),
                "worst_class_within_3_points": round(float(within.min()), 3),
                "worst_class_p95_error_points": round(float(np.quantile(err, 0.95, axis=0).max()), 2),
                "max_interval_half_width_points": round(float(half.max()), 2),
                "mean_interval_half_width_points": round(float(half.mean()), 2),
                "interval_coverage": round(1 - misses[n] / (replications * CLASSES), 3),
                # Met: in >= 95 % of replications every class's estimate is within 3 points of the
                # truth, every class's 95 % interval is at most +-3 points, for < 2 % of the tasks.
                "goal_met": bool(within.min() >= GOAL_COVERAGE and half.max() <= GOAL_POINTS and share < GOAL_SHARE),
            }
        )
    met = [point for point in curve if point["goal_met"]]
    return {
        "rows": rows,
        "classes": CLASSES,
        "batch_size": BATCH,
        "full_review_tasks": full_tasks,
        "workers": workers,
        "worker_error": worker_error,
        "replications": replications,
        "true_precision_range": [round(float(true_precision.min()), 1), round(float(true_precision.max()), 1)],
        "class_rows_range": [int(per_class_rows.min()), int(per_class_rows.max())],
        "curve": curve,
        "smallest_n_meeting_goal": met[0]["sample_per_cell"] if met else None,
    }


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = result["curve"]
    x = [100 * point["share_of_full_review"] for point in curve]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ax.plot(x, [p["worst_class_p95_error_points"] for p in curve], "o-", label="worst class: 95th pct |error|")
    ax.plot(x, [p["max_interval_half_width_points"] for p in curve], "s--", label="widest 95% interval (half)")
    for point, xi in zip(curve, x, strict=True):
        ax.annotate(
            f"N={point['sample_per_cell']}",
            (xi, point["worst_class_p95_error_points"]),
            fontsize=7,
            textcoords="offset points",
            xytext=(3, 4),
        )
    ax.axhline(GOAL_POINTS, color="grey", lw=0.8)
    ax.axvline(100 * GOAL_SHARE, color="grey", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("tasks used, % of a full review (log)")
    ax.set_ylabel("precision points")
    ax.set_title(f"{result['rows']:,} predictions, {result['classes']} classes: accuracy vs review cost", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def measure(rows: int, replications: int, sizes: Sequence[int], plot_path: Path | None) -> dict[str, Any]:
    pop = population(rows)
    check_against_sampler(pop, seed=1000, size=min(sizes))
    result = evaluate(pop, sizes, replications, workers=3, worker_error=0.03)
    if plot_path is not None:
        plot(result, plot_path)
        result["plot"] = plot_path.name
    return result


if __name__ == "__main__":
    import json
    import sys

    out = measure(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000, 3, (25, 50, 100, 200), None)
    print(json.dumps(out, indent=1))
