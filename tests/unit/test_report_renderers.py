"""The report's formats: json has exactly the issue's shape; html is one self-contained file."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from bulkqa.analysis import Record, build_report
from bulkqa.csv_safety import restore_cell
from bulkqa.renderers import Format, render
from bulkqa.renderers.common import md_text
from bulkqa.renderers.table import print_report

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"

RECORDS = [
    Record("a", "Dog", 97.0, 3, 0),
    Record("b", "Dog", 96.0, 0, 2),
    Record("c", "Dog", 86.0, 2, 1),
    Record("d", "Dog", 82.0, 0, 0),
    Record("e", "Cat|wild", 91.0, 2, 0),
]


@pytest.fixture(scope="module")
def report():
    return build_report(RECORDS)


def test_json_has_the_issue_shape_with_threshold_status(report) -> None:
    data = json.loads(render(report, Format.JSON))
    assert list(data) == [
        "policy",
        "bands",
        "max_fp_ratio",
        "target_precision",
        "min_reviewed",
        "threshold_never",
        "outside_bands",
        "classes",
        "totals",
        "class_average",
    ]
    assert data["policy"] == "unanimous"
    assert data["bands"] == [[80, 85], [85, 90], [90, 95], [95, 100]]
    assert (data["max_fp_ratio"], data["min_reviewed"], data["threshold_never"]) == (0.1, 30, 100)
    assert data["target_precision"] == pytest.approx(100 / 1.1)
    class_keys = [
        "label",
        "total",
        "confirmed",
        "disconfirmed",
        "split",
        "unreviewed",
        "pct_correct",
        "bands",
        "threshold",
        "threshold_status",
        "exact_threshold",
        "warnings",
    ]
    band_keys = ["lo", "hi", "total", "incorrect", "pct_correct"]
    for c in data["classes"]:
        assert list(c) == class_keys
        assert [list(b) for b in c["bands"]] == [band_keys] * 4
    assert list(data["totals"]) == class_keys[:8]
    assert [list(b) for b in data["totals"]["bands"]] == [band_keys] * 4
    assert list(data["class_average"]) == ["pct_correct", "bands"]
    assert [list(b) for b in data["class_average"]["bands"]] == [["lo", "hi", "pct_correct"]] * 4

    cat, dog = data["classes"]
    assert cat["label"] == "Cat|wild" and cat["threshold"] == 80
    assert cat["threshold_status"] == "too_few"  # 1 reviewed < 30
    assert cat["warnings"] == ["too few reviewed (1 < 30)", "Wilson bound below target"]
    assert (dog["total"], dog["confirmed"], dog["disconfirmed"], dog["split"], dog["unreviewed"]) == (3, 1, 1, 1, 1)
    assert dog["pct_correct"] == pytest.approx(100 / 3)
    assert dog["bands"][0] == {"lo": 80, "hi": 85, "total": 0, "incorrect": 0, "pct_correct": None}  # n/a -> null
    assert dog["bands"][3] == {"lo": 95, "hi": 100, "total": 2, "incorrect": 1, "pct_correct": 50.0}
    assert dog["threshold"] == 100 and dog["threshold_status"] == "never"
    assert dog["warnings"][0] == "the top band fails: never accept automatically (100 = never)"
    # Dog: 97 confirmed, 96 disconfirmed, 86 split -> only >= 97 reaches 90.9%: 1 of 1, whose Wilson
    # lower bound is 1 / (1 + z^2) with z = 1.96: 20.65%.
    assert dog["exact_threshold"] == {
        "confidence": 97.0,
        "accepted": 1,
        "confirmed": 1,
        "precision": 100.0,
        "wilson95_lower": pytest.approx(100 / (1 + 1.959963984540054**2)),
        "supported": False,
    }
    assert isinstance(data["totals"]["pct_correct"], float)  # percentages are floats 0-100
    assert data["totals"]["pct_correct"] == 50.0
    assert data["class_average"]["pct_correct"] == pytest.approx((100 + 100 / 3) / 2)
    assert data["class_average"]["bands"][2] == {"lo": 90, "hi": 95, "pct_correct": 100.0}


def test_json_no_data_classes_have_a_null_threshold() -> None:
    """Issue 13: a table with no votes at all gave every class 80 -- "accept everything unreviewed"."""
    records = [Record("a", "Dog", 97.0, 0, 0), Record("b", "Cat", 85.0, 0, 0), Record("c", "Owl", 50.0, 2, 0)]
    data = json.loads(render(build_report(records, min_reviewed=1), Format.JSON))
    by_label = {c["label"]: c for c in data["classes"]}
    for name in ("Dog", "Cat", "Owl"):  # Owl is reviewed, but outside every band: still no data for a threshold
        assert by_label[name]["threshold"] is None, name
        assert by_label[name]["threshold_status"] == "no_data", name
        assert by_label[name]["warnings"][0] == "no reviewed image in any band: no threshold"
    assert "1 reviewed outside every band" in by_label["Owl"]["warnings"]
    assert by_label["Dog"]["exact_threshold"]["confidence"] is None
    ok = build_report([Record(str(i), "Dog", 97.0, 1, 0) for i in range(40)])
    (dog,) = json.loads(render(ok, Format.JSON))["classes"]
    assert (dog["threshold"], dog["threshold_status"], dog["warnings"]) == (80, "ok", [])
    assert dog["exact_threshold"]["supported"] is True


def test_no_data_is_said_in_every_text_format() -> None:
    report = build_report([Record("a", "Dog", 97.0, 0, 0), Record("b", "Cat", 97.0, 0, 1)])
    for fmt in (Format.TABLE, Format.MD, Format.HTML):
        text = render(report, fmt)
        assert "no data" in text and "100 (never)" in text, fmt
        assert "≥ 80" not in text, fmt  # the old "accept everything" threshold
        assert "never accept automatically" in text, fmt  # the convention, said next to it
    rows = list(csv.DictReader(io.StringIO(render(report, Format.CSV))))
    assert [(r["label"], r["threshold"], r["threshold_status"]) for r in rows[:2]] == [
        ("Cat", "100", "never"),
        ("Dog", "", "no_data"),
    ]


def test_csv_rows_and_na_cells(report) -> None:
    rows = list(csv.DictReader(io.StringIO(render(report, Format.CSV))))
    assert [r["label"] for r in rows] == ["Cat|wild", "Dog", "TOTALS", "Class Average"]
    dog = rows[1]
    assert (dog["total"], dog["confirmed"], dog["split"], dog["unreviewed"], dog["threshold"]) == (
        "3",
        "1",
        "1",
        "1",
        "100",
    )
    assert dog["band_80_85_pct_correct"] == ""  # n/a
    assert dog["band_95_100_total"] == "2" and dog["band_95_100_pct_correct"] == "50"
    assert rows[2]["threshold"] == "" and rows[2]["pct_correct"] == "50"
    assert rows[3]["pct_correct"] == "66.6667" and rows[3]["total"] == ""


def rich_text(report, width: int) -> str:
    """What a terminal of ``width`` columns shows (Rich's own layout, no colour codes)."""
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    print_report(report, console)
    return console.export_text()


def fixture_report(**options):
    with (FIXTURES / "qa_results.csv").open(newline="") as handle:
        rows = [
            Record(
                r["image"],
                r["label"],
                float(r["confidence"]),
                int(r["WorkerConfirmCount"] or 0),
                int(r["WorkerDisconfirmCount"] or 0),
            )
            for r in csv.DictReader(handle)
        ]
    return build_report(rows, **options)


@pytest.mark.parametrize("width", [80, 100, 120, 160])
def test_terminal_layout_fits_and_cuts_nothing(width: int) -> None:
    """Issue 13: at 80/100/160 columns Rich cut the Threshold column and wrote ``79.…``."""
    report = fixture_report()
    text = rich_text(report, width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert "…" not in text
    for heading in ("Reviewed", "Confirmed", "%Correct", "Threshold", "[80, 85)", "[95, 100]", "Wilson low"):
        assert heading in text, heading
    dog = next(line for line in text.splitlines() if line.startswith("Dog ") and "80.0%" in line)
    assert re.fullmatch(r"Dog\s+15\s+12\s+2\s+1\s+2\s+80\.0%\s+≥ 95", dog)
    cat = next(line for line in text.splitlines() if line.startswith("Cat ") and "66.7%" in line)
    assert cat.endswith("100 (never)")
    assert re.search(r"^Dog\s+50\.0% n=2\s+66\.7% n=3\s+75\.0% n=4\s+100\.0% n=6$", text, re.M)
    assert re.search(r"^Cat\s+100 \(never\)\s+≥ 97\.00\s+2\s+100\.0%\s+34\.2%$", text, re.M)
    assert "TOTALS" in text and "Class" in text and "All classes" in text and "9.74" in text
    assert "- Cat: the top band fails: never accept automatically (100 = never)" in text


def test_many_bands_are_split_into_tables_that_fit() -> None:
    report = fixture_report(bands=list(range(80, 101, 2)))
    text = rich_text(report, 80)
    assert max(len(line) for line in text.splitlines()) <= 80 and "…" not in text
    assert "part 1 of 2" in text and "part 2 of 2" in text
    for band in report.bands.labels():
        assert band in text, band
    wide = rich_text(report, 160)
    assert "part 1 of" not in wide and max(len(line) for line in wide.splitlines()) <= 160


def test_huge_counts_and_long_labels_never_lose_a_digit() -> None:
    big = 10**18
    records = [Record("a", "a label that is much longer than the label column allows", 97.0, big, 0)] + [
        Record(str(i), "Dog", 97.0, 1, 0) for i in range(3)
    ]
    text = rich_text(build_report(records), 80)
    assert max(len(line) for line in text.splitlines()) <= 80 and "…" not in text
    flat = re.sub(r"\s+", " ", text)
    assert "a label that is much longer" in flat and "allows" in flat  # folded, not cut
    narrow = rich_text(build_report(records), 40)  # too narrow for the tables: one block per class
    assert max(len(line) for line in narrow.splitlines()) <= 40 and "…" not in narrow
    assert "Threshold: ≥ 80" in narrow


def test_rich_markup_in_labels_is_printed_as_written() -> None:
    labels = ["[red]Cat[/red]", "[/x]", "[bold]", "x [link=http://e]y"]
    report = build_report([Record(str(i), label, 97.0, 1, 0) for i, label in enumerate(labels)])
    text = rich_text(report, 120)
    for label in labels:
        assert label in text, label
    assert label in render(report, Format.TABLE)


def test_markdown_escapes_and_lists_thresholds(report) -> None:
    text = render(report, Format.MD)
    assert "| Cat\\|wild |" in text
    assert "| **TOTALS** |" in text and "| *Class Average* |" in text
    assert "100 (never)" in text and "n/a" in text
    assert "### Thresholds (target precision 90.9%)" in text
    assert "### Calibration" in text


HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "a|b",
    "`code`",
    "**bold**",
    "[x](javascript:alert(1))",
    "$\\foo$",
    "_under_",
    "back\\slash",
    "&lt;already&gt;",
]


def test_markdown_labels_are_text_not_markup() -> None:
    report = build_report([Record(str(i), label, 97.0, 1, 0) for i, label in enumerate(HOSTILE)])
    text = render(report, Format.MD)
    assert "<script" not in text and "<img" not in text
    assert "[x](javascript" not in text and "\\[x\\](javascript" in text  # no link: the brackets are text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "a\\|b" in text and "\\`code\\`" in text and "\\*\\*bold\\*\\*" in text and "\\$" in text
    assert "&amp;lt;already&amp;gt;" in text  # shown as typed, not as "<already>"
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| Label"):
            # Every row of the results table has the header's number of cells: no "|" got through.
            cells = re.split(r"(?<!\\)\|", line)
            assert len(cells) in {2 + 19, 2 + 9, 2 + 3, 2 + 4}, line


def test_md_text_round_trip_through_a_commonmark_reading() -> None:
    # Each escape is CommonMark's: a backslash before ASCII punctuation stands for that character.
    for label in HOSTILE:
        escaped = md_text(label)
        unescaped = html.unescape(re.sub(r"\\([\\`*_\[\]|~$])", r"\1", escaped))
        assert unescaped == label


def test_csv_marks_summary_rows_and_neutralises_formulas() -> None:
    labels = ["TOTALS", "Class Average", '=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\tx", "\rx", " =1"]
    report = build_report([Record(str(i), label, 97.0, 1, 0) for i, label in enumerate(labels)])
    rows = list(csv.DictReader(io.StringIO(render(report, Format.CSV), newline="")))
    classes = [r for r in rows if r["row_type"] == "class"]
    summaries = [r for r in rows if r["row_type"] == "summary"]
    assert [r["label"] for r in summaries] == ["TOTALS", "Class Average"]
    assert summaries[0]["total"] == str(len(labels)) and summaries[1]["total"] == ""
    by_label = {restore_cell(r["label"]): r for r in classes}
    assert set(by_label) == set(labels)
    assert by_label["TOTALS"]["total"] == "1" and by_label["Class Average"]["total"] == "1"
    for r in classes:
        assert r["label"][0] not in "=+-@\t\r" and not r["label"].lstrip().startswith("="), r["label"]
    assert by_label["+1"]["label"] == "'+1"


def test_table_text_for_out_files_is_100_columns() -> None:
    text = render(fixture_report(), Format.TABLE)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "QA results per class" in text and "%Correct by confidence band" in text


def test_html_is_self_contained_with_embedded_plots(report) -> None:
    text = render(report, Format.HTML)
    assert text.startswith("<!DOCTYPE html>")
    assert "Cat|wild" in text and "TOTALS" in text and "Class Average" in text
    assert "Wilson 95% low" in text and "Reliability diagram" in text
    images = re.findall(r'<img[^>]*src="([^"]+)"', text)
    assert len(images) == 2
    for src in images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
    # Nothing fetched from elsewhere.
    assert not re.search(r'(src|href)="(https?:)?//', text)
    assert "<script" not in text and "<link" not in text


def test_html_escapes_labels() -> None:
    text = render(build_report([Record("a", "<b>x</b>", 90.0, 1, 0)]), Format.HTML)
    assert "<b>x</b>" not in text and "&lt;b&gt;x&lt;/b&gt;" in text


def test_every_format_renders_an_empty_report() -> None:
    empty = build_report([])
    for fmt in Format:
        assert render(empty, fmt)


def test_html_plots_take_labels_as_data() -> None:
    """Issue 12: ``$\\foo$`` crashed matplotlib's mathtext; ``_x`` was left out of the legend."""
    from bulkqa.renderers.html import accuracy_figure

    labels = ["$\\foo$", "_hidden", "$x$ and $y", "<b>&"]
    report = build_report([Record(str(i), label, 97.0, 1, 0) for i, label in enumerate(labels)])
    text = render(report, Format.HTML)  # draws both plots: no mathtext error
    assert "&lt;b&gt;&amp;" in text and "<b>&" not in text
    legend = accuracy_figure(report).axes[0].get_legend()
    shown = [t.get_text() for t in legend.get_texts()]
    assert shown == [*sorted(labels), "target precision"]
    assert not any(t.get_parse_math() for t in legend.get_texts())


def test_html_tables_scroll_in_their_own_box() -> None:
    text = render(fixture_report(bands=list(range(80, 101, 2))), Format.HTML)
    assert "max-width:1200px" in text and ".scroll{overflow-x:auto" in text
    tables = re.findall(r"<div class='scroll'><table>", text)
    assert len(tables) == text.count("<table>") == 5  # classes, band matrix, thresholds, calibration, full


def run_in_pty(args: list[str], columns: int) -> str:
    """Run the CLI on a pseudo-terminal of ``columns`` columns, as a user's terminal would."""
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import sys
    import termios

    main_fd, child_fd = pty.openpty()
    fcntl.ioctl(child_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR"}}
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bulkqa.cli", *args],
        stdin=child_fd,
        stdout=child_fd,
        stderr=subprocess.DEVNULL,
        env=env,
        close_fds=True,
    )
    os.close(child_fd)
    chunks = []
    while True:
        try:
            data = os.read(main_fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(main_fd)
    assert proc.returncode == 0
    text = b"".join(chunks).decode("utf-8")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07", "", text).replace("\r\n", "\n")


@pytest.mark.parametrize("columns", [80, 120])
def test_bulkqa_report_in_a_real_terminal(columns: int) -> None:
    text = run_in_pty(["report", "--input", str(FIXTURES / "qa_results.csv")], columns)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= columns
    assert "…" not in text
    for needle in ("Threshold", "100 (never)", "≥ 95", "[95, 100]", "92.3% n=13", "Wilson low", "9.74"):
        assert needle in text, needle
