"""Annotation consolidation: read Ground Truth's payload, count votes, build the response.

Failure policy (Ground Truth delivers at least once and retries a failed invocation):
- one worker's unreadable answer is logged with the object and worker id and skipped;
- one dataset object that cannot be resolved (missing batch file, bad JSON) is logged and left
  out of the response, so Ground Truth reports that object as failed -- the others still count;
- a failure talking to DynamoDB raises, so the whole request is retried; the conditional
  per-vote writes make that retry harmless.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from handlers.answers import AnnotationError, Vote, parse_worker_answer
from handlers.batch_store import BatchNotFoundError, load_batch, read_s3_text
from handlers.batching import QueueItem
from handlers.gt_events import (
    ConsolidationEvent,
    DatasetObject,
    EventError,
    parse_dataset_object,
)
from handlers.logs import get_logger, log
from handlers.vote_store import VoteOutcome, record_vote

LOGGER = get_logger("bulkqa.post_labeling")
VOTE_WRITERS = 8


@dataclass
class ObjectVotes:
    """The votes one dataset object yielded, with its batch."""

    dataset_object_id: str
    batch_name: str
    items: list[QueueItem]
    worker_ids: list[str] = field(default_factory=list)
    votes: list[Vote] = field(default_factory=list)


def read_payload(s3: Any, event: ConsolidationEvent) -> list[Any]:
    """The list of dataset objects at ``payload.s3Uri``; a missing or bad file raises, naming it."""
    raw = read_s3_text(s3, event.payload_s3_uri)
    try:
        payload = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise EventError(f"payload {event.payload_s3_uri} is not valid JSON: {err}") from err
    if not isinstance(payload, list):
        raise EventError(f"payload {event.payload_s3_uri} must be a JSON list of dataset objects")
    return payload


def collect_votes(dataset_object: DatasetObject, items: list[QueueItem], batch_name: str) -> ObjectVotes:
    """Parse each worker's answer (pure); skip unreadable ones and repeated worker ids."""
    result = ObjectVotes(dataset_object.dataset_object_id, batch_name, items)
    for annotation in dataset_object.annotations:
        worker = annotation.worker_id
        fields = {"datasetObjectId": dataset_object.dataset_object_id, "workerId": worker}
        if isinstance(worker, str) and worker in result.worker_ids:
            log(LOGGER, logging.WARNING, "repeated annotation from the same worker ignored", **fields)
            continue
        try:
            answer = parse_worker_answer(worker, annotation.content, items)
        except AnnotationError as err:
            log(LOGGER, logging.ERROR, f"malformed annotation skipped: {err}", **fields)
            continue
        for note in answer.notes:
            log(LOGGER, logging.WARNING, note, **fields)
        result.worker_ids.append(answer.worker_id)
        result.votes.extend(answer.votes)
    return result


def summarise(object_votes: ObjectVotes) -> dict[str, Any]:
    """The consolidated annotation of one batch: per image, who confirmed and who did not."""
    images = []
    for index, item in enumerate(object_votes.items):
        confirmed = [v.worker_id for v in object_votes.votes if v.index == index and v.confirmed]
        disconfirmed = [v.worker_id for v in object_votes.votes if v.index == index and not v.confirmed]
        images.append(
            {
                "index": index,
                "s3_image_url": item.s3_image_url,
                "label": item.label,
                "confidence": item.confidence,
                "WorkerConfirmCount": len(confirmed),
                "WorkerDisconfirmCount": len(disconfirmed),
                "confirmedBy": confirmed,
                "disconfirmedBy": disconfirmed,
            }
        )
    return {
        "batch": object_votes.batch_name,
        "label": object_votes.items[0].label if object_votes.items else None,
        "workers": object_votes.worker_ids,
        "images": images,
    }


def _resolve(s3: Any, entry: Any, position: int, cache: dict[str, list[QueueItem]]) -> ObjectVotes | None:
    try:
        dataset_object = parse_dataset_object(entry, position)
        ref = dataset_object.data_object
        if ref.s3_uri is None or ref.s3_uri not in cache:
            items = load_batch(s3, ref)
            if ref.s3_uri is not None:
                cache[ref.s3_uri] = items
        else:
            items = cache[ref.s3_uri]
    except (EventError, BatchNotFoundError, ValueError) as err:
        log(LOGGER, logging.ERROR, f"dataset object skipped: {err}", position=position)
        return None
    return collect_votes(dataset_object, items, ref.name)


def consolidate(s3: Any, ddb: Any, table: str, event: ConsolidationEvent) -> list[dict[str, Any]]:
    """Count every vote of the request once and return Ground Truth's consolidation response."""
    payload = read_payload(s3, event)
    cache: dict[str, list[QueueItem]] = {}
    resolved = [r for position, entry in enumerate(payload) if (r := _resolve(s3, entry, position, cache))]

    all_votes = [vote for obj in resolved for vote in obj.votes]
    with ThreadPoolExecutor(max_workers=VOTE_WRITERS) as pool:
        outcomes = list(pool.map(lambda vote: record_vote(ddb, table, vote), all_votes))
    _log_outcomes(all_votes, outcomes)

    return [
        {
            "datasetObjectId": obj.dataset_object_id,
            "consolidatedAnnotation": {"content": {event.label_attribute_name: summarise(obj)}},
        }
        for obj in resolved
    ]


def _log_outcomes(votes: Sequence[Vote], outcomes: Sequence[VoteOutcome]) -> None:
    counts = {outcome.value: 0 for outcome in VoteOutcome}
    for vote, outcome in zip(votes, outcomes, strict=True):
        counts[outcome.value] += 1
        if outcome is VoteOutcome.CONFLICT:
            log(
                LOGGER,
                logging.WARNING,
                "worker already counted with the other verdict; the first vote stands",
                workerId=vote.worker_id,
                s3_image_url=vote.item.s3_image_url,
                label=vote.item.label,
            )
    log(LOGGER, logging.INFO, "votes consolidated", **counts)
