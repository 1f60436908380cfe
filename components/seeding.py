"""Optional seeding at deploy time: upload a corpus CSV and run the launch function on it once.

``aws.lambda_.Invocation`` re-invokes when its ``triggers`` change; the trigger is the CSV's
SHA-256 (plus the seed settings), so editing the CSV re-seeds on the next ``pulumi up`` and an
unchanged CSV does not. Seeding is idempotent anyway (existing items are not rewritten).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.context import BuildContext
from components.storage import upload_file

SEED_CSV_KEY = "seed/corpus.csv"
CSV_CONTENT_TYPE = "text/csv"


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Seed:
    csv_object: aws.s3.BucketObjectv2
    invocation: aws.lambda_.Invocation
    csv_sha256: str


def launch_event(
    *, bucket: str, images: str | None, copy_images: bool, batch_size: int, threshold: float
) -> dict[str, object]:
    """The launch function's event (see ``handlers.launch``)."""
    return {
        "csv": f"s3://{bucket}/{SEED_CSV_KEY}",
        "images": images or f"s3://{bucket}/",
        "copy_images": copy_images,
        "batch_size": batch_size,
        "threshold": threshold,
    }


def create_seed(
    ctx: BuildContext,
    *,
    bucket: pulumi.Output[str],
    csv_path: Path,
    images: str | None,
    copy_images: bool,
    batch_size: pulumi.Input[int],
    threshold: pulumi.Input[float],
    launch_function_name: pulumi.Input[str],
    depends_on: Sequence[pulumi.Resource],
) -> Seed:
    if not csv_path.is_file():
        raise FileNotFoundError(f"seed CSV {csv_path} does not exist")
    digest = file_sha256(csv_path)
    csv_object = upload_file(
        ctx,
        "seed-csv",
        bucket=bucket,
        key=SEED_CSV_KEY,
        path=csv_path,
        content_type=CSV_CONTENT_TYPE,
        depends_on=depends_on,
    )
    event = pulumi.Output.all(bucket, batch_size, threshold).apply(
        lambda v: json.dumps(
            launch_event(
                bucket=v[0], images=images, copy_images=copy_images, batch_size=int(v[1]), threshold=float(v[2])
            ),
            sort_keys=True,
        )
    )
    invocation = aws.lambda_.Invocation(
        ctx.child("seed"),
        function_name=launch_function_name,
        input=event,
        triggers={
            "csv_sha256": digest,
            "images": images or "",
            "copy_images": str(bool(copy_images)).lower(),
        },
        opts=ctx.opts(depends_on=[csv_object, *depends_on]),
    )
    return Seed(csv_object, invocation, digest)
