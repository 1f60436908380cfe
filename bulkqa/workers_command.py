"""``bulkqa workers --round R``: how careful each worker was, measured on the gold items.

Reads the round's worker-page records (one Query of ``#round#<round>#workers``, paginated; no
Scan) that the post-labeling function writes per worker and page, and prints one row per worker:
pages, wrong gold caught with the catch rate's Wilson 95% interval, right gold kept, agreement
with the other workers, and the rubber-stamping flag. See docs/report.md for what the figures
mean and their limits.
"""

from __future__ import annotations

import enum
import io
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bulkqa.analysis.worker_quality import WorkerQuality, worker_quality


class WorkersFormat(enum.StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


CSV_COLUMNS = (
    "worker",
    "pages",
    "images_answered",
    "gold_seen",
    "wrong_gold_seen",
    "wrong_gold_caught",
    "catch_rate",
    "catch_rate_low95",
    "catch_rate_high95",
    "right_gold_seen",
    "right_gold_kept",
    "agreement",
    "agreement_compared",
    "rubber_stamped_pages",
    "likely_rubber_stamping",
)


def read_worker_pages(ddb: Any, table: str, round_name: str) -> tuple[list[Any], list[str]]:
    """The round's worker-page records, and a problem line for each record that cannot be read."""
    from handlers.rounds import worker_pages_partition
    from handlers.settings import ATTR_IMAGE_URL
    from handlers.worker_pages import WorkerPage

    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "#pk = :pk",
        "ExpressionAttributeNames": {"#pk": ATTR_IMAGE_URL},
        "ExpressionAttributeValues": {":pk": {"S": worker_pages_partition(round_name)}},
        "ConsistentRead": True,
    }
    pages, problems = [], []
    while True:
        response = ddb.query(**request)
        for item in response.get("Items", []):
            try:
                pages.append(WorkerPage.from_item(item))
            except ValueError as err:
                problems.append(str(err))
        if "LastEvaluatedKey" not in response:
            return pages, problems
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _interval(quality: WorkerQuality) -> str:
    interval = quality.catch_interval
    return "-" if interval is None else f"{100 * interval[0]:.0f}-{100 * interval[1]:.0f}%"


def render_table(qualities: list[WorkerQuality], round_name: str, console: Console) -> None:
    """Designed for 80 columns: the worker id folds, numbers never do."""
    table = Table(
        title=f"Workers of round {escape(round_name)}",
        title_justify="left",
        expand=False,
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
    )
    table.add_column("Worker", overflow="fold", min_width=10)
    table.add_column("Pages", justify="right", no_wrap=True)
    table.add_column("Wrong gold\ncaught", justify="right", no_wrap=True)
    table.add_column("Catch\n(95% CI)", justify="right", no_wrap=True)
    table.add_column("Right\nkept", justify="right", no_wrap=True)
    table.add_column("Agree", justify="right", no_wrap=True)
    table.add_column("Flag", no_wrap=True)
    for quality in qualities:
        flag = "[bold red]stamp?[/bold red]" if quality.rubber_stamp_flag else ""
        table.add_row(
            escape(quality.worker),
            str(quality.pages),
            f"{quality.wrong_gold_caught}/{quality.wrong_gold_seen}",
            f"{_percent(quality.catch_rate)}\n{_interval(quality)}",
            f"{quality.right_gold_kept}/{quality.right_gold_seen}",
            _percent(quality.agreement),
            flag,
        )
    console.print(table)
    console.print(
        "Catch: wrong gold items unticked / wrong gold items seen. stamp? (likely rubber-stamping): most "
        "pages with a wrong gold item were submitted with nothing unticked.",
        soft_wrap=False,
    )


def render_csv(qualities: list[WorkerQuality]) -> str:
    from bulkqa.csv_safety import safe_writer

    buffer = io.StringIO(newline="")
    writer = safe_writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for quality in qualities:
        data = quality.to_json()
        interval = data["catch_rate_wilson95"] or [None, None]
        row = {**data, "catch_rate_low95": interval[0], "catch_rate_high95": interval[1]}
        writer.writerow(["" if row[column] is None else row[column] for column in CSV_COLUMNS])
    return buffer.getvalue()


def workers(
    round_name: Annotated[str, typer.Option("--round", help="The round whose workers to measure.")],
    table: Annotated[str | None, typer.Option(help="QA table (default: table_name in --outputs).")] = None,
    outputs_file: Annotated[
        Path | None,
        typer.Option("--outputs", help="JSON of `pulumi stack output --json`.", exists=True, dir_okay=False),
    ] = None,
    fmt: Annotated[WorkersFormat, typer.Option("--format", help="table | json | csv")] = WorkersFormat.TABLE,
    endpoint_url: Annotated[str | None, typer.Option(help="AWS endpoint, e.g. an emulator's URL.")] = None,
    region: Annotated[str | None, typer.Option(help="AWS region (default: outputs, then your AWS config).")] = None,
) -> None:
    """Per-worker quality on the gold items: catch rate, agreement, rubber-stamping."""
    from bulkqa.aws import aws_errors, clients, describe_aws_error, region_from_outputs
    from handlers.rounds import RoundNameError, validate_round_name

    console = Console(stderr=True)
    try:
        validate_round_name(round_name)
        outputs: dict[str, Any] = {}
        if outputs_file is not None:
            outputs = json.loads(outputs_file.read_text(encoding="utf-8"))
            if not isinstance(outputs, dict):
                raise ValueError(f"{outputs_file}: expected the JSON object of `pulumi stack output --json`")
        table_name = table or outputs.get("table_name")
        if not table_name:
            raise ValueError("give --table or --outputs with table_name")
    except (OSError, ValueError, RoundNameError) as err:
        console.print(f"[bold red]error:[/bold red] {escape(str(err))}")
        raise typer.Exit(2) from err
    try:
        (ddb,) = clients(
            "dynamodb", endpoint_url=endpoint_url, region=region or region_from_outputs(outputs), interactive=True
        )
        pages, problems = read_worker_pages(ddb, str(table_name), round_name)
    except aws_errors() as err:
        console.print(f"[bold red]AWS error:[/bold red] {escape(describe_aws_error(err))}")
        raise typer.Exit(getattr(err, "exit_code", 3)) from err
    for problem in problems:
        console.print(f"[yellow]warning:[/yellow] {escape(problem)}")
    qualities = worker_quality(pages)
    if fmt is WorkersFormat.JSON:
        print(json.dumps({"round": round_name, "workers": [q.to_json() for q in qualities]}, indent=2))
    elif fmt is WorkersFormat.CSV:
        sys.stdout.write(render_csv(qualities))
    elif not qualities:
        console.print(f"No worker has answered a page of round {escape(round_name)} yet.")
    else:
        render_table(qualities, round_name, Console())
