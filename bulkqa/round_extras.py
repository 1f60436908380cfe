"""The sections a round's report adds beyond accuracy: workers left out, worker quality, relabels.

Why here and not in the source or the renderers: each section needs a little of both -- the pair
items' per-worker votes and corrections (read by ``RoundResults`` with ``details=True``), the
round's worker-page records (one Query) -- and produces plain ``ExtraSection`` data that every
format draws the same way.

- ``--exclude-workers`` / ``--min-worker-quality``: the report is rebuilt from the remaining
  workers' votes (``analysis.workers``); the section says how many votes were left out and which
  classes lost all their reviewed images.
- Worker quality (when the round has worker-page records, i.e. was answered): one row per worker.
- Relabelled images (after ``bulkqa relabel import``): per rejected label, what its images really
  were, "None of these", and how many are not relabelled yet.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from typing import Any

from bulkqa.analysis.records import Outcome, Policy, outcome
from bulkqa.analysis.rounds import ExtraSection, RoundReport, build_round_report
from bulkqa.analysis.worker_quality import WorkerQuality, worker_quality, workers_below
from bulkqa.analysis.workers import Exclusion, exclude_workers_from_round
from bulkqa.relabel.analysis import NOT_RELABELLED, Confusion


def parse_worker_list(text: str | None) -> set[str]:
    """``a,b, c`` -> {"a", "b", "c"}; worker ids are case-sensitive and kept as given."""
    return {part.strip() for part in (text or "").split(",") if part.strip()}


def exclusion_section(exclusion: Exclusion, by_quality: Iterable[str], minimum: float | None) -> ExtraSection:
    lines = exclusion.summary_lines()
    if minimum is not None:
        below = sorted(by_quality)
        lines.insert(
            0,
            f"Excluded by quality (catch-rate lower bound below {minimum:g}): "
            + (", ".join(below) if below else "nobody")
            + ".",
        )
    data = exclusion.to_json() | {"min_worker_quality": minimum, "excluded_by_quality": sorted(by_quality)}
    return ExtraSection("worker_exclusion", "Workers left out", tuple(lines), data=data)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def workers_section(qualities: list[WorkerQuality], excluded: set[str]) -> ExtraSection:
    rows = []
    for q in qualities:
        interval = q.catch_interval
        catch = (
            "-" if interval is None else f"{_percent(q.catch_rate)} ({100 * interval[0]:.0f}-{100 * interval[1]:.0f}%)"
        )
        flags = [
            flag for flag, on in (("rubber stamp?", q.rubber_stamp_flag), ("excluded", q.worker in excluded)) if on
        ]
        rows.append(
            (
                q.worker,
                str(q.pages),
                f"{q.wrong_gold_caught}/{q.wrong_gold_seen}",
                catch,
                f"{q.right_gold_kept}/{q.right_gold_seen}",
                _percent(q.agreement),
                ", ".join(flags),
            )
        )
    return ExtraSection(
        "workers",
        "Workers: gold items and agreement",
        ("Catch: wrong gold items unticked / seen, with the Wilson 95% interval. See docs/report.md.",),
        ("Worker", "Pages", "Wrong gold caught", "Catch (95% CI)", "Right kept", "Agree", "Flag"),
        tuple(rows),
        data=[q.to_json() | {"excluded": q.worker in excluded} for q in qualities],
    )


def confusion_section(confusion: Confusion) -> ExtraSection:
    classes = confusion.classes()
    rows = tuple(
        (label, *(str(row.get(name, 0)) for name in classes), str(sum(row.values())))
        for label, row in sorted(confusion.counts.items())
    )
    return ExtraSection(
        "relabel_confusion",
        "Rejected images, relabelled: what they really were",
        (
            "Rows: the label the workers rejected. Columns: the class the relabel job gave the image; "
            f"{NOT_RELABELLED!r} counts rejected images no relabel job has answered yet.",
        ),
        ("Rejected label", *classes, "Total"),
        rows,
        data=confusion.to_json(),
    )


def _tally_corrections(
    items: Iterable[tuple[Any, Any]], confusion: Confusion, policy: Policy | str
) -> Iterator[tuple[Any, Any]]:
    rejected_without: list[str] = []
    any_correction = False
    for pair, details in items:
        if details.corrected_label is not None:
            any_correction = True
            confusion.add(pair.label, details.corrected_label)
        elif outcome(pair.confirm, pair.disconfirm, policy) is Outcome.DISCONFIRMED:
            rejected_without.append(pair.label)
        yield pair, details
    if any_correction:
        for label in rejected_without:
            confusion.add(label, NOT_RELABELLED)


def round_report_with_extras(
    source: Any,
    options: dict[str, Any],
    *,
    exclude: set[str],
    min_worker_quality: float | None,
) -> RoundReport:
    """The round's report with its extra sections; see the module docstring."""
    from bulkqa.workers_command import read_worker_pages

    source.details = True
    pages, _problems = read_worker_pages(source.ddb, source.table, source.round_name)
    qualities = worker_quality(pages)
    by_quality = set(workers_below(qualities, min_worker_quality)) if min_worker_quality is not None else set()
    excluded = exclude | by_quality
    policy = options.get("policy", Policy.UNANIMOUS)
    confusion = Confusion()
    extras: list[ExtraSection] = []
    tallied = _tally_corrections(source.pairs_with_details(), confusion, policy)
    if excluded or min_worker_quality is not None:
        exclusion = exclude_workers_from_round(
            (
                (p.image, p.label, p.confidence, p.state, p.confirm, p.disconfirm, details.votes)
                for p, details in tallied
            ),
            excluded,
        )
        report = build_round_report(exclusion.records, source.info(), **options)
        extras.append(exclusion_section(exclusion, by_quality, min_worker_quality))
    else:
        report = build_round_report((pair for pair, _ in tallied), source.info(), **options)
    if qualities:
        extras.append(workers_section(qualities, excluded))
    if confusion.counts:
        extras.append(confusion_section(confusion))
    return dataclasses.replace(report, extras=tuple(extras))
