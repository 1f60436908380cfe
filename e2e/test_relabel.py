"""Issue 15 on the emulator: from seed to corrected export through a chained relabel job.

``bulkqa seed`` a round; its job is answered through the deployed functions (IAM enforced) by two
careful workers and a strict one, who reject the images whose label is wrong; ``bulkqa relabel
create`` writes the relabel job's manifest, categories and template to the emulator's S3 and asks
SageMaker for the built-in image classification job -- moto has no Ground Truth, so only the
SageMaker client is a botocore Stubber, which must receive exactly the request ``--dry-run``
printed; ``e2e.builtin_classification`` plays that job as the Ground Truth role (it must be able to
read the relabel files and write ``output/``); ``bulkqa relabel import`` records the answers (a
second import changes nothing); ``bulkqa report --round`` has the confusion table and ``bulkqa
export --round --corrected`` is the corrected training set.
"""

from __future__ import annotations

import csv
import json
import uuid
from pathlib import Path
from typing import Any

from bulkqa.relabel.plan import META_REJECTED_LABELS, NONE_OF_THESE
from e2e.builtin_classification import run_builtin_classification
from e2e.cli_runner import bulkqa_json, run_bulkqa, write_outputs
from e2e.conftest import ground_truth_simulator
from e2e.datasets import labeling_job, tiny_png
from e2e.deploy import DeployedStack
from e2e.relabel_job import create_with_stubbed_sagemaker
from e2e.worker_profiles import Careful, Crowd, Strict, Truth
from handlers.s3_uri import parse_s3_uri

LABELS = {"Frog": 16, "Toad": 8}
STRICT_BELOW = 85.0  # the strict worker also unticks right labels shown below this: split votes
WORKTEAM = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/relabellers"


def _really(label: str, i: int) -> str:
    """Every fourth Frog is a Toad; every fourth Toad is a Newt (no category of the round)."""
    return label if i % 4 else {"Frog": "Toad", "Toad": "Newt"}[label]


def _confidence(i: int) -> float:
    return 81.0 + (i * 7) % 19


def _read(s3: Any, uri: str) -> str:
    location = parse_s3_uri(uri)
    return s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read().decode("utf-8")


