"""Using BulkQA from outside: the pip toolchain's requirements.txt, the plugin started the way the
Pulumi engine starts it, multi-language inputs through the provider's construct path, the
namespaced import from an installed wheel, and a program that logs no deprecation."""

from __future__ import annotations

import ast
import json
import logging
import re
import runpy
import shutil
import subprocess
import sys
import sysconfig
import warnings
import zipfile
from importlib.metadata import packages_distributions, version
from pathlib import Path

import grpc
import pulumi
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from components import COMPONENT_TYPE, RESOURCE_TYPES
from components.mocks import MockedRun, StageConfig, run_program
from components.provider import BulkQAProvider
from components.source_parsing import parse_file

ROOT = Path(__file__).resolve().parents[2]
FUNCTION = "aws:lambda/function:Function"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


# --- requirements.txt --------------------------------------------------------------------------------


def requirements() -> dict[str, Requirement]:
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    parsed = [Requirement(line.split("#", 1)[0].strip()) for line in lines if line.split("#", 1)[0].strip()]
    return {canonicalize_name(r.name): r for r in parsed}


def third_party_imports(entry: Path) -> set[str]:
    """Top-level third-party modules imported by ``entry`` and the local modules it reaches."""
    local_roots = {"components", "handlers", "worker_template", "bulkqa"}
    seen: set[Path] = set()
    pending = [entry]
    found: set[str] = set()
    while pending:
        path = pending.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        for node in ast.walk(parse_file(path)):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: a sibling module of the same package
                    base = path.parent
                    for _ in range(node.level - 1):
                        base = base.parent
                    parts = (node.module or "").split(".") if node.module else []
                    targets = [base.joinpath(*parts)] if parts else [base / a.name for a in node.names]
                    for target in targets:
                        pending += [target.with_suffix(".py"), target / "__init__.py"]
                    continue
                names = [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                if top in local_roots:
                    parts = name.split(".")
                    pending += [ROOT.joinpath(*parts).with_suffix(".py"), ROOT.joinpath(*parts) / "__init__.py"]
                elif top and top not in sys.stdlib_module_names and top != "__future__":
                    found.add(top)
    return found


@pytest.mark.parametrize("entry", ["__main__.py", "components/provider.py", "components/mocks.py"])
def test_requirements_cover_what_the_program_and_the_plugin_import(entry: Path) -> None:
    distributions = packages_distributions()
    wanted = set(requirements())
    imported = third_party_imports(ROOT / entry)
    if entry == "components/mocks.py":
        imported -= {"yaml"}  # StageConfig.load, a test helper: not on the program's path
    assert imported, entry
    for module in imported:
        owners = {canonicalize_name(d) for d in distributions.get(module, [])}
        assert owners & wanted, f"{entry} imports {module} ({owners or 'no distribution'}), not in requirements.txt"


def test_requirements_are_bounded_and_admit_what_is_tested_here() -> None:
    for name, requirement in requirements().items():
        specifiers = {s.operator for s in requirement.specifier}
        assert ">=" in specifiers and "<" in specifiers, f"{name}: give a lower and an upper bound"
        assert requirement.specifier.contains(version(name)), (name, version(name), str(requirement.specifier))
    assert set(requirements()) == {"pulumi", "pulumi-aws"}


def test_pip_resolves_requirements_offline_with_what_is_installed() -> None:
    # What `pulumi install` runs, minus the network: every requirement (and its dependencies) resolves.
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "-q", "-r", str(ROOT / "requirements.txt")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_the_project_and_the_plugin_use_the_pip_toolchain_with_the_venv() -> None:
    import yaml

    for manifest in ("Pulumi.yaml", "PulumiPlugin.yaml"):
        runtime = yaml.safe_load((ROOT / manifest).read_text(encoding="utf-8"))["runtime"]
        assert runtime["options"] == {"toolchain": "pip", "virtualenv": ".venv"}, manifest


# --- the plugin, started as the engine starts it ---------------------------------------------------------


def test_the_engine_start_serves_the_provider_and_get_schema_answers_bulkqa(tmp_path: Path) -> None:
    """pulumi-language-python's RunPlugin runs ``python <plugin folder> <engine address>`` from the
    caller's directory and reads the port from the first line of stdout."""
    from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

    process = subprocess.Popen(
        [sys.executable, str(ROOT), "127.0.0.1:1", "--logtostderr"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        line = process.stdout.readline().decode().strip()
        assert re.fullmatch(r"\d+", line), (line, process.stderr.read1().decode() if process.poll() is not None else "")
        with grpc.insecure_channel(f"127.0.0.1:{line}") as channel:
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            schema = json.loads(stub.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=60).schema)
        assert schema["name"] == "bulkqa"
        assert set(schema["resources"]) == {COMPONENT_TYPE}
        assert schema["resources"][COMPONENT_TYPE]["isComponent"] is True
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_run_directly_the_folder_says_what_it_is_and_exits() -> None:
    done = subprocess.run([sys.executable, str(ROOT)], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "Pulumi program" in done.stderr and "plugin" in done.stderr


# --- multi-language inputs through the provider's construct path ------------------------------------------


def construct(inputs: dict) -> MockedRun:
    provider = BulkQAProvider("0.1.0")
    return run_program(lambda: provider.construct("shared", COMPONENT_TYPE, inputs, pulumi.ResourceOptions()))


def test_numbers_given_as_outputs_of_other_resources_work() -> None:
    # The SDK's ComponentProvider calls int() on integer inputs: an Output crashed it (TypeError).
    run = construct(
        {
            "batchSize": pulumi.Output.from_input(40.0),
            "logRetentionDays": pulumi.Output.from_input(30.0),
            "confidenceThreshold": pulumi.Output.from_input(90.5),
        }
    )
    launch = run.one(FUNCTION, "shared-launch")
    assert launch.inputs["environment"]["variables"]["BULKQA_BATCH_SIZE"] == "40"
    assert launch.inputs["environment"]["variables"]["BULKQA_CONFIDENCE_THRESHOLD"] == "90.5"
    assert {g.inputs["retentionInDays"] for g in run.of_type(LOG_GROUP)} == {30}


def test_plain_numbers_over_the_wire_are_floats_and_still_checked() -> None:
    run = construct({"batchSize": 10.0, "logRetentionDays": 14.0})
    assert run.one(FUNCTION, "shared-launch").inputs["environment"]["variables"]["BULKQA_BATCH_SIZE"] == "10"
    with pytest.raises(Exception, match="whole number"):
        construct({"batchSize": pulumi.Output.from_input(2.5)})


def test_settings_that_decide_names_refuse_outputs_with_a_clear_error() -> None:
    with pytest.raises(Exception, match="name_prefix must be a plain value"):
        construct({"namePrefix": pulumi.Output.from_input("team")})


# --- a pip consumer with its own components package ---------------------------------------------------------


CONSUMER_PROGRAM = """
import json, sys, zipfile
import components  # the consumer's own package: must stay theirs
from bulkqa.stack import BulkQA, BulkQAArgs
from bulkqa.stack.mocks import run_program

run = run_program(lambda: BulkQA("qa", BulkQAArgs()))
functions = run.of_type("aws:lambda/function:Function")
zip_path = functions[0].inputs["code"].path
template = run.one("aws:s3/bucketObjectv2:BucketObjectv2").inputs["source"].path
import bulkqa.stack
print(json.dumps({
    "consumer_mark": components.MARK,
    "consumer_components": components.__file__,
    "stack_module": bulkqa.stack.BulkQA.__module__,
    "stack_file": sys.modules["bulkqa.stack.bulkqa"].__file__,
    "functions": len(functions),
    "members": zipfile.ZipFile(zip_path).namelist(),
    "template": template,
}))
"""


def _wheel(tmp: Path) -> Path:
    """The wheel of a clean copy of the packages (what `pip install git+…` builds), offline."""
    source = tmp / "src"
    for name in ("bulkqa", "handlers", "components", "worker_template"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp / "dist"),
         str(source)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (tmp / "dist").glob("bulkqa-*.whl")
    return wheel


def test_a_consumer_with_its_own_components_package_imports_bulkqa_stack_from_the_wheel(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    shipped = {"bulkqa/stack.py", "components/bulkqa.py", "handlers/launch.py", "worker_template/bulkqa.liquid.html"}
    assert shipped <= names
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    # Dependencies (pulumi, boto3…) from this venv, by a plain path line: this venv's editable
    # install of the repository is not processed, so it cannot stand in for the wheel.
    (site / "zz_dev_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-3000:]
    consumer = tmp_path / "consumer"
    (consumer / "components").mkdir(parents=True)
    (consumer / "components" / "__init__.py").write_text('MARK = "the consumer\'s own"\n')
    (consumer / "handlers").mkdir()
    (consumer / "handlers" / "__init__.py").write_text("")
    (consumer / "handlers" / "consumer_only.py").write_text("import requests\n")
    (consumer / "program.py").write_text(CONSUMER_PROGRAM)
    done = subprocess.run(
        [str(python), "program.py"], cwd=consumer, capture_output=True, text=True, timeout=600,
        env={"PATH": "/usr/bin:/bin", "BULKQA_BUILD_DIR": str(tmp_path / "build")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert facts["consumer_mark"] == "the consumer's own"
    assert Path(facts["consumer_components"]).parent == consumer / "components"
    assert facts["stack_module"] == "bulkqa.stack.bulkqa"
    assert Path(facts["stack_file"]).is_relative_to(site)  # the wheel's copy, not the checkout
    assert facts["functions"] == 3
    assert "handlers/launch.py" in facts["members"]
    assert "handlers/consumer_only.py" not in facts["members"]  # ours, never the consumer's
    assert Path(facts["template"]).is_relative_to(site)


# --- no deprecation ---------------------------------------------------------------------------------------------


def test_the_program_logs_no_deprecation_under_mocks() -> None:
    """Neither a Pulumi log warning (what `pulumi up` prints) nor a DeprecationWarning about a resource
    type or property the program uses. Import-time notices about classes it does not use are ignored."""
    ours = {token.rsplit(":", 1)[1].lower() for token in RESOURCE_TYPES}
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.WARNING)
    logging.getLogger().addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for stage in ("dev", "prod", "localstack"):
                run_program(
                    lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__"),
                    stack=stage,
                    config=StageConfig.load(ROOT / f"Pulumi.{stage}.yaml").for_runtime(),
                )
    finally:
        logging.getLogger().removeHandler(handler)
    logged = [r.getMessage() for r in records if "deprecat" in r.getMessage().lower()]
    assert logged == []
    relevant = []
    for warning in caught:
        if not issubclass(warning.category, DeprecationWarning):
            continue
        text = str(warning.message)
        unused_class = re.match(r"^[\w./]*?(\w+) has been deprecated in favor of", text)
        if unused_class and unused_class.group(1).lower() not in ours:
            continue  # pulumi_aws announces its renamed classes on import; we declare none of them
        relevant.append(f"{warning.filename}:{warning.lineno}: {text}")
    assert relevant == []
