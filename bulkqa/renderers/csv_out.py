"""``--format csv``: one row per label, then TOTALS and Class Average; n/a is an empty cell.

The first column, ``row_type``, is ``class`` for a label and ``summary`` for TOTALS and Class
Average, so a label that is itself called ``TOTALS`` cannot be taken for the sum. Every text cell
goes through ``bulkqa.csv_safety`` (formula injection: a label ``=HYPERLINK(...)`` is written
``'=HYPERLINK(...)``). ``threshold`` is empty for a class with no data (``threshold_status``
``no_data``) and equals the top band edge for ``never``.
"""

from __future__ import annotations

import io

from bulkqa.analysis import CLASS_AVERAGE_LABEL, ClassRow, Report
from bulkqa.analysis.rounds import CellCounts, RoundReport
from bulkqa.csv_safety import safe_writer
from bulkqa.renderers.common import fmt_number

ROW_CLASS = "class"
ROW_SUMMARY = "summary"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}".rstrip("0").rstrip(".")


def band_key(lo: float | int, hi: float | int) -> str:
    return f"band_{fmt_number(lo)}_{fmt_number(hi)}"


def header(report: Report) -> list[str]:
    cells = ["row_type", "label", "total", "confirmed", "disconfirmed", "split", "unreviewed", "pct_correct"]
    for lo, hi in report.bands.intervals:
        key = band_key(lo, hi)
        cells += [f"{key}_total", f"{key}_incorrect", f"{key}_pct_correct"]
    return [
        *cells,
        "threshold",
        "threshold_status",
        "exact_threshold",
        "exact_precision",
        "exact_wilson95_lower",
        "warnings",
    ]


def class_cells(c: ClassRow, row_type: str) -> list[str]:
    cells = [
        row_type,
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
    exact = c.exact
    return [
        *cells,
        fmt_number(c.threshold),
        "" if c.threshold_status is None else c.threshold_status.value,
        "" if exact is None or exact.confidence is None else fmt_number(exact.confidence),
        "" if exact is None else _pct(exact.precision),
        "" if exact is None else _pct(exact.wilson_lower),
        "; ".join(c.warnings),
    ]


def report_rows(report: Report) -> list[list[str]]:
    rows = [header(report)]
    rows += [class_cells(c, ROW_CLASS) for c in report.classes]
    rows.append(class_cells(report.totals, ROW_SUMMARY))
    avg = report.class_average
    cells = [ROW_SUMMARY, CLASS_AVERAGE_LABEL, "", "", "", "", "", _pct(avg.pct_correct)]
    for b in avg.bands:
        cells += ["", "", _pct(b.pct_correct)]
    rows.append([*cells, "", "", "", "", "", ""])
    return rows


def render_csv(report: Report) -> str:
    buffer = io.StringIO()
    safe_writer(buffer).writerows(report_rows(report))
    return buffer.getvalue()


ROUND_COLUMNS = ("round_rows", "round_queued", "round_reused", "round_accepted", "round_sampled_out")


def render_round_csv(rr: RoundReport) -> str:
    """The report's rows with the round's counts by state per class (``summary`` rows: the round's totals).

    The estimates and the review cost are in the other formats (json for scripts): they have a
    shape of their own (one row per sampled cell; one set of figures per round).
    """
    rows = report_rows(rr.report)
    by_label = {lp.label: lp.total for lp in rr.population.labels}

    def counts(cell: CellCounts | None) -> list[str]:
        if cell is None:
            return [""] * len(ROUND_COLUMNS)
        return [str(cell.rows), str(cell.queued), str(cell.reused), str(cell.accepted), str(cell.sampled_out)]

    out = [[*rows[0], *ROUND_COLUMNS]]
    for row in rows[1:]:
        if row[0] == ROW_CLASS:
            out.append([*row, *counts(by_label.get(row[1]))])
        elif row[1] == rr.report.totals.label:
            out.append([*row, *counts(rr.population.total)])
        else:
            out.append([*row, *counts(None)])
    # Classes whose every pair was accepted or sampled out have no row in the report: add them.
    reported = {c.label for c in rr.report.classes}
    blanks = [""] * (len(rows[0]) - 2)
    missing = [
        [ROW_CLASS, lp.label, *blanks, *counts(lp.total)] for lp in rr.population.labels if lp.label not in reported
    ]
    out = [out[0], *sorted(out[1 : 1 + len(reported)] + missing, key=lambda r: r[1]), *out[1 + len(reported) :]]
    buffer = io.StringIO()
    safe_writer(buffer).writerows(out)
    return buffer.getvalue()
