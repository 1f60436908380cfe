"""The component deploys into the emulator as declared: every resource type, wired as the handlers expect."""

from __future__ import annotations

import base64

import pytest

from components import RESOURCE_TYPES, package_path_and_sha256
from e2e.conftest import DEPLOY_SEED
from e2e.datasets import counts
from e2e.deploy import DeployedStack
from handlers.settings import HANDLER_ENTRY_POINTS, HANDLER_ENVIRONMENT, TEMPLATE_KEY
from worker_template import read_template


def test_every_declared_resource_type_was_created(stack: DeployedStack) -> None:
    if not stack.resources:
        pytest.skip("deployed by `pulumi up`: the engine created the resources, there is no ledger to check")
    assert {resource["type"] for resource in stack.resources} == set(RESOURCE_TYPES)


def test_functions_run_the_built_package_with_their_handler_and_environment(stack: DeployedStack) -> None:
    _, sha_hex = package_path_and_sha256()
    expected_sha = base64.b64encode(bytes.fromhex(sha_hex)).decode()
    for key, entry_point in HANDLER_ENTRY_POINTS.items():
        config = stack.lam.get_function(FunctionName=stack.function(key))["Configuration"]
        assert config["Handler"] == entry_point
        assert config["CodeSha256"] == expected_sha
        variables = config.get("Environment", {}).get("Variables", {})
        assert set(variables) == set(HANDLER_ENVIRONMENT[key])
        if "BULKQA_TABLE_NAME" in variables:
            assert variables["BULKQA_TABLE_NAME"] == stack.table
        if "BULKQA_BUCKET_NAME" in variables:
            assert variables["BULKQA_BUCKET_NAME"] == stack.bucket


def test_worker_template_is_uploaded_where_the_outputs_say(stack: DeployedStack) -> None:
    assert stack.outputs["ui_template_uri"] == f"s3://{stack.bucket}/{TEMPLATE_KEY}"
    body = stack.s3.get_object(Bucket=stack.bucket, Key=TEMPLATE_KEY)["Body"].read().decode("utf-8")
    assert body == read_template()


def test_deploy_time_seed_ran_the_launch_function(stack: DeployedStack) -> None:
    for row in DEPLOY_SEED:
        assert counts(stack, f"s3://{stack.bucket}/{row.image}", row.label) == (0, 0)
