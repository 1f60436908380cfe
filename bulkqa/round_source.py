"""One QA round's pairs, read from the table by key: ``report --round R`` and ``export --round R``.

Why not the whole-table Scan: a round names its pairs in 16 partitions of round-pair items
(``#round#<R>#00`` … ``#15``, docs/ARCHITECTURE.md "Rounds"), each holding *this round's*
confidence and what the round decided for the pair (queued, reused, accepted, sampled out). So the
round's report Queries those 16 partitions in parallel (every page) and fetches the votes of the
pairs it found with BatchGetItem (100 keys a request): it reads the round's pairs and nothing else,
whatever else the table holds. The votes are the pair items' shared counts ("review once, evaluate
every model"), the confidence is the round's.

``RoundResults`` yields ``RoundPair`` tuples (every state) for ``analysis.rounds.build_round_report``
and, iterated as a source, ``Record`` tuples of the reviewed states (queued, reused) like every
other source. Round-pair items that cannot be read are named in ``problems`` and skipped.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bulkqa.analysis import Record
from bulkqa.analysis.rounds import REVIEW_STATES, RoundInfo, RoundPair
from bulkqa.results_source import (
    ProgressCallback,
    ResultsFormatError,
    _confidence,
    _Problems,
    item_counts,
    item_where,
    parallel_pages,
)
from handlers.rounds import round_meta_key, round_pair_partitions, validate_round_name
from handlers.settings import (
    ATTR_CONFIDENCE,
    ATTR_CONFIRM_COUNT,
    ATTR_CORRECTED_BY_JOB,
    ATTR_CORRECTED_LABEL,
    ATTR_DISCONFIRM_COUNT,
    ATTR_IMAGE_URL,
    ATTR_LABEL,
    ATTR_PAIR_LABEL,
    ATTR_PAIR_URL,
    ATTR_STATE,
    ATTR_WORKER_VOTES,
    ROUND_STATES,
    STATE_ACCEPTED,
)

GET_CHUNK = 100  # BatchGetItem's limit


class RoundNotFoundError(ResultsFormatError):
    """No seed of the round named on the command line has committed in this table (exit 2)."""


def parse_round_pair(item: dict[str, Any]) -> tuple[tuple[str, str, float, str] | None, str | None]:
    """A round-pair item -> ((url, label, confidence, state), None) or (None, why it is unreadable)."""
    url = item.get(ATTR_PAIR_URL, {}).get("S") if isinstance(item.get(ATTR_PAIR_URL), dict) else None
    label = item.get(ATTR_PAIR_LABEL, {}).get("S") if isinstance(item.get(ATTR_PAIR_LABEL), dict) else None
    if not url or not label:
        return None, "no pair_url/pair_label"
    raw = item.get(ATTR_CONFIDENCE, {}).get("N") if isinstance(item.get(ATTR_CONFIDENCE), dict) else None
    conf = None if raw is None else _confidence(raw)
    if conf is None or not math.isfinite(conf):
        return None, f"confidence {raw!r} is not a number in 0-100"
    state = item.get(ATTR_STATE, {}).get("S") if isinstance(item.get(ATTR_STATE), dict) else None
    if state not in ROUND_STATES:
        return None, f"state {state!r} is not one of {', '.join(ROUND_STATES)}"
    return (url, label, conf, state), None


def _round_pair_where(item: dict[str, Any]) -> str:
    url = item.get(ATTR_PAIR_URL, {}).get("S", "?") if isinstance(item.get(ATTR_PAIR_URL), dict) else "?"
    label = item.get(ATTR_PAIR_LABEL, {}).get("S", "?") if isinstance(item.get(ATTR_PAIR_LABEL), dict) else "?"
    digest = item.get(ATTR_LABEL, {}).get("S", "?") if isinstance(item.get(ATTR_LABEL), dict) else "?"
    return f"round pair {url} / {label} ({digest[:12]})"


@dataclass(frozen=True)
class PairDetails:
    """What a pair item holds beyond its counts: who voted what, and a relabel correction."""

    votes: dict[str, str]
    corrected_label: str | None = None
    corrected_by_job: str | None = None

    @classmethod
    def of(cls, item: dict[str, Any] | None) -> PairDetails:
        if not item:
            return NO_DETAILS
        raw = item.get(ATTR_WORKER_VOTES, {}).get("M", {}) if isinstance(item.get(ATTR_WORKER_VOTES), dict) else {}
        votes = {worker: value.get("S", "") for worker, value in raw.items() if isinstance(value, dict)}
        corrected = item.get(ATTR_CORRECTED_LABEL, {})
        job = item.get(ATTR_CORRECTED_BY_JOB, {})
        return cls(
            votes,
            corrected.get("S") if isinstance(corrected, dict) else None,
            job.get("S") if isinstance(job, dict) else None,
        )


NO_DETAILS = PairDetails({})


class RoundResults(_Problems):
    """Every pair of one round with its votes; see the module docstring."""

    def __init__(
        self,
        ddb: Any,
        table: str,
        round_name: str,
        *,
        progress: ProgressCallback | None = None,
        page_size: int | None = None,
        threads: int = 16,
        sleep: Callable[[float], None] | None = None,
        details: bool = False,
    ) -> None:
        super().__init__()
        self.details = details
        self.ddb, self.table = ddb, table
        self.round_name = validate_round_name(round_name)
        self.progress, self.page_size, self.threads = progress, page_size, threads
        self.sleep = sleep
        self.pages = 0
        self.items_seen = 0
        self.requests = {"GetItem": 0, "Query": 0, "BatchGetItem": 0}  # first sends (resends not counted)
        self._lock = threading.Lock()
        self._meta: Any = None

    def _count(self, operation: str) -> None:
        with self._lock:
            self.requests[operation] += 1

    # --- The round's metadata. ---

    def meta(self) -> Any:
        """The round item (``handlers.round_store.RoundMeta``); ``RoundNotFoundError`` if absent."""
        if self._meta is None:
            from handlers.round_store import RoundMeta

            self._count("GetItem")
            item = self.ddb.get_item(TableName=self.table, Key=round_meta_key(self.round_name)).get("Item")
            if not item:
                raise RoundNotFoundError(
                    f"round {self.round_name!r} is not in table {self.table}: no seed of it has finished "
                    "(bulkqa rounds list shows the rounds)"
                )
            self._meta = RoundMeta.from_item(item)
        return self._meta

    def info(self) -> RoundInfo:
        """What the round report needs of the metadata: page size, pages queued, the sample size."""
        meta = self.meta()
        sample = next((p.options.get("sample") for p in meta.parts if p.options.get("sample") is not None), None)
        batch_size = meta.batch_size if meta.batch_size >= 1 else 1
        return RoundInfo(
            name=self.round_name,
            batch_size=batch_size,
            tasks_queued=sum(part.batches for part in meta.parts) if meta.parts else None,
            sample=int(sample) if isinstance(sample, (int, float)) and not isinstance(sample, bool) else None,
        )

    # --- The pairs. ---

    def _votes(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """The pair items of ``pairs`` (only their counts), by (url, label); absent pairs are left out."""
        from handlers.dynamo_batches import get_chunk

        found: dict[tuple[str, str], dict[str, Any]] = {}
        names = {"#i": ATTR_IMAGE_URL, "#l": ATTR_LABEL, "#y": ATTR_CONFIRM_COUNT, "#n": ATTR_DISCONFIRM_COUNT}
        if self.details:  # the per-worker votes and a relabel correction, for exclusion and the confusion table
            names |= {"#v": ATTR_WORKER_VOTES, "#c": ATTR_CORRECTED_LABEL, "#j": ATTR_CORRECTED_BY_JOB}
        projection = {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}
        unique = list(dict.fromkeys(pairs))
        for start in range(0, len(unique), GET_CHUNK):
            keys = [{ATTR_IMAGE_URL: {"S": u}, ATTR_LABEL: {"S": lab}} for u, lab in unique[start : start + GET_CHUNK]]
            self._count("BatchGetItem")
            extra = {} if self.sleep is None else {"sleep": self.sleep}
            for item in get_chunk(self.ddb, self.table, keys, projection, **extra):
                found[(item[ATTR_IMAGE_URL]["S"], item[ATTR_LABEL]["S"])] = item
        return found

    def _read_partition(self, partition: str, emit: Callable[[Any], bool]) -> None:
        """Query one partition page by page; emit each page's round-pair items with their votes."""
        paginator = self.ddb.get_paginator("query")
        for page in paginator.paginate(
            TableName=self.table,
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": ATTR_IMAGE_URL},
            ExpressionAttributeValues={":pk": {"S": partition}},
            PaginationConfig={"PageSize": self.page_size} if self.page_size else {},
        ):
            self._count("Query")
            items = page.get("Items", [])
            parsed = [parse_round_pair(item) for item in items]
            wanted = [(p[0], p[1]) for p, _ in parsed if p is not None]
            votes = self._votes(wanted) if wanted else {}
            if not emit((items, parsed, votes)):
                return

    def pairs(self) -> Iterator[RoundPair]:
        """Every pair of the round (all states), this round's confidence, the shared votes."""
        return (pair for pair, _ in self.pairs_with_details())

    def pairs_with_details(self) -> Iterator[tuple[RoundPair, PairDetails]]:
        """``pairs()`` with each pair item's worker votes and relabel correction (``details=True``)."""
        self.meta()
        self._reset()
        partitions = round_pair_partitions(self.round_name)
        tasks = [lambda emit, p=partition: self._read_partition(p, emit) for partition in partitions]
        for items, parsed, votes in parallel_pages(tasks, threads=self.threads, name="round"):
            self.pages += 1
            self.items_seen += len(items)
            if self.progress is not None:
                self.progress(self.pages, self.items_seen)
            for item, (pair, reason) in zip(items, parsed, strict=True):
                self.rows_read += 1
                if pair is None:
                    self._skip(_round_pair_where(item), reason or "unreadable")
                    continue
                url, label, conf, state = pair
                pair_item = votes.get((url, label))
                counts = (0, 0) if pair_item is None else item_counts(pair_item)
                if isinstance(counts, str):
                    self._skip(item_where(pair_item or {}), counts)
                    continue
                yield RoundPair(url, label, conf, state, counts[0], counts[1]), PairDetails.of(pair_item)

    def __iter__(self) -> Iterator[Record]:
        """The reviewed states' pairs as records (what ``export`` and a plain report read)."""
        for pair in self.pairs():
            if pair.state in REVIEW_STATES:
                yield Record(pair.image, pair.label, pair.confidence, pair.confirm, pair.disconfirm)

    def accepted(self) -> Iterator[RoundPair]:
        """The pairs the round accepted by threshold (``export --only accepted``)."""
        return (pair for pair in self.pairs() if pair.state == STATE_ACCEPTED)
