"""``bulkqa report`` through the command line: from a CSV, and from the QA table in moto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bulkqa.analysis import Record
from bulkqa.cli import app
from bulkqa.results_source import CsvResults, TableResults
from handlers.settings import (
    ATTR_CONFIDENCE,
    ATTR_CONFIRM_COUNT,
    ATTR_DISCONFIRM_COUNT,
    ATTR_IMAGE_URL,
    ATTR_LABEL,
    ATTR_WORKER_VOTES,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
RESULTS = FIXTURES / "qa_results.csv"
BAD_ROWS = FIXTURES / "qa_results_bad_rows.csv"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def run_json(runner: CliRunner, *args: str) -> dict:
    result = runner.invoke(app, ["report", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_report_from_csv_json(runner: CliRunner) -> None:
    data = run_json(runner, "--input", str(RESULTS))
    by_label = {c["label"]: c for c in data["classes"]}
    assert {k: by_label[k]["threshold"] for k in by_label} == {"Cat": 100, "Dog": 95, "Sea lion": 80}
    assert data["totals"]["total"] == 28 and data["totals"]["unreviewed"] == 3
    assert data["policy"] == "unanimous"


def test_report_options_policy_bands_ratio(runner: CliRunner) -> None:
    data = run_json(
        runner, "--input", str(RESULTS), "--policy", "majority", "--bands", "80,90,100", "--max-fp-ratio", "0.25"
    )
    assert data["policy"] == "majority"
    assert data["bands"] == [[80, 90], [90, 100]]
    dog = next(c for c in data["classes"] if c["label"] == "Dog")
    # majority, [90,100]: 10 images, 1 disconfirmed (dog/008 is 2-1, confirmed) -> 1 <= 2.25 passes;
    # [80,90): 80 ok, 83 no, 85 ok, 87 no, 89 ok -> 2 > 0.75 fails -> 90.
    assert dog["bands"][1] == {"lo": 90, "hi": 100, "total": 10, "incorrect": 0, "pct_correct": 100.0}
    assert dog["threshold"] == 90


def test_report_table_to_stdout_and_summary(runner: CliRunner) -> None:
    result = runner.invoke(app, ["report", "--input", str(RESULTS)])
    assert result.exit_code == 0, result.output
    assert "QA results" in result.stdout and "Sea lion" in result.stdout and "100 (never)" in result.stdout
    assert "31 row(s) read" in result.stderr and "3 unreviewed" in result.stderr


@pytest.mark.parametrize(
    ("fmt", "marker"),
    [
        ("md", "| Label |"),
        ("csv", "label,total,"),
        ("html", "<!DOCTYPE html>"),
        ("table", "Class Average"),
        ("json", '"class_average"'),
    ],
)
def test_report_out_file(runner: CliRunner, tmp_path: Path, fmt: str, marker: str) -> None:
    out = tmp_path / f"report.{fmt}"
    result = runner.invoke(app, ["report", "--input", str(RESULTS), "--format", fmt, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert marker in out.read_text(encoding="utf-8")
    assert result.stdout == ""


def test_bad_rows_are_reported_with_line_numbers_and_skipped(runner: CliRunner) -> None:
    result = runner.invoke(app, ["report", "--input", str(BAD_ROWS), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # good: line 2 (Dog 3-0), lines 9-10 (a quoted path over two lines, Cat 1-1),
    # line 12 (Cat, empty counts: unreviewed)
    assert data["totals"]["total"] == 2 and data["totals"]["unreviewed"] == 1
    assert "7 row(s) skipped" in result.stderr
    for line, reason in [
        (3, "'high'"),
        (4, "WorkerDisconfirmCount '-1'"),
        (5, "empty label"),
        (6, "'101'"),
        (7, "3 field(s)"),
        (11, "WorkerConfirmCount '2.5'"),
        (13, "'nan'"),
    ]:
        assert f"line {line}" in result.stderr and reason in result.stderr


def test_input_errors(runner: CliRunner, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("image,label,confidence\na,Dog,90\n")
    result = runner.invoke(app, ["report", "--input", str(wrong)])
    assert result.exit_code == 2 and "WorkerConfirmCount" in result.stderr
    result = runner.invoke(app, ["report"])
    assert result.exit_code == 2 and "exactly one of --table and --input" in result.stderr
    result = runner.invoke(app, ["report", "--input", str(RESULTS), "--bands", "90,80"])
    assert result.exit_code == 2 and "increase" in result.stderr
    empty = tmp_path / "empty.csv"
    empty.write_text("image,label,confidence,WorkerConfirmCount,WorkerDisconfirmCount\n")
    assert runner.invoke(app, ["report", "--input", str(empty)]).exit_code == 1
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"image,label,confidence,WorkerConfirmCount,WorkerDisconfirmCount\na,Ch\xe9vre,90,1,0\n")
    result = runner.invoke(app, ["report", "--input", str(latin)])
    assert result.exit_code == 2 and "not UTF-8" in result.stderr


def put_items(qa_stack, rows: list[tuple[str, str, float, int | None, int | None]]) -> None:
    items = []
    for image, label, confidence, c, d in rows:
        item = {ATTR_IMAGE_URL: {"S": image}, ATTR_LABEL: {"S": label}, ATTR_CONFIDENCE: {"N": str(confidence)}}
        if c is not None:
            item[ATTR_CONFIRM_COUNT] = {"N": str(c)}
            item[ATTR_DISCONFIRM_COUNT] = {"N": str(d)}
            votes = {f"w{i}": {"S": "confirm"} for i in range(c)} | {f"x{i}": {"S": "disconfirm"} for i in range(d)}
            item[ATTR_WORKER_VOTES] = {"M": votes}
        items.append({"PutRequest": {"Item": item}})
    for start in range(0, len(items), 25):
        response = qa_stack.ddb.batch_write_item(RequestItems={qa_stack.table: items[start : start + 25]})
        assert not response.get("UnprocessedItems")


def test_report_from_the_table_matches_the_csv(runner: CliRunner, qa_stack) -> None:
    import csv

    with RESULTS.open(newline="") as handle:
        rows = [
            (
                r["image"],
                r["label"],
                float(r["confidence"]),
                int(r["WorkerConfirmCount"]),
                int(r["WorkerDisconfirmCount"]),
            )
            for r in csv.DictReader(handle)
        ]
    # Seeded items that nobody voted on have no counts at all: unreviewed, like 0/0.
    put_items(
        qa_stack, [(i, lab, conf, None, None) if c == d == 0 else (i, lab, conf, c, d) for i, lab, conf, c, d in rows]
    )
    qa_stack.ddb.put_item(  # no confidence: skipped and named
        TableName=qa_stack.table, Item={ATTR_IMAGE_URL: {"S": "s3://b/broken.jpg"}, ATTR_LABEL: {"S": "Dog"}}
    )
    result = runner.invoke(app, ["report", "--table", qa_stack.table, "--segments", "3", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == run_json(runner, "--input", str(RESULTS))
    assert "1 row(s) skipped" in result.stderr and "s3://b/broken.jpg" in result.stderr


def test_table_scan_reads_every_page_of_every_segment(qa_stack) -> None:
    rows = [(f"s3://b/{i:04}.jpg", f"L{i % 7}", 80 + (i % 21), i % 3, (i // 3) % 2) for i in range(300)]
    put_items(qa_stack, rows)
    source = TableResults(qa_stack.ddb, qa_stack.table, segments=4, page_size=20)
    records = sorted(source)
    assert records == sorted(Record(*r) for r in rows)
    assert source.pages >= 300 // 20 and source.rows_read == 300 and source.skipped == 0


def test_report_table_error_is_reported(runner: CliRunner, qa_stack) -> None:
    result = runner.invoke(app, ["report", "--table", "no-such-table"])
    assert result.exit_code == 3 and "AWS error" in result.stderr


def test_columnar_and_row_by_row_agree_and_keep_line_numbers(tmp_path: Path) -> None:
    """--input's columnar path (pyarrow) against the row-by-row path: the same report, the same
    problems; a file with a bad row falls back to the row-by-row reading for its line numbers."""
    from bulkqa.analysis import build_report, build_report_from_columns

    lines = ["image,label,confidence,WorkerConfirmCount,WorkerDisconfirmCount"]
    for i in range(20):
        lines.append(f"s3://b/{i}.jpg,L{i % 3},{80 + i},{i % 3},{i % 2}")
    clean = tmp_path / "clean.csv"
    clean.write_text("\n".join(lines) + "\n")
    lines[7] = '"s3://b/multi\nline.jpg",L1,90,1,0'  # a quoted field over two lines...
    lines[12] = "s3://b/bad.jpg,L1,oops,1,0"  # ...shifts the line number of this bad row by one
    dirty = tmp_path / "dirty.csv"
    dirty.write_text("\n".join(lines) + "\n")

    fast = CsvResults(clean)
    columns = fast.columns()
    assert fast.fast_path and fast.rows_read == 20 and not fast.problems
    assert build_report_from_columns(*columns).to_json() == build_report(CsvResults(clean)).to_json()

    fallback, slow = CsvResults(dirty), CsvResults(dirty)
    from_columns = build_report_from_columns(*fallback.columns())
    from_records = build_report(slow)
    assert not fallback.fast_path
    assert from_columns.to_json() == from_records.to_json()
    assert (
        [str(p) for p in fallback.problems]
        == [str(p) for p in slow.problems]
        == ["line 14: confidence 'oops' is not a number in 0-100"]
    )
    assert fallback.rows_read == slow.rows_read == 20


def test_read_progress_shows_pages_and_items_on_a_terminal_only() -> None:
    import io

    from rich.console import Console

    from bulkqa.report_command import ReadProgress

    buffer = io.StringIO()
    terminal = Console(file=buffer, force_terminal=True, width=80)
    with ReadProgress(terminal, "Scanning") as progress:
        progress.update(3, 1200)
        terminal.print("")  # let the live status render once
        assert (progress.pages, progress.items) == (3, 1200)
    assert "3 page(s), 1,200 item(s)" in buffer.getvalue()
    quiet = io.StringIO()
    with ReadProgress(Console(file=quiet, force_terminal=False), "Scanning") as progress:
        progress.update(3, 1200)
    assert quiet.getvalue() == ""
