"""``bulkqa job create`` / ``bulkqa job status``: the Ground Truth labeling job of a QA round.

``create`` builds a ``CreateLabelingJob`` request for a custom task from the stack's outputs (the
JSON of ``pulumi stack output --json``, or ``--stack`` read through the Automation API when the
``pulumi`` CLI is installed), checks it against the SageMaker service model botocore ships
(required members, types, lengths, ranges and patterns -- the checks the service makes), and
sends it, or prints it with ``--dry-run``.

Before sending, it runs ``bulkqa doctor``'s checks on the manifest (CORS, the role's read access,
a sample of the images) and refuses on a failure: a job whose images Ground Truth cannot show
fails task by task, after it was created and paid for. It also applies the rules the service
model does not carry: the availability lifetime per workforce (30 days private/vendor, 12 hours
public) and, for the public workforce, a documented price and the content declaration.
"""

from __future__ import annotations

import json
import re
import shutil
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import botocore.session
import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bulkqa.access_checks import DEFAULT_SAMPLE
from bulkqa.aws import clients, describe_aws_error, region_from_outputs
from bulkqa.doctor_command import EndpointOption, SampleOption, StackRegionOption

app = typer.Typer(
    help="Create the Ground Truth labeling job from the stack's outputs and follow its progress.",
    no_args_is_help=True,
    add_completion=False,
)

# The stack outputs a job needs (names of the BulkQA component's outputs).
OUTPUT_MANIFEST_URI = "manifest_uri"
OUTPUT_OUTPUT_PATH = "output_path"
OUTPUT_ROLE_ARN = "ground_truth_role_arn"
OUTPUT_UI_TEMPLATE_URI = "ui_template_uri"
OUTPUT_PRE_LABELING_ARN = "pre_labeling_function_arn"
OUTPUT_POST_LABELING_ARN = "post_labeling_function_arn"
REQUIRED_OUTPUTS = (
    OUTPUT_MANIFEST_URI,
    OUTPUT_OUTPUT_PATH,
    OUTPUT_ROLE_ARN,
    OUTPUT_UI_TEMPLATE_URI,
    OUTPUT_PRE_LABELING_ARN,
    OUTPUT_POST_LABELING_ARN,
)

# The service's rule for LabelingJobName (also in the service model); matched in full.
JOB_NAME_PATTERN = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
DEFAULT_LABEL_ATTRIBUTE = "bulkqa"
DEFAULT_TITLE = "Check the labels: untick every image that does not show the label"
DEFAULT_DESCRIPTION = (
    "Each page shows images the model labelled with one class. Leave an image ticked if it shows "
    "that class, untick it if it does not."
)
DEFAULT_TASK_TIME_LIMIT = 600  # seconds a worker has for one page
DEFAULT_AVAILABILITY = 259_200  # seconds a page stays available to the workers: 3 days
MAX_CUSTOM_TASK_TIME_LIMIT = 28_800  # custom labeling workflows: at most 8 hours per task
# TaskAvailabilityLifetimeInSeconds (the service model's documentation): at most 12 hours for the
# public workforce (default 6 hours), 30 days for private and vendor work teams.
MAX_AVAILABILITY_PUBLIC = 43_200
DEFAULT_AVAILABILITY_PUBLIC = 21_600
MAX_AVAILABILITY_PRIVATE = 2_592_000
# PublicWorkforceTaskPrice: the prices (USD) the API reference lists for image classification,
# text classification and custom tasks. Any other amount is refused.
PUBLIC_CUSTOM_TASK_PRICES = tuple(
    Decimal(p)
    for p in (
        "0.012", "0.024", "0.036", "0.048", "0.060", "0.072", "0.120", "0.240",
        "0.360", "0.480", "0.600", "0.720", "0.840", "0.960", "1.080", "1.200",
    )
)  # fmt: skip
CONTENT_FREE_OF_PII = "FreeOfPersonallyIdentifiableInformation"
CONTENT_FREE_OF_ADULT = "FreeOfAdultContent"
WORKFORCE_PUBLIC, WORKFORCE_VENDOR, WORKFORCE_PRIVATE = "public", "vendor", "private"
# The service's Java regexes: "." does not match a line terminator there (it does with DOTALL here).
_JAVA_DOT = "[^\n\r\u0085\u2028\u2029]"


