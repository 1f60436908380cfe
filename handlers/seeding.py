"""Seed a QA round: decide per row, write pair and round items, send images, write the manifest part.

Used by the launch Lambda and by ``bulkqa seed``, so both behave the same. The layout is in
docs/ARCHITECTURE.md ("Rounds").

Two passes over the CSV. The first is offline: it validates every row, hashes the input (the CSV's
bytes and the options that change the result) and checks that every label's longest possible batch
fits in a manifest line -- so a file that cannot be seeded fails before any write. The second
streams the rows in chunks, end to end: check -> images -> write -> batch. Per row, in order:

1. below ``threshold``: not stored, counted per label;
2. at or above its class's ``accept_above`` threshold: stored as ``accepted``;
3. its pair already has ``min_votes`` votes (unless ``re_review``): stored as ``reused``;
4. not drawn by ``sample`` (at most N rows per (label, confidence band), a seeded hash decides):
   stored as ``sampled_out``;
5. else queued: pair item created if absent, image sent if the pair is new, page assigned.

Memory stays flat: rows are held only until their chunk is written, except per-label page buffers
(< batch size each) and the sample's per-cell reservoirs; manifest lines are spooled to a temporary
file.

Why it is safe to run again: pair items are created only where none exists, with a condition, so a
vote is never overwritten whatever runs in between; round items and the manifest part are the same
for the same input; the round's metadata is written last and conditionally. The same round with the
same input is a no-op; with another input it is refused unless ``extend`` adds a part.
"""

from __future__ import annotations

import contextlib
import csv as csv_module
import hashlib
import heapq
import io
import json
import math
import re
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, NamedTuple, Protocol, runtime_checkable

from botocore.exceptions import ClientError

from handlers import csv_rows
from handlers.csv_rows import CsvFormatError, LabelRow, RowProblem
from handlers.dynamo_batches import get_all, put_absent_all, write_all
from handlers.image_sources import (
    ImageMissingError,
    ImageSource,
    LocalImages,
    LocalImageTally,
    PathSample,
    S3Images,
    check_s3_images,
)
from handlers.round_store import (
    RoundMeta,
    RoundPart,
    read_round,
    round_pair_item,
    round_parts_of_pairs,
    table_has_pair_items,
    write_round,
)
from handlers.rounds import (
    BatchDocument,
    BatchEntry,
    ManifestLineTooLongError,
    generate_round_name,
    manifest_key,
    manifest_line,
)
from handlers.s3_uri import S3Uri, parse_s3_uri
from handlers.seed_options import SeedOptions, sample_band
from handlers.settings import (
    ATTR_CONFIDENCE,
    ATTR_CONFIRM_COUNT,
    ATTR_DISCONFIRM_COUNT,
    ATTR_IMAGE_URL,
    ATTR_LABEL,
    ATTR_WORKER_VOTES,
    DEFAULT_BATCH_SIZE,
    DEFAULT_CONFIDENCE_THRESHOLD,
    MANIFEST_LINE_LIMIT_BYTES,
    STATE_ACCEPTED,
    STATE_QUEUED,
    STATE_REUSED,
    STATE_SAMPLED_OUT,
)
from handlers.vote_store import confidence_value, item_key

# progress(stage, advance, total): stage is "rows" (rows decided and written) or "manifest".
Progress = Callable[[str, int, int], None]

DEFAULT_WORKERS = 32  # parallel requests: enough to hide latency, far below S3's 3,500 PUT/s per prefix
CHUNK_ROWS = 2_000  # rows decided and written together: 20 BatchGets, 20 transactions, 80 BatchWrites
MAX_PROBLEMS_KEPT = 10_000  # listed problems; beyond this they are only counted
IMAGE_MEMORY = 50_000  # recently sent images remembered, so an image with several labels is sent once
READ_BYTES = 1 << 20
NEARLY_EMPTY_SHARE = 0.2  # a page holding at most this share of the batch size is "nearly empty"
NEARLY_EMPTY_MIN_BATCHES = 10


class GoldPlacer(Protocol):
    """The seam for gold items (issue 16, ``handlers/gold.py``).

    ``place`` gets each batch document just before its manifest line is written and returns the
    document to write (with gold items added, ``BatchEntry.gold`` set). It must be deterministic
    (same document in, same document out) so a repeated seed writes the same bytes. An optional
    ``fingerprint() -> str`` identifies the gold set; it is part of the input hash.
    """

    def place(self, document: BatchDocument) -> BatchDocument: ...


class RoundInputChangedError(ValueError):
    """The round exists and was seeded with another input; ``extend`` was not given."""


class ImagesNotFoundError(ValueError):
    """Not one image the CSV names is in the local folder: almost surely the wrong folder."""


class ManifestConflictError(ValueError):
    """A manifest part's key already holds other bytes: it is never rewritten."""


