"""The BulkQA component's resource graph, outputs, stages and packaging, under Pulumi mocks."""

from __future__ import annotations

import json
import runpy
from collections import Counter
from pathlib import Path

import pulumi
import pytest
import yaml

from components import COMPONENT_TYPE, RESOURCE_TYPES, STACK_OUTPUTS, BulkQA, BulkQAArgs
from components.mocks import MockedRun, StageConfig, run_program
from components.naming import StackNames
from handlers.settings import MANIFEST_KEY, OUTPUT_PREFIX, TEMPLATE_KEY

ROOT = Path(__file__).resolve().parents[2]

BUCKET = "aws:s3/bucket:Bucket"
TABLE = "aws:dynamodb/table:Table"
FUNCTION = "aws:lambda/function:Function"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
INVOCATION = "aws:lambda/invocation:Invocation"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"

DEFAULT_COUNTS = {
    BUCKET: 1,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": 1,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": 1,
    VERSIONING: 1,
    "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration": 1,
    "aws:s3/bucketPolicy:BucketPolicy": 1,
    OBJECT: 1,  # the worker template
    TABLE: 1,
    ROLE: 4,  # three functions + Ground Truth
    ROLE_POLICY: 4,
    LOG_GROUP: 3,
    FUNCTION: 3,
}


@pytest.fixture(scope="module")
def default_run() -> MockedRun:
    return run_program(lambda: BulkQA("qa", BulkQAArgs()), stack="dev")


@pytest.fixture(scope="module")
def seeded_run(tmp_path_factory: pytest.TempPathFactory) -> MockedRun:
    csv = tmp_path_factory.mktemp("seed") / "labels.csv"
    csv.write_text("image,label,confidence\na.jpg,cat,91.5\n", encoding="utf-8")
    return run_program(lambda: BulkQA("qa", BulkQAArgs(seed_csv=str(csv))), stack="dev")


def names(prefix: str, *, component: str = "qa", stack: str = "dev", project: str = "bulkqa") -> StackNames:
    """The names the component derives (the mocks answer getRegion with us-east-1)."""
    return StackNames.build(prefix=prefix, project=project, stack=stack, region="us-east-1", component=component)


def component_of(run: MockedRun):
    return run.one(COMPONENT_TYPE)


def children(run: MockedRun):
    return [r for r in run.resources if r.type != COMPONENT_TYPE]


# --- graph ---------------------------------------------------------------------------------------


def test_default_args_declare_the_documented_graph(default_run: MockedRun) -> None:
    assert Counter(r.type for r in children(default_run)) == DEFAULT_COUNTS


def test_seeding_adds_the_csv_object_and_one_invocation(seeded_run: MockedRun) -> None:
    expected = {**DEFAULT_COUNTS, OBJECT: 2, INVOCATION: 1}
    assert Counter(r.type for r in children(seeded_run)) == expected


def test_resource_types_lists_exactly_what_the_component_can_declare(seeded_run: MockedRun) -> None:
    declared = {r.type for r in children(seeded_run)}
    assert declared == set(RESOURCE_TYPES)
    assert len(RESOURCE_TYPES) == len(set(RESOURCE_TYPES))
    assert isinstance(RESOURCE_TYPES, tuple)


@pytest.mark.parametrize("run_name", ["default_run", "seeded_run"])
def test_every_child_is_parented_to_the_component_and_named_from_it(run_name: str, request) -> None:
    run: MockedRun = request.getfixturevalue(run_name)
    component = component_of(run)
    assert component.type == "bulkqa:index:BulkQA"
    assert component.parent.endswith("::pulumi:pulumi:Stack::bulkqa-dev")
    assert children(run)
    for child in children(run):
        assert child.parent == component.urn, child.urn
        assert child.name.startswith("qa-"), child.name
    assert len({c.name for c in children(run)}) == len(children(run))


def test_outputs_resolve_to_the_created_resources(default_run: MockedRun) -> None:
    outputs = default_run.registered_outputs[component_of(default_run).urn]
    assert set(outputs) == set(STACK_OUTPUTS)
    bucket = default_run.one(BUCKET).state["bucket"]
    table = default_run.one(TABLE).state["name"]
    functions = {r.state["name"]: r.state["arn"] for r in default_run.of_type(FUNCTION)}
    gt_role = next(r for r in default_run.of_type(ROLE) if "sagemaker.amazonaws.com" in r.inputs["assumeRolePolicy"])
    expected = names("qa-dev")
    assert bucket.startswith(expected.bucket_prefix)
    assert outputs["bucket_name"] == bucket
    assert outputs["table_name"] == table == expected.table
    assert outputs["manifest_uri"] == f"s3://{bucket}/{MANIFEST_KEY}"
    assert outputs["ui_template_uri"] == f"s3://{bucket}/{TEMPLATE_KEY}"
    assert outputs["output_path"] == f"s3://{bucket}/{OUTPUT_PREFIX}"
    for key in ("launch", "pre_labeling", "post_labeling"):
        assert outputs[f"{key}_function_arn"] == functions[expected.function(key)]
    assert outputs["ground_truth_role_arn"] == gt_role.state["arn"]
    assert all(isinstance(v, str) and v for v in outputs.values())


