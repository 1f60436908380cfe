"""``--format html``: one self-contained file -- tables, thresholds, and the plots as embedded PNGs.

Nothing is fetched: the style is inline and each plot is a ``data:image/png;base64`` URI drawn by
matplotlib (its object API with the Agg canvas, no pyplot state, so it is safe in any thread).

Readable at 1,280 px: the page is at most 1,200 px wide and every table sits in its own box that
scrolls sideways when it is wider (the classic results table with many bands), so the page itself
never does. Labels are data everywhere: escaped in the markup, and in the plots drawn with
``parse_math`` off (``$\\foo$`` is text, not mathtext) and given to the legend explicitly (matplotlib
leaves out automatic legend entries whose label starts with ``_``).
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from bulkqa.analysis import CLASS_AVERAGE_LABEL, ClassRow, Report, ThresholdStatus
from bulkqa.analysis.rounds import RoundReport
from bulkqa.renderers.common import (
    ESTIMATE_HEADERS,
    ESTIMATE_LEGEND,
    NA,
    ROUND_POPULATION_HEADERS,
    THRESHOLD_HEADERS,
    band_cell,
    estimate_rows,
    fmt_class_threshold,
    fmt_pct,
    never,
    round_lines,
    round_population_rows,
    round_population_total,
    summary_lines,
    threshold_legend,
    threshold_rows,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#222;line-height:1.4}
main{max-width:1200px;margin:0 auto;padding:1.5em 2em}
.scroll{overflow-x:auto;width:fit-content;max-width:100%;margin:1em 0}
table{border-collapse:collapse;font-size:14px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right;white-space:nowrap}
th{background:#f3f3f3;position:sticky;top:0}td.l,th.l{text-align:left;white-space:normal;
overflow-wrap:anywhere;min-width:8em;max-width:22em}
tr.totals td{font-weight:bold;border-top:2px solid #888}tr.avg td{font-style:italic}
td.na{color:#999}.never{color:#b00}.nodata{color:#777;font-style:italic}
td.warn{color:#a60;text-align:left;white-space:normal;min-width:16em}
p.legend{color:#555;font-size:13px}
img{max-width:100%;height:auto;display:block;margin:1em 0}
"""


def _td(text: str, cls: str = "") -> str:
    if text == NA:
        cls = (cls + " na").strip()
    return f"<td class='{cls}'>{escape(text)}</td>" if cls else f"<td>{escape(text)}</td>"


def _scroll(table_html: str) -> str:
    """A table in its own sideways-scrolling box: a wide table never widens the page."""
    return f"<div class='scroll'>{table_html}</div>"


def _threshold_css(report: Report, c: ClassRow) -> str:
    if c.threshold_status is ThresholdStatus.NO_DATA:
        return "nodata"
    return "never" if never(report, c.threshold) else ""


def _legend(ax: object, handles: list[object], labels: list[str], **kwargs: object) -> None:
    """A legend whose labels are plain text: given explicitly (``_x`` is kept) and never mathtext."""
    legend = ax.legend(handles, labels, **kwargs)  # type: ignore[attr-defined]
    for text in legend.get_texts():
        text.set_parse_math(False)


def _png(fig: object) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")  # type: ignore[attr-defined]
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def accuracy_plot(report: Report) -> str:
    """%correct per band, one line per class, with the target precision (a PNG data URI)."""
    return _png(accuracy_figure(report))


def accuracy_figure(report: Report) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5))
    ax = fig.add_subplot()
    x = list(range(len(report.bands)))
    handles, labels = [], []
    for c in report.classes:
        y = [math.nan if b.pct_correct is None else b.pct_correct for b in c.bands]
        (line,) = ax.plot(x, y, marker="o")
        handles.append(line)
        labels.append(c.label)
    handles.append(ax.axhline(report.target_precision, color="black", linestyle="--", linewidth=1))
    labels.append("target precision")
    ax.set_xticks(x, report.bands.labels())
    ax.set_xlabel("model confidence band")
    ax.set_ylabel("% correct (confirmed / reviewed)")
    ax.set_ylim(-2, 102)
    ax.set_title(f"Accuracy per confidence band ({report.policy.value})")
    ax.grid(alpha=0.3)
    _legend(
        ax,
        handles,
        labels,
        fontsize="small",
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        ncol=1 + len(report.classes) // 20,
    )
    return fig


