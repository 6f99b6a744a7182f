"""Lambda functions (``AWS::Lambda::Function``, resource ``arn:aws:lambda:<region>:<account>:function:<name>``) and
layer versions (``AWS::Lambda::LayerVersion``, resource ``arn:aws:lambda:<region>:<account>:layer:<name>:<version>``)
for the stand-in.

`read_function` reads GetFunction (the function exists) and GetPolicy of the unqualified function;
`read_layer_version` reads GetLayerVersion (the version exists) and GetLayerVersionPolicy. Lambda answers
``ResourceNotFoundException`` both for a missing resource and for a resource without a policy, hence the first call.
`compute_function_access` / `compute_layer_version_access` apply this small model:

- One scope, the function's (layer version's) ARN, which every statement Lambda writes names.
- The statements are read as AWS returns them. moto 5.2.5 stores AddPermission's and AddLayerVersionPermission's
  statements in its own shape, which `normalise_statement` turns into AWS's first: a plain-string Principal (an
  account id -> ``{"AWS": "arn:aws:iam::<id>:root"}``, an ARN -> ``{"AWS": <ARN>}``, ``*`` kept, anything else -> a
  ``{"Service": <name>}``), and the top-level ``OrganizationId`` (layers), ``FunctionUrlAuthType`` and
  ``EventSourceToken`` elements -> ``StringEquals`` conditions on ``aws:PrincipalOrgID``,
  ``lambda:FunctionUrlAuthType`` and ``lambda:EventSourceToken``.
- ``AWS`` principals: the shared resource-policy rules of `sandbox.analysis` with service ``lambda``, plus the source
  rule of `sandbox.analysis.resource_policy` (an account, a principal ARN or ``*`` outside the zone is a finding;
  ``*`` with ``aws:PrincipalOrgID`` of the zone's organization is not; a public function URL is ``{"AWS": "*"}``
  with action ``lambda:InvokeFunctionUrl`` and condition ``lambda:FunctionUrlAuthType`` NONE).
- ``Service`` principals (``s3.amazonaws.com``, ``sns.amazonaws.com``...; functions only in practice): a service
  acts for whichever account owns the source resource, so the grant is in the zone only when its conditions pin the
  source to the zone (`sandbox.analysis.resource_policy.source_in_zone`: ``AWS:SourceAccount`` of the zone, or
  ``AWS:SourceArn`` of a resource whose ARN names an account of the zone; an S3 bucket's ARN names none, so a bucket
  source alone stays external, as Lambda's documentation warns). Otherwise the finding's principal is
  ``{"Service": <name>}`` (not public), with the statement's conditions (unconfirmed: how the real analyzer reports
  a service principal of another account's resource). A Deny takes a service's access away only without a Condition
  (the remediation's public perimeter spares AWS services by ``aws:PrincipalIsAWSService``).
- One finding per principal (actions sorted, the Allow's conditions); no ``sources``. The owner is the ARN's account.

moto 5.2.5 answers ListLayerVersions of a layer ARN with no versions (AWS accepts the ARN): the layers are listed by
name.

Not modelled: qualified functions (versions and aliases have policies of their own; only the unqualified function is
analysed and StartResourceScan of a qualified ARN does nothing), ``EventSourceToken`` conditions as moto stores them
(moto 5.2.5 drops the token: such a grant shows without its condition), Lambda's PutResourcePolicy (moto 5.2.5: 404,
so no function policy can hold a Deny in the sandbox), error findings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from sandbox.analysis import (
    Grants,
    PrincipalKey,
    denies_of,
    granted_actions,
    policy_statements,
    reached_scopes,
    remaining_access,
)
from sandbox.analysis.iam_role import TrustZone, _flatten_condition, _principal_entries
from sandbox.analysis.resource_policy import (
    Access,
    Analysis,
    PolicyState,
    ZoneOf,
    compute_policy_access,
    error_code,
    parse_policy,
    source_in_zone,
    to_access,
)

FUNCTION_TYPE = "AWS::Lambda::Function"
LAYER_VERSION_TYPE = "AWS::Lambda::LayerVersion"
RESOURCE_TYPES = (FUNCTION_TYPE, LAYER_VERSION_TYPE)
SERVICE = "lambda"
FUNCTION_ARN_RE = re.compile(
    r"^arn:[\w-]+:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:(?P<name>[\w-]{1,64})$"
)
LAYER_VERSION_ARN_RE = re.compile(
    r"^arn:[\w-]+:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):layer:(?P<name>[\w-]{1,140}):(?P<version>\d{1,10})$"
)
_ACCOUNT_RE = re.compile(r"^\d{12}$")
# moto's top-level statement elements -> the condition key AWS writes for them
_AS_CONDITION = {
    "OrganizationId": "aws:PrincipalOrgID",
    "PrincipalOrgID": "aws:PrincipalOrgID",
    "FunctionUrlAuthType": "lambda:FunctionUrlAuthType",
    "EventSourceToken": "lambda:EventSourceToken",
}


def function_arn_parts(resource_arn: str) -> tuple[str, str] | None:
    """(Region, account) of an unqualified function ARN; None for anything else (qualified ARNs, layers)."""
    match = FUNCTION_ARN_RE.match(resource_arn)
    return (match["region"], match["account"]) if match else None


def layer_version_arn_parts(resource_arn: str) -> tuple[str, str] | None:
    """(Region, account) of a layer version ARN; None for anything else (a layer ARN without version, functions)."""
    match = LAYER_VERSION_ARN_RE.match(resource_arn)
    return (match["region"], match["account"]) if match else None


def function_arns(lambda_client: Any, account: str) -> list[str]:
    """The ARN of every function of the client's Region that `account` owns (ListFunctions)."""
    arns: list[str] = []
    for page in lambda_client.get_paginator("list_functions").paginate():
        for function in page.get("Functions", []):
            parts = function_arn_parts(str(function["FunctionArn"]))
            if parts is not None and parts[1] == account:
                arns.append(str(function["FunctionArn"]))
    return arns


