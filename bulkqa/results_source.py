"""Where ``bulkqa report`` / ``bulkqa export`` read the QA results from.

- ``CsvResults``: a CSV with the columns ``image,label,confidence,WorkerConfirmCount,
  WorkerDisconfirmCount`` (any order, any case; ``image_local_path`` or ``s3_image_url`` also name
  the image column; an empty count means no vote).
- ``JsonlResults``: JSON lines with the same fields (``bulkqa export --format jsonl`` writes them).
- ``TableResults``: the QA table by a parallel Scan (``Segment``/``TotalSegments``, one thread per
  segment, every page), pair items only (items of other kinds, ``#…`` keys, are skipped).
- ``round_source.RoundResults`` (one round, by Query) and ``dynamodb_export.ExportResults`` (a
  DynamoDB export in S3) live in their own modules and follow the same protocol.

Every source yields ``Record`` tuples, counts ``rows_read`` and collects what it had to skip in
``problems``. The files also offer ``columns()``: the report's fast path (``bulkqa.columnar``, pyarrow),
which falls back to the row-by-row reading below whenever a row is not clean, so that every bad row
is named by its line exactly as before.

Numbers are read as ASCII decimals only (``90``, ``+90``, ``90.5``, ``9e1``, surrounding spaces
allowed): ``٨٠``, ``９０`` or ``8_0`` are not numbers here, although Python's ``float`` would take
them. A vote count above ``columnar.MAX_VOTES`` (2^53) makes the whole input unreadable (exit 2):
such a count is corrupt data, and skipping the row would hide it.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import queue
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bulkqa import columnar
from bulkqa.analysis import Record
from bulkqa.columnar import MAX_VOTES, ColumnSet
from handlers.settings import ATTR_CONFIDENCE, ATTR_CONFIRM_COUNT, ATTR_DISCONFIRM_COUNT, ATTR_IMAGE_URL, ATTR_LABEL

IMAGE_COLUMN = "image"
IMAGE_ALIASES = (IMAGE_COLUMN, "image_local_path", ATTR_IMAGE_URL)  # the seed's and the table's names
CSV_COLUMNS = (IMAGE_COLUMN, ATTR_LABEL, ATTR_CONFIDENCE, ATTR_CONFIRM_COUNT, ATTR_DISCONFIRM_COUNT)
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
DEFAULT_SEGMENTS = 8
MAX_PROBLEMS_KEPT = 1000

# ASCII decimal numbers only (see the module docstring).
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_WHOLE = re.compile(r"[+-]?[0-9]+")

# Called after each page a table source reads: (pages so far, items so far).
ProgressCallback = Callable[[int, int], None]


class ResultsFormatError(ValueError):
    """The input as a whole cannot be read (missing columns, not UTF-8, bad CSV quoting, a count too large)."""


@dataclass(frozen=True)
class Problem:
    where: str  # "line 12" or "item s3://…/a.jpg / Dog"
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


class _Problems:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.skipped = 0
        self.rows_read = 0

    def _skip(self, where: str, reason: str) -> None:
        self.skipped += 1
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append(Problem(where, reason))

    def _reset(self) -> None:
        self.problems, self.skipped, self.rows_read = [], 0, 0

    def columns(self) -> ColumnSet:
        """Every record as columns for ``build_report_from_columns`` (sources without a fast path)."""
        return columns_of(self)  # type: ignore[arg-type]


def columns_of(records: Any) -> ColumnSet:
    from bulkqa.analysis.report import Columns

    cols = Columns().extend(records)
    if not len(cols):
        return columnar.empty_columns()
    return (
        cols.labels,
        np.frombuffer(cols.label, dtype=np.int64),
        np.frombuffer(cols.confidence, dtype=np.float64),
        np.frombuffer(cols.confirm, dtype=np.int64),
        np.frombuffer(cols.disconfirm, dtype=np.int64),
    )


def _count(text: str) -> int | None:
    """A vote count: a non-negative whole number (``3`` or ``3.0``); empty means 0. None if invalid."""
    text = text.strip()
    if not text:
        return 0
    if _WHOLE.fullmatch(text):
        value = int(text)
    elif _NUMBER.fullmatch(text):
        number = float(text)
        if not (math.isfinite(number) and number.is_integer()):
            return None
        value = int(number)
    else:
        return None
    return value if value >= 0 else None


def _confidence(text: str) -> float | None:
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) and 0.0 <= value <= 100.0 else None


def _too_large(name: str, text: object) -> str:
    return f"{name} {text!r} is too large: a vote count must be at most 2^53 ({MAX_VOTES:,})"


def _value_reason(image: str, label: str, conf: str, c: str, d: str) -> str | None:
    """Why a row's (stripped image and label, raw number) fields are not a record; None if they are."""
    if not image:
        return "missing image"
    if not label:
        return "empty label"
    if _confidence(conf) is None:
        return f"confidence {conf.strip()!r} is not a number in 0-100"
    for name, text in ((ATTR_CONFIRM_COUNT, c), (ATTR_DISCONFIRM_COUNT, d)):
        if _count(text) is None:
            return f"{name} {text.strip()!r} is not a whole number >= 0"
    return None


