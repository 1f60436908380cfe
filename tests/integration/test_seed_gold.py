"""``bulkqa seed --gold``: gold items on the pages of their class, invisible to the worker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bulkqa.cli import app
from handlers.pre_labeling import handler as pre_labeling
from handlers.rounds import parse_batch_document_json
from tests.conftest import QaStack

WIDE = {"COLUMNS": "200", "NO_COLOR": "1"}


def _images(folder: Path, names: list[str]) -> None:
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + name.encode())


def _seed(stack: QaStack, csv: Path, images: Path, *extra: str) -> Any:
    args = ["seed", "--csv", str(csv), "--images", str(images), "--bucket", stack.bucket, "--table", stack.table]
    return CliRunner().invoke(app, [*args, *extra], env=WIDE)


def _manifest_documents(stack: QaStack, round_name: str) -> list[Any]:
    key = f"rounds/{round_name}/manifest-0001.jsonl"
    text = stack.s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read().decode()
    return [parse_batch_document_json(json.loads(json.loads(line)["source"]), source=key) for line in text.splitlines()]


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path, Path]:
    images = tmp_path / "images"
    data = [f"crab/{i:02d}.jpg" for i in range(20)] + [f"seal/{i:02d}.jpg" for i in range(5)]
    gold_names = ["check/c1.jpg", "check/c2.jpg", "check/c3.jpg", "check/s1.jpg"]
    _images(images, data + gold_names)
    csv = tmp_path / "labels.csv"
    rows = [f"{name},{'Crab' if name.startswith('crab') else 'Seal'},{85 + i % 10}.5" for i, name in enumerate(data)]
    csv.write_text("image_local_path,label,confidence\r\n" + "\r\n".join(rows) + "\r\n")
    gold = tmp_path / "known.csv"
    gold.write_text(
        "image_local_path,label,truth\r\n"
        "check/c1.jpg,Crab,wrong\r\ncheck/c2.jpg,Crab,correct\r\ncheck/c3.jpg,Crab,wrong\r\ncheck/s1.jpg,Seal,wrong\r\n"
    )
    return csv, images, gold


def test_gold_items_join_pages_of_their_class_within_the_batch_size(
    qa_stack: QaStack, inputs: tuple[Path, Path, Path]
) -> None:
    csv, images, gold = inputs
    result = _seed(qa_stack, csv, images, "--round", "g1", "--batch-size", "10", "--gold", str(gold))
    assert result.exit_code == 0, result.output
    documents = _manifest_documents(qa_stack, "g1")
    data_seen = []
    for document in documents:
        assert len(document.items) <= 10
        gold_items = [item for item in document.items if item.gold]
        assert 1 <= len(gold_items) <= 2
        assert {item.label for item in document.items} == {document.label}
        data_seen += [item.s3_image_url for item in document.items if not item.gold]
        # The worker's page: the same three fields for every image, no gold marker.
        response = pre_labeling(
            {"version": "2018-10-16", "labelingJobArn": "arn:x", "dataObject": {"source": document.text()}}
        )
        shown = response["taskInput"]["sourceRef"]
        assert [sorted(item) for item in shown] == [["confidence", "label", "s3_image_url"]] * len(document.items)
        assert "gold" not in json.dumps(response)
        assert all("/images/" in item["s3_image_url"] for item in shown)
    assert len(data_seen) == len(set(data_seen)) == 25  # every data row once
    keys = {o["Key"] for o in qa_stack.s3.list_objects_v2(Bucket=qa_stack.bucket)["Contents"]}
    assert {"images/check/c1.jpg", "images/check/s1.jpg"} <= keys
    assert "has 'gold' in its path" not in result.output


def test_gold_is_deterministic_and_part_of_the_round_input(qa_stack: QaStack, inputs: tuple[Path, Path, Path]) -> None:
    csv, images, gold = inputs
    assert _seed(qa_stack, csv, images, "--round", "g2", "--gold", str(gold)).exit_code == 0
    first = _manifest_documents(qa_stack, "g2")
    again = _seed(qa_stack, csv, images, "--round", "g2", "--gold", str(gold))
    assert again.exit_code == 0, again.output
    assert _manifest_documents(qa_stack, "g2") == first
    without = _seed(qa_stack, csv, images, "--round", "g2")
    assert without.exit_code == 2  # other input for an existing round


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--gold-per-task", "2"], "--gold-per-task needs --gold"),
        (["--gold", "GOLD", "--gold-per-task", "0"], "at least 1 and less than --batch-size"),
        (["--gold", "GOLD", "--gold-per-task", "25"], "at least 1 and less than --batch-size"),
    ],
)
def test_gold_options_are_checked(
    qa_stack: QaStack, inputs: tuple[Path, Path, Path], extra: list[str], message: str
) -> None:
    csv, images, gold = inputs
    args = [str(gold) if arg == "GOLD" else arg for arg in extra]
    result = _seed(qa_stack, csv, images, "--round", "g3", *args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_a_bad_gold_csv_names_the_row_and_writes_nothing(qa_stack: QaStack, inputs: tuple[Path, Path, Path]) -> None:
    csv, images, gold = inputs
    gold.write_text("image_local_path,label,truth\r\ncheck/c1.jpg,Crab,perhaps\r\ncheck/none.jpg,Crab,wrong\r\n")
    result = _seed(qa_stack, csv, images, "--round", "g4", "--gold", str(gold))
    assert result.exit_code == 2
    assert "line 2: truth 'perhaps'" in " ".join(result.output.split())
    assert "Contents" not in qa_stack.s3.list_objects_v2(Bucket=qa_stack.bucket)


def test_a_generated_round_is_named_first_and_in_the_aws_error(
    qa_stack: QaStack, inputs: tuple[Path, Path, Path]
) -> None:
    """A seed that dies part-way can be resumed: its generated round name is printed up front and
    the error says how to resume it."""
    csv, images, _ = inputs
    args = ["seed", "--csv", str(csv), "--images", str(images), "--bucket", qa_stack.bucket, "--table", "no-such"]
    result = CliRunner().invoke(app, args, env=WIDE)
    assert result.exit_code == 3, result.output
    text = " ".join(result.output.split())
    first = text.index("Round: r-")
    name = text[first:].split()[1]
    assert "(generated" in text[first:]
    assert f"run the same command with --round {name} to resume it" in text
    assert text.index("AWS error") > first
