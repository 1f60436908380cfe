"""Where the images come from, what the seed must do to make them reachable, and the checks before it.

- A local folder: each image is uploaded once into the QA bucket, at ``images/<relative path>``
  (``settings.IMAGE_PREFIX``). Nothing else in the project writes under ``images/``, and nothing
  a CSV says can put an image anywhere else: a row naming ``templates/bulkqa.liquid.html`` is
  uploaded to ``images/templates/bulkqa.liquid.html``, never over the worker template.
- An S3 prefix: images are referenced where they are (no request per image), or copied into
  the QA bucket's ``images/`` with ``copy`` (one CopyObject per image). A reference into the QA
  bucket itself may not name the project's own objects (rounds, batches, templates, Ground
  Truth's output, the manifest).

Local files are opened as the safe subset of what a folder can hold: **regular files inside the
folder**, reached without following any symbolic link. Each folder on the way and the file are
``lstat``-ed (relative to the folder's open descriptor) before anything is opened, so a FIFO or a
device is refused without ever being opened (opening a FIFO blocks; opening a tape device can
rewind it); the file is then opened ``O_NOFOLLOW | O_NONBLOCK`` and ``fstat``-ed again, so a file
swapped for a link in between is refused too. Every symbolic link is refused, even one that points
inside the folder: a vendor's archive can carry ``passwd -> /etc/passwd``, and a link inside
would make one file two items. The folder given with ``--images`` may itself be a link.

Checks before any write (``check_local_images``, ``check_s3_images``): a wrong ``--images`` is
refused with a summary ("0 of 189 images found under DIR — check --images") and at most 20 names,
instead of one error per row after the table has been written.
"""

from __future__ import annotations

import errno
import mimetypes
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from botocore.exceptions import ClientError

from handlers.s3_uri import S3Uri, parse_s3_uri
from handlers.settings import BATCH_PREFIX, IMAGE_PREFIX, MANIFEST_KEY, OUTPUT_PREFIX, ROUND_PREFIX, TEMPLATE_KEY

MAX_LISTED = 20  # names shown when images are missing
S3_SAMPLE_SIZE = 5  # HeadObject requests before a seed from S3
# Keys of the QA bucket that are the project's own: an image reference may never name them.
RESERVED_PREFIXES = (ROUND_PREFIX, BATCH_PREFIX, OUTPUT_PREFIX, TEMPLATE_KEY.rsplit("/", 1)[0] + "/")
RESERVED_KEYS = (MANIFEST_KEY,)
_NOT_FOUND_CODES = {"NoSuchKey", "404", "NotFound"}
_DENIED_CODES = {"AccessDenied", "403", "Forbidden", "AllAccessDisabled"}
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FD = os.open in os.supports_dir_fd and os.stat in os.supports_dir_fd and bool(_O_NOFOLLOW)


class ImageMissingError(LookupError):
    """The image a row names is not where the source says (or cannot be used): that row is skipped."""


class ImageRefusedError(ImageMissingError):
    """The path names something that is not a regular file inside the folder (a link, FIFO, device)."""


def image_key(path: str) -> str:
    """The QA bucket key of an uploaded or copied image: ``images/<normalised relative path>``."""
    return f"{IMAGE_PREFIX}{path.lstrip('/')}"


def reserved_key_reason(uri: S3Uri, qa_bucket: str) -> str | None:
    """Why ``uri`` may not be used as an image (it is one of the project's own objects), or None."""
    if uri.bucket != qa_bucket or uri.key.startswith(IMAGE_PREFIX):
        return None
    if uri.key in RESERVED_KEYS or uri.key.startswith(RESERVED_PREFIXES):
        return f"image {uri} is one of the QA bucket's own objects, not an image"
    return None


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link (links are not followed)"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


