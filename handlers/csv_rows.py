"""Read a model-label CSV into validated rows (pure: no AWS, no files).

The CSVs come from model runs and vendors, so they are taken as they are: any column order,
CRLF or LF line ends, an optional UTF-8 byte-order mark, ``image_local_path`` or ``image`` as the
path column. A bad row never stops the load: it is reported with its line number and skipped.
"""

from __future__ import annotations

import csv
import io
import math
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

IMAGE_COLUMNS = ("image_local_path", "image", "image_path")
LABEL_COLUMN = "label"
CONFIDENCE_COLUMN = "confidence"
MAX_LABEL_LENGTH = 128
MAX_IMAGE_PATH_BYTES = 900  # S3 keys stop at 1,024 bytes; leave room for a prefix


class CsvFormatError(ValueError):
    """The file as a whole cannot be read (encoding, missing columns): nothing can be loaded."""


@dataclass(frozen=True)
class LabelRow:
    """One (image, label) pair the model produced, with the CSV line it came from."""

    line: int
    image: str
    label: str
    confidence: float


@dataclass(frozen=True)
class RowProblem:
    """A row that was skipped, and why."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ParsedCsv:
    """Everything the seed step needs to know about one CSV."""

    queued: list[LabelRow] = field(default_factory=list)
    below_threshold: dict[str, int] = field(default_factory=dict)
    problems: list[RowProblem] = field(default_factory=list)
    rows_read: int = 0


def decode_csv(data: bytes, *, source: str = "CSV") -> str:
    """Decode CSV bytes as UTF-8 (a byte-order mark is dropped); name the offending byte if not."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        # The utf-8-sig codec decodes what follows the BOM, so ``err.start`` indexes ``err.object``.
        line = err.object[: err.start].count(b"\n") + 1
        raise CsvFormatError(
            f"{source} is not UTF-8: byte 0x{err.object[err.start]:02x} at line {line} "
            "(save the file as UTF-8 and run again)"
        ) from err


def _normalise_header(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip().lower()


def _column_positions(header: list[str], source: str) -> tuple[int, int, int]:
    names = [_normalise_header(h) for h in header]
    image = next((names.index(c) for c in IMAGE_COLUMNS if c in names), None)
    missing = []
    if image is None:
        missing.append("image_local_path (or image)")
    if LABEL_COLUMN not in names:
        missing.append(LABEL_COLUMN)
    if CONFIDENCE_COLUMN not in names:
        missing.append(CONFIDENCE_COLUMN)
    if missing:
        raise CsvFormatError(
            f"{source}: header {header!r} lacks column(s) {', '.join(missing)}; "
            "expected image_local_path,label,confidence in any order"
        )
    assert image is not None
    return image, names.index(LABEL_COLUMN), names.index(CONFIDENCE_COLUMN)


def _check_image_path(raw: str) -> tuple[str | None, str | None]:
    """Return (normalised path, None) or (None, reason)."""
    path = raw.strip().replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    if not path:
        return None, "missing image path"
    if path.startswith("/") or any(part == ".." for part in path.split("/")):
        return None, f"image path {raw!r} must be relative and stay inside the image folder"
    if len(path.encode("utf-8")) > MAX_IMAGE_PATH_BYTES:
        return None, f"image path is longer than {MAX_IMAGE_PATH_BYTES} bytes"
    if any(unicodedata.category(ch) == "Cc" for ch in path):
        return None, "image path contains control characters"
    return path, None


def _check_label(raw: str) -> tuple[str | None, str | None]:
    label = unicodedata.normalize("NFC", raw.strip())
    if not label:
        return None, "empty label"
    if len(label) > MAX_LABEL_LENGTH:
        return None, f"label is {len(label)} characters long (at most {MAX_LABEL_LENGTH})"
    if any(unicodedata.category(ch) == "Cc" for ch in label):
        return None, "label contains control characters"
    return label, None


def _check_confidence(raw: str) -> tuple[float | None, str | None]:
    text = raw.strip()
    if not text:
        return None, "missing confidence"
    try:
        value = float(text)
    except ValueError:
        return None, f"confidence {text!r} is not a number"
    if not math.isfinite(value):
        return None, f"confidence {text!r} is not a finite number"
    if not 0.0 <= value <= 100.0:
        return None, f"confidence {text} is out of range 0-100"
    return value, None


def _records(text: str) -> Iterable[tuple[int, list[str] | None]]:
    """Yield (first line number, fields) for each CSV record, counting physical lines.

    A record the csv module refuses (a field over its size limit) comes back as ``None`` so that
    one oversized row is skipped like any bad row instead of failing the whole file; the reader
    starts afresh on the next line.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    previous_end = 0
    while True:
        try:
            fields: list[str] | None = next(reader)
        except StopIteration:
            return
        except csv.Error:
            fields = None
        yield previous_end + 1, fields
        previous_end = reader.line_num


def parse_label_csv(text: str, threshold: float, *, source: str = "CSV") -> ParsedCsv:
    """Validate every row; queue those at or above ``threshold`` (an inclusive lower bound)."""
    records = iter(_records(text))
    try:
        _, header = next(records)
    except StopIteration:
        raise CsvFormatError(f"{source} is empty: expected a header line") from None
    if header is None:
        raise CsvFormatError(f"{source}: the header line is too long to be a CSV header")
    image_at, label_at, confidence_at = _column_positions(header, source)
    width = max(image_at, label_at, confidence_at) + 1

    parsed = ParsedCsv()
    first_seen: dict[tuple[str, str], int] = {}
    for line, fields in records:
        if fields is not None and not any(f.strip() for f in fields):
            continue  # blank line
        parsed.rows_read += 1
        if fields is None:
            parsed.problems.append(RowProblem(line, f"a field is longer than {csv.field_size_limit()} characters"))
            continue
        if len(fields) < width:
            present = len(fields)
            names = {image_at: "image_local_path", label_at: "label", confidence_at: "confidence"}
            lacking = [names[i] for i in sorted(names) if i >= present]
            parsed.problems.append(RowProblem(line, f"missing field(s) {', '.join(lacking)}"))
            continue
        image, reason = _check_image_path(fields[image_at])
        label, label_reason = _check_label(fields[label_at])
        confidence, confidence_reason = _check_confidence(fields[confidence_at])
        reason = reason or label_reason or confidence_reason
        if reason:
            parsed.problems.append(RowProblem(line, reason))
            continue
        assert image is not None and label is not None and confidence is not None
        key = (image, label)
        if key in first_seen:
            parsed.problems.append(
                RowProblem(line, f"duplicate of line {first_seen[key]} ({image!r} labelled {label!r})")
            )
            continue
        first_seen[key] = line
        if confidence < threshold:
            parsed.below_threshold[label] = parsed.below_threshold.get(label, 0) + 1
            continue
        parsed.queued.append(LabelRow(line, image, label, confidence))
    return parsed
