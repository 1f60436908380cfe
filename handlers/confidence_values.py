"""Read a model's confidence from CSV text: plain ASCII decimals only, on a 0-100 or 0-1 scale (pure).

Why so strict: Python's ``float()`` and ``Decimal()`` accept ``8_0`` (80), Arabic-Indic ``٨٠``
and full-width ``９０``, so a typo or an odd export would silently become a confident row.
Accepted: ASCII digits 0-9, an optional sign, one decimal point, an optional exponent (``1e-05``,
as numpy writes small values) and an optional trailing ``%`` (``97.7%``, ``97.7 %``). A ``%``
always means percent, whatever the scale. In a file separated by ``;`` or tabs (European Excel)
a decimal comma is accepted too (``97,5``); in a comma-separated file it cannot be.

Every value is returned on the 0-100 scale the threshold uses. With ``scale=1`` the column holds
fractions (0.977 is 97.7); the conversion is decimal, so 0.977 becomes exactly 97.7.
"""

from __future__ import annotations

import math
import re
import unicodedata
from decimal import Decimal, InvalidOperation

from handlers.text_checks import code_point

SCALES = (1, 100)
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:[.][0-9]*)?|[.][0-9]+)(?:[eE][+-]?[0-9]+)?")
_NUMBER_DECIMAL_COMMA = re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)(?:[eE][+-]?[0-9]+)?")
_NOT_FINITE = {"nan", "inf", "infinity"}


class ConfidenceError(ValueError):
    """A confidence that cannot be read; the message says why and quotes the value."""


def parse_confidence(raw: str, *, scale: int = 100, decimal_comma: bool = False) -> tuple[float, bool]:
    """Return (confidence on 0-100, whether it carried a ``%``); raise ``ConfidenceError`` if unreadable."""
    if scale not in SCALES:
        raise ValueError(f"confidence scale must be 1 or 100, got {scale!r}")
    text = raw.strip()
    if not text:
        raise ConfidenceError("missing confidence")
    percent = text.endswith("%")
    number = text[:-1].rstrip() if percent else text
    pattern = _NUMBER_DECIMAL_COMMA if decimal_comma else _NUMBER
    if not pattern.fullmatch(number):
        raise ConfidenceError(_why_not_a_number(text, number))
    try:
        value = Decimal(number.replace(",", "."))
        if not percent and scale == 1:
            value *= 100
        result = float(value)
    except ArithmeticError:  # an exponent beyond what Decimal can scale
        result = math.inf
    if not (math.isfinite(result) and 0.0 <= result <= 100.0):  # 1e400 overflows to inf: out of range
        shown = "0-1" if scale == 1 and not percent else "0-100"
        raise ConfidenceError(f"confidence {text} is out of range {shown}")
    return result + 0.0, percent  # + 0.0: -0 is 0


def _why_not_a_number(text: str, number: str) -> str:
    if number.lower().lstrip("+-") in _NOT_FINITE:
        return f"confidence {text!r} is not a finite number"
    foreign = next((ch for ch in number if unicodedata.category(ch) == "Nd" and not "0" <= ch <= "9"), None)
    if foreign is not None:
        return f"confidence {text!r} uses a non-ASCII digit ({code_point(foreign)}): write it with 0-9"
    if "_" in number or "," in number or " " in number:
        return f"confidence {text!r} is not a plain decimal number (0-9 and one '.', no separators)"
    try:
        Decimal(number)
    except (InvalidOperation, ValueError):
        return f"confidence {text!r} is not a number"
    return f"confidence {text!r} is not a plain decimal number (0-9 and one '.' only)"
