"""Leaving excluded workers' votes out of the report (issue 16), from the per-worker vote map."""

from __future__ import annotations

import pytest

from bulkqa.analysis import Record, build_report
from bulkqa.analysis.rounds import RoundInfo, RoundPair, build_round_report
from bulkqa.analysis.workers import WorkerVotesError, exclude_workers, exclude_workers_from_round

C, D = "confirm", "disconfirm"

# A rubber-stamper (rs) confirms everything; two careful workers (a, b) catch the wrong labels.
RECORDS = [
    ("i1", "Dog", 97.0, 3, 0, {"rs": C, "a": C, "b": C}),
    ("i2", "Dog", 96.0, 1, 2, {"rs": C, "a": D, "b": D}),
    ("i3", "Cat", 91.0, 1, 0, {"rs": C}),  # only the rubber-stamper looked at it
    ("i4", "Cat", 92.0, 1, 0, {"rs": {"S": C}}),  # raw DynamoDB JSON is read too
    ("i5", "Owl", 90.0, 2, 0, {"a": C}),  # one vote without a worker (an item from before the map)
    ("i6", "Owl", 85.0, 0, 0, {}),  # unreviewed
]


def test_votes_are_recounted_without_the_excluded_workers() -> None:
    result = exclude_workers(RECORDS, {"rs"})
    assert result.records[:5] == (
        Record("i1", "Dog", 97.0, 2, 0),
        Record("i2", "Dog", 96.0, 0, 2),
        Record("i3", "Cat", 91.0, 0, 0),
        Record("i4", "Cat", 92.0, 0, 0),
        Record("i5", "Owl", 90.0, 2, 0),
    )
    assert (result.votes_left_out, result.confirm_left_out, result.disconfirm_left_out) == (4, 4, 0)
    assert result.images_emptied == 2
    assert result.classes_emptied == ("Cat",)
    assert result.unattributed_votes == 1  # i5's second confirm: kept
    assert result.excluded_without_votes == ()
    lines = result.summary_lines()
    assert lines[0].startswith("Votes of 1 excluded worker(s) left out: 4 (4 confirm, 0 disconfirm)")
    assert "Classes that lost all their reviewed images: Cat." in lines


def test_the_report_of_the_remaining_votes() -> None:
    before = build_report([r[:5] for r in RECORDS])
    after = build_report(exclude_workers(RECORDS, {"rs"}).records)
    dog_before = next(c for c in before.classes if c.label == "Dog")
    dog_after = next(c for c in after.classes if c.label == "Dog")
    assert (dog_before.confirmed, dog_before.split) == (1, 1)
    assert (dog_after.confirmed, dog_after.disconfirmed, dog_after.split) == (1, 1, 0)
    cat = next(c for c in after.classes if c.label == "Cat")
    assert (cat.total, cat.unreviewed, cat.threshold, cat.threshold_status.value) == (0, 2, None, "no_data")


def test_no_exclusion_changes_nothing_and_typos_are_reported() -> None:
    result = exclude_workers(RECORDS, {"nobody"})
    assert [tuple(r) for r in result.records] == [r[:5] for r in RECORDS]
    assert result.votes_left_out == 0 and result.excluded_without_votes == ("nobody",)
    assert "Excluded but without any vote here: nobody." in result.summary_lines()


def test_a_bad_vote_value_names_the_record_and_worker() -> None:
    with pytest.raises(WorkerVotesError, match=r"record 1 \(x, 'Dog'\): worker 'w1' has vote 'maybe'"):
        exclude_workers([("x", "Dog", 90.0, 1, 0, {"w1": "maybe"})], {"w1"})


def test_round_pairs_keep_their_state() -> None:
    pairs = [
        ("a", "Dog", 82.0, "queued", 1, 1, {"rs": C, "x": D}),
        ("b", "Dog", 97.0, "accepted", 1, 0, {"rs": C}),
        ("c", "Cat", 82.0, "reused", 1, 0, {"rs": C}),
    ]
    result = exclude_workers_from_round(pairs, ["rs"])
    assert result.records == (
        RoundPair("a", "Dog", 82.0, "queued", 0, 1),
        RoundPair("b", "Dog", 97.0, "accepted", 0, 0),
        RoundPair("c", "Cat", 82.0, "reused", 0, 0),
    )
    assert result.classes_emptied == ("Cat",)  # Dog still has a reviewed queued pair
    rr = build_round_report(result.records, RoundInfo("r", 5))
    assert rr.accepted_reviewed == 0 and rr.population.total.reviewed == 1
    assert result.to_json()["votes_left_out"] == 3
