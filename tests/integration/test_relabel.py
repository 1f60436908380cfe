"""``bulkqa relabel create|import`` against moto: files written once, request checked, corrections idempotent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY, Stubber
from typer.testing import CliRunner

from bulkqa import relabel_command
from bulkqa.cli import app
from bulkqa.relabel import plan
from handlers.aws_clients import make_client
from handlers.rounds import round_pair_key
from handlers.settings import (
    ATTR_CONFIDENCE,
    ATTR_CONFIRM_COUNT,
    ATTR_CORRECTED_BY_JOB,
    ATTR_CORRECTED_LABEL,
    ATTR_DISCONFIRM_COUNT,
    ATTR_KIND,
    ATTR_PAIR_LABEL,
    ATTR_PAIR_URL,
    ATTR_ROUND,
    ATTR_STATE,
    KIND_ROUND_PAIR,
    STATE_QUEUED,
)
from handlers.vote_store import item_key
from tests.conftest import QaStack

ROUND = "r-2026-11"
ROLE = "arn:aws:iam::123456789012:role/bulkqa-ground-truth"
WORKTEAM = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/qa"
# (image, label, confirm, disconfirm)
VOTES = [
    ("a.jpg", "Dog", 3, 0),
    ("b.jpg", "Dog", 0, 3),
    ("c.jpg", "Dog", 1, 2),
    ("d.jpg", "Cat", 0, 2),
    ("e.jpg", "Cat", 2, 0),
]


def _url(stack: QaStack, name: str) -> str:
    return f"s3://{stack.bucket}/images/{name}"


def _put_round(stack: QaStack, round_name: str = ROUND) -> None:
    """The items a seed of ``round_name`` and three workers' votes leave in the table."""
    from handlers.round_store import RoundMeta

    meta = RoundMeta(round_name, "2026-11-29T10:00:00Z", 25)
    stack.ddb.put_item(TableName=stack.table, Item=meta.to_item())
    for name, label, confirm, disconfirm in VOTES:
        url = _url(stack, name)
        stack.ddb.put_item(
            TableName=stack.table,
            Item={
                **item_key(url, label),
                ATTR_CONFIDENCE: {"N": "91"},
                ATTR_CONFIRM_COUNT: {"N": str(confirm)},
                ATTR_DISCONFIRM_COUNT: {"N": str(disconfirm)},
            },
        )
        stack.ddb.put_item(
            TableName=stack.table,
            Item={
                **round_pair_key(round_name, url, label),
                ATTR_KIND: {"S": KIND_ROUND_PAIR},
                ATTR_ROUND: {"S": round_name},
                ATTR_PAIR_URL: {"S": url},
                ATTR_PAIR_LABEL: {"S": label},
                ATTR_CONFIDENCE: {"N": "91"},
                ATTR_STATE: {"S": STATE_QUEUED},
            },
        )


@pytest.fixture
def outputs_file(tmp_path: Path, qa_stack: QaStack) -> Path:
    path = tmp_path / "outputs.json"
    path.write_text(
        json.dumps(
            {
                "bucket_name": qa_stack.bucket,
                "table_name": qa_stack.table,
                "output_path": f"s3://{qa_stack.bucket}/output/",
                "ground_truth_role_arn": ROLE,
            }
        )
    )
    return path


@pytest.fixture
def sagemaker(monkeypatch: pytest.MonkeyPatch) -> Any:
    client = make_client("sagemaker", region="us-east-1")
    stubber = Stubber(client)
    monkeypatch.setattr(relabel_command, "sagemaker_client", lambda endpoint_url, region: client)
    with stubber:
        yield stubber
    stubber.assert_no_pending_responses()


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, ["relabel", *args])


def _create_args(outputs_file: Path, *extra: str) -> list[str]:
    return [
        "create",
        "--round",
        ROUND,
        "--outputs",
        str(outputs_file),
        "--name",
        "fix-dogs-1",
        "--workteam-arn",
        WORKTEAM,
        "--region",
        "us-east-1",
        *extra,
    ]


def _keys(stack: QaStack) -> list[str]:
    return sorted(o["Key"] for o in stack.s3.list_objects_v2(Bucket=stack.bucket).get("Contents", []))


