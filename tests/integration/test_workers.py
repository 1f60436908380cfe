"""Gold scoring end to end in-process: seed with gold, three worker profiles answer through the
real post-labeling function, ``bulkqa workers`` measures them, and excluding the rubber stamp
restores the careful workers' figures exactly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bulkqa.cli import app
from handlers.post_labeling import handler as post_labeling
from handlers.pre_labeling import handler as pre_labeling
from handlers.rounds import BatchDocument, parse_batch_document_json
from tests.conftest import QaStack

ROUND = "gold-round"
WIDE = {"COLUMNS": "200", "NO_COLOR": "1"}
CAREFUL, STAMPER, STRICT = "private.us-east-1.careful", "private.us-east-1.stamper", "private.us-east-1.strict"


def _write(folder: Path, name: str) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG" + name.encode())


@pytest.fixture
def seeded(qa_stack: QaStack, tmp_path: Path) -> tuple[QaStack, list[BatchDocument], dict[str, bool]]:
    """30 Crab rows (every third one really something else) and 4 gold items, pages of 10."""
    images = tmp_path / "img"
    truth: dict[str, bool] = {}
    rows = []
    for i in range(30):
        name = f"shore/{i:02d}.jpg"
        _write(images, name)
        rows.append(f"{name},Crab,{80 + i % 20}.5")
        truth[f"s3://{qa_stack.bucket}/images/{name}"] = i % 3 != 0
    for name in ("shore/k1.jpg", "shore/k2.jpg", "shore/k3.jpg", "shore/k4.jpg"):
        _write(images, name)
    csv = tmp_path / "labels.csv"
    csv.write_text("image_local_path,label,confidence\n" + "\n".join(rows) + "\n")
    gold = tmp_path / "known.csv"
    gold.write_text(
        "image_local_path,label,truth\n"
        "shore/k1.jpg,Crab,wrong\nshore/k2.jpg,Crab,wrong\nshore/k3.jpg,Crab,correct\nshore/k4.jpg,Crab,wrong\n"
    )
    args = ["seed", "--csv", str(csv), "--images", str(images), "--bucket", qa_stack.bucket, "--table"]
    args += [qa_stack.table, "--round", ROUND, "--batch-size", "10", "--gold", str(gold)]
    result = CliRunner().invoke(app, args, env=WIDE)
    assert result.exit_code == 0, result.output
    key = f"rounds/{ROUND}/manifest-0001.jsonl"
    text = qa_stack.s3.get_object(Bucket=qa_stack.bucket, Key=key)["Body"].read().decode()
    documents = [parse_batch_document_json(json.loads(json.loads(x)["source"]), source=key) for x in text.splitlines()]
    return qa_stack, documents, truth


def _answer(worker: str, document: BatchDocument, truth: dict[str, bool]) -> dict[str, Any]:
    """What each profile ticks: careful = the truth; stamper = everything; strict = the truth, and
    also unticks every image whose confidence is below 85 (too cautious)."""
    answer = {}
    for index, item in enumerate(document.items):
        correct = (item.gold == "correct") if item.gold else truth[item.s3_image_url]
        if worker == STAMPER:
            ticked = True
        elif worker == STRICT:
            ticked = correct and item.confidence >= 85
        else:
            ticked = correct
        answer[f"{item.label}-{index}"] = {"Confirmed": ticked}
    return answer


def _run_job(stack: QaStack, documents: list[BatchDocument], truth: dict[str, bool], workers: list[str]) -> None:
    payload = []
    for number, document in enumerate(documents):
        line_source = document.text()
        shown = pre_labeling(
            {"version": "2018-10-16", "labelingJobArn": "arn:j", "dataObject": {"source": line_source}}
        )
        assert len(shown["taskInput"]["sourceRef"]) == len(document.items)
        payload.append(
            {
                "datasetObjectId": str(number),
                "dataObject": {"content": line_source},
                "annotations": [
                    {"workerId": w, "annotationData": {"content": json.dumps(_answer(w, document, truth))}}
                    for w in workers
                ],
            }
        )
    key = "output/job/annotations/consolidated-annotation/consolidation-request/iteration-1/x.json"
    stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=json.dumps(payload).encode())
    event = {
        "version": "2018-10-16",
        "labelingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/job",
        "labelCategories": [],
        "labelAttributeName": "bulkqa",
        "roleArn": "arn:aws:iam::123456789012:role/gt",
        "payload": {"s3Uri": f"s3://{stack.bucket}/{key}"},
    }
    post_labeling(event)
    post_labeling(event)  # at-least-once delivery: the same request again changes nothing


def _workers(stack: QaStack, fmt: str = "json") -> Any:
    result = CliRunner().invoke(app, ["workers", "--round", ROUND, "--table", stack.table, "--format", fmt], env=WIDE)
    assert result.exit_code == 0, result.output
    return result


def test_workers_report_measures_each_profile(seeded: Any) -> None:
    stack, documents, truth = seeded
    _run_job(stack, documents, truth, [CAREFUL, STAMPER, STRICT])
    rows = {row["worker"]: row for row in json.loads(_workers(stack).stdout)["workers"]}
    wrong_seen = sum(1 for d in documents for item in d.items if item.gold == "wrong")
    right_seen = sum(1 for d in documents for item in d.items if item.gold == "correct")
    assert wrong_seen >= 3
    careful, stamper, strict = rows[CAREFUL], rows[STAMPER], rows[STRICT]
    assert careful["pages"] == stamper["pages"] == strict["pages"] == len(documents)
    assert (careful["wrong_gold_seen"], careful["wrong_gold_caught"]) == (wrong_seen, wrong_seen)
    assert (stamper["wrong_gold_seen"], stamper["wrong_gold_caught"]) == (wrong_seen, 0)
    assert careful["right_gold_kept"] == stamper["right_gold_kept"] == right_seen
    assert careful["catch_rate"] == 1.0 and stamper["catch_rate"] == 0.0
    low, high = stamper["catch_rate_wilson95"]
    assert low == 0.0 and 0.0 < high < 0.75
    assert stamper["likely_rubber_stamping"] and not careful["likely_rubber_stamping"]
    assert stamper["rubber_stamped_pages"] == sum(1 for d in documents if any(i.gold == "wrong" for i in d.items))
    assert careful["agreement"] > stamper["agreement"]
    # gold items are never votes on data: no pair item for them, counts only from the 30 data rows
    items = stack.ddb.scan(TableName=stack.table)["Items"]
    pairs = [i for i in items if i["s3_image_url"]["S"].startswith("s3://")]
    assert len(pairs) == 30
    assert not [p for p in pairs if "/k" in p["s3_image_url"]["S"]]
    assert all(int(p["WorkerConfirmCount"]["N"]) + int(p["WorkerDisconfirmCount"]["N"]) == 3 for p in pairs)


def test_workers_table_fits_80_columns_and_csv_is_formula_safe(seeded: Any) -> None:
    stack, documents, truth = seeded
    _run_job(stack, documents, truth, [CAREFUL, STAMPER, '=HYPERLINK("x")'])
    result = CliRunner().invoke(
        app, ["workers", "--round", ROUND, "--table", stack.table], env={"COLUMNS": "80", "NO_COLOR": "1"}
    )
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert "rubber stamp?" in result.stdout and "…" not in result.stdout
    csv_text = _workers(stack, "csv").stdout
    assert "\n'=HYPERLINK" in csv_text.replace("\r\n", "\n") or "'=HYPERLINK" in csv_text


def test_no_pages_yet(seeded: Any) -> None:
    stack, _, _ = seeded
    result = CliRunner().invoke(app, ["workers", "--round", ROUND, "--table", stack.table], env=WIDE)
    assert result.exit_code == 0
    assert "No worker has answered a page" in result.output
