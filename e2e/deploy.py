"""Deploy the project's Pulumi program (the BulkQA component) into the emulator, and tear it down.

Two ways, chosen by :func:`deployer_kind`:

- ``automation`` (the Pulumi CLI is installed, and the emulator runs Lambda code itself, i.e.
  LocalStack): ``pulumi.automation`` runs ``up`` on a throwaway stack of the project's program,
  with the AWS provider's endpoints pointed at the emulator and a local file backend, and
  ``destroy`` at the end.
- ``mocks`` (no CLI, as here; and always on moto, which cannot run the deploy-time seed
  invocation without Docker): the same program runs under ``pulumi.runtime.set_mocks`` in a
  subprocess (``python -m e2e.deploy``), and :class:`EmulatorMocks` creates every resource it
  declares in the emulator with boto3, translating the resource's inputs. It covers exactly
  ``components.RESOURCE_TYPES`` and fails loudly on anything else. Each created resource is
  appended to a ledger file, from which :func:`teardown` deletes everything in reverse order --
  even after a deployment that failed half-way.

This is a test harness: small, one creator and one deleter per resource type.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import runpy
import secrets
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from e2e.emulator import Emulator
from e2e.lambda_runner import AwsLambda, Invoker, LambdaFunctionError, LocalLambda, code_sha256

REPO = Path(__file__).resolve().parents[1]
PROJECT = "bulkqa"
STACK = "e2e"
ENV_DEPLOYER = "BULKQA_E2E_DEPLOYER"
DEPLOY_TIMEOUT = 600
ENDPOINT_SERVICES = ("s3", "dynamodb", "lambda", "iam", "logs", "sts")


def deployer_kind(emulator: Emulator) -> str:
    """``automation`` with the Pulumi CLI on LocalStack, else ``mocks``; ``BULKQA_E2E_DEPLOYER`` overrides."""
    automation = shutil.which("pulumi") is not None and emulator.backend == "localstack"
    kind = os.environ.get(ENV_DEPLOYER) or ("automation" if automation else "mocks")
    if kind not in {"automation", "mocks"}:
        raise ValueError(f"{ENV_DEPLOYER} must be 'automation' or 'mocks', not {kind!r}")
    return kind


# ============================================================================================
# The mocks: one creator and one deleter per resource type.
# ============================================================================================


def _tags(inputs: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (inputs.get("tags") or {}).items()}


def _missing(err: ClientError) -> bool:
    code = err.response.get("Error", {}).get("Code", "")
    return code in {"NoSuchBucket", "NoSuchKey", "404", "NoSuchEntity", "ResourceNotFoundException"}


# moto evaluates only StringEquals conditions in bucket policies and treats any other condition as
# met, so the TLS guard ("Deny s3:* if aws:SecureTransport is false") would deny every request.
MOTO_CONDITION_OPERATORS = frozenset({"StringEquals"})


def moto_evaluable_policy(policy: str) -> str:
    """The policy without the statements moto would misread (said on stderr, never silently)."""
    document = json.loads(policy)
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    kept = [s for s in statements if set(s.get("Condition") or {}) <= MOTO_CONDITION_OPERATORS]
    for dropped in (s for s in statements if s not in kept):
        print(
            f"e2e mocks: moto cannot evaluate condition {sorted(dropped['Condition'])} of bucket policy statement "
            f"{dropped.get('Sid', '?')!r}; applied without that statement",
            file=sys.stderr,
        )
    return json.dumps({**document, "Statement": kept})


class EmulatorMocks:
    """``pulumi.runtime.Mocks`` whose ``new_resource`` creates the resource in the emulator."""

    def __init__(self, emulator: Emulator, ledger: Path, component_type: str, resource_types: tuple[str, ...]) -> None:
        self.emulator = emulator
        self.ledger = ledger
        self.component_type = component_type
        self.account = emulator.client("sts").get_caller_identity()["Account"]
        self.s3 = emulator.client("s3")
        self.ddb = emulator.client("dynamodb")
        self.iam = emulator.client("iam")
        self.logs = emulator.client("logs")
        self.lam = emulator.client("lambda")
        self.archives: dict[str, Path] = {}
        self.invocations: dict[str, Any] = {}  # Invocation name -> the function's result
        self._lock = threading.Lock()
        self.creators: dict[str, Callable[[str, dict[str, Any]], tuple[str, dict[str, Any], dict[str, Any]]]] = {
            "aws:s3/bucket:Bucket": self._bucket,
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": self._public_access_block,
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": self._encryption,
            "aws:s3/bucketVersioning:BucketVersioning": self._versioning,
            "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration": self._cors,
            "aws:s3/bucketPolicy:BucketPolicy": self._bucket_policy,
            "aws:s3/bucketObjectv2:BucketObjectv2": self._object,
            "aws:dynamodb/table:Table": self._table,
            "aws:iam/role:Role": self._role,
            "aws:iam/rolePolicy:RolePolicy": self._role_policy,
            "aws:cloudwatch/logGroup:LogGroup": self._log_group,
            "aws:lambda/function:Function": self._function,
            "aws:lambda/invocation:Invocation": self._invocation,
        }
        if set(self.creators) != set(resource_types):
            raise RuntimeError(
                "the e2e mocks cover other resource types than the component declares: "
                f"missing {sorted(set(resource_types) - set(self.creators))}, "
                f"extra {sorted(set(self.creators) - set(resource_types))}"
            )

    # --- pulumi.runtime.Mocks ---
    def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
        if not args.custom:
            if args.typ != self.component_type:
                raise RuntimeError(f"e2e mocks: unknown component type {args.typ!r} ({args.name})")
            return f"{args.name}-component", dict(args.inputs)
        creator = self.creators.get(args.typ)
        if creator is None:
            raise RuntimeError(f"e2e mocks: no emulator translation for resource type {args.typ!r} ({args.name})")
        physical_id, state, undo = creator(args.name, dict(args.inputs))
        with self._lock, self.ledger.open("a", encoding="utf-8") as ledger:
            ledger.write(json.dumps({"type": args.typ, "name": args.name, "id": physical_id, "undo": undo}) + "\n")
        return physical_id, state

    def call(self, args: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        # An empty failure list, not None: pulumi's MockMonitor iterates it (the component invokes getRegion).
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": self.account, "arn": f"arn:aws:iam::{self.account}:root", "userId": "test"}, []
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": self.emulator.region, "region": self.emulator.region}, []
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com"}, []
        raise RuntimeError(f"e2e mocks: no emulator translation for function {args.token!r}")

    def register_transform(self, transform: Any) -> None:  # pragma: no cover - not used by BulkQA
        raise RuntimeError("e2e mocks: stack transforms are not supported")

    def register_invoke_transform(self, transform: Any) -> None:  # pragma: no cover
        raise RuntimeError("e2e mocks: invoke transforms are not supported")

    # --- S3 ---
    def _bucket(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
        # Like Terraform's bucket_prefix: the prefix plus a 26-digit unique suffix.
        unique = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f") + f"{secrets.randbelow(10**6):06d}"
        bucket = inputs.get("bucket") or inputs.get("bucketPrefix", "terraform-") + unique
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if self.emulator.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.emulator.region}
        self.s3.create_bucket(**kwargs)
        if _tags(inputs):
            self.s3.put_bucket_tagging(
                Bucket=bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in _tags(inputs).items()]}
            )
        state = {
            **inputs,
            "bucket": bucket,
            "arn": f"arn:aws:s3:::{bucket}",
            "bucketDomainName": f"{bucket}.s3.amazonaws.com",
            "bucketRegionalDomainName": f"{bucket}.s3.{self.emulator.region}.amazonaws.com",
            "region": self.emulator.region,
        }
        return bucket, state, {"bucket": bucket, "force_destroy": bool(inputs.get("forceDestroy"))}

    def _public_access_block(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
        keys = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        self.s3.put_public_access_block(
            Bucket=inputs["bucket"],
            PublicAccessBlockConfiguration={k[0].upper() + k[1:]: bool(inputs.get(k)) for k in keys},
        )
        return inputs["bucket"], inputs, {"bucket": inputs["bucket"]}

    def _encryption(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
        rules = []
        for rule in inputs["rules"]:
            default = rule.get("applyServerSideEncryptionByDefault") or {}
            entry: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": default["sseAlgorithm"]}}
            if default.get("kmsMasterKeyId"):
                entry["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] = default["kmsMasterKeyId"]
            if rule.get("bucketKeyEnabled") is not None:
                entry["BucketKeyEnabled"] = bool(rule["bucketKeyEnabled"])
            rules.append(entry)
        self.s3.put_bucket_encryption(Bucket=inputs["bucket"], ServerSideEncryptionConfiguration={"Rules": rules})
        return inputs["bucket"], inputs, {"bucket": inputs["bucket"]}

    def _versioning(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
        status = inputs["versioningConfiguration"]["status"]
        self.s3.put_bucket_versioning(Bucket=inputs["bucket"], VersioningConfiguration={"Status": status})
        return inputs["bucket"], inputs, {"bucket": inputs["bucket"]}

    def _cors(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
        names = {
            "allowedHeaders": "AllowedHeaders",
            "allowedMethods": "AllowedMethods",
            "allowedOrigins": "AllowedOrigins",
            "exposeHeaders": "ExposeHeaders",
            "maxAgeSeconds": "MaxAgeSeconds",
            "id": "ID",
        }
        for rule in inputs["corsRules"]:
            if rule.get("maxAgeSeconds") is not None:
                rule["maxAgeSeconds"] = int(rule["maxAgeSeconds"])  # Pulumi's wire numbers are floats
        rules = [
            {names[k]: v for k, v in rule.items() if k in names and v not in (None, [])} for rule in inputs["corsRules"]
        ]
        self.s3.put_bucket_cors(Bucket=inputs["bucket"], CORSConfiguration={"CORSRules": rules})
        return inputs["bucket"], inputs, {"bucket": inputs["bucket"]}

    def _bucket_policy(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
        policy = inputs["policy"]
        if self.emulator.backend == "moto":
            policy = moto_evaluable_policy(policy)
        self.s3.put_bucket_policy(Bucket=inputs["bucket"], Policy=policy)
        return inputs["bucket"], inputs, {"bucket": inputs["bucket"]}

    def _object(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
        if inputs.get("source") is not None:
            body = Path(inputs["source"].path).read_bytes()
        else:
            body = str(inputs.get("content", "")).encode("utf-8")
        kwargs: dict[str, Any] = {"Bucket": inputs["bucket"], "Key": inputs["key"], "Body": body}
        if inputs.get("contentType"):
            kwargs["ContentType"] = inputs["contentType"]
        if _tags(inputs):
            kwargs["Tagging"] = "&".join(f"{k}={v}" for k, v in _tags(inputs).items())
        etag = self.s3.put_object(**kwargs)["ETag"].strip('"')
        state = {**inputs, "etag": etag, "arn": f"arn:aws:s3:::{inputs['bucket']}/{inputs['key']}"}
        return f"{inputs['bucket']}/{inputs['key']}", state, {"bucket": inputs["bucket"], "key": inputs["key"]}

    # --- DynamoDB ---
    def _table(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
        key_schema = [{"AttributeName": inputs["hashKey"], "KeyType": "HASH"}]
        if inputs.get("rangeKey"):
            key_schema.append({"AttributeName": inputs["rangeKey"], "KeyType": "RANGE"})
        kwargs: dict[str, Any] = {
            "TableName": inputs["name"],
            "KeySchema": key_schema,
            "AttributeDefinitions": [
                {"AttributeName": a["name"], "AttributeType": a["type"]} for a in inputs["attributes"]
            ],
            "BillingMode": inputs.get("billingMode", "PROVISIONED"),
            "DeletionProtectionEnabled": bool(inputs.get("deletionProtectionEnabled")),
        }
        if kwargs["BillingMode"] == "PROVISIONED":
            kwargs["ProvisionedThroughput"] = {
                "ReadCapacityUnits": int(inputs.get("readCapacity") or 1),
                "WriteCapacityUnits": int(inputs.get("writeCapacity") or 1),
            }
        if _tags(inputs):
            kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in _tags(inputs).items()]
        arn = self.ddb.create_table(**kwargs)["TableDescription"]["TableArn"]
        self.ddb.get_waiter("table_exists").wait(TableName=inputs["name"], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        if (inputs.get("pointInTimeRecovery") or {}).get("enabled"):
            self.ddb.update_continuous_backups(
                TableName=inputs["name"], PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
        return inputs["name"], {**inputs, "arn": arn}, {"table": inputs["name"]}

    # --- IAM ---
    def _role(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
        kwargs: dict[str, Any] = {"RoleName": inputs["name"], "AssumeRolePolicyDocument": inputs["assumeRolePolicy"]}
        if inputs.get("description"):
            kwargs["Description"] = inputs["description"]
        if _tags(inputs):
            kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in _tags(inputs).items()]
        role = self.iam.create_role(**kwargs)["Role"]
        state = {**inputs, "arn": role["Arn"], "uniqueId": role["RoleId"], "createDate": str(role["CreateDate"])}
        return inputs["name"], state, {"role": inputs["name"]}

    def _role_policy(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
        self.iam.put_role_policy(RoleName=inputs["role"], PolicyName=inputs["name"], PolicyDocument=inputs["policy"])
        return f"{inputs['role']}:{inputs['name']}", inputs, {"role": inputs["role"], "policy": inputs["name"]}

    # --- CloudWatch Logs ---
    def _log_group(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
        kwargs: dict[str, Any] = {"logGroupName": inputs["name"]}
        if _tags(inputs):
            kwargs["tags"] = _tags(inputs)
        self.logs.create_log_group(**kwargs)
        if inputs.get("retentionInDays"):
            self.logs.put_retention_policy(logGroupName=inputs["name"], retentionInDays=int(inputs["retentionInDays"]))
        arn = f"arn:aws:logs:{self.emulator.region}:{self.account}:log-group:{inputs['name']}"
        return inputs["name"], {**inputs, "arn": arn}, {"log_group": inputs["name"]}

    # --- Lambda ---
    def _function(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
        archive = Path(inputs["code"].path)
        data = archive.read_bytes()
        if inputs.get("sourceCodeHash") and inputs["sourceCodeHash"] != code_sha256(data):
            raise RuntimeError(f"{archive}: sourceCodeHash {inputs['sourceCodeHash']} is not the archive's SHA-256")
        kwargs: dict[str, Any] = {
            "FunctionName": inputs["name"],
            "Runtime": inputs["runtime"],
            "Role": inputs["role"],
            "Handler": inputs["handler"],
            "Code": {"ZipFile": data},
            "Timeout": int(inputs.get("timeout") or 3),
            "MemorySize": int(inputs.get("memorySize") or 128),
            "Publish": bool(inputs.get("publish")),
        }
        if inputs.get("description"):
            kwargs["Description"] = inputs["description"]
        if (inputs.get("environment") or {}).get("variables"):
            kwargs["Environment"] = {"Variables": {k: str(v) for k, v in inputs["environment"]["variables"].items()}}
        if _tags(inputs):
            kwargs["Tags"] = _tags(inputs)
        config = self.lam.create_function(**kwargs)
        self.lam.get_waiter("function_active_v2").wait(
            FunctionName=inputs["name"], WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
        self.archives[inputs["name"]] = archive
        arn, region = config["FunctionArn"], self.emulator.region
        state = {
            **inputs,
            "arn": arn,
            "qualifiedArn": f"{arn}:{config.get('Version', '$LATEST')}",
            "invokeArn": f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations",
            "version": config.get("Version", "$LATEST"),
            "sourceCodeHash": config["CodeSha256"],
            "codeSha256": config["CodeSha256"],
            "lastModified": config.get("LastModified", ""),
        }
        return inputs["name"], state, {"function": inputs["name"], "archive": str(archive)}

    def invoker(self) -> Invoker:
        if self.emulator.backend == "moto":
            runner = local_lambda(self.emulator)
            runner.archives = self.archives  # shared: functions created later are known too
            return runner
        return AwsLambda(self.lam)

    def _invocation(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """``aws.lambda_.Invocation``: invoke once at create time; a function error fails the deployment."""
        invoker = self.invoker()
        try:
            result = invoker.invoke(inputs["functionName"], json.loads(inputs["input"]))
        except LambdaFunctionError as err:
            raise RuntimeError(f"invoking Lambda function {inputs['functionName']}: {err}\n{err.logs}") from err
        finally:
            if isinstance(invoker, LocalLambda):
                invoker.close()
        self.invocations[name] = result
        return f"{inputs['functionName']}_{name}", {**inputs, "result": json.dumps(result)}, {}


# --- teardown, from the ledger ---


def _empty_bucket(s3: Any, bucket: str) -> None:
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        entries = [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        if entries:
            s3.delete_objects(
                Bucket=bucket,
                Delete={"Objects": [{"Key": e["Key"], "VersionId": e["VersionId"]} for e in entries], "Quiet": True},
            )


def _delete(emulator: Emulator, entry: Mapping[str, Any]) -> None:
    undo, kind = entry["undo"], entry["type"]
    if kind == "aws:s3/bucket:Bucket":
        s3 = emulator.client("s3")
        if undo["force_destroy"]:
            _empty_bucket(s3, undo["bucket"])
        s3.delete_bucket(Bucket=undo["bucket"])
    elif kind == "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock":
        emulator.client("s3").delete_public_access_block(Bucket=undo["bucket"])
    elif kind == "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
        emulator.client("s3").delete_bucket_encryption(Bucket=undo["bucket"])
    elif kind == "aws:s3/bucketVersioning:BucketVersioning":
        pass  # versioning cannot be removed from a bucket, only suspended; the bucket goes next
    elif kind == "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration":
        emulator.client("s3").delete_bucket_cors(Bucket=undo["bucket"])
    elif kind == "aws:s3/bucketPolicy:BucketPolicy":
        emulator.client("s3").delete_bucket_policy(Bucket=undo["bucket"])
    elif kind == "aws:s3/bucketObjectv2:BucketObjectv2":
        emulator.client("s3").delete_object(Bucket=undo["bucket"], Key=undo["key"])
    elif kind == "aws:dynamodb/table:Table":
        ddb = emulator.client("dynamodb")
        ddb.update_table(TableName=undo["table"], DeletionProtectionEnabled=False)
        ddb.delete_table(TableName=undo["table"])
    elif kind == "aws:iam/role:Role":
        emulator.client("iam").delete_role(RoleName=undo["role"])
    elif kind == "aws:iam/rolePolicy:RolePolicy":
        emulator.client("iam").delete_role_policy(RoleName=undo["role"], PolicyName=undo["policy"])
    elif kind == "aws:cloudwatch/logGroup:LogGroup":
        emulator.client("logs").delete_log_group(logGroupName=undo["log_group"])
    elif kind == "aws:lambda/function:Function":
        emulator.client("lambda").delete_function(FunctionName=undo["function"])
    elif kind == "aws:lambda/invocation:Invocation":
        pass  # an invocation has nothing to delete (Pulumi's default lifecycle scope)
    else:
        raise RuntimeError(f"e2e teardown: unknown resource type {kind!r}")


def read_ledger(ledger: Path) -> list[dict[str, Any]]:
    if not ledger.is_file():
        return []
    return [json.loads(line) for line in ledger.read_text(encoding="utf-8").splitlines() if line.strip()]


def teardown(emulator: Emulator, ledger: Path) -> list[str]:
    """Delete what the ledger lists, newest first; return the failures (already gone is fine)."""
    failures = []
    for entry in reversed(read_ledger(ledger)):
        try:
            _delete(emulator, entry)
        except ClientError as err:
            if not _missing(err):
                failures.append(f"{entry['type']} {entry['id']}: {err}")
    return failures


# ============================================================================================
# Running the program.
# ============================================================================================


@dataclass
class DeployedStack:
    """The deployed stack: its outputs, clients on the emulator, and how to invoke its functions."""

    emulator: Emulator
    outputs: dict[str, Any]
    invoker: Invoker
    resources: list[dict[str, Any]] = field(default_factory=list)  # type, name, id (mocks only)
    invocations: dict[str, Any] = field(default_factory=dict)  # deploy-time invocations' results (mocks only)
    s3: Any = field(init=False)
    ddb: Any = field(init=False)
    lam: Any = field(init=False)

    def __post_init__(self) -> None:
        self.s3 = self.emulator.client("s3")
        self.ddb = self.emulator.client("dynamodb")
        self.lam = self.emulator.client("lambda")

    @property
    def bucket(self) -> str:
        return self.outputs["bucket_name"]

    @property
    def table(self) -> str:
        return self.outputs["table_name"]

    def function(self, key: str) -> str:
        """The function name behind output ``<key>_function_arn`` (launch, pre_labeling, post_labeling)."""
        return self.outputs[f"{key}_function_arn"].split(":")[-1]


def stack_config(emulator: Emulator, name_prefix: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The stack configuration: a unique prefix and DEBUG logs, plus ``extra`` (``bulkqa:…`` keys)."""
    return {
        "aws:region": emulator.region,
        f"{PROJECT}:namePrefix": name_prefix,
        f"{PROJECT}:logLevel": "DEBUG",
        f"{PROJECT}:logRetentionDays": 1,
        f"{PROJECT}:dataProtection": False,
        **(extra or {}),
    }