def layer_version_arns(lambda_client: Any, account: str) -> list[str]:
    """The ARN of every version of every layer of the client's Region that `account` owns (ListLayers,
    ListLayerVersions)."""
    arns: list[str] = []
    for page in lambda_client.get_paginator("list_layers").paginate():
        for layer in page.get("Layers", []):
            # by name: moto 5.2.5 answers ListLayerVersions of a layer ARN with no versions
            versions = lambda_client.get_paginator("list_layer_versions").paginate(LayerName=layer["LayerName"])
            for listed in (v for version_page in versions for v in version_page.get("LayerVersions", [])):
                parts = layer_version_arn_parts(str(listed["LayerVersionArn"]))
                if parts is not None and parts[1] == account:
                    arns.append(str(listed["LayerVersionArn"]))
    return arns


def _plain_principal(value: str) -> Any:
    if value == "*":
        return "*"
    if _ACCOUNT_RE.match(value):
        return {"AWS": f"arn:aws:iam::{value}:root"}
    if value.startswith("arn:"):
        return {"AWS": value}
    return {"Service": value}


def normalise_statement(statement: Mapping[str, Any]) -> dict[str, Any]:
    """A statement as AWS's GetPolicy / GetLayerVersionPolicy returns it (moto's shape: see the module docstring)."""
    result = {k: v for k, v in statement.items() if k not in _AS_CONDITION}
    principal = result.get("Principal")
    if isinstance(principal, str):
        result["Principal"] = _plain_principal(principal)
    extra = {_AS_CONDITION[k]: statement[k] for k in _AS_CONDITION if k in statement}
    if extra:
        condition = result.get("Condition")
        merged = {str(op): dict(block) for op, block in condition.items()} if isinstance(condition, Mapping) else {}
        merged.setdefault("StringEquals", {}).update(extra)
        result["Condition"] = merged
    return result


