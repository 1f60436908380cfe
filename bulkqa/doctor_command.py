"""``bulkqa doctor``: before a labeling job, check that Ground Truth can show every image.

For each bucket the manifest references: Ground Truth's CORS rule, the Ground Truth role's read
access (``iam:SimulatePrincipalPolicy``, or the role's policy documents evaluated by
``bulkqa.access_checks`` where simulation is not available), and a sample of the objects (HEAD).
``bulkqa job create`` runs the same checks before it creates anything.

Everything here is read-only. The decisions are in ``bulkqa.access_checks``; this module fetches.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote

import typer
from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table

from bulkqa.access_checks import (
    DEFAULT_SAMPLE,
    READ_ACTION,
    UNKNOWN,
    AccessReport,
    BucketReport,
    cors_check,
    evaluate_policies,
    images_by_bucket,
    object_arn,
    objects_check,
    role_read_check,
    sample,
)
from bulkqa.aws import aws_errors, clients, describe_aws_error, region_from_outputs
from bulkqa.manifests import ManifestTask, choose_parts, list_round_parts, manifest_uri, read_tasks

# Options `job create` and `doctor` share (the checks are the same; so are their knobs).
SampleOption = Annotated[int, typer.Option("--sample", min=1, max=1000, help="Images checked to exist, per bucket.")]
EndpointOption = Annotated[str | None, typer.Option(help="AWS endpoint, e.g. an emulator's URL.")]
StackRegionOption = Annotated[
    str | None, typer.Option(help="AWS region (default: the stack's, from its ARNs, or your AWS configuration).")
]

OUTPUT_BUCKET = "bucket_name"
OUTPUT_MANIFEST_URI = "manifest_uri"
OUTPUT_ROLE_ARN = "ground_truth_role_arn"
_SIMULATION_DECISIONS = {"allowed": "allowed", "explicitDeny": "denied", "implicitDeny": "not allowed"}


class DoctorInputError(ValueError):
    """The outputs or options do not say what to check."""


# --- Fetching ------------------------------------------------------------------------------------


def _error_code(error: BaseException) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def fetch_cors_rules(s3: Any, bucket: str) -> list[dict[str, Any]] | None:
    """The bucket's CORS rules; [] without a configuration; None if we may not read it."""
    try:
        return list(s3.get_bucket_cors(Bucket=bucket).get("CORSRules", []))
    except aws_errors() as error:
        if _error_code(error) == "NoSuchCORSConfiguration":
            return []
        if _error_code(error) in ("AccessDenied", "403", "NoSuchBucket"):
            return None
        raise


def role_policy_documents(iam: Any, role_arn: str) -> list[dict[str, Any]]:
    """The role's inline and attached managed policy documents."""
    role = role_arn.rsplit("/", 1)[-1]
    documents: list[dict[str, Any]] = []
    for page in iam.get_paginator("list_role_policies").paginate(RoleName=role):
        for name in page.get("PolicyNames", []):
            documents.append(_document(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]))
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=role):
        for attached in page.get("AttachedPolicies", []):
            policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
            version = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"])
            documents.append(_document(version["PolicyVersion"]["Document"]))
    return documents


def _document(value: Any) -> dict[str, Any]:
    """IAM returns documents URL-encoded JSON text (boto3 usually decodes them already)."""
    if isinstance(value, str):
        return json.loads(unquote(value))
    return dict(value)


def read_decisions(iam: Any, role_arn: str, arns: list[str]) -> tuple[dict[str, str], str]:
    """object ARN -> verdict for the role's ``s3:GetObject``, and how it was decided."""
    if not arns:
        return {}, "nothing to check"
    try:
        results = iam.simulate_principal_policy(PolicySourceArn=role_arn, ActionNames=[READ_ACTION], ResourceArns=arns)
        decisions = {
            r["EvalResourceName"]: _SIMULATION_DECISIONS.get(r["EvalDecision"], UNKNOWN)
            for r in results.get("EvaluationResults", [])
        }
        if set(decisions) == set(arns):
            return decisions, "IAM policy simulation"
    except (*aws_errors(), NotImplementedError):
        pass  # not available here (moto raises NotImplementedError) or not allowed: read the documents
    try:
        documents = role_policy_documents(iam, role_arn)
    except aws_errors() as error:
        return dict.fromkeys(arns, UNKNOWN), f"cannot read the role's policies: {describe_aws_error(error)}"
    return {arn: evaluate_policies(documents, READ_ACTION, arn) for arn in arns}, "the role's policy documents"


def head_objects(s3: Any, bucket: str, keys: list[str]) -> dict[str, bool | None]:
    found: dict[str, bool | None] = {}
    for key in keys:
        try:
            s3.head_object(Bucket=bucket, Key=key)
            found[key] = True
        except aws_errors() as error:
            code = _error_code(error)
            if code in ("404", "NoSuchKey", "NotFound", "NoSuchBucket"):
                found[key] = False
            elif code in ("403", "AccessDenied", "Forbidden"):
                found[key] = None
            else:
                raise
    return found


