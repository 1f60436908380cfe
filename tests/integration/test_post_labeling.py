"""The post-labeling (consolidation) function against moto in-process: exact, idempotent counts.

The pages are built here (round batch documents inline, release 0.1 batch files in S3) and the
pair items written as the data model describes, so these tests depend on the seed's contract,
not on its code.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from handlers import post_labeling
from handlers.batch_store import BatchNotFoundError
from handlers.consolidation import consolidate
from handlers.gt_events import parse_consolidation_event
from handlers.rounds import BatchDocument, BatchEntry, worker_pages_partition
from handlers.settings import ENV_TABLE_NAME
from handlers.vote_store import confidence_value, item_key
from handlers.worker_pages import WORKER_PAGE_ATTRIBUTES, WorkerPage, worker_page_sort_key
from tests.integration.support import counts, scan_items, votes

LABEL_ATTRIBUTE = "bulkqa-round-1"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/bulkqa-round-1"
ROUND = "r1"


def entries(label: str, n: int, folder: str) -> tuple[BatchEntry, ...]:
    return tuple(BatchEntry(f"s3://images/{folder}/image_{i:04d}.jpg", label, 80 + i / 2) for i in range(n))


# 25 images of "X" (a full batch with indices past 10) and 3 of "sea-lion" (a label with a hyphen).
X_PAGE = BatchDocument(ROUND, 1, 1, "X", entries("X", 25, "x"))
SEAL_PAGE = BatchDocument(ROUND, 1, 2, "sea-lion", entries("sea-lion", 3, "pinnipeds"))


def seed_pairs(stack, items: Sequence[BatchEntry]) -> None:
    """Pair items as the seed writes them (docs/ARCHITECTURE.md, "Data model")."""
    for item in items:
        stack.ddb.put_item(
            TableName=stack.table,
            Item={
                **item_key(item.s3_image_url, item.label),
                "confidence": confidence_value(item.confidence),
                "WorkerConfirmCount": {"N": "0"},
                "WorkerDisconfirmCount": {"N": "0"},
                "WorkerVotes": {"M": {}},
            },
        )


@pytest.fixture
def pages(qa_stack) -> dict[str, BatchDocument]:
    seed_pairs(qa_stack, X_PAGE.items + SEAL_PAGE.items)
    return {"X": X_PAGE, "sea-lion": SEAL_PAGE}


def annotation(worker: str, label: str, verdicts: Sequence[bool], *, key_order: str = "sorted") -> dict[str, Any]:
    """A worker's crowd-form answer; keys in sorted-string order (X-0, X-1, X-10, ...) by default."""
    answer = {f"{label}-{i}": {"Confirmed": v} for i, v in enumerate(verdicts)}
    if key_order == "sorted":
        answer = dict(sorted(answer.items()))
    return {"workerId": worker, "annotationData": {"content": json.dumps(answer)}}


def dataset_object(object_id: str, page: BatchDocument | str, annotations: list[dict[str, Any]]) -> dict[str, Any]:
    """An inline round page (``content`` is the manifest line's ``source`` string) or a batch file URI."""
    data = {"s3Uri": page} if isinstance(page, str) else {"content": page.text()}
    return {"datasetObjectId": object_id, "dataObject": data, "annotations": annotations}


_payloads = iter(range(10**6))
_payload_lock = threading.Lock()


def consolidation_event(stack, entries_: list[dict[str, Any]]) -> dict[str, Any]:
    with _payload_lock:
        key = f"output/annotations/consolidation-request/iteration-1/{next(_payloads)}.json"
    stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=json.dumps(entries_).encode())
    return {
        "version": "2018-10-16",
        "labelingJobArn": ARN,
        "labelCategories": ["Confirmed"],
        "labelAttributeName": LABEL_ATTRIBUTE,
        "roleArn": "arn:aws:iam::123456789012:role/gt",
        "payload": {"s3Uri": f"s3://{stack.bucket}/{key}"},
    }


