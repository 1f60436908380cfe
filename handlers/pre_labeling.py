"""Pre-labeling function: hand Ground Truth the batch a task shows.

Ground Truth calls it once per manifest line with ``{"version": "2018-10-16", "labelingJobArn",
"dataObject": {"source-ref": "s3://.../batch.json"}}`` (or ``"source"`` with the batch inline)
and renders the worker template with what it returns as ``task.input``.
"""

from __future__ import annotations

import logging
from typing import Any

from handlers.aws_clients import make_client
from handlers.batch_store import load_batch
from handlers.gt_events import parse_pre_annotation_event
from handlers.logs import get_logger, log

LOGGER = get_logger("bulkqa.pre_labeling")


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    parsed = parse_pre_annotation_event(event)
    s3 = make_client("s3") if parsed.data_object.s3_uri else None
    items = load_batch(s3, parsed.data_object)
    log(LOGGER, logging.INFO, "task prepared", dataObject=parsed.data_object.name, items=len(items))
    return {
        "taskInput": {"sourceRef": [item.to_json() for item in items]},
        "isHumanAnnotationRequired": True,
    }
