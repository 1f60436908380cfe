"""Round items in DynamoDB: the round's metadata (kind ``round``) and its round-pair items.

Why a module of its own: the seed writes these items, ``bulkqa rounds list`` / ``adopt`` and the
report read them. The layout is in docs/ARCHITECTURE.md ("Rounds"); keys come from
``handlers.rounds``. The low-level client is used throughout (the Lambda package is stdlib +
boto3), so values are spelled as DynamoDB attribute values here, once.

The metadata item is written last by a seed and conditionally: a new round only if the item does
not exist, a new part only if the item still has exactly the parts the seed read. Two seeds of one
round racing cannot both commit, and a crash before the metadata leaves the round as it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from handlers.dynamo_batches import get_all, write_all
from handlers.rounds import (
    BatchDocument,
    parse_batch_document_json,
    round_meta_key,
    round_pair_key,
    round_pair_partitions,
)
from handlers.s3_uri import parse_s3_uri
from handlers.settings import (
    ATTR_BATCH,
    ATTR_CONFIDENCE,
    ATTR_IMAGE_URL,
    ATTR_KIND,
    ATTR_LABEL,
    ATTR_PAIR_LABEL,
    ATTR_PAIR_URL,
    ATTR_PART,
    ATTR_ROUND,
    ATTR_STATE,
    KIND_ROUND,
    KIND_ROUND_PAIR,
    ROUNDS_PARTITION,
)


class RoundConflictError(RuntimeError):
    """Another seed changed the round's metadata between our read and our write."""


# --- Attribute values (the subset these items use). ---


def to_attr(value: Any) -> dict[str, Any]:
    """A Python value as a DynamoDB attribute value (str, int, float, bool, None, list, dict)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float)):
        return {"N": str(Decimal(repr(value)) if isinstance(value, float) else value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (list, tuple)):
        return {"L": [to_attr(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {str(k): to_attr(v) for k, v in value.items()}}
    raise TypeError(f"cannot store {type(value).__name__} in a round item")


def from_attr(attr: dict[str, Any]) -> Any:
    """The inverse of ``to_attr``; a number with no fraction comes back as int."""
    ((kind, value),) = attr.items()
    if kind == "NULL":
        return None
    if kind in ("S", "BOOL"):
        return value
    if kind == "N":
        if any(ch in value for ch in ".eE"):
            return float(Decimal(value))
        return int(value)
    if kind == "L":
        return [from_attr(v) for v in value]
    if kind == "M":
        return {k: from_attr(v) for k, v in value.items()}
    raise TypeError(f"unexpected attribute type {kind!r} in a round item")


# --- The round's metadata. ---


@dataclass
class RoundPart:
    """One seed of the round (``--extend`` adds one): its input and what it did."""

    part: int
    input_sha256: str
    created: str
    rows_read: int = 0  # data rows in the CSV (bad ones included)
    problems: int = 0
    below_threshold: int = 0
    queued: int = 0
    reused: int = 0
    accepted: int = 0
    sampled_out: int = 0
    already_in_round: int = 0  # rows of an --extend part whose pair an earlier part has
    batches: int = 0
    manifest_uri: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """Pairs this part stored in the round (every state)."""
        return self.queued + self.reused + self.accepted + self.sampled_out

    def to_json(self) -> dict[str, Any]:
        return {
            "part": self.part,
            "input_sha256": self.input_sha256,
            "created": self.created,
            "rows": self.rows,
            "rows_read": self.rows_read,
            "problems": self.problems,
            "below_threshold": self.below_threshold,
            "queued": self.queued,
            "reused": self.reused,
            "accepted": self.accepted,
            "sampled_out": self.sampled_out,
            "already_in_round": self.already_in_round,
            "batches": self.batches,
            "manifest_uri": self.manifest_uri,
            "options": self.options,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RoundPart:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


@dataclass
class RoundMeta:
    name: str
    created: str
    batch_size: int
    parts: list[RoundPart] = field(default_factory=list)
    adopted: bool = False  # registered by `bulkqa rounds adopt` from a release-0.1 table

    def totals(self) -> dict[str, int]:
        keys = ("rows", "rows_read", "queued", "reused", "accepted", "sampled_out", "below_threshold", "batches")
        return {key: sum(getattr(part, key) for part in self.parts) for key in keys}

    def part_with_input(self, input_sha256: str) -> RoundPart | None:
        return next((part for part in self.parts if part.input_sha256 == input_sha256), None)

    @property
    def manifest_uris(self) -> list[str]:
        return [part.manifest_uri for part in self.parts if part.manifest_uri]

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.name,
            "created": self.created,
            "batch_size": self.batch_size,
            "adopted": self.adopted,
            **self.totals(),
            "parts": [part.to_json() for part in self.parts],
        }

    def to_item(self) -> dict[str, Any]:
        return {
            **round_meta_key(self.name),
            ATTR_KIND: {"S": KIND_ROUND},
            "created": {"S": self.created},
            "batch_size": to_attr(self.batch_size),
            "adopted": {"BOOL": self.adopted},
            "parts": {"L": [to_attr({k: v for k, v in p.to_json().items() if k != "rows"}) for p in self.parts]},
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> RoundMeta:
        return cls(
            name=item[ATTR_LABEL]["S"],
            created=item.get("created", {}).get("S", ""),
            batch_size=int(from_attr(item.get("batch_size", {"N": "0"}))),
            parts=[RoundPart.from_json(from_attr(p)) for p in item.get("parts", {}).get("L", [])],
            adopted=bool(item.get("adopted", {}).get("BOOL", False)),
        )


def read_round(ddb: Any, table: str, name: str) -> RoundMeta | None:
    """The round's metadata (a consistent read), or None if no seed of it has committed."""
    item = ddb.get_item(TableName=table, Key=round_meta_key(name), ConsistentRead=True).get("Item")
    return RoundMeta.from_item(item) if item else None


