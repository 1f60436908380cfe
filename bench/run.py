"""``make bench``: run every benchmark, write ``bench/results.json`` and the table in ``bench/README.md``.

    python -m bench.run                 # everything (goal: <= 10 min on 2 quiet cores)
    python -m bench.run --quick         # smaller sizes (goal: <= 1 min): a smoke test of the benchmark itself
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
PARTS = ("stub", "estimation", "seeding", "seeding_latency", "post_labeling", "package", "report")
# Figures of an earlier version of a part, no longer produced: dropped from results.json.
RETIRED: tuple[str, ...] = ()

FULL = {
    "stub_rows": 2_000,  # seeding on the stub at 10 and 20 ms (the baseline pays rows x latency)
    "stub_rows_0ms": 5_000,
    "stub_image_rows": 300,  # x 200 KB
    "stub_big_objects": 1_000,  # post-labeling, 9 workers, 10 ms
    "estimation_rows": 1_000_000,
    "estimation_replications": 10,
    "seed_rows": 2_000,  # emulator (moto) figures: moto's CPU per request makes these the slow part
    "latency_rows": 300,
    "requests_each": 2,
    "big_request": 200,
    "report_rows": 1_000_000,
    "package_runs": 7,
}
QUICK = {
    "stub_rows": 100,
    "stub_rows_0ms": 500,
    "stub_image_rows": 20,
    "stub_big_objects": 20,
    "estimation_rows": 100_000,
    "estimation_replications": 3,
    "seed_rows": 100,
    "latency_rows": 30,
    "requests_each": 1,
    "big_request": 10,
    "report_rows": 50_000,
    "package_runs": 1,
}
ESTIMATION_SIZES = (25, 50, 75, 100, 150, 200, 300)


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


def run_part(part: str, sizes: dict[str, int], quick: bool = False) -> Any:
    if part == "stub":
        from bench.latency import measure

        return measure(WORK, sizes)
    if part == "estimation":
        from bench.estimation import measure

        plot = WORK / "estimation-quick.png" if quick else HERE / "estimation.png"
        return measure(sizes["estimation_rows"], sizes["estimation_replications"], ESTIMATION_SIZES, plot)
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

        return measure(sizes.get("package_runs", 7))
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
    for retired in RETIRED:
        results.pop(retired, None)
    results.pop("load_average_at_start", None)
    results.pop("load_average_at_end", None)
    for part in args.only or PARTS:
        print(f"[bench] {part} ...", file=sys.stderr, flush=True)
        start, load_before = time.perf_counter(), os.getloadavg()[0]
        results[part] = run_part(part, sizes, args.quick)
        results.setdefault("runtime_s", {})[part] = round(time.perf_counter() - start, 1)
        # 1-minute load average before and after: the machine may be shared; say so next to the figures.
        results.setdefault("load_average_1min", {})[part] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        results_path.write_text(json.dumps(results, indent=1) + "\n")
        print(f"[bench] {part} done in {results['runtime_s'][part]} s", file=sys.stderr, flush=True)
    if args.quick and not args.only:  # the --quick goal (<= 1 min) is stated in the full results
        total = round(sum(results["runtime_s"][part] for part in PARTS), 1)
        full = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        full["quick_runtime_s"] = total
        RESULTS.write_text(json.dumps(full, indent=1) + "\n")
    from bench.tables import render_readme

    text = render_readme(results)
    (WORK / "README-quick.md" if args.quick else README).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
