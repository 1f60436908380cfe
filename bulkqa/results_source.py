"""Where ``bulkqa report`` / ``bulkqa export`` read the QA results from.

``CsvResults`` streams a CSV with the columns ``image,label,confidence,WorkerConfirmCount,
WorkerDisconfirmCount`` (any order; an empty count means no vote). ``TableResults`` reads the QA
table with a parallel Scan (``Segment``/``TotalSegments``, one thread per segment, every page).
Both yield ``Record`` tuples and collect the rows they had to skip in ``problems``.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import math
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bulkqa.analysis import Record
from handlers.settings import ATTR_CONFIDENCE, ATTR_CONFIRM_COUNT, ATTR_DISCONFIRM_COUNT, ATTR_IMAGE_URL, ATTR_LABEL

IMAGE_COLUMN = "image"
CSV_COLUMNS = (IMAGE_COLUMN, ATTR_LABEL, ATTR_CONFIDENCE, ATTR_CONFIRM_COUNT, ATTR_DISCONFIRM_COUNT)
DEFAULT_SEGMENTS = 8
MAX_PROBLEMS_KEPT = 1000
CHUNK_ROWS = 65_536


class ResultsFormatError(ValueError):
    """The input as a whole cannot be read (missing columns, not UTF-8, bad CSV quoting)."""


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

    def _skip(self, where: str, reason: str) -> None:
        self.skipped += 1
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append(Problem(where, reason))


def _count(text: str) -> int | None:
    """A vote count: a non-negative whole number; empty means 0. None if invalid."""
    text = text.strip()
    if not text:
        return 0
    try:
        value = int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            return None
        if not (math.isfinite(number) and number.is_integer()):
            return None
        value = int(number)
    return value if value >= 0 else None


def _confidence(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and 0.0 <= value <= 100.0 else None


class CsvResults(_Problems):
    """Records streamed from a results CSV; bad rows go to ``problems`` with their line number."""

    def __init__(self, path: Path | str) -> None:
        super().__init__()
        self.path = Path(path)
        self.rows_read = 0

    def __iter__(self) -> Iterator[Record]:
        """Records one by one (for ``build_report`` and ``export``)."""
        with self._reader() as (reader, positions):
            line = reader.line_num
            for fields in reader:
                start, line = line + 1, reader.line_num
                record = self._parse(fields, start, positions)
                if record is not None:
                    yield record

    def columns(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(labels, label_ids, confidence, confirm, disconfirm)`` for ``build_report_from_columns``.

        The fast path of ``bulkqa report``: rows are taken in chunks and their numbers converted by
        numpy; only a chunk holding a bad row is gone through row by row (for its line numbers).
        """
        label_ids: dict[str, int] = {}
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        with self._reader() as (reader, positions):
            while True:
                start_line = reader.line_num
                rows = list(itertools.islice(reader, CHUNK_ROWS))
                if not rows:
                    break
                chunk = self._clean_chunk(rows, positions, label_ids)
                if chunk is None:
                    chunk = self._dirty_chunk(rows, start_line, positions, label_ids)
                else:
                    self.rows_read += len(rows)
                parts.append(chunk)
        if not parts:
            empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0, np.float64)
            return [], empty_i, empty_f, empty_i, empty_i
        lab, conf, c, d = (np.concatenate(column) for column in zip(*parts, strict=True))
        return list(label_ids), lab, conf, c, d

    @staticmethod
    def _ids(labels: list[str], label_ids: dict[str, int]) -> np.ndarray:
        try:
            return np.fromiter(map(label_ids.__getitem__, labels), dtype=np.int64, count=len(labels))
        except KeyError:  # labels not seen before: number them in order of appearance
            for label in dict.fromkeys(labels):
                if label not in label_ids:
                    label_ids[label] = len(label_ids)
        return np.fromiter(map(label_ids.__getitem__, labels), dtype=np.int64, count=len(labels))

    def _clean_chunk(
        self, rows: list[list[str]], positions: list[int], label_ids: dict[str, int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """The chunk's columns if every row is well-formed, else None."""
        i_image, i_label, i_conf, i_c, i_d = positions
        if min(map(len, rows)) <= max(positions):
            return None
        try:
            conf = np.array([r[i_conf] for r in rows], dtype=np.float64)
            c = np.array([r[i_c] for r in rows], dtype=np.int64)
            d = np.array([r[i_d] for r in rows], dtype=np.int64)
        except (ValueError, OverflowError, TypeError):
            return None
        if not ((conf >= 0.0) & (conf <= 100.0)).all() or (c < 0).any() or (d < 0).any():
            return None  # NaN fails the comparisons too
        labels = [r[i_label].strip() for r in rows]
        if "" in labels or any(not r[i_image].strip() for r in rows):
            return None
        return self._ids(labels, label_ids), conf, c, d

    def _dirty_chunk(
        self, rows: list[list[str]], start_line: int, positions: list[int], label_ids: dict[str, int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Row by row, with each row's first line (a quoted field may span lines)."""
        records = []
        line = start_line
        for fields in rows:
            first = line + 1
            line += 1 + sum(f.count("\n") + f.count("\r") - f.count("\r\n") for f in fields if "\n" in f or "\r" in f)
            record = self._parse(fields, first, positions)
            if record is not None:
                records.append(record)
        return (
            self._ids([r.label for r in records], label_ids),
            np.array([r.confidence for r in records], dtype=np.float64),
            np.array([r.confirm for r in records], dtype=np.int64),
            np.array([r.disconfirm for r in records], dtype=np.int64),
        )

    @contextlib.contextmanager
    def _reader(self) -> Iterator[tuple[Any, list[int]]]:
        try:
            with self.path.open(encoding="utf-8-sig", newline="") as handle:
                reader = csv.reader(handle)
                positions = self._positions(reader)
                try:
                    yield reader, positions
                except csv.Error as err:
                    raise ResultsFormatError(f"{self.path}, line {reader.line_num}: {err}") from err
        except UnicodeDecodeError as err:
            raise ResultsFormatError(f"{self.path} is not UTF-8 ({err.reason} at byte {err.start})") from err

    def _positions(self, reader: Any) -> list[int]:
        try:
            header = next(reader)
        except StopIteration:
            raise ResultsFormatError(f"{self.path} is empty: expected the header {','.join(CSV_COLUMNS)}") from None
        names = [h.strip() for h in header]
        lowered = [n.lower() for n in names]
        positions = []
        for column in CSV_COLUMNS:
            if column in names:
                positions.append(names.index(column))
            elif column.lower() in lowered:
                positions.append(lowered.index(column.lower()))
            else:
                raise ResultsFormatError(
                    f"{self.path}: header lacks column {column!r}; expected {','.join(CSV_COLUMNS)} (any order)"
                )
        return positions

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
        try:  # the fast path: well-formed numbers
            conf = float(fields[i_conf])
            c = int(fields[i_c])
            d = int(fields[i_d])
            valid = 0.0 <= conf <= 100.0 and c >= 0 and d >= 0 and image and label
        except ValueError:
            valid = False
        if not valid:
            reason = self._reason(image, label, fields[i_conf], fields[i_c], fields[i_d])
            if reason:
                self._skip(f"line {line}", reason)
                return None
            conf = float(fields[i_conf])
            c, d = _count(fields[i_c]), _count(fields[i_d])
        return Record(image, label, conf, c, d)

    @staticmethod
    def _reason(image: str, label: str, conf: str, c: str, d: str) -> str | None:
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
    counts = []
    for name in (ATTR_CONFIRM_COUNT, ATTR_DISCONFIRM_COUNT):
        value = item.get(name)
        if value is None:
            counts.append(0)
            continue
        count = _count(value.get("N", "x")) if isinstance(value, dict) else None
        if count is None:
            return None, f"{name} {value!r} is not a whole number >= 0"
        counts.append(count)
    return Record(image, label, conf, counts[0], counts[1]), None


_DONE = object()


class TableResults(_Problems):
    """Records from the QA table by a parallel Scan; items that cannot be read go to ``problems``."""

    def __init__(self, ddb: Any, table: str, segments: int = DEFAULT_SEGMENTS, page_size: int | None = None) -> None:
        super().__init__()
        self.page_size = page_size
        if not 1 <= segments <= 1_000_000:
            raise ValueError("segments must be between 1 and 1,000,000")
        self.ddb, self.table, self.segments = ddb, table, segments
        self.rows_read = 0
        self.pages = 0

    def _scan_segment(self, segment: int, pages: queue.Queue[Any], stop: threading.Event) -> None:
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
            ExpressionAttributeNames=names,
            PaginationConfig={"PageSize": self.page_size} if self.page_size else {},
        ):
            while not stop.is_set():
                try:
                    pages.put(page.get("Items", []), timeout=0.1)
                    break
                except queue.Full:
                    continue
            if stop.is_set():
                return

    def __iter__(self) -> Iterator[Record]:
        pages: queue.Queue[Any] = queue.Queue(maxsize=4 * self.segments)
        stop = threading.Event()
        pool = ThreadPoolExecutor(max_workers=min(self.segments, 32), thread_name_prefix="scan")
        futures = [pool.submit(self._scan_segment, s, pages, stop) for s in range(self.segments)]
        remaining = len(futures)

        def finished(future: Any) -> None:
            signal = future.exception() if not future.cancelled() else None
            while not stop.is_set():
                try:
                    pages.put(signal or _DONE, timeout=0.1)
                    return
                except queue.Full:
                    continue

        for future in futures:
            future.add_done_callback(finished)
        try:
            while remaining:
                items = pages.get()
                if items is _DONE:
                    remaining -= 1
                    continue
                if isinstance(items, BaseException):
                    raise items
                self.pages += 1
                for item in items:
                    self.rows_read += 1
                    record, reason = item_record(item)
                    if record is None:
                        key = item.get(ATTR_IMAGE_URL, {}).get("S", "?"), item.get(ATTR_LABEL, {}).get("S", "?")
                        self._skip(f"item {key[0]} / {key[1]}", reason or "unreadable")
                    else:
                        yield record
        finally:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)


def open_results(
    *,
    table: str | None,
    input_path: Path | None,
    endpoint_url: str | None = None,
    region: str | None = None,
    segments: int = DEFAULT_SEGMENTS,
) -> CsvResults | TableResults:
    """The source the options name: exactly one of ``table`` and ``input_path``."""
    if (table is None) == (input_path is None):
        raise ValueError("give exactly one of --table and --input")
    if input_path is not None:
        return CsvResults(input_path)
    from bulkqa.aws import clients

    (ddb,) = clients("dynamodb", endpoint_url=endpoint_url, region=region)
    assert table is not None
    return TableResults(ddb, table, segments)
