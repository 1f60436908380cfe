"""Peak memory of one seed against row count: constant-memory seeding (issue 14, item 2).

Each size runs in a fresh process (so one run's peak cannot hide another's): the real
``run_seed`` with images in place (``S3Images``, no image request), against the zero-cost stub of
``bench/stub.py`` (nothing is stored in an emulator, so what grows is BulkQA's own memory). Two
figures per size: the peak of Python allocations during the seed (``tracemalloc``, what the seed
itself holds) and the process's peak RSS (``ru_maxrss``, what the Lambda function would need,
interpreter and boto3 included). Goal: 20k and 200k rows within 40 MiB of each other, 1M under 300 MiB.

    .venv/bin/python -m bench.seed_memory                    # 20k, 200k, 1M rows
    .venv/bin/python -m bench.seed_memory --rows 20000 200000 --no-tracemalloc
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

LABELS = [f"Class {i:02d}" for i in range(20)]
MIB = 1024 * 1024


def generate(path: Path, rows: int) -> None:
    """``rows`` rows, one distinct image each, 20 labels, confidences 80-100 (all queued)."""
    rng = random.Random(rows)
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("image_local_path,label,confidence\r\n")
        for i in range(rows):
            label = rng.randrange(len(LABELS))
            out.write(f"class{label:02d}/image_{i:07d}.jpg,{LABELS[label]},{rng.uniform(80, 100):.6f}\r\n")


def _stub() -> Any:
    """The bench stub, keeping no request log and no object bodies (they are not the seed's memory)."""
    from bench.stub import StubAws

    class LeanStub(StubAws):
        def __init__(self) -> None:
            super().__init__()
            self.log = collections.deque(maxlen=1_000)  # type: ignore[assignment]
            self.requests = 0

        def _s3(self, operation: str, params: dict[str, Any], request: Any) -> tuple[int, dict[str, str], bytes]:
            if operation == "PutObject":
                body = params.get("Body", b"")
                size = 0
                if hasattr(body, "read"):
                    while block := body.read(1 << 20):
                        size += len(block)
                self.requests += 1
                return 200, {"x-amz-request-id": "stub", "ETag": '"stub"'}, b""
            self.requests += 1
            return super()._s3(operation, params, request)

        def _dynamodb(self, operation: str, request: Any) -> bytes:  # type: ignore[override]
            self.requests += 1
            return StubAws._dynamodb(operation, request)

    return LeanStub()


def measure_one(csv_path: Path, trace: bool) -> dict[str, Any]:
    """Seed ``csv_path`` once in this process; return the figures."""
    from handlers.aws_clients import make_client
    from handlers.image_sources import S3Images
    from handlers.s3_uri import S3Uri
    from handlers.seed_options import seed_options
    from handlers.seeding import CsvFile, SeedTarget, run_seed

    stub = _stub()
    s3 = stub.attach(make_client("s3", region="us-east-1"))
    ddb = stub.attach(make_client("dynamodb", region="us-east-1"))
    options = seed_options({"round": "memory", "threshold": 0})
    target = SeedTarget("bench-bucket", "bench-table", S3Images(S3Uri("images", "in-place")), options=options)
    before_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    report = run_seed(CsvFile(csv_path), target, s3=s3, ddb=ddb, source=str(csv_path))
    seconds = time.perf_counter() - start
    traced = tracemalloc.get_traced_memory()[1] / MIB if trace else None
    return {
        "rows": report.rows_read,
        "queued": report.queued,
        "pages": report.batch_count,
        "requests": stub.requests,
        "seconds": round(seconds, 1),
        "traced_peak_mib": round(traced, 1) if traced is not None else None,
        "rss_before_mib": round(before_rss, 1),
        "rss_peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def measure(sizes: list[int], trace: bool = True, work: Path | None = None) -> dict[str, Any]:
    """Every size in its own process; with the goals stated beside the figures."""
    folder = work or Path(tempfile.mkdtemp(prefix="bulkqa-seed-memory-"))
    runs = []
    for rows in sizes:
        csv_path = folder / f"labels-{rows}.csv"
        if not csv_path.exists():
            generate(csv_path, rows)
        command = [sys.executable, "-m", "bench.seed_memory", "--one", str(csv_path)]
        if not trace:
            command.append("--no-tracemalloc")
        out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=Path(__file__).parents[1])
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    by_rows = {run["rows"]: run for run in runs}
    result: dict[str, Any] = {"runs": runs}
    key = "traced_peak_mib" if trace else "rss_peak_mib"
    if 20_000 in by_rows and 200_000 in by_rows:
        growth = by_rows[200_000][key] - by_rows[20_000][key]
        result["growth_20k_to_200k_mib"] = round(growth, 1)
        result["goal_growth_under_40_mib"] = growth < 40
    if 1_000_000 in by_rows:
        result["goal_1m_rss_under_300_mib"] = by_rows[1_000_000]["rss_peak_mib"] < 300
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[20_000, 200_000, 1_000_000])
    parser.add_argument("--no-tracemalloc", action="store_true", help="RSS only (tracemalloc slows the run)")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure_one(args.one, not args.no_tracemalloc)))
        return 0
    print(json.dumps(measure(args.rows, trace=not args.no_tracemalloc), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
