"""What one reviewed image is, how its votes become an outcome, and how confidences fall into bands.

Pure: no AWS, no files. A record is ``(image, label, confidence, c, d)`` with ``c`` the confirm
votes and ``d`` the disconfirm votes. An image with no vote at all is *unreviewed*: it is counted
apart and left out of every other figure.
"""

from __future__ import annotations

import bisect
import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple


class Record(NamedTuple):
    """One (image, label) item of the QA table: the model's label and confidence, and the votes."""

    image: str
    label: str
    confidence: float
    confirm: int  # c: WorkerConfirmCount
    disconfirm: int  # d: WorkerDisconfirmCount


class Policy(enum.StrEnum):
    """How the votes on one image decide whether the model's label was right."""

    UNANIMOUS = "unanimous"
    MAJORITY = "majority"


class Outcome(enum.StrEnum):
    CONFIRMED = "confirmed"
    DISCONFIRMED = "disconfirmed"
    SPLIT = "split"  # unanimous: both kinds of vote
    TIE = "tie"  # majority: c == d > 0, neither confirmed nor disconfirmed
    UNREVIEWED = "unreviewed"  # no vote at all


def outcome(confirm: int, disconfirm: int, policy: Policy | str = Policy.UNANIMOUS) -> Outcome:
    """The outcome of one image under ``policy``.

    unanimous: confirmed if d = 0, disconfirmed if c = 0, split otherwise.
    majority: confirmed if c > d, disconfirmed if d > c, a tie otherwise (neither).
    Either way an image with c = d = 0 is unreviewed.
    """
    if confirm < 0 or disconfirm < 0:
        raise ValueError(f"vote counts cannot be negative (c={confirm}, d={disconfirm})")
    if confirm == 0 and disconfirm == 0:
        return Outcome.UNREVIEWED
    if Policy(policy) is Policy.UNANIMOUS:
        if disconfirm == 0:
            return Outcome.CONFIRMED
        if confirm == 0:
            return Outcome.DISCONFIRMED
        return Outcome.SPLIT
    if confirm > disconfirm:
        return Outcome.CONFIRMED
    if disconfirm > confirm:
        return Outcome.DISCONFIRMED
    return Outcome.TIE


def is_split(confirm: int, disconfirm: int) -> bool:
    """Both kinds of vote: the split count, under either policy."""
    return confirm > 0 and disconfirm > 0


def number(value: float) -> float | int:
    """A bound as written: 80 rather than 80.0 when it is whole."""
    return int(value) if float(value).is_integer() else float(value)


@dataclass(frozen=True)
class Bands:
    """Confidence bands from ascending edges: ``[e0, e1), [e1, e2), ..., [e(n-1), en]`` (last closed)."""

    edges: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.edges) < 2:
            raise ValueError("bands need at least two edges, e.g. 80,100")
        if any(not math.isfinite(e) for e in self.edges):
            raise ValueError("band edges must be finite numbers")
        if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError(f"band edges must increase strictly: {list(map(number, self.edges))}")

    @property
    def intervals(self) -> list[tuple[float | int, float | int]]:
        return [(number(lo), number(hi)) for lo, hi in zip(self.edges, self.edges[1:], strict=False)]

    def __len__(self) -> int:
        return len(self.edges) - 1

    def index(self, confidence: float) -> int | None:
        """The band ``confidence`` falls in, or None if it is outside every band."""
        if confidence == self.edges[-1]:
            return len(self) - 1
        position = bisect.bisect_right(self.edges, confidence) - 1
        return position if 0 <= position < len(self) else None

    @staticmethod
    def label(lo: float, hi: float, last: bool) -> str:
        return f"[{number(lo)}, {number(hi)}{']' if last else ')'}"

    def labels(self) -> list[str]:
        n = len(self)
        return [self.label(lo, hi, i == n - 1) for i, (lo, hi) in enumerate(self.intervals)]


DEFAULT_BANDS = Bands((80.0, 85.0, 90.0, 95.0, 100.0))


def parse_bands(text: str | Sequence[float]) -> Bands:
    """``"80,85,90,95,100"`` (or a sequence of numbers) -> Bands."""
    if isinstance(text, str):
        parts = [p.strip() for p in text.split(",") if p.strip()]
        try:
            edges = tuple(float(p) for p in parts)
        except ValueError as err:
            raise ValueError(f"bands {text!r}: expected comma-separated numbers such as 80,85,90,95,100") from err
    else:
        edges = tuple(float(e) for e in text)
    return Bands(edges)
