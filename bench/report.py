"""``bulkqa report --input`` on 1,000,000 rows against the floor: reading the same CSV with ``csv``.

Both run in a fresh interpreter, so peak memory is that process's own; the report's figure
therefore includes importing the command (Typer, Rich, boto3), which is measured apart.
"""

from __future__ import annotations

import csv
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

FLOOR = """
import csv, sys
rows = 0
with open(sys.argv[1], newline="", encoding="utf-8") as source:
    for _ in csv.reader(source):
        rows += 1
print(rows - 1)
"""


def generate(work: Path, rows: int) -> Path:
    path = work / f"results-{rows}.csv"
    if path.exists():
        return path
    rng = random.Random(3)
    labels = [f"Class {i:02d}" for i in range(50)]
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["image", "label", "confidence", "WorkerConfirmCount", "WorkerDisconfirmCount"])
        for i in range(rows):
            label = rng.choice(labels)
            confidence = rng.uniform(80, 100)
            votes = rng.choice((0, 1, 3, 3, 3, 5))
            wrong = sum(rng.random() > confidence / 100 + 0.02 for _ in range(votes))
            image = f"s3://bench-images/{i % 97:02d}/{i:07d}.jpg"
            writer.writerow([image, label, f"{confidence:.6f}", votes - wrong, wrong])
    tmp.rename(path)
    return path


# Run the measured code with an exit hook that records the process's peak resident memory.
# VmHWM, not the parent's ru_maxrss of the child: Linux carries ru_maxrss over fork and exec, so a
# child of a big benchmark process would report the benchmark's own peak.
WRAPPER = """
import atexit, runpy, sys
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            print("@@peak_kib=" + line.split()[1], file=sys.stderr, flush=True)
atexit.register(peak)
mode, target, *rest = sys.argv[1:]
if mode == "code":
    sys.argv = ["-c", *rest]
    exec(compile(target, "<floor>", "exec"), {"__name__": "__main__"})
else:
    sys.argv = [target, *rest]
    runpy.run_module(target, run_name="__main__", alter_sys=True)
"""


def _run_measured(mode: str, target: str, *args: str) -> dict[str, Any]:
    """Run ``target`` (code or module) in a fresh interpreter; wall seconds and peak memory (MiB)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, mode, target, *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=1800,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{target[:40]!r} failed ({done.returncode}): {done.stderr[-2000:]}")
    peak = re.search(r"@@peak_kib=(\d+)", done.stderr)
    if not peak:
        raise RuntimeError(f"no peak memory reported: {done.stderr[-1000:]}")
    return {
        "seconds": round(seconds, 3),
        "peak_rss_mib": round(int(peak.group(1)) / 1024, 1),
        "stdout": done.stdout,
        "stderr": done.stderr,
    }


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median wall time (its own peak and output), plus every run's seconds."""
    chosen = sorted(runs, key=lambda run: run["seconds"])[len(runs) // 2]
    return {**chosen, "runs_seconds": [run["seconds"] for run in runs]}


def measure(work: Path, rows: int = 1_000_000, repeat: int = 3) -> dict[str, Any]:
    """Floor, start-up and the whole command, ``repeat`` times interleaved, medians: the machine is
    shared, so one run of each can land on a burst of someone else's load."""
    path = generate(work, rows)
    out = work / "report.json"
    floors, startups, reports = [], [], []
    for _ in range(repeat):
        floors.append(_run_measured("code", FLOOR, str(path)))
        if int(floors[-1]["stdout"].strip()) != rows:
            raise RuntimeError(f"floor read {floors[-1]['stdout']!r} rows, expected {rows}")
        startups.append(_run_measured("module", "bulkqa.cli", "report", "--help"))
        reports.append(
            _run_measured("module", "bulkqa.cli", "report", "--input", str(path), "--format", "json", "--out", str(out))
        )
    floor, startup, report = _median_run(floors), _median_run(startups), _median_run(reports)
    read = re.search(r"(\d+) row\(s\) read in ([\d.]+) s", report["stderr"])
    if not read or int(read.group(1)) != rows:
        raise RuntimeError(f"report did not read {rows} rows: {report['stderr'][-1000:]}")
    return {
        "rows": rows,
        "csv_mib": round(path.stat().st_size / 2**20, 1),
        "repeat": repeat,
        "floor_csv_reader": {k: floor[k] for k in ("seconds", "peak_rss_mib", "runs_seconds")},
        "bulkqa_report": {
            **{k: report[k] for k in ("seconds", "peak_rss_mib", "runs_seconds")},
            "own_timer_seconds": float(read.group(2)),
        },
        "bulkqa_startup_help": {k: startup[k] for k in ("seconds", "peak_rss_mib", "runs_seconds")},
        "report_over_floor": round(report["seconds"] / floor["seconds"], 2),
        "report_minus_startup_over_floor": round((report["seconds"] - startup["seconds"]) / floor["seconds"], 2),
        "report_json_bytes": out.stat().st_size,
    }
