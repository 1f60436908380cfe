"""Gold placement (deterministic, same class only, varying positions) and the gold CSV."""

from __future__ import annotations

import pytest

from handlers.gold import GoldCsvError, GoldItem, GoldPlan, read_gold_csv
from handlers.rounds import BatchDocument, BatchEntry, manifest_line

GOLD = [
    GoldItem("s3://b/images/g1.jpg", "Crab", "wrong"),
    GoldItem("s3://b/images/g2.jpg", "Crab", "correct"),
    GoldItem("s3://b/images/g3.jpg", "Crab", "wrong"),
    GoldItem("s3://b/images/g4.jpg", "Crawdad", "wrong"),
]


def _page(batch: int, label: str = "Crab", size: int = 10) -> BatchDocument:
    items = tuple(BatchEntry(f"s3://b/images/{label}-{batch}-{i}.jpg", label, 85.0 + i / 2) for i in range(size))
    return BatchDocument("r1", 1, batch, label, items)


def test_placement_is_deterministic() -> None:
    first = GoldPlan(GOLD, 2, seed="s").place(_page(3))
    again = GoldPlan(list(reversed(GOLD)), 2, seed="s").place(_page(3))
    assert manifest_line(first) == manifest_line(again)


def test_up_to_n_gold_items_of_the_page_class_only() -> None:
    plan = GoldPlan(GOLD, 2, seed="s")
    for batch in range(1, 40):
        page = plan.place(_page(batch))
        gold = [entry for entry in page.items if entry.gold is not None]
        assert len(gold) == 2 and len(page.items) == 12
        assert {entry.label for entry in page.items} == {"Crab"}
        assert {entry.s3_image_url for entry in gold} <= {g.s3_image_url for g in GOLD if g.label == "Crab"}
        data = [entry for entry in page.items if entry.gold is None]
        assert data == list(_page(batch).items)  # data images keep their order
        for entry in gold:
            assert 85.0 <= entry.confidence <= 89.5
            assert entry.confidence == round(entry.confidence, 1)
    one = GoldPlan(GOLD, 5, seed="s").place(_page(1, "Crawdad"))
    assert [entry.s3_image_url for entry in one.items if entry.gold] == ["s3://b/images/g4.jpg"]
    assert GoldPlan(GOLD, 2).place(_page(1, "Seal")) == _page(1, "Seal")  # no gold of that class


def test_positions_and_choices_vary_between_pages() -> None:
    plan = GoldPlan(GOLD, 2, seed="s")
    positions = set()
    chosen = set()
    for batch in range(1, 30):
        page = plan.place(_page(batch))
        positions.add(tuple(i for i, entry in enumerate(page.items) if entry.gold))
        chosen.add(tuple(sorted(entry.s3_image_url for entry in page.items if entry.gold)))
    assert len(positions) > 10
    assert len(chosen) == 3  # every pair of the three Crab gold items shows up


def test_gold_never_repeats_a_data_image_of_the_page() -> None:
    page = BatchDocument("r1", 1, 1, "Crab", (BatchEntry("s3://b/images/g1.jpg", "Crab", 90.0),))
    placed = GoldPlan(GOLD, 3, seed="s").place(page)
    urls = [entry.s3_image_url for entry in placed.items]
    assert len(urls) == len(set(urls)) == 3


def test_the_worker_sees_the_same_fields() -> None:
    page = GoldPlan(GOLD, 2, seed="s").place(_page(1))
    assert {tuple(sorted(entry.task_json())) for entry in page.items} == {("confidence", "label", "s3_image_url")}


def test_fingerprint_changes_with_the_gold_set() -> None:
    assert GoldPlan(GOLD, 2, "s").fingerprint() == GoldPlan(list(reversed(GOLD)), 2, "s").fingerprint()
    assert GoldPlan(GOLD, 2, "s").fingerprint() != GoldPlan(GOLD[:3], 2, "s").fingerprint()
    assert GoldPlan(GOLD, 2, "s").fingerprint() != GoldPlan(GOLD, 1, "s").fingerprint()


@pytest.mark.parametrize("per_task", [0, -1, 2.5, True])
def test_per_task_must_be_a_positive_whole_number(per_task: object) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        GoldPlan(GOLD, per_task)  # type: ignore[arg-type]


def test_read_gold_csv() -> None:
    text = "\ufeffimage_local_path,label,truth\r\nsub//a.jpg,Crab,wrong\r\ns3://x/b.jpg,Crab,Correct\r\n\r\n"
    rows = read_gold_csv(text, source="gold.csv")
    assert [(r.path, r.label, r.truth) for r in rows] == [
        ("sub/a.jpg", "Crab", "wrong"),
        ("s3://x/b.jpg", "Crab", "correct"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("image_local_path,label\r\na.jpg,Crab\r\n", "missing truth"),
        ("image_local_path,label,truth\r\na.jpg,Crab,maybe\r\n", "line 2: truth 'maybe'"),
        ("image_local_path,label,truth\r\n../a.jpg,Crab,wrong\r\n", "line 2: image path"),
        ("image_local_path,label,truth\r\na.jpg,Cr\u200bab,wrong\r\n", r"U\+200B"),
        ("image_local_path,label,truth\r\na.jpg,Crab,wrong\r\n./a.jpg,Crab,correct\r\n", "line 3: a.jpg"),
        ("image_local_path,label,truth\r\n", "no gold item"),
        ("image_local_path,label,truth\r\na.jpg,,wrong\r\nb.jpg,Crab\r\n", "2 bad row"),
    ],
)
def test_bad_gold_csv_names_the_rows(text: str, message: str) -> None:
    with pytest.raises(GoldCsvError, match=message):
        read_gold_csv(text, source="gold.csv")
