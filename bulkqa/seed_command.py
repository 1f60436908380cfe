"""``bulkqa seed``: the launch function's seeding, run from a laptop against any endpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bulkqa.aws import RequestCounter, clients
from handlers.csv_rows import CsvFormatError, decode_csv
from handlers.dynamo_batches import UnprocessedError
from handlers.image_sources import image_source
from handlers.seeding import SeedReport, SeedTarget, run_seed
from handlers.settings import DEFAULT_BATCH_SIZE, DEFAULT_CONFIDENCE_THRESHOLD, MAX_BATCH_SIZE

STAGE_NAMES = {
    "check": "Checking existing items",
    "images": "Sending images",
    "items": "Writing items",
    "batches": "Writing batch files",
}


def _print_report(console: Console, report: SeedReport, requests: RequestCounter) -> None:
    table = Table(title="Queued for QA", show_footer=True)
    table.add_column("Label", footer="Total")
    per_label = report.batches_per_label()
    table.add_column("Batches", justify="right", footer=str(len(report.batches)))
    table.add_column("Images", justify="right", footer=str(report.queued))
    skipped_total = sum(report.below_threshold.values())
    table.add_column("Below threshold", justify="right", footer=str(skipped_total))
    for label in dict.fromkeys([*per_label, *report.below_threshold]):
        batches, items = per_label.get(label, (0, 0))
        # Labels, paths and reasons come from the CSV: escape them, or "[/x]" in a label is a markup error.
        table.add_row(escape(label), str(batches), str(items), str(report.below_threshold.get(label, 0)))
    console.print(table)
    if report.problems:
        problems = Table(title=f"{len(report.problems)} row(s) skipped", title_style="bold yellow")
        problems.add_column("Line", justify="right")
        problems.add_column("Reason")
        for problem in report.problems:
            problems.add_row(str(problem.line), escape(problem.reason))
        console.print(problems)
    per_row = requests.total / report.rows_read if report.rows_read else 0.0
    console.print(
        f"Items written: {report.items_written}, already present (votes kept): {report.items_existing}, "
        f"images sent: {report.images_transferred}."
    )
    console.print(f"AWS requests: {requests.total} ({per_row:.3f} per row) {escape(str(requests.by_service))}")
    if report.manifest_uri:
        console.print(f"Manifest: [bold]{escape(report.manifest_uri)}[/bold]")


def seed(
    csv: Annotated[
        Path,
        typer.Option(
            "--csv",
            help="CSV of model labels: image_local_path (or image), label, confidence, in any column order.",
            exists=True,
            dir_okay=False,
        ),
    ],
    images: Annotated[
        str,
        typer.Option(
            help="Local folder of images (uploaded into the bucket) or s3://bucket/prefix (referenced in place)."
        ),
    ],
    bucket: Annotated[str, typer.Option(help="The QA bucket (the stack's bucket output).")],
    table: Annotated[str, typer.Option(help="The DynamoDB table (the stack's table output).")],
    batch_size: Annotated[
        int, typer.Option(min=1, max=MAX_BATCH_SIZE, help="Images per worker page.")
    ] = DEFAULT_BATCH_SIZE,
    threshold: Annotated[
        float,
        typer.Option(min=0, max=100, help="Rows with confidence below this are not queued (inclusive lower bound)."),
    ] = DEFAULT_CONFIDENCE_THRESHOLD,
    copy_images: Annotated[
        bool,
        typer.Option(
            "--copy-images", help="Copy images given as s3:// into the QA bucket instead of referencing them."
        ),
    ] = False,
    endpoint_url: Annotated[
        str | None, typer.Option(help="AWS endpoint, e.g. an emulator's http://127.0.0.1:4566.")
    ] = None,
    region: Annotated[str | None, typer.Option(help="AWS region (default: your AWS configuration).")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Parallel requests.")] = 16,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON, no tables.")] = False,
) -> None:
    """Load a CSV of model labels into the QA table, send the images, write batch files and manifest.

    Safe to run again: existing items (and their votes) are kept, the manifest comes out the same.
    Bad rows are listed with their line number and skipped; the exit status is non-zero only if
    nothing could be loaded or AWS failed.
    """
    console = Console(stderr=json_out)
    try:
        source = image_source(images, copy=copy_images)
        text = decode_csv(csv.read_bytes(), source=str(csv))
    except (OSError, ValueError) as err:  # CsvFormatError is a ValueError
        console.print(f"[bold red]error:[/bold red] {escape(str(err))}")
        raise typer.Exit(2) from err
    target = SeedTarget(bucket, table, source, batch_size, threshold)
    counter = RequestCounter()
    s3, ddb = clients("s3", "dynamodb", endpoint_url=endpoint_url, region=region, counter=counter)

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=json_out,
        disable=json_out,
    ) as progress:
        tasks: dict[str, int] = {}

        def on_progress(stage: str, advance: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(STAGE_NAMES.get(stage, stage), total=total)
            progress.update(tasks[stage], advance=advance, total=total)

        try:
            report = run_seed(text, target, s3=s3, ddb=ddb, source=str(csv), max_workers=workers, progress=on_progress)
        except CsvFormatError as err:
            console.print(f"[bold red]error:[/bold red] {escape(str(err))}")
            raise typer.Exit(2) from err
        except (ClientError, BotoCoreError, UnprocessedError) as err:
            console.print(f"[bold red]AWS error:[/bold red] {escape(str(err))}")
            raise typer.Exit(3) from err

    if json_out:
        print(json.dumps({**report.to_json(), "requests": counter.by_service}, indent=1, ensure_ascii=False))
    else:
        _print_report(console, report, counter)
    if report.queued == 0:
        console.print("[bold red]nothing could be loaded[/bold red]")
        raise typer.Exit(1)
