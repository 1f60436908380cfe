"""Data for the e2e suite and the demo: tiny images, label CSVs, and reading back what a seed wrote."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from e2e.deploy import DeployedStack
from e2e.ground_truth import LabelingJob
from handlers.rounds import BatchEntry, parse_batch_document_json
from handlers.s3_uri import parse_s3_uri

CSV_HEADER = ("image_local_path", "label", "confidence")


def tiny_png(seed: str, size: int = 8) -> bytes:
    """A valid ``size``×``size`` RGB PNG whose colour depends on ``seed`` (no imaging library needed)."""
    red, green, blue = hashlib.sha256(seed.encode()).digest()[:3]
    row = b"\x00" + bytes([red, green, blue]) * size
    chunks = [
        (b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)),
        (b"IDAT", zlib.compress(row * size)),
        (b"IEND", b""),
    ]
    body = b"".join(
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data)) for kind, data in chunks
    )
    return b"\x89PNG\r\n\x1a\n" + body


@dataclass(frozen=True)
class Row:
    image: str
    label: str
    confidence: float


def csv_text(rows: Iterable[Row], header: Sequence[str] = CSV_HEADER) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        values = {"image_local_path": row.image, "label": row.label, "confidence": repr(row.confidence)}
        writer.writerow([values[name] for name in header])
    return out.getvalue()


def upload_images(stack: DeployedStack, paths: Iterable[str]) -> None:
    for path in dict.fromkeys(paths):
        stack.s3.put_object(Bucket=stack.bucket, Key=path, Body=tiny_png(path), ContentType="image/png")


def put_object(stack: DeployedStack, key: str, body: bytes | str, content_type: str = "text/csv") -> str:
    data = body.encode("utf-8") if isinstance(body, str) else body
    stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=data, ContentType=content_type)
    return f"s3://{stack.bucket}/{key}"


def launch(stack: DeployedStack, csv_uri: str, **options: Any) -> dict[str, Any]:
    """Seed a round through the deployed launch function; return its report."""
    return stack.invoker.invoke(stack.function("launch"), {"csv": csv_uri, **options})


def manifest_batches(stack: DeployedStack, manifest_uri: str) -> list[tuple[str, list[BatchEntry]]]:
    """A manifest part's lines: each inline batch document's name and its images, in order."""
    location = parse_s3_uri(manifest_uri)
    text = stack.s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read().decode("utf-8")
    batches = []
    for number, line in enumerate(text.splitlines(), 1):
        source = json.loads(line)["source"]
        document = parse_batch_document_json(json.loads(source), source=f"{manifest_uri} line {number}")
        batches.append((document.name, list(document.items)))
    return batches


def table_item(stack: DeployedStack, s3_image_url: str, label: str) -> dict[str, Any]:
    item = stack.ddb.get_item(
        TableName=stack.table,
        Key={"s3_image_url": {"S": s3_image_url}, "label": {"S": label}},
        ConsistentRead=True,
    ).get("Item")
    if item is None:
        raise LookupError(f"no table item for {s3_image_url} / {label}")
    return item


def counts(stack: DeployedStack, s3_image_url: str, label: str) -> tuple[int, int]:
    """(WorkerConfirmCount, WorkerDisconfirmCount) of one item, from the table."""
    item = table_item(stack, s3_image_url, label)
    return int(item["WorkerConfirmCount"]["N"]), int(item["WorkerDisconfirmCount"]["N"])


def labeling_job(stack: DeployedStack, name: str, workers: int, manifest_uri: str | None = None) -> LabelingJob:
    """The labeling job ``bulkqa job create --round`` would create for a round's manifest part."""
    return LabelingJob(
        name=name,
        manifest_uri=manifest_uri or stack.outputs["manifest_uri"],
        output_uri=stack.outputs["output_path"],
        template_uri=stack.outputs["ui_template_uri"],
        pre_function=stack.function("pre_labeling"),
        post_function=stack.function("post_labeling"),
        workers=workers,
        role_arn=stack.outputs["ground_truth_role_arn"],
        region=stack.emulator.region,
    )


@dataclass(frozen=True)
class SeededRound:
    """What one seed of a round left: the launch report, its manifest part and the batches in it."""

    name: str
    report: dict[str, Any]
    manifest_uri: str
    batches: list[tuple[str, list[BatchEntry]]]

    def job(self, stack: DeployedStack, name: str, workers: int) -> LabelingJob:
        return labeling_job(stack, name, workers, self.manifest_uri)


def round_name_for(rows: Sequence[Row]) -> str:
    return "e2e-" + hashlib.sha256(csv_text(rows).encode()).hexdigest()[:12]


def seed_round(
    stack: DeployedStack, rows: Sequence[Row], *, batch_size: int = 25, round_name: str | None = None, **options: Any
) -> SeededRound:
    """Upload the rows' images and CSV, run the launch function for one round, read its manifest back."""
    upload_images(stack, (row.image for row in rows))
    text = csv_text(rows)
    key = f"inputs/{hashlib.sha256(text.encode()).hexdigest()[:12]}.csv"
    name = round_name or round_name_for(rows)
    report = launch(stack, put_object(stack, key, text), batch_size=batch_size, round=name, **options)
    assert report["round"] == name, report
    return SeededRound(name, report, report["manifest_uri"], manifest_batches(stack, report["manifest_uri"]))
