"""The report without some workers' votes (issue 16): recompute the counts from the per-worker map.

Pure: no AWS, no files. Every pair item stores ``WorkerVotes`` (worker id -> ``"confirm"`` or
``"disconfirm"``) next to the totals ``WorkerConfirmCount`` / ``WorkerDisconfirmCount``, so a
careless worker's votes can be taken out afterwards without touching the table.

Interface for the CLI (``bulkqa report --exclude-workers`` / ``--min-worker-quality``, H8)::

    from bulkqa.analysis.workers import exclude_workers, exclude_workers_from_round

    result = exclude_workers(records, {"w-7", "w-9"})   # records: (image, label, confidence, c, d, votes)
    report = build_report(result.records, ...)          # the report of the remaining votes
    result.votes_left_out, result.classes_emptied, result.summary_lines()

    result = exclude_workers_from_round(pairs, {"w-7"})  # pairs: (image, label, conf, state, c, d, votes)
    round_report = build_round_report(result.records, info, ...)

Rules:
- a vote is left out when its worker is excluded; the counts are rebuilt from the map;
- votes in the totals that the map does not account for (items written before release 0.2 kept
  no map, or a map lost an entry) are *unattributed*: kept, since no worker can be named, and
  counted in ``unattributed_votes`` so the report can say so;
- ``classes_emptied``: classes that had at least one reviewed image before and none after (for a
  round, among its queued and reused pairs: the ones its report is built from);
  ``images_emptied``: images that had votes and now have none (they become unreviewed);
- ``excluded_without_votes``: excluded ids that cast no vote at all here -- usually a typo.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bulkqa.analysis.records import Record
from bulkqa.analysis.rounds import REVIEW_STATES, RoundPair

VOTE_CONFIRM = "confirm"
VOTE_DISCONFIRM = "disconfirm"


class WorkerVotesError(ValueError):
    """A WorkerVotes map that cannot be read; the message names the image, label and worker."""


@dataclass(frozen=True)
class Recount:
    """One item's counts after the exclusion."""

    confirm: int
    disconfirm: int
    left_out_confirm: int
    left_out_disconfirm: int
    unattributed: int
    excluded_seen: frozenset[str]


def recount(
    confirm: int,
    disconfirm: int,
    votes: Mapping[str, Any] | None,
    excluded: frozenset[str],
    *,
    where: str = "item",
) -> Recount:
    """The counts of one item without the ``excluded`` workers' votes (see the module docstring)."""
    map_confirm = map_disconfirm = 0
    out_confirm = out_disconfirm = 0
    seen: set[str] = set()
    for worker, verdict in (votes or {}).items():
        value = verdict.get("S") if isinstance(verdict, Mapping) else verdict  # raw DynamoDB JSON too
        if value == VOTE_CONFIRM:
            map_confirm += 1
            if worker in excluded:
                out_confirm += 1
                seen.add(worker)
        elif value == VOTE_DISCONFIRM:
            map_disconfirm += 1
            if worker in excluded:
                out_disconfirm += 1
                seen.add(worker)
        else:
            raise WorkerVotesError(
                f"{where}: worker {worker!r} has vote {value!r}; expected {VOTE_CONFIRM!r} or {VOTE_DISCONFIRM!r}"
            )
    extra_confirm = max(0, int(confirm) - map_confirm)
    extra_disconfirm = max(0, int(disconfirm) - map_disconfirm)
    return Recount(
        map_confirm - out_confirm + extra_confirm,
        map_disconfirm - out_disconfirm + extra_disconfirm,
        out_confirm,
        out_disconfirm,
        extra_confirm + extra_disconfirm,
        frozenset(seen),
    )


