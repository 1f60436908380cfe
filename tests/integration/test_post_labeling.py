"""The post-labeling (consolidation) function against moto in-process: exact, idempotent counts."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from handlers import post_labeling
from handlers.batch_store import BatchNotFoundError
from handlers.csv_rows import decode_csv
from handlers.image_sources import S3Images
from handlers.s3_uri import S3Uri
from handlers.seeding import SeedTarget, run_seed
from handlers.settings import ENV_TABLE_NAME
from handlers.vote_store import item_key
from tests.integration.support import counts, scan_items, votes

LABEL_ATTRIBUTE = "bulkqa-round-1"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/bulkqa-round-1"
# 25 images of "X" (a full batch with indices past 10) and 3 of "sea-lion" (a label with a hyphen).
CSV = "image_local_path,label,confidence\r\n" + "".join(
    [f"x/image_{i:04d}.jpg,X,{80 + i / 2}\r\n" for i in range(25)]
    + [f"pinnipeds/image_{i:04d}.jpg,sea-lion,{90 + i}\r\n" for i in range(3)]
)


@pytest.fixture
def batches(qa_stack) -> dict[str, Any]:
    """Seeded items and batch files; label -> the batch (its uri and items)."""
    target = SeedTarget(qa_stack.bucket, qa_stack.table, S3Images(S3Uri("images", "caltech")), 25, 80.0)
    report = run_seed(decode_csv(CSV.encode()), target, s3=qa_stack.s3, ddb=qa_stack.ddb)
    assert [(b.label, len(b.items)) for b in report.batches] == [("X", 25), ("sea-lion", 3)]
    return {b.label: {"uri": f"s3://{qa_stack.bucket}/{b.key}", "items": b.items} for b in report.batches}


def annotation(worker: str, label: str, verdicts: Sequence[bool], *, key_order: str = "sorted") -> dict[str, Any]:
    """A worker's crowd-form answer; keys in sorted-string order (X-0, X-1, X-10, ...) by default."""
    answer = {f"{label}-{i}": {"Confirmed": v} for i, v in enumerate(verdicts)}
    if key_order == "sorted":
        answer = dict(sorted(answer.items()))
    return {"workerId": worker, "annotationData": {"content": json.dumps(answer)}}


def dataset_object(object_id: str, batch: dict[str, Any], annotations: list[dict[str, Any]]) -> dict[str, Any]:
    return {"datasetObjectId": object_id, "dataObject": {"s3Uri": batch["uri"]}, "annotations": annotations}


_payloads = iter(range(10**6))
_payload_lock = threading.Lock()


