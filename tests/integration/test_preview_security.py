"""``bulkqa preview`` as an attacker's web page or a hostile batch would meet it (issue 12).

Raw HTTP requests with the headers a browser would send from another origin, a DNS-rebinding
page, or a malformed client; hostile batches from S3; a round walked task by task; SIGTERM.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bulkqa.preview_command import (
    TOKEN_HEADER,
    TOKEN_META,
    PreviewError,
    PreviewServer,
    RoundWalker,
    build_page,
    load_preview_batch,
    load_round,
    write_demo_batch,
)
from handlers.rounds import BatchDocument, BatchEntry, documents_text, manifest_key
from worker_template import read_template

ANSWER = json.dumps({"Ball-0": {"Confirmed": False}}).encode()


@pytest.fixture
def server(tmp_path: Path) -> Any:
    batch = load_preview_batch(str(write_demo_batch(tmp_path, count=3)))
    received: list[dict] = []
    with PreviewServer(build_page(batch, read_template()), on_answer=lambda a: received.append(a) or None) as srv:
        srv.received = received  # type: ignore[attr-defined]
        yield srv


def request(server: PreviewServer, method: str, path: str, body: bytes | None = None, **headers: str) -> Any:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    default = {"Host": f"127.0.0.1:{server.port}"}
    connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for name, value in {**default, **headers}.items():
        connection.putheader(name.replace("_", "-"), value)
    if body is not None and "Content-Length" not in headers:
        connection.putheader("Content-Length", str(len(body)))
    connection.endheaders(body)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def post(server: PreviewServer, body: bytes = ANSWER, **headers: str) -> Any:
    good = {
        "Origin": f"http://127.0.0.1:{server.port}",
        "Content-Type": "application/json",
        TOKEN_HEADER: server.token,
    }
    return request(server, "POST", "/submit", body, **{**good, **headers})


def test_the_page_carries_the_token_and_its_own_answer_is_taken(server: PreviewServer) -> None:
    status, page = request(server, "GET", "/")
    assert status == 200
    assert re.search(rf'<meta name="{TOKEN_META}" content="{re.escape(server.token)}">', page.decode())
    status, _ = post(server)
    assert status == 200 and server.received == [{"Ball-0": {"Confirmed": False}}]


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {TOKEN_HEADER: ""},
        {TOKEN_HEADER: "guessed"},
        {"Content-Type": "text/plain"},  # a simple request: no CORS preflight
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Host": "evil.example:80"},  # DNS rebinding
    ],
    ids=lambda h: ",".join(f"{k}={v}" for k, v in h.items()) or "none",
)
def test_answers_from_anywhere_else_are_refused(server: PreviewServer, headers: dict[str, str]) -> None:
    status, _ = post(server, **headers)
    assert status in (403, 415)
    assert server.received == []


def test_a_rebinding_page_cannot_read_the_page_or_the_submissions(server: PreviewServer) -> None:
    for path in ("/", "/submissions", "/images/0.png"):
        status, body = request(server, "GET", path, Host="attacker.example:8080")
        assert status == 403 and b"token" not in body
    assert request(server, "GET", "/", Host=f"localhost:{server.port}")[0] == 200


@pytest.mark.parametrize(
    ("body", "length"),
    [
        (ANSWER, "abc"),
        (ANSWER, "-5"),
        (ANSWER, "1e3"),
        (ANSWER, "1\u00b2"),  # "²" is a digit to str.isdigit, not to int()
        (b"[" * 100_000 + b"]" * 100_000, None),
        (b'{"a": {"b": {"c": true}}}', None),
        (b'{"a": [true]}', None),
        (b"\xff\xfe", None),
        (b"not json", None),
    ],
    ids=["letters", "negative", "exponent", "superscript", "deep-nesting", "deep-answer", "list", "bytes", "text"],
)
def test_malformed_requests_get_400(server: PreviewServer, body: bytes, length: str | None) -> None:
    headers = {"Content-Length": length} if length is not None else {}
    status, data = post(server, body, **headers)
    assert status == 400, data
    assert "message" in json.loads(data)
    assert server.received == []
    assert request(server, "GET", "/")[0] == 200  # still serving


def test_local_images_only_from_the_folder_given(tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "link.png").symlink_to(outside)
    os.mkfifo(folder / "fifo.png")
    for image, message in [
        (str(outside), "outside"),
        (f"file://{outside}", "outside"),
        ("../secret.txt", "outside"),
        ("link.png", "outside"),  # a symlink out of the folder
        ("fifo.png", "not a regular file"),
    ]:
        batch_file = folder / "batch.json"
        batch_file.write_text(json.dumps([{"s3_image_url": image, "label": "Cat", "confidence": 90}]))
        with pytest.raises(PreviewError, match=message):
            build_page(load_preview_batch(str(batch_file)), read_template())


def test_a_batch_from_s3_may_not_name_local_files(qa_stack: Any, tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"x")
    for image in (str(secret), f"file://{secret}", "/etc/passwd"):
        qa_stack.s3.put_object(
            Bucket=qa_stack.bucket,
            Key="b.json",
            Body=json.dumps([{"s3_image_url": image, "label": "Cat", "confidence": 90}]).encode(),
        )
        batch = load_preview_batch(f"s3://{qa_stack.bucket}/b.json", qa_stack.s3)
        with pytest.raises(PreviewError, match="--images-dir"):
            build_page(batch, read_template(), qa_stack.s3)
    assert build_page(batch, read_template(), qa_stack.s3, images_root=Path("/etc")).files  # given: served


def _seed_round(qa_stack: Any) -> None:
    s3, bucket = qa_stack.s3, qa_stack.bucket
    cats = tuple(
        BatchEntry(f"s3://{bucket}/images/c{i}.jpg", "Cat", 90.0, "wrong" if i == 0 else None) for i in range(2)
    )
    dogs = (BatchEntry(f"s3://{bucket}/images/d0.jpg", "Dog <b>", 80.0),)
    part1 = [BatchDocument("r1", 1, 1, "Cat", cats), BatchDocument("r1", 1, 2, "Dog <b>", dogs)]
    part2 = [BatchDocument("r1", 2, 1, "Cat", cats[1:])]
    s3.put_object(Bucket=bucket, Key=manifest_key("r1", 1), Body=documents_text(part1).encode())
    s3.put_object(Bucket=bucket, Key=manifest_key("r1", 2), Body=documents_text(part2).encode())


def test_round_walk_serves_each_task_and_posts_to_the_right_one(qa_stack: Any) -> None:
    _seed_round(qa_stack)
    tasks = load_round(qa_stack.s3, qa_stack.bucket, "r1", None)
    assert [len(t.page.entries) for t in tasks] == [2, 1, 1]
    assert len(load_round(qa_stack.s3, qa_stack.bucket, "r1", 2)) == 1
    walker = RoundWalker("r1", tasks, read_template(), qa_stack.s3, None)
    posted: list[tuple[int, dict]] = []
    with PreviewServer(
        pages=walker.page, count=len(walker), on_task_answer=lambda t, a: posted.append((t, a)) or None
    ) as server:
        status, first = request(server, "GET", "/")
        assert status == 200 and "task 1 of 3" in first.decode() and 'href="/task/2"' in first.decode()
        assert '"gold"' not in first.decode() and "wrong" not in first.decode().split("<body", 1)[1][:400]
        status, second = request(server, "GET", "/task/2")
        assert "Dog &lt;b&gt;" in second.decode() and "Dog <b>" not in second.decode()
        assert 'content="/task/2/submit"' in second.decode()
        assert request(server, "GET", "/task/4")[0] == 404
        status, _ = request(
            server, "POST", "/task/2/submit", b'{"Dog <b>-0": {"Confirmed": true}}',
            Origin=f"http://127.0.0.1:{server.port}", Content_Type="application/json", **{TOKEN_HEADER: server.token},
        )  # fmt: skip
        assert status == 200
    assert posted == [(2, {"Dog <b>-0": {"Confirmed": True}})]
    assert walker.batches[1].data_object["content"] == tasks[1].page.document.text()  # as Ground Truth passes it


def test_sigterm_removes_the_temporary_folder(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    process = subprocess.Popen(
        [sys.executable, "-c", "from bulkqa.cli import main; main()", "preview", "--demo", "--no-open"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    try:
        for line in process.stdout:  # type: ignore[union-attr]
            if "Ctrl-C" in line:
                break
        assert list(tmp_path.glob("bulkqa-preview-*")), "the demo folder exists while serving"
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    deadline = time.monotonic() + 5
    while list(tmp_path.glob("bulkqa-preview-*")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not list(tmp_path.glob("bulkqa-preview-*"))
