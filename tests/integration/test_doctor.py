"""``bulkqa doctor`` and the same checks inside ``bulkqa job create``, against moto (in-process).

moto has no ``iam:SimulatePrincipalPolicy``, so these runs exercise the fallback that reads the
role's policy documents; ``test_simulation_results_are_used_when_available`` covers the simulation
path with botocore's Stubber on the real IAM model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from typer.testing import CliRunner

from bulkqa import job_command
from bulkqa.cli import app
from bulkqa.doctor_command import read_decisions
from handlers.aws_clients import make_client
from handlers.rounds import BatchDocument, BatchEntry, documents_text, manifest_key

ACCOUNT = "123456789012"
ROLE = "bulkqa-gt-role"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
OTHER = "vendor-images"
WORKTEAM = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:workteam/private-crowd/bulkqa"
GT_CORS = {
    "CORSRules": [
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["*"], "ExposeHeaders": ["Access-Control-Allow-Origin"]}
    ]
}


def _read_policy(*buckets: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": [f"arn:aws:s3:::{b}/*" for b in buckets]}
            ],
        }
    )


@pytest.fixture
def stack(qa_stack: Any, tmp_path: Path) -> dict[str, Any]:
    """A round whose part 1 has images in the QA bucket (all fine) and in another bucket (no CORS,
    not readable by the role, one image missing); part 2 only the QA bucket's."""
    s3, bucket = qa_stack.s3, qa_stack.bucket
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=GT_CORS)
    s3.create_bucket(Bucket=OTHER)
    for i in range(4):
        s3.put_object(Bucket=bucket, Key=f"images/cat-{i}.jpg", Body=b"jpg")
    for i in range(3):  # dog-3 is referenced but was never uploaded
        s3.put_object(Bucket=OTHER, Key=f"dogs/dog-{i}.jpg", Body=b"jpg")
    cats = tuple(BatchEntry(f"s3://{bucket}/images/cat-{i}.jpg", "Cat", 90.0 + i) for i in range(4))
    dogs = tuple(BatchEntry(f"s3://{OTHER}/dogs/dog-{i}.jpg", "Dog", 85.0 + i) for i in range(4))
    part1 = [BatchDocument("r1", 1, 1, "Cat", cats), BatchDocument("r1", 1, 2, "Dog", dogs)]
    part2 = [BatchDocument("r1", 2, 1, "Cat", cats[:2])]
    s3.put_object(Bucket=bucket, Key=manifest_key("r1", 1), Body=documents_text(part1).encode())
    s3.put_object(Bucket=bucket, Key=manifest_key("r1", 2), Body=documents_text(part2).encode())
    iam = make_client("iam")
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    iam.put_role_policy(RoleName=ROLE, PolicyName="read", PolicyDocument=_read_policy(bucket))
    outputs = {
        "bucket_name": bucket,
        "table_name": qa_stack.table,
        "ui_template_uri": f"s3://{bucket}/templates/bulkqa.liquid.html",
        "output_path": f"s3://{bucket}/output/",
        "pre_labeling_function_arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:pre",
        "post_labeling_function_arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:post",
        "ground_truth_role_arn": ROLE_ARN,
    }
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    return {"s3": s3, "iam": iam, "bucket": bucket, "outputs": path}


def fix_everything(stack: dict[str, Any]) -> None:
    stack["s3"].put_bucket_cors(Bucket=OTHER, CORSConfiguration=GT_CORS)
    stack["s3"].put_object(Bucket=OTHER, Key="dogs/dog-3.jpg", Body=b"jpg")
    stack["iam"].put_role_policy(RoleName=ROLE, PolicyName="read", PolicyDocument=_read_policy(stack["bucket"], OTHER))


def test_doctor_reports_each_problem_per_bucket(stack: dict[str, Any]) -> None:
    result = CliRunner().invoke(app, ["doctor", "--outputs", str(stack["outputs"]), "--round", "r1"])
    assert result.exit_code == 2, result.output
    out = result.stdout
    qa_section, other_section = out.split(f"bucket {stack['bucket']}")[1].split(f"bucket {OTHER}")
    assert "FAIL" not in qa_section and qa_section.count("ok") == 3
    assert "FAIL CORS rule for Ground Truth: no CORS configuration" in other_section
    assert f"role {ROLE} is not allowed s3:GetObject" in other_section
    assert f"s3://{OTHER}/dogs/dog-3.jpg" in other_section and "1 of 4 sampled image(s) missing" in other_section
    assert "manifest-0001.jsonl" in out and "manifest-0002.jsonl" in out  # every part by default
    assert all(len(line) <= 80 for line in out.splitlines())


