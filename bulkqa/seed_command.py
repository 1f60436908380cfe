"""``bulkqa seed``: the launch function's seeding, run from a laptop against any endpoint.

Options are checked by ``handlers.seed_options`` (the launch function uses the same code), so a
bad value gets the same message here and there, and exit status 2 before any request.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from handlers.settings import DEFAULT_BATCH_SIZE, DEFAULT_CONFIDENCE_THRESHOLD

STAGE_NAMES = {"rows": "Seeding rows", "manifest": "Writing the manifest"}
MAX_PROBLEMS_SHOWN = 50
PLACEHOLDER_BUCKET = "your-qa-bucket"  # a dry run without --bucket still sizes its manifest lines


def _print_report(console: Console, report: Any, requests: Any | None) -> None:
    title = "Would be queued (dry run)" if report.dry_run else "Queued for QA"
    if report.unchanged:
        console.print(
            f"Round [bold]{escape(report.round)}[/bold] part {report.part} was already seeded with this input: "
            "nothing was written."
        )
    table = Table(title=title, show_footer=True)
    table.add_column("Label", footer="Total", overflow="fold")
    per_label = report.batches_per_label()
    table.add_column("Pages", justify="right", footer=str(report.batch_count))
    table.add_column("Images", justify="right", footer=str(report.queued))
    skipped_total = sum(report.below_threshold.values())
    table.add_column("Below thr.", justify="right", footer=str(skipped_total))
    for label in dict.fromkeys([*per_label, *report.below_threshold]):
        batches, items = per_label.get(label, (0, 0))
        # Labels, paths and reasons come from the CSV: escape them, or "[/x]" in a label is a markup error.
        table.add_row(escape(label), str(batches), str(items), str(report.below_threshold.get(label, 0)))
    if per_label or report.below_threshold:
        console.print(table)
    if report.problems:
        shown = report.problems[:MAX_PROBLEMS_SHOWN]
        problems = Table(title=f"{report.problems_total} row(s) skipped", title_style="bold yellow")
        problems.add_column("Line", justify="right", no_wrap=True)
        problems.add_column("Reason", overflow="fold")
        for problem in shown:
            problems.add_row(str(problem.line), escape(problem.reason))
        console.print(problems)
        if report.problems_total > len(shown):
            console.print(f"... and {report.problems_total - len(shown):,} more (--json lists up to 10,000).")
    console.print(f"Round: [bold]{escape(report.round)}[/bold] (part {report.part})")
    console.print(
        f"Rows: {report.rows_read:,} read, {report.queued:,} queued, {report.reused:,} reused verdicts, "
        f"{report.accepted:,} accepted by threshold, {report.sampled_out:,} sampled out"
        + (f", {report.already_in_round:,} already in the round" if report.already_in_round else "")
        + "."
    )
    if not report.dry_run and not report.unchanged:
        console.print(
            f"Items written: {report.items_written:,}, already present (votes kept): {report.items_existing:,}, "
            f"images sent: {report.images_transferred:,}."
        )
    for warning in report.warnings:
        console.print(f"[bold yellow]warning:[/bold yellow] {escape(warning)}")
    if requests is not None and not report.dry_run:
        per_row = requests.total / report.rows_read if report.rows_read else 0.0
        console.print(f"AWS requests: {requests.total} ({per_row:.3f} per row)")
    if report.manifest_uri:
        console.print(f"Manifest: [bold]{escape(report.manifest_uri)}[/bold]")


def _fail(console: Console, message: str, code: int = 2) -> typer.Exit:
    console.print(f"[bold red]error:[/bold red] {escape(message)}")
    return typer.Exit(code)


def gold_items_per_page(gold: Path | None, per_task: int | None, batch_size: int) -> int:
    """Gold items per page: 0 without ``--gold``, else ``--gold-per-task`` (default 2), checked."""
    from handlers.gold import DEFAULT_GOLD_PER_TASK
    from handlers.seed_options import SeedOptionError

    if gold is None:
        if per_task is not None:
            raise SeedOptionError("--gold-per-task needs --gold")
        return 0
    count = DEFAULT_GOLD_PER_TASK if per_task is None else per_task
    if count < 1 or count >= batch_size:
        raise SeedOptionError(
            f"--gold-per-task must be at least 1 and less than --batch-size ({batch_size}), got {count}"
        )
    return count


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
    bucket: Annotated[str | None, typer.Option(help="The QA bucket (the stack's bucket output).")] = None,
    table: Annotated[str | None, typer.Option(help="The DynamoDB table (the stack's table output).")] = None,
    round_name: Annotated[
        str | None,
        typer.Option(
            "--round",
            help="Name of the round (letters, digits, - and _). Default: a generated name, printed.",
        ),
    ] = None,
    extend: Annotated[
        bool, typer.Option("--extend", help="Add the rows not yet in the (existing) round as a new part.")
    ] = False,
    re_review: Annotated[
        bool, typer.Option("--re-review", help="Queue pairs again even if they already have enough votes.")
    ] = False,
    min_votes: Annotated[
        int | None,
        typer.Option(help="Votes that make a pair reviewed (reused, not queued). Default: --workers-per-object, or 1."),
    ] = None,
    workers_per_object: Annotated[
        int | None, typer.Option(help="Workers per task you will ask for (sets the --min-votes default).")
    ] = None,
    accept_above: Annotated[
        Path | None,
        typer.Option(
            help='Per-class thresholds: a `bulkqa report --format json` output, or {"Dog": 95, "Cat": null}. '
            "Rows at or above their class's threshold are accepted, not queued.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    sample: Annotated[
        int | None,
        typer.Option(help="Queue at most N rows per (label, confidence band); store the rest as sampled out."),
    ] = None,
    sample_seed: Annotated[int | None, typer.Option(help="Seed of --sample: same seed, same rows.")] = None,
    batch_size: Annotated[int, typer.Option(help="Images per worker page (1-100).")] = DEFAULT_BATCH_SIZE,
    threshold: Annotated[
        float, typer.Option(help="Rows with confidence below this are not queued (inclusive lower bound).")
    ] = DEFAULT_CONFIDENCE_THRESHOLD,
    delimiter: Annotated[
        str | None, typer.Option(help="CSV separator: a character or comma, semicolon, tab. Default: sniffed.")
    ] = None,
    confidence_scale: Annotated[
        int | None, typer.Option(help="1 if confidences are fractions 0-1, 100 if percentages (default).")
    ] = None,
    copy_images: Annotated[
        bool,
        typer.Option(
            "--copy-images", help="Copy images given as s3:// into the QA bucket instead of referencing them."
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Check the CSV and local images and print what would be queued; no AWS."),
    ] = False,
    endpoint_url: Annotated[
        str | None, typer.Option(help="AWS endpoint, e.g. an emulator's http://127.0.0.1:4566.")
    ] = None,
    region: Annotated[str | None, typer.Option(help="AWS region (default: your AWS configuration).")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Parallel requests.")] = 32,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON, no tables.")] = False,
    gold: Annotated[
        Path | None,
        typer.Option(
            help="Gold CSV (image_local_path,label,truth wrong|correct): known answers mixed into the "
            "pages to measure each worker.",
            dir_okay=False,
        ),
    ] = None,
    gold_per_task: Annotated[
        int | None, typer.Option(help="Gold items per page, of the page's class (default 2 with --gold).")
    ] = None,
) -> None:
    """Seed a QA round: load a CSV of model labels, send the images, write the round's manifest.

    Safe to run again: the same round with the same input changes nothing; existing items (and
    their votes) are never rewritten. Bad rows are listed with their line number and skipped. Exit
    status: 0 ok, 1 nothing could be loaded, 2 bad input or option, 3 AWS error.
    """
    from bulkqa.aws import aws_errors, describe_aws_error
    from handlers.csv_rows import CsvFormatError
    from handlers.dynamo_batches import UnprocessedError
    from handlers.image_sources import image_source
    from handlers.round_store import RoundConflictError
    from handlers.rounds import ManifestLineTooLongError, generate_round_name
    from handlers.seed_options import SeedOptionError, load_accept_above, seed_options
    from handlers.seeding import (
        CsvFile,
        ImagesNotFoundError,
        ManifestConflictError,
        RoundInputChangedError,
        SeedTarget,
        run_seed,
    )

    console = Console(stderr=json_out)
    try:
        accept = load_accept_above(accept_above.read_bytes(), source=str(accept_above)) if accept_above else None
        options = seed_options(
            {
                "round": round_name,
                "batch_size": batch_size,
                "threshold": threshold,
                "extend": extend,
                "re_review": re_review,
                "min_votes": min_votes,
                "workers_per_object": workers_per_object,
                "accept_above": accept,
                "sample": sample,
                "sample_seed": sample_seed,
                "copy_images": copy_images,
                "delimiter": delimiter,
                "confidence_scale": confidence_scale,
            }
        )
        if not dry_run and (not bucket or not table):
            raise SeedOptionError("--bucket and --table are required (or use --dry-run to check the input offline)")
        source = image_source(images, copy=options.copy_images)
        gold_per_page = gold_items_per_page(gold, gold_per_task, options.batch_size)
    except (OSError, ValueError) as err:  # SeedOptionError is a ValueError
        raise _fail(console, str(err)) from err
    generated = options.round is None
    if generated:
        options = dataclasses.replace(options, round=generate_round_name())
    if gold_per_page:  # a page never shows more than --batch-size images, gold included
        options = dataclasses.replace(options, batch_size=options.batch_size - gold_per_page)
    target = SeedTarget(
        bucket or PLACEHOLDER_BUCKET, table or "", source, options.batch_size, options.threshold, options=options
    )

    s3 = ddb = counter = None
    if not dry_run:
        from bulkqa.aws import RequestCounter, clients

        counter = RequestCounter()
        s3, ddb = clients(
            "s3", "dynamodb", endpoint_url=endpoint_url, region=region, counter=counter, bulk=("dynamodb",)
        )
    if generated and not dry_run:  # said first, so a seed that dies part-way can be resumed as the same round
        console.print(f"Round: [bold]{escape(str(options.round))}[/bold] (generated; --round names it)")
    gold_plan = None
    if gold is not None:
        from bulkqa.gold_input import build_gold_plan

        try:
            gold_plan = build_gold_plan(
                gold,
                source,
                bucket=target.bucket,
                per_task=gold_per_page,
                seed=str(options.round),
                s3=s3,
                warn=lambda message: console.print(f"[yellow]warning:[/yellow] {escape(message)}"),
            )
        except ValueError as err:
            raise _fail(console, str(err)) from err

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=json_out or dry_run,
    ) as progress:
        tasks: dict[str, Any] = {}

        def on_progress(stage: str, advance: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(STAGE_NAMES.get(stage, stage), total=total)
            progress.update(tasks[stage], advance=advance, total=total)

        try:
            report = run_seed(
                CsvFile(csv),
                target,
                s3=s3,
                ddb=ddb,
                source=str(csv),
                max_workers=workers,
                progress=on_progress,
                dry_run=dry_run,
                gold=gold_plan,
                verify_images=True,
            )
        except (
            CsvFormatError,
            ManifestLineTooLongError,
            RoundInputChangedError,
            ManifestConflictError,
            ImagesNotFoundError,
        ) as err:
            raise _fail(console, str(err)) from err
        except (UnprocessedError, RoundConflictError, *aws_errors()) as err:
            console.print(f"[bold red]AWS error:[/bold red] {escape(describe_aws_error(err))}")
            console.print(
                f"Round {escape(str(options.round))} is not finished: run the same command with "
                f"--round {escape(str(options.round))} to resume it (nothing is written twice)."
            )
            raise typer.Exit(getattr(err, "exit_code", 3)) from err

    if json_out:
        out = report.to_json()
        if counter is not None:
            out["requests"] = counter.by_service
        print(json.dumps(out, indent=1, ensure_ascii=False))
    else:
        _print_report(console, report, counter)
    if not report.unchanged and report.stored == 0 and report.already_in_round == 0:
        console.print("[bold red]nothing could be loaded[/bold red]")
        raise typer.Exit(1)

