"""Verified labels for retraining: one row per reviewed image with its outcome. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from bulkqa.analysis.records import Outcome, Policy, outcome

ACCEPTED = "accepted"  # a round's pair accepted by threshold: not reviewed, exported with --only accepted


class ExportRow(NamedTuple):
    image: str
    label: str
    confidence: float
    outcome: Outcome | str  # an Outcome, or ACCEPTED
    confirm: int
    disconfirm: int


def export_order(rows: Iterable[ExportRow]) -> list[ExportRow]:
    """Rows in a deterministic order: by label, then image (then the rest, for repeated pairs).

    Why: the table is read by a parallel Scan whose pages arrive in any order; two exports of the
    same data must be the same file, so that a diff shows only what changed.
    """
    return sorted(rows, key=lambda r: (r.label, r.image, r.confidence, str(r.outcome), r.confirm, r.disconfirm))


def export_rows(
    records: Iterable[Sequence[Any]],
    policy: Policy | str = Policy.UNANIMOUS,
    only: Outcome | str | None = None,
) -> Iterator[ExportRow]:
    """Reviewed images with their outcome under ``policy``; ``only`` keeps one outcome."""
    policy = Policy(policy)
    keep = None if only is None else Outcome(only)
    for image, label, confidence, c, d in records:
        result = outcome(c, d, policy)
        if result is Outcome.UNREVIEWED or (keep is not None and result is not keep):
            continue
        yield ExportRow(image, label, confidence, result, c, d)