def test_seed_reject_relabel_import_report_and_corrected_export(stack: DeployedStack, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    round_name, job_name = f"relabel-{tag}", f"fix-{tag}"
    url = lambda path: f"s3://{stack.bucket}/images/{path}"  # noqa: E731
    truth: dict[str, str] = {}
    confidence: dict[str, float] = {}
    with (tmp_path / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image_local_path", "label", "confidence"])
        for label, count in LABELS.items():
            for i in range(count):
                path = f"rl-{tag}/{label.lower()}-{i:02d}.png"
                (tmp_path / "images" / path).parent.mkdir(parents=True, exist_ok=True)
                (tmp_path / "images" / path).write_bytes(tiny_png(path))
                writer.writerow([path, label, _confidence(i)])
                truth[url(path)], confidence[url(path)] = _really(label, i), _confidence(i)
    labelled = {url(f"rl-{tag}/{label.lower()}-{i:02d}.png"): label for label, n in LABELS.items() for i in range(n)}

    # 1. seed, and the QA job: two careful workers and a strict one.
    seeded = bulkqa_json(
        stack, tmp_path, "seed", "--csv", "labels.csv", "--images", "images", "--bucket", stack.bucket,
        "--table", stack.table, "--round", round_name, "--json",
    )  # fmt: skip
    assert seeded["queued"] == len(truth)
    job = labeling_job(stack, f"qa-{tag}", workers=3, manifest_uri=seeded["manifest_uri"])
    crowd = Crowd(job.worker_ids(), [Careful(), Careful(), Strict(STRICT_BELOW)], Truth(truth))
    ground_truth_simulator(stack).run(job, judge=crowd)
    wrong = sorted(image for image, label in labelled.items() if truth[image] != label)
    split = sorted(i for i, label in labelled.items() if truth[i] == label and confidence[i] < STRICT_BELOW)
    assert wrong and split

    # 2. relabel create: --dry-run prints the checked request and writes nothing ...
    outputs = write_outputs(stack, tmp_path / "outputs.json")
    create = ["relabel", "create", "--round", round_name, "--outputs", str(outputs), "--name", job_name,
              "--workteam-arn", WORKTEAM, "--workers-per-object", "3", "--region", stack.emulator.region]  # fmt: skip
    dry = run_bulkqa(stack, tmp_path, *create, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    request = json.loads(dry.stdout)
    prefix = f"rounds/{round_name}/relabel/{job_name}/"
    assert "Contents" not in stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix=prefix)
    assert request["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"] == (
        f"s3://{stack.bucket}/{prefix}manifest.jsonl"
    )
    assert request["RoleArn"] == stack.outputs["ground_truth_role_arn"]
    # ... the real run writes the three files to the emulator and sends that very request.
    env = {**stack.emulator.environment(), "COLUMNS": "100"}
    arn = create_with_stubbed_sagemaker(create, request, env, stack.emulator.region)
    assert arn.endswith(f":labeling-job/{job_name}")
    listed = stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix=prefix)["Contents"]
    assert sorted(o["Key"].removeprefix(prefix) for o in listed) == [
        "categories.json",
        "manifest.jsonl",
        "template.liquid.html",
    ]
    manifest = [
        json.loads(line) for line in _read(stack.s3, f"s3://{stack.bucket}/{prefix}manifest.jsonl").splitlines()
    ]
    assert [line["source-ref"] for line in manifest] == wrong  # the rejected images, not the split ones
    assert all(line[META_REJECTED_LABELS] == [labelled[line["source-ref"]]] for line in manifest)
    categories = [c["label"] for c in json.loads(_read(stack.s3, request["LabelCategoryConfigS3Uri"]))["labels"]]
    assert set(categories) == {*LABELS, NONE_OF_THESE}

    # 3. the built-in job, played as the Ground Truth role: reads the relabel files, writes output/.
    if stack.emulator.iam_enforced:
        role = stack.emulator.assume(request["RoleArn"], "sagemaker", f"relabel-{tag}")
        s3_as_job = stack.emulator.client_as(role, "s3")
    else:
        s3_as_job = stack.s3

    def choose(worker: str, image: str, labels: list[str]) -> str:
        return truth[image] if truth[image] in labels else NONE_OF_THESE

    output_uri = run_builtin_classification(s3_as_job, request, choose)
    assert output_uri.startswith(stack.outputs["output_path"].rstrip("/") + "/")

    # 4. import, twice: the second changes nothing.
    imported = bulkqa_json(stack, tmp_path, "relabel", "import", "--round", round_name, "--output-manifest",
                           output_uri, "--table", stack.table, "--json")  # fmt: skip
    assert (imported["images"], imported["recorded"], imported["unchanged"]) == (len(wrong), len(wrong), 0)
    assert imported["problems"] == imported["conflicts"] == imported["missing_pairs"] == []
    again = bulkqa_json(stack, tmp_path, "relabel", "import", "--round", round_name, "--output-manifest",
                        output_uri, "--table", stack.table, "--json")  # fmt: skip
    assert (again["recorded"], again["unchanged"]) == (0, len(wrong))

    # 5. the report's confusion table: rejected label -> what the images really were.
    report = bulkqa_json(stack, tmp_path, "report", "--table", stack.table, "--round", round_name, "--format", "json")
    expected: dict[str, dict[str, int]] = {}
    for image in wrong:
        really = truth[image] if truth[image] in LABELS else NONE_OF_THESE
        row = expected.setdefault(labelled[image], {})
        row[really] = row.get(really, 0) + 1
    assert report["relabel_confusion"] == expected == {"Frog": {"Toad": 4}, "Toad": {NONE_OF_THESE: 2}}
    table = run_bulkqa(stack, tmp_path, "report", "--table", stack.table, "--round", round_name, columns=80)
    assert table.returncode == 0 and "Rejected images, relabelled" in table.stdout, table.stderr
    assert max(map(len, table.stdout.splitlines())) <= 80

    # 6. the corrected training set: confirmed labels + corrected ones, none of "None of these".
    export = run_bulkqa(stack, tmp_path, "export", "--table", stack.table, "--round", round_name, "--corrected",
                        "--format", "jsonl")  # fmt: skip
    assert export.returncode == 0, export.stderr
    rows = {row["image"]: row for row in map(json.loads, export.stdout.splitlines())}
    confirmed = {i for i, label in labelled.items() if truth[i] == label and i not in split}
    corrected = {i for i in wrong if truth[i] in LABELS}
    assert set(rows) == confirmed | corrected
    for image, row in rows.items():
        assert row["label"] == truth[image]  # every label of the training set is the truth
        assert row["original_label"] == labelled[image]
        assert row["label_source"] == ("confirmed" if image in confirmed else f"relabel:{job_name}")
        assert float(row["confidence"]) == confidence[image]