def test_component_attributes_are_outputs(default_run: MockedRun) -> None:
    component = default_run.result
    for attribute in STACK_OUTPUTS:
        assert isinstance(getattr(component, attribute), pulumi.Output), attribute


def test_explicit_names_and_bucket() -> None:
    run = run_program(lambda: BulkQA("qa", BulkQAArgs(name_prefix="team-a", bucket_name="team-a-qa-images")))
    assert run.one(BUCKET).inputs["bucket"] == "team-a-qa-images"
    assert "bucketPrefix" not in run.one(BUCKET).inputs
    expected = names("team-a")
    assert expected.base.startswith("team-a-") and len(expected.base) == len("team-a-") + 8
    assert run.one(TABLE).inputs["name"] == expected.table == f"{expected.base}-labels"
    assert sorted(r.inputs["name"] for r in run.of_type(FUNCTION)) == [
        f"{expected.base}-post-LabelingFunction",
        f"{expected.base}-pre-LabelingFunction",
        f"{expected.base}-seed",
    ]


def test_default_bucket_uses_an_s3_valid_prefix() -> None:
    run = run_program(lambda: BulkQA("QA_Stack", BulkQAArgs()), stack="Feature.Branch")
    prefix = run.one(BUCKET).inputs["bucketPrefix"]
    expected = names("QA-Stack-Feature-Branch", component="QA_Stack", stack="Feature.Branch")
    assert prefix == expected.bucket_prefix == expected.base.lower() + "-"
    assert prefix.startswith("qa-stack-feature-branch-")
    assert "bucket" not in run.one(BUCKET).inputs


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (BulkQAArgs(name_prefix="bad prefix!"), "name_prefix"),
        (BulkQAArgs(name_prefix="x" * 33), "at most 32"),
        (BulkQAArgs(bucket_name="Not_A_Bucket"), "bucket name"),
        (BulkQAArgs(batch_size=0), "batch_size"),
        (BulkQAArgs(batch_size=101), "batch_size"),
        (BulkQAArgs(confidence_threshold=101), "confidence_threshold"),
        (BulkQAArgs(log_retention_days=13), "log_retention_days"),
        (BulkQAArgs(log_level="LOUD"), "log_level"),
        (BulkQAArgs(extra_image_buckets=["images-*"]), "patterns"),
        (BulkQAArgs(worker_template_path="/nonexistent/template.html"), "worker template"),
        (BulkQAArgs(seed_csv="/nonexistent/labels.csv"), "seed CSV"),
    ],
)
def test_invalid_settings_fail_the_deployment(args: BulkQAArgs, message: str) -> None:
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        run_program(lambda: BulkQA("qa", args))


def test_args_accept_the_providers_dict_and_reject_unknown_keys() -> None:
    assert BulkQAArgs.coerce({"batch_size": 10}).batch_size == 10
    assert BulkQAArgs.coerce(None).batch_size is None
    with pytest.raises(TypeError, match="batchsize"):
        BulkQAArgs.coerce({"batchsize": 10})


def test_plain_fields_refuse_outputs() -> None:
    with pytest.raises(TypeError, match="data_protection"):
        run_program(lambda: BulkQA("qa", BulkQAArgs(data_protection=pulumi.Output.from_input(True))))


# --- stages: the program (__main__.py) with each Pulumi.<stage>.yaml -------------------------------


def stage_config(stage: str) -> dict[str, str]:
    return StageConfig.load(ROOT / f"Pulumi.{stage}.yaml").for_runtime()


def run_main(stage: str) -> MockedRun:
    return run_program(
        lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__"),
        project="bulkqa",
        stack=stage,
        config=stage_config(stage),
    )


@pytest.fixture(scope="module")
def stage_runs() -> dict[str, MockedRun]:
    return {stage: run_main(stage) for stage in ("dev", "prod", "localstack")}


def test_project_file_is_a_python_program_in_the_venv() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "bulkqa"
    assert project["runtime"]["name"] == "python"
    assert project["runtime"]["options"]["virtualenv"] == ".venv"


