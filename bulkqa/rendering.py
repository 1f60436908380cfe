"""Render the worker template the way Ground Truth does, with python-liquid.

Ground Truth renders a custom template with Liquid: the pre-labeling function's ``taskInput`` is
``task.input``, output is HTML-escaped by default (``escape`` only makes that explicit and never
escapes twice, ``skip_autoescape`` opts out), and the extra filters ``grant_read_access`` (an
``s3://`` URI to a short-lived HTTPS URL) and ``to_json`` exist. This module reproduces that,
with ``grant_read_access`` backed by a URL resolver you choose:

- ``url_resolver(s3_client=...)`` presigns ``s3://`` URIs (against AWS or an emulator endpoint);
- ``url_resolver(base_dir=...)`` turns local paths into ``file://`` URLs, or into whatever
  ``local_url`` returns (the preview server maps them to its own ``/images/...`` URLs).

``render_task(template_text, source_ref_items, resolve_url)`` is what the preview command and the
end-to-end suite use.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from liquid import Environment, Markup, is_undefined

from handlers.s3_uri import S3UriError, parse_s3_uri

# The script tag Ground Truth templates load; the preview swaps it for a local stand-in.
CROWD_ELEMENTS_URL = "https://assets.crowd.aws/crowd-html-elements.js"
# Ground Truth's grant_read_access tokens are short-lived; an hour is plenty for a preview.
DEFAULT_URL_EXPIRY_SECONDS = 3600
# URLs the browser can already load as they are.
PASS_THROUGH_SCHEMES = ("http://", "https://", "data:")

UrlResolver = Callable[[str], str]


class UrlResolutionError(ValueError):
    """``grant_read_access`` was given something it cannot turn into a URL."""


def url_resolver(
    *,
    s3_client: Any | None = None,
    base_dir: Path | str | None = None,
    local_url: Callable[[Path], str] | None = None,
    expires_in: int = DEFAULT_URL_EXPIRY_SECONDS,
) -> UrlResolver:
    """A ``grant_read_access`` implementation.

    - ``s3://bucket/key`` -> a presigned GET URL from ``s3_client`` (an error without one);
    - ``http(s)://`` and ``data:`` URLs -> unchanged;
    - ``file://`` URLs and local paths (relative ones against ``base_dir``) -> ``local_url(path)``,
      or the path's ``file://`` URL when no ``local_url`` is given.
    """
    root = Path(base_dir) if base_dir is not None else Path.cwd()

    def resolve(value: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise UrlResolutionError(f"grant_read_access needs a URI or path, got {value!r}")
        if value.startswith("s3://"):
            if s3_client is None:
                raise UrlResolutionError(f"cannot presign {value}: no S3 client (give an endpoint or region)")
            try:
                location = parse_s3_uri(value)
            except S3UriError as err:
                raise UrlResolutionError(str(err)) from err
            return s3_client.generate_presigned_url(
                "get_object", Params={"Bucket": location.bucket, "Key": location.key}, ExpiresIn=expires_in
            )
        if value.startswith(PASS_THROUGH_SCHEMES):
            return value
        if value.startswith("file://"):
            path = Path(unquote(urlparse(value).path))
        else:
            path = Path(value)
            if not path.is_absolute():
                path = root / path
        path = path.resolve()
        return local_url(path) if local_url is not None else path.as_uri()

    return resolve


def make_environment(resolve_url: UrlResolver, *, autoescape: bool = True) -> Environment:
    """A Liquid environment with Ground Truth's extra filters.

    ``autoescape=True`` (the default) is what Ground Truth does; ``False`` is there for tests that
    check a template escapes by itself.
    """
    env = Environment(autoescape=autoescape)
    env.filters["grant_read_access"] = lambda value: resolve_url(str(value))
    env.filters["to_json"] = lambda value: json.dumps(None if is_undefined(value) else value, ensure_ascii=False)
    env.filters["skip_autoescape"] = lambda value: Markup(str(value))
    return env


def render_task_input(
    template_text: str,
    task_input: Mapping[str, Any],
    resolve_url: UrlResolver,
    *,
    autoescape: bool = True,
) -> str:
    """Render ``template_text`` with ``task.input = task_input`` (a pre-labeling ``taskInput``)."""
    env = make_environment(resolve_url, autoescape=autoescape)
    return env.from_string(template_text).render(task={"input": dict(task_input)})


def render_task(
    template_text: str,
    source_ref_items: Sequence[Mapping[str, Any]],
    resolve_url: UrlResolver,
    *,
    autoescape: bool = True,
) -> str:
    """Render the worker page for one batch, as Ground Truth does after our pre-labeling function.

    ``source_ref_items`` are the batch's ``{"s3_image_url", "label", "confidence"}`` dicts, i.e.
    the pre-labeling response's ``taskInput.sourceRef``.
    """
    items = [dict(item) for item in source_ref_items]
    return render_task_input(template_text, {"sourceRef": items}, resolve_url, autoescape=autoescape)
