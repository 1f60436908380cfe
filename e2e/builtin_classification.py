"""A stand-in for Ground Truth's BUILT-IN single-label image classification job (issue 15).

Neither emulator has Ground Truth. This plays the built-in task the relabel step creates, in the
service's formats, from the CreateLabelingJob request:

1. read the input manifest (``{"source-ref"}`` lines, extra fields kept) and the label category
   file (``{"document-version": "2018-11-28", "labels": [{"label"}]}``) from S3;
2. per line, do what ``PRE-ImageMultiClass`` does: ``task.input = {"taskObject": <source-ref>,
   "labels": [<category names>]}``; render the job's template (``UiTemplateS3Uri``) with Liquid
   and read the ``crowd-image-classifier`` a worker would see (inside ``crowd-form``, its
   categories equal to the job's);
3. each simulated worker picks a category; consolidate as ``ACS-ImageMultiClass`` reports it:
   the chosen class and a confidence (here the share of workers who chose it; the service uses an
   EM estimate, which the import step only stores);
4. write ``<S3OutputPath>/<job>/manifests/output/output.manifest``: each input line plus
   ``<attr>`` (the class index) and ``<attr>-metadata`` (``class-name``, ``confidence``, ``type``
   ``groundtruth/image-classification``, ``job-name`` ``labeling-job/<name>``,
   ``human-annotated``, ``creation-date``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

from bulkqa.rendering import render_task_input, url_resolver
from e2e.ground_truth import ContractError
from handlers.s3_uri import S3Uri, parse_s3_uri

# (worker id, image s3 URI, categories) -> the category the worker picks
Chooser = Callable[[str, str, list[str]], str]


class _ClassifierReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.classifiers: list[tuple[dict[str, str | None], bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "crowd-image-classifier":
            self.classifiers.append((dict(attrs), "crowd-form" in self.stack))
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.stack:
            del self.stack[len(self.stack) - 1 - self.stack[::-1].index(tag) :]


def _read_text(s3: Any, uri: str) -> str:
    location = parse_s3_uri(uri)
    return s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read().decode("utf-8")


def run_builtin_classification(s3: Any, request: dict[str, Any], choose: Chooser) -> str:
    """Run the job ``request`` describes; return the output manifest's URI."""
    human = request["HumanTaskConfig"]
    if not human["PreHumanTaskLambdaArn"].endswith(":function:PRE-ImageMultiClass"):
        raise ContractError(f"not the built-in image classification task: {human['PreHumanTaskLambdaArn']}")
    if not human["AnnotationConsolidationConfig"]["AnnotationConsolidationLambdaArn"].endswith(
        ":function:ACS-ImageMultiClass"
    ):
        raise ContractError("the consolidation function is not ACS-ImageMultiClass")
    categories_doc = json.loads(_read_text(s3, request["LabelCategoryConfigS3Uri"]))
    if categories_doc.get("document-version") != "2018-11-28":
        raise ContractError(f"label category file has document-version {categories_doc.get('document-version')!r}")
    labels = [entry["label"] for entry in categories_doc["labels"]]
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise ContractError(f"image classification needs at least two unique categories, got {labels}")
    template = _read_text(s3, human["UiConfig"]["UiTemplateS3Uri"])
    manifest = [
        json.loads(line)
        for line in _read_text(s3, request["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"]).splitlines()
        if line.strip()
    ]
    attribute = request["LabelAttributeName"]
    workers = [f"private.sim-relabeller-{n:02d}" for n in range(1, human["NumberOfHumanWorkersPerDataObject"] + 1)]
    presign = url_resolver(s3_client=s3)
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    output_lines = []
    for number, line in enumerate(manifest, 1):
        image = line.get("source-ref")
        if not isinstance(image, str):
            raise ContractError(f"manifest line {number} has no source-ref")
        page = render_task_input(template, {"taskObject": image, "labels": labels}, presign)
        reader = _ClassifierReader()
        reader.feed(page)
        if len(reader.classifiers) != 1 or not reader.classifiers[0][1]:
            raise ContractError("the page needs exactly one crowd-image-classifier inside crowd-form")
        attrs = reader.classifiers[0][0]
        if json.loads(attrs.get("categories") or "null") != labels or not attrs.get("name") or not attrs.get("src"):
            raise ContractError(f"crowd-image-classifier attributes do not match the job: {attrs}")
        votes = Counter(choose(worker, image, labels) for worker in workers)
        for chosen in votes:
            if chosen not in labels:
                raise ContractError(f"a worker chose {chosen!r}, which is not a category")
        (class_name, count), *_ = sorted(votes.items(), key=lambda kv: (-kv[1], labels.index(kv[0])))
        output_lines.append(
            {
                **line,
                attribute: labels.index(class_name),
                f"{attribute}-metadata": {
                    "class-name": class_name,
                    "confidence": round(count / len(workers), 2),
                    "type": "groundtruth/image-classification",
                    "job-name": f"labeling-job/{request['LabelingJobName']}",
                    "human-annotated": "yes",
                    "creation-date": created,
                },
            }
        )
    output = parse_s3_uri(request["OutputConfig"]["S3OutputPath"], allow_empty_key=True)
    root = S3Uri(output.bucket, f"{output.key.rstrip('/')}/{request['LabelingJobName']}".lstrip("/"))
    uri = root.child("manifests/output/output.manifest")
    s3.put_object(
        Bucket=uri.bucket,
        Key=uri.key,
        Body="".join(json.dumps(line, ensure_ascii=False) + "\n" for line in output_lines).encode("utf-8"),
        ContentType="application/jsonlines",
    )
    return str(uri)
