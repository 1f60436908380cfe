"""The deployed launch function cuts queued labels into batches and a manifest, on real and synthetic CSVs."""

from __future__ import annotations

import csv
import io
import math
import uuid
from collections import Counter
from pathlib import Path

import pytest

from e2e.datasets import Row, csv_text, launch, manifest_batches, put_object
from e2e.deploy import DeployedStack

SAMPLE_CSV_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "aws-sample-csv"
IMAGES = "s3://bulkqa-e2e-sample-images/caltech"  # referenced, never fetched by the seed
THRESHOLD = 80.0


def expected_queue(text: str, threshold: float, images: str) -> list[tuple[str, str, float]]:
    """What should be queued, computed straight from the CSV: rows at or above the threshold, once each."""
    rows = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    queue: dict[tuple[str, str], float] = {}
    for row in rows:
        path = row.get("image_local_path") or row.get("image")
        key = (f"{images.rstrip('/')}/{path.strip()}", row["label"].strip())
        if float(row["confidence"]) >= threshold and key not in queue:
            queue[key] = float(row["confidence"])
    return [(url, label, confidence) for (url, label), confidence in queue.items()]


def check_batches(stack: DeployedStack, report: dict, expected: list[tuple[str, str, float]], batch_size: int) -> None:
    batches = manifest_batches(stack, report["manifest_uri"])
    per_label = Counter(label for _, label, _ in expected)
    batches_per_label = Counter()
    seen: Counter[tuple[str, str]] = Counter()
    for uri, items in batches:
        labels = {item.label for item in items}
        assert len(labels) == 1, f"{uri} mixes labels {labels}"
        assert 1 <= len(items) <= batch_size, f"{uri} has {len(items)} items"
        batches_per_label[labels.pop()] += 1
        seen.update((item.s3_image_url, item.label) for item in items)
        assert all(item.confidence >= THRESHOLD for item in items), f"{uri} holds an item below the threshold"
    assert batches_per_label == {label: math.ceil(n / batch_size) for label, n in per_label.items()}
    assert set(seen) == {(url, label) for url, label, _ in expected}
    assert max(seen.values()) == 1, "an image was queued twice"


@pytest.mark.parametrize("name", ["smallsample.csv", "sample.csv", "shellfish.csv"])
def test_real_sample_csv(stack: DeployedStack, name: str) -> None:
    path = SAMPLE_CSV_DIR / name
    if not path.is_file():
        pytest.skip(f"the original sample CSVs are not available at {SAMPLE_CSV_DIR}")
    data = path.read_bytes()  # as published: CRLF, BOM or not, any column order
    round_name = f"sample-{name.removesuffix('.csv')}-{uuid.uuid4().hex[:6]}"
    report = launch(
        stack, put_object(stack, f"inputs/{name}", data), images=IMAGES, threshold=THRESHOLD, round=round_name
    )
    expected = expected_queue(data.decode("utf-8"), THRESHOLD, IMAGES)
    assert report["queued"] == len(expected)
    assert report["problems"] == []
    check_batches(stack, report, expected, batch_size=25)


def test_synthetic_csv_with_edge_cases(stack: DeployedStack) -> None:
    rows = []
    sizes = {"Dog": 1, "Sea lion": 7, "sea-lion": 8, "Équipe": 15, "Crab": 22}
    for label, size in sizes.items():
        for i in range(size):
            rows.append(Row(f"synthetic/{label}/{i:03d}.jpg", label, 80.0 + (i % 20)))  # 80.0 itself is queued
        rows.append(Row(f"synthetic/{label}/low.jpg", label, 79.99))  # just below: never queued
    rows += [Row(f"synthetic/only-low/{i}.jpg", "Rare", 12.5) for i in range(4)]  # a label with no batch
    rows.append(Row("synthetic/Dog/000.jpg", "Crab", 95.0))  # one image under two labels
    text = csv_text(rows, header=("label", "confidence", "image_local_path"))
    report = launch(
        stack,
        put_object(stack, "inputs/synthetic.csv", text),
        images=IMAGES,
        batch_size=7,
        round=f"synthetic-{uuid.uuid4().hex[:6]}",
    )
    expected = expected_queue(text, THRESHOLD, IMAGES)
    assert report["queued"] == len(expected) == sum(sizes.values()) + 1
    assert report["below_threshold"] == {**{label: 1 for label in sizes}, "Rare": 4}
    check_batches(stack, report, expected, batch_size=7)
