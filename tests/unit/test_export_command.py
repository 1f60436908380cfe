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
