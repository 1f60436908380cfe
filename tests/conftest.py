"""Shared fixtures: AWS test credentials everywhere, and an in-process moto QA stack.

Unit tests (tests/unit) need none of this; integration tests (tests/integration) run the real
handlers and seeding code against moto in-process. The e2e suite (e2e/) has its own fixtures
that deploy the Pulumi component into a moto *server* or LocalStack.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from bulkqa.qa_table import create_qa_table
from e2e.moto_fidelity import serialise_dynamodb_writes
from handlers.aws_clients import make_client
from handlers.settings import ENV_BUCKET_NAME, ENV_TABLE_NAME

SHARED_CSV_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "aws-sample-csv"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REGION = "us-east-1"


@pytest.fixture(autouse=True)
def _aws_test_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never let a test reach a real account: fake keys, a fixed region, no profile."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    if "BULKQA_KEEP_ENDPOINT" not in os.environ:
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@dataclass
class QaStack:
    """The bucket and table a seed and the functions work on, with clients to inspect them."""

    s3: Any
    ddb: Any
    bucket: str
    table: str


def _atomic_dynamodb_writes(request: pytest.FixtureRequest) -> None:
    """DynamoDB's per-request atomicity, which moto's in-process backend lacks (see e2e.moto_fidelity)."""
    request.addfinalizer(serialise_dynamodb_writes())


@pytest.fixture
def qa_stack(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[QaStack]:
    """A QA bucket and table in moto (in-process), with the functions' environment set."""
    _atomic_dynamodb_writes(request)
    with mock_aws():
        # make_client's shared session: boto3.client() would load the service models again in every
        # test, because mock_aws() drops boto3's default session.
        s3 = make_client("s3", region=REGION)
        ddb = make_client("dynamodb", region=REGION)
        stack = QaStack(s3, ddb, "bulkqa-test-bucket", "bulkqa-test-table")
        s3.create_bucket(Bucket=stack.bucket)
        create_qa_table(ddb, stack.table)
        monkeypatch.setenv(ENV_BUCKET_NAME, stack.bucket)
        monkeypatch.setenv(ENV_TABLE_NAME, stack.table)
        yield stack


@pytest.fixture
def fixtures_dir() -> Path:
    """The project's synthetic inputs (see fixtures/README.md)."""
    return FIXTURES


@pytest.fixture
def shared_csv_dir() -> Path:
    """The original AWS sample CSVs, present in the development checkout and CI (not in a user's clone)."""
    if not SHARED_CSV_DIR.is_dir():
        pytest.skip(f"the original sample CSVs are not available at {SHARED_CSV_DIR}")
    return SHARED_CSV_DIR
