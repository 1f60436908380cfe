"""Read the objects a Ground Truth event names: batch files, answers, payloads (S3 I/O).

Why two error classes: with ``s3:ListBucket`` (the post-labeling role has it) S3 says
``NoSuchKey`` for a missing object; without it, or when a bucket policy or KMS key refuses us,
S3 says ``AccessDenied``. Either way that one object cannot be read. The caller decides what that
costs: a batch or an answer is skipped (one dataset object, one worker), the payload fails the
whole invocation so Ground Truth retries it.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from handlers.gt_events import DataObjectRef
from handlers.rounds import BatchEntry
from handlers.s3_uri import parse_s3_uri
from handlers.task_pages import INLINE_NAME, Page, parse_page

MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound", "NoSuchBucket"})
# Refusals: IAM, a bucket policy, a KMS key policy, or an object in the Glacier storage class.
REFUSED_CODES = frozenset({"AccessDenied", "403", "Forbidden", "AllAccessDisabled", "InvalidObjectState"})
READERS = 16  # concurrent GetObject calls for a request's distinct batch files and answers


class ObjectUnreadableError(LookupError):
    """An object an event names cannot be read (refused, or gone); the message names it."""


class BatchNotFoundError(ObjectUnreadableError):
    """The object does not exist."""


def read_s3_text(s3: Any, uri: str) -> bytes:
    """Get an object's bytes; a missing or refused object raises an ``ObjectUnreadableError`` naming it."""
    location = parse_s3_uri(uri)
    try:
        return s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
    except ClientError as err:
        code = str(err.response.get("Error", {}).get("Code", ""))
        if code in MISSING_CODES:
            raise BatchNotFoundError(f"object {uri} does not exist ({code})") from err
        if code in REFUSED_CODES:
            raise ObjectUnreadableError(f"object {uri} cannot be read ({code}): {err}") from err
        raise


def read_many(s3: Any, uris: Iterable[str]) -> dict[str, bytes | ObjectUnreadableError | ValueError]:
    """Each distinct URI read once, concurrently: uri -> its bytes, or the error that names it.

    Errors are returned, not raised, so one unreadable object never hides the others; a throttle or
    connection failure that outlives botocore's retries still raises (the request is retried).
    """
    distinct = list(dict.fromkeys(uris))
    if not distinct:
        return {}

    def read(uri: str) -> bytes | ObjectUnreadableError | ValueError:
        try:
            return read_s3_text(s3, uri)
        except (ObjectUnreadableError, ValueError) as err:  # ValueError: not an s3:// URI
            return err

    if len(distinct) == 1:
        return {distinct[0]: read(distinct[0])}
    with ThreadPoolExecutor(max_workers=min(READERS, len(distinct))) as pool:
        return dict(zip(distinct, pool.map(read, distinct), strict=True))


def load_page(s3: Any, ref: DataObjectRef) -> Page:
    """The page ``ref`` names (a batch file in S3, or inline); errors name the object."""
    if ref.s3_uri is not None:
        return parse_page(read_s3_text(s3, ref.s3_uri), source=ref.s3_uri)
    return parse_page(ref.inline, source=INLINE_NAME)


def load_batch(s3: Any, ref: DataObjectRef) -> list[BatchEntry]:
    """The images of the page ``ref`` names, in order (``task_json()`` is what a worker is shown)."""
    return list(load_page(s3, ref).entries)
