"""Formatting shared by the report renderers: every format prints the same words for the same figure."""

from __future__ import annotations

import html
import re

from bulkqa.analysis import ClassRow, PrecisionThreshold, Report, ThresholdStatus
from bulkqa.analysis.records import Bands, number
from bulkqa.analysis.rounds import CellCounts, RoundReport

NA = "n/a"
NO_DATA = "no data"
# Said next to the threshold in every format: the method's convention, and what a missing one means.
THRESHOLD_LEGEND = (
    "Threshold: accept a class's labels automatically at or above this confidence. "
    "{never} (never) = the top band fails: never accept automatically. "
    "no data = no reviewed image in any band: no threshold."
)


def fmt_pct(value: float | None, digits: int = 1) -> str:
    return NA if value is None else f"{value:.{digits}f}%"


def fmt_number(value: float | int | None) -> str:
    if value is None:
        return ""
    value = number(value)
    return str(value) if isinstance(value, int) else f"{value:g}"


def fmt_count(value: int | float) -> str:
    """A count as digits (never in exponent form, never shortened): 123456789 -> ``123456789``."""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def band_cell(pct_correct: float | None, total: int) -> str:
    """One cell of the band matrix: %correct with the number reviewed, ``n/a`` for an empty band."""
    return NA if pct_correct is None else f"{fmt_pct(pct_correct)} n={total}"


def never(report: Report, threshold: float | int | None) -> bool:
    """The walk stopped at the top band: do not accept this class automatically."""
    return threshold is not None and float(threshold) == report.bands.edges[-1]


def fmt_walk(report: Report, threshold: float | int | None, status: ThresholdStatus | None = None) -> str:
    """``≥ 95``, ``100 (never)``, ``no data``; empty for the TOTALS row (no status)."""
    if status is ThresholdStatus.NO_DATA:
        return NO_DATA
    if threshold is None:
        return ""
    if never(report, threshold):
        return f"{fmt_number(threshold)} (never)"
    return f"≥ {fmt_number(threshold)}"


def fmt_class_threshold(report: Report, c: ClassRow) -> str:
    return fmt_walk(report, c.threshold, c.threshold_status)


def fmt_exact(t: PrecisionThreshold) -> str:
    return "none" if t.confidence is None else f"≥ {t.confidence:.2f}"


def threshold_legend(report: Report) -> str:
    return THRESHOLD_LEGEND.format(never=fmt_number(report.bands.edges[-1]))


def warning_text(c: ClassRow) -> str:
    """The class's warnings, worst first, as one line (the ``never``/``no data`` ones are in the cell)."""
    return "; ".join(c.warnings)


THRESHOLD_HEADERS = (
    "Label",
    "Reviewed",
    "Unreviewed",
    "Band walk",
    "Exact threshold",
    "Accepted",
    "Precision",
    "Wilson 95% low",
    "Warning",
)


def threshold_rows(report: Report) -> list[list[str]]:
    """One row of THRESHOLD_HEADERS cells per class: every format prints the same thresholds."""
    return [
        [
            c.label,
            str(c.total),
            str(c.unreviewed),
            fmt_class_threshold(report, c),
            fmt_exact(t),
            str(t.accepted),
            fmt_pct(t.precision),
            fmt_pct(t.wilson_lower),
            warning_text(c),
        ]
        for c, t in zip(report.classes, report.precision_thresholds, strict=True)
    ]


def summary_lines(report: Report) -> list[str]:
    t = report.totals
    lines = [
        f"Policy: {report.policy.value}. Bands: {', '.join(report.bands.labels())}. "
        f"Max false-positive ratio: {fmt_number(report.max_fp_ratio)} "
        f"(target precision {report.target_precision:.1f}%).",
        f"Images: {report.images}; reviewed: {t.total}; unreviewed (no vote, left out): {t.unreviewed}.",
    ]
    if report.outside_bands:
        lines.append(
            f"{report.outside_bands} reviewed image(s) have a confidence outside every band "
            "(counted in the label totals, in no band)."
        )
    return lines


# --- Markdown: user text is data, never markup. ---
# Inline Markdown (a table cell is inline) gives meaning to these; a backslash makes each literal
# (CommonMark: any ASCII punctuation may be backslash-escaped). ``$`` is GitHub's math delimiter.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~$])")


