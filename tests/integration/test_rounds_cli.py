"""``bulkqa rounds list`` / ``adopt`` against moto in-process (Typer's runner)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from bulkqa.cli import app
from handlers.answers import Vote
from handlers.batching import QueueItem
from handlers.image_sources import S3Images
from handlers.round_store import manifest_documents, read_round
from handlers.rounds import round_pair_key
from handlers.s3_uri import S3Uri
from handlers.seed_options import seed_options
from handlers.seeding import CsvBytes, SeedTarget, run_seed
from handlers.vote_store import record_vote

CSV = b"image,label,confidence\r\n" + b"".join(
    f"img{i:03d}.jpg,{label},{80 + i % 20}\r\n".encode() for i, label in enumerate(["Dog", "Cat", "Sea lion"] * 20)
)


def seed(stack, name: str, **options):
    opts = seed_options({"round": name, **options})
    target = SeedTarget(stack.bucket, stack.table, S3Images(S3Uri("src-images", "")), options=opts)
    return run_seed(CsvBytes(CSV), target, s3=stack.s3, ddb=stack.ddb)


def run(*args: str, columns: int = 80):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": str(columns), "NO_COLOR": "1"})


def test_rounds_list_shows_each_round_and_the_votes_so_far(qa_stack) -> None:
    first = seed(qa_stack, "model-a-2026-05-01-with-a-rather-long-name")
    page = manifest_documents(qa_stack.s3, first.manifest_uri)[0]
    for index, item in enumerate(page.items[:4]):
        for worker in ("w1", "w2"):
            vote = Vote(worker, QueueItem(item.s3_image_url, item.label, item.confidence), index, True)
            record_vote(qa_stack.ddb, qa_stack.table, vote)
    seed(qa_stack, "model-b", accept_above={"Dog": 90}, sample=2)

    result = run("rounds", "list", "--table", qa_stack.table, "--json")

    assert result.exit_code == 0, result.output
    rounds = {r["round"]: r for r in json.loads(result.stdout)["rounds"]}
    a, b = rounds["model-a-2026-05-01-with-a-rather-long-name"], rounds["model-b"]
    assert (a["rows"], a["queued"], a["reused"], a["accepted"], a["sampled_out"]) == (60, 60, 0, 0, 0)
    assert a["progress"] == {"queued": 60, "votes": 8, "reviewed": 4}
    assert b["accepted"] == 10 and b["reused"] == 4  # the 4 voted pairs are reviewed: reused, not queued
    assert b["queued"] + b["sampled_out"] == 46 and b["rows"] == 60
    assert b["progress"]["votes"] == 0

    table = run("rounds", "list", "--table", qa_stack.table)
    assert table.exit_code == 0, table.output
    assert all(len(line) <= 80 for line in table.output.splitlines()), table.output
    assert "model-b" in table.output and "7%" in table.output  # 4 of 60 reviewed
    first_column = "".join(line[:30].strip() for line in table.output.splitlines())
    assert "model-a-2026-05-01-with-a-rather-long-name" in first_column  # folded, never cut


def test_rounds_adopt_registers_a_release_0_1_table(qa_stack) -> None:
    for i in range(6):
        url = f"s3://old-bucket/img{i}.jpg"
        qa_stack.ddb.put_item(
            TableName=qa_stack.table,
            Item={
                "s3_image_url": {"S": url},
                "label": {"S": "Dog"},
                "confidence": {"N": str(81 + i)},
                "WorkerConfirmCount": {"N": "0"},
                "WorkerDisconfirmCount": {"N": "0"},
                "WorkerVotes": {"M": {}},
            },
        )
        if i < 2:
            record_vote(qa_stack.ddb, qa_stack.table, Vote("w1", QueueItem(url, "Dog", 81.0 + i), 0, i == 0))
    qa_stack.s3.put_object(Bucket=qa_stack.bucket, Key="manifest.json", Body=b'{"source-ref": "s3://x/b.json"}\n')

    result = run("rounds", "adopt", "legacy", "--table", qa_stack.table, "--bucket", qa_stack.bucket)

    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Adopted 6 pair(s) as round legacy: 2 reviewed (reused), 4 not yet (queued)." in text
    meta = read_round(qa_stack.ddb, qa_stack.table, "legacy")
    assert meta.adopted and meta.parts[0].manifest_uri == f"s3://{qa_stack.bucket}/manifest.json"
    assert meta.parts[0].batches == 1
    key = round_pair_key("legacy", "s3://old-bucket/img3.jpg", "Dog")
    item = qa_stack.ddb.get_item(TableName=qa_stack.table, Key=key)
    assert item["Item"]["state"]["S"] == "queued" and item["Item"]["confidence"]["N"] == "84.0"

    again = run("rounds", "adopt", "legacy", "--table", qa_stack.table)
    assert again.exit_code == 2 and "round 'legacy' already exists" in again.output
    listed = json.loads(run("rounds", "list", "--table", qa_stack.table, "--json").stdout)["rounds"]
    assert [(r["round"], r["adopted"], r["progress"]["votes"]) for r in listed] == [("legacy", True, 0)]
