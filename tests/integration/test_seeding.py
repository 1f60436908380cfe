"""The seed (shared by the launch function and ``bulkqa seed``) against moto in-process."""

from __future__ import annotations

import json
import math
import threading
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bulkqa.aws import RequestCounter, clients
from handlers.answers import Vote
from handlers.batching import QueueItem
from handlers.csv_rows import decode_csv
from handlers.dynamo_batches import UnprocessedError, write_chunk
from handlers.image_sources import LocalImages, S3Images
from handlers.s3_uri import S3Uri
from handlers.seeding import SeedTarget, run_seed
from handlers.settings import MANIFEST_KEY
from handlers.vote_store import record_vote
from tests.integration.support import (
    counts,
    csv_records,
    expected_batch_count,
    image_bytes,
    list_keys,
    queued_records,
    read_object,
    scan_items,
    votes,
    write_images,
)

SOURCE_BUCKET = "model-images-source"


@pytest.fixture
def labels_csv(fixtures_dir: Path) -> Path:
    return fixtures_dir / "model_labels.csv"


@pytest.fixture
def small_csv(labels_csv: Path, tmp_path: Path) -> Path:
    """The first 40 rows of model_labels.csv (CRLF kept): two-label images, rows below 80; quicker."""
    lines = labels_csv.read_bytes().split(b"\r\n")
    small = tmp_path / "small.csv"
    small.write_bytes(b"\r\n".join(lines[:41]) + b"\r\n")
    return small


@pytest.fixture
def image_dir(labels_csv: Path, tmp_path: Path) -> Path:
    root = tmp_path / "images"
    write_images(labels_csv, root)
    return root


def seed(stack, csv_file: Path, images, *, s3=None, ddb=None, batch_size: int = 25, threshold: float = 80.0):
    target = SeedTarget(stack.bucket, stack.table, images, batch_size, threshold)
    text = decode_csv(csv_file.read_bytes())
    return run_seed(text, target, s3=s3 or stack.s3, ddb=ddb or stack.ddb, source=str(csv_file))


def counted_clients() -> tuple[RequestCounter, Any, Any]:
    counter = RequestCounter()
    s3, ddb = clients("s3", "dynamodb", counter=counter)
    return counter, s3, ddb


def check_batches_and_manifest(stack, report, expected_items: list[tuple[str, str, float]], batch_size: int) -> None:
    """Batch files hold exactly the queued items, by label in first-seen order; the manifest lists them."""
    manifest = read_object(stack.s3, stack.bucket, MANIFEST_KEY).decode("utf-8")
    refs = [json.loads(line)["source-ref"] for line in manifest.splitlines()]
    assert refs == [f"s3://{stack.bucket}/{batch.key}" for batch in report.batches]
    assert sorted(list_keys(stack.s3, stack.bucket, "batches/")) == sorted(b.key for b in report.batches)

    from_files = []
    for batch in report.batches:
        document = json.loads(read_object(stack.s3, stack.bucket, batch.key))
        assert 1 <= len(document) <= batch_size
        assert {entry["label"] for entry in document} == {batch.label}
        from_files.extend((e["s3_image_url"], e["label"], e["confidence"]) for e in document)
    labels_first_seen = list(dict.fromkeys(label for _, label, _ in expected_items))
    by_label = [item for label in labels_first_seen for item in expected_items if item[1] == label]
    assert from_files == by_label


