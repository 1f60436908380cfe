"""Renderers of the report: one module per format."""

from __future__ import annotations

import enum
from collections.abc import Callable

from bulkqa.analysis import Report


class Format(enum.StrEnum):
    TABLE = "table"
    MD = "md"
    CSV = "csv"
    JSON = "json"
    HTML = "html"


def renderer(fmt: Format | str) -> Callable[[Report], str]:
    """The function that turns a report into text in ``fmt``."""
    fmt = Format(fmt)
    if fmt is Format.TABLE:
        from bulkqa.renderers.table import render_table

        return render_table
    if fmt is Format.MD:
        from bulkqa.renderers.markdown import render_markdown

        return render_markdown
    if fmt is Format.CSV:
        from bulkqa.renderers.csv_out import render_csv

        return render_csv
    if fmt is Format.JSON:
        from bulkqa.renderers.json_out import render_json

        return render_json
    from bulkqa.renderers.html import render_html

    return render_html


def render(report: Report, fmt: Format | str) -> str:
    return renderer(fmt)(report)
