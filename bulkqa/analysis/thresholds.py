"""Per-class thresholds: the band walk of the QA method, and the exact-confidence threshold.

Pure: no AWS, no files.

The band walk (the method's own rule): walk the bands from the highest down; a band passes if it
is empty or ``incorrect <= max_fp_ratio * confirmed``; stop at the first band that fails and take
its upper bound (100 means "never accept this class automatically"); if none fails, the lowest
band's lower bound.

Beyond the walk: the same target as a precision, ``confirmed / total >= 1 / (1 + max_fp_ratio)``
(the two are the same inequality), applied to the images at or above each exact confidence the
class has; the smallest such confidence that meets it is the threshold. Its precision comes with a
Wilson 95% lower bound, since a handful of reviewed images proves little.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

Z_95 = 1.959963984540054  # two-sided 95% normal quantile


MIN_FP_RATIO = Fraction(1, 10**6)  # the smallest non-zero ratio: a target precision of 99.9999%
MAX_FP_RATIO = Fraction(10**6)  # the largest: a target precision of 0.0001%
MAX_FP_RATIO_DENOMINATOR = 10**9  # keeps ``count * denominator`` well inside int64


class FpRatioError(ValueError):
    """A --max-fp-ratio that is not a usable number; the message says which values are."""


def fp_ratio(max_fp_ratio: float | Fraction | str) -> Fraction:
    """The ratio as an exact fraction (0.1 -> 1/10), so ``incorrect <= 0.1 * 10`` holds exactly.

    Refused with ``FpRatioError``: NaN, infinities (``inf``, ``1e400``), negatives, and ratios that
    are not 0 but outside [1e-6, 1e6] (``1e-320`` would need a 10**320 denominator, and the
    threshold arithmetic is done in int64). A ratio with more than nine decimals is rounded to the
    nearest fraction with a denominator up to 10**9.
    """
    text = str(max_fp_ratio).strip()
    try:
        ratio = max_fp_ratio if isinstance(max_fp_ratio, Fraction) else Fraction(text)
    except (ValueError, ZeroDivisionError, OverflowError):
        raise FpRatioError(
            f"max-fp-ratio {text!r} is not a finite number: give a ratio such as 0.1 (precision >= 90.9%)"
        ) from None
    if ratio < 0:
        raise FpRatioError(f"max-fp-ratio must not be negative, got {text}")
    if ratio and not MIN_FP_RATIO <= ratio <= MAX_FP_RATIO:
        raise FpRatioError(
            f"max-fp-ratio {text} is out of range: give 0 (no error allowed) or a ratio between 1e-06 and 1e+06"
        )
    if ratio.denominator > MAX_FP_RATIO_DENOMINATOR:
        ratio = ratio.limit_denominator(MAX_FP_RATIO_DENOMINATOR)
    return ratio


def target_precision(max_fp_ratio: float | Fraction | str) -> float:
    """``incorrect <= r * confirmed``  <=>  ``confirmed / total >= 1 / (1 + r)``."""
    return float(1 / (1 + fp_ratio(max_fp_ratio)))


def band_passes(total: int, confirmed: int, ratio: Fraction) -> bool:
    """Empty, or ``incorrect <= ratio * confirmed`` (exact integer arithmetic)."""
    if total == 0:
        return True
    incorrect = total - confirmed
    return incorrect * ratio.denominator <= ratio.numerator * confirmed


def walk_threshold(bands: Sequence[tuple[float, float, int, int]], max_fp_ratio: float | Fraction | str) -> float | int:
    """The band walk over ``(lo, hi, total, confirmed)`` in ascending order of ``lo``."""
    if not bands:
        raise ValueError("no bands to walk")
    ratio = fp_ratio(max_fp_ratio)
    for _lo, hi, total, confirmed in reversed(bands):
        if not band_passes(total, confirmed, ratio):
            return hi
    return bands[0][0]


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval ``(low, high)`` for a proportion (0-1); needs n > 0.

    Wilson rather than the normal approximation because cells are often small or all-correct,
    where ``p +- z*sqrt(p(1-p)/n)`` collapses to a zero-width interval at 100%.
    """
    if n <= 0:
        raise ValueError("a proportion needs at least one observation")
    if not 0 <= successes <= n:
        raise ValueError(f"successes {successes} outside 0..{n}")
    p = successes / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    denominator = 1 + z2 / n
    # At p = 0 (or 1) the bound is exactly 0 (or 1); floating point leaves ~1e-17 otherwise.
    low = 0.0 if successes == 0 else max(0.0, (centre - spread) / denominator)
    high = 1.0 if successes == n else min(1.0, (centre + spread) / denominator)
    return low, high