def test_local_folder_uploads_each_image_once_and_records_bucket_urls(qa_stack, small_csv, image_dir) -> None:
    labels_csv = small_csv
    queued = queued_records(labels_csv)
    counter, s3, ddb = counted_clients()

    report = seed(qa_stack, labels_csv, LocalImages(image_dir), s3=s3, ddb=ddb)

    distinct_images = list(dict.fromkeys(r["image_local_path"] for r in queued))
    assert len(distinct_images) < len(queued)  # the fixture has images with two labels
    assert report.queued == len(queued) and report.problems == []
    assert report.images_transferred == len(distinct_images)
    # One PutObject per distinct image + one per batch file + the manifest: nothing sent twice.
    assert counter.by_operation["s3.PutObject"] == len(distinct_images) + len(report.batches) + 1
    assert counter.by_operation["dynamodb.BatchGetItem"] == math.ceil(len(queued) / 100)
    assert counter.by_operation["dynamodb.BatchWriteItem"] == math.ceil(len(queued) / 25)
    assert counter.total / len(queued) <= 1.15

    uploaded = [k for k in list_keys(qa_stack.s3, qa_stack.bucket) if not k.startswith("batches/")]
    assert sorted(uploaded) == sorted([*distinct_images, MANIFEST_KEY])
    for path in distinct_images[:5]:
        obj = qa_stack.s3.get_object(Bucket=qa_stack.bucket, Key=path)
        assert obj["Body"].read() == image_bytes(path)
        assert obj["ContentType"] == "image/jpeg"
    assert "dog/image_0010.jpg" not in uploaded  # below the threshold: not queued, not sent

    items = scan_items(qa_stack.ddb, qa_stack.table)
    expected = {(f"s3://{qa_stack.bucket}/{r['image_local_path']}", r["label"]): r for r in queued}
    assert set(items) == set(expected)
    for key, item in items.items():
        assert Decimal(item["confidence"]["N"]) == Decimal(repr(float(expected[key]["confidence"])))
        assert counts(item) == (0, 0)
        assert votes(item) == {}
    assert (f"s3://{qa_stack.bucket}/dog/image_0020.jpg", "Dog") in items  # exactly 80: queued

    check_batches_and_manifest(
        qa_stack,
        report,
        [(f"s3://{qa_stack.bucket}/{r['image_local_path']}", r["label"], float(r["confidence"])) for r in queued],
        25,
    )
    assert report.below_threshold == {"Dog": 2}  # dog/image_0010 and dog/image_0030


def test_s3_prefix_is_referenced_in_place_without_image_requests(qa_stack, labels_csv) -> None:
    queued = queued_records(labels_csv)
    counter, s3, ddb = counted_clients()

    report = seed(qa_stack, labels_csv, S3Images(S3Uri(SOURCE_BUCKET, "caltech/")), s3=s3, ddb=ddb, batch_size=10)

    assert report.queued == len(queued) and report.images_transferred == 0
    assert counter.by_operation == {
        "s3.PutObject": len(report.batches) + 1,  # batch files and manifest; not one request per image
        "dynamodb.BatchGetItem": math.ceil(len(queued) / 100),
        "dynamodb.BatchWriteItem": math.ceil(len(queued) / 25),
    }
    assert len(report.batches) == expected_batch_count(Counter(r["label"] for r in queued), 10)
    assert list_keys(qa_stack.s3, qa_stack.bucket) == sorted([*(b.key for b in report.batches), MANIFEST_KEY])
    items = scan_items(qa_stack.ddb, qa_stack.table)
    assert set(items) == {(f"s3://{SOURCE_BUCKET}/caltech/{r['image_local_path']}", r["label"]) for r in queued}
    check_batches_and_manifest(
        qa_stack,
        report,
        [(f"s3://{SOURCE_BUCKET}/caltech/{r['image_local_path']}", r["label"], float(r["confidence"])) for r in queued],
        10,
    )


def test_s3_prefix_with_copy_copies_each_image_once_and_reports_missing_ones(qa_stack, small_csv) -> None:
    labels_csv = small_csv
    queued = queued_records(labels_csv)
    distinct_images = list(dict.fromkeys(r["image_local_path"] for r in queued))
    absent = "dog/image_0002.jpg"  # carries Dog and Cat: both rows are reported
    qa_stack.s3.create_bucket(Bucket=SOURCE_BUCKET)
    for path in distinct_images:
        if path != absent:
            qa_stack.s3.put_object(Bucket=SOURCE_BUCKET, Key=f"in/{path}", Body=image_bytes(path))
    counter, s3, ddb = counted_clients()

    report = seed(qa_stack, labels_csv, S3Images(S3Uri(SOURCE_BUCKET, "in"), copy=True), s3=s3, ddb=ddb)

    assert counter.by_operation["s3.CopyObject"] == len(distinct_images)
    assert report.images_transferred == len(distinct_images) - 1
    absent_lines = [i + 2 for i, r in enumerate(csv_records(labels_csv)) if r["image_local_path"] == absent]
    assert [(p.line, p.reason) for p in report.problems] == [
        (line, f"image s3://{SOURCE_BUCKET}/in/{absent} not found") for line in absent_lines
    ]
    assert report.queued == len(queued) - 2
    assert read_object(qa_stack.s3, qa_stack.bucket, "dog/image_0001.jpg") == image_bytes("dog/image_0001.jpg")
    items = scan_items(qa_stack.ddb, qa_stack.table)
    assert len(items) == len(queued) - 2
    assert all(url.startswith(f"s3://{qa_stack.bucket}/") for url, _ in items)
    assert not any(url.endswith(absent) for url, _ in items)


