"""Outcomes per policy, bands, and the export rows (bulkqa.analysis)."""

from __future__ import annotations

import pytest

from bulkqa.analysis import DEFAULT_BANDS, Outcome, Policy, Record, export_rows, is_split, outcome, parse_bands

U, M = Policy.UNANIMOUS, Policy.MAJORITY


@pytest.mark.parametrize(
    ("c", "d", "unanimous", "majority", "split"),
    [
        (0, 0, Outcome.UNREVIEWED, Outcome.UNREVIEWED, False),
        (1, 0, Outcome.CONFIRMED, Outcome.CONFIRMED, False),
        (3, 0, Outcome.CONFIRMED, Outcome.CONFIRMED, False),
        (0, 1, Outcome.DISCONFIRMED, Outcome.DISCONFIRMED, False),
        (0, 3, Outcome.DISCONFIRMED, Outcome.DISCONFIRMED, False),
        (2, 1, Outcome.SPLIT, Outcome.CONFIRMED, True),
        (1, 2, Outcome.SPLIT, Outcome.DISCONFIRMED, True),
        (1, 1, Outcome.SPLIT, Outcome.TIE, True),  # a tie: neither confirmed nor disconfirmed
        (2, 2, Outcome.SPLIT, Outcome.TIE, True),
    ],
)
def test_outcome_per_policy(c: int, d: int, unanimous: Outcome, majority: Outcome, split: bool) -> None:
    assert outcome(c, d, U) is unanimous
    assert outcome(c, d, M) is majority
    assert outcome(c, d, "majority") is majority
    assert is_split(c, d) is split


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        outcome(-1, 0)


def test_bands_are_half_open_with_the_last_closed() -> None:
    bands = parse_bands("80,85,90,95,100")
    assert bands == DEFAULT_BANDS
    assert bands.intervals == [(80, 85), (85, 90), (90, 95), (95, 100)]
    assert bands.labels() == ["[80, 85)", "[85, 90)", "[90, 95)", "[95, 100]"]
    assert bands.index(80) == 0
    assert bands.index(84.999) == 0
    assert bands.index(85) == 1
    assert bands.index(94.9999) == 2
    assert bands.index(95) == 3
    assert bands.index(100) == 3  # the last band is closed
    assert bands.index(79.99) is None
    assert bands.index(100.01) is None


@pytest.mark.parametrize("text", ["80", "80,80,100", "90,80", "a,b", "80,inf"])
def test_bad_bands_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_bands(text)


def test_fractional_band_edges_keep_their_value() -> None:
    assert parse_bands("80, 87.5, 100").intervals == [(80, 87.5), (87.5, 100)]


def test_export_rows_leave_out_unreviewed_and_filter_by_outcome() -> None:
    records = [
        Record("a", "Dog", 97.0, 3, 0),
        Record("b", "Dog", 91.0, 0, 0),
        Record("c", "Cat", 88.0, 0, 2),
        Record("d", "Cat", 85.0, 1, 1),
        Record("e", "Cat", 84.0, 2, 1),
    ]
    assert [(r.image, r.outcome) for r in export_rows(records, U)] == [
        ("a", Outcome.CONFIRMED),
        ("c", Outcome.DISCONFIRMED),
        ("d", Outcome.SPLIT),
        ("e", Outcome.SPLIT),
    ]
    assert [(r.image, r.outcome) for r in export_rows(records, M)] == [
        ("a", Outcome.CONFIRMED),
        ("c", Outcome.DISCONFIRMED),
        ("d", Outcome.TIE),
        ("e", Outcome.CONFIRMED),
    ]
    assert [r.image for r in export_rows(records, M, "confirmed")] == ["a", "e"]
    assert [r.image for r in export_rows(records, U, Outcome.DISCONFIRMED)] == ["c"]
    row = next(export_rows(records, U))
    assert (row.label, row.confidence, row.confirm, row.disconfirm) == ("Dog", 97.0, 3, 0)
