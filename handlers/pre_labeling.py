"""Pre-labeling function: hand Ground Truth the page a task shows.

Ground Truth calls it once per manifest line: ``{"version": "2018-10-16", "labelingJobArn",
"dataObject": {"source": "<batch document JSON>"}}`` for a round's inline batch, or
``{"source-ref": "s3://.../batch.json"}`` for a release 0.1 batch file. It renders the worker
template with what we return as ``task.input``.

The answer is ``{"sourceRef": [{"s3_image_url", "label", "confidence"}, ...]}``: exactly those
three fields for every image. A gold item's known truth stays in the batch document, which only
the post-labeling function reads, so nothing on the page tells a worker which images are gold.
"""

from __future__ import annotations

import logging
from typing import Any

from handlers.aws_clients import make_client
from handlers.batch_store import load_page
from handlers.gt_events import parse_pre_annotation_event
from handlers.logs import get_logger, log

LOGGER = get_logger("bulkqa.pre_labeling")


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    parsed = parse_pre_annotation_event(event)
    s3 = make_client("s3") if parsed.data_object.s3_uri else None
    page = load_page(s3, parsed.data_object)
    log(LOGGER, logging.INFO, "task prepared", batch=page.name, items=len(page.entries))
    return {"taskInput": page.task_input(), "isHumanAnnotationRequired": True}
