"""Launch function: seed a QA round from a CSV in S3.

Event: ``{"csv": "s3://bucket/labels.csv", "images": "s3://bucket/prefix" (default: the QA
bucket's root), "copy_images": false, "batch_size": 25, "threshold": 80}``; every key but ``csv``
is optional, and the defaults come from the function's environment. Returns the seed report.
"""

from __future__ import annotations

import logging
import os
from typing import Any

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


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    if not isinstance(event, dict) or not isinstance(event.get("csv"), str):
        raise ValueError('launch event must be {"csv": "s3://bucket/key.csv", ...}')
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
