"""The page a task showed, read from any form Ground Truth may hand us (pure).

Three forms reach the pre-labeling and post-labeling functions:

- a round's inline batch document (``handlers.rounds.BatchDocument``), the JSON string of a
  manifest line's ``source``: Ground Truth passes it as ``dataObject.source`` (pre-labeling) and
  ``dataObject.content`` (consolidation). It names its round, part and batch and may carry gold
  items;
- release 0.1's batch file, a plain JSON list of ``{"s3_image_url", "label", "confidence"}``,
  named by ``source-ref`` (``dataObject.s3Uri`` in consolidation);
- that same list inline.

All of them become one ``Page``, so the code that counts votes does not care which form a job
used -- and jobs started before an upgrade keep working.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from handlers import safe_json
from handlers.rounds import BatchDocument, BatchEntry, parse_batch_document_json, parse_entry

INLINE_NAME = "<inline data object>"


@dataclass(frozen=True)
class Page:
    """What one task showed: its images in order (gold ones marked), and where it came from.

    ``document`` is the round's batch document, or None for a release 0.1 batch (no round, no
    gold, so no worker-page record can be kept for it).
    """

    name: str
    entries: tuple[BatchEntry, ...]
    document: BatchDocument | None = None

    @property
    def label(self) -> str | None:
        if self.document is not None:
            return self.document.label
        return self.entries[0].label if self.entries else None

    def task_input(self) -> dict[str, Any]:
        """``taskInput`` for the worker template: the same three fields for every image, gold or not."""
        return {"sourceRef": [entry.task_json() for entry in self.entries]}


def _described(source: str) -> str:
    """How messages name the batch: "batch file s3://..." for an object, "batch <where>" otherwise."""
    return f"batch file {source}" if source.startswith("s3://") else f"batch {source}"


def _legacy_entries(data: list[Any], source: str) -> tuple[BatchEntry, ...]:
    where = _described(source)
    if not data:
        raise ValueError(f"{where} must be a non-empty JSON list of items")
    return tuple(parse_entry(entry, position, where, allow_gold=False) for position, entry in enumerate(data))


def parse_page(value: Any, *, source: str) -> Page:
    """Read a batch in any supported form (text, bytes or decoded JSON); ``ValueError`` names ``source``.

    ``source`` is what an operator can find again: the batch file's URI, or the dataset object.
    """
    where = _described(source)
    if isinstance(value, (bytes, bytearray)):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"{where} is not UTF-8 text: {err}") from err
    if isinstance(value, str):
        try:
            value = safe_json.loads(value)
        except ValueError as err:  # not JSON, or nested too deep to be a page
            raise ValueError(f"{where} is not valid JSON: {err}") from err
    if isinstance(value, list):
        return Page(source, _legacy_entries(value, source))
    if isinstance(value, dict):
        document = parse_batch_document_json(value, source=where)
        return Page(document.name, document.items, document)
    raise ValueError(f"{where} must be a BulkQA batch document or a JSON list of items, got {type(value).__name__}")
