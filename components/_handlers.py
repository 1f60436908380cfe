"""The handler modules the component reads names from (``settings``, ``rounds``, ``s3_uri``), always ours.

Why not a plain ``from handlers.settings import …``: the wheel installs ``handlers`` as a
top-level package, and a consumer's Pulumi project may have a ``handlers`` folder of its own,
which comes first on ``sys.path``. Then that import fails, or worse, reads the consumer's module.
So: when ``import handlers`` would find ours (a checkout, the bulkqa CLI), the ordinary modules
are used; otherwise ours are loaded from beside this package (``<root>/handlers``) with the
consumer's ``handlers`` modules set aside for the moment and put back afterwards, so the
consumer's imports keep resolving to their own package.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

PACKAGE = "handlers"
OURS = Path(__file__).resolve().parents[1] / PACKAGE
NEEDED = ("settings", "rounds", "s3_uri")


def _is_ours() -> bool:
    loaded = sys.modules.get(PACKAGE)
    if loaded is not None:
        return Path(getattr(loaded, "__file__", "") or "").resolve().parent == OURS
    spec = importlib.util.find_spec(PACKAGE)
    return bool(spec and spec.origin) and Path(spec.origin).resolve().parent == OURS


def _load() -> dict[str, ModuleType]:
    if _is_ours():
        return {name: importlib.import_module(f"{PACKAGE}.{name}") for name in NEEDED}
    theirs = {k: v for k, v in sys.modules.items() if k == PACKAGE or k.startswith(f"{PACKAGE}.")}
    for key in theirs:
        del sys.modules[key]
    sys.path.insert(0, str(OURS.parent))
    try:
        return {name: importlib.import_module(f"{PACKAGE}.{name}") for name in NEEDED}
    finally:
        sys.path.remove(str(OURS.parent))
        for key in [k for k in sys.modules if k == PACKAGE or k.startswith(f"{PACKAGE}.")]:
            del sys.modules[key]
        sys.modules.update(theirs)


_MODULES = _load()
settings: ModuleType = _MODULES["settings"]
rounds: ModuleType = _MODULES["rounds"]
s3_uri: ModuleType = _MODULES["s3_uri"]
