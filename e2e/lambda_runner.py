"""Invoke the deployed Lambda functions, the same way on both backends.

- LocalStack runs the code itself: ``invoke`` is a real ``lambda.invoke``.
- moto cannot run code without Docker, so :class:`LocalLambda` does what the Lambda service does:
  it reads the function's configuration back from the emulator (handler, environment, timeout,
  ``CodeSha256``), checks that the archive it kept from the deployment has exactly that SHA-256,
  unpacks it and runs it under AWS's own runtime interface client (``awslambdaric``) in a
  subprocess, which talks to a small local Runtime API (``/2018-06-01/runtime/invocation/next``,
  ``/response``, ``/error``). ``AWS_ENDPOINT_URL`` points the function's boto3 at the emulator,
  and (with ``role_credentials``) the sandbox gets its execution role's credentials, as on Lambda.
  Like Lambda, a sandbox stays warm while the function's configuration is unchanged.

Either way a function error comes back as :class:`LambdaFunctionError` carrying Lambda's own
``errorType`` and ``errorMessage``, and a run past the function's timeout is killed and reported as
``Task timed out after N.NN seconds``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import queue
import site
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

RUNTIME_API_PREFIX = "/2018-06-01/runtime"


def _runtime_error(error_type: str, request_id: str, message: str) -> bytes:
    """An error body in the shape Lambda reports sandbox failures (timeout, runtime exit)."""
    return json.dumps({"errorType": error_type, "errorMessage": f"RequestId: {request_id} Error: {message}"}).encode()


class LambdaFunctionError(RuntimeError):
    """The function ran and failed (or timed out): Lambda's ``errorType`` and ``errorMessage``."""

    def __init__(self, function_name: str, payload: Mapping[str, Any], logs: str = "") -> None:
        self.function_name = function_name
        self.payload = dict(payload)
        self.error_type = str(payload.get("errorType", "Unhandled"))
        self.error_message = str(payload.get("errorMessage", ""))
        self.logs = logs
        super().__init__(f"{function_name}: {self.error_type}: {self.error_message}")


class Invoker(Protocol):
    def invoke(self, function_name: str, event: Any) -> Any:
        """Run the function synchronously; return its result or raise ``LambdaFunctionError``."""
        ...


@dataclass
class AwsLambda:
    """A real ``lambda.invoke`` (LocalStack, or AWS itself)."""

    client: Any

    def invoke(self, function_name: str, event: Any) -> Any:
        response = self.client.invoke(
            FunctionName=function_name, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
        )
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            raise LambdaFunctionError(function_name, payload if isinstance(payload, dict) else {})
        return payload


# --------------------------------------------------------------------------------------------
# The local Runtime API a sandbox's runtime client polls.
# --------------------------------------------------------------------------------------------


@dataclass
class _Invocation:
    request_id: str
    event: bytes
    function_arn: str
    deadline_ms: int
    outcome: tuple[str, bytes] | None = None  # ("response" | "error" | "init_error", body)
    done: threading.Event = field(default_factory=threading.Event)

    def finish(self, kind: str, body: bytes) -> None:
        if self.outcome is None:
            self.outcome = (kind, body)
            self.done.set()


class _RuntimeApiHandler(BaseHTTPRequestHandler):
    server: _RuntimeApiServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _reply(self, status: HTTPStatus, body: bytes = b"{}", headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path != f"{RUNTIME_API_PREFIX}/invocation/next":
            self._reply(HTTPStatus.NOT_FOUND)
            return
        # Between invocations the runtime waits here, as a frozen Lambda sandbox does.
        invocation = self.server.pending.get()
        if invocation is None:  # the sandbox is being shut down
            return
        self.server.current = invocation
        self._reply(
            HTTPStatus.OK,
            invocation.event,
            {
                "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": invocation.function_arn,
                "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
            },
        )

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        current = self.server.current
        if self.path == f"{RUNTIME_API_PREFIX}/init/error":
            self.server.init_error = body
        elif current and self.path == f"{RUNTIME_API_PREFIX}/invocation/{current.request_id}/response":
            current.finish("response", body)
        elif current and self.path == f"{RUNTIME_API_PREFIX}/invocation/{current.request_id}/error":
            current.finish("error", body)
        else:
            self._reply(HTTPStatus.NOT_FOUND)
            return
        self._reply(HTTPStatus.ACCEPTED, b'{"status":"OK"}')


class _RuntimeApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RuntimeApiHandler)
        self.pending: queue.Queue[_Invocation | None] = queue.Queue()
        self.current: _Invocation | None = None
        self.init_error: bytes | None = None

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host}:{port}"


