"""The seed of a round (shared by the launch function and ``bulkqa seed``) against moto in-process."""

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
from handlers.dynamo_batches import UnprocessedError, write_chunk
from handlers.image_sources import LocalImages, S3Images
from handlers.round_store import list_rounds, manifest_documents, read_round
from handlers.rounds import ManifestLineTooLongError, manifest_key, round_pair_key
from handlers.s3_uri import S3Uri
from handlers.seed_options import seed_options
from handlers.seeding import (
    CsvBytes,
    ManifestConflictError,
    RoundInputChangedError,
    SeedTarget,
    run_seed,
)
from handlers.vote_store import record_vote
from tests.integration.support import (
    counts,
    csv_records,
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


def seed(stack, csv: Path | bytes, images, *, s3=None, ddb=None, round_name: str = "r1", **options: Any):
    opts = seed_options({"round": round_name, **options})
    target = SeedTarget(stack.bucket, stack.table, images, opts.batch_size, opts.threshold, options=opts)
    data = csv.read_bytes() if isinstance(csv, Path) else csv
    return run_seed(CsvBytes(data, "labels.csv"), target, s3=s3 or stack.s3, ddb=ddb or stack.ddb)


def counted_clients() -> tuple[RequestCounter, Any, Any]:
    counter = RequestCounter()
    s3, ddb = clients("s3", "dynamodb", counter=counter)
    return counter, s3, ddb


def pair_items(stack) -> dict[tuple[str, str], dict[str, Any]]:
    return {k: v for k, v in scan_items(stack.ddb, stack.table).items() if not k[0].startswith("#")}


def round_pairs(stack, round_name: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The round's round-pair items by (image url, label), read back by their key."""
    found = {}
    for item in scan_items(stack.ddb, stack.table).values():
        if item.get("kind", {}).get("S") == "round-pair" and item["round"]["S"] == round_name:
            found[(item["pair_url"]["S"], item["pair_label"]["S"])] = item
    return found


def documents(stack, report) -> list:
    return manifest_documents(stack.s3, report.manifest_uri) if report.manifest_uri else []


def url_of(images, stack, path: str) -> str:
    return images.url(path, stack.bucket)


def check_manifest(stack, report, expected: list[tuple[str, str, float]], batch_size: int) -> None:
    """Pages hold one label each, at most batch_size images, each label's rows in CSV order, all of them once."""
    docs = documents(stack, report)
    assert [d.batch for d in docs] == list(range(1, len(docs) + 1))
    assert all(d.round == report.round and d.part == report.part for d in docs)
    assert len(docs) == report.batch_count
    per_label: dict[str, list[tuple[str, str, float]]] = {}
    for document in docs:
        assert 1 <= len(document.items) <= batch_size
        assert {item.label for item in document.items} == {document.label}
        per_label.setdefault(document.label, []).extend((i.s3_image_url, i.label, i.confidence) for i in document.items)
    expected_per_label: dict[str, list[tuple[str, str, float]]] = {}
    for entry in expected:
        expected_per_label.setdefault(entry[1], []).append(entry)
    assert per_label == expected_per_label
    # Every full page comes out when it fills; the partial pages follow, one per label.
    full = [len(d.items) == batch_size for d in docs]
    assert full == sorted(full, reverse=True)


def test_local_folder_uploads_each_image_once_and_writes_an_inline_manifest(qa_stack, small_csv, image_dir) -> None:
    queued = queued_records(small_csv)
    counter, s3, ddb = counted_clients()
    images = LocalImages(image_dir)

    report = seed(qa_stack, small_csv, images, s3=s3, ddb=ddb)

    distinct_images = list(dict.fromkeys(r["image_local_path"] for r in queued))
    assert len(distinct_images) < len(queued)  # the fixture has images with two labels
    assert report.queued == len(queued) and report.problems == []
    assert report.images_transferred == len(distinct_images)
    assert report.manifest_uri == f"s3://{qa_stack.bucket}/{manifest_key('r1', 1)}"
    # One PutObject per distinct image + the manifest part: no batch files, nothing sent twice.
    assert counter.by_operation["s3.PutObject"] == len(distinct_images) + 1
    # A fresh table: one small Scan decides that no existence check is needed.
    assert "dynamodb.BatchGetItem" not in counter.by_operation
    assert counter.by_operation["dynamodb.Scan"] == 1
    assert counter.by_operation["dynamodb.TransactWriteItems"] == math.ceil(len(queued) / 100)
    assert counter.by_operation["dynamodb.BatchWriteItem"] == math.ceil(len(queued) / 25)  # round-pair items
    assert counter.by_operation["dynamodb.PutItem"] == 1  # the round's metadata, last
    assert counter.total / len(queued) <= 1.15

    keys = list_keys(qa_stack.s3, qa_stack.bucket)
    image_keys = [url_of(images, qa_stack, path).split("/", 3)[3] for path in distinct_images]
    assert sorted(keys) == sorted([*image_keys, manifest_key("r1", 1)])
    for path in distinct_images[:5]:
        key = url_of(images, qa_stack, path).split("/", 3)[3]
        obj = qa_stack.s3.get_object(Bucket=qa_stack.bucket, Key=key)
        assert obj["Body"].read() == image_bytes(path)
        assert obj["ContentType"] == "image/jpeg"

    items = pair_items(qa_stack)
    expected = {(url_of(images, qa_stack, r["image_local_path"]), r["label"]): r for r in queued}
    assert set(items) == set(expected)
    for key, item in items.items():
        assert Decimal(item["confidence"]["N"]) == Decimal(repr(float(expected[key]["confidence"])))
        assert counts(item) == (0, 0)
        assert votes(item) == {}
    check_manifest(
        qa_stack,
        report,
        [(url_of(images, qa_stack, r["image_local_path"]), r["label"], float(r["confidence"])) for r in queued],
        25,
    )
    assert report.below_threshold == {"Dog": 2}  # dog/image_0010 and dog/image_0030


def test_round_items_record_this_rounds_confidence_state_part_and_page(qa_stack, small_csv) -> None:
    images = S3Images(S3Uri(SOURCE_BUCKET, "in"))
    report = seed(qa_stack, small_csv, images, batch_size=10)

    pairs = round_pairs(qa_stack, "r1")
    assert len(pairs) == report.queued
    by_page = {(item.s3_image_url, item.label): d.batch for d in documents(qa_stack, report) for item in d.items}
    for (url, label), item in pairs.items():
        assert item["state"]["S"] == "queued" and item["part"]["N"] == "1"
        assert int(item["batch"]["N"]) == by_page[(url, label)]
        assert item == qa_stack.ddb.get_item(TableName=qa_stack.table, Key=round_pair_key("r1", url, label))["Item"]
    meta = read_round(qa_stack.ddb, qa_stack.table, "r1")
    assert meta is not None and [p.part for p in meta.parts] == [1]
    part = meta.parts[0]
    assert (part.queued, part.batches, part.manifest_uri, part.input_sha256) == (
        report.queued,
        report.batch_count,
        report.manifest_uri,
        report.input_sha256,
    )
    assert part.rows_read == len(csv_records(small_csv)) and part.below_threshold == 2
    assert [m.name for m in list_rounds(qa_stack.ddb, qa_stack.table)] == ["r1"]


def test_s3_prefix_is_referenced_in_place_without_image_requests(qa_stack, labels_csv) -> None:
    queued = queued_records(labels_csv)
    counter, s3, ddb = counted_clients()
    images = S3Images(S3Uri(SOURCE_BUCKET, "caltech/"))

    report = seed(qa_stack, labels_csv, images, s3=s3, ddb=ddb, batch_size=10)

    assert report.queued == len(queued) and report.images_transferred == 0
    assert counter.by_operation["s3.PutObject"] == 1  # the manifest part; not one request per image or page
    assert list_keys(qa_stack.s3, qa_stack.bucket) == [manifest_key("r1", 1)]
    expected = {(f"s3://{SOURCE_BUCKET}/caltech/{r['image_local_path']}", r["label"]) for r in queued}
    assert set(pair_items(qa_stack)) == expected
    check_manifest(
        qa_stack,
        report,
        [(f"s3://{SOURCE_BUCKET}/caltech/{r['image_local_path']}", r["label"], float(r["confidence"])) for r in queued],
        10,
    )


def test_s3_prefix_with_copy_copies_each_image_once_and_reports_missing_ones(qa_stack, small_csv) -> None:
    queued = queued_records(small_csv)
    distinct_images = list(dict.fromkeys(r["image_local_path"] for r in queued))
    absent = "dog/image_0002.jpg"  # carries Dog and Cat: both rows are reported
    qa_stack.s3.create_bucket(Bucket=SOURCE_BUCKET)
    for path in distinct_images:
        if path != absent:
            qa_stack.s3.put_object(Bucket=SOURCE_BUCKET, Key=f"in/{path}", Body=image_bytes(path))
    counter, s3, ddb = counted_clients()
    images = S3Images(S3Uri(SOURCE_BUCKET, "in"), copy=True)

    report = seed(qa_stack, small_csv, images, s3=s3, ddb=ddb, copy_images=True)

    assert counter.by_operation["s3.CopyObject"] == len(distinct_images)
    assert report.images_transferred == len(distinct_images) - 1
    absent_lines = [i + 2 for i, r in enumerate(csv_records(small_csv)) if r["image_local_path"] == absent]
    assert [(p.line, p.reason) for p in report.problems] == [
        (line, f"image s3://{SOURCE_BUCKET}/in/{absent} not found") for line in absent_lines
    ]
    assert report.queued == len(queued) - 2
    items = pair_items(qa_stack)
    assert len(items) == len(queued) - 2
    assert all(url.startswith(f"s3://{qa_stack.bucket}/") for url, _ in items)
    assert not any(url.endswith(absent) for url, _ in items)
    assert not any(item.s3_image_url.endswith(absent) for d in documents(qa_stack, report) for item in d.items)


def test_same_round_same_input_is_a_no_op(qa_stack, small_csv, image_dir) -> None:
    first = seed(qa_stack, small_csv, LocalImages(image_dir))
    manifest = read_object(qa_stack.s3, qa_stack.bucket, manifest_key("r1", 1))
    item = documents(qa_stack, first)[0].items[3]
    record_vote(qa_stack.ddb, qa_stack.table, Vote("worker-a", QueueItem(item.s3_image_url, item.label, 0), 3, True))
    before = scan_items(qa_stack.ddb, qa_stack.table)
    objects = list_keys(qa_stack.s3, qa_stack.bucket)

    counter, s3, ddb = counted_clients()
    second = seed(qa_stack, small_csv, LocalImages(image_dir), s3=s3, ddb=ddb)

    assert second.unchanged and second.round == "r1" and second.part == 1
    assert (second.queued, second.batch_count) == (first.queued, first.batch_count)
    assert second.manifest_uri == first.manifest_uri
    assert counter.by_operation == {"dynamodb.GetItem": 1}  # read the round: that is all
    assert scan_items(qa_stack.ddb, qa_stack.table) == before
    assert list_keys(qa_stack.s3, qa_stack.bucket) == objects
    assert read_object(qa_stack.s3, qa_stack.bucket, manifest_key("r1", 1)) == manifest


@pytest.mark.parametrize("change", ["rows", "option"])
def test_same_round_other_input_is_refused_and_writes_nothing(qa_stack, small_csv, change: str) -> None:
    images = S3Images(S3Uri(SOURCE_BUCKET, ""))
    seed(qa_stack, small_csv, images)
    before = scan_items(qa_stack.ddb, qa_stack.table)
    objects = list_keys(qa_stack.s3, qa_stack.bucket)
    data = small_csv.read_bytes()
    other = (data + b"extra/new.jpg,Dog,91\r\n", {}) if change == "rows" else (data, {"batch_size": 5})

    with pytest.raises(RoundInputChangedError, match="round 'r1' was already seeded with another input"):
        seed(qa_stack, other[0], images, **other[1])

    assert scan_items(qa_stack.ddb, qa_stack.table) == before
    assert list_keys(qa_stack.s3, qa_stack.bucket) == objects


def test_extend_adds_a_part_with_only_the_new_pairs(qa_stack, small_csv, tmp_path) -> None:
    images = S3Images(S3Uri(SOURCE_BUCKET, ""))
    lines = small_csv.read_bytes().split(b"\r\n")
    partial = b"\r\n".join(lines[:21]) + b"\r\n"  # header + first 20 rows
    first = seed(qa_stack, partial, images)
    manifest_1 = read_object(qa_stack.s3, qa_stack.bucket, manifest_key("r1", 1))

    second = seed(qa_stack, small_csv, images, extend=True)

    assert second.part == 2 and not second.unchanged
    assert second.already_in_round == first.queued
    assert second.queued == len(queued_records(small_csv)) - first.queued > 0
    assert second.manifest_uri == f"s3://{qa_stack.bucket}/{manifest_key('r1', 2)}"
    first_pairs = {(i.s3_image_url, i.label) for d in documents(qa_stack, first) for i in d.items}
    second_pairs = {(i.s3_image_url, i.label) for d in documents(qa_stack, second) for i in d.items}
    assert not first_pairs & second_pairs and len(second_pairs) == second.queued
    assert read_object(qa_stack.s3, qa_stack.bucket, manifest_key("r1", 1)) == manifest_1  # never rewritten
    assert {int(item["part"]["N"]) for item in round_pairs(qa_stack, "r1").values()} == {1, 2}
    meta = read_round(qa_stack.ddb, qa_stack.table, "r1")
    assert [p.part for p in meta.parts] == [1, 2]
    # Either input again: a no-op naming its part.
    assert seed(qa_stack, small_csv, images, extend=True).part == 2
    assert seed(qa_stack, partial, images).unchanged


class VoteBeforeWrite:
    """A DynamoDB client that records a vote on a pair just before the seed's first conditional write.

    It is the interleaving that used to lose votes: the seed has decided the pair is new (its check
    found nothing, or it skipped the check on a fresh table), another seed creates the item and a
    worker votes, then this seed writes.
    """

    def __init__(self, client: Any, stack, pair: tuple[str, str]) -> None:
        self._client, self._stack, self._pair = client, stack, pair
        self._done = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        if not self._done.is_set():
            self._done.set()
            url, label = self._pair
            self._client.put_item(
                TableName=self._stack.table,
                Item={
                    "s3_image_url": {"S": url},
                    "label": {"S": label},
                    "confidence": {"N": "90"},
                    "WorkerConfirmCount": {"N": "0"},
                    "WorkerDisconfirmCount": {"N": "0"},
                    "WorkerVotes": {"M": {}},
                },
            )
            record_vote(self._client, self._stack.table, Vote("racer", QueueItem(url, label, 90.0), 0, False))
        return self._client.transact_write_items(**kwargs)


@pytest.mark.parametrize("table_had_pairs", [False, True])
def test_a_vote_recorded_between_the_check_and_the_write_survives(qa_stack, small_csv, table_had_pairs) -> None:
    images = S3Images(S3Uri(SOURCE_BUCKET, ""))
    if table_had_pairs:  # another round's pair: the seed checks existence with BatchGetItem first
        seed(qa_stack, b"image,label,confidence\r\nelsewhere.jpg,Dog,90\r\n", images, round_name="r0")
    first_row = queued_records(small_csv)[0]
    pair = (images.url(first_row["image_local_path"], qa_stack.bucket), first_row["label"])
    ddb = VoteBeforeWrite(qa_stack.ddb, qa_stack, pair)

    report = seed(qa_stack, small_csv, images, ddb=ddb)

    item = pair_items(qa_stack)[pair]
    assert votes(item) == {"racer": "disconfirm"} and counts(item) == (0, 1)  # not overwritten
    assert report.items_existing == 1 and report.items_written == report.queued - 1
    assert pair in {(i.s3_image_url, i.label) for d in documents(qa_stack, report) for i in d.items}


def test_reviewed_pairs_are_reused_unless_re_review_and_min_votes_counts(qa_stack, small_csv) -> None:
    images = S3Images(S3Uri(SOURCE_BUCKET, ""))
    first = seed(qa_stack, small_csv, images, round_name="a")
    docs = documents(qa_stack, first)
    once, twice = docs[0].items[0], docs[0].items[1]
    for worker in ("w1", "w2"):
        record_vote(qa_stack.ddb, qa_stack.table, Vote(worker, QueueItem(twice.s3_image_url, twice.label, 0), 1, True))
    record_vote(qa_stack.ddb, qa_stack.table, Vote("w1", QueueItem(once.s3_image_url, once.label, 0), 0, True))

    default = seed(qa_stack, small_csv, images, round_name="b")
    assert default.reused == 2 and default.queued == first.queued - 2
    states = {k: v["state"]["S"] for k, v in round_pairs(qa_stack, "b").items()}
    assert states[(once.s3_image_url, once.label)] == states[(twice.s3_image_url, twice.label)] == "reused"
    queued_b = {(i.s3_image_url, i.label) for d in documents(qa_stack, default) for i in d.items}
    assert (once.s3_image_url, once.label) not in queued_b

    two = seed(qa_stack, small_csv, images, round_name="c", workers_per_object=2)  # min votes 2 by default
    assert two.reused == 1 and round_pairs(qa_stack, "c")[(once.s3_image_url, once.label)]["state"]["S"] == "queued"
    again = seed(qa_stack, small_csv, images, round_name="d", re_review=True)
    assert again.reused == 0 and again.queued == first.queued
    assert counts(pair_items(qa_stack)[(twice.s3_image_url, twice.label)]) == (2, 0)  # votes kept throughout


def test_two_rounds_share_pair_items_and_keep_their_own_confidences(qa_stack) -> None:
    images = S3Images(S3Uri(SOURCE_BUCKET, ""))
    seed(qa_stack, b"image,label,confidence\r\na.jpg,Dog,91\r\nb.jpg,Dog,85\r\n", images, round_name="model-1")
    seed(qa_stack, b"image,label,confidence\r\na.jpg,Dog,97.5\r\nc.jpg,Cat,88\r\n", images, round_name="model-2")

    assert len(pair_items(qa_stack)) == 3
    assert pair_items(qa_stack)[(f"s3://{SOURCE_BUCKET}/a.jpg", "Dog")]["confidence"]["N"] == "91.0"  # first seen
    one, two = round_pairs(qa_stack, "model-1"), round_pairs(qa_stack, "model-2")
    assert one[(f"s3://{SOURCE_BUCKET}/a.jpg", "Dog")]["confidence"]["N"] == "91.0"
    assert two[(f"s3://{SOURCE_BUCKET}/a.jpg", "Dog")]["confidence"]["N"] == "97.5"
    assert len(one) == len(two) == 2


def test_accept_above_marks_rows_accepted_and_queues_the_rest(qa_stack, labels_csv) -> None:
    images = S3Images(S3Uri(SOURCE_BUCKET, ""))
    queued = queued_records(labels_csv)

    report = seed(qa_stack, labels_csv, images, accept_above={"Dog": 95, "Cat": None})

    accepted = [r for r in queued if r["label"] == "Dog" and float(r["confidence"]) >= 95]
    assert report.accepted == len(accepted) > 0 and report.queued == len(queued) - len(accepted)
    pairs = round_pairs(qa_stack, "r1")
    assert {k for k, v in pairs.items() if v["state"]["S"] == "accepted"} == {
        (images.url(r["image_local_path"], qa_stack.bucket), "Dog") for r in accepted
    }
    in_pages = [i for d in documents(qa_stack, report) for i in d.items]
    assert not any(i.label == "Dog" and i.confidence >= 95 for i in in_pages)
    assert any(i.label == "Cat" and i.confidence >= 95 for i in in_pages)  # null: never accepted
    accepted_pairs = {(images.url(r["image_local_path"], qa_stack.bucket), "Dog") for r in accepted}
    assert not accepted_pairs & set(pair_items(qa_stack))  # no pair item: nobody will vote on them


def test_sample_draws_at_most_n_per_cell_the_same_for_the_same_seed(qa_stack, labels_csv) -> None:
    images = S3Images(S3Uri(SOURCE_BUCKET, ""))
    first = seed(qa_stack, labels_csv, images, round_name="s1", sample=4, sample_seed=11)
    same = seed(qa_stack, labels_csv, images, round_name="s2", sample=4, sample_seed=11)
    other = seed(qa_stack, labels_csv, images, round_name="s3", sample=4, sample_seed=12)

    def drawn(name: str) -> set[tuple[str, str]]:
        return {k for k, v in round_pairs(qa_stack, name).items() if v["state"]["S"] == "queued"}

    assert drawn("s1") == drawn("s2") != drawn("s3")
    cells = Counter()
    for (_, label), item in round_pairs(qa_stack, "s1").items():
        if item["state"]["S"] == "queued":
            confidence = float(item["confidence"]["N"])
            band = min(int((confidence - 80) // 5), 3)
            cells[(label, band)] += 1
    assert max(cells.values()) <= 4 and len(cells) >= 10
    queued = queued_records(labels_csv)
    assert first.queued + first.sampled_out == len(queued) and first.queued == sum(cells.values())
    assert {v["state"]["S"] for v in round_pairs(qa_stack, "s1").values()} == {"queued", "sampled_out"}
    assert (same.queued, same.sampled_out) == (first.queued, first.sampled_out) and other.queued == first.queued


def test_a_crash_before_the_round_is_committed_is_redone_by_the_next_run(qa_stack, small_csv, monkeypatch) -> None:
    images = S3Images(S3Uri(SOURCE_BUCKET, ""))
    import handlers.seeding as seeding

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("killed before the metadata")

    monkeypatch.setattr(seeding, "write_round", crash)
    with pytest.raises(RuntimeError, match="killed"):
        seed(qa_stack, small_csv, images)
    manifest = read_object(qa_stack.s3, qa_stack.bucket, manifest_key("r1", 1))
    assert read_round(qa_stack.ddb, qa_stack.table, "r1") is None
    monkeypatch.undo()

    report = seed(qa_stack, small_csv, images)

    assert not report.unchanged and report.queued == len(queued_records(small_csv))
    assert read_object(qa_stack.s3, qa_stack.bucket, manifest_key("r1", 1)) == manifest
    assert read_round(qa_stack.ddb, qa_stack.table, "r1").parts[0].queued == report.queued
    assert seed(qa_stack, small_csv, images).unchanged


def test_a_manifest_part_holding_other_bytes_is_never_rewritten(qa_stack, small_csv) -> None:
    qa_stack.s3.put_object(Bucket=qa_stack.bucket, Key=manifest_key("r1", 1), Body=b'{"source": "other"}\n')
    with pytest.raises(ManifestConflictError, match="exists with other content"):
        seed(qa_stack, small_csv, S3Images(S3Uri(SOURCE_BUCKET, "")))
    assert read_object(qa_stack.s3, qa_stack.bucket, manifest_key("r1", 1)) == b'{"source": "other"}\n'
    assert read_round(qa_stack.ddb, qa_stack.table, "r1") is None


def test_a_page_too_long_for_a_manifest_line_is_refused_before_any_write(qa_stack) -> None:
    label = "Dog " + "x" * 120
    rows = "".join(f"{'p' * 800}/{i:04d}.jpg,{label},90\r\n" for i in range(100))
    counter, s3, ddb = counted_clients()
    with pytest.raises(ManifestLineTooLongError, match=r"label 'Dog x+'.*at most 100,000.*--batch-size"):
        data = f"image,label,confidence\r\n{rows}".encode()
        seed(qa_stack, data, S3Images(S3Uri(SOURCE_BUCKET, "")), s3=s3, ddb=ddb, batch_size=100)
    assert counter.total == 0


def test_many_labels_with_one_row_each_warn_about_near_empty_pages(qa_stack) -> None:
    rows = "".join(f"img{i}.jpg,Label {i},90\r\n" for i in range(30))
    report = seed(qa_stack, f"image,label,confidence\r\n{rows}".encode(), S3Images(S3Uri(SOURCE_BUCKET, "")))
    assert report.batch_count == 30 and report.nearly_empty_batches == 30
    assert report.warnings and "30 of 30 pages (100%) hold 5 image(s) or fewer of 25" in report.warnings[0]


def test_dry_run_makes_no_request_and_says_reuse_is_unknown(qa_stack, small_csv, image_dir) -> None:
    (image_dir / "dog/image_0009.jpg").unlink()
    opts = seed_options({"round": "dry", "sample": 3})
    target = SeedTarget(qa_stack.bucket, qa_stack.table, LocalImages(image_dir), options=opts)

    report = run_seed(CsvBytes(small_csv.read_bytes()), target, s3=None, ddb=None, dry_run=True)

    assert report.dry_run and report.round == "dry"
    assert [(p.line, "not found" in p.reason) for p in report.problems] == [(13, True)]
    assert report.queued + report.sampled_out == len(queued_records(small_csv)) - 1
    assert report.queued <= 3 * 8 and report.batch_count == len(report.per_label)
    assert any("reused verdicts" in w and "not known" in w for w in report.warnings)


def test_unprocessed_items_are_written_again(qa_stack, labels_csv) -> None:
    ddb = PartlyUnprocessed(qa_stack.ddb)
    report = seed(qa_stack, labels_csv, S3Images(S3Uri(SOURCE_BUCKET, "")), ddb=ddb)

    writes = math.ceil(report.queued / 25)
    assert len(ddb.calls) == 2 * writes  # every round-pair chunk answered in part, its other half sent again
    assert len(round_pairs(qa_stack, "r1")) == report.queued == report.items_written


def test_unprocessed_keys_are_read_again_so_existing_votes_are_seen(qa_stack, small_csv) -> None:
    images = S3Images(S3Uri(SOURCE_BUCKET, ""))
    first = seed(qa_stack, small_csv, images, round_name="a")
    for document in documents(qa_stack, first):
        for index, item in enumerate(document.items):
            vote = Vote("worker-a", QueueItem(item.s3_image_url, item.label, 0), index, index % 2 == 0)
            record_vote(qa_stack.ddb, qa_stack.table, vote)
    before = pair_items(qa_stack)

    ddb = PartlyUnprocessed(qa_stack.ddb)
    second = seed(qa_stack, small_csv, images, ddb=ddb, round_name="b")

    assert second.reused == first.queued and second.queued == 0 and second.items_written == 0
    assert pair_items(qa_stack) == before


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


def test_write_chunk_gives_up_after_the_last_round(qa_stack) -> None:
    class NeverProcesses:
        def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
            return {"UnprocessedItems": RequestItems}

    item = {"s3_image_url": {"S": "s3://b/a.jpg"}, "label": {"S": "Dog"}}
    with pytest.raises(UnprocessedError, match=f"1 item\\(s\\) still unprocessed by {qa_stack.table}"):
        write_chunk(NeverProcesses(), qa_stack.table, [item], sleep=lambda _: None)


def test_missing_local_image_is_reported_with_its_lines_and_the_rest_loads(qa_stack, small_csv, image_dir) -> None:
    (image_dir / "dog/image_0003.jpg").unlink()  # Dog and Cat rows (lines 6 and 7)
    (image_dir / "dog/image_0009.jpg").unlink()
    queued = queued_records(small_csv)
    counter, s3, ddb = counted_clients()

    report = seed(qa_stack, small_csv, LocalImages(image_dir), s3=s3, ddb=ddb)

    assert [p.line for p in report.problems] == [6, 7, 13]
    assert all("not found" in p.reason for p in report.problems)
    assert report.queued == len(queued) - 3 and len(pair_items(qa_stack)) == len(queued) - 3
    assert counter.by_operation["s3.PutObject"] == len({r["image_local_path"] for r in queued}) - 2 + 1


def test_a_wrong_image_folder_is_refused_before_any_request(qa_stack, small_csv, tmp_path) -> None:
    from handlers.seeding import ImagesNotFoundError

    (tmp_path / "empty").mkdir()
    counter, s3, ddb = counted_clients()
    with pytest.raises(ImagesNotFoundError, match=r"0 of \d+ images found under .*check --images"):
        seed(qa_stack, small_csv, LocalImages(tmp_path / "empty"), s3=s3, ddb=ddb)
    assert counter.total == 0
