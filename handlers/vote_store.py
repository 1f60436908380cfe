"""Record votes in DynamoDB exactly once per (image, label, worker).

Each vote is one conditional UpdateItem that adds the worker to the item's ``WorkerVotes`` map
*and* increments the matching count, on the condition that the worker is not in the map yet.
DynamoDB applies the two changes atomically, so the counts always equal the number of votes of
each kind, however often Ground Truth redelivers a request and however many invocations race.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from handlers.answers import Vote
from handlers.settings import (
    ATTR_CONFIDENCE,
    ATTR_CONFIRM_COUNT,
    ATTR_DISCONFIRM_COUNT,
    ATTR_IMAGE_URL,
    ATTR_LABEL,
    ATTR_WORKER_VOTES,
    VOTE_CONFIRM,
    VOTE_DISCONFIRM,
)


class VoteOutcome(enum.Enum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"  # the same worker's same vote was already counted
    CONFLICT = "conflict"  # the worker was already counted with the other verdict; first one stands


def item_key(s3_image_url: str, label: str) -> dict[str, dict[str, str]]:
    return {ATTR_IMAGE_URL: {"S": s3_image_url}, ATTR_LABEL: {"S": label}}


def confidence_value(confidence: float) -> dict[str, str]:
    return {"N": str(Decimal(repr(float(confidence))))}


def _error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _ensure_vote_map(ddb: Any, table: str, vote: Vote) -> None:
    """Give an item that lacks ``WorkerVotes`` (not seeded, or seeded by the original sample) one.

    ``if_not_exists`` everywhere: this may race with another invocation doing the same, and
    must never reset what is there.
    """
    ddb.update_item(
        TableName=table,
        Key=item_key(vote.item.s3_image_url, vote.item.label),
        UpdateExpression=(
            "SET #votes = if_not_exists(#votes, :empty), #conf = if_not_exists(#conf, :conf), "
            "#yes = if_not_exists(#yes, :zero), #no = if_not_exists(#no, :zero)"
        ),
        ExpressionAttributeNames={
            "#votes": ATTR_WORKER_VOTES,
            "#conf": ATTR_CONFIDENCE,
            "#yes": ATTR_CONFIRM_COUNT,
            "#no": ATTR_DISCONFIRM_COUNT,
        },
        ExpressionAttributeValues={
            ":empty": {"M": {}},
            ":conf": confidence_value(vote.item.confidence),
            ":zero": {"N": "0"},
        },
    )


def _existing_vote(ddb: Any, table: str, vote: Vote) -> str | None:
    response = ddb.get_item(
        TableName=table,
        Key=item_key(vote.item.s3_image_url, vote.item.label),
        ProjectionExpression="#votes.#worker",
        ExpressionAttributeNames={"#votes": ATTR_WORKER_VOTES, "#worker": vote.worker_id},
        ConsistentRead=True,
    )
    recorded = response.get("Item", {}).get(ATTR_WORKER_VOTES, {}).get("M", {}).get(vote.worker_id)
    return recorded.get("S") if recorded else None


def record_vote(ddb: Any, table: str, vote: Vote) -> VoteOutcome:
    """Count ``vote`` unless this worker is already counted for this image; say which happened."""
    verdict = VOTE_CONFIRM if vote.confirmed else VOTE_DISCONFIRM
    request = {
        "TableName": table,
        "Key": item_key(vote.item.s3_image_url, vote.item.label),
        "UpdateExpression": "SET #votes.#worker = :verdict ADD #count :one",
        "ConditionExpression": "attribute_not_exists(#votes.#worker)",
        "ExpressionAttributeNames": {
            "#votes": ATTR_WORKER_VOTES,
            "#worker": vote.worker_id,
            "#count": ATTR_CONFIRM_COUNT if vote.confirmed else ATTR_DISCONFIRM_COUNT,
        },
        "ExpressionAttributeValues": {":verdict": {"S": verdict}, ":one": {"N": "1"}},
    }
    for attempt in range(2):
        try:
            ddb.update_item(**request)
            return VoteOutcome.RECORDED
        except ClientError as err:
            code = _error_code(err)
            if code == "ConditionalCheckFailedException":
                earlier = _existing_vote(ddb, table, vote)
                return VoteOutcome.DUPLICATE if earlier == verdict else VoteOutcome.CONFLICT
            # "The document path provided in the update expression is invalid": no vote map yet.
            if code == "ValidationException" and attempt == 0 and "document path" in str(err):
                _ensure_vote_map(ddb, table, vote)
                continue
            raise
    raise AssertionError("unreachable")  # pragma: no cover
