"""The e2e simulator's worker profiles (pure): what each kind of worker ticks."""

from __future__ import annotations

import pytest

from e2e.ground_truth import Shown
from e2e.worker_profiles import Careful, Crowd, RubberStamper, Strict, Truth, UnknownImageError

BUCKET = "s3://qa/images/"
GOLD_CSV = "image_local_path,label,truth\r\nk/1.png,Crab,wrong\r\nk/2.png,Crab,correct\r\ns3://x/y.png,Crab,wrong\r\n"


def _truth() -> Truth:
    return Truth({BUCKET + "a.png": "Crab", BUCKET + "b.png": "Crayfish"}).with_gold_csv(
        GOLD_CSV, lambda path: BUCKET + path
    )


def _shown(name: str, confidence: float | None = 95.0, label: str = "Crab") -> Shown:
    url = name if name.startswith("s3://") else BUCKET + name
    return Shown(url, label, confidence, checked=True)


@pytest.mark.parametrize(
    ("name", "confidence", "careful", "stamper", "strict"),
    [
        ("a.png", 95.0, True, None, True),  # right label
        ("a.png", 85.0, True, None, False),  # right label, low confidence: strict unticks it
        ("b.png", 95.0, False, None, False),  # wrong label
        ("k/1.png", 95.0, False, None, False),  # wrong gold
        ("k/2.png", 95.0, True, None, True),  # right gold
        ("k/2.png", 80.0, True, None, False),
        ("s3://x/y.png", 99.0, False, None, False),  # gold referenced in place
        ("a.png", None, True, None, True),  # no confidence shown: strict judges the image only
    ],
)
def test_each_profile(name: str, confidence: float | None, careful: bool, stamper: None, strict: bool) -> None:
    truth, shown = _truth(), _shown(name, confidence)
    assert Careful().decide(shown, truth) is careful
    assert RubberStamper().decide(shown, truth) is stamper
    assert Strict(min_confidence=90).decide(shown, truth) is strict


def test_gold_truth_wins_and_unknown_images_are_an_error() -> None:
    truth = _truth()
    assert truth.is_gold(BUCKET + "k/1.png", "Crab") and not truth.is_gold(BUCKET + "a.png", "Crab")
    with pytest.raises(UnknownImageError, match=r"nothing\.png"):
        Careful().decide(_shown("nothing.png"), truth)
    with pytest.raises(UnknownImageError):  # a gold image shown with another label is not gold
        Careful().decide(_shown("k/1.png", label="Crayfish"), truth)


def test_crowd_gives_each_worker_its_profile() -> None:
    crowd = Crowd(["w1", "w2", "w3"], [Careful(), RubberStamper(), Strict(90)], _truth())
    wrong = _shown("b.png")
    assert [crowd(w, wrong) for w in ("w1", "w2", "w3")] == [False, None, False]
    assert crowd.workers("rubber-stamper") == ["w2"] and crowd.workers("careful") == ["w1"]
    with pytest.raises(LookupError, match="w9"):
        crowd("w9", wrong)
    with pytest.raises(ValueError, match="2 worker ids but 1 profiles"):
        Crowd(["a", "b"], [Careful()], _truth())
