"""The launch function (seed from a CSV in S3) and the pre-labeling function, against moto in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from handlers import launch, pre_labeling
from handlers.batch_store import BatchNotFoundError
from handlers.settings import ENV_BATCH_SIZE, ENV_CONFIDENCE_THRESHOLD, MANIFEST_KEY
from tests.integration.support import list_keys, queued_records, read_object, scan_items

PRE_EVENT = {"version": "2018-10-16", "labelingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/qa"}


def put_csv(stack, csv_file: Path, key: str) -> str:
    stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=csv_file.read_bytes())
    return f"s3://{stack.bucket}/{key}"


def test_launch_seeds_from_a_csv_in_s3_with_images_in_the_bucket(qa_stack, fixtures_dir: Path) -> None:
    csv_file = fixtures_dir / "model_labels_reordered.csv"
    queued = queued_records(csv_file)

    result = launch.handler({"csv": put_csv(qa_stack, csv_file, "inputs/shellfish.csv")})

    assert json.loads(json.dumps(result)) == result  # a Lambda response must be JSON
    assert result["queued"] == len(queued) and result["rows_read"] == 50
    assert result["below_threshold"] == {"Crab": 8, "Lobster": 5}
    assert result["problems"] == [] and result["images_transferred"] == 0
    assert result["manifest_uri"] == f"s3://{qa_stack.bucket}/{MANIFEST_KEY}"
    assert result["batches_per_label"] == {"Crab": {"batches": 1, "items": 22}, "Lobster": {"batches": 1, "items": 15}}
    items = scan_items(qa_stack.ddb, qa_stack.table)
    assert set(items) == {(f"s3://{qa_stack.bucket}/{r['image_local_path']}", r["label"]) for r in queued}


def test_launch_options_from_the_event_and_the_environment(qa_stack, fixtures_dir: Path, monkeypatch) -> None:
    csv_uri = put_csv(qa_stack, fixtures_dir / "model_labels_reordered.csv", "in.csv")
    monkeypatch.setenv(ENV_BATCH_SIZE, "5")
    monkeypatch.setenv(ENV_CONFIDENCE_THRESHOLD, "95")

    from_env = launch.handler({"csv": csv_uri, "images": "s3://elsewhere/shellfish"})
    assert from_env["batches"] == sum(-(-v["items"] // 5) for v in from_env["batches_per_label"].values())
    assert all(v["items"] <= 5 * v["batches"] for v in from_env["batches_per_label"].values())
    assert from_env["queued"] == len(queued_records(fixtures_dir / "model_labels_reordered.csv", 95))
    assert all(url.startswith("s3://elsewhere/shellfish/") for url, _ in scan_items(qa_stack.ddb, qa_stack.table))

    from_event = launch.handler(
        {"csv": csv_uri, "images": "s3://elsewhere/shellfish", "threshold": 0, "batch_size": 50}
    )
    assert from_event["queued"] == 50 and from_event["batches"] == 2
    with pytest.raises(ValueError, match="batch_size must be between 1 and 100"):
        launch.handler({"csv": csv_uri, "batch_size": 101})


def test_launch_from_an_s3_notification_decodes_the_key(qa_stack, fixtures_dir: Path) -> None:
    put_csv(qa_stack, fixtures_dir / "model_labels_bom.csv", "inputs/pinnipeds & birds.csv")
    notification = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": qa_stack.bucket}, "object": {"key": "inputs/pinnipeds+%26+birds.csv"}},
            }
        ]
    }
    result = launch.handler(notification)
    assert result["queued"] == 7
    assert {label for _, label in scan_items(qa_stack.ddb, qa_stack.table)} == {
        "Sea lion",
        "sea-lion",
        "Éléphant de mer",
        "Pingüino",
        "鳥",
    }


def test_launch_reports_bad_rows_and_loads_the_rest(qa_stack, fixtures_dir: Path) -> None:
    result = launch.handler({"csv": put_csv(qa_stack, fixtures_dir / "bad_rows.csv", "bad.csv")})
    assert result["queued"] == 3
    assert [p["line"] for p in result["problems"]] == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 17]
    assert len(scan_items(qa_stack.ddb, qa_stack.table)) == 3


def test_launch_fails_when_nothing_can_be_loaded_or_the_csv_is_missing(qa_stack) -> None:
    qa_stack.s3.put_object(Bucket=qa_stack.bucket, Key="empty.csv", Body=b"image,label,confidence\r\na.jpg,,90\r\n")
    with pytest.raises(ValueError, match=f"nothing could be loaded from s3://{qa_stack.bucket}/empty.csv: 1 bad row"):
        launch.handler({"csv": f"s3://{qa_stack.bucket}/empty.csv"})
    with pytest.raises(BatchNotFoundError, match=f"object s3://{qa_stack.bucket}/nope.csv does not exist"):
        launch.handler({"csv": f"s3://{qa_stack.bucket}/nope.csv"})
    with pytest.raises(ValueError, match="launch event must be"):
        launch.handler({"Records": []})
    assert list_keys(qa_stack.s3, qa_stack.bucket) == ["empty.csv"]


def test_pre_labeling_returns_the_batch_a_manifest_line_names(qa_stack, fixtures_dir: Path) -> None:
    launch.handler({"csv": put_csv(qa_stack, fixtures_dir / "model_labels_bom.csv", "in.csv")})
    manifest = read_object(qa_stack.s3, qa_stack.bucket, MANIFEST_KEY).decode()
    refs = [json.loads(line)["source-ref"] for line in manifest.splitlines()]

    responses = [pre_labeling.handler({**PRE_EVENT, "dataObject": {"source-ref": ref}}) for ref in refs]

    for ref, response in zip(refs, responses, strict=True):
        assert response["isHumanAnnotationRequired"] is True
        key = ref.removeprefix(f"s3://{qa_stack.bucket}/")
        assert response["taskInput"] == {"sourceRef": json.loads(read_object(qa_stack.s3, qa_stack.bucket, key))}
    served = [item for r in responses for item in r["taskInput"]["sourceRef"]]
    assert [item["label"] for item in served] == ["Sea lion", "sea-lion", "Éléphant de mer", *["Pingüino"] * 3, "鳥"]
    assert served[0] == {
        "s3_image_url": f"s3://{qa_stack.bucket}/pinnipeds/image_0001.jpg",
        "label": "Sea lion",
        "confidence": 97.5,
    }


@pytest.mark.parametrize("as_string", [False, True])
def test_pre_labeling_with_an_inline_source(qa_stack, as_string: bool) -> None:
    items = [{"s3_image_url": "s3://b/a.jpg", "label": "Dog", "confidence": 91}]
    source = json.dumps(items) if as_string else items
    response = pre_labeling.handler({**PRE_EVENT, "dataObject": {"source": source}})
    assert response == {
        "taskInput": {"sourceRef": [{"s3_image_url": "s3://b/a.jpg", "label": "Dog", "confidence": 91.0}]},
        "isHumanAnnotationRequired": True,
    }


def test_pre_labeling_errors_name_the_object(qa_stack) -> None:
    missing = f"s3://{qa_stack.bucket}/batches/none/batch-00001.json"
    with pytest.raises(BatchNotFoundError, match=f"object {missing} does not exist"):
        pre_labeling.handler({**PRE_EVENT, "dataObject": {"source-ref": missing}})
    with pytest.raises(BatchNotFoundError, match=r"object s3://no-such-bucket-here/b\.json does not exist"):
        pre_labeling.handler({**PRE_EVENT, "dataObject": {"source-ref": "s3://no-such-bucket-here/b.json"}})

    qa_stack.s3.put_object(Bucket=qa_stack.bucket, Key="broken.json", Body=b'[{"s3_image_url": ')
    broken = f"s3://{qa_stack.bucket}/broken.json"
    with pytest.raises(ValueError, match=f"batch file {broken} is not valid JSON"):
        pre_labeling.handler({**PRE_EVENT, "dataObject": {"source-ref": broken}})
    qa_stack.s3.put_object(Bucket=qa_stack.bucket, Key="empty.json", Body=b"[]")
    with pytest.raises(ValueError, match=f"batch file s3://{qa_stack.bucket}/empty.json must be a non-empty"):
        pre_labeling.handler({**PRE_EVENT, "dataObject": {"source-ref": f"s3://{qa_stack.bucket}/empty.json"}})
