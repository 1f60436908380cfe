"""Issue 10's acceptance test: two rounds in one stack, a job of round A still running while B is seeded.

Round A is seeded and half of its tasks answered; round B is seeded into the same bucket and table
with the same pairs at other confidences (another model); then A's remaining answers arrive (the
tasks were handed out before B existed, as a running job's would be). Every vote must land on
the image its worker saw, counted once; the two rounds' exports must differ by exactly the
confidences; re-seeding A with the same CSV changes nothing, with another CSV exits 2 and changes
nothing. Everything goes through the ``bulkqa`` command and the deployed functions, with IAM
enforced in the emulator.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from e2e.conftest import ground_truth_simulator
from e2e.datasets import tiny_png
from e2e.deploy import DeployedStack
from handlers.rounds import parse_batch_document_json

REPO = Path(__file__).resolve().parents[1]
LABELS = {"Heron": 40, "Egret": 35}  # 2 + 2 tasks of 25


def _bulkqa(stack: DeployedStack, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({**stack.emulator.environment(), "PYTHONPATH": str(REPO), "COLUMNS": "100"})
    return subprocess.run(
        [sys.executable, "-m", "bulkqa.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def _write_csv(path: Path, rows: list[tuple[str, str, float]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image_local_path", "label", "confidence"])
        writer.writerows(rows)


def _snapshot(stack: DeployedStack) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Every table item and every object's ETag: to prove a refused seed changed nothing."""
    items, start = [], None
    while True:
        page = stack.ddb.scan(
            TableName=stack.table, ConsistentRead=True, **({"ExclusiveStartKey": start} if start else {})
        )
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    objects = {}
    for page in stack.s3.get_paginator("list_objects_v2").paginate(Bucket=stack.bucket):
        objects.update({entry["Key"]: entry["ETag"] for entry in page.get("Contents", [])})
    key = lambda item: json.dumps(item, sort_keys=True)  # noqa: E731
    return sorted(items, key=key), objects


def _export(stack: DeployedStack, cwd: Path, round_name: str) -> list[dict[str, str]]:
    done = _bulkqa(stack, cwd, "export", "--table", stack.table, "--round", round_name, "--format", "csv")
    assert done.returncode == 0, done.stderr
    return list(csv.DictReader(io.StringIO(done.stdout)))


