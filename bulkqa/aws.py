"""AWS clients for the command line, with an optional count of the HTTP requests they send.

The request count is what the seed prints as "requests per row" and what the benchmark
compares; it counts every send, retries included, via botocore's ``before-send`` event.

The first failures a user meets are set-up failures, so this module turns them into one line
each, before any request is made:

- no region anywhere (``--region``, ``AWS_REGION``, ``AWS_DEFAULT_REGION``, the AWS config, or
  the stack's outputs): ``AwsSetupError`` (exit 2, it is a usage problem);
- an endpoint that does not answer (an emulator not started, a mistyped port): a TCP probe of
  ``--endpoint-url`` with a short timeout raises ``AwsUnreachableError`` (exit 3) within seconds,
  instead of botocore's retries with back-off (about 20 s) and then an HTML error page.

Interactive commands (``interactive=True``) also get a short connect timeout and few retries.
Bulk writers keep the generous retry configuration of ``handlers.aws_clients``: throttling there
is expected and must be ridden out, not reported.

boto3 is imported on first use: ``bulkqa report --input results.csv`` never needs it.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

# An interactive command should fail within a few seconds when AWS cannot be reached.
CONNECT_TIMEOUT_SECONDS = 3
PROBE_TIMEOUT_SECONDS = 3
INTERACTIVE_ATTEMPTS = 3  # one call and two retries, each with sub-second back-off
NO_REGION_MESSAGE = "no AWS region: pass --region REGION or set AWS_REGION (e.g. us-east-1)"
ENDPOINT_HINT = "hint: start the emulator, or check --endpoint-url and AWS_ENDPOINT_URL"
_ARN_REGION = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:([a-z]{2}(?:-[a-z]+)+-\d):")


class AwsSetupError(Exception):
    """AWS is not set up enough to send a request (no region): a usage problem, exit 2."""

    exit_code = 2


class AwsUnreachableError(Exception):
    """The endpoint does not answer: an AWS problem, exit 3; the message says what to check."""

    exit_code = 3


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


def region_from_outputs(outputs: Mapping[str, Any]) -> str | None:
    """The stack's region: its ``region`` output, else the region of the first regional ARN in it."""
    region = outputs.get("region") or outputs.get("aws_region")
    if isinstance(region, str) and region:
        return region
    for value in outputs.values():
        match = _ARN_REGION.match(value) if isinstance(value, str) else None
        if match:
            return match.group(1)
    return None


def resolve_region(region: str | None, endpoint_url: str | None, configured: str | None) -> str:
    """``--region``, else ``AWS_REGION``/``AWS_DEFAULT_REGION``/the AWS config, else us-east-1 for an
    emulator (which ignores it); with none of them raise ``AwsSetupError`` naming what to set.

    botocore reads ``AWS_DEFAULT_REGION`` but not ``AWS_REGION``, which most other AWS tools read.
    """
    chosen = region or os.environ.get("AWS_REGION") or configured
    if chosen:
        return chosen
    if endpoint_url:
        return "us-east-1"
    raise AwsSetupError(NO_REGION_MESSAGE)


def effective_endpoint(endpoint_url: str | None, service: str) -> str | None:
    """The endpoint a client will use when one is configured (``--endpoint-url`` or the environment)."""
    specific = f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}"
    return endpoint_url or os.environ.get(specific) or os.environ.get("AWS_ENDPOINT_URL") or None


