"""``report --from-export``: a DynamoDB export (DYNAMODB_JSON) synthesised in moto's S3, in the
documented layout (manifest-summary.json, manifest-files.json, gzipped ``{"Item": ...}`` lines)."""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bulkqa.cli import app
from bulkqa.dynamodb_export import ExportFormatError, ExportResults, parse_export_uri, resolve_key
from handlers.round_store import round_pair_item
from handlers.settings import (
    ATTR_CONFIDENCE,
    ATTR_CONFIRM_COUNT,
    ATTR_DISCONFIRM_COUNT,
    ATTR_IMAGE_URL,
    ATTR_LABEL,
    ATTR_WORKER_VOTES,
    STATE_QUEUED,
)

RESULTS = Path(__file__).resolve().parents[2] / "fixtures" / "qa_results.csv"
EXPORT_ID = "01700000000000-a1b2c3d4"


def fixture_items() -> list[dict[str, Any]]:
    """The fixture's rows as the table holds them (no counts when nobody voted), plus other kinds."""
    items = []
    with RESULTS.open(newline="") as handle:
        for row in csv.DictReader(handle):
            item = {
                ATTR_IMAGE_URL: {"S": row["image"]},
                ATTR_LABEL: {"S": row["label"]},
                ATTR_CONFIDENCE: {"N": row["confidence"]},
            }
            c, d = int(row["WorkerConfirmCount"]), int(row["WorkerDisconfirmCount"])
            if c or d:
                item[ATTR_CONFIRM_COUNT] = {"N": str(c)}
                item[ATTR_DISCONFIRM_COUNT] = {"N": str(d)}
                votes = {f"w{i}": {"S": "confirm"} for i in range(c)} | {f"x{i}": {"S": "disconfirm"} for i in range(d)}
                item[ATTR_WORKER_VOTES] = {"M": votes}
            items.append(item)
    items.append(round_pair_item("r1", "s3://b/a.jpg", "Dog", 91.0, STATE_QUEUED, 1, 1))
    items.append(
        {
            ATTR_IMAGE_URL: {"S": "#rounds"},
            ATTR_LABEL: {"S": "r1"},
            "kind": {"S": "round"},
            "parts": {"L": []},
            "batch_size": {"N": "25"},
        }
    )
    return items


def write_export(
    s3: Any,
    bucket: str,
    items: list[dict[str, Any]],
    *,
    prefix: str = "exports",
    files: int = 3,
    extra_lines: dict[int, list[str]] | None = None,
    count_delta: int = 0,
    output_format: str = "DYNAMODB_JSON",
    keys_from_root: bool = True,
) -> str:
    """Write an export the way DynamoDB documents it; return the --from-export URI."""
    folder = f"{prefix}/AWSDynamoDB/{EXPORT_ID}/" if prefix else f"AWSDynamoDB/{EXPORT_ID}/"
    manifest_lines = []
    for n in range(files):
        chunk = items[n::files]
        lines = [json.dumps({"Item": item}) for item in chunk] + (extra_lines or {}).get(n, [])
        raw = gzip.compress(("\n".join(lines) + "\n" if lines else "").encode())
        key = f"{folder}data/file{n:02d}.json.gz"
        s3.put_object(Bucket=bucket, Key=key, Body=raw)
        manifest_lines.append(
            json.dumps(
                {
                    "itemCount": len(lines) + (count_delta if n == 0 else 0),
                    "md5Checksum": base64.b64encode(hashlib.md5(raw).digest()).decode(),
                    "etag": hashlib.md5(raw).hexdigest(),
                    "dataFileS3Key": key if keys_from_root else key[len(prefix) + 1 :],
                }
            )
        )
    files_key = folder + "manifest-files.json"
    s3.put_object(Bucket=bucket, Key=files_key, Body="\n".join(manifest_lines).encode())
    summary = {
        "version": "2020-06-30",
        "exportArn": f"arn:aws:dynamodb:us-east-1:123456789012:table/t/export/{EXPORT_ID}",
        "startTime": "2025-01-01T00:00:00.000Z",
        "endTime": "2025-01-01T00:05:00.000Z",
        "tableArn": "arn:aws:dynamodb:us-east-1:123456789012:table/t",
        "exportTime": "2025-01-01T00:00:00.000Z",
        "s3Bucket": bucket,
        "s3Prefix": prefix or None,
        "s3SseAlgorithm": "AES256",
        "manifestFilesS3Key": files_key,
        "billedSizeBytes": 0,
        "itemCount": len(items),
        "outputFormat": output_format,
    }
    s3.put_object(Bucket=bucket, Key=folder + "manifest-summary.json", Body=json.dumps(summary).encode())
    return f"s3://{bucket}/{folder}"