def test_two_rounds_with_a_job_running_across_them(stack: DeployedStack, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    images = tmp_path / "images"
    rows_a: list[tuple[str, str, float]] = []
    for label, count in LABELS.items():
        for i in range(count):
            path = f"acc-{tag}/{label.lower()}-{i:03d}.png"
            (images / path).parent.mkdir(parents=True, exist_ok=True)
            (images / path).write_bytes(tiny_png(path))
            rows_a.append((path, label, 80.0 + (i * 7) % 20))
    # Model B: the same pairs, other confidences.
    rows_b = [(path, label, 100.0 - (confidence - 80.0)) for path, label, confidence in rows_a]
    _write_csv(tmp_path / "a.csv", rows_a)
    _write_csv(tmp_path / "b.csv", rows_b)
    round_a, round_b = f"acc-a-{tag}", f"acc-b-{tag}"
    target = ["--bucket", stack.bucket, "--table", stack.table, "--images", "images"]

    seeded = _bulkqa(stack, tmp_path, "seed", "--csv", "a.csv", *target, "--round", round_a, "--json")
    assert seeded.returncode == 0, seeded.stderr
    report_a = json.loads(seeded.stdout)
    assert report_a["queued"] == len(rows_a)

    # The job of round A: every task handed out now (pre-labeling ran), half of them answered now.
    simulator = ground_truth_simulator(stack)
    from e2e.datasets import labeling_job

    job = labeling_job(stack, f"acc-{tag}", workers=3, manifest_uri=report_a["manifest_uri"])
    template = simulator.read_template(job)
    lines = simulator.read_manifest(job)
    tasks = [simulator.prepare_task(job, template, str(i), line) for i, line in enumerate(lines)]
    assert len(tasks) == 4

    def verdict(worker: str, url: str, label: str) -> bool:  # a fixed, varied answer per worker and image
        return int(hashlib.sha256(f"{worker}{url}".encode()).hexdigest(), 16) % 5 != 0

    for task in tasks:
        simulator.answer(job, task, verdict)
    first, rest = tasks[:2], tasks[2:]
    simulator.consolidate(job, first)

    seeded_b = _bulkqa(stack, tmp_path, "seed", "--csv", "b.csv", *target, "--round", round_b, "--json")
    assert seeded_b.returncode == 0, seeded_b.stderr
    report_b = json.loads(seeded_b.stdout)
    answered = sum(len(task.cards) for task in first)
    assert report_b["reused"] == answered  # reviewed pairs are not queued again: review once
    assert report_b["queued"] == len(rows_b) - answered

    simulator.consolidate(job, rest)  # A's remaining answers, after B was seeded

    # Every vote on the image its worker saw, exactly once.
    shown = {}
    for task in tasks:
        document = parse_batch_document_json(json.loads(task.manifest_line["source"]), source=task.dataset_object_id)
        for card, item in zip(task.cards, document.items, strict=True):
            assert task.image_uris[card.image_url] == item.s3_image_url  # the page showed this image
            shown[(item.s3_image_url, item.label)] = {
                worker: "confirm" if verdict(worker, item.s3_image_url, item.label) else "disconfirm"
                for worker in job.worker_ids()
            }
    assert len(shown) == len(rows_a)
    for (url, label), expected in shown.items():
        item = stack.ddb.get_item(
            TableName=stack.table, Key={"s3_image_url": {"S": url}, "label": {"S": label}}, ConsistentRead=True
        )["Item"]
        assert {w: v["S"] for w, v in item["WorkerVotes"]["M"].items()} == expected, url
        assert int(item["WorkerConfirmCount"]["N"]) == sum(v == "confirm" for v in expected.values())
        assert int(item["WorkerDisconfirmCount"]["N"]) == sum(v == "disconfirm" for v in expected.values())

    # The two rounds: the same pairs and votes, each with its own model's confidences.
    export_a, export_b = _export(stack, tmp_path, round_a), _export(stack, tmp_path, round_b)
    confidence_a = {(f"s3://{stack.bucket}/images/{p}", lab): c for p, lab, c in rows_a}
    confidence_b = {(f"s3://{stack.bucket}/images/{p}", lab): c for p, lab, c in rows_b}
    assert len(export_a) == len(export_b) == len(rows_a)
    image_column = next(name for name in export_a[0] if "image" in name)
    for row_a, row_b in zip(export_a, export_b, strict=True):
        pair = (row_a[image_column], row_a["label"])
        assert (row_b[image_column], row_b["label"]) == pair
        assert float(row_a["confidence"]) == confidence_a[pair]
        assert float(row_b["confidence"]) == confidence_b[pair]
        same = {k: v for k, v in row_a.items() if k != "confidence"}
        assert same == {k: v for k, v in row_b.items() if k != "confidence"}
    assert any(float(a["confidence"]) != float(b["confidence"]) for a, b in zip(export_a, export_b, strict=True))
    json_a = _bulkqa(stack, tmp_path, "report", "--table", stack.table, "--round", round_a, "--format", "json")
    json_b = _bulkqa(stack, tmp_path, "report", "--table", stack.table, "--round", round_b, "--format", "json")
    assert json_a.returncode == 0 and json_b.returncode == 0, json_a.stderr + json_b.stderr
    assert json_a.stdout != json_b.stdout  # the bands differ, as the confidences do

    # Re-seeding A: the same CSV changes nothing; another CSV is refused (exit 2) and changes nothing.
    before = _snapshot(stack)
    again = _bulkqa(stack, tmp_path, "seed", "--csv", "a.csv", *target, "--round", round_a, "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["unchanged"] is True
    assert _snapshot(stack) == before
    refused = _bulkqa(stack, tmp_path, "seed", "--csv", "b.csv", *target, "--round", round_a, "--json")
    assert refused.returncode == 2, refused.stderr + refused.stdout
    assert round_a in refused.stderr
    assert _snapshot(stack) == before
