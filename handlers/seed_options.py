"""The seed's options, validated once for ``bulkqa seed`` and the launch function (pure).

Why one module: the command line and the launch event used to check their options apart, and
the launch function silently turned ``batch_size`` 2.9 into 2, ``true`` into 1 and a NaN
threshold into "queue everything". Both now build a ``SeedOptions`` through ``seed_options()``,
so a value is refused with the same words wherever it comes from, and never quietly changed.

Each message names the option both ways (``batch_size`` / ``--batch-size``) so a user of either
entry point knows what to fix.
"""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from handlers.csv_rows import parse_delimiter
from handlers.rounds import RoundNameError, validate_round_name
from handlers.settings import DEFAULT_BATCH_SIZE, DEFAULT_CONFIDENCE_THRESHOLD, MAX_BATCH_SIZE

MAX_MIN_VOTES = 1_000
MAX_WORKERS_PER_OBJECT = 9  # Ground Truth's limit for NumberOfHumanWorkersPerDataObject (private team)
MAX_SAMPLE = 1_000_000_000
MAX_SAMPLE_SEED = 2**63 - 1
# Statuses of `bulkqa report --format json` under which a class has no usable threshold.
NO_THRESHOLD_STATUSES = frozenset({"never", "no_data", "too_few"})
NEVER_THRESHOLD = 100  # the report's convention: a class that has data but no passing band gets 100

# Confidence bands of the sampling cells: the report's default bands (bulkqa.analysis DEFAULT_BANDS,
# [80, 85), [85, 90), [90, 95), [95, 100]); a unit test keeps the two in step.
SAMPLE_BAND_EDGES = (80.0, 85.0, 90.0, 95.0, 100.0)


class SeedOptionError(ValueError):
    """An option of the seed is not acceptable; the message names the option and the value."""


def _names(key: str) -> str:
    return f"{key} (--{key.replace('_', '-')})"


