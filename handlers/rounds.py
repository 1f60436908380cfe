"""QA rounds: names, keys and the inline batch document (pure).

Why a module of its own: the seed writes these keys and documents, the post-labeling function
and the report read them back, and the e2e simulator plays Ground Truth with them. One spelling,
imported by all of them, keeps the three in step.

The inline batch document is what a manifest line carries as ``{"source": "<document JSON>"}``.
Ground Truth hands the same string to the pre-labeling function as ``dataObject.source`` and to
the consolidation request as ``dataObject.content``, so the images a worker was shown travel with
the answer: a vote is counted against exactly those images, whatever is seeded later.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from handlers.settings import (
    ATTR_IMAGE_URL,
    ATTR_LABEL,
    MANIFEST_LINE_LIMIT_BYTES,
    ROUND_NAME_PATTERN,
    ROUND_PREFIX,
    ROUND_SHARDS,
    ROUNDS_PARTITION,
)

BATCH_DOCUMENT_VERSION = 1
_ROUND_NAME = re.compile(ROUND_NAME_PATTERN)


class RoundNameError(ValueError):
    """A round name users typed is not one we can put in keys."""


class ManifestLineTooLongError(ValueError):
    """A batch does not fit in one manifest line."""


def validate_round_name(name: str) -> str:
    """Return ``name`` if it is 1-64 ASCII letters, digits, ``-`` or ``_``; else raise, saying why."""
    if not isinstance(name, str) or not _ROUND_NAME.fullmatch(name):
        raise RoundNameError(f"round name {name!r} is not valid: use 1 to 64 ASCII letters, digits, '-' or '_'")
    return name


def generate_round_name(now: datetime | None = None) -> str:
    """A name for a round the user did not name: sortable by time, unique enough to never clash."""
    moment = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"r-{moment}-{secrets.token_hex(2)}"


def round_prefix(round_name: str) -> str:
    return f"{ROUND_PREFIX}{validate_round_name(round_name)}/"


def manifest_key(round_name: str, part: int) -> str:
    """``rounds/<round>/manifest-<part>.jsonl``: one part per seed of the round (``--extend`` adds one)."""
    if part < 1:
        raise ValueError(f"manifest part must be at least 1, got {part}")
    return f"{round_prefix(round_name)}manifest-{part:04d}.jsonl"


def pair_digest(s3_image_url: str, label: str) -> str:
    """A fixed-length, collision-free (sha-256) name for an (image, label) pair."""
    return hashlib.sha256(f"{s3_image_url}\x00{label}".encode()).hexdigest()


def pair_shard(s3_image_url: str, label: str) -> int:
    return int(pair_digest(s3_image_url, label)[:8], 16) % ROUND_SHARDS


def round_pair_partition(round_name: str, shard: int) -> str:
    return f"#round#{validate_round_name(round_name)}#{shard:02d}"


def round_pair_key(round_name: str, s3_image_url: str, label: str) -> dict[str, dict[str, str]]:
    """DynamoDB key of the round's view of one pair (a second kind of item in the same table)."""
    digest = pair_digest(s3_image_url, label)  # once: the shard is its first 8 hex digits (pair_shard)
    return {
        ATTR_IMAGE_URL: {"S": round_pair_partition(round_name, int(digest[:8], 16) % ROUND_SHARDS)},
        ATTR_LABEL: {"S": digest},
    }


def round_pair_partitions(round_name: str) -> list[str]:
    """Every partition a round's pairs live in: the report Queries these, it never Scans."""
    return [round_pair_partition(round_name, shard) for shard in range(ROUND_SHARDS)]


def round_meta_key(round_name: str) -> dict[str, dict[str, str]]:
    return {ATTR_IMAGE_URL: {"S": ROUNDS_PARTITION}, ATTR_LABEL: {"S": validate_round_name(round_name)}}


def worker_pages_partition(round_name: str) -> str:
    return f"#round#{validate_round_name(round_name)}#workers"


def is_pair_item(item: dict[str, Any]) -> bool:
    """True for an (image, label) pair item; False for round, round-pair and worker items."""
    key = item.get(ATTR_IMAGE_URL, {})
    value = key.get("S") if isinstance(key, dict) else key
    return isinstance(value, str) and not value.startswith("#")


