"""``make demo``: two QA rounds on your machine, against an AWS emulator, in about a minute.

1. start the embedded emulator (moto server on 127.0.0.1, IAM enforced; or LocalStack at
   ``BULKQA_E2E_ENDPOINT``) and deploy the BulkQA component into it;
2. round 1: ``bulkqa seed`` the bundled synthetic labels (fixtures/demo/labels.csv, tiny generated
   PNGs), simulated workers review every task through the Ground Truth simulator (they see each
   image's true class; one of them is a little noisy), ``bulkqa report --round`` it;
3. round 2, a new data drop from the same model: ``bulkqa seed --accept-above`` round 1's report,
   so classes the model has earned are accepted without review; the rest is reviewed and reported;
4. print what the thresholds saved, then tear everything down.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from e2e.datasets import labeling_job, tiny_png
from e2e.deploy import DeployedStack, deploy_stack, deployer_kind
from e2e.emulator import ENV_ENDPOINT, Emulator, moto_server
from e2e.ground_truth import GroundTruthSimulator

REPO = Path(__file__).resolve().parents[1]
DEMO_CSV = REPO / "fixtures" / "demo" / "labels.csv"
NOISY_WORKER = 3  # this worker gets one image in every MISTAKE_EVERY wrong, to show split votes
MISTAKE_EVERY = 20
FIRST_COPIES = 3  # round 1: the demo images and this many similar ones each (about 50 reviews a class)
DROP_COPIES = 3  # round 2: a new drop of this many similar images per demo image


def say(message: str) -> None:
    print(message, flush=True)


@contextmanager
def emulator() -> Iterator[Emulator]:
    endpoint = os.environ.get(ENV_ENDPOINT)
    if endpoint:
        yield Emulator("localstack", endpoint.rstrip("/"))
    else:
        with moto_server() as server:
            yield server


def read_corpus() -> list[dict[str, str]]:
    with DEMO_CSV.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def new_drop(corpus: list[dict[str, str]], name: str, copies: int) -> list[dict[str, str]]:
    """New images of the same classes from the same model (its confidences jittered by up to 3)."""
    rng = random.Random(name)
    rows = []
    for copy in range(copies):
        for row in corpus:
            confidence = min(100.0, max(0.0, float(row["confidence"]) + rng.uniform(-3, 3)))
            path = f"{name}/{copy}-{Path(row['image_local_path']).name}"
            rows.append({**row, "image_local_path": path, "confidence": f"{confidence:.4f}"})
    return rows


def write_round(rows: list[dict[str, str]], folder: Path) -> Path:
    """The round's CSV (without the truth column) and its images, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for row in rows:
        image = folder / "images" / row["image_local_path"]
        image.parent.mkdir(parents=True, exist_ok=True)
        image.write_bytes(tiny_png(row["image_local_path"]))
    path = folder / "labels.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image_local_path", "label", "confidence"])
        writer.writerows((r["image_local_path"], r["label"], r["confidence"]) for r in rows)
    return path


def make_verdict(truth: dict[str, str]):
    """Workers see the image's true class: they confirm the label if it matches. One is a little noisy."""

    def verdict(worker: str, s3_image_url: str, label: str) -> bool:
        right = truth[s3_image_url.split("/images/", 1)[1]] == label
        number = int(worker.rsplit("-", 1)[1])
        digest = int(hashlib.sha256(f"{worker}{s3_image_url}".encode()).hexdigest(), 16)
        if number == NOISY_WORKER and digest % MISTAKE_EVERY == 0:
            return not right
        return right

    return verdict


class Demo:
    def __init__(self, aws: Emulator, stack: DeployedStack, workdir: Path, workers: int) -> None:
        self.aws, self.stack, self.workdir, self.workers = aws, stack, workdir, workers
        self.env = {**os.environ, **aws.environment(), "COLUMNS": os.environ.get("COLUMNS", "100")}
        self.simulator = self._simulator()

    def _simulator(self) -> GroundTruthSimulator:
        if not self.aws.iam_enforced:
            return GroundTruthSimulator(self.stack.s3, self.stack.invoker)
        role = self.aws.assume(self.stack.outputs["ground_truth_role_arn"], "sagemaker", "bulkqa-demo")
        return GroundTruthSimulator(
            self.aws.client_as(role, "s3"), self.stack.invoker, lambda_client=self.aws.client_as(role, "lambda")
        )

    def bulkqa(self, *args: str, capture: bool = False) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "bulkqa.cli", *args],
            env=self.env,
            cwd=self.workdir,
            check=True,
            text=True,
            stdout=subprocess.PIPE if capture else None,
        )
        return done.stdout or ""

    def seed(self, name: str, rows: list[dict[str, str]], *extra: str) -> dict[str, Any]:
        csv_path = write_round(rows, self.workdir / name)
        target = ["--bucket", self.stack.bucket, "--table", self.stack.table]
        args = ["seed", "--csv", str(csv_path), "--images", str(csv_path.parent / "images"), *target]
        return json.loads(self.bulkqa(*args, "--round", name, *extra, "--json", capture=True))

    def review(self, name: str, report: dict[str, Any], truth: dict[str, str]) -> int:
        if not report.get("manifest_uri") or not report.get("queued"):
            return 0
        job = labeling_job(self.stack, f"demo-{name}", workers=self.workers, manifest_uri=report["manifest_uri"])
        result = self.simulator.run(job, make_verdict(truth))
        return len(result.tasks)


