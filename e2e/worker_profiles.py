"""Simulated worker profiles for the Ground Truth simulator (issue 16): who ticks what, and why.

Every image on a BulkQA page starts ticked "Correct". A worker profile decides, per card, from
what the page shows (``e2e.ground_truth.Shown``: image, label, confidence, the box's state) and
from the truth, which the profile knows as a careful human would by looking:

- ``Careful``: answers the truth -- unticks every image whose label is wrong, keeps the others.
- ``RubberStamper``: submits without looking -- leaves every box as the page shows it (ticked).
- ``Strict``: answers the truth, and also unticks correct images shown with a confidence below
  ``min_confidence`` (over-cautious: a harsh but not careless worker).

``Truth`` is what each shown (image, label) really is: gold items from the gold CSV given to
``bulkqa seed --gold`` (truth ``wrong``/``correct``), data images from a map image → true class.
``Crowd`` gives each worker id of a job its profile and is the simulator's ``judge``::

    crowd = Crowd(job.worker_ids(), [Careful(), Careful(), RubberStamper()], truth)
    simulator.run(job, judge=crowd)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from e2e.ground_truth import Shown
from handlers.gold import TRUTH_CORRECT, read_gold_csv


class UnknownImageError(LookupError):
    """A worker was shown an image the truth does not know: the test's data is incomplete."""


@dataclass(frozen=True)
class Truth:
    """What each shown image really is.

    ``classes``: data image s3:// URL → its true class (the label is right iff it equals it).
    ``gold``: (gold image s3:// URL, shown label) → ``True`` if the shown label is correct.
    A gold entry wins over ``classes`` for its (image, label).
    """

    classes: Mapping[str, str] = field(default_factory=dict)
    gold: Mapping[tuple[str, str], bool] = field(default_factory=dict)

    def label_is_correct(self, s3_image_url: str, label: str) -> bool:
        known = self.gold.get((s3_image_url, label))
        if known is not None:
            return known
        if s3_image_url not in self.classes:
            raise UnknownImageError(f"the truth does not know {s3_image_url} (shown as {label!r})")
        return self.classes[s3_image_url] == label

    def is_gold(self, s3_image_url: str, label: str) -> bool:
        return (s3_image_url, label) in self.gold

    def with_gold_csv(self, text: str, url_of: Callable[[str], str], *, source: str = "gold.csv") -> Truth:
        """This truth plus the gold CSV's items; ``url_of`` maps a CSV path to the s3:// URL the
        seed gives it (``s3://<bucket>/images/<path>`` for local ``--images``; s3:// paths as is)."""
        gold = dict(self.gold)
        for row in read_gold_csv(text, source=source):
            url = row.path if row.path.startswith("s3://") else url_of(row.path)  # normalised by the reader
            gold[(url, row.label)] = row.truth == TRUTH_CORRECT
        return Truth(self.classes, gold)


class Profile(Protocol):
    """How one kind of worker answers a card: True (correct), False (wrong), None (leave it)."""

    name: str

    def decide(self, shown: Shown, truth: Truth) -> bool | None: ...


@dataclass(frozen=True)
class Careful:
    name: str = "careful"

    def decide(self, shown: Shown, truth: Truth) -> bool | None:
        return truth.label_is_correct(shown.s3_image_url, shown.label)


@dataclass(frozen=True)
class RubberStamper:
    name: str = "rubber-stamper"

    def decide(self, shown: Shown, truth: Truth) -> bool | None:
        return None  # submits the page as it loaded: every box ticked "Correct"


@dataclass(frozen=True)
class Strict:
    min_confidence: float = 90.0
    name: str = "strict"

    def decide(self, shown: Shown, truth: Truth) -> bool | None:
        correct = truth.label_is_correct(shown.s3_image_url, shown.label)
        low = shown.confidence is not None and shown.confidence < self.min_confidence
        return correct and not low


class Crowd:
    """The workers of one job, each with a profile; callable as the simulator's ``judge``."""

    def __init__(self, worker_ids: Sequence[str], profiles: Sequence[Profile], truth: Truth) -> None:
        if len(worker_ids) != len(profiles):
            raise ValueError(f"{len(worker_ids)} worker ids but {len(profiles)} profiles")
        self.profiles = dict(zip(worker_ids, profiles, strict=True))
        self.truth = truth

    def __call__(self, worker: str, shown: Shown) -> bool | None:
        try:
            profile = self.profiles[worker]
        except KeyError as err:
            raise LookupError(f"worker {worker} has no profile in this crowd") from err
        return profile.decide(shown, self.truth)

    def workers(self, name: str) -> list[str]:
        """The worker ids with the profile called ``name`` (e.g. ``"rubber-stamper"``)."""
        return [worker for worker, profile in self.profiles.items() if profile.name == name]
