"""``bulkqa export``: the verified labels for retraining, one row per reviewed image."""

from __future__ import annotations

import csv
import enum
import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.console import Console

from bulkqa.analysis import ExportRow, Outcome, Policy, export_rows
from bulkqa.report_command import (
    EndpointOption,
    InputOption,
    PolicyOption,
    RegionOption,
    SegmentsOption,
    TableOption,
    exit_on_read_failure,
    open_source,
    print_problems,
)
from bulkqa.results_source import DEFAULT_SEGMENTS, IMAGE_COLUMN
from handlers.settings import ATTR_CONFIDENCE, ATTR_CONFIRM_COUNT, ATTR_DISCONFIRM_COUNT, ATTR_LABEL

OUTCOME_COLUMN = "outcome"
EXPORT_COLUMNS = (IMAGE_COLUMN, ATTR_LABEL, ATTR_CONFIDENCE, OUTCOME_COLUMN, ATTR_CONFIRM_COUNT, ATTR_DISCONFIRM_COUNT)


class Only(enum.StrEnum):
    CONFIRMED = Outcome.CONFIRMED.value
    DISCONFIRMED = Outcome.DISCONFIRMED.value


class ExportFormat(enum.StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


def _values(row: ExportRow) -> tuple[object, ...]:
    return (row.image, row.label, row.confidence, row.outcome.value, row.confirm, row.disconfirm)


def write_rows(rows: object, handle: TextIO, fmt: ExportFormat) -> int:
    count = 0
    if fmt is ExportFormat.CSV:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(EXPORT_COLUMNS)
        for row in rows:  # type: ignore[attr-defined]
            writer.writerow(_values(row))
            count += 1
    else:
        for row in rows:  # type: ignore[attr-defined]
            handle.write(json.dumps(dict(zip(EXPORT_COLUMNS, _values(row), strict=True)), ensure_ascii=False) + "\n")
            count += 1
    return count


def export(
    table: TableOption = None,
    input_path: InputOption = None,
    policy: PolicyOption = Policy.UNANIMOUS,
    only: Annotated[Only | None, typer.Option(help="Keep only the confirmed or only the disconfirmed images.")] = None,
    fmt: Annotated[ExportFormat, typer.Option("--format", help="csv | jsonl")] = ExportFormat.CSV,
    out: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
    segments: SegmentsOption = DEFAULT_SEGMENTS,
) -> None:
    """Write the verified labels for retraining: one row per reviewed image with the model's label,
    its confidence, the outcome under the policy (confirmed, disconfirmed, split or tie) and the votes.

    Unreviewed images (no vote) are left out.
    """
    err = Console(stderr=True)
    source = open_source(err, table, input_path, endpoint_url, region, segments)
    rows = export_rows(source, policy, None if only is None else Outcome(only.value))
    with exit_on_read_failure(err), ExitStack() as stack:
        handle = sys.stdout if out is None else stack.enter_context(out.open("w", encoding="utf-8", newline=""))
        written = write_rows(rows, handle, fmt)
    print_problems(err, source)
    err.print(f"{source.rows_read} row(s) read, {written} exported" + (f" to {out}." if out else "."))
