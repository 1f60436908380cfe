"""The worker UI template, uploaded to the QA bucket at ``handlers.settings.TEMPLATE_KEY``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pulumi
import pulumi_aws as aws

from ._handlers import settings
from .context import BuildContext
from .storage import upload_file

# Found beside this package (a checkout or an installed wheel), not through ``import
# worker_template``: a consumer's own ``worker_template`` package must not replace our page.
TEMPLATE_PATH = Path(__file__).resolve().parents[1] / "worker_template" / "bulkqa.liquid.html"

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
        key=settings.TEMPLATE_KEY,
        path=path,
        content_type=TEMPLATE_CONTENT_TYPE,
        depends_on=depends_on,
    )
