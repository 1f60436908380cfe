"""Calibration: reliability bins and expected calibration error on a hand example."""

from __future__ import annotations

import numpy as np
import pytest

from bulkqa.analysis import Record, build_report, calibration


def test_ece_on_a_tiny_hand_example() -> None:
    # Bin [90, 100]: 95, 95 both confirmed -> accuracy 100, mean confidence 95, gap 5.
    # Bin [80, 90): 85 confirmed, 85 not -> accuracy 50, mean 85, gap 35.  ECE = 2/4*5 + 2/4*35 = 20.
    cal = calibration("Dog", np.array([95.0, 95.0, 85.0, 85.0]), np.array([1, 1, 1, 0], bool), bins=10)
    assert cal.reviewed == 4
    assert cal.ece == pytest.approx(20.0)
    filled = cal.filled
    assert [(b.lo, b.hi, b.count) for b in filled] == [(80, 90, 2), (90, 100, 2)]
    assert [b.mean_confidence for b in filled] == [85.0, 95.0]
    assert [b.accuracy for b in filled] == [50.0, 100.0]
    assert len(cal.bins) == 10 and cal.bins[0].mean_confidence is None  # empty bins: n/a


def test_confidence_100_falls_in_the_last_bin_and_perfect_calibration_is_zero() -> None:
    cal = calibration(None, np.array([100.0, 100.0]), np.array([1, 1], bool), bins=4)
    assert [(b.lo, b.hi, b.count) for b in cal.filled] == [(75, 100, 2)]
    assert cal.ece == 0.0


def test_empty_calibration() -> None:
    cal = calibration(None, np.array([]), np.array([], bool))
    assert cal.reviewed == 0 and cal.ece is None


def test_report_calibration_per_class_and_overall_over_reviewed_images_only() -> None:
    records = [
        Record("a", "Dog", 95.0, 2, 0),
        Record("b", "Dog", 95.0, 1, 0),
        Record("c", "Dog", 85.0, 1, 0),
        Record("d", "Dog", 85.0, 0, 1),
        Record("e", "Dog", 50.0, 0, 0),  # unreviewed: not in the calibration
        Record("f", "Cat", 90.0, 0, 2),  # bin [90, 100]: accuracy 0, mean 90, gap 90
    ]
    report = build_report(records, calibration_bins=10)
    dog, cat = report.calibration[1], report.calibration[0]
    assert (cat.label, cat.reviewed, cat.ece) == ("Cat", 1, pytest.approx(90.0))
    assert (dog.label, dog.reviewed, dog.ece) == ("Dog", 4, pytest.approx(20.0))
    overall = report.overall_calibration
    # [80,90): 85 ok, 85 not -> 50 vs 85: 35 (n=2); [90,100]: 95, 95, 90 -> acc 66.67, mean 93.33: 26.67 (n=3)
    assert overall.label is None and overall.reviewed == 5
    assert overall.ece == pytest.approx(2 / 5 * 35 + 3 / 5 * (280 / 3 - 200 / 3))


def test_split_and_tie_count_as_not_correct() -> None:
    records = [Record("a", "Dog", 95.0, 1, 1), Record("b", "Dog", 95.0, 2, 1)]
    unanimous = build_report(records, policy="unanimous", calibration_bins=10).overall_calibration
    majority = build_report(records, policy="majority", calibration_bins=10).overall_calibration
    assert unanimous.filled[0].accuracy == 0.0  # both split
    assert majority.filled[0].accuracy == 50.0  # a tie and a 2-1 confirmation
