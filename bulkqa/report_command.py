"""``bulkqa report``: accuracy per class and confidence band, per-class thresholds, calibration."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bulkqa.analysis import (
    DEFAULT_MAX_FP_RATIO,
    DEFAULT_MIN_REVIEWED,
    Policy,
    build_report_from_columns,
    parse_bands,
)
from bulkqa.analysis.thresholds import fp_ratio
from bulkqa.aws import aws_errors, describe_aws_error  # botocore only once AWS is used
from bulkqa.renderers import Format, render
from bulkqa.results_source import DEFAULT_SEGMENTS, ProgressCallback, ResultsFormatError, open_results

DEFAULT_BANDS_TEXT = "80,85,90,95,100"

TableOption = Annotated[
    str | None,
    typer.Option(
        "--table",
        help="The QA DynamoDB table (the stack's table output): its pair items by parallel Scan, "
        "or with --round that round's pairs by Query.",
    ),
]
InputOption = Annotated[
    Path | None,
    typer.Option(
        "--input",
        help="A results CSV with the columns image, label, confidence, WorkerConfirmCount and "
        "WorkerDisconfirmCount (any order), or JSON lines with those fields (.jsonl).",
        exists=True,
        dir_okay=False,
    ),
]
RoundOption = Annotated[
    str | None,
    typer.Option(
        "--round",
        help="Only this round's pairs, with this round's confidences (needs --table).",
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


def print_problems(console: Console, source: Any) -> None:
    """The rows or items a source skipped, each with where it is and why (user text escaped)."""
    if not source.skipped:
        return
    table = Table(title=f"{source.skipped} row(s) skipped", title_style="bold yellow")
    table.add_column("Where", justify="right", overflow="fold")
    table.add_column("Reason", overflow="fold")
    for problem in source.problems:
        table.add_row(escape(problem.where), escape(problem.reason))
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
    *,
    round_name: str | None = None,
    from_export: str | None = None,
    progress: ProgressCallback | None = None,
) -> Any:
    """The source the options name; a wrong combination of options is exit 2, before any request."""
    try:
        return open_results(
            table=table,
            input_path=input_path,
            endpoint_url=endpoint_url,
            region=region,
            segments=segments,
            round_name=round_name,
            from_export=from_export,
            progress=progress,
        )
    except ValueError as err:
        console.print(f"[bold red]error:[/bold red] {escape(str(err))}")
        raise typer.Exit(2) from err


class ReadProgress:
    """Pages and items read so far, on one self-updating line of standard error.

    Only on a terminal (interactive use): in a pipe or a log it prints nothing, and the summary
    line at the end says how much was read. ``update`` is the sources' ``progress`` callback.
    """

    def __init__(self, console: Console, what: str = "Reading") -> None:
        self.console, self.what = console, what
        self.status: Any = None
        self.pages = self.items = 0

    def update(self, pages: int, items: int) -> None:
        self.pages, self.items = pages, items
        if self.status is not None:
            self.status.update(f"{self.what}: {pages:,} page(s), {items:,} item(s) so far")

    def __enter__(self) -> ReadProgress:
        if self.console.is_terminal:
            self.status = self.console.status(f"{self.what}…")
            self.status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.__exit__(*exc)
            self.status = None


@contextmanager
def exit_on_read_failure(console: Console) -> Iterator[None]:
    """Reading results fails in two ways: bad input (exit 2) or AWS (exit 3); say which, no traceback."""
    try:
        yield
    except ResultsFormatError as error:
        console.print(f"[bold red]error:[/bold red] {escape(str(error))}")
        raise typer.Exit(2) from error
    except aws_errors() as error:
        console.print(f"[bold red]AWS error:[/bold red] {escape(describe_aws_error(error))}")
        raise typer.Exit(3) from error
    except RuntimeError as error:  # DynamoDB kept keys unprocessed through every retry
        if type(error).__name__ != "UnprocessedError":
            raise
        console.print(f"[bold red]AWS error:[/bold red] {escape(str(error))}")
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
    round_name: RoundOption = None,
    from_export: Annotated[
        str | None,
        typer.Option(
            "--from-export",
            help="Read a DynamoDB export instead of scanning the table: its folder "
            "s3://BUCKET/PREFIX/AWSDynamoDB/ID/ (bulkqa export-table makes one).",
        ),
    ] = None,
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
    exclude_workers: Annotated[
        str | None,
        typer.Option(help="With --round: leave out these workers' votes (comma-separated worker ids)."),
    ] = None,
    min_worker_quality: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="With --round: leave out workers whose gold catch rate (Wilson 95% lower bound) is below "
            "this (0-1). See bulkqa workers.",
        ),
    ] = None,
) -> None:
    """Report accuracy per class × confidence band, per-class thresholds and calibration.

    Reads the QA table (--table; one round's pairs with --round), a results file (--input) or a
    DynamoDB export (--from-export). Images without any vote are "unreviewed": counted apart and
    left out of every other figure. Skipped rows and a summary go to standard error, so standard
    output holds only the report.
    """
    err = Console(stderr=True)
    try:
        edges = parse_bands(bands)
        fp_ratio(str(max_fp_ratio))
    except ValueError as error:
        err.print(f"[bold red]error:[/bold red] {escape(str(error))}")
        raise typer.Exit(2) from error
    options = {"policy": policy, "bands": edges, "max_fp_ratio": str(max_fp_ratio), "min_reviewed": min_reviewed}
    if (exclude_workers or min_worker_quality is not None) and round_name is None:
        err.print("[bold red]error:[/bold red] --exclude-workers and --min-worker-quality need --round")
        raise typer.Exit(2)
    round_report = None
    with ReadProgress(err) as progress:
        source = open_source(
            err,
            table,
            input_path,
            endpoint_url,
            region,
            segments,
            round_name=round_name,
            from_export=from_export,
            progress=progress.update,
        )
        started = time.perf_counter()
        with exit_on_read_failure(err):
            if round_name is not None:
                from bulkqa.round_extras import parse_worker_list, round_report_with_extras

                round_report = round_report_with_extras(
                    source,
                    options,
                    exclude=parse_worker_list(exclude_workers),
                    min_worker_quality=min_worker_quality,
                )
                result = round_report.report
            else:  # every source gives columns; files through the columnar fast path
                result = build_report_from_columns(*source.columns(), **options)
    elapsed = time.perf_counter() - started
    print_problems(err, source)

    if round_report is not None:
        write_round_report(round_report, fmt, out)
    elif fmt is Format.TABLE and out is None:
        from bulkqa.renderers.table import print_report

        console = Console()
        if not console.is_terminal:
            console = Console(width=250)
        print_report(result, console)
    else:
        write_output(render(result, fmt), out)
    pages = getattr(source, "pages", 0)
    err.print(
        f"{source.rows_read} row(s) read"
        + (f" ({pages:,} page(s))" if pages else "")
        + f" in {elapsed:.2f} s: {result.totals.total} reviewed, "
        f"{result.totals.unreviewed} unreviewed, {source.skipped} skipped."
        + (f" Report written to {escape(str(out))}." if out else "")
    )
    if source.rows_read == 0 or (round_report is None and result.images == 0):
        err.print("[bold red]no usable rows[/bold red]")
        raise typer.Exit(1)


def write_round_report(round_report: Any, fmt: Format, out: Path | None) -> None:
    """A round's report: the ordinary report plus what the round accepted, sampled and saved."""
    from bulkqa.renderers import render_round

    if fmt is Format.TABLE and out is None:
        from bulkqa.renderers.table import print_round_report

        print_round_report(round_report, Console())
    else:
        write_output(render_round(round_report, fmt), out)
