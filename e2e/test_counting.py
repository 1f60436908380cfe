"""Ground Truth end to end: tasks rendered from the deployed template, workers' answers counted exactly."""

from __future__ import annotations

import json
import uuid

from e2e.datasets import Row, counts, seed_round, table_item
from e2e.deploy import DeployedStack
from e2e.ground_truth import GroundTruthSimulator


def _rows(prefix: str, label: str, n: int) -> list[Row]:
    return [Row(f"{prefix}/{label.lower()}-{i:02d}.png", label, 85.0 + i % 15) for i in range(n)]


def _url(stack: DeployedStack, row: Row) -> str:
    return f"s3://{stack.bucket}/{row.image}"


def test_one_worker_counts_exactly(stack: DeployedStack, ground_truth: GroundTruthSimulator) -> None:
    prefix = f"count1-{uuid.uuid4().hex[:6]}"
    rows = _rows(prefix, "Beaver", 6) + _rows(prefix, "Crab", 4)
    seeded = seed_round(stack, rows)
    wrong = {_url(stack, rows[0]), _url(stack, rows[3]), _url(stack, rows[7])}

    result = ground_truth.run(
        seeded.job(stack, f"{prefix}-job", workers=1), lambda worker, url, label: url not in wrong
    )

    for row in rows:
        assert counts(stack, _url(stack, row), row.label) == ((0, 1) if _url(stack, row) in wrong else (1, 0))
    assert len(result.response) == 2  # one data object per label
    for task in result.tasks:
        assert len(task.answers) == 1


def test_three_workers_count_exactly(stack: DeployedStack, ground_truth: GroundTruthSimulator) -> None:
    prefix = f"count3-{uuid.uuid4().hex[:6]}"
    rows = _rows(prefix, "Lobster", 5)
    seeded = seed_round(stack, rows)
    ((_, items),) = seeded.batches
    a, b = _url(stack, rows[1]), _url(stack, rows[4])
    # worker 1 rejects a; worker 2 rejects a and b; worker 3 accepts everything.
    rejects = {1: {a}, 2: {a, b}, 3: set()}

    def verdict(worker: str, url: str, label: str) -> bool:
        return url not in rejects[int(worker.rsplit("-", 1)[1])]

    result = ground_truth.run(seeded.job(stack, f"{prefix}-job", workers=3), verdict)

    expected = {a: (1, 2), b: (2, 1)}
    for row in rows:
        url = _url(stack, row)
        assert counts(stack, url, row.label) == expected.get(url, (3, 0))
        votes = table_item(stack, url, row.label)["WorkerVotes"]["M"]
        assert len(votes) == 3
    (summary,) = result.consolidated("bulkqa").values()
    assert len(summary["workers"]) == 3
    # The consolidated content names images by index on the page (the table holds the rest).
    by_url = {items[image["index"]].s3_image_url: image for image in summary["images"]}
    assert (by_url[a]["WorkerConfirmCount"], by_url[a]["WorkerDisconfirmCount"]) == (1, 2)


def test_batch_of_25_flags_the_unticked_indices(stack: DeployedStack, ground_truth: GroundTruthSimulator) -> None:
    prefix = f"b25-{uuid.uuid4().hex[:6]}"
    rows = _rows(prefix, "Starfish", 25)
    seeded = seed_round(stack, rows)
    ((_, items),) = seeded.batches
    assert len(items) == 25
    flagged = {items[2].s3_image_url, items[10].s3_image_url}

    result = ground_truth.run(
        seeded.job(stack, f"{prefix}-job", workers=1), lambda worker, url, label: url not in flagged
    )

    # The worker unticked exactly the boxes named Starfish-2 and Starfish-10 on the rendered page.
    ((answer,),) = [list(task.answers.values()) for task in result.tasks]
    assert sorted(name for name, value in answer.items() if not value["Confirmed"]) == ["Starfish-10", "Starfish-2"]
    disconfirmed = {item.s3_image_url for item in items if counts(stack, item.s3_image_url, item.label)[1]}
    assert disconfirmed == flagged
    (summary,) = result.consolidated("bulkqa").values()
    assert [image["index"] for image in summary["images"] if image["WorkerDisconfirmCount"]] == [2, 10]
    # Ground Truth's output manifest carries the consolidated annotation per data object.
    text = stack.s3.get_object(Bucket=stack.bucket, Key=result.output_manifest_uri.split("/", 3)[3])["Body"].read()
    (line,) = [json.loads(raw) for raw in text.decode().splitlines()]
    assert line["bulkqa"] == summary
    assert line["bulkqa-metadata"]["human-annotated"] == "yes"


def test_redelivered_consolidation_changes_nothing(stack: DeployedStack, ground_truth: GroundTruthSimulator) -> None:
    prefix = f"redo-{uuid.uuid4().hex[:6]}"
    rows = _rows(prefix, "Dolphin", 4)
    seeded = seed_round(stack, rows)
    job = seeded.job(stack, f"{prefix}-job", workers=2)
    result = ground_truth.run(job, lambda worker, url, label: not url.endswith("-01.png"))
    before = {row.image: table_item(stack, _url(stack, row), row.label) for row in rows}

    again = ground_truth.redeliver(job, result)

    after = {row.image: table_item(stack, _url(stack, row), row.label) for row in rows}
    assert after == before
    assert again == result.response
    assert counts(stack, _url(stack, rows[1]), "Dolphin") == (0, 2)
