"""CSV of model labels -> validated rows: every accepted shape and every bad-row kind."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from handlers.csv_rows import CsvFormatError, decode_csv, parse_label_csv


def parse(text: str, threshold: float = 80.0):
    return parse_label_csv(text, threshold, source="labels.csv")


def problems(text: str) -> dict[int, str]:
    return {p.line: p.reason for p in parse(text).problems}


def triples(parsed) -> list[tuple[str, str, float]]:
    return [(r.image, r.label, r.confidence) for r in parsed.queued]


ROWS = [("a/1.jpg", "Dog", "99.5"), ("a/2.jpg", "Cat", "85"), ("a/1.jpg", "Cat", "81.25")]
EXPECTED = [("a/1.jpg", "Dog", 99.5), ("a/2.jpg", "Cat", 85.0), ("a/1.jpg", "Cat", 81.25)]


def as_csv(columns: list[str], rows=ROWS, newline: str = "\r\n") -> str:
    order = {"image_local_path": 0, "image": 0, "label": 1, "confidence": 2}
    lines = [",".join(columns)] + [",".join(row[order[c]] for c in columns) for row in rows]
    return newline.join(lines) + newline


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
@pytest.mark.parametrize(
    "columns",
    [
        ["image_local_path", "label", "confidence"],
        ["label", "confidence", "image_local_path"],
        ["confidence", "image_local_path", "label"],
        ["image", "label", "confidence"],
        ["label", "image", "confidence"],
    ],
)
def test_any_column_order_header_alias_and_line_ends(columns: list[str], newline: str) -> None:
    parsed = parse(as_csv(columns, newline=newline))
    assert triples(parsed) == EXPECTED
    assert [r.line for r in parsed.queued] == [2, 3, 4]
    assert parsed.problems == []
    assert parsed.rows_read == 3


def test_header_names_are_trimmed_and_case_insensitive() -> None:
    parsed = parse(" Label , CONFIDENCE ,Image_Local_Path\r\nDog,90,a.jpg\r\n")
    assert triples(parsed) == [("a.jpg", "Dog", 90.0)]


def test_utf8_bom_is_dropped_before_the_header() -> None:
    data = ("\ufeff" + as_csv(["image_local_path", "label", "confidence"])).encode("utf-8")
    text = decode_csv(data)
    assert not text.startswith("\ufeff")
    assert triples(parse(text)) == EXPECTED


def test_bom_fixture_with_spaces_hyphens_and_non_ascii_labels(fixtures_dir: Path) -> None:
    parsed = parse(decode_csv((fixtures_dir / "model_labels_bom.csv").read_bytes()))
    labels = [r.label for r in parsed.queued]
    assert labels == ["Sea lion", "sea-lion", "Éléphant de mer", "Pingüino", "Pingüino", "Pingüino", "鳥"]
    assert parsed.queued[5].image == "birds/image_0003, copy.jpg"  # quoted field with a comma
    assert parsed.below_threshold == {"Pingüino": 1}
    assert parsed.problems == []


def test_labels_keep_inner_spaces_and_are_nfc_normalised() -> None:
    decomposed = "Pingu\u0308ino"  # u + combining diaeresis
    parsed = parse(f"image,label,confidence\na.jpg,  Sea lion  ,90\nb.jpg,{decomposed},90\nc.jpg,Pingüino,90\n")
    assert [r.label for r in parsed.queued] == ["Sea lion", "Pingüino", "Pingüino"]


def test_threshold_is_an_inclusive_lower_bound() -> None:
    text = "image,label,confidence\na.jpg,Dog,80\nb.jpg,Dog,80.0\nc.jpg,Dog,79.99999999\nd.jpg,Dog,100\ne.jpg,Dog,0\n"
    parsed = parse(text)
    assert [r.image for r in parsed.queued] == ["a.jpg", "b.jpg", "d.jpg"]
    assert parsed.below_threshold == {"Dog": 2}
    assert [r.image for r in parse(text, threshold=0).queued] == ["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"]


def test_below_threshold_is_counted_per_label() -> None:
    text = "image,label,confidence\n" + "".join(
        f"{i}.jpg,{label},{conf}\n"
        for i, (label, conf) in enumerate(
            [("Dog", 50), ("Cat", 10), ("Dog", 79), ("Dog", 95), ("Sea lion", 1), ("Cat", 99), ("Dog", 0)]
        )
    )
    parsed = parse(text)
    assert parsed.below_threshold == {"Dog": 3, "Cat": 1, "Sea lion": 1}
    assert [(r.label, r.confidence) for r in parsed.queued] == [("Dog", 95.0), ("Cat", 99.0)]
    assert parsed.rows_read == 7


def test_same_image_under_two_labels_gives_two_rows() -> None:
    parsed = parse("image,label,confidence\r\na.jpg,Dog,90\r\na.jpg,Cat,91\r\n")
    assert [(r.image, r.label) for r in parsed.queued] == [("a.jpg", "Dog"), ("a.jpg", "Cat")]


def test_image_paths_are_normalised() -> None:
    parsed = parse("image,label,confidence\n./a/b.jpg,Dog,90\n a\\c.jpg ,Dog,90\n")
    assert [r.image for r in parsed.queued] == ["a/b.jpg", "a/c.jpg"]


def test_duplicate_after_normalisation_is_reported() -> None:
    assert problems("image,label,confidence\na/b.jpg,Dog,90\n./a/b.jpg,Dog,95\n") == {
        3: "duplicate of line 2 ('a/b.jpg' labelled 'Dog')"
    }


def test_blank_lines_are_skipped_without_shifting_line_numbers() -> None:
    parsed = parse("image,label,confidence\r\n\r\na.jpg,Dog,90\r\n,,\r\nb.jpg,Dog,x\r\n")
    assert [r.line for r in parsed.queued] == [3]
    assert [(p.line, p.reason) for p in parsed.problems] == [(5, "confidence 'x' is not a number")]
    assert parsed.rows_read == 2


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("a.jpg,Dog", "missing field(s) confidence"),
        ("a.jpg", "missing field(s) label, confidence"),
        ("a.jpg,Dog,", "missing confidence"),
        ("a.jpg,Dog,high", "confidence 'high' is not a number"),
        ("a.jpg,Dog,NaN", "confidence 'NaN' is not a finite number"),
        ("a.jpg,Dog,inf", "confidence 'inf' is not a finite number"),
        ("a.jpg,Dog,100.01", "confidence 100.01 is out of range 0-100"),
        ("a.jpg,Dog,-0.5", "confidence -0.5 is out of range 0-100"),
        ("a.jpg,,90", "empty label"),
        ("a.jpg,   ,90", "empty label"),
        (",Dog,90", "missing image path"),
        ("../a.jpg,Dog,90", "image path '../a.jpg' must be relative and stay inside the image folder"),
        ("x/../../a.jpg,Dog,90", "image path 'x/../../a.jpg' must be relative and stay inside the image folder"),
        ("/etc/a.jpg,Dog,90", "image path '/etc/a.jpg' must be relative and stay inside the image folder"),
        ("a.jpg," + "L" * 129 + ",90", "label is 129 characters long (at most 128)"),
        ("x" * 901 + ".jpg,Dog,90", "image path is longer than 900 bytes"),
        ('a.jpg,"Dog\x07",90', "label contains control characters: U+0007"),
    ],
)
def test_each_bad_row_kind_is_reported_with_its_line_and_the_rest_loads(row: str, reason: str) -> None:
    parsed = parse(f"image_local_path,label,confidence\r\ngood/1.jpg,Dog,90\r\n{row}\r\ngood/2.jpg,Dog,91\r\n")
    assert [(p.line, p.reason) for p in parsed.problems] == [(3, reason)]
    assert [(r.line, r.image) for r in parsed.queued] == [(2, "good/1.jpg"), (4, "good/2.jpg")]
    assert parsed.rows_read == 3


def test_label_of_exactly_the_maximum_length_is_accepted() -> None:
    assert [r.label for r in parse("image,label,confidence\na.jpg," + "L" * 128 + ",90\n").queued] == ["L" * 128]


def test_field_over_the_csv_size_limit_is_one_bad_row_not_a_failed_file() -> None:
    huge = "L" * (csv.field_size_limit() + 10)
    parsed = parse(f"image,label,confidence\r\na.jpg,{huge},90\r\nb.jpg,Dog,90\r\n")
    assert [(p.line, p.reason) for p in parsed.problems] == [
        (2, f"a field is longer than {csv.field_size_limit()} characters")
    ]
    assert [(r.line, r.image) for r in parsed.queued] == [(3, "b.jpg")]


def test_multi_line_quoted_fields_keep_physical_line_numbers() -> None:
    text = (
        "image,label,confidence\r\n"
        '"two\r\nlines.jpg",Dog,90\r\n'  # lines 2-3
        "b.jpg,Dog,bad\r\n"  # line 4
        'c.jpg,"Dog\nwith\nbreaks",90\r\n'  # lines 5-7
        "d.jpg,Dog,bad\r\n"  # line 8
    )
    found = problems(text)
    assert found == {
        2: "image path contains control characters: U+000D CARRIAGE RETURN (a quoted field runs over lines 2-3)",
        4: "confidence 'bad' is not a number",
        5: "label contains control characters: U+000A LINE FEED (a quoted field runs over lines 5-7)",
        8: "confidence 'bad' is not a number",
    }
    spanning = {p.line: p.last_line for p in parse(text).problems}
    assert (spanning[2], spanning[5], spanning[4]) == (3, 7, None)
    assert parse(text).stats.unaccounted_lines == 0


def test_bad_rows_fixture(fixtures_dir: Path) -> None:
    parsed = parse(decode_csv((fixtures_dir / "bad_rows.csv").read_bytes()))
    assert [(r.line, r.image, r.label) for r in parsed.queued] == [
        (2, "good/image_0001.jpg", "Dog"),
        (13, "good/image_0009.jpg", "Cat"),
        (16, "good/image_0011.jpg", "Cat"),
    ]
    reasons = {p.line: p.reason for p in parsed.problems}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 17]
    assert reasons[3].startswith("missing field")
    assert "not a number" in reasons[4] and "not a number" in reasons[17]
    assert "not a finite number" in reasons[5]
    assert "out of range" in reasons[6] and "out of range" in reasons[7]
    assert reasons[8] == "empty label"
    assert reasons[9].startswith("duplicate of line 2")
    assert "must be relative" in reasons[10]
    assert reasons[11].startswith("label is 319 characters long")
    assert reasons[12] == "missing image path"
    assert reasons[14].startswith("label contains control characters: U+000D CARRIAGE RETURN")


@pytest.mark.parametrize(
    ("name", "rows", "queued", "below"),
    [
        ("model_labels.csv", 212, 200, {"Dog": 6, "Cat": 2, "Sea lion": 4}),
        ("model_labels_reordered.csv", 50, 37, {"Crab": 8, "Lobster": 5}),
    ],
)
def test_sample_shaped_fixtures(fixtures_dir: Path, name: str, rows: int, queued: int, below: dict) -> None:
    data = (fixtures_dir / name).read_bytes()
    assert b"\r\n" in data  # CRLF, like the originals
    parsed = parse(decode_csv(data))
    assert (parsed.rows_read, len(parsed.queued), parsed.below_threshold, parsed.problems) == (
        rows,
        queued,
        below,
        [],
    )
    assert all(r.confidence >= 80 for r in parsed.queued)


@pytest.mark.parametrize(
    ("header", "lacking"),
    [
        ("path,label,confidence", "image_local_path (or image)"),
        ("image_local_path,confidence", "label"),
        ("image_local_path,label,score", "confidence"),
        ("a,b,c", "image_local_path (or image), label, confidence"),
    ],
)
def test_missing_header_columns_fail_the_whole_file(header: str, lacking: str) -> None:
    with pytest.raises(CsvFormatError) as caught:
        parse(f"{header}\r\na.jpg,Dog,90\r\n")
    message = str(caught.value)
    assert message.startswith("labels.csv: header ")
    assert f"lacks column(s) {lacking}; expected image_local_path,label,confidence in any order" in message


def test_empty_file_fails() -> None:
    with pytest.raises(CsvFormatError, match=r"labels\.csv is empty"):
        parse("")


@pytest.mark.parametrize(
    ("data", "byte", "line"),
    [
        (b"image,label,confidence\na.jpg,Dog,90\nb.jpg,Chien\xe9,90\n", 0xE9, 3),
        (b"\xef\xbb\xbfimage,label,confidence\na.jpg,Dog,90\n\xffb.jpg,Dog,90\n", 0xFF, 3),
        (b"\xef\xbb\xbfimage,label,confidence\n\xff", 0xFF, 2),
        (b"image,label,confidence\r\n\x80", 0x80, 2),
    ],
)
def test_non_utf8_fails_naming_the_line_and_byte(data: bytes, byte: int, line: int) -> None:
    with pytest.raises(CsvFormatError) as caught:
        decode_csv(data, source="labels.csv")
    assert str(caught.value).startswith(f"labels.csv is not UTF-8: byte 0x{byte:02x} at line {line} ")
