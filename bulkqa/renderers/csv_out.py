"""``--format csv``: one row per label, then TOTALS and Class Average; n/a is an empty cell."""

from __future__ import annotations

import csv
import io

from bulkqa.analysis import CLASS_AVERAGE_LABEL, ClassRow, Report
from bulkqa.renderers.common import fmt_number


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}".rstrip("0").rstrip(".")


def band_key(lo: float | int, hi: float | int) -> str:
    return f"band_{fmt_number(lo)}_{fmt_number(hi)}"


def render_csv(report: Report) -> str:
    header = ["label", "total", "confirmed", "disconfirmed", "split", "unreviewed", "pct_correct"]
    for lo, hi in report.bands.intervals:
        key = band_key(lo, hi)
        header += [f"{key}_total", f"{key}_incorrect", f"{key}_pct_correct"]
    header.append("threshold")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)

    def row(c: ClassRow) -> list[str]:
        cells = [
            c.label,
            str(c.total),
            str(c.confirmed),
            str(c.disconfirmed),
            str(c.split),
            str(c.unreviewed),
            _pct(c.pct_correct),
        ]
        for b in c.bands:
            cells += [str(b.total), str(b.incorrect), _pct(b.pct_correct)]
        return [*cells, fmt_number(c.threshold)]

    for c in report.classes:
        writer.writerow(row(c))
    writer.writerow(row(report.totals))
    avg = report.class_average
    cells = [CLASS_AVERAGE_LABEL, "", "", "", "", "", _pct(avg.pct_correct)]
    for b in avg.bands:
        cells += ["", "", _pct(b.pct_correct)]
    writer.writerow([*cells, ""])
    return buffer.getvalue()
