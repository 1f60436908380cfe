"""Can Ground Truth show these images? The pure half of ``bulkqa doctor`` (no AWS calls here).

A worker's browser loads each image from a presigned URL that Ground Truth signs with the job's
role. So every bucket a manifest references needs three things, and a job whose images lack any
of them fails task by task, after it was created and paid for:

1. Ground Truth's CORS rule (GET from any origin, ``Access-Control-Allow-Origin`` exposed);
2. the Ground Truth role allowed ``s3:GetObject`` on the images;
3. the objects themselves (a mistyped prefix references nothing).

This module decides each from data the command fetched: CORS rules, IAM simulation results or
policy documents, HEAD results. ``evaluate_policies`` is a small IAM evaluator for when
``iam:SimulatePrincipalPolicy`` is not available (emulators): explicit deny beats allow, actions
and resources match with ``*``/``?``; a statement with a ``Condition`` cannot be decided offline
and makes the answer "unknown", never "allowed".
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from handlers.s3_uri import S3UriError, parse_s3_uri

READ_ACTION = "s3:GetObject"
DEFAULT_SAMPLE = 5  # objects HEADed per bucket: enough to catch a wrong prefix, cheap on a big round

ALLOWED = "allowed"
DENIED = "denied"  # an explicit Deny
NOT_ALLOWED = "not allowed"  # no Allow matches (implicit deny)
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Check:
    """One verdict: ``ok`` True/False, or None when it could not be decided (said in ``detail``)."""

    name: str
    ok: bool | None
    detail: str


@dataclass
class BucketReport:
    bucket: str
    images: int
    checks: list[Check] = field(default_factory=list)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.ok is False]

    @property
    def undecided(self) -> list[Check]:
        return [c for c in self.checks if c.ok is None]


@dataclass
class AccessReport:
    buckets: list[BucketReport]
    problems: list[str] = field(default_factory=list)  # not tied to one bucket (bad image URLs)

    @property
    def ok(self) -> bool:
        """True when nothing failed. An undecided check does not fail the report: it is shown."""
        return not self.problems and not any(b.failed for b in self.buckets)


def images_by_bucket(urls: Iterable[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Distinct image keys per bucket (first-seen order), and the URLs that are not ``s3://`` objects."""
    buckets: dict[str, dict[str, None]] = {}
    bad: list[str] = []
    for url in urls:
        try:
            location = parse_s3_uri(url)
        except (S3UriError, ValueError):
            bad.append(url)
            continue
        buckets.setdefault(location.bucket, {})[location.key] = None
    return {bucket: list(keys) for bucket, keys in buckets.items()}, list(dict.fromkeys(bad))


def sample(keys: Sequence[str], size: int = DEFAULT_SAMPLE) -> list[str]:
    """``size`` keys spread evenly over ``keys`` (first and last included): deterministic, so a
    re-run checks the same objects, and a wrong prefix for part of a round is still caught."""
    if size <= 0 or not keys:
        return []
    if len(keys) <= size:
        return list(keys)
    if size == 1:
        return [keys[0]]
    step = (len(keys) - 1) / (size - 1)
    return list(dict.fromkeys(keys[round(i * step)] for i in range(size)))


def cors_check(rules: Sequence[Mapping[str, Any]] | None) -> Check:
    """Ground Truth's documented rule: some rule allows GET from origin ``*`` and exposes
    ``Access-Control-Allow-Origin``. ``rules`` None means they could not be read."""
    name = "CORS rule for Ground Truth"
    if rules is None:
        return Check(name, None, "cannot read the bucket's CORS configuration")
    for rule in rules:
        methods = {m.upper() for m in rule.get("AllowedMethods", [])}
        origins = set(rule.get("AllowedOrigins", []))
        exposed = {h.lower() for h in rule.get("ExposeHeaders", [])}
        if "GET" in methods and "*" in origins and "access-control-allow-origin" in exposed:
            return Check(name, True, "GET from any origin, Access-Control-Allow-Origin exposed")
    found = "no CORS configuration" if not rules else f"{len(rules)} rule(s), none allows it"
    return Check(
        name,
        False,
        f"{found}: add AllowedMethods [GET], AllowedOrigins [*], ExposeHeaders [Access-Control-Allow-Origin]",
    )


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _matches(patterns: Iterable[str], value: str, *, case_sensitive: bool) -> bool:
    for pattern in patterns:
        if not isinstance(pattern, str):
            continue
        if case_sensitive and fnmatch.fnmatchcase(value, pattern):
            return True
        if not case_sensitive and fnmatch.fnmatchcase(value.lower(), pattern.lower()):
            return True
    return False


