"""Record votes in DynamoDB exactly once per (image, label, worker); record worker pages once.

One conditional UpdateItem per image carries every worker's vote of a request::

    SET WorkerVotes.#w0 = :v0, WorkerVotes.#w1 = :v1 ADD WorkerConfirmCount :yes, WorkerDisconfirmCount :no
    IF attribute_not_exists(WorkerVotes.#w0) AND attribute_not_exists(WorkerVotes.#w1)

DynamoDB applies it atomically, so the counts always equal the entries of each kind, whatever the
redelivery and however many invocations race. When the condition fails, some of those workers are
already counted (an earlier, maybe partial, delivery, or a racing invocation): the item as it was
comes back with the failure (``ReturnValuesOnConditionCheckFailure``), and the update is sent again
for the workers not in it yet -- per vote, in effect, but only for the votes that still need it.
Each failed attempt removes at least one worker, so an image takes at most workers + 1 attempts;
the common case (a first delivery) takes one request, a full redelivery one failed request.

The item after the write (``ReturnValues=ALL_NEW``, or the old item when nothing was added) is what
the consolidation response reports: when a worker's earlier opposite vote stands, the response
says so, instead of repeating the request.
"""

from __future__ import annotations

import enum
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
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
from handlers.worker_pages import WorkerPage

GET_CHUNK = 100  # BatchGetItem's limit
GET_ROUNDS = 12


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


def _is_missing_vote_map(err: ClientError) -> bool:
    """ "The document path provided in the update expression is invalid": the item has no vote map."""
    return _error_code(err) == "ValidationException" and "document path" in str(err)


@dataclass(frozen=True)
class StoredPair:
    """What the table holds for one pair: the totals and every worker's verdict."""

    confirm: int = 0
    disconfirm: int = 0
    votes: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_item(cls, item: Mapping[str, Any] | None) -> StoredPair:
        item = item or {}

        def number(name: str) -> int:
            value = item.get(name, {})
            return int(Decimal(value["N"])) if isinstance(value, Mapping) and "N" in value else 0

        raw = item.get(ATTR_WORKER_VOTES, {})
        votes = raw.get("M", {}) if isinstance(raw, Mapping) else {}
        return cls(
            number(ATTR_CONFIRM_COUNT),
            number(ATTR_DISCONFIRM_COUNT),
            {worker: value.get("S", "") for worker, value in votes.items() if isinstance(value, Mapping)},
        )


@dataclass
class PairVotes:
    """One request's votes on one (image, label) pair: worker -> verdict, first answer first."""

    s3_image_url: str
    label: str
    confidence: float
    verdicts: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.s3_image_url, self.label)


@dataclass
class PairResult:
    """The pair after the write, and what became of each of this request's votes."""

    stored: StoredPair
    outcomes: dict[str, VoteOutcome]
    requests: int


def _pair_update(table: str, pair: PairVotes, pending: Mapping[str, str]) -> dict[str, Any]:
    names = {"#votes": ATTR_WORKER_VOTES}
    values: dict[str, Any] = {}
    sets, conditions = [], []
    for n, (worker, verdict) in enumerate(pending.items()):
        names[f"#w{n}"] = worker
        values[f":v{n}"] = {"S": verdict}
        sets.append(f"#votes.#w{n} = :v{n}")
        conditions.append(f"attribute_not_exists(#votes.#w{n})")
    adds = []
    for verdict, attribute, alias in (
        (VOTE_CONFIRM, ATTR_CONFIRM_COUNT, "yes"),
        (VOTE_DISCONFIRM, ATTR_DISCONFIRM_COUNT, "no"),
    ):
        count = sum(v == verdict for v in pending.values())
        if count:
            names[f"#{alias}"] = attribute
            values[f":{alias}"] = {"N": str(count)}
            adds.append(f"#{alias} :{alias}")
    expression = "SET " + ", ".join(sets) + (" ADD " + ", ".join(adds) if adds else "")
    return {
        "TableName": table,
        "Key": item_key(pair.s3_image_url, pair.label),
        "UpdateExpression": expression,
        "ConditionExpression": " AND ".join(conditions),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ReturnValues": "ALL_NEW",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def _ensure_vote_map(ddb: Any, table: str, s3_image_url: str, label: str, confidence: float) -> None:
    """Give an item that lacks ``WorkerVotes`` (not seeded, or seeded by the original sample) one.

    ``if_not_exists`` everywhere: this may race with another invocation doing the same, and
    must never reset what is there.
    """
    ddb.update_item(
        TableName=table,
        Key=item_key(s3_image_url, label),
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
            ":conf": confidence_value(confidence),
            ":zero": {"N": "0"},
        },
    )


