"""A round's input manifest as Ground Truth reads it: where its parts are, and the tasks in them.

``bulkqa job create --round``, ``bulkqa doctor`` and ``bulkqa preview --round`` all start from
the same question -- which manifest part(s) of round R, and what pages they hold -- so it is
answered once, here. Lines are parsed with ``handlers.task_pages.parse_page``, the reader the
Lambda functions use, so a page is the page a worker is shown.

Parsing is pure; the two functions taking an ``s3`` client do the listing and reading.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from handlers.rounds import manifest_key, round_prefix, validate_round_name
from handlers.task_pages import Page, parse_page

_PART_KEY = re.compile(r"manifest-(\d{4,})\.jsonl$")


class ManifestError(ValueError):
    """A manifest, or a round's parts, cannot be used; the message names the round, part or line."""


@dataclass(frozen=True)
class ManifestTask:
    """One manifest line: its page inline (``page``), or the batch file it names (``source_ref``)."""

    manifest_uri: str
    line: int  # 1-based
    page: Page | None
    source_ref: str | None

    @property
    def where(self) -> str:
        return f"{self.manifest_uri} line {self.line}"


def part_numbers(keys: Iterable[str], round_name: str) -> list[int]:
    """The manifest part numbers among object keys listed under the round's prefix, ascending."""
    prefix = round_prefix(round_name)
    parts = set()
    for key in keys:
        match = _PART_KEY.search(key)
        if key.startswith(prefix) and match and key == manifest_key(round_name, int(match.group(1))):
            parts.add(int(match.group(1)))
    return sorted(parts)


def choose_parts(available: list[int], round_name: str, part: int | None, *, every: bool = False) -> list[int]:
    """The part(s) to use: ``part`` if given (it must exist), all with ``every``, else the latest.

    The latest by default: each ``--extend`` adds a part holding only the new rows, so the newest
    part is the one that has not been given to a job yet.
    """
    if not available:
        raise ManifestError(f"round {round_name!r} has no manifest part: was it seeded (bulkqa seed --round)?")
    if part is not None:
        if part not in available:
            listed = ", ".join(str(p) for p in available)
            raise ManifestError(f"round {round_name!r} has no manifest part {part} (parts: {listed})")
        return [part]
    return list(available) if every else [available[-1]]


def manifest_uri(bucket: str, round_name: str, part: int) -> str:
    return f"s3://{bucket}/{manifest_key(validate_round_name(round_name), part)}"


def parse_manifest(text: str | bytes, *, uri: str) -> list[ManifestTask]:
    """Every line of an input manifest; ``ManifestError`` names the first line that is not usable."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ManifestError(f"{uri} is not UTF-8 text: {err}") from err
    tasks = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{uri} line {number}"
        try:
            entry = json.loads(raw)
        except json.JSONDecodeError as err:
            raise ManifestError(f"{where} is not JSON: {err}") from err
        if not isinstance(entry, dict):
            raise ManifestError(f"{where} is not a JSON object")
        if isinstance(entry.get("source"), str):
            try:
                page = parse_page(entry["source"], source=where)
            except ValueError as err:
                raise ManifestError(str(err)) from err
            tasks.append(ManifestTask(uri, number, page, None))
        elif isinstance(entry.get("source-ref"), str):
            tasks.append(ManifestTask(uri, number, None, entry["source-ref"]))
        else:
            raise ManifestError(f'{where} has neither "source" nor "source-ref"')
    if not tasks:
        raise ManifestError(f"{uri} holds no task")
    return tasks


def list_round_parts(s3: Any, bucket: str, round_name: str) -> list[int]:
    """The round's manifest parts in the bucket (one paginated ListObjectsV2 of the round's prefix)."""
    prefix = f"{round_prefix(round_name)}manifest-"
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for item in page.get("Contents", [])
    ]
    return part_numbers(keys, round_name)


def read_tasks(s3: Any, uri: str) -> list[ManifestTask]:
    """Read and parse one manifest; batch files named by ``source-ref`` are read too (release 0.1)."""
    from handlers.batch_store import ObjectUnreadableError, read_many, read_s3_text

    try:
        tasks = parse_manifest(read_s3_text(s3, uri), uri=uri)
    except ObjectUnreadableError as err:
        raise ManifestError(str(err)) from err
    refs = read_many(s3, [t.source_ref for t in tasks if t.source_ref])
    resolved = []
    for task in tasks:
        if task.source_ref is None:
            resolved.append(task)
            continue
        body = refs[task.source_ref]
        if isinstance(body, Exception):
            raise ManifestError(f"{task.where}: {body}")
        try:
            page = parse_page(body, source=task.source_ref)
        except ValueError as err:
            raise ManifestError(f"{task.where}: {err}") from err
        resolved.append(ManifestTask(task.manifest_uri, task.line, page, task.source_ref))
    return resolved
