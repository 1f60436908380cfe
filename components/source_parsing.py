"""Parse a Python file into an AST, robust to a CPython 3.11 bookkeeping bug.

Why: on CPython 3.11 the AST converter compares the thread's recursion depth before and after
building the tree; code that switches stacks in the same thread (greenlet, which Playwright's sync
API uses) or that hit the recursion limit can leave that count off, and ``ast.parse`` then raises
``SystemError: AST constructor recursion depth mismatch`` for a perfectly good file. A fresh
thread has fresh counters, so the same parse is retried there.
"""

from __future__ import annotations

import ast
import threading
from pathlib import Path


def parse_file(path: Path) -> ast.Module:
    """``ast.parse`` of ``path``; retried once in a fresh thread on CPython 3.11's SystemError."""
    text = path.read_text(encoding="utf-8")
    try:
        return ast.parse(text, filename=str(path))
    except SystemError:
        result: list[ast.Module] = []
        errors: list[BaseException] = []

        def parse() -> None:
            try:
                result.append(ast.parse(text, filename=str(path)))
            except BaseException as err:
                errors.append(err)

        worker = threading.Thread(target=parse, name="ast-parse")
        worker.start()
        worker.join()
        if errors:
            raise errors[0] from None
        return result[0]
