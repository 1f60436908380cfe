"""The fast path of ``bulkqa report``: results files read column by column with pyarrow.

Why pyarrow (measured on 1M rows, 57 MB, this 2-core machine; see docs/ARCHITECTURE.md): its CSV
reader parsed and typed the four columns in 0.35-0.41 s at 157-160 MiB peak, polars 2.1 took
0.54-0.72 s at 202-209 MiB, a bare ``csv.reader`` pass 0.76-1.08 s. pyarrow also reads JSON lines
(our JSONL input and DynamoDB's export format) with the same engine.

Contract: every function here either returns the *exact* columns the row-by-row reader in
``results_source`` would produce, or ``None``. ``None`` means "some row is not clean" (a value that
does not convert, a count out of range, an empty label, a row of the wrong width, invalid UTF-8):
the caller then reads the file again row by row, which names every bad row by its line and skips
it. So a clean file takes the fast path, and a file with a bad row gets exactly the messages it
always got. Nothing here decides what is valid on its own: it only recognises the clean case.

pyarrow is imported inside the functions: ``import bulkqa.columnar`` costs nothing until a file
is read, so ``bulkqa --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

# A vote count above this is refused (the report sums counts in int64; 2^53 is also the largest
# whole number a JSON consumer such as JavaScript reads exactly). No review has that many votes.
MAX_VOTES = 2**53
BLOCK_BYTES = 4 << 20  # pyarrow's unit of parallel parsing (and of streaming): bounds the strings alive

# (labels, label_ids, confidence, confirm, disconfirm): what ``build_report_from_columns`` takes.
ColumnSet = tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def empty_columns() -> ColumnSet:
    empty_i = np.zeros(0, np.int64)
    return [], empty_i, np.zeros(0, np.float64), empty_i, empty_i


def _counts(column: Any) -> np.ndarray | None:
    """An int64 count column (nulls = no vote = 0) as numpy, or None if any count is out of range."""
    import pyarrow.compute as pc

    values = (pc.fill_null(column, 0) if column.null_count else column).to_numpy()
    if len(values) and (values.min() < 0 or values.max() > MAX_VOTES):
        return None
    return values.astype(np.int64, copy=False)


def _confidence(column: Any) -> np.ndarray | None:
    """A float64 column with every value in [0, 100] (no null, no NaN), or None."""
    if column.null_count:
        return None
    values = column.to_numpy()
    if len(values) and not ((values >= 0.0) & (values <= 100.0)).all():  # NaN fails both
        return None
    return values


def _images_present(column: Any) -> bool:
    """True if no image is null, empty or whitespace only (pyarrow's is_space is Python's isspace)."""
    import pyarrow.compute as pc

    if column.null_count:
        return False
    blank = pc.or_(pc.equal(pc.binary_length(column), 0), pc.utf8_is_space(column))
    return not pc.any(blank).as_py()


def physical_lines(path: Path) -> int:
    """Lines as the csv module counts them (``\\r\\n``, ``\\r`` or ``\\n`` ends one), in 4 MiB reads.

    Why: a file with exactly one line per row (plus the header) has no blank line and no field
    with a line break, which may be a stray quote that swallowed rows; comparing the two counts
    costs one pass of ``bytes.count``, where looking for line breaks in a million paths costs more
    than the whole parse. Any other file is left to the row-by-row reader.
    """
    breaks = 0
    last = b""
    previous_cr = False
    with path.open("rb") as handle:
        while chunk := handle.read(BLOCK_BYTES):
            breaks += chunk.count(b"\n")
            if b"\r" in chunk:  # a memchr; most files have no CR, and then both CR counts are 0
                breaks += chunk.count(b"\r") - chunk.count(b"\r\n")
            if previous_cr and chunk[:1] == b"\n":
                breaks -= 1  # a CRLF split across two reads
            previous_cr = chunk[-1:] == b"\r"
            last = chunk[-1:]
    return breaks + (1 if last and last not in (b"\n", b"\r") else 0)


def _label_ids(column: Any, strip: bool = True, names: dict[str, int] | None = None) -> np.ndarray | None:
    """Label ids, numbering labels in ``names`` (first seen first); None if a label is null or blank.

    Labels are stripped exactly as ``str.strip`` does. They are dictionary-encoded, so the stripping
    runs in Python on the few distinct values, not on a million rows; labels that differ only by
    surrounding spaces become one class. Labels from the table (``strip=False``) are keys: taken as
    they are, like ``results_source.item_record``.
    """
    import pyarrow as pa

    names = {} if names is None else names
    if column.null_count:
        return None
    if not pa.types.is_dictionary(column.type):
        column = column.dictionary_encode()
    column = column.unify_dictionaries() if isinstance(column, pa.ChunkedArray) else column
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    if not chunks:
        return np.zeros(0, np.int64)
    remap = []
    for value in chunks[0].dictionary.to_pylist():
        label = value.strip() if strip else value
        if not label or (strip and ("\n" in label or "\r" in label)):
            return None  # an empty label is a bad row, a line break maybe a stray quote: the row-by-row reader
        remap.append(names.setdefault(label, len(names)))
    table = np.asarray(remap, dtype=np.int64)
    indices = [chunk.indices.to_numpy(zero_copy_only=False) for chunk in chunks]
    return table[np.concatenate(indices)] if indices else np.zeros(0, np.int64)


Part = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def finish_part(
    image: Any,
    label: Any,
    confidence: Any,
    confirm: Any,
    disconfirm: Any,
    names: dict[str, int],
    *,
    table_keys: bool = False,
) -> Part | None:
    """Validate typed pyarrow columns as the row-by-row reader would: (ids, conf, c, d), or None.

    ``names`` numbers the labels across parts. ``table_keys``: image and label are DynamoDB keys
    (never empty, taken as they are).
    """
    if not table_keys and not _images_present(image):
        return None
    ids = _label_ids(label, strip=not table_keys, names=names)
    conf = _confidence(confidence)
    if ids is None or conf is None:
        return None
    c, d = _counts(confirm), _counts(disconfirm)
    if c is None or d is None:
        return None
    return ids, conf, c, d


def join_parts(names: dict[str, int], parts: Sequence[Part]) -> ColumnSet:
    if not parts:
        return empty_columns()
    if len(parts) == 1:
        return (list(names), *parts[0])
    ids, conf, c, d = (np.concatenate(column) for column in zip(*parts, strict=True))
    return list(names), ids, conf, c, d


def finish(
    image: Any, label: Any, confidence: Any, confirm: Any, disconfirm: Any, *, table_keys: bool = False
) -> ColumnSet | None:
    """``finish_part`` of whole columns: the ColumnSet, or None."""
    names: dict[str, int] = {}
    part = finish_part(image, label, confidence, confirm, disconfirm, names, table_keys=table_keys)
    return None if part is None else join_parts(names, [part])


def csv_columns(path: Path, header_width: int, positions: Sequence[int]) -> ColumnSet | None:
    """Read a results CSV whose header has ``header_width`` fields; columns at ``positions``
    (image, label, confidence, confirm, disconfirm). None when some row is not clean."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [f"c{i}" for i in range(header_width)]
    _, i_label, i_conf, i_c, i_d = positions
    # Every column is converted, the ones we do not use as strings, so that invalid UTF-8 anywhere
    # fails here as it fails the row-by-row reader.
    types = {name: pa.string() for name in names}
    types[names[i_label]] = pa.dictionary(pa.int32(), pa.string())
    types[names[i_conf]] = pa.float64()
    types[names[i_c]] = pa.int64()
    types[names[i_d]] = pa.int64()
    names_seen: dict[str, int] = {}
    parts: list[Part] = []
    try:
        # Streamed batch by batch: only one block's image strings are alive at a time.
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=types, null_values=[""], strings_can_be_null=False, quoted_strings_can_be_null=True
            ),
        )
        rows = 0
        for batch in reader:
            part = finish_part(*(batch.column(i) for i in positions), names_seen)
            if part is None:
                return None
            parts.append(part)
            rows += batch.num_rows
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError):
        return None
    finally:
        pa.default_memory_pool().release_unused()
    if physical_lines(path) != rows + 1:
        return None  # a blank line or a field over several lines: the row-by-row reader decides
    return join_parts(names_seen, parts)


