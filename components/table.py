"""The DynamoDB table of label items and worker votes (key schema from ``handlers.settings``)."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from ._handlers import settings
from .context import BuildContext

BILLING_MODE = "PAY_PER_REQUEST"


def create_table(
    ctx: BuildContext,
    *,
    table_name: pulumi.Input[str],
    point_in_time_recovery: pulumi.Input[bool],
    deletion_protection: pulumi.Input[bool],
) -> aws.dynamodb.Table:
    return aws.dynamodb.Table(
        ctx.child("table"),
        name=table_name,
        billing_mode=BILLING_MODE,
        hash_key=settings.ATTR_IMAGE_URL,
        range_key=settings.ATTR_LABEL,
        attributes=[
            aws.dynamodb.TableAttributeArgs(name=settings.ATTR_IMAGE_URL, type="S"),
            aws.dynamodb.TableAttributeArgs(name=settings.ATTR_LABEL, type="S"),
        ],
        point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=point_in_time_recovery),
        deletion_protection_enabled=deletion_protection,
        tags=ctx.tags,
        opts=ctx.opts(stateful=True, named=True),
    )
