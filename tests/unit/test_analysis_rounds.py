"""A round's report: counts by state, auto-accepted apart, sample estimates, review cost saved."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
from rich.console import Console

from bulkqa.analysis import build_report
from bulkqa.analysis.rounds import RoundInfo, RoundPair, build_round_report, estimate_cell, review_cost
from bulkqa.analysis.thresholds import wilson_interval
from bulkqa.renderers import Format, render_round
from bulkqa.renderers.table import print_round_report

# Dog, band [80, 85): 10 queued (8 confirmed, 1 disconfirmed, 1 not answered yet), 2 reused (confirmed),
# 20 sampled out. Dog [95, 100]: 30 accepted (2 of them reviewed since: 1 confirmed, 1 disconfirmed).
# Cat [90, 95): 3 queued (confirmed). Owl: 5 accepted only.
PAIRS = (
    [RoundPair(f"dq{i}", "Dog", 82.0, "queued", 1, 0) for i in range(8)]
    + [RoundPair("dq8", "Dog", 83.0, "queued", 0, 1), RoundPair("dq9", "Dog", 84.0, "queued", 0, 0)]
    + [RoundPair(f"dr{i}", "Dog", 81.0, "reused", 2, 0) for i in range(2)]
    + [RoundPair(f"ds{i}", "Dog", 80.5, "sampled_out", 0, 0) for i in range(20)]
    + [RoundPair(f"da{i}", "Dog", 97.0, "accepted", 0, 0) for i in range(28)]
    + [RoundPair("da28", "Dog", 98.0, "accepted", 1, 0), RoundPair("da29", "Dog", 99.0, "accepted", 0, 1)]
    + [RoundPair(f"cq{i}", "Cat", 91.0, "queued", 1, 0) for i in range(3)]
    + [RoundPair(f"oa{i}", "Owl", 96.0, "accepted", 0, 0) for i in range(5)]
)


@pytest.fixture(scope="module")
def rr():
    return build_round_report(iter(PAIRS), RoundInfo("r1", batch_size=4, tasks_queued=4, sample=10))


def test_counts_by_state_per_label_and_band(rr) -> None:
    dog = rr.population.label("Dog")
    low, top = dog.bands[0], dog.bands[3]
    assert (low.queued, low.reused, low.accepted, low.sampled_out, low.reviewed, low.confirmed) == (
        10,
        2,
        0,
        20,
        11,
        10,
    )
    assert (top.accepted, top.rows, top.population) == (30, 30, 0)
    assert low.population == 32 and low.rows == 32
    total = rr.population.total
    assert (total.rows, total.queued, total.reused, total.accepted, total.sampled_out) == (70, 13, 2, 35, 20)
    assert [lp.label for lp in rr.population.labels] == ["Cat", "Dog", "Owl"]


def test_the_report_is_built_from_queued_and_reused_pairs_only(rr) -> None:
    queued_or_reused = [
        (p.image, p.label, p.confidence, p.confirm, p.disconfirm) for p in PAIRS if p.state in {"queued", "reused"}
    ]
    assert rr.report == build_report(queued_or_reused)
    dog = next(c for c in rr.report.classes if c.label == "Dog")
    assert (dog.total, dog.confirmed, dog.unreviewed) == (11, 10, 1)  # accepted pairs' votes are not in it
    assert [c.label for c in rr.report.classes] == ["Cat", "Dog"]  # Owl: accepted only
    assert (rr.accepted_reviewed, rr.accepted_confirmed) == (2, 1)


def test_sample_estimates_are_extrapolated_to_the_cell(rr) -> None:
    (e,) = rr.estimates  # only Dog [80, 85) has sampled-out pairs
    assert (e.label, e.lo, e.hi, e.population, e.reviewed, e.confirmed) == ("Dog", 80, 85, 32, 11, 10)
    low, high = wilson_interval(10, 11)
    assert e.precision == pytest.approx(100 * 10 / 11)
    assert (e.precision_low, e.precision_high) == (pytest.approx(100 * low), pytest.approx(100 * high))
    # The 11 reviewed are known; the 21 others (20 sampled out, 1 not answered) are estimated.
    assert e.estimated_correct == pytest.approx(10 + 21 * 10 / 11)
    assert e.estimated_correct_low == pytest.approx(10 + 21 * low)
    assert e.estimated_correct_high == pytest.approx(10 + 21 * high)
    assert e.estimated_correct_low < e.estimated_correct < e.estimated_correct_high <= 32


def test_wilson_interval_by_hand() -> None:
    low, high = wilson_interval(1, 1)
    z2 = 1.959963984540054**2
    assert low == pytest.approx(1 / (1 + z2)) and high == 1.0
    low, high = wilson_interval(5, 10)
    assert low + high == pytest.approx(1.0)  # symmetric around 0.5
    assert low == pytest.approx(0.2365931, abs=1e-6)
    with pytest.raises(ValueError):
        wilson_interval(0, 0)


def test_an_unreviewed_sampled_cell_has_no_estimate() -> None:
    from bulkqa.analysis.rounds import CellCounts

    e = estimate_cell("Dog", 80, 85, CellCounts(queued=3, sampled_out=5))
    assert (e.population, e.reviewed, e.precision, e.estimated_correct) == (8, 0, None, None)


def test_review_cost_threshold_reuse_and_sampling_apart(rr) -> None:
    cost = rr.cost
    # Pages are per label: Cat 3 rows -> 1; Dog 62 -> 16; Owl 5 -> 2: a full review is 19 pages.
    assert cost.full == 1 + math.ceil(62 / 4) + math.ceil(5 / 4) == 19
    # Without the accepted (Dog 30, Owl 5): Cat 1 + Dog ceil(32/4) = 8 -> 9.
    assert cost.after_threshold == 9 and cost.saved_by_threshold == 10
    # Without the reused verdicts (Dog 2): Dog ceil(30/4) = 8 -> 9 pages still: reuse saved none here.
    assert cost.after_reuse == 9 and cost.saved_by_reuse == 0
    # Queued only (Cat 3, Dog 10): 1 + 3 = 4.
    assert cost.needed == 4 and cost.saved_by_sampling == 5
    assert cost.queued == 4 and cost.saved == 15
    assert cost.saved_by_threshold + cost.saved_by_reuse + cost.saved_by_sampling == cost.full - cost.needed
    computed = review_cost(rr.population, RoundInfo("r1", 4))
    assert computed.queued == computed.needed == 4  # without tasks_queued: what the queued pairs need


def test_bad_pairs_and_metadata_are_refused_with_the_pair_named() -> None:
    with pytest.raises(ValueError, match=r"pair 2 \(b, 'Dog'\): unknown round state 'done'"):
        build_round_report([("a", "Dog", 90.0, "queued", 0, 0), ("b", "Dog", 90.0, "done", 0, 0)], RoundInfo("r", 5))
    with pytest.raises(ValueError, match="confidence must be a finite number"):
        build_round_report([("a", "Dog", math.nan, "queued", 0, 0)], RoundInfo("r", 5))
    for size in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch size must be a positive integer"):
            RoundInfo("r", size)  # type: ignore[arg-type]


def test_json_has_the_round_object(rr) -> None:
    data = json.loads(render_round(rr, Format.JSON))
    r = data["round"]
    assert r["name"] == "r1" and r["sample"] == 10
    assert r["pairs"] == {
        "rows": 70,
        "queued": 13,
        "reused": 2,
        "accepted": 35,
        "sampled_out": 20,
        "reviewed": 14,
        "confirmed": 13,
    }
    assert r["accepted_not_reviewed"] == 35
    assert r["accepted_reviewed_elsewhere"] == {"reviewed": 2, "confirmed": 1}
    assert r["review_cost"] == {
        "batch_size": 4,
        "full_review_tasks": 19,
        "tasks_queued": 4,
        "tasks_saved": 15,
        "saved_by_threshold": 10,
        "saved_by_reused_verdicts": 0,
        "saved_by_sampling": 5,
    }
    (e,) = r["estimates"]
    assert e["population"] == 32 and e["estimated_correct"] == pytest.approx(10 + 21 * 10 / 11)
    assert [c["label"] for c in r["classes"]] == ["Cat", "Dog", "Owl"]
    assert data["classes"][0]["label"] == "Cat"  # the ordinary report is still there


@pytest.mark.parametrize("width", [80, 120])
def test_terminal_round_report_fits(rr, width: int) -> None:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    print_round_report(rr, console)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= width and "…" not in text
    flat = " ".join(text.split())
    assert "Accepted by threshold, not reviewed: 35 (2 of them reviewed since in another round: 1 confirmed)" in flat
    assert "4 task(s) queued; a full review needs 19" in flat
    assert "15 saved: 10 by thresholds, 5 by sampling, 0 by reused verdicts" in flat
    assert "90.9% (62.3–98.4%)" in flat  # Dog [80, 85): 10 of 11 with its Wilson interval
    assert "29.1 (" in flat  # 10 + 21 * 10/11 = 29.09


def test_every_format_renders_a_round_and_escapes_labels() -> None:
    pairs = [("a", "<script>x</script>", 90.0, "queued", 1, 0), ("b", "<script>x</script>", 90.0, "sampled_out", 0, 0)]
    pairs += [("c", "=cmd|x", 96.0, "accepted", 0, 0), ("d", "[red]R[/red]", 90.0, "queued", 1, 0)]
    rr = build_round_report(pairs, RoundInfo("r-2", 2))
    md = render_round(rr, Format.MD)
    assert "<script>" not in md and "&lt;script&gt;" in md and "## Round r-2" in md
    html = render_round(rr, Format.HTML)
    assert "<script>" not in html and "Pairs by state" in html and "Sampled cells" in html
    table = render_round(rr, Format.TABLE)
    assert "[red]R[/red]" in table
    rows = list(csv.DictReader(io.StringIO(render_round(rr, Format.CSV), newline="")))
    by_label = {r["label"]: r for r in rows}
    assert by_label["'=cmd|x"]["round_accepted"] == "1" and by_label["'=cmd|x"]["row_type"] == "class"
    assert by_label["<script>x</script>"]["round_sampled_out"] == "1"
    assert by_label["TOTALS"]["row_type"] == "summary" and by_label["TOTALS"]["round_rows"] == "4"
