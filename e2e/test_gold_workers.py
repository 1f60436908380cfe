"""Issue 16 on the emulator: gold items, per-worker quality, and a report without the careless worker.

A round is seeded with ``bulkqa seed --gold`` through the command; its job is played through the
deployed pre- and post-labeling functions (IAM enforced, as the Ground Truth role) by two careful
workers and one rubber-stamper. ``bulkqa workers`` must flag the stamper (catch rate 0, with its
Wilson interval) and not the careful ones; ``bulkqa report --min-worker-quality`` and
``--exclude-workers`` must give exactly the figures of the same round answered by the two careful
workers only. That comparison round is the same data under other image names (votes are shared
per image and label across rounds, so the very same images cannot be reviewed twice in one
table): same labels, confidences and truths, answered by two careful workers.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from e2e.cli_runner import bulkqa_json, run_bulkqa
from e2e.conftest import ground_truth_simulator
from e2e.datasets import labeling_job, manifest_batches, tiny_png
from e2e.deploy import DeployedStack
from e2e.ground_truth import JobResult
from e2e.worker_profiles import Careful, Crowd, RubberStamper, Truth

LABELS = {"Heron": 40, "Egret": 30}  # pages of 8 data + 2 gold items: 5 + 4 pages
BATCH = "10"
# Every Heron page gets 2 of these 4: at least one wrong gold item on every Heron page.
GOLD = [
    ("checks/k1.png", "Heron", "wrong"),
    ("checks/k2.png", "Heron", "wrong"),
    ("checks/k3.png", "Heron", "wrong"),
    ("checks/k4.png", "Heron", "correct"),
    ("checks/k5.png", "Egret", "wrong"),
    ("checks/k6.png", "Egret", "correct"),
    ("checks/k7.png", "Egret", "wrong"),
    ("checks/k8.png", "Walrus", "wrong"),  # no page of this class: never placed, never a class
]
MIN_QUALITY = "0.5"  # a careful worker's lower bound with >= 9 wrong gold seen is about 0.70
FIGURES = ("classes", "totals", "class_average", "thresholds")


def _really(label: str, i: int) -> str:
    """Every fourth image is really the other bird."""
    return label if i % 4 else ("Egret" if label == "Heron" else "Heron")


def _write_inputs(folder: Path, copy: str, tag: str) -> tuple[Path, dict[str, str]]:
    """A CSV of the data rows under ``gw-<tag>/<copy>/`` and the truth (relative path -> class)."""
    rows, truth = [], {}
    for label, count in LABELS.items():
        for i in range(count):
            path = f"gw-{tag}/{copy}/{label.lower()}-{i:03d}.png"
            image = folder / "images" / path
            image.parent.mkdir(parents=True, exist_ok=True)
            image.write_bytes(tiny_png(f"{label}-{i}"))  # the same picture in each copy
            rows.append((path, label, 81.0 + (i * 7) % 19))
            truth[path] = _really(label, i)
    out = folder / f"{copy}.csv"
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image_local_path", "label", "confidence"])
        writer.writerows(rows)
    return out, truth


@pytest.fixture(scope="module")
def gold_rounds(stack: DeployedStack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Round ``mixed`` (2 careful + 1 stamper) and round ``careful`` (the same data, 2 careful)."""
    folder = tmp_path_factory.mktemp("gold")
    tag = uuid.uuid4().hex[:6]
    for path, _, _ in GOLD:
        image = folder / "images" / path
        image.parent.mkdir(parents=True, exist_ok=True)
        image.write_bytes(tiny_png(path))
    gold_csv = folder / "known.csv"
    gold_csv.write_text(
        "image_local_path,label,truth\r\n" + "".join(f"{p},{lab},{t}\r\n" for p, lab, t in GOLD), encoding="utf-8"
    )
    url = lambda path: f"s3://{stack.bucket}/images/{path}"  # noqa: E731
    simulator = ground_truth_simulator(stack)
    rounds: dict[str, Any] = {"folder": folder, "tag": tag}
    for copy, profiles in (("mixed", [Careful(), Careful(), RubberStamper()]), ("careful", [Careful(), Careful()])):
        csv_path, truth = _write_inputs(folder, copy, tag)
        name = f"gold-{copy}-{tag}"
        seeded = bulkqa_json(
            stack, folder, "seed", "--csv", csv_path.name, "--images", "images", "--bucket", stack.bucket,
            "--table", stack.table, "--round", name, "--batch-size", BATCH, "--gold", gold_csv.name, "--json",
        )  # fmt: skip
        assert seeded["queued"] == sum(LABELS.values()), seeded
        known = Truth({url(p): c for p, c in truth.items()}).with_gold_csv(gold_csv.read_text(), url)
        job = labeling_job(stack, f"gold-{copy}-{tag}", workers=len(profiles), manifest_uri=seeded["manifest_uri"])
        crowd = Crowd(job.worker_ids(), profiles, known)
        result = simulator.run(job, judge=crowd)
        rounds[copy] = {"name": name, "seed": seeded, "crowd": crowd, "result": result, "truth": known}
    return rounds