def deliver(stack, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Write the payload file and call the function as Ground Truth does."""
    with _payload_lock:
        key = f"output/annotations/consolidation-request/iteration-1/{next(_payloads)}.json"
    stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=json.dumps(entries).encode())
    event = {
        "version": "2018-10-16",
        "labelingJobArn": ARN,
        "labelCategories": ["Confirmed"],
        "labelAttributeName": LABEL_ATTRIBUTE,
        "roleArn": "arn:aws:iam::123456789012:role/gt",
        "payload": {"s3Uri": f"s3://{stack.bucket}/{key}"},
    }
    return post_labeling.handler(event)


def table_counts(stack, items) -> list[tuple[int, int]]:
    found = scan_items(stack.ddb, stack.table)
    return [counts(found[(item.s3_image_url, item.label)]) for item in items]


ALL_YES = [True] * 25
UNTICKED_2_10 = [i not in (2, 10) for i in range(25)]


def test_one_worker_on_a_batch_of_25_flags_exactly_the_unticked_images(qa_stack, batches) -> None:
    x = batches["X"]
    response = deliver(qa_stack, [dataset_object("0", x, [annotation("w1", "X", UNTICKED_2_10)])])

    assert table_counts(qa_stack, x["items"]) == [(0, 1) if i in (2, 10) else (1, 0) for i in range(25)]
    found = scan_items(qa_stack.ddb, qa_stack.table)
    assert votes(found[(x["items"][10].s3_image_url, "X")]) == {"w1": "disconfirm"}
    assert votes(found[(x["items"][1].s3_image_url, "X")]) == {"w1": "confirm"}
    images = response[0]["consolidatedAnnotation"]["content"][LABEL_ATTRIBUTE]["images"]
    assert [image["s3_image_url"] for image in images if image["disconfirmedBy"]] == [
        x["items"][2].s3_image_url,
        x["items"][10].s3_image_url,
    ]
    # The other label's items are untouched.
    assert table_counts(qa_stack, batches["sea-lion"]["items"]) == [(0, 0)] * 3


def test_three_workers_give_exact_counts(qa_stack, batches) -> None:
    seal = batches["sea-lion"]
    workers = {"w1": [True, True, False], "w2": [True, False, False], "w3": [False, True, True]}
    deliver(qa_stack, [dataset_object("0", seal, [annotation(w, "sea-lion", v) for w, v in workers.items()])])

    expected = [(sum(v[i] for v in workers.values()), sum(not v[i] for v in workers.values())) for i in range(3)]
    assert expected == [(2, 1), (2, 1), (1, 2)]
    assert table_counts(qa_stack, seal["items"]) == expected
    found = scan_items(qa_stack.ddb, qa_stack.table)
    assert votes(found[(seal["items"][2].s3_image_url, "sea-lion")]) == {
        "w1": "disconfirm",
        "w2": "disconfirm",
        "w3": "confirm",
    }


def test_redelivery_and_overlapping_requests_leave_counts_as_one_vote_per_worker(qa_stack, batches) -> None:
    x, seal = batches["X"], batches["sea-lion"]
    first = [
        dataset_object(
            "0", seal, [annotation("w1", "sea-lion", [True, False, True]), annotation("w2", "sea-lion", [True] * 3)]
        ),
        dataset_object("1", x, [annotation("w1", "X", UNTICKED_2_10)]),
    ]
    deliver(qa_stack, first)
    after_first = scan_items(qa_stack.ddb, qa_stack.table)

    again = deliver(qa_stack, first)  # Ground Truth delivers at least once
    assert scan_items(qa_stack.ddb, qa_stack.table) == after_first
    assert again[0]["consolidatedAnnotation"]["content"][LABEL_ATTRIBUTE]["workers"] == ["w1", "w2"]

    # Overlapping: the same two answers (w1 now with other verdicts, which must not count twice)
    # and a third worker on the same batch.
    overlapping = [
        dataset_object(
            "0",
            seal,
            [
                annotation("w1", "sea-lion", [False, True, False]),
                annotation("w2", "sea-lion", [True] * 3),
                annotation("w3", "sea-lion", [False, False, True]),
            ],
        )
    ]
    deliver(qa_stack, overlapping)
    deliver(qa_stack, overlapping)

    assert table_counts(qa_stack, seal["items"]) == [(2, 1), (1, 2), (3, 0)]
    found = scan_items(qa_stack.ddb, qa_stack.table)
    assert votes(found[(seal["items"][1].s3_image_url, "sea-lion")]) == {
        "w1": "disconfirm",
        "w2": "confirm",
        "w3": "disconfirm",
    }
    assert table_counts(qa_stack, x["items"]) == [(0, 1) if i in (2, 10) else (1, 0) for i in range(25)]


def test_a_malformed_annotation_is_skipped_and_logged_while_the_others_count(qa_stack, batches, log_records) -> None:
    seal = batches["sea-lion"]
    annotations = [
        annotation("w1", "sea-lion", [True, True, True]),
        {"workerId": "w2", "annotationData": {"content": "{not json"}},
        annotation("w3", "sea-lion", [False, True, True]),
        {"annotationData": {"content": json.dumps({"sea-lion-0": {"Confirmed": False}})}},  # no workerId
        {"workerId": "w5", "annotationData": {"content": json.dumps(["sea-lion-0"])}},
    ]
    response = deliver(qa_stack, [dataset_object("seal-7", seal, annotations)])

    assert table_counts(qa_stack, seal["items"]) == [(1, 1), (2, 0), (2, 0)]
    summary = response[0]["consolidatedAnnotation"]["content"][LABEL_ATTRIBUTE]
    assert summary["workers"] == ["w1", "w3"]
    skipped = [r.fields for r in log_records if r.getMessage().startswith("malformed annotation skipped")]
    assert [(f["datasetObjectId"], f["workerId"]) for f in skipped] == [
        ("seal-7", "w2"),
        ("seal-7", None),
        ("seal-7", "w5"),
    ]


def test_response_has_one_entry_per_dataset_object_in_the_documented_shape(qa_stack, batches) -> None:
    x, seal = batches["X"], batches["sea-lion"]
    entries = [
        dataset_object(
            "0", x, [annotation(w, "X", UNTICKED_2_10 if w == "w2" else ALL_YES) for w in ("w1", "w2", "w3")]
        ),
        dataset_object("1", seal, [annotation(w, "sea-lion", [True, False, True]) for w in ("w1", "w2", "w3")]),
    ]
    response = deliver(qa_stack, entries)

    assert [entry["datasetObjectId"] for entry in response] == ["0", "1"]
    for entry, label, batch in zip(response, ["X", "sea-lion"], [x, seal], strict=True):
        assert set(entry) == {"datasetObjectId", "consolidatedAnnotation"}
        assert set(entry["consolidatedAnnotation"]) == {"content"}
        assert set(entry["consolidatedAnnotation"]["content"]) == {LABEL_ATTRIBUTE}
        summary = entry["consolidatedAnnotation"]["content"][LABEL_ATTRIBUTE]
        assert summary["batch"] == batch["uri"] and summary["label"] == label
        assert summary["workers"] == ["w1", "w2", "w3"]
        assert len(summary["images"]) == len(batch["items"])
        for index, (image, item) in enumerate(zip(summary["images"], batch["items"], strict=True)):
            assert set(image) == {
                "index",
                "s3_image_url",
                "label",
                "confidence",
                "WorkerConfirmCount",
                "WorkerDisconfirmCount",
                "confirmedBy",
                "disconfirmedBy",
            }
            assert (image["index"], image["s3_image_url"], image["label"], image["confidence"]) == (
                index,
                item.s3_image_url,
                item.label,
                item.confidence,
            )
            assert image["WorkerConfirmCount"] == len(image["confirmedBy"])
            assert image["WorkerDisconfirmCount"] == len(image["disconfirmedBy"])
    x_images = response[0]["consolidatedAnnotation"]["content"][LABEL_ATTRIBUTE]["images"]
    assert x_images[10]["confirmedBy"] == ["w1", "w3"] and x_images[10]["disconfirmedBy"] == ["w2"]
    json.dumps(response)  # Ground Truth receives it as JSON


def test_items_not_seeded_or_seeded_like_the_original_sample_still_count(qa_stack, batches) -> None:
    seal = batches["sea-lion"]
    first, second = seal["items"][0], seal["items"][1]
    qa_stack.ddb.delete_item(TableName=qa_stack.table, Key=item_key(first.s3_image_url, first.label))
    qa_stack.ddb.put_item(  # the original sample's item: counts, no WorkerVotes
        TableName=qa_stack.table,
        Item={
            **item_key(second.s3_image_url, second.label),
            "confidence": {"N": "91"},
            "WorkerConfirmCount": {"N": "0"},
            "WorkerDisconfirmCount": {"N": "0"},
        },
    )
    answers = [annotation("w1", "sea-lion", [True, False, True]), annotation("w2", "sea-lion", [True, True, True])]
    deliver(qa_stack, [dataset_object("0", seal, answers)])
    deliver(qa_stack, [dataset_object("0", seal, answers)])

    assert table_counts(qa_stack, seal["items"]) == [(2, 0), (1, 1), (2, 0)]
    created = scan_items(qa_stack.ddb, qa_stack.table)[(first.s3_image_url, first.label)]
    assert float(created["confidence"]["N"]) == first.confidence
    assert votes(created) == {"w1": "confirm", "w2": "confirm"}


@pytest.fixture
def log_records() -> Iterator[list[logging.LogRecord]]:
    """What the post-labeling function logs, with its structured fields (``record.fields``)."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect()
    logger = logging.getLogger("bulkqa.post_labeling")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_concurrent_invocations_on_overlapping_objects_give_exact_counts(qa_stack, batches) -> None:
    # qa_stack makes moto's writes atomic, as DynamoDB's are: a wrong count here is the code's.
    seal = batches["sea-lion"]
    shared = [annotation("w1", "sea-lion", [True, False, True]), annotation("w2", "sea-lion", [True, True, False])]

    def request(n: int) -> list[dict[str, Any]]:
        # Every request repeats w1 and w2 on the same batch, and brings one worker of its own.
        return [dataset_object("0", seal, [*shared, annotation(f"s{n}", "sea-lion", [n % 2 == 0, True, False])])]

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(lambda n: deliver(qa_stack, request(n)), range(6)))

    assert all(len(r) == 1 for r in responses)
    assert table_counts(qa_stack, seal["items"]) == [(2 + 3, 3), (1 + 6, 1), (1, 1 + 6)]
    assert len(votes(scan_items(qa_stack.ddb, qa_stack.table)[(seal["items"][0].s3_image_url, "sea-lion")])) == 8


