"""Render ``bench/results.json`` as the Markdown of ``bench/README.md``."""

from __future__ import annotations

from typing import Any

INTRO = """# Benchmarks

`make bench` (`python -m bench.run`) measures, side by side in one run, against an embedded moto
server (`ThreadedMotoServer` on 127.0.0.1, a free port, in a child process of its own so it does not
share the client's GIL). Every figure below is written by the run into `results.json`; this file is
regenerated from it. `python -m bench.run --quick` runs small sizes into `bench/_work/` as a smoke test.

How to read the emulator figures: on 127.0.0.1 the server's own cost per request (a few ms of Python
in moto) bounds both sides, so the fewer requests we send, the faster we go — up to the
*request-bound limit* (baseline requests / our requests). With 20 ms injected per request (a
botocore `before-send` hook that sleeps in the sending thread — the round trip a laptop or a Lambda
function sees to real S3 and DynamoDB), waiting dominates and the parallel requests pay.
"""


def _seed_rows(part: dict[str, Any]) -> list[str]:
    b, o = part["baseline"], part["bulkqa_seed"]
    name = f"{part['rows']:,} rows, {part['latency_ms']} ms/request"
    return [
        f"| {name} | one call per row (sequential) | {b['seconds']:.1f} | {b['rows_per_s']:,.1f} | "
        f"{b['requests_total']:,} | {b['requests_per_row']:.3f} | | |",
        f"| {name} | `bulkqa seed` ({part['workers']} workers) | {o['seconds']:.1f} | {o['rows_per_s']:,.1f} | "
        f"{o['requests_total']:,} | {o['requests_per_row']:.3f} | **{part['speed_up']:.2f}×** | "
        f"{part['request_bound_limit']:.2f}× ({part['speed_up_of_limit']:.0%} of it) |",
    ]