def full_review_tasks(rows: list[dict[str, str]], threshold: float = 80.0, batch_size: int = 25) -> int:
    """Tasks a full review of ``rows`` needs: every row at or above the seed's threshold, one label a page."""
    per_label: dict[str, int] = {}
    for row in rows:
        if float(row["confidence"]) >= threshold:
            per_label[row["label"]] = per_label.get(row["label"], 0) + 1
    return sum(-(-n // batch_size) for n in per_label.values())


def run(workers: int) -> None:
    started = time.monotonic()
    corpus = read_corpus()
    first_rows = [*corpus, *new_drop(corpus, "drop1", FIRST_COPIES - 1)]
    drop = new_drop(corpus, "drop2", DROP_COPIES)
    truth = {row["image_local_path"]: row["true_label"] for row in [*first_rows, *drop]}
    with emulator() as aws, tempfile.TemporaryDirectory(prefix="bulkqa-demo-") as tmp:
        workdir = Path(tmp)
        say(f"1. AWS emulator: {aws.backend} at {aws.endpoint_url}" + (" (IAM enforced)" if aws.iam_enforced else ""))
        with deploy_stack(aws, workdir / "deploy", {}, prefix="demo") as stack:
            kinds = {resource["type"].split(":")[-1] for resource in stack.resources}
            say(
                f"   BulkQA deployed ({deployer_kind(aws)}): {len(stack.resources)} resources of {len(kinds)} "
                f"types, bucket {stack.bucket}, table {stack.table}"
            )
            demo = Demo(aws, stack, workdir, workers)

            first = demo.seed("round-1", first_rows)
            say(f"2. round-1: {first['rows_read']} rows, {first['queued']} queued in {first['batches']} tasks")
            tasks = demo.review("round-1", first, truth)
            say(f"   Ground Truth (simulated): {tasks} tasks x {workers} workers answered")
            report_path = workdir / "round-1-report.json"
            demo.bulkqa(
                "report", "--table", stack.table, "--round", "round-1", "--format", "json", "--out", str(report_path)
            )
            demo.bulkqa("report", "--table", stack.table, "--round", "round-1")
            thresholds = {
                c["label"]: f"{c.get('threshold')} ({c.get('threshold_status', '?')})"
                for c in json.loads(report_path.read_text()).get("classes", [])
                if isinstance(c, dict) and "label" in c
            }
            if thresholds:
                say(f"   per-class thresholds from round-1: {thresholds}")

            second = demo.seed("round-2", drop, "--accept-above", str(report_path))
            say(
                f"3. round-2 (a new drop, {second['rows_read']} rows) with --accept-above round-1's report: "
                f"{second['accepted']} accepted by threshold, {second['queued']} queued in {second['batches']} tasks"
            )
            tasks = demo.review("round-2", second, truth)
            say(f"   Ground Truth (simulated): {tasks} tasks x {workers} workers answered")
            demo.bulkqa("report", "--table", stack.table, "--round", "round-2")
            queued, full = int(second["batches"]), full_review_tasks(drop)
            saved = full - queued
            share = saved / full if full else 0.0
            say(
                f"4. Saving: round-2 needed {queued} tasks instead of {full} for a full review: "
                f"{saved} tasks ({share:.0%}) saved by round-1's thresholds "
                f"({second['accepted']} of {second['rows_read']} labels accepted without review)."
            )
    say(f"Done in {time.monotonic() - started:.0f}s; the stack and the emulator are gone.")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m e2e.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=3, help="simulated workers per task (default 3)")
    run(parser.parse_args().workers)


if __name__ == "__main__":
    main()
