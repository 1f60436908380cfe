"""Physical names of the stack's resources, derived from one prefix.

Names are explicit (not auto-named) so that each stage's resources are recognisable in the console,
the IAM policies can be read at a glance, and an emulator harness can replay the mocked inputs
as-is. The Lambda names contain ``LabelingFunction`` so the AWS managed policy
AmazonSageMakerGroundTruthExecution may invoke them too.
"""

from __future__ import annotations

import hashlib
import re

# Lambda function names are at most 64 characters; the longest suffix is "-launch-LabelingFunction".
MAX_PREFIX_LENGTH = 40
# Terraform (and so pulumi-aws) limits an S3 bucket_prefix to 37 characters, dash included.
MAX_BUCKET_PREFIX_LENGTH = 37

LABELING_FUNCTION_MARK = "LabelingFunction"
FUNCTION_KEYS: tuple[str, ...] = ("launch", "pre_labeling", "post_labeling")
_FUNCTION_SHORT = {"launch": "launch", "pre_labeling": "pre", "post_labeling": "post"}

_PREFIX_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{text[: limit - 9].rstrip('-')}-{digest}"


def default_prefix(component_name: str, stack: str) -> str:
    """``<component>-<stack>``, reduced to the characters every AWS name here accepts."""
    raw = re.sub(r"[^A-Za-z0-9-]+", "-", f"{component_name}-{stack}").strip("-") or "bulkqa"
    return _shorten(raw, MAX_PREFIX_LENGTH)


def validate_prefix(prefix: str) -> str:
    """Reject prefixes some resource name would not accept (or would truncate)."""
    if not isinstance(prefix, str) or not _PREFIX_RE.match(prefix):
        raise ValueError(f"name_prefix must be letters, digits and dashes, starting with a letter or digit: {prefix!r}")
    if len(prefix) > MAX_PREFIX_LENGTH:
        raise ValueError(f"name_prefix must be at most {MAX_PREFIX_LENGTH} characters: {prefix!r}")
    return prefix


def function_name(prefix: str, key: str) -> str:
    """e.g. ``bulkqa-dev-pre-LabelingFunction``."""
    return f"{prefix}-{_FUNCTION_SHORT[key]}-{LABELING_FUNCTION_MARK}"


def function_role_name(prefix: str, key: str) -> str:
    return f"{prefix}-{_FUNCTION_SHORT[key]}-fn-role"


def ground_truth_role_name(prefix: str) -> str:
    return f"{prefix}-groundtruth-role"


def log_group_name(function: str) -> str:
    """The group Lambda writes to by default, created up front so it has a retention."""
    return f"/aws/lambda/{function}"


def table_name(prefix: str) -> str:
    return f"{prefix}-labels"


def bucket_prefix(prefix: str) -> str:
    """An S3-valid ``bucket_prefix`` (lower case); AWS appends a unique suffix."""
    lowered = re.sub(r"[^a-z0-9-]+", "-", prefix.lower()).strip("-") or "bulkqa"
    return _shorten(lowered, MAX_BUCKET_PREFIX_LENGTH - 1) + "-"


_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def validate_bucket_name(name: str) -> str:
    if not _BUCKET_RE.match(name) or ".." in name:
        raise ValueError(f"not a valid S3 bucket name: {name!r}")
    return name


def image_bucket_name(spec: str) -> str:
    """``my-bucket``, ``s3://my-bucket`` or ``s3://my-bucket/prefix/`` -> ``my-bucket`` (no wildcards)."""
    text = spec.strip()
    if text.startswith("s3://"):
        text = text[len("s3://") :]
    name = text.split("/", 1)[0]
    if "*" in name or "?" in name:
        raise ValueError(f"extra image buckets must be bucket names, not patterns: {spec!r}")
    return validate_bucket_name(name)
