"""``--format md``: the results table, thresholds and calibration as GitHub-flavoured Markdown."""

from __future__ import annotations

from bulkqa.analysis import CLASS_AVERAGE_LABEL, ClassRow, Report
from bulkqa.renderers.common import NA, THRESHOLD_HEADERS, fmt_pct, fmt_walk, summary_lines, threshold_rows


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


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
        return [f"**{x}**" if bold and x else x for x in row]

    for c in report.classes:
        out.append(_row(cells(c, fmt_walk(report, c.threshold))))
    out.append(_row(cells(report.totals, "", bold=True)))
    avg = report.class_average
    row = [f"*{CLASS_AVERAGE_LABEL}*", "", "", "", "", fmt_pct(avg.pct_correct)]
    for b in avg.bands:
        row += ["", "", fmt_pct(b.pct_correct)]
    out.append(_row([*row, ""]))

    out += ["", f"### Thresholds (target precision {report.target_precision:.1f}%)", ""]
    out.append(_row(list(THRESHOLD_HEADERS)))
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    out += [_row(cells) for cells in threshold_rows(report)]

    out += ["", "### Calibration", "", _row(["Label", "Reviewed", "ECE (points)"]), "|---|---:|---:|"]
    for cal in (*report.calibration, report.overall_calibration):
        name = cal.label if cal.label is not None else "**All classes**"
        out.append(_row([name, str(cal.reviewed), NA if cal.ece is None else f"{cal.ece:.2f}"]))
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