def reliability_plot(report: Report) -> str:
    """Reliability diagram: accuracy against mean confidence per bin; the diagonal is perfect calibration."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 6))
    ax = fig.add_subplot()
    filled = report.overall_calibration.filled
    low = min((b.lo for b in filled), default=0.0)
    handles = ax.plot([low, 100], [low, 100], color="grey", linestyle=":")
    labels = ["perfect calibration"]
    for cal in report.calibration:
        pts = cal.filled
        if pts:
            ax.plot([b.mean_confidence for b in pts], [b.accuracy for b in pts], alpha=0.35, linewidth=1)
    if filled:
        biggest = max(b.count for b in filled)
        handles += ax.plot(
            [b.mean_confidence for b in filled],
            [b.accuracy for b in filled],
            color="C3",
            linewidth=2,
        )
        labels.append("all classes")
        ax.scatter(
            [b.mean_confidence for b in filled],
            [b.accuracy for b in filled],
            s=[20 + 180 * b.count / biggest for b in filled],
            color="C3",
            zorder=3,
        )
    ece = report.overall_calibration.ece
    ax.set_title("Reliability diagram" + ("" if ece is None else f" (ECE {ece:.2f} points)"))
    ax.set_xlabel("mean model confidence in bin")
    ax.set_ylabel("% confirmed in bin")
    ax.set_xlim(low, 100)
    ax.set_ylim(0, 102)
    ax.grid(alpha=0.3)
    _legend(ax, handles, labels, fontsize="small", loc="upper left")
    return _png(fig)


def _classes_table(report: Report) -> str:
    """One compact row per class: totals, %correct, threshold -- readable without scrolling."""
    headers = ("Label", "Reviewed", "Confirmed", "Disconfirmed", "Split", "Unreviewed", "%Correct", "Threshold")
    head = "".join(f"<th{' class=l' if i == 0 else ''}>{h}</th>" for i, h in enumerate(headers))

    def cells(c: ClassRow) -> list[str]:
        counts = (c.total, c.confirmed, c.disconfirmed, c.split, c.unreviewed)
        return [_td(c.label, "l"), *(_td(str(v)) for v in counts), _td(fmt_pct(c.pct_correct))]

    rows = [
        "<tr>" + "".join(cells(c)) + _td(fmt_class_threshold(report, c), _threshold_css(report, c)) + "</tr>"
        for c in report.classes
    ]
    avg = report.class_average
    foot = "<tr class='totals'>" + "".join(cells(report.totals)) + _td("") + "</tr>"
    foot += "<tr class='avg'>" + _td(CLASS_AVERAGE_LABEL, "l") + _td("") * 5 + _td(fmt_pct(avg.pct_correct))
    foot += _td("") + "</tr>"
    return _scroll(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody><tfoot>{foot}</tfoot></table>")


def _band_matrix(report: Report) -> str:
    head = "<th class='l'>Label</th>" + "".join(f"<th>{escape(b)}</th>" for b in report.bands.labels())

    def cells(c: ClassRow) -> str:
        return _td(c.label, "l") + "".join(_td(band_cell(b.pct_correct, b.total)) for b in c.bands)

    rows = "".join(f"<tr>{cells(c)}</tr>" for c in report.classes)
    avg = report.class_average
    foot = f"<tr class='totals'>{cells(report.totals)}</tr><tr class='avg'>" + _td(CLASS_AVERAGE_LABEL, "l")
    foot += "".join(_td(fmt_pct(b.pct_correct)) for b in avg.bands) + "</tr>"
    return _scroll(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody><tfoot>{foot}</tfoot></table>")


def _results_table(report: Report) -> str:
    bands = report.bands.labels()
    head1 = "<tr><th class='l' rowspan='2'>Label</th>" + "".join(
        f"<th rowspan='2'>{n}</th>" for n in ("Total", "Confirmed", "Disconfirm", "Split", "%Correct")
    )
    head1 += "".join(f"<th colspan='3'>{escape(b)}</th>" for b in bands) + "<th rowspan='2'>Threshold</th></tr>"
    head2 = "<tr>" + "<th>Total</th><th>Incorrect</th><th>%Correct</th>" * len(bands) + "</tr>"

    def row(c: ClassRow, cls: str, threshold: str, threshold_css: str) -> str:
        cells = [_td(c.label, "l"), *(_td(str(v)) for v in (c.total, c.confirmed, c.disconfirmed, c.split))]
        cells.append(_td(fmt_pct(c.pct_correct)))
        for b in c.bands:
            cells += [_td(str(b.total)), _td(str(b.incorrect)), _td(fmt_pct(b.pct_correct))]
        cells.append(_td(threshold, threshold_css))
        return f"<tr class='{cls}'>" + "".join(cells) + "</tr>"

    rows = [row(c, "", fmt_class_threshold(report, c), _threshold_css(report, c)) for c in report.classes]
    foot = [row(report.totals, "totals", "", "")]
    avg = report.class_average
    cells = [_td(CLASS_AVERAGE_LABEL, "l"), *[_td("")] * 4, _td(fmt_pct(avg.pct_correct))]
    for b in avg.bands:
        cells += [_td(""), _td(""), _td(fmt_pct(b.pct_correct))]
    foot.append("<tr class='avg'>" + "".join(cells) + _td("") + "</tr>")
    return _scroll(
        f"<table><thead>{head1}{head2}</thead><tbody>{''.join(rows)}</tbody><tfoot>{''.join(foot)}</tfoot></table>"
    )


def _thresholds_table(report: Report) -> str:
    head = "".join(f"<th{' class=l' if name in {'Label', 'Warning'} else ''}>{name}</th>" for name in THRESHOLD_HEADERS)
    rows = []
    walk_column, warning_column = THRESHOLD_HEADERS.index("Band walk"), THRESHOLD_HEADERS.index("Warning")
    for c, cells in zip(report.classes, threshold_rows(report), strict=True):
        css = {0: "l", walk_column: _threshold_css(report, c), warning_column: "warn"}
        rows.append("<tr>" + "".join(_td(cell, css.get(i, "")) for i, cell in enumerate(cells)) + "</tr>")
    return _scroll(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _calibration_table(report: Report) -> str:
    rows = []
    for cal in (*report.calibration, report.overall_calibration):
        name = cal.label if cal.label is not None else "All classes"
        rows.append(
            "<tr>"
            + _td(name, "l")
            + _td(str(cal.reviewed))
            + _td(NA if cal.ece is None else f"{cal.ece:.2f}")
            + "</tr>"
        )
    return _scroll(
        "<table><tr><th class='l'>Label</th><th>Reviewed</th><th>ECE (points)</th></tr>" + "".join(rows) + "</table>"
    )


def render_html(report: Report, extra: str = "", lead: str = "") -> str:
    """The whole page. ``lead`` (after the title) and ``extra`` (at the end) are more HTML, already
    escaped: a round's section, the workers' section (issue 16)."""
    summary = "".join(f"<p>{escape(line)}</p>" for line in summary_lines(report))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>BulkQA report</title><style>{STYLE}</style></head>
<body><main>
<h1>BulkQA report</h1>
{lead}
{summary}
<h2>QA results</h2>
{_classes_table(report)}
<p class="legend">{escape(threshold_legend(report))}</p>
<h3>%Correct by confidence band (n = reviewed)</h3>
{_band_matrix(report)}
<h2>Thresholds</h2>
<p>Band walk: from the highest band down, a band passes if it is empty or incorrect &le;
{report.max_fp_ratio:g} &times; confirmed; the first failing band's upper bound is the threshold
(the top edge means never accept automatically). Exact threshold: the smallest confidence at or above
which the reviewed images still reach {report.target_precision:.1f}% precision, with its Wilson 95% lower bound.</p>
{_thresholds_table(report)}
<img alt="Accuracy per confidence band and class" src="{accuracy_plot(report)}">
<h2>Calibration</h2>
{_calibration_table(report)}
<img alt="Reliability diagram" src="{reliability_plot(report)}">
<h2>Full results table</h2>
<p>The method's own layout: per band the total, the incorrect and the %correct.</p>
{_results_table(report)}
{extra}</main></body></html>
"""