def md_text(text: str) -> str:
    """``text`` shown literally in GitHub-flavoured Markdown, also inside a table cell.

    HTML first (``<script>`` and ``<img onerror=...>`` become text, ``&lt;`` stays ``&lt;`` as
    written), then Markdown's inline punctuation, then line breaks (a cell is one line).
    """
    escaped = html.escape(text, quote=False)
    escaped = _MD_SPECIAL.sub(r"\\\1", escaped)
    return escaped.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


# --- Rounds (bulkqa.analysis.rounds): the same sentences in every format. ---
def round_lines(rr: RoundReport) -> list[str]:
    """What the round did to its pairs and what it saved, as sentences (no user text but the round name)."""
    t = rr.population.total
    cost = rr.cost
    accepted_note = ""
    if rr.accepted_reviewed:
        accepted_note = (
            f" ({rr.accepted_reviewed} of them reviewed since in another round: {rr.accepted_confirmed} confirmed)"
        )
    lines = [
        f"Round {rr.info.name}: {t.rows} pair(s): {t.queued} queued for review, {t.reused} with a verdict "
        f"reused from earlier reviews, {t.accepted} accepted by threshold, {t.sampled_out} sampled out.",
        f"Accepted by threshold, not reviewed: {t.accepted}{accepted_note}. They are not in the figures below.",
    ]
    if rr.sampled:
        sample = f"at most {rr.info.sample} per class and band" if rr.info.sample is not None else "a sample"
        lines.append(
            f"Sampled round ({sample}): {t.sampled_out} pair(s) not reviewed; each cell's precision is estimated "
            "from its sample and extrapolated to the cell's whole population (Wilson 95%)."
        )
    lines.append(
        f"Review cost: {cost.queued} task(s) queued; a full review needs {cost.full} "
        f"(batch size {cost.batch_size}, one label per task): {cost.saved} saved: "
        f"{cost.saved_by_threshold} by thresholds, {cost.saved_by_sampling} by sampling, "
        f"{cost.saved_by_reuse} by reused verdicts."
    )
    return lines


ROUND_POPULATION_HEADERS = ("Label", "Rows", "Queued", "Reused", "Accepted", "Sampled out", "Reviewed")


def round_population_rows(rr: RoundReport) -> list[list[str]]:
    def cells(label: str, c: CellCounts) -> list[str]:
        return [label, str(c.rows), str(c.queued), str(c.reused), str(c.accepted), str(c.sampled_out), str(c.reviewed)]

    return [cells(lp.label, lp.total) for lp in rr.population.labels]


def round_population_total(rr: RoundReport) -> list[str]:
    t = rr.population.total
    return ["TOTALS", str(t.rows), str(t.queued), str(t.reused), str(t.accepted), str(t.sampled_out), str(t.reviewed)]


ESTIMATE_HEADERS = ("Label", "Band", "N", "n", "Precision, 95%", "Est. correct, 95%")
ESTIMATE_LEGEND = (
    "N: pairs of the cell (not accepted by threshold); n: reviewed, k of them confirmed. Precision: k / n "
    "with its Wilson 95% interval. Est. correct: k + (N - n) × k / n, the sample extrapolated to the "
    "cell, with the interval from the Wilson bounds."
)


def fmt_estimate(value: float | None) -> str:
    return NA if value is None else f"{value:.1f}"


def estimate_rows(rr: RoundReport, bands: Bands) -> list[list[str]]:
    rows = []
    last = len(bands) - 1
    for e in rr.estimates:
        index = bands.intervals.index((e.lo, e.hi))
        precision = NA if e.precision is None else f"{e.precision:.1f}% ({e.precision_low:.1f}–{e.precision_high:.1f}%)"
        correct = (
            NA
            if e.estimated_correct is None
            else f"{fmt_estimate(e.estimated_correct)} "
            f"({fmt_estimate(e.estimated_correct_low)}–{fmt_estimate(e.estimated_correct_high)})"
        )
        rows.append(
            [e.label, Bands.label(e.lo, e.hi, index == last), str(e.population), str(e.reviewed), precision, correct]
        )
    return rows
