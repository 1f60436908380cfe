"""The worker UI template, uploaded to the QA bucket at ``handlers.settings.TEMPLATE_KEY``."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.context import BuildContext
from handlers.settings import TEMPLATE_KEY

TEMPLATE_FILE = "bulkqa.liquid.html"
TEMPLATE_CONTENT_TYPE = "text/html"


def default_template_path() -> Path:
    """``worker_template/bulkqa.liquid.html`` next to this package (checkout or installed wheel)."""
    spec = importlib.util.find_spec("worker_template")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / TEMPLATE_FILE
            if candidate.is_file():
                return candidate.resolve()
    return (Path(__file__).resolve().parents[1] / "worker_template" / TEMPLATE_FILE).resolve()


def resolve_template_path(path: str | Path | None) -> Path:
    resolved = Path(path).expanduser().resolve() if path else default_template_path()
    if not resolved.is_file():
        raise FileNotFoundError(f"worker template {resolved} does not exist")
    return resolved


def upload_template(
    ctx: BuildContext, *, bucket: pulumi.Input[str], path: Path, depends_on: Sequence[pulumi.Resource]
) -> aws.s3.BucketObjectv2:
    return aws.s3.BucketObjectv2(
        ctx.child("worker-template"),
        bucket=bucket,
        key=TEMPLATE_KEY,
        source=pulumi.FileAsset(str(path)),
        content_type=TEMPLATE_CONTENT_TYPE,
        tags=ctx.tags,
        opts=ctx.opts(depends_on=list(depends_on)),
    )
