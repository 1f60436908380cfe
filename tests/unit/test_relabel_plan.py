"""The relabel plan: region table, selection, manifest, categories, template, output manifest."""

from __future__ import annotations

import html.parser
import json
import re
from typing import Any

import botocore.loaders
import pytest
from liquid import Environment

from bulkqa.relabel import plan
from bulkqa.relabel.output_manifest import parse_output_manifest
from bulkqa.relabel.plan import NONE_OF_THESE, RejectedImage, RelabelPlanError, ReviewedPair
from bulkqa.relabel.regions import (
    BUILTIN_FUNCTION_ACCOUNTS,
    UnsupportedRegionError,
    image_classification_functions,
)
from worker_template import RELABEL_TEMPLATE_PATH


def _documented_arns(function: str) -> dict[str, str]:
    """Region -> ARN of ``function`` as the CreateLabelingJob reference (botocore's model) lists it."""
    model = json.dumps(botocore.loaders.Loader().load_service_model("sagemaker", "service-2"))
    found = re.findall(rf"arn:aws:lambda:([a-z0-9-]+):(\d+):function:{function}(?![A-Za-z])", model)
    assert found, f"the service model no longer documents {function}"
    return {region: f"arn:aws:lambda:{region}:{account}:function:{function}" for region, account in found}


@pytest.mark.parametrize("function", ["PRE-ImageMultiClass", "ACS-ImageMultiClass"])
def test_region_table_matches_the_api_reference(function: str) -> None:
    documented = _documented_arns(function)
    assert set(documented) == set(BUILTIN_FUNCTION_ACCOUNTS)
    for region, arn in documented.items():
        functions = image_classification_functions(region)
        ours = (
            functions.pre_human_task_lambda_arn
            if function.startswith("PRE")
            else functions.annotation_consolidation_lambda_arn
        )
        assert ours == arn


@pytest.mark.parametrize("region", sorted(BUILTIN_FUNCTION_ACCOUNTS))
def test_each_region_gives_its_own_account(region: str) -> None:
    functions = image_classification_functions(region)
    for arn in (functions.pre_human_task_lambda_arn, functions.annotation_consolidation_lambda_arn):
        assert arn.split(":")[3:5] == [region, BUILTIN_FUNCTION_ACCOUNTS[region]]


@pytest.mark.parametrize("region", ["us-west-1", "eu-north-1", "", "US-EAST-1", "cn-north-1"])
def test_unknown_region_is_a_clear_error(region: str) -> None:
    with pytest.raises(UnsupportedRegionError, match="not available in region") as caught:
        image_classification_functions(region)
    assert "us-east-1" in str(caught.value)


PAIRS = [
    ReviewedPair("s3://b/1.jpg", "Dog", 0, 3),  # rejected, unanimous and majority
    ReviewedPair("s3://b/2.jpg", "Dog", 3, 0),  # confirmed
    ReviewedPair("s3://b/3.jpg", "Dog", 1, 2),  # split (unanimous) / rejected (majority)
    ReviewedPair("s3://b/4.jpg", "Cat", 1, 1),  # split / tie
    ReviewedPair("s3://b/5.jpg", "Cat", 0, 0),  # unreviewed
    ReviewedPair("s3://b/1.jpg", "Cat", 0, 2),  # the same image rejected under a second label
]


def test_select_unanimous() -> None:
    assert plan.select_rejected(PAIRS, "unanimous") == [RejectedImage("s3://b/1.jpg", ("Cat", "Dog"))]


def test_select_majority() -> None:
    assert plan.select_rejected(PAIRS, "majority") == [
        RejectedImage("s3://b/1.jpg", ("Cat", "Dog")),
        RejectedImage("s3://b/3.jpg", ("Dog",)),
    ]


def test_select_include_split() -> None:
    unanimous = plan.select_rejected(PAIRS, "unanimous", include_split=True)
    assert [entry.image for entry in unanimous] == ["s3://b/1.jpg", "s3://b/3.jpg", "s3://b/4.jpg"]
    majority = plan.select_rejected(PAIRS, "majority", include_split=True)
    assert [entry.image for entry in majority] == ["s3://b/1.jpg", "s3://b/3.jpg", "s3://b/4.jpg"]