def _read_pair(ddb: Any, table: str, s3_image_url: str, label: str) -> StoredPair:
    response = ddb.get_item(
        TableName=table,
        Key=item_key(s3_image_url, label),
        ProjectionExpression="#votes, #yes, #no",
        ExpressionAttributeNames={
            "#votes": ATTR_WORKER_VOTES,
            "#yes": ATTR_CONFIRM_COUNT,
            "#no": ATTR_DISCONFIRM_COUNT,
        },
        ConsistentRead=True,
    )
    return StoredPair.from_item(response.get("Item"))


def record_pair_votes(ddb: Any, table: str, pair: PairVotes) -> PairResult:
    """Count each of ``pair``'s votes unless its worker is already counted; return the stored pair."""
    pending = dict(pair.verdicts)
    outcomes: dict[str, VoteOutcome] = {}
    requests = 0
    ensured = False
    while pending:
        requests += 1
        try:
            response = ddb.update_item(**_pair_update(table, pair, pending))
        except ClientError as err:
            if _error_code(err) == "ConditionalCheckFailedException":
                old = err.response.get("Item")
                if old is None:  # an endpoint that does not return it: read it (consistent)
                    requests += 1
                    stored = _read_pair(ddb, table, pair.s3_image_url, pair.label)
                else:
                    stored = StoredPair.from_item(old)
                counted = [worker for worker in pending if worker in stored.votes]
                if not counted:  # cannot happen with DynamoDB's semantics; never loop on it
                    raise
                for worker in counted:
                    earlier = stored.votes[worker]
                    outcomes[worker] = VoteOutcome.DUPLICATE if earlier == pending.pop(worker) else VoteOutcome.CONFLICT
                if not pending:
                    return PairResult(stored, outcomes, requests)
                continue
            if _is_missing_vote_map(err) and not ensured:
                requests += 1
                _ensure_vote_map(ddb, table, pair.s3_image_url, pair.label, pair.confidence)
                ensured = True
                continue
            raise
        outcomes.update({worker: VoteOutcome.RECORDED for worker in pending})
        return PairResult(StoredPair.from_item(response.get("Attributes")), outcomes, requests)
    return PairResult(_read_pair(ddb, table, pair.s3_image_url, pair.label), outcomes, requests + 1)


def read_pairs(
    ddb: Any,
    table: str,
    keys: Sequence[tuple[str, str]],
    sleep: Callable[[float], None] = time.sleep,
) -> dict[tuple[str, str], StoredPair]:
    """The stored state of pairs no vote of this request touched (consistent BatchGetItem, chunks of 100)."""
    found: dict[tuple[str, str], StoredPair] = {key: StoredPair() for key in keys}
    projection = {
        "ProjectionExpression": "#url, #label, #votes, #yes, #no",
        "ExpressionAttributeNames": {
            "#url": ATTR_IMAGE_URL,
            "#label": ATTR_LABEL,
            "#votes": ATTR_WORKER_VOTES,
            "#yes": ATTR_CONFIRM_COUNT,
            "#no": ATTR_DISCONFIRM_COUNT,
        },
    }
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), GET_CHUNK):
        request = {
            table: {
                "Keys": [item_key(*key) for key in unique[start : start + GET_CHUNK]],
                "ConsistentRead": True,
                **projection,
            }
        }
        for attempt in range(GET_ROUNDS):
            response = ddb.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(table, []):
                found[(item[ATTR_IMAGE_URL]["S"], item[ATTR_LABEL]["S"])] = StoredPair.from_item(item)
            request = response.get("UnprocessedKeys") or {}
            if not request.get(table, {}).get("Keys"):
                break
            sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random() / 2))
        else:
            raise RuntimeError(f"DynamoDB left keys of {table} unprocessed after {GET_ROUNDS} rounds")
    return found


def record_worker_page(ddb: Any, table: str, page: WorkerPage) -> tuple[WorkerPage, bool]:
    """Write ``page`` unless this worker's record of that page exists; return the stored one and
    whether this call wrote it (a redelivered page keeps its first record)."""
    try:
        ddb.put_item(
            TableName=table,
            Item=page.to_item(),
            ConditionExpression="attribute_not_exists(#pk)",
            ExpressionAttributeNames={"#pk": ATTR_IMAGE_URL},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as err:
        if _error_code(err) != "ConditionalCheckFailedException":
            raise
        old = err.response.get("Item")
        if old is None:
            old = ddb.get_item(TableName=table, Key=page.key(), ConsistentRead=True).get("Item")
        return WorkerPage.from_item(old), False
    return page, True


# --- One vote at a time: kept for callers that record a single vote (tests, tools). ---


def record_vote(ddb: Any, table: str, vote: Vote) -> VoteOutcome:
    """Count ``vote`` unless this worker is already counted for this image; say which happened."""
    pair = PairVotes(vote.item.s3_image_url, vote.item.label, vote.item.confidence, {vote.worker_id: vote.verdict})
    return record_pair_votes(ddb, table, pair).outcomes[vote.worker_id]