@dataclass(frozen=True)
class LocalImages:
    root: Path

    def needs_transfer(self) -> bool:
        return True

    def url(self, path: str, bucket: str) -> str:
        return str(S3Uri(bucket, image_key(path)))

    def check(self, path: str, bucket: str | None = None) -> str | None:
        """Why the row's image cannot be used (for the CSV reader's ``image_check``); local paths always can."""
        return None

    def problem(self, path: str) -> str | None:
        """Why ``path`` is not a usable image file (missing, a link, a FIFO...), without opening it; or None."""
        try:
            self._open(path, open_file=False)
        except ImageMissingError as err:
            return str(err)
        return None

    def open(self, path: str) -> BinaryIO:
        """The image's bytes, opened safely (see the module docstring); ``ImageMissingError`` if not usable."""
        descriptor = self._open(path, open_file=True)
        assert descriptor is not None
        return os.fdopen(descriptor, "rb")

    def _open(self, path: str, *, open_file: bool) -> int | None:
        """The file's descriptor once every check passed (None when only checking)."""
        shown = self.root / path
        parts = [part for part in path.split("/") if part]
        if not parts or any(part in (".", "..") for part in parts):
            raise ImageRefusedError(f"image path {path!r} is not a normalised relative path")
        try:
            if not _DIR_FD:
                return self._open_by_path(parts, open_file=open_file)
            folder = os.open(self.root, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
            try:
                for depth, part in enumerate(parts):
                    info = os.stat(part, dir_fd=folder, follow_symlinks=False)
                    last = depth == len(parts) - 1
                    if last and not stat.S_ISREG(info.st_mode):
                        raise ImageRefusedError(f"image file {shown} is {_kind(info.st_mode)}, not a regular file")
                    if not last and not stat.S_ISDIR(info.st_mode):
                        where = self.root.joinpath(*parts[: depth + 1])
                        kind = "not a folder" if stat.S_ISREG(info.st_mode) else f"is {_kind(info.st_mode)}"
                        raise ImageRefusedError(f"image file {shown}: {where} {kind.removeprefix('is ')}")
                    if last and not open_file:
                        return None
                    flags = os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC | (_O_NONBLOCK if last else _O_DIRECTORY)
                    opened = os.open(part, flags, dir_fd=folder)
                    os.close(folder)
                    folder = opened
                    if last:
                        again = os.fstat(opened)
                        if not stat.S_ISREG(again.st_mode) or (again.st_dev, again.st_ino) != (
                            info.st_dev,
                            info.st_ino,
                        ):
                            raise ImageRefusedError(f"image file {shown} changed while it was being opened")
                        folder = -1
                        return opened
            finally:
                if folder >= 0:
                    os.close(folder)
        except ImageMissingError:
            raise
        except (FileNotFoundError, NotADirectoryError) as err:
            raise ImageMissingError(f"image file {shown} not found") from err
        except OSError as err:
            if err.errno == errno.ELOOP:  # swapped for a link between the check and the open
                raise ImageRefusedError(f"image file {shown} is a symbolic link (links are not followed)") from err
            raise ImageMissingError(f"image file {shown} cannot be read ({err.strerror or err})") from err
        raise AssertionError("unreachable")

    def _open_by_path(self, parts: list[str], *, open_file: bool) -> int | None:
        """Fallback without ``dir_fd`` (Windows): the same checks by path, then a plain open."""
        current = self.root
        for depth, part in enumerate(parts):
            current = current / part
            info = current.lstat()
            last = depth == len(parts) - 1
            if stat.S_ISLNK(info.st_mode) or (last and not stat.S_ISREG(info.st_mode)):
                raise ImageRefusedError(f"image file {self.root / '/'.join(parts)} is {_kind(info.st_mode)}")
            if not last and not stat.S_ISDIR(info.st_mode):
                raise ImageRefusedError(f"image file {self.root / '/'.join(parts)}: {current} is not a folder")
        if not open_file:
            return None
        return os.open(current, os.O_RDONLY | getattr(os, "O_BINARY", 0) | _O_NONBLOCK)

    def transfer(self, s3: Any, path: str, bucket: str) -> None:
        content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        with self.open(path) as body:
            s3.put_object(Bucket=bucket, Key=image_key(path), Body=body, ContentType=content_type)

    def __str__(self) -> str:
        return str(self.root)


@dataclass(frozen=True)
class S3Images:
    prefix: S3Uri
    copy: bool = False

    def needs_transfer(self) -> bool:
        return self.copy

    def source(self, path: str) -> S3Uri:
        return self.prefix.child(path)

    def url(self, path: str, bucket: str) -> str:
        return str(S3Uri(bucket, image_key(path))) if self.copy else str(self.source(path))

    def check(self, path: str, bucket: str) -> str | None:
        """Why the row's image may not be referenced (one of the QA bucket's own objects), or None."""
        return reserved_key_reason(self.source(path), bucket)

    def transfer(self, s3: Any, path: str, bucket: str) -> None:
        source = self.source(path)
        refused = reserved_key_reason(source, bucket)
        if refused:
            raise ImageRefusedError(refused)
        target = image_key(path)
        if (source.bucket, source.key) == (bucket, target):
            return  # already in place; S3 refuses to copy an object onto itself
        try:
            s3.copy_object(Bucket=bucket, Key=target, CopySource={"Bucket": source.bucket, "Key": source.key})
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in _NOT_FOUND_CODES:
                raise ImageMissingError(f"image {source} not found") from err
            raise

    def __str__(self) -> str:
        return str(self.prefix)


ImageSource = LocalImages | S3Images


def image_source(spec: str, *, copy: bool = False) -> ImageSource:
    """``s3://bucket/prefix`` or a local folder path (resolved once: the folder itself may be a link)."""
    if spec.startswith("s3://"):
        return S3Images(parse_s3_uri(spec, allow_empty_key=True), copy=copy)
    root = Path(spec)
    if not root.is_dir():
        raise ValueError(f"image folder {spec!r} does not exist or is not a folder")
    return LocalImages(root.resolve())


# ------------------------------------------------------------------------------------------------
# Checks before any write.
# ------------------------------------------------------------------------------------------------


@dataclass
class ImageCheck:
    """The outcome of checking the images a CSV names: counts, the first missing ones, a verdict."""

    where: str
    total: int = 0
    found: int = 0
    missing: list[tuple[str, str]] = field(default_factory=list)  # (path, reason), at most MAX_LISTED
    missing_count: int = 0
    sampled: bool = False  # only a sample was checked (S3)
    problem: str | None = None  # a reason to refuse that is not about single images

    @property
    def refused(self) -> bool:
        """Refuse the seed: a problem, or fewer than half the images found (a wrong --images)."""
        return self.problem is not None or (self.total > 0 and self.found * 2 < self.total)

    def summary(self) -> str:
        if self.problem is not None:
            return self.problem
        what = "sampled images" if self.sampled else "images"
        return f"{self.found:,} of {self.total:,} {what} found under {self.where} — check --images"

    def lines(self) -> list[str]:
        """The summary, then at most ``MAX_LISTED`` missing images with the reason, then how many more."""
        shown = [f"  {path}: {reason}" for path, reason in self.missing[:MAX_LISTED]]
        more = self.missing_count - len(shown)
        return [self.summary(), *shown, *([f"  ... and {more:,} more"] if more > 0 else [])]

    def add_missing(self, path: str, reason: str) -> None:
        self.missing_count += 1
        if len(self.missing) < MAX_LISTED:
            self.missing.append((path, reason))


def check_local_images(source: LocalImages, paths: Iterable[str]) -> ImageCheck:
    """``lstat`` each distinct path (no file is opened, no AWS request); see ``ImageCheck.refused``."""
    result = ImageCheck(str(source.root))
    seen: set[str] = set()
    for path in paths:
        if path in seen:
            continue
        seen.add(path)
        result.total += 1
        reason = source.problem(path)
        if reason is None:
            result.found += 1
        else:
            result.add_missing(path, _short(reason, source.root / path))
    return result


def _short(reason: str, file: Path) -> str:
    """``not found`` rather than ``image file /long/folder/sub/a.jpg not found`` under a line naming the path."""
    return reason.removeprefix(f"image file {file}").lstrip(": ") or reason


def _error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def check_s3_images(s3: Any, source: S3Images, sample: Sequence[str], *, max_workers: int = 16) -> ImageCheck:
    """One ListObjectsV2 on the prefix and a HeadObject on each of ``sample``: read-only, before any write.

    Refused: the bucket does not exist, nothing is under the prefix, or fewer than half of the sampled
    keys exist. A listing or a HeadObject that is denied proves nothing either way and is skipped
    (Ground Truth's role may be allowed to read what the seed's credentials cannot). The HeadObjects
    go out at once (they were a chain of round trips in front of every seed) and are judged in the
    sample's order, so the result is the same as one after the other.
    """
    prefix = source.prefix
    folder = prefix.key.strip("/")
    result = ImageCheck(str(prefix), sampled=True)
    try:
        listing = s3.list_objects_v2(Bucket=prefix.bucket, Prefix=f"{folder}/" if folder else "", MaxKeys=1)
    except ClientError as err:
        code = _error_code(err)
        if code == "NoSuchBucket":
            result.problem = f"bucket {prefix.bucket!r} does not exist — check --images"
            return result
        if code not in _DENIED_CODES:
            raise
    else:
        if not listing.get("KeyCount", len(listing.get("Contents", []))):
            result.problem = f"no objects under {prefix} — check --images"
            return result
    paths = list(dict.fromkeys(sample))

    def head(path: str) -> tuple[S3Uri, ClientError | None]:
        uri = source.source(path)
        try:
            s3.head_object(Bucket=uri.bucket, Key=uri.key)
        except ClientError as err:
            return uri, err
        return uri, None

    if len(paths) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(max_workers, len(paths))) as pool:
            answers = list(pool.map(head, paths))
    else:
        answers = [head(path) for path in paths]
    for path, (uri, error) in zip(paths, answers, strict=True):
        if error is not None:
            code = _error_code(error)
            if code in _NOT_FOUND_CODES:
                result.total += 1
                result.add_missing(path, f"{uri} not found")
                continue
            if code in _DENIED_CODES:
                continue
            raise error
        result.total += 1
        result.found += 1
    return result


