"""CSV of model labels -> validated rows: every accepted shape and every bad-row kind."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from handlers.csv_rows import (
    CsvFormatError,
    CsvStats,
    LabelCsvReader,
    decode_csv,
    iter_label_csv,
    parse_delimiter,
    parse_label_csv,
)


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


# --------------------------------------------------------------------------------------------
# Issue 12/13: runaway quotes, invisible characters, strict confidences, delimiters, paths.
# --------------------------------------------------------------------------------------------

GOOD_AFTER = "".join(f"good/{i}.jpg,Dog,{80 + i % 20}\n" for i in range(500))


@pytest.mark.parametrize(
    "closing",
    [
        "",  # the quote never closes: every following line would be one field
        '"birds/x, copy.jpg",Cat,95\n',  # closed by the next legitimately quoted field
        'late.jpg,"Cat,95\n',  # closed by a second stray quote
    ],
)
def test_runaway_quote_is_reported_and_every_swallowed_row_is_read(closing: str) -> None:
    text = 'image,label,confidence\nbad.jpg,"Dog,90\n' + GOOD_AFTER + closing + "z.jpg,Dog,91\n"
    parsed = parse(text)
    images = [r.image for r in parsed.queued]
    assert images[:500] == [f"good/{i}.jpg" for i in range(500)]
    assert images[-1] == "z.jpg"
    first = parsed.problems[0]
    assert first.line == 2 and first.reason.startswith("unclosed quote: the quoted field opened on this line ran on")
    assert "lines 3-" in first.reason
    assert parsed.stats.runaway_quotes == 1 and parsed.stats.unaccounted_lines == 0
    lines = text.count("\n")
    accounted = 1 + parsed.rows_read + parsed.stats.blank_lines
    assert accounted == lines  # every physical line: header, a row, or blank


def test_runaway_quote_past_the_field_size_limit_loses_no_row() -> None:
    rows = "".join(f"good/{i:06d}.jpg,Dog,90\n" for i in range(8000))  # > 131,072 characters
    parsed = parse('image,label,confidence\nbad.jpg,"Dog,90\n' + rows)
    assert len(parsed.queued) == 8000
    assert [p.line for p in parsed.problems] == [2]
    assert "field limit" in parsed.problems[0].reason
    assert parsed.stats.unaccounted_lines == 0


def test_unclosed_quote_on_the_last_line_is_a_problem_not_a_row() -> None:
    parsed = parse('image,label,confidence\na.jpg,Dog,90\nb.jpg,Dog,"90')
    assert [r.image for r in parsed.queued] == ["a.jpg"]
    assert [(p.line, p.reason.startswith("unclosed quote")) for p in parsed.problems] == [(3, True)]


def test_row_with_more_fields_than_the_header_is_refused_not_misread() -> None:
    parsed = parse("image,label,confidence\na.jpg,Sea, lion,90\nb.jpg,Dog,90,\n")
    assert [r.image for r in parsed.queued] == ["b.jpg"]  # an empty trailing field is fine
    assert parsed.problems[0].reason == "row has 4 fields but the header has 3: quote values that contain ','"


@pytest.mark.parametrize(
    ("char", "named"),
    [
        ("\u200b", "U+200B ZERO WIDTH SPACE"),
        ("\u2060", "U+2060 WORD JOINER"),
        ("\u00ad", "U+00AD SOFT HYPHEN"),
        ("\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE, a bidirectional-control character"),
        ("\u2066", "U+2066 LEFT-TO-RIGHT ISOLATE, a bidirectional-control character"),
        ("\u200e", "U+200E LEFT-TO-RIGHT MARK"),
        ("\ufeff", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
        ("\u200d", "U+200D ZERO WIDTH JOINER"),
        ("\u2028", "U+2028 LINE SEPARATOR"),
        ("\u3164", "U+3164 HANGUL FILLER"),
        ("\ue000", "U+E000"),
        ("\u00a0", "U+00A0 NO-BREAK SPACE"),
        ("\x1b", "control characters: U+001B"),
    ],
)
def test_invisible_and_bidi_characters_in_labels_are_refused_naming_the_code_point(char: str, named: str) -> None:
    parsed = parse(f"image,label,confidence\na.jpg,Dog,90\nb.jpg,Do{char}g,90\nc.jpg,Dog,90\n")
    assert [r.image for r in parsed.queued] == ["a.jpg", "c.jpg"]
    assert len(parsed.problems) == 1
    assert parsed.problems[0].line == 3
    assert parsed.problems[0].reason.startswith("label contains ")
    assert named in parsed.problems[0].reason


@pytest.mark.parametrize("char", ["\u200b", "\u202e", "\u00ad", "\u2060", "\x7f"])
def test_invisible_and_bidi_characters_in_paths_are_refused(char: str) -> None:
    parsed = parse(f"image,label,confidence\nsub/a{char}b.jpg,Dog,90\n")
    assert parsed.queued == []
    assert parsed.problems[0].reason.startswith("image path contains ")
    assert f"U+{ord(char):04X}" in parsed.problems[0].reason


def test_paths_keep_non_ascii_spaces_that_file_names_use() -> None:
    name = "Screenshot 2024-01-01 at 10.00.00\u202fAM.png"  # macOS names screenshots like this
    assert [r.image for r in parse(f"image,label,confidence\n{name},Dog,90\n").queued] == [name]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("8_0", "is not a plain decimal number"),
        ("1_000", "is not a plain decimal number"),
        ("\u0668\u0660", "uses a non-ASCII digit (U+0668 ARABIC-INDIC DIGIT EIGHT)"),
        ("\uff19\uff10", "uses a non-ASCII digit (U+FF19 FULLWIDTH DIGIT NINE)"),
        ("\u096e\u0966", "uses a non-ASCII digit (U+096E DEVANAGARI DIGIT EIGHT)"),
        ("0x50", "is not a number"),
        ("97,5", "is not a plain decimal number"),  # comma-separated file: no decimal comma
        ("1e400", "out of range 0-100"),
        ("-inf", "is not a finite number"),
        ("101%", "out of range 0-100"),
    ],
)
def test_confidences_are_ascii_decimals_only(raw: str, reason: str) -> None:
    parsed = parse(f'image,label,confidence\na.jpg,Dog,"{raw}"\n')
    assert parsed.queued == []
    assert reason in parsed.problems[0].reason


@pytest.mark.parametrize(
    ("raw", "value"),
    [("97.7%", 97.7), ("97.7 %", 97.7), ("+90", 90.0), ("90.", 90.0), ("9e1", 90.0), (" 85 ", 85.0), ("100%", 100.0)],
)
def test_accepted_confidence_spellings(raw: str, value: float) -> None:
    assert [r.confidence for r in parse(f"image,label,confidence\na.jpg,Dog,{raw}\n").queued] == [value]


def test_fractions_are_detected_and_the_scale_option_reads_them() -> None:
    text = "image,label,confidence\na.jpg,Dog,0.95\nb.jpg,Cat,0.5\nc.jpg,Dog,1\n"
    reader = LabelCsvReader(text, 80.0, source="labels.csv")
    assert list(reader) == []
    hint = reader.scale_problem()
    assert hint is not None and "between 0 and 1 (3 rows)" in hint and "--confidence-scale 1" in hint
    scaled = LabelCsvReader(text, 80.0, confidence_scale=1)
    assert [(r.image, r.confidence) for r in scaled] == [("a.jpg", 95.0), ("c.jpg", 100.0)]
    assert scaled.scale_problem() is None and scaled.below_threshold == {"Cat": 1}
    assert [
        r.confidence for r in parse_label_csv("image,label,confidence\na.jpg,Dog,0.977\n", 0, confidence_scale=1).queued
    ] == [97.7]
    out_of_range = parse_label_csv("image,label,confidence\na.jpg,Dog,1.5\n", 0, confidence_scale=1)
    assert out_of_range.problems[0].reason == "confidence 1.5 is out of range 0-1"
    # One percentage or one value above 1 means the file is on the 0-100 scale: no hint.
    assert LabelCsvReader("image,label,confidence\na.jpg,Dog,0.9\nb.jpg,Dog,85\n", 80).scale_problem() is None
    mixed = LabelCsvReader("image,label,confidence\na.jpg,Dog,0.9\nb.jpg,Dog,1%\n", 80)
    list(mixed)
    assert mixed.scale_problem() is None


@pytest.mark.parametrize(
    ("data", "delimiter"),
    [
        (b"image_local_path;label;confidence\r\na.jpg;Sea lion;97,5\r\nb.jpg;Dog;90\r\n", ";"),
        (b"\xef\xbb\xbfimage_local_path;label;confidence\r\na.jpg;Sea lion;97,5\r\nb.jpg;Dog;90\r\n", ";"),
        (b"\xef\xbb\xbfimage_local_path\tlabel\tconfidence\r\na.jpg\tSea lion\t97.5\r\nb.jpg\tDog\t90\r\n", "\t"),
        (b'label,confidence,image\n"Sea lion",97.5,a.jpg\nDog,90,b.jpg\n', ","),
    ],
)
def test_delimiter_is_sniffed_from_the_header(data: bytes, delimiter: str) -> None:
    parsed = parse_label_csv(data, 80, source="labels.csv")
    assert parsed.stats.delimiter == delimiter
    assert [(r.image, r.label, r.confidence) for r in parsed.queued] == [
        ("a.jpg", "Sea lion", 97.5),
        ("b.jpg", "Dog", 90.0),
    ]


def test_delimiter_can_be_given_and_is_then_the_only_one_tried() -> None:
    data = "image|label|confidence\na.jpg|Dog|90\n"
    assert [r.image for r in parse_label_csv(data, 80, delimiter=parse_delimiter("|")).queued] == ["a.jpg"]
    with pytest.raises(CsvFormatError, match="separated by ';'"):
        parse_label_csv("image,label,confidence\na.jpg,Dog,90\n", 80, delimiter=";")
    assert parse_delimiter("tab") == "\t" and parse_delimiter("semicolon") == ";" and parse_delimiter(",") == ","
    for bad in ["", "ab", '"', "x", "\n"]:
        with pytest.raises(ValueError, match="not usable"):
            parse_delimiter(bad)


def test_header_with_no_known_delimiter_names_all_that_were_tried() -> None:
    with pytest.raises(CsvFormatError) as caught:
        parse("image|label|confidence\na.jpg|Dog|90\n")
    assert "separated by ',', ';' or a tab (or give --delimiter)" in str(caught.value)


def test_header_naming_a_column_twice_is_refused() -> None:
    with pytest.raises(CsvFormatError, match="column 'label' appears twice"):
        parse("image,label,label,confidence\na.jpg,Dog,Cat,90\n")


def test_utf16_file_is_named_as_utf16() -> None:
    with pytest.raises(CsvFormatError, match=r"not UTF-8: byte 0xff at line 1 \(the file looks like UTF-16"):
        parse_label_csv("image,label,confidence\n".encode("utf-16"), 80, source="labels.csv")


@pytest.mark.parametrize(
    ("spellings", "canonical"),
    [
        (
            ["sub/a.jpg", "sub//a.jpg", "sub/./a.jpg", "./sub/a.jpg", "sub\\a.jpg", ".\\sub\\a.jpg", "x/../sub/a.jpg"],
            "sub/a.jpg",
        ),
        (["a.jpg", "./a.jpg", ".//a.jpg", "sub/../a.jpg"], "a.jpg"),
    ],
)
def test_one_file_is_one_item_whatever_the_path_spelling(spellings: list[str], canonical: str) -> None:
    text = "image,label,confidence\n" + "".join(f'"{path}",Dog,90\n' for path in spellings)
    parsed = parse(text)
    assert [r.image for r in parsed.queued] == [canonical]
    assert [p.reason for p in parsed.problems] == [f"duplicate of line 2 ({canonical!r} labelled 'Dog')"] * (
        len(spellings) - 1
    )


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("../a.jpg", "must be relative and stay inside the image folder"),
        ("sub/../../a.jpg", "must be relative and stay inside the image folder"),
        ("..\\a.jpg", "must be relative and stay inside the image folder"),
        ("/etc/passwd", "must be relative"),
        ("\\\\server\\share\\a.jpg", "absolute Windows path"),
        ("C:\\images\\a.jpg", "absolute Windows path"),
        ("c:/images/a.jpg", "absolute Windows path"),
        ("s3://bucket/a.jpg", "is a URL"),
        ("https://example.com/a.jpg", "is a URL"),
        ("file:///etc/passwd", "is a URL"),
        ("sub/", "names a folder, not a file"),
        (".", "names a folder, not a file"),
        ("sub/..", "names a folder, not a file"),
    ],
)
def test_paths_outside_the_folder_or_not_files_are_refused(path: str, reason: str) -> None:
    parsed = parse(f'image,label,confidence\n"{path}",Dog,90\n')
    assert parsed.queued == [] and reason in parsed.problems[0].reason


def test_image_check_refusals_become_row_problems() -> None:
    parsed = parse_label_csv(
        "image,label,confidence\nok.jpg,Dog,90\nrounds/x.jpg,Dog,90\n",
        80,
        image_check=lambda path: "reserved" if path.startswith("rounds/") else None,
    )
    assert [r.image for r in parsed.queued] == ["ok.jpg"]
    assert [(p.line, p.reason) for p in parsed.problems] == [(3, "reserved")]


class _Trickle:
    """A stream that returns at most 7 bytes per read: splits CRLF, BOM and UTF-8 sequences."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, size: int = -1) -> bytes:
        piece, self.data = self.data[:7], self.data[7:]
        return piece


