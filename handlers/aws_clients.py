"""boto3 clients configured once for throttling and transient faults.

"standard" retry mode retries throttling (``ProvisionedThroughputExceededException``,
``SlowDown``) and connection errors with jittered back-off, which is what keeps a seed or a
consolidation going through a burst. ``AWS_ENDPOINT_URL`` is honoured by boto3 itself, so the
same code talks to AWS, LocalStack or moto.

Clients come from one shared session: a new ``boto3.session.Session`` loads every service model
again (about half a second per pair of clients), which a warm Lambda would pay on each invocation.
The session is replaced when the credentials or region in the environment change, so a process
that switches accounts or emulators still gets clients for the new one. Creating a client from a
session is not thread-safe; clients themselves are, so the creation alone is serialised.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config

RETRY_CONFIG = Config(
    retries={"max_attempts": 10, "mode": "standard"},
    max_pool_connections=32,
    connect_timeout=10,
    read_timeout=60,
)
# For clients that send the bulk requests our own code builds (the seed's and the vote writer's
# DynamoDB writes): botocore's parameter validation walks every attribute of every item on every
# request (about half of the client's CPU for a 100-item TransactWriteItems, measured on the
# zero-cost stub, bench/README.md) to re-check a shape our code fixed once. The service still
# validates every request; only the client-side duplicate is skipped.
BULK_CONFIG = Config(parameter_validation=False)

# What a client depends on in the environment: credentials, region (what the default session
# resolves once and then keeps) and endpoints. Whoever keeps clients for reuse (a warm function) makes
# them again when any of these changes (another account, region or endpoint).
CLIENT_ENVIRONMENT = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL_DYNAMODB",
)  # written out literally: the wiring test reads every name the handlers' code reads


def client_environment() -> tuple[str | None, ...]:
    """The values of ``CLIENT_ENVIRONMENT`` now: a key for clients kept across invocations."""
    return tuple(os.environ.get(name) for name in CLIENT_ENVIRONMENT)


_lock = threading.Lock()
_shared: dict[tuple[str | None, ...], boto3.session.Session] = {}


def _default_session() -> boto3.session.Session:
    """The session for the current environment (call with ``_lock`` held)."""
    key = client_environment()
    if key not in _shared:
        _shared.clear()
        _shared[key] = boto3.session.Session()
    return _shared[key]


def shared_session() -> boto3.session.Session:
    """The session ``make_client`` uses by default, for callers that need its region or credentials."""
    with _lock:
        return _default_session()


def make_client(
    service: str,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    session: boto3.session.Session | None = None,
    config: Config | None = None,
    bulk: bool = False,
) -> Any:
    """A thread-safe low-level client for ``service`` (thread pools share one).

    ``config`` replaces ``RETRY_CONFIG`` (the command line's interactive commands give up sooner);
    ``bulk`` adds ``BULK_CONFIG`` (no client-side parameter validation) for bulk writers.
    """
    chosen_config = config or RETRY_CONFIG
    if bulk:
        chosen_config = chosen_config.merge(BULK_CONFIG)
    with _lock:
        chosen = session or _default_session()
        return chosen.client(service, endpoint_url=endpoint_url, region_name=region, config=chosen_config)
