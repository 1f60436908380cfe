"""``bulkqa report``: accuracy per class and confidence band, per-class thresholds, calibration."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.table import Table

from bulkqa.analysis import (
    DEFAULT_MAX_FP_RATIO,
    DEFAULT_MIN_REVIEWED,
    Policy,
    build_report,
    build_report_from_columns,
    parse_bands,
)
from bulkqa.renderers import Format, render
from bulkqa.results_source import DEFAULT_SEGMENTS, CsvResults, ResultsFormatError, TableResults, open_results

DEFAULT_BANDS_TEXT = "80,85,90,95,100"

TableOption = Annotated[
    str | None, typer.Option("--table", help="The QA DynamoDB table (the stack's table output); read by parallel Scan.")
]
InputOption = Annotated[
    Path | None,
    typer.Option(
        "--input",
        help="A results CSV: image,label,confidence,WorkerConfirmCount,WorkerDisconfirmCount (any order).",
        exists=True,
        dir_okay=False,
    ),
]
PolicyOption = Annotated[
    Policy,
    typer.Option(
        help="unanimous: confirmed if no disconfirm vote; majority: confirmed if more confirm than disconfirm votes."
    ),
]
EndpointOption = Annotated[str | None, typer.Option(help="AWS endpoint, e.g. an emulator's http://127.0.0.1:4566.")]
RegionOption = Annotated[str | None, typer.Option(help="AWS region (default: your AWS configuration).")]
SegmentsOption = Annotated[int, typer.Option(min=1, max=1000, help="Parallel Scan segments (threads).")]


def print_problems(console: Console, source: CsvResults | TableResults) -> None:
    if not source.skipped:
        return
    table = Table(title=f"{source.skipped} row(s) skipped", title_style="bold yellow")
    table.add_column("Where", justify="right")
    table.add_column("Reason")
    for problem in source.problems:
        table.add_row(problem.where, problem.reason)
    if source.skipped > len(source.problems):
        table.add_row("…", f"{source.skipped - len(source.problems)} more not listed")
    console.print(table)


def open_source(
    console: Console,
    table: str | None,
    input_path: Path | None,
    endpoint_url: str | None,
    region: str | None,
    segments: int,
) -> CsvResults | TableResults:
    try:
        return open_results(
            table=table, input_path=input_path, endpoint_url=endpoint_url, region=region, segments=segments
        )
    except ValueError as err:
        console.print(f"[bold red]error:[/bold red] {err}")
        raise typer.Exit(2) from err


@contextmanager
def exit_on_read_failure(console: Console) -> Iterator[None]:
    """Reading results fails in two ways: bad input (exit 2) or AWS (exit 3); say which, no traceback."""
    try:
        yield
    except ResultsFormatError as error:
        console.print(f"[bold red]error:[/bold red] {error}")
        raise typer.Exit(2) from error
    except (ClientError, BotoCoreError) as error:
        console.print(f"[bold red]AWS error:[/bold red] {error}")
        raise typer.Exit(3) from error


def write_output(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        out.write_text(text, encoding="utf-8")


def report(
    table: TableOption = None,
    input_path: InputOption = None,
    policy: PolicyOption = Policy.UNANIMOUS,
    bands: Annotated[
        str, typer.Option(help="Band edges, ascending: [80,85), [85,90), ... the last band closed [95,100].")
    ] = DEFAULT_BANDS_TEXT,
    max_fp_ratio: Annotated[
        float,
        typer.Option(min=0, help="A band passes if incorrect <= this × confirmed (0.1: precision >= 90.9%)."),
    ] = DEFAULT_MAX_FP_RATIO,
    fmt: Annotated[Format, typer.Option("--format", help="table | md | csv | json | html")] = Format.TABLE,
    out: Annotated[Path | None, typer.Option(help="Write the report here instead of standard output.")] = None,
    min_reviewed: Annotated[
        int, typer.Option(min=0, help="Warn about classes with fewer reviewed images than this.")
    ] = DEFAULT_MIN_REVIEWED,
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
    segments: SegmentsOption = DEFAULT_SEGMENTS,
) -> None:
    """Report accuracy per class × confidence band, per-class thresholds and calibration.

    Reads the QA table (--table) or a results CSV (--input). Images without any vote are
    "unreviewed": counted apart and left out of every other figure. Skipped rows and a summary
    go to standard error, so standard output holds only the report.
    """
    err = Console(stderr=True)
    try:
        edges = parse_bands(bands)
    except ValueError as error:
        err.print(f"[bold red]error:[/bold red] {error}")
        raise typer.Exit(2) from error
    source = open_source(err, table, input_path, endpoint_url, region, segments)
    started = time.perf_counter()
    with exit_on_read_failure(err):
        options = {"policy": policy, "bands": edges, "max_fp_ratio": str(max_fp_ratio), "min_reviewed": min_reviewed}
        if isinstance(source, CsvResults):  # columns straight from the file: the fast path
            result = build_report_from_columns(*source.columns(), **options)
        else:
            result = build_report(source, **options)
    elapsed = time.perf_counter() - started
    print_problems(err, source)

    if fmt is Format.TABLE and out is None:
        from bulkqa.renderers.table import print_report

        console = Console()
        if not console.is_terminal:
            console = Console(width=250)
        print_report(result, console)
    else:
        write_output(render(result, fmt), out)
    err.print(
        f"{source.rows_read} row(s) read in {elapsed:.2f} s: {result.totals.total} reviewed, "
        f"{result.totals.unreviewed} unreviewed, {source.skipped} skipped."
        + (f" Report written to {out}." if out else "")
    )
    if source.rows_read == 0 or result.images == 0:
        err.print("[bold red]no usable rows[/bold red]")
        raise typer.Exit(1)
