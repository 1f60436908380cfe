"""Helpers shared by the integration tests: image folders, table scans, bucket listings."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from handlers.csv_rows import decode_csv
from handlers.settings import ATTR_IMAGE_URL, ATTR_LABEL


def csv_records(csv_file: Path) -> list[dict[str, str]]:
    """The CSV's rows as dicts (plain csv module, independent of the code under test)."""
    reader = csv.DictReader(io.StringIO(decode_csv(csv_file.read_bytes()), newline=""))
    return [{("image_local_path" if k == "image" else k): v for k, v in row.items()} for row in reader]


def queued_records(csv_file: Path, threshold: float = 80.0) -> list[dict[str, str]]:
    return [r for r in csv_records(csv_file) if float(r["confidence"]) >= threshold]


def image_bytes(path: str) -> bytes:
    return b"\xff\xd8\xff\xe0 fake jpeg of " + path.encode("utf-8")


def write_images(csv_file: Path, root: Path) -> dict[str, bytes]:
    """A file for every image the CSV names, each with distinct content; returns path -> bytes."""
    written = {}
    for record in csv_records(csv_file):
        path = record["image_local_path"]
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(image_bytes(path))
        written[path] = image_bytes(path)
    return written


def scan_items(ddb: Any, table: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Every item, keyed by (s3_image_url, label)."""
    items = {}
    for page in ddb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page["Items"]:
            items[(item[ATTR_IMAGE_URL]["S"], item[ATTR_LABEL]["S"])] = item
    return items


def counts(item: dict[str, Any]) -> tuple[int, int]:
    """(WorkerConfirmCount, WorkerDisconfirmCount) of a raw DynamoDB item."""
    return int(item["WorkerConfirmCount"]["N"]), int(item["WorkerDisconfirmCount"]["N"])


def votes(item: dict[str, Any]) -> dict[str, str]:
    return {worker: value["S"] for worker, value in item.get("WorkerVotes", {}).get("M", {}).items()}


def list_keys(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(obj["Key"] for obj in page.get("Contents", []))
    return sorted(keys)


def read_object(s3: Any, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def expected_batch_count(per_label: dict[str, int], batch_size: int) -> int:
    return sum(math.ceil(n / batch_size) for n in per_label.values())
