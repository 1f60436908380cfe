"""Post-labeling (annotation consolidation) function: count the workers' votes.

Ground Truth calls it with ``{"version", "labelingJobArn", "labelCategories",
"labelAttributeName", "roleArn", "payload": {"s3Uri"}}`` and expects one entry per
``datasetObjectId`` back. The work is in ``handlers.consolidation``; see there for the failure
policy and ``handlers.vote_store`` for why redelivery is harmless.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from handlers.aws_clients import make_client
from handlers.consolidation import consolidate
from handlers.gt_events import parse_consolidation_event
from handlers.logs import get_logger, log
from handlers.settings import ENV_TABLE_NAME

LOGGER = get_logger("bulkqa.post_labeling")


def handler(event: dict[str, Any], context: Any = None) -> list[dict[str, Any]]:
    parsed = parse_consolidation_event(event)
    table = os.environ[ENV_TABLE_NAME]
    log(LOGGER, logging.INFO, "consolidating", payload=parsed.payload_s3_uri, job=parsed.labeling_job_arn)
    return consolidate(make_client("s3"), make_client("dynamodb"), table, parsed)
