"""Stack configuration (``Pulumi.<stage>.yaml``) -> ``BulkQAArgs``.

Every knob is optional; an unset key keeps the component's default. Keys live in the project's
namespace (``bulkqa:batchSize``…); the table below is also what docs/deploy.md documents.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi

from .args import BulkQAArgs

# config key -> (BulkQAArgs field, kind)
CONFIG_KEYS: dict[str, tuple[str, str]] = {
    "namePrefix": ("name_prefix", "str"),
    "bucketName": ("bucket_name", "str"),
    "batchSize": ("batch_size", "int"),
    "confidenceThreshold": ("confidence_threshold", "float"),
    "logLevel": ("log_level", "str"),
    "tags": ("tags", "object"),
    "logRetentionDays": ("log_retention_days", "int"),
    "dataProtection": ("data_protection", "bool"),
    "versioning": ("versioning", "bool"),
    "pointInTimeRecovery": ("point_in_time_recovery", "bool"),
    "deletionProtection": ("deletion_protection", "bool"),
    "extraImageBuckets": ("extra_image_buckets", "object"),
    "workerTemplatePath": ("worker_template_path", "path"),
    "seedCsv": ("seed_csv", "path"),
    "seedImages": ("seed_images", "str"),
    "seedCopyImages": ("seed_copy_images", "bool"),
    "seedRound": ("seed_round", "str"),
}
COMPONENT_NAME_KEY = "componentName"
DEFAULT_COMPONENT_NAME = "bulkqa"


def _read(config: pulumi.Config, key: str, kind: str) -> Any:
    if kind == "int":
        return config.get_int(key)
    if kind == "float":
        return config.get_float(key)
    if kind == "bool":
        return config.get_bool(key)
    if kind == "object":
        return config.get_object(key)
    value = config.get(key)
    if kind == "path" and value:
        # Relative paths are relative to the project folder: Pulumi runs the program there.
        return str(Path(value).expanduser().resolve())
    return value


def args_from_config(config: pulumi.Config | None = None) -> BulkQAArgs:
    config = config or pulumi.Config()
    values = {field: _read(config, key, kind) for key, (field, kind) in CONFIG_KEYS.items()}
    return BulkQAArgs(**{k: v for k, v in values.items() if v is not None})


def component_name(config: pulumi.Config | None = None) -> str:
    return (config or pulumi.Config()).get(COMPONENT_NAME_KEY) or DEFAULT_COMPONENT_NAME
