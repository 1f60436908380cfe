"""``report --input``'s columnar reader (pyarrow) against the row-by-row reader, on messy files.

The contract (bulkqa/columnar.py): the fast path either gives exactly the row-by-row result or
declines, and then the row-by-row reader names every bad row. Each case below is read both ways;
the report, the problems and the row count must be identical, and clean files must take the fast
path (else the performance goal is lost silently).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bulkqa.analysis import build_report, build_report_from_columns
from bulkqa.cli import app
from bulkqa.columnar import MAX_VOTES
from bulkqa.results_source import CsvResults, JsonlResults, ResultsFormatError, open_file

HEADER = "image,label,confidence,WorkerConfirmCount,WorkerDisconfirmCount"
ROOT = Path(__file__).resolve().parents[2]


def body(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


GOOD = [f"s3://b/{i}.jpg,L{i % 3},{80 + i % 21},{i % 4},{(i // 4) % 2}" for i in range(40)]

CLEAN_CASES = {
    "plain": body(*GOOD),
    "crlf": body(*GOOD).replace("\n", "\r\n"),
    "bom": "\ufeff" + body(*GOOD),
    "columns in another order and case": "WORKERDISCONFIRMCOUNT,Label,image,Confidence,workerconfirmcount\n"
    + "".join(f"{i % 2},L{i % 3},s3://b/{i}.jpg,{90 + i % 10},{i % 3}\n" for i in range(30)),
    "the seed's image column name": body(*GOOD).replace("image,", "image_local_path,", 1),
    "extra columns": "x," + HEADER + ",y\n" + "".join(f"a,{row},b\n" for row in GOOD),
    "labels with spaces around them merge": body(*GOOD, "s3://b/x.jpg,  L1  ,90,1,0", "s3://b/y.jpg,L1 ,91,0,1"),
    "quoted fields with commas and quotes": body(*GOOD, '"s3://b/a,b.jpg","Sea ""lion"", grey",93.5,2,0'),
    "empty counts are no vote": body(*GOOD, "s3://b/e.jpg,L0,85,,", 's3://b/f.jpg,L0,85,"",""'),
    "non-ASCII labels": body(*GOOD, "s3://b/u.jpg,Chèvre 山羊,88,1,0"),
    "only the header": HEADER + "\n",
    "counts at the limit": body(*GOOD, f"s3://b/big.jpg,L0,90,{MAX_VOTES},0"),
}

DIRTY_CASES = {
    "not a number": body(*GOOD[:10], "s3://b/x.jpg,L0,high,1,0", *GOOD[10:]),
    "NaN and infinity": body(*GOOD, "s3://b/x.jpg,L0,nan,1,0", "s3://b/y.jpg,L0,inf,1,0"),
    "out of range": body(*GOOD, "s3://b/x.jpg,L0,100.5,1,0", "s3://b/y.jpg,L0,-1,1,0"),
    "negative and fractional counts": body(*GOOD, "s3://b/x.jpg,L0,90,-1,0", "s3://b/y.jpg,L0,90,2.5,0"),
    "whole counts written as floats": body(*GOOD, "s3://b/x.jpg,L0,90,3.0,1e0"),
    "empty label and image": body(*GOOD, "s3://b/x.jpg,,90,1,0", ",L0,90,1,0", "   ,L0,90,1,0", "s3://b/z,  ,90,1,0"),
    "too few fields": body(*GOOD, "s3://b/x.jpg,L0", "   "),
    "too many fields": body(*GOOD, "s3://b/x.jpg,L0,90,1,0,extra"),
    "empty confidence": body(*GOOD, "s3://b/x.jpg,L0,,1,0"),
    "words pyarrow reads as null": body(*GOOD, "s3://b/x.jpg,L0,90,NA,0", "s3://b/y.jpg,L0,NULL,1,0"),
    "digits that are not ASCII": body(
        *GOOD, "s3://b/x.jpg,L0,٨٠,1,0", "s3://b/y.jpg,L0,９０,1,0", "s3://b/z,L0,8_0,1,0"
    ),
    "counts not ASCII": body(*GOOD, "s3://b/x.jpg,L0,90,٣,0", "s3://b/y.jpg,L0,90,1_0,0"),
    "a quoted field over lines": body(*GOOD, '"s3://b/multi\nline.jpg",L2,99,1,1'),
    "blank lines": body(*GOOD[:5], "", *GOOD[5:], ""),
    "numbers with sign, exponent, spaces": body(*GOOD, "s3://b/n.jpg,L0, +9.5e1 ,+3,0", "s3://b/m.jpg,L0,.5e2,0,1"),
    "hex and words": body(*GOOD, "s3://b/x.jpg,L0,0x50,1,0", "s3://b/y.jpg,L0,90,true,0"),
}

# Rows the row-by-row reader accepts but pyarrow does not parse: the fast path declines, same result.
VALID_BUT_DECLINED = {
    "whole counts written as floats",
    "too many fields",
    "numbers with sign, exponent, spaces",
    "a quoted field over lines",  # legal; the row-by-row reader tells it from a stray quote
    "blank lines",  # more lines than rows: the row-by-row reader decides
}


def both_ways(path: Path) -> tuple[CsvResults | JsonlResults, CsvResults | JsonlResults, dict, dict]:
    fast, slow = open_file(path), open_file(path)
    from_columns = build_report_from_columns(*fast.columns())
    from_records = build_report(slow)
    return fast, slow, from_columns.to_json(), from_records.to_json()


@pytest.mark.parametrize("name", list(CLEAN_CASES))
def test_clean_files_take_the_fast_path_with_the_same_report(tmp_path: Path, name: str) -> None:
    path = tmp_path / "results.csv"
    path.write_bytes(CLEAN_CASES[name].encode("utf-8"))
    fast, slow, report_fast, report_slow = both_ways(path)
    assert fast.fast_path, name
    assert report_fast == report_slow
    assert fast.rows_read == slow.rows_read and fast.skipped == slow.skipped == 0


@pytest.mark.parametrize("name", list(DIRTY_CASES))
def test_dirty_files_name_every_bad_row_as_the_row_by_row_reader_does(tmp_path: Path, name: str) -> None:
    path = tmp_path / "results.csv"
    path.write_bytes(DIRTY_CASES[name].encode("utf-8"))
    fast, slow, report_fast, report_slow = both_ways(path)
    assert report_fast == report_slow
    assert [str(p) for p in fast.problems] == [str(p) for p in slow.problems]
    assert fast.rows_read == slow.rows_read
    assert not fast.fast_path, name
    if name not in VALID_BUT_DECLINED:
        assert fast.skipped >= 1, name
        assert all(p.where.startswith("line ") for p in fast.problems)


def test_non_ascii_numbers_are_refused_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(DIRTY_CASES["digits that are not ASCII"], encoding="utf-8")
    source = CsvResults(path)
    source.columns()
    assert [str(p) for p in source.problems] == [
        "line 42: confidence '٨٠' is not a number in 0-100",
        "line 43: confidence '９０' is not a number in 0-100",
        "line 44: confidence '8_0' is not a number in 0-100",
    ]


@pytest.mark.parametrize("count", [str(MAX_VOTES + 1), str(2**63), "1e30", "9" * 40])
def test_huge_counts_are_an_error_naming_the_line_exit_2(tmp_path: Path, count: str) -> None:
    path = tmp_path / "r.csv"
    path.write_text(body(*GOOD[:3], f"s3://b/x.jpg,L0,90,1,{count}", *GOOD[3:]))
    with pytest.raises(ResultsFormatError, match=r"line 5: WorkerDisconfirmCount .* too large"):
        CsvResults(path).columns()
    result = CliRunner().invoke(app, ["report", "--input", str(path)])
    stderr = " ".join(result.stderr.split())  # the message is wrapped at the terminal's width
    assert result.exit_code == 2
    assert "line 5" in stderr and "too large" in stderr and "Traceback" not in result.output
    result = CliRunner().invoke(app, ["export", "--input", str(path)])
    assert result.exit_code == 2 and "line 5" in " ".join(result.stderr.split())


def test_invalid_utf8_in_any_column_is_an_error_both_ways(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes((HEADER + ",note\n").encode() + b"s3://b/a.jpg,Dog,90,1,0,caf\xe9\n")
    with pytest.raises(ResultsFormatError, match="not UTF-8"):
        CsvResults(path).columns()


# --- JSON lines ---

JSONL_GOOD = [
    {
        "image": f"s3://b/{i}.jpg",
        "label": f"L{i % 3}",
        "confidence": 80 + i % 21,
        "WorkerConfirmCount": i % 3,
        "WorkerDisconfirmCount": (i // 3) % 2,
        "outcome": "whatever",
    }
    for i in range(30)
]


def jsonl(rows: list[object]) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)


def test_jsonl_clean_takes_the_fast_path_and_matches_the_same_csv(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(jsonl([*JSONL_GOOD, {"image": "s3://b/n.jpg", "label": "L1", "confidence": 90.5}]))
    fast, _, report_fast, report_slow = both_ways(path)
    assert fast.fast_path and report_fast == report_slow and fast.rows_read == 31
    csv_path = tmp_path / "r.csv"
    csv_path.write_text(
        body(
            *(
                f"{r['image']},{r['label']},{r['confidence']},{r['WorkerConfirmCount']},{r['WorkerDisconfirmCount']}"
                for r in JSONL_GOOD
            ),
            "s3://b/n.jpg,L1,90.5,,",
        )
    )
    assert build_report_from_columns(*CsvResults(csv_path).columns()).to_json() == report_fast


def test_jsonl_bad_lines_are_named(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    rows = [
        *JSONL_GOOD[:5],
        "{not json",
        "[1, 2]",
        {"image": "s3://b/x", "label": "", "confidence": 90},
        {"image": "s3://b/y", "label": "L0", "confidence": "high"},
        {"image": "s3://b/z", "label": "L0", "confidence": 90, "WorkerConfirmCount": True},
        "",
        *JSONL_GOOD[5:],
    ]
    path.write_text(jsonl(rows))
    fast, _, report_fast, report_slow = both_ways(path)
    assert not fast.fast_path and report_fast == report_slow
    wheres = [p.where for p in fast.problems]
    assert wheres == ["line 6", "line 7", "line 8", "line 9", "line 10"]
    assert "not JSON" in fast.problems[0].reason and "empty label" in fast.problems[2].reason


def test_report_reads_its_own_export_jsonl(tmp_path: Path) -> None:
    results = ROOT / "fixtures" / "qa_results.csv"
    out = tmp_path / "labels.jsonl"
    runner = CliRunner()
    assert (
        runner.invoke(app, ["export", "--input", str(results), "--format", "jsonl", "--out", str(out)]).exit_code == 0
    )
    from_export = runner.invoke(app, ["report", "--input", str(out), "--format", "json"])
    assert from_export.exit_code == 0, from_export.output
    # The export leaves unreviewed images out; everything reviewed is the same.
    original = json.loads(runner.invoke(app, ["report", "--input", str(results), "--format", "json"]).stdout)
    again = json.loads(from_export.stdout)
    assert [c["bands"] for c in again["classes"]] == [c["bands"] for c in original["classes"]]
    assert again["totals"]["total"] == original["totals"]["total"] == 28


# --- Start-up: report --input imports neither botocore nor liquid ---


def test_report_input_imports_no_aws_or_template_code(tmp_path: Path) -> None:
    results = ROOT / "fixtures" / "qa_results.csv"
    code = (
        "import sys\n"
        "from bulkqa.cli import app\n"
        "roots = ('botocore', 'boto3', 'liquid', 'matplotlib')\n"
        "try:\n"
        f"    app(['report', '--input', {str(results)!r}, '--format', 'json'], standalone_mode=False)\n"
        "finally:\n"
        "    loaded = sorted(m for m in sys.modules if m.split('.')[0] in roots)\n"
        "    print('LOADED=' + ','.join(loaded), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["totals"]["total"] == 28
    loaded = done.stderr.split("LOADED=")[1].strip()
    assert loaded == "", f"report --input imported {loaded}"


@pytest.mark.parametrize(
    ("stray", "closing"),
    [
        ('s3://b/bad.jpg,"L0,90,1,0', None),  # never closed: runs to the end of the file
        ('s3://b/bad.jpg,"L0,90,1,0', '"s3://b/q,x.jpg",L1,91,1,0'),  # closed by a later, correct quote
        ('s3://b/bad.jpg,L0,"90,1,0', 's3://b/z.jpg,L1,9"1,1,0'),  # closed by a second stray quote
    ],
)
def test_a_stray_quote_never_swallows_rows_silently(tmp_path: Path, stray: str, closing: str | None) -> None:
    rows = [*GOOD[:5], stray, *GOOD[5:25], *([closing] if closing else []), *GOOD[25:]]
    path = tmp_path / "r.csv"
    path.write_text(body(*rows))
    source = CsvResults(path)
    _, ids, *_ = source.columns()
    assert not source.fast_path
    assert str(source.problems[0]).startswith("line 7: unclosed quote") and "lines 8-" in str(source.problems[0])
    assert len(ids) == len(GOOD) + (1 if closing and closing.startswith('"') else 0)
    slow = CsvResults(path)
    assert len(list(slow)) == len(ids) and [str(p) for p in slow.problems] == [str(p) for p in source.problems]


def test_physical_lines_counts_as_the_csv_module_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import random

    from bulkqa import columnar

    monkeypatch.setattr(columnar, "BLOCK_BYTES", 3)  # line ends split across reads
    rng = random.Random(5)
    path = tmp_path / "lines.txt"
    for _ in range(300):
        text = "".join(rng.choice(["a", "b,c", "\r\n", "\n", "\r", ""]) for _ in range(rng.randint(0, 14)))
        path.write_bytes(text.encode())
        assert columnar.physical_lines(path) == len(io.StringIO(text, newline="").readlines()), repr(text)
