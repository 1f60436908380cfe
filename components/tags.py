"""Resource tags: the component's own plus the user's, checked against the AWS limits.

Why a check of our own: every AWS service here accepts at most 50 tags per resource (IAM roles,
Lambda functions, DynamoDB tables, S3 buckets, log groups); the component adds two, so a user may
give at most 48. Without the check the first ``pulumi up`` fails half-way with a service error on
whichever resource AWS creates first. Tag keys starting with ``aws:`` are reserved by AWS.

S3 *objects* are never tagged (at most 10 tags each, and the provider's ``defaultTags`` would
count too): the component's uploads carry none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

BASE_TAGS = {"project": "bulkqa"}
STACK_TAG = "bulkqa-stack"
AWS_TAG_LIMIT = 50
MAX_USER_TAGS = AWS_TAG_LIMIT - len(BASE_TAGS) - 1  # 48: BASE_TAGS and STACK_TAG are ours
MAX_KEY_LENGTH = 128
MAX_VALUE_LENGTH = 256


class TagError(ValueError):
    """The user's tags would be refused by AWS."""


def validate_user_tags(tags: Mapping[str, Any] | None) -> dict[str, str]:
    """The user's tags as strings; raise ``TagError`` naming the tag and the rule it breaks."""
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise TagError(f"tags must be a mapping of key to value, not {type(tags).__name__}")
    result: dict[str, str] = {}
    for key, value in tags.items():
        key_text, value_text = str(key), "" if value is None else str(value)
        if not key_text:
            raise TagError("tags: a tag key is empty")
        if len(key_text) > MAX_KEY_LENGTH:
            raise TagError(f"tag key {key_text[:40]!r}… is longer than {MAX_KEY_LENGTH} characters")
        if len(value_text) > MAX_VALUE_LENGTH:
            raise TagError(f"the value of tag {key_text!r} is longer than {MAX_VALUE_LENGTH} characters")
        if key_text.lower().startswith("aws:"):
            raise TagError(f"tag key {key_text!r} starts with 'aws:', which AWS reserves")
        result[key_text] = value_text
    extra = [k for k in result if k not in BASE_TAGS and k != STACK_TAG]
    if len(extra) > MAX_USER_TAGS:
        raise TagError(
            f"{len(extra)} tags given; at most {MAX_USER_TAGS} are allowed (AWS allows {AWS_TAG_LIMIT} per "
            f"resource and BulkQA adds {', '.join(sorted([*BASE_TAGS, STACK_TAG]))})"
        )
    return result


def resource_tags(user_tags: Mapping[str, Any] | None, *, stack_id: str) -> dict[str, str]:
    """What every taggable resource gets: the user's tags over the component's own."""
    return {**BASE_TAGS, STACK_TAG: stack_id, **validate_user_tags(user_tags)}
