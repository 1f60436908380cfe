"""Bad-input catalogue: every input the system reads, fed bad variants (docs/bad-inputs.md).

For each variant: the message names the place (CSV line, payload entry or dataset object, worker,
option), nothing is stored twice, and every valid row or vote next to the bad one is still stored.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bulkqa.cli import app
from handlers import post_labeling, pre_labeling
from handlers.batch_store import BatchNotFoundError
from handlers.csv_rows import CsvFormatError, decode_csv
from handlers.gt_events import EventError
from handlers.image_sources import S3Images
from handlers.rounds import BatchEntry, is_pair_item, parse_batch_document_json
from handlers.s3_uri import S3Uri, parse_s3_uri
from handlers.seeding import SeedTarget, run_seed
from tests.integration.support import counts, list_keys, scan_items, votes

HEADER = b"image_local_path,label,confidence\n"
GOOD_ROWS = b"good/a.jpg,Dog,95\ngood/b.jpg,Dog,90\ngood/c.jpg,Cat,85\n"  # lines 2-4
GOOD = {("s3://src/good/a.jpg", "Dog"), ("s3://src/good/b.jpg", "Dog"), ("s3://src/good/c.jpg", "Cat")}


def pair_keys(stack: Any) -> set[tuple[str, str]]:
    """The (image, label) pair items: round and round-pair items share the table (rounds.is_pair_item)."""
    return {key for key, item in scan_items(stack.ddb, stack.table).items() if is_pair_item(item)}


def seed(stack: Any, data: bytes) -> Any:
    target = SeedTarget(stack.bucket, stack.table, S3Images(S3Uri("src", "")), 25, 80.0)
    return run_seed(decode_csv(data, source="labels.csv"), target, s3=stack.s3, ddb=stack.ddb, source="labels.csv")


# --------------------------------------------------------------------------------------------
# CSV rows: the bad row is reported with its line and skipped; the good rows load once.
# --------------------------------------------------------------------------------------------

ROW_CASES = {
    "missing confidence field": (b"bad/x.jpg,Dog\n", "missing field(s) confidence"),
    "confidence not a number": (b"bad/x.jpg,Dog,high\n", "confidence 'high' is not a number"),
    "confidence NaN": (b"bad/x.jpg,Dog,NaN\n", "not a finite number"),
    "confidence infinite": (b"bad/x.jpg,Dog,inf\n", "not a finite number"),
    "confidence above 100": (b"bad/x.jpg,Dog,101.5\n", "out of range 0-100"),
    "confidence negative": (b"bad/x.jpg,Dog,-3\n", "out of range 0-100"),
    "confidence empty": (b"bad/x.jpg,Dog,\n", "missing confidence"),
    "empty label": (b"bad/x.jpg,,90\n", "empty label"),
    "huge label": (b"bad/x.jpg," + b"L" * 5000 + b",90\n", "label is 5000 characters long (at most 128)"),
    "label with control character": (b"bad/x.jpg,Do\x07g,90\n", "label contains control characters"),
    "duplicate row": (b"good/a.jpg,Dog,91\n", "duplicate of line 2 ('good/a.jpg' labelled 'Dog')"),
    "duplicate spelled ./path": (b"./good/a.jpg,Dog ,91\n", "duplicate of line 2 ('good/a.jpg' labelled 'Dog')"),
    "duplicate spelled with backslash": (b"good\\b.jpg,Dog,91\n", "duplicate of line 3 ('good/b.jpg' labelled 'Dog')"),
    "path escapes the folder": (b"../secret/x.jpg,Dog,90\n", "must be relative and stay inside the image folder"),
    "absolute path": (b"/etc/passwd,Dog,90\n", "must be relative"),
    "empty image path": (b",Dog,90\n", "missing image path"),
    "truncated last row": (b'bad/x.jpg,"Do', "missing field(s) confidence"),
    # Issue 12/13: invisible characters, strict confidences, path spellings, row shape.
    "label with zero-width space": ("bad/x.jpg,Do\u200bg,90\n".encode(), "U+200B ZERO WIDTH SPACE"),
    "label with word joiner": ("bad/x.jpg,Do\u2060g,90\n".encode(), "U+2060 WORD JOINER"),
    "label with soft hyphen": ("bad/x.jpg,Do\u00adg,90\n".encode(), "U+00AD SOFT HYPHEN"),
    "label with right-to-left override": ("bad/x.jpg,\u202egoD,90\n".encode(), "U+202E RIGHT-TO-LEFT OVERRIDE"),
    "label with no-break space": ("bad/x.jpg,Sea\u00a0lion,90\n".encode(), "U+00A0 NO-BREAK SPACE"),
    "path with right-to-left override": ("bad/x\u202egpj.exe,Dog,90\n".encode(), "U+202E RIGHT-TO-LEFT OVERRIDE"),
    "path with zero-width space": ("good/\u200ba.jpg,Dog,90\n".encode(), "U+200B ZERO WIDTH SPACE"),
    "confidence with underscore": (b"bad/x.jpg,Dog,8_0\n", "confidence '8_0' is not a plain decimal number"),
    "confidence in Arabic-Indic digits": ("bad/x.jpg,Dog,\u0668\u0660\n".encode(), "non-ASCII digit (U+0668"),
    "confidence in full-width digits": ("bad/x.jpg,Dog,\uff19\uff10\n".encode(), "non-ASCII digit (U+FF19"),
    "duplicate spelled with //": (b"good//a.jpg,Dog,91\n", "duplicate of line 2 ('good/a.jpg' labelled 'Dog')"),
    "duplicate spelled with /./": (b"good/./b.jpg,Dog,91\n", "duplicate of line 3 ('good/b.jpg' labelled 'Dog')"),
    "duplicate spelled with x/../": (b"x/../good/c.jpg,Cat,91\n", "duplicate of line 4 ('good/c.jpg' labelled 'Cat')"),
    "path is a URL": (b"s3://other/x.jpg,Dog,90\n", "is a URL"),
    "absolute Windows path": (b"C:\\images\\x.jpg,Dog,90\n", "absolute Windows path"),
    "row with an unquoted comma": (b"bad/x.jpg,Sea, lion,90\n", "row has 4 fields but the header has 3"),
    "unclosed quote on the last line": (b'bad/x.jpg,Dog,"90', "unclosed quote"),
}


@pytest.mark.parametrize("variant", list(ROW_CASES))
def test_bad_csv_row_is_named_by_line_and_the_rest_loads_once(qa_stack: Any, variant: str) -> None:
    bad, reason = ROW_CASES[variant]
    data = HEADER + GOOD_ROWS + bad  # the bad row is line 5

    report = seed(qa_stack, data)
    again = seed(qa_stack, data)  # run twice: nothing may be stored twice

    assert [(p.line, reason in p.reason) for p in report.problems] == [(5, True)], report.problems
    assert pair_keys(qa_stack) == GOOD
    assert (report.items_written, again.items_written, again.items_existing) == (3, 0, 3)
    assert report.queued == again.queued == 3


FILE_CASES = {
    "latin-1 bytes": (HEADER + "good/a.jpg,Café,90\n".encode("latin-1"), "not UTF-8: byte 0xe9 at line 2"),
    "UTF-16 file": ((HEADER + GOOD_ROWS).decode().encode("utf-16"), "not UTF-8: byte 0xff at line 1"),
    "no confidence column": (b"image_local_path,label\ngood/a.jpg,Dog\n", "lacks column(s) confidence"),
    "no image column": (b"path,label,confidence\ngood/a.jpg,Dog,90\n", "lacks column(s) image_local_path"),
    "empty file": (b"", "is empty: expected a header line"),
}


@pytest.mark.parametrize("variant", list(FILE_CASES))
def test_unreadable_csv_stops_before_anything_is_stored(qa_stack: Any, variant: str) -> None:
    data, message = FILE_CASES[variant]
    with pytest.raises(CsvFormatError, match=r"labels\.csv") as raised:
        seed(qa_stack, data)
    assert message in str(raised.value)
    assert scan_items(qa_stack.ddb, qa_stack.table) == {}
    assert list_keys(qa_stack.s3, qa_stack.bucket) == []


def test_csv_of_only_bad_rows_is_refused_by_the_launch_function(qa_stack: Any) -> None:
    from handlers import launch

    qa_stack.s3.put_object(Bucket=qa_stack.bucket, Key="in/labels.csv", Body=HEADER + b"x.jpg,Dog,high\n")
    with pytest.raises(ValueError, match=r"nothing could be loaded from s3://.*/in/labels.csv: 1 bad row"):
        launch.handler({"csv": f"s3://{qa_stack.bucket}/in/labels.csv"})
    assert scan_items(qa_stack.ddb, qa_stack.table) == {}


# --------------------------------------------------------------------------------------------
# Pre-annotation events
# --------------------------------------------------------------------------------------------

BATCH = [{"s3_image_url": f"s3://src/good/{n}.jpg", "label": "Dog", "confidence": 90.0} for n in "abc"]


def _put(stack: Any, key: str, body: bytes | str) -> str:
    stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=body.encode() if isinstance(body, str) else body)
    return f"s3://{stack.bucket}/{key}"


PRE_CASES: dict[str, tuple[Any, type[Exception], str]] = {
    "event is a list": ([], EventError, "pre-annotation event must be a JSON object, got list"),
    "dataObject missing": ({"version": "2018-10-16"}, EventError, "dataObject must be a JSON object, got NoneType"),
    "dataObject without source": ({"dataObject": {"x": 1}}, EventError, "neither 'source-ref' nor 'source'"),
    "source-ref to a missing batch": (
        {"dataObject": {"source-ref": "s3://{bucket}/batches/none.json"}},
        BatchNotFoundError,
        "object s3://{bucket}/batches/none.json does not exist",
    ),
    "batch file truncated": (
        {"dataObject": {"source-ref": "truncated"}},
        ValueError,
        "batch file s3://{bucket}/batches/truncated.json is not valid JSON",
    ),
    "batch item without label": (
        {"dataObject": {"source-ref": "nolabel"}},
        ValueError,
        "batch file s3://{bucket}/batches/nolabel.json: item 1 has no label",
    ),
    "inline source with a string confidence": (
        {"dataObject": {"source": json.dumps([{**BATCH[0], "confidence": "90"}])}},
        ValueError,
        "<inline data object>: item 0 has no numeric confidence",
    ),
    "inline source not JSON": ({"dataObject": {"source": "[{"}}, EventError, "inline data object is not valid JSON"),
}


@pytest.mark.parametrize("variant", list(PRE_CASES))
def test_bad_pre_annotation_event_names_the_object(qa_stack: Any, variant: str) -> None:
    event, error, message = PRE_CASES[variant]
    _put(qa_stack, "batches/truncated.json", json.dumps(BATCH)[:40])
    _put(qa_stack, "batches/nolabel.json", json.dumps([BATCH[0], {**BATCH[1], "label": ""}]))
    if isinstance(event, dict) and event.get("dataObject", {}).get("source-ref") in {"truncated", "nolabel"}:
        event = {
            "dataObject": {"source-ref": f"s3://{qa_stack.bucket}/batches/{event['dataObject']['source-ref']}.json"}
        }
    elif isinstance(event, dict):
        event = json.loads(json.dumps(event).replace("{bucket}", qa_stack.bucket))

    with pytest.raises(error) as raised:
        pre_labeling.handler(event)
    assert message.replace("{bucket}", qa_stack.bucket) in str(raised.value)


# --------------------------------------------------------------------------------------------
# Consolidation payload files and worker answers: one good object with a good worker next to
# each bad variant. The good votes are stored once (the request is delivered twice); the bad
# part is logged naming the object or worker, and never stored.
# --------------------------------------------------------------------------------------------


@dataclass
class Consolidation:
    stack: Any
    batch_uri: str
    items: list[BatchEntry]
    logs: list[dict[str, Any]]

    def good_object(self) -> dict[str, Any]:
        answer = {f"Dog-{i}": {"Confirmed": True} for i in range(len(self.items))}
        return {
            "datasetObjectId": "good",
            "dataObject": {"s3Uri": self.batch_uri},
            "annotations": [{"workerId": "w-good", "annotationData": {"content": json.dumps(answer)}}],
        }

    def run(self, payload: Any, raw: bytes | None = None) -> list[dict[str, Any]]:
        body = raw if raw is not None else json.dumps(payload).encode()
        uri = _put(self.stack, "payloads/p.json", body)
        event = {"version": "2018-10-16", "labelingJobArn": "arn:job", "labelAttributeName": "qa"}
        return post_labeling.handler({**event, "payload": {"s3Uri": uri}})

    def stored_votes(self) -> dict[tuple[str, str], dict[str, str]]:
        items = scan_items(self.stack.ddb, self.stack.table).items()
        return {key: votes(item) for key, item in items if is_pair_item(item)}


class _Collect(logging.Handler):
    def __init__(self, sink: list[dict[str, Any]]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append({"level": record.levelname, "message": record.getMessage(), **getattr(record, "fields", {})})


@pytest.fixture
def consolidation(qa_stack: Any) -> Iterator[Consolidation]:
    seeded = seed(qa_stack, HEADER + b"good/a.jpg,Dog,95\ngood/b.jpg,Dog,90\n")
    manifest = parse_s3_uri(seeded.manifest_uri)
    line = qa_stack.s3.get_object(Bucket=manifest.bucket, Key=manifest.key)["Body"].read().decode().splitlines()[0]
    document = json.loads(line)["source"]  # the page, inline, as Ground Truth hands it over
    uri = _put(qa_stack, "pages/dog-1.json", document)  # and as an object, so an entry can name it by s3Uri
    page = parse_batch_document_json(json.loads(document), source=uri)
    logs: list[dict[str, Any]] = []
    handler = _Collect(logs)
    logger = logging.getLogger("bulkqa.post_labeling")
    logger.addHandler(handler)
    try:
        yield Consolidation(qa_stack, uri, list(page.items), logs)
    finally:
        logger.removeHandler(handler)


def _answer(worker: Any, content: Any) -> dict[str, Any]:
    return {"workerId": worker, "annotationData": {"content": content}}


def _object(c: Consolidation, object_id: str, annotations: list[Any], uri: str | None = None) -> dict[str, Any]:
    return {"datasetObjectId": object_id, "dataObject": {"s3Uri": uri or c.batch_uri}, "annotations": annotations}


YES = json.dumps({"Dog-0": {"Confirmed": True}, "Dog-1": {"Confirmed": False}})

# variant -> (payload builder, place the log must name, log message fragment, extra worker votes kept)
PAYLOAD_CASES: dict[str, tuple[Any, dict[str, Any], str]] = {
    "entry not an object": (
        lambda c: [c.good_object(), "oops"],
        {"position": 1},
        "payload entry 1 must be a JSON object",
    ),
    "entry without datasetObjectId": (
        lambda c: [c.good_object(), {"dataObject": {"s3Uri": c.batch_uri}, "annotations": []}],
        {"position": 1},
        "payload entry 1 has no datasetObjectId",
    ),
    "dataObject points to a missing batch": (
        lambda c: [c.good_object(), _object(c, "gone", [_answer("w-2", YES)], c.batch_uri + ".missing")],
        {"position": 1},
        "does not exist",
    ),
    "annotations not a list": (
        lambda c: [c.good_object(), {**_object(c, "obj-7", []), "annotations": {"w": 1}}],
        {"position": 1},
        "dataset object obj-7 has no annotations list",
    ),
    "dataObject without s3Uri or content": (
        lambda c: [c.good_object(), {"datasetObjectId": "obj-8", "dataObject": {}, "annotations": []}],
        {"position": 1},
        "dataset object obj-8's dataObject has neither 's3Uri' nor 'content'",
    ),
}


@pytest.mark.parametrize("variant", list(PAYLOAD_CASES))
def test_bad_payload_entry_is_skipped_by_position_and_the_good_one_counts_once(
    consolidation: Consolidation, variant: str
) -> None:
    build, place, message = PAYLOAD_CASES[variant]
    payload = build(consolidation)

    first = consolidation.run(payload)
    second = consolidation.run(payload)  # redelivered

    assert [obj["datasetObjectId"] for obj in first] == ["good"] == [obj["datasetObjectId"] for obj in second]
    errors = [log for log in consolidation.logs if log["level"] == "ERROR"]
    assert errors and all(message in log["message"] and place.items() <= log.items() for log in errors), errors
    stored = consolidation.stored_votes()
    assert all(v == {"w-good": "confirm"} for v in stored.values()), stored
    pairs = [
        item for item in scan_items(consolidation.stack.ddb, consolidation.stack.table).values() if is_pair_item(item)
    ]
    assert pairs and all(counts(item) == (1, 0) for item in pairs)


FILE_PAYLOAD_CASES: dict[str, tuple[bytes | None, Any, type[Exception], str]] = {
    "payload file truncated": (b'[{"datasetObjectId": "good", "dataOb', None, EventError, "is not valid JSON"),
    "payload file is an object": (b'{"datasetObjectId": "good"}', None, EventError, "must be a JSON list"),
    "payload file latin-1": ('["Café"]'.encode("latin-1"), None, EventError, "is not valid JSON"),
}


@pytest.mark.parametrize("variant", list(FILE_PAYLOAD_CASES))
def test_unreadable_payload_file_fails_the_request_naming_it(consolidation: Consolidation, variant: str) -> None:
    raw, payload, error, message = FILE_PAYLOAD_CASES[variant]
    with pytest.raises(error, match=r"payloads/p\.json") as raised:
        consolidation.run(payload, raw=raw)
    assert message in str(raised.value)
    assert all(v == {} for v in consolidation.stored_votes().values())


def test_consolidation_event_without_payload_uri_is_refused(consolidation: Consolidation) -> None:
    with pytest.raises(EventError, match="consolidation event's payload has no s3Uri"):
        post_labeling.handler({"labelAttributeName": "qa", "payload": {}})
    with pytest.raises(EventError, match="consolidation event has no labelAttributeName"):
        post_labeling.handler({"payload": {"s3Uri": "s3://b/k"}})


# variant -> (bad worker's annotation, log fields it must name, fragment, votes of the bad worker kept)
ANSWER_CASES: dict[str, tuple[Any, dict[str, Any], str, dict[int, str]]] = {
    "content not JSON": (_answer("w-bad", '{"Dog-0": {"Confirmed": tr'), {"workerId": "w-bad"}, "not valid JSON", {}),
    "content a JSON list": (_answer("w-bad", "[1, 2]"), {"workerId": "w-bad"}, "must be a JSON object, got list", {}),
    "no workerId": (_answer(None, YES), {"workerId": None}, "annotation has no workerId", {}),
    "annotationData missing": (
        {"workerId": "w-bad"},
        {"workerId": "w-bad"},
        "annotationData has neither 'content' nor 's3Uri'",
        {},
    ),
    "unknown index": (
        _answer("w-bad", json.dumps({"Dog-0": {"Confirmed": True}, "Dog-7": {"Confirmed": True}})),
        {"workerId": "w-bad"},
        "ignored key 'Dog-7': index 7 is outside the batch of 2",
        {0: "confirm"},
    ),
    "label of another image": (
        _answer("w-bad", json.dumps({"Cat-0": {"Confirmed": True}, "Dog-1": {"Confirmed": False}})),
        {"workerId": "w-bad"},
        "ignored key 'Cat-0': image 0 is labelled 'Dog'",
        {1: "disconfirm"},
    ),
    "Confirmed as a string": (
        _answer("w-bad", json.dumps({"Dog-0": {"Confirmed": "yes"}, "Dog-1": {"Confirmed": True}})),
        {"workerId": "w-bad"},
        "ignored key 'Dog-0': expected {'Confirmed': true|false}",
        {1: "confirm"},
    ),
    "index with a leading zero": (
        _answer("w-bad", json.dumps({"Dog-01": {"Confirmed": True}, "Dog-0": {"Confirmed": False}})),
        {"workerId": "w-bad"},
        "ignored key 'Dog-01': not of the form <label>-<index>",
        {0: "disconfirm"},
    ),
    "same worker twice in one object": (
        _answer("w-good", json.dumps({"Dog-0": {"Confirmed": False}})),
        {"workerId": "w-good"},
        "repeated annotation from the same worker ignored",
        {},
    ),
}


@pytest.mark.parametrize("variant", list(ANSWER_CASES))
def test_bad_worker_answer_is_skipped_naming_the_worker_and_other_votes_count_once(
    consolidation: Consolidation, variant: str
) -> None:
    annotation, place, message, kept = ANSWER_CASES[variant]
    good = consolidation.good_object()
    payload = [{**good, "annotations": [*good["annotations"], annotation]}]

    consolidation.run(payload)
    response = consolidation.run(payload)  # redelivered

    logged = [log for log in consolidation.logs if message in log["message"]]
    assert logged, consolidation.logs
    assert all(place.items() <= log.items() and log["datasetObjectId"] == "good" for log in logged)
    for index, item in enumerate(consolidation.items):
        want = {"w-good": "confirm"}
        if index in kept:
            want["w-bad"] = kept[index]
        stored = consolidation.stored_votes()[(item.s3_image_url, item.label)]
        assert stored == want, (index, stored)
    images = response[0]["consolidatedAnnotation"]["content"]["qa"]["images"]
    assert [img["WorkerConfirmCount"] + img["WorkerDisconfirmCount"] for img in images] == [
        1 + (i in kept) for i in range(len(consolidation.items))
    ]


# --------------------------------------------------------------------------------------------
# Command-line options: refused before any request, naming the option.
# --------------------------------------------------------------------------------------------


@pytest.fixture
def cli_inputs(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "images").mkdir()
    (tmp_path / "labels.csv").write_bytes(HEADER + GOOD_ROWS)
    return {"csv": str(tmp_path / "labels.csv"), "images": str(tmp_path / "images"), "dir": str(tmp_path)}


OPTION_CASES: dict[str, tuple[dict[str, str], str]] = {
    "batch size 0": ({"--batch-size": "0"}, "--batch-size"),
    "batch size over 100": ({"--batch-size": "101"}, "--batch-size"),
    "batch size not a number": ({"--batch-size": "ten"}, "--batch-size"),
    "threshold over 100": ({"--threshold": "150"}, "--threshold"),
    "threshold not a number": ({"--threshold": "high"}, "--threshold"),
    "workers 0": ({"--workers": "0"}, "--workers"),
    "csv missing": ({"--csv": "{dir}/nope.csv"}, "--csv"),
    "csv is a folder": ({"--csv": "{dir}"}, "--csv"),
    "images folder missing": ({"--images": "{dir}/no-such-folder"}, "image folder"),
    "images URI without bucket": ({"--images": "s3:///prefix"}, "no bucket in S3 URI"),
}


@pytest.mark.parametrize("variant", list(OPTION_CASES))
def test_bad_seed_option_is_refused_naming_it_and_nothing_is_stored(
    qa_stack: Any, cli_inputs: dict[str, str], variant: str
) -> None:
    options, named = OPTION_CASES[variant]
    values = {
        "--csv": cli_inputs["csv"],
        "--images": cli_inputs["images"],
        "--bucket": qa_stack.bucket,
        "--table": qa_stack.table,
        **{k: v.replace("{dir}", cli_inputs["dir"]) for k, v in options.items()},
    }
    args = ["seed", *[part for pair in values.items() for part in pair], "--json"]

    result = CliRunner().invoke(app, args)

    assert result.exit_code == 2, result.output
    assert named in " ".join(result.output.split()), result.output
    assert scan_items(qa_stack.ddb, qa_stack.table) == {}
    assert list_keys(qa_stack.s3, qa_stack.bucket) == []


def test_catalogue_has_at_least_thirty_variants() -> None:
    total = sum(
        len(cases)
        for cases in (ROW_CASES, FILE_CASES, PRE_CASES, PAYLOAD_CASES, FILE_PAYLOAD_CASES, ANSWER_CASES, OPTION_CASES)
    )
    assert total >= 30


# --------------------------------------------------------------------------------------------
# Issue 12/13: nothing lost to a stray quote; images only from regular files, only under images/;
# a wrong --images refused before any write; CSVs as people have them.
# --------------------------------------------------------------------------------------------


def test_runaway_quote_loses_no_row_and_names_the_lines(qa_stack: Any) -> None:
    rows = b"".join(b"good/%d.jpg,Dog,90\n" % i for i in range(500))
    data = HEADER + b'bad.jpg,"Dog,90\n' + rows + b'"good/x, y.jpg",Cat,95\n'

    report = seed(qa_stack, data)

    assert report.items_written == 501  # the 500 rows after the stray quote and the quoted one
    assert [(p.line, p.reason.split(":")[0]) for p in report.problems] == [(2, "unclosed quote")]
    assert "lines 3-503" in report.problems[0].reason
    assert len(pair_keys(qa_stack)) == 501


class _CountingClients:
    """Replaces ``bulkqa.aws.clients``: real clients, every API call recorded."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls: list[str] = []

    def __call__(self, *services: str, **kwargs: Any) -> Any:
        made = self.real(*services, **kwargs)
        return tuple(self._wrap(client) for client in made)

    def _wrap(self, client: Any) -> Any:
        calls = self.calls

        class Recorder:
            def __getattr__(self, name: str) -> Any:
                attribute = getattr(client, name)
                if callable(attribute) and not name.startswith(("get_paginator", "_", "meta")):

                    def recorded(*args: Any, **kwargs: Any) -> Any:
                        calls.append(name)
                        return attribute(*args, **kwargs)

                    return recorded
                if name == "get_paginator":
                    calls.append(name)
                return attribute

        return Recorder()