@pytest.mark.parametrize("stage", ["dev", "prod", "localstack"])
def test_main_program_exports_every_output(stage: str, stage_runs: dict[str, MockedRun]) -> None:
    run = stage_runs[stage]
    assert set(run.exports) == set(STACK_OUTPUTS.values())
    component = component_of(run)
    assert component.name == "bulkqa"
    registered = run.registered_outputs[component.urn]
    for attribute, export in STACK_OUTPUTS.items():
        assert run.exports[export] == registered[attribute]
        assert isinstance(run.exports[export], str) and run.exports[export]
    assert run.exports["table_name"] == names(f"bulkqa-{stage}", component="bulkqa", stack=stage).table
    assert Counter(r.type for r in children(run)) == DEFAULT_COUNTS


def test_main_program_exports_what_bulkqa_job_reads(stage_runs: dict[str, MockedRun]) -> None:
    # bulkqa/job_command.py reads these names from `pulumi stack output --json`.
    wanted = {
        "manifest_uri",
        "output_path",
        "ground_truth_role_arn",
        "ui_template_uri",
        "pre_labeling_function_arn",
        "post_labeling_function_arn",
    }
    assert wanted <= set(stage_runs["dev"].exports)


def _stateful(run: MockedRun):
    return run.one(BUCKET), run.one(TABLE)


def test_prod_protects_the_data(stage_runs: dict[str, MockedRun]) -> None:
    run = stage_runs["prod"]
    bucket, table = _stateful(run)
    assert bucket.protect and table.protect
    assert bucket.inputs["forceDestroy"] is False
    assert table.inputs["deletionProtectionEnabled"] is True
    assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
    assert run.one(VERSIONING).inputs["versioningConfiguration"]["status"] == "Enabled"
    assert {g.inputs["retentionInDays"] for g in run.of_type(LOG_GROUP)} == {365}
    unprotected = [r for r in children(run) if r.protect and r.type not in (BUCKET, TABLE)]
    assert unprotected == []


@pytest.mark.parametrize("stage", ["dev", "localstack"])
def test_dev_stages_are_disposable(stage: str, stage_runs: dict[str, MockedRun]) -> None:
    run = stage_runs[stage]
    bucket, table = _stateful(run)
    assert not bucket.protect and not table.protect
    assert bucket.inputs["forceDestroy"] is True
    assert table.inputs["deletionProtectionEnabled"] is False
    assert table.inputs["pointInTimeRecovery"] == {"enabled": False}
    assert run.one(VERSIONING).inputs["versioningConfiguration"]["status"] == "Suspended"
    assert not any(r.protect for r in run.resources)


def test_retention_differs_between_dev_and_prod(stage_runs: dict[str, MockedRun]) -> None:
    dev = {g.inputs["retentionInDays"] for g in stage_runs["dev"].of_type(LOG_GROUP)}
    prod = {g.inputs["retentionInDays"] for g in stage_runs["prod"].of_type(LOG_GROUP)}
    assert dev == {14}
    assert prod == {365}


def test_stage_tags_reach_the_resources(stage_runs: dict[str, MockedRun]) -> None:
    for stage in ("dev", "prod"):
        for resource in stage_runs[stage].of_type(FUNCTION) + stage_runs[stage].of_type(BUCKET):
            assert resource.inputs["tags"]["stage"] == stage
            assert resource.inputs["tags"]["project"] == "bulkqa"


def test_individual_switches_override_data_protection() -> None:
    run = run_program(
        lambda: BulkQA(
            "qa", BulkQAArgs(data_protection=True, deletion_protection=False, versioning=False, log_retention_days=30)
        )
    )
    bucket, table = _stateful(run)
    assert bucket.protect and table.protect
    assert table.inputs["deletionProtectionEnabled"] is False
    assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
    assert run.one(VERSIONING).inputs["versioningConfiguration"]["status"] == "Suspended"
    assert {g.inputs["retentionInDays"] for g in run.of_type(LOG_GROUP)} == {30}


def test_localstack_stage_points_every_used_service_at_localstack() -> None:
    config = StageConfig.load(ROOT / "Pulumi.localstack.yaml").values
    endpoints = config["aws:endpoints"]
    assert len(endpoints) == 1
    services_of_types = {token.split(":")[1].split("/")[0] for token in RESOURCE_TYPES}
    endpoint_key = {"cloudwatch": "logs"}  # log groups are CloudWatch Logs
    needed = {endpoint_key.get(s, s) for s in services_of_types} | {"sts"}
    assert needed == {"s3", "dynamodb", "lambda", "iam", "logs", "sts"}
    assert needed <= set(endpoints[0])
    assert all(url == "http://127.0.0.1:4566" for url in endpoints[0].values())
    assert config["aws:accessKey"] == "test" and config["aws:secretKey"] == "test"
    for flag in ("s3UsePathStyle", "skipCredentialsValidation", "skipRequestingAccountId", "skipMetadataApiCheck"):
        assert config[f"aws:{flag}"] is True, flag


