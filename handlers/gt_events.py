"""Ground Truth's Lambda event shapes, validated into typed objects (pure).

Pre-annotation: ``{"version": "2018-10-16", "labelingJobArn": ..., "dataObject": {"source-ref":
"s3://..."} | {"source": <inline>}}``.
Annotation consolidation: ``{"version", "labelingJobArn", "labelCategories",
"labelAttributeName", "roleArn", "payload": {"s3Uri": ...}}``; the payload file is a list of
``{"datasetObjectId", "dataObject": {"s3Uri"|"content"}, "annotations": [{"workerId",
"annotationData": {"content": "<JSON string>"} | {"s3Uri": "s3://..."}}]}``. The developer guide
lists both forms of ``annotationData``: a worker's answer may be stored in S3 and named by
``s3Uri`` (the object holds the same JSON text ``content`` would); AWS's own sample reads it as
``s3uri``, so both spellings are accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from handlers import safe_json

# Where ``annotationData`` may name an answer stored in S3 (the guide's spelling first).
ANSWER_URI_KEYS = ("s3Uri", "s3uri")


class EventError(ValueError):
    """The event does not have Ground Truth's shape."""


@dataclass(frozen=True)
class DataObjectRef:
    """Where a batch lives: an S3 URI, or the batch inline."""

    s3_uri: str | None
    inline: Any | None

    @property
    def name(self) -> str:
        return self.s3_uri or "<inline data object>"


@dataclass(frozen=True)
class PreAnnotationEvent:
    labeling_job_arn: str
    data_object: DataObjectRef


@dataclass(frozen=True)
class ConsolidationEvent:
    labeling_job_arn: str
    label_attribute_name: str
    payload_s3_uri: str


@dataclass(frozen=True)
class Annotation:
    """One worker's answer: inline ``content``, or ``s3_uri`` naming the object that holds it."""

    worker_id: Any
    content: Any
    s3_uri: str | None = None


@dataclass(frozen=True)
class DatasetObject:
    dataset_object_id: str
    data_object: DataObjectRef
    annotations: tuple[Annotation, ...]
    position: int = -1  # where it was in the payload list, for logs


def _require_mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise EventError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def _inline_value(value: Any) -> Any:
    """Inline sources may carry the batch as a JSON string or as the decoded value."""
    if isinstance(value, str):
        try:
            return safe_json.loads(value)
        except ValueError as err:  # not JSON, or nested too deep to be a data object
            raise EventError(f"inline data object is not valid JSON: {err}") from err
    return value


def parse_pre_annotation_event(event: Any) -> PreAnnotationEvent:
    event = _require_mapping(event, "pre-annotation event")
    data_object = _require_mapping(event.get("dataObject"), "pre-annotation event's dataObject")
    if isinstance(data_object.get("source-ref"), str):
        ref = DataObjectRef(data_object["source-ref"], None)
    elif "source" in data_object:
        ref = DataObjectRef(None, _inline_value(data_object["source"]))
    else:
        raise EventError("pre-annotation event's dataObject has neither 'source-ref' nor 'source'")
    return PreAnnotationEvent(str(event.get("labelingJobArn", "")), ref)


def parse_consolidation_event(event: Any) -> ConsolidationEvent:
    event = _require_mapping(event, "consolidation event")
    payload = _require_mapping(event.get("payload"), "consolidation event's payload")
    s3_uri = payload.get("s3Uri")
    if not isinstance(s3_uri, str) or not s3_uri:
        raise EventError("consolidation event's payload has no s3Uri")
    attribute = event.get("labelAttributeName")
    if not isinstance(attribute, str) or not attribute:
        raise EventError("consolidation event has no labelAttributeName")
    return ConsolidationEvent(str(event.get("labelingJobArn", "")), attribute, s3_uri)


def parse_dataset_object(entry: Any, position: int) -> DatasetObject:
    """Validate one payload entry; raise ``EventError`` naming its position or id."""
    entry = _require_mapping(entry, f"payload entry {position}")
    object_id = entry.get("datasetObjectId")
    if not isinstance(object_id, (str, int)) or isinstance(object_id, bool) or str(object_id) == "":
        raise EventError(f"payload entry {position} has no datasetObjectId")
    where = f"dataset object {object_id}"
    data_object = _require_mapping(entry.get("dataObject"), f"{where}'s dataObject")
    if isinstance(data_object.get("s3Uri"), str) and data_object["s3Uri"]:
        ref = DataObjectRef(data_object["s3Uri"], None)
    elif "content" in data_object:
        ref = DataObjectRef(None, _inline_value(data_object["content"]))
    else:
        raise EventError(f"{where}'s dataObject has neither 's3Uri' nor 'content'")
    raw_annotations = entry.get("annotations")
    if not isinstance(raw_annotations, list):
        raise EventError(f"{where} has no annotations list")
    annotations = []
    for raw in raw_annotations:
        raw = raw if isinstance(raw, dict) else {}
        data = raw.get("annotationData")
        data = data if isinstance(data, dict) else {}
        content = data.get("content")
        uri = next((data[k] for k in ANSWER_URI_KEYS if isinstance(data.get(k), str) and data[k]), None)
        annotations.append(Annotation(raw.get("workerId"), content, uri if content is None else None))
    return DatasetObject(str(object_id), ref, tuple(annotations), position)
