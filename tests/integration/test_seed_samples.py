"""The three CSVs published with the original AWS sample load exactly as they are."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bulkqa.aws import RequestCounter, clients
from handlers.csv_rows import decode_csv
from handlers.image_sources import S3Images
from handlers.s3_uri import S3Uri
from handlers.seeding import SeedTarget, run_seed


@pytest.mark.parametrize(
    ("name", "queued", "below"),
    [("smallsample.csv", 189, 0), ("sample.csv", 513, 0), ("shellfish.csv", 245, 122)],
)
def test_original_sample_csv_loads(qa_stack, shared_csv_dir: Path, name: str, queued: int, below: int) -> None:
    text = decode_csv((shared_csv_dir / name).read_bytes())
    target = SeedTarget(qa_stack.bucket, qa_stack.table, S3Images(S3Uri("images-bucket", "caltech")), 25, 80.0)
    counter = RequestCounter()
    s3, ddb = clients("s3", "dynamodb", counter=counter)

    report = run_seed(text, target, s3=s3, ddb=ddb)

    assert report.queued == queued
    assert sum(report.below_threshold.values()) == below
    assert report.problems == []
    assert qa_stack.ddb.scan(TableName=qa_stack.table, Select="COUNT")["Count"] == queued
    for batch in report.batches:
        assert 1 <= len(batch.items) <= 25
        assert {item.label for item in batch.items} == {batch.label}
    # In place: one BatchGetItem per 100 rows, one BatchWriteItem per 25, one PutObject per batch
    # file, and the manifest (0.105 per queued row on sample.csv: many labels leave short batches).
    assert counter.total == math.ceil(queued / 100) + math.ceil(queued / 25) + len(report.batches) + 1
