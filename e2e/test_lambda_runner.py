"""The moto backend's Lambda runner behaves like the service: exact bytes, timeouts, init errors."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from pathlib import Path

import pytest

from e2e.deploy import DeployedStack
from e2e.lambda_runner import LambdaFunctionError, LocalLambda


@pytest.fixture
def local_lambda(stack: DeployedStack) -> LocalLambda:
    if not isinstance(stack.invoker, LocalLambda):
        pytest.skip("the local runner is only used on the moto backend")
    return stack.invoker


def _function(stack: DeployedStack, tmp_path: Path, source: str, handler: str, timeout: int) -> tuple[str, Path]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("probe.py", source)
    path = tmp_path / "probe.zip"
    path.write_bytes(buffer.getvalue())
    name = f"e2e-probe-{uuid.uuid4().hex[:8]}"
    # A role Lambda may assume (with IAM enforced, the Ground Truth role's trust refuses Lambda).
    role = stack.lam.get_function(FunctionName=stack.function("pre_labeling"))["Configuration"]["Role"]
    stack.lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler=handler,
        Code={"ZipFile": path.read_bytes()},
        Timeout=timeout,
    )
    return name, path


def test_timeout_kills_the_function_and_reports_it(local_lambda: LocalLambda, stack: DeployedStack, tmp_path) -> None:
    name, path = _function(stack, tmp_path, "import time\ndef h(e, c):\n    time.sleep(60)\n", "probe.h", 1)
    local_lambda.register(name, path)
    try:
        started = time.monotonic()
        with pytest.raises(LambdaFunctionError) as failure:
            local_lambda.invoke(name, {})
        assert time.monotonic() - started < 10
        assert failure.value.error_type == "Sandbox.Timedout"
        assert "Task timed out after 1.00 seconds" in failure.value.error_message
    finally:
        stack.lam.delete_function(FunctionName=name)


def test_runs_only_the_deployed_bytes(local_lambda: LocalLambda, stack: DeployedStack, tmp_path) -> None:
    name, path = _function(
        stack,
        tmp_path,
        "def h(e, c):\n    return {'echo': e, 'left': c.get_remaining_time_in_millis() > 0}\n",
        "probe.h",
        3,
    )
    try:
        local_lambda.register(name, path)
        assert local_lambda.invoke(name, {"x": 1}) == {"echo": {"x": 1}, "left": True}
        path.write_bytes(path.read_bytes() + b"tampered")
        with pytest.raises(AssertionError, match="CodeSha256"):
            local_lambda.invoke(name, {"x": 1})
    finally:
        stack.lam.delete_function(FunctionName=name)


def test_import_error_is_a_lambda_init_error(local_lambda: LocalLambda, stack: DeployedStack, tmp_path) -> None:
    name, path = _function(stack, tmp_path, "import not_a_module\n", "probe.h", 3)
    local_lambda.register(name, path)
    try:
        with pytest.raises(LambdaFunctionError) as failure:
            local_lambda.invoke(name, {})
        assert failure.value.error_type == "Runtime.ImportModuleError"
        assert json.dumps(failure.value.payload)
    finally:
        stack.lam.delete_function(FunctionName=name)
