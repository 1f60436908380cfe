"""``bulkqa sandbox up`` -> ``seed`` -> ``simulate`` -> ``report --round`` -> ``sandbox down``, as a user runs it."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import boto3

from e2e.datasets import tiny_png
from e2e.sandbox import hidden_truth, worker_verdict

REPO = Path(__file__).resolve().parents[1]


def _bulkqa(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bulkqa.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_whole_loop_against_the_sandbox(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"PYTHONPATH": str(REPO), "COLUMNS": "100"})
    up = _bulkqa(tmp_path, env, "sandbox", "up")
    assert up.returncode == 0, up.stderr
    try:
        exported = dict(line.removeprefix("export ").split("=", 1) for line in up.stdout.splitlines())
        assert set(exported) >= {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"}
        assert exported["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
        outputs = json.loads((tmp_path / "outputs.json").read_text())
        env.update({k: v.strip("'") for k, v in exported.items()})

        images = tmp_path / "images"
        images.mkdir()
        rows = [(f"img{i:03d}.png", ("Seal", "Otter")[i % 2], 80.0 + i % 20) for i in range(40)]
        with open(tmp_path / "labels.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["image_local_path", "label", "confidence"])
            for path, label, confidence in rows:
                (images / path).write_bytes(tiny_png(path))
                writer.writerow([path, label, confidence])
        target = ["--bucket", outputs["bucket_name"], "--table", outputs["table_name"]]
        seed = _bulkqa(tmp_path, env, "seed", "--csv", "labels.csv", "--images", "images", *target, "--round", "r1")
        assert seed.returncode == 0, seed.stderr + seed.stdout

        simulate = _bulkqa(tmp_path, env, "simulate", "--round", "r1", "--workers", "3", "--error-rate", "0.1")
        assert simulate.returncode == 0, simulate.stderr
        assert "2 tasks answered by 3 workers" in simulate.stderr  # 20 Seal + 20 Otter, 25 per page

        report = _bulkqa(tmp_path, env, "report", "--table", outputs["table_name"], "--round", "r1", "--format", "json")
        assert report.returncode == 0, report.stderr
        text = report.stdout
        # Every image got exactly 3 votes, each the simulated worker's verdict on the hidden truth.
        ddb = boto3.client(
            "dynamodb",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )
        confirmed_total = expected_confirmed = 0
        for path, label, confidence in rows:
            url = f"s3://{outputs['bucket_name']}/images/{path}"
            item = ddb.get_item(
                TableName=outputs["table_name"], Key={"s3_image_url": {"S": url}, "label": {"S": label}}
            )["Item"]
            votes = {w: v["S"] for w, v in item["WorkerVotes"]["M"].items()}
            assert len(votes) == 3
            truth = hidden_truth(url, label, confidence)
            for worker, vote in votes.items():
                assert (vote == "confirm") == worker_verdict(truth, worker, url, 0.1, 0)
            confirmed_total += int(item["WorkerConfirmCount"]["N"])
            expected_confirmed += sum(vote == "confirm" for vote in votes.values())
        assert confirmed_total == expected_confirmed > 0
        assert '"Seal"' in text and '"Otter"' in text
    finally:
        down = _bulkqa(tmp_path, env, "sandbox", "down")
    assert down.returncode == 0, down.stderr
    assert "stopped" in down.stderr
    assert not (tmp_path / ".bulkqa-sandbox" / "state.json").exists()
