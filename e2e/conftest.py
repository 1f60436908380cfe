"""Fixtures of the e2e suite: an emulator, the BulkQA stack deployed into it, and Ground Truth.

One stack per test session: ``stack`` deploys the component at the start and tears it down at the
end. Choose the emulator with ``--backend moto|localstack`` (or ``BULKQA_E2E_BACKEND``); moto is
the default and needs nothing but pip packages.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.datasets import Row, csv_text
from e2e.deploy import DeployedStack, deploy_stack
from e2e.emulator import ENV_ENDPOINT, Emulator, docker_available, localstack_ready, moto_server
from e2e.emulator import selected_backend as _selected_backend
from e2e.ground_truth import GroundTruthSimulator

HERE = Path(__file__).resolve().parent
LOCALSTACK_START_TIMEOUT = 180.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def backend(pytestconfig: pytest.Config) -> str:
    return _selected_backend(pytestconfig.getoption("--backend"))


@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    """pytest-docker's compose file: LocalStack, pinned."""
    return str(HERE / "docker-compose.yml")


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return f"bulkqa-e2e-{os.getpid()}"


def _wait_for_localstack(endpoint_url: str, timeout: float = LOCALSTACK_START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if localstack_ready(endpoint_url):
            return
        time.sleep(1.0)
    raise TimeoutError(f"LocalStack at {endpoint_url} was not healthy after {timeout:.0f}s (/_localstack/health)")


@pytest.fixture(scope="session")
def _aws_environment() -> Iterator[None]:
    """Test credentials for everything in this process: no real account can be reached."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", "test")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "test")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.delenv("AWS_SESSION_TOKEN", raising=False)
        patch.delenv("AWS_PROFILE", raising=False)
        yield


@pytest.fixture(scope="session")
def emulator(backend: str, request: pytest.FixtureRequest, _aws_environment: None) -> Iterator[Emulator]:
    if backend == "moto":
        with moto_server() as server:
            yield server
        return
    endpoint = os.environ.get(ENV_ENDPOINT)
    if endpoint:
        _wait_for_localstack(endpoint.rstrip("/"), timeout=30)
        yield Emulator("localstack", endpoint.rstrip("/"))
        return
    ok, reason = docker_available()
    if not ok:
        pytest.skip(f"localstack backend: {reason}; start Docker or set {ENV_ENDPOINT} to a running LocalStack")
    services = request.getfixturevalue("docker_services")
    endpoint = f"http://127.0.0.1:{services.port_for('localstack', 4566)}"
    _wait_for_localstack(endpoint)
    yield Emulator("localstack", endpoint)


# Seeded at deploy time (the component's seed CSV -> aws.lambda.Invocation of the launch function).
DEPLOY_SEED = [Row(f"deploy-seed/img-{i}.png", "Seeded", 90.0 + i) for i in range(3)]


@pytest.fixture(scope="session")
def stack(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedStack]:
    """The BulkQA component deployed into the emulator for this session, destroyed afterwards."""
    workdir = tmp_path_factory.mktemp("deploy")
    seed_csv = workdir / "seed.csv"
    seed_csv.write_text(csv_text(DEPLOY_SEED), encoding="utf-8")
    with deploy_stack(emulator, workdir, {"bulkqa:seedCsv": str(seed_csv)}) as deployed:
        yield deployed


@pytest.fixture(scope="session")
def ground_truth(stack: DeployedStack) -> GroundTruthSimulator:
    """Ground Truth as the stack's Ground Truth role (with IAM enforced, its policy is what counts)."""
    return ground_truth_simulator(stack)


def ground_truth_simulator(stack: DeployedStack) -> GroundTruthSimulator:
    emulator = stack.emulator
    if not emulator.iam_enforced:
        return GroundTruthSimulator(stack.s3, stack.invoker)
    role = emulator.assume(stack.outputs["ground_truth_role_arn"], "sagemaker", "bulkqa-e2e-job")
    return GroundTruthSimulator(
        emulator.client_as(role, "s3"), stack.invoker, lambda_client=emulator.client_as(role, "lambda")
    )
