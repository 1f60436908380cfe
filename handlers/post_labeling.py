"""Post-labeling (annotation consolidation) function: count the workers' votes.

Ground Truth calls it with ``{"version", "labelingJobArn", "labelCategories",
"labelAttributeName", "roleArn", "payload": {"s3Uri"}}`` and expects one entry per
``datasetObjectId`` back. The work is in ``handlers.consolidation``; see there for the failure
policy and ``handlers.vote_store`` for why redelivery is harmless.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from handlers.aws_clients import client_environment, make_client
from handlers.consolidation import consolidate
from handlers.gt_events import parse_consolidation_event
from handlers.logs import get_logger, log
from handlers.settings import ENV_TABLE_NAME

LOGGER = get_logger("bulkqa.post_labeling")


_clients: dict[tuple[Any, ...], tuple[Any, Any]] = {}
_clients_lock = threading.Lock()


def _warm_clients() -> tuple[Any, Any]:
    """S3 and DynamoDB (a bulk writer) clients, made once per warm function: making a pair costs
    ≈ 50 ms of CPU, as much as the consolidation of a 25-image page itself (bench/README.md).
    Keyed by the environment they were made from (and by ``make_client``, which a test may replace),
    so a process that switches account, region or endpoint gets new ones."""
    key = (make_client, *client_environment())
    with _clients_lock:
        if key not in _clients:
            _clients.clear()
            _clients[key] = (make_client("s3"), make_client("dynamodb", bulk=True))
        return _clients[key]


def handler(event: dict[str, Any], context: Any = None) -> list[dict[str, Any]]:
    parsed = parse_consolidation_event(event)
    table = os.environ[ENV_TABLE_NAME]
    log(LOGGER, logging.INFO, "consolidating", payload=parsed.payload_s3_uri, job=parsed.labeling_job_arn)
    s3, ddb = _warm_clients()
    return consolidate(s3, ddb, table, parsed)
