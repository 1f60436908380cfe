"""One spelling per image: normalise the relative path a CSV row gives, or say why it is refused (pure).

Why: the path becomes the item's key (``s3://bucket/images/<path>``), so ``sub//a.jpg``,
``sub/./a.jpg``, ``./sub/a.jpg`` and ``sub\\a.jpg`` must all become ``sub/a.jpg`` or one file
turns into several items with split votes. The rules, in order:

1. Surrounding whitespace is dropped; an empty path is refused.
2. URLs (``s3://``, ``https://``, ``file:``) and Windows absolute paths (``C:\\x``, ``\\\\server``)
   are refused: the column holds paths *relative to* ``--images``.
3. Invisible, control and bidirectional-control characters are refused (``handlers.text_checks``).
4. A backslash is a folder separator (CSVs exported on Windows), so ``a\\b.jpg`` is ``a/b.jpg``.
   An S3 key that really contains a backslash cannot be referenced; rename it.
5. Empty and ``.`` segments are dropped; ``..`` removes the segment before it, as a file system
   does. A path that starts with ``/`` or climbs above the folder is refused.
6. A path that ends with ``/`` (or resolves to nothing) names a folder, not a file: refused.

Case and Unicode normalisation are left alone: S3 keys are exact bytes, so ``A.jpg`` and
``a.jpg`` (or an NFC and an NFD spelling) stay different images.
"""

from __future__ import annotations

import re

from handlers.text_checks import forbidden_character

MAX_IMAGE_PATH_BYTES = 900  # S3 keys stop at 1,024 bytes; leave room for the prefixes
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://|(file|data|javascript|https?|s3):)", re.IGNORECASE)
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:([\\/]|$)")


class ImagePathError(ValueError):
    """A row's image path cannot name a file inside the images folder; the message says why."""


def normalise_image_path(raw: str) -> str:
    """The canonical relative path for ``raw``; raise ``ImagePathError`` naming the reason."""
    text = raw.strip()
    if not text:
        raise ImagePathError("missing image path")
    if _WINDOWS_DRIVE.match(text) or text.startswith("\\\\"):
        raise ImagePathError(f"image path {raw!r} is an absolute Windows path: give it relative to --images")
    if _URL.match(text):
        raise ImagePathError(f"image path {raw!r} is a URL: give the path relative to --images")
    reason = forbidden_character(text, allow_spaces=True)
    if reason:
        raise ImagePathError(f"image path contains {reason}")
    path = text.replace("\\", "/")
    bounded = f"/{path}/"
    if "//" not in bounded and "/./" not in bounded and "/../" not in bounded:
        # Every segment is a name (no leading, trailing or doubled "/", no "." or ".."): the path is
        # already canonical; ``_resolve_segments`` would return it unchanged (a differential test
        # in tests/unit/test_seed_fast_paths.py checks that), so the common row skips the walk.
        normalised = path
    else:
        normalised = _resolve_segments(path, raw)
    if len(normalised.encode("utf-8")) > MAX_IMAGE_PATH_BYTES:
        raise ImagePathError(f"image path is longer than {MAX_IMAGE_PATH_BYTES} bytes")
    return normalised


def _resolve_segments(path: str, raw: str) -> str:
    """Rules 5 and 6 on a path with ``/`` separators: drop empty and ``.`` segments, apply ``..``."""
    if path.startswith("/"):
        raise ImagePathError(f"image path {raw!r} must be relative and stay inside the image folder")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise ImagePathError(f"image path {raw!r} must be relative and stay inside the image folder")
            parts.pop()
            continue
        parts.append(part)
    if not parts or path.split("/")[-1] in ("", ".", ".."):
        raise ImagePathError(f"image path {raw!r} names a folder, not a file")
    return "/".join(parts)
