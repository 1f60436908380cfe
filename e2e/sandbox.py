"""A local sandbox: the embedded emulator in the background with the BulkQA stack deployed into it.

``bulkqa sandbox up`` starts ``python -m e2e.sandbox serve --state DIR`` as a detached process.
That process starts moto's server on 127.0.0.1 with IAM enforced (``e2e/moto_iam.py``), deploys
the component exactly as the e2e suite does (``e2e.deploy``: the project's Pulumi program under
mocks that create every resource in the emulator), writes ``DIR/state.json`` (endpoint, the
harness's keys, stack outputs, the deployed Lambda archive) and the stack outputs to
``outputs.json``, then serves until SIGTERM (``bulkqa sandbox down``). State lives in memory: a
new ``up`` is a fresh account.

``bulkqa simulate`` plays Ground Truth on a round's tasks against it, as the e2e suite does:
:func:`simulate_round` reads ``rounds/<round>/manifest-*.jsonl``, runs each part as one labeling
job through :class:`e2e.ground_truth.GroundTruthSimulator` (as the Ground Truth role; functions
run as their own roles), with simulated workers who see a hidden truth and err at a given rate.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from e2e.deploy import _deploy_with_mocks, _invoker, stack_config, teardown
from e2e.emulator import Emulator, start_moto

STATE_FILE = "state.json"
LOG_FILE = "sandbox.log"
START_TIMEOUT = 240.0


@dataclass(frozen=True)
class SandboxState:
    """What ``up`` leaves in ``state.json`` for ``down``, ``simulate`` and the printed environment."""

    pid: int
    emulator: Emulator
    outputs: dict[str, Any]
    archives: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        e = self.emulator
        return {
            "pid": self.pid,
            "endpoint_url": e.endpoint_url,
            "region": e.region,
            "access_key": e.access_key,
            "secret_key": e.secret_key,
            "iam_enforced": e.iam_enforced,
            "outputs": self.outputs,
            "archives": self.archives,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SandboxState:
        emulator = Emulator(
            "moto",
            data["endpoint_url"],
            data["region"],
            access_key=data["access_key"],
            secret_key=data["secret_key"],
            iam_enforced=bool(data["iam_enforced"]),
        )
        return cls(int(data["pid"]), emulator, dict(data["outputs"]), dict(data["archives"]))


def read_state(state_dir: Path) -> SandboxState | None:
    path = state_dir / STATE_FILE
    if not path.is_file():
        return None
    return SandboxState.from_json(json.loads(path.read_text(encoding="utf-8")))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def exports(state: SandboxState) -> list[str]:
    """``export NAME=value`` lines that point the AWS SDK and ``bulkqa`` at the sandbox."""
    return [f"export {name}={shlex.quote(value)}" for name, value in state.emulator.environment().items()]


# --- the background process ---


def serve(state_dir: Path, outputs_path: Path, port: int, enforce_iam: bool) -> None:
    """Start the emulator, deploy, write the state, and serve until SIGTERM/SIGINT."""
    state_dir.mkdir(parents=True, exist_ok=True)
    server, emulator = start_moto(port, enforce_iam=enforce_iam)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    ledger = state_dir / "ledger.jsonl"
    ledger.unlink(missing_ok=True)
    try:
        config = stack_config(emulator, f"sandbox-{os.getpid() % 100000}")
        result = _deploy_with_mocks(emulator, config, ledger)
        state = SandboxState(os.getpid(), emulator, result["exports"], result["archives"])
        outputs_path.write_text(json.dumps(result["exports"], indent=1) + "\n", encoding="utf-8")
        tmp = state_dir / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(state.to_json(), indent=1), encoding="utf-8")
        tmp.replace(state_dir / STATE_FILE)
        print(f"sandbox ready at {emulator.endpoint_url}", flush=True)
        stop.wait()
    finally:
        with contextlib.suppress(Exception):
            teardown(emulator, ledger)
        (state_dir / STATE_FILE).unlink(missing_ok=True)
        server.stop()


def start(state_dir: Path, outputs_path: Path, *, port: int = 0, enforce_iam: bool = True) -> SandboxState:
    """Start the background process and wait until the stack is deployed; raise with its log if not."""
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / STATE_FILE).unlink(missing_ok=True)
    repo = Path(__file__).resolve().parents[1]
    command = [sys.executable, "-m", "e2e.sandbox", "serve", "--state", str(state_dir.resolve())]
    command += ["--outputs", str(outputs_path.resolve()), "--port", str(port)]
    command += [] if enforce_iam else ["--no-iam"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    }
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        env.pop(name, None)
    env.update({"AWS_ACCESS_KEY_ID": "sandbox", "AWS_SECRET_ACCESS_KEY": "sandbox", "AWS_DEFAULT_REGION": "us-east-1"})
    log = (state_dir / LOG_FILE).open("wb")
    process = subprocess.Popen(
        command,
        cwd=repo,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # survives the shell that ran `bulkqa sandbox up`
    )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        state = read_state(state_dir)
        if state is not None and state.pid == process.pid:
            return state
        if process.poll() is not None:
            break
        time.sleep(0.25)
    if process.poll() is None:
        process.terminate()
    tail = (state_dir / LOG_FILE).read_text(encoding="utf-8", errors="replace")[-3000:]
    raise RuntimeError(f"the sandbox did not start (see {state_dir / LOG_FILE}):\n{tail}")


def stop(state_dir: Path, timeout: float = 30.0) -> bool:
    """Stop the sandbox whose state is in ``state_dir``; False if none was running."""
    state = read_state(state_dir)
    if state is None or not alive(state.pid):
        (state_dir / STATE_FILE).unlink(missing_ok=True)
        return False
    os.kill(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive(state.pid):
        time.sleep(0.1)
    if alive(state.pid):
        os.kill(state.pid, signal.SIGKILL)
    (state_dir / STATE_FILE).unlink(missing_ok=True)
    return True


# --- simulate: Ground Truth on a round's tasks ---


def hidden_truth(image: str, label: str, confidence: float) -> bool:
    """Whether the model's label is right, fixed per pair: right with probability confidence/100.

    The sandbox has no real images, so the simulated workers judge against this: the report then
    shows what a calibrated model looks like, and a seed with another model's confidences too.
    """
    draw = int.from_bytes(hashlib.sha256(f"{image}\x00{label}".encode()).digest()[:8], "big") / 2**64
    return draw < confidence / 100.0


def worker_verdict(truth: bool, worker: str, image: str, error_rate: float, seed: int) -> bool:
    """A worker's answer: the truth, except in ``error_rate`` of (worker, image) pairs (deterministic)."""
    draw = int.from_bytes(hashlib.sha256(f"{seed}\x00{worker}\x00{image}".encode()).digest()[:8], "big") / 2**64
    return truth if draw >= error_rate else not truth


