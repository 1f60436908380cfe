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
import typer
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
        "--no-check",
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
    result = invoke(
        "create", "--outputs", str(outputs_file), "--name", "round-1", "--workteam-arn", WORKTEAM, "--no-check"
    )
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


# --- Workforce rules the service model does not carry -------------------------------------------

PUBLIC = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"
VENDOR = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:workteam/vendor-crowd/acme"


def create_args(outputs_file: Path, *extra: str, team: str = WORKTEAM) -> list[str]:
    return ["create", "--outputs", str(outputs_file), "--name", "round-1", "--workteam-arn", team, *extra]


def test_workforce_from_the_arn() -> None:
    assert job_command.workforce(PUBLIC) == "public"
    assert job_command.workforce(VENDOR) == "vendor"
    assert job_command.workforce(WORKTEAM) == "private"


@pytest.mark.parametrize(
    ("text", "amount"),
    [("0.012", (0, 1, 2)), ("0.036", (0, 3, 6)), ("0.120", (0, 12, 0)), ("1.2", (1, 20, 0)), ("0.84", (0, 84, 0))],
)
def test_task_price(text: str, amount: tuple[int, int, int]) -> None:
    price = job_command.task_price(text)["AmountInUsd"]
    assert (price["Dollars"], price["Cents"], price["TenthFractionsOfACent"]) == amount


@pytest.mark.parametrize("text", ["0.05", "0.013", "2.4", "free", "-0.012", "0"])
def test_prices_the_api_does_not_list_are_refused(text: str) -> None:
    with pytest.raises(typer.BadParameter, match=r"0\.012, 0\.024"):
        job_command.task_price(text)


def test_public_team_needs_a_price_and_the_content_declaration(outputs_file: Path) -> None:
    result = invoke(*create_args(outputs_file, "--dry-run", team=PUBLIC))
    assert result.exit_code == 2
    assert "--price-per-task" in result.stderr and "--free-of-pii" in result.stderr
    only_price = invoke(*create_args(outputs_file, "--dry-run", "--price-per-task", "0.036", team=PUBLIC))
    assert only_price.exit_code == 2 and "--free-of-adult-content" in only_price.stderr
    bad_price = invoke(
        *create_args(outputs_file, "--dry-run", "--price-per-task", "0.05", "--free-of-pii", "--free-of-adult-content",
                     team=PUBLIC)
    )  # fmt: skip
    assert bad_price.exit_code == 2 and "0.048" in bad_price.stderr


def test_public_team_request(outputs_file: Path, sagemaker: Stubber) -> None:
    request = expected_request(
        WorkteamArn=PUBLIC,
        TaskAvailabilityLifetimeInSeconds=job_command.DEFAULT_AVAILABILITY_PUBLIC,
        PublicWorkforceTaskPrice={"AmountInUsd": {"Dollars": 0, "Cents": 3, "TenthFractionsOfACent": 6}},
    )
    request["InputConfig"]["DataAttributes"] = {
        "ContentClassifiers": ["FreeOfPersonallyIdentifiableInformation", "FreeOfAdultContent"]
    }
    sagemaker.add_response("create_labeling_job", {"LabelingJobArn": JOB_ARN}, expected_params=request)
    result = invoke(
        *create_args(outputs_file, "--price-per-task", "0.036", "--free-of-pii", "--free-of-adult-content",
                     "--no-check", team=PUBLIC)
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert job_command.request_problems(request) == []


@pytest.mark.parametrize(
    ("team", "seconds", "ok"),
    [
        (PUBLIC, 43_200, True),
        (PUBLIC, 43_201, False),
        (WORKTEAM, 2_592_000, True),
        (VENDOR, 2_592_000, True),
        (WORKTEAM, 2_592_001, False),
    ],
)
def test_availability_lifetime_per_workforce(outputs_file: Path, team: str, seconds: int, ok: bool) -> None:
    public = ["--price-per-task", "0.012", "--free-of-pii", "--free-of-adult-content"] if team == PUBLIC else []
    result = invoke(*create_args(outputs_file, "--dry-run", "--task-availability", str(seconds), *public, team=team))
    assert (result.exit_code == 0) is ok, result.output
    if ok:
        assert json.loads(result.stdout)["HumanTaskConfig"]["TaskAvailabilityLifetimeInSeconds"] == seconds


def test_price_is_refused_for_a_private_team(outputs_file: Path) -> None:
    result = invoke(*create_args(outputs_file, "--dry-run", "--price-per-task", "0.012"))
    assert result.exit_code == 2 and "public workforce" in result.stderr


@pytest.mark.parametrize("description", ["Line one\nline two", "ends with a newline\n", "carriage\rreturn", "x\u2028y"])
def test_multi_line_description_is_refused(outputs_file: Path, description: str) -> None:
    result = invoke(*create_args(outputs_file, "--dry-run", "--description", description))
    assert result.exit_code == 2
    assert "TaskDescription" in result.stderr and "one line" in result.stderr


def test_service_patterns_are_read_as_java_reads_them() -> None:
    model = botocore.session.get_session().get_service_model("sagemaker")
    human = model.operation_model("CreateLabelingJob").input_shape.members["HumanTaskConfig"]
    pattern = human.members["TaskDescription"].metadata["pattern"]
    assert pattern == ".+"
    assert re.fullmatch(job_command.java_pattern(pattern), "one line")
    assert not re.fullmatch(job_command.java_pattern(pattern), "two\nlines")
    assert job_command.java_pattern(r"[.]\.x.") == r"[.]\.x" + job_command._JAVA_DOT
    title = human.members["TaskTitle"].metadata["pattern"]
    assert re.fullmatch(job_command.java_pattern(title), "Check\tthe labels")
