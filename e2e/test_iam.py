"""IAM is enforced in the emulator: a permission missing from a role, or a call outside it, fails.

Each function runs with its own role's credentials and the Ground Truth simulator with the Ground
Truth role's, so these tests take a permission away (or call outside a policy) and see AWS's
refusal, then put the policy back.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.conftest import ground_truth_simulator
from e2e.datasets import Row, seed_round
from e2e.deploy import DeployedStack
from e2e.lambda_runner import LambdaFunctionError
from e2e.moto_iam import function_resource, table_actions, trust_allows


@pytest.fixture(autouse=True)
def _needs_iam(stack: DeployedStack) -> None:
    if not stack.emulator.iam_enforced:
        pytest.skip("IAM is not enforced by this emulator (BULKQA_E2E_IAM=0 or LocalStack)")


def _role_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _function_role(stack: DeployedStack, key: str) -> str:
    return stack.lam.get_function(FunctionName=stack.function(key))["Configuration"]["Role"]


@contextlib.contextmanager
def _without(
    stack: DeployedStack, role_arn: str, drop: Callable[[dict[str, Any]], bool]
) -> Iterator[list[dict[str, Any]]]:
    """The role's inline policies minus the statements ``drop`` selects; restored afterwards."""
    iam = stack.emulator.client("iam")
    role = _role_name(role_arn)
    originals = {
        name: iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
    }
    removed: list[dict[str, Any]] = []
    try:
        for name, document in originals.items():
            statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
            removed += [s for s in statements if drop(s)]
            kept = {**document, "Statement": [s for s in statements if not drop(s)]}
            iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(kept))
        assert removed, "nothing matched: the test would prove nothing"
        yield removed
    finally:
        for name, document in originals.items():
            iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement.get("Action", [])
    return [actions] if isinstance(actions, str) else list(actions)


def _answered(stack: DeployedStack, prefix: str) -> tuple[Any, Any, list[Any]]:
    rows = [Row(f"{prefix}/img-{i}.png", "Walrus", 91.0) for i in range(3)]
    seeded = seed_round(stack, rows)
    simulator = ground_truth_simulator(stack)
    job = seeded.job(stack, f"{prefix}-job", workers=1)
    template = simulator.read_template(job)
    tasks = [simulator.prepare_task(job, template, str(i), line) for i, line in enumerate(simulator.read_manifest(job))]
    for task in tasks:
        simulator.answer(job, task, lambda worker, url, label: True)
    return simulator, job, tasks


def test_post_labeling_without_update_item_cannot_record_votes(stack: DeployedStack) -> None:
    simulator, job, tasks = _answered(stack, f"iam-post-{uuid.uuid4().hex[:6]}")
    role = _function_role(stack, "post_labeling")
    with (
        _without(stack, role, lambda s: "dynamodb:UpdateItem" in _actions(s)),
        pytest.raises(LambdaFunctionError) as failure,
    ):
        simulator.consolidate(job, tasks)
    assert "not authorized to perform: dynamodb:UpdateItem" in failure.value.error_message
    simulator.consolidate(job, tasks)  # the policy back: the same request is counted


def test_ground_truth_role_needs_invoke_permission_on_the_task_functions(stack: DeployedStack) -> None:
    simulator, job, tasks = _answered(stack, f"iam-gt-{uuid.uuid4().hex[:6]}")
    gt_role = stack.outputs["ground_truth_role_arn"]
    with (
        _without(stack, gt_role, lambda s: "lambda:InvokeFunction" in _actions(s)),
        pytest.raises(ClientError) as failure,
    ):
        simulator.consolidate(job, tasks)
    assert "lambda:InvokeFunction" in str(failure.value)


def test_ground_truth_role_writes_only_its_output_prefix(stack: DeployedStack) -> None:
    simulator = ground_truth_simulator(stack)
    with pytest.raises(ClientError) as failure:  # the worker template is the component's alone
        simulator.s3.put_object(Bucket=stack.bucket, Key="templates/bulkqa.liquid.html", Body=b"x")
    assert failure.value.response["Error"]["Code"] == "AccessDenied"


def test_a_function_role_cannot_call_outside_its_policy(stack: DeployedStack) -> None:
    emulator = stack.emulator
    credentials = emulator.assume(_function_role(stack, "pre_labeling"), "lambda", "probe")
    ddb = emulator.client_as(credentials, "dynamodb")
    with pytest.raises(ClientError) as failure:  # pre-labeling reads batches; it never writes votes
        ddb.put_item(TableName=stack.table, Item={"s3_image_url": {"S": "s3://x/y"}, "label": {"S": "z"}})
    assert "not authorized" in str(failure.value)


def test_only_the_trusted_service_may_assume_a_role(stack: DeployedStack) -> None:
    with pytest.raises(ClientError):  # Lambda may not take the Ground Truth role
        stack.emulator.assume(stack.outputs["ground_truth_role_arn"], "lambda", "probe")
    with pytest.raises(ClientError):  # nor Ground Truth a function's role
        stack.emulator.assume(_function_role(stack, "post_labeling"), "sagemaker", "probe")


# --- the evaluator's pieces, pure ---


def test_trust_policy_check() -> None:
    trust = {
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    }
    assert trust_allows(trust, "lambda.amazonaws.com")
    assert not trust_allows(trust, "sagemaker.amazonaws.com")
    denied = {"Statement": [*trust["Statement"], {**trust["Statement"][0], "Effect": "Deny"}]}
    assert not trust_allows(denied, "lambda.amazonaws.com")


def test_dynamodb_requests_are_authorized_per_table_and_per_transaction_action() -> None:
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/"
    assert table_actions("GetItem", {"TableName": "T"}, "us-east-1", "123456789012") == [("GetItem", arn + "T")]
    batch = {"RequestItems": {"A": {}, "B": {}}}
    assert table_actions("BatchGetItem", batch, "us-east-1", "123456789012") == [
        ("BatchGetItem", arn + "A"),
        ("BatchGetItem", arn + "B"),
    ]
    transaction = {"TransactItems": [{"Put": {"TableName": "T"}}, {"ConditionCheck": {"TableName": "T"}}]}
    assert table_actions("TransactWriteItems", transaction, "us-east-1", "123456789012") == [
        ("PutItem", arn + "T"),
        ("ConditionCheckItem", arn + "T"),
    ]
    query = {"TableName": "T", "IndexName": "I"}
    assert table_actions("Query", query, "us-east-1", "123456789012") == [("Query", arn + "T/index/I")]


def test_lambda_requests_are_authorized_on_the_function() -> None:
    expected = "arn:aws:lambda:us-east-1:123456789012:function:f"
    assert function_resource("/2015-03-31/functions/f/invocations", "us-east-1", "123456789012") == expected
    assert function_resource("/2015-03-31/functions/f:3/invocations", "us-east-1", "123456789012") == expected
    assert function_resource("/2015-03-31/functions", "us-east-1", "123456789012") == "*"
