"""Characters a label or an image path may not contain, named by code point (pure).

Why: two labels that *look* the same must *be* the same, or a class splits in two in every report
("Dog" and "Dog" + U+200B ZERO WIDTH SPACE), and a path with U+202E RIGHT-TO-LEFT OVERRIDE shows
a different name than the file it opens. So anything a reader cannot see or that reorders text is
refused, with its code point in the message, never silently removed (removing would merge or
rename data behind the user's back).

Refused everywhere (labels and paths):
- ``Cc`` control characters (tab, line feed, NUL, ...),
- ``Cf`` format characters: zero-width space/joiners, word joiner, soft hyphen, byte-order mark,
  and every bidirectional control (U+061C, U+200E/F, U+202A-E, U+2066-9),
- ``Zl``/``Zp`` line and paragraph separators, ``Co`` private use, ``Cs`` surrogates, ``Cn``
  unassigned code points,
- characters that render as nothing although their category is a letter or symbol: the Hangul
  fillers (U+115F, U+1160, U+3164, U+FFA0), U+2800 BRAILLE PATTERN BLANK, U+034F COMBINING
  GRAPHEME JOINER.

Refused in labels only: any space other than U+0020 (U+00A0 NO-BREAK SPACE, U+2009 THIN SPACE,
U+3000 IDEOGRAPHIC SPACE...), which look like a plain space. File names keep theirs: macOS names
screenshots with U+202F NARROW NO-BREAK SPACE, and those files must still be found.
"""

from __future__ import annotations

import unicodedata

BIDI_CONTROLS = frozenset([0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])
BLANK_LOOKING = frozenset([0x034F, 0x115F, 0x1160, 0x2800, 0x3164, 0xFFA0])
_CONTROL_NAMES = {0x00: "NUL", 0x09: "TAB", 0x0A: "LINE FEED", 0x0D: "CARRIAGE RETURN", 0x7F: "DELETE"}
_KINDS = {
    "Cf": "an invisible formatting character",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
    "Co": "a private-use character",
    "Cs": "a surrogate code point",
    "Cn": "an unassigned code point",
}


def code_point(ch: str) -> str:
    """``U+200B ZERO WIDTH SPACE``: the code point and its Unicode name, when it has one."""
    number = ord(ch)
    name = unicodedata.name(ch, "") or _CONTROL_NAMES.get(number, "")
    return f"U+{number:04X} {name}".rstrip()


def forbidden_character(text: str, *, allow_spaces: bool = False) -> str | None:
    """Why ``text`` is refused (naming the first offending code point), or None if it is clean.

    ``allow_spaces`` keeps non-ASCII space separators (``Zs``), for file names.
    """
    if text.isascii() and text.isprintable():
        return None  # the common case, checked in C: U+0020-U+007E are all allowed
    for ch in text:
        number = ord(ch)
        category = unicodedata.category(ch)
        if category == "Cc":
            return f"control characters: {code_point(ch)}"
        if number in BIDI_CONTROLS:
            return f"{code_point(ch)}, a bidirectional-control character"
        if category in _KINDS:
            return f"{code_point(ch)}, {_KINDS[category]}"
        if number in BLANK_LOOKING:
            return f"{code_point(ch)}, a character that shows as blank"
        if category == "Zs" and ch != " " and not allow_spaces:
            return f"{code_point(ch)}, a space that looks like U+0020 SPACE but is not"
    return None
