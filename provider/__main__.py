"""Entry point of BulkQA as a source-based Pulumi plugin package (see PulumiPlugin.yaml).

``pulumi package add <repo-or-path>`` starts this to host the ``BulkQA`` component; Pulumi infers
the schema (``bulkqa:index:BulkQA``) from the type annotations of ``components.BulkQA`` and
``components.BulkQAArgs`` and generates an SDK for the consumer's language.

The repository root's ``__main__.py`` is the Pulumi *program*; this file is the *plugin*, which is
why PulumiPlugin.yaml names it as ``main``.
"""

import sys
from pathlib import Path

# Run as a file (``python provider/__main__.py``) or a folder (``python provider``), the
# repository root is not on sys.path yet: add it so `components` and `handlers` import.
_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from pulumi.provider.experimental import component_provider_host  # noqa: E402

from components import BulkQA  # noqa: E402

PACKAGE_NAME = "bulkqa"  # the first part of the type token bulkqa:index:BulkQA


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(PACKAGE_NAME)
    except PackageNotFoundError:
        return "0.1.0"


def main() -> None:
    component_provider_host(components=[BulkQA], name=PACKAGE_NAME, version=package_version())


if __name__ == "__main__":
    main()
