"""The Ground Truth worker template (Liquid + crowd-html-elements), shipped as package data."""

from __future__ import annotations

from pathlib import Path

TEMPLATE_NAME = "bulkqa.liquid.html"
TEMPLATE_PATH = Path(__file__).with_name(TEMPLATE_NAME)


def read_template() -> str:
    """The template's text, as uploaded to ``templates/bulkqa.liquid.html`` in the QA bucket."""
    return TEMPLATE_PATH.read_text(encoding="utf-8")

# The worker page of the chained relabel job (Ground Truth's built-in image classification task).
RELABEL_TEMPLATE_PATH = Path(__file__).with_name("relabel.liquid.html")
