"""Ground Truth's built-in image classification functions, per region (pure).

Built-in task types run AWS-owned Lambda functions: ``PRE-ImageMultiClass`` before a task and
``ACS-ImageMultiClass`` to consolidate answers. Their ARNs are listed per region in the
CreateLabelingJob API reference (``HumanTaskConfig.PreHumanTaskLambdaArn`` and
``AnnotationConsolidationConfig.AnnotationConsolidationLambdaArn``); the table below is that list,
and a unit test checks it against the copy of the reference that botocore's service model carries,
so a region added there and missing here fails the build instead of a user's job.
"""

from __future__ import annotations

from dataclasses import dataclass

# Region -> the AWS account that owns Ground Truth's built-in functions there.
BUILTIN_FUNCTION_ACCOUNTS: dict[str, str] = {
    "us-east-1": "432418664414",
    "us-east-2": "266458841044",
    "us-west-2": "081040173940",
    "ca-central-1": "918755190332",
    "eu-west-1": "568282634449",
    "eu-west-2": "487402164563",
    "eu-central-1": "203001061592",
    "ap-northeast-1": "477331159723",
    "ap-northeast-2": "845288260483",
    "ap-south-1": "565803892007",
    "ap-southeast-1": "377565633583",
    "ap-southeast-2": "454466003867",
}
PRE_FUNCTION = "PRE-ImageMultiClass"
ACS_FUNCTION = "ACS-ImageMultiClass"


class UnsupportedRegionError(ValueError):
    """Ground Truth's built-in image classification is not offered in this region."""


@dataclass(frozen=True)
class BuiltinFunctions:
    pre_human_task_lambda_arn: str
    annotation_consolidation_lambda_arn: str


def image_classification_functions(region: str) -> BuiltinFunctions:
    """The region's PRE-/ACS-ImageMultiClass ARNs; an unknown region raises, listing the known ones."""
    account = BUILTIN_FUNCTION_ACCOUNTS.get(region)
    if account is None:
        known = ", ".join(sorted(BUILTIN_FUNCTION_ACCOUNTS))
        raise UnsupportedRegionError(
            f"Ground Truth's built-in image classification is not available in region {region!r}; it runs in: {known}"
        )
    prefix = f"arn:aws:lambda:{region}:{account}:function:"
    return BuiltinFunctions(prefix + PRE_FUNCTION, prefix + ACS_FUNCTION)
