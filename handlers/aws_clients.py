"""boto3 clients configured once for throttling and transient faults.

"standard" retry mode retries throttling (``ProvisionedThroughputExceededException``,
``SlowDown``) and connection errors with jittered back-off, which is what keeps a seed or a
consolidation going through a burst. ``AWS_ENDPOINT_URL`` is honoured by boto3 itself, so the
same code talks to AWS, LocalStack or moto.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

RETRY_CONFIG = Config(
    retries={"max_attempts": 10, "mode": "standard"},
    max_pool_connections=32,
    connect_timeout=10,
    read_timeout=60,
)


def make_client(
    service: str,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    session: boto3.session.Session | None = None,
) -> Any:
    """A thread-safe low-level client for ``service`` (thread pools share one)."""
    session = session or boto3.session.Session()
    return session.client(service, endpoint_url=endpoint_url, region_name=region, config=RETRY_CONFIG)