def test_rerun_keeps_items_and_votes_and_writes_the_same_manifest(qa_stack, small_csv, image_dir) -> None:
    labels_csv = small_csv
    first = seed(qa_stack, labels_csv, LocalImages(image_dir))
    manifest = read_object(qa_stack.s3, qa_stack.bucket, MANIFEST_KEY)
    batch_files = {b.key: read_object(qa_stack.s3, qa_stack.bucket, b.key) for b in first.batches}
    item = first.batches[0].items[3]
    other = first.batches[-1].items[0]
    record_vote(qa_stack.ddb, qa_stack.table, Vote("worker-a", item, 3, True))
    record_vote(qa_stack.ddb, qa_stack.table, Vote("worker-b", item, 3, False))
    record_vote(qa_stack.ddb, qa_stack.table, Vote("worker-a", other, 0, False))
    before = scan_items(qa_stack.ddb, qa_stack.table)

    counter, s3, ddb = counted_clients()
    second = seed(qa_stack, labels_csv, LocalImages(image_dir), s3=s3, ddb=ddb)

    after = scan_items(qa_stack.ddb, qa_stack.table)
    assert after == before  # no duplicates, nothing reset
    assert counts(after[(item.s3_image_url, item.label)]) == (1, 1)
    assert votes(after[(other.s3_image_url, other.label)]) == {"worker-a": "disconfirm"}
    assert (second.items_written, second.items_existing, second.images_transferred) == (0, first.queued, 0)
    assert read_object(qa_stack.s3, qa_stack.bucket, MANIFEST_KEY) == manifest
    assert {b.key: read_object(qa_stack.s3, qa_stack.bucket, b.key) for b in second.batches} == batch_files
    assert "dynamodb.BatchWriteItem" not in counter.by_operation  # existing items are never rewritten


def test_rerun_after_adding_rows_only_writes_the_new_ones(qa_stack, small_csv, image_dir, tmp_path) -> None:
    lines = small_csv.read_bytes().split(b"\r\n")
    partial = tmp_path / "partial.csv"
    partial.write_bytes(b"\r\n".join(lines[:21]) + b"\r\n")  # header + first 20 rows
    first = seed(qa_stack, partial, LocalImages(image_dir))
    item = first.batches[0].items[0]
    record_vote(qa_stack.ddb, qa_stack.table, Vote("worker-a", item, 0, True))

    second = seed(qa_stack, small_csv, LocalImages(image_dir))

    assert second.items_existing == first.queued
    assert second.items_written == second.queued - first.queued > 0
    before = {(r["image_local_path"], r["label"]) for r in queued_records(partial)}
    added = [r for r in queued_records(small_csv) if (r["image_local_path"], r["label"]) not in before]
    assert second.images_transferred == len({r["image_local_path"] for r in added})  # only the new rows' images
    items = scan_items(qa_stack.ddb, qa_stack.table)
    assert len(items) == second.queued
    assert counts(items[(item.s3_image_url, item.label)]) == (1, 0)


def test_missing_local_image_is_reported_with_its_lines_and_the_rest_loads(qa_stack, small_csv, image_dir) -> None:
    labels_csv = small_csv
    (image_dir / "dog/image_0003.jpg").unlink()  # Dog and Cat rows (lines 6 and 7)
    (image_dir / "dog/image_0009.jpg").unlink()
    queued = queued_records(labels_csv)

    report = seed(qa_stack, labels_csv, LocalImages(image_dir))

    missing = {
        "dog/image_0003.jpg": [6, 7],
        "dog/image_0009.jpg": [13],
    }
    expected = sorted(
        (line, f"image file {image_dir / path} not found") for path, lines in missing.items() for line in lines
    )
    assert [(p.line, p.reason) for p in report.problems] == expected
    assert report.queued == len(queued) - 3
    items = scan_items(qa_stack.ddb, qa_stack.table)
    assert len(items) == len(queued) - 3
    assert not any(url.endswith(("dog/image_0003.jpg", "dog/image_0009.jpg")) for url, _ in items)
    queued_in_batches = [item.s3_image_url for batch in report.batches for item in batch.items]
    assert len(queued_in_batches) == len(queued) - 3
    assert "dog/image_0003.jpg" not in list_keys(qa_stack.s3, qa_stack.bucket)