def test_doctor_passes_once_fixed(stack: dict[str, Any]) -> None:
    fix_everything(stack)
    result = CliRunner().invoke(app, ["doctor", "--outputs", str(stack["outputs"]), "--round", "r1"])
    assert result.exit_code == 0, result.output
    assert "Ground Truth can show these images." in result.stdout


def test_doctor_part_and_unknown_round(stack: dict[str, Any]) -> None:
    only_part2 = CliRunner().invoke(app, ["doctor", "--outputs", str(stack["outputs"]), "--round", "r1", "--part", "2"])
    assert only_part2.exit_code == 0, only_part2.output  # part 2 holds only the QA bucket's images
    missing = CliRunner().invoke(app, ["doctor", "--outputs", str(stack["outputs"]), "--round", "r9"])
    assert missing.exit_code == 2 and "'r9' has no manifest part" in missing.stderr
    bad_name = CliRunner().invoke(app, ["doctor", "--outputs", str(stack["outputs"]), "--round", "../x"])
    assert bad_name.exit_code == 2 and "not valid" in bad_name.stderr


@pytest.fixture
def sagemaker(monkeypatch: pytest.MonkeyPatch, stack: dict[str, Any]):
    client = boto3.client("sagemaker", region_name="us-east-1")
    stubber = Stubber(client)
    monkeypatch.setattr(job_command, "sagemaker_client", lambda endpoint_url, region: client)
    with stubber:
        yield stubber
    stubber.assert_no_pending_responses()


def _create(stack: dict[str, Any], *extra: str) -> Any:
    return CliRunner().invoke(
        app,
        ["job", "create", "--outputs", str(stack["outputs"]), "--name", "r1", "--workteam-arn", WORKTEAM, *extra],
    )


def test_job_create_checks_first_and_creates_nothing_on_a_failure(stack: dict[str, Any], sagemaker: Stubber) -> None:
    result = _create(stack, "--round", "r1", "--part", "1")  # no response queued: a create call would fail
    assert result.exit_code == 2, result.output
    assert "No job was created" in result.stderr and "FAIL" in result.stderr


def test_job_create_uses_the_rounds_latest_part_by_default(stack: dict[str, Any], sagemaker: Stubber) -> None:
    dry = _create(stack, "--round", "r1", "--dry-run")
    assert dry.exit_code == 0, dry.output
    uri = json.loads(dry.stdout)["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"]
    assert uri == f"s3://{stack['bucket']}/{manifest_key('r1', 2)}"

    fix_everything(stack)
    expected = json.loads(_create(stack, "--round", "r1", "--part", "1", "--dry-run").stdout)
    assert expected["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"].endswith("manifest-0001.jsonl")
    sagemaker.add_response("create_labeling_job", {"LabelingJobArn": "arn:job"}, expected_params=expected)
    created = _create(stack, "--round", "r1", "--part", "1")
    assert created.exit_code == 0, created.output
    assert created.stdout.strip() == "arn:job"


def test_job_create_round_errors(stack: dict[str, Any]) -> None:
    assert _create(stack, "--part", "1", "--dry-run").exit_code == 2  # --part needs --round
    result = _create(stack, "--round", "r1", "--part", "7", "--dry-run")
    assert result.exit_code == 2 and "no manifest part 7 (parts: 1, 2)" in result.stderr


def test_simulation_results_are_used_when_available() -> None:
    iam = boto3.client("iam", region_name="us-east-1")
    arns = ["arn:aws:s3:::b/a.jpg", "arn:aws:s3:::b/b.jpg"]
    with Stubber(iam) as stubber:
        stubber.add_response(
            "simulate_principal_policy",
            {
                "EvaluationResults": [
                    {"EvalActionName": "s3:GetObject", "EvalResourceName": arns[0], "EvalDecision": "allowed"},
                    {"EvalActionName": "s3:GetObject", "EvalResourceName": arns[1], "EvalDecision": "explicitDeny"},
                ]
            },
            {"PolicySourceArn": ROLE_ARN, "ActionNames": ["s3:GetObject"], "ResourceArns": arns},
        )
        decisions, how = read_decisions(iam, ROLE_ARN, arns)
    assert decisions == {arns[0]: "allowed", arns[1]: "denied"}
    assert how == "IAM policy simulation"