def render_readme(results: dict[str, Any]) -> str:
    out = [INTRO]
    m = results.get("machine", {})
    out.append(
        f"**Machine:** {m.get('cpu')} — {m.get('cores')} cores; {m.get('os')}; Python {m.get('python')}; "
        f"boto3 {m.get('boto3')}; moto {m.get('moto')}.  "
    )
    loads = results.get("load_average_1min", {})
    if loads:
        text = ", ".join(
            f"{part} {loads[part][0]}→{loads[part][1]}" if part in loads else f"{part} not recorded"
            for part in results.get("runtime_s", loads)
        )
        out.append(
            f"**1-minute load average** before→after each part: {text} (2 cores; the bench itself adds about "
            "2). The machine is shared, so absolute times carry noise; ratios are measured side by side.  "
        )
    runtime = results.get("runtime_s", {})
    if runtime:
        parts = ", ".join(f"{k} {v:.0f} s" for k, v in runtime.items())
        out.append(f"**Bench runtime:** {sum(runtime.values()) / 60:.1f} min ({parts}).\n")

    seeding = [results[k] for k in ("seeding", "seeding_latency") if k in results]
    if seeding:
        out.append("## Seeding: `bulkqa seed` vs one call per row\n")
        out.append(
            "Same generated CSV (one distinct tiny PNG per row, 20 labels, threshold 0 so every row is "
            "queued), fresh emulator per run. The baseline does what the original sample did: per row one "
            "`PutObject` (image) and one `PutItem`, then one `PutObject` per batch file and the manifest; both "
            "sides leave the same items and objects (checked by the run).\n"
        )
        out.append("| run | seeder | seconds | rows/s | AWS requests | requests/row | speed-up | request-bound limit |")
        out.append("|---|---|---:|---:|---:|---:|---:|---:|")
        for part in seeding:
            out.extend(_seed_rows(part))
        by_op = seeding[0]["bulkqa_seed"]["requests"]
        out.append(f"\n`bulkqa seed` requests by service ({seeding[0]['rows']:,} rows): {by_op}.\n")

    post = results.get("post_labeling")
    if post:
        out.append("## Post-labeling: time per consolidation request\n")
        out.append(
            f"One request = dataset objects of {post['batch_size']} images each, every worker answering every "
            f"image (one conditional `UpdateItem` per vote, {post['vote_writers']} writer threads). *handler*: "
            "`handlers.post_labeling.handler` as Lambda calls it (it makes its boto3 clients on every call); "
            "*warm*: `consolidate()` with clients made once. Every vote sent was found stored exactly once "
            f"({post['votes_stored']:,} votes).\n"
        )
        out.append("| call | latency | objects | workers | votes | median ms/request | mean ms | AWS requests |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        for row in post["per_request"]:
            out.append(
                f"| {row['call']} | {row['latency_ms']} ms | {row['objects']} | {row['workers']} | "
                f"{row['votes_per_request']} | {row['ms_per_request_median']:,.0f} | "
                f"{row['ms_per_request_mean']:,.0f} | {row['aws_requests_per_request']:.0f} |"
            )
        big = post.get("big")
        if big:
            out.append(
                f"| {big['call']} | {big['latency_ms']} ms | {big['objects']:,} | {big['workers']} | "
                f"{big['votes']:,} | {big['seconds'] * 1000:,.0f} ({big['votes_per_s']:,.0f} votes/s) | | "
                f"{big['aws_requests']:,} |"
            )
        out.append("")

    report = results.get("report")
    if report:
        f, r, s = report["floor_csv_reader"], report["bulkqa_report"], report["bulkqa_startup_help"]
        out.append(f"## Report: {report['rows']:,} rows from CSV ({report['csv_mib']} MiB)\n")
        out.append(
            "Each in a fresh interpreter; peak memory is that process's own high-water mark (`VmHWM`, read "
            "at exit; the parent's `ru_maxrss` of a child is useless here, as Linux carries it over fork and "
            "exec). The floor only iterates "
            "the file with `csv.reader`. `bulkqa report --input FILE --format json --out FILE`.\n"
        )
        out.append("| what | seconds | × floor | peak memory |")
        out.append("|---|---:|---:|---:|")
        out.append(f"| floor: `csv.reader` over the file | {f['seconds']:.2f} | 1.00 | {f['peak_rss_mib']} MiB |")
        out.append(
            f"| `bulkqa report` (whole command) | {r['seconds']:.2f} | {report['report_over_floor']:.2f} | "
            f"{r['peak_rss_mib']} MiB |"
        )
        out.append(f"| of which start-up (`bulkqa report --help`) | {s['seconds']:.2f} | | {s['peak_rss_mib']} MiB |")
        out.append(
            f"| `bulkqa report` minus start-up | {r['seconds'] - s['seconds']:.2f} | "
            f"{report['report_minus_startup_over_floor']:.2f} | |"
        )
        out.append(f"| read + analysis (the command's own timer) | {r['own_timer_seconds']:.2f} | | |\n")

    package = results.get("package")
    if package:
        out.append("## Lambda package and cold import\n")
        out.append(
            f"Package built by `{package['built_by']}`: **{package['zip_bytes']:,} bytes** zipped, "
            f"{package['files']} files, {package['unzipped_bytes']:,} bytes unzipped. Cold import: fresh "
            f"interpreter, handlers imported from the unzipped package with `-B` (compiled from source, as on "
            f"Lambda's read-only `/var/task`), median of {package['runs_per_figure']} runs. `import boto3` alone: "
            f"{package['boto3_import_ms']:.0f} ms.\n"
        )
        out.append("| function | module | cold import | with boto3 already imported |")
        out.append("|---|---|---:|---:|")
        for key, row in package["handlers"].items():
            out.append(
                f"| {key} | `{row['module']}` | {row['cold_import_ms']:.0f} ms | "
                f"{row['cold_import_boto3_preloaded_ms']:.0f} ms |"
            )
        out.append("")
    return "\n".join(out) + "\n"
