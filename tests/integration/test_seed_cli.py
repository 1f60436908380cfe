"""``bulkqa seed`` end to end: Typer's runner against a moto *server* on 127.0.0.1, via --endpoint-url."""

from __future__ import annotations

import contextlib
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
from handlers.round_store import manifest_documents
from handlers.rounds import manifest_key
from tests.integration.support import (
    csv_records,
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


def source_images(stack: Stack, csv_file: Path, bucket: str, prefix: str) -> str:
    """Put every image the CSV names under s3://bucket/prefix (the seed checks a sample exists)."""
    with contextlib.suppress(stack.s3.exceptions.BucketAlreadyOwnedByYou):
        stack.s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    for record in csv_records(csv_file):
        path = record["image_local_path"]
        stack.s3.put_object(Bucket=bucket, Key=f"{prefix}/{path}", Body=image_bytes(path))
    return f"s3://{bucket}/{prefix}"


def pair_keys(stack: Stack) -> list[tuple[str, str]]:
    return [k for k in scan_items(stack.ddb, stack.table) if not k[0].startswith("#")]


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
        "--round",
        "--extend",
        "--re-review",
        "--min-votes",
        "--workers-per-object",
        "--accept-above",
        "--sample",
        "--sample-seed",
        "--dry-run",
    ):
        assert option in result.output
    assert "[default: 25]" in result.output and "[default: 80.0]" in result.output
    assert "s3://bucket/prefix" in result.output


def test_the_documented_contract_with_a_local_folder(stack: Stack, fixtures_dir: Path, tmp_path: Path) -> None:
    csv_file = fixtures_dir / "model_labels_reordered.csv"
    write_images(csv_file, tmp_path / "images")

    args = ("--batch-size", "10", "--threshold", "90", "--round", "shellfish-1")
    result = stack.seed(csv_file, tmp_path / "images", *args)

    assert result.exit_code == 0, result.output
    queued = queued_records(csv_file, 90)
    items = {k: v for k, v in scan_items(stack.ddb, stack.table).items() if not k[0].startswith("#")}
    assert {label for _, label in items} == {r["label"] for r in queued} and len(items) == len(queued)
    uri = f"s3://{stack.bucket}/{manifest_key('shellfish-1', 1)}"
    sizes = [len(d.items) for d in manifest_documents(stack.s3, uri)]
    assert sum(sizes) == len(queued) and max(sizes) <= 10
    image = queued[0]["image_local_path"]
    image_url = next(url for url, _ in items if url.endswith("/" + image))
    assert read_object(stack.s3, stack.bucket, image_url.split("/", 3)[3]) == image_bytes(image)
    assert f"Manifest: {uri}" in result.output and "Round: shellfish-1" in result.output
    assert "Queued for QA" in result.output and "Crab" in result.output

    again = stack.seed(csv_file, tmp_path / "images", *args)
    assert again.exit_code == 0, again.output
    assert "already seeded with this input: nothing was written" in " ".join(again.output.split())
    other = stack.seed(csv_file, tmp_path / "images", *args[2:], "--batch-size", "5")
    assert other.exit_code == 2, other.output
    assert "round 'shellfish-1' was already seeded with another input" in " ".join(other.output.split())