class StackOutputsError(ValueError):
    """The stack's outputs cannot be read or lack a value the job needs."""


def _service_model() -> Any:
    return botocore.session.get_session().get_service_model("sagemaker")


def model_problems(params: Any, shape: Any, path: str = "") -> list[str]:
    """Every way ``params`` breaks ``shape`` of the service model (botocore's own client-side
    validation checks required members, types and minimums; this adds maxima and patterns)."""
    problems: list[str] = []
    kind = shape.type_name
    meta = shape.metadata
    where = path or shape.name
    if kind == "structure":
        if not isinstance(params, dict):
            return [f"{where}: expected an object"]
        for name in shape.required_members:
            if name not in params:
                problems.append(f"{where}.{name}: required")
        for name, value in params.items():
            if name not in shape.members:
                problems.append(f"{where}.{name}: not a member of {shape.name}")
            else:
                problems += model_problems(value, shape.members[name], f"{where}.{name}")
    elif kind == "list":
        if not isinstance(params, list):
            return [f"{where}: expected a list"]
        if ("min" in meta and len(params) < meta["min"]) or ("max" in meta and len(params) > meta["max"]):
            problems.append(f"{where}: {len(params)} item(s), allowed {meta.get('min', 0)}-{meta.get('max', '∞')}")
        for i, value in enumerate(params):
            problems += model_problems(value, shape.member, f"{where}[{i}]")
    elif kind == "string":
        if not isinstance(params, str):
            return [f"{where}: expected a string"]
        if ("min" in meta and len(params) < meta["min"]) or ("max" in meta and len(params) > meta["max"]):
            problems.append(f"{where}: length {len(params)}, allowed {meta.get('min', 0)}-{meta.get('max', '∞')}")
        pattern = meta.get("pattern")
        if pattern and not re.fullmatch(java_pattern(pattern), params):
            problems.append(f"{where}: {params!r} does not match the service's pattern {pattern}")
        if shape.enum and params not in shape.enum:
            problems.append(f"{where}: {params!r} is not one of {shape.enum}")
    elif kind in ("integer", "long"):
        if not isinstance(params, int) or isinstance(params, bool):
            return [f"{where}: expected a whole number"]
        if ("min" in meta and params < meta["min"]) or ("max" in meta and params > meta["max"]):
            problems.append(f"{where}: {params}, allowed {meta.get('min', '-∞')}-{meta.get('max', '∞')}")
    return problems


def java_pattern(pattern: str) -> str:
    """The service model's (Java) regex for Python's ``re``: an unescaped ``.`` outside a character
    class matches anything but a line terminator, as in Java, so ``.+`` refuses a multi-line text."""
    out, escaped, in_class = [], False, False
    for char in pattern:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            out.append(char)
            escaped = True
        elif char == "[" and not in_class:
            in_class = True
            out.append(char)
        elif char == "]" and in_class:
            in_class = False
            out.append(char)
        elif char == "." and not in_class:
            out.append(_JAVA_DOT)
        else:
            out.append(char)
    return "".join(out)


def workforce(workteam_arn: str) -> str:
    """public (Amazon Mechanical Turk), vendor or private, from the work team ARN."""
    resource = workteam_arn.rsplit(":", 1)[-1]
    if resource.startswith("workteam/public-crowd/"):
        return WORKFORCE_PUBLIC
    if resource.startswith("workteam/vendor-crowd/"):
        return WORKFORCE_VENDOR
    return WORKFORCE_PRIVATE