def test_dry_run_prints_a_valid_request_and_writes_nothing(
    qa_stack: QaStack, outputs_file: Path, sagemaker: Any
) -> None:
    _put_round(qa_stack)
    result = _run(*_create_args(outputs_file, "--dry-run"))
    assert result.exit_code == 0, result.output
    request = json.loads(result.stdout[result.stdout.index("{") :])
    human = request["HumanTaskConfig"]
    assert human["PreHumanTaskLambdaArn"] == "arn:aws:lambda:us-east-1:432418664414:function:PRE-ImageMultiClass"
    assert human["AnnotationConsolidationConfig"]["AnnotationConsolidationLambdaArn"].endswith(
        ":function:ACS-ImageMultiClass"
    )
    assert human["UiConfig"] == {
        "UiTemplateS3Uri": f"s3://{qa_stack.bucket}/rounds/{ROUND}/relabel/fix-dogs-1/template.liquid.html"
    }
    assert request["LabelCategoryConfigS3Uri"].endswith("/categories.json")
    assert _keys(qa_stack) == []


def test_create_writes_the_files_once_and_sends_the_request(
    qa_stack: QaStack, outputs_file: Path, sagemaker: Any
) -> None:
    _put_round(qa_stack)
    arn = "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/fix-dogs-1"
    sagemaker.add_response(
        "create_labeling_job",
        {"LabelingJobArn": arn},
        {
            k: ANY
            for k in (
                "LabelingJobName",
                "LabelAttributeName",
                "InputConfig",
                "OutputConfig",
                "RoleArn",
                "LabelCategoryConfigS3Uri",
                "HumanTaskConfig",
            )
        },
    )
    result = _run(*_create_args(outputs_file))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == arn
    prefix = f"rounds/{ROUND}/relabel/fix-dogs-1/"
    assert _keys(qa_stack) == [prefix + "categories.json", prefix + "manifest.jsonl", prefix + "template.liquid.html"]
    body = qa_stack.s3.get_object(Bucket=qa_stack.bucket, Key=prefix + "manifest.jsonl")["Body"].read().decode()
    assert [json.loads(line)["source-ref"] for line in body.splitlines()] == [
        _url(qa_stack, "b.jpg"),
        _url(qa_stack, "d.jpg"),
    ]
    categories = json.loads(
        qa_stack.s3.get_object(Bucket=qa_stack.bucket, Key=prefix + "categories.json")["Body"].read()
    )
    assert [entry["label"] for entry in categories["labels"]] == ["Cat", "Dog", plan.NONE_OF_THESE]
    template = qa_stack.s3.get_object(Bucket=qa_stack.bucket, Key=prefix + "template.liquid.html")["Body"].read()
    assert b"<b>Cat</b> or <b>Dog</b>" in template

    # Votes change, the same job name is asked again: the round's files are never rewritten.
    qa_stack.ddb.update_item(
        TableName=qa_stack.table,
        Key=item_key(_url(qa_stack, "a.jpg"), "Dog"),
        UpdateExpression="SET WorkerDisconfirmCount = :n, WorkerConfirmCount = :z",
        ExpressionAttributeValues={":n": {"N": "3"}, ":z": {"N": "0"}},
    )
    again = _run(*_create_args(outputs_file))
    assert again.exit_code == 2
    assert "never rewritten" in again.output
    assert qa_stack.s3.get_object(Bucket=qa_stack.bucket, Key=prefix + "manifest.jsonl")["Body"].read().decode() == body


def test_majority_with_split_and_categories_file(
    qa_stack: QaStack, outputs_file: Path, sagemaker: Any, tmp_path: Path
) -> None:
    _put_round(qa_stack)
    categories = tmp_path / "labels.txt"
    categories.write_text("Dog\nCat\nFox\n")
    result = _run(*_create_args(outputs_file, "--policy", "majority", "--categories", str(categories), "--dry-run"))
    assert result.exit_code == 0, result.output
    assert "3 image(s), 4 categories" in " ".join(result.output.split())


def test_unknown_region_and_missing_round_exit_2(qa_stack: QaStack, outputs_file: Path, sagemaker: Any) -> None:
    _put_round(qa_stack)
    args = _create_args(outputs_file, "--dry-run")
    args[args.index("--region") + 1] = "us-west-1"
    result = _run(*args)
    assert result.exit_code == 2 and "not available in region 'us-west-1'" in " ".join(result.output.split())
    args = _create_args(outputs_file, "--dry-run")
    args[args.index("--round") + 1] = "no-such-round"
    result = _run(*args)
    assert result.exit_code == 2 and "no pair of round 'no-such-round'" in " ".join(result.output.split())