def test_dynamodb_failure_raises(qa_stack, batches, monkeypatch) -> None:
    monkeypatch.setenv(ENV_TABLE_NAME, "no-such-table")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        deliver(qa_stack, [dataset_object("0", batches["X"], [annotation("w1", "X", ALL_YES)])])


def test_missing_payload_raises_naming_it(qa_stack) -> None:
    event = {"labelAttributeName": LABEL_ATTRIBUTE, "payload": {"s3Uri": f"s3://{qa_stack.bucket}/none.json"}}
    with pytest.raises(BatchNotFoundError, match=f"object s3://{qa_stack.bucket}/none.json does not exist"):
        post_labeling.handler(event)


def test_an_object_whose_batch_is_gone_is_left_out_and_the_others_count(qa_stack, batches) -> None:
    gone = {"uri": f"s3://{qa_stack.bucket}/batches/gone/batch-00001.json"}
    seal = batches["sea-lion"]
    response = deliver(
        qa_stack,
        [
            dataset_object("0", gone, [annotation("w1", "X", ALL_YES)]),
            dataset_object("1", seal, [annotation("w1", "sea-lion", [True, True, False])]),
        ],
    )
    assert [entry["datasetObjectId"] for entry in response] == ["1"]
    assert table_counts(qa_stack, seal["items"]) == [(1, 0), (1, 0), (0, 1)]


def test_inline_data_object(qa_stack, batches) -> None:
    seal = batches["sea-lion"]
    inline = json.dumps([item.to_json() for item in seal["items"]])
    entry = {
        "datasetObjectId": "9",
        "dataObject": {"content": inline},
        "annotations": [annotation("w1", "sea-lion", [False, True, True], key_order="given")],
    }
    response = deliver(qa_stack, [entry])
    assert response[0]["consolidatedAnnotation"]["content"][LABEL_ATTRIBUTE]["batch"] == "<inline data object>"
    assert table_counts(qa_stack, seal["items"]) == [(0, 1), (1, 0), (1, 0)]
