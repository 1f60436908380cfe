"""Per-worker quality from the worker-page records of a round (issue 16; pure).

A record is one worker's answer to one page (``handlers.worker_pages.WorkerPage``). From them:
- pages answered, images answered, gold seen, wrong gold caught, right gold kept;
- the *catch rate* (wrong gold caught / wrong gold seen) with its Wilson 95% interval: the figure
  that tells a careful worker from one who submits without looking, since every image starts ticked;
- rubber-stamped pages: submitted with nothing unticked while a wrong gold item was on them;
- agreement: the share of the worker's verdicts on data images that equal the majority verdict of
  the *other* workers on the same page and position (ties among the others are not compared).

Limits, said in docs/report.md: the catch rate measures only wrong gold (what a rubber stamp
misses); with few gold items the interval is wide, which is why exclusion uses its lower bound.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bulkqa.analysis.thresholds import wilson_interval
from handlers.answers import CHAR_CONFIRM, CHAR_DISCONFIRM

# A worker is flagged when at least this share of their pages with a wrong gold item went
# through with nothing unticked (and at least one such page exists).
RUBBER_STAMP_SHARE = 0.5


class Page(Protocol):
    round: str
    part: int
    batch: int
    worker: str
    verdicts: str
    gold_marks: str

    @property
    def answered(self) -> int: ...
    @property
    def unticked(self) -> int: ...
    @property
    def gold_seen(self) -> int: ...
    @property
    def gold_wrong_seen(self) -> int: ...
    @property
    def gold_wrong_caught(self) -> int: ...
    @property
    def gold_correct_seen(self) -> int: ...
    @property
    def gold_correct_kept(self) -> int: ...
    @property
    def rubber_stamped(self) -> bool: ...
    def data_verdicts(self) -> dict[int, str]: ...


@dataclass
class WorkerQuality:
    worker: str
    pages: int = 0
    images_answered: int = 0
    unticked: int = 0
    gold_seen: int = 0
    wrong_gold_seen: int = 0
    wrong_gold_caught: int = 0
    right_gold_seen: int = 0
    right_gold_kept: int = 0
    pages_with_wrong_gold: int = 0
    rubber_stamped_pages: int = 0
    agreement_compared: int = 0
    agreement_agreed: int = 0
    pages_seen: set[tuple[int, int]] = field(default_factory=set, repr=False)

    @property
    def catch_rate(self) -> float | None:
        return self.wrong_gold_caught / self.wrong_gold_seen if self.wrong_gold_seen else None

    @property
    def catch_interval(self) -> tuple[float, float] | None:
        if not self.wrong_gold_seen:
            return None
        return wilson_interval(self.wrong_gold_caught, self.wrong_gold_seen)

    @property
    def catch_lower_bound(self) -> float | None:
        interval = self.catch_interval
        return interval[0] if interval else None

    @property
    def keep_rate(self) -> float | None:
        return self.right_gold_kept / self.right_gold_seen if self.right_gold_seen else None

    @property
    def agreement(self) -> float | None:
        return self.agreement_agreed / self.agreement_compared if self.agreement_compared else None

    @property
    def rubber_stamp_flag(self) -> bool:
        """Likely rubber-stamping: most pages with a wrong gold item went through untouched."""
        return self.rubber_stamped_pages > 0 and (
            self.rubber_stamped_pages >= RUBBER_STAMP_SHARE * self.pages_with_wrong_gold
        )

    def to_json(self) -> dict[str, Any]:
        interval = self.catch_interval
        return {
            "worker": self.worker,
            "pages": self.pages,
            "images_answered": self.images_answered,
            "unticked": self.unticked,
            "gold_seen": self.gold_seen,
            "wrong_gold_seen": self.wrong_gold_seen,
            "wrong_gold_caught": self.wrong_gold_caught,
            "right_gold_seen": self.right_gold_seen,
            "right_gold_kept": self.right_gold_kept,
            "catch_rate": self.catch_rate,
            "catch_rate_wilson95": list(interval) if interval else None,
            "keep_rate": self.keep_rate,
            "agreement": self.agreement,
            "agreement_compared": self.agreement_compared,
            "pages_with_wrong_gold": self.pages_with_wrong_gold,
            "rubber_stamped_pages": self.rubber_stamped_pages,
            "likely_rubber_stamping": self.rubber_stamp_flag,
        }


def worker_quality(pages: Iterable[Page]) -> list[WorkerQuality]:
    """One row per worker, sorted by worker id; a page counted once per worker even if listed twice."""
    by_worker: dict[str, WorkerQuality] = {}
    by_page: dict[tuple[int, int], dict[str, dict[int, str]]] = defaultdict(dict)
    for page in pages:
        quality = by_worker.setdefault(page.worker, WorkerQuality(page.worker))
        where = (page.part, page.batch)
        if where in quality.pages_seen:
            continue
        quality.pages_seen.add(where)
        quality.pages += 1
        quality.images_answered += page.answered
        quality.unticked += page.unticked
        quality.gold_seen += page.gold_seen
        quality.wrong_gold_seen += page.gold_wrong_seen
        quality.wrong_gold_caught += page.gold_wrong_caught
        quality.right_gold_seen += page.gold_correct_seen
        quality.right_gold_kept += page.gold_correct_kept
        if page.gold_wrong_seen:
            quality.pages_with_wrong_gold += 1
        if page.rubber_stamped:
            quality.rubber_stamped_pages += 1
        by_page[where][page.worker] = page.data_verdicts()
    for answers in by_page.values():
        for worker, verdicts in answers.items():
            quality = by_worker[worker]
            for position, verdict in verdicts.items():
                others = [a[position] for w, a in answers.items() if w != worker and position in a]
                confirm, disconfirm = others.count(CHAR_CONFIRM), others.count(CHAR_DISCONFIRM)
                if confirm == disconfirm:
                    continue  # nobody else, or the others are split: nothing to agree with
                quality.agreement_compared += 1
                quality.agreement_agreed += verdict == (CHAR_CONFIRM if confirm > disconfirm else CHAR_DISCONFIRM)
    return [by_worker[worker] for worker in sorted(by_worker)]


def workers_below(qualities: Iterable[WorkerQuality], minimum: float) -> list[str]:
    """Workers whose catch-rate lower bound (Wilson 95%) is below ``minimum`` (0-1).

    A worker who saw no wrong gold item has no evidence either way and is kept.
    """
    if not 0.0 <= minimum <= 1.0:
        raise ValueError(f"the minimum worker quality is a catch rate between 0 and 1, got {minimum}")
    return [q.worker for q in qualities if q.catch_lower_bound is not None and q.catch_lower_bound < minimum]
