"""Security properties of the BulkQA component, asserted from the resource inputs under mocks,
plus the policy builders (components/policies.py) as pure functions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components import BulkQA, BulkQAArgs
from components import policies as P
from components.handler_calls import actions_needed
from components.lambda_package import entry_modules, import_closure
from components.mocks import MockedResource, MockedRun, run_program
from handlers.settings import ATTR_IMAGE_URL, ATTR_LABEL, IMAGE_PREFIX, OUTPUT_PREFIX, ROUND_PREFIX, TEMPLATE_KEY

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
FUNCTION = "aws:lambda/function:Function"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"

EXTRA_BUCKETS = ["raw-images", "s3://archive-images/2024/"]
EXTRA_ARNS = {"arn:aws:s3:::raw-images", "arn:aws:s3:::archive-images"}


@pytest.fixture(scope="module")
def run() -> MockedRun:
    return run_program(lambda: BulkQA("qa", BulkQAArgs()))


@pytest.fixture(scope="module")
def run_with_images() -> MockedRun:
    return run_program(lambda: BulkQA("qa", BulkQAArgs(extra_image_buckets=EXTRA_BUCKETS)))


def all_policy_documents(run: MockedRun) -> list[tuple[MockedResource, str, dict[str, Any]]]:
    """Every JSON policy in any resource input (role trust, role policies, the bucket policy)."""
    found = []
    for resource in run.resources:
        for key in ("policy", "assumeRolePolicy"):
            if key in resource.inputs:
                found.append((resource, key, json.loads(resource.inputs[key])))
    return found


def stack_arns(run: MockedRun) -> dict[str, str]:
    bucket = run.one("aws:s3/bucket:Bucket").state["arn"]
    arns = {"bucket": bucket, "objects": f"{bucket}/*", "table": run.one("aws:dynamodb/table:Table").state["arn"]}
    for prefix in (IMAGE_PREFIX, ROUND_PREFIX, OUTPUT_PREFIX):
        arns[f"objects:{prefix}"] = f"{bucket}/{prefix}*"
    gt_logs = f"arn:aws:logs:us-east-1:123456789012:log-group:{P.GROUND_TRUTH_LOG_GROUP}"
    arns["gt-logs"], arns["gt-log-streams"] = gt_logs, f"{gt_logs}:*"
    for fn in run.of_type(FUNCTION):
        arns[f"fn:{fn.inputs['name']}"] = fn.state["arn"]
    for group in run.of_type(LOG_GROUP):
        arns[f"logs:{group.inputs['name']}"] = f"{group.state['arn']}:*"
    return arns


def role_documents(run: MockedRun) -> dict[str, tuple[MockedResource, dict[str, Any]]]:
    """Role name -> (role, its one inline policy document)."""
    roles = {r.state["name"]: r for r in run.of_type(ROLE)}
    by_role: dict[str, list[dict[str, Any]]] = {name: [] for name in roles}
    for attachment in run.of_type(ROLE_POLICY):
        by_role[attachment.inputs["role"]].append(json.loads(attachment.inputs["policy"]))
    assert all(len(docs) == 1 for docs in by_role.values()), by_role
    return {name: (roles[name], docs[0]) for name, docs in by_role.items()}


def function_named(run: MockedRun, short: str) -> MockedResource:
    return run.one(FUNCTION, f"qa-{short}")


def policy_of_function(run: MockedRun, short: str) -> dict[str, Any]:
    fn = function_named(run, short)
    role_name = fn.inputs["role"].rsplit("/", 1)[1]
    return role_documents(run)[role_name][1]


def ground_truth_policy(run: MockedRun) -> dict[str, Any]:
    docs = role_documents(run)
    (name,) = [n for n, (role, _) in docs.items() if "sagemaker.amazonaws.com" in role.inputs["assumeRolePolicy"]]
    return docs[name][1]


# --- no wildcard actions, only this stack's ARNs ----------------------------------------------


@pytest.mark.parametrize("fixture", ["run", "run_with_images"])
def test_no_allow_statement_anywhere_has_a_wildcard_action(fixture: str, request) -> None:
    run = request.getfixturevalue(fixture)
    documents = all_policy_documents(run)
    assert len(documents) == 4 + 4 + 1  # trust policies, role policies, bucket policy
    wildcard_denies = []
    for resource, key, document in documents:
        for statement in P.statements(document):
            for action in P.as_list(statement.get("Action")):
                if "*" in action:
                    assert statement["Effect"] == "Deny", (resource.name, key, statement)
                    wildcard_denies.append(statement)
            assert "NotAction" not in statement and "NotResource" not in statement
    # The single wildcard is the bucket policy's TLS guard: a deny, not a grant.
    assert len(wildcard_denies) == 1
    assert wildcard_denies[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@pytest.mark.parametrize("fixture", ["run", "run_with_images"])
def test_every_role_reaches_only_this_stacks_arns(fixture: str, request) -> None:
    run = request.getfixturevalue(fixture)
    own = set(stack_arns(run).values())
    extra = EXTRA_ARNS | {f"{arn}/*" for arn in EXTRA_ARNS} if fixture == "run_with_images" else set()
    docs = role_documents(run)
    assert len(docs) == 4
    for name, (_, document) in docs.items():
        unconditional = [s for s in P.statements(document) if "Condition" not in s]
        resources = {r for s in unconditional for r in P.as_list(s["Resource"])}
        assert resources, name
        assert resources <= own | extra, (name, resources - own - extra)
        for resource in resources:
            assert "*" not in resource.split(":::", 1)[-1].removesuffix("/*").removesuffix(":*"), resource
        # The one statement on "*": PutMetricData (no resource-level permissions), namespace-bound.
        for statement in P.statements(document):
            if "Condition" in statement:
                assert statement["Action"] == ["cloudwatch:PutMetricData"] and statement["Resource"] == ["*"]
                assert set(statement["Condition"]) == {"StringLike"}
                assert set(statement["Condition"]["StringLike"]) == {"cloudwatch:namespace"}


def test_extra_image_buckets_are_read_only(run_with_images: MockedRun) -> None:
    extra = EXTRA_ARNS | {f"{arn}/*" for arn in EXTRA_ARNS}
    for name, (_, document) in role_documents(run_with_images).items():
        for statement in P.statements(document):
            if set(statement["Resource"]) & extra:
                assert set(statement["Resource"]) <= extra, (name, statement)
                assert set(statement["Action"]) <= {"s3:GetObject", "s3:ListBucket"}, (name, statement)
    # Ground Truth (presigned image URLs for the workers) and the launch function read them.
    assert extra <= P.allowed_resources(ground_truth_policy(run_with_images))
    assert extra <= P.allowed_resources(policy_of_function(run_with_images, "launch"))
    assert not extra & P.allowed_resources(policy_of_function(run_with_images, "pre-labeling"))
    assert not extra & P.allowed_resources(policy_of_function(run_with_images, "post-labeling"))


SHORT_OF_KEY = {"launch": "launch", "pre_labeling": "pre-labeling", "post_labeling": "post-labeling"}


@pytest.mark.parametrize("key", sorted(SHORT_OF_KEY))
def test_each_function_role_allows_every_call_its_code_makes(key: str, run: MockedRun) -> None:
    """Read from the handlers' source (their import closure, as packed): a handler change that needs a
    new permission fails here, not on the first real job."""
    needed = actions_needed(import_closure([entry_modules()[key]]).values())
    allowed = P.allowed_actions(policy_of_function(run, SHORT_OF_KEY[key]))
    missing = {action: sorted(files) for action, files in needed.items() if action not in allowed}
    assert not missing, f"the {key} role lacks {missing}: add them to components/policies.py"
    assert needed, key  # the scan found the calls at all


def test_function_roles_grant_nothing_beyond_their_jobs(run: MockedRun) -> None:
    logs = {"logs:CreateLogStream", "logs:PutLogEvents"}
    assert P.allowed_actions(policy_of_function(run, "launch")) == {
        "s3:GetObject", "s3:PutObject", "s3:ListBucket", *P.LAUNCH_TABLE_ACTIONS, *logs,
    }  # fmt: skip
    assert P.allowed_actions(policy_of_function(run, "pre-labeling")) == {"s3:GetObject", *logs}
    assert P.allowed_actions(policy_of_function(run, "post-labeling")) == {
        "s3:GetObject", "s3:ListBucket", *P.POST_TABLE_ACTIONS, *logs,
    }  # fmt: skip
    for actions in (P.LAUNCH_TABLE_ACTIONS, P.POST_TABLE_ACTIONS):
        assert not {"dynamodb:DeleteItem", "dynamodb:DeleteTable", "dynamodb:UpdateTable"} & set(actions)


def test_the_scan_of_handler_code_finds_calls_and_transaction_operations(tmp_path) -> None:
    module = tmp_path / "probe.py"
    module.write_text(
        "def f(s3, ddb):\n"
        "    s3.copy_object(Bucket='b', Key='k', CopySource={})\n"
        "    ddb.get_paginator('query').paginate()\n"
        "    ddb.transact_write_items(TransactItems=[{'Put': {}}, {'ConditionCheck': {}}])\n"
    )
    assert set(actions_needed([module])) == {
        "s3:GetObject", "s3:PutObject", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:ConditionCheckItem",
    }  # fmt: skip


# Every writer writes only its own prefixes (issue 12): an image path can never overwrite the worker
# template, a round's manifest or Ground Truth's output through a role that may write elsewhere.
WRITE_ACTIONS = ("s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject")


def writable_keys(document: dict, bucket_arn: str, keys: list[str]) -> set[str]:
    return {k for k in keys for a in WRITE_ACTIONS if P.allows(document, a, f"{bucket_arn}/{k}")}


def test_each_writer_may_write_only_its_prefixes(run: MockedRun) -> None:
    bucket = run.one("aws:s3/bucket:Bucket").state["arn"]
    keys = [
        "images/sub/a.jpg", "rounds/r1/manifest-0001.jsonl", "output/job/annotations/x.json", TEMPLATE_KEY,
        "manifest.json", "batches/dog-1/batch-00001.json", "seed/corpus.csv", "a.jpg", "templates/other.html",
    ]  # fmt: skip
    assert writable_keys(policy_of_function(run, "launch"), bucket, keys) == {
        "images/sub/a.jpg", "rounds/r1/manifest-0001.jsonl",
    }  # fmt: skip
    assert writable_keys(ground_truth_policy(run), bucket, keys) == {"output/job/annotations/x.json"}
    for short in ("pre-labeling", "post-labeling"):
        assert writable_keys(policy_of_function(run, short), bucket, keys) == set(), short
    # Nobody but the deployer writes templates/: the component's own upload (Pulumi's credentials).
    for name, (_, document) in role_documents(run).items():
        assert not writable_keys(document, bucket, [TEMPLATE_KEY]), name
    # Reads stay bucket-wide where the job needs them (CSV, images in place, manifests, template).
    assert P.allows(ground_truth_policy(run), "s3:GetObject", f"{bucket}/{TEMPLATE_KEY}")
    assert P.allows(policy_of_function(run, "launch"), "s3:GetObject", f"{bucket}/seed/corpus.csv")


def test_post_labeling_may_list_the_bucket_so_a_missing_object_is_not_access_denied(run: MockedRun) -> None:
    bucket = run.one("aws:s3/bucket:Bucket").state["arn"]
    assert P.allows(policy_of_function(run, "post-labeling"), "s3:ListBucket", bucket)
    assert not P.allows(policy_of_function(run, "post-labeling"), "s3:ListBucket", "arn:aws:s3:::another-bucket")


def test_ground_truth_role_writes_its_logs_and_metrics_scoped(run: MockedRun) -> None:
    document = ground_truth_policy(run)
    group = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/LabelingJobs"
    for action in ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"):
        assert P.allows(document, action, group) or P.allows(document, action, f"{group}:log-stream:x"), action
        assert not P.allows(document, action, f"{group}-other"), action
        assert not P.allows(document, action, "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/x"), action
    (metrics,) = [s for s in P.statements(document) if "cloudwatch:PutMetricData" in s["Action"]]
    assert metrics["Action"] == ["cloudwatch:PutMetricData"]
    namespaces = ["*SageMaker*", "*Sagemaker*", "*sagemaker*"]
    assert metrics["Condition"] == {"StringLike": {"cloudwatch:namespace": namespaces}}
    # The region and account of the log group are the stack's own (taken from the functions' ARNs).
    assert P.ground_truth_log_arns("aws-cn", "cn-north-1", "1") == [
        "arn:aws-cn:logs:cn-north-1:1:log-group:/aws/sagemaker/LabelingJobs",
        "arn:aws-cn:logs:cn-north-1:1:log-group:/aws/sagemaker/LabelingJobs:*",
    ]


def test_table_and_log_access_is_scoped_per_function(run: MockedRun) -> None:
    arns = stack_arns(run)
    for short, needs_table in (("launch", True), ("pre-labeling", False), ("post-labeling", True)):
        document = policy_of_function(run, short)
        resources = P.allowed_resources(document)
        assert (arns["table"] in resources) is needs_table, short
        own_logs = arns[f"logs:/aws/lambda/{function_named(run, short).inputs['name']}"]
        assert {r for r in resources if ":logs:" in r} == {own_logs}, short
        assert not any(r.startswith("arn:aws:lambda:") for r in resources)


def test_ground_truth_role_may_invoke_exactly_the_pre_and_post_functions(run: MockedRun) -> None:
    document = ground_truth_policy(run)
    invoke = [s for s in P.statements(document) if "lambda:InvokeFunction" in s["Action"]]
    assert len(invoke) == 1 and invoke[0]["Action"] == ["lambda:InvokeFunction"]
    expected = {function_named(run, "pre-labeling").state["arn"], function_named(run, "post-labeling").state["arn"]}
    assert set(invoke[0]["Resource"]) == expected
    assert function_named(run, "launch").state["arn"] not in P.allowed_resources(document)
    assert not P.allows(document, "lambda:InvokeFunction", function_named(run, "launch").state["arn"])
    arns = stack_arns(run)
    assert P.allowed_actions(document) == {
        "s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListBucket", "s3:GetBucketLocation",
        "lambda:InvokeFunction", *P.GROUND_TRUTH_LOG_ACTIONS, "cloudwatch:PutMetricData",
    }  # fmt: skip
    assert P.allowed_resources(document) == {
        arns["bucket"], arns["objects"], arns[f"objects:{OUTPUT_PREFIX}"], arns["gt-logs"], arns["gt-log-streams"],
        "*", *expected,
    }  # fmt: skip


def test_trust_policies(run: MockedRun) -> None:
    services = sorted(
        json.loads(r.inputs["assumeRolePolicy"])["Statement"][0]["Principal"]["Service"] for r in run.of_type(ROLE)
    )
    assert services == ["lambda.amazonaws.com"] * 3 + ["sagemaker.amazonaws.com"]
    for role in run.of_type(ROLE):
        (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert statement["Action"] == "sts:AssumeRole" and statement["Effect"] == "Allow"
    # Each function runs with its own role.
    assert len({fn.inputs["role"] for fn in run.of_type(FUNCTION)}) == 3


# --- the bucket ------------------------------------------------------------------------------


def test_public_access_is_blocked(run: MockedRun) -> None:
    block = run.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    bucket = run.one("aws:s3/bucket:Bucket")
    assert block.inputs["bucket"] == bucket.id
    for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
        assert block.inputs[flag] is True, flag


def test_bucket_policy_denies_plain_http(run: MockedRun) -> None:
    bucket = run.one("aws:s3/bucket:Bucket")
    policy = run.one("aws:s3/bucketPolicy:BucketPolicy")
    assert policy.inputs["bucket"] == bucket.id
    (statement,) = P.statements(json.loads(policy.inputs["policy"]))
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Action"] == "s3:*"
    assert set(statement["Resource"]) == {bucket.state["arn"], bucket.state["arn"] + "/*"}
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_bucket_is_encrypted_at_rest(run: MockedRun) -> None:
    sse = run.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert sse.inputs["bucket"] == run.one("aws:s3/bucket:Bucket").id
    (rule,) = sse.inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"


def test_cors_rule_lets_the_worker_ui_load_images(run: MockedRun) -> None:
    cors = run.one("aws:s3/bucketCorsConfiguration:BucketCorsConfiguration")
    assert cors.inputs["bucket"] == run.one("aws:s3/bucket:Bucket").id
    (rule,) = cors.inputs["corsRules"]
    assert rule["allowedMethods"] == ["GET"]
    assert rule["allowedOrigins"] == ["*"]
    assert rule["exposeHeaders"] == ["Access-Control-Allow-Origin"]


def test_objects_are_written_after_the_bucket_is_locked_down(run: MockedRun) -> None:
    template = run.one("aws:s3/bucketObjectv2:BucketObjectv2")
    guards = {
        run.one(t).urn
        for t in (
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "aws:s3/bucketPolicy:BucketPolicy",
        )
    }
    assert guards <= set(template.dependencies)


def test_table_key_schema_and_billing(run: MockedRun) -> None:
    table = run.one("aws:dynamodb/table:Table")
    assert table.inputs["hashKey"] == ATTR_IMAGE_URL
    assert table.inputs["rangeKey"] == ATTR_LABEL
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    assert sorted(table.inputs["attributes"], key=lambda a: a["name"]) == sorted(
        [{"name": ATTR_IMAGE_URL, "type": "S"}, {"name": ATTR_LABEL, "type": "S"}], key=lambda a: a["name"]
    )


# --- the policy builders as pure functions -------------------------------------------------------

BUCKET_ARN = "arn:aws:s3:::qa-bucket"
TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/qa-labels"
LOG_ARN = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/qa-pre-LabelingFunction"


def test_builders_refuse_wildcard_allow_actions_and_empty_resources() -> None:
    with pytest.raises(ValueError, match="wildcard"):
        P._statement("x", ["s3:*"], [BUCKET_ARN])
    with pytest.raises(ValueError, match="wildcard"):
        P._statement("x", ["*"], [BUCKET_ARN])
    with pytest.raises(ValueError, match="no resources"):
        P._statement("x", ["s3:GetObject"], [])
    with pytest.raises(ValueError, match="distinct"):
        P.ground_truth_policy(bucket_arn=BUCKET_ARN, function_arns=[])
    with pytest.raises(ValueError, match="without a condition"):
        P._statement("x", ["cloudwatch:PutMetricData"], ["*"])


def test_builders_are_deterministic_and_scoped() -> None:
    first = P.launch_policy(bucket_arn=BUCKET_ARN, table_arn=TABLE_ARN, log_group_arn=LOG_ARN)
    assert first == P.launch_policy(bucket_arn=BUCKET_ARN, table_arn=TABLE_ARN, log_group_arn=LOG_ARN)
    assert P.allowed_resources(first) == {
        BUCKET_ARN, f"{BUCKET_ARN}/*", f"{BUCKET_ARN}/images/*", f"{BUCKET_ARN}/rounds/*", TABLE_ARN, f"{LOG_ARN}:*",
    }  # fmt: skip
    pre = P.pre_labeling_policy(bucket_arn=BUCKET_ARN, log_group_arn=LOG_ARN + ":*")
    assert P.allowed_resources(pre) == {f"{BUCKET_ARN}/*", f"{LOG_ARN}:*"}  # no doubled ":*"


def test_image_bucket_arns_follow_the_stacks_partition() -> None:
    assert P.partition_of("arn:aws-cn:s3:::qa") == "aws-cn"
    assert P.bucket_arn("images", "aws-us-gov") == "arn:aws-us-gov:s3:::images"
    with pytest.raises(ValueError):
        P.partition_of("qa-bucket")
