"""``bulkqa job create`` / ``status``: the request is checked against the real SageMaker model (Stubber)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from pathlib import Path

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber
from typer.testing import CliRunner

from bulkqa import job_command
from bulkqa.cli import app

ACCOUNT = "123456789012"
OUTPUTS = {
    "bucket_name": "bulkqa-dev-abc123",
    "table_name": "bulkqa-dev-labels",
    "manifest_uri": "s3://bulkqa-dev-abc123/manifest.json",
    "ui_template_uri": "s3://bulkqa-dev-abc123/templates/bulkqa.liquid.html",
    "output_path": "s3://bulkqa-dev-abc123/output/",
    "pre_labeling_function_arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:bulkqa-dev-pre-LabelingFunction",
    "post_labeling_function_arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:bulkqa-dev-post-LabelingFunction",
    "launch_function_arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:bulkqa-dev-launch-LabelingFunction",
    "ground_truth_role_arn": f"arn:aws:iam::{ACCOUNT}:role/bulkqa-dev-groundtruth-role",
}
WORKTEAM = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:workteam/private-crowd/bulkqa"
JOB_ARN = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:labeling-job/round-1"


@pytest.fixture
def outputs_file(tmp_path: Path) -> Path:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(OUTPUTS))
    return path


@pytest.fixture
def sagemaker(monkeypatch: pytest.MonkeyPatch):
    client = boto3.client("sagemaker", region_name="us-east-1")
    stubber = Stubber(client)
    monkeypatch.setattr(job_command, "sagemaker_client", lambda endpoint_url, region: client)
    with stubber:
        yield stubber
    stubber.assert_no_pending_responses()


def expected_request(**human: object) -> dict:
    request = {
        "LabelingJobName": "round-1",
        "LabelAttributeName": "bulkqa",
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": OUTPUTS["manifest_uri"]}}},
        "OutputConfig": {"S3OutputPath": OUTPUTS["output_path"]},
        "RoleArn": OUTPUTS["ground_truth_role_arn"],
        "HumanTaskConfig": {
            "WorkteamArn": WORKTEAM,
            "UiConfig": {"UiTemplateS3Uri": OUTPUTS["ui_template_uri"]},
            "PreHumanTaskLambdaArn": OUTPUTS["pre_labeling_function_arn"],
            "TaskTitle": job_command.DEFAULT_TITLE,
            "TaskDescription": job_command.DEFAULT_DESCRIPTION,
            "NumberOfHumanWorkersPerDataObject": 3,
            "TaskTimeLimitInSeconds": 600,
            "TaskAvailabilityLifetimeInSeconds": 259200,
            "AnnotationConsolidationConfig": {
                "AnnotationConsolidationLambdaArn": OUTPUTS["post_labeling_function_arn"]
            },
        },
    }
    request["HumanTaskConfig"].update(human)
    return request


def invoke(*args: str):
    return CliRunner().invoke(app, ["job", *args])


def test_dry_run_prints_the_request_and_sends_nothing(outputs_file: Path, sagemaker: Stubber) -> None:
    result = invoke(
        "create", "--outputs", str(outputs_file), "--name", "round-1", "--workteam-arn", WORKTEAM, "--dry-run"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == expected_request()


def test_create_sends_the_request_the_service_model_accepts(outputs_file: Path, sagemaker: Stubber) -> None:
    request = expected_request(
        NumberOfHumanWorkersPerDataObject=5,
        TaskTimeLimitInSeconds=900,
        TaskAvailabilityLifetimeInSeconds=3600,
        TaskTitle="Check",
        TaskDescription="Untick",
        MaxConcurrentTaskCount=100,
        TaskKeywords=["Images", "Quality"],
    )
    request["LabelAttributeName"] = "qa-round-1"
    sagemaker.add_response("create_labeling_job", {"LabelingJobArn": JOB_ARN}, expected_params=request)
    result = invoke(
        "create",
        "--outputs",
        str(outputs_file),
        "--name",
        "round-1",
        "--workteam-arn",
        WORKTEAM,
        "--workers-per-object",
        "5",
        "--task-time-limit",
        "900",
        "--task-availability",
        "3600",
        "--title",
        "Check",
        "--description",
        "Untick",
        "--max-concurrent-tasks",
        "100",
        "--keyword",
        "Images",
        "--keyword",
        "Quality",
        "--label-attribute-name",
        "qa-round-1",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == JOB_ARN


def test_the_built_request_is_valid_for_botocore() -> None:
    """Independently of the command: botocore's own validator accepts the request."""
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model("sagemaker")
    report = ParamValidator().validate(expected_request(), model.operation_model("CreateLabelingJob").input_shape)
    assert not report.has_errors(), report.generate_report()
    assert job_command.request_problems(expected_request()) == []


