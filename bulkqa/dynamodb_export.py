"""Report from a DynamoDB export in S3 (``bulkqa report --from-export``): no Scan of a huge table.

Why: a parallel Scan reads the whole table at read-capacity cost on every report. A DynamoDB
export to S3 (``bulkqa export-table``, ``ExportTableToPointInTime``; PITR is on in prod) costs
nothing of the table's capacity and is read here with the report's columnar engine (pyarrow).

The format read (AWS "DynamoDB table export output format", full export, ``DYNAMODB_JSON``)::

    <prefix>/AWSDynamoDB/<export-id>/manifest-summary.json   one JSON object: outputFormat,
                                                              itemCount, manifestFilesS3Key, ...
    <prefix>/AWSDynamoDB/<export-id>/manifest-files.json     JSON lines, one per data file:
                                                              {"itemCount", "md5Checksum", "etag",
                                                               "dataFileS3Key"}
    <prefix>/AWSDynamoDB/<export-id>/data/<name>.json.gz     gzipped JSON lines {"Item": {...}}
                                                              in DynamoDB's typed JSON ({"S": ..})

Every data file is checked against its manifest's ``itemCount`` (a truncated file is an error,
never a silently smaller report). Items of other kinds (``#…`` keys: rounds, round pairs, worker
pages) are skipped, as the whole-table Scan skips them; pair items that cannot be read are named.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bulkqa import columnar
from bulkqa.analysis import Record
from bulkqa.columnar import ColumnSet
from bulkqa.results_source import (
    ProgressCallback,
    ResultsFormatError,
    _Problems,
    columns_of,
    item_record,
    item_where,
    parallel_pages,
)
from handlers.rounds import is_pair_item
from handlers.settings import ATTR_CONFIDENCE, ATTR_CONFIRM_COUNT, ATTR_DISCONFIRM_COUNT, ATTR_IMAGE_URL, ATTR_LABEL

EXPORT_FOLDER = "AWSDynamoDB/"
SUMMARY_NAME = "manifest-summary.json"
FILES_NAME = "manifest-files.json"
SUPPORTED_FORMAT = "DYNAMODB_JSON"
DOWNLOAD_THREADS = 8
_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>.+)$")


class ExportFormatError(ResultsFormatError):
    """The export is not one we can read (its manifest, format or a data file), exit 2."""


def parse_export_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/prefix/AWSDynamoDB/<export-id>/`` -> (bucket, ``prefix/AWSDynamoDB/<id>/``)."""
    match = _URI.match(uri.strip())
    key = match.group("key").rstrip("/") if match else ""
    folder, _, export_id = key.rpartition("/")
    if not match or not export_id or not (folder + "/").endswith(EXPORT_FOLDER):
        raise ValueError(
            f"--from-export {uri!r} is not a DynamoDB export folder: expected "
            "s3://BUCKET/PREFIX/AWSDynamoDB/EXPORT-ID/ (the folder that holds manifest-summary.json)"
        )
    return match.group("bucket"), key + "/"


def resolve_key(export_prefix: str, key: str) -> str:
    """A manifest's key as an object key: manifests name files from the bucket root
    (``prefix/AWSDynamoDB/<id>/data/x.json.gz``); a key that starts at ``AWSDynamoDB/`` without the
    export's own prefix is read under that prefix."""
    base = export_prefix[: export_prefix.rindex(EXPORT_FOLDER)]
    if key.startswith(EXPORT_FOLDER) and base and not key.startswith(base):
        return base + key
    return key


@dataclass(frozen=True)
class DataFile:
    key: str
    item_count: int


@dataclass(frozen=True)
class ExportManifest:
    export_arn: str | None
    item_count: int | None
    files: tuple[DataFile, ...]


def _get(s3: Any, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def read_manifest(s3: Any, bucket: str, prefix: str) -> ExportManifest:
    """The export's summary and its list of data files; ``ExportFormatError`` naming what is wrong."""
    where = f"s3://{bucket}/{prefix}{SUMMARY_NAME}"
    try:
        summary = json.loads(_get(s3, bucket, prefix + SUMMARY_NAME))
    except ValueError as err:
        raise ExportFormatError(f"{where} is not JSON ({err})") from err
    if not isinstance(summary, dict):
        raise ExportFormatError(f"{where} is not a JSON object")
    output_format = summary.get("outputFormat", SUPPORTED_FORMAT)
    if output_format != SUPPORTED_FORMAT:
        raise ExportFormatError(
            f"{where}: the export is {output_format}; only {SUPPORTED_FORMAT} exports can be read "
            "(bulkqa export-table makes one)"
        )
    if summary.get("exportType", "FULL_EXPORT") != "FULL_EXPORT":
        raise ExportFormatError(f"{where}: an {summary['exportType']}; only full exports hold every item")
    files_key = summary.get("manifestFilesS3Key")
    files_key = resolve_key(prefix, files_key) if isinstance(files_key, str) and files_key else prefix + FILES_NAME
    files = []
    text = _get(s3, bucket, files_key).decode("utf-8")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            key, count = entry["dataFileS3Key"], entry["itemCount"]
        except (ValueError, KeyError, TypeError) as err:
            raise ExportFormatError(f"s3://{bucket}/{files_key} line {number} names no data file ({err})") from err
        if not isinstance(key, str) or isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ExportFormatError(f"s3://{bucket}/{files_key} line {number}: bad dataFileS3Key or itemCount")
        files.append(DataFile(resolve_key(prefix, key), count))
    total = summary.get("itemCount")
    total = total if isinstance(total, int) and not isinstance(total, bool) else None
    return ExportManifest(summary.get("exportArn"), total, tuple(files))


def _decompress(raw: bytes, where: str) -> bytes:
    if raw[:2] != b"\x1f\x8b":
        return raw  # stored uncompressed
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError) as err:
        raise ExportFormatError(f"{where} is not a readable gzip file ({err})") from err


