"""The AWS emulator the e2e suite and the demo deploy into.

- ``moto`` (default): moto's server mode in a child process, on a free 127.0.0.1 port, with IAM
  enforced (``e2e/moto_iam.py``): every request is authenticated and authorized by the caller's
  policies. The harness deploys with an all-powerful user's keys (:attr:`Emulator.access_key`);
  functions and the Ground Truth simulator run under their own roles (:meth:`Emulator.assume`).
  ``BULKQA_E2E_IAM=0`` turns enforcement off (to tell an IAM failure from a logic failure).
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
ENV_IAM = "BULKQA_E2E_IAM"
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
    access_key: str = ACCESS_KEY  # the harness's keys: on moto with IAM on, a user allowed everything
    secret_key: str = SECRET_KEY
    iam_enforced: bool = False

    def client(self, service: str) -> Any:
        """A client of ``service`` on the emulator (cached: clients are thread-safe and slow to make)."""
        return _client(self.endpoint_url, self.region, service, (self.access_key, self.secret_key, None))

    def environment(self) -> dict[str, str]:
        """Variables that point any AWS SDK (and the ``bulkqa`` command) at the emulator."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def assume(self, role_arn: str, service: str, name: str) -> Credentials:
        """Credentials of ``role_arn`` as AWS ``service`` (``lambda``/``sagemaker``) would get them.

        With IAM enforced the role's trust policy must let that service assume it, and every
        request made with the credentials is authorized by the role's policies alone.
        """
        from e2e.moto_iam import service_session_name

        granted = self.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=service_session_name(service, name))
        keys = granted["Credentials"]
        return Credentials(keys["AccessKeyId"], keys["SecretAccessKey"], keys["SessionToken"])

    def client_as(self, credentials: Credentials, service: str) -> Any:
        """A client of ``service`` that signs with ``credentials`` (e.g. an assumed role's)."""
        return _client(self.endpoint_url, self.region, service, credentials.as_tuple())


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    session_token: str | None = None

    def as_tuple(self) -> tuple[str, str, str | None]:
        return (self.access_key, self.secret_key, self.session_token)

    def environment(self) -> dict[str, str]:
        """The variables an SDK reads them from (a Lambda sandbox gets its role's this way)."""
        env = {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}
        if self.session_token:
            env["AWS_SESSION_TOKEN"] = self.session_token
        return env


_client_lock = threading.Lock()


@functools.cache
def _client(endpoint_url: str, region: str, service: str, keys: tuple[str, str, str | None]) -> Any:
    with _client_lock:  # a boto3 session is not thread-safe; its clients are
        session = boto3.session.Session(
            aws_access_key_id=keys[0], aws_secret_access_key=keys[1], aws_session_token=keys[2], region_name=region
        )
        return session.client(service, endpoint_url=endpoint_url, config=CLIENT_CONFIG)


def iam_wanted() -> bool:
    """IAM is enforced on moto unless ``BULKQA_E2E_IAM`` is ``0``/``false``/``no``/``off``."""
    return os.environ.get(ENV_IAM, "1").strip().lower() not in {"0", "false", "no", "off"}


def start_moto(port: int = 0, *, enforce_iam: bool = True) -> tuple[Any, Emulator]:
    """In this process: moto's threaded server on 127.0.0.1 (``port`` 0 = a free one), IAM on or off.

    Returns the server (``.stop()`` it) and the :class:`Emulator` describing it. Used by the
    child process of :func:`moto_server` and by ``bulkqa sandbox``'s background process.
    """
    from moto.server import ThreadedMotoServer

    from e2e.moto_fidelity import serialise_dynamodb_writes

    serialise_dynamodb_writes()  # DynamoDB's per-request atomicity, which moto lacks
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    keys = None
    if enforce_iam:
        from e2e.moto_iam import enable

        keys = enable(REGION)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound = server.get_host_and_port()
    emulator = Emulator("moto", f"http://{host}:{bound}", iam_enforced=enforce_iam)
    if keys is not None:
        emulator = Emulator(
            "moto", emulator.endpoint_url, access_key=keys.access_key, secret_key=keys.secret_key, iam_enforced=True
        )
    return server, emulator


def _serve_moto(connection: Any, enforce_iam: bool) -> None:
    """In the child process: the server, until told to stop (or orphaned)."""
    server, emulator = start_moto(enforce_iam=enforce_iam)
    connection.send(emulator)
    with contextlib.suppress(EOFError):
        connection.recv()
    server.stop()


@contextlib.contextmanager
def moto_server(start_timeout: float = 60.0, *, enforce_iam: bool | None = None) -> Iterator[Emulator]:
    """moto's server (``ThreadedMotoServer``) on a free port of 127.0.0.1, stopped afterwards.

    It runs in a child process of its own: moto keeps its state per process, and an in-process
    ``mock_aws`` (the integration tests use one) resets that state when it stops. IAM is enforced
    unless ``enforce_iam`` is False (default: :func:`iam_wanted`).
    """
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    enforce = iam_wanted() if enforce_iam is None else enforce_iam
    process = context.Process(target=_serve_moto, args=(theirs, enforce), name="moto-server", daemon=True)
    process.start()
    try:
        if not ours.poll(start_timeout):
            raise TimeoutError(f"moto's server did not start within {start_timeout:.0f}s")
        yield ours.recv()
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
