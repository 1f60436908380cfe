"""Verified labels for retraining: one row per reviewed image with its outcome. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from bulkqa.analysis.records import Outcome, Policy, outcome


class ExportRow(NamedTuple):
    image: str
    label: str
    confidence: float
    outcome: Outcome
    confirm: int
    disconfirm: int


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
