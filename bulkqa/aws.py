"""AWS clients for the command line, with an optional count of the HTTP requests they send.

The request count is what the seed prints as "requests per row" and what the benchmark
compares; it counts every send, retries included, via botocore's ``before-send`` event.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3

from handlers.aws_clients import make_client, shared_session


class RequestCounter:
    """Counts requests per service and per operation across any number of clients (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_service: dict[str, int] = {}
        self.by_operation: dict[str, int] = {}  # "s3.PutObject" -> count

    def attach(self, client: Any) -> Any:
        service = client.meta.service_model.service_name

        def count(event_name: str = "", **_: Any) -> None:
            operation = f"{service}.{event_name.rsplit('.', 1)[-1]}"  # event: before-send.<service>.<Operation>
            with self._lock:
                self.by_service[service] = self.by_service.get(service, 0) + 1
                self.by_operation[operation] = self.by_operation.get(operation, 0) + 1

        client.meta.events.register("before-send", count)
        return client

    @property
    def total(self) -> int:
        return sum(self.by_service.values())


def _session(endpoint_url: str | None) -> boto3.session.Session:
    """A session; against an emulator endpoint with no credentials configured, use test keys."""
    session = shared_session()  # a new Session would load every service model again
    if endpoint_url and session.get_credentials() is None:
        session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test")
    return session


def clients(
    *services: str,
    endpoint_url: str | None = None,
    region: str | None = None,
    counter: RequestCounter | None = None,
) -> list[Any]:
    """One client per service, sharing a session; counted when ``counter`` is given."""
    session = _session(endpoint_url)
    region = region or session.region_name or ("us-east-1" if endpoint_url else None)
    made = [make_client(s, endpoint_url=endpoint_url, region=region, session=session) for s in services]
    return [counter.attach(c) for c in made] if counter else made
