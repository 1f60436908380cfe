"""The three Lambda functions, each with its own role, inline policy and log group.

The environment of each function is exactly ``handlers.settings.settings.HANDLER_ENVIRONMENT[key]``, with
values looked up by those names, so a renamed or added variable fails here (KeyError) instead
of at run time in AWS.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ._handlers import settings
from .context import BuildContext
from .lambda_package import LambdaPackage
from .policies import Policy, lambda_trust_policy

RUNTIME = "python3.12"
# Graviton: about 20% cheaper per GB-second than x86_64, and the package is pure Python (stdlib +
# the runtime's boto3), so nothing in it is architecture-specific.
ARCHITECTURES = ["arm64"]


@dataclass(frozen=True)
class FunctionSpec:
    key: str
    memory_mb: int
    timeout_s: int
    description: str


# Sized for their work: the seed reads a whole CSV and fans out S3/DynamoDB calls on a thread
# pool; pre-labeling reads one small JSON batch per task; consolidation records one conditional
# update per vote for a batch of objects.
FUNCTION_SPECS: dict[str, FunctionSpec] = {
    "launch": FunctionSpec("launch", 1024, 900, "BulkQA seed: CSV -> a QA round (table items and manifest)"),
    "pre_labeling": FunctionSpec("pre_labeling", 256, 60, "BulkQA Ground Truth pre-labeling: batch -> task input"),
    "post_labeling": FunctionSpec("post_labeling", 512, 300, "BulkQA Ground Truth consolidation: votes -> table"),
}


@dataclass(frozen=True)
class DeployedFunction:
    key: str
    function: aws.lambda_.Function
    role: aws.iam.Role
    role_policy: aws.iam.RolePolicy
    log_group: aws.cloudwatch.LogGroup

    @property
    def arn(self) -> pulumi.Output[str]:
        return self.function.arn


def function_environment(key: str, values: Mapping[str, pulumi.Input[str]]) -> dict[str, pulumi.Input[str]]:
    """The variables function ``key`` reads, by the names the handlers import."""
    missing = [name for name in settings.HANDLER_ENVIRONMENT[key] if name not in values]
    if missing:
        raise KeyError(f"no value for {', '.join(missing)} (needed by the {key} function)")
    return {name: values[name] for name in settings.HANDLER_ENVIRONMENT[key]}


def create_function(
    ctx: BuildContext,
    spec: FunctionSpec,
    *,
    package: LambdaPackage,
    environment: Mapping[str, pulumi.Input[str]],
    policy: Callable[[str], Policy],
    policy_inputs: pulumi.Input[dict],
    log_retention_days: pulumi.Input[int],
) -> DeployedFunction:
    """``policy(log_group_arn, **resolved policy_inputs)`` builds the role's inline policy document."""
    short = spec.key.replace("_", "-")
    function_name = ctx.name_of(lambda n: n.function(spec.key))
    log_group = aws.cloudwatch.LogGroup(
        ctx.child(f"{short}-logs"),
        name=ctx.name_of(lambda n: n.log_group(spec.key)),
        retention_in_days=log_retention_days,
        tags=ctx.tags,
        opts=ctx.opts(named=True),
    )
    role = aws.iam.Role(
        ctx.child(f"{short}-role"),
        name=ctx.name_of(lambda n: n.function_role(spec.key)),
        assume_role_policy=json.dumps(lambda_trust_policy()),
        description=function_name.apply(lambda name: f"Execution role of {name}"),
        tags=ctx.tags,
        opts=ctx.opts(named=True),
    )
    role_policy = aws.iam.RolePolicy(
        ctx.child(f"{short}-policy"),
        role=role.id,
        name=ctx.name_of(lambda n: n.function_policy(spec.key)),
        policy=pulumi.Output.all(log_group.arn, pulumi.Output.from_input(policy_inputs)).apply(
            lambda resolved: json.dumps(policy(resolved[0], **resolved[1]))
        ),
        opts=ctx.opts(named=True),
    )
    function = aws.lambda_.Function(
        ctx.child(short),
        name=function_name,
        description=spec.description,
        runtime=RUNTIME,
        architectures=ARCHITECTURES,
        handler=settings.HANDLER_ENTRY_POINTS[spec.key],
        code=pulumi.FileArchive(str(package.path)),
        # Both: source_code_hash makes a changed package an update; code_sha256 (what Lambda reports
        # as CodeSha256) also catches code changed outside Pulumi. The zip is byte-reproducible.
        source_code_hash=package.source_code_hash,
        code_sha256=package.source_code_hash,
        role=role.arn,
        memory_size=spec.memory_mb,
        timeout=spec.timeout_s,
        environment=aws.lambda_.FunctionEnvironmentArgs(variables=function_environment(spec.key, environment)),
        tags=ctx.tags,
        # The log group exists (with its retention) before the first invocation can create it,
        # and the permissions are in place before anything calls the function.
        opts=ctx.opts(named=True, depends_on=[log_group, role_policy]),
    )
    return DeployedFunction(spec.key, function, role, role_policy, log_group)