def test_manifest_one_line_per_image_with_metadata() -> None:
    rejected = plan.select_rejected(PAIRS, "majority")
    text = plan.manifest_text(rejected, "r1")
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines == [
        {"source-ref": "s3://b/1.jpg", plan.META_REJECTED_LABELS: ["Cat", "Dog"], plan.META_ROUND: "r1"},
        {"source-ref": "s3://b/3.jpg", plan.META_REJECTED_LABELS: ["Dog"], plan.META_ROUND: "r1"},
    ]
    assert plan.manifest_text(plan.select_rejected(list(reversed(PAIRS)), "majority"), "r1") == text


def test_manifest_refuses_an_empty_selection() -> None:
    with pytest.raises(RelabelPlanError, match="no rejected image"):
        plan.manifest_text([], "r1")


def test_categories_add_none_of_these_last_and_keep_limits() -> None:
    assert plan.categories(["Dog", "Cat", "Dog"]) == ["Cat", "Dog", NONE_OF_THESE]
    assert plan.categories(["Dog"]) == ["Dog", NONE_OF_THESE]
    assert len(plan.categories([f"c{i}" for i in range(9)])) == 10
    with pytest.raises(RelabelPlanError, match="at most 10"):
        plan.categories([f"c{i}" for i in range(10)])
    with pytest.raises(RelabelPlanError, match="reserves"):
        plan.categories(["Dog", NONE_OF_THESE])
    with pytest.raises(RelabelPlanError, match="at least one class"):
        plan.categories([])


def test_categories_document_is_ground_truths_format() -> None:
    document = json.loads(plan.categories_document(["Cat", NONE_OF_THESE]))
    assert document == {"document-version": "2018-11-28", "labels": [{"label": "Cat"}, {"label": NONE_OF_THESE}]}


def test_categories_file_reading() -> None:
    assert plan.read_categories_file("# classes\nCat\n\n Dog \n", source="f") == ["Cat", "Dog"]
    with pytest.raises(RelabelPlanError, match="line 2: category 'Cat' is listed twice"):
        plan.read_categories_file("Cat\nCat\n", source="f")
    with pytest.raises(RelabelPlanError, match="no category"):
        plan.read_categories_file("\n# none\n", source="f")


class _Elements(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.found: list[tuple[str, tuple[str, ...], dict[str, str | None]]] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, tuple(self.stack), dict(attrs)))
        if tag == "script":
            self.scripts += 1
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.stack:
            del self.stack[len(self.stack) - 1 - self.stack[::-1].index(tag) :]


def _render(labels: list[str], rejected: list[str]) -> str:
    template = plan.render_template(RELABEL_TEMPLATE_PATH.read_text(encoding="utf-8"), rejected)
    env = Environment()
    env.filters["grant_read_access"] = lambda uri: "https://signed.example/" + uri.split("/")[-1]
    env.filters["to_json"] = lambda value: json.dumps(value)
    return env.from_string(template).render(task={"input": {"taskObject": "s3://b/1.jpg", "labels": labels}})


def test_template_uses_the_builtin_task_input_inside_crowd_form() -> None:
    page = _render(["Cat", "Dog", NONE_OF_THESE], ["Dog"])
    parser = _Elements()
    parser.feed(page)
    (classifier,) = [entry for entry in parser.found if entry[0] == "crowd-image-classifier"]
    _, ancestors, attrs = classifier
    assert "crowd-form" in ancestors
    assert json.loads(attrs["categories"] or "") == ["Cat", "Dog", NONE_OF_THESE]
    assert attrs["src"] == "https://signed.example/1.jpg"
    assert attrs["name"]
    assert "<b>Dog</b>" in page


@pytest.mark.parametrize(
    "label",
    ["<script>alert(1)</script>", "{{ task.input.taskObject }}", "{% raw %}x", '"><img src=x onerror=alert(1)>'],
)
def test_rejected_labels_are_text_in_the_template(label: str) -> None:
    page = _render(["Cat", NONE_OF_THESE], [label])
    parser = _Elements()
    parser.feed(page)
    assert parser.scripts == 1  # only crowd-html-elements.js
    assert not [tag for tag, _, _ in parser.found if tag == "img"]
    text = html.unescape(page)
    assert label in text  # shown literally, not evaluated by Liquid


