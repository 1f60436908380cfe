"""BatchGetItem / BatchWriteItem / TransactWriteItems in parallel chunks, retrying what is refused.

DynamoDB may accept only part of a batch call (``UnprocessedItems`` / ``UnprocessedKeys``) under
load; the rest must be sent again with back-off or rows are silently lost.

``put_absent_all`` creates items only where none exists: each Put carries
``attribute_not_exists`` on the key, so an item that appeared meanwhile (with votes, say) is never
replaced, whatever the interleaving. BatchWriteItem cannot carry a condition, hence transactions
(up to 100 Puts each); a cancelled transaction is sent again without the items that exist.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

WRITE_CHUNK = 25  # BatchWriteItem's limit
GET_CHUNK = 100  # BatchGetItem's limit
TRANSACT_CHUNK = 100  # TransactWriteItems' limit
MAX_ROUNDS = 12
# Cancellation reasons worth another try (the others are errors of the request itself).
RETRY_REASONS = frozenset({"None", "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


class UnprocessedError(RuntimeError):
    """DynamoDB kept refusing part of a batch after every retry."""


def _chunks(seq: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(seq), size):
        yield seq[start : start + size]


def _backoff(round_number: int, sleep: Callable[[float], None]) -> None:
    sleep(min(2.0, 0.05 * 2**round_number) * (0.5 + random.random() / 2))


def write_chunk(
    ddb: Any, table: str, items: Sequence[dict[str, Any]], sleep: Callable[[float], None] = time.sleep
) -> None:
    """Put up to 25 items, resending ``UnprocessedItems`` until none are left."""
    pending = [{"PutRequest": {"Item": item}} for item in items]
    for round_number in range(MAX_ROUNDS):
        response = ddb.batch_write_item(RequestItems={table: pending})
        pending = response.get("UnprocessedItems", {}).get(table, [])
        if not pending:
            return
        _backoff(round_number, sleep)
    raise UnprocessedError(f"{len(pending)} item(s) still unprocessed by {table} after {MAX_ROUNDS} rounds")


def put_absent_chunk(
    ddb: Any, table: str, items: Sequence[dict[str, Any]], key_attr: str, sleep: Callable[[float], None] = time.sleep
) -> int:
    """Put those of up to 100 ``items`` whose key is free, in one transaction; return how many were put.

    When DynamoDB cancels the transaction, its ``CancellationReasons`` (one per Put, in order) say
    which items already exist (``ConditionalCheckFailed``: dropped, never overwritten) and which
    may go again (no reason, a conflict with another write, throttling).
    """
    pending = list(items)
    for round_number in range(MAX_ROUNDS):
        if not pending:
            return 0
        try:
            ddb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": table,
                            "Item": item,
                            "ConditionExpression": "attribute_not_exists(#k)",
                            "ExpressionAttributeNames": {"#k": key_attr},
                        }
                    }
                    for item in pending
                ]
            )
            return len(pending)
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code != "TransactionCanceledException":
                if code in {"TransactionInProgressException", "TransactionConflictException"}:
                    _backoff(round_number, sleep)
                    continue
                raise
            reasons = [r.get("Code", "None") for r in err.response.get("CancellationReasons", [])]
            if len(reasons) != len(pending):
                raise
            unexpected = [code for code in reasons if code not in RETRY_REASONS and code != "ConditionalCheckFailed"]
            if unexpected:
                raise
            retry_now = all(code in {"None", "ConditionalCheckFailed"} for code in reasons)
            pending = [item for item, code in zip(pending, reasons, strict=True) if code != "ConditionalCheckFailed"]
            if not retry_now:
                _backoff(round_number, sleep)
    raise UnprocessedError(f"{len(pending)} item(s) still not written to {table} after {MAX_ROUNDS} rounds")


def get_chunk(
    ddb: Any,
    table: str,
    keys: Sequence[dict[str, Any]],
    projection: dict[str, Any],
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict[str, Any]]:
    """Get up to 100 keys (consistent reads), resending ``UnprocessedKeys`` until none are left."""
    found: list[dict[str, Any]] = []
    request = {table: {"Keys": list(keys), "ConsistentRead": True, **projection}}
    for round_number in range(MAX_ROUNDS):
        response = ddb.batch_get_item(RequestItems=request)
        found.extend(response.get("Responses", {}).get(table, []))
        request = response.get("UnprocessedKeys") or {}
        if not request.get(table, {}).get("Keys"):
            return found
        _backoff(round_number, sleep)
    raise UnprocessedError(f"keys still unprocessed by {table} after {MAX_ROUNDS} rounds")


def write_all(
    ddb: Any,
    table: str,
    items: Sequence[dict[str, Any]],
    *,
    pool: ThreadPoolExecutor,
    on_chunk: Callable[[int], None] | None = None,
) -> None:
    """Write ``items`` in parallel chunks of 25; ``on_chunk(n)`` reports progress."""

    def write(chunk: Sequence[dict[str, Any]]) -> None:
        write_chunk(ddb, table, chunk)
        if on_chunk:
            on_chunk(len(chunk))

    for future in [pool.submit(write, chunk) for chunk in _chunks(items, WRITE_CHUNK)]:
        future.result()


def get_all(
    ddb: Any,
    table: str,
    keys: Sequence[dict[str, Any]],
    projection: dict[str, Any],
    *,
    pool: ThreadPoolExecutor,
) -> list[dict[str, Any]]:
    """Get ``keys`` in parallel chunks of 100."""
    futures = [pool.submit(get_chunk, ddb, table, chunk, projection) for chunk in _chunks(keys, GET_CHUNK)]
    return [item for future in futures for item in future.result()]


def put_absent_all(
    ddb: Any,
    table: str,
    items: Sequence[dict[str, Any]],
    key_attr: str,
    *,
    pool: ThreadPoolExecutor,
    on_chunk: Callable[[int], None] | None = None,
) -> int:
    """Create ``items`` that do not exist yet, in parallel transactions of 100; return how many."""

    def put(chunk: Sequence[dict[str, Any]]) -> int:
        created = put_absent_chunk(ddb, table, chunk, key_attr)
        if on_chunk:
            on_chunk(len(chunk))
        return created

    return sum(future.result() for future in [pool.submit(put, c) for c in _chunks(items, TRANSACT_CHUNK)])
