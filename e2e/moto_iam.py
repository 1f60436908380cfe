"""IAM enforced in the moto server: requests authenticated, and authorized by the caller's policies.

Why: moto does not check IAM unless told to, so a function whose role lacks a permission passes
every e2e test and fails on its first real job. moto can authenticate and authorize requests
(``INITIAL_NO_AUTH_ACTION_COUNT``; here 0, so from the very first request), but its evaluator is
built for a few services and would either let wrong calls through or refuse right ones. This
module patches moto *inside the emulator's own process* so it checks what AWS checks, for the
calls BulkQA makes; it never touches BulkQA's code. What it still cannot do is in docs/e2e.md.

The patches, each for a reason:

- **Empty bodies are signed as empty.** moto recomputes a SigV4 signature over the request's
  parsed query/headers when the body is empty, so every bodiless REST call (Lambda ``GetFunction``,
  ``ListFunctions``) fails with SignatureDoesNotMatch. It signs ``b""`` as the client did.
- **DynamoDB and Lambda calls are authorized on their resource.** moto authorizes every non-S3
  action against ``Resource: "*"``, so a policy scoped to one table or function (ours) would never
  match. Here the resource is the table (or index) ARN of each table a request names, and the
  function ARN from a Lambda path; ``Invoke`` is checked as ``lambda:InvokeFunction``, and a
  transaction as the actions it holds (``TransactWriteItems`` is no IAM action: each ``Put`` needs
  ``dynamodb:PutItem`` on its table, and so on).
- **Lambda ``DryRun`` invocations only check permission** (moto would try to run the code in
  Docker). The Ground Truth simulator sends one as the Ground Truth role before each invocation.
- **Presigned S3 URLs** (the worker page's images) are authorized as the principal that signed
  them; moto crashes on a request without an ``Authorization`` header. Their signature is not
  recomputed.
- **AWS services assuming roles.** A role trusting ``lambda.amazonaws.com`` can only be assumed by
  Lambda. The harness user plays the services: an ``AssumeRole`` whose session name starts with
  ``lambda-`` or ``sagemaker-`` is allowed when the role's trust policy lets that service
  principal call ``sts:AssumeRole`` (moto crashes on service principals otherwise). So the trust
  policies are checked too.

The harness user (:data:`ADMIN_USER`, allowed every action: it stands for the person running
``pulumi up`` and for the AWS services) is created before the server starts; its keys go to the
parent process, which deploys with them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

ADMIN_USER = "bulkqa-e2e-admin"
ACCOUNT_ID = "123456789012"  # moto's default account
# Session-name prefix -> the service principal a harness AssumeRole acts for.
SERVICE_SESSIONS = {"lambda-": "lambda.amazonaws.com", "sagemaker-": "sagemaker.amazonaws.com"}
# moto's operation names that IAM spells otherwise.
IAM_ACTION_NAMES = {"lambda:Invoke": "lambda:InvokeFunction"}
_FUNCTION_PATH = re.compile(r"/functions/([^/?]+)")


@dataclass(frozen=True)
class AdminKeys:
    access_key: str
    secret_key: str


def service_session_name(service: str, name: str) -> str:
    """An AssumeRole session name saying which AWS service assumes the role (``lambda``/``sagemaker``)."""
    prefix = f"{service}-"
    if prefix not in SERVICE_SESSIONS:
        raise ValueError(f"unknown service {service!r}; one of {sorted(s[:-1] for s in SERVICE_SESSIONS)}")
    return re.sub(r"[^\w+=,.@-]", "-", f"{prefix}{name}")[:64]


def trust_allows(trust_policy: dict[str, Any] | str, service: str) -> bool:
    """Whether a role's trust policy lets ``service`` (``lambda.amazonaws.com``…) call sts:AssumeRole."""
    document = json.loads(trust_policy) if isinstance(trust_policy, str) else trust_policy
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    allowed = False
    for statement in statements:
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        services = (
            (statement.get("Principal") or {}).get("Service", [])
            if isinstance(statement.get("Principal"), dict)
            else []
        )
        services = [services] if isinstance(services, str) else services
        if "sts:AssumeRole" in actions and service in services:
            if statement.get("Effect") == "Deny":
                return False
            allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def table_resources(body: dict[str, Any], region: str, account: str) -> list[str]:
    """The ARNs a DynamoDB request acts on: each table it names (and the index, for Query/Scan)."""
    names: list[str] = []
    if isinstance(body.get("TableName"), str):
        names.append(body["TableName"])
    names += list((body.get("RequestItems") or {}).keys())
    for entry in body.get("TransactItems") or []:
        for operation in entry.values():
            if isinstance(operation, dict) and isinstance(operation.get("TableName"), str):
                names.append(operation["TableName"])
    arns = []
    for name in dict.fromkeys(names):
        arn = name if name.startswith("arn:") else f"arn:aws:dynamodb:{region}:{account}:table/{name}"
        if body.get("IndexName") and name == body.get("TableName"):
            arn = f"{arn}/index/{body['IndexName']}"
        arns.append(arn)
    return arns or ["*"]