def run_mocked_program(emulator: Emulator, config: Mapping[str, Any], ledger: Path) -> dict[str, Any]:
    """Run ``__main__.py`` under the emulator mocks (in this process); return the stack's exports."""
    from components import COMPONENT_TYPE, RESOURCE_TYPES
    from components.mocks import run_program

    mocks = EmulatorMocks(emulator, ledger, COMPONENT_TYPE, RESOURCE_TYPES)
    os.chdir(REPO)  # Pulumi runs a program in its project folder
    run = run_program(
        lambda: runpy.run_path(str(REPO / "__main__.py"), run_name="__main__"),
        project=PROJECT,
        stack=STACK,
        config=dict(config),
        mocks=mocks,
    )
    archives = {name: str(path) for name, path in mocks.archives.items()}
    return {"exports": run.exports, "archives": archives, "invocations": mocks.invocations}


def _main() -> None:
    """``python -m e2e.deploy --endpoint URL --backend moto --config JSON --ledger FILE --out FILE``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--backend", required=True)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--config", required=True, help="JSON object of stack config")
    parser.add_argument("--ledger", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--iam", action="store_true", help="the emulator enforces IAM")
    options = parser.parse_args()
    emulator = Emulator(
        options.backend,
        options.endpoint,
        options.region,
        access_key=os.environ["AWS_ACCESS_KEY_ID"],
        secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        iam_enforced=options.iam,
    )
    result = run_mocked_program(emulator, json.loads(options.config), options.ledger)
    options.out.write_text(json.dumps(result), encoding="utf-8")


def _deploy_with_mocks(emulator: Emulator, config: Mapping[str, Any], ledger: Path) -> dict[str, Any]:
    out = ledger.with_name("outputs.json")
    env = {**os.environ, **emulator.environment(), "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "e2e.deploy", "--endpoint", emulator.endpoint_url, "--backend", emulator.backend]
    command += ["--region", emulator.region, "--config", json.dumps(dict(config)), "--ledger", str(ledger)]
    command += ["--out", str(out)] + (["--iam"] if emulator.iam_enforced else [])
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=DEPLOY_TIMEOUT)
    if done.returncode != 0:
        raise RuntimeError(f"deploying under mocks failed (exit {done.returncode}):\n{done.stderr[-6000:]}")
    return json.loads(out.read_text(encoding="utf-8"))


@contextlib.contextmanager
def _automation_stack(emulator: Emulator, config: Mapping[str, Any], workdir: Path) -> Iterator[dict[str, Any]]:
    """``pulumi up`` of a throwaway stack of the project's program; ``pulumi destroy`` afterwards."""
    from pulumi import automation as auto

    backend = workdir / "pulumi-state"
    backend.mkdir(exist_ok=True)
    env = {
        **emulator.environment(),
        "PULUMI_BACKEND_URL": backend.as_uri(),
        "PULUMI_CONFIG_PASSPHRASE": "",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
    }
    stack_name = f"{STACK}-{secrets.token_hex(3)}"
    stack = auto.create_stack(stack_name=stack_name, work_dir=str(REPO), opts=auto.LocalWorkspaceOptions(env_vars=env))
    settings = {
        "aws:accessKey": emulator.access_key,
        "aws:secretKey": emulator.secret_key,
        "aws:s3UsePathStyle": "true",
        "aws:skipCredentialsValidation": "true",
        "aws:skipRequestingAccountId": "true",
        "aws:skipMetadataApiCheck": "true",
        **{f"aws:endpoints[0].{service}": emulator.endpoint_url for service in ENDPOINT_SERVICES},
        **{k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()},
    }
    stack.set_all_config({k: auto.ConfigValue(value=str(v)) for k, v in settings.items()}, path=True)
    try:
        result = stack.up(on_output=lambda line: print(line, end=""), color="never")
        yield {name: output.value for name, output in result.outputs.items()}
    finally:
        stack.destroy(on_output=lambda line: print(line, end=""), color="never")
        stack.workspace.remove_stack(stack_name)