def _read(exists: Callable[[], Any], read_policy: Callable[[], Any]) -> tuple[bool, str | None]:
    """(exists, policy text) from a describe call and a policy call that both answer ResourceNotFoundException."""
    try:
        exists()
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return False, None
        raise
    try:
        return True, str(read_policy()["Policy"])
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return True, None
        raise


def read_function(lambda_client: Any, function_arn: str) -> PolicyState | None:
    """The unqualified function's policy; None when the function does not exist."""
    parts = function_arn_parts(function_arn)
    if parts is None:
        raise ValueError(f"not an unqualified Lambda function ARN: {function_arn!r}")
    exists, text = _read(
        lambda: lambda_client.get_function(FunctionName=function_arn),
        lambda: lambda_client.get_policy(FunctionName=function_arn),
    )
    return PolicyState(function_arn, parts[1], parse_policy(text), (function_arn,)) if exists else None


def read_layer_version(lambda_client: Any, layer_version_arn: str) -> PolicyState | None:
    """The layer version's policy; None when the version does not exist."""
    match = LAYER_VERSION_ARN_RE.match(layer_version_arn)
    if match is None:
        raise ValueError(f"not a Lambda layer version ARN: {layer_version_arn!r}")
    layer = layer_version_arn.rsplit(":", 1)[0]
    version = int(match["version"])
    exists, text = _read(
        lambda: lambda_client.get_layer_version(LayerName=layer, VersionNumber=version),
        lambda: lambda_client.get_layer_version_policy(LayerName=layer, VersionNumber=version),
    )
    return (
        PolicyState(layer_version_arn, match["account"], parse_policy(text), (layer_version_arn,)) if exists else None
    )


def service_grants(
    statements: Iterable[Mapping[str, Any]], zone: TrustZone, scopes: Sequence[str]
) -> dict[PrincipalKey, Grants]:
    """What the Allow statements grant to ``Service`` principals whose source is not pinned to the zone."""
    granted: dict[PrincipalKey, Grants] = {}
    for statement in statements:
        if statement.get("Effect") != "Allow" or "Principal" not in statement:
            continue
        condition = statement.get("Condition")
        actions = granted_actions(statement, SERVICE)
        reached = reached_scopes(statement, scopes)
        if not actions or not reached or source_in_zone(condition, zone):
            continue
        for kind, value in _principal_entries(statement["Principal"]):
            if kind != "Service":
                continue
            entry = granted.setdefault((kind, value), Grants())
            entry.add(actions, reached)
            for key, condition_value in _flatten_condition(condition).items():
                entry.condition.setdefault(key, condition_value)
    return granted


def compute_access(state: PolicyState, zone: TrustZone) -> Access:
    """External access a function or layer version policy grants after its Denies: {(kind, value): ResourceAccess}."""
    statements = [normalise_statement(s) for s in policy_statements(state.policy)]
    access = compute_policy_access({"Statement": statements}, zone, SERVICE, state.scopes)
    unconditional_denies = [d for d in denies_of(statements) if not d.get("Condition")]
    access.update(
        to_access(remaining_access(service_grants(statements, zone, state.scopes), unconditional_denies, zone))
    )
    return access


compute_function_access = compute_access
compute_layer_version_access = compute_access


def analyse_function(lambda_client: Any, function_arn: str, zone_of: ZoneOf) -> Analysis | None:
    """(owner, external access) of the function; None when it does not exist."""
    state = read_function(lambda_client, function_arn)
    if state is None:
        return None
    return state.owner, compute_access(state, zone_of(state.owner))


def analyse_layer_version(lambda_client: Any, layer_version_arn: str, zone_of: ZoneOf) -> Analysis | None:
    """(owner, external access) of the layer version; None when it does not exist."""
    state = read_layer_version(lambda_client, layer_version_arn)
    if state is None:
        return None
    return state.owner, compute_access(state, zone_of(state.owner))
