"""Gold items: images whose truth is known, mixed into the pages to measure each worker (pure).

Why: every image on a page starts ticked "Correct", so the cheapest answer is to submit without
looking -- and such a worker looks exactly like a model that is always right. A few images per page
whose answer is known ("wrong": the shown label is not what the image is; "correct": it is) tell a
careful worker from a rubber stamp.

- ``read_gold_csv``: ``image_local_path,label,truth`` (truth ``wrong`` | ``correct``), every bad row
  named; the same image and label listed twice is refused.
- ``GoldPlan.place``: adds up to ``per_task`` gold items *of the page's class* at random positions,
  each with a confidence drawn from the range of the page's own confidences, so nothing on the page
  or in the task input sets them apart (pre-labeling drops the ``gold`` marker). Deterministic: the
  random generator is seeded from the plan's seed and the page's round/part/batch, so re-seeding
  writes the same bytes; positions and chosen items vary from page to page.
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

from handlers.image_paths import ImagePathError, normalise_image_path
from handlers.rounds import BatchDocument, BatchEntry
from handlers.text_checks import forbidden_character

TRUTH_WRONG = "wrong"
TRUTH_CORRECT = "correct"
GOLD_COLUMNS = ("image_local_path", "label", "truth")
DEFAULT_GOLD_PER_TASK = 2


class GoldCsvError(ValueError):
    """The gold CSV cannot be used; the message names every bad row."""


@dataclass(frozen=True)
class GoldRow:
    """A gold image as the CSV gives it: a path (local or relative to an s3:// prefix)."""

    path: str
    label: str
    truth: str


@dataclass(frozen=True)
class GoldItem:
    """A gold image ready for a page: its s3:// URL, the label it is shown with, the truth."""

    s3_image_url: str
    label: str
    truth: str


def read_gold_csv(text: str, *, source: str) -> list[GoldRow]:
    """Parse the gold CSV; raise ``GoldCsvError`` listing every problem (rows are never dropped silently)."""
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise GoldCsvError(f"{source} is empty")
    names = [name.strip().lower() for name in header]
    aliases = {"image": "image_local_path", "image_path": "image_local_path", "s3_image_url": "image_local_path"}
    names = [aliases.get(name, name) for name in names]
    missing = [column for column in GOLD_COLUMNS if column not in names]
    if missing:
        raise GoldCsvError(f"{source}: the header must name {', '.join(GOLD_COLUMNS)}; missing {', '.join(missing)}")
    where = {column: names.index(column) for column in GOLD_COLUMNS}
    rows: list[GoldRow] = []
    problems: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for fields in reader:
        line = reader.line_num
        if not any(field.strip() for field in fields):
            continue
        if len(fields) != len(names):
            problems.append(f"line {line}: {len(fields)} fields, the header has {len(names)}")
            continue
        raw_path, label, truth = (fields[where[c]].strip() for c in GOLD_COLUMNS)
        try:
            path = raw_path if raw_path.startswith("s3://") else normalise_image_path(raw_path)
        except ImagePathError as err:
            problems.append(f"line {line}: {err}")
            continue
        if not label:
            problems.append(f"line {line}: no label")
            continue
        reason = forbidden_character(label)
        if reason:
            problems.append(f"line {line}: the label contains {reason}")
            continue
        if truth.lower() not in (TRUTH_WRONG, TRUTH_CORRECT):
            problems.append(f"line {line}: truth {truth!r} must be 'wrong' or 'correct'")
            continue
        if (path, label) in seen:
            problems.append(f"line {line}: {path} with label {label!r} is listed already on line {seen[(path, label)]}")
            continue
        seen[(path, label)] = line
        rows.append(GoldRow(path, label, truth.lower()))
    if problems:
        raise GoldCsvError(f"{source}: {len(problems)} bad row(s): " + "; ".join(problems[:20]))
    if not rows:
        raise GoldCsvError(f"{source} lists no gold item")
    return rows


def _decimals(values: Sequence[float]) -> int:
    """How many decimals the page's confidences show (at most 2), so a gold value looks alike."""
    most = 0
    for value in values:
        text = repr(float(value))
        if "e" in text:
            return 2
        most = max(most, len(text.split(".")[1].rstrip("0")) if "." in text else 0)
    return min(most, 2)


class GoldPlan:
    """Places gold items on each page of their class; the seed calls ``place`` on every page."""

    def __init__(self, items: Sequence[GoldItem], per_task: int = DEFAULT_GOLD_PER_TASK, seed: str = "") -> None:
        if isinstance(per_task, bool) or not isinstance(per_task, int) or per_task < 1:
            raise ValueError(f"gold items per task must be a whole number of at least 1, got {per_task!r}")
        self.per_task = per_task
        self.seed = seed
        self.by_label: dict[str, list[GoldItem]] = {}
        for item in sorted(set(items), key=lambda g: (g.label, g.s3_image_url, g.truth)):
            self.by_label.setdefault(item.label, []).append(item)

    def labels(self) -> list[str]:
        return sorted(self.by_label)

    def fingerprint(self) -> str:
        """Identifies the gold set and how it is placed: part of the round's input hash."""
        digest = hashlib.sha256(f"{self.per_task}\x00{self.seed}".encode())
        for label in self.labels():
            for item in self.by_label[label]:
                digest.update(f"\x00{item.s3_image_url}\x00{item.label}\x00{item.truth}".encode())
        return digest.hexdigest()

    def place(self, document: BatchDocument) -> BatchDocument:
        """The page with up to ``per_task`` gold items of its class at random positions."""
        on_page = {(entry.s3_image_url, entry.label) for entry in document.items}
        pool = [g for g in self.by_label.get(document.label, []) if (g.s3_image_url, g.label) not in on_page]
        data = [entry for entry in document.items if entry.gold is None]
        if not pool or not data:
            return document
        rng = random.Random(f"{self.seed}\x00{document.round}\x00{document.part}\x00{document.batch}")
        chosen = rng.sample(pool, min(self.per_task, len(pool)))
        confidences = [entry.confidence for entry in data]
        low, high, decimals = min(confidences), max(confidences), _decimals(confidences)
        items = list(document.items)
        for gold in chosen:
            confidence = round(rng.uniform(low, high), decimals)
            items.insert(rng.randint(0, len(items)), BatchEntry(gold.s3_image_url, gold.label, confidence, gold.truth))
        return replace(document, items=tuple(items))
