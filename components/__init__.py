"""The BulkQA Pulumi component: ``from components import BulkQA, BulkQAArgs``.

One module per concern: ``args`` (inputs), ``bulkqa`` (the ComponentResource), ``storage``
(bucket), ``table``, ``functions`` (Lambdas, roles, log groups), ``ground_truth`` (the job's
role), ``template`` (worker UI), ``seeding`` (deploy-time seed), ``policies`` (IAM documents as
pure functions), ``lambda_package`` (the deterministic handler zip), ``naming``, ``config``
(stack config -> args), ``mocks`` (run a program under Pulumi mocks and record it).
"""

from components.args import BulkQAArgs
from components.bulkqa import BulkQA
from components.lambda_package import LambdaPackage, lambda_package, package_path_and_sha256
from components.outputs import STACK_OUTPUTS
from components.resource_types import COMPONENT_TYPE, RESOURCE_TYPES

__all__ = [
    "COMPONENT_TYPE",
    "RESOURCE_TYPES",
    "STACK_OUTPUTS",
    "BulkQA",
    "BulkQAArgs",
    "LambdaPackage",
    "lambda_package",
    "package_path_and_sha256",
]
