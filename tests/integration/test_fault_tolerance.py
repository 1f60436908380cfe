"""Fault tolerance: throttling, resets, partial batch writes, cancelled transactions, crashes, concurrent votes.

Faults are injected with botocore ``before-send`` hooks on the clients the real code uses,
against a moto server on 127.0.0.1 (a real HTTP endpoint, so a hook that answers instead of the
server means the server never saw the request). Each test checks two things: the end state is
exactly what a fault-free run gives (every row and vote stored once, nothing lost), and botocore
really retried (every faulted request was sent again), so a test cannot pass by not injecting.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import botocore.retries.standard
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError
from botocore.httpsession import URLLib3Session
from moto.server import DomainDispatcherApplication, MotoRequestHandler, ThreadedMotoServer, create_backend_app
from typer.testing import CliRunner
from werkzeug.serving import make_server

from bulkqa.aws import RequestCounter, clients
from bulkqa.cli import app
from bulkqa.qa_table import create_qa_table
from e2e.moto_fidelity import serialise_dynamodb_writes
from handlers import dynamo_batches
from handlers.consolidation import consolidate
from handlers.dynamo_batches import MAX_ROUNDS, UnprocessedError
from handlers.gt_events import parse_consolidation_event
from handlers.image_sources import LocalImages, S3Images
from handlers.round_store import RoundConflictError, RoundMeta, RoundPart, list_rounds, read_round, write_round
from handlers.rounds import BatchDocument, BatchEntry, is_pair_item, manifest_key, round_pair_key
from handlers.s3_uri import S3Uri
from handlers.seed_options import SeedOptions
from handlers.seeding import SeedReport, SeedTarget, run_seed
from handlers.settings import (
    ATTR_IMAGE_URL,
    ATTR_KIND,
    ATTR_LABEL,
    ATTR_PAIR_LABEL,
    ATTR_PAIR_URL,
    ATTR_ROUND,
    ENV_TABLE_NAME,
    KIND_ROUND,
    KIND_ROUND_PAIR,
)
from handlers.vote_store import item_key
from tests.conftest import REGION
from tests.integration.support import counts, list_keys, read_object, scan_items, votes, write_images

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
LABELS_CSV = FIXTURES / "model_labels.csv"
ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------------------------
# The emulator, stacks and snapshots
# --------------------------------------------------------------------------------------------


class Gate:
    """WSGI middleware: after ``limit`` requests matching ``match`` got through, hold the rest.

    Lets a test stop a ``bulkqa seed`` subprocess at an exact point (say, after the second
    BatchWriteItem), SIGKILL it while its next requests are held, then let those land as a real
    crash would (they were on the wire).
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.match: Callable[[dict[str, Any]], bool] | None = None
        self.limit = 0
        self.passed = 0
        self.active = 0
        self.tripped = threading.Event()
        self.opened = threading.Event()
        self.opened.set()
        self.land = True

    def arm(self, match: Callable[[dict[str, Any]], bool], limit: int) -> None:
        with self.lock:
            self.match, self.limit, self.passed = match, limit, 0
            self.tripped.clear()
            self.opened.clear()

    def release(self, land: bool = True) -> None:
        """Let the held requests through (``land``: they reach moto) or answer them with 500 unapplied."""
        with self.lock:
            self.match = None
            self.land = land
        self.opened.set()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        hold = False
        with self.lock:
            self.active += 1
            if self.match is not None and self.match(environ):
                if self.passed >= self.limit:
                    hold = True
                else:
                    self.passed += 1
        try:
            if hold:
                # The whole request is on the wire before the test may kill its sender: read the body
                # first (a PutObject of a file waits for "100 Continue" before sending it), or a
                # held request could "land" with a body it never sent.
                if environ.get("CONTENT_LENGTH"):
                    body = _read_exactly(environ["wsgi.input"], int(environ["CONTENT_LENGTH"]))
                    environ["wsgi.input"] = io.BytesIO(body)
                self.tripped.set()
                self.opened.wait(timeout=60)
                if not self.land:
                    start_response("500 Internal Server Error", [("Content-Length", "0")])
                    return [b""]
            return self.app(environ, start_response)
        finally:
            with self.lock:
                self.active -= 1

    def wait_idle(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.active == 0:
                    return
            time.sleep(0.02)
        raise AssertionError("requests still in flight at the emulator")


def _read_exactly(stream: Any, length: int) -> bytes:
    chunks, left = [], length
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            raise AssertionError(f"request body cut short: {length - left} of {length} bytes")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


class GatedMotoServer(ThreadedMotoServer):
    """moto's ThreadedMotoServer with a ``Gate`` in front of its WSGI app."""

    def __init__(self) -> None:
        super().__init__(ip_address="127.0.0.1", port=0, verbose=False)
        self.gate: Gate | None = None

    def _server_entry(self) -> None:
        # The server ThreadedMotoServer builds, with the gate in front of the app.
        self.gate = Gate(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._ip_address, self._port, self.gate, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


@pytest.fixture(scope="module")
def moto_server() -> Iterator[GatedMotoServer]:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # DynamoDB applies each write request atomically; moto's in-process backend takes no lock (and
    # restores a deep copy of the table when a transaction is cancelled), so serialise its writes for
    # the whole module: any lost or doubled item a test sees is then BulkQA's (e2e.moto_fidelity).
    undo = serialise_dynamodb_writes()
    server = GatedMotoServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        undo()


@pytest.fixture
def endpoint(moto_server: GatedMotoServer) -> str:
    host, port = moto_server.get_host_and_port()
    return f"http://{host}:{port}"


@dataclass
class Stack:
    endpoint: str
    bucket: str
    table: str
    s3: Any
    ddb: Any


def new_stack(endpoint: str) -> Stack:
    name = f"ft-{uuid.uuid4().hex[:12]}"
    s3, ddb = clients("s3", "dynamodb", endpoint_url=endpoint, region=REGION)
    s3.create_bucket(Bucket=name)
    create_qa_table(ddb, name)
    return Stack(endpoint, name, name, s3, ddb)


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's standard retry mode, with its back-off shortened so the tests stay quick."""
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.001)


KEY_ATTRS = (ATTR_IMAGE_URL, ATTR_LABEL)


def snapshot(stack: Stack) -> dict[str, Any]:
    """Every table item and bucket object, made comparable across two stacks.

    What legitimately differs between two stacks seeded with the same input is replaced, and only
    that: the bucket's name (in image URLs and manifest lines); the round-pair items' keys, which
    are a digest of the image URL (so they are keyed here by (round, URL, label) instead, after
    checking the stored key is the digest of exactly those); and in the round item the times it
    was written and the input hash, which covers the target bucket (``stored_input_hashes`` checks
    the hash on its own). Everything else -- pair items, round-pair states, pages, confidences, the
    part's counts and options, the manifest's bytes -- must be equal.
    """

    def norm(value: Any) -> Any:
        return json.loads(json.dumps(value, sort_keys=True).replace(stack.bucket, "BUCKET"))

    pairs, round_pairs, rounds, others = {}, {}, {}, {}
    for key, item in scan_items(stack.ddb, stack.table).items():
        kind = item.get(ATTR_KIND, {}).get("S")
        if is_pair_item(item):
            pairs[norm(key[0]), key[1]] = norm(item)
        elif kind == KIND_ROUND_PAIR:
            name, url, label = item[ATTR_ROUND]["S"], item[ATTR_PAIR_URL]["S"], item[ATTR_PAIR_LABEL]["S"]
            assert {k: item[k] for k in KEY_ATTRS} == round_pair_key(name, url, label)
            round_pairs[name, norm(url), label] = norm({k: v for k, v in item.items() if k not in KEY_ATTRS})
        elif kind == KIND_ROUND:
            meta = norm(item)
            meta["created"] = {"S": "CREATED"}
            for part in meta["parts"]["L"]:
                part["M"]["created"] = part["M"]["input_sha256"] = {"S": "NORMALISED"}
            rounds[key[1]] = meta
        else:
            others[key] = norm(item)
    objects = {key: norm(read_object(stack.s3, stack.bucket, key).decode("utf-8", "replace")) for key in _keys(stack)}
    return {"pairs": pairs, "round_pairs": round_pairs, "rounds": rounds, "others": others, "objects": objects}


def stored_input_hashes(stack: Stack, round_name: str) -> list[str]:
    meta = read_round(stack.ddb, stack.table, round_name)
    return [part.input_sha256 for part in meta.parts] if meta else []


def _keys(stack: Stack) -> list[str]:
    return list_keys(stack.s3, stack.bucket)


# --------------------------------------------------------------------------------------------
# Fault injection
# --------------------------------------------------------------------------------------------

THROTTLE, RESET_BEFORE, RESET_AFTER, NO_ENDPOINT = "throttle", "reset-before", "reset-after", "no-endpoint"
KINDS = (THROTTLE, RESET_AFTER, RESET_BEFORE, NO_ENDPOINT)


class _RawBody:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


def throttle_response(service: str, url: str) -> AWSResponse:
    """What DynamoDB or S3 answers when it throttles."""
    if service == "dynamodb":
        body = json.dumps(
            {
                "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                "message": "The level of configured provisioned throughput for the table was exceeded.",
            }
        ).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "injected"}
        return AWSResponse(url, 400, headers, _RawBody(body))
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
        b"<Message>Please reduce your request rate.</Message><RequestId>injected</RequestId></Error>"
    )
    return AWSResponse(url, 503, {"Content-Type": "application/xml"}, _RawBody(body))