def test_s3_images_in_place_with_a_json_report(stack: Stack, fixtures_dir: Path) -> None:
    csv_file = fixtures_dir / "model_labels.csv"
    images = source_images(stack, csv_file, "somebody-elses-images", "caltech")
    result = stack.seed(csv_file, images, "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["queued"] == len(queued_records(csv_file)) == 200
    assert report["images_transferred"] == 0
    assert report["round"].startswith("r-") and report["part"] == 1  # a generated name, in the JSON
    assert report["manifest_uri"] == f"s3://{stack.bucket}/{manifest_key(report['round'], 1)}"
    # The image check (a listing, a few HeadObjects) and the manifest part: no request per image.
    assert report["requests"]["s3"] <= 2 + 10
    assert sum(report["requests"].values()) / report["queued"] <= 0.15
    pairs = [url for url, _ in scan_items(stack.ddb, stack.table) if not url.startswith("#")]
    assert len(pairs) == 200 and all(url.startswith("s3://somebody-elses-images/caltech/") for url in pairs)


def test_copy_images_from_s3(stack: Stack, fixtures_dir: Path) -> None:
    csv_file = fixtures_dir / "model_labels_bom.csv"
    for record in queued_records(csv_file):
        path = record["image_local_path"]
        stack.s3.put_object(Bucket=stack.bucket, Key=f"incoming/{path}", Body=image_bytes(path))

    result = stack.seed(csv_file, f"s3://{stack.bucket}/incoming", "--copy-images")

    assert result.exit_code == 0, result.output
    copied = next(url for url, _ in pair_keys(stack) if url.endswith("/birds/image_0003, copy.jpg"))
    assert copied.startswith(f"s3://{stack.bucket}/")
    assert read_object(stack.s3, stack.bucket, copied.split("/", 3)[3]) == image_bytes("birds/image_0003, copy.jpg")
    labels = {label for _, label in pair_keys(stack)}
    assert labels == {"Sea lion", "sea-lion", "Éléphant de mer", "Pingüino", "鳥"}


def test_bad_rows_are_listed_and_the_exit_status_is_zero(stack: Stack, fixtures_dir: Path) -> None:
    result = stack.seed(fixtures_dir / "bad_rows.csv", source_images(stack, fixtures_dir / "bad_rows.csv", "imgs", "x"))

    assert result.exit_code == 0, result.output
    assert "12 row(s) skipped" in result.output
    for line, words in [(3, "missing field"), (5, "not a finite number"), (9, "duplicate of line 2"), (14, "control")]:
        assert any(row.split("│")[1:2] == [f" {line:>4} "] and words in row for row in result.output.splitlines()), (
            line,
            result.output,
        )
    assert len(pair_keys(stack)) == 3


def test_labels_with_markup_characters_are_printed_as_they_are(stack: Stack, tmp_path: Path) -> None:
    csv_file = tmp_path / "labels.csv"
    csv_file.write_text("image,label,confidence\r\na.jpg,[/oops] [bold]Dog,90\r\n", encoding="utf-8")
    result = stack.seed(csv_file, source_images(stack, csv_file, "imgs", "x"))
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
    images = source_images(stack, fixtures_dir / "model_labels_bom.csv", "imgs", "x")
    stack.table = "no-such-table"
    result = stack.seed(fixtures_dir / "model_labels_bom.csv", images, "--round", "r1")
    assert result.exit_code == 3, result.output
    assert "AWS error" in result.output and "ResourceNotFoundException" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--batch-size", "0"), "batch_size (--batch-size) must be a whole number from 1 to 100, got 0"),
        (("--batch-size", "101"), "batch_size (--batch-size) must be a whole number from 1 to 100, got 101"),
        (("--threshold", "nan"), "threshold (--threshold) must be a number from 0 to 100, got nan"),
        (("--threshold", "-1"), "threshold (--threshold) must be a number from 0 to 100, got -1.0"),
        (("--threshold", "inf"), "threshold (--threshold) must be a number from 0 to 100, got inf"),
        (("--round", "a/b"), "round name 'a/b' is not valid"),
        (("--sample-seed", "3"), "sample_seed (--sample-seed) is only meaningful with sample (--sample)"),
        (("--sample", "0"), "sample (--sample) must be a whole number from 1"),
        (("--min-votes", "0"), "min_votes (--min-votes) must be a whole number from 1"),
    ],
)
def test_bad_options_exit_2_before_any_request(stack: Stack, fixtures_dir: Path, args, message) -> None:
    result = stack.seed(fixtures_dir / "model_labels_bom.csv", "s3://images/x", *args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert list_keys(stack.s3, stack.bucket) == []


def test_accept_above_file_errors_exit_2(stack: Stack, fixtures_dir: Path, tmp_path: Path) -> None:
    thresholds = tmp_path / "t.json"
    thresholds.write_text('{"Dog": "95"}', encoding="utf-8")
    result = stack.seed(fixtures_dir / "model_labels.csv", "s3://images/x", "--accept-above", str(thresholds))
    assert result.exit_code == 2, result.output
    assert "threshold of 'Dog' must be a number from 0 to 100 or null, got '95'" in " ".join(result.output.split())


def test_accept_above_from_a_report_and_sample(stack: Stack, fixtures_dir: Path, tmp_path: Path) -> None:
    report = {
        "policy": "unanimous",
        "bands": [[80, 85], [85, 90], [90, 95], [95, 100]],
        "classes": [
            {"label": "Dog", "threshold": 95, "threshold_status": "ok"},
            {"label": "Cat", "threshold": 100, "threshold_status": "never"},
            {"label": "Sea lion", "threshold": None, "threshold_status": "no_data"},
        ],
    }
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    csv_file = fixtures_dir / "model_labels.csv"
    args = ("--accept-above", str(path), "--sample", "2", "--sample-seed", "5", "--json")
    result = stack.seed(csv_file, source_images(stack, csv_file, "imgs", "x"), *args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    dogs = [r for r in queued_records(csv_file) if r["label"] == "Dog" and float(r["confidence"]) >= 95]
    assert out["accepted"] == len(dogs)
    assert out["queued"] + out["sampled_out"] + out["accepted"] == 200 and out["queued"] <= 2 * 4 * 3


def test_dry_run_needs_no_aws(fixtures_dir: Path, tmp_path: Path) -> None:
    csv_file = fixtures_dir / "model_labels_reordered.csv"
    write_images(csv_file, tmp_path / "images")
    args = ["seed", "--csv", str(csv_file), "--images", str(tmp_path / "images"), "--dry-run", "--round", "try"]
    result = CliRunner().invoke(app, [*args, "--endpoint-url", "http://127.0.0.1:9"], env=WIDE)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Would be queued (dry run)" in text and "Round: try" in text
    assert "reused verdicts" in text and "not known" in text
    assert f"{len(queued_records(csv_file))} queued" in text
