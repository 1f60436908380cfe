"""The package as a user installs it: ``pip install git+…`` / a built wheel, in a fresh venv.

Only editable installs used to work (a hand-written package list left out ``bulkqa.analysis`` and
``bulkqa.renderers``), and every other test here runs against the editable install. This test
builds the wheel from a clean clone of the working tree (a scratch git repository: what
``pip install git+URL`` sees, no ``build/`` or ``*.egg-info`` left over), installs it with
``--no-deps`` into a new venv whose dependencies come from this venv's site-packages through a
``.pth`` line (offline and fast), and runs the installed ``bulkqa`` from a folder outside the repo.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("bulkqa", "handlers", "components", "worker_template")
FIXTURE = REPO / "fixtures" / "qa_results.csv"


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _clean_clone(dest: Path) -> Path:
    """The working tree's tracked and new (not ignored) files, committed in a scratch repository."""
    listed = _run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=REPO)
    assert listed.returncode == 0, listed.stderr
    for name in filter(None, listed.stdout.split("\0")):
        source = REPO / name
        if source.is_file() and name.split("/")[0] in (*PACKAGES, "pyproject.toml", "README.md", "LICENSE"):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    git = ("git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false")
    for step in (("init", "-q"), ("add", "-A"), ("commit", "-q", "-m", "clone")):
        done = _run(*git, *step, cwd=dest)
        assert done.returncode == 0, done.stderr
    return dest


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if shutil.which("git") is None:  # pragma: no cover - git is part of the dev setup
        pytest.fail("git is needed to build from a clone")
    root = tmp_path_factory.mktemp("wheel")
    clone = _clean_clone(root / "clone")
    dist = root / "dist"
    built = _run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist,
        f"git+{clone.as_uri()}", cwd=root,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("bulkqa-*.whl")
    venv = root / "venv"
    made = _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=root)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=root).stdout.strip())
    # Dependencies from this venv: a plain path line, so this venv's own .pth files (the editable
    # install of the repository) are not processed and cannot shadow the wheel.
    (site / "zz_dev_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    done = _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-q", wheel, cwd=root)
    assert done.returncode == 0, done.stderr
    outside = root / "elsewhere"
    outside.mkdir()
    return {"wheel": wheel, "venv": venv, "python": python, "site": site, "cwd": outside, "clone": clone}


def test_wheel_holds_every_module_and_data_file_of_the_packages(installed: dict[str, Path]) -> None:
    with zipfile.ZipFile(installed["wheel"]) as wheel:
        names = set(wheel.namelist())
    clone = installed["clone"]  # the snapshot the wheel was built from (others keep adding files)
    expected = {
        path.relative_to(clone).as_posix()
        for package in PACKAGES
        for path in (clone / package).rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.suffix not in (".pyc",)
        and path.name != ".gitkeep"
    }
    missing = sorted(expected - names)
    assert not missing, f"not in the wheel: {missing}"
    assert not any(name.startswith(("tests/", "e2e/", "bench/")) for name in names)


def test_installed_command_runs_from_outside_the_repository(installed: dict[str, Path]) -> None:
    bulkqa = installed["venv"] / "bin" / "bulkqa"
    where = _run(installed["python"], "-c", "import bulkqa, worker_template; print(bulkqa.__file__)",
                 cwd=installed["cwd"])  # fmt: skip
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(installed["site"]), "the wheel, not the editable install"

    helped = _run(bulkqa, "--help", cwd=installed["cwd"])
    assert helped.returncode == 0, helped.stderr
    for command in ("seed", "report", "export", "job", "preview", "doctor"):
        assert command in helped.stdout

    version = _run(bulkqa, "--version", cwd=installed["cwd"])
    assert version.returncode == 0 and "0.1.0" in version.stdout

    fixture = installed["cwd"] / "results.csv"
    shutil.copy2(FIXTURE, fixture)
    report = _run(bulkqa, "report", "--input", fixture.name, "--format", "json", cwd=installed["cwd"])
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    assert data["classes"], "a report with classes"

    template = _run(installed["python"], "-c", "import worker_template; print(len(worker_template.read_template()))",
                    cwd=installed["cwd"])  # fmt: skip
    assert template.returncode == 0 and int(template.stdout) > 1000


def test_make_unit_runs_only_the_unit_tests() -> None:
    done = _run("make", "-n", "-o", ".venv/.installed-stamp", "unit", cwd=REPO)
    assert done.returncode == 0, done.stderr
    pytest_lines = [line for line in done.stdout.splitlines() if "pytest" in line]
    assert pytest_lines and all(" tests/unit" in line and "integration" not in line for line in pytest_lines)
