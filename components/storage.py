"""The QA bucket: images, batch files, manifest, worker template and Ground Truth's output.

Public access blocked, SSE-S3 encryption at rest, a TLS-only bucket policy, versioning as
configured, and the CORS rule Ground Truth requires on input buckets (without it the worker's
browser cannot load the images).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from .context import BuildContext
from .policies import tls_only_bucket_policy

# Ground Truth's documented CORS requirement for input data buckets.
GROUND_TRUTH_CORS_RULE = {
    "allowed_headers": [],
    "allowed_methods": ["GET"],
    "allowed_origins": ["*"],
    "expose_headers": ["Access-Control-Allow-Origin"],
    "max_age_seconds": 3000,
}
SSE_ALGORITHM = "AES256"


@dataclass(frozen=True)
class QaBucket:
    bucket: aws.s3.Bucket
    public_access_block: aws.s3.BucketPublicAccessBlock
    encryption: aws.s3.BucketServerSideEncryptionConfiguration
    versioning: aws.s3.BucketVersioning
    cors: aws.s3.BucketCorsConfiguration
    policy: aws.s3.BucketPolicy

    @property
    def name(self) -> pulumi.Output[str]:
        return self.bucket.bucket

    @property
    def arn(self) -> pulumi.Output[str]:
        return self.bucket.arn

    @property
    def ready(self) -> list[pulumi.Resource]:
        """Depend on these before writing objects: the bucket is locked down and encrypted."""
        return [self.public_access_block, self.encryption, self.policy]


def versioning_status(enabled: bool) -> str:
    """``Suspended`` rather than ``Disabled`` for off: valid both on a new bucket and after ``Enabled``."""
    return "Enabled" if enabled else "Suspended"


def create_bucket(
    ctx: BuildContext,
    *,
    bucket_name: str | None,
    bucket_prefix: pulumi.Input[str],
    versioning: pulumi.Input[bool],
    force_destroy: bool,
) -> QaBucket:
    bucket = aws.s3.Bucket(
        ctx.child("bucket"),
        bucket=bucket_name,
        bucket_prefix=None if bucket_name else bucket_prefix,
        force_destroy=force_destroy,
        tags=ctx.tags,
        # An explicit name (bucket_name) must be freed before a replacement can take it.
        opts=ctx.opts(stateful=True, named=bool(bucket_name)),
    )
    public_access_block = aws.s3.BucketPublicAccessBlock(
        ctx.child("bucket-public-access"),
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=ctx.opts(),
    )
    encryption = aws.s3.BucketServerSideEncryptionConfiguration(
        ctx.child("bucket-encryption"),
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm=SSE_ALGORITHM
                ),
            )
        ],
        opts=ctx.opts(),
    )
    versioning_config = aws.s3.BucketVersioning(
        ctx.child("bucket-versioning"),
        bucket=bucket.id,
        versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
            status=pulumi.Output.from_input(versioning).apply(lambda on: versioning_status(bool(on)))
        ),
        opts=ctx.opts(),
    )
    cors = aws.s3.BucketCorsConfiguration(
        ctx.child("bucket-cors"),
        bucket=bucket.id,
        cors_rules=[aws.s3.BucketCorsConfigurationCorsRuleArgs(**GROUND_TRUTH_CORS_RULE)],
        opts=ctx.opts(),
    )
    policy = aws.s3.BucketPolicy(
        ctx.child("bucket-tls-only"),
        bucket=bucket.id,
        policy=bucket.arn.apply(lambda arn: json.dumps(tls_only_bucket_policy(arn))),
        # S3 rejects concurrent configuration changes on one bucket; the block goes first.
        opts=ctx.opts(depends_on=[public_access_block]),
    )
    return QaBucket(bucket, public_access_block, encryption, versioning_config, cors, policy)


def upload_file(
    ctx: BuildContext,
    suffix: str,
    *,
    bucket: pulumi.Input[str],
    key: str,
    path: Path,
    content_type: str,
    depends_on: Sequence[pulumi.Resource],
) -> aws.s3.BucketObjectv2:
    """A local file as an object of the QA bucket (re-uploaded when its content changes).

    No tags: S3 allows 10 per object, and the provider's ``defaultTags`` would be added to ours, so
    a tagged upload fails for a user with a few default tags. The bucket carries the tags.
    """
    return aws.s3.BucketObjectv2(
        ctx.child(suffix),
        bucket=bucket,
        key=key,
        source=pulumi.FileAsset(str(path)),
        content_type=content_type,
        opts=ctx.opts(depends_on=list(depends_on)),
    )
