"""``--format table``: the report in a terminal, designed for 80 columns and up (Rich).

Why not the classic one-row-per-class table: with four bands it needs about 215 columns, and Rich
silently cuts what does not fit (the thresholds vanish). Instead:

1. **Classes**: one compact row per class -- totals, %correct and the threshold -- then TOTALS and
   Class Average under a rule;
2. **%Correct by band**: a matrix of %correct with the number reviewed (``66.7% n=3``); when the
   bands do not fit the width, the matrix is split into several tables of consecutive bands;
3. **Thresholds** (band walk, exact threshold, Wilson bound) with the warnings listed below it;
4. **Calibration**.

Nothing is ever shortened with ``…``: numbers and headers are ``no_wrap`` with a minimum width of
their longest cell, and only the label column folds onto more lines. If even that does not fit
(a very narrow terminal, huge counts), a table is printed as one block per class instead.

All user text (labels, round names) goes into Rich as ``Text`` -- never parsed as markup -- so a
label ``[red]Cat[/red]`` or ``[/x]`` prints as written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from bulkqa.analysis import CLASS_AVERAGE_LABEL, ClassRow, Report
from bulkqa.analysis.rounds import RoundReport
from bulkqa.renderers.common import (
    ESTIMATE_HEADERS,
    ESTIMATE_LEGEND,
    NA,
    ROUND_POPULATION_HEADERS,
    band_cell,
    estimate_rows,
    fmt_class_threshold,
    fmt_exact,
    fmt_pct,
    round_lines,
    round_population_rows,
    round_population_total,
    summary_lines,
    threshold_legend,
)

LABEL_MAX_WIDTH = 28  # longer labels fold onto more lines; the numbers keep their room
LABEL_MIN_WIDTHS = (13, 8)  # "Class Average" on one line if it fits, else at least "Sea lion"
DEFAULT_WIDTH = 100  # for ``--out`` and pipes, where there is no terminal to ask

Cell = str | Text
# Like box.SIMPLE_HEAD, plus a rule where a section ends (before TOTALS): no vertical bars, which
# leaves the width to the figures.
RULES = box.Box("    \n    \n ── \n    \n ── \n    \n    \n    \n")


class Grid:
    """A table described as data (title, headers, rows), drawn by Rich at the console's width.

    Kept as data so the same figures can be drawn as a table when they fit, and as one block per
    row when they do not -- without ever truncating a number.
    """

    def __init__(self, title: str, headers: Sequence[str], *, first_left: int = 1) -> None:
        self.title = title
        self.headers = list(headers)
        self.first_left = first_left  # how many leading columns are left-aligned text
        self.rows: list[tuple[list[Cell], str | None]] = []
        self.sections: list[int] = []  # a rule before these row indexes
        self.note: Text | None = None  # printed right under the table (or the blocks)

    def add_row(self, cells: Sequence[Cell], style: str | None = None) -> None:
        self.rows.append(([c if isinstance(c, Text) else Text(str(c)) for c in cells], style))

    def add_section(self) -> None:
        self.sections.append(len(self.rows))

    def table(self, label_min: int = 13) -> Table:
        table = Table(
            box=RULES,
            padding=(0, 1),
            collapse_padding=True,
            show_edge=False,
            pad_edge=False,
        )
        for i, header in enumerate(self.headers):
            cells = [row[i] for row, _ in self.rows]
            if i < self.first_left:
                longest = max([len(header), *(c.cell_len for c in cells)])
                table.add_column(
                    Text(header), overflow="fold", max_width=LABEL_MAX_WIDTH, min_width=min(longest, label_min)
                )
            else:
                width = max([len(header), *(c.cell_len for c in cells)])
                table.add_column(Text(header), justify="right", no_wrap=True, min_width=width)
        for index, (cells, style) in enumerate(self.rows):
            if index in self.sections and index:
                table.add_section()
            table.add_row(*cells, style=style)
        return table

    def blocks(self) -> Group:
        """One block per row: ``label`` then ``header: value`` lines. Fits any width."""
        parts: list[RenderableType] = [Text(self.title, style="bold")]
        for cells, style in self.rows:
            parts.append(Text.assemble(cells[0].copy(), style=style or "bold"))
            for header, cell in zip(self.headers[1:], cells[1:], strict=True):
                if cell.plain:
                    parts.append(Text.assemble("  ", (header, "dim"), ": ", cell))
        return Group(*parts)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for label_min in LABEL_MIN_WIDTHS:
            table = self.table(label_min)
            if fits(console, options, table):
                yield Text(self.title, style="bold")
                yield table
                break
        else:
            yield self.blocks()
        if self.note is not None:
            yield self.note
        yield Text("")

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(1, options.max_width)


def fits(console: Console, options: ConsoleOptions, table: Table) -> bool:
    """Can ``table`` be drawn in ``options.max_width`` without squeezing a column below its minimum?

    Measured against an unbounded width: Rich clamps a measurement to the width it is given.
    """
    return Measurement.get(console, options.update_width(1_000_000), table).minimum <= options.max_width


def _class_cells(report: Report, c: ClassRow, threshold: str) -> list[Cell]:
    return [
        Text(c.label),
        str(c.total),
        str(c.confirmed),
        str(c.disconfirmed),
        str(c.split),
        str(c.unreviewed),
        fmt_pct(c.pct_correct),
        threshold,
    ]


def classes_grid(report: Report) -> Grid:
    grid = Grid(
        "QA results per class",
        ["Label", "Reviewed", "Confirmed", "Disconf.", "Split", "Unrev.", "%Correct", "Threshold"],
    )
    for c in report.classes:
        grid.add_row(_class_cells(report, c, fmt_class_threshold(report, c)))
    grid.add_section()
    grid.add_row(_class_cells(report, report.totals, ""), style="bold")
    avg = report.class_average
    grid.add_row([CLASS_AVERAGE_LABEL, "", "", "", "", "", fmt_pct(avg.pct_correct), ""], style="italic")
    return grid


class BandMatrix:
    """%Correct (n reviewed) per class and band, split into as many tables as the width needs."""

    def __init__(self, report: Report) -> None:
        self.report = report

    def grid(self, band_indexes: Sequence[int], part: str) -> Grid:
        report = self.report
        labels = report.bands.labels()
        grid = Grid(f"%Correct by confidence band (n = reviewed){part}", ["Label", *(labels[i] for i in band_indexes)])
        for c in report.classes:
            grid.add_row([Text(c.label), *(band_cell(c.bands[i].pct_correct, c.bands[i].total) for i in band_indexes)])
        grid.add_section()
        t = report.totals
        grid.add_row([t.label, *(band_cell(t.bands[i].pct_correct, t.bands[i].total) for i in band_indexes)], "bold")
        avg = report.class_average
        grid.add_row([CLASS_AVERAGE_LABEL, *(fmt_pct(avg.bands[i].pct_correct) for i in band_indexes)], "italic")
        return grid

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        n = len(self.report.bands)
        chunks = _chunks(n, lambda idx: self._fits(console, options, idx))
        for number, indexes in enumerate(chunks, 1):
            part = f", part {number} of {len(chunks)}" if len(chunks) > 1 else ""
            yield self.grid(indexes, part)

    def _fits(self, console: Console, options: ConsoleOptions, indexes: Sequence[int]) -> bool:
        return fits(console, options, self.grid(indexes, "").table(LABEL_MIN_WIDTHS[0]))


def _chunks(n: int, fits: Callable[[Sequence[int]], bool]) -> list[list[int]]:
    """Consecutive bands, as many per table as fit (at least one)."""
    chunks: list[list[int]] = []
    start = 0
    while start < n:
        end = start + 1
        while end < n and fits(list(range(start, end + 1))):
            end += 1
        chunks.append(list(range(start, end)))
        start = end
    return chunks


def thresholds_grid(report: Report) -> Grid:
    grid = Grid(
        f"Thresholds (target precision {report.target_precision:.1f}%)",
        ["Label", "Band walk", "Exact", "Accepted", "Precision", "Wilson low"],
    )
    for c, t in zip(report.classes, report.precision_thresholds, strict=True):
        walk = fmt_class_threshold(report, c)
        grid.add_row(
            [
                Text(c.label),
                Text(walk, style="red" if "never" in walk else ""),
                fmt_exact(t),
                str(t.accepted),
                fmt_pct(t.precision),
                fmt_pct(t.wilson_lower),
            ]
        )
    return grid


def warnings_text(report: Report) -> Text | None:
    lines = [(c.label, "; ".join(c.warnings)) for c in report.classes if c.warnings]
    if not lines:
        return None
    text = Text("Warnings:", style="yellow")
    for label, note in lines:
        text.append("\n- ")
        text.append(label, style="bold")
        text.append(f": {note}")
    text.append("\n")
    return text


def calibration_grid(report: Report) -> Grid:
    grid = Grid("Calibration (expected calibration error, percentage points)", ["Label", "Reviewed", "ECE"])
    for cal in report.calibration:
        grid.add_row([Text(cal.label or ""), str(cal.reviewed), NA if cal.ece is None else f"{cal.ece:.2f}"])
    grid.add_section()
    overall = report.overall_calibration
    grid.add_row(["All classes", str(overall.reviewed), NA if overall.ece is None else f"{overall.ece:.2f}"], "bold")
    return grid


def renderable(report: Report) -> Group:
    parts: list[RenderableType] = [Text(line) for line in summary_lines(report)]
    classes = classes_grid(report)
    classes.note = Text(threshold_legend(report), style="dim")
    parts += [Text(""), classes]
    parts += [BandMatrix(report), thresholds_grid(report)]
    warnings = warnings_text(report)
    if warnings is not None:
        parts += [warnings]
    parts.append(calibration_grid(report))
    return Group(*parts)


def print_report(report: Report, console: Console) -> None:
    console.print(renderable(report))


def render_table(report: Report, width: int = DEFAULT_WIDTH) -> str:
    """The same tables as plain text (for ``--out``), laid out for ``width`` columns."""
    console = Console(width=width, record=True, file=_Null(), color_system=None, force_terminal=False)
    print_report(report, console)
    return console.export_text()


class _Null:
    def write(self, _: str) -> int:
        return 0

    def flush(self) -> None:
        pass


def round_renderables(rr: RoundReport) -> list[RenderableType]:
    """The round's own section: what was not reviewed and why, the estimates, the cost saved."""
    parts: list[RenderableType] = [Text(line) for line in round_lines(rr)]
    parts.append(Text(""))
    grid = Grid(f"Round {rr.info.name}: pairs by state", ROUND_POPULATION_HEADERS)
    for row in round_population_rows(rr):
        grid.add_row([Text(row[0]), *row[1:]])
    grid.add_section()
    grid.add_row(round_population_total(rr), style="bold")
    parts.append(grid)
    if rr.estimates:
        estimates = Grid("Sampled cells: precision from the sample, extrapolated to the cell", ESTIMATE_HEADERS)
        for row in estimate_rows(rr, rr.population.bands):
            estimates.add_row([Text(row[0]), *row[1:]])
        estimates.note = Text(ESTIMATE_LEGEND, style="dim")
        parts.append(estimates)
    return parts


def extra_renderables(rr: RoundReport) -> list[RenderableType]:
    """The round's extra sections (workers left out, relabelled images), as grids and sentences."""
    parts: list[RenderableType] = []
    for section in rr.extras:
        if section.headers:
            grid = Grid(section.title, section.headers)
            for row in section.rows:
                grid.add_row([Text(cell) for cell in row])
            if section.lines:
                grid.note = Text("\n".join(section.lines), style="dim")
            parts.append(grid)
        else:
            parts += [Text(section.title, style="bold"), *(Text(line) for line in section.lines), Text("")]
    return parts


def print_round_report(rr: RoundReport, console: Console) -> None:
    """A round's report in a terminal: the round's section, then the ordinary report of its pairs."""
    console.print(Group(*round_renderables(rr), *extra_renderables(rr), renderable(rr.report)))


def render_round_table(rr: RoundReport, width: int = DEFAULT_WIDTH) -> str:
    console = Console(width=width, record=True, file=_Null(), color_system=None, force_terminal=False)
    print_round_report(rr, console)
    return console.export_text()
