"""``--format json``: the shape of issue 6 with issue 13's threshold fields (percentages 0-100, n/a as null)."""

from __future__ import annotations

import json

from bulkqa.analysis import Report
from bulkqa.analysis.rounds import RoundReport


def render_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def render_round_json(round_report: RoundReport) -> str:
    """The report's json plus a ``round`` object (counts by state, estimates, review cost)."""
    return json.dumps(round_report.to_json(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
