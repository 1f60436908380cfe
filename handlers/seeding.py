"""Seed a QA round: load the CSV into DynamoDB, make the images reachable, write batches and manifest.

Used by the launch Lambda and by ``bulkqa seed``, so both behave the same.

Why it is safe to run again (after a crash, or by mistake): items that already exist are never
rewritten (their votes stay), images are only sent for new items, batch keys depend only on the
label and batch number, and the manifest is written last, so it never points at a batch file
that was not written. Requests per row: one BatchGetItem per 100 rows, one BatchWriteItem per 25
new rows, one PutObject per 25 rows of batch files, plus one PutObject/CopyObject per new image
when images are transferred.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from handlers.batching import Batch, QueueItem, manifest_text, plan_batches
from handlers.csv_rows import LabelRow, RowProblem, parse_label_csv
from handlers.dynamo_batches import get_all, write_all
from handlers.image_sources import ImageMissingError, ImageSource
from handlers.s3_uri import S3Uri
from handlers.settings import (
    ATTR_CONFIDENCE,
    ATTR_CONFIRM_COUNT,
    ATTR_DISCONFIRM_COUNT,
    ATTR_IMAGE_URL,
    ATTR_LABEL,
    ATTR_WORKER_VOTES,
    BATCH_PREFIX,
    MANIFEST_KEY,
)
from handlers.vote_store import confidence_value, item_key

# progress(stage, advance, total): stage is "check", "images", "items" or "batches".
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SeedTarget:
    bucket: str
    table: str
    images: ImageSource
    batch_size: int
    threshold: float


@dataclass
class SeedReport:
    """What a seed did, for the command line's tables and the launch function's response."""

    rows_read: int = 0
    queued: int = 0
    below_threshold: dict[str, int] = field(default_factory=dict)
    problems: list[RowProblem] = field(default_factory=list)
    items_written: int = 0
    items_existing: int = 0
    images_transferred: int = 0
    batches: list[Batch] = field(default_factory=list)
    manifest_uri: str | None = None

    def batches_per_label(self) -> dict[str, tuple[int, int]]:
        """label -> (number of batches, number of items)."""
        summary: dict[str, tuple[int, int]] = {}
        for batch in self.batches:
            count, items = summary.get(batch.label, (0, 0))
            summary[batch.label] = (count + 1, items + len(batch.items))
        return summary

    def to_json(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows_read,
            "queued": self.queued,
            "below_threshold": self.below_threshold,
            "problems": [{"line": p.line, "reason": p.reason} for p in self.problems],
            "items_written": self.items_written,
            "items_existing": self.items_existing,
            "images_transferred": self.images_transferred,
            "batches": len(self.batches),
            "batches_per_label": {k: {"batches": b, "items": n} for k, (b, n) in self.batches_per_label().items()},
            "manifest_uri": self.manifest_uri,
        }


def _new_item(row: LabelRow, url: str) -> dict[str, Any]:
    return {
        **item_key(url, row.label),
        ATTR_CONFIDENCE: confidence_value(row.confidence),
        ATTR_CONFIRM_COUNT: {"N": "0"},
        ATTR_DISCONFIRM_COUNT: {"N": "0"},
        ATTR_WORKER_VOTES: {"M": {}},
    }


def _existing_keys(ddb: Any, target: SeedTarget, keys: list[tuple[str, str]], pool: ThreadPoolExecutor) -> set:
    found = get_all(
        ddb,
        target.table,
        [item_key(url, label) for url, label in keys],
        {"ProjectionExpression": "#u, #l", "ExpressionAttributeNames": {"#u": ATTR_IMAGE_URL, "#l": ATTR_LABEL}},
        pool=pool,
    )
    return {(item[ATTR_IMAGE_URL]["S"], item[ATTR_LABEL]["S"]) for item in found}


def _transfer_images(
    s3: Any, target: SeedTarget, rows: list[LabelRow], pool: ThreadPoolExecutor, progress: Progress
) -> tuple[set[str], list[RowProblem], int]:
    """Send each distinct image once; return (missing paths, their row problems, images sent)."""
    paths = list(dict.fromkeys(row.image for row in rows))
    missing: dict[str, str] = {}

    def send(path: str) -> None:
        try:
            target.images.transfer(s3, path, target.bucket)
        except ImageMissingError as err:
            missing[path] = str(err)
        progress("images", 1, len(paths))

    for future in [pool.submit(send, path) for path in paths]:
        future.result()  # AWS errors other than "missing" propagate: the seed failed
    problems = [RowProblem(row.line, missing[row.image]) for row in rows if row.image in missing]
    return set(missing), problems, len(paths) - len(missing)


def run_seed(
    csv_text: str,
    target: SeedTarget,
    *,
    s3: Any,
    ddb: Any,
    source: str = "CSV",
    max_workers: int = 16,
    progress: Progress | None = None,
) -> SeedReport:
    """Run the whole seed; see the module docstring for what makes it safe to repeat."""
    report_progress: Progress = progress or (lambda stage, advance, total: None)
    parsed = parse_label_csv(csv_text, target.threshold, source=source)
    report = SeedReport(
        rows_read=parsed.rows_read, below_threshold=parsed.below_threshold, problems=list(parsed.problems)
    )
    rows = parsed.queued
    url_of = {row.image: target.images.url(row.image, target.bucket) for row in rows}

    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        existing = _existing_keys(ddb, target, [(url_of[r.image], r.label) for r in rows], pool)
        report_progress("check", len(rows), len(rows))
        new_rows = [row for row in rows if (url_of[row.image], row.label) not in existing]
        report.items_existing = len(rows) - len(new_rows)

        if target.images.needs_transfer() and new_rows:
            missing, problems, sent = _transfer_images(s3, target, new_rows, pool, report_progress)
            report.images_transferred = sent
            report.problems.extend(problems)
            report.problems.sort(key=lambda problem: problem.line)
            rows = [row for row in rows if row.image not in missing]
            new_rows = [row for row in new_rows if row.image not in missing]

        write_all(
            ddb,
            target.table,
            [_new_item(row, url_of[row.image]) for row in new_rows],
            pool=pool,
            on_chunk=lambda n: report_progress("items", n, len(new_rows)),
        )
        report.items_written = len(new_rows)

        queue = [QueueItem(url_of[row.image], row.label, row.confidence) for row in rows]
        report.batches = plan_batches(queue, target.batch_size, BATCH_PREFIX)
        report.queued = len(queue)

        def put_batch(batch: Batch) -> None:
            s3.put_object(
                Bucket=target.bucket,
                Key=batch.key,
                Body=batch.document().encode("utf-8"),
                ContentType="application/json",
            )
            report_progress("batches", 1, len(report.batches))

        for future in [pool.submit(put_batch, batch) for batch in report.batches]:
            future.result()

    if report.batches:
        uris = [str(S3Uri(target.bucket, batch.key)) for batch in report.batches]
        s3.put_object(
            Bucket=target.bucket,
            Key=MANIFEST_KEY,
            Body=manifest_text(uris).encode("utf-8"),
            ContentType="application/jsonlines",
        )
        report.manifest_uri = str(S3Uri(target.bucket, MANIFEST_KEY))
    return report
