"""Failures come back as Lambda errors (errorType, errorMessage), promptly -- never as a hang."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from e2e.datasets import Row, put_object, seed_round
from e2e.deploy import DeployedStack
from e2e.ground_truth import GroundTruthSimulator
from e2e.lambda_runner import LambdaFunctionError

PROMPT = 60.0  # seconds: far below the functions' own timeouts, far above a normal call


def _update_environment(stack: DeployedStack, function: str, variables: dict[str, str]) -> None:
    stack.lam.update_function_configuration(FunctionName=function, Environment={"Variables": variables})
    stack.lam.get_waiter("function_updated_v2").wait(FunctionName=function, WaiterConfig={"Delay": 1})


def test_consolidation_with_the_table_missing_is_a_lambda_error(
    stack: DeployedStack, ground_truth: GroundTruthSimulator
) -> None:
    prefix = f"fail-{uuid.uuid4().hex[:6]}"
    rows = [Row(f"{prefix}/img-{i}.png", "Otter", 90.0) for i in range(3)]
    seeded = seed_round(stack, rows)
    job = seeded.job(stack, f"{prefix}-job", workers=1)
    template = ground_truth.read_template(job)
    tasks = [ground_truth.prepare_task(job, template, "0", line) for line in ground_truth.read_manifest(job)]
    for task in tasks:
        ground_truth.answer(job, task, lambda worker, url, label: True)

    function = stack.function("post_labeling")
    original = stack.lam.get_function(FunctionName=function)["Configuration"]["Environment"]["Variables"]
    _update_environment(stack, function, {**original, "BULKQA_TABLE_NAME": f"{prefix}-no-such-table"})
    try:
        started = time.monotonic()
        with pytest.raises(LambdaFunctionError) as failure:
            ground_truth.consolidate(job, tasks)
        assert time.monotonic() - started < PROMPT
    finally:
        _update_environment(stack, function, original)
    if stack.emulator.iam_enforced:  # the role may use its own table only: AWS refuses before looking
        assert "AccessDenied" in failure.value.error_message
        assert "not authorized to perform: dynamodb:" in failure.value.error_message
    else:
        assert failure.value.error_type == "ResourceNotFoundException"
        assert "no-such-table" in failure.value.error_message or "not found" in failure.value.error_message.lower()


def test_pre_labeling_of_a_missing_batch_is_a_lambda_error(stack: DeployedStack) -> None:
    event = {
        "version": "2018-10-16",
        "labelingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/missing",
        "dataObject": {"source-ref": f"s3://{stack.bucket}/batches/no-such-batch.json"},
    }
    with pytest.raises(LambdaFunctionError) as failure:
        stack.invoker.invoke(stack.function("pre_labeling"), event)
    assert failure.value.error_type == "BatchNotFoundError"
    assert "no-such-batch.json" in failure.value.error_message


def test_launch_of_a_csv_with_only_bad_rows_is_a_lambda_error(stack: DeployedStack) -> None:
    uri = put_object(stack, "inputs/bad.csv", "image_local_path,label,confidence\r\na.png,Dog,not-a-number\r\n")
    with pytest.raises(LambdaFunctionError) as failure:
        stack.invoker.invoke(stack.function("launch"), {"csv": uri})
    assert failure.value.error_type == "ValueError"
    assert json.dumps(failure.value.payload)  # Lambda's error document, serialisable as Ground Truth logs it