def _header_positions(names: list[str], where: str) -> list[int]:
    """Where each of CSV_COLUMNS is in a header (exact name first, then any case, then the aliases)."""
    names = [n.strip() for n in names]
    lowered = [n.lower() for n in names]
    positions = []
    for column in CSV_COLUMNS:
        candidates = IMAGE_ALIASES if column == IMAGE_COLUMN else (column,)
        found = next((names.index(c) for c in candidates if c in names), None)
        if found is None:
            found = next((lowered.index(c.lower()) for c in candidates if c.lower() in lowered), None)
        if found is None:
            raise ResultsFormatError(
                f"{where}: header lacks column {column!r}; expected {','.join(CSV_COLUMNS)} (any order)"
            )
        positions.append(found)
    return positions


class CsvResults(_Problems):
    """Records streamed from a results CSV; bad rows go to ``problems`` with their line number."""

    def __init__(self, path: Path | str) -> None:
        super().__init__()
        self.path = Path(path)
        self.fast_path = False  # True once ``columns()`` was served by the columnar reader
        self._pending: list[str] = []

    def __iter__(self) -> Iterator[Record]:
        """Records one by one (for ``build_report`` and ``export``), each row's first line named.

        A record over several lines is a quoted field with line breaks. If the lines it swallowed
        look like rows of their own, or its quote never closes, it is a *runaway quote* (a stray
        ``"``): its first line is listed and every swallowed line is read again as a row, so no
        row vanishes unlisted (issue 12).
        """
        with self._reader() as (reader, positions, _):
            pending: list[str] = self._pending
            line = reader.line_num
            while True:
                pending.clear()
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                start, line = line + 1, reader.line_num
                if len(pending) > 1 and self._runaway(pending, max(positions) + 1):
                    self.rows_read += 1
                    self._skip(
                        f"line {start}",
                        f"unclosed quote: the quoted field opened on this line ran on over lines {start + 1}-{line}; "
                        "those lines were read as rows of their own",
                    )
                    for offset, text in enumerate(list(pending[1:]), start=1):
                        alone = next(csv.reader([text]), [])
                        record = self._parse(alone, start + offset, positions)
                        if record is not None:
                            yield record
                    continue
                record = self._parse(fields, start, positions)
                if record is not None:
                    yield record

    @staticmethod
    def _runaway(lines: list[str], width: int) -> bool:
        """A record over ``lines``: True unless its quote closes on the last line and no line in
        between could be a row of its own (then it is one field with line breaks, a legal CSV)."""
        closes_on_last = lines[-1].count('"') % 2 == 1
        swallowed_rows = any(len(next(csv.reader([text]), [])) >= width for text in lines[1:-1])
        return not closes_on_last or swallowed_rows

    def columns(self) -> ColumnSet:
        """``(labels, label_ids, confidence, confirm, disconfirm)`` for ``build_report_from_columns``.

        Clean files are read by pyarrow (``bulkqa.columnar``); any file with a row that is not clean
        is read again row by row, so its bad rows are named and skipped exactly as ``__iter__`` does.
        """
        self._reset()
        with self._reader() as (reader, positions, width):
            header_lines = reader.line_num
        if header_lines == 1:
            fast = columnar.csv_columns(self.path, width, positions)
            if fast is not None:
                self.rows_read, self.fast_path = len(fast[1]), True
                return fast
        self._reset()
        return columns_of(self)

    @contextlib.contextmanager
    def _reader(self) -> Iterator[tuple[Any, list[int], int]]:
        self._pending = []

        def lines(handle: Any) -> Iterator[str]:  # the physical lines of the record being read
            for text in handle:
                self._pending.append(text)
                yield text

        try:
            with self.path.open(encoding="utf-8-sig", newline="") as handle:
                reader = csv.reader(lines(handle))
                try:
                    header = next(reader)
                except StopIteration:
                    raise ResultsFormatError(
                        f"{self.path} is empty: expected the header {','.join(CSV_COLUMNS)}"
                    ) from None
                except csv.Error as err:
                    raise ResultsFormatError(f"{self.path}, line {reader.line_num}: {err}") from err
                positions = _header_positions(header, str(self.path))
                try:
                    yield reader, positions, len(header)
                except csv.Error as err:
                    raise ResultsFormatError(f"{self.path}, line {reader.line_num}: {err}") from err
        except UnicodeDecodeError as err:
            raise ResultsFormatError(f"{self.path} is not UTF-8 ({err.reason} at byte {err.start})") from err

    def _parse(self, fields: list[str], line: int, positions: list[int]) -> Record | None:
        """One row -> Record; a blank row -> None; a bad row -> None, recorded in ``problems``."""
        i_image, i_label, i_conf, i_c, i_d = positions
        width = max(positions) + 1
        if len(fields) < width:
            if any(f.strip() for f in fields):
                self.rows_read += 1
                self._skip(f"line {line}", f"{len(fields)} field(s), expected at least {width}")
            return None
        self.rows_read += 1
        image, label = fields[i_image].strip(), fields[i_label].strip()
        reason = _value_reason(image, label, fields[i_conf], fields[i_c], fields[i_d])
        if reason:
            self._skip(f"line {line}", reason)
            return None
        c, d = _count(fields[i_c]), _count(fields[i_d])
        assert c is not None and d is not None
        for name, value, text in ((ATTR_CONFIRM_COUNT, c, fields[i_c]), (ATTR_DISCONFIRM_COUNT, d, fields[i_d])):
            if value > MAX_VOTES:
                raise ResultsFormatError(f"{self.path}, line {line}: {_too_large(name, text.strip())}")
        return Record(image, label, float(fields[i_conf]), c, d)


