"""Parse and build ``s3://bucket/key`` URIs (pure)."""

from __future__ import annotations

from dataclasses import dataclass


class S3UriError(ValueError):
    """Raised for a string that is not an ``s3://bucket/key`` URI."""


@dataclass(frozen=True)
class S3Uri:
    bucket: str
    key: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def child(self, relative: str) -> S3Uri:
        """The URI of ``relative`` below this one, treating this key as a folder."""
        prefix = self.key.strip("/")
        key = f"{prefix}/{relative.lstrip('/')}" if prefix else relative.lstrip("/")
        return S3Uri(self.bucket, key)


def parse_s3_uri(value: str, *, allow_empty_key: bool = False) -> S3Uri:
    """Split ``s3://bucket/key``; a folder URI may have an empty key when ``allow_empty_key``."""
    if not isinstance(value, str) or not value.startswith("s3://"):
        raise S3UriError(f"not an s3:// URI: {value!r}")
    bucket, _, key = value[len("s3://") :].partition("/")
    if not bucket:
        raise S3UriError(f"no bucket in S3 URI: {value!r}")
    if not key and not allow_empty_key:
        raise S3UriError(f"no object key in S3 URI: {value!r}")
    return S3Uri(bucket, key)
