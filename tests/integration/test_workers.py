"""Gold scoring end to end in-process: seed with gold, three worker profiles answer through the
real post-labeling function, ``bulkqa workers`` measures them, and excluding the rubber stamp
restores the careful workers' figures exactly."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from typer.testing import CliRunner

from bulkqa.cli import app
from handlers.post_labeling import handler as post_labeling
from handlers.pre_labeling import handler as pre_labeling
from handlers.rounds import BatchDocument, parse_batch_document_json
from handlers.settings import ENV_TABLE_NAME
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
    with mock.patch.dict(os.environ, {ENV_TABLE_NAME: stack.table}):
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
    assert "stamp?" in result.stdout and "…" not in result.stdout
    csv_text = _workers(stack, "csv").stdout
    assert "\n'=HYPERLINK" in csv_text.replace("\r\n", "\n") or "'=HYPERLINK" in csv_text


def test_no_pages_yet(seeded: Any) -> None:
    stack, _, _ = seeded
    result = CliRunner().invoke(app, ["workers", "--round", ROUND, "--table", stack.table], env=WIDE)
    assert result.exit_code == 0
    assert "No worker has answered a page" in result.output


CAREFUL_2 = "private.us-east-1.careful-2"


def _report(stack: QaStack, table: str, *extra: str) -> dict[str, Any]:
    args = ["report", "--table", table, "--round", ROUND, "--format", "json", *extra]
    result = CliRunner().invoke(app, args, env=WIDE)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


FIGURES = ("classes", "totals", "class_average", "thresholds")


def test_excluding_the_rubber_stamp_restores_the_careful_workers_figures(seeded: Any, tmp_path: Path) -> None:
    from bulkqa.qa_table import create_qa_table

    stack, documents, truth = seeded
    _run_job(stack, documents, truth, [CAREFUL, CAREFUL_2, STAMPER])
    # The same round, answered by the two careful workers only, in a second table.
    other = "careful-only"
    create_qa_table(stack.ddb, other)
    csv = next(tmp_path.glob("labels.csv"))
    args = ["seed", "--csv", str(csv), "--images", str(tmp_path / "img"), "--bucket", stack.bucket, "--table", other]
    args += ["--round", ROUND, "--batch-size", "10", "--gold", str(tmp_path / "known.csv")]
    assert CliRunner().invoke(app, args, env=WIDE).exit_code == 0
    careful_stack = QaStack(stack.s3, stack.ddb, stack.bucket, other)
    _run_job(careful_stack, documents, truth, [CAREFUL, CAREFUL_2])

    expected = _report(careful_stack, other)
    with_stamper = _report(stack, stack.table)
    assert {k: with_stamper[k] for k in FIGURES if k in with_stamper} != {
        k: expected[k] for k in FIGURES if k in expected
    }
    for extra in (["--exclude-workers", STAMPER], ["--min-worker-quality", "0.3"]):
        restored = _report(stack, stack.table, *extra)
        for key in FIGURES:
            if key in expected:
                assert restored[key] == expected[key], key
        left_out = restored["worker_exclusion"]
        assert left_out["votes_left_out"] == 30  # the stamper's vote on each data image
        assert left_out["excluded_workers"] == [STAMPER]
        assert left_out["classes_without_reviewed_images"] == []
    workers = {row["worker"]: row for row in _report(stack, stack.table, "--min-worker-quality", "0.3")["workers"]}
    assert workers[STAMPER]["excluded"] and not workers[CAREFUL]["excluded"]


def test_excluding_every_worker_says_which_classes_lost_their_images(seeded: Any) -> None:
    stack, documents, truth = seeded
    _run_job(stack, documents, truth, [CAREFUL, STAMPER])
    report = _report(stack, stack.table, "--exclude-workers", f"{CAREFUL},{STAMPER},nobody")
    assert report["worker_exclusion"]["classes_without_reviewed_images"] == ["Crab"]
    assert report["worker_exclusion"]["excluded_without_votes"] == ["nobody"]
    html = CliRunner().invoke(
        app,
        ["report", "--table", stack.table, "--round", ROUND, "--format", "html", "--exclude-workers", STAMPER],
        env=WIDE,
    )
    assert html.exit_code == 0, html.output
    assert "Workers: gold items and agreement" in html.stdout and "Workers left out" in html.stdout


def test_worker_options_need_a_round(seeded: Any) -> None:
    stack, _, _ = seeded
    result = CliRunner().invoke(app, ["report", "--table", stack.table, "--exclude-workers", "x"], env=WIDE)
    assert result.exit_code == 2
    assert "need --round" in result.output