# --- The CSV input: opened once per pass, never held whole. ---


@runtime_checkable
class CsvInput(Protocol):
    name: str

    def open(self) -> Any:
        """A context manager giving a binary stream with ``read(n)``."""
        ...


@dataclass(frozen=True)
class CsvBytes:
    data: bytes
    name: str = "CSV"

    def open(self) -> IO[bytes]:
        return io.BytesIO(self.data)


@dataclass(frozen=True)
class CsvFile:
    path: Path

    @property
    def name(self) -> str:
        return str(self.path)

    def open(self) -> IO[bytes]:
        return open(self.path, "rb")


@dataclass(frozen=True)
class CsvS3Object:
    s3: Any
    uri: str

    @property
    def name(self) -> str:
        return self.uri

    def open(self) -> Any:
        """The object's body as a stream (read in blocks, never whole); a missing object says so."""
        from handlers.batch_store import BatchNotFoundError

        location = parse_s3_uri(self.uri)
        try:
            body = self.s3.get_object(Bucket=location.bucket, Key=location.key)["Body"]
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code in {"NoSuchKey", "404", "NotFound", "NoSuchBucket"}:
                raise BatchNotFoundError(f"object {self.uri} does not exist ({code})") from err
            raise
        return contextlib.closing(body)


def as_csv_input(csv: str | bytes | CsvInput, source: str) -> CsvInput:
    """Text (already decoded), bytes or an input that can be opened again."""
    if isinstance(csv, str):
        return CsvBytes(csv.encode("utf-8"), source)
    if isinstance(csv, bytes):
        return CsvBytes(csv, source)
    return csv


def csv_module_writer(stream: IO[str]) -> Any:
    return csv_module.writer(stream, lineterminator="\n")


class _HashingStream:
    """A binary stream whose every byte read is also hashed (the input hash needs no second copy)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.sha = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.sha.update(data)
        return data


@dataclass
class CsvTally:
    """What the CSV pass counted besides the rows it yields."""

    rows_read: int = 0
    below_threshold: dict[str, int] = field(default_factory=dict)
    problems: list[RowProblem] = field(default_factory=list)
    problems_total: int = 0
    scale_problem: str | None = None
    unaccounted_lines: int = 0

    def add_problem(self, problem: RowProblem) -> None:
        self.problems_total += 1
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append(problem)


def iter_csv_rows(
    stream: Any,
    options: SeedOptions,
    tally: CsvTally,
    *,
    source: str,
    image_check: Callable[[str], str | None] | None = None,
) -> Iterator[LabelRow]:
    """The one seam to the CSV reader (``handlers/csv_rows.py``): valid rows at or above the threshold.

    Streams (constant memory): rows come out as they are read; bad rows and rows below the
    threshold are counted in ``tally`` once the file is read to its end.
    """
    reader = csv_rows.LabelCsvReader(
        stream,
        options.threshold,
        source=source,
        delimiter=options.delimiter,
        confidence_scale=options.confidence_scale,
        image_check=image_check,
        on_problem=tally.add_problem,
    )
    yield from reader
    tally.rows_read = reader.stats.rows_read
    tally.below_threshold = reader.below_threshold
    tally.scale_problem = reader.scale_problem()
    tally.unaccounted_lines = reader.stats.unaccounted_lines


# --- What a seed is told and what it reports. ---


@dataclass(frozen=True)
class SeedTarget:
    """Where to seed, and how. ``options`` wins; without it ``batch_size``/``threshold`` are used."""

    bucket: str
    table: str
    images: ImageSource
    batch_size: int = DEFAULT_BATCH_SIZE
    threshold: float = DEFAULT_CONFIDENCE_THRESHOLD
    options: SeedOptions | None = None

    @property
    def seed_options(self) -> SeedOptions:
        if self.options is not None:
            return self.options
        copy = bool(getattr(self.images, "copy", False))
        return SeedOptions(batch_size=self.batch_size, threshold=self.threshold, copy_images=copy)


@dataclass
class SeedReport:
    """What a seed did (or, dry, would do), for the command line and the launch function's response."""

    round: str = ""
    part: int = 1
    input_sha256: str = ""
    unchanged: bool = False  # the same round and input were seeded before: nothing was written
    dry_run: bool = False
    rows_read: int = 0
    queued: int = 0
    reused: int = 0
    accepted: int = 0
    sampled_out: int = 0
    already_in_round: int = 0
    below_threshold: dict[str, int] = field(default_factory=dict)
    problems: list[RowProblem] = field(default_factory=list)
    problems_total: int = 0
    items_written: int = 0  # pair items created
    items_existing: int = 0  # queued pairs whose item existed (their votes kept)
    images_transferred: int = 0
    batch_count: int = 0
    nearly_empty_batches: int = 0
    batch_size: int = DEFAULT_BATCH_SIZE
    per_label: dict[str, dict[str, int]] = field(default_factory=dict)  # label -> {"batches", "items"}
    manifest_uri: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def stored(self) -> int:
        """Pairs this seed stored in the round (every state)."""
        return self.queued + self.reused + self.accepted + self.sampled_out

    def batches_per_label(self) -> dict[str, tuple[int, int]]:
        """label -> (number of batches, number of queued items)."""
        return {label: (v["batches"], v["items"]) for label, v in self.per_label.items()}

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "part": self.part,
            "input_sha256": self.input_sha256,
            "unchanged": self.unchanged,
            "dry_run": self.dry_run,
            "rows_read": self.rows_read,
            "stored": self.stored,
            "queued": self.queued,
            "reused": self.reused,
            "accepted": self.accepted,
            "sampled_out": self.sampled_out,
            "already_in_round": self.already_in_round,
            "below_threshold": self.below_threshold,
            "problems": [{"line": p.line, "reason": p.reason} for p in self.problems],
            "problems_total": self.problems_total,
            "items_written": self.items_written,
            "items_existing": self.items_existing,
            "images_transferred": self.images_transferred,
            "batches": self.batch_count,
            "batch_size": self.batch_size,
            "nearly_empty_batches": self.nearly_empty_batches,
            "batches_per_label": self.per_label,
            "manifest_uri": self.manifest_uri,
            "warnings": self.warnings,
        }

    @classmethod
    def from_part(cls, meta: RoundMeta, part: RoundPart) -> SeedReport:
        """The report of a part seeded before (a repeat of the same input changes nothing)."""
        return cls(
            round=meta.name,
            part=part.part,
            input_sha256=part.input_sha256,
            unchanged=True,
            rows_read=part.rows_read,
            queued=part.queued,
            reused=part.reused,
            accepted=part.accepted,
            sampled_out=part.sampled_out,
            already_in_round=part.already_in_round,
            problems_total=part.problems,
            batch_count=part.batches,
            batch_size=int(part.options.get("batch_size", meta.batch_size)),
            manifest_uri=part.manifest_uri,
        )