# --------------------------------------------------------------------------------------------
# Sandboxes: the deployed package unpacked, and awslambdaric running it in a subprocess.
# --------------------------------------------------------------------------------------------


def code_sha256(archive: bytes) -> str:
    """Lambda's ``CodeSha256``: the base64 of the archive's SHA-256 digest."""
    return base64.b64encode(hashlib.sha256(archive).digest()).decode()


def _fingerprint(config: Mapping[str, Any]) -> str:
    """What a warm sandbox must match to be reused: code, handler, environment, timeout, memory."""
    keys = ("CodeSha256", "Handler", "Environment", "Timeout", "MemorySize", "Runtime", "Role")
    return json.dumps({key: config.get(key) for key in keys}, sort_keys=True)


class _Sandbox:
    """One execution environment: started on first use, kept warm, killed on timeout or crash."""

    def __init__(self, config: Mapping[str, Any], archive: bytes, environment: dict[str, str], python: str) -> None:
        self.fingerprint = _fingerprint(config)
        self.timeout = float(config.get("Timeout", 3))
        self.function_arn = config["FunctionArn"]
        self._task_root = tempfile.TemporaryDirectory(prefix="lambda-task-")
        task_root = Path(self._task_root.name)
        with zipfile.ZipFile(io.BytesIO(archive)) as package:
            package.extractall(task_root)
        self.server = _RuntimeApiServer()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        env = {
            **environment,
            # The task root first, then the runtime's libraries (awslambdaric, boto3); with -S no
            # site hook runs, so this project's editable install cannot shadow the deployed code.
            "PYTHONPATH": ":".join([str(task_root), *site.getsitepackages()]),
            "LAMBDA_TASK_ROOT": str(task_root),
            "_HANDLER": config["Handler"],
            "AWS_LAMBDA_RUNTIME_API": self.server.address,
        }
        self.process = subprocess.Popen(
            [python, "-S", "-m", "awslambdaric", config["Handler"]],
            cwd=task_root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.log_lines: list[bytes] = []
        self._reader = threading.Thread(target=lambda: self.log_lines.extend(self.process.stdout or []), daemon=True)
        self._reader.start()

    def run(self, event: Any) -> tuple[str, bytes, str]:
        """(kind, body, logs) with kind "response", "error", "init_error", "exit" or "timeout"."""
        invocation = _Invocation(
            request_id=str(uuid.uuid4()),
            event=json.dumps(event).encode(),
            function_arn=self.function_arn,
            deadline_ms=int((time.time() + self.timeout) * 1000),
        )
        first_log_line = len(self.log_lines)
        self.server.pending.put(invocation)
        deadline = time.monotonic() + self.timeout
        kind, body = "timeout", b""
        while time.monotonic() < deadline:
            if invocation.done.wait(timeout=0.02):
                kind, body = invocation.outcome or ("exit", b"")
                break
            if self.process.poll() is not None:
                invocation.done.wait(timeout=0.2)  # it may have posted just before exiting
                kind, body = invocation.outcome or (
                    ("init_error", self.server.init_error) if self.server.init_error else ("exit", b"")
                )
                break
        if kind == "timeout":
            self.close()
        elif kind == "exit":
            self._reader.join(timeout=2)
        logs = b"".join(self.log_lines[first_log_line:]).decode("utf-8", "replace")
        if kind == "timeout":
            body = _runtime_error(
                "Sandbox.Timedout", invocation.request_id, f"Task timed out after {self.timeout:.2f} seconds"
            )
        elif kind == "exit":
            body = _runtime_error(
                "Runtime.ExitError",
                invocation.request_id,
                f"Runtime exited with error: exit status {self.process.returncode}",
            )
        return kind, body, logs

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.server.pending.put(None)
        self.server.shutdown()
        self.server.server_close()
        self._reader.join(timeout=2)
        self._task_root.cleanup()


@dataclass
class LocalLambda:
    """Run functions deployed into moto from the archives the deployment kept.

    ``archives`` maps a function name to the zip file uploaded as its code. Each invocation reads
    the function's configuration from the emulator and checks the archive against its
    ``CodeSha256``; a warm sandbox is reused while the configuration is unchanged, as Lambda does.
    """

    lambda_client: Any
    endpoint_url: str
    region: str
    archives: dict[str, Path] = field(default_factory=dict)
    credentials: tuple[str, str] = ("test", "test")
    # (role ARN, function name) -> the AWS_* credential variables of that role, as Lambda gives a
    # function its execution role's credentials. None: every function gets ``credentials``.
    role_credentials: Callable[[str, str], dict[str, str]] | None = None
    python: str = sys.executable
    last_logs: dict[str, str] = field(default_factory=dict)
    _idle: dict[str, list[_Sandbox]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, function_name: str, archive: Path) -> None:
        self.archives[function_name] = Path(archive)

    def _archive_for(self, function_name: str, expected_sha: str) -> bytes:
        if function_name not in self.archives:
            raise LookupError(f"no deployed archive is known for function {function_name!r}")
        data = self.archives[function_name].read_bytes()
        actual = code_sha256(data)
        if actual != expected_sha:
            raise AssertionError(
                f"{function_name}: archive {self.archives[function_name]} has CodeSha256 {actual}, "
                f"but the deployed function has {expected_sha}; refusing to run other bytes than were deployed"
            )
        return data

    def _environment(self, config: Mapping[str, Any]) -> dict[str, str]:
        name = config["FunctionName"]
        access_key, secret_key = self.credentials
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONDONTWRITEBYTECODE": "1",
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": config.get("Version", "$LATEST"),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.get("MemorySize", 128)),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"local/{uuid.uuid4().hex}",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": access_key,
            "AWS_SECRET_ACCESS_KEY": secret_key,
        }
        if self.role_credentials is not None:
            env.update(self.role_credentials(config["Role"], name))
        env.update(config.get("Environment", {}).get("Variables", {}))
        env["AWS_ENDPOINT_URL"] = self.endpoint_url
        return env

    def _sandbox(self, function_name: str, config: Mapping[str, Any]) -> _Sandbox:
        archive = self._archive_for(function_name, config["CodeSha256"])  # on every call, warm or not
        with self._lock:
            idle = self._idle.setdefault(function_name, [])
            while idle:
                sandbox = idle.pop()
                if sandbox.alive and sandbox.fingerprint == _fingerprint(config):
                    return sandbox
                sandbox.close()  # stale: the function was updated since
        return _Sandbox(config, archive, self._environment(config), self.python)

    def invoke(self, function_name: str, event: Any) -> Any:
        config = self.lambda_client.get_function(FunctionName=function_name)["Configuration"]
        sandbox = self._sandbox(function_name, config)
        kind, body, logs = sandbox.run(event)
        self.last_logs[function_name] = logs
        if kind == "response" and sandbox.alive:
            with self._lock:
                self._idle.setdefault(function_name, []).append(sandbox)
        else:  # after any failure start the next invocation from a fresh sandbox
            sandbox.close()
        if kind == "response":
            return json.loads(body or b"null")
        payload = json.loads(body or b"{}")
        raise LambdaFunctionError(function_name, payload if isinstance(payload, dict) else {}, logs)

    def close(self) -> None:
        with self._lock:
            sandboxes = [sandbox for idle in self._idle.values() for sandbox in idle]
            self._idle.clear()
        for sandbox in sandboxes:
            sandbox.close()

    def __enter__(self) -> LocalLambda:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
