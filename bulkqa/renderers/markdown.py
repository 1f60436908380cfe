"""``--format md``: the results table, thresholds and calibration as GitHub-flavoured Markdown.

Labels are data: ``common.md_text`` escapes HTML (``<script>``, ``<img onerror=...>``) and
Markdown's inline punctuation, so a label never becomes markup, a link, code or a new column.
The TOTALS and Class Average rows are bold/italic and below the classes; a class that happens to be
called ``TOTALS`` is plain text in the class rows.
"""

from __future__ import annotations

from bulkqa.analysis import CLASS_AVERAGE_LABEL, ClassRow, Report
from bulkqa.analysis.rounds import RoundReport
from bulkqa.renderers.common import (
    ESTIMATE_HEADERS,
    ESTIMATE_LEGEND,
    NA,
    ROUND_POPULATION_HEADERS,
    THRESHOLD_HEADERS,
    estimate_rows,
    fmt_class_threshold,
    fmt_pct,
    md_text,
    round_lines,
    round_population_rows,
    round_population_total,
    summary_lines,
    threshold_legend,
    threshold_rows,
)


def _row(cells: list[str], *, raw: frozenset[int] = frozenset()) -> str:
    """A table row; every cell is escaped except the indexes in ``raw`` (our own emphasis markup)."""
    return "| " + " | ".join(c if i in raw else md_text(c) for i, c in enumerate(cells)) + " |"


ALL = frozenset(range(1000))


def render_markdown(report: Report) -> str:
    out = ["## QA results", ""]
    out += [f"{line}  " for line in summary_lines(report)]
    out.append("")
    header = ["Label", "Total", "Confirmed", "Disconfirm", "Split", "%Correct"]
    for band in report.bands.labels():
        header += [f"{band} Total", f"{band} Incorrect", f"{band} %Correct"]
    header.append("Threshold")
    out.append(_row(header))
    out.append("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")

    def cells(c: ClassRow, threshold: str, bold: bool = False) -> list[str]:
        row = [c.label, str(c.total), str(c.confirmed), str(c.disconfirmed), str(c.split), fmt_pct(c.pct_correct)]
        for b in c.bands:
            row += [str(b.total), str(b.incorrect), fmt_pct(b.pct_correct)]
        row.append(threshold)
        return [f"**{md_text(x)}**" if bold and x else md_text(x) for x in row]

    for c in report.classes:
        out.append(_row(cells(c, fmt_class_threshold(report, c)), raw=ALL))
    out.append(_row(cells(report.totals, "", bold=True), raw=ALL))
    avg = report.class_average
    row = [f"*{CLASS_AVERAGE_LABEL}*", "", "", "", "", fmt_pct(avg.pct_correct)]
    for b in avg.bands:
        row += ["", "", fmt_pct(b.pct_correct)]
    out.append(_row([*row, ""], raw=frozenset({0})))
    out += ["", f"*{md_text(threshold_legend(report))}*"]

    out += ["", f"### Thresholds (target precision {report.target_precision:.1f}%)", ""]
    out.append(_row(list(THRESHOLD_HEADERS)))
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    out += [_row(cells) for cells in threshold_rows(report)]

    out += ["", "### Calibration", "", _row(["Label", "Reviewed", "ECE (points)"]), "|---|---:|---:|"]
    for cal in (*report.calibration, report.overall_calibration):
        name = md_text(cal.label) if cal.label is not None else "**All classes**"
        out.append(_row([name, str(cal.reviewed), NA if cal.ece is None else f"{cal.ece:.2f}"], raw=frozenset({0})))
    overall = report.overall_calibration
    if overall.filled:
        out += [
            "",
            "Reliability (all classes):",
            "",
            _row(["Confidence bin", "Images", "Mean confidence", "Accuracy"]),
            "|---|---:|---:|---:|",
        ]
        for b in overall.filled:
            out.append(
                _row(
                    [
                        f"[{b.lo:g}, {b.hi:g}{']' if b.hi >= 100 else ')'}",
                        str(b.count),
                        fmt_pct(b.mean_confidence),
                        fmt_pct(b.accuracy),
                    ]
                )
            )
    return "\n".join(out) + "\n"


def round_markdown(rr: RoundReport) -> str:
    """The round's section: what was not reviewed and why, the estimates, the cost saved."""
    out = [f"## Round {md_text(rr.info.name)}", ""]
    out += [f"{md_text(line)}  " for line in round_lines(rr)]
    out += ["", "### Pairs by state", "", _row(list(ROUND_POPULATION_HEADERS)), "|---|---:|---:|---:|---:|---:|---:|"]
    out += [_row(row) for row in round_population_rows(rr)]
    total = [md_text(cell) for cell in round_population_total(rr)]
    out.append(_row([f"**{cell}**" for cell in total], raw=ALL))
    if rr.estimates:
        out += ["", "### Sampled cells: precision from the sample, extrapolated to the cell", ""]
        out += [_row(list(ESTIMATE_HEADERS)), "|---|---|---:|---:|---:|---:|"]
        out += [_row(row) for row in estimate_rows(rr, rr.population.bands)]
        out += ["", f"*{md_text(ESTIMATE_LEGEND)}*"]
    for section in rr.extras:
        out += ["", f"### {md_text(section.title)}", ""]
        if section.headers:
            out += [_row(list(section.headers)), "|" + "|".join(["---"] + ["---:"] * (len(section.headers) - 1)) + "|"]
            out += [_row(list(row)) for row in section.rows]
            out.append("")
        out += [f"{md_text(line)}  " for line in section.lines]
    return "\n".join(out) + "\n\n"


def render_round_markdown(rr: RoundReport) -> str:
    return round_markdown(rr) + render_markdown(rr.report)