@pytest.fixture
def aws_calls(monkeypatch: pytest.MonkeyPatch) -> _CountingClients:
    import bulkqa.aws

    counting = _CountingClients(bulkqa.aws.clients)
    monkeypatch.setattr(bulkqa.aws, "clients", counting)
    return counting


def _seed_cli(stack: Any, csv: Path, images: str, *extra: str) -> Any:
    args = ["seed", "--csv", str(csv), "--images", images, "--bucket", stack.bucket, "--table", stack.table]
    return CliRunner().invoke(app, [*args, "--round", "r1", *extra], env={"COLUMNS": "80", "NO_COLOR": "1"})


def test_wrong_local_folder_is_summarised_and_no_aws_request_is_made(
    qa_stack: Any, tmp_path: Path, aws_calls: _CountingClients
) -> None:
    csv = tmp_path / "labels.csv"
    csv.write_bytes(HEADER + b"".join(b"dogs/%03d.jpg,Dog,90\ndogs/%03d.jpg,Cat,85\n" % (i, i) for i in range(189)))
    empty = tmp_path / "wrong"
    empty.mkdir()

    result = _seed_cli(qa_stack, csv, str(empty))

    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert f"0 of 189 images found under {empty.resolve()} — check --images" in text
    assert text.count("not found") == 20 and "... and 169 more" in text
    assert len(result.output.splitlines()) < 40  # a summary, not a line per row
    assert aws_calls.calls == []
    assert scan_items(qa_stack.ddb, qa_stack.table) == {}
    assert list_keys(qa_stack.s3, qa_stack.bucket) == []


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("typo", "no objects under s3://vendor/typo — check --images"),
        ("other", "0 of 3 sampled images found under s3://vendor/other — check --images"),
    ],
)
def test_s3_prefix_with_no_such_images_is_refused_before_anything_is_written(
    qa_stack: Any, tmp_path: Path, prefix: str, message: str
) -> None:
    qa_stack.s3.create_bucket(Bucket="vendor")
    for name in ("a", "b", "c"):
        qa_stack.s3.put_object(Bucket="vendor", Key=f"caltech/{name}.jpg", Body=b"x")
    qa_stack.s3.put_object(Bucket="vendor", Key="other/unrelated.jpg", Body=b"x")
    csv = tmp_path / "labels.csv"
    csv.write_bytes(HEADER + b"a.jpg,Dog,90\nb.jpg,Dog,90\nc.jpg,Cat,90\n")

    refused = _seed_cli(qa_stack, csv, f"s3://vendor/{prefix}")

    assert refused.exit_code == 2, refused.output
    assert message in " ".join(refused.output.split())
    assert scan_items(qa_stack.ddb, qa_stack.table) == {}
    assert list_keys(qa_stack.s3, qa_stack.bucket) == []
    right = _seed_cli(qa_stack, csv, "s3://vendor/caltech")
    assert right.exit_code == 0, right.output
    assert {url for url, _ in pair_keys(qa_stack)} == {f"s3://vendor/caltech/{n}.jpg" for n in "abc"}


