"""``make bench``: run every benchmark, write ``bench/results.json`` and the table in ``bench/README.md``.

    python -m bench.run                 # everything, at the sizes of issue 7 (about 20 min on 2 slow cores)
    python -m bench.run --quick         # smaller sizes, a few minutes: a smoke test of the benchmark itself
    python -m bench.run --only report   # one part; the others are kept from results.json

Generated inputs go to ``bench/_work`` (git-ignored) and are reused between runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
RESULTS = HERE / "results.json"
README = HERE / "README.md"
PARTS = ("seeding", "seeding_latency", "post_labeling", "package", "report")

FULL = {"seed_rows": 20_000, "latency_rows": 1_000, "requests_each": 3, "big_request": 1_000, "report_rows": 1_000_000}
QUICK = {"seed_rows": 2_000, "latency_rows": 200, "requests_each": 2, "big_request": 50, "report_rows": 100_000}


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import boto3
    import moto

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "boto3": boto3.__version__,
        "moto": moto.__version__,
    }


def run_part(part: str, sizes: dict[str, int]) -> Any:
    if part == "seeding":
        from bench.seeding import compare

        return compare(WORK, sizes["seed_rows"], 0.0)
    if part == "seeding_latency":
        from bench.seeding import compare

        return compare(WORK, sizes["latency_rows"], 0.020)
    if part == "post_labeling":
        from bench.post_labeling import measure

        return measure(sizes["requests_each"], sizes["big_request"])
    if part == "package":
        from bench.package import measure

        return measure()
    if part == "report":
        from bench.report import measure

        return measure(WORK, sizes["report_rows"])
    raise ValueError(part)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (does not overwrite results.json)")
    parser.add_argument("--only", choices=PARTS, action="append", help="run only this part (repeatable)")
    args = parser.parse_args(argv)
    # The emulator accepts any keys; never let the benchmark pick up a real profile or endpoint.
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    WORK.mkdir(exist_ok=True)
    sizes = QUICK if args.quick else FULL
    results_path = WORK / "results-quick.json" if args.quick else RESULTS
    results: dict[str, Any] = json.loads(results_path.read_text()) if results_path.exists() else {}
    results["machine"] = machine()
    results["sizes"] = sizes
    results.pop("load_average_at_start", None)
    results.pop("load_average_at_end", None)
    for part in args.only or PARTS:
        print(f"[bench] {part} ...", file=sys.stderr, flush=True)
        start, load_before = time.perf_counter(), os.getloadavg()[0]
        results[part] = run_part(part, sizes)
        results.setdefault("runtime_s", {})[part] = round(time.perf_counter() - start, 1)
        # 1-minute load average before and after: the machine may be shared; say so next to the figures.
        results.setdefault("load_average_1min", {})[part] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        results_path.write_text(json.dumps(results, indent=1) + "\n")
        print(f"[bench] {part} done in {results['runtime_s'][part]} s", file=sys.stderr, flush=True)
    from bench.tables import render_readme

    text = render_readme(results)
    (WORK / "README-quick.md" if args.quick else README).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