def check_access(
    s3: Any, iam: Any, role_arn: str, tasks: list[ManifestTask], sample_size: int = DEFAULT_SAMPLE
) -> AccessReport:
    """Every check for every bucket the tasks' images are in."""
    urls = [entry.s3_image_url for task in tasks if task.page for entry in task.page.entries]
    buckets, bad = images_by_bucket(urls)
    report = AccessReport([])
    if bad:
        listed = ", ".join(repr(u) for u in bad[:3])
        report.problems.append(
            f"{len(bad)} image reference(s) are not s3:// objects Ground Truth can read, e.g. {listed}"
        )
    partition = role_arn.split(":")[1] if role_arn.count(":") >= 5 else "aws"
    for bucket, keys in buckets.items():
        picked = sample(keys, sample_size)
        entry = BucketReport(bucket, len(keys))
        entry.checks.append(cors_check(fetch_cors_rules(s3, bucket)))
        decisions, how = read_decisions(iam, role_arn, [object_arn(bucket, k, partition) for k in picked])
        entry.checks.append(role_read_check(role_arn, decisions, how))
        entry.checks.append(objects_check(head_objects(s3, bucket, picked), bucket, len(keys)))
        report.buckets.append(entry)
    return report


def manifest_uris(
    s3: Any, outputs: dict[str, Any], round_name: str | None, part: int | None, *, every: bool
) -> list[str]:
    """The manifest(s) to check: the round's part(s), else the stack's ``manifest_uri``."""
    if round_name is None:
        if part is not None:
            raise DoctorInputError("--part needs --round")
        uri = outputs.get(OUTPUT_MANIFEST_URI)
        if not uri:
            raise DoctorInputError(f"the stack outputs lack {OUTPUT_MANIFEST_URI}: give --round ROUND")
        return [str(uri)]
    bucket = outputs.get(OUTPUT_BUCKET)
    if not bucket:
        raise DoctorInputError(f"the stack outputs lack {OUTPUT_BUCKET}, needed with --round")
    parts = choose_parts(list_round_parts(s3, str(bucket), round_name), round_name, part, every=every)
    return [manifest_uri(str(bucket), round_name, p) for p in parts]


def print_report(console: Console, report: AccessReport, manifests: list[str]) -> None:
    console.print(f"Checked {len(manifests)} manifest(s):", highlight=False)
    for uri in manifests:
        console.print(f"  {escape(uri)}", highlight=False)
    for problem in report.problems:
        console.print(f"[bold red]FAIL[/bold red] {escape(problem)}", highlight=False)
    marks = {True: "[green]ok[/green]", False: "[bold red]FAIL[/bold red]", None: "[yellow]??[/yellow]"}
    for bucket in report.buckets:
        console.print(f"bucket [bold]{escape(bucket.bucket)}[/bold] ({bucket.images} image(s))", highlight=False)
        grid = Table.grid(padding=(0, 1))  # wrapped details stay under their check, not under the mark
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        for check in bucket.checks:
            grid.add_row(marks[check.ok], f"{escape(check.name)}: {escape(check.detail)}")
        console.print(Padding(grid, (0, 0, 0, 2)), highlight=False)
    if report.ok:
        console.print("Ground Truth can show these images.", highlight=False)
    else:
        console.print("[bold red]Ground Truth could not show some images: fix the above first.[/bold red]")


def read_outputs(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DoctorInputError(f"cannot read the stack outputs {path}: {err}") from err
    if not isinstance(data, dict):
        raise DoctorInputError(f"{path}: expected the JSON object of `pulumi stack output --json`")
    return data


def run_checks(
    outputs: dict[str, Any],
    *,
    round_name: str | None,
    part: int | None,
    every: bool,
    sample_size: int,
    endpoint_url: str | None,
    region: str | None,
    manifests: list[str] | None = None,
) -> tuple[AccessReport, list[str]]:
    """Fetch the manifest(s) and check them (``manifests`` given: those, not the round's)."""
    role_arn = outputs.get(OUTPUT_ROLE_ARN)
    if not role_arn:
        raise DoctorInputError(f"the stack outputs lack {OUTPUT_ROLE_ARN}")
    region = region or region_from_outputs(outputs)
    s3, iam = clients("s3", "iam", endpoint_url=endpoint_url, region=region, interactive=True)
    uris = manifests or manifest_uris(s3, outputs, round_name, part, every=every)
    tasks = [task for uri in uris for task in read_tasks(s3, uri)]
    return check_access(s3, iam, str(role_arn), tasks, sample_size), uris


# --- The command ---------------------------------------------------------------------------------


def doctor(
    outputs_file: Annotated[
        Path, typer.Option("--outputs", help="JSON of `pulumi stack output --json`.", exists=True, dir_okay=False)
    ],
    round_name: Annotated[
        str | None, typer.Option("--round", help="Check this round's manifest (default: the stack's manifest_uri).")
    ] = None,
    part: Annotated[
        int | None, typer.Option(min=1, help="Only this manifest part of the round (default: every part).")
    ] = None,
    sample_size: SampleOption = DEFAULT_SAMPLE,
    endpoint_url: EndpointOption = None,
    region: StackRegionOption = None,
) -> None:
    """Check that Ground Truth can show every image a round's manifest references.

    For each bucket: Ground Truth's CORS rule, the Ground Truth role's read access and a sample of
    the images. Exit 0 when all pass, 2 when one fails, 3 on an AWS error.
    """
    console = Console()
    try:
        outputs = read_outputs(outputs_file)
        report, uris = run_checks(
            outputs,
            round_name=round_name,
            part=part,
            every=True,
            sample_size=sample_size,
            endpoint_url=endpoint_url,
            region=region,
        )
    except ValueError as err:  # DoctorInputError, ManifestError, a round name that cannot be one
        Console(stderr=True).print(f"[bold red]error:[/bold red] {escape(str(err))}", highlight=False)
        raise typer.Exit(2) from err
    print_report(console, report, uris)
    if not report.ok:
        raise typer.Exit(2)