def file_columns(data: bytes) -> tuple[ColumnSet, int, int] | None:
    """(columns of the pair items, items in the file, pair items) by pyarrow; None if not clean."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pajson

    if not data.strip():
        return columnar.empty_columns(), 0, 0
    s, n = pa.struct([("S", pa.string())]), pa.struct([("N", pa.string())])
    fields = [(ATTR_IMAGE_URL, s), (ATTR_LABEL, s), (ATTR_CONFIDENCE, n), (ATTR_CONFIRM_COUNT, n)]
    schema = pa.schema([("Item", pa.struct([*fields, (ATTR_DISCONFIRM_COUNT, n)]))])
    try:
        table = pajson.read_json(
            pa.BufferReader(data),
            read_options=pajson.ReadOptions(block_size=columnar.BLOCK_BYTES),
            parse_options=pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
        )
        item = table.column("Item")
        if item.null_count:
            return None  # a line without "Item" (an incremental export's image, say)

        def value(name: str, kind: str) -> Any:
            return pc.struct_field(pc.struct_field(item, name), kind)

        image = value(ATTR_IMAGE_URL, "S")
        if image.null_count:
            return None
        pairs = pc.invert(pc.starts_with(image, "#"))
        total, kept = table.num_rows, pc.sum(pairs).as_py() or 0
        columns = [
            pc.filter(column, pairs)
            for column in (
                image,
                value(ATTR_LABEL, "S"),
                pc.cast(value(ATTR_CONFIDENCE, "N"), pa.float64()),
                pc.cast(value(ATTR_CONFIRM_COUNT, "N"), pa.int64()),
                pc.cast(value(ATTR_DISCONFIRM_COUNT, "N"), pa.int64()),
            )
        ]
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    if not kept:
        return columnar.empty_columns(), total, 0
    finished = columnar.finish(*columns, table_keys=True)
    return None if finished is None else (finished, total, kept)


class ExportResults(_Problems):
    """The pair items of a DynamoDB export: ``columns()`` for the report, records when iterated."""

    def __init__(
        self,
        s3: Any,
        bucket: str,
        prefix: str,
        *,
        progress: ProgressCallback | None = None,
        threads: int = DOWNLOAD_THREADS,
    ) -> None:
        super().__init__()
        self.s3, self.bucket, self.prefix = s3, bucket, prefix
        self.progress, self.threads = progress, threads
        self.pages = 0  # data files read
        self.items_seen = 0
        self.manifest: ExportManifest | None = None
        self.fast_files = 0

    def _files(self) -> Iterator[tuple[DataFile, bytes]]:
        """Each data file's decompressed bytes, downloaded in parallel, checked against its count."""
        self.manifest = read_manifest(self.s3, self.bucket, self.prefix)

        def fetch(data_file: DataFile, emit: Callable[[Any], bool]) -> None:
            where = f"s3://{self.bucket}/{data_file.key}"
            emit((data_file, _decompress(_get(self.s3, self.bucket, data_file.key), where)))

        tasks = [lambda emit, f=f: fetch(f, emit) for f in self.manifest.files]
        yield from parallel_pages(tasks, threads=self.threads, name="export")

    def _check_count(self, data_file: DataFile, items: int) -> None:
        if items != data_file.item_count:
            raise ExportFormatError(
                f"s3://{self.bucket}/{data_file.key} holds {items} item(s) but the export's manifest "
                f"says {data_file.item_count}: the file is incomplete or not this export's"
            )

    def _advance(self, items: int) -> None:
        self.pages += 1
        self.items_seen += items
        if self.progress is not None:
            self.progress(self.pages, self.items_seen)

    def _records(self, data_file: DataFile, data: bytes) -> Iterator[Record]:
        """One file's pair items row by row (the exact path: every unreadable item is named)."""
        where = f"s3://{self.bucket}/{data_file.key}"
        lines = 0
        for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
            if not line.strip():
                continue
            lines += 1
            try:
                item = json.loads(line)["Item"]
            except (ValueError, KeyError, TypeError):
                self._skip(f"{where} line {number}", 'not a DynamoDB JSON line {"Item": {...}}')
                continue
            if not isinstance(item, dict) or not is_pair_item(item):
                continue
            self.rows_read += 1
            record, reason = item_record(item)
            if record is None:
                self._skip(item_where(item), reason or "unreadable")
            else:
                yield record
        self._check_count(data_file, lines)

    def __iter__(self) -> Iterator[Record]:
        self._reset()
        for data_file, data in self._files():
            records = list(self._records(data_file, data))
            self._advance(data_file.item_count)
            yield from records

    def columns(self) -> ColumnSet:
        """Every pair item as report columns: pyarrow per file, row by row for a file that is not clean."""
        self._reset()
        parts = []
        for data_file, data in self._files():
            fast = file_columns(data)
            if fast is not None:
                part, total, kept = fast
                self._check_count(data_file, total)
                self.rows_read += kept
                self.fast_files += 1
            else:
                part = columns_of(self._records(data_file, data))
            parts.append(part)
            self._advance(data_file.item_count)
        return columnar.concat(parts)
