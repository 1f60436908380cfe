"""``bulkqa rounds list`` and ``bulkqa rounds adopt``: what the table's rounds hold, and moving a 0.1 table on.

``list`` is one Query of the ``#rounds`` partition, plus (for the votes column) a Query of each
round's 16 round-pair partitions and a BatchGet of its queued pairs' counts: it reads the rounds,
never the whole table (``--no-votes`` skips the second part). ``adopt`` registers the pair items of
a table written by release 0.1 (no rounds) as one round, so ``report --round`` and ``export
--round`` work on it; see docs/ARCHITECTURE.md ("Rounds").
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(help="QA rounds in the table: list them, adopt a table from release 0.1.", no_args_is_help=True)

TableOption = Annotated[str, typer.Option(help="The DynamoDB table (the stack's table output).")]
EndpointOption = Annotated[str | None, typer.Option(help="AWS endpoint, e.g. an emulator's http://127.0.0.1:4566.")]
RegionOption = Annotated[str | None, typer.Option(help="AWS region (default: your AWS configuration).")]


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


NUMBER_COLUMNS = ("Rows", "Queued", "Reused", "Accepted", "Sampled")


def _cells(row: dict[str, Any], with_votes: bool) -> list[str]:
    cells = [f"{row[key]:,}" for key in ("rows", "queued", "reused", "accepted", "sampled_out")]
    if with_votes:
        progress = row["progress"]
        cells += [f"{progress['votes']:,}", _percent(progress["reviewed"], progress["queued"])]
    return cells


def _title(row: dict[str, Any]) -> str:
    return escape(row["round"]) + (" (adopted)" if row["adopted"] else "") + f"\n[dim]{row['created'][:10]}[/dim]"


def rounds_table(rows: list[dict[str, Any]], *, with_votes: bool, width: int = 80) -> Table:
    """The rounds as a table within ``width`` columns: names fold, numbers are never cut.

    When the numbers alone would not fit, each round becomes a block of "name: value" lines.
    """
    headers = [*NUMBER_COLUMNS, *(("Votes", "Done") if with_votes else ())]
    widths = [max(len(h), *(len(_cells(r, with_votes)[i]) for r in rows)) for i, h in enumerate(headers)]
    if sum(widths) + 2 * len(widths) + 10 <= width:
        table = Table(title="QA rounds", title_justify="left", box=None, pad_edge=False, padding=(0, 1))
        table.add_column("Round", overflow="fold", min_width=8, ratio=1)
        for header, column_width in zip(headers, widths, strict=True):
            table.add_column(header, justify="right", no_wrap=True, min_width=column_width)
        for row in rows:
            table.add_row(_title(row), *_cells(row, with_votes))
        return table
    table = Table(title="QA rounds", title_justify="left", box=None, show_header=False, pad_edge=False)
    table.add_column("What", no_wrap=True)
    table.add_column("Value", overflow="fold")
    for row in rows:
        table.add_row(f"[bold]{_title(row)}[/bold]", "")
        for header, cell in zip(headers, _cells(row, with_votes), strict=True):
            table.add_row(f"  {header}", cell)
    return table


@app.command("list")
def list_command(
    table: TableOption,
    votes: Annotated[
        bool, typer.Option("--votes/--no-votes", help="Count the votes on each round's queued pairs.")
    ] = True,
    json_out: Annotated[bool, typer.Option("--json", help="Print the rounds as JSON.")] = False,
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
) -> None:
    """List the table's rounds: rows, queued, reused verdicts, auto-accepted, sampled out, votes so far.

    Done is the share of queued pairs that have as many votes as the round's --min-votes.
    """
    from bulkqa.aws import clients
    from handlers.round_store import list_rounds, round_progress

    (ddb,) = clients("dynamodb", endpoint_url=endpoint_url, region=region, interactive=True)
    rounds = list_rounds(ddb, table)
    rows = []
    with ThreadPoolExecutor(max_workers=16) as pool:
        for meta in rounds:
            row = meta.to_json()
            if votes:
                min_votes = min((int(p.options.get("min_votes", 1)) for p in meta.parts), default=1)
                row["progress"] = round_progress(ddb, table, meta, min_votes=min_votes, pool=pool).to_json()
            rows.append(row)
    if json_out:
        print(json.dumps({"table": table, "rounds": rows}, indent=1, ensure_ascii=False))
        return
    console = Console()
    if not rows:
        console.print(f"No rounds in {escape(table)} (a table from release 0.1? see `bulkqa rounds adopt`).")
        return
    console.print(rounds_table(rows, with_votes=votes, width=min(console.width, 120)))


@app.command("adopt")
def adopt_command(
    name: Annotated[str, typer.Argument(help="Name for the round the table's existing pairs become.")],
    table: TableOption,
    bucket: Annotated[
        str | None, typer.Option(help="The QA bucket: its release-0.1 manifest.json is recorded with the round.")
    ] = None,
    min_votes: Annotated[int, typer.Option(help="Votes that make a pair reviewed (state reused).")] = 1,
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
) -> None:
    """Register a release-0.1 table's pairs as one round, so round reports and exports work on it.

    Each pair keeps its votes; the round records the pair's stored confidence and marks it reused
    (enough votes) or queued. Refused if the round exists. Safe to run again after a failure.
    """
    from bulkqa.aws import clients
    from handlers.round_store import RoundConflictError, adopt_legacy_table, read_round
    from handlers.seed_options import SeedOptionError, seed_options
    from handlers.settings import MANIFEST_KEY

    console = Console()
    try:
        seed_options({"round": name, "min_votes": min_votes})
    except SeedOptionError as err:
        console.print(f"[bold red]error:[/bold red] {escape(str(err))}")
        raise typer.Exit(2) from err
    s3, ddb = clients("s3", "dynamodb", endpoint_url=endpoint_url, region=region, interactive=True)
    if read_round(ddb, table, name) is not None:
        console.print(f"[bold red]error:[/bold red] round {escape(repr(name))} already exists in {escape(table)}")
        raise typer.Exit(2)
    manifest_uri, batches = None, 0
    if bucket:
        try:
            body = s3.get_object(Bucket=bucket, Key=MANIFEST_KEY)["Body"].read()
        except s3.exceptions.NoSuchKey:
            body = None
        if body is not None:
            manifest_uri = f"s3://{bucket}/{MANIFEST_KEY}"
            batches = sum(1 for line in body.splitlines() if line.strip())
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            meta = adopt_legacy_table(
                ddb,
                table,
                name,
                min_votes=min_votes,
                pool=pool,
                created=created,
                manifest_uri=manifest_uri,
                batches=batches,
            )
    except RoundConflictError as err:
        console.print(f"[bold red]error:[/bold red] {escape(str(err))}")
        raise typer.Exit(2) from err
    part = meta.parts[0]
    console.print(
        f"Adopted {part.rows:,} pair(s) as round [bold]{escape(name)}[/bold]: {part.reused:,} reviewed "
        f"(reused), {part.queued:,} not yet (queued)."
    )
    console.print(f"Next: bulkqa report --table {escape(table)} --round {escape(name)}")
