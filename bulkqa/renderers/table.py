"""``--format table``: the classic QA results table in the terminal (Rich), then thresholds and calibration."""

from __future__ import annotations

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from bulkqa.analysis import CLASS_AVERAGE_LABEL, ClassRow, Report
from bulkqa.renderers.common import NA, THRESHOLD_HEADERS, fmt_pct, fmt_walk, summary_lines, threshold_rows


def results_table(report: Report) -> Table:
    table = Table(title="QA results", show_lines=False)
    table.add_column("Label", no_wrap=True)
    for name in ("Total", "Confirmed", "Disconfirm", "Split", "%Correct"):
        table.add_column(name, justify="right", min_width=len(name))
    for band in report.bands.labels():
        for name in ("Total", "Incorrect", "%Correct"):
            table.add_column(f"{band}\n{name}", justify="right", min_width=len(name))
    table.add_column("Threshold", justify="right", no_wrap=True)

    def row(c: ClassRow, style: str | None = None, threshold: str = "") -> None:
        cells = [c.label, str(c.total), str(c.confirmed), str(c.disconfirmed), str(c.split), fmt_pct(c.pct_correct)]
        for b in c.bands:
            cells += [str(b.total), str(b.incorrect), fmt_pct(b.pct_correct)]
        table.add_row(*cells, threshold, style=style)

    for c in report.classes:
        row(c, threshold=fmt_walk(report, c.threshold))
    table.add_section()
    row(report.totals, style="bold")
    avg = report.class_average
    cells = [CLASS_AVERAGE_LABEL, "", "", "", "", fmt_pct(avg.pct_correct)]
    for b in avg.bands:
        cells += ["", "", fmt_pct(b.pct_correct)]
    table.add_row(*cells, "", style="italic")
    return table


def thresholds_table(report: Report) -> Table:
    table = Table(title=f"Thresholds (target precision {report.target_precision:.1f}%)")
    for name in THRESHOLD_HEADERS:
        justify = "left" if name in {"Label", "Warning"} else "right"
        table.add_column(name, justify=justify, no_wrap=name in {"Label", "Band walk"})
    for *cells, warn in threshold_rows(report):
        table.add_row(*cells, Text(warn, style="yellow"))
    return table


def calibration_table(report: Report) -> Table:
    table = Table(title="Calibration (expected calibration error, percentage points)")
    table.add_column("Label", no_wrap=True)
    table.add_column("Reviewed", justify="right")
    table.add_column("ECE", justify="right")
    for cal in (*report.calibration, report.overall_calibration):
        name = cal.label if cal.label is not None else "All classes"
        table.add_row(name, str(cal.reviewed), NA if cal.ece is None else f"{cal.ece:.2f}")
    return table


def renderable(report: Report) -> Group:
    return Group(
        *(Text(line) for line in summary_lines(report)),
        results_table(report),
        thresholds_table(report),
        calibration_table(report),
    )


def print_report(report: Report, console: Console) -> None:
    console.print(renderable(report))


def render_table(report: Report, width: int = 250) -> str:
    """The same tables as plain text (for ``--out``)."""
    console = Console(width=width, record=True, file=_Null(), color_system=None)
    print_report(report, console)
    return console.export_text()


class _Null:
    def write(self, _: str) -> int:
        return 0

    def flush(self) -> None:
        pass
