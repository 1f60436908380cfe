"""The BulkQA ComponentResource: the whole stack behind one Ground Truth custom labeling workflow.

No ``from __future__ import annotations``: the component provider reads the class annotations
(the outputs) and the ``args`` annotation at runtime to infer the package schema.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from . import naming
from ._handlers import rounds, s3_uri
from ._handlers import settings as shared
from .args import DEFAULT_LOG_LEVEL, DEFAULT_LOG_RETENTION_DAYS, BulkQAArgs
from .context import BuildContext
from .functions import FUNCTION_SPECS, DeployedFunction, create_function
from .ground_truth import GroundTruthRole, create_ground_truth_role
from .lambda_package import LambdaPackage, lambda_package
from .outputs import STACK_OUTPUTS
from .policies import bucket_arn, launch_policy, partition_of, post_labeling_policy, pre_labeling_policy
from .resource_types import COMPONENT_TYPE
from .seeding import Seed, create_seed
from .storage import QaBucket, create_bucket
from .table import create_table
from .tags import resource_tags, validate_user_tags
from .template import resolve_template_path, upload_template

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_VALUES = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)
LOG_LEVELS = frozenset({"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})


def _whole_number(field: str, value: Any) -> int:
    """An int from an int or an integral float (Pulumi sends every number as a float); else a clear error.

    Why not ``int(value)``: it turns 2.9 into 2 and ``True`` into 1 without a word.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value in (
        float("inf"),
        float("-inf"),
    ):
        raise ValueError(f"{field} must be a whole number, got {value!r}")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{field} must be a whole number, got {value!r}")
    return int(value)


def _batch_size(value: Any) -> int:
    size = _whole_number("batch_size", value)
    if not 1 <= size <= shared.MAX_BATCH_SIZE:
        raise ValueError(f"batch_size must be between 1 and {shared.MAX_BATCH_SIZE}, got {value!r}")
    return size


def _threshold(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"confidence_threshold must be a number between 0 and 100, got {value!r}")
    threshold = float(value)
    if not 0 <= threshold <= 100:  # NaN fails this too
        raise ValueError(f"confidence_threshold must be between 0 and 100, got {value!r}")
    return threshold


def _check_log_level(value: Any) -> str:
    level = str(value).upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"log_level must be one of {sorted(LOG_LEVELS)}, got {value!r}")
    return level


def _check_retention(value: Any) -> int:
    days = _whole_number("log_retention_days", value)
    if days not in LOG_RETENTION_VALUES:
        raise ValueError(f"log_retention_days must be one of {sorted(LOG_RETENTION_VALUES)}, got {value!r}")
    return days


def _image_bucket_names(qa_bucket: str, extra: Sequence[str] | None, seed_images: str | None) -> list[str]:
    names = {naming.image_bucket_name(spec) for spec in (extra or [])}
    if seed_images:
        names.add(s3_uri.parse_s3_uri(seed_images, allow_empty_key=True).bucket)
    names.discard(qa_bucket)
    return sorted(names)


# Fields that decide names, resource options or local files: they must be known while the program
# runs, so they are plain values (a YAML/TypeScript consumer passing an Output gets a clear error).
PLAIN_FIELDS = (
    "name_prefix",
    "bucket_name",
    "data_protection",
    "worker_template_path",
    "seed_csv",
    "seed_images",
    "seed_copy_images",
    "seed_round",
)


def _require_plain(settings: BulkQAArgs) -> None:
    for field in PLAIN_FIELDS:
        if isinstance(getattr(settings, field), pulumi.Output):
            raise TypeError(f"BulkQA {field} must be a plain value known at deploy time, not an Output")


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


