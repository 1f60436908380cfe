"""BulkQA's Pulumi component under a name no consumer project shadows.

    from bulkqa.stack import BulkQA, BulkQAArgs

Why: the wheel also installs the repository's top-level ``components`` package, and a Pulumi
project with its own ``components/`` folder (a common layout) would shadow it, or be shadowed by
it. ``bulkqa.stack`` loads the very same files (``components/*.py``, which import each other
relatively) as its own submodules: ``bulkqa.stack.bulkqa``, ``bulkqa.stack.mocks``,
``bulkqa.stack.lambda_package``… The Lambda handlers and the worker template are found by path
beside it (``handlers/``, ``worker_template/``), in a checkout and in an installed wheel alike, so
a consumer's own folders of those names never end up in the deployment either.
"""

from __future__ import annotations

from pathlib import Path

COMPONENT_SOURCES = Path(__file__).resolve().parents[1] / "components"
if not (COMPONENT_SOURCES / "bulkqa.py").is_file():  # pragma: no cover - a broken install
    raise ImportError(f"bulkqa.stack: the component sources are missing from {COMPONENT_SOURCES}")
# Submodules of bulkqa.stack are the files of components/.
__path__ = [str(COMPONENT_SOURCES)]

from bulkqa.stack.args import BulkQAArgs  # noqa: E402
from bulkqa.stack.bulkqa import BulkQA  # noqa: E402
from bulkqa.stack.lambda_package import LambdaPackage, lambda_package, package_path_and_sha256  # noqa: E402
from bulkqa.stack.outputs import STACK_OUTPUTS  # noqa: E402
from bulkqa.stack.resource_types import COMPONENT_TYPE, RESOURCE_TYPES  # noqa: E402

__all__ = [
    "COMPONENT_TYPE",
    "RESOURCE_TYPES",
    "STACK_OUTPUTS",
    "BulkQA",
    "BulkQAArgs",
    "LambdaPackage",
    "lambda_package",
    "package_path_and_sha256",
]
