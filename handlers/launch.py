"""Launch function: seed a QA round from a CSV in S3.

Event: ``{"csv": "s3://bucket/labels.csv", "images": "s3://bucket/prefix" (default: the QA
bucket's root), "copy_images": false, "batch_size": 25, "threshold": 80}``; every key but ``csv``
is optional, and the defaults come from the function's environment. An S3 event notification
for one uploaded CSV (``{"Records": [{"s3": {"bucket": {"name"}, "object": {"key"}}}]}``) is
accepted too, with every option at its default. Returns the seed report.
"""

from __future__ import annotations

import logging
import os
from typing import Any
from urllib.parse import unquote_plus

from handlers.aws_clients import make_client
from handlers.batch_store import read_s3_text
from handlers.csv_rows import decode_csv
from handlers.image_sources import S3Images
from handlers.logs import get_logger, log
from handlers.s3_uri import parse_s3_uri
from handlers.seeding import SeedTarget, run_seed
from handlers.settings import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CONFIDENCE_THRESHOLD,
    ENV_BATCH_SIZE,
    ENV_BUCKET_NAME,
    ENV_CONFIDENCE_THRESHOLD,
    ENV_TABLE_NAME,
    MAX_BATCH_SIZE,
)

LOGGER = get_logger("bulkqa.launch")


def _target(event: dict[str, Any]) -> SeedTarget:
    bucket = os.environ[ENV_BUCKET_NAME]
    images = parse_s3_uri(str(event.get("images") or f"s3://{bucket}/"), allow_empty_key=True)
    batch_size = int(event.get("batch_size") or os.environ.get(ENV_BATCH_SIZE, DEFAULT_BATCH_SIZE))
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch_size must be between 1 and {MAX_BATCH_SIZE}, got {batch_size}")
    threshold = event.get("threshold")
    if threshold is None:
        threshold = os.environ.get(ENV_CONFIDENCE_THRESHOLD, DEFAULT_CONFIDENCE_THRESHOLD)
    return SeedTarget(
        bucket=bucket,
        table=os.environ[ENV_TABLE_NAME],
        images=S3Images(images, copy=bool(event.get("copy_images", False))),
        batch_size=batch_size,
        threshold=float(threshold),
    )


def _from_s3_notification(event: dict[str, Any]) -> dict[str, Any] | None:
    """``{"csv": "s3://..."}`` for an S3 notification about one object, else None."""
    records = event.get("Records")
    if not isinstance(records, list) or len(records) != 1 or not isinstance(records[0], dict):
        return None
    s3_part = records[0].get("s3")
    try:
        bucket, key = s3_part["bucket"]["name"], s3_part["object"]["key"]
    except (KeyError, TypeError):
        return None
    # Notification keys are URL-encoded ("my labels.csv" arrives as "my+labels.csv").
    return {"csv": f"s3://{bucket}/{unquote_plus(key)}"} if isinstance(key, str) and isinstance(bucket, str) else None


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    if isinstance(event, dict) and "csv" not in event:
        event = _from_s3_notification(event) or event
    if not isinstance(event, dict) or not isinstance(event.get("csv"), str):
        raise ValueError('launch event must be {"csv": "s3://bucket/key.csv", ...} or an S3 notification for one CSV')
    target = _target(event)
    s3, ddb = make_client("s3"), make_client("dynamodb")
    csv_uri = event["csv"]
    report = run_seed(decode_csv(read_s3_text(s3, csv_uri), source=csv_uri), target, s3=s3, ddb=ddb, source=csv_uri)
    for problem in report.problems:
        log(LOGGER, logging.WARNING, f"row skipped: {problem.reason}", csv=csv_uri, line=problem.line)
    result = report.to_json()
    log(LOGGER, logging.INFO, "seed finished", **{k: v for k, v in result.items() if k != "problems"})
    if report.queued == 0:
        raise ValueError(f"nothing could be loaded from {csv_uri}: {len(report.problems)} bad row(s)")
    return result
