"""Post-labeling: time per consolidation request, through the real handler, against the emulator.

A request carries dataset objects (one batch of 25 images each) and every worker's answer to them;
each answer becomes 25 votes, each vote one conditional UpdateItem. The handler is called
exactly as Lambda calls it (it makes its own clients from ``AWS_ENDPOINT_URL``); the benchmark
only wraps its client factory to count requests and, for the latency runs, add the sleep.
"""

from __future__ import annotations

import json
import logging
import os
import random
import statistics
import time
from typing import Any

from bench.aws_hooks import RequestCounter, add_latency
from bench.server import REGION, emulator
from handlers import post_labeling
from handlers.aws_clients import make_client
from handlers.consolidation import consolidate
from handlers.gt_events import parse_consolidation_event
from handlers.rounds import BatchDocument, BatchEntry
from handlers.settings import ENV_TABLE_NAME
from handlers.vote_store import confidence_value, item_key

BUCKET = TABLE = "bench-post"
BATCH = 25


def _seed(emu: Any, batches: int) -> list[tuple[str, str]]:
    """Seed ``batches`` full batches' pair items; return each batch as (inline document JSON, label).

    The batches travel inline in the payload (``dataObject.content``), as a round's manifest
    lines carry them; the pair items are written directly (the seed is measured elsewhere).
    """
    rng = random.Random(11)
    ddb = emu.client("dynamodb")
    documents = []
    for n in range(batches):
        label = f"Label {n:05d}"
        items = tuple(
            BatchEntry(f"s3://bench-images/img/{n * BATCH + i:07d}.jpg", label, rng.uniform(80, 100))
            for i in range(BATCH)
        )
        documents.append((BatchDocument("bench", 1, n + 1, label, items).text(), label))
        requests = [
            {
                "PutRequest": {
                    "Item": {
                        **item_key(entry.s3_image_url, label),
                        "confidence": confidence_value(entry.confidence),
                        "WorkerConfirmCount": {"N": "0"},
                        "WorkerDisconfirmCount": {"N": "0"},
                        "WorkerVotes": {"M": {}},
                    }
                }
            }
            for entry in items
        ]
        ddb.batch_write_item(RequestItems={TABLE: requests})
    return documents


def _payload(batches: list[tuple[str, str]], workers: int, rng: random.Random) -> list[dict]:
    """One dataset object per batch; every worker answers all 25 images (80 % confirmed)."""
    objects = []
    for n, (document, label) in enumerate(batches):
        annotations = []
        for w in range(workers):
            answer = {f"{label}-{i}": {"Confirmed": rng.random() < 0.8} for i in range(BATCH)}
            annotations.append({"workerId": f"worker-{w}", "annotationData": {"content": json.dumps(answer)}})
        objects.append({"datasetObjectId": str(n), "dataObject": {"content": document}, "annotations": annotations})
    return objects


def _event(emu: Any, payload: list[dict], name: str) -> dict[str, Any]:
    key = f"payloads/{name}.json"
    emu.client("s3").put_object(Bucket=BUCKET, Key=key, Body=json.dumps(payload).encode())
    return {
        "version": "2018-10-16",
        "labelingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/bench",
        "labelCategories": [],
        "labelAttributeName": "bench",
        "roleArn": "arn:aws:iam::123456789012:role/bench",
        "payload": {"s3Uri": f"s3://{BUCKET}/{key}"},
    }


def _invoke(emu: Any, payload: list[dict], name: str, latency: float, warm: Any) -> tuple[float, int, int]:
    """Put the payload file, run one consolidation request; (seconds, AWS requests, votes counted).

    ``warm`` is None to call the Lambda handler as a fresh container does (it makes its clients:
    ``counted_client`` is a new function each call, so the handler's warm-client cache misses), or
    ``(s3, ddb, counter)`` to call ``consolidate`` with clients made once, as a warm
    function that kept its clients would.
    """
    event = _event(emu, payload, name)
    counter = warm[2] if warm else RequestCounter()
    before = counter.total

    def counted_client(service: str, **kwargs: Any) -> Any:
        return counter.attach(add_latency(make_client(service, **kwargs), latency))

    post_labeling.make_client = counted_client
    try:
        start = time.perf_counter()
        if warm:
            response = consolidate(warm[0], warm[1], TABLE, parse_consolidation_event(event))
        else:
            response = post_labeling.handler(event)
        seconds = time.perf_counter() - start
    finally:
        post_labeling.make_client = make_client
    votes = sum(
        img["WorkerConfirmCount"] + img["WorkerDisconfirmCount"]
        for obj in response
        for img in obj["consolidatedAnnotation"]["content"]["bench"]["images"]
    )
    if len(response) != len(payload):
        raise RuntimeError(f"{len(payload) - len(response)} object(s) missing from the response")
    return seconds, counter.total - before, votes


