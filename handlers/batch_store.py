"""Load a batch of queued items from S3 or from an inline data object."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from handlers.batching import QueueItem, parse_batch_document
from handlers.gt_events import DataObjectRef
from handlers.s3_uri import parse_s3_uri


class BatchNotFoundError(LookupError):
    """The batch file a data object points to does not exist."""


def read_s3_text(s3: Any, uri: str) -> bytes:
    """Get an object's bytes; a missing object raises ``BatchNotFoundError`` naming it."""
    location = parse_s3_uri(uri)
    try:
        return s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        if code in {"NoSuchKey", "404", "NotFound", "NoSuchBucket"}:
            raise BatchNotFoundError(f"object {uri} does not exist ({code})") from err
        raise


def load_batch(s3: Any, ref: DataObjectRef) -> list[QueueItem]:
    """The items of the batch ``ref`` names; errors name the object."""
    if ref.s3_uri is not None:
        return parse_batch_document(read_s3_text(s3, ref.s3_uri), source=ref.s3_uri)
    return parse_batch_document(json.dumps(ref.inline), source=ref.name)