class LocalImageTally:
    """``check_local_images`` row by row, for a pass that reads the CSV once: each distinct path is
    ``lstat``-ed once (an image under several labels is one image), the verdict is in ``result``."""

    def __init__(self, source: LocalImages) -> None:
        self.source = source
        self.result = ImageCheck(str(source.root))
        self._seen: dict[str, str | None] = {}

    def see(self, path: str) -> str | None:
        """Why the row's image cannot be used, or None; counted once per distinct path."""
        if path not in self._seen:
            reason = self.source.problem(path)
            self._seen[path] = reason
            self.result.total += 1
            if reason is None:
                self.result.found += 1
            else:
                self.result.add_missing(path, _short(reason, self.source.root / path))
        return self._seen[path]


class PathSample:
    """A deterministic sample of distinct image paths spread over the whole file (reservoir sampling
    with a fixed seed), for ``check_s3_images``: the same CSV always checks the same keys."""

    def __init__(self, size: int = S3_SAMPLE_SIZE, seed: int = 0) -> None:
        import random

        self.size = size
        self.paths: list[str] = []
        self._seen = 0
        self._random = random.Random(seed)

    def add(self, path: str) -> None:
        if path in self.paths:
            return
        self._seen += 1
        if len(self.paths) < self.size:
            self.paths.append(path)
            return
        slot = self._random.randrange(self._seen)
        if slot < self.size:
            self.paths[slot] = path
