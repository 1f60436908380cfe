"""``bulkqa preview``: the worker page of one batch, served on 127.0.0.1, no Ground Truth needed.

The page is the real template rendered the way Ground Truth renders it (``bulkqa.rendering``),
with the crowd-html-elements script swapped for a local stand-in (``bulkqa/assets``) that draws
``crowd-form``, ``crowd-card`` and ``crowd-checkbox`` and, on submit, produces the same JSON as
Ground Truth's crowd-form. The answer is shown on the page and POSTed back here; with ``--post``
it is handed to the post-labeling code exactly as Ground Truth would: a consolidation payload file
written to the bucket, and a consolidation event pointing at it. With ``--round R`` it walks the
round's tasks (its manifest parts), one page per task, as Ground Truth would hand them out.

The server is local but a browser is not a trusted client: any web page the user has open can
send requests to 127.0.0.1. So it answers only requests addressed to itself (``Host``, against DNS
rebinding), takes answers only from its own page (``Origin``, a per-run token in a header, JSON
content type, which forces a CORS preflight it never grants), and serves only files it chose:
presigned ``s3://`` images, or local files inside the folder given on the command line (resolved,
symlinks included, regular files only). Malformed requests get 400, never a traceback.
"""

from __future__ import annotations

import html
import json
import math
import mimetypes
import re
import secrets
import signal
import stat
import struct
import tempfile
import threading
import time
import webbrowser
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlsplit

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.markup import escape as rich_escape

from bulkqa.aws import clients, describe_aws_error
from bulkqa.manifests import ManifestTask, choose_parts, list_round_parts, manifest_uri, read_tasks
from bulkqa.rendering import CROWD_ELEMENTS_URL, UrlResolutionError, render_task, url_resolver
from handlers.batch_store import ObjectUnreadableError, load_batch
from handlers.consolidation import consolidate
from handlers.gt_events import DataObjectRef, parse_consolidation_event
from handlers.s3_uri import S3UriError, parse_s3_uri
from handlers.settings import OUTPUT_PREFIX
from handlers.task_pages import parse_page
from worker_template import read_template

HOST = "127.0.0.1"
ASSETS_DIR = Path(__file__).with_name("assets")
STAND_IN_FILE = "crowd-elements-stand-in.js"
STAND_IN_URL = f"/assets/{STAND_IN_FILE}"
PREVIEW_JOB_NAME = "bulkqa-preview"
DEFAULT_WORKER_ID = "preview-worker"
PLACEHOLDER_ACCOUNT = "000000000000"

_CROWD_SCRIPT = re.compile(
    r"<script\b[^>]*\bsrc\s*=\s*([\"'])" + re.escape(CROWD_ELEMENTS_URL) + r"\1[^>]*>\s*</script>", re.IGNORECASE
)
_MAX_ANSWER_BYTES = 1 << 20
TOKEN_HEADER = "X-BulkQA-Token"
TOKEN_META = "bulkqa-preview-token"
SUBMIT_META = "bulkqa-preview-submit"
_TASK_PATH = re.compile(r"^/task/(\d{1,9})(/submit)?$")


class PreviewError(Exception):
    """The batch or template cannot be previewed; the message says why."""


# --- The batch ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewBatch:
    """One batch as the pre-labeling function would hand it to Ground Truth."""

    items: list[Any]  # QueueItem or handlers.rounds.BatchEntry
    source: str  # the path or s3:// URI it came from
    s3_uri: str | None  # set for a batch in S3
    base_dir: Path | None  # set for a local batch: relative image paths start here
    inline: str | None = None  # a round's batch document: Ground Truth's dataObject.content

    @property
    def source_ref(self) -> list[dict[str, Any]]:
        """``taskInput.sourceRef``: what the template sees (never a gold item's known truth)."""
        return [item.task_json() if hasattr(item, "task_json") else item.to_json() for item in self.items]

    @property
    def data_object(self) -> dict[str, str]:
        """The batch as a Ground Truth data object: by reference, or inline (a round's document)."""
        if self.s3_uri:
            return {"s3Uri": self.s3_uri}
        if self.inline is not None:
            return {"content": self.inline}
        return {"content": json.dumps(self.source_ref, ensure_ascii=False)}

    @property
    def needs_s3(self) -> bool:
        return self.s3_uri is not None or any(i.s3_image_url.startswith("s3://") for i in self.items)


