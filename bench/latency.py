"""Latency runs against the zero-cost stub (``bench/stub.py``): BulkQA against the floor.

For each injected latency (0, 10, 20 ms per request) and each workload, BulkQA and a per-row
baseline run side by side in the same run, on the same input, against a fresh stub:

- **seeding**, images in place (``--images s3://…``; the launch function's case): ``bulkqa seed``
  (the command, in-process, with its own clients plus the stub hook) against the original
  sample's way: one ``PutItem`` per row, then a ``PutObject`` per batch file and the manifest;
- **seeding with ≈200 KB images** uploaded from a folder (bandwidth: botocore hashes and signs
  every body), at 20 ms, against one ``PutObject`` + ``PutItem`` per row;
- **post-labeling**: one consolidation request through the deployed handler's code
  (``handlers.post_labeling.handler``, clients made once, as a warm function keeps them) for 25
  images × 3 and × 9 workers, against the previous code's shape: one ``UpdateItem`` per vote,
  one after the other; and 9 workers × 1,000 objects at 10 ms, against the function's timeout.

Figures per run: seconds, requests by operation, rounds on the critical path
(:func:`bench.stub.critical_rounds`), the floor ``rounds × latency``, measured/floor.
"""

from __future__ import annotations

import csv
import json
import os
import random
import time
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from bench.stub import StubAws, critical_rounds
from bulkqa import aws
from bulkqa.aws import clients
from bulkqa.cli import app

REGION = "us-east-1"


def _listening_endpoint() -> str:
    """A port that accepts connections (``bulkqa``'s clients probe the endpoint first); nothing is
    ever sent to it: the stub answers every request before it leaves botocore."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    _LISTENERS.append(listener)
    return f"http://127.0.0.1:{listener.getsockname()[1]}"


_LISTENERS: list[Any] = []
ENDPOINT = _listening_endpoint()
BUCKET, TABLE, IMAGES_BUCKET = "bench-stub", "bench-stub", "bench-stub-images"
LABELS = [f"Class {i:02d}" for i in range(20)]
BATCH = 25
LAMBDA_TIMEOUT_S = 300


def _csv(work: Path, rows: int, image_bytes: int = 0) -> tuple[Path, Path]:
    """A CSV of ``rows`` rows over 20 labels; with ``image_bytes`` also a folder of images that size."""
    root = work / f"stub-{rows}-{image_bytes}"
    csv_path, images = root / "labels.csv", root / "images"
    if csv_path.exists():
        return csv_path, images
    rng = random.Random(7)
    images.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(rows):
        label = LABELS[rng.randrange(len(LABELS))]
        path = f"c{LABELS.index(label):02d}/img_{i:07d}.jpg"
        if image_bytes:
            (images / path).parent.mkdir(exist_ok=True)
            (images / path).write_bytes(rng.randbytes(image_bytes))
        lines.append((path, label, f"{rng.uniform(80, 100):.4f}"))
    with open(csv_path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["image_local_path", "label", "confidence"])
        writer.writerows(lines)
    return csv_path, images


def _stub_clients(stub: StubAws, *services: str) -> list[Any]:
    return [stub.attach(c) for c in clients(*services, endpoint_url=ENDPOINT, region=REGION)]


def _figures(stub: StubAws, seconds: float, latency: float, units: int, cpu: float | None = None) -> dict[str, Any]:
    rounds = critical_rounds(stub.log)
    floor = rounds * latency
    return {
        "seconds": round(seconds, 3),
        "cpu_seconds": None if cpu is None else round(cpu, 3),  # this process's CPU: the client's own work
        "per_s": round(units / seconds, 1) if seconds else None,
        "requests": stub.total(),
        "requests_by_operation": stub.by_operation(),
        "rounds": rounds,
        "floor_seconds": round(floor, 3),
        "over_floor": round(seconds / floor, 2) if floor else None,
    }


def _baseline_seed(stub: StubAws, csv_path: Path, images: Path | None) -> int:
    """The original sample's way, row by row: (image PutObject +) PutItem; then batch files, manifest."""
    s3, ddb = _stub_clients(stub, "s3", "dynamodb")
    per_label: dict[str, list[dict[str, Any]]] = {}
    with open(csv_path, newline="", encoding="utf-8") as source:
        for row in csv.DictReader(source):
            path, label = row["image_local_path"], row["label"]
            if images is not None:
                s3.put_object(Bucket=BUCKET, Key=f"images/{path}", Body=(images / path).read_bytes())
                url = f"s3://{BUCKET}/images/{path}"
            else:
                url = f"s3://{IMAGES_BUCKET}/{path}"
            item = {"s3_image_url": {"S": url}, "label": {"S": label}, "confidence": {"N": row["confidence"]}}
            ddb.put_item(TableName=TABLE, Item={**item, "WorkerConfirmCount": {"N": "0"}})
            per_label.setdefault(label, []).append({"s3_image_url": url, "label": label})
    uris = []
    for label, items in per_label.items():
        for n in range(0, len(items), BATCH):
            key = f"batches/{label}/batch-{n // BATCH:05d}.json"
            s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(items[n : n + BATCH]).encode())
            uris.append(f"s3://{BUCKET}/{key}")
    s3.put_object(Bucket=BUCKET, Key="manifest.json", Body="".join(json.dumps({"source-ref": u}) + "\n" for u in uris))
    return sum(len(v) for v in per_label.values())