class JsonlResults(_Problems):
    """Records from JSON lines ``{"image", "label", "confidence", "WorkerConfirmCount", ...}``.

    A missing or null count means no vote (as in the table). Numbers may be JSON numbers or
    strings holding an ASCII decimal. Bad lines are named and skipped.
    """

    def __init__(self, path: Path | str) -> None:
        super().__init__()
        self.path = Path(path)
        self.fast_path = False

    def _lines(self) -> Iterator[tuple[int, str]]:
        try:
            with self.path.open(encoding="utf-8-sig", newline="") as handle:
                for number, text in enumerate(handle, start=1):
                    if text.strip():
                        yield number, text
        except UnicodeDecodeError as err:
            raise ResultsFormatError(f"{self.path} is not UTF-8 ({err.reason} at byte {err.start})") from err

    def _keys(self) -> tuple[str, ...] | None:
        """The field names the file uses (image alias from its first object), or None if it has none."""
        for _, text in self._lines():
            try:
                first = json.loads(text)
            except ValueError:
                return None
            if not isinstance(first, dict):
                return None
            image = next((k for k in IMAGE_ALIASES if k in first), IMAGE_COLUMN)
            return (image, *CSV_COLUMNS[1:])
        return None

    def __iter__(self) -> Iterator[Record]:
        for number, text in self._lines():
            record = self._parse(text, number)
            if record is not None:
                yield record

    def columns(self) -> ColumnSet:
        self._reset()
        keys = self._keys()
        if keys is not None:  # (a BOM makes pyarrow decline: the row-by-row reading handles it)
            fast = columnar.jsonl_columns(self.path, keys)
            if fast is not None:
                self.rows_read, self.fast_path = len(fast[1]), True
                return fast
        self._reset()
        return columns_of(self)

    def _parse(self, text: str, line: int) -> Record | None:
        self.rows_read += 1
        where = f"line {line}"
        try:
            data = json.loads(text)
        except ValueError as err:
            self._skip(where, f"not JSON ({err})")
            return None
        if not isinstance(data, dict):
            self._skip(where, f"not a JSON object but {type(data).__name__}")
            return None
        image = next((data[k] for k in IMAGE_ALIASES if k in data), None)
        label = data.get(ATTR_LABEL)
        if not isinstance(image, str) or not image.strip():
            self._skip(where, "missing image")
            return None
        if not isinstance(label, str) or not label.strip():
            self._skip(where, "empty label")
            return None
        texts = [_json_number_text(data.get(k)) for k in (ATTR_CONFIDENCE, ATTR_CONFIRM_COUNT, ATTR_DISCONFIRM_COUNT)]
        if any(t is None for t in texts):
            bad = next(k for k, t in zip(CSV_COLUMNS[2:], texts, strict=True) if t is None)
            self._skip(where, f"{bad} {data.get(bad)!r} is not a number")
            return None
        conf, c_text, d_text = texts
        assert conf is not None and c_text is not None and d_text is not None
        reason = _value_reason(image.strip(), label.strip(), conf, c_text, d_text)
        if reason:
            self._skip(where, reason)
            return None
        c, d = _count(c_text), _count(d_text)
        assert c is not None and d is not None
        for name, value, raw in ((ATTR_CONFIRM_COUNT, c, c_text), (ATTR_DISCONFIRM_COUNT, d, d_text)):
            if value > MAX_VOTES:
                raise ResultsFormatError(f"{self.path}, line {line}: {_too_large(name, raw)}")
        return Record(image.strip(), label.strip(), float(conf), c, d)