def test_service_error_exits_3(outputs_file: Path, sagemaker: Stubber) -> None:
    sagemaker.add_client_error(
        "create_labeling_job", "ResourceInUse", "Job already exists", expected_params=expected_request()
    )
    result = invoke("create", "--outputs", str(outputs_file), "--name", "round-1", "--workteam-arn", WORKTEAM)
    assert result.exit_code == 3 and "Job already exists" in result.stderr


@pytest.mark.parametrize("name", ["round-1", "a", "A" * 63, "r--1", "0x"])
def test_valid_names(name: str) -> None:
    assert job_command.validate_job_name(name) == name


@pytest.mark.parametrize("name", ["", "-round", "round-", "round_1", "round 1", "A" * 64, "rönd", "round.1"])
def test_invalid_names_are_refused(name: str, outputs_file: Path) -> None:
    result = invoke("create", "--outputs", str(outputs_file), "--name", name, "--workteam-arn", WORKTEAM, "--dry-run")
    assert result.exit_code == 2
    assert "letters, digits and dashes" in result.output


def test_name_rule_is_the_service_models() -> None:
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model("CreateLabelingJob").input_shape.members["LabelingJobName"]
    assert shape.metadata["pattern"] == job_command.JOB_NAME_PATTERN
    assert re.fullmatch(shape.metadata["pattern"], "x" * 63) and not re.fullmatch(shape.metadata["pattern"], "x" * 64)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers-per-object", "10"], "workers-per-object"),
        (["--workers-per-object", "0"], "workers-per-object"),
        (["--task-time-limit", "29"], "task-time-limit"),
        (["--label-attribute-name", "x-metadata"], "-metadata"),
    ],
)
def test_out_of_range_options(outputs_file: Path, args: list[str], message: str) -> None:
    result = invoke(
        "create", "--outputs", str(outputs_file), "--name", "r", "--workteam-arn", WORKTEAM, "--dry-run", *args
    )
    assert result.exit_code == 2 and message in result.output


def test_values_the_service_model_refuses_are_caught_before_sending(tmp_path: Path, sagemaker: Stubber) -> None:
    outputs = copy.deepcopy(OUTPUTS)
    outputs["ground_truth_role_arn"] = "not-an-arn-but-long-enough"
    path = tmp_path / "o.json"
    path.write_text(json.dumps(outputs))
    result = invoke("create", "--outputs", str(path), "--name", "r", "--workteam-arn", "arn:nope")
    assert result.exit_code == 2
    assert "RoleArn" in result.stderr and "WorkteamArn" in result.stderr


def test_missing_outputs_are_named(tmp_path: Path) -> None:
    path = tmp_path / "o.json"
    path.write_text(json.dumps({k: v for k, v in OUTPUTS.items() if k != "ui_template_uri"}))
    result = invoke("create", "--outputs", str(path), "--name", "r", "--workteam-arn", WORKTEAM, "--dry-run")
    assert result.exit_code == 2 and "ui_template_uri" in result.stderr


def test_outputs_or_stack_exactly_one(outputs_file: Path) -> None:
    assert invoke("create", "--name", "r", "--workteam-arn", WORKTEAM).exit_code == 2
    both = invoke("create", "--outputs", str(outputs_file), "--stack", "dev", "--name", "r", "--workteam-arn", WORKTEAM)
    assert both.exit_code == 2