def write_round(ddb: Any, table: str, meta: RoundMeta, *, parts_before: int) -> None:
    """Commit ``meta`` if the stored item still has ``parts_before`` parts (0: if it does not exist)."""
    if parts_before == 0:
        condition: dict[str, Any] = {
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": ATTR_IMAGE_URL},
        }
    else:
        condition = {
            "ConditionExpression": "size(#parts) = :n",
            "ExpressionAttributeNames": {"#parts": "parts"},
            "ExpressionAttributeValues": {":n": {"N": str(parts_before)}},
        }
    try:
        ddb.put_item(TableName=table, Item=meta.to_item(), ReturnValuesOnConditionCheckFailure="ALL_OLD", **condition)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            # A write applied whose answer was lost (a connection reset) is sent again by botocore and
            # then fails its own condition: the stored item being exactly ours means it was committed.
            stored = err.response.get("Item") or ddb.get_item(
                TableName=table, Key=round_meta_key(meta.name), ConsistentRead=True
            ).get("Item")
            if stored and RoundMeta.from_item(stored) == meta:
                return
            raise RoundConflictError(
                f"round {meta.name!r} was changed by another seed while this one ran; nothing of this part "
                "was committed (run again to see the round as it is now)"
            ) from err
        raise


def list_rounds(ddb: Any, table: str) -> list[RoundMeta]:
    """Every round of the table: one Query of the ``#rounds`` partition, oldest first."""
    rounds: list[RoundMeta] = []
    for page in ddb.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="#pk = :pk",
        ExpressionAttributeNames={"#pk": ATTR_IMAGE_URL},
        ExpressionAttributeValues={":pk": {"S": ROUNDS_PARTITION}},
        ConsistentRead=True,
    ):
        rounds.extend(RoundMeta.from_item(item) for item in page.get("Items", []))
    return sorted(rounds, key=lambda meta: (meta.created, meta.name))