def load_preview_batch(batch: str, s3: Any | None = None) -> PreviewBatch:
    """Read a batch file (``[{"s3_image_url", "label", "confidence"}, ...]``) from disk or S3."""
    try:
        if batch.startswith("s3://"):
            if s3 is None:
                raise PreviewError(f"reading {batch} needs an S3 client")
            parse_s3_uri(batch)
            return PreviewBatch(load_batch(s3, DataObjectRef(batch, None)), batch, batch, None)
        path = Path(batch).expanduser()
        if not path.is_file():
            raise PreviewError(f"batch file {batch} does not exist")
        page = parse_page(path.read_bytes(), source=str(path))
        inline = page.document.text() if page.document is not None else None
        return PreviewBatch(list(page.entries), str(path), None, path.resolve().parent, inline)
    except (ValueError, ObjectUnreadableError) as err:  # S3UriError, the batch parser's, a missing object
        raise PreviewError(str(err)) from err


def task_batch(task: ManifestTask) -> PreviewBatch:
    """One task of a round's manifest, as the pre-labeling function would hand it to Ground Truth."""
    assert task.page is not None
    if task.source_ref is not None:  # release 0.1: a batch file named by source-ref
        return PreviewBatch(list(task.page.entries), task.where, task.source_ref, None)
    inline = task.page.document.text() if task.page.document is not None else None
    return PreviewBatch(list(task.page.entries), task.where, None, None, inline)


def local_image_path(path: Path, root: Path | None, source: str) -> Path:
    """``path`` if it is a regular file inside ``root`` once resolved (symlinks followed), else
    ``PreviewError``: the preview never serves a file the user did not put in that folder."""
    if root is None:
        raise PreviewError(
            f"image {path} (from {source}) is a local file: preview serves local images only from "
            "--images-dir DIR (or the folder of a local batch file)"
        )
    resolved, base = path.resolve(), root.resolve()
    if not resolved.is_relative_to(base):
        raise PreviewError(f"image {path} (from {source}) is outside {base}: not served")
    try:
        mode = resolved.stat().st_mode
    except OSError as err:
        raise PreviewError(f"image {path} (from {source}) does not exist") from err
    if not stat.S_ISREG(mode):
        raise PreviewError(f"image {path} (from {source}) is not a regular file: not served")
    return resolved


# --- The page ----------------------------------------------------------------------------------


@dataclass
class PreviewPage:
    """The HTML to serve, and the local files its image URLs point to."""

    html: str
    files: dict[str, Path] = field(default_factory=dict)  # URL path -> file


def preview_document(rendered: str, stand_in_url: str = STAND_IN_URL) -> str:
    """A standalone page around the rendered template, loading the stand-in instead of crowd-html-elements."""
    body, count = _CROWD_SCRIPT.subn(f'<script src="{stand_in_url}"></script>', rendered, count=1)
    if count != 1:
        raise PreviewError(f"the template does not load {CROWD_ELEMENTS_URL}; it cannot work in Ground Truth")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>BulkQA worker page (preview)</title>\n"
        '<link rel="icon" href="data:,">\n'
        "<style>body { margin: 0; background: #f5f7fa; }</style>\n"
        f"</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def build_page(
    batch: PreviewBatch,
    template_text: str,
    s3: Any | None = None,
    *,
    autoescape: bool = True,
    images_root: Path | None = None,
    url_prefix: str = "/images/",
) -> PreviewPage:
    """Render ``template_text`` for ``batch``; local images get ``/images/<n>.<ext>`` URLs on this server.

    Local images must be regular files inside ``images_root`` (default: a local batch file's
    folder; none for a batch from S3). ``autoescape`` is Ground Truth's behaviour; tests turn it
    off to check the template on its own.
    """
    page = PreviewPage("")
    by_path: dict[Path, str] = {}
    root = images_root if images_root is not None else batch.base_dir

    def local_url(path: Path) -> str:
        path = local_image_path(path, root, batch.source)
        if path not in by_path:
            by_path[path] = f"{url_prefix}{len(by_path)}{quote(path.suffix)}"
            page.files[by_path[path]] = path
        return by_path[path]

    resolve = url_resolver(s3_client=s3, base_dir=batch.base_dir or Path.cwd(), local_url=local_url)
    try:
        page.html = preview_document(render_task(template_text, batch.source_ref, resolve, autoescape=autoescape))
    except UrlResolutionError as err:
        raise PreviewError(str(err)) from err
    return page


