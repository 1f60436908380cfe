"""The pure steps of consolidation: merging objects, planning writes, scoring pages, the response."""

from __future__ import annotations

import json

from handlers.answers import parse_worker_answer
from handlers.consolidation import (
    ObjectVotes,
    merge_dataset_objects,
    plan_pair_votes,
    plan_worker_pages,
    summarise,
)
from handlers.rounds import BatchDocument, BatchEntry
from handlers.task_pages import Page, parse_page
from handlers.vote_store import StoredPair
from handlers.worker_pages import WorkerPage, score_page, worker_page_sort_key

LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024


def answer(label: str, verdicts: list[bool]) -> str:
    return json.dumps({f"{label}-{i}": {"Confirmed": v} for i, v in enumerate(verdicts)})


def resolved(document: BatchDocument, answers: dict[str, list[bool]], object_id: str = "0") -> ObjectVotes:
    page = parse_page(document.text(), source="test")
    obj = ObjectVotes(object_id, page)
    for worker, verdicts in answers.items():
        obj.worker_ids.append(worker)
        obj.votes.extend(parse_worker_answer(worker, answer(document.label, verdicts), page.entries).votes)
    return obj


def test_merge_keeps_one_object_per_id_with_the_annotations_of_all_its_entries() -> None:
    data = {"content": json.dumps([{"s3_image_url": "s3://b/a", "label": "A", "confidence": 90}])}
    a1 = {"workerId": "w1", "annotationData": {"content": "{}"}}
    a2 = {"workerId": "w2", "annotationData": {"content": "{}"}}
    merged = merge_dataset_objects(
        [
            {"datasetObjectId": "1", "dataObject": data, "annotations": [a1]},
            {"datasetObjectId": 2, "dataObject": data, "annotations": []},
            "garbage",
            {"datasetObjectId": "1", "dataObject": data, "annotations": [a2]},
            {"datasetObjectId": "1", "dataObject": {"s3Uri": "s3://b/other"}, "annotations": [a2, a2]},
        ]
    )
    assert [(o.dataset_object_id, [a.worker_id for a in o.annotations]) for o in merged] == [
        ("1", ["w1", "w2"]),
        ("2", []),
    ]


def test_plan_groups_votes_by_pair_across_pages_and_leaves_gold_out() -> None:
    shared = BatchEntry("s3://b/shared.jpg", "Dog", 90.0)
    first = BatchDocument("r1", 1, 1, "Dog", (shared, BatchEntry("s3://b/gold.jpg", "Dog", 80.0, "wrong")))
    second = BatchDocument("r1", 1, 2, "Dog", (BatchEntry("s3://b/other.jpg", "Dog", 85.0), shared))
    objects = [
        resolved(first, {"w1": [True, False], "w2": [False, False]}, "0"),
        resolved(second, {"w1": [True, False], "w3": [True, True]}, "1"),  # w1 saw the shared pair twice
    ]
    plan = plan_pair_votes(objects)
    assert {key: pair.verdicts for key, pair in plan.items()} == {
        ("s3://b/shared.jpg", "Dog"): {"w1": "confirm", "w2": "disconfirm", "w3": "confirm"},
        ("s3://b/other.jpg", "Dog"): {"w1": "confirm", "w3": "confirm"},
    }
    pages = plan_worker_pages(objects, "arn:job")
    assert sorted(pages) == [
        ("w1", "r1/0001/00001"),
        ("w1", "r1/0001/00002"),
        ("w2", "r1/0001/00001"),
        ("w3", "r1/0001/00002"),
    ]


def test_score_page_and_the_item_round_trip() -> None:
    document = BatchDocument(
        "r1",
        3,
        12,
        "Cat",
        (
            BatchEntry("s3://b/1.jpg", "Cat", 90.0, "correct"),
            BatchEntry("s3://b/2.jpg", "Cat", 90.0),
            BatchEntry("s3://b/3.jpg", "Cat", 90.0, "wrong"),
            BatchEntry("s3://b/4.jpg", "Cat", 90.0, "wrong"),
        ),
    )
    page = parse_page(document.text(), source="t")
    votes = parse_worker_answer(
        "w#1", json.dumps({"Cat-0": {"Confirmed": False}, "Cat-2": {"Confirmed": False}}), page.entries
    ).votes
    record = score_page(document, "w#1", votes, labeling_job_arn="arn:job", dataset_object_id="9")

    assert (record.verdicts, record.gold_marks) == ("d-d-", "c.ww")
    assert (record.gold_seen, record.gold_wrong_seen, record.gold_wrong_caught) == (3, 2, 1)
    assert (record.gold_correct_seen, record.gold_correct_kept, record.unticked, record.answered) == (1, 0, 2, 2)
    assert not record.rubber_stamped and record.data_verdicts() == {}
    item = record.to_item()
    assert item["s3_image_url"] == {"S": "#round#r1#workers"}
    assert item["label"] == {"S": "w#1#0003#00012"} == {"S": worker_page_sort_key("w#1", 3, 12)}
    assert item["kind"] == {"S": "worker-page"}
    assert (item["gold_wrong_caught"], item["unticked"], item["images"]) == ({"N": "1"}, {"N": "2"}, {"N": "4"})
    assert WorkerPage.from_item(item) == record


def _stored(page: Page, workers: list[str]) -> dict[tuple[str, str], StoredPair]:
    return {
        (e.s3_image_url, e.label): StoredPair(len(workers) - 1, 1, {w: "confirm" for w in workers})
        for e in page.entries
    }


def test_a_response_for_1000_objects_of_25_images_stays_far_below_lambdas_6_mb() -> None:
    """Ground Truth sends up to ~1,000 objects per request; the response must fit Lambda's limit.

    Worst-case strings: Ground Truth worker ids (~45 chars), 1,000-character image URLs (S3's key
    limit), long labels and round names. The content does not carry URLs, so their length is free.
    """
    response_sizes = {}
    for workers_per_object in (3, 9):
        workers = [f"private.us-east-1.{n:026d}" for n in range(workers_per_object)]
        response = []
        for n in range(1000):
            items = tuple(
                BatchEntry(f"s3://{'b' * 63}/{'k' * 900}/{n:05d}-{i:03d}.jpg", "L" * 200, 99.99) for i in range(25)
            )
            document = BatchDocument("r" * 64, 9999, n + 1, "L" * 200, items)
            obj = resolved(document, {w: [i % 2 == 0 for i in range(25)] for w in workers}, str(n))
            summary = summarise(obj, _stored(obj.page, workers), {})
            response.append({"datasetObjectId": str(n), "consolidatedAnnotation": {"content": {"qa": summary}}})
        response_sizes[workers_per_object] = len(json.dumps(response).encode("utf-8"))
    assert response_sizes[3] < 3_000_000, response_sizes
    assert response_sizes[9] < LAMBDA_RESPONSE_LIMIT / 2, response_sizes