def report_json(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["report", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_report_from_export_equals_report_from_the_table(qa_stack: Any) -> None:
    items = fixture_items()
    for item in items:
        qa_stack.ddb.put_item(TableName=qa_stack.table, Item=item)
    uri = write_export(qa_stack.s3, qa_stack.bucket, items)
    from_export = report_json("--from-export", uri)
    assert from_export == report_json("--table", qa_stack.table) == report_json("--input", str(RESULTS))
    source = ExportResults(qa_stack.s3, *parse_export_uri(uri))
    source.columns()
    assert source.rows_read == 31 and source.fast_files == 3 and source.pages == 3 and source.items_seen == 33


@pytest.mark.parametrize(("prefix", "from_root"), [("exports/daily", True), ("exports", False), ("", True)])
def test_export_keys_with_and_without_the_prefix(qa_stack: Any, prefix: str, from_root: bool) -> None:
    uri = write_export(qa_stack.s3, qa_stack.bucket, fixture_items(), prefix=prefix, keys_from_root=from_root)
    assert report_json("--from-export", uri)["totals"]["total"] == 28


def test_unreadable_items_are_named_and_the_rest_is_read(qa_stack: Any) -> None:
    bad = {ATTR_IMAGE_URL: {"S": "s3://b/broken.jpg"}, ATTR_LABEL: {"S": "Dog"}, ATTR_CONFIDENCE: {"N": "abc"}}
    uri = write_export(
        qa_stack.s3, qa_stack.bucket, fixture_items(), extra_lines={1: [json.dumps({"Item": bad}), '{"NewImage": {}}']}
    )
    result = CliRunner().invoke(app, ["report", "--from-export", uri, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["totals"]["total"] == 28
    stderr = " ".join(result.stderr.split())
    assert "2 row(s) skipped" in stderr and "s3://b/broken.jpg" in stderr and "'abc'" in stderr


def test_a_truncated_data_file_is_an_error_not_a_smaller_report(qa_stack: Any) -> None:
    uri = write_export(qa_stack.s3, qa_stack.bucket, fixture_items(), count_delta=2)
    with pytest.raises(ExportFormatError, match=r"file00\.json\.gz holds 11 item"):
        ExportResults(qa_stack.s3, *parse_export_uri(uri)).columns()
    result = CliRunner().invoke(app, ["report", "--from-export", uri])
    assert result.exit_code == 2 and "manifest" in result.stderr


def test_bad_exports_and_uris_exit_2(qa_stack: Any) -> None:
    uri = write_export(qa_stack.s3, qa_stack.bucket, fixture_items(), output_format="ION")
    result = CliRunner().invoke(app, ["report", "--from-export", uri])
    assert result.exit_code == 2 and "ION" in result.stderr
    for wrong in ("s3://bucket/some/prefix/", "/tmp/x", "s3://b"):
        result = CliRunner().invoke(app, ["report", "--from-export", wrong])
        assert result.exit_code == 2 and "AWSDynamoDB" in " ".join(result.stderr.split()), wrong
    result = CliRunner().invoke(app, ["report", "--from-export", uri, "--table", "t"])
    assert result.exit_code == 2 and "exactly one" in result.stderr
    missing = f"s3://{qa_stack.bucket}/nothing/AWSDynamoDB/{EXPORT_ID}/"
    assert CliRunner().invoke(app, ["report", "--from-export", missing]).exit_code == 3


def test_resolve_key() -> None:
    folder = f"exports/AWSDynamoDB/{EXPORT_ID}/"
    assert resolve_key(folder, f"exports/AWSDynamoDB/{EXPORT_ID}/data/a.json.gz") == folder + "data/a.json.gz"
    assert resolve_key(folder, f"AWSDynamoDB/{EXPORT_ID}/data/a.json.gz") == folder + "data/a.json.gz"
    assert resolve_key(f"AWSDynamoDB/{EXPORT_ID}/", f"AWSDynamoDB/{EXPORT_ID}/x") == f"AWSDynamoDB/{EXPORT_ID}/x"
    assert parse_export_uri(f"s3://my-bucket/{folder}") == ("my-bucket", folder)
    assert parse_export_uri(f"s3://my-bucket/{folder[:-1]}") == ("my-bucket", folder)
