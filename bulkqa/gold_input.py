"""Turn ``bulkqa seed --gold gold.csv`` into a gold plan: read the CSV, make the images reachable.

Gold images come from the same ``--images`` source as the round's own images and land at the same
kind of key (``images/<path>``), so the URL a worker's browser loads gives no hint that an image is
gold. A gold path that itself says "gold" would, so the seed warns about it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from handlers.gold import GoldCsvError, GoldItem, GoldPlan, read_gold_csv
from handlers.image_sources import ImageMissingError, ImageSource

Warn = Callable[[str], None]


def build_gold_plan(
    gold_csv: Path,
    source: ImageSource,
    *,
    bucket: str,
    per_task: int,
    seed: str,
    s3: Any | None,
    warn: Warn,
) -> GoldPlan:
    """The plan for the seed; uploads local gold images when ``s3`` is given (``None``: a dry run)."""
    try:
        text = gold_csv.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise GoldCsvError(f"cannot read the gold CSV {gold_csv}: {err}") from err
    rows = read_gold_csv(text, source=str(gold_csv))
    items: list[GoldItem] = []
    missing: list[str] = []
    for row in rows:
        if "gold" in row.path.lower():
            warn(f"gold image {row.path} has 'gold' in its path, which workers see in the image URL")
        if row.path.startswith("s3://"):
            items.append(GoldItem(row.path, row.label, row.truth))
            continue
        if s3 is not None and source.needs_transfer():
            try:
                source.transfer(s3, row.path, bucket)
            except ImageMissingError as err:
                missing.append(str(err))
                continue
        items.append(GoldItem(source.url(row.path, bucket), row.label, row.truth))
    if missing:
        raise GoldCsvError(f"{gold_csv}: {len(missing)} gold image(s) cannot be used: " + "; ".join(missing[:20]))
    return GoldPlan(items, per_task, seed=seed)
