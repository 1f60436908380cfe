"""The launch function (seed from a CSV in S3) and the pre-labeling function, against moto in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from handlers import launch, pre_labeling
from handlers.batch_store import BatchNotFoundError
from handlers.rounds import manifest_key
from handlers.settings import ENV_BATCH_SIZE, ENV_CONFIDENCE_THRESHOLD, ENV_ROUND_NAME
from tests.integration.support import list_keys, queued_records, read_object, scan_items

PRE_EVENT = {"version": "2018-10-16", "labelingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/qa"}


def pairs(stack) -> dict:
    return {k: v for k, v in scan_items(stack.ddb, stack.table).items() if not k[0].startswith("#")}


def put_csv(stack, csv_file: Path, key: str) -> str:
    stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=csv_file.read_bytes())
    return f"s3://{stack.bucket}/{key}"


def test_launch_seeds_from_a_csv_in_s3_with_images_in_the_bucket(qa_stack, fixtures_dir: Path) -> None:
    csv_file = fixtures_dir / "model_labels_reordered.csv"
    queued = queued_records(csv_file)

    for record in queued:  # the images, in the QA bucket's root (the default "images")
        qa_stack.s3.put_object(Bucket=qa_stack.bucket, Key=record["image_local_path"], Body=b"img")

    result = launch.handler({"csv": put_csv(qa_stack, csv_file, "inputs/shellfish.csv"), "round": "shellfish"})

    assert json.loads(json.dumps(result)) == result  # a Lambda response must be JSON
    assert result["queued"] == len(queued) and result["rows_read"] == 50 and result["round"] == "shellfish"
    assert result["below_threshold"] == {"Crab": 8, "Lobster": 5}
    assert result["problems"] == [] and result["images_transferred"] == 0
    assert result["manifest_uri"] == f"s3://{qa_stack.bucket}/{manifest_key('shellfish', 1)}"
    assert result["batches_per_label"] == {"Crab": {"batches": 1, "items": 22}, "Lobster": {"batches": 1, "items": 15}}
    assert set(pairs(qa_stack)) == {(f"s3://{qa_stack.bucket}/{r['image_local_path']}", r["label"]) for r in queued}
    again = launch.handler({"csv": f"s3://{qa_stack.bucket}/inputs/shellfish.csv", "round": "shellfish"})
    assert again["unchanged"] is True and again["manifest_uri"] == result["manifest_uri"]


def test_launch_options_from_the_event_and_the_environment(qa_stack, fixtures_dir: Path, monkeypatch) -> None:
    csv_uri = put_csv(qa_stack, fixtures_dir / "model_labels_reordered.csv", "in.csv")
    monkeypatch.setenv(ENV_BATCH_SIZE, "5")
    monkeypatch.setenv(ENV_CONFIDENCE_THRESHOLD, "95")

    from_env = launch.handler({"csv": csv_uri, "images": "s3://elsewhere/shellfish", "round": "env"})
    assert from_env["batches"] == sum(-(-v["items"] // 5) for v in from_env["batches_per_label"].values())
    assert all(v["items"] <= 5 * v["batches"] for v in from_env["batches_per_label"].values())
    assert from_env["queued"] == len(queued_records(fixtures_dir / "model_labels_reordered.csv", 95))
    assert all(url.startswith("s3://elsewhere/shellfish/") for url, _ in pairs(qa_stack))

    from_event = launch.handler(
        {"csv": csv_uri, "images": "s3://elsewhere/shellfish", "threshold": 0, "batch_size": 50, "round": "ev"}
    )
    assert from_event["queued"] == 50 and from_event["batches"] == 2
    monkeypatch.setenv(ENV_ROUND_NAME, "from-env")
    assert launch.handler({"csv": csv_uri, "images": "s3://elsewhere/shellfish"})["round"] == "from-env"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"threshold": float("nan")}, "threshold (--threshold) must be a number from 0 to 100, got nan"),
        ({"threshold": -5}, "threshold (--threshold) must be a number from 0 to 100, got -5"),
        ({"threshold": float("inf")}, "threshold (--threshold) must be a number from 0 to 100, got inf"),
        ({"threshold": "80"}, "threshold (--threshold) must be a number from 0 to 100, got '80'"),
        ({"threshold": True}, "threshold (--threshold) must be a number from 0 to 100, got True"),
        ({"batch_size": 0}, "batch_size (--batch-size) must be a whole number from 1 to 100, got 0"),
        ({"batch_size": 2.9}, "batch_size (--batch-size) must be a whole number from 1 to 100, got 2.9"),
        ({"batch_size": 25.0}, "batch_size (--batch-size) must be a whole number from 1 to 100, got 25.0"),
        ({"batch_size": True}, "batch_size (--batch-size) must be a whole number from 1 to 100, got True"),
        ({"batch_size": "25"}, "batch_size (--batch-size) must be a whole number from 1 to 100, got '25'"),
        ({"batch_size": 101}, "batch_size (--batch-size) must be a whole number from 1 to 100, got 101"),
        ({"copy_images": "yes"}, "copy_images (--copy-images) must be true or false, got 'yes'"),
        ({"round": "a b"}, "round name 'a b' is not valid"),
        ({"sample": -1}, "sample (--sample) must be a whole number from 1"),
        ({"accept_above": {"Dog": "95"}}, "threshold of 'Dog' must be a number from 0 to 100 or null, got '95'"),
        ({"treshold": 90}, "unknown seed option(s) 'treshold'"),
    ],
)
def test_launch_refuses_bad_options_like_the_cli_and_writes_nothing(qa_stack, fixtures_dir, options, message) -> None:
    csv_uri = put_csv(qa_stack, fixtures_dir / "model_labels_reordered.csv", "in.csv")
    with pytest.raises(ValueError) as raised:
        launch.handler({"csv": csv_uri, "images": "s3://elsewhere/x", **options})
    assert message in str(raised.value)
    assert list_keys(qa_stack.s3, qa_stack.bucket) == ["in.csv"]
    assert scan_items(qa_stack.ddb, qa_stack.table) == {}


def test_launch_environment_defaults_are_checked_too(qa_stack, fixtures_dir, monkeypatch) -> None:
    csv_uri = put_csv(qa_stack, fixtures_dir / "model_labels_reordered.csv", "in.csv")
    monkeypatch.setenv(ENV_BATCH_SIZE, "2.9")
    with pytest.raises(ValueError, match=r"batch_size \(--batch-size\) must be a whole number .* got '2.9'"):
        launch.handler({"csv": csv_uri, "images": "s3://elsewhere/x"})
    monkeypatch.setenv(ENV_BATCH_SIZE, "10")
    monkeypatch.setenv(ENV_CONFIDENCE_THRESHOLD, "nan")
    with pytest.raises(ValueError, match=r"threshold .* must be a number from 0 to 100, got 'nan'"):
        launch.handler({"csv": csv_uri, "images": "s3://elsewhere/x"})


def test_launch_takes_every_seed_option(qa_stack, fixtures_dir) -> None:
    csv_file = fixtures_dir / "model_labels.csv"
    csv_uri = put_csv(qa_stack, csv_file, "labels.csv")
    qa_stack.s3.put_object(Bucket=qa_stack.bucket, Key="t.json", Body=b'{"Dog": 95, "Cat": null}')
    event = {"csv": csv_uri, "images": "s3://elsewhere/x", "round": "all", "accept_above": f"s3://{qa_stack.bucket}/t.json"}
    result = launch.handler({**event, "sample": 2, "sample_seed": 3, "min_votes": 2, "re_review": False})
    dogs = [r for r in queued_records(csv_file) if r["label"] == "Dog" and float(r["confidence"]) >= 95]
    assert result["accepted"] == len(dogs) and result["queued"] <= 2 * 4 * 3
    assert result["queued"] + result["sampled_out"] + result["accepted"] == len(queued_records(csv_file))
    extended = launch.handler({**event, "csv": csv_uri, "sample": 2, "sample_seed": 4, "extend": True})
    assert extended["part"] == 2 and extended["already_in_round"] == result["stored"] and extended["stored"] == 0


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
    assert result["queued"] == 7 and result["round"].startswith("pinnipeds-birds-")
    assert launch.handler(notification)["unchanged"] is True  # delivered twice: seeded once
    assert {label for _, label in pairs(qa_stack)} == {
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
    assert len(pairs(qa_stack)) == 3


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
    csv_uri = put_csv(qa_stack, fixtures_dir / "model_labels_bom.csv", "in.csv")
    result = launch.handler({"csv": csv_uri, "images": "s3://elsewhere/", "round": "pin"})
    manifest = read_object(qa_stack.s3, qa_stack.bucket, result["manifest_uri"].split("/", 3)[3]).decode()
    sources = [json.loads(line)["source"] for line in manifest.splitlines()]

    responses = [pre_labeling.handler({**PRE_EVENT, "dataObject": {"source": source}}) for source in sources]

    for source, response in zip(sources, responses, strict=True):
        assert response["isHumanAnnotationRequired"] is True
        assert response["taskInput"] == {"sourceRef": json.loads(source)["items"]}
    served = [item for r in responses for item in r["taskInput"]["sourceRef"]]
    assert [item["label"] for item in served] == ["Sea lion", "sea-lion", "Éléphant de mer", *["Pingüino"] * 3, "鳥"]
    assert served[0] == {
        "s3_image_url": "s3://elsewhere/pinnipeds/image_0001.jpg",
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
