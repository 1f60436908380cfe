"""Launch function: seed one part of a QA round from a CSV in S3.

Event: ``{"csv": "s3://bucket/labels.csv", "images": "s3://bucket/prefix" (default: the QA
bucket's root), "round": "r-2026-05", "batch_size": 25, "threshold": 80, "extend": false,
"re_review": false, "min_votes": 1, "workers_per_object": 3, "accept_above": {"Dog": 95} (or the
s3:// URI of a ``bulkqa report --format json`` output), "sample": 50, "sample_seed": 7,
"copy_images": false}``. Every key but ``csv`` is optional; ``round``, ``batch_size`` and
``threshold`` default to the function's environment. Options are checked by
``handlers.seed_options`` exactly as ``bulkqa seed`` checks its flags: a wrong type or value is
refused with the same message, never changed.

An S3 event notification for one uploaded CSV (``{"Records": [{"s3": {"bucket": {"name"},
"object": {"key", "eTag"}}}]}``) is accepted too. Its round is the function's default round, or
one named after the object and its ETag, so a notification delivered twice seeds once (the
second is a no-op). Returns the seed report.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from typing import Any
from urllib.parse import unquote_plus

from handlers.aws_clients import make_client
from handlers.batch_store import read_s3_text
from handlers.iam_wait import wait_for_access
from handlers.image_sources import S3Images
from handlers.logs import get_logger, log
from handlers.s3_uri import parse_s3_uri
from handlers.seed_options import (
    SeedOptionError,
    SeedOptions,
    integer_from_text,
    load_accept_above,
    number_from_text,
    seed_options,
)
from handlers.seeding import CsvS3Object, SeedTarget, run_seed
from handlers.settings import (
    ENV_BATCH_SIZE,
    ENV_BUCKET_NAME,
    ENV_CONFIDENCE_THRESHOLD,
    ENV_ROUND_NAME,
    ENV_TABLE_NAME,
    MAX_BATCH_SIZE,
)

LOGGER = get_logger("bulkqa.launch")
EVENT_KEYS = ("csv", "images")


def _environment_defaults() -> dict[str, Any]:
    """The function's configured defaults, checked by the same rules as the event's values."""
    defaults: dict[str, Any] = {}
    if os.environ.get(ENV_BATCH_SIZE):
        defaults["batch_size"] = integer_from_text("batch_size", os.environ[ENV_BATCH_SIZE], 1, MAX_BATCH_SIZE)
    if os.environ.get(ENV_CONFIDENCE_THRESHOLD):
        defaults["threshold"] = number_from_text("threshold", os.environ[ENV_CONFIDENCE_THRESHOLD], 0.0, 100.0)
    if os.environ.get(ENV_ROUND_NAME):
        defaults["round"] = os.environ[ENV_ROUND_NAME]
    return defaults


def options_from_event(event: dict[str, Any], s3: Any = None) -> SeedOptions:
    """The event's seed options (everything but ``csv`` and ``images``), validated."""
    raw = {key: value for key, value in event.items() if key not in EVENT_KEYS}
    accept = raw.get("accept_above")
    if isinstance(accept, str):  # the s3:// URI of a report or thresholds file
        if not accept.startswith("s3://"):
            raise SeedOptionError(f"accept_above (--accept-above) must be an object or an s3:// URI, got {accept!r}")
        raw["accept_above"] = load_accept_above(read_s3_text(s3 or make_client("s3"), accept), source=accept)
    return seed_options(raw, defaults=_environment_defaults())


def _target(event: dict[str, Any], options: SeedOptions) -> SeedTarget:
    bucket = os.environ[ENV_BUCKET_NAME]
    images_value = event.get("images")
    if images_value is not None and not isinstance(images_value, str):
        raise SeedOptionError(f"images must be an s3:// URI, got {images_value!r}")
    images = parse_s3_uri(images_value or f"s3://{bucket}/", allow_empty_key=True)
    return SeedTarget(
        bucket=bucket,
        table=os.environ[ENV_TABLE_NAME],
        images=S3Images(images, copy=options.copy_images),
        batch_size=options.batch_size,
        threshold=options.threshold,
        options=options,
    )


def notification_round(bucket: str, key: str, etag: str) -> str:
    """A round name for one uploaded object version: readable, stable, unique per content."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", key.rsplit("/", 1)[-1].rsplit(".", 1)[0]).strip("-")[:40] or "csv"
    digest = hashlib.sha256(f"{bucket}/{key}@{etag}".encode()).hexdigest()[:10]
    return f"{stem}-{digest}"


def _from_s3_notification(event: dict[str, Any]) -> dict[str, Any] | None:
    """``{"csv": "s3://...", "round": ...}`` for an S3 notification about one object, else None."""
    records = event.get("Records")
    if not isinstance(records, list) or len(records) != 1 or not isinstance(records[0], dict):
        return None
    s3_part = records[0].get("s3")
    try:
        bucket, key = s3_part["bucket"]["name"], s3_part["object"]["key"]
    except (KeyError, TypeError):
        return None
    if not isinstance(key, str) or not isinstance(bucket, str):
        return None
    key = unquote_plus(key)  # notification keys are URL-encoded ("my labels.csv" arrives as "my+labels.csv")
    converted: dict[str, Any] = {"csv": f"s3://{bucket}/{key}"}
    if not os.environ.get(ENV_ROUND_NAME):
        etag = str(s3_part["object"].get("eTag") or s3_part["object"].get("sequencer") or "")
        converted["round"] = notification_round(bucket, key, etag)
    return converted


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    if isinstance(event, dict) and "csv" not in event:
        event = _from_s3_notification(event) or event
    if not isinstance(event, dict) or not isinstance(event.get("csv"), str):
        raise ValueError('launch event must be {"csv": "s3://bucket/key.csv", ...} or an S3 notification for one CSV')
    s3, ddb = make_client("s3"), make_client("dynamodb", bulk=True)  # bulk: see BULK_CONFIG
    csv_location = parse_s3_uri(event["csv"])  # IAM may lag a fresh deployment: see handlers.iam_wait
    wait_for_access(lambda: s3.head_object(Bucket=csv_location.bucket, Key=csv_location.key), what=event["csv"])
    options = options_from_event(event, s3)
    target = _target(event, options)
    csv_uri = event["csv"]
    report = run_seed(CsvS3Object(s3, csv_uri), target, s3=s3, ddb=ddb, source=csv_uri)
    for problem in report.problems:
        log(LOGGER, logging.WARNING, f"row skipped: {problem.reason}", csv=csv_uri, line=problem.line)
    for warning in report.warnings:
        log(LOGGER, logging.WARNING, warning, csv=csv_uri, round=report.round)
    result = report.to_json()
    log(LOGGER, logging.INFO, "seed finished", **{k: v for k, v in result.items() if k != "problems"})
    if not report.unchanged and report.stored == 0 and report.already_in_round == 0:
        raise ValueError(f"nothing could be loaded from {csv_uri}: {report.problems_total} bad row(s)")
    return result