def _simple_table(headers: Sequence[str], rows: Sequence[Sequence[str]], foot: Sequence[str] | None = None) -> str:
    head = "".join(f"<th{' class=l' if i == 0 else ''}>{escape(h)}</th>" for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(_td(c, "l" if i == 0 else "") for i, c in enumerate(r)) + "</tr>" for r in rows)
    tail = ""
    if foot is not None:
        tail = "<tfoot><tr class='totals'>" + "".join(_td(c, "l" if i == 0 else "") for i, c in enumerate(foot))
        tail += "</tr></tfoot>"
    return _scroll(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>{tail}</table>")


def round_html(rr: RoundReport) -> str:
    """The round's section: what was not reviewed and why, the estimates, the cost saved."""
    out = [f"<h2>Round {escape(rr.info.name)}</h2>"]
    out += [f"<p>{escape(line)}</p>" for line in round_lines(rr)]
    out.append("<h3>Pairs by state</h3>")
    out.append(_simple_table(ROUND_POPULATION_HEADERS, round_population_rows(rr), round_population_total(rr)))
    if rr.estimates:
        out.append("<h3>Sampled cells: precision from the sample, extrapolated to the cell</h3>")
        out.append(_simple_table(ESTIMATE_HEADERS, estimate_rows(rr, rr.population.bands)))
        out.append(f"<p class='legend'>{escape(ESTIMATE_LEGEND)}</p>")
    for section in rr.extras:
        out.append(f"<h3>{escape(section.title)}</h3>")
        if section.headers:
            out.append(_simple_table(section.headers, section.rows))
        out += [f"<p>{escape(line)}</p>" for line in section.lines]
    return "\n".join(out)


def render_round_html(rr: RoundReport) -> str:
    return render_html(rr.report, lead=round_html(rr))
