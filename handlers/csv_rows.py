"""Read a model-label CSV into validated rows, streaming, in constant memory (pure: no AWS, no files).

The CSVs come from model runs, vendors and Excel, so they are taken as they are: any column order,
``image_local_path``/``image``/``image_path`` as the path column, CRLF, LF or CR line ends, an
optional UTF-8 byte-order mark, separated by commas, semicolons or tabs (sniffed from the header,
or given). A bad row never stops the load: it is reported with its line number and skipped. What
every row must satisfy is in docs/bad-inputs.md; the pieces live in ``handlers.image_paths``,
``handlers.confidence_values`` and ``handlers.text_checks``.

No row may vanish without being listed. A stray quote (``bad.jpg,"Dog,90``) makes a CSV parser
read every following line, up to the next quote, as one field; no valid field may contain a line
break, so a record that spans lines is either one bad row (its quote closes on the next lines,
which hold no rows) or a *runaway quote*: its line is reported and every line it swallowed is read
again as a row of its own. ``CsvStats`` counts physical lines and what became of each, so
``unaccounted_lines`` is 0 unless this module has a bug; callers treat anything else as a failure.

Streaming (for constant-memory seeding)::

    reader = LabelCsvReader(stream, threshold, source="labels.csv")   # header read here:
    for row in reader:                                                 #   CsvFormatError if bad
        ...                     # rows at or above the threshold, in file order, already deduplicated
    reader.problems             # RowProblem list so far (or pass on_problem= to receive them)
    reader.below_threshold      # {label: rows below the threshold}
    reader.stats                # CsvStats: lines, rows, runaway quotes, delimiter, scale...
    reader.scale_problem()      # message if every confidence looks like a 0-1 fraction, else None

``stream`` is bytes, str, or anything with ``read(n)`` returning bytes (a file opened ``"rb"``, an
S3 ``StreamingBody``) or str; it is read in 64 KiB chunks. Memory grows only with the number of
distinct (image, label) pairs (12 bytes of digest each, to report duplicates) and with the
problems kept. ``parse_label_csv`` is the same reader collected into lists.
"""

from __future__ import annotations

import codecs
import csv
import functools
import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from handlers.confidence_values import ConfidenceError, parse_confidence
from handlers.image_paths import MAX_IMAGE_PATH_BYTES, ImagePathError, normalise_image_path
from handlers.text_checks import forbidden_character

__all__ = [
    "MAX_IMAGE_PATH_BYTES",
    "CsvFormatError",
    "CsvStats",
    "LabelCsvReader",
    "LabelRow",
    "ParsedCsv",
    "RowProblem",
    "decode_csv",
    "iter_label_csv",
    "parse_delimiter",
    "parse_label_csv",
]

IMAGE_COLUMNS = ("image_local_path", "image", "image_path")
LABEL_COLUMN = "label"
CONFIDENCE_COLUMN = "confidence"
MAX_LABEL_LENGTH = 128
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
_DELIMITER_NAMES = {"comma": ",", "semicolon": ";", "tab": "\t", "\\t": "\t", "pipe": "|"}
CHUNK_SIZE = 1 << 16
_LINE_END = re.compile(r"\r\n|\r|\n")


class CsvFormatError(ValueError):
    """The file as a whole cannot be read (encoding, header): nothing can be loaded."""


@dataclass(frozen=True)
class LabelRow:
    """One (image, label) pair the model produced, with the CSV line it came from."""

    line: int
    image: str
    label: str
    confidence: float  # always on the 0-100 scale of the threshold


@dataclass(frozen=True)
class RowProblem:
    """A row that was skipped, and why. ``last_line`` is set when the row spans several lines."""

    line: int
    reason: str
    last_line: int | None = None

    def __str__(self) -> str:
        if self.last_line and self.last_line != self.line:
            return f"lines {self.line}-{self.last_line}: {self.reason}"
        return f"line {self.line}: {self.reason}"