def jsonl_columns(path: Path, keys: Sequence[str]) -> ColumnSet | None:
    """Read JSON lines with the fields ``keys`` (image, label, confidence, confirm, disconfirm)."""
    import pyarrow as pa
    import pyarrow.json as pajson

    image, label, conf, c, d = keys
    schema = pa.schema(
        [(image, pa.string()), (label, pa.string()), (conf, pa.float64()), (c, pa.int64()), (d, pa.int64())]
    )
    names_seen: dict[str, int] = {}
    parts: list[Part] = []
    try:
        reader = pajson.open_json(  # streamed, as the CSV is
            path,
            read_options=pajson.ReadOptions(block_size=BLOCK_BYTES),
            parse_options=pajson.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="ignore", newlines_in_values=False
            ),
        )
        for batch in reader:
            part = finish_part(*(batch.column(key) for key in keys), names_seen)
            if part is None:
                return None
            parts.append(part)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError):
        return None
    finally:
        pa.default_memory_pool().release_unused()
    return join_parts(names_seen, parts)


def concat(parts: Sequence[ColumnSet]) -> ColumnSet:
    """Join column sets read separately (files of one export), renumbering their labels."""
    if not parts:
        return empty_columns()
    names: dict[str, int] = {}
    ids, conf, c, d = [], [], [], []
    for labels, part_ids, part_conf, part_c, part_d in parts:
        table = np.asarray([names.setdefault(label, len(names)) for label in labels], dtype=np.int64)
        ids.append(table[part_ids] if len(part_ids) else np.zeros(0, np.int64))
        conf.append(part_conf)
        c.append(part_c)
        d.append(part_d)
    return list(names), np.concatenate(ids), np.concatenate(conf), np.concatenate(c), np.concatenate(d)
