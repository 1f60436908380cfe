"""The report's formats: json has exactly the issue's shape; html is one self-contained file."""

from __future__ import annotations

import base64
import csv
import io
import json
import re

import pytest

from bulkqa.analysis import Record, build_report
from bulkqa.renderers import Format, render

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


def test_json_has_exactly_the_issue_shape(report) -> None:
    data = json.loads(render(report, Format.JSON))
    assert list(data) == ["policy", "bands", "classes", "totals", "class_average"]
    assert data["policy"] == "unanimous"
    assert data["bands"] == [[80, 85], [85, 90], [90, 95], [95, 100]]
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
    ]
    band_keys = ["lo", "hi", "total", "incorrect", "pct_correct"]
    for c in data["classes"]:
        assert list(c) == class_keys
        assert [list(b) for b in c["bands"]] == [band_keys] * 4
    assert list(data["totals"]) == [k for k in class_keys if k != "threshold"]
    assert [list(b) for b in data["totals"]["bands"]] == [band_keys] * 4
    assert list(data["class_average"]) == ["pct_correct", "bands"]
    assert [list(b) for b in data["class_average"]["bands"]] == [["lo", "hi", "pct_correct"]] * 4

    cat, dog = data["classes"]
    assert cat["label"] == "Cat|wild" and cat["threshold"] == 80
    assert (dog["total"], dog["confirmed"], dog["disconfirmed"], dog["split"], dog["unreviewed"]) == (3, 1, 1, 1, 1)
    assert dog["pct_correct"] == pytest.approx(100 / 3)
    assert dog["bands"][0] == {"lo": 80, "hi": 85, "total": 0, "incorrect": 0, "pct_correct": None}  # n/a -> null
    assert dog["bands"][3] == {"lo": 95, "hi": 100, "total": 2, "incorrect": 1, "pct_correct": 50.0}
    assert dog["threshold"] == 100
    assert isinstance(data["totals"]["pct_correct"], float)  # percentages are floats 0-100
    assert data["totals"]["pct_correct"] == 50.0
    assert data["class_average"]["pct_correct"] == pytest.approx((100 + 100 / 3) / 2)
    assert data["class_average"]["bands"][2] == {"lo": 90, "hi": 95, "pct_correct": 100.0}


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


def test_markdown_escapes_and_lists_thresholds(report) -> None:
    text = render(report, Format.MD)
    assert "| Cat\\|wild |" in text
    assert "| **TOTALS** |" in text and "| *Class Average* |" in text
    assert "100 (never)" in text and "n/a" in text
    assert "### Thresholds (target precision 90.9%)" in text
    assert "### Calibration" in text


def test_table_text_has_the_classic_layout(report) -> None:
    text = render(report, Format.TABLE)
    for heading in (
        "Label",
        "Total",
        "Confirmed",
        "Disconfirm",
        "Split",
        "%Correct",
        "[80, 85)",
        "[95, 100]",
        "Incorrect",
        "Threshold",
        "TOTALS",
        "Class Average",
        "Wilson 95% low",
        "ECE",
    ):
        assert heading in text, heading
    dog_line = next(line for line in text.splitlines() if "│ Dog" in line)
    assert re.search(r"Dog\s+│\s+3\s+│\s+1\s+│\s+1\s+│\s+1\s+│\s+33\.3%", dog_line)
    assert "n/a" in dog_line and "100 (never)" in dog_line


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
