"""Which images to relabel, and the files the built-in job reads (pure).

- ``select_rejected``: the round's disconfirmed images (with ``include_split``, the split/tied ones
  too) under the report's vote policy.
- ``manifest_text``: one ``{"source-ref": image}`` line per image -- an image rejected under two
  labels is asked about once -- with the rejected label(s) and the round kept as metadata fields
  (Ground Truth copies input fields to the output manifest, which is how ``import`` gets them back).
- ``categories_document``: Ground Truth's label category file; the classes plus an explicit
  "None of these", within the limits of the built-in task (at least 2 unique categories; the
  ``crowd-image-classifier`` element shows at most 10).
- ``render_template``: the worker template, naming the rejected label(s) in the instructions.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bulkqa.analysis.records import Outcome, Policy, outcome

NONE_OF_THESE = "None of these"
MIN_CATEGORIES = 2  # CreateLabelingJob reference: image classification needs at least two
MAX_CATEGORIES = 10  # crowd-image-classifier reference: "You can specify up to 10 categories"
MAX_CATEGORY_LENGTH = 256
CATEGORY_DOCUMENT_VERSION = "2018-11-28"
META_REJECTED_LABELS = "bulkqa-rejected-labels"
META_ROUND = "bulkqa-round"


class RelabelPlanError(ValueError):
    """The relabel job cannot be planned as asked (nothing rejected, too many classes, ...)."""


@dataclass(frozen=True)
class ReviewedPair:
    """A pair of the round with its shared vote totals."""

    image: str
    label: str
    confirm: int
    disconfirm: int


@dataclass(frozen=True)
class RejectedImage:
    image: str
    rejected_labels: tuple[str, ...]


def select_rejected(
    pairs: Iterable[ReviewedPair], policy: Policy | str = Policy.UNANIMOUS, *, include_split: bool = False
) -> list[RejectedImage]:
    """Images whose label the workers rejected, one entry per image, sorted by image then label."""
    wanted = {Outcome.DISCONFIRMED}
    if include_split:
        wanted |= {Outcome.SPLIT, Outcome.TIE}
    by_image: dict[str, set[str]] = {}
    for pair in pairs:
        if outcome(pair.confirm, pair.disconfirm, policy) in wanted:
            by_image.setdefault(pair.image, set()).add(pair.label)
    return [RejectedImage(image, tuple(sorted(labels))) for image, labels in sorted(by_image.items())]


def manifest_text(rejected: Sequence[RejectedImage], round_name: str) -> str:
    """The input manifest of the relabel job (deterministic: same selection, same bytes)."""
    if not rejected:
        raise RelabelPlanError(f"round {round_name!r} has no rejected image to relabel")
    lines = []
    for entry in rejected:
        line = {"source-ref": entry.image, META_REJECTED_LABELS: list(entry.rejected_labels), META_ROUND: round_name}
        lines.append(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
    return "".join(lines)


def read_categories_file(text: str, *, source: str) -> list[str]:
    """One category per line; blank lines and ``#`` comments skipped; duplicates refused."""
    categories: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        name = raw.strip()
        if not name or name.startswith("#"):
            continue
        if name in categories:
            raise RelabelPlanError(f"{source}, line {number}: category {name!r} is listed twice")
        categories.append(name)
    if not categories:
        raise RelabelPlanError(f"{source} lists no category")
    return categories


def categories(classes: Iterable[str]) -> list[str]:
    """The job's categories: the classes (sorted, unique) and "None of these" last; within limits."""
    unique = sorted(set(classes))
    if NONE_OF_THESE in unique:
        raise RelabelPlanError(f"a class is named {NONE_OF_THESE!r}, which the relabel job reserves")
    for name in unique:
        if not name.strip():
            raise RelabelPlanError("a category is empty")
        if len(name) > MAX_CATEGORY_LENGTH:
            raise RelabelPlanError(f"category {name[:40]!r}... is longer than {MAX_CATEGORY_LENGTH} characters")
    result = [*unique, NONE_OF_THESE]
    if len(result) < MIN_CATEGORIES:
        raise RelabelPlanError("the relabel job needs at least one class besides 'None of these'")
    if len(result) > MAX_CATEGORIES:
        raise RelabelPlanError(
            f"{len(unique)} classes plus {NONE_OF_THESE!r} make {len(result)} categories; the image "
            f"classification task shows at most {MAX_CATEGORIES}. Pass --categories FILE with at most "
            f"{MAX_CATEGORIES - 1} classes"
        )
    return result


def categories_document(category_names: Sequence[str]) -> str:
    """The label category configuration file (``LabelCategoryConfigS3Uri``)."""
    document = {"document-version": CATEGORY_DOCUMENT_VERSION, "labels": [{"label": n} for n in category_names]}
    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"


def liquid_safe_text(text: str) -> str:
    """HTML-escape ``text`` and encode ``{``, ``}`` and ``%`` so Liquid can never read it as code.

    The rejected labels are written into the template before Ground Truth renders it with Liquid;
    a label such as ``{{ task.input }}`` must stay text.
    """
    escaped = html.escape(text, quote=True)
    return escaped.replace("{", "&#123;").replace("}", "&#125;").replace("%", "&#37;")


def instructions(rejected_labels: Sequence[str]) -> str:
    """The sentence naming what reviewers rejected (HTML, Liquid-safe)."""
    names = sorted(set(rejected_labels))
    if not names:
        raise RelabelPlanError("no rejected label to name in the instructions")
    quoted = [f"<b>{liquid_safe_text(name)}</b>" for name in names]
    which = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return (
        f"A model labelled this image {which}, and reviewers said that label is wrong. "
        f"Choose what the image really shows, or <b>{liquid_safe_text(NONE_OF_THESE)}</b> if no category fits."
    )


def render_template(template_text: str, rejected_labels: Sequence[str]) -> str:
    """Fill the instructions placeholder of ``worker_template/relabel.liquid.html``."""
    placeholder = "<!-- BULKQA_RELABEL_INSTRUCTIONS -->"
    if template_text.count(placeholder) != 1:
        raise RelabelPlanError("the relabel template must contain the instructions placeholder exactly once")
    return template_text.replace(placeholder, instructions(rejected_labels))
