"""Run a Pulumi program under ``pulumi.runtime.set_mocks`` and record what it declares.

Used by the unit tests, and meant for an emulator harness too: each ``MockedResource`` carries
the type token, logical name, resolved inputs (wire names, camelCase), the state the mocks
returned, the parent URN and the ``protect`` option, which is everything needed to replay the
deployment with boto3 calls. ``BulkQAMocks`` answers with realistic names, IDs and ARNs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config
from pulumi.runtime import mocks as runtime_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.stack import run_pulumi_func

MOCK_ACCOUNT = "123456789012"
MOCK_REGION = "us-east-1"
MOCK_PARTITION = "aws"


@dataclass
class MockedResource:
    urn: str
    type: str
    name: str
    id: str | None
    inputs: dict[str, Any]
    state: dict[str, Any]
    custom: bool
    parent: str
    protect: bool
    dependencies: tuple[str, ...]
    retain_on_delete: bool = False
    delete_before_replace: bool = False


@dataclass
class MockedRun:
    """What a program declared: resources in registration order, component outputs, stack exports."""

    resources: list[MockedResource]
    registered_outputs: dict[str, dict[str, Any]]
    exports: dict[str, Any]
    result: Any = None

    def of_type(self, token: str) -> list[MockedResource]:
        return [r for r in self.resources if r.type == token]

    def one(self, token: str, name: str | None = None) -> MockedResource:
        found = [r for r in self.of_type(token) if name is None or r.name == name]
        if len(found) != 1:
            raise LookupError(f"expected one {token} {name or ''}, found {len(found)}")
        return found[0]

    def by_urn(self, urn: str) -> MockedResource:
        return next(r for r in self.resources if r.urn == urn)


def _arn(service: str, resource: str, *, region: str = MOCK_REGION, account: str = MOCK_ACCOUNT) -> str:
    return f"arn:{MOCK_PARTITION}:{service}:{region}:{account}:{resource}"


class BulkQAMocks(pulumi.runtime.Mocks):
    """Mocks that return the IDs and computed attributes AWS would (names, ARNs), in ``region``."""

    def __init__(self, region: str = MOCK_REGION) -> None:
        super().__init__()
        self.region = region

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        token, name = args.typ, args.name
        if not args.custom:
            return f"{name}-id", inputs
        if token == "aws:s3/bucket:Bucket":
            bucket = inputs.get("bucket") or f"{inputs.get('bucketPrefix', name + '-')}20250101000000000000000001"
            state = {
                **inputs,
                "bucket": bucket,
                "arn": f"arn:{MOCK_PARTITION}:s3:::{bucket}",
                "bucketRegionalDomainName": f"{bucket}.s3.{self.region}.amazonaws.com",
                "region": self.region,
            }
            return bucket, state
        if token == "aws:dynamodb/table:Table":
            return inputs["name"], {**inputs, "arn": _arn("dynamodb", f"table/{inputs['name']}", region=self.region)}
        if token == "aws:iam/role:Role":
            role = inputs["name"]
            return role, {**inputs, "arn": f"arn:{MOCK_PARTITION}:iam::{MOCK_ACCOUNT}:role/{role}", "uniqueId": role}
        if token == "aws:iam/rolePolicy:RolePolicy":
            return f"{inputs['role']}:{inputs['name']}", inputs
        if token == "aws:cloudwatch/logGroup:LogGroup":
            return inputs["name"], {**inputs, "arn": _arn("logs", f"log-group:{inputs['name']}", region=self.region)}
        if token == "aws:lambda/function:Function":
            fn = inputs["name"]
            arn = _arn("lambda", f"function:{fn}", region=self.region)
            return fn, {
                **inputs,
                "arn": arn,
                "qualifiedArn": f"{arn}:$LATEST",
                "invokeArn": (
                    f"arn:{MOCK_PARTITION}:apigateway:{self.region}:lambda:path/2015-03-31/functions/{arn}/invocations"
                ),
                "version": "$LATEST",
            }
        if token == "aws:s3/bucketObjectv2:BucketObjectv2":
            return f"{inputs['bucket']}/{inputs['key']}", inputs
        if token == "aws:lambda/invocation:Invocation":
            return f"{inputs['functionName']}_invocation", {**inputs, "result": "{}"}
        if token.startswith("aws:s3/bucket"):
            return str(inputs.get("bucket", name)), inputs
        return f"{name}-id", inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        # An empty failure list, not None: pulumi's MockMonitor iterates it.
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": MOCK_ACCOUNT, "arn": f"arn:aws:iam::{MOCK_ACCOUNT}:user/test", "userId": "test"}, []
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region}, []
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": MOCK_PARTITION, "dnsSuffix": "amazonaws.com"}, []
        return {}, []


class RecordingMonitor(runtime_mocks.MockMonitor):
    """The stock mock monitor, also keeping parent, protect, dependencies and registered outputs."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.recorded: list[MockedResource] = []
        self.registered_outputs: dict[str, dict[str, Any]] = {}

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            registration = self.resources[response.urn]
            self.recorded.append(
                MockedResource(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    id=registration.id,
                    inputs=rpc.deserialize_properties(request.object),
                    state=dict(registration.state),
                    custom=bool(request.custom),
                    parent=request.parent,
                    protect=bool(request.protect),
                    dependencies=tuple(request.dependencies),
                    retain_on_delete=bool(request.retainOnDelete),
                    delete_before_replace=bool(request.deleteBeforeReplace),
                )
            )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        self.registered_outputs[request.urn] = rpc.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)


def run_program(
    program: Callable[[], Any],
    *,
    project: str = "bulkqa",
    stack: str = "dev",
    config: Mapping[str, Any] | None = None,
    mocks: pulumi.runtime.Mocks | None = None,
) -> MockedRun:
    """Run ``program`` (e.g. ``lambda: BulkQA("qa", BulkQAArgs())``) to completion under mocks.

    ``config`` maps full keys (``"bulkqa:dataProtection"``) to values; non-strings are JSON-encoded
    the way the Pulumi CLI passes them. Raises whatever the program (or an apply) raised.
    """
    monitor = RecordingMonitor(mocks or BulkQAMocks())
    runtime_settings.reset_options(project=project, stack=stack)
    runtime_config.set_all_config(
        {k: v if isinstance(v, str) else json.dumps(v) for k, v in (config or {}).items()}, secret_keys=[]
    )
    pulumi.runtime.set_mocks(monitor.mocks, project=project, stack=stack, preview=False, monitor=monitor)
    box: dict[str, Any] = {}

    def body() -> None:
        box["result"] = program()
        root = runtime_settings.get_root_resource()
        exports = dict(getattr(root, "outputs", {}) or {})
        box["exports"] = runtime_mocks._sync_await(pulumi.Output.from_input(exports).future())

    runtime_settings.SETTINGS.rpc_manager.clear()
    runtime_settings.SETTINGS.outputs.clear()
    runtime_mocks._sync_await(run_pulumi_func(body))
    return MockedRun(
        resources=list(monitor.recorded),
        registered_outputs=dict(monitor.registered_outputs),
        exports=dict(box.get("exports") or {}),
        result=box.get("result"),
    )


@dataclass
class StageConfig:
    """The ``config:`` block of a ``Pulumi.<stage>.yaml``, as the CLI would hand it to the program."""

    values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Any) -> StageConfig:
        import yaml

        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle) or {}
        return cls(dict(document.get("config") or {}))

    def for_runtime(self) -> dict[str, str]:
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in self.values.items()}
