"""Where the images come from, and what the seed must do to make them reachable.

- A local folder: each image is uploaded once into the QA bucket, at its relative path.
- An S3 prefix: images are referenced where they are (no request per image), or copied into
  the QA bucket with ``copy`` (one CopyObject per image).
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from handlers.s3_uri import S3Uri, parse_s3_uri


class ImageMissingError(LookupError):
    """The image a row names is not where the source says."""


@dataclass(frozen=True)
class LocalImages:
    root: Path

    def needs_transfer(self) -> bool:
        return True

    def url(self, path: str, bucket: str) -> str:
        return str(S3Uri(bucket, path))

    def transfer(self, s3: Any, path: str, bucket: str) -> None:
        file = self.root / path
        content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        try:
            body = file.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as err:
            raise ImageMissingError(f"image file {file} not found") from err
        except OSError as err:  # e.g. no permission: that row is skipped, like a missing file
            raise ImageMissingError(f"image file {file} cannot be read ({err.strerror or err})") from err
        s3.put_object(Bucket=bucket, Key=path, Body=body, ContentType=content_type)

    def __str__(self) -> str:
        return str(self.root)


@dataclass(frozen=True)
class S3Images:
    prefix: S3Uri
    copy: bool = False

    def needs_transfer(self) -> bool:
        return self.copy

    def url(self, path: str, bucket: str) -> str:
        return str(S3Uri(bucket, path)) if self.copy else str(self.prefix.child(path))

    def transfer(self, s3: Any, path: str, bucket: str) -> None:
        source = self.prefix.child(path)
        if (source.bucket, source.key) == (bucket, path):
            return  # already in place; S3 refuses to copy an object onto itself
        try:
            s3.copy_object(Bucket=bucket, Key=path, CopySource={"Bucket": source.bucket, "Key": source.key})
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in {"NoSuchKey", "404", "NotFound"}:
                raise ImageMissingError(f"image {source} not found") from err
            raise

    def __str__(self) -> str:
        return str(self.prefix)


ImageSource = LocalImages | S3Images


def image_source(spec: str, *, copy: bool = False) -> ImageSource:
    """``s3://bucket/prefix`` or a local folder path."""
    if spec.startswith("s3://"):
        return S3Images(parse_s3_uri(spec, allow_empty_key=True), copy=copy)
    root = Path(spec)
    if not root.is_dir():
        raise ValueError(f"image folder {spec!r} does not exist or is not a folder")
    return LocalImages(root)