# A transaction is authorized as the actions it holds (AWS: "dynamodb:TransactWriteItems" is not an
# IAM action; each Put needs dynamodb:PutItem on its table, and so on).
TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


def table_actions(operation: str, body: dict[str, Any], region: str, account: str) -> list[tuple[str, str]]:
    """(IAM action name without the service, resource ARN) pairs a DynamoDB request must be allowed."""
    if operation in {"TransactWriteItems", "TransactGetItems"}:
        pairs = []
        for entry in body.get("TransactItems") or []:
            for kind, detail in entry.items():
                (arn,) = table_resources({"TableName": detail.get("TableName")}, region, account)
                pairs.append((TRANSACT_ACTIONS.get(kind, kind), arn))
        return list(dict.fromkeys(pairs)) or [(operation, "*")]
    return [(operation, arn) for arn in table_resources(body, region, account)]


def function_resource(path: str, region: str, account: str) -> str:
    match = _FUNCTION_PATH.search(path)
    if not match:
        return "*"
    name = unquote(match.group(1))
    if name.startswith("arn:"):
        return name.split(":$")[0]
    return f"arn:aws:lambda:{region}:{account}:function:{name.split(':')[0]}"


def enable(region: str = "us-east-1") -> AdminKeys:
    """Create the harness user, patch moto as described above, and turn authorization on.

    Call it in the emulator's process before the server starts (it changes moto's classes).
    """
    from urllib.parse import parse_qs, urlparse

    from moto import settings
    from moto.awslambda.responses import LambdaResponse
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.dynamodb.responses import DynamoHandler
    from moto.iam import access_control
    from moto.iam.models import iam_backends

    iam = iam_backends[ACCOUNT_ID]["aws"]
    iam.create_user(region_name=region, user_name=ADMIN_USER, path="/", tags=[])
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_user_policy(ADMIN_USER, "harness-does-everything", json.dumps(everything))
    key = iam.create_access_key(ADMIN_USER)
    admin_arn = f"arn:aws:iam::{ACCOUNT_ID}:user/{ADMIN_USER}"

    # 1. Sign the body as sent, an empty one as empty (moto falls back to the parsed request data).
    def create_aws_request(self: Any) -> Any:
        from botocore.awsrequest import AWSRequest

        signed = self._get_string_between("SignedHeaders=", ",", self._headers["Authorization"]).split(";")
        headers = self._create_headers_for_aws_request(signed, self._headers)
        form = "x-www-form-urlencoded" in str(self._headers.get("Content-Type", ""))
        body = self._body or (self._data if form else b"")  # moto keeps a form's fields in _data
        request = AWSRequest(method=self._method, url=self._path, data=body, headers=headers)
        request.context["timestamp"] = headers["X-Amz-Date"]
        return request

    access_control.IAMRequestBase._create_aws_request = create_aws_request

    # 2. IAM's action names where moto's operation names differ (Invoke -> InvokeFunction).
    original_init = access_control.IAMRequestBase.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self._action = IAM_ACTION_NAMES.get(self._action, self._action)

    access_control.IAMRequestBase.__init__ = init

    # 3. Authorize on the resource; presigned URLs as their signer.
    def authorize(self: Any, iam_request_cls: type, resource: str = "*", action: str | None = None) -> None:
        if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
            ActionAuthenticatorMixin.request_count += 1
            return
        headers = self.headers
        parsed = urlparse(self.uri)
        path = self.raw_path + (f"?{parsed.query}" if parsed.query else "")
        query = {k: v[0] if isinstance(v, list) else v for k, v in (getattr(self, "querystring", None) or {}).items()}
        query.update({k: v[0] for k, v in parse_qs(parsed.query).items()})
        presigned = "Authorization" not in headers and ({"X-Amz-Credential", "AWSAccessKeyId"} & query.keys())
        if presigned:  # SigV4 (X-Amz-Credential) or SigV2 (AWSAccessKeyId) query authentication
            v2_scope = f"{query.get('AWSAccessKeyId')}/00000000/{self.region}/s3/aws4_request"
            credential = query.get("X-Amz-Credential") or v2_scope
            headers = {k: v for k, v in headers.items()}
            headers["Authorization"] = f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host, Signature=-"
            token = query.get("X-Amz-Security-Token") or query.get("x-amz-security-token")
            if token:
                headers["X-Amz-Security-Token"] = token
        request = iam_request_cls(
            account_id=self.current_account,
            method=self.method,
            path=path,
            data=self.data,
            body=self.raw_body,
            headers=headers,
            action=action or self._get_action(),
        )
        if not presigned:
            request.check_signature()
        request.check_action_permitted(resource)

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authorize

    def authorize_tables(self: Any, resource: str = "*") -> None:
        body = getattr(self, "params", None) or (self.body if isinstance(self.body, dict) else {})
        for action, arn in table_actions(self._get_action(), body, self.region, self.current_account):
            authorize(self, access_control.IAMRequest, arn, action)

    DynamoHandler._authenticate_and_authorize_normal_action = authorize_tables
    LambdaResponse._determine_resource = lambda self: function_resource(self.path, self.region, self.current_account)

    # 4. DryRun invocations: permission checked (before dispatch), nothing run.
    original_invoke = LambdaResponse.invoke

    def invoke(self: Any) -> Any:
        if self.headers.get("X-Amz-Invocation-Type") == "DryRun":
            self.backend.get_function(unquote(self.path.rsplit("/", 2)[-2]), self._get_param("qualifier"))
            return 204, {"status": "204"}, ""
        return original_invoke(self)

    LambdaResponse.invoke = invoke

    # 5. The harness plays the AWS service a role trusts.
    original_trust = access_control.IAMRequestBase._check_role_trust_relationship

    def check_trust(self: Any, role_arn: str) -> bool:
        data = self._data if isinstance(self._data, dict) else {}
        session = data.get("RoleSessionName", "")
        session = session[0] if isinstance(session, list) else session
        service = next((s for p, s in SERVICE_SESSIONS.items() if str(session).startswith(p)), None)
        if self._access_key.arn == admin_arn and service:
            role = self.backend.get_role_by_arn(role_arn)
            return trust_allows(role.assume_role_policy_document, service)
        try:
            return original_trust(self, role_arn)
        except TypeError:  # moto cannot match a service principal against a user or role
            return False

    access_control.IAMRequestBase._check_role_trust_relationship = check_trust

    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin.request_count = 0
    return AdminKeys(key.access_key_id, key.secret_access_key)
