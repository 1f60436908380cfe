"""``--format json``: exactly the shape of issue 6 (percentages 0-100 as floats, n/a as null)."""

from __future__ import annotations

import json

from bulkqa.analysis import Report


def render_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