def _output_manifest(stack: QaStack, job: str, answers: dict[str, str]) -> str:
    lines = []
    for name, label in answers.items():
        rejected = ["Cat"] if name == "d.jpg" else ["Dog"]
        lines.append(
            {
                "source-ref": _url(stack, name),
                plan.META_REJECTED_LABELS: rejected,
                plan.META_ROUND: ROUND,
                "corrected-class": 0,
                "corrected-class-metadata": {
                    "class-name": label,
                    "confidence": 0.9,
                    "type": "groundtruth/image-classification",
                    "job-name": f"labeling-job/{job}",
                    "human-annotated": "yes",
                    "creation-date": "2026-11-29T10:00:00",
                },
            }
        )
    key = f"output/{job}/manifests/output/output.manifest"
    stack.s3.put_object(Bucket=stack.bucket, Key=key, Body="".join(json.dumps(x) + "\n" for x in lines).encode())
    return f"s3://{stack.bucket}/{key}"


def _item(stack: QaStack, name: str, label: str) -> dict[str, Any]:
    return stack.ddb.get_item(TableName=stack.table, Key=item_key(_url(stack, name), label))["Item"]


def test_import_records_corrections_idempotently(qa_stack: QaStack, outputs_file: Path) -> None:
    _put_round(qa_stack)
    uri = _output_manifest(qa_stack, "fix-dogs-1", {"b.jpg": "Fox", "d.jpg": plan.NONE_OF_THESE})
    args = ["import", "--round", ROUND, "--output-manifest", uri, "--outputs", str(outputs_file), "--json"]
    first = _run(*args)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["recorded"] == 2
    item = _item(qa_stack, "b.jpg", "Dog")
    assert item[ATTR_CORRECTED_LABEL] == {"S": "Fox"} and item[ATTR_CORRECTED_BY_JOB] == {"S": "fix-dogs-1"}
    before = qa_stack.ddb.scan(TableName=qa_stack.table)["Items"]
    second = _run(*args)
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout) | {"recorded": 0} == json.loads(second.stdout)
    assert json.loads(second.stdout)["unchanged"] == 2
    assert qa_stack.ddb.scan(TableName=qa_stack.table)["Items"] == before

    other = _output_manifest(qa_stack, "fix-dogs-2", {"b.jpg": "Wolf"})
    conflict = _run("import", "--round", ROUND, "--output-manifest", other, "--outputs", str(outputs_file), "--json")
    assert conflict.exit_code == 1
    assert "the first correction stands" in json.loads(conflict.stdout)["conflicts"][0]
    assert _item(qa_stack, "b.jpg", "Dog")[ATTR_CORRECTED_LABEL] == {"S": "Fox"}


def test_create_simulated_builtin_job_import_confusion_and_training_rows(
    qa_stack: QaStack, outputs_file: Path, sagemaker: Any
) -> None:
    from bulkqa.relabel.analysis import confusion, corrected_rows
    from bulkqa.relabel.store import read_round_pairs
    from e2e.builtin_classification import run_builtin_classification

    _put_round(qa_stack)
    for name in ("b.jpg", "d.jpg"):
        qa_stack.s3.put_object(Bucket=qa_stack.bucket, Key=f"images/{name}", Body=b"\x89PNG")
    sagemaker.add_response("create_labeling_job", {"LabelingJobArn": "arn:x"}, None)
    assert _run(*_create_args(outputs_file)).exit_code == 0
    dry = _run(*_create_args(outputs_file, "--dry-run"))
    request = json.loads(dry.stdout[dry.stdout.index("{") :])
    truth = {_url(qa_stack, "b.jpg"): "Cat", _url(qa_stack, "d.jpg"): plan.NONE_OF_THESE}
    uri = run_builtin_classification(qa_stack.s3, request, lambda worker, image, labels: truth[image])
    imported = _run("import", "--round", ROUND, "--output-manifest", uri, "--outputs", str(outputs_file))
    assert imported.exit_code == 0, imported.output
    pairs = read_round_pairs(qa_stack.ddb, qa_stack.table, ROUND)
    assert confusion(pairs).to_json() == {"Cat": {plan.NONE_OF_THESE: 1}, "Dog": {"Cat": 1}}
    rows = [(r.image.rsplit("/", 1)[1], r.label, r.source) for r in corrected_rows(pairs)]
    assert rows == [
        ("b.jpg", "Cat", "relabel:fix-dogs-1"),
        ("e.jpg", "Cat", "confirmed"),
        ("a.jpg", "Dog", "confirmed"),
    ]