# --- Pure pieces: the sample, the pages, the input hash. ---


class _Row(NamedTuple):
    """A row on its way through the second pass."""

    line: int
    image: str
    label: str
    confidence: float
    url: str
    exists: bool  # its pair item existed when checked


def sample_priority(seed: int, image: str, label: str) -> int:
    """A row's place in its cell's sample: a seeded hash, so the same seed draws the same rows.

    Keeping the N smallest priorities of a cell is a uniform random sample of it, independent of
    the CSV's row order.
    """
    return int.from_bytes(hashlib.sha256(f"{seed}\x00{image}\x00{label}".encode()).digest()[:8], "big")


class Sampler:
    """At most ``size`` rows per (label, band) cell: a bounded max-heap of priorities per cell."""

    def __init__(self, size: int, seed: int) -> None:
        self.size, self.seed = size, seed
        self.cells: dict[tuple[str, int], list[tuple[int, int, Any]]] = {}

    def add(self, row: Any, image: str, label: str, confidence: float, line: int) -> Any | None:
        """Offer ``row``; return the row that is out of the sample now (it or another), or None."""
        band = sample_band(confidence)
        heap = self.cells.setdefault((label, -1 if band is None else band), [])
        entry = (-sample_priority(self.seed, image, label), -line, row)
        if len(heap) < self.size:
            heapq.heappush(heap, entry)
            return None
        if entry[:2] > heap[0][:2]:  # a smaller priority than the largest kept: it takes its place
            return heapq.heapreplace(heap, entry)[2]
        return row

    def drain(self) -> list[Any]:
        """Every kept row, in CSV order (by line)."""
        kept = [(-entry[1], entry[2]) for heap in self.cells.values() for entry in heap]
        self.cells = {}
        return [row for _, row in sorted(kept, key=lambda pair: pair[0])]


class Pager:
    """Cut queued rows into pages of one label: per-label buffers, a page as soon as one is full."""

    def __init__(self, round_name: str, part: int, batch_size: int) -> None:
        self.round, self.part, self.batch_size = round_name, part, batch_size
        self.buffers: dict[str, list[_Row]] = {}
        self.next_batch = 1

    def _page(self, label: str) -> tuple[BatchDocument, list[_Row]]:
        rows = self.buffers.pop(label)
        entries = tuple(BatchEntry(row.url, row.label, row.confidence) for row in rows)
        document = BatchDocument(self.round, self.part, self.next_batch, label, entries)
        self.next_batch += 1
        return document, rows

    def add(self, row: _Row) -> tuple[BatchDocument, list[_Row]] | None:
        buffer = self.buffers.setdefault(row.label, [])
        buffer.append(row)
        return self._page(row.label) if len(buffer) >= self.batch_size else None

    def flush(self) -> Iterator[tuple[BatchDocument, list[_Row]]]:
        """The last, partial page of each label, in the order the labels were first buffered."""
        for label in list(self.buffers):
            yield self._page(label)