def test_streaming_reader_reads_a_stream_in_pieces_and_keeps_line_numbers() -> None:
    data = "\ufeffimage,label,confidence\r\na.jpg,Pingüino,90\r\n\r\nb.jpg,鳥,91\rc.jpg,Dog,x\r\n".encode()
    problems_seen: list = []
    reader = LabelCsvReader(_Trickle(data), 80, source="s.csv", on_problem=problems_seen.append)
    rows = list(reader)
    assert [(r.line, r.label) for r in rows] == [(2, "Pingüino"), (4, "鳥")]
    assert [(p.line, p.reason) for p in problems_seen] == [(5, "confidence 'x' is not a number")]
    assert reader.problems == []  # given to on_problem instead
    assert (reader.stats.physical_lines, reader.stats.rows_read, reader.stats.blank_lines) == (5, 3, 1)


def test_streaming_decoding_error_names_the_line_across_chunks() -> None:
    data = b"image,label,confidence\n" + b"a.jpg,Dog,90\n" * 10 + b"b.jpg,Chien\xe9,90\n"
    with pytest.raises(CsvFormatError, match="byte 0xe9 at line 12"):
        list(LabelCsvReader(_Trickle(data), 80, source="s.csv"))


def test_events_give_every_valid_row_and_problem_in_file_order() -> None:
    stats = CsvStats()
    events = list(
        iter_label_csv(
            iter(["image,label,confidence\n", "a.jpg,Dog,50\n", "b.jpg,Dog,x\n", "c.jpg,Dog,90\n"]), 80, stats=stats
        )
    )
    assert [(type(e).__name__, e.line) for e in events] == [("LabelRow", 2), ("RowProblem", 3), ("LabelRow", 4)]
    assert (stats.below_threshold_rows, stats.queued_rows, stats.problem_rows) == (1, 1, 1)


def test_duplicate_memory_is_a_digest_per_pair_not_the_strings() -> None:
    reader = LabelCsvReader(
        "image,label,confidence\n" + "".join(f"{'x' * 200}{i}.jpg,Dog,90\n" for i in range(100)), 80
    )
    assert len(list(reader)) == 100
    assert all(isinstance(key, int) and key < 2**96 for key in reader._first_seen)
