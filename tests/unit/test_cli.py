"""The ``bulkqa`` command as a new user meets it: help, version, start-up, and set-up failures.

Help is read through a pseudo-terminal of 80 and 120 columns, as a user's terminal shows it.
Set-up failures (no region, nothing listening on the endpoint, an HTML error page) run the real
command in a subprocess with a scrubbed AWS environment.
"""

from __future__ import annotations

import fcntl
import http.server
import os
import pty
import re
import select
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bulkqa import __version__
from bulkqa.aws import (
    NO_REGION_MESSAGE,
    AwsSetupError,
    AwsUnreachableError,
    clients,
    describe_aws_error,
    probe_endpoint,
    region_from_outputs,
    resolve_region,
)
from bulkqa.cli import COMMANDS, app, load_command, short_help

REPO = Path(__file__).resolve().parents[2]
BULKQA = Path(sys.executable).with_name("bulkqa")
FIXTURE = REPO / "fixtures" / "qa_results.csv"


def scrubbed_env(**extra: str) -> dict[str, str]:
    """The environment without any AWS setting: no region, no credentials, no endpoint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "COLUMNS"}
    env.update(AWS_CONFIG_FILE="/nonexistent/config", AWS_SHARED_CREDENTIALS_FILE="/nonexistent/credentials")
    env.update(extra)
    return env


def run_in_pty(args: list[str], columns: int, cwd: Path = REPO) -> tuple[int, str]:
    """Run ``args`` on a pseudo-terminal ``columns`` wide; return the exit status and the text shown."""
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = scrubbed_env(TERM="xterm")
    proc = subprocess.Popen(args, stdin=secondary, stdout=secondary, stderr=secondary, cwd=cwd, env=env)
    os.close(secondary)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.5)
        if ready:
            try:
                data = os.read(primary, 65536)
            except OSError:  # the other side closed
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(primary)
    status = proc.wait(timeout=30)
    return status, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def all_command_paths() -> list[list[str]]:
    """Every command and sub-command: ``[[], ["seed"], ["job"], ["job", "create"], ...]``."""
    paths: list[list[str]] = [[]]
    for name in COMMANDS:
        command = load_command(name)
        paths.append([name])
        paths += [[name, sub] for sub in getattr(command, "commands", {})]
    return paths


def command_params(path: list[str]) -> list:
    command = load_command(path[0]) if path else None
    if command is not None and len(path) > 1:
        command = command.commands[path[1]]
    params = command.params if command is not None else []
    return [p for p in params if getattr(p, "param_type_name", "") == "option"]


def option_names(path: list[str]) -> list[str]:
    return [name for p in command_params(path) for name in (*p.opts, *p.secondary_opts)]


def test_version_is_the_projects() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert __version__ == project
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"bulkqa {project}"


@pytest.mark.parametrize("path", all_command_paths(), ids=lambda p: " ".join(p) or "bulkqa")
def test_dash_h_everywhere_and_no_bool_placeholder(path: list[str]) -> None:
    short = CliRunner().invoke(app, [*path, "-h"], terminal_width=80)
    assert short.exit_code == 0, short.output
    long = CliRunner().invoke(app, [*path, "--help"], terminal_width=80)
    assert short.output == long.output
    assert "-h, --help" in short.output
    assert "<bool>" not in short.output and "BOOLEAN" not in short.output
    for name in option_names(path):
        assert re.search(rf"(^|[\s,/]){re.escape(name)}([\s,=]|$)", short.output, re.M), f"{name} not shown whole"


@pytest.mark.parametrize("columns", [80, 120])
def test_help_fits_the_terminal_through_a_pty(columns: int) -> None:
    for path in (["report"], ["job", "create"], ["seed"], []):
        status, text = run_in_pty([str(BULKQA), *path, "-h"], columns)
        assert status == 0, text
        lines = text.splitlines()
        assert max(len(line) for line in lines) <= min(columns, 80), "\n".join(lines)
        shown = re.sub(r"\s+", "", text)  # wrapping only adds whitespace: every help text is there whole
        for param in command_params(path):
            for name in (*param.opts, *param.secondary_opts):
                assert name in text, f"{name} missing at {columns} columns"
            if getattr(param, "help", None):
                assert re.sub(r"\s+", "", param.help) in shown, f"help of {param.opts} cut at {columns} columns"


def test_command_list_shows_whole_first_sentences() -> None:
    assert short_help("Do a thing. More detail\nhere.") == "Do a thing."
    assert short_help("One paragraph\nwrapped by hand, no stop") == "One paragraph wrapped by hand, no stop"
    result = CliRunner().invoke(app, ["-h"], terminal_width=80)
    commands = result.output.split("Commands:", 1)[1]
    assert "..." not in commands
    for name in COMMANDS:
        assert re.search(rf"^  {name}\s", result.output, re.M), name


def test_unknown_command_suggests_a_lazy_one() -> None:
    result = CliRunner().invoke(app, ["reprot"])
    assert result.exit_code == 2
    assert "report" in result.output


def test_report_from_a_csv_imports_no_aws_or_template_code(tmp_path: Path) -> None:
    script = (
        "import sys, io, contextlib\n"
        "from bulkqa.cli import app\n"
        f"sys.argv = ['bulkqa', 'report', '--input', {str(FIXTURE)!r}, '--format', 'json']\n"
        "out = io.StringIO()\n"
        "try:\n"
        "    with contextlib.redirect_stdout(out):\n"
        "        app()\n"
        "except SystemExit as exit:\n"
        "    assert exit.code in (0, None), exit.code\n"
        "assert '\"classes\"' in out.getvalue()\n"
        "loaded = [m for m in ('botocore', 'boto3', 'liquid', 'matplotlib') if m in sys.modules]\n"
        "print(','.join(loaded) or 'none')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=scrubbed_env(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "none"


# --- No region -----------------------------------------------------------------------------------


def test_resolve_region_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    assert resolve_region("eu-west-1", None, "us-east-2") == "eu-west-1"
    assert resolve_region(None, None, "us-east-2") == "us-east-2"
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    assert resolve_region(None, None, "us-east-2") == "ap-south-1"
    monkeypatch.delenv("AWS_REGION")
    assert resolve_region(None, "http://127.0.0.1:5000", None) == "us-east-1"
    with pytest.raises(AwsSetupError, match=r"--region.*AWS_REGION"):
        resolve_region(None, None, None)


def test_region_from_the_stack_outputs() -> None:
    arn = "arn:aws:lambda:eu-central-1:123456789012:function:f"
    assert region_from_outputs({"ground_truth_role_arn": "arn:aws:iam::1:role/r", "pre": arn}) == "eu-central-1"
    assert region_from_outputs({"region": "us-west-2", "pre": arn}) == "us-west-2"
    assert region_from_outputs({"bucket_name": "b"}) is None


@pytest.mark.parametrize(
    "args",
    [
        ["report", "--table", "qa"],
        ["export", "--table", "qa"],
        ["job", "status", "round-1"],
        ["seed", "--csv", str(REPO / "fixtures" / "model_labels.csv"), "--images", "s3://b/i/", "--bucket", "b",
         "--table", "t"],
    ],
    ids=lambda a: a[0] + (" " + a[1] if a[0] == "job" else ""),
)  # fmt: skip
def test_no_region_is_one_line_and_exit_2(args: list[str], tmp_path: Path) -> None:
    done = subprocess.run([str(BULKQA), *args], cwd=tmp_path, env=scrubbed_env(), capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert lines == [f"error: {NO_REGION_MESSAGE}"]
    assert "Traceback" not in done.stderr and len(lines[0]) <= 80


# --- An endpoint that does not answer ------------------------------------------------------------


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: nothing listens there


def test_probe_of_a_closed_port_fails_at_once(closed_port: int) -> None:
    started = time.monotonic()
    with pytest.raises(AwsUnreachableError, match=f"127.0.0.1:{closed_port}.*\nhint: .*--endpoint-url"):
        probe_endpoint(f"http://127.0.0.1:{closed_port}")
    assert time.monotonic() - started < 3
    with pytest.raises(AwsSetupError, match="not an http"):
        probe_endpoint("127.0.0.1:4566")


def test_clients_probe_the_endpoint_before_any_request(closed_port: int) -> None:
    with pytest.raises(AwsUnreachableError):
        clients("dynamodb", endpoint_url=f"http://127.0.0.1:{closed_port}")


@pytest.mark.parametrize(
    "args",
    [["report", "--table", "qa"], ["job", "status", "round-1"], ["export", "--table", "qa"]],
    ids=lambda a: " ".join(a[:2]),
)
def test_unreachable_endpoint_fails_within_seconds_with_a_hint(
    args: list[str], closed_port: int, tmp_path: Path
) -> None:
    started = time.monotonic()
    done = subprocess.run(
        [str(BULKQA), *args, "--endpoint-url", f"http://127.0.0.1:{closed_port}"],
        cwd=tmp_path, env=scrubbed_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert done.returncode == 3, done.stderr
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 2 and f"cannot reach http://127.0.0.1:{closed_port}" in lines[0]
    assert lines[1].startswith("hint:") and all(len(line) <= 80 for line in lines)
    assert elapsed < 8, f"{elapsed:.1f} s"


class _HtmlErrorPage(http.server.BaseHTTPRequestHandler):
    """What a proxy or a wrong service answers: HTTP 500 with an HTML page."""

    hits = 0

    def do_POST(self) -> None:
        type(self).hits += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b"<html><body><h1>500 Internal Server Error</h1><p>proxy error</p></body></html>"
        self.send_response(500)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def html_error_endpoint() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HtmlErrorPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_html_error_page_is_one_line_and_few_retries(html_error_endpoint: str) -> None:
    from botocore.exceptions import ClientError

    _HtmlErrorPage.hits = 0
    (client,) = clients("sagemaker", endpoint_url=html_error_endpoint, interactive=True)
    started = time.monotonic()
    with pytest.raises(ClientError) as caught:
        client.describe_labeling_job(LabelingJobName="x")
    assert time.monotonic() - started < 6
    assert _HtmlErrorPage.hits <= 3
    text = describe_aws_error(caught.value)
    first, hint = text.splitlines()
    assert "HTML page (HTTP 500)" in first and "<html" not in text
    assert hint.startswith("hint:")
