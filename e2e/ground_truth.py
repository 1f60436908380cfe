"""A stand-in for SageMaker Ground Truth's custom labeling workflow (neither emulator has one).

It does what the service does, in the service's formats, against the deployed stack:

1. read the input manifest (one JSON line per data object) from S3;
2. per line, invoke the pre-labeling function with the pre-annotation event
   ``{"version": "2018-10-16", "labelingJobArn", "dataObject": <the manifest line>}``;
3. render the worker template (read from S3, as the job's ``UiTemplateS3Uri``) with
   ``task.input = taskInput`` -- python-liquid with ``grant_read_access`` presigning against the
   emulator -- and read the page as a worker's browser would: each card's image and checkbox;
4. let N simulated workers answer, deterministically, in crowd-form's output format
   ``{"<checkbox name>": {"<checkbox value>": true|false}}``;
5. write the consolidation request under
   ``<output>/<job>/annotations/consolidated-annotation/consolidation-request/iteration-1/``,
   invoke the post-labeling function with the consolidation event, check the response's shape;
6. write ``<output>/<job>/manifests/output/output.manifest`` as Ground Truth does.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

from bulkqa.rendering import render_task_input, url_resolver
from e2e.lambda_runner import Invoker
from handlers.s3_uri import S3Uri, parse_s3_uri

EVENT_VERSION = "2018-10-16"
# Decides what a worker ticks: (worker id, s3_image_url, label) -> True (correct), False (wrong),
# or None (leave the box as the page shows it).
Verdict = Callable[[str, str, str], bool | None]


@dataclass(frozen=True)
class Shown:
    """One image as a worker sees it on the page: what a worker profile decides on.

    ``confidence`` is the figure the task input shows next to the image (the model's, or for a
    gold item the one drawn at seed time): a strict worker may distrust low ones.
    """

    s3_image_url: str
    label: str
    confidence: float | None
    checked: bool


# Decides like a Verdict, seeing the whole card: (worker id, Shown) -> True, False or None.
PageJudge = Callable[[str, Shown], bool | None]


class ContractError(AssertionError):
    """A function or the template broke Ground Truth's contract."""


@dataclass(frozen=True)
class LabelingJob:
    """What CreateLabelingJob would be given, reduced to what the simulator needs."""

    name: str
    manifest_uri: str  # InputConfig.DataSource.S3DataSource.ManifestS3Uri
    output_uri: str  # OutputConfig.S3OutputPath
    template_uri: str  # HumanTaskConfig.UiConfig.UiTemplateS3Uri
    pre_function: str  # HumanTaskConfig.PreHumanTaskLambdaArn
    post_function: str  # HumanTaskConfig.AnnotationConsolidationConfig.AnnotationConsolidationLambdaArn
    workers: int = 1  # HumanTaskConfig.NumberOfHumanWorkersPerDataObject
    label_attribute_name: str = "bulkqa"
    role_arn: str = "arn:aws:iam::123456789012:role/bulkqa-ground-truth"
    region: str = "us-east-1"

    @property
    def arn(self) -> str:
        account = self.role_arn.split(":")[4] or "123456789012"
        return f"arn:aws:sagemaker:{self.region}:{account}:labeling-job/{self.name}"

    def worker_ids(self) -> list[str]:
        return [f"private.{self.region}.sim-worker-{n:02d}" for n in range(1, self.workers + 1)]


@dataclass(frozen=True)
class Card:
    """One image on the worker page, with its checkbox as the browser would submit it."""

    image_url: str
    checkbox_name: str
    checkbox_value: str
    checked: bool


@dataclass
class Task:
    """One data object: the manifest line, what pre-labeling returned, the page, the answers."""

    dataset_object_id: str
    manifest_line: dict[str, Any]
    task_input: dict[str, Any]
    cards: list[Card]
    image_uris: dict[str, str]  # each card's image URL -> the s3:// URI it grants access to
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)  # worker id -> crowd-form output


@dataclass
class JobResult:
    tasks: list[Task]
    consolidation_request_uri: str
    consolidation_event: dict[str, Any]
    response: list[dict[str, Any]]
    output_manifest_uri: str
    output_lines: list[dict[str, Any]]

    def consolidated(self, attribute: str) -> dict[str, dict[str, Any]]:
        """datasetObjectId -> the consolidated annotation the post-labeling function returned."""
        return {r["datasetObjectId"]: r["consolidatedAnnotation"]["content"][attribute] for r in self.response}


