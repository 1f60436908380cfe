"""``bulkqa preview``: the worker page of one batch, served on 127.0.0.1, no Ground Truth needed.

The page is the real template rendered the way Ground Truth renders it (``bulkqa.rendering``),
with the crowd-html-elements script swapped for a local stand-in (``bulkqa/assets``) that draws
``crowd-form``, ``crowd-card`` and ``crowd-checkbox`` and, on submit, produces the same JSON as
Ground Truth's crowd-form. The answer is shown on the page and POSTed back here; with ``--post``
it is handed to the post-labeling code exactly as Ground Truth would: a consolidation payload file
written to the bucket, and a consolidation event pointing at it.
"""

from __future__ import annotations

import json
import math
import mimetypes
import re
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

from bulkqa.aws import clients
from bulkqa.rendering import CROWD_ELEMENTS_URL, UrlResolutionError, render_task, url_resolver
from handlers.batch_store import BatchNotFoundError, load_batch
from handlers.batching import QueueItem, parse_batch_document
from handlers.consolidation import consolidate
from handlers.gt_events import DataObjectRef, parse_consolidation_event
from handlers.s3_uri import S3UriError, parse_s3_uri
from handlers.settings import OUTPUT_PREFIX
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


class PreviewError(Exception):
    """The batch or template cannot be previewed; the message says why."""


# --- The batch ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewBatch:
    """One batch as the pre-labeling function would hand it to Ground Truth."""

    items: list[QueueItem]
    source: str  # the path or s3:// URI it came from
    s3_uri: str | None  # set for a batch in S3
    base_dir: Path | None  # set for a local batch: relative image paths start here

    @property
    def source_ref(self) -> list[dict[str, Any]]:
        """``taskInput.sourceRef``: what the template sees as ``task.input.sourceRef``."""
        return [item.to_json() for item in self.items]

    @property
    def data_object(self) -> dict[str, str]:
        """The batch as a Ground Truth data object: by reference, or inline for a local file."""
        if self.s3_uri:
            return {"s3Uri": self.s3_uri}
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
        items = parse_batch_document(path.read_bytes(), source=str(path))
        return PreviewBatch(items, str(path), None, path.resolve().parent)
    except (ValueError, BatchNotFoundError) as err:  # S3UriError and the batch parser's errors
        raise PreviewError(str(err)) from err


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
    batch: PreviewBatch, template_text: str, s3: Any | None = None, *, autoescape: bool = True
) -> PreviewPage:
    """Render ``template_text`` for ``batch``; local images get ``/images/<n>.<ext>`` URLs on this server.

    ``autoescape`` is Ground Truth's behaviour; tests turn it off to check the template on its own.
    """
    page = PreviewPage("")
    by_path: dict[Path, str] = {}

    def local_url(path: Path) -> str:
        if path not in by_path:
            if not path.is_file():
                raise PreviewError(f"image {path} (from {batch.source}) does not exist")
            by_path[path] = f"/images/{len(by_path)}{quote(path.suffix)}"
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
    if not isinstance(answer, dict) or not all(isinstance(v, dict) for v in answer.values()):
        raise ValueError('expected {"<name>": {"<value>": true|false}, ...}')
    return answer


# --- The server --------------------------------------------------------------------------------


@dataclass
class Submission:
    """One submit from the page, and what the post-labeling code made of it (with ``--post``)."""

    answer: dict[str, Any]
    result: list[dict[str, Any]] | None = None
    error: str | None = None


AnswerHook = Callable[[dict[str, Any]], list[dict[str, Any]] | None]


