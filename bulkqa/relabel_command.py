"""``bulkqa relabel create|import``: correct what the workers rejected with a built-in job.

``create`` selects the round's rejected images, writes the job's manifest, label categories and
worker template under ``rounds/<round>/relabel/<name>/`` (once, never rewritten) and creates a
Ground Truth labeling job of the built-in single-label image classification task -- the region's
``PRE-ImageMultiClass`` / ``ACS-ImageMultiClass`` functions and a ``crowd-image-classifier``
template given as ``UiTemplateS3Uri`` (the API reference says built-in image tasks take a template
URI; ``HumanTaskUiArn`` is for NER, point cloud and video tasks). The request is checked against
the SageMaker service model before anything is written.
``import`` reads the job's output manifest and records each image's corrected class on its
rejected pairs, idempotently.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bulkqa.analysis.records import Policy
from bulkqa.aws import AwsSetupError, AwsUnreachableError, clients, describe_aws_error, region_from_outputs
from bulkqa.job_command import (
    OUTPUT_OUTPUT_PATH,
    OUTPUT_ROLE_ARN,
    StackOutputsError,
    read_outputs_file,
    request_problems,
    sagemaker_client,
    validate_job_name,
)
from bulkqa.relabel import plan
from bulkqa.relabel.output_manifest import parse_output_manifest
from bulkqa.relabel.regions import UnsupportedRegionError, image_classification_functions
from bulkqa.relabel.store import (
    ImmutableObjectError,
    RoundNotFoundError,
    put_once,
    read_round_pairs,
    record_corrections,
    relabel_prefix,
)
from handlers.rounds import RoundNameError, validate_round_name
from handlers.s3_uri import parse_s3_uri
from worker_template import RELABEL_TEMPLATE_PATH

app = typer.Typer(
    help="Correct rejected images: a chained Ground Truth image classification job.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

DEFAULT_LABEL_ATTRIBUTE = "corrected-class"
DEFAULT_TITLE = "What does this image really show?"
DEFAULT_DESCRIPTION = "Reviewers rejected the label a model gave this image. Choose the category it really shows."
DEFAULT_TASK_TIME_LIMIT = 300
DEFAULT_AVAILABILITY = 259_200


class RelabelError(ValueError):
    """A user-facing problem: printed as one line, exit 2."""


def _fail(console: Console, message: str, code: int = 2) -> typer.Exit:
    console.print(f"[bold red]error:[/bold red] {escape(message)}")
    return typer.Exit(code)


def _round(value: str) -> str:
    try:
        return validate_round_name(value)
    except RoundNameError as err:
        raise typer.BadParameter(str(err)) from err


def _region(option: str | None, outputs: dict[str, Any], client: Any) -> str:
    region = option or region_from_outputs(outputs) or client.meta.region_name
    if not region:
        raise RelabelError("no AWS region: pass --region or set AWS_REGION")
    return str(region)


def build_request(
    *,
    name: str,
    region: str,
    role_arn: str,
    workteam_arn: str,
    manifest_uri: str,
    categories_uri: str,
    template_uri: str,
    output_path: str,
    workers_per_object: int,
    task_availability: int,
    label_attribute_name: str = DEFAULT_LABEL_ATTRIBUTE,
) -> dict[str, Any]:
    """The CreateLabelingJob request of the built-in single-label image classification task (pure)."""
    functions = image_classification_functions(region)
    return {
        "LabelingJobName": name,
        "LabelAttributeName": label_attribute_name,
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": manifest_uri}}},
        "OutputConfig": {"S3OutputPath": output_path},
        "RoleArn": role_arn,
        "LabelCategoryConfigS3Uri": categories_uri,
        "HumanTaskConfig": {
            "WorkteamArn": workteam_arn,
            "UiConfig": {"UiTemplateS3Uri": template_uri},
            "PreHumanTaskLambdaArn": functions.pre_human_task_lambda_arn,
            "TaskTitle": DEFAULT_TITLE,
            "TaskDescription": DEFAULT_DESCRIPTION,
            "NumberOfHumanWorkersPerDataObject": workers_per_object,
            "TaskTimeLimitInSeconds": DEFAULT_TASK_TIME_LIMIT,
            "TaskAvailabilityLifetimeInSeconds": task_availability,
            "AnnotationConsolidationConfig": {
                "AnnotationConsolidationLambdaArn": functions.annotation_consolidation_lambda_arn
            },
        },
    }


@app.command("create")
def create(
    round_name: Annotated[
        str, typer.Option("--round", help="The round whose rejected images to relabel.", callback=_round)
    ],
    outputs_file: Annotated[
        Path, typer.Option("--outputs", help="JSON of `pulumi stack output --json`.", exists=True, dir_okay=False)
    ],
    name: Annotated[
        str, typer.Option(help="Labeling job name (1-63 letters, digits, dashes).", callback=validate_job_name)
    ],
    workteam_arn: Annotated[str, typer.Option(help="The work team ARN.")],
    policy: Annotated[Policy, typer.Option(help="How votes decide that a label was rejected.")] = Policy.UNANIMOUS,
    include_split: Annotated[bool, typer.Option("--include-split", help="Also relabel split or tied images.")] = False,
    categories_file: Annotated[
        Path | None,
        typer.Option(
            "--categories", help="Categories, one per line (default: the round's classes).", exists=True, dir_okay=False
        ),
    ] = None,
    workers_per_object: Annotated[int, typer.Option(min=1, max=9, help="Workers per image.")] = 3,
    task_availability: Annotated[
        int, typer.Option(min=60, max=2_592_000, help="Seconds a task stays available.")
    ] = DEFAULT_AVAILABILITY,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and request; write nothing.")] = False,
    table: Annotated[str | None, typer.Option(help="QA table (default: table_name in --outputs).")] = None,
    endpoint_url: Annotated[str | None, typer.Option(help="AWS endpoint, e.g. an emulator's URL.")] = None,
    region: Annotated[str | None, typer.Option(help="AWS region (default: outputs, then your AWS config).")] = None,
) -> None:
    """Create the relabel job for a round's rejected images."""
    console = Console(stderr=True)
    try:
        outputs = read_outputs_file(outputs_file)
        table_name = table or outputs.get("table_name")
        bucket = outputs.get("bucket_name")
        if not table_name or not bucket or not outputs.get(OUTPUT_ROLE_ARN) or not outputs.get(OUTPUT_OUTPUT_PATH):
            needed = f"table_name, bucket_name, {OUTPUT_ROLE_ARN} and {OUTPUT_OUTPUT_PATH}"
            raise RelabelError(f"{outputs_file} must give {needed}")
        region = region or region_from_outputs(outputs)
        s3, ddb = clients("s3", "dynamodb", endpoint_url=endpoint_url, region=region, interactive=True)
        sagemaker = sagemaker_client(endpoint_url, region)
        job_region = _region(region, outputs, sagemaker)
        image_classification_functions(job_region)  # an unsupported region fails before any request
        pairs = read_round_pairs(ddb, str(table_name), round_name)
        rejected = plan.select_rejected([p.reviewed() for p in pairs], policy, include_split=include_split)
        manifest = plan.manifest_text(rejected, round_name)
        if categories_file is not None:
            names = plan.read_categories_file(
                categories_file.read_text(encoding="utf-8-sig"), source=str(categories_file)
            )
        else:
            names = [p.label for p in pairs]
        category_names = plan.categories(names)
        rejected_labels = sorted({label for entry in rejected for label in entry.rejected_labels})
        template = plan.render_template(RELABEL_TEMPLATE_PATH.read_text(encoding="utf-8"), rejected_labels)
        prefix = relabel_prefix(round_name, name)
        keys = {
            "manifest": prefix + "manifest.jsonl",
            "categories": prefix + "categories.json",
            "template": prefix + "template.liquid.html",
        }
        request = build_request(
            name=name,
            region=job_region,
            role_arn=str(outputs[OUTPUT_ROLE_ARN]),
            workteam_arn=workteam_arn,
            manifest_uri=f"s3://{bucket}/{keys['manifest']}",
            categories_uri=f"s3://{bucket}/{keys['categories']}",
            template_uri=f"s3://{bucket}/{keys['template']}",
            output_path=str(outputs[OUTPUT_OUTPUT_PATH]),
            workers_per_object=workers_per_object,
            task_availability=task_availability,
        )
    except (StackOutputsError, RelabelError, plan.RelabelPlanError, UnsupportedRegionError, RoundNotFoundError) as err:
        raise _fail(console, str(err)) from err
    except (ClientError, BotoCoreError, AwsSetupError, AwsUnreachableError) as err:
        raise _fail(console, f"AWS error: {describe_aws_error(err)}", getattr(err, "exit_code", 3)) from err
    problems = request_problems(request)
    if problems:
        console.print("[bold red]the request would be refused:[/bold red]")
        for problem in problems:
            console.print(f"  {escape(problem)}")
        raise typer.Exit(2)
    summary = Table(title=f"Relabel round {escape(round_name)}", show_header=True)
    summary.add_column("Rejected label", overflow="fold")
    summary.add_column("Images", justify="right")
    for label in rejected_labels:
        summary.add_row(escape(label), str(sum(label in entry.rejected_labels for entry in rejected)))
    console.print(summary)
    console.print(f"{len(rejected)} image(s), {len(category_names)} categories (with {escape(plan.NONE_OF_THESE)!r}).")
    if dry_run:
        print(json.dumps(request, indent=2, ensure_ascii=False))
        return
    try:
        put_once(s3, str(bucket), keys["manifest"], manifest.encode("utf-8"), "application/jsonlines")
        put_once(
            s3,
            str(bucket),
            keys["categories"],
            plan.categories_document(category_names).encode("utf-8"),
            "application/json",
        )
        put_once(s3, str(bucket), keys["template"], template.encode("utf-8"), "text/html")
        response = sagemaker.create_labeling_job(**request)
    except ImmutableObjectError as err:
        raise _fail(console, str(err)) from err
    except (ClientError, BotoCoreError, AwsSetupError, AwsUnreachableError) as err:
        raise _fail(console, f"AWS error: {describe_aws_error(err)}", getattr(err, "exit_code", 3)) from err
    print(response["LabelingJobArn"])