class _PageReader(HTMLParser):
    """Reads the rendered page as a browser would: per crowd-card, its image and crowd-checkbox."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.cards: list[Card] = []
        self._image: str | None = None
        self.forms = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "crowd-form":
            self.forms += 1
        elif tag == "crowd-card":
            self._image = None
        elif tag == "img" and attributes.get("src"):
            self._image = attributes["src"]
        elif tag == "crowd-checkbox":
            if self._image is None or not attributes.get("name"):
                raise ContractError(f"checkbox {attributes} has no image before it, or no name")
            self.cards.append(
                Card(self._image, str(attributes["name"]), attributes.get("value") or "on", "checked" in attributes)
            )


def read_page(html: str) -> list[Card]:
    reader = _PageReader()
    reader.feed(html)
    reader.close()
    if reader.forms != 1:
        raise ContractError(f"the worker page must have exactly one crowd-form, found {reader.forms}")
    return reader.cards


def _number(value: Any) -> float | None:
    """The confidence the task input shows, as a number (None if it shows none)."""
    try:
        return None if isinstance(value, bool) or value is None else float(value)
    except (TypeError, ValueError):
        return None


def _now_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


class GroundTruthSimulator:
    """Runs a labeling job against deployed functions through ``invoker`` and an S3 client."""

    def __init__(self, s3: Any, invoker: Invoker, *, fetch_images: bool = True, lambda_client: Any = None) -> None:
        """``s3`` and ``lambda_client`` sign as the job's role: with IAM enforced in the emulator, the
        job then reads and writes only what that role may, and invokes a function only after a
        ``DryRun`` invocation as the role was allowed (``lambda:InvokeFunction``), as Ground Truth
        invokes with the job's role. Without ``lambda_client`` no permission is checked."""
        self.s3 = s3
        self.invoker = invoker
        self.fetch_images = fetch_images
        self.lambda_client = lambda_client

    def invoke(self, function: str, event: Any) -> Any:
        """Invoke a task function as Ground Truth does, with the job role's permission checked first."""
        if self.lambda_client is not None:
            self.lambda_client.invoke(FunctionName=function, InvocationType="DryRun")
        return self.invoker.invoke(function, event)

    # --- S3 helpers ---
    def _get_text(self, uri: str) -> str:
        location = parse_s3_uri(uri)
        return self.s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read().decode("utf-8")

    def _put_text(self, uri: str, text: str, content_type: str) -> None:
        location = parse_s3_uri(uri)
        self.s3.put_object(Bucket=location.bucket, Key=location.key, Body=text.encode(), ContentType=content_type)

    @staticmethod
    def job_root(job: LabelingJob) -> S3Uri:
        """``<S3OutputPath>/<job name>``, under which Ground Truth writes everything of the job."""
        output = parse_s3_uri(job.output_uri, allow_empty_key=True)
        return S3Uri(output.bucket, f"{output.key.rstrip('/')}/{job.name}".lstrip("/"))

    # --- the steps ---
    def read_template(self, job: LabelingJob) -> str:
        """The worker template at the job's ``UiTemplateS3Uri``, as Ground Truth fetches it."""
        return self._get_text(job.template_uri)

    def read_manifest(self, job: LabelingJob) -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in self._get_text(job.manifest_uri).splitlines() if line.strip()]
        for number, line in enumerate(lines, 1):
            if not isinstance(line, dict) or not ({"source-ref", "source"} & line.keys()):
                raise ContractError(f"manifest line {number} has neither source-ref nor source: {line!r}")
        return lines

    def prepare_task(self, job: LabelingJob, template: str, dataset_object_id: str, line: dict[str, Any]) -> Task:
        event = {"version": EVENT_VERSION, "labelingJobArn": job.arn, "dataObject": line}
        response = self.invoke(job.pre_function, event)
        if not isinstance(response, dict) or not isinstance(response.get("taskInput"), dict):
            raise ContractError(f"pre-labeling response has no taskInput object: {response!r}")
        if response.get("isHumanAnnotationRequired") not in (True, "true"):
            raise ContractError(f"pre-labeling response does not ask for human annotation: {response!r}")
        urls: dict[str, str] = {}
        presign = url_resolver(s3_client=self.s3)

        def grant_read_access(value: str) -> str:
            urls[value] = presign(value)
            return urls[value]

        html = render_task_input(template, response["taskInput"], grant_read_access)
        cards = read_page(html)
        if self.fetch_images:
            for card in cards:  # what the worker's browser loads
                with urllib.request.urlopen(card.image_url, timeout=10) as image:
                    if image.status != 200 or not image.read():
                        raise ContractError(f"image {card.image_url} did not load")
        return Task(dataset_object_id, line, response["taskInput"], cards, {url: uri for uri, url in urls.items()})

    def answer(
        self, job: LabelingJob, task: Task, verdict: Verdict | None = None, *, judge: PageJudge | None = None
    ) -> None:
        """Each worker looks at each card's image and sets its box; crowd-form submits them all.

        Give ``verdict`` (decides from the image and label) or ``judge`` (also sees the shown
        confidence and the box's initial state: what the worker profiles need)."""
        if (verdict is None) == (judge is None):
            raise ValueError("give exactly one of verdict and judge")
        items = [item for item in task.task_input.get("sourceRef") or [] if isinstance(item, dict)]
        labels = {item.get("label") for item in items}
        if len(labels) != 1:
            raise ContractError(f"a task must show one label, data object {task.dataset_object_id} shows {labels}")
        (label,) = labels
        confidences = {item.get("s3_image_url"): item.get("confidence") for item in items}
        for worker in job.worker_ids():
            answer: dict[str, Any] = {}
            for card in task.cards:
                image = task.image_uris[card.image_url]
                if judge is not None:
                    decision = judge(worker, Shown(image, label, _number(confidences.get(image)), card.checked))
                else:
                    assert verdict is not None
                    decision = verdict(worker, image, label)
                answer[card.checkbox_name] = {card.checkbox_value: card.checked if decision is None else decision}
            task.answers[worker] = answer

    def consolidate(self, job: LabelingJob, tasks: list[Task]) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
        payload = []
        for task in tasks:
            line = task.manifest_line
            data_object = {"s3Uri": line["source-ref"]} if "source-ref" in line else {"content": line["source"]}
            payload.append(
                {
                    "datasetObjectId": task.dataset_object_id,
                    "dataObject": data_object,
                    "annotations": [
                        {"workerId": worker, "annotationData": {"content": json.dumps(answer)}}
                        for worker, answer in task.answers.items()
                    ],
                }
            )
        request_uri = str(
            self.job_root(job).child(
                f"annotations/consolidated-annotation/consolidation-request/iteration-1/{_now_stamp()}.json"
            )
        )
        self._put_text(request_uri, json.dumps(payload), "application/json")
        event = {
            "version": EVENT_VERSION,
            "labelingJobArn": job.arn,
            "labelCategories": [],
            "labelAttributeName": job.label_attribute_name,
            "roleArn": job.role_arn,
            "payload": {"s3Uri": request_uri},
        }
        response = self.invoke(job.post_function, event)
        self._check_response(job, tasks, response)
        return request_uri, event, response

    @staticmethod
    def _check_response(job: LabelingJob, tasks: list[Task], response: Any) -> None:
        sent = {task.dataset_object_id for task in tasks}
        if not isinstance(response, list):
            raise ContractError(f"consolidation response must be a list, got {type(response).__name__}")
        seen = set()
        for entry in response:
            try:
                object_id = entry["datasetObjectId"]
                content = entry["consolidatedAnnotation"]["content"]
            except (KeyError, TypeError) as err:
                raise ContractError(f"consolidation response entry {entry!r} lacks {err}") from err
            if object_id not in sent or object_id in seen:
                raise ContractError(f"consolidation response names unknown or repeated datasetObjectId {object_id!r}")
            if not isinstance(content, dict) or job.label_attribute_name not in content:
                raise ContractError(f"consolidated content of {object_id} has no {job.label_attribute_name!r} key")
            seen.add(object_id)

    def write_output_manifest(
        self, job: LabelingJob, tasks: list[Task], response: list[dict[str, Any]]
    ) -> tuple[str, list[dict[str, Any]]]:
        attribute = job.label_attribute_name
        by_id = {r["datasetObjectId"]: r["consolidatedAnnotation"]["content"] for r in response}
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
        lines = []
        for task in tasks:
            line = dict(task.manifest_line)
            content = by_id.get(task.dataset_object_id)
            metadata: dict[str, Any] = {"type": "groundtruth/custom", "job-name": job.name}
            if content is None:
                metadata["failure-reason"] = "ClientError: annotation consolidation returned no result for this object"
            else:
                line.update(content)
                metadata.update({"human-annotated": "yes", "creation-date": created})
            line[f"{attribute}-metadata"] = metadata
            lines.append(line)
        uri = str(self.job_root(job).child("manifests/output/output.manifest"))
        self._put_text(uri, "".join(json.dumps(line) + "\n" for line in lines), "application/jsonlines")
        return uri, lines

    def run(self, job: LabelingJob, verdict: Verdict | None = None, *, judge: PageJudge | None = None) -> JobResult:
        """The whole job: tasks, answers, one consolidation request, the output manifest."""
        template = self.read_template(job)
        lines = self.read_manifest(job)
        tasks = [self.prepare_task(job, template, str(i), line) for i, line in enumerate(lines)]
        for task in tasks:
            self.answer(job, task, verdict, judge=judge)
        request_uri, event, response = self.consolidate(job, tasks)
        manifest_uri, output_lines = self.write_output_manifest(job, tasks, response)
        return JobResult(tasks, request_uri, event, response, manifest_uri, output_lines)

    def redeliver(self, job: LabelingJob, result: JobResult) -> list[dict[str, Any]]:
        """Ground Truth delivers at least once: send the very same consolidation event again."""
        response = self.invoke(job.post_function, result.consolidation_event)
        self._check_response(job, result.tasks, response)
        return response