@dataclass
class FaultInjector:
    """Fails the first attempt of every ``every``-th distinct request of each service, cycling
    through ``KINDS`` (starting ``offset`` kinds further on); the retry of a faulted request goes
    through, so a test never depends on the luck of retry budgets, and each fault costs exactly one
    more send.

    - throttle: ProvisionedThroughputExceededException (DynamoDB, HTTP 400) or SlowDown (S3, 503);
      the server never sees the request.
    - reset-after: the request reaches the server and is applied, then the connection drops before
      the response arrives -- the retry repeats a write that already happened.
    - reset-before: the connection drops before the request is sent (ConnectionClosedError).
    - no-endpoint: EndpointConnectionError (the connection cannot be opened).
    """

    every: int = 2
    offset: int = 0
    sends: Counter = field(default_factory=Counter)  # service -> requests seen
    distinct: Counter = field(default_factory=Counter)  # service -> distinct requests seen
    injected: Counter = field(default_factory=Counter)  # (service, kind) -> count
    operations: Counter = field(default_factory=Counter)  # (operation, kind) -> count, e.g. ("PutItem", RESET_AFTER)
    faulted_bodies: list[bytes] = field(default_factory=list)
    delivered_bodies: Counter = field(default_factory=Counter)
    _seen: set = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _http: URLLib3Session = field(default_factory=URLLib3Session)

    def attach(self, client: Any) -> Any:
        service = client.meta.service_model.service_name
        client.meta.events.register(
            "before-send",
            lambda request, event_name="", **_: self._before_send(service, request, event_name.rsplit(".", 1)[-1]),
        )
        return client

    def _before_send(self, service: str, request: Any, operation: str) -> AWSResponse | None:
        body = _body_bytes(request)
        kind = None
        with self._lock:
            self.sends[service] += 1
            if body not in self._seen:
                self._seen.add(body)
                self.distinct[service] += 1
                n = self.distinct[service]
                if n % self.every == 1 or self.every == 1:
                    kind = KINDS[(n // self.every + self.offset) % len(KINDS)]
                    self.injected[(service, kind)] += 1
                    self.operations[(operation, kind)] += 1
                    self.faulted_bodies.append(body)
            if kind in (None, RESET_AFTER):
                self.delivered_bodies[body] += 1
        if kind is None:
            return None  # botocore sends it
        if kind == THROTTLE:
            return throttle_response(service, request.url)
        if kind == RESET_AFTER:
            self._http.send(request)  # the server applies it; the answer is lost
            raise ConnectionClosedError(endpoint_url=request.url)
        if kind == RESET_BEFORE:
            raise ConnectionClosedError(endpoint_url=request.url)
        raise EndpointConnectionError(endpoint_url=request.url)

    @property
    def total_injected(self) -> int:
        return sum(self.injected.values())

    def assert_every_fault_was_retried(self) -> None:
        """Each faulted request was sent again by botocore and got through (same bytes, later)."""
        assert self.faulted_bodies
        missing = [body[:120] for body in self.faulted_bodies if self.delivered_bodies[body] < 1]
        assert not missing, f"{len(missing)} faulted request(s) were never retried: {missing[:3]}"


def _body_bytes(request: Any) -> bytes:
    body = request.body
    if body is None:
        return request.url.encode()
    if isinstance(body, str):
        body = body.encode()
    if not isinstance(body, bytes):  # a stream: hash what it holds without consuming it
        position = body.tell()
        data = body.read()
        body.seek(position)
        body = data
    return request.method.encode() + b" " + request.url.encode() + b"\n" + hashlib.sha256(body).digest()


def faulty_clients(endpoint: str, injector: FaultInjector, counter: RequestCounter | None = None) -> list[Any]:
    return [
        injector.attach(c) for c in clients("s3", "dynamodb", endpoint_url=endpoint, region=REGION, counter=counter)
    ]


# --------------------------------------------------------------------------------------------
# Throttling and transient errors
# --------------------------------------------------------------------------------------------


SEED_ROUND = "fault-tolerance"


def seed_target(stack: Stack, images: Path) -> SeedTarget:
    """A fixed round name, so a clean and a faulty seed of the same input can be compared."""
    options = SeedOptions(batch_size=5, threshold=80.0, round=SEED_ROUND)
    return SeedTarget(stack.bucket, stack.table, LocalImages(images), options=options)


def comparable(report: SeedReport) -> dict[str, Any]:
    """A seed's report without what legitimately differs between two stacks, or under faults.

    ``manifest_uri`` names the bucket, and ``input_sha256`` covers the target (checked on its own
    against a dry run of the same target). ``items_written`` / ``items_existing``: when a
    TransactWriteItems is applied but its answer is lost, botocore sends it again; DynamoDB
    recognises the retry by its ClientRequestToken and answers success, moto (no idempotency
    tokens) cancels it because the items now exist, so they are counted as existing. Either way
    they are the same pair items, so their sum must be equal (and the table is compared item by item).
    """
    out = report.to_json()
    for key in ("manifest_uri", "input_sha256", "items_written", "items_existing"):
        del out[key]
    out["pair_items"] = report.items_written + report.items_existing
    return out


def dry_run_hash(text: str, target: SeedTarget) -> str:
    """The input hash a seed of ``text`` into ``target`` must store: a dry run makes no request."""
    return run_seed(text, target, s3=None, ddb=None, dry_run=True).input_sha256


@pytest.fixture
def labels_images(tmp_path: Path) -> Path:
    root = tmp_path / "images"
    write_images(LABELS_CSV, root)
    return root


@pytest.fixture
def small_csv(tmp_path: Path) -> Path:
    """The first 30 rows of model_labels.csv (two-label images, rows below the threshold)."""
    lines = LABELS_CSV.read_bytes().splitlines(keepends=True)
    path = tmp_path / "small.csv"
    path.write_bytes(b"".join(lines[:31]))
    return path


def assert_seeded_as_clean(
    stack: Stack, report: SeedReport, clean: Stack, clean_report: SeedReport, text: str, images: Path
) -> None:
    """The faulty seed stored exactly what the clean one did, and reported the same."""
    assert comparable(report) == comparable(clean_report)
    assert snapshot(stack) == snapshot(clean)
    for each, its_report in ((stack, report), (clean, clean_report)):
        assert stored_input_hashes(each, SEED_ROUND) == [its_report.input_sha256]
        assert its_report.input_sha256 == dry_run_hash(text, seed_target(each, images))


def test_seed_survives_throttling_and_resets(
    endpoint: str, small_csv: Path, labels_images: Path, fast_retries: None
) -> None:
    text = small_csv.read_text(encoding="utf-8")
    clean, faulty = new_stack(endpoint), new_stack(endpoint)
    clean_counter = RequestCounter()
    s3, ddb = clients("s3", "dynamodb", endpoint_url=endpoint, region=REGION, counter=clean_counter)
    clean_report = run_seed(text, seed_target(clean, labels_images), s3=s3, ddb=ddb, max_workers=4)

    injector = FaultInjector(every=2)
    s3, ddb = faulty_clients(endpoint, injector)
    report = run_seed(text, seed_target(faulty, labels_images), s3=s3, ddb=ddb, max_workers=4)

    assert_seeded_as_clean(faulty, report, clean, clean_report, text, labels_images)
    state = snapshot(faulty)
    assert len(state["pairs"]) == report.queued == clean_report.items_written > 15
    assert len(state["round_pairs"]) == report.stored and list(state["rounds"]) == [SEED_ROUND]
    assert list(state["objects"]).count(manifest_key(SEED_ROUND, 1)) == 1
    # Every kind of fault hit S3; DynamoDB (GetItem, Scan, one TransactWriteItems, two BatchWriteItem,
    # PutItem here) was throttled and had its transaction applied with the answer lost. Each fault
    # cost exactly one more send.
    for kind in KINDS:
        assert injector.injected[("s3", kind)] >= 1, (kind, injector.injected)
    assert injector.injected[("dynamodb", THROTTLE)] == injector.injected[("dynamodb", RESET_AFTER)] == 1
    assert injector.operations[("TransactWriteItems", RESET_AFTER)] == 1, injector.operations
    # The pair items of that transaction: all counted as written (DynamoDB, which knows the retry by
    # its token) or all as existing (moto): never some, never twice.
    assert report.items_existing in {0, report.queued}
    assert injector.sends.total() == clean_counter.total + injector.total_injected
    injector.assert_every_fault_was_retried()


def test_seed_survives_every_request_faulting_once_in_every_way(
    endpoint: str, small_csv: Path, labels_images: Path, fast_retries: None
) -> None:
    """Every distinct request of a seed fails once; four seeds, each with the kinds shifted by one,
    so every request (the round read, the Scan, each image, the transaction, the round items, the
    manifest's check and write, the round item's conditional write) is throttled, reset before it
    was sent, applied with its answer lost, and refused a connection. The last one matters most for
    the round item: the retry of a conditional write that was applied finds its own item there."""
    text = small_csv.read_text(encoding="utf-8")
    clean = new_stack(endpoint)
    s3, ddb = clients("s3", "dynamodb", endpoint_url=endpoint, region=REGION)
    clean_report = run_seed(text, seed_target(clean, labels_images), s3=s3, ddb=ddb, max_workers=4)

    seen: Counter = Counter()
    for offset in range(len(KINDS)):
        stack = new_stack(endpoint)
        injector = FaultInjector(every=1, offset=offset)
        s3, ddb = faulty_clients(endpoint, injector)
        report = run_seed(text, seed_target(stack, labels_images), s3=s3, ddb=ddb, max_workers=4)

        assert_seeded_as_clean(stack, report, clean, clean_report, text, labels_images)
        injector.assert_every_fault_was_retried()
        seen += injector.operations
    operations = {operation for operation, _ in seen}
    writes = {"TransactWriteItems", "BatchWriteItem", "PutItem", "PutObject"}
    assert operations >= {"GetItem", "Scan", "GetObject", *writes}
    assert [(op, kind) for op in sorted(operations) for kind in KINDS if not seen[op, kind]] == []


Page = tuple[str, list[BatchEntry]]  # (where the page lives: a batch file key or inline, its images)


def _pages(stack: Stack, rows: int, batch_size: int, labels: int) -> list[Page]:
    """Pages as a seed writes them, built here so the vote tests depend on the contract, not the seed:
    even pages are a round's inline batch documents (``inline:<json>``), odd ones release 0.1 batch
    files in S3; the pair items exist as the data model describes."""
    by_label: dict[str, list[BatchEntry]] = {}
    for i in range(rows):
        label = f"Label{i % labels}"
        by_label.setdefault(label, []).append(BatchEntry(f"s3://source-images/img/{i:03d}.jpg", label, 90.0))
    pages: list[Page] = []
    for label, items in by_label.items():
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            n = len(pages)
            if n % 2 == 0:
                pages.append((f"inline:{BatchDocument('ft', 1, n + 1, label, tuple(chunk)).text()}", chunk))
            else:
                key = f"batches/{label.lower()}/batch-{n:05d}.json"
                body = json.dumps([item.task_json() for item in chunk]).encode()
                stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=body)
                pages.append((key, chunk))
            for item in chunk:
                stack.ddb.put_item(
                    TableName=stack.table,
                    Item={
                        **item_key(item.s3_image_url, item.label),
                        "confidence": {"N": "90"},
                        "WorkerConfirmCount": {"N": "0"},
                        "WorkerDisconfirmCount": {"N": "0"},
                        "WorkerVotes": {"M": {}},
                    },
                )
    return pages


def data_object(stack: Stack, where: str) -> dict[str, str]:
    if where.startswith("inline:"):
        return {"content": where.removeprefix("inline:")}
    return {"s3Uri": f"s3://{stack.bucket}/{where}"}


def verdict(worker: str, item: BatchEntry) -> bool:
    """A fixed, per-(worker, image) verdict, so an answer repeated anywhere is the same answer."""
    return hashlib.sha256(f"{worker}|{item.s3_image_url}|{item.label}".encode()).digest()[0] % 3 != 0


def answer(worker: str, items: list[BatchEntry], flip: bool = False) -> dict[str, Any]:
    content = {f"{it.label}-{i}": {"Confirmed": verdict(worker, it) != flip} for i, it in enumerate(items)}
    return {"workerId": worker, "annotationData": {"content": json.dumps(content)}}


def consolidation_event(stack: Stack, objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    key = f"payloads/{name}.json"
    stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=json.dumps(objects).encode())
    return {
        "version": "2018-10-16",
        "labelingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/ft",
        "labelAttributeName": "qa",
        "payload": {"s3Uri": f"s3://{stack.bucket}/{key}"},
    }


def seeded_stack(endpoint: str, rows: int, batch_size: int, labels: int = 2) -> tuple[Stack, list[Page]]:
    stack = new_stack(endpoint)
    return stack, _pages(stack, rows, batch_size, labels)


def expected_votes(answered: dict[str, list[Page]]) -> dict[tuple[str, str], dict[str, str]]:
    """(url, label) -> {worker: verdict} from worker -> batches answered."""
    expected: dict[tuple[str, str], dict[str, str]] = {}
    for worker, batches in answered.items():
        for _, items in batches:
            for item in items:
                key = (item.s3_image_url, item.label)
                expected.setdefault(key, {})[worker] = "confirm" if verdict(worker, item) else "disconfirm"
    return expected


def pair_items(stack: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """The (image, label) items: worker-page records live in the same table."""
    return {key: item for key, item in scan_items(stack.ddb, stack.table).items() if is_pair_item(item)}


def worker_page_keys(stack: Stack) -> list[str]:
    return sorted(key[1] for key, item in scan_items(stack.ddb, stack.table).items() if not is_pair_item(item))


def assert_votes_exact(stack: Stack, expected: dict[tuple[str, str], dict[str, str]]) -> None:
    items = pair_items(stack)
    for key, item in items.items():
        want = expected.get(key, {})
        assert votes(item) == want, key
        assert counts(item) == (
            sum(v == "confirm" for v in want.values()),
            sum(v == "disconfirm" for v in want.values()),
        ), key


def test_consolidation_survives_throttling_and_resets(endpoint: str, fast_retries: None) -> None:
    stack, batches = seeded_stack(endpoint, rows=16, batch_size=4)
    workers = {"w-a": batches, "w-b": batches[:2], "w-c": batches[1:]}
    objects = [
        {
            "datasetObjectId": str(n),
            "dataObject": data_object(stack, key),
            "annotations": [answer(w, items) for w, done in workers.items() if (key, items) in done],
        }
        for n, (key, items) in enumerate(batches)
    ]
    for n, obj in enumerate(objects):  # w-c's answers are stored in S3 (annotationData.s3Uri)
        for annotation in obj["annotations"]:
            if annotation["workerId"] == "w-c":
                answer_key = f"answers/w-c/{n}.json"
                stack.s3.put_object(Bucket=stack.bucket, Key=answer_key, Body=annotation["annotationData"]["content"])
                annotation["annotationData"] = {"s3Uri": f"s3://{stack.bucket}/{answer_key}"}
    event = parse_consolidation_event(consolidation_event(stack, objects, "faulty"))

    injector, redelivery = FaultInjector(every=2), FaultInjector(every=2)
    s3, ddb = faulty_clients(endpoint, injector)
    first = consolidate(s3, ddb, stack.table, event)
    s3, ddb = faulty_clients(endpoint, redelivery)
    again = consolidate(s3, ddb, stack.table, event)  # Ground Truth redelivers: nothing counts twice

    assert first == again
    assert len(first) == len(batches)
    assert_votes_exact(stack, expected_votes(workers))
    for kind in KINDS:  # reset-after on DynamoDB: a vote applied whose answer was lost
        assert injector.injected[("dynamodb", kind)] >= 1, (kind, injector.injected)
    for kind in KINDS[:3]:  # S3: the payload, batch files and answers read through SlowDown and resets
        assert injector.injected[("s3", kind)] >= 1, (kind, injector.injected)
    # One worker-page record per worker and inline (round) page, whatever the faults and redelivery.
    inline_pages = [n for n, (key, _) in enumerate(batches) if key.startswith("inline:")]
    assert worker_page_keys(stack) == sorted(
        f"{w}#0001#{n + 1:05d}" for w, done in workers.items() for n in inline_pages if batches[n] in done
    )
    injector.assert_every_fault_was_retried()
    redelivery.assert_every_fault_was_retried()
    assert redelivery.injected[("dynamodb", RESET_AFTER)] >= 1


def test_per_image_votes_count_once_when_every_request_faults_after_a_partial_delivery(
    endpoint: str, fast_retries: None
) -> None:
    """The per-image path under the worst luck: w1's answer was already counted by an earlier,
    partial delivery; then every distinct request of the full delivery fails once (throttled,
    reset before, reset after it was applied, no endpoint). Each image's update is refused for w1,
    resent for w2 and w3, and a reset-after makes the resend itself refused: still once each."""
    stack, pages = seeded_stack(endpoint, rows=8, batch_size=8, labels=1)
    ((where, items),) = pages
    assert where.startswith("inline:")
    workers = ["w1", "w2", "w3"]
    partial = consolidation_event(
        stack,
        [{"datasetObjectId": "0", "dataObject": data_object(stack, where), "annotations": [answer("w1", items)]}],
        "p",
    )
    consolidate(stack.s3, stack.ddb, stack.table, parse_consolidation_event(partial))
    full = [
        {
            "datasetObjectId": "0",
            "dataObject": data_object(stack, where),
            "annotations": [answer(w, items) for w in workers],
        }
    ]
    event = parse_consolidation_event(consolidation_event(stack, full, "full"))

    injector = FaultInjector(every=1)
    s3, ddb = faulty_clients(endpoint, injector)
    response = consolidate(s3, ddb, stack.table, event)
    clean = consolidate(stack.s3, stack.ddb, stack.table, event)

    assert response == clean
    assert_votes_exact(stack, expected_votes({w: pages for w in workers}))
    assert worker_page_keys(stack) == [f"{w}#0001#00001" for w in workers]
    assert all(injector.injected[("dynamodb", kind)] >= 1 for kind in KINDS), injector.injected
    injector.assert_every_fault_was_retried()
    summary = response[0]["consolidatedAnnotation"]["content"]["qa"]
    assert [image["votes"] for image in summary["images"]] == [
        "".join("c" if verdict(w, item) else "d" for w in workers) for item in items
    ]


# --------------------------------------------------------------------------------------------
# Partial batch writes
# --------------------------------------------------------------------------------------------


class PartialDynamo:
    """A DynamoDB client under load: each batch call processes only part of its entries and returns
    the rest unprocessed (``keep``: how many a call processes; None: half). With ``cancel``, the
    first transaction each pair is in is cancelled, reason by reason as DynamoDB gives them: the
    pairs that exist fail their condition, the others get "None", "TransactionConflict" or
    "ThrottlingError"; and just before the first one, a vote is recorded on its first pair (another
    round's worker, between the seed's check and its write)."""

    def __init__(self, ddb: Any, keep: int | None = None, cancel: bool = False) -> None:
        self.ddb, self.keep, self.cancel = ddb, keep, cancel
        self.write_calls = self.get_calls = self.transact_calls = 0
        self.delivered: Counter = Counter()  # item key -> times a BatchWriteItem processed its Put
        self.answered: Counter = Counter()  # item key -> times a BatchGetItem processed it
        self.applied: Counter = Counter()  # pair -> times a transaction that went through created it
        self.cancelled: set[tuple[str, str]] = set()
        self.raced: tuple[str, str] | None = None
        self.lock = threading.Lock()
        # One transaction at a time here: moto's GetItem of a missing key inserts into the table's
        # dict, which breaks the deep copy a concurrent transaction takes (an emulator limit only).
        self.transact_lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ddb, name)

    def _split(self, entries: list[Any]) -> tuple[list[Any], list[Any]]:
        keep = (len(entries) + 1) // 2 if self.keep is None else self.keep
        return entries[:keep], entries[keep:]

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        ((table, entries),) = RequestItems.items()
        now, later = self._split(entries)
        with self.lock:
            self.write_calls += 1
            for entry in now:
                item = entry["PutRequest"]["Item"]
                self.delivered[(item[ATTR_IMAGE_URL]["S"], item[ATTR_LABEL]["S"])] += 1
        if now:
            self.ddb.batch_write_item(RequestItems={table: now})
        return {"UnprocessedItems": {table: later} if later else {}}

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        ((table, request),) = RequestItems.items()
        now, later = self._split(request["Keys"])
        with self.lock:
            self.get_calls += 1
            self.answered.update((key[ATTR_IMAGE_URL]["S"], key[ATTR_LABEL]["S"]) for key in now)
        response = self.ddb.batch_get_item(RequestItems={table: {**request, "Keys": now}}) if now else {}
        unprocessed = {table: {**request, "Keys": later}} if later else {}
        return {"Responses": response.get("Responses", {table: []}), "UnprocessedKeys": unprocessed}

    def transact_write_items(self, TransactItems: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
        with self.transact_lock:
            return self._transact(TransactItems, **kwargs)

    def _transact(self, TransactItems: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
        puts = [entry["Put"] for entry in TransactItems]
        pairs = [(put["Item"][ATTR_IMAGE_URL]["S"], put["Item"][ATTR_LABEL]["S"]) for put in puts]
        with self.lock:
            self.transact_calls += 1
            cancel = self.cancel and not self.cancelled.intersection(pairs)
            self.cancelled.update(pairs if cancel else ())
        if not cancel:
            response = self.ddb.transact_write_items(TransactItems=TransactItems, **kwargs)
            with self.lock:
                self.applied.update(pairs)
            return response
        if self.raced is None:
            self.raced = pairs[0]
            self.ddb.put_item(
                TableName=puts[0]["TableName"],
                Item={
                    **item_key(*pairs[0]),
                    "confidence": {"N": "90"},
                    "WorkerConfirmCount": {"N": "1"},
                    "WorkerDisconfirmCount": {"N": "0"},
                    "WorkerVotes": {"M": {"racer": {"S": "confirm"}}},
                },
            )
        others = ("None", "TransactionConflict", "ThrottlingError")
        reasons = []
        for n, (put, pair) in enumerate(zip(puts, pairs, strict=True)):
            found = self.ddb.get_item(TableName=put["TableName"], Key=item_key(*pair), ConsistentRead=True)
            reasons.append("ConditionalCheckFailed" if "Item" in found else others[n % 3])
        error = {"Code": "TransactionCanceledException", "Message": f"Transaction cancelled [{', '.join(reasons)}]"}
        raise ClientError(
            {"Error": error, "CancellationReasons": [{"Code": code} for code in reasons]},  # type: ignore[typeddict-unknown-key]
            "TransactWriteItems",
        )


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    rounds: list[int] = []
    monkeypatch.setattr(dynamo_batches, "_backoff", lambda round_number, sleep: rounds.append(round_number))
    return rounds


def in_place_target(stack: Any, round_name: str) -> SeedTarget:
    """Images referenced where they are (nothing to send): the requests are DynamoDB's alone."""
    options = SeedOptions(batch_size=25, threshold=80.0, round=round_name)
    return SeedTarget(stack.bucket, stack.table, S3Images(S3Uri("src", "")), options=options)


def test_unprocessed_items_and_cancelled_transactions_are_retried_until_done(
    qa_stack: Any, no_backoff: list[int]
) -> None:
    rows = 120
    lines = ["image_local_path,label,confidence"] + [f"p/{i:03d}.jpg,L{i % 3},90" for i in range(rows)]
    text = "\n".join(lines) + "\n"
    partial = PartialDynamo(qa_stack.ddb, cancel=True)

    report = run_seed(text, in_place_target(qa_stack, "first"), s3=qa_stack.s3, ddb=partial)

    pairs = pair_items(qa_stack)
    assert report.queued == len(pairs) == rows
    # The vote recorded between the check and the write survived; every other pair item was created
    # by exactly one transaction that went through, none twice, none left out.
    assert partial.raced is not None
    assert votes(pairs[partial.raced]) == {"racer": "confirm"} and counts(pairs[partial.raced]) == (1, 0)
    assert (report.items_written, report.items_existing) == (rows - 1, 1)
    assert partial.applied == Counter({pair: 1 for pair in pairs if pair != partial.raced})
    assert all(counts(item) == (0, 0) and votes(item) == {} for pair, item in pairs.items() if pair != partial.raced)
    # 120 new pairs = transactions of 100 and 20, each cancelled once and resent once without the pair
    # that now exists (conflicts and throttling retried, never dropped).
    assert partial.transact_calls == 4
    # The round-pair items: every one sent exactly once, none dropped. A chunk of 25 halved per
    # call: 25 -> 12 -> 6 -> 3 -> 1 -> 0 (and 20 -> 10 -> 5 -> 2 -> 1 -> 0) is 5 calls; 120 items
    # are written as 3 chunks of 25 (the three full pages) then 25 + 20 (the three partial pages).
    assert set(partial.delivered.values()) == {1} and len(partial.delivered) == rows
    assert partial.write_calls == 5 * 5

    # A second round of the same rows reads the pairs' votes: BatchGetItem's UnprocessedKeys are
    # followed too (100 keys halved: 7 calls; 20 keys: 5 calls), each key answered once.
    again = PartialDynamo(qa_stack.ddb)
    second = run_seed(text, in_place_target(qa_stack, "second"), s3=qa_stack.s3, ddb=again)

    assert set(again.answered.values()) == {1} and len(again.answered) == rows
    assert again.get_calls == 7 + 5
    assert (second.reused, second.queued, second.items_existing, second.items_written) == (1, rows - 1, rows - 1, 0)
    assert again.transact_calls == 0
    assert set(again.delivered.values()) == {1} and len(again.delivered) == rows
    assert pair_items(qa_stack) == pairs  # the second round changed no pair item
    assert no_backoff and max(no_backoff) < MAX_ROUNDS


def test_items_never_processed_fail_the_seed_before_the_manifest(qa_stack: Any, no_backoff: list[int]) -> None:
    lines = ["image_local_path,label,confidence"] + [f"p/{i:03d}.jpg,L,90" for i in range(30)]
    text = "\n".join(lines) + "\n"
    target = in_place_target(qa_stack, "stuck")
    stuck = PartialDynamo(qa_stack.ddb, keep=0)
    stuck.batch_get_item = qa_stack.ddb.batch_get_item  # reads work; batch writes never do

    with pytest.raises(UnprocessedError, match=r"still unprocessed .* after 12 rounds"):
        run_seed(text, target, s3=qa_stack.s3, ddb=stuck)

    # The round-pair items of the first full page (25: one BatchWriteItem) were refused MAX_ROUNDS
    # times; the seed stopped there: no later write, never a manifest part or a committed round that
    # names items the table does not hold.
    assert stuck.write_calls == MAX_ROUNDS
    assert list_keys(qa_stack.s3, qa_stack.bucket, "rounds/") == []
    assert list_rounds(qa_stack.ddb, qa_stack.table) == []
    assert len(pair_items(qa_stack)) == 30  # created (empty) before the round items: harmless, reused

    # What it left is finished by running it again: the pair items are kept (counted as existing).
    report = run_seed(text, target, s3=qa_stack.s3, ddb=qa_stack.ddb)

    assert (report.queued, report.items_written, report.items_existing, report.batch_count) == (30, 0, 30, 2)
    meta = read_round(qa_stack.ddb, qa_stack.table, "stuck")
    assert meta is not None and [part.queued for part in meta.parts] == [30]
    assert list_keys(qa_stack.s3, qa_stack.bucket, "rounds/") == [manifest_key("stuck", 1)]


def test_round_item_write_knows_its_own_lost_answer_from_a_rival_seed(qa_stack: Any) -> None:
    """The round item is the commit: a retry of our own applied write (the answer was lost) must
    succeed, a rival seed's item must still be refused, for a new round and for an added part."""
    part = RoundPart(part=1, input_sha256="a" * 64, created="2025-01-01T00:00:00Z", queued=3, batches=1)
    ours = RoundMeta(name="r", created=part.created, batch_size=5, parts=[part])
    write_round(qa_stack.ddb, qa_stack.table, ours, parts_before=0)
    write_round(qa_stack.ddb, qa_stack.table, ours, parts_before=0)  # the retry finds its own item: done

    rival = RoundMeta(name="r", created=part.created, batch_size=5, parts=[replace(part, input_sha256="b" * 64)])
    with pytest.raises(RoundConflictError, match="changed by another seed"):
        write_round(qa_stack.ddb, qa_stack.table, rival, parts_before=0)

    added = replace(part, part=2, input_sha256="c" * 64, options={"threshold": 80.0, "batch_size": 5})
    extended = replace(ours, parts=[part, added])
    write_round(qa_stack.ddb, qa_stack.table, extended, parts_before=1)
    write_round(qa_stack.ddb, qa_stack.table, extended, parts_before=1)  # same part again: ours, done
    other_part = replace(ours, parts=[part, replace(added, input_sha256="d" * 64)])
    with pytest.raises(RoundConflictError):
        write_round(qa_stack.ddb, qa_stack.table, other_part, parts_before=1)
    assert read_round(qa_stack.ddb, qa_stack.table, "r") == extended


# --------------------------------------------------------------------------------------------
# Crash and resume
# --------------------------------------------------------------------------------------------


def _dynamodb_operation(operation: str) -> Callable[[dict[str, Any]], bool]:
    def match(environ: dict[str, Any]) -> bool:
        return environ.get("HTTP_X_AMZ_TARGET", "").endswith(f".{operation}")

    return match


def _is_image_put(environ: dict[str, Any]) -> bool:
    return environ["REQUEST_METHOD"] == "PUT" and environ.get("PATH_INFO", "").endswith(".jpg")


def _is_manifest_put(environ: dict[str, Any]) -> bool:
    path = environ.get("PATH_INFO", "")
    return environ["REQUEST_METHOD"] == "PUT" and "/rounds/" in path and path.endswith(".jsonl")


CRASH_ROUND = "crash-round"  # resuming a seed means running it again with the same --round


@dataclass(frozen=True)
class CrashInput:
    csv: Path
    images: Path


@pytest.fixture(scope="module")
def crash_input(tmp_path_factory: pytest.TempPathFactory) -> CrashInput:
    """150 rows, 3 labels, one image each: 150 uploads, TransactWriteItems of 100 + 50 pair items,
    6 BatchWriteItems of round-pair items, 30 pages of 5 in one manifest part, one round item."""
    root = tmp_path_factory.mktemp("crash")
    lines = ["image_local_path,label,confidence"]
    lines += [f"cls{i % 3}/img_{i:03d}.jpg,Class {i % 3},{80 + i % 20}.5" for i in range(150)]
    (root / "labels.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_images(root / "labels.csv", root / "images")
    return CrashInput(root / "labels.csv", root / "images")


def seed_args(stack: Stack, data: CrashInput, workers: int = 4) -> list[str]:
    return [
        "seed",
        "--csv",
        str(data.csv),
        "--images",
        str(data.images),
        "--bucket",
        stack.bucket,
        "--table",
        stack.table,
        "--round",
        CRASH_ROUND,
        "--batch-size",
        "5",
        "--endpoint-url",
        stack.endpoint,
        "--region",
        REGION,
        "--workers",
        str(workers),
        "--json",
    ]


def run_cli(args: list[str]) -> dict[str, Any]:
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def reference(moto_server: GatedMotoServer, crash_input: CrashInput) -> dict[str, Any]:
    """An uninterrupted ``bulkqa seed``: what every resumed seed must end as."""
    host, port = moto_server.get_host_and_port()
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "t",
            "AWS_SECRET_ACCESS_KEY": "t",
            "AWS_DEFAULT_REGION": REGION,
        }.items():
            mp.setenv(name, value)
        stack = new_stack(f"http://{host}:{port}")
        report = run_cli(seed_args(stack, crash_input))
        return {"snapshot": snapshot(stack), "report": report}


@pytest.mark.parametrize(
    ("stage", "match", "limit", "land"),
    [
        ("images", _is_image_put, 10, True),  # the request on the wire lands after the kill
        ("pair items", _dynamodb_operation("TransactWriteItems"), 1, False),  # ... or never does
        ("round items", _dynamodb_operation("BatchWriteItem"), 2, True),
        ("manifest", _is_manifest_put, 0, True),
        ("round item", _dynamodb_operation("PutItem"), 0, False),
        ("committed", _dynamodb_operation("PutItem"), 0, True),  # killed after its last write was sent
    ],
)
def test_seed_killed_half_way_then_resumed_ends_as_an_uninterrupted_seed(
    moto_server: GatedMotoServer,
    endpoint: str,
    crash_input: CrashInput,
    reference: dict[str, Any],
    stage: str,
    match: Callable[[dict[str, Any]], bool],
    limit: int,
    land: bool,
) -> None:
    stack = new_stack(endpoint)
    gate = moto_server.gate
    assert gate is not None
    gate.arm(match, limit)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t"}
    child = subprocess.Popen(
        [sys.executable, "-m", "bulkqa.cli", *seed_args(stack, crash_input, workers=1)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert gate.tripped.wait(timeout=60), f"the seed never reached the {stage} stage"
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        gate.release(land)
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
    gate.wait_idle()

    crashed = snapshot(stack)
    full = reference["snapshot"]
    sizes = {part: (len(crashed[part]), len(full[part])) for part in ("pairs", "round_pairs", "objects")}
    if stage == "committed":
        assert crashed == full  # the round item landed: the round was complete when the seed died
    else:
        assert crashed["rounds"] == {} and crashed != full  # not committed: the round does not exist yet
    if stage == "images":  # some images, nothing of the round yet
        assert sizes["pairs"][0] == sizes["round_pairs"][0] == 0 and 0 < sizes["objects"][0] < sizes["objects"][1]
    if stage == "pair items":  # the first transaction's pairs, no round-pair item, no manifest
        assert 0 < sizes["pairs"][0] < sizes["pairs"][1] and sizes["round_pairs"][0] == 0
    if stage == "round items":  # every pair item, part of the round-pair items, no manifest
        assert crashed["pairs"] == full["pairs"] and 0 < sizes["round_pairs"][0] < sizes["round_pairs"][1]
    if stage in {"images", "pair items", "round items"}:
        assert manifest_key(CRASH_ROUND, 1) not in crashed["objects"]
    if stage in {"manifest", "round item"}:  # everything but the round item
        assert all(crashed[part] == full[part] for part in ("pairs", "round_pairs", "objects"))

    resumed = run_cli(seed_args(stack, crash_input))

    assert snapshot(stack) == full
    expected = reference["report"]
    assert stored_input_hashes(stack, CRASH_ROUND) == [resumed["input_sha256"]]
    for key in ("round", "part", "queued", "batches", "rows_read", "problems_total"):
        assert resumed[key] == expected[key], key
    if stage == "committed":
        assert resumed["unchanged"] is True  # the same input again: a no-op, nothing written
        return
    assert resumed["unchanged"] is False and resumed["batches_per_label"] == expected["batches_per_label"]
    # The pair items the killed seed created are kept (existing: a vote on them would have been
    # kept too); only the missing ones are created, and only their images are sent again.
    assert resumed["items_written"] + resumed["items_existing"] == expected["items_written"] == expected["queued"]
    assert resumed["items_existing"] == len(crashed["pairs"])
    assert resumed["images_transferred"] == expected["images_transferred"] - len(crashed["pairs"])


# --------------------------------------------------------------------------------------------
# Concurrent consolidation
# --------------------------------------------------------------------------------------------


@pytest.fixture
def atomic_moto_updates(request: pytest.FixtureRequest) -> None:
    """DynamoDB applies each conditional UpdateItem atomically; moto takes no lock, so serialise its
    writes (e2e.moto_fidelity). Without it the emulator itself could interleave two updates of one
    item and lose a count DynamoDB never would; with it, any lost or doubled count is ours."""
    request.addfinalizer(serialise_dynamodb_writes())


def test_concurrent_overlapping_consolidations_count_each_vote_once(
    endpoint: str, atomic_moto_updates: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack, batches = seeded_stack(endpoint, rows=12, batch_size=4, labels=3)  # 3 batches of 4
    assert len(batches) == 3
    workers = [f"worker-{n}" for n in range(4)]
    # Invocation i: two batches, two workers; every batch is answered by several workers, and
    # (worker, batch) pairs turn up in more than one invocation (redelivery, overlap).
    plan = [([i % 3, (i + 1) % 3], [workers[i % 4], workers[(i + 1) % 4]]) for i in range(8)]
    answered: dict[str, list[Page]] = {}
    events = []
    for i, (batch_numbers, who) in enumerate(plan):
        objects = []
        for b in batch_numbers:
            key, items = batches[b]
            objects.append(
                {
                    "datasetObjectId": f"{b}",
                    "dataObject": data_object(stack, key),
                    "annotations": [answer(w, items) for w in who],
                }
            )
            for w in who:
                answered.setdefault(w, [])
                if (key, items) not in answered[w]:
                    answered[w].append((key, items))
        events.append(consolidation_event(stack, objects, f"concurrent-{i}"))
    # One worker answers batch 0 twice with opposite verdicts in racing invocations: one verdict
    # must win for every image, never both.
    key0, items0 = batches[0]
    for n, flip in enumerate((False, True)):
        objects = [{"datasetObjectId": "0", "dataObject": data_object(stack, key0)}]
        objects[0]["annotations"] = [answer("worker-torn", items0, flip=flip)]
        events.append(consolidation_event(stack, objects, f"torn-{n}"))

    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv(ENV_TABLE_NAME, stack.table)
    from handlers import post_labeling

    start = threading.Barrier(len(events))
    failures: list[BaseException] = []

    def invoke(event: dict[str, Any]) -> None:
        try:
            start.wait(timeout=30)
            post_labeling.handler(event)
        except BaseException as err:
            failures.append(err)

    threads = [threading.Thread(target=invoke, args=(event,)) for event in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    assert not any(thread.is_alive() for thread in threads)

    expected = expected_votes(answered)
    items = pair_items(stack)
    for key, item in items.items():
        recorded = votes(item)
        torn = recorded.pop("worker-torn", None)
        assert recorded == expected[key], key
        want = (
            sum(v == "confirm" for v in expected[key].values()),
            sum(v == "disconfirm" for v in expected[key].values()),
        )
        assert sum(want) >= 2, key  # overlapping workers really met on this image
        if key in {(it.s3_image_url, it.label) for it in items0}:
            assert torn in {"confirm", "disconfirm"}, key  # exactly one of the two answers counted
            want = (want[0] + (torn == "confirm"), want[1] + (torn == "disconfirm"))
        else:
            assert torn is None
        assert counts(item) == want, key
