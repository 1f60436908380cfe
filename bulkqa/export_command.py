"""``bulkqa export``: the verified labels for retraining, one row per reviewed image.

Rows come out sorted by label, then image (``analysis.export.export_order``), so the same data
always gives the same file. Every CSV cell goes through ``bulkqa.csv_safety`` (OWASP: a text cell
that a spreadsheet would run as a formula, ``=``, ``+``, ``-``, ``@``, tab, CR..., gets a leading
``'``); JSON lines are data, written as they are. With ``--round R`` the rows are that round's
pairs with its confidences; ``--only accepted`` writes the pairs the round accepted by threshold
(not reviewed, outcome ``accepted``).
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.markup import escape

from bulkqa.analysis import ExportRow, Outcome, Policy, export_rows
from bulkqa.analysis.export import ACCEPTED, export_order
from bulkqa.csv_safety import safe_writer
from bulkqa.report_command import (
    EndpointOption,
    InputOption,
    PolicyOption,
    ReadProgress,
    RegionOption,
    RoundOption,
    SegmentsOption,
    TableOption,
    exit_on_read_failure,
    open_source,
    print_problems,
)
from bulkqa.results_source import DEFAULT_SEGMENTS, IMAGE_COLUMN
from handlers.settings import ATTR_CONFIDENCE, ATTR_CONFIRM_COUNT, ATTR_DISCONFIRM_COUNT, ATTR_LABEL, STATE_ACCEPTED

OUTCOME_COLUMN = "outcome"
EXPORT_COLUMNS = (IMAGE_COLUMN, ATTR_LABEL, ATTR_CONFIDENCE, OUTCOME_COLUMN, ATTR_CONFIRM_COUNT, ATTR_DISCONFIRM_COUNT)


class Only(enum.StrEnum):
    CONFIRMED = Outcome.CONFIRMED.value
    DISCONFIRMED = Outcome.DISCONFIRMED.value
    SPLIT = Outcome.SPLIT.value
    TIE = Outcome.TIE.value
    ACCEPTED = ACCEPTED


class ExportFormat(enum.StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


def _values(row: ExportRow) -> tuple[object, ...]:
    return (row.image, row.label, row.confidence, str(row.outcome), row.confirm, row.disconfirm)


def write_rows(rows: Iterable[ExportRow], handle: TextIO, fmt: ExportFormat) -> int:
    """Write ``rows`` (CSV with a header, formula-safe; or JSON lines); how many were written."""
    count = 0
    if fmt is ExportFormat.CSV:
        writer = safe_writer(handle)
        writer.writerow(EXPORT_COLUMNS)
        for row in rows:
            writer.writerow(_values(row))
            count += 1
    else:
        for row in rows:
            handle.write(json.dumps(dict(zip(EXPORT_COLUMNS, _values(row), strict=True)), ensure_ascii=False) + "\n")
            count += 1
    return count


def accepted_rows(source: Any) -> Iterable[ExportRow]:
    """The pairs a round accepted by threshold, with the round's confidence (and any votes they have)."""
    for pair in source.accepted():
        yield ExportRow(pair.image, pair.label, pair.confidence, ACCEPTED, pair.confirm, pair.disconfirm)


CORRECTED_COLUMNS = (IMAGE_COLUMN, ATTR_LABEL, "label_source", "original_label", ATTR_CONFIDENCE)


def corrected_training_rows(source: Any, policy: Policy) -> list[tuple[object, ...]]:
    """The round's training set after a relabel: confirmed pairs, and each rejected image under the
    class the relabel job gave it ("None of these" left out); sorted by label, then image."""
    from bulkqa.relabel.analysis import corrected_rows
    from bulkqa.relabel.store import StoredPair

    source.details = True
    confidence: dict[tuple[str, str], float] = {}
    pairs = []
    for pair, details in source.pairs_with_details():
        if pair.state == STATE_ACCEPTED:
            continue  # accepted by threshold: not verified by a human
        confidence[(pair.image, pair.label)] = pair.confidence
        pairs.append(
            StoredPair(
                pair.image,
                pair.label,
                pair.confirm,
                pair.disconfirm,
                details.corrected_label,
                details.corrected_by_job,
            )
        )
    return [
        (row.image, row.label, row.source, row.original_label, confidence[(row.image, row.original_label)])
        for row in corrected_rows(pairs, policy)
    ]


def write_corrected(rows: list[tuple[object, ...]], handle: TextIO, fmt: ExportFormat) -> int:
    if fmt is ExportFormat.CSV:
        writer = safe_writer(handle)
        writer.writerow(CORRECTED_COLUMNS)
        writer.writerows(rows)
    else:
        for row in rows:
            handle.write(json.dumps(dict(zip(CORRECTED_COLUMNS, row, strict=True)), ensure_ascii=False) + "\n")
    return len(rows)


def export(
    table: TableOption = None,
    input_path: InputOption = None,
    round_name: RoundOption = None,
    policy: PolicyOption = Policy.UNANIMOUS,
    only: Annotated[
        Only | None,
        typer.Option(
            help="Keep one outcome: confirmed, disconfirmed, split, tie; or accepted: the pairs a round "
            "accepted by threshold, not reviewed (needs --round)."
        ),
    ] = None,
    fmt: Annotated[ExportFormat, typer.Option("--format", help="csv | jsonl")] = ExportFormat.CSV,
    out: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
    corrected: Annotated[
        bool,
        typer.Option(
            "--corrected",
            help="With --round: the training set after bulkqa relabel import: confirmed labels plus the "
            "corrected label of each rejected image, with a label_source column.",
        ),
    ] = False,
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
    segments: SegmentsOption = DEFAULT_SEGMENTS,
) -> None:
    """Write the verified labels for retraining: one row per reviewed image with the model's label,
    its confidence, the outcome under the policy (confirmed, disconfirmed, split or tie) and the votes.

    Unreviewed images (no vote) are left out. Rows are sorted by label, then image. CSV cells that
    a spreadsheet would run as a formula get a leading ' (OWASP).
    """
    err = Console(stderr=True)
    if corrected and (round_name is None or only is not None):
        err.print("[bold red]error:[/bold red] --corrected needs --round and takes no --only")
        raise typer.Exit(2)
    if only is Only.ACCEPTED and round_name is None:
        err.print("[bold red]error:[/bold red] --only accepted needs --round: only a round accepts by threshold")
        raise typer.Exit(2)
    with ReadProgress(err) as progress:
        source = open_source(
            err, table, input_path, endpoint_url, region, segments, round_name=round_name, progress=progress.update
        )
        with exit_on_read_failure(err):
            if corrected:
                rows = corrected_training_rows(source, policy)
            elif only is Only.ACCEPTED:
                rows = export_order(accepted_rows(source))
            else:
                keep = None if only is None else Outcome(only.value)
                rows = export_order(export_rows(source, policy, keep))
    # Everything is read before the output is opened: a read failure leaves no partial file.
    with ExitStack() as stack:
        handle = sys.stdout if out is None else stack.enter_context(out.open("w", encoding="utf-8", newline=""))
        written = write_corrected(rows, handle, fmt) if corrected else write_rows(rows, handle, fmt)
    print_problems(err, source)
    err.print(f"{source.rows_read} row(s) read, {written} exported" + (f" to {escape(str(out))}." if out else "."))
