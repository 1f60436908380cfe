"""``bulkqa export-table``: a DynamoDB export of the QA table to S3, for ``report --from-export``.

Why: on a table of millions of items every ``report --table`` is a full parallel Scan, paid in read
capacity each time. ``ExportTableToPointInTime`` copies the table to S3 from its point-in-time
recovery backup (on in the prod stage) without touching the table's capacity; ``bulkqa report
--from-export`` then reads the export with the columnar engine. This command starts the export
(``DYNAMODB_JSON``, full) and waits for it, printing its progress to standard error and, when it
completes, the ``--from-export`` location on standard output, so a script can chain the two.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from bulkqa.report_command import EndpointOption, RegionOption

DEFAULT_POLL_SECONDS = 20.0
DEFAULT_TIMEOUT_MINUTES = 180
SUMMARY_SUFFIX = "manifest-summary.json"
_DESTINATION = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<prefix>.*))?$")


class ExportFailedError(RuntimeError):
    """The export ended FAILED, or did not end in time."""


@dataclass(frozen=True)
class Destination:
    bucket: str
    prefix: str  # "" or without a trailing slash


def parse_destination(uri: str) -> Destination:
    """``s3://bucket[/prefix]`` -> Destination; ``ValueError`` naming the option otherwise."""
    match = _DESTINATION.match(uri.strip())
    if not match:
        raise ValueError(f"--to {uri!r} is not an S3 location: expected s3://BUCKET or s3://BUCKET/PREFIX")
    return Destination(match.group("bucket"), (match.group("prefix") or "").strip("/"))


def from_export_uri(bucket: str, manifest_key: str | None, export_arn: str, prefix: str) -> str:
    """The folder ``report --from-export`` reads: the manifest's folder, else built from the ARN."""
    if manifest_key and manifest_key.endswith(SUMMARY_SUFFIX):
        return f"s3://{bucket}/{manifest_key[: -len(SUMMARY_SUFFIX)]}"
    export_id = export_arn.rsplit("/", 1)[-1]
    return f"s3://{bucket}/{prefix + '/' if prefix else ''}AWSDynamoDB/{export_id}/"


def start_export(ddb: Any, table: str, destination: Destination) -> dict[str, Any]:
    """Start a full DYNAMODB_JSON export of ``table``; its ExportDescription."""
    table_arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
    request: dict[str, Any] = {
        "TableArn": table_arn,
        "S3Bucket": destination.bucket,
        "ExportFormat": "DYNAMODB_JSON",
        "ExportType": "FULL_EXPORT",
    }
    if destination.prefix:
        request["S3Prefix"] = destination.prefix
    return ddb.export_table_to_point_in_time(**request)["ExportDescription"]


def wait_for_export(
    ddb: Any,
    export_arn: str,
    *,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    timeout_seconds: float = DEFAULT_TIMEOUT_MINUTES * 60,
    on_poll: Callable[[dict[str, Any], float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll DescribeExport until COMPLETED (its description) or FAILED / too long (ExportFailedError)."""
    started = clock()
    while True:
        description = ddb.describe_export(ExportArn=export_arn)["ExportDescription"]
        elapsed = clock() - started
        if on_poll is not None:
            on_poll(description, elapsed)
        status = description.get("ExportStatus")
        if status == "COMPLETED":
            return description
        if status == "FAILED":
            raise ExportFailedError(
                f"export {export_arn} failed: {description.get('FailureCode', '?')}: "
                f"{description.get('FailureMessage', 'no message')}"
            )
        if elapsed >= timeout_seconds:
            raise ExportFailedError(
                f"export {export_arn} is still {status} after {elapsed / 60:.0f} min; it goes on in AWS: "
                "run bulkqa export-table again later with --no-wait, or look in the DynamoDB console"
            )
        sleep(poll_seconds)


def _describe(description: dict[str, Any], elapsed: float) -> str:
    items = description.get("ItemCount")
    return f"Export {description.get('ExportStatus', '?')}: {elapsed / 60:.1f} min" + (
        f", {items:,} item(s)" if isinstance(items, int) else ""
    )


def export_table(
    table: Annotated[str, typer.Option("--table", help="The QA DynamoDB table (point-in-time recovery on).")],
    to: Annotated[str, typer.Option("--to", help="Where to write the export: s3://BUCKET[/PREFIX].")],
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until the export completes.")] = True,
    poll_seconds: Annotated[
        float, typer.Option(min=0.1, help="Seconds between two looks at the export's status.")
    ] = DEFAULT_POLL_SECONDS,
    timeout_minutes: Annotated[
        float, typer.Option(min=0.0, help="Stop waiting after this long (the export goes on).")
    ] = DEFAULT_TIMEOUT_MINUTES,
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
) -> None:
    """Export the QA table to S3 (DynamoDB's ExportTableToPointInTime) for report --from-export.

    Costs none of the table's read capacity. Prints the export's folder on standard output when it
    completes: pass it to bulkqa report --from-export. Exit 0 done, 2 bad option, 3 AWS error or
    failed export.
    """
    err = Console(stderr=True)
    try:
        destination = parse_destination(to)
    except ValueError as error:
        err.print(f"[bold red]error:[/bold red] {escape(str(error))}")
        raise typer.Exit(2) from error
    from bulkqa.aws import aws_errors, clients, describe_aws_error

    try:
        (ddb,) = clients("dynamodb", endpoint_url=endpoint_url, region=region)
        description = start_export(ddb, table, destination)
        arn = description["ExportArn"]
        err.print(f"Export started: {escape(arn)}")
        if wait:
            status = err.status("Export starting…") if err.is_terminal else None
            if status is not None:
                status.start()
            try:
                description = wait_for_export(
                    ddb,
                    arn,
                    poll_seconds=poll_seconds,
                    timeout_seconds=timeout_minutes * 60,
                    on_poll=lambda d, t: status.update(_describe(d, t)) if status is not None else None,
                )
            finally:
                if status is not None:
                    status.stop()
            err.print(_describe(description, 0).split(":")[0] + ".")
    except ExportFailedError as error:
        err.print(f"[bold red]error:[/bold red] {escape(str(error))}")
        raise typer.Exit(3) from error
    except aws_errors() as error:
        message = describe_aws_error(error)
        if "PointInTimeRecovery" in message:
            message += "\nhint: turn on point-in-time recovery for the table (the prod stage has it on)"
        err.print(f"[bold red]AWS error:[/bold red] {escape(message)}")
        raise typer.Exit(3) from error
    location = from_export_uri(destination.bucket, description.get("ExportManifest"), arn, destination.prefix)
    if wait:
        typer.echo(location)
        err.print(f"Next: bulkqa report --from-export {escape(location)}")
    else:
        typer.echo(arn)
        err.print(f"When it completes, read it with: bulkqa report --from-export {escape(location)}")
