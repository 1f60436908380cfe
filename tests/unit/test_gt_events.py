"""Ground Truth's pre-annotation and consolidation event shapes."""

from __future__ import annotations

import json

import pytest

from handlers.gt_events import (
    EventError,
    parse_consolidation_event,
    parse_dataset_object,
    parse_pre_annotation_event,
)

ARN = "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/qa"
ITEMS = [{"s3_image_url": "s3://b/a.jpg", "label": "Dog", "confidence": 90.0}]


def test_pre_annotation_with_source_ref() -> None:
    event = {"version": "2018-10-16", "labelingJobArn": ARN, "dataObject": {"source-ref": "s3://b/batch.json"}}
    parsed = parse_pre_annotation_event(event)
    assert parsed.labeling_job_arn == ARN
    assert parsed.data_object.s3_uri == "s3://b/batch.json"
    assert parsed.data_object.inline is None
    assert parsed.data_object.name == "s3://b/batch.json"


@pytest.mark.parametrize("source", [ITEMS, json.dumps(ITEMS)])
def test_pre_annotation_with_inline_source(source: object) -> None:
    parsed = parse_pre_annotation_event(
        {"version": "2018-10-16", "labelingJobArn": ARN, "dataObject": {"source": source}}
    )
    assert parsed.data_object.s3_uri is None
    assert parsed.data_object.inline == ITEMS
    assert parsed.data_object.name == "<inline data object>"


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ([], "pre-annotation event must be a JSON object, got list"),
        ({"labelingJobArn": ARN}, "pre-annotation event's dataObject must be a JSON object, got NoneType"),
        ({"dataObject": {}}, "dataObject has neither 'source-ref' nor 'source'"),
        ({"dataObject": {"source-ref": 5}}, "dataObject has neither 'source-ref' nor 'source'"),
        ({"dataObject": {"source": "[not json"}}, "inline data object is not valid JSON"),
    ],
)
def test_pre_annotation_errors(event: object, message: str) -> None:
    with pytest.raises(EventError, match=message):
        parse_pre_annotation_event(event)


CONSOLIDATION = {
    "version": "2018-10-16",
    "labelingJobArn": ARN,
    "labelCategories": ["Confirmed"],
    "labelAttributeName": "qa-job",
    "roleArn": "arn:aws:iam::123456789012:role/gt",
    "payload": {"s3Uri": "s3://b/payload.json"},
}


def test_consolidation_event() -> None:
    parsed = parse_consolidation_event(CONSOLIDATION)
    assert (parsed.labeling_job_arn, parsed.label_attribute_name, parsed.payload_s3_uri) == (
        ARN,
        "qa-job",
        "s3://b/payload.json",
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"payload": None}, "consolidation event's payload must be a JSON object"),
        ({"payload": {}}, "consolidation event's payload has no s3Uri"),
        ({"payload": {"s3Uri": ""}}, "consolidation event's payload has no s3Uri"),
        ({"labelAttributeName": None}, "consolidation event has no labelAttributeName"),
        ({"labelAttributeName": ""}, "consolidation event has no labelAttributeName"),
    ],
)
def test_consolidation_event_errors(change: dict, message: str) -> None:
    with pytest.raises(EventError, match=message):
        parse_consolidation_event({**CONSOLIDATION, **change})


def test_dataset_object_with_s3_uri_and_annotations() -> None:
    entry = {
        "datasetObjectId": "3",
        "dataObject": {"s3Uri": "s3://b/batch.json"},
        "annotations": [
            {"workerId": "w1", "annotationData": {"content": '{"Dog-0": {"Confirmed": true}}'}},
            {"workerId": "w2", "annotationData": {}},
            "garbage",
        ],
    }
    parsed = parse_dataset_object(entry, 0)
    assert parsed.dataset_object_id == "3"
    assert parsed.data_object.s3_uri == "s3://b/batch.json"
    assert [(a.worker_id, a.content) for a in parsed.annotations] == [
        ("w1", '{"Dog-0": {"Confirmed": true}}'),
        ("w2", None),
        (None, None),
    ]


@pytest.mark.parametrize("content", [ITEMS, json.dumps(ITEMS)])
def test_dataset_object_with_inline_content_and_integer_id(content: object) -> None:
    parsed = parse_dataset_object({"datasetObjectId": 0, "dataObject": {"content": content}, "annotations": []}, 4)
    assert parsed.dataset_object_id == "0"
    assert parsed.data_object.inline == ITEMS
    assert parsed.annotations == ()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("x", "payload entry 2 must be a JSON object"),
        ({"dataObject": {"s3Uri": "s3://b/k"}, "annotations": []}, "payload entry 2 has no datasetObjectId"),
        ({"datasetObjectId": True, "dataObject": {}, "annotations": []}, "payload entry 2 has no datasetObjectId"),
        ({"datasetObjectId": "", "dataObject": {}, "annotations": []}, "payload entry 2 has no datasetObjectId"),
        ({"datasetObjectId": "7", "annotations": []}, "dataset object 7's dataObject must be a JSON object"),
        ({"datasetObjectId": "7", "dataObject": {}, "annotations": []}, "neither 's3Uri' nor 'content'"),
        ({"datasetObjectId": "7", "dataObject": {"s3Uri": "s3://b/k"}}, "dataset object 7 has no annotations list"),
    ],
)
def test_dataset_object_errors_name_the_entry(entry: object, message: str) -> None:
    with pytest.raises(EventError, match=message):
        parse_dataset_object(entry, 2)


@pytest.mark.parametrize("spelling", ["s3Uri", "s3uri"])
def test_an_answer_stored_in_s3_is_named_by_its_uri(spelling: str) -> None:
    entry = {
        "datasetObjectId": "3",
        "dataObject": {"content": json.dumps(ITEMS)},
        "annotations": [
            {"workerId": "w1", "annotationData": {spelling: "s3://b/answers/w1.json"}},
            {"workerId": "w2", "annotationData": {"content": "{}", "s3Uri": "s3://b/answers/w2.json"}},
            {"workerId": "w3", "annotationData": {"s3Uri": ""}},
        ],
    }
    parsed = parse_dataset_object(entry, 0)
    assert [(a.worker_id, a.content, a.s3_uri) for a in parsed.annotations] == [
        ("w1", None, "s3://b/answers/w1.json"),
        ("w2", "{}", None),  # inline content wins: no request needed
        ("w3", None, None),
    ]


def test_inline_round_document_as_the_manifest_line_source_string() -> None:
    document = {"v": 1, "round": "r1", "part": 1, "batch": 2, "label": "Dog", "items": ITEMS}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    pre = parse_pre_annotation_event({"version": "2018-10-16", "labelingJobArn": ARN, "dataObject": {"source": text}})
    obj = parse_dataset_object({"datasetObjectId": "0", "dataObject": {"content": text}, "annotations": []}, 0)
    assert pre.data_object.inline == obj.data_object.inline == document
