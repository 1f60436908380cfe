"""The three CSVs published with the original AWS sample load exactly as they are, as three rounds of one stack."""

from __future__ import annotations

import math
from pathlib import Path

from bulkqa.aws import RequestCounter, clients
from handlers.image_sources import S3Images
from handlers.round_store import list_rounds, manifest_documents
from handlers.s3_uri import S3Uri
from handlers.seed_options import seed_options
from handlers.seeding import CsvFile, SeedTarget, run_seed

SAMPLES = [("smallsample.csv", 189, 0), ("sample.csv", 513, 0), ("shellfish.csv", 245, 122)]


def test_the_original_sample_csvs_load_as_rounds_of_one_stack(qa_stack, shared_csv_dir: Path) -> None:
    pair_items = 0
    for name, queued, below in SAMPLES:
        options = seed_options({"round": name.removesuffix(".csv")})
        images = S3Images(S3Uri("images-bucket", "caltech"))
        target = SeedTarget(qa_stack.bucket, qa_stack.table, images, options=options)
        counter = RequestCounter()
        s3, ddb = clients("s3", "dynamodb", counter=counter)

        report = run_seed(CsvFile(shared_csv_dir / name), target, s3=s3, ddb=ddb)

        assert report.queued == queued and report.problems == []
        assert sum(report.below_threshold.values()) == below
        documents = manifest_documents(qa_stack.s3, report.manifest_uri)
        assert sum(len(d.items) for d in documents) == queued
        for document in documents:
            assert 1 <= len(document.items) <= 25
            assert {item.label for item in document.items} == {document.label}
        # In place: round item read and written, the pairs' existence checked (or one Scan on the
        # fresh table), pair items by transactions of 100, round items by 25, one manifest part.
        assert counter.by_operation.get("dynamodb.TransactWriteItems", 0) <= math.ceil(queued / 100)
        assert counter.by_operation["dynamodb.BatchWriteItem"] == math.ceil(queued / 25)
        assert counter.by_operation["s3.PutObject"] == 1
        assert counter.total / queued <= 0.1 + 4 / queued
        pair_items += report.items_written
    pairs = qa_stack.ddb.scan(
        TableName=qa_stack.table,
        Select="COUNT",
        FilterExpression="NOT begins_with(s3_image_url, :h)",
        ExpressionAttributeValues={":h": {"S": "#"}},
    )["Count"]
    assert pairs == pair_items
    assert {m.name for m in list_rounds(qa_stack.ddb, qa_stack.table)} == {"smallsample", "sample", "shellfish"}