@dataclass(frozen=True)
class SimulatedPart:
    manifest_uri: str
    job: str
    tasks: int
    votes: int


def simulate_round(
    state: SandboxState, round_name: str, *, workers: int, error_rate: float, seed: int = 0
) -> list[SimulatedPart]:
    """Run every manifest part of ``round_name`` as one labeling job; return what each did."""
    from e2e.ground_truth import GroundTruthSimulator, LabelingJob
    from handlers.rounds import parse_batch_document_json, round_prefix

    emulator, outputs = state.emulator, state.outputs
    bucket = outputs["bucket_name"]
    admin_s3 = emulator.client("s3")
    pages = admin_s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=round_prefix(round_name))
    keys = sorted(
        entry["Key"]
        for page in pages
        for entry in page.get("Contents", [])
        if entry["Key"].rsplit("/", 1)[-1].startswith("manifest-") and entry["Key"].endswith(".jsonl")
    )
    if not keys:
        raise LookupError(f"round {round_name!r} has no manifest part under s3://{bucket}/{round_prefix(round_name)}")
    invoker = _invoker(emulator, outputs, state.archives)
    if emulator.iam_enforced:
        role = emulator.assume(outputs["ground_truth_role_arn"], "sagemaker", f"simulate-{round_name}")
        simulator = GroundTruthSimulator(
            emulator.client_as(role, "s3"), invoker, lambda_client=emulator.client_as(role, "lambda")
        )
    else:
        simulator = GroundTruthSimulator(admin_s3, invoker)
    done = []
    try:
        for key in keys:
            uri = f"s3://{bucket}/{key}"
            confidences: dict[tuple[str, str], float] = {}
            text = admin_s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
            for number, line in enumerate(text.splitlines(), 1):
                document = parse_batch_document_json(json.loads(json.loads(line)["source"]), source=f"{uri}:{number}")
                confidences.update({(i.s3_image_url, i.label): i.confidence for i in document.items})

            def verdict(worker: str, image: str, label: str, confidences: dict = confidences) -> bool:
                truth = hidden_truth(image, label, confidences.get((image, label), 100.0))
                return worker_verdict(truth, worker, image, error_rate, seed)

            stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
            part = key.rsplit("manifest-", 1)[1].removesuffix(".jsonl")
            job = LabelingJob(
                name=f"sim-{round_name}-{part}-{stamp}"[:63],
                manifest_uri=uri,
                output_uri=outputs["output_path"],
                template_uri=outputs["ui_template_uri"],
                pre_function=outputs["pre_labeling_function_arn"].split(":")[-1],
                post_function=outputs["post_labeling_function_arn"].split(":")[-1],
                workers=workers,
                role_arn=outputs["ground_truth_role_arn"],
                region=emulator.region,
            )
            result = simulator.run(job, verdict)
            votes = sum(len(task.answers) * len(task.cards) for task in result.tasks)
            done.append(SimulatedPart(uri, job.name, len(result.tasks), votes))
    finally:
        close = getattr(invoker, "close", None)
        if close:
            close()
    return done


def _main() -> None:
    parser = argparse.ArgumentParser(prog="python -m e2e.sandbox")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("serve", help="run the sandbox in the foreground (bulkqa sandbox up starts this)")
    run.add_argument("--state", type=Path, required=True)
    run.add_argument("--outputs", type=Path, required=True)
    run.add_argument("--port", type=int, default=0)
    run.add_argument("--no-iam", action="store_true")
    options = parser.parse_args()
    serve(options.state, options.outputs, options.port, not options.no_iam)


if __name__ == "__main__":
    _main()
