"""The worker UI template, uploaded to the QA bucket at ``handlers.settings.TEMPLATE_KEY``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.context import BuildContext
from components.storage import upload_file
from handlers.settings import TEMPLATE_KEY
from worker_template import TEMPLATE_PATH

TEMPLATE_CONTENT_TYPE = "text/html"


def resolve_template_path(path: str | Path | None) -> Path:
    resolved = Path(path).expanduser().resolve() if path else TEMPLATE_PATH.resolve()
    if not resolved.is_file():
        raise FileNotFoundError(f"worker template {resolved} does not exist")
    return resolved


def upload_template(
    ctx: BuildContext, *, bucket: pulumi.Input[str], path: Path, depends_on: Sequence[pulumi.Resource]
) -> aws.s3.BucketObjectv2:
    return upload_file(
        ctx,
        "worker-template",
        bucket=bucket,
        key=TEMPLATE_KEY,
        path=path,
        content_type=TEMPLATE_CONTENT_TYPE,
        depends_on=depends_on,
    )