def _stored_votes(emu: Any) -> int:
    ddb, total, start = emu.client("dynamodb"), 0, None
    for _ in range(10_000):
        page = ddb.scan(
            TableName=TABLE,
            ProjectionExpression="WorkerConfirmCount, WorkerDisconfirmCount",
            **({"ExclusiveStartKey": start} if start else {}),
        )
        total += sum(  # worker-page items (kind worker-page) carry no counts
            int(i.get("WorkerConfirmCount", {"N": "0"})["N"]) + int(i.get("WorkerDisconfirmCount", {"N": "0"})["N"])
            for i in page["Items"]
        )
        start = page.get("LastEvaluatedKey")
        if not start:
            return total
    raise RuntimeError("scan did not finish")


RUNS = (("handler", 0.0), ("warm", 0.0), ("warm", 0.02))


def measure(requests_each: int = 5, big_request: int = 1000) -> dict:
    logging.getLogger("bulkqa.post_labeling").setLevel(logging.WARNING)
    rng = random.Random(5)
    worker_counts = (1, 3, 9)
    results: dict[str, Any] = {"batch_size": BATCH, "vote_writers": _vote_writers(), "per_request": [], "big": None}
    with emulator() as emu:
        emu.create_stack(BUCKET, TABLE)
        uris = _seed(emu, requests_each * len(worker_counts) * len(RUNS) + big_request)
        os.environ.update({ENV_TABLE_NAME: TABLE, "AWS_ENDPOINT_URL": emu.endpoint, "AWS_DEFAULT_REGION": REGION})
        sent = 0
        for mode, latency in RUNS:
            counter = RequestCounter()
            warm = None
            if mode == "warm":
                warm = tuple(counter.attach(add_latency(make_client(s), latency)) for s in ("s3", "dynamodb"))
                warm += (counter,)
            for workers in worker_counts:
                times, requests, votes = [], 0, 0
                for r in range(requests_each):
                    payload = _payload([uris.pop()], workers, rng)
                    seconds, reqs, n = _invoke(emu, payload, f"{mode}-{latency}-{workers}-{r}", latency, warm)
                    times.append(seconds)
                    requests += reqs
                    votes += n
                sent += votes
                results["per_request"].append(
                    {
                        "call": mode,
                        "latency_ms": round(latency * 1000),
                        "objects": 1,
                        "workers": workers,
                        "votes_per_request": votes // requests_each,
                        "requests": requests_each,
                        "ms_per_request_median": round(statistics.median(times) * 1000, 1),
                        "ms_per_request_mean": round(statistics.fmean(times) * 1000, 1),
                        "aws_requests_per_request": round(requests / requests_each, 1),
                    }
                )
        if big_request:
            big = [uris.pop() for _ in range(big_request)]
            seconds, reqs, votes = _invoke(emu, _payload(big, 1, rng), "big", 0.0, None)
            sent += votes
            results["big"] = {
                "call": "handler",
                "latency_ms": 0,
                "objects": big_request,
                "workers": 1,
                "votes": votes,
                "seconds": round(seconds, 2),
                "votes_per_s": round(votes / seconds, 1),
                "aws_requests": reqs,
            }
        stored = _stored_votes(emu)
        if stored != sent:
            raise RuntimeError(f"{sent} votes sent but {stored} stored")
        results["votes_sent"] = results["votes_stored"] = stored
    os.environ.pop("AWS_ENDPOINT_URL", None)
    return results


def _vote_writers() -> int:
    from handlers import consolidation

    return consolidation.VOTE_WRITERS