def test_stage_files_only_use_known_knobs() -> None:
    from components.config import COMPONENT_NAME_KEY, CONFIG_KEYS

    for stage in ("dev", "prod", "localstack"):
        keys = [
            k.split(":", 1)[1]
            for k in StageConfig.load(ROOT / f"Pulumi.{stage}.yaml").values
            if k.startswith("bulkqa:")
        ]
        assert keys, stage
        assert set(keys) <= set(CONFIG_KEYS) | {COMPONENT_NAME_KEY}, stage


def test_config_knobs_reach_the_component() -> None:
    run = run_program(
        lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__"),
        stack="test",
        config={
            "bulkqa:componentName": "labels",
            "bulkqa:namePrefix": "lbl",
            "bulkqa:batchSize": "40",
            "bulkqa:confidenceThreshold": "90.5",
            "bulkqa:extraImageBuckets": json.dumps(["raw-images"]),
        },
    )
    assert component_of(run).name == "labels"
    launch = run.one(FUNCTION, "labels-launch")
    variables = launch.inputs["environment"]["variables"]
    assert variables["BULKQA_BATCH_SIZE"] == "40"
    assert variables["BULKQA_CONFIDENCE_THRESHOLD"] == "90.5"
    assert launch.inputs["name"] == names("lbl", component="labels", stack="test").function("launch")
    assert any("arn:aws:s3:::raw-images/*" in p.inputs["policy"] for p in run.of_type(ROLE_POLICY))


# --- reuse: the source-based plugin package ------------------------------------------------------


def test_plugin_manifest_is_a_python_plugin_without_a_main_setting() -> None:
    # PluginProject (pulumi/pulumi sdk/go/common/workspace/project.go) has runtime, packages,
    # requiredPulumiVersion and template only: the engine runs the folder, i.e. __main__.py.
    manifest = yaml.safe_load((ROOT / "PulumiPlugin.yaml").read_text())
    assert set(manifest) == {"runtime"}
    assert manifest["runtime"]["name"] == "python"
    assert manifest["runtime"]["options"] == {"toolchain": "pip", "virtualenv": ".venv"}
    provider_entry = runpy.run_path(str(ROOT / "provider" / "__main__.py"), run_name="bulkqa_provider_test")
    assert provider_entry["PACKAGE_NAME"] == COMPONENT_TYPE.split(":")[0]


def _provider():
    from components.provider import BulkQAProvider

    return BulkQAProvider("0.1.0")


def test_provider_schema_is_inferred_from_the_annotations() -> None:
    from pulumi.provider.experimental.schema import generate_schema

    provider = _provider()
    schema = generate_schema(
        "bulkqa", "0.1.0", None, provider._component_defs, provider._type_defs, provider._dependencies
    ).to_json()
    resource = schema["resources"][COMPONENT_TYPE]
    assert resource["isComponent"] is True
    assert not resource.get("requiredInputs")  # every knob has a default
    assert set(resource["inputProperties"]) == {
        "namePrefix", "bucketName", "batchSize", "confidenceThreshold", "logLevel", "tags", "logRetentionDays",
        "dataProtection", "versioning", "pointInTimeRecovery", "deletionProtection", "extraImageBuckets",
        "workerTemplatePath", "seedCsv", "seedImages", "seedCopyImages", "seedRound",
    }  # fmt: skip
    camel = {"".join(w.capitalize() if i else w for i, w in enumerate(a.split("_"))) for a in STACK_OUTPUTS}
    assert set(resource["properties"]) == camel
    assert all(resource["inputProperties"][k].get("description") for k in resource["inputProperties"])


def test_provider_constructs_the_component_from_schema_inputs() -> None:
    provider = _provider()
    box = {}

    def program():
        box["result"] = provider.construct(
            "shared", COMPONENT_TYPE, {"batchSize": 10, "namePrefix": "via-yaml"}, pulumi.ResourceOptions()
        )

    run = run_program(program)
    assert component_of(run).name == "shared"
    launch = run.one(FUNCTION, "shared-launch")
    assert launch.inputs["name"] == names("via-yaml", component="shared").function("launch")
    assert launch.inputs["environment"]["variables"]["BULKQA_BATCH_SIZE"] == "10"
    assert set(box["result"].state) == {
        "bucketName", "tableName", "manifestUri", "uiTemplateUri", "outputPath", "launchFunctionArn",
        "preLabelingFunctionArn", "postLabelingFunctionArn", "groundTruthRoleArn",
    }  # fmt: skip
