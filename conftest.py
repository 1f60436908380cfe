"""Repository-wide pytest options (here so that ``pytest --backend …`` works from the root)."""

from __future__ import annotations

import pytest

from e2e.emulator import BACKENDS


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="AWS emulator for the e2e suite: moto (embedded, default) or localstack (Docker, or "
        "BULKQA_E2E_ENDPOINT). Default: $BULKQA_E2E_BACKEND or moto.",
    )