def _statement_applies(statement: Mapping[str, Any], action: str, resource: str) -> bool:
    if "Action" in statement:
        action_ok = _matches(_as_list(statement["Action"]), action, case_sensitive=False)
    else:
        action_ok = not _matches(_as_list(statement.get("NotAction")), action, case_sensitive=False)
    if "Resource" in statement:
        resource_ok = _matches(_as_list(statement["Resource"]), resource, case_sensitive=True)
    else:
        resource_ok = not _matches(_as_list(statement.get("NotResource")), resource, case_sensitive=True)
    return action_ok and resource_ok


def evaluate_policies(documents: Iterable[Mapping[str, Any]], action: str, resource: str) -> str:
    """IAM's identity-policy logic for one request: ``ALLOWED``, ``DENIED``, ``NOT_ALLOWED`` or
    ``UNKNOWN`` (only conditional statements would decide it)."""
    allowed = conditional = False
    for document in documents:
        for statement in _as_list(document.get("Statement")):
            if not isinstance(statement, Mapping) or not _statement_applies(statement, action, resource):
                continue
            has_condition = bool(statement.get("Condition"))
            if statement.get("Effect") == "Deny":
                if not has_condition:
                    return DENIED
                conditional = True
            elif statement.get("Effect") == "Allow":
                if has_condition:
                    conditional = True
                else:
                    allowed = True
    if conditional:
        return UNKNOWN
    return ALLOWED if allowed else NOT_ALLOWED


def object_arn(bucket: str, key: str, partition: str = "aws") -> str:
    return f"arn:{partition}:s3:::{bucket}/{key}"


def role_read_check(role_arn: str, decisions: Mapping[str, str], how: str) -> Check:
    """The role's verdict over the sampled objects (``decisions``: object ARN -> verdict)."""
    name = f"role can {READ_ACTION}"
    role = role_arn.rsplit("/", 1)[-1]
    refused = {arn: d for arn, d in decisions.items() if d in (DENIED, NOT_ALLOWED)}
    if refused:
        arn, decision = next(iter(refused.items()))
        return Check(
            name,
            False,
            f"role {role} is {decision} {READ_ACTION} on {len(refused)} of {len(decisions)} sampled "
            f"image(s), e.g. {arn} ({how}): grant it read access to the images",
        )
    if any(d == UNKNOWN for d in decisions.values()):
        return Check(name, None, f"role {role}: decided by policy conditions, not checked offline ({how})")
    return Check(name, True, f"role {role} may read the {len(decisions)} sampled image(s) ({how})")


def objects_check(found: Mapping[str, bool | None], bucket: str, total: int) -> Check:
    """HEAD results of the sample: key -> True (exists), False (404), None (could not tell)."""
    name = "images exist"
    missing = [key for key, ok in found.items() if ok is False]
    unknown = [key for key, ok in found.items() if ok is None]
    checked = len(found)
    if missing:
        listed = ", ".join(f"s3://{bucket}/{k}" for k in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        return Check(name, False, f"{len(missing)} of {checked} sampled image(s) missing: {listed}{more}")
    if unknown:
        return Check(name, None, f"{len(unknown)} of {checked} sampled image(s) could not be checked (access denied)")
    return Check(name, True, f"{checked} of {checked} sampled image(s) found ({total} referenced)")