def test_requests_per_row_in_place_at_the_default_batch_size(qa_stack, labels_csv) -> None:
    queued = queued_records(labels_csv)
    counter, s3, ddb = counted_clients()
    report = seed(qa_stack, labels_csv, S3Images(S3Uri(SOURCE_BUCKET, "x")), s3=s3, ddb=ddb)
    batches = expected_batch_count(Counter(r["label"] for r in queued), 25)
    assert len(report.batches) == batches
    assert counter.total == math.ceil(len(queued) / 100) + math.ceil(len(queued) / 25) + batches + 1
    assert counter.total / len(queued) <= 0.1


class PartlyUnprocessed:
    """A DynamoDB client that processes only the first half of each new batch request.

    What DynamoDB does under load: the rest comes back as ``UnprocessedItems`` /
    ``UnprocessedKeys``, and is processed when it is sent again.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._refused: set[str] = set()
        self.calls: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def _split(self, entries: list[Any]) -> tuple[list[Any], list[Any]]:
        signature = json.dumps(entries, sort_keys=True)
        with self._lock:
            self.calls.append(len(entries))
            if signature in self._refused or len(entries) < 2:
                return entries, []
            half = len(entries) // 2
            self._refused.add(json.dumps(entries[half:], sort_keys=True))
            return entries[:half], entries[half:]

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        ((table, requests),) = RequestItems.items()
        done, refused = self._split(requests)
        response = self._client.batch_write_item(RequestItems={table: done})
        return {**response, "UnprocessedItems": {table: refused} if refused else {}}

    def batch_get_item(self, RequestItems: dict[str, dict[str, Any]]) -> dict[str, Any]:
        ((table, request),) = RequestItems.items()
        done, refused = self._split(request["Keys"])
        response = self._client.batch_get_item(RequestItems={table: {**request, "Keys": done}})
        return {**response, "UnprocessedKeys": {table: {**request, "Keys": refused}} if refused else {}}


def test_unprocessed_items_are_written_again(qa_stack, labels_csv) -> None:
    ddb = PartlyUnprocessed(qa_stack.ddb)
    report = seed(qa_stack, labels_csv, S3Images(S3Uri(SOURCE_BUCKET, "")), ddb=ddb)

    chunks = math.ceil(report.queued / 25)
    gets = math.ceil(report.queued / 100)
    # Every get and write chunk was answered in part and its other half sent once more.
    assert len(ddb.calls) == 2 * (gets + chunks)
    assert len(scan_items(qa_stack.ddb, qa_stack.table)) == report.queued == report.items_written


def test_unprocessed_keys_are_read_again_so_existing_votes_survive(qa_stack, small_csv) -> None:
    labels_csv = small_csv
    first = seed(qa_stack, labels_csv, S3Images(S3Uri(SOURCE_BUCKET, "")))
    for batch in first.batches:  # a vote on every item: any item written again would lose it
        for index, item in enumerate(batch.items):
            record_vote(qa_stack.ddb, qa_stack.table, Vote("worker-a", item, index, index % 2 == 0))
    before = scan_items(qa_stack.ddb, qa_stack.table)

    ddb = PartlyUnprocessed(qa_stack.ddb)
    second = seed(qa_stack, labels_csv, S3Images(S3Uri(SOURCE_BUCKET, "")), ddb=ddb)

    assert second.items_written == 0 and second.items_existing == first.queued
    assert scan_items(qa_stack.ddb, qa_stack.table) == before


def test_write_chunk_gives_up_after_the_last_round(qa_stack) -> None:
    class NeverProcesses:
        def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
            return {"UnprocessedItems": RequestItems}

    item = {"s3_image_url": {"S": "s3://b/a.jpg"}, "label": {"S": "Dog"}}
    with pytest.raises(UnprocessedError, match=f"1 item\\(s\\) still unprocessed by {qa_stack.table}"):
        write_chunk(NeverProcesses(), qa_stack.table, [item], sleep=lambda _: None)


def test_queue_items_keep_csv_order_within_a_label(qa_stack, fixtures_dir) -> None:
    csv_file = fixtures_dir / "model_labels_reordered.csv"
    report = seed(qa_stack, csv_file, S3Images(S3Uri(SOURCE_BUCKET, "shellfish")))
    queued = queued_records(csv_file)
    assert [b.label for b in report.batches] == ["Crab", "Lobster"]
    assert [i for b in report.batches for i in b.items] == [
        QueueItem(f"s3://{SOURCE_BUCKET}/shellfish/{r['image_local_path']}", r["label"], float(r["confidence"]))
        for r in queued
    ]
    assert report.below_threshold == {"Crab": 8, "Lobster": 5}
