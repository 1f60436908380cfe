"""Which IAM actions a function's code needs, read from its source (pure; no AWS, no Pulumi).

Why: the functions' policies (``components.policies``) spell their actions out, and the handlers
change under them (a new ``query`` here, a ``put_item`` there). A unit test compares the two:
every boto3 call found in a function's import closure must be allowed by its role, so a handler
change that needs a new permission fails a unit test instead of the first real job. The e2e suite
checks the same at run time with IAM enforced in the emulator; this catches it without one.

What it reads: calls ``<anything>.<method>(...)`` whose method is a boto3 S3 or DynamoDB
operation below, and ``get_paginator("<operation>")``. Resource scoping (which prefix, which
table) is not derived here; the policy tests check that.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

from .source_parsing import parse_file

# boto3 client method -> the IAM actions it needs.
METHOD_ACTIONS: Mapping[str, tuple[str, ...]] = {
    # S3
    "get_object": ("s3:GetObject",),
    "head_object": ("s3:GetObject",),
    "download_file": ("s3:GetObject",),
    "download_fileobj": ("s3:GetObject",),
    "put_object": ("s3:PutObject",),
    "upload_file": ("s3:PutObject",),
    "upload_fileobj": ("s3:PutObject",),
    "copy_object": ("s3:GetObject", "s3:PutObject"),
    "delete_object": ("s3:DeleteObject",),
    "delete_objects": ("s3:DeleteObject",),
    "list_objects_v2": ("s3:ListBucket",),
    "list_objects": ("s3:ListBucket",),
    # DynamoDB
    "get_item": ("dynamodb:GetItem",),
    "put_item": ("dynamodb:PutItem",),
    "update_item": ("dynamodb:UpdateItem",),
    "delete_item": ("dynamodb:DeleteItem",),
    "batch_get_item": ("dynamodb:BatchGetItem",),
    "batch_write_item": ("dynamodb:BatchWriteItem",),
    "query": ("dynamodb:Query",),
    "scan": ("dynamodb:Scan",),
    "describe_table": ("dynamodb:DescribeTable",),
    "transact_get_items": ("dynamodb:GetItem",),
    "transact_write_items": (),  # the actions of the operations inside: TRANSACT_OPERATIONS
}
# TransactWriteItems needs the action of each kind of operation it carries; a module calling it
# is read for the dict keys naming them ({"Put": {...}}).
TRANSACT_OPERATIONS: Mapping[str, str] = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


def calls_in(path: Path) -> set[str]:
    """The boto3 operations a module calls (method names, paginated ones included)."""
    tree = parse_file(path)
    found: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        method = node.func.attr
        if method == "get_paginator" and node.args and isinstance(node.args[0], ast.Constant):
            operation = node.args[0].value
            if isinstance(operation, str) and operation in METHOD_ACTIONS:
                found.add(operation)
        elif method in METHOD_ACTIONS:
            found.add(method)
    return found


def transact_operations_in(path: Path) -> set[str]:
    """Kinds of TransactWriteItems operation a module builds (dict keys ``Put``, ``Update``…)."""
    tree = parse_file(path)
    return {
        key.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        for key in node.keys
        if isinstance(key, ast.Constant) and key.value in TRANSACT_OPERATIONS
    }


def actions_needed(paths: Iterable[Path]) -> dict[str, set[str]]:
    """IAM action -> the module files that need it."""
    needed: dict[str, set[str]] = {}
    for path in paths:
        methods = calls_in(path)
        actions = {action for method in methods for action in METHOD_ACTIONS[method]}
        if "transact_write_items" in methods:
            actions |= {TRANSACT_OPERATIONS[kind] for kind in transact_operations_in(path)}
        for action in actions:
            needed.setdefault(action, set()).add(path.name)
    return needed
