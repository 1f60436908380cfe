"""The analysis behind ``bulkqa report`` and ``bulkqa export``: pure (no AWS, no I/O).

Entry point: ``build_report(records, policy=..., bands=..., max_fp_ratio=...)`` with records
``(image, label, confidence, c, d)``.
"""

from bulkqa.analysis.calibration import DEFAULT_CALIBRATION_BINS, Calibration, ReliabilityBin, calibration
from bulkqa.analysis.export import ExportRow, export_rows
from bulkqa.analysis.records import DEFAULT_BANDS, Bands, Outcome, Policy, Record, is_split, outcome, parse_bands
from bulkqa.analysis.report import (
    CLASS_AVERAGE_LABEL,
    DEFAULT_MAX_FP_RATIO,
    DEFAULT_MIN_REVIEWED,
    TOTALS_LABEL,
    BandAverage,
    BandRow,
    ClassAverage,
    ClassRow,
    Report,
    ThresholdStatus,
    build_report,
    build_report_from_columns,
)
from bulkqa.analysis.thresholds import (
    FpRatioError,
    PrecisionThreshold,
    precision_threshold,
    target_precision,
    walk_threshold,
    wilson_interval,
    wilson_lower_bound,
)

__all__ = [
    "CLASS_AVERAGE_LABEL",
    "DEFAULT_BANDS",
    "DEFAULT_CALIBRATION_BINS",
    "DEFAULT_MAX_FP_RATIO",
    "DEFAULT_MIN_REVIEWED",
    "TOTALS_LABEL",
    "BandAverage",
    "BandRow",
    "Bands",
    "Calibration",
    "ClassAverage",
    "ClassRow",
    "ExportRow",
    "FpRatioError",
    "Outcome",
    "Policy",
    "PrecisionThreshold",
    "Record",
    "ReliabilityBin",
    "Report",
    "ThresholdStatus",
    "build_report",
    "build_report_from_columns",
    "calibration",
    "export_rows",
    "is_split",
    "outcome",
    "parse_bands",
    "precision_threshold",
    "target_precision",
    "walk_threshold",
    "wilson_interval",
    "wilson_lower_bound",
]
