"""Turn workers' crowd-form answers into votes on images (pure).

The worker template names each checkbox ``<label>-<i>``, where ``i`` is the image's index in the
batch, and crowd-form submits ``{"<label>-<i>": {"Confirmed": true|false}, ...}``. Answers are
matched to images by that index -- never by key order: the original sample paired them by the
order of the keys, which sorts ``X-10`` before ``X-2`` and flips votes in any batch over ten.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from handlers import safe_json
from handlers.settings import CHECKBOX_VALUE, VOTE_CONFIRM, VOTE_DISCONFIRM

# One character per worker and image in compact records (the consolidation response, worker pages).
CHAR_CONFIRM, CHAR_DISCONFIRM, CHAR_NONE = "c", "d", "-"
VERDICT_CHARS = {VOTE_CONFIRM: CHAR_CONFIRM, VOTE_DISCONFIRM: CHAR_DISCONFIRM}


class PageImage(Protocol):
    """What answers are matched against: a batch entry (``rounds.BatchEntry``) or a release 0.1 item."""

    @property
    def s3_image_url(self) -> str: ...

    @property
    def label(self) -> str: ...

    @property
    def confidence(self) -> float: ...


class AnnotationError(ValueError):
    """One worker's answer cannot be read at all; the other workers' answers still count."""


@dataclass(frozen=True)
class Vote:
    """One worker's verdict on one image of a batch."""

    worker_id: str
    item: PageImage
    index: int
    confirmed: bool

    @property
    def verdict(self) -> str:
        """``"confirm"`` or ``"disconfirm"``: the value stored in the item's ``WorkerVotes`` map."""
        return VOTE_CONFIRM if self.confirmed else VOTE_DISCONFIRM


@dataclass
class WorkerVotes:
    """What one annotation yielded: the votes, and notes on keys that were ignored."""

    worker_id: str
    votes: list[Vote] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def decode_content(content: Any) -> dict[str, Any]:
    """``annotationData.content`` is a JSON *string* (an answer read from ``s3Uri`` arrives as bytes);
    accept an already-decoded object too."""
    if isinstance(content, (bytes, bytearray)):
        try:
            content = content.decode("utf-8")
        except UnicodeDecodeError as err:
            raise AnnotationError(f"content is not UTF-8 text: {err}") from err
    if isinstance(content, str):
        try:
            content = safe_json.loads(content)
        except json.JSONDecodeError as err:
            raise AnnotationError(f"content is not valid JSON: {err}") from err
        except safe_json.TooDeepError as err:
            raise AnnotationError(f"content is not a crowd-form answer: {err}") from err
    if not isinstance(content, dict):
        raise AnnotationError(f"content must be a JSON object, got {type(content).__name__}")
    return content


def _checkbox_state(value: Any) -> bool | None:
    if isinstance(value, Mapping) and isinstance(value.get(CHECKBOX_VALUE), bool):
        return bool(value[CHECKBOX_VALUE])
    return None


def parse_worker_answer(worker_id: str, content: Any, items: Sequence[PageImage]) -> WorkerVotes:
    """Read one worker's answer to a batch of ``items`` into one vote per answered image.

    Raises ``AnnotationError`` when the answer is unreadable as a whole; unknown, malformed or
    out-of-range keys are skipped with a note, and images without an answer get no vote.
    """
    if not isinstance(worker_id, str) or not worker_id:
        raise AnnotationError("annotation has no workerId")
    answer = decode_content(content)
    result = WorkerVotes(worker_id)
    seen: dict[int, str] = {}
    for key, value in answer.items():
        label, sep, index_text = key.rpartition("-")
        # ASCII digits only: str.isdigit() also accepts "²" (int() fails) and "٣" (int() reads 3).
        well_formed = index_text.isascii() and index_text.isdigit()
        if not sep or not well_formed or (len(index_text) > 1 and index_text[0] == "0"):
            result.notes.append(f"ignored key {key!r}: not of the form <label>-<index>")
            continue
        index = int(index_text)
        if index >= len(items):
            result.notes.append(f"ignored key {key!r}: index {index} is outside the batch of {len(items)}")
            continue
        if label != items[index].label:
            result.notes.append(f"ignored key {key!r}: image {index} is labelled {items[index].label!r}")
            continue
        confirmed = _checkbox_state(value)
        if confirmed is None:
            result.notes.append(f"ignored key {key!r}: expected {{{CHECKBOX_VALUE!r}: true|false}}")
            continue
        if index in seen:  # cannot happen with a JSON object's unique keys, kept for safety
            result.notes.append(f"ignored key {key!r}: image {index} already answered by {seen[index]!r}")
            continue
        seen[index] = key
        result.votes.append(Vote(worker_id, items[index], index, confirmed))
    missing = [i for i in range(len(items)) if i not in seen]
    if missing:
        result.notes.append(f"no answer for image index(es) {missing}")
    result.votes.sort(key=lambda vote: vote.index)
    return result