# Characters JSON escapes with ``ensure_ascii=False`` (json.encoder.ESCAPE): without any of them a
# value's JSON is the value in quotes, so an item's size is plain arithmetic.
_JSON_ESCAPED = re.compile(r'[\x00-\x1f\\"]')
# The quotes of the item's JSON (three keys, two string values), each escaped once more in the line.
_ITEM_QUOTES = 10


def _entry_bytes(url: str, label: str, confidence: float) -> int:
    """Bytes one item adds to a manifest line (JSON inside a JSON string, plus a comma).

    The common item (a finite float, nothing JSON escapes) is sized without encoding it twice: the
    same number for every input (tests/unit/test_seed_fast_paths.py compares both ways).
    """
    if (
        type(confidence) is float
        and math.isfinite(confidence)
        and _JSON_ESCAPED.search(url) is None
        and _JSON_ESCAPED.search(label) is None
    ):
        inner = f'{{"confidence":{confidence!r},"label":"{label}","s3_image_url":"{url}"}}'
        return len(inner.encode("utf-8")) + _ITEM_QUOTES + 1
    return _entry_bytes_encoded(url, label, confidence)


def _entry_bytes_encoded(url: str, label: str, confidence: float) -> int:
    """``_entry_bytes`` by encoding the item as the manifest line does: the reference."""
    text = BatchEntry(url, label, confidence).to_json()
    inner = json.dumps(text, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return len(json.dumps(inner, ensure_ascii=False)[1:-1].encode("utf-8")) + 1


class _LineBudget:
    """Per label, the ``batch_size`` largest items seen: the longest page that label can make."""

    def __init__(self, round_name: str, batch_size: int) -> None:
        self.round, self.batch_size = round_name, batch_size
        self.largest: dict[str, list[int]] = {}

    def add(self, url: str, label: str, confidence: float) -> None:
        heap = self.largest.setdefault(label, [])
        size = _entry_bytes(url, label, confidence)
        if len(heap) < self.batch_size:
            heapq.heappush(heap, size)
        elif size > heap[0]:
            heapq.heapreplace(heap, size)

    def check(self) -> None:
        for label, sizes in self.largest.items():
            empty = manifest_line(BatchDocument(self.round, 9999, 999_999, label, ()))
            worst = len(empty.encode("utf-8")) + sum(sizes)
            if worst > MANIFEST_LINE_LIMIT_BYTES:
                raise ManifestLineTooLongError(
                    f"label {label!r}: a page of its {len(sizes)} longest images makes a manifest line of up "
                    f"to {worst:,} bytes; Ground Truth accepts at most {MANIFEST_LINE_LIMIT_BYTES:,}. "
                    "Use a smaller --batch-size or shorter image paths."
                )


def _image_check(target: SeedTarget) -> Callable[[str], str | None] | None:
    """The image source's own check of a path, if it has one (refusals become row problems)."""
    check = getattr(target.images, "check", None)
    return (lambda path: check(path, target.bucket)) if callable(check) else None


def _images_spec(target: SeedTarget) -> str:
    return f"{type(target.images).__name__}:{target.images.url('', target.bucket)}"


def _fingerprint(gold: GoldPlacer | None) -> str | None:
    method = getattr(gold, "fingerprint", None)
    return str(method()) if callable(method) else None


@dataclass
class _FirstPass:
    input_sha256: str
    tally: CsvTally
    eligible: int  # rows at or above the threshold
    accepted: int
    missing_images: list[RowProblem]
    sample: list[str] = field(default_factory=list)  # image paths for check_s3_images
    rows: Any = None  # the spool of valid rows to store (a temporary file), read by the second pass

    def spooled_rows(self) -> Iterator[LabelRow]:
        """The rows the first pass validated, from disk: the CSV is parsed (and fetched) once."""
        self.rows.seek(0)
        for line, image, label, confidence in csv_module.reader(self.rows):
            yield LabelRow(int(line), image, label, float(confidence))


def _first_pass(
    csv: CsvInput,
    target: SeedTarget,
    options: SeedOptions,
    round_name: str,
    gold: GoldPlacer | None,
    spool: IO[str],
) -> _FirstPass:
    """Validate every row, hash the input, check page sizes and local image files: no AWS request.

    The rows to store go to ``spool`` (a temporary file), so the second pass neither parses the CSV
    again nor holds it in memory.
    """
    tally = CsvTally()
    budget = _LineBudget(round_name, options.batch_size)
    eligible = accepted = 0
    missing: list[RowProblem] = []
    files = LocalImageTally(target.images) if isinstance(target.images, LocalImages) else None
    sample = PathSample()
    writer = csv_module_writer(spool)
    with csv.open() as raw:
        reader = _HashingStream(raw)
        for row in iter_csv_rows(reader, options, tally, source=csv.name, image_check=_image_check(target)):
            eligible += 1
            url = target.images.url(row.image, target.bucket)
            if options.accept_above is not None and options.accept_above.accepts(row.label, row.confidence):
                accepted += 1
                writer.writerow((row.line, row.image, row.label, repr(row.confidence)))
                continue
            if files is not None:
                reason = files.see(row.image)  # lstat: a regular file inside the folder, no link, no FIFO
                if reason is not None:
                    missing.append(RowProblem(row.line, reason))
                    continue
            sample.add(row.image)
            budget.add(url, row.label, row.confidence)
            writer.writerow((row.line, row.image, row.label, repr(row.confidence)))
        reader.sha.update(b"\x00options\x00")
    if tally.unaccounted_lines:
        raise CsvFormatError(
            f"{csv.name}: {tally.unaccounted_lines} line(s) were neither read as rows nor reported; "
            "nothing was written (please report this file)"
        )
    if tally.scale_problem and not eligible:
        raise CsvFormatError(tally.scale_problem)
    settings = {**options.result_options(), "images": _images_spec(target), "gold": _fingerprint(gold)}
    reader.sha.update(json.dumps(settings, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    if files is not None and files.result.refused:
        raise ImagesNotFoundError("\n".join([*files.result.lines(), "nothing was written"]))
    budget.check()
    return _FirstPass(reader.sha.hexdigest(), tally, eligible, accepted, missing, sample.paths, spool)


def _staged(row: LabelRow, target: SeedTarget) -> _Row:
    return _Row(row.line, row.image, row.label, row.confidence, target.images.url(row.image, target.bucket), False)


def _new_pair_item(row: _Row) -> dict[str, Any]:
    return {
        **item_key(row.url, row.label),
        ATTR_CONFIDENCE: confidence_value(row.confidence),
        ATTR_CONFIRM_COUNT: {"N": "0"},
        ATTR_DISCONFIRM_COUNT: {"N": "0"},
        ATTR_WORKER_VOTES: {"M": {}},
    }


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def nearly_empty_warning(nearly_empty: int, batches: int, batch_size: int) -> str | None:
    """A warning when most pages hold only a few images (e.g. many labels with one row each)."""
    if batches < NEARLY_EMPTY_MIN_BATCHES or nearly_empty * 2 <= batches or batch_size < 5:
        return None
    share = 100 * nearly_empty / batches
    limit = max(1, int(batch_size * NEARLY_EMPTY_SHARE))
    return (
        f"{nearly_empty:,} of {batches:,} pages ({share:.0f}%) hold {limit} image(s) or fewer of {batch_size}: "
        "many labels have few rows, so workers get near-empty pages and the review costs more tasks"
    )


# --- The second pass: AWS I/O. ---


class _Seeder:
    def __init__(
        self,
        target: SeedTarget,
        options: SeedOptions,
        report: SeedReport,
        *,
        s3: Any,
        ddb: Any,
        pool: ThreadPoolExecutor,
        gold: GoldPlacer | None,
        spool: IO[bytes],
        check_round: bool,
        check_pairs: bool,
        progress: Progress,
    ) -> None:
        self.target, self.options, self.report = target, options, report
        self.s3, self.ddb, self.pool, self.gold, self.spool = s3, ddb, pool, gold, spool
        self.check_round, self.check_pairs = check_round, check_pairs
        self.progress = progress
        self.pager = Pager(report.round, report.part, options.batch_size)
        self.sampler = Sampler(options.sample, options.sample_seed) if options.sample else None
        self.sent_images: OrderedDict[str, bool] = OrderedDict()  # path -> present
        self.round_items: list[dict[str, Any]] = []
        self.line_limit = max(1, int(options.batch_size * NEARLY_EMPTY_SHARE))

    # Round-pair items are unconditional: the round's own, and the same for the same input.
    def _round_item(self, row: _Row, state: str, batch: int | None = None) -> None:
        self.round_items.append(
            round_pair_item(self.report.round, row.url, row.label, row.confidence, state, self.report.part, batch)
        )

    def _write_round_items(self) -> None:
        items, self.round_items = self.round_items, []
        write_all(self.ddb, self.target.table, items, pool=self.pool)

    def _existing_votes(self, rows: list[_Row]) -> dict[tuple[str, str], int]:
        found = get_all(
            self.ddb,
            self.target.table,
            [item_key(row.url, row.label) for row in rows],
            {
                "ProjectionExpression": "#u, #l, #y, #n",
                "ExpressionAttributeNames": {
                    "#u": ATTR_IMAGE_URL,
                    "#l": ATTR_LABEL,
                    "#y": ATTR_CONFIRM_COUNT,
                    "#n": ATTR_DISCONFIRM_COUNT,
                },
            },
            pool=self.pool,
        )
        return {
            (item[ATTR_IMAGE_URL]["S"], item[ATTR_LABEL]["S"]): int(item.get(ATTR_CONFIRM_COUNT, {}).get("N", 0))
            + int(item.get(ATTR_DISCONFIRM_COUNT, {}).get("N", 0))
            for item in found
        }

    def chunk(self, rows: list[LabelRow]) -> None:
        """Decide and write one chunk of rows (steps 2-5 of the module docstring)."""
        options, report = self.options, self.report
        staged = [_staged(r, self.target) for r in rows]
        if self.check_round:  # --extend: pairs an earlier part of this round holds are not added again
            parts = round_parts_of_pairs(
                self.ddb, self.target.table, report.round, [(r.url, r.label) for r in staged], pool=self.pool
            )
            kept = [r for r in staged if parts.get((r.url, r.label), report.part) >= report.part]
            report.already_in_round += len(staged) - len(kept)
            staged = kept
        candidates: list[_Row] = []
        undecided: list[_Row] = []
        for row in staged:
            if options.accept_above is not None and options.accept_above.accepts(row.label, row.confidence):
                report.accepted += 1
                self._round_item(row, STATE_ACCEPTED)
            else:
                undecided.append(row)
        votes = self._existing_votes(undecided) if self.check_pairs and undecided else {}
        for row in undecided:
            count = votes.get((row.url, row.label))
            if count is not None and count >= options.min_votes and not options.re_review:
                report.reused += 1
                self._round_item(row, STATE_REUSED)
            else:
                candidates.append(row._replace(exists=count is not None))
        if self.sampler is None:
            self._queue(candidates)
        else:
            for row in candidates:
                out = self.sampler.add(row, row.image, row.label, row.confidence, row.line)
                if out is not None:
                    report.sampled_out += 1
                    self._round_item(out, STATE_SAMPLED_OUT)
        self._write_round_items()
        self.progress("rows", len(rows), 0)

    def finish(self) -> None:
        """Queue the sample, then the last partial page of each label."""
        if self.sampler is not None:
            kept = self.sampler.drain()
            for start in range(0, len(kept), CHUNK_ROWS):
                self._queue(kept[start : start + CHUNK_ROWS])
                self._write_round_items()
        for document, rows in self.pager.flush():
            self._page(document, rows)
        self._write_round_items()

    def _send_images(self, rows: list[_Row]) -> set[str]:
        """Send the images of new pairs (each once); return the paths that are missing."""
        to_send = list(dict.fromkeys(row.image for row in rows if not row.exists and row.image not in self.sent_images))
        missing: dict[str, str] = {}

        def send(path: str) -> None:
            try:
                self.target.images.transfer(self.s3, path, self.target.bucket)
            except ImageMissingError as err:
                missing[path] = str(err)

        for future in [self.pool.submit(send, path) for path in to_send]:
            future.result()  # other errors propagate: the seed failed
        for path in to_send:
            self.sent_images[path] = path not in missing
            if len(self.sent_images) > IMAGE_MEMORY:
                self.sent_images.popitem(last=False)
        self.report.images_transferred += len(to_send) - len(missing)
        gone = {path for path, present in self.sent_images.items() if not present} | set(missing)
        for row in rows:
            if row.image in gone:
                reason = missing.get(row.image) or f"image {row.image!r} not found"
                if len(self.report.problems) < MAX_PROBLEMS_KEPT:
                    self.report.problems.append(RowProblem(row.line, reason))
                self.report.problems_total += 1
        return gone

    def _queue(self, rows: list[_Row]) -> None:
        if not rows:
            return
        if self.target.images.needs_transfer():
            gone = self._send_images(rows)
            rows = [row for row in rows if row.image not in gone]
        new = [row for row in rows if not row.exists]
        items = [_new_pair_item(row) for row in new]
        created = put_absent_all(self.ddb, self.target.table, items, ATTR_IMAGE_URL, pool=self.pool)
        self.report.items_written += created
        self.report.items_existing += len(rows) - created
        for row in rows:
            page = self.pager.add(row)
            if page is not None:
                self._page(*page)

    def _page(self, document: BatchDocument, rows: list[_Row]) -> None:
        report = self.report
        for row in rows:
            self._round_item(row, STATE_QUEUED, document.batch)
        report.queued += len(rows)
        report.batch_count += 1
        if len(rows) <= self.line_limit:
            report.nearly_empty_batches += 1
        per_label = report.per_label.setdefault(document.label, {"batches": 0, "items": 0})
        per_label["batches"] += 1
        per_label["items"] += len(rows)
        placed = self.gold.place(document) if self.gold is not None else document
        self.spool.write(manifest_line(placed).encode("utf-8"))


def _put_manifest(s3: Any, bucket: str, key: str, spool: IO[bytes]) -> None:
    """Write the part once; the same bytes again are a no-op, other bytes are refused."""
    spool.flush()
    spool.seek(0)
    digest = hashlib.sha256()
    size = 0
    for block in iter(lambda: spool.read(READ_BYTES), b""):
        digest.update(block)
        size += len(block)
    try:
        existing = s3.get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") not in {"NoSuchKey", "404", "NotFound"}:
            raise
        spool.seek(0)
        s3.put_object(Bucket=bucket, Key=key, Body=spool, ContentLength=size, ContentType="application/jsonlines")
        return
    theirs = hashlib.sha256()
    for block in iter(lambda: existing.read(READ_BYTES), b""):
        theirs.update(block)
    if theirs.hexdigest() != digest.hexdigest():
        raise ManifestConflictError(
            f"{S3Uri(bucket, key)} exists with other content; a manifest part is never rewritten "
            "(a seed of this round with another input crashed before committing?). Seed into a new --round."
        )


def run_seed(
    csv: str | bytes | CsvInput,
    target: SeedTarget,
    *,
    s3: Any,
    ddb: Any,
    source: str = "CSV",
    max_workers: int = DEFAULT_WORKERS,
    progress: Progress | None = None,
    gold: GoldPlacer | None = None,
    dry_run: bool = False,
    verify_images: bool = False,
) -> SeedReport:
    """Seed one part of a round (see the module docstring); ``dry_run`` makes no AWS request at all.

    ``verify_images`` (``bulkqa seed``): before anything is written, an S3 image source is checked
    with ``check_s3_images`` (one listing, a HeadObject on a few sampled keys) and a wrong prefix
    raises ``ImagesNotFoundError``. Local folders are always checked, in the first pass.

    Raises ``CsvFormatError`` (unreadable CSV), ``ManifestLineTooLongError`` (a page too long),
    ``RoundInputChangedError`` / ``ManifestConflictError`` (the round has another input), before
    anything is written; AWS errors propagate.
    """
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as rows:
        return _run_seed(
            as_csv_input(csv, source),
            target,
            s3=s3,
            ddb=ddb,
            max_workers=max_workers,
            progress=progress or (lambda stage, advance, total: None),
            gold=gold,
            dry_run=dry_run,
            verify_images=verify_images,
            rows=rows,
        )


def _run_seed(
    csv_input: CsvInput,
    target: SeedTarget,
    *,
    s3: Any,
    ddb: Any,
    max_workers: int,
    progress: Progress,
    gold: GoldPlacer | None,
    dry_run: bool,
    verify_images: bool,
    rows: IO[str],
) -> SeedReport:
    report_progress = progress
    options = target.seed_options
    round_name = options.round or generate_round_name()
    first = _first_pass(csv_input, target, options, round_name, gold, rows)
    report = SeedReport(
        round=round_name,
        input_sha256=first.input_sha256,
        dry_run=dry_run,
        rows_read=first.tally.rows_read,
        below_threshold=first.tally.below_threshold,
        problems=sorted([*first.tally.problems, *first.missing_images], key=lambda problem: problem.line),
        problems_total=first.tally.problems_total + len(first.missing_images),
        batch_size=options.batch_size,
    )
    if dry_run:
        return _dry_run(report, first, options, target)

    if first.eligible - len(first.missing_images) == 0:
        return report  # nothing to store: no request at all
    # The read-only look-ups before any write do not depend on each other: the image check runs
    # beside the round's item (and the table probe), so they cost two round trips, not eight.
    # Their outcomes are judged in the order they always were: a refused image check first.
    with ThreadPoolExecutor(max_workers=1) as lookups:
        before_writes = lookups.submit(_round_before_writes, ddb, target.table, round_name, options)
        if verify_images and isinstance(target.images, S3Images):
            checked = check_s3_images(s3, target.images, first.sample)
            if checked.refused:
                raise ImagesNotFoundError("\n".join([*checked.lines(), "nothing was written"]))
        meta, has_pairs = before_writes.result()
    if meta is not None:
        done = meta.part_with_input(first.input_sha256)
        if done is not None:
            return SeedReport.from_part(meta, done)
        if not options.extend:
            raise RoundInputChangedError(
                f"round {round_name!r} was already seeded with another input (CSV or options); nothing was "
                "written. Use --extend to add the new rows as a new part, or seed into another --round."
            )
        report.part = len(meta.parts) + 1
    check_pairs = meta is not None or has_pairs
    total = first.eligible

    with tempfile.TemporaryFile() as spool, ThreadPoolExecutor(max_workers=max_workers) as pool:
        seeder = _Seeder(
            target,
            options,
            report,
            s3=s3,
            ddb=ddb,
            pool=pool,
            gold=gold,
            spool=spool,
            check_round=meta is not None,
            check_pairs=check_pairs,
            progress=lambda stage, advance, _: report_progress(stage, advance, total),
        )
        chunk: list[LabelRow] = []
        for row in first.spooled_rows():
            chunk.append(row)
            if len(chunk) >= CHUNK_ROWS:
                seeder.chunk(chunk)
                chunk = []
        if chunk:
            seeder.chunk(chunk)
        seeder.finish()
        report.problems.sort(key=lambda problem: problem.line)
        warning = nearly_empty_warning(report.nearly_empty_batches, report.batch_count, options.batch_size)
        if warning:
            report.warnings.append(warning)
        if report.batch_count:
            key = manifest_key(round_name, report.part)
            _put_manifest(s3, target.bucket, key, spool)
            report.manifest_uri = str(S3Uri(target.bucket, key))
            report_progress("manifest", 1, 1)

    if report.stored or report.already_in_round:
        _commit(ddb, target, options, report, meta)
    return report


def _round_before_writes(ddb: Any, table: str, round_name: str, options: SeedOptions) -> tuple[RoundMeta | None, bool]:
    """The round's item (when named), and only when there is none, whether the table holds pairs."""
    meta = read_round(ddb, table, round_name) if options.round else None
    return meta, meta is not None or table_has_pair_items(ddb, table)


def _commit(ddb: Any, target: SeedTarget, options: SeedOptions, report: SeedReport, meta: RoundMeta | None) -> None:
    """Write the round's metadata with this part: last, and only if no other seed committed meanwhile."""
    part = RoundPart(
        part=report.part,
        input_sha256=report.input_sha256,
        created=_now(),
        rows_read=report.rows_read,
        problems=report.problems_total,
        below_threshold=sum(report.below_threshold.values()),
        queued=report.queued,
        reused=report.reused,
        accepted=report.accepted,
        sampled_out=report.sampled_out,
        already_in_round=report.already_in_round,
        batches=report.batch_count,
        manifest_uri=report.manifest_uri,
        options={k: v for k, v in options.result_options().items() if v is not None and k != "accept_above_sha256"}
        | ({"accept_above_classes": options.accept_above.usable_count()} if options.accept_above else {})
        | ({"workers_per_object": options.workers_per_object} if options.workers_per_object else {}),
    )
    parts_before = len(meta.parts) if meta else 0
    updated = RoundMeta(
        name=report.round,
        created=meta.created if meta else part.created,
        batch_size=meta.batch_size if meta else options.batch_size,
        parts=[*(meta.parts if meta else []), part],
        adopted=meta.adopted if meta else False,
    )
    write_round(ddb, target.table, updated, parts_before=parts_before)


def _dry_run(report: SeedReport, first: _FirstPass, options: SeedOptions, target: SeedTarget) -> SeedReport:
    """What would be queued, from the CSV alone: pages per label, before reuse of earlier verdicts."""
    report.accepted = first.accepted
    pager = Pager(report.round, report.part, options.batch_size)
    sampler = Sampler(options.sample, options.sample_seed) if options.sample else None
    line_limit = max(1, int(options.batch_size * NEARLY_EMPTY_SHARE))

    def page(document: BatchDocument, rows: list[_Row]) -> None:
        manifest_line(document)
        report.batch_count += 1
        report.queued += len(rows)
        report.nearly_empty_batches += len(rows) <= line_limit
        entry = report.per_label.setdefault(document.label, {"batches": 0, "items": 0})
        entry["batches"] += 1
        entry["items"] += len(rows)

    def queue(row: _Row) -> None:
        done = pager.add(row)
        if done:
            page(*done)

    # The dry run keeps no rows either: it reads the first pass's spool, like the real seed.
    for row in first.spooled_rows():
        if options.accept_above is not None and options.accept_above.accepts(row.label, row.confidence):
            continue
        staged = _staged(row, target)
        if sampler is None:
            queue(staged)
        else:
            out = sampler.add(staged, row.image, row.label, row.confidence, row.line)
            report.sampled_out += out is not None
    if sampler is not None:
        for row in sampler.drain():
            queue(row)
    for document, rows in pager.flush():
        page(document, rows)
    warning = nearly_empty_warning(report.nearly_empty_batches, report.batch_count, options.batch_size)
    if warning:
        report.warnings.append(warning)
    report.warnings.append(
        "dry run: no AWS request was made, so pairs already reviewed in earlier rounds (reused verdicts) "
        "are not known and are counted as queued"
        + ("; images in S3 were not checked" if not isinstance(target.images, LocalImages) else "")
    )
    return report