def task_price(text: str) -> dict[str, Any]:
    """``PublicWorkforceTaskPrice`` for a price in USD, which must be one the API accepts."""
    try:
        amount: Decimal | None = Decimal(text.strip())
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount not in PUBLIC_CUSTOM_TASK_PRICES:
        allowed = ", ".join(str(p) for p in PUBLIC_CUSTOM_TASK_PRICES)
        raise typer.BadParameter(f"{text}: the public workforce accepts these prices (USD) per task: {allowed}")
    tenths = int(amount * 1000)
    return {
        "AmountInUsd": {"Dollars": tenths // 1000, "Cents": tenths % 1000 // 10, "TenthFractionsOfACent": tenths % 10}
    }


def workforce_problems(
    kind: str,
    *,
    availability: int,
    price: dict[str, Any] | None,
    free_of_pii: bool,
    free_of_adult_content: bool,
) -> list[str]:
    """The rules of each workforce the service model does not carry (pure)."""
    problems = []
    if kind == WORKFORCE_PUBLIC:
        if availability > MAX_AVAILABILITY_PUBLIC:
            problems.append(
                f"--task-availability {availability}: the public workforce allows at most "
                f"{MAX_AVAILABILITY_PUBLIC} s (12 hours)"
            )
        if price is None:
            problems.append("a public work team needs --price-per-task (USD per page, e.g. 0.036)")
        if not (free_of_pii and free_of_adult_content):
            problems.append(
                "a public work team shows the images to Amazon Mechanical Turk workers: declare "
                "--free-of-pii and --free-of-adult-content (only if true), or use a private team"
            )
    else:
        if availability > MAX_AVAILABILITY_PRIVATE:
            problems.append(
                f"--task-availability {availability}: a {kind} work team allows at most "
                f"{MAX_AVAILABILITY_PRIVATE} s (30 days)"
            )
        if price is not None:
            problems.append(f"--price-per-task is for the public workforce; this is a {kind} work team")
    return problems


def request_problems(request: dict[str, Any]) -> list[str]:
    shape = _service_model().operation_model("CreateLabelingJob").input_shape
    problems = model_problems(request, shape, "CreateLabelingJob")
    description = request.get("HumanTaskConfig", {}).get("TaskDescription")
    if isinstance(description, str) and re.search(_JAVA_DOT.replace("[^", "["), description):
        problems.append("TaskDescription: one line only (the service refuses a line break in it)")
    limit = request.get("HumanTaskConfig", {}).get("TaskTimeLimitInSeconds")
    if isinstance(limit, int) and limit > MAX_CUSTOM_TASK_TIME_LIMIT:
        problems.append(f"TaskTimeLimitInSeconds: {limit}, at most {MAX_CUSTOM_TASK_TIME_LIMIT} for a custom task")
    return problems


def validate_job_name(name: str) -> str:
    """The service's rule: 1-63 letters, digits and dashes, starting and ending with a letter or digit."""
    if not re.fullmatch(JOB_NAME_PATTERN, name):
        raise typer.BadParameter(
            f"{name!r}: 1-63 letters, digits and dashes, starting and ending with a letter or digit "
            f"(the service's pattern {JOB_NAME_PATTERN})"
        )
    return name


def read_outputs_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise StackOutputsError(f"cannot read the stack outputs {path}: {err}") from err
    if not isinstance(data, dict):
        raise StackOutputsError(f"{path}: expected the JSON object of `pulumi stack output --json`")
    return data


def read_stack_outputs(stack: str, work_dir: Path) -> dict[str, Any]:
    """The outputs of ``stack`` through the Automation API (needs the ``pulumi`` CLI)."""
    if shutil.which("pulumi") is None:
        raise StackOutputsError(
            "--stack needs the pulumi CLI, which is not installed here; "
            "save `pulumi stack output --json` to a file and pass --outputs FILE"
        )
    try:
        from pulumi import automation as auto
    except ImportError as err:
        raise StackOutputsError("--stack needs the pulumi package: pip install 'bulkqa[pulumi]'") from err
    try:
        selected = auto.select_stack(stack_name=stack, work_dir=str(work_dir))
        return {name: value.value for name, value in selected.outputs().items()}
    except Exception as err:  # the Automation API raises its own CommandError family
        raise StackOutputsError(f"cannot read the outputs of stack {stack!r}: {err}") from err


def job_inputs(outputs: dict[str, Any], *, manifest: str | None = None) -> dict[str, str]:
    """The outputs a job needs; ``manifest`` (a round's part) replaces the stack's ``manifest_uri``."""
    outputs = {**outputs, OUTPUT_MANIFEST_URI: manifest} if manifest else outputs
    missing = [key for key in REQUIRED_OUTPUTS if not outputs.get(key)]
    if missing:
        raise StackOutputsError(f"the stack outputs lack {', '.join(missing)}")
    secret = [key for key in REQUIRED_OUTPUTS if outputs[key] == "[secret]"]
    if secret:
        raise StackOutputsError(f"{', '.join(secret)} are secret: export them with --show-secrets")
    return {key: str(outputs[key]) for key in REQUIRED_OUTPUTS}


def build_request(
    outputs: dict[str, Any],
    *,
    name: str,
    workteam_arn: str,
    workers_per_object: int,
    title: str,
    description: str,
    task_time_limit: int,
    task_availability: int,
    label_attribute_name: str = DEFAULT_LABEL_ATTRIBUTE,
    max_concurrent_tasks: int | None = None,
    keywords: list[str] | None = None,
    manifest: str | None = None,
    price: dict[str, Any] | None = None,
    content_classifiers: list[str] | None = None,
) -> dict[str, Any]:
    """The ``CreateLabelingJob`` request of a custom task (pure)."""
    inputs = job_inputs(outputs, manifest=manifest)
    human: dict[str, Any] = {
        "WorkteamArn": workteam_arn,
        "UiConfig": {"UiTemplateS3Uri": inputs[OUTPUT_UI_TEMPLATE_URI]},
        "PreHumanTaskLambdaArn": inputs[OUTPUT_PRE_LABELING_ARN],
        "TaskTitle": title,
        "TaskDescription": description,
        "NumberOfHumanWorkersPerDataObject": workers_per_object,
        "TaskTimeLimitInSeconds": task_time_limit,
        "TaskAvailabilityLifetimeInSeconds": task_availability,
        "AnnotationConsolidationConfig": {"AnnotationConsolidationLambdaArn": inputs[OUTPUT_POST_LABELING_ARN]},
    }
    if keywords:
        human["TaskKeywords"] = keywords
    if max_concurrent_tasks is not None:
        human["MaxConcurrentTaskCount"] = max_concurrent_tasks
    if price is not None:
        human["PublicWorkforceTaskPrice"] = price
    input_config: dict[str, Any] = {"DataSource": {"S3DataSource": {"ManifestS3Uri": inputs[OUTPUT_MANIFEST_URI]}}}
    if content_classifiers:
        input_config["DataAttributes"] = {"ContentClassifiers": list(content_classifiers)}
    return {
        "LabelingJobName": name,
        "LabelAttributeName": label_attribute_name,
        "InputConfig": input_config,
        "OutputConfig": {"S3OutputPath": inputs[OUTPUT_OUTPUT_PATH]},
        "RoleArn": inputs[OUTPUT_ROLE_ARN],
        "HumanTaskConfig": human,
    }


def sagemaker_client(endpoint_url: str | None, region: str | None) -> Any:
    """The SageMaker client (tests replace this to attach botocore's Stubber)."""
    (client,) = clients("sagemaker", endpoint_url=endpoint_url, region=region, interactive=True)
    return client


def _label_attribute(value: str) -> str:
    if not re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,126}", value) or value.endswith(("-ref", "-metadata")):
        raise typer.BadParameter(
            f"{value!r}: letters, digits and dashes (at most 127), not ending in -ref or -metadata"
        )
    return value


