"""Renderers of the report: one module per format."""

from __future__ import annotations

import enum
from collections.abc import Callable

from bulkqa.analysis import Report
from bulkqa.analysis.rounds import RoundReport


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


def render_round(round_report: RoundReport, fmt: Format | str) -> str:
    """A round's report (``bulkqa.analysis.rounds``) in ``fmt``: the round's section, then the report."""
    fmt = Format(fmt)
    if fmt is Format.TABLE:
        from bulkqa.renderers.table import render_round_table

        return render_round_table(round_report)
    if fmt is Format.MD:
        from bulkqa.renderers.markdown import render_round_markdown

        return render_round_markdown(round_report)
    if fmt is Format.CSV:
        from bulkqa.renderers.csv_out import render_round_csv

        return render_round_csv(round_report)
    if fmt is Format.JSON:
        from bulkqa.renderers.json_out import render_round_json

        return render_round_json(round_report)
    from bulkqa.renderers.html import render_round_html

    return render_round_html(round_report)