def _json_number_text(value: Any) -> str | None:
    """A JSON value as the text the CSV rules check: numbers and numeric strings; null/missing is ``""``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return value
    return None


def item_record(item: dict[str, Any]) -> tuple[Record | None, str | None]:
    """One low-level DynamoDB item -> (Record, None) or (None, reason). Missing counts mean no vote."""
    try:
        image = item[ATTR_IMAGE_URL]["S"]
        label = item[ATTR_LABEL]["S"]
    except (KeyError, TypeError):
        return None, "no s3_image_url/label key"
    raw = item.get(ATTR_CONFIDENCE, {}).get("N")
    if raw is None:
        return None, "no numeric confidence"
    conf = _confidence(raw)
    if conf is None:
        return None, f"confidence {raw!r} is not a number in 0-100"
    counts = item_counts(item)
    if isinstance(counts, str):
        return None, counts
    return Record(image, label, conf, counts[0], counts[1]), None


def item_counts(item: dict[str, Any]) -> tuple[int, int] | str:
    """``(confirm, disconfirm)`` of a DynamoDB item (missing = 0), or the reason they are unreadable."""
    counts = []
    for name in (ATTR_CONFIRM_COUNT, ATTR_DISCONFIRM_COUNT):
        value = item.get(name)
        if value is None:
            counts.append(0)
            continue
        count = _count(value.get("N", "x")) if isinstance(value, dict) else None
        if count is None:
            return f"{name} {value!r} is not a whole number >= 0"
        if count > MAX_VOTES:
            return _too_large(name, value.get("N"))
        counts.append(count)
    return counts[0], counts[1]


def item_where(item: dict[str, Any]) -> str:
    key = item.get(ATTR_IMAGE_URL, {}), item.get(ATTR_LABEL, {})
    image, label = (k.get("S", "?") if isinstance(k, dict) else "?" for k in key)
    return f"item {image} / {label}"


_DONE = object()


class TableResults(_Problems):
    """Records from the QA table's pair items by a parallel Scan; unreadable items go to ``problems``.

    Items of other kinds (rounds, round pairs, worker pages: keys starting with ``#``) are filtered
    out by the Scan itself and checked again here (``rounds.is_pair_item``); they are not rows.
    """

    def __init__(
        self,
        ddb: Any,
        table: str,
        segments: int = DEFAULT_SEGMENTS,
        page_size: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        super().__init__()
        self.page_size = page_size
        if not 1 <= segments <= 1_000_000:
            raise ValueError("segments must be between 1 and 1,000,000")
        self.ddb, self.table, self.segments = ddb, table, segments
        self.progress = progress
        self.pages = 0
        self.items_seen = 0

    def _scan_segment(self, segment: int, emit: Callable[[Any], bool]) -> None:
        paginator = self.ddb.get_paginator("scan")
        names = {
            "#i": ATTR_IMAGE_URL,
            "#l": ATTR_LABEL,
            "#c": ATTR_CONFIDENCE,
            "#y": ATTR_CONFIRM_COUNT,
            "#n": ATTR_DISCONFIRM_COUNT,
        }
        for page in paginator.paginate(
            TableName=self.table,
            Segment=segment,
            TotalSegments=self.segments,
            ProjectionExpression="#i, #l, #c, #y, #n",
            FilterExpression="NOT begins_with(#i, :other)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={":other": {"S": "#"}},
            PaginationConfig={"PageSize": self.page_size} if self.page_size else {},
        ):
            if not emit(page.get("Items", [])):
                return

    def __iter__(self) -> Iterator[Record]:
        from handlers.rounds import is_pair_item

        tasks = [lambda emit, s=s: self._scan_segment(s, emit) for s in range(self.segments)]
        for items in parallel_pages(tasks, threads=min(self.segments, 32), name="scan"):
            self.pages += 1
            self.items_seen += len(items)
            if self.progress is not None:
                self.progress(self.pages, self.items_seen)
            for item in items:
                if not is_pair_item(item):
                    continue
                self.rows_read += 1
                record, reason = item_record(item)
                if record is None:
                    self._skip(item_where(item), reason or "unreadable")
                else:
                    yield record


def parallel_pages(
    tasks: list[Callable[[Callable[[Any], bool]], None]], *, threads: int, name: str = "read"
) -> Iterator[Any]:
    """Run ``tasks`` on a thread pool and yield what they ``emit``, as it comes, in this thread.

    Why: Scan segments and Query partitions are read in parallel, but the records must be consumed
    (and counted) in one place. Each task calls ``emit(page)``, which blocks while the consumer is
    behind (a bounded queue keeps memory flat) and returns False once the consumer stopped, so the
    task returns early. A task's exception is raised here, in the consumer.
    """
    pages: queue.Queue[Any] = queue.Queue(maxsize=4 * max(1, len(tasks)))
    stop = threading.Event()

    def emit(page: Any) -> bool:
        while not stop.is_set():
            try:
                pages.put(page, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def finished(future: Any) -> None:
        signal = future.exception() if not future.cancelled() else None
        emit(signal or _DONE)

    pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix=name)
    futures = [pool.submit(task, emit) for task in tasks]
    for future in futures:
        future.add_done_callback(finished)
    remaining = len(futures)
    try:
        while remaining:
            page = pages.get()
            if page is _DONE:
                remaining -= 1
                continue
            if isinstance(page, BaseException):
                raise page
            yield page
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)


def is_jsonl(path: Path) -> bool:
    """JSON lines by suffix, else by the first non-blank character (``{``)."""
    if path.suffix.lower() in JSONL_SUFFIXES:
        return True
    if path.suffix.lower() == ".csv":
        return False
    with contextlib.suppress(OSError), path.open("rb") as handle:
        head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        return head.startswith(b"{")
    return False


def open_file(path: Path) -> CsvResults | JsonlResults:
    return JsonlResults(path) if is_jsonl(path) else CsvResults(path)


def open_results(
    *,
    table: str | None,
    input_path: Path | None,
    endpoint_url: str | None = None,
    region: str | None = None,
    segments: int = DEFAULT_SEGMENTS,
    round_name: str | None = None,
    from_export: str | None = None,
    progress: ProgressCallback | None = None,
) -> Any:
    """The source the options name: exactly one of ``table``, ``input_path`` and ``from_export``;
    ``round_name`` only with ``table``. Raises ``ValueError`` naming the options otherwise."""
    options = (("--table", table), ("--input", input_path), ("--from-export", from_export))
    given = [name for name, value in options if value is not None]
    if len(given) != 1:
        raise ValueError(
            "give exactly one of --table and --input (or --from-export)"
            + (f"; got {' and '.join(given)}" if given else "")
        )
    if round_name is not None and table is None:
        raise ValueError("--round needs --table: a round is read from the QA table")
    if input_path is not None:
        return open_file(input_path)
    from bulkqa.aws import clients

    if from_export is not None:
        from bulkqa.dynamodb_export import ExportResults, parse_export_uri

        bucket, prefix = parse_export_uri(from_export)
        (s3,) = clients("s3", endpoint_url=endpoint_url, region=region)
        return ExportResults(s3, bucket, prefix, progress=progress)
    (ddb,) = clients("dynamodb", endpoint_url=endpoint_url, region=region)
    assert table is not None
    if round_name is not None:
        from bulkqa.round_source import RoundResults

        return RoundResults(ddb, table, round_name, progress=progress)
    return TableResults(ddb, table, segments, progress=progress)
