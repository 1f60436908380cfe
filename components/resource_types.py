"""The type tokens BulkQA can declare: the component itself and the children it may create.

Kept deliberately small and standard, so an emulator harness can replay a mocked deployment with
plain boto3 calls (one handler per token).
"""

from __future__ import annotations

COMPONENT_TYPE = "bulkqa:index:BulkQA"

RESOURCE_TYPES: tuple[str, ...] = (
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketObjectv2:BucketObjectv2",
    "aws:dynamodb/table:Table",
    "aws:iam/role:Role",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:lambda/function:Function",
    "aws:lambda/invocation:Invocation",
)
"""Children only (the component's own token is ``COMPONENT_TYPE``). ``Invocation`` and the second
``BucketObjectv2`` (the seed CSV) appear only when seeding is configured."""