def _seed_args(csv_path: Path, images: str, round_name: str) -> list[str]:
    args = ["seed", "--csv", str(csv_path), "--images", images, "--bucket", BUCKET, "--table", TABLE]
    args += ["--endpoint-url", ENDPOINT, "--region", REGION, "--threshold", "0", "--json"]
    option_names = {name for param in _seed_params() for name in param}
    if "--round" in option_names:
        args += ["--round", round_name]
    return args


def _seed_params() -> list[list[str]]:
    import typer.main

    from bulkqa.cli import load_command

    command = load_command("seed")
    assert typer.main  # the command is a click command built by typer
    return [list(getattr(p, "opts", [])) for p in command.params]


def _bulkqa_seed(stub: StubAws, csv_path: Path, images: str, round_name: str) -> dict[str, Any]:
    def stub_clients(*services: str, **kwargs: Any) -> list[Any]:
        made = clients(*services, **kwargs)
        return [stub.attach(c) for c in made]

    # The command imports ``bulkqa.aws.clients`` when it runs: the stub hook goes on what it makes.
    original, aws.clients = aws.clients, stub_clients
    try:
        result = CliRunner().invoke(app, _seed_args(csv_path, images, round_name), catch_exceptions=False)
    finally:
        aws.clients = original
    if result.exit_code != 0:
        raise RuntimeError(f"bulkqa seed failed ({result.exit_code}): {result.output[-2000:]}")
    return json.loads(result.stdout)


def seeding(work: Path, rows: int, latency: float, image_bytes: int = 0) -> dict[str, Any]:
    csv_path, images = _csv(work, rows, image_bytes)
    in_place = image_bytes == 0
    results: dict[str, Any] = {"rows": rows, "latency_ms": round(latency * 1000), "image_bytes": image_bytes}
    results["images"] = "in place (s3://)" if in_place else f"uploaded, {image_bytes // 1024} KB each"
    for side in ("baseline", "bulkqa_seed"):
        stub = StubAws(latency)
        if in_place:  # the images exist where the CSV says (the seed may check a sample)
            with open(csv_path, newline="", encoding="utf-8") as source:
                for row in csv.DictReader(source):
                    stub.objects[(IMAGES_BUCKET, row["image_local_path"])] = b"x"
        start, cpu = time.perf_counter(), time.process_time()
        if side == "baseline":
            _baseline_seed(stub, csv_path, None if in_place else images)
        else:
            where = f"s3://{IMAGES_BUCKET}/" if in_place else str(images)
            report = _bulkqa_seed(stub, csv_path, where, f"bench-{rows}-{round(latency * 1000)}")
            if report.get("queued") != rows:
                raise RuntimeError(f"bulkqa seed queued {report.get('queued')} of {rows} rows")
        seconds = time.perf_counter() - start
        results[side] = _figures(stub, seconds, latency, rows, time.process_time() - cpu)
    b, o = results["baseline"], results["bulkqa_seed"]
    results["speed_up"] = round(b["seconds"] / o["seconds"], 2)
    return results


# --- post-labeling ---


def _post_payload(stub: StubAws, objects: int, workers: int, rng: random.Random) -> dict[str, Any]:
    """A consolidation request of ``objects`` inline batches of 25, every worker answering every image."""
    from handlers.rounds import BatchDocument, BatchEntry

    payload = []
    for n in range(objects):
        label = LABELS[n % len(LABELS)]
        items = tuple(BatchEntry(f"s3://{IMAGES_BUCKET}/{n:05d}/{i:02d}.jpg", label, 90.0) for i in range(BATCH))
        document = BatchDocument("bench", 1, n + 1, label, items)
        annotations = []
        for w in range(workers):
            answer = {f"{label}-{i}": {"Confirmed": rng.random() < 0.8} for i in range(BATCH)}
            annotations.append({"workerId": f"worker-{w}", "annotationData": {"content": json.dumps(answer)}})
        payload.append(
            {"datasetObjectId": str(n), "dataObject": {"content": document.text()}, "annotations": annotations}
        )
    key = f"output/bench/payload-{objects}-{workers}.json"
    stub.objects[(BUCKET, key)] = json.dumps(payload).encode()
    return {
        "version": "2018-10-16",
        "labelingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/bench",
        "labelCategories": [],
        "labelAttributeName": "bench",
        "roleArn": "arn:aws:iam::123456789012:role/bench",
        "payload": {"s3Uri": f"s3://{BUCKET}/{key}"},
    }