@contextlib.contextmanager
def deploy_stack(
    emulator: Emulator, workdir: Path, extra_config: Mapping[str, Any] | None = None, *, prefix: str = "e2e"
) -> Iterator[DeployedStack]:
    """Deploy a fresh stack (``<prefix>-<random>`` names) into ``emulator``; tear it down on exit."""
    config = stack_config(emulator, f"{prefix}-{secrets.token_hex(3)}", extra_config)
    workdir.mkdir(parents=True, exist_ok=True)
    if deployer_kind(emulator) == "automation":
        with _automation_stack(emulator, config, workdir) as outputs:
            deployed = DeployedStack(emulator, outputs, _invoker(emulator, outputs, {}))
            try:
                yield deployed
            finally:
                _close(deployed.invoker)
        return
    ledger = workdir / "ledger.jsonl"
    deployed = None
    try:
        result = _deploy_with_mocks(emulator, config, ledger)
        resources = [{k: e[k] for k in ("type", "name", "id")} for e in read_ledger(ledger)]
        deployed = DeployedStack(emulator, result["exports"], _invoker(emulator, result["exports"], result["archives"]))
        deployed.resources = resources
        deployed.invocations = result["invocations"]
        yield deployed
    finally:
        if deployed is not None:
            _close(deployed.invoker)
        failures = teardown(emulator, ledger)
        if failures:
            raise RuntimeError("tearing the e2e stack down failed:\n" + "\n".join(failures))


def _invoker(emulator: Emulator, outputs: Mapping[str, Any], archives: Mapping[str, str]) -> Invoker:
    lam = emulator.client("lambda")
    if emulator.backend != "moto":
        return AwsLambda(lam)
    runner = local_lambda(emulator)
    if not archives:  # deployed by `pulumi up`: the archive is the component's deterministic build
        from components import package_path_and_sha256

        path, _ = package_path_and_sha256()
        archives = {arn.split(":")[-1]: path for key, arn in outputs.items() if key.endswith("_function_arn")}
    for name, path in archives.items():
        runner.register(name, Path(path))
    return runner


def local_lambda(emulator: Emulator) -> LocalLambda:
    """The moto-side Lambda service: with IAM enforced, each function runs as its own role."""
    runner = LocalLambda(emulator.client("lambda"), emulator.endpoint_url, emulator.region)
    runner.credentials = (emulator.access_key, emulator.secret_key)
    if emulator.iam_enforced:
        runner.role_credentials = lambda role_arn, function: emulator.assume(role_arn, "lambda", function).environment()
    return runner


def _close(invoker: Invoker) -> None:
    if isinstance(invoker, LocalLambda):
        invoker.close()


if __name__ == "__main__":
    _main()