# --- Round-pair items. ---


def round_pair_item(
    round_name: str,
    s3_image_url: str,
    label: str,
    confidence: float,
    state: str,
    part: int,
    batch: int | None = None,
) -> dict[str, Any]:
    """The round's view of one pair: this round's confidence and what the round decided for it."""
    item = {
        **round_pair_key(round_name, s3_image_url, label),
        ATTR_KIND: {"S": KIND_ROUND_PAIR},
        ATTR_ROUND: {"S": round_name},
        ATTR_PAIR_URL: {"S": s3_image_url},
        ATTR_PAIR_LABEL: {"S": label},
        ATTR_CONFIDENCE: to_attr(float(confidence)),
        ATTR_STATE: {"S": state},
        ATTR_PART: {"N": str(part)},
    }
    if batch is not None:
        item[ATTR_BATCH] = {"N": str(batch)}
    return item


def round_parts_of_pairs(
    ddb: Any, table: str, round_name: str, pairs: Sequence[tuple[str, str]], *, pool: ThreadPoolExecutor
) -> dict[tuple[str, str], int]:
    """For each of ``pairs`` the round already holds: pair -> the part that stored it."""
    found = get_all(
        ddb,
        table,
        [round_pair_key(round_name, url, label) for url, label in pairs],
        {
            "ProjectionExpression": "#u, #l, #p",
            "ExpressionAttributeNames": {"#u": ATTR_PAIR_URL, "#l": ATTR_PAIR_LABEL, "#p": ATTR_PART},
        },
        pool=pool,
    )
    return {(item[ATTR_PAIR_URL]["S"], item[ATTR_PAIR_LABEL]["S"]): int(item[ATTR_PART]["N"]) for item in found}


def query_round_pairs(ddb: Any, table: str, round_name: str, *, pool: ThreadPoolExecutor) -> Iterator[dict[str, Any]]:
    """Every round-pair item of the round: its 16 partitions Queried in parallel (never a Scan)."""

    def one(partition: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in ddb.get_paginator("query").paginate(
            TableName=table,
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": ATTR_IMAGE_URL},
            ExpressionAttributeValues={":pk": {"S": partition}},
        ):
            items.extend(page.get("Items", []))
        return items

    for future in [pool.submit(one, partition) for partition in round_pair_partitions(round_name)]:
        yield from future.result()


def table_has_pair_items(ddb: Any, table: str, *, probe: int = 25) -> bool:
    """Whether the table may hold any (image, label) pair item: one small Scan page.

    True when in doubt (the page is full of round items and more follow): the caller then checks
    pair by pair, which is always correct, only slower.
    """
    response = ddb.scan(
        TableName=table, Limit=probe, ProjectionExpression="#pk", ExpressionAttributeNames={"#pk": ATTR_IMAGE_URL}
    )
    items = response.get("Items", [])
    if any(not item[ATTR_IMAGE_URL]["S"].startswith("#") for item in items):
        return True
    return "LastEvaluatedKey" in response


# --- Manifest parts. ---


def parse_manifest_text(text: str, *, source: str) -> list[BatchDocument]:
    """The batch documents of an inline manifest part, in order; errors name the part and the line."""
    documents = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source} line {number}"
        try:
            data = json.loads(line)
            inner = json.loads(data["source"])
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise ValueError(f"{where} is not a BulkQA manifest line ({{'source': '<batch JSON>'}}): {err}") from err
        documents.append(parse_batch_document_json(inner, source=where))
    return documents


def manifest_documents(s3: Any, manifest_uri: str) -> list[BatchDocument]:
    """Read one manifest part from S3 back into its batch documents (tests, preview, adopt)."""
    location = parse_s3_uri(manifest_uri)
    text = s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read().decode("utf-8")
    return parse_manifest_text(text, source=manifest_uri)


