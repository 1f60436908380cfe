"""Grouping by label, batch keys, manifest lines and reading a batch file back."""

from __future__ import annotations

import json
import re

import pytest

from handlers.batching import QueueItem, batch_key, label_slug, manifest_text, parse_batch_document, plan_batches
from handlers.settings import BATCH_PREFIX


def items_for(labels: list[str]) -> list[QueueItem]:
    return [QueueItem(f"s3://bucket/img/{i:04d}.jpg", label, 80.0 + i % 20) for i, label in enumerate(labels)]


MIXED = items_for(["Cat", "Dog", "Cat", "Sea lion", "Dog", "Cat"] * 12)  # 72 items, labels interleaved


def test_groups_in_first_seen_label_order_and_keeps_row_order() -> None:
    batches = plan_batches(MIXED, 5)
    labels_in_order = list(dict.fromkeys(b.label for b in batches))
    assert labels_in_order == ["Cat", "Dog", "Sea lion"]
    for label in labels_in_order:
        flattened = [item for b in batches if b.label == label for item in b.items]
        assert flattened == [item for item in MIXED if item.label == label]
        numbers = [b.number for b in batches if b.label == label]
        assert numbers == list(range(1, len(numbers) + 1))
        assert len(numbers) == -(-len(flattened) // 5)


@pytest.mark.parametrize("size", [1, 7, 10, 25, 36, 100])
def test_batches_never_exceed_the_size_and_never_mix_labels(size: int) -> None:
    batches = plan_batches(MIXED, size)
    assert sum(len(b.items) for b in batches) == len(MIXED)
    for batch in batches:
        assert 1 <= len(batch.items) <= size
        assert {item.label for item in batch.items} == {batch.label}
    # Only the last batch of a label may be short.
    for label in {"Cat", "Dog", "Sea lion"}:
        sizes = [len(b.items) for b in batches if b.label == label]
        assert all(n == size for n in sizes[:-1])


def test_batch_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="batch size must be at least 1"):
        plan_batches(MIXED, 0)


def test_keys_are_deterministic_and_unique() -> None:
    first, second = plan_batches(MIXED, 5), plan_batches(list(MIXED), 5)
    assert [b.key for b in first] == [b.key for b in second]
    assert [b.document() for b in first] == [b.document() for b in second]
    assert len({b.key for b in first}) == len(first)
    for batch in first:
        assert batch.key == batch_key(batch.label, batch.number)
        assert re.fullmatch(rf"{BATCH_PREFIX}[a-z0-9-]+-[0-9a-f]{{8}}/batch-\d{{5}}\.json", batch.key)


def test_slug_keeps_similar_labels_apart() -> None:
    labels = ["Sea lion", "sea-lion", "sea lion", "Sea_lion", "鳥", "猫", "Pingüino", "Pinguino"]
    slugs = [label_slug(label) for label in labels]
    assert len(set(slugs)) == len(labels)
    assert slugs[0].startswith("sea-lion-") and slugs[1].startswith("sea-lion-")
    assert slugs[4].startswith("label-") and slugs[5].startswith("label-")
    assert slugs[6].startswith("pinguino-")
    assert all(re.fullmatch(r"[a-z0-9-]+", slug) for slug in slugs)
    assert label_slug("Sea lion") == slugs[0]  # stable across calls


def test_slug_of_a_long_label_is_bounded() -> None:
    assert len(label_slug("Very long label " * 20)) <= 40 + 1 + 8


def test_batches_of_labels_differing_only_in_spelling_do_not_share_files() -> None:
    batches = plan_batches(items_for(["Sea lion", "sea-lion", "Sea lion"]), 25)
    assert [(b.label, len(b.items)) for b in batches] == [("Sea lion", 2), ("sea-lion", 1)]
    assert batches[0].key != batches[1].key


def test_document_is_the_list_of_items() -> None:
    batch = plan_batches(items_for(["Pingüino", "Pingüino"]), 25)[0]
    assert json.loads(batch.document()) == [
        {"s3_image_url": "s3://bucket/img/0000.jpg", "label": "Pingüino", "confidence": 80.0},
        {"s3_image_url": "s3://bucket/img/0001.jpg", "label": "Pingüino", "confidence": 81.0},
    ]


def test_manifest_has_one_source_ref_line_per_batch() -> None:
    uris = ["s3://b/batches/dog-1/batch-00001.json", "s3://b/batches/dog-1/batch-00002.json"]
    text = manifest_text(uris)
    assert text.endswith("\n")
    assert [json.loads(line) for line in text.splitlines()] == [{"source-ref": uri} for uri in uris]
    assert manifest_text([]) == ""


def test_batch_document_round_trips() -> None:
    batch = plan_batches(MIXED, 25)[0]
    assert parse_batch_document(batch.document(), source="x") == list(batch.items)
    assert parse_batch_document(batch.document().encode("utf-8"), source="x") == list(batch.items)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "batch file s3://b/k.json is not valid JSON"),
        (b"\xff\xfe[", "batch file s3://b/k.json is not valid JSON"),
        ("[]", "batch file s3://b/k.json must be a non-empty JSON list of items"),
        ('{"s3_image_url": "s3://b/x"}', "must be a non-empty JSON list of items"),
        ('["x"]', "batch file s3://b/k.json: item 0 is not an object"),
        ('[{"label": "Dog", "confidence": 90}]', "item 0 has no s3_image_url"),
        ('[{"s3_image_url": "s3://b/x", "confidence": 90}]', "item 0 has no label"),
        ('[{"s3_image_url": "s3://b/x", "label": "", "confidence": 90}]', "item 0 has no label"),
        (
            '[{"s3_image_url": "s3://b/x", "label": "Dog", "confidence": 90},'
            ' {"s3_image_url": "s3://b/y", "label": "Dog", "confidence": "90"}]',
            "item 1 has no numeric confidence",
        ),
        ('[{"s3_image_url": "s3://b/x", "label": "Dog", "confidence": true}]', "item 0 has no numeric confidence"),
    ],
)
def test_batch_document_errors_name_the_source(text: str | bytes, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_batch_document(text, source="s3://b/k.json")