def test_stack_without_the_pulumi_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(job_command.shutil, "which", lambda _: None)
    result = invoke("create", "--stack", "dev", "--name", "r", "--workteam-arn", WORKTEAM, "--dry-run")
    assert result.exit_code == 2 and "--outputs FILE" in result.stderr


def test_stack_outputs_through_the_automation_api(monkeypatch: pytest.MonkeyPatch) -> None:
    from pulumi import automation as auto

    class FakeStack:
        def outputs(self) -> dict:
            return {k: auto.OutputValue(value=v, secret=False) for k, v in OUTPUTS.items()}

    seen = {}

    def select_stack(stack_name: str, work_dir: str) -> FakeStack:
        seen.update(stack=stack_name, work_dir=work_dir)
        return FakeStack()

    monkeypatch.setattr(job_command.shutil, "which", lambda _: "/usr/bin/pulumi")
    monkeypatch.setattr(auto, "select_stack", select_stack)
    result = invoke(
        "create", "--stack", "dev", "--work-dir", "infra", "--name", "round-1", "--workteam-arn", WORKTEAM, "--dry-run"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == expected_request()
    assert seen == {"stack": "dev", "work_dir": "infra"}


def describe_response(**extra: object) -> dict:
    now = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    response = {
        "LabelingJobStatus": "InProgress",
        "LabelCounters": {
            "TotalLabeled": 30,
            "HumanLabeled": 30,
            "MachineLabeled": 0,
            "FailedNonRetryableError": 2,
            "Unlabeled": 8,
        },
        "CreationTime": now,
        "LastModifiedTime": now,
        "JobReferenceCode": "abc",
        "LabelingJobName": "round-1",
        "LabelingJobArn": JOB_ARN,
        "InputConfig": expected_request()["InputConfig"],
        "OutputConfig": expected_request()["OutputConfig"],
        "RoleArn": OUTPUTS["ground_truth_role_arn"],
        "HumanTaskConfig": expected_request()["HumanTaskConfig"],
    }
    response.update(extra)
    return response


def test_status_shows_progress(sagemaker: Stubber) -> None:
    sagemaker.add_response("describe_labeling_job", describe_response(), {"LabelingJobName": "round-1"})
    result = invoke("status", "round-1")
    assert result.exit_code == 0, result.output
    assert "InProgress" in result.stdout
    assert "32 of 40 (80.0%)" in result.stdout  # (30 labelled + 2 failed) of 40


def test_status_json_with_output_and_failure(sagemaker: Stubber) -> None:
    response = describe_response(
        LabelingJobStatus="Failed",
        FailureReason="Lambda timed out",
        LabelingJobOutput={"OutputDatasetS3Uri": "s3://b/output/round-1/manifest.json"},
    )
    sagemaker.add_response("describe_labeling_job", response, {"LabelingJobName": "round-1"})
    result = invoke("status", "round-1", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["status"], data["labeled"], data["failed"], data["unlabeled"]) == ("Failed", 30, 2, 8)
    assert data["progress_pct"] == 80.0 and data["failure_reason"] == "Lambda timed out"
    assert data["output_manifest"] == "s3://b/output/round-1/manifest.json"


def test_status_of_an_unknown_job(sagemaker: Stubber) -> None:
    sagemaker.add_client_error(
        "describe_labeling_job", "ResourceNotFound", "Could not find job", expected_params={"LabelingJobName": "nope"}
    )
    result = invoke("status", "nope")
    assert result.exit_code == 3 and "Could not find job" in result.output


def test_status_name_is_validated() -> None:
    assert invoke("status", "bad_name").exit_code == 2


def test_the_outputs_read_are_the_components_stack_outputs() -> None:
    from components.outputs import STACK_OUTPUTS

    assert set(job_command.REQUIRED_OUTPUTS) <= set(STACK_OUTPUTS.values())
    assert set(OUTPUTS) == set(STACK_OUTPUTS.values())
