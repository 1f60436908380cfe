"""Read the output manifest of a built-in image classification job (pure).

Each line is the input line plus ``<attr>`` (the chosen category's index) and ``<attr>-metadata``
with ``class-name``, ``confidence``, ``human-annotated``, ``job-name``, ``type``
(``groundtruth/image-classification``) and ``creation-date``; an object Ground Truth could not
label carries ``failure-reason`` in its metadata instead. The rejected labels come back in the
metadata fields ``plan.manifest_text`` wrote.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from bulkqa.relabel.plan import META_REJECTED_LABELS, META_ROUND


@dataclass(frozen=True)
class Correction:
    image: str
    rejected_labels: tuple[str, ...]
    corrected_label: str
    confidence: float
    job_name: str
    human_annotated: bool


@dataclass
class ParsedOutput:
    corrections: list[Correction] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "line N: why"
    other_rounds: int = 0  # lines from another round's relabel job


def _job_name(value: object) -> str:
    text = str(value or "")
    return text.split("/", 1)[1] if text.startswith("labeling-job/") else text


def parse_output_manifest(text: str, *, round_name: str, source: str) -> ParsedOutput:
    """Corrections from the output manifest; each line that cannot be read is named, never dropped silently."""
    result = ParsedOutput()
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{source}, line {number}"
        try:
            line = json.loads(raw)
        except json.JSONDecodeError as err:
            result.problems.append(f"{where}: not JSON ({err.msg})")
            continue
        if not isinstance(line, dict):
            result.problems.append(f"{where}: not a JSON object")
            continue
        image = line.get("source-ref")
        rejected = line.get(META_REJECTED_LABELS)
        if not isinstance(image, str) or not image:
            result.problems.append(f"{where}: no source-ref")
            continue
        if line.get(META_ROUND) != round_name:
            result.other_rounds += 1
            result.problems.append(f"{where}: belongs to round {line.get(META_ROUND)!r}, not {round_name!r}")
            continue
        if not isinstance(rejected, list) or not rejected or not all(isinstance(x, str) and x for x in rejected):
            result.problems.append(f"{where}: no {META_REJECTED_LABELS} list")
            continue
        metadata = [(k, v) for k, v in line.items() if k.endswith("-metadata") and isinstance(v, dict)]
        if len(metadata) != 1:
            result.problems.append(f"{where}: expected one <attribute>-metadata object, found {len(metadata)}")
            continue
        key, meta = metadata[0]
        if "failure-reason" in meta:
            result.problems.append(f"{where}: Ground Truth could not label {image}: {meta['failure-reason']}")
            continue
        class_name, confidence = meta.get("class-name"), meta.get("confidence", 0.0)
        if not isinstance(class_name, str) or not class_name:
            result.problems.append(f"{where}: {key} has no class-name")
            continue
        if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not math.isfinite(confidence):
            result.problems.append(f"{where}: {key} has no numeric confidence")
            continue
        result.corrections.append(
            Correction(
                image=image,
                rejected_labels=tuple(rejected),
                corrected_label=class_name,
                confidence=float(confidence),
                job_name=_job_name(meta.get("job-name")),
                human_annotated=meta.get("human-annotated") == "yes",
            )
        )
    return result