@dataclass
class CsvStats:
    """What became of every physical line, and what the file looked like."""

    delimiter: str = ","
    confidence_scale: int = 100
    scale_given: bool = False
    physical_lines: int = 0
    header_lines: int = 0  # the header and any blank lines before it
    blank_lines: int = 0
    rows_read: int = 0  # records read as rows (a runaway quote's lines each count once)
    row_lines: int = 0  # physical lines those rows covered
    valid_rows: int = 0
    queued_rows: int = 0
    below_threshold_rows: int = 0
    problem_rows: int = 0
    runaway_quotes: int = 0
    lines_reread: int = 0  # lines swallowed by a runaway quote and read again on their own
    percent_values: int = 0
    plain_values: int = 0
    max_plain_confidence: float | None = None

    @property
    def unaccounted_lines(self) -> int:
        """Physical lines that are neither header, blank, nor part of a row: 0 unless there is a bug."""
        return self.physical_lines - self.header_lines - self.blank_lines - self.row_lines

    @property
    def looks_like_fractions(self) -> bool:
        """Every confidence is between 0 and 1, none has a ``%``, and the scale was not given."""
        return (
            not self.scale_given
            and self.percent_values == 0
            and self.plain_values > 0
            and (self.max_plain_confidence or 0.0) <= 1.0
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "delimiter": self.delimiter,
            "confidence_scale": self.confidence_scale,
            "physical_lines": self.physical_lines,
            "rows_read": self.rows_read,
            "valid_rows": self.valid_rows,
            "problem_rows": self.problem_rows,
            "runaway_quotes": self.runaway_quotes,
            "lines_reread": self.lines_reread,
            "unaccounted_lines": self.unaccounted_lines,
        }


@dataclass
class ParsedCsv:
    """Everything the seed step needs to know about one CSV."""

    queued: list[LabelRow] = field(default_factory=list)
    below_threshold: dict[str, int] = field(default_factory=dict)
    problems: list[RowProblem] = field(default_factory=list)
    rows_read: int = 0
    stats: CsvStats = field(default_factory=CsvStats)


def parse_delimiter(value: str) -> str:
    """``--delimiter``: one character, or ``comma``/``semicolon``/``tab``/``\\t``/``pipe``."""
    text = _DELIMITER_NAMES.get(value.strip().lower(), value) if value.strip() else value
    if len(text) != 1 or text in '"\r\n' or text.isalnum():
        raise ValueError(
            f"delimiter {value!r} is not usable: give one character such as ',' ';' or 'tab' (not a quote, "
            "letter, digit or line break)"
        )
    return text


def _delimiter_name(delimiter: str) -> str:
    return "a tab" if delimiter == "\t" else f"'{delimiter}'"


# ------------------------------------------------------------------------------------------------
# Bytes -> decoded text -> physical lines, in chunks.
# ------------------------------------------------------------------------------------------------


def _chunks(data: Any) -> Iterator[bytes | str]:
    if isinstance(data, (bytes, bytearray, memoryview, str)):
        view = data if isinstance(data, str) else bytes(data)
        for start in range(0, len(view), CHUNK_SIZE):
            yield view[start : start + CHUNK_SIZE]
        return
    read = getattr(data, "read", None)
    if read is not None:
        while chunk := read(CHUNK_SIZE):
            yield chunk
        return
    try:
        pieces = iter(data)
    except TypeError:
        raise TypeError(f"expected bytes, str, a stream or an iterable of them, got {type(data).__name__}") from None
    yield from (piece for piece in pieces if piece)


def _decode_error(err: UnicodeDecodeError, newlines_before: int, source: str) -> CsvFormatError:
    line = newlines_before + err.object[: err.start].count(b"\n") + 1
    return CsvFormatError(
        f"{source} is not UTF-8: byte 0x{err.object[err.start]:02x} at line {line} "
        "(save the file as UTF-8, e.g. Excel's 'CSV UTF-8', and run again)"
    )


