"""``report --round`` / ``export --round``: one round's pairs by Query + BatchGetItem, in moto.

The round's items are written with the seed's own helpers (handlers.round_store), so the layout
read here is the layout the seed writes.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from typer.testing import CliRunner

from bulkqa.analysis import Record
from bulkqa.cli import app
from bulkqa.results_source import TableResults
from bulkqa.round_source import RoundNotFoundError, RoundResults
from handlers.round_store import RoundMeta, RoundPart, round_pair_item, write_round
from handlers.settings import (
    ATTR_CONFIDENCE,
    ATTR_CONFIRM_COUNT,
    ATTR_DISCONFIRM_COUNT,
    ATTR_IMAGE_URL,
    ATTR_LABEL,
    STATE_ACCEPTED,
    STATE_QUEUED,
    STATE_REUSED,
    STATE_SAMPLED_OUT,
)


def write(qa_stack: Any, items: list[dict[str, Any]]) -> None:
    for start in range(0, len(items), 25):
        chunk = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        assert not qa_stack.ddb.batch_write_item(RequestItems={qa_stack.table: chunk}).get("UnprocessedItems")


def pair_item(url: str, label: str, confidence: float, c: int | None, d: int | None) -> dict[str, Any]:
    item = {ATTR_IMAGE_URL: {"S": url}, ATTR_LABEL: {"S": label}, ATTR_CONFIDENCE: {"N": str(confidence)}}
    if c is not None:
        item[ATTR_CONFIRM_COUNT] = {"N": str(c)}
        item[ATTR_DISCONFIRM_COUNT] = {"N": str(d)}
    return item


def seed_round(qa_stack: Any, name: str, pairs: list[tuple[str, str, float, str]], batches: int = 1) -> None:
    """A round as the seed leaves it: round-pair items, then the metadata item."""
    write(qa_stack, [round_pair_item(name, url, label, conf, state, 1, 1) for url, label, conf, state in pairs])
    part = RoundPart(part=1, input_sha256="x" * 64, created="2025-01-01T00:00:00Z", batches=batches)
    part.queued = sum(1 for p in pairs if p[3] == STATE_QUEUED)
    write_round(qa_stack.ddb, qa_stack.table, RoundMeta(name, "2025-01-01T00:00:00Z", 25, [part]), parts_before=0)


# 60 pairs over 3 labels; votes on the pair items are shared by the two rounds.
PAIRS = [(f"s3://b/{i:03d}.jpg", f"L{i % 3}") for i in range(60)]
VOTES = {pair: ((i % 4), (i // 4) % 2) for i, pair in enumerate(PAIRS)}


@pytest.fixture
def two_rounds(qa_stack: Any) -> Any:
    write(qa_stack, [pair_item(u, lab, 50.0, *VOTES[(u, lab)]) for u, lab in PAIRS])
    states = [STATE_QUEUED, STATE_REUSED, STATE_ACCEPTED, STATE_SAMPLED_OUT]
    seed_round(qa_stack, "A", [(u, lab, 80.0 + i % 20, STATE_QUEUED) for i, (u, lab) in enumerate(PAIRS[:40])])
    seed_round(
        qa_stack,
        "B",
        [(u, lab, 99.0 - i % 15, states[i % 4]) for i, (u, lab) in enumerate(PAIRS[20:])],
    )
    return qa_stack


def test_round_pairs_carry_the_rounds_confidence_and_the_shared_votes(two_rounds: Any) -> None:
    source = RoundResults(two_rounds.ddb, two_rounds.table, "A", page_size=3)
    pairs = sorted(source.pairs())
    assert [(p.image, p.label) for p in pairs] == sorted(PAIRS[:40])
    for i, (url, label) in enumerate(PAIRS[:40]):
        pair = next(p for p in pairs if p.image == url)
        assert (pair.confidence, pair.state) == (80.0 + i % 20, STATE_QUEUED)
        assert (pair.confirm, pair.disconfirm) == VOTES[(url, label)]
    assert source.rows_read == 40 and source.skipped == 0
    # Each of the 16 partitions Queried, every page of 3 read; one BatchGetItem per non-empty page.
    assert source.requests["Query"] >= 16 and source.requests["BatchGetItem"] >= -(-40 // 3)
    assert source.info().tasks_queued == 1 and source.info().batch_size == 25


def test_round_b_states_and_records(two_rounds: Any) -> None:
    source = RoundResults(two_rounds.ddb, two_rounds.table, "B")
    pairs = list(source.pairs())
    assert len(pairs) == 40
    by_state: dict[str, int] = {}
    for p in pairs:
        by_state[p.state] = by_state.get(p.state, 0) + 1
    assert by_state == {STATE_QUEUED: 10, STATE_REUSED: 10, STATE_ACCEPTED: 10, STATE_SAMPLED_OUT: 10}
    records = sorted(RoundResults(two_rounds.ddb, two_rounds.table, "B"))
    assert len(records) == 20 and all(isinstance(r, Record) for r in records)
    accepted = sorted(RoundResults(two_rounds.ddb, two_rounds.table, "B").accepted())
    assert len(accepted) == 10 and {p.state for p in accepted} == {STATE_ACCEPTED}


def test_progress_is_called_per_page(two_rounds: Any) -> None:
    calls: list[tuple[int, int]] = []
    source = RoundResults(
        two_rounds.ddb, two_rounds.table, "A", page_size=5, progress=lambda p, i: calls.append((p, i))
    )
    list(source.pairs())
    assert calls[-1][1] == 40 and [c[0] for c in calls] == list(range(1, len(calls) + 1)) and len(calls) >= 8


def test_unknown_round_is_exit_2_and_names_it(two_rounds: Any) -> None:
    with pytest.raises(RoundNotFoundError, match="'C'"):
        list(RoundResults(two_rounds.ddb, two_rounds.table, "C").pairs())
    result = CliRunner().invoke(app, ["report", "--table", two_rounds.table, "--round", "C"])
    assert result.exit_code == 2 and "'C'" in result.stderr
    result = CliRunner().invoke(app, ["report", "--table", two_rounds.table, "--round", "bad name!"])
    assert result.exit_code == 2 and "round name" in result.stderr
    result = CliRunner().invoke(app, ["report", "--input", "fixtures/qa_results.csv", "--round", "A"])
    assert result.exit_code == 2 and "--round needs --table" in " ".join(result.stderr.split())


def test_unreadable_round_pair_items_are_named_and_skipped(two_rounds: Any) -> None:
    bad = round_pair_item("A", "s3://b/bad.jpg", "L0", 90.0, STATE_QUEUED, 1, 1)
    bad["state"] = {"S": "lost"}
    write(two_rounds, [bad])
    source = RoundResults(two_rounds.ddb, two_rounds.table, "A")
    assert len(list(source.pairs())) == 40
    assert source.skipped == 1 and "s3://b/bad.jpg" in source.problems[0].where
    assert "'lost'" in source.problems[0].reason


def run_json(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["report", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_report_round_uses_the_rounds_confidences(two_rounds: Any, tmp_path: Any) -> None:
    data = run_json("--table", two_rounds.table, "--round", "A", "--bands", "80,90,100")
    # The same pairs as a results CSV with round A's confidences give the same classes.
    path = tmp_path / "a.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "label", "confidence", "WorkerConfirmCount", "WorkerDisconfirmCount"])
        for i, (url, label) in enumerate(PAIRS[:40]):
            writer.writerow([url, label, 80.0 + i % 20, *VOTES[(url, label)]])
    expected = run_json("--input", str(path), "--bands", "80,90,100")
    assert data["classes"] == expected["classes"] and data["totals"] == expected["totals"]
    assert data["round"]["name"] == "A" and data["round"]["pairs"]["queued"] == 40


def test_report_round_b_counts_accepted_and_sampled_apart(two_rounds: Any) -> None:
    data = run_json("--table", two_rounds.table, "--round", "B")
    pairs = data["round"]["pairs"]
    assert (pairs["queued"], pairs["reused"], pairs["accepted"], pairs["sampled_out"]) == (10, 10, 10, 10)
    reviewed = sum(1 for i, p in enumerate(PAIRS[20:]) if i % 4 in (0, 1) and sum(VOTES[p]) > 0)
    assert data["totals"]["total"] == reviewed


def test_whole_table_report_skips_round_items(two_rounds: Any) -> None:
    source = TableResults(two_rounds.ddb, two_rounds.table, segments=3, page_size=7)
    records = list(source)
    assert len(records) == 60 and source.rows_read == 60 and source.skipped == 0
    assert {r.image for r in records} == {u for u, _ in PAIRS}
    data = run_json("--table", two_rounds.table)
    assert data["totals"]["total"] + data["totals"]["unreviewed"] == 60


def export_csv(*args: str) -> list[dict[str, str]]:
    result = CliRunner().invoke(app, ["export", *args])
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_export_round_and_only_accepted(two_rounds: Any) -> None:
    rows = export_csv("--table", two_rounds.table, "--round", "A")
    expected = sorted((lab, u) for u, lab in PAIRS[:40] if sum(VOTES[(u, lab)]) > 0)
    assert [(r["label"], r["image"]) for r in rows] == expected
    first = next(i for i, p in enumerate(PAIRS[:40]) if p[0] == rows[0]["image"])
    assert float(rows[0]["confidence"]) == 80.0 + first % 20
    accepted = export_csv("--table", two_rounds.table, "--round", "B", "--only", "accepted")
    assert len(accepted) == 10 and {r["outcome"] for r in accepted} == {"accepted"}
    assert [(r["label"], r["image"]) for r in accepted] == sorted((r["label"], r["image"]) for r in accepted)
    result = CliRunner().invoke(app, ["export", "--table", two_rounds.table, "--only", "accepted"])
    assert result.exit_code == 2 and "--round" in result.stderr


@pytest.mark.parametrize("fmt", ["table", "md", "csv"])
def test_report_round_in_every_text_format(two_rounds: Any, fmt: str) -> None:
    result = CliRunner().invoke(app, ["report", "--table", two_rounds.table, "--round", "B", "--format", fmt])
    assert result.exit_code == 0, result.output
    assert "L0" in result.stdout and "40 row(s) read" in " ".join(result.stderr.split())
