"""Run the ``bulkqa`` command against the emulator as a user would: a subprocess, its environment
pointed at the emulator (and nothing else of the caller's AWS configuration)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from e2e.deploy import DeployedStack

REPO = Path(__file__).resolve().parents[1]


def run_bulkqa(stack: DeployedStack, cwd: Path, *args: str, columns: int = 100) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({**stack.emulator.environment(), "PYTHONPATH": str(REPO), "COLUMNS": str(columns)})
    return subprocess.run(
        [sys.executable, "-m", "bulkqa.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def bulkqa_json(stack: DeployedStack, cwd: Path, *args: str) -> Any:
    """Run ``bulkqa`` and parse its standard output as JSON; fail with its stderr if it exits non-zero."""
    done = run_bulkqa(stack, cwd, *args)
    assert done.returncode == 0, f"bulkqa {' '.join(args)} exited {done.returncode}: {done.stderr}{done.stdout}"
    return json.loads(done.stdout)


def write_outputs(stack: DeployedStack, path: Path) -> Path:
    """The stack's outputs as ``pulumi stack output --json`` gives them (for ``--outputs``)."""
    path.write_text(json.dumps(dict(stack.outputs), indent=2), encoding="utf-8")
    return path
