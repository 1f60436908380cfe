"""The Lambda deployment package: a deterministic zip of the handler modules.

Only what the three entry points import is packed: the import closure of
``handlers.settings.HANDLER_ENTRY_POINTS``, found by reading the modules' ``import`` statements.
Anything outside the closure that is not the standard library or boto3/botocore (which the
Lambda runtime ships) is refused, so the archive stays a few kilobytes and cannot depend on
something the runtime lacks.

The zip is byte-for-byte reproducible (sorted entries, fixed timestamps and permissions, and
``ZIP_STORED``: no compression), so its SHA-256 only changes when the code does. Why stored:
DEFLATE output depends on the zlib build (zlib, zlib-ng, Apple's, Intel's), so a deflated archive
built on another machine has other bytes, another ``CodeSha256`` and a spurious code update on
``pulumi up``; the handlers are a few hundred kilobytes at most, well under Lambda's limits. The
e2e harness runs exactly the deployed bytes: ``package_path_and_sha256()`` returns the archive's
path and hash.

The handlers are found next to this package (``<root>/handlers`` beside ``<root>/components``),
both in a checkout and in an installed wheel, never through ``import handlers``: a consumer's
project with its own ``handlers`` package must not end up in our Lambda zip.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib.util
import io
import os
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ._handlers import settings
from .source_parsing import parse_file

PACKAGE = "handlers"
# Third-party packages the Lambda Python runtime provides.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore"})
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644
COMPRESSION = zipfile.ZIP_STORED
BUILD_DIR_ENV = "BULKQA_BUILD_DIR"


class PackagingError(RuntimeError):
    """The handlers import something the Lambda runtime would not have."""


@dataclass(frozen=True)
class LambdaPackage:
    """A built archive: where it is, its SHA-256 (hex) and the members it holds."""

    path: Path
    sha256: str
    members: tuple[str, ...]

    @property
    def source_code_hash(self) -> str:
        """The base64 SHA-256 Lambda reports as ``CodeSha256`` (what the function's ``code_sha256`` is)."""
        return base64.b64encode(bytes.fromhex(self.sha256)).decode("ascii")


def handlers_dir() -> Path:
    """The folder of the ``handlers`` package beside this one (a checkout or an installed wheel)."""
    beside = Path(__file__).resolve().parents[1] / PACKAGE
    if (beside / "__init__.py").is_file():
        return beside
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise PackagingError("the handlers package cannot be found")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def entry_modules() -> dict[str, str]:
    """Function key -> module holding its handler (``handlers.launch``…)."""
    return {key: entry.rsplit(".", 1)[0] for key, entry in settings.HANDLER_ENTRY_POINTS.items()}


def _module_file(module: str, root: Path) -> Path | None:
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = root.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, module: str) -> set[str]:
    """Absolute names a module imports (``from handlers import x`` yields ``handlers.x`` and ``handlers``)."""
    tree = parse_file(path)
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def import_closure(modules: list[str] | tuple[str, ...], root: Path | None = None) -> dict[str, Path]:
    """Module name -> file for ``modules`` and everything they import from ``handlers``.

    Parent packages (``handlers/__init__.py``) are included, as Python imports them first.
    Raises ``PackagingError`` for a third-party import other than boto3/botocore.
    """
    root = root or handlers_dir()
    found: dict[str, Path] = {}
    pending = list(modules)
    while pending:
        module = pending.pop()
        if module in found:
            continue
        path = _module_file(module, root)
        if path is None:
            raise PackagingError(f"module {module} is not in {root}")
        found[module] = path
        parts = module.split(".")
        pending.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        for name in sorted(_imports(path, module)):
            top = name.split(".")[0]
            if top == PACKAGE:
                if _module_file(name, root) is not None:
                    pending.append(name)
                continue
            if top in RUNTIME_PROVIDED or top in sys.stdlib_module_names:
                continue
            raise PackagingError(f"{path.name} imports {name!r}, which the Lambda runtime does not provide")
    return found


def member_name(path: Path, root: Path) -> str:
    return f"{PACKAGE}/{path.relative_to(root).as_posix()}"


def build_zip_bytes(root: Path | None = None) -> tuple[bytes, tuple[str, ...]]:
    """The archive's bytes and member names; the same sources always give the same bytes."""
    root = root or handlers_dir()
    closure = import_closure(tuple(entry_modules().values()), root)
    files = sorted({member_name(path, root): path for path in closure.values()}.items())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, path in files:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            info.compress_type = COMPRESSION
            info.external_attr = (0o100000 | FILE_MODE) << 16
            info.create_system = 3  # unix, so the mode bits are honoured
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue(), tuple(name for name, _ in files)


def default_build_dir() -> Path:
    return Path(os.environ.get(BUILD_DIR_ENV) or Path(tempfile.gettempdir()) / "bulkqa-build")


def build_lambda_package(out_dir: Path | str | None = None, root: Path | None = None) -> LambdaPackage:
    """Write the archive as ``handlers-<sha256[:16]>.zip`` (content-addressed, so rebuilding is a no-op)."""
    data, members = build_zip_bytes(root)
    digest = hashlib.sha256(data).hexdigest()
    directory = Path(out_dir) if out_dir is not None else default_build_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"handlers-{digest[:16]}.zip"
    if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return LambdaPackage(path=path.resolve(), sha256=digest, members=members)


@lru_cache(maxsize=8)
def _cached(out_dir: str | None) -> LambdaPackage:
    return build_lambda_package(out_dir)


def lambda_package(out_dir: Path | str | None = None) -> LambdaPackage:
    """The package the component deploys (built once per process and output folder)."""
    package = _cached(str(out_dir) if out_dir is not None else None)
    if not package.path.is_file():  # the temp folder was cleaned meanwhile
        _cached.cache_clear()
        package = _cached(str(out_dir) if out_dir is not None else None)
    return package


def package_path_and_sha256(out_dir: Path | str | None = None) -> tuple[str, str]:
    """``(path, sha256 hex)`` of the archive the component deploys: what the e2e harness must run."""
    package = lambda_package(out_dir)
    return str(package.path), package.sha256