@app.command("create")
def create(
    name: Annotated[
        str, typer.Option(help="Labeling job name: 1-63 letters, digits, dashes.", callback=validate_job_name)
    ],
    workteam_arn: Annotated[str, typer.Option(help="The work team (private, vendor or public) ARN.")],
    outputs_file: Annotated[
        Path | None,
        typer.Option("--outputs", help="JSON of `pulumi stack output --json`.", exists=True, dir_okay=False),
    ] = None,
    stack: Annotated[
        str | None, typer.Option(help="Read the outputs of this Pulumi stack (needs the pulumi CLI).")
    ] = None,
    work_dir: Annotated[Path, typer.Option(help="The Pulumi project folder, with --stack.")] = Path("."),
    round_name: Annotated[
        str | None,
        typer.Option("--round", help="Label this round's manifest (default: the stack's manifest_uri)."),
    ] = None,
    part: Annotated[
        int | None,
        typer.Option(min=1, help="With --round: this manifest part (default: the latest, i.e. the newest rows)."),
    ] = None,
    workers_per_object: Annotated[int, typer.Option(min=1, max=9, help="Workers who see each page.")] = 3,
    title: Annotated[str, typer.Option(help="Task title workers see.")] = DEFAULT_TITLE,
    description: Annotated[str, typer.Option(help="Task description workers see (one line).")] = DEFAULT_DESCRIPTION,
    task_time_limit: Annotated[
        int, typer.Option(min=30, max=MAX_CUSTOM_TASK_TIME_LIMIT, help="Seconds a worker has for one page.")
    ] = DEFAULT_TASK_TIME_LIMIT,
    task_availability: Annotated[
        int | None,
        typer.Option(
            min=60,
            max=MAX_AVAILABILITY_PRIVATE,
            help="Seconds a page stays available: up to 30 days for private and vendor teams (default 3 days), "
            "12 hours for the public workforce (default 6 hours).",
        ),
    ] = None,
    price_per_task: Annotated[
        str | None,
        typer.Option(help="Public workforce only: USD paid per page, one of the API's prices (0.012 ... 1.200)."),
    ] = None,
    free_of_pii: Annotated[
        bool, typer.Option("--free-of-pii", help="Declare the images free of personally identifiable information.")
    ] = False,
    free_of_adult_content: Annotated[
        bool, typer.Option("--free-of-adult-content", help="Declare the images free of adult content.")
    ] = False,
    max_concurrent_tasks: Annotated[
        int | None, typer.Option(min=1, max=5000, help="Pages out to workers at once.")
    ] = None,
    keyword: Annotated[list[str] | None, typer.Option(help="Task keyword (repeatable, up to 5).")] = None,
    label_attribute_name: Annotated[
        str, typer.Option(help="Key of the results in the output manifest.", callback=_label_attribute)
    ] = DEFAULT_LABEL_ATTRIBUTE,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the request; send nothing.")] = False,
    check: Annotated[
        bool | None,
        typer.Option(
            "--check/--no-check",
            help="Check CORS, the role's read access and the images first (default: on, off with --dry-run).",
        ),
    ] = None,
    sample_size: SampleOption = DEFAULT_SAMPLE,
    endpoint_url: EndpointOption = None,
    region: StackRegionOption = None,
) -> None:
    """Create the labeling job for a seeded round (a custom task with the stack's functions and template).

    Before creating it, checks that Ground Truth can show the images (as bulkqa doctor does) and
    refuses with exit 2 when it cannot.
    """
    from bulkqa.doctor_command import DoctorInputError, manifest_uris, print_report, run_checks

    console = Console(stderr=True)

    def fail(message: str, code: int = 2) -> typer.Exit:
        console.print(f"[bold red]error:[/bold red] {escape(message)}", highlight=False)
        return typer.Exit(code)

    if (outputs_file is None) == (stack is None):
        raise fail("give exactly one of --outputs FILE and --stack NAME")
    if part is not None and round_name is None:
        raise fail("--part needs --round")
    kind = workforce(workteam_arn)
    try:
        price = task_price(price_per_task) if price_per_task is not None else None
    except typer.BadParameter as err:
        raise fail(f"--price-per-task {err}") from err
    availability = task_availability or (
        DEFAULT_AVAILABILITY_PUBLIC if kind == WORKFORCE_PUBLIC else DEFAULT_AVAILABILITY
    )
    problems = workforce_problems(
        kind,
        availability=availability,
        price=price,
        free_of_pii=free_of_pii,
        free_of_adult_content=free_of_adult_content,
    )
    if problems:
        console.print(f"[bold red]the {kind} work team cannot take this job:[/bold red]")
        for problem in problems:
            console.print(f"  {escape(problem)}", highlight=False)
        raise typer.Exit(2)
    classifiers = [
        c for c, on in ((CONTENT_FREE_OF_PII, free_of_pii), (CONTENT_FREE_OF_ADULT, free_of_adult_content)) if on
    ]
    run_check = (not dry_run) if check is None else check
    try:
        outputs = read_outputs_file(outputs_file) if outputs_file else read_stack_outputs(str(stack), work_dir)
        region = region or region_from_outputs(outputs)
        manifest = None
        if round_name is not None:
            (s3,) = clients("s3", endpoint_url=endpoint_url, region=region, interactive=True)
            (manifest,) = manifest_uris(s3, outputs, round_name, part, every=False)
        request = build_request(
            outputs,
            name=name,
            workteam_arn=workteam_arn,
            workers_per_object=workers_per_object,
            title=title,
            description=description,
            task_time_limit=task_time_limit,
            task_availability=availability,
            label_attribute_name=label_attribute_name,
            max_concurrent_tasks=max_concurrent_tasks,
            keywords=keyword,
            manifest=manifest,
            price=price,
            content_classifiers=classifiers,
        )
    except (StackOutputsError, DoctorInputError, ValueError) as err:  # ValueError: a round name, a manifest
        raise fail(str(err)) from err
    except (ClientError, BotoCoreError) as err:
        raise fail(f"AWS: {describe_aws_error(err)}", 3) from err
    problems = request_problems(request)
    if problems:
        console.print("[bold red]the request would be refused:[/bold red]")
        for problem in problems:
            console.print(f"  {escape(problem)}", highlight=False)
        raise typer.Exit(2)
    if run_check:
        try:
            report, uris = run_checks(
                outputs,
                round_name=None,
                part=None,
                every=False,
                sample_size=sample_size,
                endpoint_url=endpoint_url,
                region=region,
                manifests=[request["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"]],
            )
        except ValueError as err:
            raise fail(str(err)) from err
        except (ClientError, BotoCoreError) as err:
            raise fail(f"AWS: {describe_aws_error(err)}", 3) from err
        if not report.ok:
            print_report(console, report, uris)
            console.print("No job was created (--no-check skips these checks).", highlight=False)
            raise typer.Exit(2)
    if dry_run:
        print(json.dumps(request, indent=2, ensure_ascii=False))
        return
    try:
        response = sagemaker_client(endpoint_url, region).create_labeling_job(**request)
    except (ClientError, BotoCoreError) as err:
        raise fail(f"AWS: {describe_aws_error(err)}", 3) from err
    print(response["LabelingJobArn"])


