"""Seeding: ``bulkqa seed`` against a one-call-per-row baseline, on the same generated CSV.

The baseline does what the original AWS sample did, row by row: one ``PutObject`` for the image and
one ``PutItem`` for the row, then one ``PutObject`` per batch file and one for the manifest, so
both sides leave the same objects and items behind. ``bulkqa seed`` is run in-process through its
Typer app (exactly the command a user runs, minus interpreter start-up), with the same clients
the command makes; only the injected latency hook is added to them.
"""

from __future__ import annotations

import csv
import json
import random
import time
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from bench.aws_hooks import RequestCounter, add_latency
from bench.server import emulator
from bulkqa import aws
from bulkqa.aws import clients
from bulkqa.cli import app
from handlers.batching import QueueItem, manifest_text, plan_batches
from handlers.settings import MANIFEST_KEY
from handlers.vote_store import confidence_value, item_key

LABELS = [f"Class {i:02d}" for i in range(20)]
# A valid 1x1 PNG; the benchmark measures requests, not bytes.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)
BATCH_SIZE = 25
THRESHOLD = 0.0  # queue every row, so both sides do the same work for every row


def generate(work: Path, rows: int) -> tuple[Path, Path]:
    """A CSV of ``rows`` rows (one distinct image per row) and its image folder; reused if present."""
    root = work / f"seed-{rows}"
    csv_path, images = root / "labels.csv", root / "images"
    if csv_path.exists():
        return csv_path, images
    rng = random.Random(7)
    images.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(rows):
        label = LABELS[rng.randrange(len(LABELS))]
        path = f"class{LABELS.index(label):02d}/image_{i:06d}.png"
        (images / path).parent.mkdir(exist_ok=True)
        (images / path).write_bytes(PNG)
        lines.append((path, label, f"{rng.uniform(80, 100):.8f}"))
    with open(csv_path.with_suffix(".tmp"), "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["image_local_path", "label", "confidence"])
        writer.writerows(lines)
    csv_path.with_suffix(".tmp").rename(csv_path)
    return csv_path, images


def baseline_seed(csv_path: Path, images: Path, bucket: str, table: str, s3: Any, ddb: Any) -> int:
    """One request per row per store, in row order, as the original sample did; returns rows."""
    queue: list[QueueItem] = []
    with open(csv_path, newline="", encoding="utf-8-sig") as source:
        for row in csv.DictReader(source):
            confidence = float(row["confidence"])
            if confidence < THRESHOLD:
                continue
            path, label = row["image_local_path"], row["label"]
            s3.put_object(Bucket=bucket, Key=path, Body=(images / path).read_bytes(), ContentType="image/png")
            url = f"s3://{bucket}/{path}"
            ddb.put_item(
                TableName=table,
                Item={
                    **item_key(url, label),
                    "confidence": confidence_value(confidence),
                    "WorkerConfirmCount": {"N": "0"},
                    "WorkerDisconfirmCount": {"N": "0"},
                    "WorkerVotes": {"M": {}},
                },
            )
            queue.append(QueueItem(url, label, confidence))
    batches = plan_batches(queue, BATCH_SIZE)
    for batch in batches:
        s3.put_object(Bucket=bucket, Key=batch.key, Body=batch.document().encode(), ContentType="application/json")
    uris = [f"s3://{bucket}/{batch.key}" for batch in batches]
    s3.put_object(Bucket=bucket, Key=MANIFEST_KEY, Body=manifest_text(uris).encode())
    return len(queue)


def _run_baseline(csv_path: Path, images: Path, latency: float) -> dict[str, Any]:
    with emulator() as emu:
        bucket, table = "bench-baseline", "bench-baseline"
        emu.create_stack(bucket, table)
        counter = RequestCounter()
        s3, ddb = (
            add_latency(c, latency)
            for c in clients("s3", "dynamodb", endpoint_url=emu.endpoint, region="us-east-1", counter=counter)
        )
        start = time.perf_counter()
        rows = baseline_seed(csv_path, images, bucket, table, s3, ddb)
        seconds = time.perf_counter() - start
        return _figures(rows, seconds, counter.by_service, emu, bucket, table)


def _run_bulkqa(csv_path: Path, images: Path, latency: float, workers: int) -> dict[str, Any]:
    with emulator() as emu:
        bucket, table = "bench-bulkqa", "bench-bulkqa"
        emu.create_stack(bucket, table)
        counter = RequestCounter()

        def slow_clients(*services: str, **kwargs: Any) -> list[Any]:
            return [counter.attach(add_latency(c, latency)) for c in clients(*services, **kwargs)]

        # The command imports ``bulkqa.aws.clients`` when it runs: the hooks go on what it makes.
        original, aws.clients = aws.clients, slow_clients
        try:
            args = ["seed", "--csv", str(csv_path), "--images", str(images), "--bucket", bucket, "--table", table]
            args += ["--endpoint-url", emu.endpoint, "--region", "us-east-1", "--threshold", str(THRESHOLD)]
            args += ["--batch-size", str(BATCH_SIZE), "--workers", str(workers), "--json", "--round", "bench"]
            start = time.perf_counter()
            result = CliRunner().invoke(app, args, catch_exceptions=False)
            seconds = time.perf_counter() - start
        finally:
            aws.clients = original
        if result.exit_code != 0:
            raise RuntimeError(f"bulkqa seed failed ({result.exit_code}): {result.output[-2000:]}")
        report = json.loads(result.stdout)
        if report["requests"] != counter.by_service:
            raise RuntimeError(f"request counts disagree: {report['requests']} vs {counter.by_service}")
        return _figures(report["queued"], seconds, counter.by_service, emu, bucket, table)


def _figures(
    rows: int, seconds: float, by_service: dict[str, int], emu: Any, bucket: str, table: str
) -> dict[str, Any]:
    total = sum(by_service.values())
    return {
        "rows": rows,
        "seconds": round(seconds, 3),
        "rows_per_s": round(rows / seconds, 1),
        "requests": dict(sorted(by_service.items())),
        "requests_total": total,
        "requests_per_row": round(total / rows, 4),
        # What the run left behind, to show both sides did the same job.
        # What the run left behind, to show both sides stored the same pairs (a round also writes its
        # own round items, and an inline manifest instead of batch files: those are not compared).
        "items_in_table": emu.count_items(table, pairs_only=True),
        "images_in_bucket": emu.count_objects(bucket)
        - emu.count_objects(bucket, "batches/")
        - emu.count_objects(bucket, "rounds/")
        - emu.count_objects(bucket, "manifest.json"),
    }


def compare(work: Path, rows: int, latency: float, workers: int = 16) -> dict[str, Any]:
    """Seed the same CSV both ways against fresh emulators; the ratios the README reports."""
    csv_path, images = generate(work, rows)
    baseline = _run_baseline(csv_path, images, latency)
    ours = _run_bulkqa(csv_path, images, latency, workers)
    for key in ("rows", "items_in_table", "images_in_bucket"):
        if baseline[key] != ours[key]:
            raise RuntimeError(f"the two seeds disagree on {key}: {baseline[key]} vs {ours[key]}")
    speed_up = ours["rows_per_s"] / baseline["rows_per_s"]
    limit = baseline["requests_total"] / ours["requests_total"]
    return {
        "rows": rows,
        "latency_ms": round(latency * 1000),
        "workers": workers,
        "baseline": baseline,
        "bulkqa_seed": ours,
        "speed_up": round(speed_up, 2),
        "request_bound_limit": round(limit, 3),
        "speed_up_of_limit": round(speed_up / limit, 3),
    }
