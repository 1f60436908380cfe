"""The Lambda package: its size as the component builds it, and each handler's cold import time.

Cold import is measured the way a Lambda cold start pays it: a fresh interpreter, the handlers
imported from the unzipped package with ``-B`` (the package has no ``__pycache__`` and
``/var/task`` is read-only, so the modules are compiled from source every time), boto3 from the
installed, pre-compiled library, as the runtime provides it.
"""

from __future__ import annotations

import io
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from handlers.settings import HANDLER_ENTRY_POINTS

TIMER = """
import sys, time
{pre}
start = time.perf_counter()
import {module}
print(time.perf_counter() - start)
"""


def build_zip() -> tuple[bytes, str]:
    """The package's bytes, built by components.lambda_package when present."""
    try:
        from components.lambda_package import build_zip_bytes
    except ImportError:
        root = Path(__file__).resolve().parents[1] / "handlers"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(root.glob("*.py")):
                archive.write(path, f"handlers/{path.name}")
        return buffer.getvalue(), "handlers/*.py zipped by the benchmark (components.lambda_package missing)"
    data, _ = build_zip_bytes()
    return data, "components.lambda_package.build_zip_bytes"


def _import_seconds(folder: Path, module: str, pre: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-B", "-c", TIMER.format(module=module, pre=pre)],
            cwd=folder,
            env={"PYTHONPATH": str(folder), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        times.append(float(done.stdout.strip()))
    return statistics.median(times)


def measure(runs: int = 7) -> dict[str, Any]:
    data, how = build_zip()
    result: dict[str, Any] = {"built_by": how, "zip_bytes": len(data), "handlers": {}}
    with tempfile.TemporaryDirectory(prefix="bulkqa-bench-pkg-") as tmp:
        folder = Path(tmp)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            result["files"] = len(names)
            result["unzipped_bytes"] = sum(info.file_size for info in archive.infolist())
            archive.extractall(folder)
        for key, entry in HANDLER_ENTRY_POINTS.items():
            module = entry.rsplit(".", 1)[0]
            result["handlers"][key] = {
                "module": module,
                "cold_import_ms": round(_import_seconds(folder, module, "", runs) * 1000, 1),
                "cold_import_boto3_preloaded_ms": round(
                    _import_seconds(folder, module, "import boto3, botocore.session", runs) * 1000, 1
                ),
            }
        result["boto3_import_ms"] = round(_import_seconds(folder, "boto3", "", runs) * 1000, 1)
    result["runs_per_figure"] = runs
    return result