# --- Handing the answer to the post-labeling code ----------------------------------------------


def consolidation_request(
    answer: dict[str, Any],
    batch: PreviewBatch,
    *,
    worker_id: str,
    payload_uri: str,
    region: str = "us-east-1",
    dataset_object_id: str = "0",
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Ground Truth's consolidation event and payload file for one worker's answer to ``batch``."""
    location = parse_s3_uri(payload_uri)
    event = {
        "version": "2018-10-16",
        "labelingJobArn": f"arn:aws:sagemaker:{region}:{PLACEHOLDER_ACCOUNT}:labeling-job/{PREVIEW_JOB_NAME}",
        "labelCategories": None,
        "labelAttributeName": PREVIEW_JOB_NAME,
        "roleArn": f"arn:aws:iam::{PLACEHOLDER_ACCOUNT}:role/{PREVIEW_JOB_NAME}",
        "payload": {"s3Uri": payload_uri},
        "outputConfig": f"s3://{location.bucket}/{OUTPUT_PREFIX}{PREVIEW_JOB_NAME}/annotations",
    }
    payload = [
        {
            "datasetObjectId": dataset_object_id,
            "dataObject": batch.data_object,
            "annotations": [
                {"workerId": worker_id, "annotationData": {"content": json.dumps(answer, ensure_ascii=False)}}
            ],
        }
    ]
    return event, payload


def payload_uri_for(bucket: str, when: datetime | None = None) -> str:
    """Where Ground Truth would put the request: ``output/<job>/annotations/.../iteration-1/<time>.json``."""
    stamp = (when or datetime.now(UTC)).strftime("%Y-%m-%d_%H:%M:%S.%f")
    return (
        f"s3://{bucket}/{OUTPUT_PREFIX}{PREVIEW_JOB_NAME}/annotations/consolidated-annotation/"
        f"consolidation-request/iteration-1/{stamp}.json"
    )


def post_answer(
    answer: dict[str, Any],
    batch: PreviewBatch,
    *,
    s3: Any,
    ddb: Any,
    table: str,
    bucket: str,
    worker_id: str = DEFAULT_WORKER_ID,
    region: str = "us-east-1",
) -> list[dict[str, Any]]:
    """Write the consolidation payload to ``bucket`` and run the post-labeling code on it.

    Returns the consolidation response (one entry per dataset object). This is
    ``handlers.post_labeling.handler`` with the clients and table given instead of taken from the
    environment, so it works against any ``--endpoint-url``.
    """
    uri = payload_uri_for(bucket)
    event, payload = consolidation_request(answer, batch, worker_id=worker_id, payload_uri=uri, region=region)
    location = parse_s3_uri(uri)
    s3.put_object(
        Bucket=location.bucket,
        Key=location.key,
        Body=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        ContentType="application/json",
    )
    return consolidate(s3, ddb, table, parse_consolidation_event(event))


def answer_summary(answer: dict[str, Any]) -> tuple[int, int]:
    """How many boxes were submitted ticked and unticked."""
    states = [v for box in answer.values() if isinstance(box, dict) for v in box.values() if isinstance(v, bool)]
    return sum(states), len(states) - sum(states)


def _check_answer(answer: Any) -> dict[str, Any]:
    """crowd-form's shape exactly: ``{"<name>": {"<value>": true|false}, ...}``, nothing deeper."""
    if not isinstance(answer, dict) or not all(
        isinstance(box, dict) and all(isinstance(v, bool) for v in box.values()) for box in answer.values()
    ):
        raise ValueError('expected {"<name>": {"<value>": true|false}, ...}')
    return answer


def parse_content_length(value: str | None) -> int:
    """The request's body length; ``ValueError`` unless it is plain decimal digits within our limit."""
    if value is None or not value.strip().isascii() or not value.strip().isdigit():
        raise ValueError(f"Content-Length {value!r} is not a number")
    length = int(value.strip())
    if length <= 0 or length > _MAX_ANSWER_BYTES:
        raise ValueError("the answer is empty or too large")
    return length


MAX_ANSWER_DEPTH = 8  # crowd-form's answer is 2 deep; anything much deeper is refused unparsed


def parse_answer(body: bytes) -> dict[str, Any]:
    """Decode a submitted answer; ``ValueError`` for anything but crowd-form's JSON (deep nesting too)."""
    from handlers.safe_json import TooDeepError, loads

    try:
        return _check_answer(loads(body, max_depth=MAX_ANSWER_DEPTH))
    except TooDeepError as err:
        raise ValueError("the JSON is nested too deeply") from err
    except RecursionError as err:  # json.loads of [[[[...]]]] thousands deep
        raise ValueError("the JSON is nested too deeply") from err
    except UnicodeDecodeError as err:
        raise ValueError(f"the body is not UTF-8: {err}") from err


# --- The server --------------------------------------------------------------------------------


@dataclass
class Submission:
    """One submit from the page, and what the post-labeling code made of it (with ``--post``)."""

    answer: dict[str, Any]
    result: list[dict[str, Any]] | None = None
    error: str | None = None
    task: int = 1  # which task of a round (1 for a single batch)


AnswerHook = Callable[[dict[str, Any]], list[dict[str, Any]] | None]
TaskAnswerHook = Callable[[int, dict[str, Any]], list[dict[str, Any]] | None]


def with_meta(page_html: str, metas: dict[str, str]) -> str:
    """``page_html`` with ``<meta name=... content=...>`` tags added at the start of its ``<head>``."""
    tags = "".join(f'<meta name="{html.escape(k)}" content="{html.escape(v)}">\n' for k, v in metas.items())
    head = re.search(r"<head\b[^>]*>\n?", page_html, re.IGNORECASE)
    if head is None:
        return tags + page_html
    return page_html[: head.end()] + tags + page_html[head.end() :]


class PreviewServer:
    """Serves one page (or a round's pages), the stand-in script and local images on 127.0.0.1.

    ``pages``/``count`` serve a round: ``pages(n)`` renders task ``n`` (1-based) when first asked.
    """

    def __init__(
        self,
        page: PreviewPage | None = None,
        *,
        on_answer: AnswerHook | None = None,
        on_submission: Callable[[Submission], None] | None = None,
        port: int = 0,
        pages: Callable[[int], PreviewPage] | None = None,
        count: int = 1,
        on_task_answer: TaskAnswerHook | None = None,
    ) -> None:
        if (page is None) == (pages is None):
            raise ValueError("give a page or pages")
        self.count = 1 if page is not None else count
        self._render = (lambda _: page) if page is not None else pages  # type: ignore[assignment,return-value]
        self.on_answer = on_answer
        self.on_task_answer = on_task_answer
        self.on_submission = on_submission
        self.submissions: list[Submission] = []
        self.token = secrets.token_urlsafe(32)  # per run: a page from another origin cannot know it
        self._lock = threading.Lock()
        self._rendered: dict[int, PreviewPage] = {}
        self._files: dict[str, Path] = {}
        self._httpd = ThreadingHTTPServer((HOST, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    @property
    def page(self) -> PreviewPage:
        return self.task_page(1)

    def task_page(self, task: int) -> PreviewPage:
        """Task ``task``'s page, rendered once (errors are raised, as PreviewError)."""
        with self._lock:
            if task not in self._rendered:
                rendered = self._render(task)
                self._rendered[task] = rendered
                self._files.update(rendered.files)
            return self._rendered[task]

    def allowed_hosts(self) -> set[str]:
        return {f"{HOST}:{self.port}", f"localhost:{self.port}"}

    def allowed_origins(self) -> set[str]:
        return {f"http://{host}" for host in self.allowed_hosts()}

    def start(self) -> PreviewServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="bulkqa-preview", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> PreviewServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def receive(self, answer: dict[str, Any], task: int = 1) -> Submission:
        """Record one answer and hand it to the hooks; errors are kept, not raised."""
        submission = Submission(answer, task=task)
        try:
            if self.on_task_answer is not None:
                submission.result = self.on_task_answer(task, answer)
            elif self.on_answer is not None:
                submission.result = self.on_answer(answer)
        except Exception as err:  # shown on the page and in the terminal; the server keeps going
            submission.error = f"{type(err).__name__}: {err}"
        with self._lock:
            self.submissions.append(submission)
        if self.on_submission is not None:
            self.on_submission(submission)
        return submission

    def _page_html(self, task: int) -> bytes:
        submit = "/submit" if task == 1 and self.count == 1 else f"/task/{task}/submit"
        return with_meta(self.task_page(task).html, {TOKEN_META: self.token, SUBMIT_META: submit}).encode()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "bulkqa-preview"

            def log_message(self, format: str, *args: Any) -> None:  # quiet: the command prints what matters
                pass

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("X-Content-Type-Options", "nosniff")
                self.send_header("Referrer-Policy", "no-referrer")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _text(self, status: int, text: str) -> None:
                self._send(status, text.encode(), "text/plain; charset=utf-8")

            def _json(self, status: int, data: Any) -> None:
                self._send(status, json.dumps(data, ensure_ascii=False).encode(), "application/json; charset=utf-8")

            def _addressed_to_us(self) -> bool:
                """Host must name this server: a DNS-rebinding page's requests name the attacker's host."""
                if (self.headers.get("Host") or "").strip().lower() not in server.allowed_hosts():
                    self._text(HTTPStatus.FORBIDDEN, "wrong Host: open the URL bulkqa preview printed")
                    return False
                origin = self.headers.get("Origin")
                if origin is not None and origin.strip().lower() not in server.allowed_origins():
                    self._text(HTTPStatus.FORBIDDEN, "requests from other origins are refused")
                    return False
                return True

            def _task(self, number: str) -> int | None:
                task = int(number)
                if not 1 <= task <= server.count:
                    self._text(HTTPStatus.NOT_FOUND, f"no task {task} (1 to {server.count})")
                    return None
                return task

            def do_HEAD(self) -> None:
                self.do_GET()

            def do_GET(self) -> None:
                if not self._addressed_to_us():
                    return
                path = unquote(urlsplit(self.path).path)
                match = _TASK_PATH.match(path)
                try:
                    if path in ("/", "/index.html") or (match and not match.group(2)):
                        task = self._task(match.group(1)) if match else 1
                        if task is not None:
                            self._send(HTTPStatus.OK, server._page_html(task), "text/html; charset=utf-8")
                    elif path == STAND_IN_URL:
                        body = (ASSETS_DIR / STAND_IN_FILE).read_bytes()
                        self._send(HTTPStatus.OK, body, "text/javascript; charset=utf-8")
                    elif path == "/submissions":
                        with server._lock:
                            data = [s.__dict__ for s in server.submissions]
                        self._json(HTTPStatus.OK, data)
                    else:
                        self._file(urlsplit(self.path).path)
                except PreviewError as err:
                    self._text(HTTPStatus.INTERNAL_SERVER_ERROR, f"cannot show this task: {err}")

            def _file(self, url_path: str) -> None:
                with server._lock:
                    file = server._files.get(url_path)
                if file is None or not file.is_file():
                    self._text(HTTPStatus.NOT_FOUND, "not found")
                    return
                kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
                self._send(HTTPStatus.OK, file.read_bytes(), kind)

            def do_POST(self) -> None:
                if not self._addressed_to_us():
                    return
                path = urlsplit(self.path).path
                match = _TASK_PATH.match(path)
                if path == "/submit":
                    task: int | None = 1
                elif match and match.group(2):
                    task = self._task(match.group(1))
                    if task is None:
                        return
                else:
                    self._text(HTTPStatus.NOT_FOUND, "not found")
                    return
                try:
                    length = parse_content_length(self.headers.get("Content-Length"))
                except ValueError as err:
                    self._json(HTTPStatus.BAD_REQUEST, {"message": str(err)})
                    return
                body = self.rfile.read(length)  # read before refusing, so the client sees the answer
                if not secrets.compare_digest(self.headers.get(TOKEN_HEADER, ""), server.token):
                    self._json(HTTPStatus.FORBIDDEN, {"message": "missing or wrong preview token"})
                    return
                content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
                if content_type != "application/json":
                    self._json(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {"message": "send application/json"})
                    return
                try:
                    answer = parse_answer(body)
                except ValueError as err:
                    self._json(HTTPStatus.BAD_REQUEST, {"message": f"not a crowd-form answer: {err}"})
                    return
                submission = server.receive(answer, task)
                status = HTTPStatus.OK if submission.error is None else HTTPStatus.BAD_GATEWAY
                self._json(status, {**submission.__dict__, "message": submission_message(submission)})

        return Handler


def submission_message(submission: Submission) -> str:
    confirmed, disconfirmed = answer_summary(submission.answer)
    text = f"Answer received: {confirmed} confirmed, {disconfirmed} not confirmed."
    if submission.error:
        return f"{text} The post-labeling function failed: {submission.error}"
    if submission.result is not None:
        images = [
            img
            for obj in submission.result
            for v in obj["consolidatedAnnotation"]["content"].values()
            for img in v["images"]
        ]
        yes = sum(img["WorkerConfirmCount"] for img in images)
        no = sum(img["WorkerDisconfirmCount"] for img in images)
        text += f" The post-labeling function counted {yes} confirm and {no} disconfirm votes."
    return text


# --- A demo batch, so the page can be tried with no data at all --------------------------------


def _png(width: int, height: int, pixel: Callable[[int, int], tuple[int, int, int]]) -> bytes:
    rows = b"".join(b"\x00" + bytes(c for x in range(width) for c in pixel(x, y)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def demo_image(index: int, *, odd_one: bool = False, size: int = 128) -> bytes:
    """A small synthetic photo: a shaded ball (or, for an odd one, a box) on a coloured backdrop."""
    hue = (index * 0.137) % 1.0
    sky = tuple(int(150 + 80 * (0.5 + 0.5 * math.cos(2 * math.pi * (hue + k / 3)))) for k in range(3))
    ground = tuple(int(c * 0.7) for c in sky)
    centre, radius = size / 2, size * 0.28

    def pixel(x: int, y: int) -> tuple[int, int, int]:
        dx, dy = x - centre, y - centre * 1.05
        inside = max(abs(dx), abs(dy)) < radius * 0.9 if odd_one else dx * dx + dy * dy < radius * radius
        if inside:
            light = max(0.0, 1.0 - ((dx + radius * 0.4) ** 2 + (dy + radius * 0.4) ** 2) ** 0.5 / (radius * 2))
            base = (70, 110, 60) if odd_one else (230, 110, 30)
            return tuple(min(255, int(c * (0.55 + 0.6 * light))) for c in base)  # type: ignore[return-value]
        return ground if y > size * 0.72 else sky  # type: ignore[return-value]

    return _png(size, size, pixel)


def write_demo_batch(folder: Path, *, label: str = "Ball", count: int = 25, odd: tuple[int, ...] = (2, 8, 13)) -> Path:
    """Write ``count`` demo images and a batch file referencing them (relative paths); return the batch."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "images").mkdir(exist_ok=True)
    items = []
    for i in range(count):
        name = f"images/demo-{i:03d}.png"
        (folder / name).write_bytes(demo_image(i, odd_one=i in odd))
        items.append({"s3_image_url": name, "label": label, "confidence": round(99.5 - (i * 7.3) % 19, 1)})
    batch = folder / "batch-00001.json"
    batch.write_text(json.dumps(items, ensure_ascii=False, indent=1), encoding="utf-8")
    return batch


# --- The command -------------------------------------------------------------------------------


def nav_bar(task: int, count: int, batch: PreviewBatch, round_name: str) -> str:
    """A bar above a round's page: which task this is, and links to the previous and next ones."""
    label = batch.items[0].label if batch.items else ""
    links = []
    if task > 1:
        links.append(f'<a href="/task/{task - 1}">&larr; previous</a>')
    if task < count:
        links.append(f'<a href="/task/{task + 1}">next &rarr;</a>')
    return (
        '<nav id="bulkqa-preview-nav" style="font: 14px system-ui, sans-serif; padding: 8px 16px; '
        'background: #102a43; color: #fff; display: flex; gap: 16px; flex-wrap: wrap;">'
        f"<span>Round {html.escape(round_name)}: task {task} of {count}, label "
        f"<b>{html.escape(label)}</b>, {len(batch.items)} image(s) ({html.escape(batch.source)})</span>"
        + "".join(links).replace("<a ", '<a style="color: #9fb3c8" ')
        + "</nav>\n"
    )


class RoundWalker:
    """A round's tasks as preview pages, rendered when first visited (presigned URLs expire)."""

    def __init__(
        self,
        round_name: str,
        tasks: list[ManifestTask],
        template_text: str,
        s3: Any | None,
        images_root: Path | None,
    ) -> None:
        self.round_name = round_name
        self.batches = [task_batch(task) for task in tasks]
        self.template_text = template_text
        self.s3 = s3
        self.images_root = images_root

    def __len__(self) -> int:
        return len(self.batches)

    def page(self, task: int) -> PreviewPage:
        batch = self.batches[task - 1]
        page = build_page(
            batch, self.template_text, self.s3, images_root=self.images_root, url_prefix=f"/task/{task}/images/"
        )
        bar = nav_bar(task, len(self.batches), batch, self.round_name)
        body = re.search(r"<body\b[^>]*>\n?", page.html, re.IGNORECASE)
        page.html = page.html[: body.end()] + bar + page.html[body.end() :] if body else bar + page.html
        return page


def load_round(s3: Any, bucket: str, round_name: str, part: int | None) -> list[ManifestTask]:
    """Every task of the round's manifest part(s): all parts, or ``part``."""
    parts = choose_parts(list_round_parts(s3, bucket, round_name), round_name, part, every=True)
    return [task for p in parts for task in read_tasks(s3, manifest_uri(bucket, round_name, p))]


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C so the temporary folder is removed on the way out."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated()


def preview(
    batch: Annotated[
        str | None,
        typer.Option(help="Batch file to show: a local JSON file (image paths relative to it) or s3://bucket/key."),
    ] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Show a generated batch of 25 images instead.")] = False,
    round_name: Annotated[
        str | None,
        typer.Option("--round", help="Walk this round's tasks (its manifest parts in --bucket), page by page."),
    ] = None,
    part: Annotated[int | None, typer.Option(min=1, help="With --round: only this manifest part.")] = None,
    images_dir: Annotated[
        Path | None,
        typer.Option(
            help="Folder local images may come from (default: a local batch file's folder). Nothing outside "
            "it is served.",
            exists=True,
            file_okay=False,
        ),
    ] = None,
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1 (0: any free port).")] = 0,
    endpoint_url: Annotated[
        str | None, typer.Option(help="AWS endpoint for s3:// batches, images and --post, e.g. an emulator's.")
    ] = None,
    region: Annotated[str | None, typer.Option(help="AWS region (default: your AWS configuration).")] = None,
    post: Annotated[
        bool, typer.Option("--post", help="Hand each submitted answer to the post-labeling function.")
    ] = False,
    table: Annotated[str | None, typer.Option(help="The DynamoDB table --post counts votes in.")] = None,
    bucket: Annotated[
        str | None,
        typer.Option(help="The QA bucket: --round's manifests, --post's payload (default: the batch's bucket)."),
    ] = None,
    worker_id: Annotated[str, typer.Option(help="Worker id the answers are posted under.")] = DEFAULT_WORKER_ID,
    template: Annotated[
        Path | None,
        typer.Option(help="Template to render (default: the packaged worker template).", exists=True, dir_okay=False),
    ] = None,
    open_browser: Annotated[bool, typer.Option("--open/--no-open", help="Open the page in a browser.")] = False,
) -> None:
    """Serve the worker page of one batch, or of each task of a round, on 127.0.0.1. Ctrl-C stops it.

    The page is the real template, rendered the way Ground Truth renders it, with a local
    stand-in for crowd-html-elements. Submitting shows the JSON Ground Truth would store; with
    --post it is also counted by the post-labeling function against --endpoint-url and --table.
    Only the page itself may submit (a per-run token); only s3:// images and files inside
    --images-dir are served.
    """
    console = Console()

    def fail(message: str) -> typer.Exit:
        console.print(f"[bold red]error:[/bold red] {rich_escape(message)}", highlight=False)
        return typer.Exit(2)

    if sum((batch is not None, demo, round_name is not None)) != 1:
        raise fail("give one of --batch FILE.json|s3://..., --round ROUND (with --bucket) or --demo")
    if part is not None and round_name is None:
        raise fail("--part needs --round")
    if round_name is not None and not bucket:
        raise fail("--round needs --bucket, the QA bucket its manifests are in")
    if post and not table:
        raise fail("--post needs --table")
    if batch is not None and batch.startswith("s3://"):
        try:
            payload_bucket = bucket or parse_s3_uri(batch).bucket
        except S3UriError as err:
            raise fail(str(err)) from err
    else:
        payload_bucket = bucket
    if post and not payload_bucket:
        raise fail("--post with a local batch needs --bucket for the consolidation payload")

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main_thread else None
    try:
        with tempfile.TemporaryDirectory(prefix="bulkqa-preview-") as workdir:
            _serve(
                console,
                fail,
                workdir=Path(workdir),
                batch=batch,
                demo=demo,
                round_name=round_name,
                part=part,
                images_dir=images_dir,
                port=port,
                endpoint_url=endpoint_url,
                region=region,
                post=post,
                table=table,
                payload_bucket=payload_bucket,
                worker_id=worker_id,
                template=template,
                open_browser=open_browser,
            )
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _serve(
    console: Console,
    fail: Callable[[str], typer.Exit],
    *,
    workdir: Path,
    batch: str | None,
    demo: bool,
    round_name: str | None,
    part: int | None,
    images_dir: Path | None,
    port: int,
    endpoint_url: str | None,
    region: str | None,
    post: bool,
    table: str | None,
    payload_bucket: str | None,
    worker_id: str,
    template: Path | None,
    open_browser: bool,
) -> None:
    """Load what to show, serve it until Ctrl-C or SIGTERM (the caller removes ``workdir``)."""
    template_text = template.read_text(encoding="utf-8") if template else read_template()
    s3 = ddb = None
    walker: RoundWalker | None = None
    loaded: PreviewBatch | None = None
    try:
        if demo:
            batch = str(write_demo_batch(workdir))
        needs_aws = post or round_name is not None or (batch is not None and batch.startswith("s3://"))
        if needs_aws:
            s3, ddb = clients("s3", "dynamodb", endpoint_url=endpoint_url, region=region, interactive=True)
        if round_name is not None:
            tasks = load_round(s3, str(payload_bucket), round_name, part)
            walker = RoundWalker(round_name, tasks, template_text, s3, images_dir)
            walker.page(1)  # fail now, not in the browser, if the first page cannot be shown
        else:
            assert batch is not None
            loaded = load_preview_batch(batch, s3)
            if s3 is None and loaded.needs_s3:
                (s3,) = clients("s3", endpoint_url=endpoint_url, region=region, interactive=True)
            page = build_page(loaded, template_text, s3, images_root=images_dir)
    except (PreviewError, ValueError) as err:  # ValueError: a round name, a manifest
        raise fail(str(err)) from err
    except (BotoCoreError, ClientError) as err:
        raise fail(f"AWS: {describe_aws_error(err)}") from err

    on_task_answer: TaskAnswerHook | None = None
    if post:
        post_region = s3.meta.region_name or "us-east-1"  # type: ignore[union-attr]

        def on_task_answer(task: int, answer: dict[str, Any]) -> list[dict[str, Any]]:
            shown = walker.batches[task - 1] if walker is not None else loaded
            return post_answer(
                answer,
                shown,  # type: ignore[arg-type]
                s3=s3,
                ddb=ddb,
                table=table,  # type: ignore[arg-type]
                bucket=payload_bucket,  # type: ignore[arg-type]
                worker_id=worker_id,
                region=post_region,
            )

    def report(submission: Submission) -> None:
        where = f"Task {submission.task}: " if walker is not None else ""
        console.print(where + submission_message(submission), markup=False, highlight=False)

    try:
        if walker is not None:
            server = PreviewServer(
                pages=walker.page, count=len(walker), on_task_answer=on_task_answer, on_submission=report, port=port
            )
        else:
            server = PreviewServer(page, on_task_answer=on_task_answer, on_submission=report, port=port)
    except OSError as err:
        raise fail(f"cannot listen on {HOST}:{port}: {err}") from err
    with server:
        counted = f"Answers are counted in table {table} as worker {worker_id}.\n" if post else ""
        if walker is not None:
            what = f"Round {round_name}: {len(walker)} task(s), one page each, from {payload_bucket}:"
        else:
            assert loaded is not None
            what = (
                f"Worker page for {len(loaded.items)} image(s) labelled {loaded.items[0].label!r} from {loaded.source}:"
            )
        console.print(what, markup=False, highlight=False)
        console.print(f"  [bold]{server.url}[/bold]")
        console.print(f"{counted}Ctrl-C stops it.", markup=False, highlight=False)
        if open_browser:
            webbrowser.open(server.url)
        try:
            while True:
                time.sleep(0.5)
        except KeyboardInterrupt:
            console.print("Stopped.")
