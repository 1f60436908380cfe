"""Make moto's DynamoDB as atomic per write request as the real service.

DynamoDB applies each write (a conditional UpdateItem included) atomically. moto's backend takes
no lock, so two threads' conditional updates of one item can interleave inside moto (read, read,
write, write) and lose a count that DynamoDB never would. Serialising moto's write methods keeps
the emulator faithful, so any lost or doubled vote a test sees is the code's own. This patches the
emulator, not BulkQA: used by the moto server the e2e suite starts and by the in-process fixtures.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

WRITE_METHODS = ("put_item", "update_item", "delete_item", "batch_write_item", "transact_write_items")
_LOCK = threading.RLock()


def serialise_dynamodb_writes() -> Callable[[], None]:
    """Wrap moto's DynamoDB write methods in one lock; return a function that undoes it."""
    from moto.dynamodb.models import DynamoDBBackend

    originals: dict[str, Any] = {}
    for name in WRITE_METHODS:
        original = getattr(DynamoDBBackend, name, None)
        if original is None or getattr(original, "_bulkqa_serialised", False):
            continue

        def locked(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with _LOCK:
                return _original(self, *args, **kwargs)

        locked._bulkqa_serialised = True  # type: ignore[attr-defined]
        originals[name] = original
        setattr(DynamoDBBackend, name, locked)

    def undo() -> None:
        for name, original in originals.items():
            setattr(DynamoDBBackend, name, original)

    return undo
