"""AWS I/O of the relabel step: read a round's pairs, write its files once, record corrections.

Why each write is guarded:
- the manifest, category file and template are written under the round's prefix with
  ``IfNoneMatch: *``; an existing object with the same bytes is accepted (a re-run after a failed
  CreateLabelingJob), other bytes are refused, so what a running job reads never changes;
- a correction is recorded on the rejected pair item only if it has none yet; a re-import of the
  same output manifest finds the same values and changes nothing, and a second job's different
  answer is reported as a conflict, never silently overwriting the first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from bulkqa.relabel.output_manifest import Correction
from bulkqa.relabel.plan import ReviewedPair
from handlers.rounds import round_prefix
from handlers.settings import (
    ATTR_CORRECTED_BY_JOB,
    ATTR_CORRECTED_CONFIDENCE,
    ATTR_CORRECTED_LABEL,
    ATTR_IMAGE_URL,
)
from handlers.vote_store import item_key

READERS = 8


class ImmutableObjectError(RuntimeError):
    """An object of the round already exists with other content."""


class RoundNotFoundError(LookupError):
    """The table holds no pair of this round."""


@dataclass(frozen=True)
class StoredPair:
    """A round's pair with its votes and, after an import, its correction."""

    image: str
    label: str
    confirm: int
    disconfirm: int
    corrected_label: str | None = None
    corrected_by_job: str | None = None

    def reviewed(self) -> ReviewedPair:
        return ReviewedPair(self.image, self.label, self.confirm, self.disconfirm)


def relabel_prefix(round_name: str, job_name: str) -> str:
    return f"{round_prefix(round_name)}relabel/{job_name}/"


def read_round_pairs(ddb: Any, table: str, round_name: str) -> list[StoredPair]:
    """Every pair the round names, with the shared votes and any correction, read as the round's
    report reads them (``round_source.RoundResults``: Queries and BatchGets, never a Scan)."""
    from bulkqa.round_source import RoundNotFoundError as NoSuchRound
    from bulkqa.round_source import RoundResults

    source = RoundResults(ddb, table, round_name, details=True)
    try:
        pairs = [
            StoredPair(pair.image, pair.label, pair.confirm, pair.disconfirm,
                       details.corrected_label, details.corrected_by_job)
            for pair, details in source.pairs_with_details()
        ]  # fmt: skip
    except NoSuchRound as err:
        raise RoundNotFoundError(f"table {table} has no pair of round {round_name!r}: {err}") from err
    if not pairs:
        raise RoundNotFoundError(f"table {table} has no pair of round {round_name!r}")
    return sorted(pairs, key=lambda pair: (pair.label, pair.image))


def put_once(s3: Any, bucket: str, key: str, body: bytes, content_type: str) -> bool:
    """Write ``key`` unless it exists; True if written, False if it already held these bytes."""
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, IfNoneMatch="*")
        return True
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") not in {"PreconditionFailed", "412", "ConditionalRequestConflict"}:
            raise
    existing = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    if existing != body:
        raise ImmutableObjectError(
            f"s3://{bucket}/{key} already exists with other content; relabel files are never rewritten "
            "(choose another --name)"
        )
    return False


@dataclass
class ImportResult:
    recorded: int = 0
    unchanged: int = 0
    conflicts: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _record(ddb: Any, table: str, image: str, label: str, correction: Correction) -> str:
    try:
        ddb.update_item(
            TableName=table,
            Key=item_key(image, label),
            UpdateExpression="SET #c = :c, #f = :f, #j = :j",
            ConditionExpression="attribute_exists(#pk) AND attribute_not_exists(#j)",
            ExpressionAttributeNames={
                "#pk": ATTR_IMAGE_URL,
                "#c": ATTR_CORRECTED_LABEL,
                "#f": ATTR_CORRECTED_CONFIDENCE,
                "#j": ATTR_CORRECTED_BY_JOB,
            },
            ExpressionAttributeValues={
                ":c": {"S": correction.corrected_label},
                ":f": {"N": str(Decimal(repr(correction.confidence)))},
                ":j": {"S": correction.job_name},
            },
        )
        return "recorded"
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
    stored = ddb.get_item(TableName=table, Key=item_key(image, label), ConsistentRead=True).get("Item")
    if stored is None:
        return "missing"
    same = (
        stored.get(ATTR_CORRECTED_LABEL, {}).get("S") == correction.corrected_label
        and stored.get(ATTR_CORRECTED_BY_JOB, {}).get("S") == correction.job_name
    )
    return "unchanged" if same else "conflict"


def record_corrections(ddb: Any, table: str, corrections: Iterable[Correction]) -> ImportResult:
    """Record each correction on every (image, rejected label) pair it answers; idempotent."""
    result = ImportResult()
    work: Sequence[tuple[Correction, str]] = [(c, label) for c in corrections for label in c.rejected_labels]
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        outcomes = list(pool.map(lambda job: _record(ddb, table, job[0].image, job[1], job[0]), work))
    for (correction, label), outcome in zip(work, outcomes, strict=True):
        where = f"{correction.image} ({label})"
        if outcome == "recorded":
            result.recorded += 1
        elif outcome == "unchanged":
            result.unchanged += 1
        elif outcome == "missing":
            result.missing.append(where)
        else:
            result.conflicts.append(f"{where}: already corrected by another job; the first correction stands")
    return result
