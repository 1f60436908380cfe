"""The band walk, the Wilson bound and the exact-confidence threshold, with hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bulkqa.analysis import precision_threshold, target_precision, walk_threshold, wilson_lower_bound

# (lo, hi, total, confirmed), ascending.
PASSING = [(80, 85, 10, 10), (85, 90, 11, 10), (90, 95, 0, 0), (95, 100, 20, 20)]


def test_no_band_fails_gives_the_lowest_lower_bound() -> None:
    # [85, 90): incorrect 1 <= 0.1 * 10 = 1 (exactly at the limit: passes); [90, 95) empty: passes.
    assert walk_threshold(PASSING, 0.1) == 80


def test_a_failing_top_band_gives_100_never() -> None:
    bands = [(80, 85, 10, 10), (85, 90, 10, 10), (90, 95, 10, 10), (95, 100, 10, 8)]  # 2 > 0.8
    assert walk_threshold(bands, 0.1) == 100


def test_the_walk_stops_at_the_first_failing_band_from_the_top() -> None:
    bands = [(80, 85, 4, 0), (85, 90, 12, 10), (90, 95, 0, 0), (95, 100, 5, 5)]
    # top passes, [90,95) empty passes, [85,90): 2 > 1.0 fails -> its upper bound; [80,85) never looked at.
    assert walk_threshold(bands, 0.1) == 90
    assert walk_threshold(bands, 0.2) == 85  # 2 <= 2.0 passes; [80, 85) 4 > 0 fails
    assert walk_threshold(bands, 0) == 90  # zero tolerance: any incorrect fails


def test_all_bands_empty_pass() -> None:
    assert walk_threshold([(80, 90, 0, 0), (90, 100, 0, 0)], 0.1) == 80


def test_ratio_is_exact_not_floating_point() -> None:
    # 0.1 * 30 is 3.0000000000000004 and 0.3 * 10 rounds either way in floats; the rule is exact.
    assert walk_threshold([(80, 100, 33, 30)], 0.1) == 80  # 3 <= 3
    assert walk_threshold([(80, 100, 34, 30)], 0.1) == 100  # 4 > 3
    assert walk_threshold([(80, 100, 13, 10)], 0.3) == 80  # 3 <= 3


def test_target_precision() -> None:
    assert target_precision(0.1) == pytest.approx(10 / 11)
    assert target_precision(0) == 1.0


def test_wilson_lower_bound() -> None:
    assert wilson_lower_bound(0, 0) is None
    assert wilson_lower_bound(50, 100) == pytest.approx(0.4038, abs=1e-4)  # textbook value
    z2 = 1.959963984540054**2
    for n in (1, 7, 40):
        assert wilson_lower_bound(n, n) == pytest.approx(n / (n + z2))  # p = 1: n / (n + z^2)
    assert wilson_lower_bound(0, 10) == 0.0
    # 10 of 11 by hand: (p + z²/2n − z·sqrt(p(1−p)/n + z²/4n²)) / (1 + z²/n)
    p, n, z = 10 / 11, 11, 1.959963984540054
    by_hand = (p + z * z / (2 * n) - z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (1 + z * z / n)
    assert wilson_lower_bound(10, 11) == pytest.approx(by_hand)
    assert wilson_lower_bound(10, 11) == pytest.approx(0.6226, abs=1e-4)


def test_exact_threshold_is_the_smallest_confidence_still_meeting_the_target() -> None:
    # descending: 99 ok, 97 ok, 93 bad, 92 ok ... cumulative (confirmed, accepted):
    conf = [99, 97, 93, 92, 91, 90, 89, 88, 87, 86, 85, 84, 70]
    ok = [1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]
    # at 97: 2/2; at 93: 2/3 (1 > 0.2); ... at 85: 10/11 (1 <= 1.0) meets; at 84: 10/12 fails; at 70: 10/13.
    t = precision_threshold("Dog", np.array(conf, float), np.array(ok, bool), 0.1, min_reviewed=30)
    assert t.confidence == 85
    assert (t.accepted, t.confirmed, t.reviewed) == (11, 10, 13)
    assert t.precision == pytest.approx(100 * 10 / 11)
    assert t.wilson_lower == pytest.approx(100 * wilson_lower_bound(10, 11))
    assert t.few_reviewed is True
    assert t.supported is False  # 62% lower bound < 90.9% target
    assert t.target == pytest.approx(100 * 10 / 11)


def test_equal_confidences_are_accepted_together() -> None:
    # 95 has one confirmed and one not: taking 95 means taking both (1/2 fails), so only 99 qualifies.
    t = precision_threshold("Cat", np.array([99, 95, 95.0]), np.array([1, 1, 0], bool), 0.1, min_reviewed=1)
    assert (t.confidence, t.accepted, t.confirmed) == (99, 1, 1)
    assert t.few_reviewed is False


def test_no_confidence_meets_the_target() -> None:
    t = precision_threshold("Cat", np.array([99.0, 90.0]), np.array([0, 1], bool), 0.1, min_reviewed=30)
    assert t.confidence is None and t.precision is None and t.wilson_lower is None
    assert t.accepted == 0


def test_no_reviewed_image() -> None:
    t = precision_threshold("Cat", np.array([]), np.array([], bool), 0.1, min_reviewed=30)
    assert (t.reviewed, t.confidence, t.few_reviewed) == (0, None, True)


def test_enough_evidence_is_supported() -> None:
    t = precision_threshold("Dog", np.full(60, 97.0), np.ones(60, bool), 0.1, min_reviewed=30)
    assert t.confidence == 97.0 and not t.few_reviewed
    assert t.wilson_lower == pytest.approx(100 * 60 / (60 + 1.959963984540054**2))
    assert t.supported  # 94.0% >= 90.9%
