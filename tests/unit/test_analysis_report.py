"""build_report against hand-computed figures: fixtures/qa_results.csv and small hand examples."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bulkqa.analysis import Record, ThresholdStatus, build_report, build_report_from_columns

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "qa_results.csv"


def fixture_records() -> list[Record]:
    with FIXTURE.open(newline="") as handle:
        return [
            Record(
                r["image"],
                r["label"],
                float(r["confidence"]),
                int(r["WorkerConfirmCount"]),
                int(r["WorkerDisconfirmCount"]),
            )
            for r in csv.DictReader(handle)
        ]


def bands_of(row) -> list[tuple[int, int, float | None]]:
    return [(b.total, b.incorrect, None if b.pct_correct is None else round(b.pct_correct, 3)) for b in row.bands]


def test_fixture_unanimous_by_hand() -> None:
    report = build_report(fixture_records())
    cat, dog, sea_lion = report.classes  # sorted by label
    assert [c.label for c in report.classes] == ["Cat", "Dog", "Sea lion"]

    # Dog: 15 reviewed (dog/016 and dog/017 have no vote), 12 confirmed, 2 disconfirmed, 1 split (2-1).
    assert (dog.total, dog.confirmed, dog.disconfirmed, dog.split, dog.unreviewed) == (15, 12, 2, 1, 2)
    assert dog.pct_correct == pytest.approx(80.0)
    # [80,85): 80 ok, 83 no; [85,90): 89 ok, 87 no, 85 ok; [90,95): 94.9, 93 split, 91.5, 90; [95,100]: 100..95.
    assert bands_of(dog) == [(2, 1, 50.0), (3, 1, 66.667), (4, 1, 75.0), (6, 0, 100.0)]
    # Walk: [95,100] 0 <= 0.6 passes; [90,95) 1 > 0.3 fails -> 95.
    assert dog.threshold == 95

    # Cat: top band 3 images, 1 disconfirmed: 1 > 0.2 fails at once -> 100 ("never").
    assert (cat.total, cat.confirmed, cat.disconfirmed, cat.split, cat.unreviewed) == (6, 4, 1, 1, 1)
    assert cat.pct_correct == pytest.approx(400 / 6)
    # [90,95) has only cat/007, which is unreviewed: the band is empty, n/a (not 0%).
    assert bands_of(cat) == [(1, 1, 0.0), (2, 0, 100.0), (0, 0, None), (3, 1, 66.667)]
    assert cat.threshold == 100

    # Sea lion: all confirmed; no band fails -> the lowest band's lower bound.
    assert (sea_lion.total, sea_lion.confirmed, sea_lion.pct_correct) == (7, 7, 100.0)
    assert bands_of(sea_lion) == [(1, 0, 100.0), (2, 0, 100.0), (0, 0, None), (4, 0, 100.0)]
    assert sea_lion.threshold == 80

    totals = report.totals
    assert (totals.label, totals.total, totals.confirmed, totals.disconfirmed, totals.split, totals.unreviewed) == (
        "TOTALS",
        28,
        23,
        3,
        2,
        3,
    )
    assert totals.pct_correct == pytest.approx(100 * 23 / 28)
    assert bands_of(totals) == [(4, 2, 50.0), (7, 1, 85.714), (4, 1, 75.0), (13, 1, 92.308)]
    assert totals.threshold is None

    avg = report.class_average
    assert avg.pct_correct == pytest.approx((80 + 400 / 6 + 100) / 3)
    # per band: mean over the labels whose band is not empty ([90,95) only Dog has images).
    assert [b.pct_correct for b in avg.bands] == pytest.approx([50.0, (200 / 3 + 200) / 3, 75.0, (200 + 200 / 3) / 3])
    assert report.images == 31 and report.outside_bands == 0

    exact = {t.label: t for t in report.precision_thresholds}
    assert (exact["Dog"].confidence, exact["Dog"].accepted, exact["Dog"].confirmed) == (89.0, 11, 10)
    assert (exact["Cat"].confidence, exact["Cat"].accepted) == (97.0, 2)
    assert (exact["Sea lion"].confidence, exact["Sea lion"].accepted) == (81.0, 7)


def test_fixture_majority_by_hand() -> None:
    report = build_report(fixture_records(), policy="majority")
    cat, dog, _ = report.classes
    # Dog's 2-1 is confirmed under majority; split is still counted alongside.
    assert (dog.confirmed, dog.disconfirmed, dog.split) == (13, 2, 1)
    assert bands_of(dog)[2] == (4, 0, 100.0)
    assert dog.threshold == 90  # [90,95) passes now; [85,90) 1 > 0.2 fails
    # Cat's 1-1 is a tie: neither confirmed nor disconfirmed, but still in the total (incorrect).
    assert (cat.total, cat.confirmed, cat.disconfirmed, cat.split) == (6, 4, 1, 1)
    assert bands_of(cat)[0] == (1, 1, 0.0)
    assert report.policy.value == "majority"


def test_unreviewed_images_are_left_out_of_every_figure() -> None:
    with_unreviewed = [Record("a", "Dog", 97, 3, 0), Record("b", "Dog", 97, 0, 0), Record("c", "Dog", 82, 0, 0)]
    report = build_report(with_unreviewed)
    (dog,) = report.classes
    assert (dog.total, dog.confirmed, dog.unreviewed, dog.pct_correct) == (1, 1, 2, 100.0)
    assert [b.total for b in dog.bands] == [0, 0, 0, 1]
    assert report.overall_calibration.reviewed == 1
    assert report.precision_thresholds[0].reviewed == 1
    assert report.totals.unreviewed == 2 and report.images == 3
    without = build_report(with_unreviewed[:1])
    assert without.classes[0].bands == dog.bands and without.classes[0].threshold == dog.threshold


def test_a_class_with_only_unreviewed_images() -> None:
    report = build_report([Record("a", "Owl", 90, 0, 0), Record("b", "Dog", 90, 1, 0)])
    owl = report.classes[1]
    assert (owl.label, owl.total, owl.pct_correct, owl.unreviewed) == ("Owl", 0, None, 1)
    assert all(b.pct_correct is None for b in owl.bands)
    # Every band empty: the walk would pass them all and say "accept at 80". No data, no threshold.
    assert owl.threshold is None and owl.threshold_status is ThresholdStatus.NO_DATA
    assert owl.warnings[0] == "no reviewed image in any band: no threshold"
    assert report.precision_thresholds[1].few_reviewed
    assert report.class_average.pct_correct == 100.0  # Owl has no %correct to average


def test_split_counting_under_unanimous() -> None:
    records = [Record("a", "Dog", 90, 2, 1), Record("b", "Dog", 90, 1, 2), Record("c", "Dog", 90, 1, 0)]
    (dog,) = build_report(records).classes
    assert (dog.total, dog.confirmed, dog.disconfirmed, dog.split) == (3, 1, 0, 2)
    assert dog.bands[2].incorrect == 2  # incorrect = total - confirmed: splits count as incorrect


def test_band_edges_and_outside_bands() -> None:
    records = [
        Record("a", "Dog", 80.0, 1, 0),  # [80, 85)
        Record("b", "Dog", 85.0, 1, 0),  # [85, 90)
        Record("c", "Dog", 95.0, 1, 0),  # [95, 100]
        Record("d", "Dog", 100.0, 1, 0),  # [95, 100] (closed)
        Record("e", "Dog", 79.9, 0, 1),  # in no band, but in the label's totals
    ]
    report = build_report(records)
    (dog,) = report.classes
    assert [b.total for b in dog.bands] == [1, 1, 0, 2]
    assert (dog.total, dog.confirmed, dog.disconfirmed) == (5, 4, 1)
    assert report.outside_bands == 1
    assert dog.threshold == 80


def test_class_average_uses_only_non_empty_bands() -> None:
    records = [Record("a", "A", 97, 1, 0), Record("b", "B", 97, 0, 1), Record("c", "B", 82, 1, 0)]
    avg = build_report(records).class_average
    # A: 100%, B: 50% -> 75; [80,85): only B (100); [95,100]: A 100, B 0 -> 50; others n/a.
    assert avg.pct_correct == 75.0
    assert [b.pct_correct for b in avg.bands] == [100.0, None, None, 50.0]


def test_custom_bands_and_ratio() -> None:
    records = [Record(str(i), "Dog", 91, 1, 0) for i in range(8)] + [Record("x", "Dog", 91, 0, 1)]
    report = build_report(records, bands="50,90,100", max_fp_ratio=0.125)
    (dog,) = report.classes
    assert report.bands.intervals == [(50, 90), (90, 100)]
    assert dog.threshold == 50  # 1 <= 0.125 * 8
    assert build_report(records, bands=[50, 90, 100], max_fp_ratio=0.12).classes[0].threshold == 100


def test_empty_input() -> None:
    report = build_report([])
    assert report.classes == () and report.totals.total == 0 and report.totals.pct_correct is None
    assert report.class_average.pct_correct is None
    assert report.overall_calibration.ece is None


def test_plain_tuples_and_columns_give_the_same_report() -> None:
    import numpy as np

    records = fixture_records()
    from_tuples = build_report([tuple(r) for r in records])
    labels = sorted({r.label for r in records})
    ids = np.array([labels.index(r.label) for r in records])
    from_columns = build_report_from_columns(
        labels,
        ids,
        np.array([r.confidence for r in records]),
        np.array([r.confirm for r in records]),
        np.array([r.disconfirm for r in records]),
    )
    assert from_tuples.to_json() == from_columns.to_json() == build_report(records).to_json()


def test_bad_values_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        build_report([Record("a", "Dog", 90, -1, 0)])
    with pytest.raises(ValueError, match="finite"):
        build_report([Record("a", "Dog", float("nan"), 1, 0)])
    with pytest.raises(ValueError):
        build_report([], max_fp_ratio=-0.1)
