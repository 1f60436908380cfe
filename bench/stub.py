"""A zero-cost AWS for latency runs: a botocore ``before-send`` hook that answers from memory.

Why: against moto every request costs the shared 2-core machine 2-3 ms of emulator CPU, so the
emulator, not BulkQA, sets the pace, and injected latency hides behind it. Here a request costs
nothing but the client's own work (serialising, signing, parsing) plus the injected ``latency``
(slept in the sending thread, so parallel requests wait in parallel, as on the network). What is
left is BulkQA's own cost and the round trips it chains: the floor it can be compared with.

Every answer is a valid response of the real service's protocol, canned per operation:

- DynamoDB: ``{}`` (no items exist, nothing unprocessed; a transaction succeeds), except that
  ``UpdateItem`` with ``ReturnValues=ALL_NEW`` returns the item a first write would leave (key,
  the ``SET`` map entries, the ``ADD`` counts), which is what the vote writer reads back;
- S3: objects kept in a dict (``PutObject``/``GetObject``/``HeadObject``/``ListObjectsV2``/
  ``DeleteObject``; a missing key is a 404 ``NoSuchKey``), so a payload put can be read back.

The log records each request's service, operation, thread and start/end time: requests by type,
and the **rounds on the critical path** (:func:`critical_rounds`), from which the latency floor is
``rounds x latency``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore.awsrequest import AWSResponse

_SET_ENTRY = re.compile(r"(#[\w]+)\.(#[\w]+)\s*=\s*(:[\w]+)")
_ADD_ENTRY = re.compile(r"(#[\w]+)\s+(:[\w]+)")


class _Raw:
    """The raw body botocore reads a response from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body

    def read(self, *_: Any, **__: Any) -> bytes:
        body, self._body = self._body, b""
        return body


@dataclass(frozen=True)
class Request:
    service: str
    operation: str
    thread: int
    start: float
    end: float


@dataclass
class StubAws:
    """Attach to clients with :meth:`attach`; read the log afterwards."""

    latency: float = 0.0
    log: list[Request] = field(default_factory=list)
    objects: dict[tuple[str, str], bytes] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _params: threading.local = field(default_factory=threading.local)

    def attach(self, client: Any) -> Any:
        events = client.meta.events
        events.register("before-parameter-build", self._remember)
        events.register("before-send", self._answer)
        return client

    def reset(self) -> None:
        with self._lock:
            self.log.clear()

    # --- hooks ---
    def _remember(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self._params.value = (model.name, dict(params))

    def _answer(self, request: Any, event_name: str, **_: Any) -> AWSResponse:
        start = time.perf_counter()
        _, service, operation = event_name.split(".", 2)
        if self.latency:
            time.sleep(self.latency)
        name, params = getattr(self._params, "value", (operation, {}))
        params = params if name == operation else {}
        if service == "s3":
            status, headers, body = self._s3(operation, params, request)
        else:
            status, headers, body = 200, {"x-amzn-RequestId": "stub"}, self._dynamodb(operation, request)
        with self._lock:
            self.log.append(Request(service, operation, threading.get_ident(), start, time.perf_counter()))
        return AWSResponse(request.url, status, headers, _Raw(body))

    # --- the services ---
    @staticmethod
    def _dynamodb(operation: str, request: Any) -> bytes:
        if operation != "UpdateItem":
            return b"{}"
        data = json.loads(request.body or b"{}")
        if data.get("ReturnValues") != "ALL_NEW":
            return b"{}"
        names, values = data.get("ExpressionAttributeNames", {}), data.get("ExpressionAttributeValues", {})
        item: dict[str, Any] = dict(data.get("Key", {}))
        expression = data.get("UpdateExpression", "")
        set_part, _, add_part = expression.partition(" ADD ")
        for map_name, entry, value in _SET_ENTRY.findall(set_part):
            item.setdefault(names[map_name], {"M": {}})["M"][names[entry]] = values[value]
        for attribute, value in _ADD_ENTRY.findall(add_part):
            item[names[attribute]] = values[value]
        return json.dumps({"Attributes": item}).encode()

    def _s3(self, operation: str, params: dict[str, Any], request: Any) -> tuple[int, dict[str, str], bytes]:
        bucket, key = params.get("Bucket"), params.get("Key")
        if bucket is None:  # not captured (e.g. a presigned call): read the path-style URL
            path = unquote(urlsplit(request.url).path).lstrip("/")
            bucket, _, key = path.partition("/")
        headers = {"x-amz-request-id": "stub"}
        if operation == "PutObject":
            body = params.get("Body", b"")
            data = body.read() if hasattr(body, "read") else (body.encode() if isinstance(body, str) else body)
            with self._lock:
                self.objects[(bucket, key)] = bytes(data or b"")
            return 200, {**headers, "ETag": '"stub"'}, b""
        if operation in {"GetObject", "HeadObject"}:
            data = self.objects.get((bucket, key))
            if data is None:
                error = b"<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>"
                return 404, headers, b"" if operation == "HeadObject" else error
            length = {"Content-Length": str(len(data)), "ETag": '"stub"'}
            return 200, {**headers, **length}, b"" if operation == "HeadObject" else data
        if operation == "ListObjectsV2":
            prefix = params.get("Prefix", "")
            keys = sorted(k for b, k in list(self.objects) if b == bucket and k.startswith(prefix))[:1000]
            contents = "".join(f"<Contents><Key>{k}</Key><Size>1</Size></Contents>" for k in keys)
            xml = (
                f"<ListBucketResult><Name>{bucket}</Name><Prefix>{prefix}</Prefix><KeyCount>{len(keys)}</KeyCount>"
                f"<IsTruncated>false</IsTruncated>{contents}</ListBucketResult>"
            )
            return 200, headers, xml.encode()
        if operation == "DeleteObject":
            with self._lock:
                self.objects.pop((bucket, key), None)
            return 204, headers, b""
        return 200, headers, b""

    # --- figures ---
    def by_operation(self) -> dict[str, int]:
        return dict(sorted(Counter(f"{r.service}:{r.operation}" for r in self.log).items()))

    def total(self) -> int:
        return len(self.log)


def critical_rounds(log: list[Request]) -> int:
    """The most requests that happened one after another: the round trips on the critical path.

    Any set of requests whose time intervals do not overlap was sent one after the other, so no
    client could have finished sooner than that many round trips; the largest such set is found by
    the classic greedy (earliest end first). Measured on a run with latency, where each request's
    interval is at least the latency, the count is the sequential chain the code really built.
    """
    rounds, last_end = 0, float("-inf")
    for request in sorted(log, key=lambda r: r.end):
        if request.start >= last_end:
            rounds += 1
            last_end = request.end
    return rounds
