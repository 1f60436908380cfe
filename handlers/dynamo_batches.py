"""BatchGetItem / BatchWriteItem in parallel chunks, retrying what DynamoDB leaves unprocessed.

DynamoDB may accept only part of a batch call (``UnprocessedItems`` / ``UnprocessedKeys``) under
load; the rest must be sent again with back-off or rows are silently lost.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

WRITE_CHUNK = 25  # BatchWriteItem's limit
GET_CHUNK = 100  # BatchGetItem's limit
MAX_ROUNDS = 12


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