def test_links_fifos_and_project_paths_never_leave_the_images_prefix(qa_stack: Any, tmp_path: Path) -> None:
    import os

    images = tmp_path / "images"
    (images / "templates").mkdir(parents=True)
    (images / "good.jpg").write_bytes(b"good")
    for n in range(4):
        (images / f"more-{n}.jpg").write_bytes(b"more")
    (images / "templates" / "bulkqa.liquid.html").write_bytes(b"<script>attacker</script>")
    (tmp_path / "secret").write_bytes(b"root:x:0:0")
    os.symlink(tmp_path / "secret", images / "passwd.jpg")
    os.symlink("good.jpg", images / "alias.jpg")
    os.mkfifo(images / "pipe.jpg")
    qa_stack.s3.put_object(Bucket=qa_stack.bucket, Key="templates/bulkqa.liquid.html", Body=b"the real template")
    csv = tmp_path / "labels.csv"
    csv.write_bytes(
        HEADER
        + b"good.jpg,Dog,90\npasswd.jpg,Dog,90\nalias.jpg,Dog,90\npipe.jpg,Dog,90\n"
        + b"templates/bulkqa.liquid.html,Dog,90\n"
        + b"".join(b"more-%d.jpg,Dog,90\n" % n for n in range(4))
    )

    result = _seed_cli(qa_stack, csv, str(images), "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    reasons = {p["line"]: p["reason"] for p in report["problems"]}
    assert "symbolic link" in reasons[3] and "symbolic link" in reasons[4] and "FIFO" in reasons[5]
    keys = set(list_keys(qa_stack.s3, qa_stack.bucket))
    assert {"images/good.jpg", "images/templates/bulkqa.liquid.html"} <= keys
    assert not any("passwd" in key or "alias" in key or "pipe" in key for key in keys)
    body = qa_stack.s3.get_object(Bucket=qa_stack.bucket, Key="templates/bulkqa.liquid.html")["Body"].read()
    assert body == b"the real template"
    assert all(url.startswith(f"s3://{qa_stack.bucket}/images/") for url, _ in pair_keys(qa_stack))


@pytest.mark.parametrize(
    ("data", "extra"),
    [
        (b"\xef\xbb\xbfimage_local_path;label;confidence\r\na.jpg;Dog;97,5\r\nb.jpg;Cat;90\r\n", ()),
        (b"\xef\xbb\xbfimage_local_path\tlabel\tconfidence\r\na.jpg\tDog\t97.5\r\nb.jpg\tCat\t90\r\n", ()),
        (b"image_local_path|label|confidence\na.jpg|Dog|97.5%\nb.jpg|Cat|90\n", ("--delimiter", "|")),
        (b"image_local_path,label,confidence\na.jpg,Dog,0.975\nb.jpg,Cat,0.9\n", ("--confidence-scale", "1")),
    ],
)
def test_csvs_as_people_have_them_load(qa_stack: Any, tmp_path: Path, data: bytes, extra: tuple[str, ...]) -> None:
    qa_stack.s3.create_bucket(Bucket="vendor")
    for name in ("a", "b"):
        qa_stack.s3.put_object(Bucket="vendor", Key=f"in/{name}.jpg", Body=b"x")
    csv = tmp_path / "labels.csv"
    csv.write_bytes(data)

    result = _seed_cli(qa_stack, csv, "s3://vendor/in", *extra)

    assert result.exit_code == 0, result.output
    assert pair_keys(qa_stack) == {("s3://vendor/in/a.jpg", "Dog"), ("s3://vendor/in/b.jpg", "Cat")}


def test_fractions_without_a_scale_are_refused_with_the_hint(qa_stack: Any, tmp_path: Path) -> None:
    csv = tmp_path / "labels.csv"
    csv.write_bytes(HEADER + b"a.jpg,Dog,0.97\nb.jpg,Cat,0.91\n")

    result = _seed_cli(qa_stack, csv, "s3://vendor/in")

    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "between 0 and 1" in text and "--confidence-scale 1" in text
    assert scan_items(qa_stack.ddb, qa_stack.table) == {}
