"""``json.loads`` for text from outside, refusing deep nesting before it is parsed (pure).

Why: the standard decoder recurses once per ``[``/``{``, so a few thousand of them raise
RecursionError -- not a ValueError, so it escapes the "bad input" handling of every caller and
fails a whole request (every worker's votes in it) instead of the one bad answer. Hitting the
recursion limit can also leave CPython 3.11's recursion bookkeeping off for the thread (a later
``ast.parse`` fails with "AST constructor recursion depth mismatch"). Measuring the depth first
never recurses, so nothing deep ever reaches the decoder.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64  # Ground Truth's shapes and crowd-form answers are a few levels deep


class TooDeepError(ValueError):
    """The JSON nests deeper than the limit; nothing was parsed."""


def nesting_depth(text: str | bytes) -> int:
    """The deepest ``[``/``{`` nesting of a JSON text, outside strings, without parsing it."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def loads(text: str | bytes | bytearray, *, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that raises ``TooDeepError`` (a ValueError) for nesting over ``max_depth``."""
    depth = nesting_depth(text)
    if depth > max_depth:
        raise TooDeepError(f"JSON nested {depth} levels deep (at most {max_depth})")
    return json.loads(text)