def test_seed_answer_relabel_report_and_corrected_export(
    qa_stack: QaStack, outputs_file: Path, sagemaker: Any, tmp_path: Path
) -> None:
    """The whole chain in-process: seed a round, workers reject some images through the real
    post-labeling function, relabel them with the simulated built-in job, import, report, export."""
    from e2e.builtin_classification import run_builtin_classification
    from handlers.post_labeling import handler as post_labeling

    images = tmp_path / "img"
    truth = {}  # image name -> what it really shows
    rows = []
    for i in range(12):
        name = f"pond/{i:02d}.jpg"
        (images / name).parent.mkdir(parents=True, exist_ok=True)
        (images / name).write_bytes(b"\x89PNG" + name.encode())
        label = "Frog" if i < 8 else "Toad"
        really = label if i % 4 else ("Toad" if label == "Frog" else "Newt")
        truth[f"s3://{qa_stack.bucket}/images/{name}"] = really
        rows.append(f"{name},{label},{90 + i % 5}")
    csv = tmp_path / "labels.csv"
    csv.write_text("image_local_path,label,confidence\n" + "\n".join(rows) + "\n")
    seed = ["seed", "--csv", str(csv), "--images", str(images), "--bucket", qa_stack.bucket]
    seed += ["--table", qa_stack.table, "--round", ROUND]
    assert CliRunner().invoke(app, seed).exit_code == 0
    manifest = qa_stack.s3.get_object(Bucket=qa_stack.bucket, Key=f"rounds/{ROUND}/manifest-0001.jsonl")["Body"]
    payload = []
    for number, line in enumerate(manifest.read().decode().splitlines()):
        document = json.loads(json.loads(line)["source"])
        answer = {
            f"{item['label']}-{i}": {"Confirmed": truth[item["s3_image_url"]] == item["label"]}
            for i, item in enumerate(document["items"])
        }
        payload.append(
            {
                "datasetObjectId": str(number),
                "dataObject": {"content": json.loads(line)["source"]},
                "annotations": [{"workerId": w, "annotationData": {"content": json.dumps(answer)}} for w in "ab"],
            }
        )
    key = "output/qa/annotations/consolidated-annotation/consolidation-request/iteration-1/r.json"
    qa_stack.s3.put_object(Bucket=qa_stack.bucket, Key=key, Body=json.dumps(payload).encode())
    post_labeling(
        {
            "version": "2018-10-16",
            "labelingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/qa",
            "labelAttributeName": "bulkqa",
            "payload": {"s3Uri": f"s3://{qa_stack.bucket}/{key}"},
        }
    )

    sagemaker.add_response("create_labeling_job", {"LabelingJobArn": "arn:x"}, None)
    created = _run(*_create_args(outputs_file))
    assert created.exit_code == 0, created.output
    dry = _run(*_create_args(outputs_file, "--dry-run"))
    request = json.loads(dry.stdout[dry.stdout.index("{") :])
    first_toad = f"s3://{qa_stack.bucket}/images/pond/08.jpg"

    def choose(worker: str, image: str, labels: list[str]) -> str:
        return plan.NONE_OF_THESE if image == first_toad else truth[image]

    uri = run_builtin_classification(qa_stack.s3, request, choose)
    imported = _run("import", "--round", ROUND, "--output-manifest", uri, "--outputs", str(outputs_file))
    assert imported.exit_code == 0, imported.output

    report = CliRunner().invoke(app, ["report", "--table", qa_stack.table, "--round", ROUND, "--format", "json"])
    assert report.exit_code == 0, report.output
    assert json.loads(report.stdout)["relabel_confusion"] == {"Frog": {"Toad": 2}, "Toad": {plan.NONE_OF_THESE: 1}}
    table = CliRunner().invoke(app, ["report", "--table", qa_stack.table, "--round", ROUND], env={"COLUMNS": "80"})
    assert "Rejected images, relabelled" in table.stdout

    export = CliRunner().invoke(
        app, ["export", "--table", qa_stack.table, "--round", ROUND, "--corrected", "--format", "jsonl"]
    )
    assert export.exit_code == 0, export.output
    exported = [json.loads(line) for line in export.stdout.splitlines()]
    by_image = {row["image"].rsplit("/", 1)[1]: row for row in exported}
    assert len(exported) == 11  # 12 images, one corrected to "None of these"
    assert by_image["00.jpg"]["label"] == "Toad" and by_image["00.jpg"]["label_source"] == "relabel:fix-dogs-1"
    assert by_image["00.jpg"]["original_label"] == "Frog"
    assert by_image["01.jpg"] == by_image["01.jpg"] | {"label": "Frog", "label_source": "confirmed"}
    assert "08.jpg" not in by_image
    assert [row["label"] for row in exported] == sorted(row["label"] for row in exported)