def wilson_lower_bound(successes: int, n: int, z: float = Z_95) -> float | None:
    """The lower end of the Wilson score interval for a proportion (0-1), None if n = 0."""
    if n <= 0:
        return None
    return wilson_interval(successes, n, z)[0]


@dataclass(frozen=True)
class PrecisionThreshold:
    """The exact-confidence threshold of one class (percentages 0-100)."""

    label: str
    reviewed: int
    target: float  # target precision, %
    confidence: float | None  # None: no confidence meets the target
    accepted: int  # reviewed images at or above ``confidence``
    confirmed: int  # of which confirmed
    precision: float | None  # confirmed / accepted, %
    wilson_lower: float | None  # Wilson 95% lower bound of that precision, %
    few_reviewed: bool  # fewer reviewed images than the minimum asked for

    @property
    def supported(self) -> bool:
        """Even the Wilson lower bound meets the target: the evidence is strong enough."""
        return self.wilson_lower is not None and self.wilson_lower + 1e-9 >= self.target


def precision_threshold(
    label: str,
    confidences: np.ndarray,
    confirmed: np.ndarray,
    max_fp_ratio: float | Fraction | str,
    min_reviewed: int,
) -> PrecisionThreshold:
    """The smallest exact confidence ``t`` such that the reviewed images with confidence >= t meet
    ``incorrect <= max_fp_ratio * confirmed`` (i.e. precision >= 1 / (1 + max_fp_ratio)).

    Images with equal confidence are accepted or refused together.
    """
    ratio = fp_ratio(max_fp_ratio)
    target = 100.0 * target_precision(ratio)
    conf = np.asarray(confidences, dtype=np.float64)
    ok = np.asarray(confirmed, dtype=bool)
    n = int(conf.size)
    few = n < min_reviewed
    if n == 0:
        return PrecisionThreshold(label, 0, target, None, 0, 0, None, None, few)
    # Any sort will do: ties are cut only at the end of their run, where the counts are the same
    # whatever the order inside it (quicksort is ~5x faster than the stable sort here).
    order = np.argsort(-conf)
    conf_sorted = conf[order]
    accepted = np.arange(1, n + 1, dtype=np.int64)
    good = np.cumsum(ok[order], dtype=np.int64)
    # A threshold is only a cut between distinct confidences: the last position of each run.
    run_end = np.ones(n, dtype=bool)
    run_end[:-1] = conf_sorted[:-1] != conf_sorted[1:]
    meets = (accepted - good) * ratio.denominator <= ratio.numerator * good
    candidates = np.flatnonzero(run_end & meets)
    if candidates.size == 0:
        return PrecisionThreshold(label, n, target, None, 0, 0, None, None, few)
    at = int(candidates[-1])  # descending order: the last candidate is the smallest confidence
    k, m = int(good[at]), int(accepted[at])
    lower = wilson_lower_bound(k, m)
    return PrecisionThreshold(
        label,
        n,
        target,
        float(conf_sorted[at]),
        m,
        k,
        100.0 * k / m,
        None if lower is None else 100.0 * lower,
        few,
    )