def probe_endpoint(endpoint_url: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> None:
    """Open and close one TCP connection to ``endpoint_url``; raise ``AwsUnreachableError`` if that fails.

    One connection costs about a millisecond locally; without it a closed port costs botocore's
    whole retry budget before the user learns anything. Skipped behind an HTTP(S) proxy, which is
    what the client would talk to.
    """
    parts = urlsplit(endpoint_url)
    if not parts.hostname or parts.scheme not in ("http", "https"):
        raise AwsSetupError(f"endpoint {endpoint_url!r} is not an http:// or https:// URL")
    proxy = os.environ.get("HTTPS_PROXY" if parts.scheme == "https" else "HTTP_PROXY") or os.environ.get(
        "https_proxy" if parts.scheme == "https" else "http_proxy"
    )
    if proxy:
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as err:
        raise AwsSetupError(f"endpoint {endpoint_url!r}: {err}") from err
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            pass
    except OSError as err:
        reason = "timed out" if isinstance(err, TimeoutError) else (err.strerror or str(err))
        raise AwsUnreachableError(f"cannot reach {endpoint_url} ({reason})\n{ENDPOINT_HINT}") from err


def _interactive_config() -> Any:
    from botocore.config import Config

    return Config(
        retries={"mode": "standard", "total_max_attempts": INTERACTIVE_ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=60,
        max_pool_connections=32,
    )


def _session(endpoint_url: str | None) -> Any:
    """A session; against an emulator endpoint with no credentials configured, use test keys."""
    import boto3

    from handlers.aws_clients import shared_session

    session = shared_session()  # a new Session would load every service model again
    if endpoint_url and session.get_credentials() is None:
        session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test")
    return session


def clients(
    *services: str,
    endpoint_url: str | None = None,
    region: str | None = None,
    counter: RequestCounter | None = None,
    interactive: bool = False,
    bulk: Sequence[str] = (),
) -> list[Any]:
    """One client per service, sharing a session; counted when ``counter`` is given.

    Raises ``AwsSetupError`` (no region) or ``AwsUnreachableError`` (the endpoint does not
    answer) before any request; ``interactive`` clients time out and give up quickly; the
    services in ``bulk`` get ``handlers.aws_clients.BULK_CONFIG`` (bulk writers, see there).
    """
    from handlers.aws_clients import make_client

    session = _session(endpoint_url)
    region = resolve_region(region, endpoint_url, session.region_name)
    for endpoint in dict.fromkeys(filter(None, (effective_endpoint(endpoint_url, s) for s in services))):
        probe_endpoint(endpoint)
    config = _interactive_config() if interactive else None
    made = [
        make_client(s, endpoint_url=endpoint_url, region=region, session=session, config=config, bulk=s in bulk)
        for s in services
    ]
    return [counter.attach(c) for c in made] if counter else made


def aws_errors() -> tuple[type[BaseException], ...]:
    """The exception classes an AWS call raises, for ``except aws_errors():`` in code that must not
    import botocore up front. If botocore was never imported, no AWS call was made: nothing to catch."""
    errors: tuple[type[BaseException], ...] = (AwsSetupError, AwsUnreachableError)
    module = sys.modules.get("botocore.exceptions")
    if module is not None:
        errors += (module.BotoCoreError, module.ClientError)
    return errors


def describe_aws_error(error: BaseException) -> str:
    """One line for an AWS failure, and a second line "hint: ..." when the cause is the set-up."""
    if isinstance(error, (AwsSetupError, AwsUnreachableError)):
        return str(error)
    module = sys.modules.get("botocore.exceptions")
    text = " ".join(str(error).split())  # one line, whatever the error text holds
    if module is None:
        return text
    if isinstance(error, module.NoRegionError):
        return NO_REGION_MESSAGE
    if isinstance(error, module.NoCredentialsError):
        return f"{text}\nhint: configure credentials (aws configure, AWS_PROFILE) or pass --endpoint-url"
    if isinstance(error, (module.EndpointConnectionError, module.ConnectTimeoutError)):
        return f"{text}\n{ENDPOINT_HINT}"
    if isinstance(error, module.ClientError):
        headers = error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        if "html" in str(headers.get("content-type", "")).lower():
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
            operation = getattr(error, "operation_name", "the request")
            return f"{operation} got an HTML page (HTTP {status}), not an AWS answer\n{ENDPOINT_HINT}, and any proxy"
    return text
