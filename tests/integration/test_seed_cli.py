"""``bulkqa seed`` end to end: Typer's runner against a moto *server* on 127.0.0.1, via --endpoint-url."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from bulkqa.cli import app
from bulkqa.qa_table import create_qa_table
from handlers.aws_clients import make_client
from handlers.settings import MANIFEST_KEY
from tests.integration.support import (
    image_bytes,
    list_keys,
    queued_records,
    read_object,
    scan_items,
    write_images,
)

REGION = "eu-west-1"  # not the tests' default region: --region must be honoured
WIDE = {"COLUMNS": "220", "TERMINAL_WIDTH": "220", "NO_COLOR": "1"}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


class Stack:
    def __init__(self, endpoint: str) -> None:
        suffix = uuid.uuid4().hex[:10]
        self.endpoint = endpoint
        self.bucket, self.table = f"qa-{suffix}", f"qa-{suffix}"
        self.s3 = make_client("s3", endpoint_url=endpoint, region=REGION)
        self.ddb = make_client("dynamodb", endpoint_url=endpoint, region=REGION)
        self.s3.create_bucket(Bucket=self.bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        create_qa_table(self.ddb, self.table)

    def seed(self, csv: Path | str, images: Path | str, *extra: str) -> Any:
        args = ["seed", "--csv", str(csv), "--images", str(images), "--bucket", self.bucket, "--table", self.table]
        args += [*extra, "--endpoint-url", self.endpoint, "--region", REGION]
        return CliRunner().invoke(app, args, env=WIDE)


@pytest.fixture
def stack(endpoint: str) -> Stack:
    return Stack(endpoint)


def test_help_documents_every_option() -> None:
    result = CliRunner().invoke(app, ["seed", "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    for option in (
        "--csv",
        "--images",
        "--bucket",
        "--table",
        "--batch-size",
        "--threshold",
        "--copy-images",
        "--endpoint-url",
        "--region",
        "--workers",
        "--json",
    ):
        assert option in result.output
    assert "[default: 25]" in result.output and "[default: 80.0]" in result.output
    assert "s3://bucket/prefix" in result.output


def test_the_documented_contract_with_a_local_folder(stack: Stack, fixtures_dir: Path, tmp_path: Path) -> None:
    csv_file = fixtures_dir / "model_labels_reordered.csv"
    write_images(csv_file, tmp_path / "images")

    result = stack.seed(csv_file, tmp_path / "images", "--batch-size", "10", "--threshold", "90")

    assert result.exit_code == 0, result.output
    queued = queued_records(csv_file, 90)
    items = scan_items(stack.ddb, stack.table)
    assert set(items) == {(f"s3://{stack.bucket}/{r['image_local_path']}", r["label"]) for r in queued}
    manifest = read_object(stack.s3, stack.bucket, MANIFEST_KEY).decode()
    batch_keys = [
        json.loads(line)["source-ref"].removeprefix(f"s3://{stack.bucket}/") for line in manifest.splitlines()
    ]
    sizes = [len(json.loads(read_object(stack.s3, stack.bucket, key))) for key in batch_keys]
    assert sum(sizes) == len(queued) and max(sizes) <= 10
    image = queued[0]["image_local_path"]
    assert read_object(stack.s3, stack.bucket, image) == image_bytes(image)
    assert f"Manifest: s3://{stack.bucket}/{MANIFEST_KEY}" in result.output
    assert "Queued for QA" in result.output and "Crab" in result.output


def test_s3_images_in_place_with_a_json_report(stack: Stack, fixtures_dir: Path) -> None:
    csv_file = fixtures_dir / "model_labels.csv"
    result = stack.seed(csv_file, "s3://somebody-elses-images/caltech", "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["queued"] == len(queued_records(csv_file)) == 200
    assert report["images_transferred"] == 0
    assert report["requests"]["s3"] == report["batches"] + 1  # batch files and manifest, no image request
    assert sum(report["requests"].values()) / report["queued"] <= 0.1
    assert all(url.startswith("s3://somebody-elses-images/caltech/") for url, _ in scan_items(stack.ddb, stack.table))


def test_copy_images_from_s3(stack: Stack, fixtures_dir: Path) -> None:
    csv_file = fixtures_dir / "model_labels_bom.csv"
    for record in queued_records(csv_file):
        path = record["image_local_path"]
        stack.s3.put_object(Bucket=stack.bucket, Key=f"incoming/{path}", Body=image_bytes(path))

    result = stack.seed(csv_file, f"s3://{stack.bucket}/incoming", "--copy-images")

    assert result.exit_code == 0, result.output
    assert read_object(stack.s3, stack.bucket, "birds/image_0003, copy.jpg") == image_bytes(
        "birds/image_0003, copy.jpg"
    )
    labels = {label for _, label in scan_items(stack.ddb, stack.table)}
    assert labels == {"Sea lion", "sea-lion", "Éléphant de mer", "Pingüino", "鳥"}


def test_bad_rows_are_listed_and_the_exit_status_is_zero(stack: Stack, fixtures_dir: Path) -> None:
    result = stack.seed(fixtures_dir / "bad_rows.csv", "s3://images/x")

    assert result.exit_code == 0, result.output
    assert "12 row(s) skipped" in result.output
    for line, words in [(3, "missing field"), (5, "not a finite number"), (9, "duplicate of line 2"), (14, "control")]:
        assert any(row.split("│")[1:2] == [f" {line:>4} "] and words in row for row in result.output.splitlines()), (
            line,
            result.output,
        )
    assert len(scan_items(stack.ddb, stack.table)) == 3


def test_labels_with_markup_characters_are_printed_as_they_are(stack: Stack, tmp_path: Path) -> None:
    csv_file = tmp_path / "labels.csv"
    csv_file.write_text("image,label,confidence\r\na.jpg,[/oops] [bold]Dog,90\r\n", encoding="utf-8")
    result = stack.seed(csv_file, "s3://images/x")
    assert result.exit_code == 0, result.output
    assert "[/oops] [bold]Dog" in result.output


def test_nothing_loadable_exits_1(stack: Stack, tmp_path: Path) -> None:
    csv_file = tmp_path / "labels.csv"
    csv_file.write_text("image,label,confidence\r\na.jpg,,90\r\nb.jpg,Dog,high\r\nc.jpg,Dog,50\r\n", encoding="utf-8")
    result = stack.seed(csv_file, "s3://images/x")
    assert result.exit_code == 1, result.output
    assert "nothing could be loaded" in result.output
    assert list_keys(stack.s3, stack.bucket) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"image,label,confidence\r\na.jpg,Dog,90\r\nb.jpg,Chien\xe9,90\r\n", "is not UTF-8: byte 0xe9 at line 3"),
        (b"\xef\xbb\xbfpath,label,confidence\r\na.jpg,Dog,90\r\n", "lacks column(s) image_local_path (or image)"),
        (b"", "is empty: expected a header line"),
        (None, "does not exist"),
    ],
)
def test_unreadable_csv_exits_2(stack: Stack, tmp_path: Path, content: bytes | None, message: str) -> None:
    csv_file = tmp_path / "labels.csv"
    if content is not None:
        csv_file.write_bytes(content)
    result = stack.seed(csv_file, "s3://images/x")
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert list_keys(stack.s3, stack.bucket) == []


def test_bad_image_source_exits_2(stack: Stack, fixtures_dir: Path, tmp_path: Path) -> None:
    result = stack.seed(fixtures_dir / "model_labels_bom.csv", tmp_path / "no-such-folder")
    assert result.exit_code == 2, result.output
    assert "does not exist or is not a folder" in " ".join(result.output.split())


def test_aws_failure_exits_non_zero(stack: Stack, fixtures_dir: Path) -> None:
    stack.table = "no-such-table"
    result = stack.seed(fixtures_dir / "model_labels_bom.csv", "s3://images/x")
    assert result.exit_code == 3, result.output
    assert "AWS error" in result.output and "ResourceNotFoundException" in result.output