def deliver(stack, entries_: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Write the payload file and call the function as Ground Truth does."""
    return post_labeling.handler(consolidation_event(stack, entries_))


def summary_of(response: list[dict[str, Any]], n: int = 0) -> dict[str, Any]:
    return response[n]["consolidatedAnnotation"]["content"][LABEL_ATTRIBUTE]


def table_counts(stack, items) -> list[tuple[int, int]]:
    found = scan_items(stack.ddb, stack.table)
    return [counts(found[(item.s3_image_url, item.label)]) for item in items]


def worker_pages(stack, round_name: str = ROUND) -> dict[str, WorkerPage]:
    response = stack.ddb.query(
        TableName=stack.table,
        KeyConditionExpression="s3_image_url = :pk",
        ExpressionAttributeValues={":pk": {"S": worker_pages_partition(round_name)}},
        ConsistentRead=True,
    )
    for item in response["Items"]:
        assert set(item) <= WORKER_PAGE_ATTRIBUTES, set(item) - WORKER_PAGE_ATTRIBUTES
    return {item["label"]["S"]: WorkerPage.from_item(item) for item in response["Items"]}


ALL_YES = [True] * 25
UNTICKED_2_10 = [i not in (2, 10) for i in range(25)]


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


def test_one_worker_on_a_batch_of_25_flags_exactly_the_unticked_images(qa_stack, pages) -> None:
    x = pages["X"]
    response = deliver(qa_stack, [dataset_object("0", x, [annotation("w1", "X", UNTICKED_2_10)])])

    assert table_counts(qa_stack, x.items) == [(0, 1) if i in (2, 10) else (1, 0) for i in range(25)]
    found = scan_items(qa_stack.ddb, qa_stack.table)
    assert votes(found[(x.items[10].s3_image_url, "X")]) == {"w1": "disconfirm"}
    assert votes(found[(x.items[1].s3_image_url, "X")]) == {"w1": "confirm"}
    summary = summary_of(response)
    assert summary["batch"] == "r1/0001/00001" and summary["label"] == "X" and summary["workers"] == ["w1"]
    assert [image["index"] for image in summary["images"] if image["votes"] == "d"] == [2, 10]
    assert table_counts(qa_stack, pages["sea-lion"].items) == [(0, 0)] * 3  # the other label's items untouched


def test_three_workers_give_exact_counts(qa_stack, pages) -> None:
    seal = pages["sea-lion"]
    workers = {"w1": [True, True, False], "w2": [True, False, False], "w3": [False, True, True]}
    response = deliver(
        qa_stack, [dataset_object("0", seal, [annotation(w, "sea-lion", v) for w, v in workers.items()])]
    )

    expected = [(sum(v[i] for v in workers.values()), sum(not v[i] for v in workers.values())) for i in range(3)]
    assert expected == [(2, 1), (2, 1), (1, 2)]
    assert table_counts(qa_stack, seal.items) == expected
    found = scan_items(qa_stack.ddb, qa_stack.table)
    assert votes(found[(seal.items[2].s3_image_url, "sea-lion")]) == {
        "w1": "disconfirm",
        "w2": "disconfirm",
        "w3": "confirm",
    }
    assert [image["votes"] for image in summary_of(response)["images"]] == ["ccd", "cdc", "ddc"]


def test_redelivery_and_overlap_count_once_and_the_response_reports_the_stored_verdicts(qa_stack, pages) -> None:
    x, seal = pages["X"], pages["sea-lion"]
    first = [
        dataset_object(
            "0", seal, [annotation("w1", "sea-lion", [True, False, True]), annotation("w2", "sea-lion", [True] * 3)]
        ),
        dataset_object("1", x, [annotation("w1", "X", UNTICKED_2_10)]),
    ]
    response = deliver(qa_stack, first)
    after_first = scan_items(qa_stack.ddb, qa_stack.table)

    again = deliver(qa_stack, first)  # Ground Truth delivers at least once
    assert scan_items(qa_stack.ddb, qa_stack.table) == after_first
    assert again == response

    # Overlapping: w1 again with other verdicts (its first ones stand), w2 the same, w3 new.
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
    response = deliver(qa_stack, overlapping)
    assert deliver(qa_stack, overlapping) == response

    assert table_counts(qa_stack, seal.items) == [(2, 1), (1, 2), (3, 0)]
    found = scan_items(qa_stack.ddb, qa_stack.table)
    assert votes(found[(seal.items[1].s3_image_url, "sea-lion")]) == {
        "w1": "disconfirm",
        "w2": "confirm",
        "w3": "disconfirm",
    }
    # The response says what the table holds: w1's earlier verdicts, not the ones in this request.
    summary = summary_of(response)
    assert summary["workers"] == ["w1", "w2", "w3"]
    assert [(i["votes"], i["WorkerConfirmCount"], i["WorkerDisconfirmCount"]) for i in summary["images"]] == [
        ("ccd", 2, 1),
        ("dcd", 1, 2),
        ("ccc", 3, 0),
    ]
    assert table_counts(qa_stack, x.items) == [(0, 1) if i in (2, 10) else (1, 0) for i in range(25)]


def test_a_repeated_dataset_object_id_gets_one_entry_and_its_votes_once(qa_stack, pages, log_records) -> None:
    seal = pages["sea-lion"]
    w1, w2 = annotation("w1", "sea-lion", [True, False, True]), annotation("w2", "sea-lion", [False, False, True])
    response = deliver(
        qa_stack,
        [
            dataset_object("7", seal, [w1]),
            dataset_object("8", pages["X"], [annotation("w1", "X", ALL_YES)]),
            dataset_object("7", seal, [w1, w2]),  # the same object again, with one more worker
            dataset_object("7", seal, [annotation("w1", "sea-lion", [False, False, False])]),  # w1 again
        ],
    )

    assert [entry["datasetObjectId"] for entry in response] == ["7", "8"]
    assert summary_of(response)["workers"] == ["w1", "w2"]
    assert table_counts(qa_stack, seal.items) == [(1, 1), (0, 2), (2, 0)]
    assert [image["votes"] for image in summary_of(response)["images"]] == ["cd", "dd", "cc"]
    assert any(r.getMessage() == "repeated datasetObjectId merged" for r in log_records)


def test_a_repeated_id_with_another_data_object_is_not_merged(qa_stack, pages, log_records) -> None:
    response = deliver(
        qa_stack,
        [
            dataset_object("7", pages["sea-lion"], [annotation("w1", "sea-lion", [True] * 3)]),
            dataset_object("7", pages["X"], [annotation("w2", "X", ALL_YES)]),
        ],
    )
    assert [entry["datasetObjectId"] for entry in response] == ["7"]
    assert summary_of(response)["label"] == "sea-lion"
    assert table_counts(qa_stack, pages["X"].items) == [(0, 0)] * 25
    skipped = [r.fields for r in log_records if "another data object" in r.getMessage()]
    assert skipped == [{"datasetObjectId": "7", "position": 1}]


def test_a_malformed_annotation_is_skipped_and_logged_while_the_others_count(qa_stack, pages, log_records) -> None:
    seal = pages["sea-lion"]
    annotations = [
        annotation("w1", "sea-lion", [True, True, True]),
        {"workerId": "w2", "annotationData": {"content": "{not json"}},
        annotation("w3", "sea-lion", [False, True, True]),
        {"annotationData": {"content": json.dumps({"sea-lion-0": {"Confirmed": False}})}},  # no workerId
        {"workerId": "w5", "annotationData": {"content": json.dumps(["sea-lion-0"])}},
        {"workerId": "w6", "annotationData": {}},
    ]
    response = deliver(qa_stack, [dataset_object("seal-7", seal, annotations)])

    assert table_counts(qa_stack, seal.items) == [(1, 1), (2, 0), (2, 0)]
    assert summary_of(response)["workers"] == ["w1", "w3"]
    skipped = [r.fields for r in log_records if r.getMessage().startswith("malformed annotation skipped")]
    assert [(f["datasetObjectId"], f["workerId"]) for f in skipped] == [
        ("seal-7", "w2"),
        ("seal-7", None),
        ("seal-7", "w5"),
        ("seal-7", "w6"),
    ]


def test_response_has_one_entry_per_dataset_object_in_the_documented_shape(qa_stack, pages) -> None:
    x, seal = pages["X"], pages["sea-lion"]
    response = deliver(
        qa_stack,
        [
            dataset_object(
                "0", x, [annotation(w, "X", UNTICKED_2_10 if w == "w2" else ALL_YES) for w in ("w1", "w2", "w3")]
            ),
            dataset_object("1", seal, [annotation(w, "sea-lion", [True, False, True]) for w in ("w1", "w2", "w3")]),
        ],
    )

    assert [entry["datasetObjectId"] for entry in response] == ["0", "1"]
    for entry, page in zip(response, [x, seal], strict=True):
        assert set(entry) == {"datasetObjectId", "consolidatedAnnotation"}
        assert set(entry["consolidatedAnnotation"]) == {"content"}
        assert set(entry["consolidatedAnnotation"]["content"]) == {LABEL_ATTRIBUTE}
        summary = entry["consolidatedAnnotation"]["content"][LABEL_ATTRIBUTE]
        assert set(summary) == {"batch", "label", "workers", "images"}
        assert (summary["batch"], summary["label"], summary["workers"]) == (page.name, page.label, ["w1", "w2", "w3"])
        assert [image["index"] for image in summary["images"]] == list(range(len(page.items)))
        found = scan_items(qa_stack.ddb, qa_stack.table)
        for image, item in zip(summary["images"], page.items, strict=True):
            assert set(image) == {"index", "WorkerConfirmCount", "WorkerDisconfirmCount", "votes"}
            stored = found[(item.s3_image_url, item.label)]
            assert (image["WorkerConfirmCount"], image["WorkerDisconfirmCount"]) == counts(stored)
            assert image["votes"] == "".join(votes(stored)[w][0] for w in summary["workers"])
    assert summary_of(response)["images"][10]["votes"] == "cdc"
    json.dumps(response)  # Ground Truth receives it as JSON


def test_counts_are_the_tables_totals_across_pages_and_rounds(qa_stack, pages) -> None:
    """A pair shown in two rounds: each page's response reports the pair's totals, and its own workers."""
    seal = pages["sea-lion"]
    other_round = BatchDocument("r2", 1, 1, "sea-lion", seal.items[::-1])
    deliver(qa_stack, [dataset_object("0", seal, [annotation("w1", "sea-lion", [True, True, False])])])
    response = deliver(
        qa_stack, [dataset_object("0", other_round, [annotation("w2", "sea-lion", [True, False, True])])]
    )

    # other_round's position 0 is seal's image 2: w1 said no there, w2 yes.
    first = summary_of(response)["images"][0]
    assert (first["WorkerConfirmCount"], first["WorkerDisconfirmCount"], first["votes"]) == (1, 1, "c")
    assert table_counts(qa_stack, seal.items) == [(2, 0), (1, 1), (1, 1)]


def test_items_not_seeded_or_seeded_like_the_original_sample_still_count(qa_stack, pages) -> None:
    seal = pages["sea-lion"]
    first, second = seal.items[0], seal.items[1]
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
    response = deliver(qa_stack, [dataset_object("0", seal, answers)])

    assert table_counts(qa_stack, seal.items) == [(2, 0), (1, 1), (2, 0)]
    created = scan_items(qa_stack.ddb, qa_stack.table)[(first.s3_image_url, first.label)]
    assert float(created["confidence"]["N"]) == first.confidence
    assert votes(created) == {"w1": "confirm", "w2": "confirm"}
    assert [image["votes"] for image in summary_of(response)["images"]] == ["cc", "dc", "cc"]


def test_concurrent_invocations_on_overlapping_objects_give_exact_counts(qa_stack, pages) -> None:
    # qa_stack makes moto's writes atomic, as DynamoDB's are: a wrong count here is the code's.
    seal = pages["sea-lion"]
    shared = [annotation("w1", "sea-lion", [True, False, True]), annotation("w2", "sea-lion", [True, True, False])]

    def request(n: int) -> list[dict[str, Any]]:
        # Every request repeats w1 and w2 on the same page, and brings one worker of its own.
        return [dataset_object("0", seal, [*shared, annotation(f"s{n}", "sea-lion", [n % 2 == 0, True, False])])]

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(lambda n: deliver(qa_stack, request(n)), range(6)))

    assert all(len(r) == 1 for r in responses)
    assert table_counts(qa_stack, seal.items) == [(2 + 3, 3), (1 + 6, 1), (1, 1 + 6)]
    assert len(votes(scan_items(qa_stack.ddb, qa_stack.table)[(seal.items[0].s3_image_url, "sea-lion")])) == 8
    for n, response in enumerate(responses):  # each response: its own workers' stored verdicts
        assert [image["votes"] for image in summary_of(response)["images"]] == [
            "cc" + ("c" if n % 2 == 0 else "d"),
            "dcc",
            "cdd",
        ]
    assert len(worker_pages(qa_stack)) == 8


def test_dynamodb_failure_raises(qa_stack, pages, monkeypatch) -> None:
    monkeypatch.setenv(ENV_TABLE_NAME, "no-such-table")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        deliver(qa_stack, [dataset_object("0", pages["X"], [annotation("w1", "X", ALL_YES)])])


def test_missing_payload_raises_naming_it(qa_stack) -> None:
    event = {"labelAttributeName": LABEL_ATTRIBUTE, "payload": {"s3Uri": f"s3://{qa_stack.bucket}/none.json"}}
    with pytest.raises(BatchNotFoundError, match=f"object s3://{qa_stack.bucket}/none.json does not exist"):
        post_labeling.handler(event)


# --- Release 0.1 pages: batch files and inline lists ----------------------------------------------


def put_batch_file(stack, key: str, items: Sequence[BatchEntry]) -> str:
    body = json.dumps([item.task_json() for item in items], indent=1).encode()
    stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=body)
    return f"s3://{stack.bucket}/{key}"


def test_release_0_1_batch_files_and_inline_lists_still_count(qa_stack, pages) -> None:
    seal = pages["sea-lion"]
    uri = put_batch_file(qa_stack, "batches/sea-lion-0a1b2c3d/batch-00001.json", seal.items)
    inline_list = json.dumps([item.task_json() for item in seal.items])
    response = deliver(
        qa_stack,
        [
            dataset_object("0", uri, [annotation("w1", "sea-lion", [False, True, True])]),
            dataset_object("1", uri, [annotation("w2", "sea-lion", [True, True, False])]),  # same file, read once
            {
                "datasetObjectId": "2",
                "dataObject": {"content": inline_list},
                "annotations": [annotation("w3", "sea-lion", [False, False, True], key_order="given")],
            },
        ],
    )
    assert [summary_of(response, n)["batch"] for n in range(3)] == [uri, uri, "<inline data object>"]
    assert table_counts(qa_stack, seal.items) == [(1, 2), (2, 1), (2, 1)]
    assert worker_pages(qa_stack) == {}  # no round: no worker-page records


def test_an_object_whose_batch_is_gone_is_left_out_and_the_others_count(qa_stack, pages, log_records) -> None:
    gone = f"s3://{qa_stack.bucket}/batches/gone/batch-00001.json"
    response = deliver(
        qa_stack,
        [
            dataset_object("0", gone, [annotation("w1", "X", ALL_YES)]),
            dataset_object("1", pages["sea-lion"], [annotation("w1", "sea-lion", [True, True, False])]),
        ],
    )
    assert [entry["datasetObjectId"] for entry in response] == ["1"]
    assert table_counts(qa_stack, pages["sea-lion"].items) == [(1, 0), (1, 0), (0, 1)]
    skipped = [r.fields for r in log_records if r.getMessage().startswith("dataset object skipped")]
    assert skipped == [{"datasetObjectId": "0", "position": 0}]


class DeniedS3:
    """A real (moto) S3 client whose GetObject of chosen keys answers AccessDenied, as S3 does without
    s3:ListBucket or when a bucket policy refuses; the stub answers through botocore's Stubber."""

    def __init__(self, s3: Any, denied: set[str]) -> None:
        self.s3, self.denied = s3, denied

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        if Key not in self.denied:
            return self.s3.get_object(Bucket=Bucket, Key=Key)
        from handlers.aws_clients import make_client

        client = make_client("s3", region="us-east-1")
        with Stubber(client) as stub:
            stub.add_client_error(
                "get_object",
                service_error_code="AccessDenied",
                service_message="Access Denied",
                http_status_code=403,
                expected_params={"Bucket": Bucket, "Key": Key},
            )
            return client.get_object(Bucket=Bucket, Key=Key)


def test_access_denied_on_a_batch_or_an_answer_skips_that_one_object(qa_stack, pages, log_records) -> None:
    seal, x = pages["sea-lion"], pages["X"]
    denied_batch = put_batch_file(qa_stack, "batches/denied/batch-00001.json", x.items)
    qa_stack.s3.put_object(Bucket=qa_stack.bucket, Key="answers/w2.json", Body=b"{}")
    answer_uri = f"s3://{qa_stack.bucket}/answers/w2.json"
    s3 = DeniedS3(qa_stack.s3, {"batches/denied/batch-00001.json", "answers/w2.json"})
    event = consolidation_event(
        qa_stack,
        [
            dataset_object("0", denied_batch, [annotation("w1", "X", ALL_YES)]),
            dataset_object(
                "1",
                seal,
                [
                    annotation("w1", "sea-lion", [True, True, False]),
                    {"workerId": "w2", "annotationData": {"s3Uri": answer_uri}},
                ],
            ),
        ],
    )

    response = consolidate(s3, qa_stack.ddb, qa_stack.table, parse_consolidation_event(event))

    assert [entry["datasetObjectId"] for entry in response] == ["1"]
    assert summary_of(response)["workers"] == ["w1"]
    assert table_counts(qa_stack, seal.items) == [(1, 0), (1, 0), (0, 1)]
    assert table_counts(qa_stack, x.items) == [(0, 0)] * 25
    skipped = [(r.getMessage(), r.fields) for r in log_records if "skipped" in r.getMessage()]
    assert len(skipped) == 2
    assert skipped[0][1] == {"datasetObjectId": "0", "position": 0} and "AccessDenied" in skipped[0][0]
    assert skipped[1][1] == {"datasetObjectId": "1", "workerId": "w2"} and "AccessDenied" in skipped[1][0]


@pytest.mark.parametrize("spelling", ["s3Uri", "s3uri"])
def test_answers_stored_in_s3_are_read(qa_stack, pages, spelling: str) -> None:
    seal = pages["sea-lion"]
    for worker, verdicts in (("w1", [False, True, True]), ("w2", [True, True, False])):
        body = json.dumps({f"sea-lion-{i}": {"Confirmed": v} for i, v in enumerate(verdicts)})
        qa_stack.s3.put_object(Bucket=qa_stack.bucket, Key=f"answers/{worker}.json", Body=body.encode())
    annotations = [
        {"workerId": w, "annotationData": {spelling: f"s3://{qa_stack.bucket}/answers/{w}.json"}} for w in ("w1", "w2")
    ]
    response = deliver(qa_stack, [dataset_object("0", seal, [*annotations, annotation("w3", "sea-lion", [True] * 3)])])
    assert table_counts(qa_stack, seal.items) == [(2, 1), (3, 0), (2, 1)]
    assert summary_of(response)["workers"] == ["w1", "w2", "w3"]


# --- Gold items --------------------------------------------------------------------------------------

GOLD_PAGE = BatchDocument(
    ROUND,
    2,
    3,
    "Dog",
    (
        BatchEntry("s3://images/dog/a.jpg", "Dog", 91.0),
        BatchEntry("s3://images/gold/cat-shown-as-dog.jpg", "Dog", 88.5, "wrong"),
        BatchEntry("s3://images/dog/b.jpg", "Dog", 93.0),
        BatchEntry("s3://images/gold/real-dog.jpg", "Dog", 97.0, "correct"),
        BatchEntry("s3://images/dog/c.jpg", "Dog", 85.0),
    ),
)
DATA = [0, 2, 4]


def test_gold_items_are_scored_per_worker_page_and_never_counted_as_votes(qa_stack) -> None:
    seed_pairs(qa_stack, [GOLD_PAGE.items[i] for i in DATA])
    careful = annotation("careful", "Dog", [True, False, True, True, False])  # caught, kept
    stamper = annotation("stamper", "Dog", [True] * 5)  # nothing unticked, wrong gold on the page
    strict = annotation("strict", "Dog", [False, False, False, False, True], key_order="given")
    partial = {"workerId": "partial", "annotationData": {"content": json.dumps({"Dog-1": {"Confirmed": True}})}}
    response = deliver(qa_stack, [dataset_object("g", GOLD_PAGE, [careful, stamper, strict, partial])])
    redelivered = deliver(qa_stack, [dataset_object("g", GOLD_PAGE, [careful, stamper, strict, partial])])

    found = scan_items(qa_stack.ddb, qa_stack.table)
    assert not [key for key in found if "gold" in key[0]]  # no vote on a gold item, no item for it
    assert [counts(found[(GOLD_PAGE.items[i].s3_image_url, "Dog")]) for i in DATA] == [(2, 1)] * 3

    records = worker_pages(qa_stack)
    assert set(records) == {worker_page_sort_key(w, 2, 3) for w in ("careful", "stamper", "strict", "partial")}
    figures = {
        r.worker: (r.images, r.answered, r.unticked, r.gold_seen, r.gold_wrong_caught, r.gold_correct_kept)
        for r in records.values()
    }
    assert figures == {
        "careful": (5, 5, 2, 2, 1, 1),
        "stamper": (5, 5, 0, 2, 0, 1),
        "strict": (5, 5, 4, 2, 1, 0),
        "partial": (5, 1, 0, 2, 0, 0),
    }
    assert [w for w, r in sorted((r.worker, r) for r in records.values()) if r.rubber_stamped] == ["partial", "stamper"]
    careful_page = records[worker_page_sort_key("careful", 2, 3)]
    assert (careful_page.verdicts, careful_page.gold_marks) == ("cdccd", ".w.c.")
    assert careful_page.data_verdicts() == {0: "c", 2: "c", 4: "d"}
    assert (careful_page.round, careful_page.page_label, careful_page.labeling_job_arn) == (ROUND, "Dog", ARN)

    summary = summary_of(response)
    assert [image["index"] for image in summary["images"]] == DATA
    assert summary["gold"] == [
        {"index": 1, "gold": "wrong", "votes": "dcdc"},
        {"index": 3, "gold": "correct", "votes": "ccd-"},
    ]
    assert redelivered == response


def test_a_redelivered_gold_page_keeps_its_first_record(qa_stack) -> None:
    seed_pairs(qa_stack, [GOLD_PAGE.items[i] for i in DATA])
    deliver(qa_stack, [dataset_object("g", GOLD_PAGE, [annotation("w1", "Dog", [True] * 5)])])
    response = deliver(qa_stack, [dataset_object("g", GOLD_PAGE, [annotation("w1", "Dog", [False] * 5)])])

    (record,) = worker_pages(qa_stack).values()
    assert record.verdicts == "ccccc" and record.gold_wrong_caught == 0
    assert summary_of(response)["gold"][0]["votes"] == "c"  # the stored answer, not the redelivered one
    assert [image["votes"] for image in summary_of(response)["images"]] == ["c", "c", "c"]


# --- Requests per consolidation ----------------------------------------------------------------------


class Counter:
    def __init__(self, *clients: Any) -> None:
        self.by_operation: dict[str, int] = {}
        self._lock = threading.Lock()
        for client in clients:
            client.meta.events.register("before-send", self._count)

    def _count(self, event_name: str = "", **_: Any) -> None:
        with self._lock:
            operation = event_name.rsplit(".", 1)[-1]
            self.by_operation[operation] = self.by_operation.get(operation, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.by_operation.values())


@pytest.mark.parametrize(("workers", "budget"), [(3, 30), (9, 36)])
def test_requests_per_consolidation_of_25_images(qa_stack, pages, workers: int, budget: int) -> None:
    x = pages["X"]
    names = [f"w{n}" for n in range(workers)]
    payload = [
        dataset_object("0", x, [annotation(w, "X", [(i + n) % 4 != 0 for i in range(25)]) for n, w in enumerate(names)])
    ]
    event = parse_consolidation_event(consolidation_event(qa_stack, payload))
    counter = Counter(qa_stack.s3, qa_stack.ddb)
    try:
        consolidate(qa_stack.s3, qa_stack.ddb, qa_stack.table, event)
        first = dict(counter.by_operation)
        counter.by_operation.clear()
        consolidate(qa_stack.s3, qa_stack.ddb, qa_stack.table, event)  # redelivered: every vote already there
        again = dict(counter.by_operation)
    finally:
        qa_stack.s3.meta.events.unregister("before-send", counter._count)
        qa_stack.ddb.meta.events.unregister("before-send", counter._count)

    assert first == {"GetObject": 1, "UpdateItem": 25, "PutItem": workers}
    assert sum(first.values()) <= budget
    assert again == first  # each image: one refused update that returns the item; each page: one refused put
    expected = [
        (sum((i + n) % 4 != 0 for n in range(workers)), sum((i + n) % 4 == 0 for n in range(workers)))
        for i in range(25)
    ]
    assert table_counts(qa_stack, x.items) == expected


def test_a_partial_earlier_delivery_costs_one_retry_per_image_and_counts_each_vote_once(qa_stack, pages) -> None:
    seal = pages["sea-lion"]
    answers = [annotation(w, "sea-lion", v) for w, v in (("w1", [True, False, True]), ("w2", [False, False, True]))]
    deliver(qa_stack, [dataset_object("0", seal, answers[:1])])  # only w1 arrived the first time
    event = parse_consolidation_event(
        consolidation_event(qa_stack, [dataset_object("0", seal, [*answers, annotation("w3", "sea-lion", [True] * 3)])])
    )
    counter = Counter(qa_stack.ddb)
    try:
        consolidate(qa_stack.s3, qa_stack.ddb, qa_stack.table, event)
    finally:
        qa_stack.ddb.meta.events.unregister("before-send", counter._count)
    assert counter.by_operation == {"UpdateItem": 6, "PutItem": 3}  # 3 images x (refused + the missing votes)
    assert table_counts(qa_stack, seal.items) == [(2, 1), (1, 2), (3, 0)]
