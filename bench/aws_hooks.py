"""botocore hooks the benchmark puts on its clients: a request counter and injected latency."""

from __future__ import annotations

import time
from typing import Any

from bulkqa.aws import RequestCounter

__all__ = ["RequestCounter", "add_latency"]


def add_latency(client: Any, seconds: float) -> Any:
    """Sleep ``seconds`` before every request ``client`` sends (retries included).

    This is the round trip a laptop or a Lambda function sees to real S3 and DynamoDB (the
    emulator on 127.0.0.1 answers in well under that). The sleep happens in the sending thread,
    so requests sent in parallel wait in parallel, as they would on the network.
    """
    if seconds > 0:

        def wait(**_: Any) -> None:
            time.sleep(seconds)

        client.meta.events.register("before-send", wait)
    return client
