"""The component's outputs and the names ``__main__.py`` exports them under.

Stack outputs use the Python attribute names (snake_case): that is what ``bulkqa job`` reads from
``pulumi stack output --json``. (The generated multi-language SDKs expose the same outputs in
camelCase, as the provider schema does.)
"""

from __future__ import annotations

# Python attribute on BulkQA -> stack output name.
STACK_OUTPUTS: dict[str, str] = {
    name: name
    for name in (
        "bucket_name",
        "table_name",
        "manifest_uri",
        "ui_template_uri",
        "output_path",
        "launch_function_arn",
        "pre_labeling_function_arn",
        "post_labeling_function_arn",
        "ground_truth_role_arn",
    )
}