def _progress(counters: dict[str, int]) -> tuple[int, int]:
    done = counters.get("TotalLabeled", 0) + counters.get("FailedNonRetryableError", 0)
    return done, done + counters.get("Unlabeled", 0)


@app.command("status")
def status(
    name: Annotated[str, typer.Argument(help="Labeling job name.", callback=validate_job_name)],
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    endpoint_url: Annotated[str | None, typer.Option(help="AWS endpoint, e.g. an emulator's URL.")] = None,
    region: Annotated[str | None, typer.Option(help="AWS region (default: your AWS configuration).")] = None,
) -> None:
    """Show a labeling job's status and how many pages are labelled."""
    console = Console(stderr=json_out)
    try:
        job = sagemaker_client(endpoint_url, region).describe_labeling_job(LabelingJobName=name)
    except (ClientError, BotoCoreError) as err:
        console.print(f"[bold red]AWS error:[/bold red] {err}")
        raise typer.Exit(3) from err
    counters = job.get("LabelCounters", {})
    done, total = _progress(counters)
    summary = {
        "name": job.get("LabelingJobName", name),
        "status": job["LabelingJobStatus"],
        "labeled": counters.get("TotalLabeled", 0),
        "human_labeled": counters.get("HumanLabeled", 0),
        "failed": counters.get("FailedNonRetryableError", 0),
        "unlabeled": counters.get("Unlabeled", 0),
        "progress_pct": 100.0 * done / total if total else None,
        "created": str(job.get("CreationTime", "")),
        "last_modified": str(job.get("LastModifiedTime", "")),
        "failure_reason": job.get("FailureReason"),
        "output_manifest": job.get("LabelingJobOutput", {}).get("OutputDatasetS3Uri"),
    }
    if json_out:
        print(json.dumps(summary, indent=2))
        return
    table = Table(title=f"Labeling job {summary['name']}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    table.add_row("Status", summary["status"])
    table.add_row("Pages done", f"{done} of {total}" + (f" ({summary['progress_pct']:.1f}%)" if total else ""))
    table.add_row("Labelled (by workers)", f"{summary['labeled']} ({summary['human_labeled']})")
    table.add_row("Failed", str(summary["failed"]))
    table.add_row("Unlabelled", str(summary["unlabeled"]))
    table.add_row("Created", summary["created"])
    table.add_row("Last modified", summary["last_modified"])
    if summary["failure_reason"]:
        table.add_row("Failure", f"[red]{summary['failure_reason']}[/red]")
    if summary["output_manifest"]:
        table.add_row("Output manifest", summary["output_manifest"])
    console.print(table)
