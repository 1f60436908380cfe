"""``make demo``: QA rounds on your machine, against an AWS emulator, in about a minute.

1. start the embedded emulator (moto server on 127.0.0.1, IAM enforced; or LocalStack at
   ``BULKQA_E2E_ENDPOINT``) and deploy the BulkQA component into it;
2. round 1: ``bulkqa seed`` the bundled synthetic labels (fixtures/demo/labels.csv, tiny generated
   PNGs), simulated workers review every task through the Ground Truth simulator (they see each
   image's true class; one of them is a little noisy), ``bulkqa report --round`` it;
3. round 2, a new data drop from the same model: ``bulkqa seed --accept-above`` round 1's report,
   so classes the model has earned are accepted without review; the rest is reviewed and reported;
4. print what the thresholds saved;
5. round 3, seeded with ``--gold`` (known answers on every page), is reviewed by two careful
   workers and a rubber-stamper (e2e/worker_profiles.py): ``bulkqa workers`` flags the stamper,
   ``bulkqa report --min-worker-quality`` leaves its votes out;
6. a relabel round: ``bulkqa relabel create --dry-run`` for round 1's rejected images, the same
   command for real with only SageMaker stubbed (the emulators have no Ground Truth), the built-in
   classification job simulated as the Ground Truth role, ``bulkqa relabel import``, the
   confusion table and the corrected training set; then tear everything down.

Everything printed fits 80 columns.
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
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bulkqa.relabel.plan import NONE_OF_THESE
from e2e.builtin_classification import run_builtin_classification
from e2e.datasets import labeling_job, tiny_png
from e2e.deploy import DeployedStack, deploy_stack, deployer_kind
from e2e.emulator import ENV_ENDPOINT, Emulator, moto_server
from e2e.ground_truth import GroundTruthSimulator
from e2e.relabel_job import create_with_stubbed_sagemaker
from e2e.worker_profiles import Careful, Crowd, RubberStamper, Truth

REPO = Path(__file__).resolve().parents[1]
DEMO_CSV = REPO / "fixtures" / "demo" / "labels.csv"
NOISY_WORKER = 3  # this worker gets one image in every MISTAKE_EVERY wrong, to show split votes
MISTAKE_EVERY = 20
FIRST_COPIES = 3  # round 1: the demo images and this many similar ones each (about 50 reviews a class)
DROP_COPIES = 3  # round 2: a new drop of this many similar images per demo image
WIDTH = 80  # every line the demo prints, its own and the bulkqa command's
GOLD_WRONG, GOLD_RIGHT = 2, 1  # round 3: gold items per class with a wrong / the right label
MIN_WORKER_QUALITY = "0.5"  # catch-rate lower bound (Wilson 95%) below which votes are left out
# The relabel job's categories: the round's classes plus what the rejected images turned out to be
# (a Trumpet labelled Saxophone is left to "None of these").
EXTRA_CATEGORIES = ("Crayfish", "Starfish")
WORKTEAM = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/demo"


def say(message: str) -> None:
    """Print within WIDTH columns; continuation lines are indented like the first, plus 3."""
    indent = " " * (len(message) - len(message.lstrip(" ")))
    lines = textwrap.wrap(message, WIDTH, subsequent_indent=indent + "   ", break_on_hyphens=False) or [""]
    print("\n".join(lines), flush=True)


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
        self.env = {**os.environ, **aws.environment(), "COLUMNS": str(WIDTH)}
        self.job_s3 = self.stack.s3  # the Ground Truth role's S3 client where IAM is enforced
        self.simulator = self._simulator()

    def _simulator(self) -> GroundTruthSimulator:
        if not self.aws.iam_enforced:
            return GroundTruthSimulator(self.stack.s3, self.stack.invoker)
        role = self.aws.assume(self.stack.outputs["ground_truth_role_arn"], "sagemaker", "bulkqa-demo")
        self.job_s3 = self.aws.client_as(role, "s3")
        return GroundTruthSimulator(self.job_s3, self.stack.invoker, lambda_client=self.aws.client_as(role, "lambda"))

    def url(self, path: str) -> str:
        """The s3:// URL ``bulkqa seed --images <folder>`` gives a local image."""
        return f"s3://{self.stack.bucket}/images/{path}"

    def bulkqa(self, *args: str, capture: bool = False, quiet: bool = False) -> str:
        """Run the command; ``capture`` its standard output; ``quiet``: hide its standard error
        (progress lines) unless it fails."""
        done = subprocess.run(
            [sys.executable, "-m", "bulkqa.cli", *args],
            env=self.env,
            cwd=self.workdir,
            text=True,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE if quiet else None,
        )
        if done.returncode != 0:
            sys.stderr.write(done.stderr or "")
            raise subprocess.CalledProcessError(done.returncode, done.args, done.stdout, done.stderr)
        return done.stdout or ""

    def seed(
        self, name: str, rows: list[dict[str, str]], *extra: str, gold: list[dict[str, str]] | None = None
    ) -> dict[str, Any]:
        csv_path = write_round(rows, self.workdir / name)
        if gold:
            extra = (*extra, "--gold", str(write_gold(gold, self.workdir / name)))
        target = ["--bucket", self.stack.bucket, "--table", self.stack.table]
        args = ["seed", "--csv", str(csv_path), "--images", str(csv_path.parent / "images"), *target]
        return json.loads(self.bulkqa(*args, "--round", name, *extra, "--json", capture=True))

    def review(self, name: str, report: dict[str, Any], truth: dict[str, str]) -> int:
        if not report.get("manifest_uri") or not report.get("queued"):
            return 0
        job = labeling_job(self.stack, f"demo-{name}", workers=self.workers, manifest_uri=report["manifest_uri"])
        result = self.simulator.run(job, make_verdict(truth))
        return len(result.tasks)

    def review_by(self, name: str, report: dict[str, Any], crowd_of: Any) -> tuple[int, Crowd]:
        """The round's job answered by a crowd of worker profiles (``crowd_of(worker_ids)``)."""
        job = labeling_job(self.stack, f"demo-{name}", workers=3, manifest_uri=report["manifest_uri"])
        crowd = crowd_of(job.worker_ids())
        return len(self.simulator.run(job, judge=crowd).tasks), crowd

    def report_json(self, name: str, *extra: str) -> dict[str, Any]:
        args = ["report", "--table", self.stack.table, "--round", name, "--format", "json", *extra]
        return json.loads(self.bulkqa(*args, capture=True, quiet=True))

    def gold_round(
        self, name: str, rows: list[dict[str, str]], gold: list[dict[str, str]], truth: dict[str, str]
    ) -> None:
        """Step 5: a round with gold items, reviewed by two careful workers and a rubber-stamper."""
        seeded = self.seed(name, rows, gold=gold)
        say(
            f"5. {name} (a new drop, {seeded['rows_read']} rows) seeded with --gold: {len(gold)} known "
            f"answers, up to 2 on each of its {seeded['batches']} pages, looking like any other image"
        )
        known = Truth({self.url(path): label for path, label in truth.items()})
        known = known.with_gold_csv((self.workdir / name / "gold.csv").read_text(encoding="utf-8"), self.url)
        tasks, crowd = self.review_by(
            name, seeded, lambda ids: Crowd(ids, [Careful(), Careful(), RubberStamper()], known)
        )
        (stamper,) = crowd.workers("rubber-stamper")
        say(f"   Ground Truth (simulated): {tasks} tasks x 3 workers; {stamper} ticks nothing off")
        self.bulkqa("workers", "--table", self.stack.table, "--round", name)
        every = self.report_json(name)["totals"]
        careful = self.report_json(name, "--min-worker-quality", MIN_WORKER_QUALITY)
        left_out = careful["worker_exclusion"]
        say(
            f"   bulkqa report --round {name} --min-worker-quality {MIN_WORKER_QUALITY}: "
            f"left out {', '.join(left_out['excluded_workers'])} ({left_out['votes_left_out']} votes)."
        )
        for title, totals in (("with its votes:   ", every), ("without its votes:", careful["totals"])):
            say(
                f"   {title} {totals['confirmed']:>3} confirmed, {totals['disconfirmed']:>3} rejected, "
                f"{totals['split']:>3} split"
            )
        if every["disconfirmed"] == 0 and every["split"] and not careful["totals"]["split"]:
            say("   (its ticks turned every rejection into a split vote)")
        say("   The report without it:")
        self.bulkqa("report", "--table", self.stack.table, "--round", name, "--min-worker-quality", MIN_WORKER_QUALITY)

    def relabel_round(self, name: str, truth: dict[str, str]) -> None:
        """Step 6: correct what the workers of ``name`` rejected, with a built-in classification job."""
        outputs = self.workdir / "outputs.json"
        outputs.write_text(json.dumps(self.stack.outputs), encoding="utf-8")
        classes = sorted({r["label"] for r in read_corpus()})
        categories = self.workdir / "categories.txt"
        categories.write_text("\n".join([*classes, *EXTRA_CATEGORIES]) + "\n", encoding="utf-8")
        job = f"demo-relabel-{name}"
        create = ["relabel", "create", "--round", name, "--outputs", str(outputs), "--name", job]
        create += ["--workteam-arn", WORKTEAM, "--categories", str(categories), "--region", self.aws.region]
        say(f"6. Relabel {name}'s rejected images: bulkqa relabel create --dry-run")
        request = json.loads(self.bulkqa(*create, "--dry-run", capture=True))
        create_with_stubbed_sagemaker(create, request, self.env, self.aws.region)
        human = request["HumanTaskConfig"]
        say(
            f"   created for real, SageMaker stubbed: the built-in task "
            f"{human['PreHumanTaskLambdaArn'].rsplit(':', 1)[1]}, its manifest, categories and "
            "template written to S3"
        )
        names: set[str] = set()

        def choose(worker: str, image: str, labels: list[str]) -> str:
            names.update(labels)
            really = truth[image.split("/images/", 1)[1]]
            return really if really in labels else NONE_OF_THESE

        output = run_builtin_classification(self.job_s3, request, choose)
        say(f"   Ground Truth (simulated built-in job, {len(names)} categories) answered; bulkqa relabel import:")
        self.bulkqa("relabel", "import", "--round", name, "--output-manifest", output, "--outputs", str(outputs))
        confusion = self.report_json(name)["relabel_confusion"]
        say(f"   bulkqa report --round {name}: what the rejected images really were")
        for label, row in sorted(confusion.items()):
            say(f"     {label:<10} -> " + ", ".join(f"{really} {n}" for really, n in sorted(row.items())))
        export = self.workdir / "corrected.csv"
        args = ["export", "--table", self.stack.table, "--round", name, "--corrected", "--out", str(export)]
        self.bulkqa(*args, capture=True, quiet=True)
        with export.open(newline="", encoding="utf-8") as handle:
            sources = [row["label_source"] for row in csv.DictReader(handle)]
        relabelled = sum(source != "confirmed" for source in sources)
        say(
            f"   bulkqa export --round {name} --corrected: {len(sources)} training rows "
            f"({len(sources) - relabelled} confirmed, {relabelled} with their corrected class)"
        )


