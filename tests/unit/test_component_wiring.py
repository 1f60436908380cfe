"""Wiring between the component and the handlers: the deployed zip, handler strings, environment
variables, log groups, the worker template and deploy-time seeding."""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import handlers.settings as settings
from components import BulkQA, BulkQAArgs, package_path_and_sha256
from components.lambda_package import (
    PackagingError,
    build_lambda_package,
    build_zip_bytes,
    entry_modules,
    handlers_dir,
    import_closure,
)
from components.mocks import MockedResource, MockedRun, run_program
from components.seeding import SEED_CSV_KEY
from components.source_parsing import parse_file
from handlers.settings import HANDLER_ENTRY_POINTS, HANDLER_ENVIRONMENT, TEMPLATE_KEY

ROOT = Path(__file__).resolve().parents[2]
FUNCTION = "aws:lambda/function:Function"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SHORT = {"launch": "launch", "pre_labeling": "pre-labeling", "post_labeling": "post-labeling"}


@pytest.fixture(scope="module")
def run() -> MockedRun:
    return run_program(lambda: BulkQA("qa", BulkQAArgs()))


def function(run: MockedRun, key: str) -> MockedResource:
    return run.one(FUNCTION, f"qa-{SHORT[key]}")


@pytest.fixture(scope="module")
def deployed_zip(run: MockedRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The archive the functions' ``code`` points at, extracted."""
    (path,) = {function(run, key).inputs["code"].path for key in HANDLER_ENTRY_POINTS}
    target = tmp_path_factory.mktemp("lambda-zip")
    with zipfile.ZipFile(path) as archive:
        archive.extractall(target)
    return target


# --- the package ---------------------------------------------------------------------------------


def test_every_function_deploys_the_same_archive_with_its_hash(run: MockedRun) -> None:
    path, sha = package_path_and_sha256()
    assert Path(path).is_file()
    data = Path(path).read_bytes()
    assert hashlib.sha256(data).hexdigest() == sha
    for key in HANDLER_ENTRY_POINTS:
        fn = function(run, key)
        assert fn.inputs["code"].path == path
        assert fn.inputs["sourceCodeHash"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert run.result.lambda_package.path == Path(path)
    assert run.result.lambda_package.sha256 == sha


def test_archive_is_reproducible(tmp_path: Path) -> None:
    first = build_lambda_package(tmp_path / "a")
    second = build_lambda_package(tmp_path / "b")
    assert first.sha256 == second.sha256
    assert first.path.read_bytes() == second.path.read_bytes()
    with zipfile.ZipFile(first.path) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {(i.external_attr >> 16) & 0o777 for i in infos} == {0o644}
    # Stored, not deflated: DEFLATE's bytes depend on the zlib build (zlib, zlib-ng, Apple's…).
    assert {i.compress_type for i in infos} == {zipfile.ZIP_STORED}


def test_archive_bytes_do_not_depend_on_the_zlib_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another zlib (another level, strategy or implementation) must not change a single byte."""
    import zlib

    reference, _ = build_zip_bytes()
    real = zlib.compressobj

    def other_zlib(level: int = -1, method: int = zlib.DEFLATED, wbits: int = -15, *args, **kwargs):
        return real(1, method, wbits, 9, zlib.Z_FILTERED)  # a different deflater entirely

    monkeypatch.setattr(zlib, "compressobj", other_zlib)
    assert build_zip_bytes()[0] == reference


def test_functions_declare_the_code_sha256_lambda_reports_and_run_on_arm64(run: MockedRun) -> None:
    _, sha = package_path_and_sha256()
    expected = base64.b64encode(bytes.fromhex(sha)).decode()
    for key in HANDLER_ENTRY_POINTS:
        fn = function(run, key)
        assert fn.inputs["codeSha256"] == expected == fn.inputs["sourceCodeHash"]
        assert fn.inputs["architectures"] == ["arm64"]


def test_archive_holds_only_the_handlers_import_closure() -> None:
    data, members = build_zip_bytes()
    closure = import_closure(tuple(entry_modules().values()))
    expected = {f"handlers/{p.relative_to(handlers_dir()).as_posix()}" for p in closure.values()}
    assert set(members) == expected
    assert "handlers/__init__.py" in members
    assert all(m.startswith("handlers/") and m.endswith(".py") for m in members)
    for entry in HANDLER_ENTRY_POINTS.values():
        assert entry.rsplit(".", 1)[0].replace(".", "/") + ".py" in members
    # Nothing from the rest of the repository (the CLI, the component, tests…).
    assert not any(m.startswith(("bulkqa/", "components/", "tests/")) for m in members)
    # Every packed file is byte-identical to its source.
    with zipfile.ZipFile(__import__("io").BytesIO(data)) as archive:
        for member in members:
            assert archive.read(member) == (handlers_dir().parent / member).read_bytes()


def test_packaging_refuses_imports_the_lambda_runtime_lacks(tmp_path: Path) -> None:
    package = tmp_path / "handlers"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "launch.py").write_text("import os\nimport boto3\nfrom handlers import helper\n")
    (package / "helper.py").write_text("import requests\n")
    with pytest.raises(PackagingError, match="requests"):
        import_closure(["handlers.launch"], root=package)
    (package / "helper.py").write_text("from botocore.config import Config\nfrom . import util\n")
    (package / "util.py").write_text("import json\n")
    (package / "unused.py").write_text("import numpy\n")
    assert set(import_closure(["handlers.launch"], root=package)) == {
        "handlers", "handlers.launch", "handlers.helper", "handlers.util",
    }  # fmt: skip


@pytest.mark.parametrize("key", sorted(HANDLER_ENTRY_POINTS))
def test_handler_string_resolves_inside_the_deployed_zip(key: str, run: MockedRun, deployed_zip: Path) -> None:
    fn = function(run, key)
    assert fn.inputs["runtime"] == "python3.12"
    handler = fn.inputs["handler"]
    assert handler == HANDLER_ENTRY_POINTS[key]
    module, attribute = handler.rsplit(".", 1)
    assert (deployed_zip / (module.replace(".", "/") + ".py")).is_file()
    # Import it the way Lambda does: the zip root first on sys.path, in a fresh interpreter, and
    # prove the module really came from the zip (not from the checkout).
    probe = (
        "import importlib, inspect, json, sys\n"
        f"sys.path.insert(0, {str(deployed_zip)!r})\n"
        f"m = importlib.import_module({module!r})\n"
        f"f = getattr(m, {attribute!r})\n"
        "print(json.dumps({'file': m.__file__, 'callable': callable(f),"
        " 'params': list(inspect.signature(f).parameters)}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-I", "-c", probe], capture_output=True, text=True, env=env, cwd=deployed_zip, check=True
    )
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(facts["file"]).resolve().is_relative_to(deployed_zip.resolve())
    assert facts["callable"] is True
    assert facts["params"][:2] == ["event", "context"]


# --- environment -----------------------------------------------------------------------------------


# Set by the Lambda runtime (credentials, region) or optional boto3 settings: not the component's job.
RUNTIME_PREFIX = "AWS_"
# Read when set, and deliberately left unset by the component: without it, a seed started by an S3
# notification gets a round named after the object (handlers.launch).
OPTIONAL_VARIABLES = {settings.ENV_ROUND_NAME}


def environment_reads(path: Path) -> set[str]:
    """Names read with os.environ[...], os.environ.get(...) or os.getenv(...).

    Names are resolved through handlers.settings (the handlers import them from there), string
    literals, and loop variables over a module-level tuple of literals (``for name in NAMES``).
    An unresolvable name fails the test rather than being skipped.
    """
    tree = parse_file(path)
    constant_tuples: dict[str, list[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Tuple | ast.List):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            items = [e.value for e in node.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            if len(items) == len(node.value.elts):
                for target in targets:
                    if isinstance(target, ast.Name):
                        constant_tuples[target.id] = items
    loop_sources: dict[str, str] = {}
    for node in ast.walk(tree):
        is_loop = isinstance(node, ast.For | ast.comprehension)
        if is_loop and isinstance(node.target, ast.Name) and isinstance(node.iter, ast.Name):
            loop_sources[node.target.id] = node.iter.id

    def resolve(node: ast.AST) -> set[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, ast.Name) and isinstance(getattr(settings, node.id, None), str):
            return {getattr(settings, node.id)}
        if isinstance(node, ast.Attribute) and isinstance(getattr(settings, node.attr, None), str):
            return {getattr(settings, node.attr)}
        if isinstance(node, ast.Name) and loop_sources.get(node.id) in constant_tuples:
            return set(constant_tuples[loop_sources[node.id]])
        raise AssertionError(f"{path.name}: cannot resolve the environment variable name {ast.dump(node)}")

    def is_environ(node: ast.AST) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == "environ"

    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and is_environ(node.value):
            names |= resolve(node.slice)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            func = node.func
            if (func.attr == "get" and is_environ(func.value)) or func.attr == "getenv":
                names |= resolve(node.args[0])
    return names


def component_reads(names: set[str]) -> set[str]:
    return {name for name in names if not name.startswith(RUNTIME_PREFIX)}


def test_environment_is_exactly_what_each_handler_needs(run: MockedRun) -> None:
    table = run.one("aws:dynamodb/table:Table").state["name"]
    bucket = run.one("aws:s3/bucket:Bucket").state["bucket"]
    expected_values = {
        settings.ENV_TABLE_NAME: table,
        settings.ENV_BUCKET_NAME: bucket,
        settings.ENV_BATCH_SIZE: str(settings.DEFAULT_BATCH_SIZE),
        settings.ENV_CONFIDENCE_THRESHOLD: repr(float(settings.DEFAULT_CONFIDENCE_THRESHOLD)),
        settings.ENV_LOG_LEVEL: "INFO",
    }
    for key in HANDLER_ENTRY_POINTS:
        variables = function(run, key).inputs["environment"]["variables"]
        assert set(variables) == set(HANDLER_ENVIRONMENT[key]), key
        for name, value in variables.items():
            assert value == expected_values[name], (key, name)


@pytest.mark.parametrize("key", sorted(HANDLER_ENTRY_POINTS))
def test_every_variable_the_handler_code_reads_is_set(key: str, run: MockedRun, deployed_zip: Path) -> None:
    module = HANDLER_ENTRY_POINTS[key].rsplit(".", 1)[0]
    closure = import_closure([module], root=deployed_zip / "handlers")
    read = component_reads(set().union(*(environment_reads(path) for path in closure.values())))
    # Cross-check the scan itself: each handler logs, so it reads the log level at least.
    assert settings.ENV_LOG_LEVEL in read
    variables = set(function(run, key).inputs["environment"]["variables"])
    assert read - OPTIONAL_VARIABLES <= variables, (key, read - variables - OPTIONAL_VARIABLES)
    assert read - OPTIONAL_VARIABLES <= set(HANDLER_ENVIRONMENT[key]), (key, "HANDLER_ENVIRONMENT is missing", read)


def test_scan_finds_the_launch_functions_required_variables(deployed_zip: Path) -> None:
    read = environment_reads(deployed_zip / "handlers" / "launch.py")
    assert {settings.ENV_BUCKET_NAME, settings.ENV_TABLE_NAME} <= read


def test_scan_resolves_every_pattern_and_refuses_unknown_names(tmp_path: Path) -> None:
    module = tmp_path / "probe.py"
    module.write_text(
        "import os\n"
        "from handlers.settings import ENV_TABLE_NAME\n"
        "NAMES = ('AWS_REGION', 'BULKQA_X')\n"
        "a = os.environ[ENV_TABLE_NAME]\n"
        "b = os.environ.get('BULKQA_LITERAL', '')\n"
        "c = os.getenv('BULKQA_GETENV')\n"
        "d = [os.environ.get(n) for n in NAMES]\n"
    )
    assert environment_reads(module) == {
        settings.ENV_TABLE_NAME, "BULKQA_LITERAL", "BULKQA_GETENV", "AWS_REGION", "BULKQA_X",
    }  # fmt: skip
    assert component_reads(environment_reads(module)) == {
        settings.ENV_TABLE_NAME, "BULKQA_LITERAL", "BULKQA_GETENV", "BULKQA_X",
    }  # fmt: skip
    module.write_text("import os\nkey = 'X' + 'Y'\nv = os.environ[key]\n")
    with pytest.raises(AssertionError, match="cannot resolve"):
        environment_reads(module)


# --- functions, logs ----------------------------------------------------------------------------------


def test_functions_are_named_for_ground_truth_and_sized(run: MockedRun) -> None:
    functions = [function(run, key) for key in HANDLER_ENTRY_POINTS]
    assert all(len(fn.inputs["name"]) <= 64 for fn in functions)
    launch, pre, post = (function(run, k) for k in ("launch", "pre_labeling", "post_labeling"))
    # Pre/post keep the mark the managed Ground Truth policy and the console look for; the seed
    # function must carry none of them, or any labeling job could invoke it.
    assert "LabelingFunction" in pre.inputs["name"] and "LabelingFunction" in post.inputs["name"]
    for mark in ("labelingfunction", "sagemaker", "gtrecipe"):
        assert mark not in launch.inputs["name"].lower()
    assert launch.inputs["timeout"] == 900 and launch.inputs["memorySize"] >= 512
    assert pre.inputs["timeout"] <= 60
    assert post.inputs["timeout"] >= 60


def test_each_function_has_its_log_group_with_retention_created_first(run: MockedRun) -> None:
    groups = {g.inputs["name"]: g for g in run.of_type(LOG_GROUP)}
    for key in HANDLER_ENTRY_POINTS:
        fn = function(run, key)
        group = groups[f"/aws/lambda/{fn.inputs['name']}"]
        assert group.inputs["retentionInDays"] == 14
        assert group.urn in fn.dependencies
        policy = run.one("aws:iam/rolePolicy:RolePolicy", f"qa-{SHORT[key]}-policy")
        assert policy.urn in fn.dependencies


# --- worker template ------------------------------------------------------------------------------


def test_worker_template_is_uploaded_as_the_liquid_object(run: MockedRun) -> None:
    template = run.one("aws:s3/bucketObjectv2:BucketObjectv2")
    assert template.inputs["key"] == TEMPLATE_KEY
    assert template.inputs["key"].endswith(".liquid.html")
    assert template.inputs["bucket"] == run.one("aws:s3/bucket:Bucket").id
    assert template.inputs["contentType"] == "text/html"
    source = Path(template.inputs["source"].path)
    assert source == (ROOT / "worker_template" / "bulkqa.liquid.html").resolve()
    assert source.is_file()


def test_custom_template_path(tmp_path: Path) -> None:
    custom = tmp_path / "ui.liquid.html"
    custom.write_text("<crowd-form></crowd-form>")
    run = run_program(lambda: BulkQA("qa", BulkQAArgs(worker_template_path=str(custom))))
    assert Path(run.one("aws:s3/bucketObjectv2:BucketObjectv2").inputs["source"].path) == custom


# --- deploy-time seeding ----------------------------------------------------------------------------


def seeded(csv: Path, **kwargs) -> MockedRun:
    return run_program(lambda: BulkQA("qa", BulkQAArgs(seed_csv=str(csv), **kwargs)))


def test_no_seeding_unless_a_csv_is_configured(run: MockedRun) -> None:
    assert run.of_type("aws:lambda/invocation:Invocation") == []


def test_seeding_uploads_the_csv_and_invokes_launch_once(tmp_path: Path) -> None:
    csv = tmp_path / "labels.csv"
    csv.write_text("image,label,confidence\na.jpg,cat,91.5\n")
    run = seeded(csv, batch_size=10, confidence_threshold=75)
    bucket = run.one("aws:s3/bucket:Bucket").state["bucket"]
    upload = run.one("aws:s3/bucketObjectv2:BucketObjectv2", "qa-seed-csv")
    assert upload.inputs["key"] == SEED_CSV_KEY
    assert Path(upload.inputs["source"].path) == csv.resolve()
    invocation = run.one("aws:lambda/invocation:Invocation")
    launch = function(run, "launch")
    assert invocation.inputs["functionName"] == launch.inputs["name"]
    event = json.loads(invocation.inputs["input"])
    assert event == {
        "csv": f"s3://{bucket}/{SEED_CSV_KEY}",
        "images": f"s3://{bucket}/",
        "copy_images": False,
        "batch_size": 10,
        "threshold": 75.0,
        "round": "deploy-" + hashlib.sha256(csv.read_bytes()).hexdigest()[:12],
    }
    assert invocation.inputs["triggers"]["csv_sha256"] == hashlib.sha256(csv.read_bytes()).hexdigest()
    assert {upload.urn, launch.urn} <= set(invocation.dependencies)
    launch_policy = run.one("aws:iam/rolePolicy:RolePolicy", "qa-launch-policy")
    assert launch_policy.urn in invocation.dependencies


def test_seed_reruns_only_when_the_csv_changes(tmp_path: Path) -> None:
    csv = tmp_path / "labels.csv"
    csv.write_text("image,label,confidence\na.jpg,cat,91.5\n")
    first = seeded(csv).one("aws:lambda/invocation:Invocation").inputs["triggers"]
    again = seeded(csv).one("aws:lambda/invocation:Invocation").inputs["triggers"]
    csv.write_text("image,label,confidence\na.jpg,cat,91.5\nb.jpg,dog,88\n")
    changed = seeded(csv).one("aws:lambda/invocation:Invocation").inputs["triggers"]
    assert first == again
    assert changed["csv_sha256"] != first["csv_sha256"]


def test_seed_images_in_another_bucket_become_readable(tmp_path: Path) -> None:
    csv = tmp_path / "labels.csv"
    csv.write_text("image,label,confidence\na.jpg,cat,91.5\n")
    run = seeded(csv, seed_images="s3://camera-archive/2024/", seed_copy_images=True)
    event = json.loads(run.one("aws:lambda/invocation:Invocation").inputs["input"])
    assert event["images"] == "s3://camera-archive/2024/" and event["copy_images"] is True
    launch_policy = run.one("aws:iam/rolePolicy:RolePolicy", "qa-launch-policy").inputs["policy"]
    gt_policy = run.one("aws:iam/rolePolicy:RolePolicy", "qa-groundtruth-policy").inputs["policy"]
    for policy in (launch_policy, gt_policy):
        assert "arn:aws:s3:::camera-archive/*" in policy
