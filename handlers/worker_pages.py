"""Worker-page records: one per worker and page answered in a round, for gold scoring (pure).

Why a record per page and not counters per worker: Ground Truth delivers a request at least
once, and a worker's page may arrive in several requests. A record keyed by (worker, part,
batch) and written only if absent (``attribute_not_exists``) makes redelivery harmless, exactly
like a vote; the per-worker figures of ``bulkqa workers`` are sums over a worker's records, read
with one Query of the round's ``#round#<round>#workers`` partition.

A gold item (``gold`` in the batch document: ``"wrong"`` or ``"correct"``) is never a vote on
data; the worker's answer on it is scored here instead: a wrong gold item unticked is *caught*,
a correct one left ticked is *kept*. The record also keeps the worker's verdict on every position
of the page (``verdicts``) and which positions were gold (``gold_marks``), so agreement with the
other workers of the same page can be computed without the batch document.

The attribute names below are the contract with the ``bulkqa workers`` report (H8): they are
listed in docs/ARCHITECTURE.md ("Items in the table") and in ``WORKER_PAGE_ATTRIBUTES``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from handlers.answers import CHAR_CONFIRM, CHAR_DISCONFIRM, CHAR_NONE, Vote
from handlers.rounds import BatchDocument, worker_pages_partition
from handlers.settings import (
    ATTR_BATCH,
    ATTR_IMAGE_URL,
    ATTR_KIND,
    ATTR_LABEL,
    ATTR_PART,
    ATTR_ROUND,
    KIND_WORKER_PAGE,
)

# --- Attributes of a worker-page item (besides the key, ``kind``, ``round``, ``part``, ``batch``). ---
ATTR_WORKER = "worker"  # S: the Ground Truth worker id
ATTR_PAGE_LABEL = "page_label"  # S: the label every image on the page was shown with
ATTR_IMAGES = "images"  # N: images on the page, gold included
ATTR_ANSWERED = "answered"  # N: images the worker's answer covered (a readable checkbox)
ATTR_UNTICKED = "unticked"  # N: images the worker marked wrong, gold included
ATTR_GOLD_SEEN = "gold_seen"  # N: gold items on the page
ATTR_GOLD_WRONG_SEEN = "gold_wrong_seen"  # N: gold items whose shown label is wrong
ATTR_GOLD_WRONG_CAUGHT = "gold_wrong_caught"  # N: ...of those, unticked by the worker
ATTR_GOLD_CORRECT_SEEN = "gold_correct_seen"  # N: gold items whose shown label is right
ATTR_GOLD_CORRECT_KEPT = "gold_correct_kept"  # N: ...of those, left ticked by the worker
ATTR_VERDICTS = "verdicts"  # S: one char per page position: c confirm, d disconfirm, - no answer
ATTR_GOLD_MARKS = "gold_marks"  # S: one char per page position: . data image, w wrong gold, c correct gold
ATTR_JOB = "labeling_job_arn"  # S: the job whose request first brought the page
ATTR_DATASET_OBJECT = "dataset_object_id"  # S: its datasetObjectId in that job

GOLD_MARK_DATA, GOLD_MARK_WRONG, GOLD_MARK_CORRECT = ".", "w", "c"
GOLD_MARKS = {None: GOLD_MARK_DATA, "wrong": GOLD_MARK_WRONG, "correct": GOLD_MARK_CORRECT}

WORKER_PAGE_ATTRIBUTES = frozenset(
    {
        ATTR_IMAGE_URL,
        ATTR_LABEL,
        ATTR_KIND,
        ATTR_ROUND,
        ATTR_PART,
        ATTR_BATCH,
        ATTR_WORKER,
        ATTR_PAGE_LABEL,
        ATTR_IMAGES,
        ATTR_ANSWERED,
        ATTR_UNTICKED,
        ATTR_GOLD_SEEN,
        ATTR_GOLD_WRONG_SEEN,
        ATTR_GOLD_WRONG_CAUGHT,
        ATTR_GOLD_CORRECT_SEEN,
        ATTR_GOLD_CORRECT_KEPT,
        ATTR_VERDICTS,
        ATTR_GOLD_MARKS,
        ATTR_JOB,
        ATTR_DATASET_OBJECT,
    }
)
_NUMBERS = (
    ATTR_PART,
    ATTR_BATCH,
    ATTR_IMAGES,
    ATTR_ANSWERED,
    ATTR_UNTICKED,
    ATTR_GOLD_SEEN,
    ATTR_GOLD_WRONG_SEEN,
    ATTR_GOLD_WRONG_CAUGHT,
    ATTR_GOLD_CORRECT_SEEN,
    ATTR_GOLD_CORRECT_KEPT,
)


def worker_page_sort_key(worker: str, part: int, batch: int) -> str:
    """``<worker>#<part:04d>#<batch:05d>``: a worker's pages sort together, in page order.

    Fixed-width numbers at the end keep the key unambiguous even for a worker id containing ``#``
    (split from the right).
    """
    return f"{worker}#{part:04d}#{batch:05d}"


def worker_page_key(round_name: str, worker: str, part: int, batch: int) -> dict[str, dict[str, str]]:
    return {
        ATTR_IMAGE_URL: {"S": worker_pages_partition(round_name)},
        ATTR_LABEL: {"S": worker_page_sort_key(worker, part, batch)},
    }


@dataclass(frozen=True)
class WorkerPage:
    """One worker's answer to one page of a round, scored against its gold items."""

    round: str
    part: int
    batch: int
    worker: str
    page_label: str
    verdicts: str
    gold_marks: str
    labeling_job_arn: str = ""
    dataset_object_id: str = ""

    @property
    def images(self) -> int:
        return len(self.verdicts)

    @property
    def answered(self) -> int:
        return sum(v != CHAR_NONE for v in self.verdicts)

    @property
    def unticked(self) -> int:
        return self.verdicts.count(CHAR_DISCONFIRM)

    def _gold(self, mark: str, verdict: str | None = None) -> int:
        return sum(
            m == mark and (verdict is None or v == verdict) for m, v in zip(self.gold_marks, self.verdicts, strict=True)
        )

    @property
    def gold_seen(self) -> int:
        return sum(m != GOLD_MARK_DATA for m in self.gold_marks)

    @property
    def gold_wrong_seen(self) -> int:
        return self._gold(GOLD_MARK_WRONG)

    @property
    def gold_wrong_caught(self) -> int:
        return self._gold(GOLD_MARK_WRONG, CHAR_DISCONFIRM)

    @property
    def gold_correct_seen(self) -> int:
        return self._gold(GOLD_MARK_CORRECT)

    @property
    def gold_correct_kept(self) -> int:
        return self._gold(GOLD_MARK_CORRECT, CHAR_CONFIRM)

    @property
    def rubber_stamped(self) -> bool:
        """Submitted with nothing unticked while a wrong gold item was on the page."""
        return self.gold_wrong_seen > 0 and self.unticked == 0

    def data_verdicts(self) -> dict[int, str]:
        """Position -> ``c``/``d`` for the data images the worker answered (for agreement)."""
        return {
            i: v
            for i, (m, v) in enumerate(zip(self.gold_marks, self.verdicts, strict=True))
            if m == GOLD_MARK_DATA and v != CHAR_NONE
        }

    def key(self) -> dict[str, dict[str, str]]:
        return worker_page_key(self.round, self.worker, self.part, self.batch)

    def to_item(self) -> dict[str, dict[str, str]]:
        """The DynamoDB item (attribute-value form); counts are stored so a report needs no arithmetic."""
        item: dict[str, dict[str, str]] = {
            **self.key(),
            ATTR_KIND: {"S": KIND_WORKER_PAGE},
            ATTR_ROUND: {"S": self.round},
            ATTR_WORKER: {"S": self.worker},
            ATTR_PAGE_LABEL: {"S": self.page_label},
            ATTR_VERDICTS: {"S": self.verdicts},
            ATTR_GOLD_MARKS: {"S": self.gold_marks},
        }
        if self.labeling_job_arn:
            item[ATTR_JOB] = {"S": self.labeling_job_arn}
        if self.dataset_object_id:
            item[ATTR_DATASET_OBJECT] = {"S": self.dataset_object_id}
        for name in _NUMBERS:
            item[name] = {"N": str(getattr(self, name))}
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> WorkerPage:
        """Read a worker-page item back (attribute-value form); ``ValueError`` names what is missing."""

        def text(name: str) -> str:
            value = item.get(name)
            if not isinstance(value, Mapping) or not isinstance(value.get("S"), str):
                raise ValueError(f"worker-page item {item.get(ATTR_LABEL)!r} has no {name}")
            return value["S"]

        def number(name: str) -> int:
            value = item.get(name)
            if not isinstance(value, Mapping) or "N" not in value:
                raise ValueError(f"worker-page item {item.get(ATTR_LABEL)!r} has no {name}")
            return int(value["N"])

        optional = {name: item[name]["S"] for name in (ATTR_JOB, ATTR_DATASET_OBJECT) if name in item}
        page = cls(
            round=text(ATTR_ROUND),
            part=number(ATTR_PART),
            batch=number(ATTR_BATCH),
            worker=text(ATTR_WORKER),
            page_label=text(ATTR_PAGE_LABEL),
            verdicts=text(ATTR_VERDICTS),
            gold_marks=text(ATTR_GOLD_MARKS),
            labeling_job_arn=optional.get(ATTR_JOB, ""),
            dataset_object_id=optional.get(ATTR_DATASET_OBJECT, ""),
        )
        if len(page.verdicts) != len(page.gold_marks):
            raise ValueError(f"worker-page item {item.get(ATTR_LABEL)!r}: verdicts and gold_marks differ in length")
        return page


def score_page(
    document: BatchDocument,
    worker: str,
    votes: Iterable[Vote],
    *,
    labeling_job_arn: str = "",
    dataset_object_id: str = "",
) -> WorkerPage:
    """The record of ``worker``'s answer (its parsed ``votes``, gold included) to ``document``'s page."""
    chars = [CHAR_NONE] * len(document.items)
    for vote in votes:
        if 0 <= vote.index < len(chars) and chars[vote.index] == CHAR_NONE:
            chars[vote.index] = CHAR_CONFIRM if vote.confirmed else CHAR_DISCONFIRM
    return WorkerPage(
        round=document.round,
        part=document.part,
        batch=document.batch,
        worker=worker,
        page_label=document.label,
        verdicts="".join(chars),
        gold_marks="".join(GOLD_MARKS[entry.gold] for entry in document.items),
        labeling_job_arn=labeling_job_arn,
        dataset_object_id=dataset_object_id,
    )