def _integer(key: str, value: Any, low: int, high: int) -> int:
    """An int in [low, high]: no bools, no floats (2.9 or 25.0), no strings ("25")."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SeedOptionError(f"{_names(key)} must be a whole number from {low:,} to {high:,}, got {value!r}")
    return value


def _number(key: str, value: Any, low: float, high: float) -> float:
    """A finite int or float in [low, high]: no bools, strings, NaN or infinities."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SeedOptionError(f"{_names(key)} must be a number from {low:g} to {high:g}, got {value!r}")
    if not math.isfinite(value) or not low <= value <= high:
        raise SeedOptionError(f"{_names(key)} must be a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def _flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SeedOptionError(f"{_names(key)} must be true or false, got {value!r}")
    return value


def sample_band(confidence: float) -> int | None:
    """Index of ``confidence``'s band (last band closed), or None if it is in no band.

    Same semantics as ``bulkqa.analysis.Bands.index`` on the default bands; kept here because the
    Lambda package carries ``handlers`` only.
    """
    edges = SAMPLE_BAND_EDGES
    if confidence == edges[-1]:
        return len(edges) - 2
    for index in range(len(edges) - 1):
        if edges[index] <= confidence < edges[index + 1]:
            return index
    return None


@dataclass(frozen=True)
class AcceptAbove:
    """Per-class thresholds: a row at or above its class's threshold is accepted without review.

    ``thresholds[label] is None`` (or a label absent) means the class is never auto-accepted.
    """

    thresholds: Mapping[str, float | None]
    source: str = "thresholds"

    def threshold_for(self, label: str) -> float | None:
        return self.thresholds.get(label)

    def accepts(self, label: str, confidence: float) -> bool:
        threshold = self.thresholds.get(label)
        return threshold is not None and confidence >= threshold

    def canonical(self) -> str:
        """Sorted JSON of the thresholds that accept anything: what changes a seed's result."""
        usable = {label: value for label, value in sorted(self.thresholds.items()) if value is not None}
        return json.dumps(usable, ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    def usable_count(self) -> int:
        return sum(1 for value in self.thresholds.values() if value is not None)


def _threshold_label(label: Any, source: str) -> str:
    if not isinstance(label, str) or not label.strip():
        raise SeedOptionError(f"{source}: a class name must be a non-empty string, got {label!r}")
    return unicodedata.normalize("NFC", label.strip())  # the CSV reader normalises labels the same way


def _threshold_value(label: str, value: Any, source: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SeedOptionError(f"{source}: threshold of {label!r} must be a number from 0 to 100 or null, got {value!r}")
    if not 0 <= value <= 100:
        raise SeedOptionError(f"{source}: threshold of {label!r} must be a number from 0 to 100 or null, got {value!r}")
    return float(value)


def parse_accept_above(data: Any, *, source: str = "accept_above") -> AcceptAbove:
    """Thresholds from a ``bulkqa report --format json`` output or a ``{"Dog": 95, "Cat": null}`` map.

    From a report, a class is auto-accepted only when its ``threshold_status`` is ``ok`` (or absent)
    and its ``threshold`` is a number below 100: 100 is the report's "never", and ``never``,
    ``no_data`` and ``too_few`` give no threshold. In the small map, a number is used as it is and
    ``null`` means never.
    """
    thresholds: dict[str, float | None] = {}
    if isinstance(data, dict) and isinstance(data.get("classes"), list) and "policy" in data:
        for position, entry in enumerate(data["classes"]):
            if not isinstance(entry, dict):
                raise SeedOptionError(f"{source}: classes[{position}] is not an object")
            label = _threshold_label(entry.get("label"), f"{source}: classes[{position}]")
            value = _threshold_value(label, entry.get("threshold"), source)
            status = entry.get("threshold_status")
            if status in NO_THRESHOLD_STATUSES or (value is not None and value >= NEVER_THRESHOLD):
                value = None
            if label in thresholds:
                raise SeedOptionError(f"{source}: class {label!r} appears twice")
            thresholds[label] = value
        return AcceptAbove(thresholds, source)
    if not isinstance(data, dict):
        raise SeedOptionError(
            f'{source}: expected a `bulkqa report --format json` output or {{"Label": threshold or null}}, '
            f"got {type(data).__name__}"
        )
    for raw_label, raw_value in data.items():
        label = _threshold_label(raw_label, source)
        if label in thresholds:
            raise SeedOptionError(f"{source}: class {label!r} appears twice")
        thresholds[label] = _threshold_value(label, raw_value, source)
    return AcceptAbove(thresholds, source)


def load_accept_above(text: str | bytes, *, source: str) -> AcceptAbove:
    """``parse_accept_above`` of a file's text; a JSON error names the file and the position."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SeedOptionError(f"{source} is not valid JSON: {err}") from err
    return parse_accept_above(data, source=source)


@dataclass(frozen=True)
class SeedOptions:
    """Everything that decides what a seed does (besides the CSV and the images)."""

    round: str | None = None  # None: a generated name
    batch_size: int = DEFAULT_BATCH_SIZE
    threshold: float = DEFAULT_CONFIDENCE_THRESHOLD
    extend: bool = False
    re_review: bool = False
    min_votes: int = 1
    workers_per_object: int | None = None
    accept_above: AcceptAbove | None = None
    sample: int | None = None
    sample_seed: int = 0
    copy_images: bool = False
    delimiter: str | None = None  # None: sniffed from the header
    confidence_scale: int | None = None  # 1 or 100; None: 100 (and a hint if every value looks like 0-1)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the gold set's fingerprint (issue 16)

    def result_options(self) -> dict[str, Any]:
        """The options that change which pairs are queued and how: part of a part's input hash.

        Not here on purpose: ``extend`` (it says *whether* a new part may be added, not what is in
        it) and concurrency.
        """
        accept = self.accept_above.canonical() if self.accept_above else None
        return {
            "batch_size": self.batch_size,
            "threshold": self.threshold,
            "re_review": self.re_review,
            "min_votes": self.min_votes,
            "accept_above_sha256": hashlib.sha256(accept.encode()).hexdigest() if accept else None,
            "sample": self.sample,
            "sample_seed": self.sample_seed if self.sample is not None else None,
            "copy_images": self.copy_images,
            "delimiter": self.delimiter,
            "confidence_scale": self.confidence_scale,
            **self.extra,
        }


# The keys a launch event may carry besides "csv" and "images" (and what the CLI flags map to).
OPTION_KEYS = (
    "round",
    "batch_size",
    "threshold",
    "extend",
    "re_review",
    "min_votes",
    "workers_per_object",
    "accept_above",
    "sample",
    "sample_seed",
    "copy_images",
    "delimiter",
    "confidence_scale",
)


def seed_options(raw: Mapping[str, Any], *, defaults: Mapping[str, Any] | None = None) -> SeedOptions:
    """Validate ``raw`` (launch event keys or CLI values; ``None`` = not given) into ``SeedOptions``.

    ``defaults`` (same keys) fill what ``raw`` lacks, e.g. the function's environment; they are
    validated by the same rules. ``accept_above`` may be an ``AcceptAbove`` already (the CLI reads
    the file) or the JSON data itself (the launch event).
    """
    unknown = sorted(set(raw) - set(OPTION_KEYS))
    if unknown:
        names = ", ".join(map(repr, unknown))
        raise SeedOptionError(f"unknown seed option(s) {names}; known: {', '.join(OPTION_KEYS)}")
    merged = {**(defaults or {}), **{k: v for k, v in raw.items() if v is not None}}

    round_name = merged.get("round")
    if round_name is not None:
        try:
            validate_round_name(round_name)
        except RoundNameError as err:
            raise SeedOptionError(f"{_names('round')}: {err}") from err
    batch_size = _integer("batch_size", merged.get("batch_size", DEFAULT_BATCH_SIZE), 1, MAX_BATCH_SIZE)
    threshold = _number("threshold", merged.get("threshold", DEFAULT_CONFIDENCE_THRESHOLD), 0.0, 100.0)
    extend = _flag("extend", merged.get("extend", False))
    re_review = _flag("re_review", merged.get("re_review", False))
    copy_images = _flag("copy_images", merged.get("copy_images", False))
    workers = merged.get("workers_per_object")
    if workers is not None:
        workers = _integer("workers_per_object", workers, 1, MAX_WORKERS_PER_OBJECT)
    min_votes = merged.get("min_votes")
    min_votes = _integer("min_votes", min_votes, 1, MAX_MIN_VOTES) if min_votes is not None else (workers or 1)
    sample = merged.get("sample")
    if sample is not None:
        sample = _integer("sample", sample, 1, MAX_SAMPLE)
    sample_seed = merged.get("sample_seed")
    if sample_seed is not None:
        sample_seed = _integer("sample_seed", sample_seed, 0, MAX_SAMPLE_SEED)
        if sample is None:
            raise SeedOptionError(f"{_names('sample_seed')} is only meaningful with {_names('sample')}")
    delimiter = merged.get("delimiter")
    if delimiter is not None:
        if not isinstance(delimiter, str):
            raise SeedOptionError(f"{_names('delimiter')} must be a character or a name like tab, got {delimiter!r}")
        try:
            delimiter = parse_delimiter(delimiter)
        except ValueError as err:
            raise SeedOptionError(f"{_names('delimiter')}: {err}") from err
    scale = merged.get("confidence_scale")
    if scale is not None and (isinstance(scale, bool) or scale not in (1, 100) or not isinstance(scale, int)):
        raise SeedOptionError(f"{_names('confidence_scale')} must be 1 or 100, got {scale!r}")
    accept = merged.get("accept_above")
    if accept is not None and not isinstance(accept, AcceptAbove):
        accept = parse_accept_above(accept, source=_names("accept_above"))
    return SeedOptions(
        round=round_name,
        batch_size=batch_size,
        threshold=threshold,
        extend=extend,
        re_review=re_review,
        min_votes=min_votes,
        workers_per_object=workers,
        accept_above=accept,
        sample=sample,
        sample_seed=sample_seed or 0,
        copy_images=copy_images,
        delimiter=delimiter,
        confidence_scale=scale,
    )


def integer_from_text(key: str, text: str, low: int, high: int) -> int:
    """An environment variable's whole number: ASCII digits only, then the usual range check."""
    stripped = text.strip()
    if not (stripped.isascii() and stripped.isdigit()):
        raise SeedOptionError(f"{_names(key)} must be a whole number from {low:,} to {high:,}, got {text!r}")
    return _integer(key, int(stripped), low, high)


def number_from_text(key: str, text: str, low: float, high: float) -> float:
    """An environment variable's number: a plain ASCII decimal, then the usual range check."""
    stripped = text.strip()
    allowed = set("0123456789.")
    if not stripped or not stripped.isascii() or set(stripped) - allowed or stripped.count(".") > 1 or stripped == ".":
        raise SeedOptionError(f"{_names(key)} must be a number from {low:g} to {high:g}, got {text!r}")
    return _number(key, float(stripped), low, high)