def _gold_on_pages(stack: DeployedStack, manifest_uri: str) -> tuple[int, int, int, int]:
    """(pages, pages with a wrong gold item, wrong gold items shown, right gold items shown)."""
    batches = manifest_batches(stack, manifest_uri)
    wrong = [sum(item.gold == "wrong" for item in items) for _, items in batches]
    right = sum(item.gold == "correct" for _, items in batches for item in items)
    return len(batches), sum(1 for n in wrong if n), sum(wrong), right


def test_workers_flags_the_rubber_stamper_and_not_the_careful_ones(
    stack: DeployedStack, gold_rounds: dict[str, Any]
) -> None:
    mixed = gold_rounds["mixed"]
    crowd: Crowd = mixed["crowd"]
    (stamper,) = crowd.workers("rubber-stamper")
    careful = crowd.workers("careful")
    pages, pages_with_wrong, wrong_seen, right_seen = _gold_on_pages(stack, mixed["seed"]["manifest_uri"])
    assert pages == 9 and wrong_seen >= 9 and pages_with_wrong == pages  # every page has a wrong one

    report = bulkqa_json(stack, gold_rounds["folder"], "workers", "--round", mixed["name"], "--table", stack.table,
                         "--format", "json")  # fmt: skip
    rows = {row["worker"]: row for row in report["workers"]}
    assert set(rows) == {stamper, *careful}
    row = rows[stamper]
    assert row["pages"] == pages and row["wrong_gold_seen"] == wrong_seen
    assert row["wrong_gold_caught"] == 0 and row["catch_rate"] == 0.0
    low, high = row["catch_rate_wilson95"]
    assert low == 0.0 and 0.0 < high < float(MIN_QUALITY)
    assert row["right_gold_kept"] == right_seen
    assert row["likely_rubber_stamping"] is True and row["rubber_stamped_pages"] == pages_with_wrong
    for worker in careful:
        row = rows[worker]
        assert (row["pages"], row["wrong_gold_seen"], row["wrong_gold_caught"]) == (pages, wrong_seen, wrong_seen)
        assert row["catch_rate"] == 1.0 and row["right_gold_kept"] == right_seen
        low, high = row["catch_rate_wilson95"]
        assert float(MIN_QUALITY) < low < 1.0 and high == pytest.approx(1.0)
        assert row["likely_rubber_stamping"] is False and row["rubber_stamped_pages"] == 0
        assert row["agreement"] > rows[stamper]["agreement"]

    table = run_bulkqa(stack, gold_rounds["folder"], "workers", "--round", mixed["name"], "--table", stack.table,
                       columns=80)  # fmt: skip
    assert table.returncode == 0, table.stderr
    assert max(map(len, table.stdout.splitlines())) <= 80
    assert table.stdout.count("stamp?") == 2  # the one flagged worker, and the legend


def _report(stack: DeployedStack, cwd: Path, round_name: str, *extra: str) -> dict[str, Any]:
    return bulkqa_json(stack, cwd, "report", "--table", stack.table, "--round", round_name, "--format", "json", *extra)


