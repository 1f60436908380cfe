"""Formatting shared by the report renderers."""

from __future__ import annotations

from bulkqa.analysis import PrecisionThreshold, Report
from bulkqa.analysis.records import number

NA = "n/a"


def fmt_pct(value: float | None, digits: int = 1) -> str:
    return NA if value is None else f"{value:.{digits}f}%"


def fmt_number(value: float | int | None) -> str:
    if value is None:
        return ""
    value = number(value)
    return str(value) if isinstance(value, int) else f"{value:g}"


def never(report: Report, threshold: float | int | None) -> bool:
    """The walk stopped at the top band: do not accept this class automatically."""
    return threshold is not None and float(threshold) == report.bands.edges[-1]


def fmt_walk(report: Report, threshold: float | int | None) -> str:
    if threshold is None:
        return ""
    if never(report, threshold):
        return f"{fmt_number(threshold)} (never)"
    return f"≥ {fmt_number(threshold)}"


def fmt_exact(t: PrecisionThreshold) -> str:
    return "none" if t.confidence is None else f"≥ {t.confidence:.2f}"


def warning(report: Report, t: PrecisionThreshold) -> str:
    notes = []
    if t.few_reviewed:
        notes.append(f"too few reviewed ({t.reviewed} < {report.min_reviewed})")
    if t.confidence is not None and not t.supported:
        notes.append("Wilson bound below target")
    return "; ".join(notes)


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
            fmt_walk(report, c.threshold),
            fmt_exact(t),
            str(t.accepted),
            fmt_pct(t.precision),
            fmt_pct(t.wilson_lower),
            warning(report, t),
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
