"""IAM policy documents, as pure functions of this stack's ARNs.

Each function returns a plain ``dict`` so the least-privilege rules can be unit tested without
Pulumi. The rules:

- Actions are always spelled out; no Allow statement has a ``*`` (or ``prefix:*``) action.
- Resources are only this stack's bucket, table, functions and log groups, plus the image
  buckets the user lists explicitly (read only). The one exception is
  ``cloudwatch:PutMetricData``, which has no resource-level permissions: it is granted on ``*``
  only under a ``cloudwatch:namespace`` condition (SageMaker's namespaces).
- **Each writer writes only its prefixes** (issue 12: an image path must never overwrite the
  worker template or Ground Truth's output): the seed writes ``images/`` and ``rounds/``, Ground
  Truth writes ``output/``, nobody but the deployer (Pulumi) writes ``templates/``. Reads stay
  bucket-wide (the seed CSV, images in place and legacy ``batches/`` can be anywhere).
- The one wildcard action is the bucket policy's TLS guard, which is a *Deny* of ``s3:*`` on
  non-TLS requests: a deny narrower than ``s3:*`` would leave some action open over plain HTTP.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._handlers import settings

Policy = dict[str, Any]
VERSION = "2012-10-17"

# What each principal may do, named once so the tests can compare against the same lists.
LOG_WRITE_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
S3_READ_OBJECT = ("s3:GetObject",)
S3_WRITE_OBJECT = ("s3:PutObject",)
S3_LIST_BUCKET = ("s3:ListBucket",)
LAUNCH_TABLE_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    # One small page, to learn whether the table holds any pair item yet (handlers.round_store.
    # table_has_pair_items); found missing by the e2e suite with IAM enforced.
    "dynamodb:Scan",
    "dynamodb:UpdateItem",
)
POST_TABLE_ACTIONS = ("dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
GROUND_TRUTH_BUCKET_ACTIONS = ("s3:GetBucketLocation", "s3:ListBucket")
GROUND_TRUTH_OUTPUT_ACTIONS = ("s3:AbortMultipartUpload", "s3:PutObject")
INVOKE_ACTIONS = ("lambda:InvokeFunction",)
# Where Ground Truth reports template and Lambda failures, worker metrics and job status
# (developer guide, "Create a SageMaker execution role for a Ground Truth labeling job").
GROUND_TRUTH_LOG_GROUP = "/aws/sagemaker/LabelingJobs"
GROUND_TRUTH_LOG_ACTIONS = (
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:DescribeLogStreams",
    "logs:PutLogEvents",
)
METRIC_ACTIONS = ("cloudwatch:PutMetricData",)
SAGEMAKER_METRIC_NAMESPACES = ("*SageMaker*", "*Sagemaker*", "*sagemaker*")
# The prefixes each writer may put objects under.
SEED_WRITE_PREFIXES = (settings.IMAGE_PREFIX, settings.ROUND_PREFIX)
OUTPUT_PREFIXES = (settings.OUTPUT_PREFIX,)  # Ground Truth's writes


def _statement(
    sid: str,
    actions: Iterable[str],
    resources: Iterable[str],
    effect: str = "Allow",
    condition: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    action_list = sorted(set(actions))
    resource_list = sorted(set(resources))
    for action in action_list:
        if "*" in action and effect == "Allow":
            raise ValueError(f"refusing a wildcard action in an Allow statement: {action}")
    if not resource_list:
        raise ValueError(f"statement {sid} has no resources")
    if "*" in resource_list and effect == "Allow" and not condition:
        raise ValueError(f"statement {sid} allows on every resource without a condition")
    statement: dict[str, Any] = {"Sid": sid, "Effect": effect, "Action": action_list, "Resource": resource_list}
    if condition:
        statement["Condition"] = dict(condition)
    return statement


def _policy(*statements: dict[str, Any]) -> Policy:
    return {"Version": VERSION, "Statement": list(statements)}


def objects_arn(bucket_arn: str, prefix: str = "") -> str:
    """Objects of the bucket (under ``prefix``): ``arn:aws:s3:::bucket/images/*``."""
    return f"{bucket_arn}/{prefix}*"


def log_streams_arn(log_group_arn: str) -> str:
    """The streams of one log group (pulumi-aws exports the group ARN without the trailing ``:*``)."""
    return f"{log_group_arn.removesuffix(':*')}:*"


def parse_arn(arn: str) -> tuple[str, str, str]:
    """``(partition, region, account)`` of an ARN of this stack."""
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        raise ValueError(f"not an ARN: {arn!r}")
    return parts[1], parts[3], parts[4]


def partition_of(arn: str) -> str:
    """``aws``, ``aws-cn`` or ``aws-us-gov``, taken from an ARN of this stack."""
    return parse_arn(arn)[0]


def bucket_arn(name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:s3:::{name}"


def assume_role_policy(service: str) -> Policy:
    """Trust policy letting one AWS service (``lambda.amazonaws.com``…) assume the role."""
    return _policy(
        {"Sid": "TrustService", "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    )


def lambda_trust_policy() -> Policy:
    return assume_role_policy("lambda.amazonaws.com")


def ground_truth_trust_policy() -> Policy:
    return assume_role_policy("sagemaker.amazonaws.com")


def _logs(log_group_arn: str) -> dict[str, Any]:
    return _statement("WriteOwnLogs", LOG_WRITE_ACTIONS, [log_streams_arn(log_group_arn)])


def _image_read(image_bucket_arns: Sequence[str]) -> list[dict[str, Any]]:
    if not image_bucket_arns:
        return []
    return [
        _statement("ReadImagesInPlace", S3_READ_OBJECT, [objects_arn(arn) for arn in image_bucket_arns]),
        _statement("ListImageBuckets", S3_LIST_BUCKET, image_bucket_arns),
    ]


def launch_policy(
    *, bucket_arn: str, table_arn: str, log_group_arn: str, image_bucket_arns: Sequence[str] = ()
) -> Policy:
    """Seed: read the CSV and images anywhere in the bucket; write only ``images/`` and ``rounds/``;
    read and write the table (pairs, round meta and round-pair items).

    ``s3:ListBucket`` is there so a missing CSV or image answers 404 (reported per row) rather
    than 403. CopyObject needs GetObject on the source and PutObject on the target.
    """
    return _policy(
        _statement("ReadQaObjects", S3_READ_OBJECT, [objects_arn(bucket_arn)]),
        _statement("WriteImagesAndRounds", S3_WRITE_OBJECT, [objects_arn(bucket_arn, p) for p in SEED_WRITE_PREFIXES]),
        _statement("ListQaBucket", S3_LIST_BUCKET, [bucket_arn]),
        *_image_read(image_bucket_arns),
        _statement("SeedTable", LAUNCH_TABLE_ACTIONS, [table_arn]),
        _logs(log_group_arn),
    )


def pre_labeling_policy(*, bucket_arn: str, log_group_arn: str) -> Policy:
    """Pre-labeling: read the (legacy) batch file a task points to; inline batches need nothing."""
    return _policy(
        _statement("ReadBatches", S3_READ_OBJECT, [objects_arn(bucket_arn)]),
        _logs(log_group_arn),
    )


def post_labeling_policy(*, bucket_arn: str, table_arn: str, log_group_arn: str) -> Policy:
    """Consolidation: read the annotation payload (and legacy batches); record votes with
    conditional updates. ``s3:ListBucket`` makes a missing object NoSuchKey (skip that object)
    instead of AccessDenied (which real S3 answers without it, failing the whole request)."""
    return _policy(
        _statement("ReadPayloadAndBatches", S3_READ_OBJECT, [objects_arn(bucket_arn)]),
        _statement("ListQaBucket", S3_LIST_BUCKET, [bucket_arn]),
        _statement("RecordVotes", POST_TABLE_ACTIONS, [table_arn]),
        _logs(log_group_arn),
    )


def ground_truth_log_arns(partition: str, region: str, account: str) -> list[str]:
    group = f"arn:{partition}:logs:{region}:{account}:log-group:{GROUND_TRUTH_LOG_GROUP}"
    return [group, f"{group}:*"]


def ground_truth_policy(
    *, bucket_arn: str, function_arns: Sequence[str], image_bucket_arns: Sequence[str] = ()
) -> Policy:
    """The labeling job's role: read the QA bucket (manifest, template, images), write only
    ``output/``; invoke exactly the two task functions; read images referenced in place (the worker
    UI gets presigned URLs for them); write its logs and SageMaker metrics to CloudWatch."""
    if len(set(function_arns)) != len(function_arns) or not function_arns:
        raise ValueError("ground truth may invoke a non-empty list of distinct functions")
    partition, region, account = parse_arn(function_arns[0])
    return _policy(
        _statement("QaBucket", GROUND_TRUTH_BUCKET_ACTIONS, [bucket_arn]),
        _statement("ReadQaObjects", S3_READ_OBJECT, [objects_arn(bucket_arn)]),
        _statement("WriteOutput", GROUND_TRUTH_OUTPUT_ACTIONS, [objects_arn(bucket_arn, p) for p in OUTPUT_PREFIXES]),
        *_image_read(image_bucket_arns),
        _statement("InvokeTaskFunctions", INVOKE_ACTIONS, function_arns),
        _statement("LabelingJobLogs", GROUND_TRUTH_LOG_ACTIONS, ground_truth_log_arns(partition, region, account)),
        _statement(
            "SageMakerMetrics",
            METRIC_ACTIONS,
            ["*"],
            condition={"StringLike": {"cloudwatch:namespace": list(SAGEMAKER_METRIC_NAMESPACES)}},
        ),
    )


def tls_only_bucket_policy(bucket_arn: str) -> Policy:
    """Deny every request to the bucket or its objects that does not use TLS."""
    return _policy(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, objects_arn(bucket_arn)],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )


def statements(policy: Policy) -> list[dict[str, Any]]:
    raw = policy.get("Statement", [])
    return [raw] if isinstance(raw, dict) else list(raw)


def as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def allowed_actions(policy: Policy) -> set[str]:
    return {a for s in statements(policy) if s.get("Effect") == "Allow" for a in as_list(s.get("Action"))}


def allowed_resources(policy: Policy) -> set[str]:
    return {r for s in statements(policy) if s.get("Effect") == "Allow" for r in as_list(s.get("Resource"))}


def allows(policy: Policy, action: str, resource: str) -> bool:
    """True if an unconditional Allow statement names ``action`` on a resource pattern matching ``resource``
    (``*`` matches any run of characters, as in IAM). Conditional statements are not evaluated."""
    for statement in statements(policy):
        if statement.get("Effect") != "Allow" or statement.get("Condition"):
            continue
        if action not in as_list(statement.get("Action")):
            continue
        if any(fnmatch.fnmatchcase(resource, pattern) for pattern in as_list(statement.get("Resource"))):
            return True
    return False