def test_excluding_the_stamper_restores_the_careful_workers_figures_exactly(
    stack: DeployedStack, gold_rounds: dict[str, Any]
) -> None:
    folder, mixed, careful_round = gold_rounds["folder"], gold_rounds["mixed"], gold_rounds["careful"]
    (stamper,) = mixed["crowd"].workers("rubber-stamper")
    expected = _report(stack, folder, careful_round["name"])
    with_stamper = _report(stack, folder, mixed["name"])
    figures = lambda report: {key: report[key] for key in FIGURES if key in report}  # noqa: E731
    assert "classes" in expected and "totals" in expected
    assert figures(with_stamper) != figures(expected)  # the stamper's ticks inflate the model's figures

    data_rows = sum(LABELS.values())
    # ... and those figures are the truth: the careful workers confirm exactly the right labels.
    for row in expected["classes"]:
        right = sum(_really(row["label"], i) == row["label"] for i in range(LABELS[row["label"]]))
        assert (row["confirmed"], row["disconfirmed"], row["split"]) == (right, LABELS[row["label"]] - right, 0)
    for extra in (["--min-worker-quality", MIN_QUALITY], ["--exclude-workers", stamper]):
        restored = _report(stack, folder, mixed["name"], *extra)
        assert figures(restored) == figures(expected), extra
        left_out = restored["worker_exclusion"]
        assert left_out["excluded_workers"] == [stamper]
        assert left_out["votes_left_out"] == data_rows  # one vote per data image; gold is no vote
        assert left_out["classes_without_reviewed_images"] == []
    flagged = {row["worker"]: row["excluded"] for row in _report(stack, folder, mixed["name"], "--min-worker-quality",
                                                                   MIN_QUALITY)["workers"]}  # fmt: skip
    assert flagged == {worker: worker == stamper for worker in mixed["crowd"].profiles}


def test_gold_items_are_never_classes_exports_or_votes(stack: DeployedStack, gold_rounds: dict[str, Any]) -> None:
    folder, mixed = gold_rounds["folder"], gold_rounds["mixed"]
    gold_urls = {f"s3://{stack.bucket}/images/{path}" for path, _, _ in GOLD}
    report = _report(stack, folder, mixed["name"])
    classes = {c["label"]: c for c in report["classes"]}
    assert set(classes) == set(LABELS)  # no Walrus, though the gold CSV names it
    assert "checks/" not in json.dumps(report)
    for label, count in LABELS.items():
        row = classes[label]
        assert row["total"] == count == sum(row[k] for k in ("confirmed", "disconfirmed", "split", "unreviewed"))
        assert row["unreviewed"] == 0

    export = run_bulkqa(stack, folder, "export", "--table", stack.table, "--round", mixed["name"], "--format", "csv")
    assert export.returncode == 0, export.stderr
    rows = list(csv.DictReader(io.StringIO(export.stdout)))
    assert len(rows) == sum(LABELS.values())
    assert not gold_urls & {value for row in rows for value in row.values()}
    assert "checks/" not in export.stdout
    # No pair item for a gold image: its answers scored the worker, never counted as votes.
    for url in gold_urls:
        for label in ("Heron", "Egret", "Walrus"):
            key = {"s3_image_url": {"S": url}, "label": {"S": label}}
            assert "Item" not in stack.ddb.get_item(TableName=stack.table, Key=key, ConsistentRead=True)


def test_the_worker_page_shows_gold_and_data_images_alike(stack: DeployedStack, gold_rounds: dict[str, Any]) -> None:
    result: JobResult = gold_rounds["mixed"]["result"]
    truth: Truth = gold_rounds["mixed"]["truth"]
    gold_cards = data_cards = 0
    for task in result.tasks:
        shown = task.task_input["sourceRef"]
        assert {json.dumps(sorted(item)) for item in shown} == {json.dumps(["confidence", "label", "s3_image_url"])}
        assert "gold" not in json.dumps(task.task_input).lower()
        for card in task.cards:
            image = task.image_uris[card.image_url]
            assert image.startswith(f"s3://{stack.bucket}/images/")
            assert card.checked and card.checkbox_value == task.cards[0].checkbox_value
            label = shown[0]["label"]
            if truth.is_gold(image, label):
                gold_cards += 1
            else:
                data_cards += 1
        # each card's checkbox is named alike: "<label>-<position>", nothing says gold
        assert [card.checkbox_name for card in task.cards] == [f"{shown[0]['label']}-{i}" for i in range(len(shown))]
    assert data_cards == sum(LABELS.values()) and gold_cards == 2 * len(result.tasks)