class PreviewServer:
    """Serves one page, its stand-in script and local images on 127.0.0.1; collects submissions."""

    def __init__(
        self,
        page: PreviewPage,
        *,
        on_answer: AnswerHook | None = None,
        on_submission: Callable[[Submission], None] | None = None,
        port: int = 0,
    ) -> None:
        self.page = page
        self.on_answer = on_answer
        self.on_submission = on_submission
        self.submissions: list[Submission] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((HOST, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/"

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

    def receive(self, answer: dict[str, Any]) -> Submission:
        """Record one answer and hand it to ``on_answer``; errors are kept, not raised."""
        submission = Submission(answer)
        if self.on_answer is not None:
            try:
                submission.result = self.on_answer(answer)
            except Exception as err:  # shown on the page and in the terminal; the server keeps going
                submission.error = f"{type(err).__name__}: {err}"
        with self._lock:
            self.submissions.append(submission)
        if self.on_submission is not None:
            self.on_submission(submission)
        return submission

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
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _json(self, status: int, data: Any) -> None:
                self._send(status, json.dumps(data, ensure_ascii=False).encode(), "application/json; charset=utf-8")

            def do_HEAD(self) -> None:
                self.do_GET()

            def do_GET(self) -> None:
                path = unquote(urlsplit(self.path).path)
                if path in ("/", "/index.html"):
                    self._send(HTTPStatus.OK, server.page.html.encode(), "text/html; charset=utf-8")
                elif path == STAND_IN_URL:
                    body = (ASSETS_DIR / STAND_IN_FILE).read_bytes()
                    self._send(HTTPStatus.OK, body, "text/javascript; charset=utf-8")
                elif path == "/submissions":
                    with server._lock:
                        data = [s.__dict__ for s in server.submissions]
                    self._json(HTTPStatus.OK, data)
                else:
                    file = server.page.files.get(urlsplit(self.path).path)
                    if file is None or not file.is_file():
                        self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain; charset=utf-8")
                        return
                    kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
                    self._send(HTTPStatus.OK, file.read_bytes(), kind)

            def do_POST(self) -> None:
                if urlsplit(self.path).path != "/submit":
                    self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain; charset=utf-8")
                    return
                length = int(self.headers.get("Content-Length") or 0)
                if length <= 0 or length > _MAX_ANSWER_BYTES:
                    self._json(HTTPStatus.BAD_REQUEST, {"message": "the answer is empty or too large"})
                    return
                try:
                    answer = _check_answer(json.loads(self.rfile.read(length)))
                except ValueError as err:
                    self._json(HTTPStatus.BAD_REQUEST, {"message": f"not a crowd-form answer: {err}"})
                    return
                submission = server.receive(answer)
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


def preview(
    batch: Annotated[
        str | None,
        typer.Option(help="Batch file to show: a local JSON file (image paths relative to it) or s3://bucket/key."),
    ] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Show a generated batch of 25 images instead.")] = False,
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
        typer.Option(help="Bucket for --post's consolidation payload (default: the batch's bucket)."),
    ] = None,
    worker_id: Annotated[str, typer.Option(help="Worker id the answers are posted under.")] = DEFAULT_WORKER_ID,
    template: Annotated[
        Path | None,
        typer.Option(help="Template to render (default: the packaged worker template).", exists=True, dir_okay=False),
    ] = None,
    open_browser: Annotated[bool, typer.Option("--open/--no-open", help="Open the page in a browser.")] = False,
) -> None:
    """Serve the worker page of one batch on 127.0.0.1, as a worker would see it. Ctrl-C stops it.

    The page is the real template, rendered the way Ground Truth renders it, with a local
    stand-in for crowd-html-elements. Submitting shows the JSON Ground Truth would store; with
    --post it is also counted by the post-labeling function against --endpoint-url and --table.
    """
    console = Console()

    def fail(message: str) -> typer.Exit:
        console.print(f"[bold red]error:[/bold red] {rich_escape(message)}")
        return typer.Exit(2)

    if (batch is None) == (not demo):
        raise fail("give either --batch FILE.json|s3://... or --demo")
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

    with tempfile.TemporaryDirectory(prefix="bulkqa-preview-") as workdir:
        if demo:
            batch = str(write_demo_batch(Path(workdir)))
        assert batch is not None
        s3 = ddb = None
        try:
            if post or batch.startswith("s3://"):
                s3, ddb = clients("s3", "dynamodb", endpoint_url=endpoint_url, region=region)
            loaded = load_preview_batch(batch, s3)
            if s3 is None and loaded.needs_s3:
                (s3,) = clients("s3", endpoint_url=endpoint_url, region=region)
            page = build_page(loaded, template.read_text(encoding="utf-8") if template else read_template(), s3)
        except PreviewError as err:
            raise fail(str(err)) from err
        except (BotoCoreError, ClientError) as err:
            raise fail(f"AWS: {err}") from err

        on_answer: AnswerHook | None = None
        if post:
            post_region = s3.meta.region_name or "us-east-1"  # type: ignore[union-attr]

            def on_answer(answer: dict[str, Any]) -> list[dict[str, Any]]:
                return post_answer(
                    answer,
                    loaded,
                    s3=s3,
                    ddb=ddb,
                    table=table,  # type: ignore[arg-type]
                    bucket=payload_bucket,  # type: ignore[arg-type]
                    worker_id=worker_id,
                    region=post_region,
                )

        def report(submission: Submission) -> None:
            console.print(rich_escape(submission_message(submission)))

        try:
            server = PreviewServer(page, on_answer=on_answer, on_submission=report, port=port)
        except OSError as err:
            raise fail(f"cannot listen on {HOST}:{port}: {err}") from err
        with server:
            counted = f"Answers are counted in table {table} as worker {worker_id}.\n" if post else ""
            console.print(
                f"Worker page for {len(loaded.items)} image(s) labelled {loaded.items[0].label!r} "
                f"from {loaded.source}:",
                markup=False,
                highlight=False,
            )
            console.print(f"  [bold]{server.url}[/bold]")
            console.print(f"{counted}Ctrl-C stops it.", markup=False, highlight=False)
            if open_browser:
                webbrowser.open(server.url)
            try:
                while True:
                    time.sleep(0.5)
            except KeyboardInterrupt:
                console.print("Stopped.")
