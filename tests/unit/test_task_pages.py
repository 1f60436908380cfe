"""Pages in every form Ground Truth hands us, and what the pre-labeling function shows a worker."""

from __future__ import annotations

import json

import pytest

from handlers import pre_labeling
from handlers.rounds import BatchDocument, BatchEntry, manifest_line
from handlers.task_pages import INLINE_NAME, parse_page

ITEMS = (
    BatchEntry("s3://b/images/a.jpg", "Dog", 91.5),
    BatchEntry("s3://b/images/c.jpg", "Dog", 88.0, "wrong"),
    BatchEntry("s3://b/images/b.jpg", "Dog", 97.0),
    BatchEntry("s3://b/images/d.jpg", "Dog", 93.0, "correct"),
)
DOCUMENT = BatchDocument("r-2024", 2, 7, "Dog", ITEMS)
LEGACY = [item.task_json() for item in ITEMS]


@pytest.mark.parametrize("form", ["text", "bytes", "decoded"])
def test_round_document_in_any_encoding(form: str) -> None:
    value = {"text": DOCUMENT.text(), "bytes": DOCUMENT.text().encode(), "decoded": DOCUMENT.to_json()}[form]
    page = parse_page(value, source="s3://b/x")
    assert page.document == DOCUMENT
    assert (page.name, page.label, page.entries) == ("r-2024/0002/00007", "Dog", ITEMS)


@pytest.mark.parametrize("form", ["text", "decoded"])
def test_release_0_1_list(form: str) -> None:
    page = parse_page(json.dumps(LEGACY) if form == "text" else LEGACY, source=INLINE_NAME)
    assert page.document is None and page.name == INLINE_NAME and page.label == "Dog"
    assert [(e.s3_image_url, e.label, e.confidence, e.gold) for e in page.entries] == [
        (i.s3_image_url, i.label, i.confidence, None) for i in ITEMS
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{not json", "batch file s3://b/k is not valid JSON"),
        (b"\xff", "batch file s3://b/k is not UTF-8"),
        ("[]", "batch file s3://b/k must be a non-empty JSON list"),
        ("[5]", "batch file s3://b/k: item 0 is not an object"),
        ('[{"label": "a", "confidence": 1}]', "item 0 has no s3_image_url"),
        ('[{"s3_image_url": "s3://b/a", "label": "a", "confidence": "9"}]', "item 0 has no numeric confidence"),
        ('{"v": 2}', "batch file s3://b/k is not a BulkQA batch document"),
        ("7", "must be a BulkQA batch document or a JSON list of items, got int"),
    ],
)
def test_bad_pages_are_refused_naming_the_source(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_page(value, source="s3://b/k")


def test_a_gold_item_with_an_unknown_truth_is_refused() -> None:
    data = DOCUMENT.to_json()
    data["items"][1]["gold"] = "maybe"
    with pytest.raises(ValueError, match="item 1 has gold 'maybe'"):
        parse_page(data, source="dataset object 4")


def test_pre_labeling_shows_every_image_with_the_same_three_fields_and_no_gold_marker() -> None:
    source = json.loads(manifest_line(DOCUMENT))["source"]  # exactly what Ground Truth passes along
    response = pre_labeling.handler(
        {"version": "2018-10-16", "labelingJobArn": "arn", "dataObject": {"source": source}}
    )

    assert response["isHumanAnnotationRequired"] is True
    assert response["taskInput"] == {"sourceRef": LEGACY}
    assert all(set(image) == {"s3_image_url", "label", "confidence"} for image in response["taskInput"]["sourceRef"])
    assert "gold" not in json.dumps(response)  # nothing in the task input tells gold items apart


def test_pre_labeling_of_a_release_0_1_inline_list() -> None:
    response = pre_labeling.handler({"dataObject": {"source": json.dumps(LEGACY)}})
    assert response["taskInput"] == {"sourceRef": LEGACY}