def _output_manifest_uri(sagemaker: Any, job: str) -> str:
    described = sagemaker.describe_labeling_job(LabelingJobName=job)
    uri = described.get("LabelingJobOutput", {}).get("OutputDatasetS3Uri")
    if not uri:
        raise RelabelError(f"job {job} has no output manifest yet (status {described.get('LabelingJobStatus')})")
    return str(uri)


@app.command("import")
def import_(
    round_name: Annotated[str, typer.Option("--round", help="The round the relabel job corrected.", callback=_round)],
    job: Annotated[str | None, typer.Option(help="The relabel job's name (its output manifest is read).")] = None,
    output_manifest: Annotated[str | None, typer.Option(help="Or the output manifest's s3:// URI.")] = None,
    outputs_file: Annotated[
        Path | None,
        typer.Option("--outputs", help="JSON of `pulumi stack output --json`.", exists=True, dir_okay=False),
    ] = None,
    table: Annotated[str | None, typer.Option(help="QA table (default: table_name in --outputs).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    endpoint_url: Annotated[str | None, typer.Option(help="AWS endpoint, e.g. an emulator's URL.")] = None,
    region: Annotated[str | None, typer.Option(help="AWS region (default: your AWS configuration).")] = None,
) -> None:
    """Record the relabel job's answers: each rejected image's corrected class."""
    console = Console(stderr=True)
    try:
        if (job is None) == (output_manifest is None):
            raise RelabelError("give exactly one of --job NAME and --output-manifest s3://...")
        outputs = read_outputs_file(outputs_file) if outputs_file else {}
        table_name = table or outputs.get("table_name")
        if not table_name:
            raise RelabelError("give --table or --outputs with table_name")
        region = region or region_from_outputs(outputs)
        s3, ddb = clients("s3", "dynamodb", endpoint_url=endpoint_url, region=region, interactive=True)
        uri = output_manifest or _output_manifest_uri(sagemaker_client(endpoint_url, region), str(job))
        location = parse_s3_uri(uri)
        text = s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read().decode("utf-8")
        parsed = parse_output_manifest(text, round_name=round_name, source=uri)
        result = record_corrections(ddb, str(table_name), parsed.corrections)
    except (StackOutputsError, RelabelError, ValueError) as err:
        raise _fail(console, str(err)) from err
    except (ClientError, BotoCoreError, AwsSetupError, AwsUnreachableError) as err:
        raise _fail(console, f"AWS error: {describe_aws_error(err)}", getattr(err, "exit_code", 3)) from err
    summary = {
        "round": round_name,
        "output_manifest": uri,
        "images": len(parsed.corrections),
        "recorded": result.recorded,
        "unchanged": result.unchanged,
        "conflicts": result.conflicts,
        "missing_pairs": result.missing,
        "problems": parsed.problems,
    }
    if json_out:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        console.print(
            f"{len(parsed.corrections)} image(s) answered: {result.recorded} correction(s) recorded, "
            f"{result.unchanged} already recorded."
        )
        for line in [*parsed.problems, *result.conflicts, *(f"{m}: no such pair" for m in result.missing)]:
            console.print(f"  [yellow]![/yellow] {escape(line)}")
    if parsed.problems or result.conflicts or result.missing:
        raise typer.Exit(1 if parsed.corrections else 2)
