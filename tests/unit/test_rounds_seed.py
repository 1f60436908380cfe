"""The seed's pure pieces: options (one rule set for CLI and launch), thresholds files, sample, pages."""

from __future__ import annotations

import json
import math
import random

import pytest

from bulkqa.analysis import DEFAULT_BANDS
from handlers.round_store import RoundMeta, RoundPart, from_attr, parse_manifest_text, to_attr
from handlers.rounds import BatchDocument, BatchEntry, documents_text
from handlers.seed_options import (
    SAMPLE_BAND_EDGES,
    SeedOptionError,
    integer_from_text,
    number_from_text,
    parse_accept_above,
    sample_band,
    seed_options,
)
from handlers.seeding import Pager, Sampler, _Row, nearly_empty_warning, sample_priority


def test_sample_bands_are_the_reports_default_bands() -> None:
    assert DEFAULT_BANDS.edges == SAMPLE_BAND_EDGES
    for value in [0, 79.999, 80, 84.99, 85, 89.5, 90, 94.999, 95, 99.99, 100, 100.5, *range(70, 101)]:
        assert sample_band(float(value)) == DEFAULT_BANDS.index(float(value)), value


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"batch_size": 0}, "got 0"),
        ({"batch_size": 2.9}, "got 2.9"),
        ({"batch_size": True}, "got True"),
        ({"batch_size": "25"}, "got '25'"),
        ({"threshold": math.nan}, "got nan"),
        ({"threshold": -0.1}, "got -0.1"),
        ({"threshold": math.inf}, "got inf"),
        ({"threshold": 100.01}, "got 100.01"),
        ({"min_votes": 0}, "min_votes (--min-votes)"),
        ({"workers_per_object": 10}, "workers_per_object (--workers-per-object) must be a whole number from 1 to 9"),
        ({"extend": 1}, "extend (--extend) must be true or false, got 1"),
        ({"sample_seed": 4}, "only meaningful with sample"),
        ({"round": ""}, "round name '' is not valid"),
        ({"round": "x" * 65}, "is not valid"),
        ({"confidence_scale": 10}, "confidence_scale (--confidence-scale) must be 1 or 100, got 10"),
        ({"bogus": 1}, "unknown seed option(s) 'bogus'"),
    ],
)
def test_bad_options_are_refused_never_changed(raw, message) -> None:
    with pytest.raises(SeedOptionError) as raised:
        seed_options(raw)
    assert message in str(raised.value)


def test_option_defaults_and_min_votes_from_workers_per_object() -> None:
    default = seed_options({})
    assert (default.batch_size, default.threshold, default.min_votes, default.round) == (25, 80.0, 1, None)
    assert seed_options({"workers_per_object": 3}).min_votes == 3
    assert seed_options({"workers_per_object": 3, "min_votes": 1}).min_votes == 1
    assert seed_options({}, defaults={"batch_size": 10}).batch_size == 10
    assert seed_options({"batch_size": 5}, defaults={"batch_size": 10}).batch_size == 5
    with pytest.raises(SeedOptionError, match="got 0"):
        seed_options({}, defaults={"batch_size": 0})  # defaults are checked by the same rules


def test_result_options_change_with_what_changes_the_result_only() -> None:
    base = seed_options({"round": "a"}).result_options()
    assert seed_options({"round": "b", "extend": True}).result_options() == base
    for raw in ({"batch_size": 5}, {"threshold": 90}, {"sample": 3}, {"re_review": True}, {"accept_above": {"Dog": 9}}):
        assert seed_options(raw).result_options() != base, raw
    seeded = seed_options({"sample": 3, "sample_seed": 1}).result_options()
    assert seeded != seed_options({"sample": 3}).result_options()


@pytest.mark.parametrize(
    ("text", "ok"), [("25", 25), (" 7 ", 7), ("2.9", None), ("", None), ("٢٥", None), ("1e1", None), ("0", None)]
)
def test_environment_integers(text, ok) -> None:
    if ok is None:
        with pytest.raises(SeedOptionError):
            integer_from_text("batch_size", text, 1, 100)
    else:
        assert integer_from_text("batch_size", text, 1, 100) == ok


@pytest.mark.parametrize(("text", "ok"), [("80", 80.0), ("92.5", 92.5), ("nan", None), ("-1", None), ("inf", None)])
def test_environment_numbers(text, ok) -> None:
    if ok is None:
        with pytest.raises(SeedOptionError):
            number_from_text("threshold", text, 0, 100)
    else:
        assert number_from_text("threshold", text, 0, 100) == ok


def test_accept_above_from_a_small_map() -> None:
    accept = parse_accept_above({"Dog": 95, "Cat": None, " Sea lion ": 80.5})
    assert accept.accepts("Dog", 95) and not accept.accepts("Dog", 94.99)
    assert not accept.accepts("Cat", 100) and not accept.accepts("Bird", 100)  # null and absent: never
    assert accept.accepts("Sea lion", 90)
    assert accept.usable_count() == 2
    assert parse_accept_above({"Cafe\u0301": 90}).accepts("Caf\u00e9", 95)  # NFC, as the CSV reader
    for bad in ({"Dog": "95"}, {"Dog": True}, {"Dog": math.nan}, {"Dog": 101}, {"": 90}, [1, 2], {"Dog": -1}):
        with pytest.raises(SeedOptionError):
            parse_accept_above(bad)