def _handler_clients(stub: StubAws) -> dict[str, Any]:
    """The handler's clients, made before the clock starts: a warm function keeps them
    (``handlers.post_labeling._warm_clients``); DynamoDB as a bulk writer, as the handler makes it."""
    return {
        service: stub.attach(clients(service, endpoint_url=ENDPOINT, region=REGION, bulk=("dynamodb",))[0])
        for service in ("s3", "dynamodb")
    }


def _run_handler(stub: StubAws, event: dict[str, Any], made: dict[str, Any]) -> list[Any]:
    from handlers import post_labeling

    original = post_labeling.make_client
    post_labeling.make_client = lambda service, **_: made[service]
    os.environ["BULKQA_TABLE_NAME"] = TABLE
    try:
        post_labeling._warm_clients()  # made above, outside the timed call: only the cache look-up is left
        stub.reset()
        return post_labeling.handler(event)
    finally:
        post_labeling.make_client = original


def _baseline_votes(stub: StubAws, event: dict[str, Any]) -> None:
    """The previous code's shape: read the payload, then one conditional UpdateItem per vote, in turn."""
    s3, ddb = _stub_clients(stub, "s3", "dynamodb")
    stub.reset()
    location = event["payload"]["s3Uri"].removeprefix("s3://").split("/", 1)
    payload = json.loads(s3.get_object(Bucket=location[0], Key=location[1])["Body"].read())
    for entry in payload:
        document = json.loads(entry["dataObject"]["content"])
        for annotation in entry["annotations"]:
            answer = json.loads(annotation["annotationData"]["content"])
            for index, item in enumerate(document["items"]):
                confirmed = answer[f"{document['label']}-{index}"]["Confirmed"]
                ddb.update_item(
                    TableName=TABLE,
                    Key={"s3_image_url": {"S": item["s3_image_url"]}, "label": {"S": item["label"]}},
                    UpdateExpression="SET #v.#w = :v ADD #c :one",
                    ConditionExpression="attribute_not_exists(#v.#w)",
                    ExpressionAttributeNames={
                        "#v": "WorkerVotes",
                        "#w": annotation["workerId"],
                        "#c": "WorkerConfirmCount" if confirmed else "WorkerDisconfirmCount",
                    },
                    ExpressionAttributeValues={
                        ":v": {"S": "confirm" if confirmed else "disconfirm"},
                        ":one": {"N": "1"},
                    },
                )


def post_labeling(objects: int, workers: int, latency: float, baseline: bool = True) -> dict[str, Any]:
    rng = random.Random(5)
    results: dict[str, Any] = {"objects": objects, "workers": workers, "latency_ms": round(latency * 1000)}
    results["votes"] = objects * workers * BATCH
    stub = StubAws(latency)
    event = _post_payload(stub, objects, workers, rng)
    made = _handler_clients(stub)
    start, cpu = time.perf_counter(), time.process_time()
    response = _run_handler(stub, event, made)
    seconds = time.perf_counter() - start
    if len(response) != objects:
        raise RuntimeError(f"{objects - len(response)} object(s) missing from the response")
    results["bulkqa"] = _figures(stub, seconds, latency, results["votes"], time.process_time() - cpu)
    results["bulkqa"]["share_of_lambda_timeout"] = round(seconds / LAMBDA_TIMEOUT_S, 4)
    if baseline:
        start, cpu = time.perf_counter(), time.process_time()
        _baseline_votes(stub, event)
        seconds_base = time.perf_counter() - start
        results["baseline"] = _figures(stub, seconds_base, latency, results["votes"], time.process_time() - cpu)
        results["speed_up"] = round(results["baseline"]["seconds"] / seconds, 2)
    else:  # the previous code's floor: one UpdateItem per vote over its 8 writer threads
        results["baseline_floor_seconds"] = round(results["votes"] / 8 * latency, 1)
    return results


def measure(work: Path, sizes: dict[str, int]) -> dict[str, Any]:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    out: dict[str, Any] = {"seeding": [], "seeding_images": None, "post_labeling": [], "post_labeling_big": None}
    for latency in (0.0, 0.010, 0.020):
        rows = sizes["stub_rows_0ms"] if latency == 0 else sizes["stub_rows"]
        out["seeding"].append(seeding(work, rows, latency))
    out["seeding_images"] = seeding(work, sizes["stub_image_rows"], 0.020, image_bytes=200 * 1024)
    for latency in (0.0, 0.010, 0.020):
        for workers in (3, 9):
            out["post_labeling"].append(post_labeling(1, workers, latency))
    out["post_labeling_big"] = post_labeling(sizes["stub_big_objects"], 9, 0.010, baseline=False)
    ten = next(r for r in out["seeding"] if r["latency_ms"] == 10)
    rate = ten["rows"] / ten["bulkqa_seed"]["seconds"]
    out["launch_1m_rows_minutes_at_10ms"] = round(1_000_000 / rate / 60, 1)
    return out