def gold_items(corpus: list[dict[str, str]]) -> list[dict[str, str]]:
    """Known answers for round 3: per class, images of another class shown with it (truth
    ``wrong``) and one of its own (``correct``). Their paths say nothing of what they are."""
    rng = random.Random("gold")
    labels = sorted({row["label"] for row in corpus})
    items = []
    for label in labels:
        others = [r for r in corpus if r["true_label"] not in (label, "")]
        own = [r for r in corpus if r["true_label"] == label]
        picked = [(r, "wrong") for r in rng.sample(others, GOLD_WRONG)] + [(r, "correct") for r in own[:GOLD_RIGHT]]
        for row, truth in picked:
            path = f"extra/{len(items):04d}.png"
            items.append({"image_local_path": path, "label": label, "truth": truth, "source": row["image_local_path"]})
    return items


def write_gold(items: list[dict[str, str]], folder: Path) -> Path:
    """The gold CSV and its images, in the round's folder (the same ``--images`` as the data)."""
    for item in items:
        image = folder / "images" / item["image_local_path"]
        image.parent.mkdir(parents=True, exist_ok=True)
        image.write_bytes(tiny_png(item["source"]))
    path = folder / "gold.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image_local_path", "label", "truth"])
        writer.writerows((i["image_local_path"], i["label"], i["truth"]) for i in items)
    return path


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
    third = new_drop(corpus, "drop3", 1)
    truth = {row["image_local_path"]: row["true_label"] for row in [*first_rows, *drop, *third]}
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
            demo.gold_round("round-3", third, gold_items(corpus), truth)
            demo.relabel_round("round-1", truth)
    say(f"Done in {time.monotonic() - started:.0f}s; the stack and the emulator are gone.")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m e2e.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=3, help="simulated workers per task (default 3)")
    run(parser.parse_args().workers)


if __name__ == "__main__":
    main()