def _texts(data: Any, source: str) -> Iterator[str]:
    """Decoded text in chunks; the UTF-8 byte-order mark is dropped, a decoding error names its line."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    newlines_before = 0
    at_start = True
    for chunk in _chunks(data):
        if isinstance(chunk, str):
            text = chunk
        else:
            if at_start and chunk[:2] in (b"\xff\xfe", b"\xfe\xff"):
                raise CsvFormatError(
                    f"{source} is not UTF-8: byte 0x{chunk[0]:02x} at line 1 (the file looks like UTF-16, "
                    "e.g. Excel's 'Unicode Text'; save it as 'CSV UTF-8' and run again)"
                )
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as err:
                raise _decode_error(err, newlines_before, source) from err
            newlines_before += chunk.count(b"\n")
        if at_start and text:
            at_start = False
            if text.startswith("\ufeff"):
                text = text[1:]
        if text:
            yield text
    try:
        tail = decoder.decode(b"", final=True)
    except UnicodeDecodeError as err:
        raise _decode_error(err, newlines_before, source) from err
    if tail:
        yield tail


def _lines(texts: Iterator[str]) -> Iterator[str]:
    """Physical lines with their terminators (``\\r\\n``, ``\\r`` or ``\\n``), as the csv module counts them."""
    pending: list[str] = []
    for text in texts:
        if pending and pending[-1].endswith("\r"):  # a CR at the end of the last chunk
            if text.startswith("\n"):
                pending.append("\n")
                text = text[1:]
            yield "".join(pending)
            pending.clear()
        start = 0
        for match in _LINE_END.finditer(text):
            if match.group() == "\r" and match.end() == len(text):
                break  # may be the first half of a CRLF split across chunks
            pending.append(text[start : match.end()])
            yield "".join(pending)
            pending.clear()
            start = match.end()
        if start < len(text):
            pending.append(text[start:])
    if pending:
        yield "".join(pending)


def decode_csv(data: bytes, *, source: str = "CSV") -> str:
    """Decode CSV bytes as UTF-8 (a byte-order mark is dropped); name the offending byte and line if not."""
    return "".join(_texts(data, source))


# ------------------------------------------------------------------------------------------------
# Field checks.
# ------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _check_label(raw: str) -> tuple[str | None, str | None]:
    """The label's NFC spelling, or why it is refused: pure, so cached (a CSV repeats a few labels
    on every row; the bound keeps memory constant whatever the labels)."""
    label = unicodedata.normalize("NFC", raw.strip())
    if not label:
        return None, "empty label"
    if len(label) > MAX_LABEL_LENGTH:
        return None, f"label is {len(label)} characters long (at most {MAX_LABEL_LENGTH})"
    reason = forbidden_character(label)
    if reason:
        return None, f"label contains {reason}"
    return label, None


def _rows(count: int) -> str:
    return f"{count:,} row" if count == 1 else f"{count:,} rows"


def _digest(image: str, label: str) -> int:
    """96 bits of BLAKE2b: the duplicate check keeps this, not the strings (constant memory per pair)."""
    return int.from_bytes(hashlib.blake2b(f"{image}\x00{label}".encode(), digest_size=12).digest(), "big")


# ------------------------------------------------------------------------------------------------
# The reader.
# ------------------------------------------------------------------------------------------------


class LabelCsvReader:
    """Iterate the valid rows at or above ``threshold``; collect problems and stats as it goes.

    The header is read (and the delimiter sniffed) in the constructor, so a file that cannot be
    read at all raises ``CsvFormatError`` before anything else happens. Iterate once.

    ``delimiter``: None to sniff comma, semicolon or tab from the header. ``confidence_scale``: 1 or
    100 if the user said so; None means 100, and ``scale_problem()`` reports a file whose
    confidences all look like 0-1 fractions. ``image_check(path) -> reason | None`` refuses rows
    whose (normalised) image path the image source cannot take. ``on_problem`` receives each
    problem instead of keeping it in ``problems`` (for a caller that streams them out). ``stats``:
    a fresh ``CsvStats`` to fill instead of a new one (so a caller holds it before iterating).
    """

    def __init__(
        self,
        data: Any,
        threshold: float,
        *,
        source: str = "CSV",
        delimiter: str | None = None,
        confidence_scale: int | None = None,
        image_check: Callable[[str], str | None] | None = None,
        on_problem: Callable[[RowProblem], None] | None = None,
        stats: CsvStats | None = None,
    ) -> None:
        self.source = source
        self.threshold = threshold
        self.problems: list[RowProblem] = []
        self.below_threshold: dict[str, int] = {}
        self.stats = stats if stats is not None else CsvStats()
        self.stats.confidence_scale = confidence_scale or 100
        self.stats.scale_given = confidence_scale is not None
        if confidence_scale not in (None, 1, 100):
            raise ValueError(f"confidence scale must be 1 or 100, got {confidence_scale!r}")
        self._image_check = image_check
        self._on_problem = on_problem
        self._first_seen: dict[int, int] = {}
        self._physical = self._numbered(_lines(_texts(data, source)))
        self._started = False
        self._read_header(delimiter)

    # -- header ---------------------------------------------------------------------------------

    def _numbered(self, lines: Iterator[str]) -> Iterator[tuple[int, str]]:
        for text in lines:
            self.stats.physical_lines += 1
            yield self.stats.physical_lines, text

    def _read_header(self, delimiter: str | None) -> None:
        for number, text in self._physical:  # noqa: B007 - the header's line number is used below
            self.stats.header_lines += 1
            if text.strip(" \t\r\n,;"):
                break
        else:
            raise CsvFormatError(f"{self.source} is empty: expected a header line")
        candidates = [delimiter] if delimiter else list(DELIMITERS)
        best: tuple[int, str, list[str], list[str]] | None = None
        for candidate in candidates:
            try:
                header = next(csv.reader([text], delimiter=candidate, strict=False), [])
            except csv.Error:
                raise CsvFormatError(f"{self.source}: the header line (line {number}) is too long") from None
            names = [name.strip().lstrip("\ufeff").strip().lower() for name in header]
            missing = self._missing_columns(names)
            score = 3 - len(missing)
            if best is None or score > best[0]:
                best = (score, candidate, header, missing)
        assert best is not None
        _, chosen, header, missing = best
        if missing:
            tried = _delimiter_name(chosen) if delimiter else "',', ';' or a tab"
            raise CsvFormatError(
                f"{self.source}: header {header!r} lacks column(s) {', '.join(missing)}; "
                f"expected image_local_path,label,confidence in any order, separated by {tried}"
                + ("" if delimiter else " (or give --delimiter)")
            )
        names = [name.strip().lstrip("\ufeff").strip().lower() for name in header]
        for name in (*IMAGE_COLUMNS, LABEL_COLUMN, CONFIDENCE_COLUMN):
            if names.count(name) > 1:
                raise CsvFormatError(f"{self.source}: column {name!r} appears twice in the header (line {number})")
        self.stats.delimiter = chosen
        self.delimiter = chosen
        self.image_at = next(names.index(c) for c in IMAGE_COLUMNS if c in names)
        self.label_at = names.index(LABEL_COLUMN)
        self.confidence_at = names.index(CONFIDENCE_COLUMN)
        self.header_width = len(names)
        self.width = max(self.image_at, self.label_at, self.confidence_at) + 1

    @staticmethod
    def _missing_columns(names: list[str]) -> list[str]:
        missing = []
        if not any(c in names for c in IMAGE_COLUMNS):
            missing.append("image_local_path (or image)")
        if LABEL_COLUMN not in names:
            missing.append(LABEL_COLUMN)
        if CONFIDENCE_COLUMN not in names:
            missing.append(CONFIDENCE_COLUMN)
        return missing

    # -- records --------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[LabelRow]:
        """The rows at or above the threshold; problems go to ``problems`` (or ``on_problem``)."""
        for event in self.events():
            if isinstance(event, RowProblem):
                if self._on_problem is not None:
                    self._on_problem(event)
                else:
                    self.problems.append(event)
            elif event.confidence >= self.threshold:
                yield event

    def events(self) -> Iterator[LabelRow | RowProblem]:
        """Every valid row (whatever its confidence) and every problem, in file order.

        ``below_threshold`` and ``stats`` are kept up to date either way; ``problems`` is filled only
        by iterating the reader itself.
        """
        if self._started:
            raise RuntimeError("a LabelCsvReader is iterated once")
        self._started = True
        for event in self._events():
            if isinstance(event, LabelRow):
                if event.confidence < self.threshold:
                    self.below_threshold[event.label] = self.below_threshold.get(event.label, 0) + 1
                    self.stats.below_threshold_rows += 1
                else:
                    self.stats.queued_rows += 1
            yield event

    def _records(self) -> Iterator[tuple[list[tuple[int, str]], list[str] | None]]:
        """(the physical lines of one record, its fields or None if the csv module refused it)."""
        pending: list[tuple[int, str]] = []

        def feed() -> Iterator[str]:
            for number, text in self._physical:
                pending.append((number, text))
                yield text

        reader = csv.reader(feed(), delimiter=self.delimiter, strict=False)
        while True:
            pending.clear()
            try:
                fields: list[str] | None = next(reader)
            except StopIteration:
                return
            except csv.Error:  # a field over the size limit: the reader starts afresh on the next line
                fields = None
            if pending:
                yield list(pending), fields

    def _events(self) -> Iterator[LabelRow | RowProblem]:
        for lines, fields in self._records():
            if len(lines) == 1:
                number, text = lines[0]
                if fields is None:
                    self._count_row(1)
                    yield self._problem(number, f"a field is longer than {csv.field_size_limit()} characters")
                elif self._ends_in_quote(text) and any(f.strip() for f in fields):
                    # The record ended with the file while a quote was still open.
                    self._count_row(1)
                    yield from self._checked(number, fields, unclosed=True)
                else:
                    yield from self._row(number, fields)
            else:
                yield from self._spanning(lines, fields)

    def _spanning(self, lines: list[tuple[int, str]], fields: list[str] | None) -> Iterator[LabelRow | RowProblem]:
        """A record over several lines: one bad row, or a runaway quote whose lines are read again."""
        first, last = lines[0][0], lines[-1][0]
        closes_on_last = fields is not None and lines[-1][1].count('"') % 2 == 1
        swallowed_rows = any(self._row_shaped(text) for _, text in lines[1:-1])
        if closes_on_last and not swallowed_rows:
            assert fields is not None
            yield from self._row(first, fields, last_line=last)
            return
        self.stats.runaway_quotes += 1
        self._count_row(1)
        limit = "" if fields is not None else f", past the {csv.field_size_limit():,}-character field limit"
        yield self._problem(
            first,
            f"unclosed quote: the quoted field opened on this line ran on over lines {first + 1}-{last}{limit}; "
            "those lines were read as rows of their own",
        )
        for number, text in lines[1:]:
            self.stats.lines_reread += 1
            yield from self._line_alone(number, text)

    def _split(self, text: str) -> list[str] | None:
        try:
            return next(csv.reader([text], delimiter=self.delimiter, strict=False), [])
        except csv.Error:
            return None

    def _ends_in_quote(self, text: str) -> bool:
        """True if a quote opened on this line (read on its own) is still open at its end."""
        if '"' not in text:
            return False  # no quote, none open: the common line, without building a reader for it
        try:
            next(csv.reader([text], delimiter=self.delimiter, strict=True), None)
        except csv.Error as err:
            return "end of data" in str(err)
        return False

    def _row_shaped(self, text: str) -> bool:
        fields = self._split(text)
        return fields is not None and len(fields) >= self.width

    def _line_alone(self, number: int, text: str) -> Iterator[LabelRow | RowProblem]:
        fields = self._split(text)
        if fields is not None and not any(f.strip() for f in fields):
            self.stats.blank_lines += 1
            return
        self._count_row(1)
        if fields is None:
            yield self._problem(number, f"a field is longer than {csv.field_size_limit()} characters")
        elif text.count('"') % 2:
            yield self._problem(number, "a quote out of place on this line (a quote must open and close a whole field)")
        else:
            yield from self._checked(number, fields)

    def _count_row(self, lines: int) -> None:
        self.stats.rows_read += 1
        self.stats.row_lines += lines

    def _problem(self, line: int, reason: str, last_line: int | None = None) -> RowProblem:
        self.stats.problem_rows += 1
        return RowProblem(line, reason, last_line)

    def _row(self, line: int, fields: list[str], last_line: int | None = None) -> Iterator[LabelRow | RowProblem]:
        span = (last_line or line) - line + 1
        if not any(f.strip() for f in fields):
            self.stats.blank_lines += span
            return
        self._count_row(span)
        yield from self._checked(line, fields, last_line=last_line)

    def _checked(
        self, line: int, fields: list[str], *, last_line: int | None = None, unclosed: bool = False
    ) -> Iterator[LabelRow | RowProblem]:
        """Validate one counted row; yield it, or its problem."""
        checked = self._reason(fields)
        if not isinstance(checked, str) and unclosed:
            checked = "unclosed quote on this line (a quote must open and close a whole field)"
        if isinstance(checked, str):
            if last_line is not None:
                checked += f" (a quoted field runs over lines {line}-{last_line})"
            yield self._problem(line, checked, last_line)
            return
        yield self._valid_row(line, *checked)

    def _reason(self, fields: list[str]) -> str | tuple[str, str, float, bool]:
        """Why the row is bad, or its (image, label, confidence, whether it had a %)."""
        if len(fields) < self.width:
            names = {self.image_at: "image_local_path", self.label_at: "label", self.confidence_at: "confidence"}
            lacking = [names[i] for i in sorted(names) if i >= len(fields)]
            return f"missing field(s) {', '.join(lacking)}"
        if len(fields) > self.header_width and any(f.strip() for f in fields[self.header_width :]):
            return (
                f"row has {len(fields)} fields but the header has {self.header_width}: "
                f"quote values that contain {_delimiter_name(self.delimiter)}"
            )
        try:
            image = normalise_image_path(fields[self.image_at])
        except ImagePathError as err:
            return str(err)
        label, label_reason = _check_label(fields[self.label_at])
        if label_reason or label is None:
            return label_reason or "empty label"
        try:
            confidence, percent = self._confidence(fields[self.confidence_at])
        except ConfidenceError as err:
            return str(err)
        return image, label, confidence, percent

    def _confidence(self, raw: str) -> tuple[float, bool]:
        return parse_confidence(raw, scale=self.stats.confidence_scale, decimal_comma=self.delimiter != ",")

    def _valid_row(self, line: int, image: str, label: str, confidence: float, percent: bool) -> LabelRow | RowProblem:
        if self._image_check is not None:
            refused = self._image_check(image)
            if refused:
                return self._problem(line, refused)
        key = _digest(image, label)
        if key in self._first_seen:
            return self._problem(line, f"duplicate of line {self._first_seen[key]} ({image!r} labelled {label!r})")
        self._first_seen[key] = line
        stats = self.stats
        stats.valid_rows += 1
        if percent:
            stats.percent_values += 1
        else:
            stats.plain_values += 1
            stats.max_plain_confidence = max(stats.max_plain_confidence or 0.0, confidence)
        return LabelRow(line, image, label, confidence)

    def scale_problem(self) -> str | None:
        """A message if every confidence looks like a 0-1 fraction read on the 0-100 scale, else None."""
        if not self.stats.looks_like_fractions:
            return None
        return (
            f"every confidence in {self.source} is between 0 and 1 ({_rows(self.stats.plain_values)}), so all "
            f"would be below the threshold {self.threshold:g}: if they are fractions, run again with "
            "--confidence-scale 1 (or --confidence-scale 100 if they really are percentages)"
        )


def parse_label_csv(
    data: Any,
    threshold: float,
    *,
    source: str = "CSV",
    delimiter: str | None = None,
    confidence_scale: int | None = None,
    image_check: Callable[[str], str | None] | None = None,
) -> ParsedCsv:
    """Validate every row; queue those at or above ``threshold`` (an inclusive lower bound)."""
    reader = LabelCsvReader(
        data,
        threshold,
        source=source,
        delimiter=delimiter,
        confidence_scale=confidence_scale,
        image_check=image_check,
    )
    queued = list(reader)
    return ParsedCsv(
        queued=queued,
        below_threshold=reader.below_threshold,
        problems=reader.problems,
        rows_read=reader.stats.rows_read,
        stats=reader.stats,
    )


def iter_label_csv(
    data: Any,
    threshold: float,
    *,
    source: str = "CSV",
    delimiter: str | None = None,
    confidence_scale: int | None = None,
    image_check: Callable[[str], str | None] | None = None,
    stats: CsvStats | None = None,
) -> Iterator[LabelRow | RowProblem]:
    """Events of ``LabelCsvReader.events()``: every valid row (any confidence) and every problem.

    For a caller that keeps its own tallies (the seed's ``iter_csv_rows``). ``data`` may be an
    iterator of decoded lines. Pass ``stats`` to receive the reader's ``CsvStats`` (filled as the
    file is read; complete when the iterator is exhausted). ``CsvFormatError`` is raised on the
    first ``next()`` when the header cannot be read.
    """
    reader = LabelCsvReader(
        data,
        threshold,
        source=source,
        delimiter=delimiter,
        confidence_scale=confidence_scale,
        image_check=image_check,
        stats=stats,
    )
    yield from reader.events()
