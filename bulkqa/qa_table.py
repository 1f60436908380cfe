"""The QA table's key schema as boto3 wants it, for harnesses that create the table without Pulumi.

The component declares the same schema through Pulumi; tests, the benchmark and local
experiments create it with boto3 from here, so there is one boto3 spelling of it.
"""

from __future__ import annotations

from typing import Any

from handlers.settings import ATTR_IMAGE_URL, ATTR_LABEL


def create_qa_table(ddb: Any, table: str) -> None:
    """Create an on-demand table keyed by ``s3_image_url`` (partition) and ``label`` (sort)."""
    ddb.create_table(
        TableName=table,
        KeySchema=[
            {"AttributeName": ATTR_IMAGE_URL, "KeyType": "HASH"},
            {"AttributeName": ATTR_LABEL, "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": ATTR_IMAGE_URL, "AttributeType": "S"},
            {"AttributeName": ATTR_LABEL, "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