def test_accept_above_from_a_report_keeps_only_usable_thresholds() -> None:
    report = {
        "policy": "unanimous",
        "bands": [[80, 85]],
        "classes": [
            {"label": "Dog", "threshold": 95, "threshold_status": "ok"},
            {"label": "Cat", "threshold": 100, "threshold_status": "never"},
            {"label": "Owl", "threshold": 100},  # older report without a status: 100 is never
            {"label": "Eel", "threshold": None, "threshold_status": "no_data"},
            {"label": "Yak", "threshold": 85, "threshold_status": "too_few"},
        ],
    }
    accept = parse_accept_above(report)
    assert dict(accept.thresholds) == {"Dog": 95.0, "Cat": None, "Owl": None, "Eel": None, "Yak": None}
    with pytest.raises(SeedOptionError, match="appears twice"):
        parse_accept_above({**report, "classes": report["classes"][:1] * 2})


def test_sampler_keeps_at_most_n_per_cell_whatever_the_order() -> None:
    rows = [(f"img{i}.jpg", f"L{i % 3}", 80 + (i * 7) % 21, i) for i in range(600)]
    kept_sets = []
    for order in range(3):
        shuffled = rows[:]
        random.Random(order).shuffle(shuffled)
        sampler = Sampler(5, seed=42)
        out = [sampler.add(r, r[0], r[1], float(r[2]), r[3]) for r in shuffled]
        kept = sampler.drain()
        assert len(kept) + len([o for o in out if o is not None]) == len(rows)
        assert [r[3] for r in kept] == sorted(r[3] for r in kept)  # CSV order
        cells = {}
        for r in kept:
            cells[(r[1], sample_band(float(r[2])))] = cells.get((r[1], sample_band(float(r[2]))), 0) + 1
        assert max(cells.values()) == 5
        kept_sets.append({r[0] for r in kept})
    assert kept_sets[0] == kept_sets[1] == kept_sets[2]  # independent of row order
    other = Sampler(5, seed=43)
    for r in rows:
        other.add(r, r[0], r[1], float(r[2]), r[3])
    assert {r[0] for r in other.drain()} != kept_sets[0]
    assert sample_priority(1, "a", "b") == sample_priority(1, "a", "b") != sample_priority(2, "a", "b")


def test_pager_emits_full_pages_at_once_and_partial_ones_last() -> None:
    pager = Pager("r", 1, 2)
    labels = ["A", "B", "A", "C", "A", "B", "A"]
    pages = []
    for i, label in enumerate(labels):
        done = pager.add(_Row(i + 2, f"{i}.jpg", label, 90.0, f"s3://b/{i}.jpg", False))
        if done:
            pages.append(done)
    pages.extend(pager.flush())
    assert [(d.batch, d.label, [r.line for r in rows]) for d, rows in pages] == [
        (1, "A", [2, 4]),
        (2, "B", [3, 7]),
        (3, "A", [6, 8]),
        (4, "C", [5]),
    ]
    assert all(d.round == "r" and d.part == 1 for d, _ in pages)


def test_nearly_empty_warning_needs_most_pages_nearly_empty() -> None:
    assert nearly_empty_warning(10_000, 10_000, 25).startswith("10,000 of 10,000 pages (100%) hold 5 image(s)")
    assert nearly_empty_warning(5, 10, 25) is None  # half is not most
    assert nearly_empty_warning(9, 9, 25) is None  # too few pages to matter
    assert nearly_empty_warning(20, 20, 2) is None  # tiny pages are what was asked for


def test_round_items_round_trip_through_attribute_values() -> None:
    meta = RoundMeta(
        "r1",
        "2026-01-01T00:00:00Z",
        25,
        [RoundPart(1, "ab" * 32, "2026-01-01T00:00:00Z", queued=3, batches=1, options={"threshold": 80.5})],
    )
    back = RoundMeta.from_item(meta.to_item())
    assert back.to_json() == meta.to_json()
    for value in [0, 7, 80.5, -1.25, "x", True, None, [1, "a"], {"k": {"n": 2}}]:
        assert from_attr(to_attr(value)) == value


def test_manifest_parts_read_back_into_documents() -> None:
    docs = [
        BatchDocument("r", 1, 1, "Dog", (BatchEntry("s3://b/a.jpg", "Dog", 91.0),)),
        BatchDocument("r", 1, 2, "Cat", (BatchEntry("s3://b/c.jpg", "Cat", 88.5, "wrong"),)),
    ]
    assert parse_manifest_text(documents_text(docs), source="m") == docs
    with pytest.raises(ValueError, match="m line 2 is not a BulkQA manifest line"):
        parse_manifest_text(documents_text(docs[:1]) + json.dumps({"source-ref": "s3://b/x"}) + "\n", source="m")
