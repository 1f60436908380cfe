"""Release 0.1 batch files: ``QueueItem`` and reading a ``source-ref`` batch file back (pure).

Rounds (release 0.2) put each page inline in the manifest line (``handlers.rounds``,
``handlers.seeding.Pager``); nothing writes batch files any more. What stays here is read by the
functions for jobs started on a 0.1 manifest (``parse_batch_document``), used as the item type of
votes (``QueueItem``), and by the benchmark's one-call-per-row baseline (``plan_batches``,
``manifest_text``), which reproduces the original sample's layout.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from handlers.settings import BATCH_PREFIX


@dataclass(frozen=True)
class QueueItem:
    """One (image, label) pair queued for human review."""

    s3_image_url: str
    label: str
    confidence: float

    def to_json(self) -> dict[str, object]:
        return {"s3_image_url": self.s3_image_url, "label": self.label, "confidence": self.confidence}


@dataclass(frozen=True)
class Batch:
    """The items one worker reviews on one page."""

    label: str
    number: int  # 1-based within its label
    items: tuple[QueueItem, ...]
    key: str

    def document(self) -> str:
        """The batch file's JSON text: a list of ``{"s3_image_url", "label", "confidence"}``."""
        return json.dumps([item.to_json() for item in self.items], ensure_ascii=False, indent=1)


def label_slug(label: str) -> str:
    """A key-safe, readable and collision-free folder name for ``label``.

    The readable part keeps ASCII letters and digits; the hash keeps "Sea lion" and "sea-lion"
    (or two non-ASCII labels that both fold to nothing) apart.
    """
    ascii_text = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    readable = re.sub(r"[^A-Za-z0-9]+", "-", ascii_text).strip("-").lower()[:40] or "label"
    digest = hashlib.sha256(label.encode("utf-8")).hexdigest()[:8]
    return f"{readable}-{digest}"


def batch_key(label: str, number: int, prefix: str = BATCH_PREFIX) -> str:
    return f"{prefix}{label_slug(label)}/batch-{number:05d}.json"


def plan_batches(items: Iterable[QueueItem], batch_size: int, prefix: str = BATCH_PREFIX) -> list[Batch]:
    """Group by label in first-seen order, keep row order inside a label, cut every ``batch_size``."""
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    groups: dict[str, list[QueueItem]] = {}
    for item in items:
        groups.setdefault(item.label, []).append(item)
    batches: list[Batch] = []
    for label, group in groups.items():
        for start in range(0, len(group), batch_size):
            number = start // batch_size + 1
            chunk = tuple(group[start : start + batch_size])
            batches.append(Batch(label, number, chunk, batch_key(label, number, prefix)))
    return batches


def manifest_text(batch_uris: Sequence[str]) -> str:
    """Ground Truth's input manifest: one JSON line ``{"source-ref": ...}`` per batch file."""
    return "".join(json.dumps({"source-ref": uri}) + "\n" for uri in batch_uris)


def parse_batch_document(text: str | bytes, *, source: str) -> list[QueueItem]:
    """Read a batch file back; raise ``ValueError`` naming ``source`` if it is not one.

    The checks are the task pages' (``handlers.task_pages``), so a file the functions refuse is
    refused here too, with the same words.
    """
    from handlers.task_pages import parse_page

    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"batch file {source} is not valid JSON: {err}") from err
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"batch file {source} is not valid JSON: {err}") from err
    if not isinstance(data, list):
        raise ValueError(f"batch file {source} must be a non-empty JSON list of items")
    page = parse_page(data, source=source)
    return [QueueItem(item.s3_image_url, item.label, item.confidence) for item in page.entries]
