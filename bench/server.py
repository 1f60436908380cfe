"""An embedded moto server (``ThreadedMotoServer`` on 127.0.0.1, free port) in a child process.

The server runs in its own process so that it does not share the benchmark's GIL: on a small
machine the client's threads and the emulator would otherwise slow each other down, and the
client's parallelism would be measured against a server that cannot run while the client does.
The child stops when its stdin closes, so it never outlives the benchmark.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

from bulkqa.qa_table import create_qa_table

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}


@dataclass
class Emulator:
    endpoint: str

    def client(self, service: str) -> Any:
        return boto3.session.Session(**CREDENTIALS).client(service, endpoint_url=self.endpoint, region_name=REGION)

    def create_stack(self, bucket: str, table: str) -> None:
        self.client("s3").create_bucket(Bucket=bucket)
        create_qa_table(self.client("dynamodb"), table)

    def count_items(self, table: str, *, pairs_only: bool = False) -> int:
        """Items in the table; with ``pairs_only`` only (image, label) pair items (not round items)."""
        ddb, total, start = self.client("dynamodb"), 0, None
        only_pairs = {"FilterExpression": "NOT begins_with(s3_image_url, :hash)"} if pairs_only else {}
        if pairs_only:
            only_pairs["ExpressionAttributeValues"] = {":hash": {"S": "#"}}
        for _ in range(100_000):
            page = ddb.scan(
                TableName=table, Select="COUNT", **only_pairs, **({"ExclusiveStartKey": start} if start else {})
            )
            total += page["Count"]
            start = page.get("LastEvaluatedKey")
            if not start:
                return total
        raise RuntimeError("scan did not finish")

    def count_objects(self, bucket: str, prefix: str = "") -> int:
        pages = self.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sum(page.get("KeyCount", 0) for page in pages)


@contextmanager
def emulator() -> Iterator[Emulator]:
    """Start a fresh moto server in a child process; stop it on exit."""
    env = {**os.environ, **{k.upper(): v for k, v in CREDENTIALS.items()}, "AWS_DEFAULT_REGION": REGION}
    env.pop("AWS_ENDPOINT_URL", None)
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.server"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        if not line.isdigit():
            raise RuntimeError(f"moto server did not start: {line!r}")
        yield Emulator(f"http://127.0.0.1:{line}")
    finally:
        assert child.stdin is not None
        child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=10)


def _serve() -> None:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log per request
    from e2e.moto_fidelity import serialise_dynamodb_writes

    serialise_dynamodb_writes()  # DynamoDB's per-request atomicity (moto races under parallel writes)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    print(server.get_host_and_port()[1], flush=True)
    sys.stdin.read()  # until the parent closes the pipe (or dies)
    server.stop()


if __name__ == "__main__":
    _serve()
