"""Optional seeding at deploy time: upload a corpus CSV and run the launch function on it once.

``aws.lambda_.Invocation`` re-invokes when its ``triggers`` change; the trigger is the CSV's
SHA-256 (plus the seed settings and the round), so editing the CSV re-seeds on the next ``pulumi
up`` and an unchanged CSV does not. Seeding is idempotent anyway (existing items are not rewritten).

The seed is a QA round (docs/ARCHITECTURE.md, "Rounds"): the event names it (``"round"``). Without
``seed_round`` the name is ``deploy-<first 12 hex of the CSV's SHA-256>``, so a changed CSV is a
new round rather than "different input for an existing round", which the launch function refuses.
A ``seed_round`` set by the user with a changed CSV is refused the same way, failing the update:
name a new round.

Ordering: the invocation depends on the launch function *and its role policy*, so it never runs
before the permissions exist; IAM is eventually consistent beyond that, which the launch function
absorbs by retrying its first read on AccessDenied (``handlers.iam_wait``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from ._handlers import rounds
from .context import BuildContext
from .storage import upload_file

SEED_CSV_KEY = "seed/corpus.csv"
CSV_CONTENT_TYPE = "text/csv"
DEFAULT_ROUND_PREFIX = "deploy-"


def default_round_name(csv_sha256: str) -> str:
    """The round of a deploy-time seed nobody named: one per distinct CSV."""
    return f"{DEFAULT_ROUND_PREFIX}{csv_sha256[:12]}"


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Seed:
    csv_object: aws.s3.BucketObjectv2
    invocation: aws.lambda_.Invocation
    csv_sha256: str
    round_name: str


def launch_event(
    *, bucket: str, images: str | None, copy_images: bool, batch_size: int, threshold: float, round_name: str
) -> dict[str, object]:
    """The launch function's event (see ``handlers.launch``)."""
    return {
        "csv": f"s3://{bucket}/{SEED_CSV_KEY}",
        "images": images or f"s3://{bucket}/",
        "copy_images": copy_images,
        "batch_size": batch_size,
        "threshold": threshold,
        "round": round_name,
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
    round_name: str | None = None,
) -> Seed:
    if not csv_path.is_file():
        raise FileNotFoundError(f"seed CSV {csv_path} does not exist")
    digest = file_sha256(csv_path)
    seed_round = rounds.validate_round_name(round_name) if round_name else default_round_name(digest)
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
                bucket=v[0],
                images=images,
                copy_images=copy_images,
                batch_size=int(v[1]),
                threshold=float(v[2]),
                round_name=seed_round,
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
            "round": seed_round,
        },
        opts=ctx.opts(depends_on=[csv_object, *depends_on]),
    )
    return Seed(csv_object, invocation, digest, seed_round)