@dataclass(frozen=True)
class Exclusion:
    """The records with the remaining votes, and what the exclusion took away."""

    records: tuple[Any, ...]  # Record (exclude_workers) or RoundPair (exclude_workers_from_round)
    excluded: frozenset[str]
    confirm_left_out: int
    disconfirm_left_out: int
    unattributed_votes: int
    images_emptied: int
    classes_emptied: tuple[str, ...]
    excluded_without_votes: tuple[str, ...]

    @property
    def votes_left_out(self) -> int:
        return self.confirm_left_out + self.disconfirm_left_out

    def to_json(self) -> dict[str, Any]:
        return {
            "excluded_workers": sorted(self.excluded),
            "votes_left_out": self.votes_left_out,
            "confirm_left_out": self.confirm_left_out,
            "disconfirm_left_out": self.disconfirm_left_out,
            "unattributed_votes_kept": self.unattributed_votes,
            "images_left_without_votes": self.images_emptied,
            "classes_without_reviewed_images": list(self.classes_emptied),
            "excluded_without_votes": list(self.excluded_without_votes),
        }

    def summary_lines(self) -> list[str]:
        """Sentences for any format (labels and worker ids are user text: escape them where rendered)."""
        lines = [
            f"Votes of {len(self.excluded)} excluded worker(s) left out: {self.votes_left_out} "
            f"({self.confirm_left_out} confirm, {self.disconfirm_left_out} disconfirm); "
            f"{self.images_emptied} image(s) left without any vote."
        ]
        if self.classes_emptied:
            lines.append("Classes that lost all their reviewed images: " + ", ".join(self.classes_emptied) + ".")
        if self.unattributed_votes:
            lines.append(
                f"{self.unattributed_votes} vote(s) have no worker recorded (items from before per-worker "
                "votes): kept, as they cannot be attributed."
            )
        if self.excluded_without_votes:
            lines.append("Excluded but without any vote here: " + ", ".join(self.excluded_without_votes) + ".")
        return lines


def _exclude(
    items: Iterable[Sequence[Any]],
    excluded: Iterable[str],
    split: Any,
) -> Exclusion:
    excluded_set = frozenset(excluded)
    out: list[Any] = []
    left_c = left_d = unattributed = emptied = 0
    seen: set[str] = set()
    before: set[str] = set()
    after: set[str] = set()
    for position, item in enumerate(items):
        label, c, d, votes, rebuild, image, in_report = split(item)
        where = f"record {position + 1} ({image}, {label!r})"
        counts = recount(c, d, votes, excluded_set, where=where)
        left_c += counts.left_out_confirm
        left_d += counts.left_out_disconfirm
        unattributed += counts.unattributed
        seen |= counts.excluded_seen
        had = int(c) + int(d) > 0
        has = counts.confirm + counts.disconfirm > 0
        if had and in_report:
            before.add(label)
        if has and in_report:
            after.add(label)
        if had and not has:
            emptied += 1
        out.append(rebuild(counts.confirm, counts.disconfirm))
    return Exclusion(
        tuple(out),
        excluded_set,
        left_c,
        left_d,
        unattributed,
        emptied,
        tuple(sorted(before - after)),
        tuple(sorted(excluded_set - seen)),
    )


def exclude_workers(records: Iterable[Sequence[Any]], excluded: Iterable[str]) -> Exclusion:
    """``records``: ``(image, label, confidence, c, d, votes)``; ``.records`` are ``Record``s."""

    def split(item: Sequence[Any]) -> tuple[Any, ...]:
        image, label, confidence, c, d, votes = item
        return label, c, d, votes, lambda c2, d2: Record(image, label, confidence, c2, d2), image, True

    return _exclude(records, excluded, split)


def exclude_workers_from_round(pairs: Iterable[Sequence[Any]], excluded: Iterable[str]) -> Exclusion:
    """``pairs``: ``(image, label, confidence, state, c, d, votes)``; ``.records`` are ``RoundPair``s."""

    def split(item: Sequence[Any]) -> tuple[Any, ...]:
        image, label, confidence, state, c, d, votes = item
        rebuild = lambda c2, d2: RoundPair(image, label, confidence, state, c2, d2)  # noqa: E731
        return label, c, d, votes, rebuild, image, state in REVIEW_STATES

    return _exclude(pairs, excluded, split)