@dataclass(frozen=True)
class BatchEntry:
    """One image on a page. ``gold`` is the known truth of a gold item ("wrong"/"correct"), else None.

    ``gold`` never reaches the worker: the pre-labeling function drops it from ``taskInput``.
    """

    s3_image_url: str
    label: str
    confidence: float
    gold: str | None = None

    def task_json(self) -> dict[str, Any]:
        """What a worker's page gets: the same three fields for every image, gold or not."""
        return {"s3_image_url": self.s3_image_url, "label": self.label, "confidence": self.confidence}

    def to_json(self) -> dict[str, Any]:
        data = self.task_json()
        if self.gold is not None:
            data["gold"] = self.gold
        return data


@dataclass(frozen=True)
class BatchDocument:
    """One task's page: which round, part and batch it is, and its images in order."""

    round: str
    part: int
    batch: int  # 1-based, unique within the round's part
    label: str
    items: tuple[BatchEntry, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        return f"{self.round}/{self.part:04d}/{self.batch:05d}"

    def to_json(self) -> dict[str, Any]:
        return {
            "v": BATCH_DOCUMENT_VERSION,
            "round": self.round,
            "part": self.part,
            "batch": self.batch,
            "label": self.label,
            "items": [item.to_json() for item in self.items],
        }

    def text(self) -> str:
        """Canonical JSON (sorted keys, no spaces): the same batch always gives the same bytes."""
        return json.dumps(self.to_json(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def manifest_line(document: BatchDocument) -> str:
    """One input-manifest line for ``document``; raise if Ground Truth would refuse its length."""
    line = json.dumps({"source": document.text()}, ensure_ascii=False, separators=(",", ":")) + "\n"
    size = len(line.encode("utf-8"))
    if size > MANIFEST_LINE_LIMIT_BYTES:
        raise ManifestLineTooLongError(
            f"batch {document.name} ({len(document.items)} images, label {document.label!r}) makes a "
            f"manifest line of {size:,} bytes; Ground Truth accepts at most {MANIFEST_LINE_LIMIT_BYTES:,}. "
            "Use a smaller --batch-size or shorter image paths."
        )
    return line


def parse_entry(entry: Any, position: int, source: str, *, allow_gold: bool = True) -> BatchEntry:
    """One image of a page (an inline document's item or a 0.1 batch file's); ``ValueError`` names it."""
    if not isinstance(entry, dict):
        raise ValueError(f"{source}: item {position} is not an object")
    url, label, confidence = entry.get("s3_image_url"), entry.get("label"), entry.get("confidence")
    gold = entry.get("gold") if allow_gold else None
    if not isinstance(url, str) or not url:
        raise ValueError(f"{source}: item {position} has no s3_image_url")
    if not isinstance(label, str) or not label:
        raise ValueError(f"{source}: item {position} has no label")
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)):
        raise ValueError(f"{source}: item {position} has no numeric confidence")
    if gold not in (None, "wrong", "correct"):
        raise ValueError(f"{source}: item {position} has gold {gold!r}, expected 'wrong' or 'correct'")
    return BatchEntry(url, label, float(confidence), gold)


def parse_batch_document_json(data: Any, *, source: str) -> BatchDocument:
    """Read an inline batch document (already JSON-decoded); raise ``ValueError`` naming ``source``."""
    if not isinstance(data, dict) or data.get("v") != BATCH_DOCUMENT_VERSION:
        raise ValueError(f"{source} is not a BulkQA batch document (version {BATCH_DOCUMENT_VERSION})")
    round_name, part, batch, label = data.get("round"), data.get("part"), data.get("batch"), data.get("label")
    try:
        validate_round_name(round_name)
    except RoundNameError as err:
        raise ValueError(f"{source}: {err}") from err
    for name, value in (("part", part), ("batch", batch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{source}: {name} must be a positive integer")
    if not isinstance(label, str) or not label:
        raise ValueError(f"{source}: no label")
    raw_items = data.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise ValueError(f"{source}: items must be a non-empty list")
    items = [parse_entry(entry, position, source) for position, entry in enumerate(raw_items)]
    return BatchDocument(round_name, part, batch, label, tuple(items))


def documents_text(documents: Sequence[BatchDocument]) -> str:
    """A whole manifest part: one line per batch, in order."""
    return "".join(manifest_line(document) for document in documents)
