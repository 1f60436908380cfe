"""The role the labeling job assumes (``RoleArn`` of CreateLabelingJob)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .context import BuildContext
from .policies import ground_truth_policy, ground_truth_trust_policy


@dataclass(frozen=True)
class GroundTruthRole:
    role: aws.iam.Role
    role_policy: aws.iam.RolePolicy


def create_ground_truth_role(
    ctx: BuildContext,
    *,
    bucket_arn: pulumi.Input[str],
    task_function_arns: Sequence[pulumi.Input[str]],
    image_bucket_arns: pulumi.Input[list[str]],
) -> GroundTruthRole:
    role = aws.iam.Role(
        ctx.child("groundtruth-role"),
        name=ctx.name_of(lambda n: n.ground_truth_role),
        assume_role_policy=json.dumps(ground_truth_trust_policy()),
        description="Assumed by SageMaker Ground Truth for BulkQA labeling jobs",
        tags=ctx.tags,
        opts=ctx.opts(named=True),
    )
    policy = pulumi.Output.all(bucket_arn, image_bucket_arns, *task_function_arns).apply(
        lambda v: json.dumps(ground_truth_policy(bucket_arn=v[0], image_bucket_arns=v[1], function_arns=list(v[2:])))
    )
    role_policy = aws.iam.RolePolicy(
        ctx.child("groundtruth-policy"),
        role=role.id,
        name=ctx.name_of(lambda n: n.ground_truth_policy),
        policy=policy,
        opts=ctx.opts(named=True),
    )
    return GroundTruthRole(role, role_policy)
