"""The seed's fast paths give the same answer as the general code for every input (differential).

Why: issue 14 made the CSV pass and the page-size budget skip work for the common row (a plain
path, a label seen before, a line without quotes, an item JSON needs no escaping for). Each fast
path is only allowed if it is invisible: these tests run the general code beside it on inputs
built to hit every edge (separators, dots, quotes, backslashes, control and non-ASCII characters).
"""

from __future__ import annotations

import csv
import itertools
import random
from typing import Any

import pytest

from handlers import csv_rows
from handlers.image_paths import ImagePathError, _resolve_segments, normalise_image_path
from handlers.seeding import _entry_bytes, _entry_bytes_encoded

PIECES = ["a", "b.jpg", ".", "..", "", "/", "\\", ".hidden", "..x", "x..", "é", " ", "a b", "\u00a0", '"', "\t"]


def _paths(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    joined = ["".join(p) for p in itertools.product(["a", ".", "..", "", "b.jpg"], repeat=3)]
    slashed = ["/".join(p) for p in itertools.product(["a", ".", "..", "", "b.jpg"], repeat=3)]
    randoms = ["".join(rng.choice(PIECES) for _ in range(rng.randrange(1, 8))) for _ in range(count)]
    return [*joined, *slashed, *randoms, "x" * 900, "x" * 901, "é" * 450, "é" * 451, "d/" + "é" * 449]


def _outcome(function: Any, *args: Any) -> tuple[str, str]:
    try:
        return ("ok", function(*args))
    except ImagePathError as err:
        return ("error", str(err))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_canonical_paths_are_what_the_segment_walk_returns(seed: int) -> None:
    """Wherever the fast path applies, the general walk returns the path unchanged (never an error)."""
    fast_hits = 0
    for raw in _paths(3000, seed):
        path = raw.replace("\\", "/")
        bounded = f"/{path}/"
        if "//" not in bounded and "/./" not in bounded and "/../" not in bounded:
            fast_hits += 1
            assert _outcome(_resolve_segments, path, raw) == ("ok", path), raw
    assert fast_hits > 100  # the fast path was exercised


def test_normalised_paths_unchanged_for_known_cases() -> None:
    assert normalise_image_path("sub//a.jpg") == "sub/a.jpg"
    assert normalise_image_path("./sub/./a.jpg") == "sub/a.jpg"
    assert normalise_image_path("sub\\a.jpg") == "sub/a.jpg"
    assert normalise_image_path("a/../b.jpg") == "b.jpg"
    assert normalise_image_path(" c01/img 1.jpg ") == "c01/img 1.jpg"
    assert normalise_image_path("x" * 900) == "x" * 900
    for bad in ("/a.jpg", "a/", "..", "../a.jpg", "a/..", "x" * 901, "é" * 451):
        with pytest.raises(ImagePathError):
            normalise_image_path(bad)


@pytest.mark.parametrize("seed", [4, 5])
def test_entry_bytes_fast_equals_encoding(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = ["a", "/", ".", "é", "中", "😀", '"', "\\", "\n", "\x00", "\x1f", "\x7f", "\u2028", " ", "'"]
    confidences = [0.0, 100.0, 99.99, 1e-7, 33.333333333333336, 87.5, 1e16, 5e-324]
    for _ in range(4000):
        url = "s3://b/" + "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
        label = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 6)))
        confidence = rng.choice([*confidences, rng.uniform(0, 100)])
        assert _entry_bytes(url, label, confidence) == _entry_bytes_encoded(url, label, confidence), (url, label)
    for odd in (float("nan"), float("inf"), 90, True):  # not finite floats: the encoded way, same answer
        assert _entry_bytes("s3://b/a", "Dog", odd) == _entry_bytes_encoded("s3://b/a", "Dog", odd)


def _ends_in_quote_reference(text: str, delimiter: str) -> bool:
    try:
        next(csv.reader([text], delimiter=delimiter, strict=True), None)
    except csv.Error as err:
        return "end of data" in str(err)
    return False


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_ends_in_quote_fast_equals_reader(delimiter: str) -> None:
    reader = csv_rows.LabelCsvReader.__new__(csv_rows.LabelCsvReader)
    reader.delimiter = delimiter
    rng = random.Random(6)
    pieces = ["a", '"', '""', delimiter, " ", "\r", "\n", "\x00", "x" * 10]
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 9)))
        assert reader._ends_in_quote(text) == _ends_in_quote_reference(text, delimiter), repr(text)


def test_label_check_cached_answers_are_the_uncached_ones() -> None:
    uncached = csv_rows._check_label.__wrapped__
    for raw in [" Dog ", "Dog", "", "  ", "Cafe\u0301", "a\u200bb", "x" * 500, "Tab\there", "Dog"]:
        assert csv_rows._check_label(raw) == uncached(raw)
        assert csv_rows._check_label(raw) == uncached(raw)  # from the cache the second time