def round_documents(s3: Any, meta: RoundMeta) -> Iterable[BatchDocument]:
    """Every batch document of every part of the round, part by part."""
    for uri in meta.manifest_uris:
        yield from manifest_documents(s3, uri)


# --- Progress and adoption (``bulkqa rounds list`` / ``adopt``). ---


@dataclass(frozen=True)
class RoundProgress:
    """Votes so far on a round's queued pairs (shared votes: another round's reviews count too)."""

    queued: int
    votes: int
    reviewed: int  # queued pairs with at least min_votes votes

    def to_json(self) -> dict[str, int]:
        return {"queued": self.queued, "votes": self.votes, "reviewed": self.reviewed}


def _vote_counts(item: dict[str, Any]) -> int:
    return int(item.get("WorkerConfirmCount", {}).get("N", 0)) + int(item.get("WorkerDisconfirmCount", {}).get("N", 0))


def round_progress(ddb: Any, table: str, meta: RoundMeta, *, min_votes: int, pool: ThreadPoolExecutor) -> RoundProgress:
    """Query the round's pairs, BatchGet the queued ones' vote counts: reads only this round."""
    queued = [
        (item[ATTR_PAIR_URL]["S"], item[ATTR_PAIR_LABEL]["S"])
        for item in query_round_pairs(ddb, table, meta.name, pool=pool)
        if item.get(ATTR_STATE, {}).get("S") == "queued"
    ]
    found = get_all(
        ddb,
        table,
        [{ATTR_IMAGE_URL: {"S": url}, ATTR_LABEL: {"S": label}} for url, label in queued],
        {
            "ProjectionExpression": "#y, #n",
            "ExpressionAttributeNames": {"#y": "WorkerConfirmCount", "#n": "WorkerDisconfirmCount"},
        },
        pool=pool,
    )
    counts = [_vote_counts(item) for item in found]
    return RoundProgress(len(queued), sum(counts), sum(1 for c in counts if c >= min_votes))


def adopt_legacy_table(
    ddb: Any,
    table: str,
    name: str,
    *,
    min_votes: int,
    pool: ThreadPoolExecutor,
    created: str,
    manifest_uri: str | None = None,
    batches: int = 0,
    batch_size: int = 25,
) -> RoundMeta:
    """Register every pair item of a release-0.1 table as round ``name``; return its metadata.

    Each pair gets a round-pair item with the confidence stored on the pair (the only one 0.1 kept)
    and the state ``reused`` (at least ``min_votes`` votes) or ``queued``. The metadata is written
    last and only if the round does not exist, so a crashed adoption is simply run again.
    """
    items: list[dict[str, Any]] = []
    queued = reused = 0
    for page in ddb.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression="NOT begins_with(#pk, :hash)",
        ExpressionAttributeNames={"#pk": ATTR_IMAGE_URL},
        ExpressionAttributeValues={":hash": {"S": "#"}},
        ConsistentRead=True,
    ):
        for item in page.get("Items", []):
            votes = _vote_counts(item)
            state = "reused" if votes >= min_votes else "queued"
            reused += state == "reused"
            queued += state == "queued"
            confidence = float(item.get(ATTR_CONFIDENCE, {}).get("N", "0"))
            items.append(round_pair_item(name, item[ATTR_IMAGE_URL]["S"], item[ATTR_LABEL]["S"], confidence, state, 1))
            if len(items) >= 1_000:
                write_all(ddb, table, items, pool=pool)
                items = []
    write_all(ddb, table, items, pool=pool)
    part = RoundPart(
        part=1,
        input_sha256=f"adopted:{table}",
        created=created,
        rows_read=queued + reused,
        queued=queued,
        reused=reused,
        batches=batches,
        manifest_uri=manifest_uri,
        options={"min_votes": min_votes},
    )
    meta = RoundMeta(name=name, created=created, batch_size=batch_size, parts=[part], adopted=True)
    write_round(ddb, table, meta, parts_before=0)
    return meta
