"""Physical names of the stack's resources, unique per project, stack, region and component.

Names are explicit (not auto-named) so that each stage's resources are recognisable in the
console and the IAM policies can be read at a glance. Every name is built from one *base*:

    <prefix>-<hash8>      prefix: ``name_prefix`` or ``<component>-<stack>`` (at most 32 characters)
                          hash8: SHA-256 of (project, stack, region, component name)

Why the hash: IAM role names are global to the account and bucket names to all of S3, while a
stack name (``dev``) is reused by every project and every region. ``<component>-<stack>`` alone
made a second project's ``dev`` stack, or the same stack deployed to a second region, fail with
"already exists". The hash keeps names readable (the prefix comes first) and collision-free.

Why the launch function is *not* named ``...LabelingFunction``: the AWS managed policy
AmazonSageMakerGroundTruthExecution lets Ground Truth invoke any function whose name contains
``LabelingFunction``, ``SageMaker`` (any case) or ``GtRecipe``, and the console offers such
functions as pre/post-labeling functions. The seed function must never be one of them, so
neither it nor the shared base may carry those marks. Pre/post keep ``LabelingFunction``.

Every limit is checked here, once: IAM role 64, Lambda function 64, DynamoDB table 255,
``bucket_prefix`` 37 (Terraform's limit; AWS appends 26 characters, 63 in all), lower case.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

MAX_PREFIX_LENGTH = 32
HASH_LENGTH = 8
# Terraform (and so pulumi-aws) limits an S3 bucket_prefix to 37 characters, dash included.
MAX_BUCKET_PREFIX_LENGTH = 37
LIMITS = {"function": 64, "role": 64, "table": 255, "log_group": 512, "role_policy": 128}

LABELING_FUNCTION_MARK = "LabelingFunction"
# Substrings (case-insensitive) by which the managed Ground Truth policy and the console pick
# functions Ground Truth may invoke. The seed function's name must contain none of them.
MANAGED_POLICY_MARKS = ("labelingfunction", "sagemaker", "gtrecipe")
FUNCTION_KEYS: tuple[str, ...] = ("launch", "pre_labeling", "post_labeling")
_FUNCTION_SUFFIX = {"launch": "seed", "pre_labeling": f"pre-{LABELING_FUNCTION_MARK}",
                    "post_labeling": f"post-{LABELING_FUNCTION_MARK}"}  # fmt: skip
_ROLE_SHORT = {"launch": "seed", "pre_labeling": "pre", "post_labeling": "post"}

_PREFIX_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def _digest(text: str, length: int = HASH_LENGTH) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def _shorten(text: str, limit: int) -> str:
    """``text`` if it fits, else its head plus a hash of the whole (so shortened names stay distinct)."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 9].rstrip('-')}-{_digest(text)}"


def _strip_marks(text: str) -> str:
    for mark in MANAGED_POLICY_MARKS:
        text = re.sub(re.escape(mark), "", text, flags=re.IGNORECASE)
    return re.sub(r"-{2,}", "-", text).strip("-")


def default_prefix(component_name: str, stack: str) -> str:
    """``<component>-<stack>``, reduced to the characters every AWS name here accepts.

    Managed-policy marks (``sagemaker``…) are dropped so the seed function never matches them.
    """
    raw = re.sub(r"[^A-Za-z0-9-]+", "-", f"{component_name}-{stack}").strip("-")
    return _shorten(_strip_marks(raw) or "bulkqa", MAX_PREFIX_LENGTH)


def validate_prefix(prefix: str) -> str:
    """Reject prefixes some resource name would not accept, or that would make the seed function
    invocable by Ground Truth's managed policy."""
    if not isinstance(prefix, str) or not _PREFIX_RE.match(prefix):
        raise ValueError(f"name_prefix must be letters, digits and dashes, starting with a letter or digit: {prefix!r}")
    if len(prefix) > MAX_PREFIX_LENGTH:
        raise ValueError(f"name_prefix must be at most {MAX_PREFIX_LENGTH} characters: {prefix!r}")
    marks = [m for m in MANAGED_POLICY_MARKS if m in prefix.lower()]
    if marks:
        raise ValueError(
            f"name_prefix {prefix!r} contains {marks[0]!r}: Ground Truth's managed policy would then let labeling "
            "jobs invoke the seed function; choose another prefix"
        )
    return prefix


def stack_hash(*, project: str, stack: str, region: str, component: str) -> str:
    """8 hex characters that differ for every (project, stack, region, component)."""
    return _digest("\0".join((project, stack, region, component)))


@dataclass(frozen=True)
class StackNames:
    """Every physical name of one component instance (pure: no Pulumi, unit-testable)."""

    base: str

    @classmethod
    def build(cls, *, prefix: str, project: str, stack: str, region: str, component: str) -> StackNames:
        validate_prefix(prefix)
        return cls(f"{prefix}-{stack_hash(project=project, stack=stack, region=region, component=component)}")

    def _check(self, kind: str, name: str) -> str:
        if len(name) > LIMITS[kind]:  # cannot happen with a validated prefix; a guard for future suffixes
            raise ValueError(f"{kind} name {name!r} is longer than AWS allows ({LIMITS[kind]})")
        return name

    def function(self, key: str) -> str:
        """``<base>-seed``, ``<base>-pre-LabelingFunction``, ``<base>-post-LabelingFunction``."""
        return self._check("function", f"{self.base}-{_FUNCTION_SUFFIX[key]}")

    def function_role(self, key: str) -> str:
        return self._check("role", f"{self.base}-{_ROLE_SHORT[key]}-fn-role")

    def function_policy(self, key: str) -> str:
        return self._check("role_policy", f"{self.function(key)}-access")

    @property
    def ground_truth_role(self) -> str:
        return self._check("role", f"{self.base}-groundtruth-role")

    @property
    def ground_truth_policy(self) -> str:
        return self._check("role_policy", f"{self.ground_truth_role}-access")

    def log_group(self, key: str) -> str:
        return self._check("log_group", log_group_name(self.function(key)))

    @property
    def table(self) -> str:
        return self._check("table", f"{self.base}-labels")

    @property
    def bucket_prefix(self) -> str:
        return bucket_prefix(self.base)


def log_group_name(function: str) -> str:
    """The group Lambda writes to by default, created up front so it has a retention."""
    return f"/aws/lambda/{function}"


def bucket_prefix(prefix: str) -> str:
    """An S3-valid ``bucket_prefix`` (lower case); AWS appends a unique suffix."""
    lowered = re.sub(r"[^a-z0-9-]+", "-", prefix.lower()).strip("-") or "bulkqa"
    return _shorten(lowered, MAX_BUCKET_PREFIX_LENGTH - 1) + "-"


def validate_bucket_name(name: str) -> str:
    if not isinstance(name, str) or not _BUCKET_RE.match(name) or ".." in name:
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
