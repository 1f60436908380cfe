"""The inputs of the BulkQA component.

No ``from __future__ import annotations`` here: Pulumi's component-provider analyzer reads these
annotations at runtime to infer the package schema (``pulumi package add``), and the docstring
under each field becomes the property's description in the generated SDKs.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

DEFAULT_LOG_RETENTION_DAYS = 14
DEFAULT_LOG_LEVEL = "INFO"


class BulkQAArgs:
    """Settings of one BulkQA stack. Every field is optional: ``BulkQAArgs()`` declares a working stack."""

    name_prefix: str | None
    """Prefix of every physical resource name (functions, roles, table, log groups, bucket prefix);
    an 8-character hash of project, stack, region and component follows it, so names never collide.
    Letters, digits and dashes, at most 32 characters. Default: ``<component name>-<stack>``."""

    bucket_name: str | None
    """Exact name of the QA bucket. Default: a unique name AWS derives from the prefix."""

    batch_size: pulumi.Input[int] | None
    """Images per Ground Truth task (1-100), the launch function's default. Default 25. May be an
    output of another resource (a whole number)."""

    confidence_threshold: pulumi.Input[float] | None
    """Only labels with a confidence at or above this are queued for review. Default 80."""

    log_level: pulumi.Input[str] | None
    """Log level of the functions (DEBUG, INFO, WARNING, ERROR). Default INFO."""

    tags: pulumi.Input[Mapping[str, pulumi.Input[str]]] | None
    """Tags added to every taggable resource (merged over the component's own tags); at most 48.
    S3 objects are never tagged."""

    log_retention_days: pulumi.Input[int] | None
    """Retention of the functions' CloudWatch log groups, in days. Default 14."""

    data_protection: bool | None
    """Protect the data: versioning, point-in-time recovery, deletion protection, Pulumi ``protect``
    on the bucket and table, and no force-destroy of a non-empty bucket. Default false (on for prod)."""

    versioning: pulumi.Input[bool] | None
    """S3 versioning of the QA bucket. Default: the value of ``data_protection``."""

    point_in_time_recovery: pulumi.Input[bool] | None
    """DynamoDB point-in-time recovery. Default: the value of ``data_protection``."""

    deletion_protection: pulumi.Input[bool] | None
    """DynamoDB deletion protection. Default: the value of ``data_protection``."""

    extra_image_buckets: pulumi.Input[Sequence[pulumi.Input[str]]] | None
    """Buckets holding images referenced in place (not copied into the QA bucket). Ground Truth and the
    launch function get read access to them; each also needs the CORS rule Ground Truth requires."""

    worker_template_path: str | None
    """Local path of the worker UI (Liquid/HTML). Default: ``worker_template/bulkqa.liquid.html``."""

    seed_csv: str | None
    """Local path of a corpus CSV to seed at deploy time (uploaded, then the launch function runs on it).
    The seed re-runs whenever the file's SHA-256 changes. Default: no seeding."""

    seed_images: str | None
    """``s3://bucket/prefix`` where the seed CSV's images are. Default: the QA bucket's root. A bucket
    other than the QA bucket is added to the readable image buckets."""

    seed_copy_images: bool | None
    """Copy the seed images into the QA bucket instead of referencing them in place. Default false."""

    seed_round: str | None
    """The QA round the deploy-time seed writes (letters, digits, ``-``, ``_``; at most 64). Default:
    ``deploy-<12 hex of the CSV's SHA-256>``, a new round whenever the CSV changes."""

    def __init__(
        self,
        *,
        name_prefix: str | None = None,
        bucket_name: str | None = None,
        batch_size: pulumi.Input[int] | None = None,
        confidence_threshold: pulumi.Input[float] | None = None,
        log_level: pulumi.Input[str] | None = None,
        tags: pulumi.Input[Mapping[str, pulumi.Input[str]]] | None = None,
        log_retention_days: pulumi.Input[int] | None = None,
        data_protection: bool | None = None,
        versioning: pulumi.Input[bool] | None = None,
        point_in_time_recovery: pulumi.Input[bool] | None = None,
        deletion_protection: pulumi.Input[bool] | None = None,
        extra_image_buckets: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None,
        worker_template_path: str | None = None,
        seed_csv: str | None = None,
        seed_images: str | None = None,
        seed_copy_images: bool | None = None,
        seed_round: str | None = None,
    ) -> None:
        self.name_prefix = name_prefix
        self.bucket_name = bucket_name
        self.batch_size = batch_size
        self.confidence_threshold = confidence_threshold
        self.log_level = log_level
        self.tags = tags
        self.log_retention_days = log_retention_days
        self.data_protection = data_protection
        self.versioning = versioning
        self.point_in_time_recovery = point_in_time_recovery
        self.deletion_protection = deletion_protection
        self.extra_image_buckets = extra_image_buckets
        self.worker_template_path = worker_template_path
        self.seed_csv = seed_csv
        self.seed_images = seed_images
        self.seed_copy_images = seed_copy_images
        self.seed_round = seed_round

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(name for name in cls.__annotations__ if not name.startswith("_"))

    @classmethod
    def coerce(cls, value: "BulkQAArgs | Mapping[str, Any] | None") -> "BulkQAArgs":
        """Accept an instance, ``None``, or the dict of Python names the component provider passes."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if type(value).__name__ == cls.__name__ and hasattr(value, "field_names"):
            # The same class loaded under the other import name (``components`` and ``bulkqa.stack``).
            value = {n: getattr(value, n) for n in value.field_names() if getattr(value, n, None) is not None}
        if isinstance(value, Mapping):
            unknown = set(value) - set(cls.field_names())
            if unknown:
                raise TypeError(f"unknown BulkQA arguments: {', '.join(sorted(unknown))}")
            return cls(**dict(value))
        raise TypeError(f"BulkQA args must be BulkQAArgs or a mapping, not {type(value).__name__}")

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.field_names() if getattr(self, n) is not None)
        return f"BulkQAArgs({shown})"
