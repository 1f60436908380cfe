"""``make demo``: the whole BulkQA round on your machine, against an AWS emulator, in about a minute.

1. start the embedded emulator (moto server on 127.0.0.1; or LocalStack at ``BULKQA_E2E_ENDPOINT``);
2. put the bundled synthetic images (fixtures/demo/labels.csv, tiny generated PNGs) in an image bucket;
3. deploy the BulkQA component with that CSV as its deploy-time seed (the launch function runs);
4. let simulated workers review every batch through the Ground Truth simulator;
5. print ``bulkqa report`` for the QA table, then tear everything down.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from e2e.datasets import labeling_job, tiny_png
from e2e.deploy import deploy_stack, deployer_kind
from e2e.emulator import ENV_ENDPOINT, Emulator, moto_server
from e2e.ground_truth import GroundTruthSimulator

REPO = Path(__file__).resolve().parents[1]
DEMO_CSV = REPO / "fixtures" / "demo" / "labels.csv"
IMAGE_PREFIX = "demo/"
NOISY_WORKER = 3  # this worker gets one image in every MISTAKE_EVERY wrong, to show split votes
MISTAKE_EVERY = 20


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


def make_verdict(truth: dict[str, str]):
    """Workers see the image's true class: they confirm the label if it matches. One is a little noisy."""

    def verdict(worker: str, s3_image_url: str, label: str) -> bool:
        right = truth[s3_image_url.split("/", 3)[3].removeprefix(IMAGE_PREFIX)] == label
        number = int(worker.rsplit("-", 1)[1])
        digest = int(hashlib.sha256(f"{worker}{s3_image_url}".encode()).hexdigest(), 16)
        if number == NOISY_WORKER and digest % MISTAKE_EVERY == 0:
            return not right
        return right

    return verdict


def run(workers: int) -> None:
    started = time.monotonic()
    corpus = read_corpus()
    truth = {row["image_local_path"]: row["true_label"] for row in corpus}
    with emulator() as aws, tempfile.TemporaryDirectory(prefix="bulkqa-demo-") as workdir:
        say(f"1. AWS emulator: {aws.backend} at {aws.endpoint_url}")
        s3 = aws.client("s3")
        images_bucket = f"bulkqa-demo-images-{os.getpid()}"
        s3.create_bucket(Bucket=images_bucket)
        try:
            for path in truth:
                s3.put_object(Bucket=images_bucket, Key=f"{IMAGE_PREFIX}{path}", Body=tiny_png(path))
            say(f"2. {len(truth)} synthetic images in s3://{images_bucket}/{IMAGE_PREFIX}, labels {DEMO_CSV.name}")
            config = {"bulkqa:seedCsv": str(DEMO_CSV), "bulkqa:seedImages": f"s3://{images_bucket}/{IMAGE_PREFIX}"}
            with deploy_stack(aws, Path(workdir) / "deploy", config, prefix="demo") as stack:
                kinds = {resource["type"].split(":")[-1] for resource in stack.resources}
                say(
                    f"3. BulkQA deployed ({deployer_kind(aws)}): {len(stack.resources)} resources "
                    f"of {len(kinds)} types, bucket {stack.bucket}, table {stack.table}"
                )
                for result in stack.invocations.values():
                    per_label = ", ".join(f"{k} {v['items']}" for k, v in result["batches_per_label"].items())
                    below = sum(result["below_threshold"].values())
                    say(
                        f"   seeded at deploy time: {result['rows_read']} rows, {result['queued']} queued "
                        f"in {result['batches']} batches ({per_label}); {below} below the threshold"
                    )
                job = labeling_job(stack, "bulkqa-demo", workers=workers)
                simulator = GroundTruthSimulator(stack.s3, stack.invoker)
                result = simulator.run(job, make_verdict(truth))
                flagged = sum(
                    image["WorkerDisconfirmCount"] > 0
                    for summary in result.consolidated(job.label_attribute_name).values()
                    for image in summary["images"]
                )
                say(
                    f"4. Ground Truth (simulated): {len(result.tasks)} tasks x {workers} workers; "
                    f"{flagged} images got at least one 'wrong label' vote; output {result.output_manifest_uri}"
                )
                endpoint = ["--endpoint-url", aws.endpoint_url, "--region", aws.region]
                say(f"5. bulkqa report --table {stack.table} {' '.join(endpoint)}")
                subprocess.run(
                    [sys.executable, "-m", "bulkqa.cli", "report", "--table", stack.table, *endpoint],
                    env={**os.environ, **aws.environment(), "COLUMNS": os.environ.get("COLUMNS", "120")},
                    check=True,
                )
        finally:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=images_bucket):
                for entry in page.get("Contents", []):
                    s3.delete_object(Bucket=images_bucket, Key=entry["Key"])
            s3.delete_bucket(Bucket=images_bucket)
    say(f"Done in {time.monotonic() - started:.0f}s; the stack and the emulator are gone.")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m e2e.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=3, help="simulated workers per task (default 3)")
    run(parser.parse_args().workers)


if __name__ == "__main__":
    main()
