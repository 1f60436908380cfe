"""Worker answers -> votes, matched by the index in the key, never by key order."""

from __future__ import annotations

import json
import random

import pytest

from handlers.answers import AnnotationError, decode_content, parse_worker_answer
from handlers.batching import QueueItem


def batch(label: str, size: int) -> list[QueueItem]:
    return [QueueItem(f"s3://bucket/{label}/image_{i:04d}.jpg", label, 80.0 + i / 2) for i in range(size)]


def answer(label: str, verdicts: list[bool]) -> dict[str, dict[str, bool]]:
    return {f"{label}-{i}": {"Confirmed": v} for i, v in enumerate(verdicts)}


UNTICKED = {2, 10}
VERDICTS_25 = [i not in UNTICKED for i in range(25)]


@pytest.mark.parametrize("order", ["sorted-string", "reversed", "shuffled"])
def test_index_not_key_order_on_a_batch_of_25(order: str) -> None:
    items = batch("X", 25)
    keys = list(answer("X", VERDICTS_25))
    if order == "sorted-string":
        keys.sort()  # ..., X-19, X-2, X-20, ...: what crowd-form output looks like
        assert keys[2] == "X-10"
    elif order == "reversed":
        keys.reverse()
    else:
        random.Random(7).shuffle(keys)
    content = json.dumps({key: answer("X", VERDICTS_25)[key] for key in keys})

    result = parse_worker_answer("worker-1", content, items)

    assert [v.index for v in result.votes] == list(range(25))
    assert all(v.item is items[v.index] for v in result.votes)
    flagged = {v.item.s3_image_url for v in result.votes if not v.confirmed}
    assert flagged == {items[2].s3_image_url, items[10].s3_image_url}
    assert all(v.worker_id == "worker-1" for v in result.votes)
    assert result.notes == []


def test_key_order_pairing_would_have_misaligned_this_batch() -> None:
    """Guard on the test itself: pairing sorted keys with items by position flags the wrong images."""
    keys = sorted(answer("X", VERDICTS_25))
    by_position = {i for i, key in enumerate(keys) if not answer("X", VERDICTS_25)[key]["Confirmed"]}
    assert by_position != UNTICKED


@pytest.mark.parametrize("label", ["sea-lion", "Sea lion", "X-2", "a-b-c-10", "Pingüino", "鳥"])
def test_labels_containing_hyphens_digits_spaces_and_non_ascii(label: str) -> None:
    items = batch(label, 12)
    verdicts = [i % 3 != 0 for i in range(12)]
    result = parse_worker_answer("w", json.dumps(answer(label, verdicts)), items)
    assert [(v.index, v.confirmed) for v in result.votes] == list(enumerate(verdicts))
    assert result.notes == []


def test_decoded_content_is_accepted_too() -> None:
    items = batch("Dog", 2)
    result = parse_worker_answer("w", answer("Dog", [True, False]), items)
    assert [(v.index, v.confirmed) for v in result.votes] == [(0, True), (1, False)]


def test_unknown_index_wrong_label_and_malformed_values_are_noted_and_skipped() -> None:
    items = batch("Dog", 4)
    content = {
        "Dog-0": {"Confirmed": True},
        "Dog-4": {"Confirmed": True},  # outside the batch
        "Cat-1": {"Confirmed": False},  # wrong label
        "Dog-1": {"Confirmed": "yes"},  # not a boolean
        "Dog-2": True,  # not {"Confirmed": ...}
        "Dog-03": {"Confirmed": True},  # leading zero: not an index the template makes
        "Dog-²": {"Confirmed": True},  # a digit, but not an ASCII one
        "Dog-x": {"Confirmed": True},
        "nohyphen": {"Confirmed": True},
        "Dog-3": {"Confirmed": False, "extra": 1},
    }
    result = parse_worker_answer("w", json.dumps(content), items)

    assert [(v.index, v.confirmed) for v in result.votes] == [(0, True), (3, False)]
    notes = "\n".join(result.notes)
    assert "ignored key 'Dog-4': index 4 is outside the batch of 4" in notes
    assert "ignored key 'Cat-1': image 1 is labelled 'Dog'" in notes
    assert "ignored key 'Dog-1': expected {'Confirmed': true|false}" in notes
    assert "ignored key 'Dog-2': expected" in notes
    for key in ("Dog-03", "Dog-²", "Dog-x", "nohyphen"):
        assert f"ignored key {key!r}: not of the form <label>-<index>" in notes
    assert result.notes[-1] == "no answer for image index(es) [1, 2]"


def test_missing_answers_are_noted_and_get_no_vote() -> None:
    result = parse_worker_answer("w", json.dumps({"Dog-1": {"Confirmed": True}}), batch("Dog", 3))
    assert [v.index for v in result.votes] == [1]
    assert result.notes == ["no answer for image index(es) [0, 2]"]
    empty = parse_worker_answer("w", "{}", batch("Dog", 2))
    assert empty.votes == [] and empty.notes == ["no answer for image index(es) [0, 1]"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "content is not valid JSON"),
        ("{", "content is not valid JSON"),
        ('["Dog-0"]', "content must be a JSON object, got list"),
        ('"text"', "content must be a JSON object, got str"),
        (None, "content must be a JSON object, got NoneType"),
        (42, "content must be a JSON object, got int"),
    ],
)
def test_unreadable_content_raises_annotation_error(content: object, message: str) -> None:
    with pytest.raises(AnnotationError, match=message):
        parse_worker_answer("w", content, batch("Dog", 2))
    with pytest.raises(AnnotationError, match=message):
        decode_content(content)


@pytest.mark.parametrize("worker", [None, "", 7])
def test_annotation_without_worker_id_raises(worker: object) -> None:
    with pytest.raises(AnnotationError, match="annotation has no workerId"):
        parse_worker_answer(worker, "{}", batch("Dog", 1))  # type: ignore[arg-type]


def test_an_answer_read_from_s3_as_bytes() -> None:
    items = batch("Dog", 2)
    body = json.dumps(answer("Dog", [False, True])).encode("utf-8")
    result = parse_worker_answer("w", body, items)
    assert [(v.index, v.verdict) for v in result.votes] == [(0, "disconfirm"), (1, "confirm")]
    with pytest.raises(AnnotationError, match="not UTF-8"):
        decode_content(b"\xff\xfe{")