class BulkQA(pulumi.ComponentResource):
    """Bulk label QA on SageMaker Ground Truth: QA bucket, vote table, the launch, pre-labeling and
    post-labeling functions, their least-privilege roles, the Ground Truth role and the worker UI."""

    bucket_name: pulumi.Output[str]
    """The QA bucket (images, batches, manifest, worker template, job output)."""
    table_name: pulumi.Output[str]
    """The DynamoDB table of labels and votes."""
    manifest_uri: pulumi.Output[str]
    """``ManifestS3Uri`` of CreateLabelingJob (written by the launch function)."""
    ui_template_uri: pulumi.Output[str]
    """``UiTemplateS3Uri`` of CreateLabelingJob."""
    output_path: pulumi.Output[str]
    """``S3OutputPath`` of CreateLabelingJob."""
    launch_function_arn: pulumi.Output[str]
    """The launch (seed) function."""
    pre_labeling_function_arn: pulumi.Output[str]
    """``PreHumanTaskLambdaArn`` of CreateLabelingJob."""
    post_labeling_function_arn: pulumi.Output[str]
    """``AnnotationConsolidationLambdaArn`` of CreateLabelingJob."""
    ground_truth_role_arn: pulumi.Output[str]
    """``RoleArn`` of CreateLabelingJob."""

    def __init__(self, name: str, args: BulkQAArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(COMPONENT_TYPE, name, {}, opts)
        settings = BulkQAArgs.coerce(args)
        _require_plain(settings)
        prefix = naming.validate_prefix(settings.name_prefix or naming.default_prefix(name, pulumi.get_stack()))
        if settings.bucket_name:
            naming.validate_bucket_name(settings.bucket_name)
        if isinstance(settings.tags, Mapping) and not any(isinstance(v, pulumi.Output) for v in settings.tags.values()):
            validate_user_tags(settings.tags)  # plain tags: refuse now, before any resource is declared
        protected = bool(settings.data_protection)
        project, stack = pulumi.get_project(), pulumi.get_stack()
        # The region of the provider this component deploys with (an explicit provider in opts too).
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        names = region.apply(
            lambda r: naming.StackNames.build(prefix=prefix, project=project, stack=stack, region=r, component=name)
        )
        ctx = BuildContext(
            name=name,
            names=names,
            parent=self,
            tags=pulumi.Output.all(names, pulumi.Output.from_input(settings.tags or {})).apply(
                lambda v: resource_tags(v[1], stack_id=v[0].base)
            ),
            protect=protected,
        )

        self.qa_bucket: QaBucket = create_bucket(
            ctx,
            bucket_name=settings.bucket_name,
            bucket_prefix=ctx.name_of(lambda n: n.bucket_prefix),
            versioning=_or(settings.versioning, protected),
            force_destroy=not protected,
        )
        self.table = create_table(
            ctx,
            table_name=ctx.name_of(lambda n: n.table),
            point_in_time_recovery=_or(settings.point_in_time_recovery, protected),
            deletion_protection=_or(settings.deletion_protection, protected),
        )

        batch_size = pulumi.Output.from_input(_or(settings.batch_size, shared.DEFAULT_BATCH_SIZE)).apply(_batch_size)
        threshold = pulumi.Output.from_input(
            _or(settings.confidence_threshold, shared.DEFAULT_CONFIDENCE_THRESHOLD)
        ).apply(_threshold)
        retention = pulumi.Output.from_input(_or(settings.log_retention_days, DEFAULT_LOG_RETENTION_DAYS)).apply(
            _check_retention
        )
        environment: dict[str, pulumi.Input[str]] = {
            shared.ENV_TABLE_NAME: self.table.name,
            shared.ENV_BUCKET_NAME: self.qa_bucket.name,
            shared.ENV_BATCH_SIZE: batch_size.apply(str),
            shared.ENV_CONFIDENCE_THRESHOLD: threshold.apply(repr),
            shared.ENV_LOG_LEVEL: pulumi.Output.from_input(_or(settings.log_level, DEFAULT_LOG_LEVEL)).apply(
                _check_log_level
            ),
        }

        seed_images = settings.seed_images if settings.seed_csv else None
        image_bucket_arns = pulumi.Output.all(
            self.qa_bucket.name, self.qa_bucket.arn, pulumi.Output.from_input(settings.extra_image_buckets or [])
        ).apply(
            lambda v: [
                bucket_arn(n, partition_of(v[1])) for n in _image_bucket_names(v[0], list(v[2] or []), seed_images)
            ]
        )
        policy_inputs = {
            "bucket_arn": self.qa_bucket.arn,
            "table_arn": self.table.arn,
            "image_bucket_arns": image_bucket_arns,
        }

        # The deployed archive (``.path``, ``.sha256``): what an emulator harness must run.
        self.lambda_package: LambdaPackage = lambda_package()
        policies = {
            "launch": lambda log_group_arn, bucket_arn, table_arn, image_bucket_arns: launch_policy(
                bucket_arn=bucket_arn,
                table_arn=table_arn,
                log_group_arn=log_group_arn,
                image_bucket_arns=image_bucket_arns,
            ),
            "pre_labeling": lambda log_group_arn, bucket_arn, **_: pre_labeling_policy(
                bucket_arn=bucket_arn, log_group_arn=log_group_arn
            ),
            "post_labeling": lambda log_group_arn, bucket_arn, table_arn, **_: post_labeling_policy(
                bucket_arn=bucket_arn, table_arn=table_arn, log_group_arn=log_group_arn
            ),
        }
        self.functions: dict[str, DeployedFunction] = {
            key: create_function(
                ctx,
                spec,
                package=self.lambda_package,
                environment=environment,
                policy=policies[key],
                policy_inputs=policy_inputs,
                log_retention_days=retention,
            )
            for key, spec in FUNCTION_SPECS.items()
        }

        self.ground_truth: GroundTruthRole = create_ground_truth_role(
            ctx,
            bucket_arn=self.qa_bucket.arn,
            task_function_arns=[self.functions["pre_labeling"].arn, self.functions["post_labeling"].arn],
            image_bucket_arns=image_bucket_arns,
        )

        self.template_object = upload_template(
            ctx,
            bucket=self.qa_bucket.bucket.id,
            path=resolve_template_path(settings.worker_template_path),
            depends_on=self.qa_bucket.ready,
        )

        self.seed: Seed | None = None
        if settings.seed_csv:
            launch = self.functions["launch"]
            self.seed = create_seed(
                ctx,
                bucket=self.qa_bucket.name,
                csv_path=Path(settings.seed_csv).expanduser().resolve(),
                images=seed_images,
                copy_images=bool(settings.seed_copy_images),
                batch_size=batch_size,
                threshold=threshold,
                launch_function_name=launch.function.name,
                depends_on=[*self.qa_bucket.ready, self.table, launch.function, launch.role_policy],
                round_name=settings.seed_round,
            )

        bucket = self.qa_bucket.name
        self.bucket_name = bucket
        self.table_name = self.table.name
        # The deploy-time seed's round manifest when there is one; else the release-0.1 key (a job of
        # a later round takes its manifest from ``bulkqa job create --round``).
        manifest_key = rounds.manifest_key(self.seed.round_name, 1) if self.seed else shared.MANIFEST_KEY
        self.manifest_uri = pulumi.Output.concat("s3://", bucket, "/", manifest_key)
        self.ui_template_uri = pulumi.Output.concat("s3://", self.template_object.bucket, "/", self.template_object.key)
        self.output_path = pulumi.Output.concat("s3://", bucket, "/", shared.OUTPUT_PREFIX)
        self.launch_function_arn = self.functions["launch"].arn
        self.pre_labeling_function_arn = self.functions["pre_labeling"].arn
        self.post_labeling_function_arn = self.functions["post_labeling"].arn
        self.ground_truth_role_arn = self.ground_truth.role.arn

        self.register_outputs({attr: getattr(self, attr) for attr in STACK_OUTPUTS})
