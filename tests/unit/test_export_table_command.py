"""``bulkqa export-table``: ExportTableToPointInTime and the wait, against botocore's real
DynamoDB service model (Stubber checks every request's parameters and every response's shape)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from typer.testing import CliRunner

from bulkqa import export_table_command
from bulkqa.cli import app
from bulkqa.export_table_command import (
    Destination,
    ExportFailedError,
    from_export_uri,
    parse_destination,
    start_export,
    wait_for_export,
)

TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/qa-table"
EXPORT_ARN = f"{TABLE_ARN}/export/01700000000000-a1b2c3d4"
MANIFEST = "snapshots/AWSDynamoDB/01700000000000-a1b2c3d4/manifest-summary.json"


def client() -> Any:
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1")
    return session.client("dynamodb")


def description(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "ExportArn": EXPORT_ARN,
        "ExportStatus": status,
        "TableArn": TABLE_ARN,
        "S3Bucket": "exports-bucket",
        "S3Prefix": "snapshots",
        "ExportFormat": "DYNAMODB_JSON",
        "ExportType": "FULL_EXPORT",
        "StartTime": dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        **extra,
    }


def stub_start(stubber: Stubber) -> None:
    stubber.add_response(
        "describe_table",
        {"Table": {"TableName": "qa-table", "TableArn": TABLE_ARN, "TableStatus": "ACTIVE"}},
        {"TableName": "qa-table"},
    )
    stubber.add_response(
        "export_table_to_point_in_time",
        {"ExportDescription": description("IN_PROGRESS")},
        {
            "TableArn": TABLE_ARN,
            "S3Bucket": "exports-bucket",
            "S3Prefix": "snapshots",
            "ExportFormat": "DYNAMODB_JSON",
            "ExportType": "FULL_EXPORT",
        },
    )


def test_start_and_wait_until_completed() -> None:
    ddb = client()
    with Stubber(ddb) as stubber:
        stub_start(stubber)
        for status in ("IN_PROGRESS", "IN_PROGRESS"):
            stubber.add_response(
                "describe_export", {"ExportDescription": description(status)}, {"ExportArn": EXPORT_ARN}
            )
        stubber.add_response(
            "describe_export",
            {"ExportDescription": description("COMPLETED", ExportManifest=MANIFEST, ItemCount=1234)},
            {"ExportArn": EXPORT_ARN},
        )
        started = start_export(ddb, "qa-table", Destination("exports-bucket", "snapshots"))
        polls: list[str] = []
        sleeps: list[float] = []
        done = wait_for_export(
            ddb,
            started["ExportArn"],
            poll_seconds=7,
            on_poll=lambda d, t: polls.append(d["ExportStatus"]),
            sleep=sleeps.append,
        )
        stubber.assert_no_pending_responses()
    assert polls == ["IN_PROGRESS", "IN_PROGRESS", "COMPLETED"] and sleeps == [7, 7]
    assert from_export_uri("exports-bucket", done["ExportManifest"], EXPORT_ARN, "snapshots") == (
        "s3://exports-bucket/snapshots/AWSDynamoDB/01700000000000-a1b2c3d4/"
    )


def test_failed_and_timed_out_exports() -> None:
    ddb = client()
    with Stubber(ddb) as stubber:
        stubber.add_response(
            "describe_export",
            {"ExportDescription": description("FAILED", FailureCode="S3AccessDenied", FailureMessage="no access")},
            {"ExportArn": EXPORT_ARN},
        )
        with pytest.raises(ExportFailedError, match="S3AccessDenied: no access"):
            wait_for_export(ddb, EXPORT_ARN, sleep=lambda s: None)
        stubber.add_response(
            "describe_export", {"ExportDescription": description("IN_PROGRESS")}, {"ExportArn": EXPORT_ARN}
        )
        clock = iter([0.0, 3600.0])
        with pytest.raises(ExportFailedError, match="still IN_PROGRESS after 60 min"):
            wait_for_export(ddb, EXPORT_ARN, timeout_seconds=1800, sleep=lambda s: None, clock=lambda: next(clock))


def test_the_command_prints_the_location_for_report_from_export(monkeypatch: pytest.MonkeyPatch) -> None:
    ddb = client()
    stubber = Stubber(ddb)
    stub_start(stubber)
    stubber.add_response(
        "describe_export",
        {"ExportDescription": description("COMPLETED", ExportManifest=MANIFEST, ItemCount=9)},
        {"ExportArn": EXPORT_ARN},
    )
    monkeypatch.setattr("bulkqa.aws.clients", lambda *services, **kw: [ddb])
    with stubber:
        result = CliRunner().invoke(
            app,
            ["export-table", "--table", "qa-table", "--to", "s3://exports-bucket/snapshots/", "--poll-seconds", "0.1"],
        )
    assert result.exit_code == 0, result.output
    assert result.stdout == "s3://exports-bucket/snapshots/AWSDynamoDB/01700000000000-a1b2c3d4/\n"
    assert "report --from-export" in result.stderr


def test_pitr_off_is_exit_3_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    ddb = client()
    stubber = Stubber(ddb)
    stubber.add_response(
        "describe_table", {"Table": {"TableName": "qa-table", "TableArn": TABLE_ARN}}, {"TableName": "qa-table"}
    )
    stubber.add_client_error(
        "export_table_to_point_in_time", "PointInTimeRecoveryUnavailableException", "PITR is not enabled"
    )
    monkeypatch.setattr("bulkqa.aws.clients", lambda *services, **kw: [ddb])
    with stubber:
        result = CliRunner().invoke(app, ["export-table", "--table", "qa-table", "--to", "s3://exports-bucket"])
    assert result.exit_code == 3
    assert "point-in-time recovery" in " ".join(result.stderr.split())


def test_bad_destination_is_exit_2_before_any_request() -> None:
    with pytest.raises(ValueError, match="not an S3 location"):
        parse_destination("exports-bucket/x")
    assert parse_destination("s3://exports-bucket") == Destination("exports-bucket", "")
    result = CliRunner().invoke(app, ["export-table", "--table", "t", "--to", "/tmp/x"])
    assert result.exit_code == 2 and "s3://BUCKET" in result.stderr
    assert export_table_command.from_export_uri("b", None, EXPORT_ARN, "") == (
        "s3://b/AWSDynamoDB/01700000000000-a1b2c3d4/"
    )
