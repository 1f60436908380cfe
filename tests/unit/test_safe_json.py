"""Deeply nested JSON from outside is refused as bad input, never a RecursionError."""

from __future__ import annotations

import pytest

from handlers import safe_json
from handlers.answers import AnnotationError, decode_content
from handlers.gt_events import EventError, parse_pre_annotation_event

DEEP = "[" * 50_000 + "]" * 50_000


@pytest.mark.parametrize(
    ("text", "depth"),
    [("{}", 1), ('{"a": [1, {"b": 2}]}', 3), ('"[[[[["', 0), (r'["\"[[[", {"x": "]]]"}]', 2), (DEEP, 50_000)],
)
def test_nesting_depth_ignores_brackets_in_strings(text: str, depth: int) -> None:
    assert safe_json.nesting_depth(text) == depth
    assert safe_json.nesting_depth(text.encode()) == depth


def test_loads_refuses_deep_nesting_without_recursing() -> None:
    with pytest.raises(safe_json.TooDeepError, match="50000 levels"):
        safe_json.loads(DEEP)
    assert safe_json.loads('{"Dog-0": {"Confirmed": true}}') == {"Dog-0": {"Confirmed": True}}


def test_a_deep_worker_answer_is_one_bad_annotation() -> None:
    with pytest.raises(AnnotationError, match="not a crowd-form answer"):
        decode_content(DEEP)


def test_a_deep_inline_data_object_is_a_bad_event() -> None:
    event = {"version": "2018-10-16", "labelingJobArn": "arn:x", "dataObject": {"source": DEEP}}
    with pytest.raises(EventError):
        parse_pre_annotation_event(event)


def test_the_interpreter_is_left_healthy() -> None:
    """After refusing deep JSON, ast.parse still works (CPython 3.11 can break after RecursionError)."""
    import ast

    for _ in range(3):
        with pytest.raises(ValueError):
            safe_json.loads(DEEP)
    ast.parse("x = [" + "1, " * 1000 + "]")
