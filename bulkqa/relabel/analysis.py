"""What the rejected images really were, and the corrected training set (pure).

``confusion`` is the table ``bulkqa report --round`` shows after ``relabel import``: per rejected
label, how many of its images were really each class (or "None of these"), and how many are not
relabelled yet. ``corrected_rows`` is ``bulkqa export --round R --corrected``: the confirmed
labels, plus the corrected label of each rejected image, without "None of these" -- each row says
where its label came from.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from bulkqa.analysis.records import Outcome, Policy, outcome
from bulkqa.relabel.plan import NONE_OF_THESE

NOT_RELABELLED = "(not relabelled yet)"
SOURCE_CONFIRMED = "confirmed"
SOURCE_RELABEL = "relabel"


class PairWithCorrection(Protocol):
    image: str
    label: str
    confirm: int
    disconfirm: int
    corrected_label: str | None
    corrected_by_job: str | None


@dataclass
class Confusion:
    """rejected label -> corrected class -> images."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, rejected: str, corrected: str) -> None:
        row = self.counts.setdefault(rejected, {})
        row[corrected] = row.get(corrected, 0) + 1

    def classes(self) -> list[str]:
        """Corrected classes in a stable order: real classes sorted, then the two special columns."""
        seen = {name for row in self.counts.values() for name in row}
        special = [name for name in (NONE_OF_THESE, NOT_RELABELLED) if name in seen]
        return sorted(seen - set(special)) + special

    def to_json(self) -> dict[str, dict[str, int]]:
        return {label: dict(sorted(row.items())) for label, row in sorted(self.counts.items())}


def _rejected(pair: PairWithCorrection, policy: Policy | str, include_split: bool) -> bool:
    result = outcome(pair.confirm, pair.disconfirm, policy)
    return result is Outcome.DISCONFIRMED or (include_split and result in (Outcome.SPLIT, Outcome.TIE))


def confusion(
    pairs: Iterable[PairWithCorrection], policy: Policy | str = Policy.UNANIMOUS, *, include_split: bool = False
) -> Confusion:
    """Per rejected label, what its images were corrected to; any corrected pair counts even if votes moved."""
    table = Confusion()
    for pair in pairs:
        if pair.corrected_label is not None:
            table.add(pair.label, pair.corrected_label)
        elif _rejected(pair, policy, include_split):
            table.add(pair.label, NOT_RELABELLED)
    return table


@dataclass(frozen=True)
class TrainingRow:
    image: str
    label: str
    source: str  # "confirmed" or "relabel:<job>"
    original_label: str


def corrected_rows(pairs: Iterable[PairWithCorrection], policy: Policy | str = Policy.UNANIMOUS) -> list[TrainingRow]:
    """Confirmed pairs as they are, rejected pairs under their corrected class; sorted by label, image.

    One row per (image, label): an image confirmed as Cat and also corrected from Dog to Cat is
    one Cat row (source "confirmed"). "None of these" and rejected images not relabelled yet are
    left out.
    """
    materialised = list(pairs)
    rows: dict[tuple[str, str], TrainingRow] = {}
    for pair in materialised:
        if pair.corrected_label is None and outcome(pair.confirm, pair.disconfirm, policy) is Outcome.CONFIRMED:
            rows[(pair.image, pair.label)] = TrainingRow(pair.image, pair.label, SOURCE_CONFIRMED, pair.label)
    for pair in materialised:
        corrected = pair.corrected_label
        if corrected is None or corrected == NONE_OF_THESE or (pair.image, corrected) in rows:
            continue
        source = f"{SOURCE_RELABEL}:{pair.corrected_by_job or '?'}"
        rows[(pair.image, corrected)] = TrainingRow(pair.image, corrected, source, pair.label)
    return sorted(rows.values(), key=lambda row: (row.label, row.image))
