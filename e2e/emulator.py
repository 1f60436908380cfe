"""The AWS emulator the e2e suite and the demo deploy into.

- ``moto`` (default): moto's server mode in a thread of this process, on a free 127.0.0.1 port.
- ``localstack``: a LocalStack container (started by pytest-docker from ``e2e/docker-compose.yml``),
  or one already running at ``BULKQA_E2E_ENDPOINT``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import multiprocessing
import os
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

BACKENDS = ("moto", "localstack")
ENV_BACKEND = "BULKQA_E2E_BACKEND"
ENV_ENDPOINT = "BULKQA_E2E_ENDPOINT"
REGION = "us-east-1"
ACCESS_KEY = "test"
SECRET_KEY = "test"
CLIENT_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=120)


@dataclass(frozen=True)
class Emulator:
    """Where the emulator listens, and which one it is."""

    backend: str
    endpoint_url: str
    region: str = REGION

    def client(self, service: str) -> Any:
        """A client of ``service`` on the emulator (cached: clients are thread-safe and slow to make)."""
        return _client(self.endpoint_url, self.region, service)

    def environment(self) -> dict[str, str]:
        """Variables that point any AWS SDK (and the ``bulkqa`` command) at the emulator."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }


@functools.cache
def _session(region: str) -> boto3.session.Session:
    return boto3.session.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=region)


_client_lock = threading.Lock()


@functools.cache
def _client(endpoint_url: str, region: str, service: str) -> Any:
    with _client_lock:  # a boto3 session is not thread-safe; its clients are
        return _session(region).client(service, endpoint_url=endpoint_url, config=CLIENT_CONFIG)


def _serve_moto(connection: Any) -> None:
    """In the child process: moto's threaded server on a free port; stop when told (or orphaned)."""
    from moto.server import ThreadedMotoServer

    from e2e.moto_fidelity import serialise_dynamodb_writes

    serialise_dynamodb_writes()  # DynamoDB's per-request atomicity, which moto lacks
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    connection.send(server.get_host_and_port())
    with contextlib.suppress(EOFError):
        connection.recv()
    server.stop()


@contextlib.contextmanager
def moto_server(start_timeout: float = 60.0) -> Iterator[Emulator]:
    """moto's server (``ThreadedMotoServer``) on a free port of 127.0.0.1, stopped afterwards.

    It runs in a child process of its own: moto keeps its state per process, and an in-process
    ``mock_aws`` (the integration tests use one) resets that state when it stops.
    """
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=_serve_moto, args=(theirs,), name="moto-server", daemon=True)
    process.start()
    try:
        if not ours.poll(start_timeout):
            raise TimeoutError(f"moto's server did not start within {start_timeout:.0f}s")
        host, port = ours.recv()
        yield Emulator("moto", f"http://{host}:{port}")
    finally:
        with contextlib.suppress(OSError):
            ours.send("stop")
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
            process.join()


def localstack_ready(endpoint_url: str) -> bool:
    """LocalStack's health endpoint answers and the services the stack uses are up."""
    try:
        with urllib.request.urlopen(f"{endpoint_url}/_localstack/health", timeout=2) as response:
            services = json.load(response).get("services", {})
    except (OSError, ValueError):
        return False
    needed = ("s3", "dynamodb", "lambda", "iam", "logs")
    return all(services.get(name) in {"available", "running"} for name in needed)


def docker_available() -> tuple[bool, str]:
    """Whether a Docker engine answers, and if not, why (for the skip reason)."""
    import shutil
    import subprocess

    if shutil.which("docker") is None:
        return False, "the docker command is not installed"
    try:
        result = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, f"`docker info` failed: {err}"
    if result.returncode != 0:
        reason = (result.stderr or result.stdout).strip().splitlines()
        return False, f"no Docker engine answers (`docker info`: {reason[-1] if reason else result.returncode})"
    return True, ""


def selected_backend(option: str | None = None) -> str:
    backend = option or os.environ.get(ENV_BACKEND) or "moto"
    if backend not in BACKENDS:
        raise ValueError(f"unknown e2e backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    return backend