def test_output_manifest_is_read_into_corrections() -> None:
    lines = [
        {
            "source-ref": "s3://b/1.jpg",
            plan.META_REJECTED_LABELS: ["Cat", "Dog"],
            plan.META_ROUND: "r1",
            "corrected-class": 1,
            "corrected-class-metadata": {
                "class-name": "Fox",
                "confidence": 0.82,
                "type": "groundtruth/image-classification",
                "job-name": "labeling-job/fix-1",
                "human-annotated": "yes",
                "creation-date": "2026-11-29T10:00:00.000000",
            },
        },
        {
            "source-ref": "s3://b/3.jpg",
            plan.META_REJECTED_LABELS: ["Dog"],
            plan.META_ROUND: "r1",
            "corrected-class-metadata": {"failure-reason": "ClientError: timed out", "job-name": "labeling-job/x"},
        },
        {"source-ref": "s3://b/9.jpg", plan.META_REJECTED_LABELS: ["Dog"], plan.META_ROUND: "other"},
    ]
    text = "\n".join(json.dumps(line) for line in lines) + "\nnot json\n"
    parsed = parse_output_manifest(text, round_name="r1", source="out")
    (correction,) = parsed.corrections
    assert (correction.image, correction.rejected_labels, correction.corrected_label) == (
        "s3://b/1.jpg",
        ("Cat", "Dog"),
        "Fox",
    )
    assert correction.confidence == 0.82 and correction.job_name == "fix-1" and correction.human_annotated
    assert [p.split(":")[0] for p in parsed.problems] == ["out, line 2", "out, line 3", "out, line 4"]
    assert "timed out" in parsed.problems[0] and "round 'other'" in parsed.problems[1]


def _stored(image: str, label: str, c: int, d: int, corrected: str | None = None) -> Any:
    from bulkqa.relabel.store import StoredPair

    return StoredPair(image, label, c, d, corrected, "job-1" if corrected else None)


def test_confusion_and_corrected_training_rows() -> None:
    from bulkqa.relabel.analysis import NOT_RELABELLED, confusion, corrected_rows

    pairs = [
        _stored("1", "Dog", 0, 3, "Fox"),
        _stored("2", "Dog", 0, 3, "Fox"),
        _stored("3", "Dog", 0, 3, NONE_OF_THESE),
        _stored("4", "Dog", 0, 2),  # rejected, not relabelled yet
        _stored("5", "Dog", 3, 0),  # confirmed
        _stored("6", "Cat", 2, 0),  # confirmed Cat ...
        _stored("6", "Dog", 0, 2, "Cat"),  # ... and corrected to Cat from Dog: one Cat row
        _stored("7", "Cat", 1, 1),  # split: neither
    ]
    table = confusion(pairs)
    assert table.to_json() == {"Dog": {"Cat": 1, "Fox": 2, NONE_OF_THESE: 1, NOT_RELABELLED: 1}}
    assert table.classes() == ["Cat", "Fox", NONE_OF_THESE, NOT_RELABELLED]
    rows = [(r.image, r.label, r.source, r.original_label) for r in corrected_rows(pairs)]
    assert rows == [
        ("6", "Cat", "confirmed", "Cat"),
        ("5", "Dog", "confirmed", "Dog"),
        ("1", "Fox", "relabel:job-1", "Dog"),
        ("2", "Fox", "relabel:job-1", "Dog"),
    ]


def test_ground_truth_role_can_run_the_relabel_job() -> None:
    """The built-in job reads the relabel files under the round's prefix and the images, and
    writes its output under output/, with the same role as BulkQA's own job."""
    from bulkqa.relabel.store import relabel_prefix
    from components.policies import allows, bucket_arn, ground_truth_policy

    bucket = bucket_arn("qa-bucket")
    policy = ground_truth_policy(
        bucket_arn=bucket,
        function_arns=[
            "arn:aws:lambda:us-east-1:123456789012:function:qa-pre",
            "arn:aws:lambda:us-east-1:123456789012:function:qa-post",
        ],
    )
    prefix = relabel_prefix("r1", "fix-1")
    for name in ("manifest.jsonl", "categories.json", "template.liquid.html"):
        assert allows(policy, "s3:GetObject", f"{bucket}/{prefix}{name}")
    assert allows(policy, "s3:GetObject", f"{bucket}/images/a.jpg")
    assert allows(policy, "s3:PutObject", f"{bucket}/output/fix-1/manifests/output/output.manifest")
    assert not allows(policy, "s3:PutObject", f"{bucket}/{prefix}manifest.jsonl")
