"""The BulkQA Pulumi component: ``from components import BulkQA, BulkQAArgs``.

One module per concern: ``args`` (inputs), ``bulkqa`` (the ComponentResource), ``storage``
(bucket), ``table``, ``functions`` (Lambdas, roles, log groups), ``ground_truth`` (the job's
role), ``template`` (worker UI), ``seeding`` (deploy-time seed), ``policies`` (IAM documents as
pure functions), ``lambda_package`` (the deterministic handler zip), ``naming``, ``config``
(stack config -> args), ``mocks`` (run a program under Pulumi mocks and record it), ``tags``,
``provider`` (the plugin's component provider).

Modules import each other relatively, so the same files also load as ``bulkqa.stack`` (the
namespaced import for pip consumers whose project has its own ``components`` package).
"""

from .args import BulkQAArgs
from .bulkqa import BulkQA
from .lambda_package import LambdaPackage, lambda_package, package_path_and_sha256
from .outputs import STACK_OUTPUTS
from .resource_types import COMPONENT_TYPE, RESOURCE_TYPES

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
