"""The Lambda layer version adapter: a finding is contained by removing the layer version policy statement that
grants it (RemoveLayerVersionPermission), never by a Deny; lambda_function.py holds the design, shared.

A layer version's policy is made of AddLayerVersionPermission statements: `lambda:GetLayerVersion` for one account,
or for everyone (`*`), optionally only inside one organization (`aws:PrincipalOrgID`, which the zone of trust may
hold: such a statement stays). Each statement that grants the finding's principal is removed with its
`StatementId` and the `RevisionId` of the read (a changed RevisionId: read again, removed only while it is still
exactly the one planned); `aa-remediate revert` adds it back exactly as it was with AddLayerVersionPermission (same
statement id, principal and organization), with the operator's credentials: the function's role is never granted
lambda:AddLayerVersionPermission. A statement of any other shape (several principals, another action or Resource,
another condition) is reported with the exact `aws lambda remove-layer-version-permission` command, never removed.

Layers carry no tags: none is read, so the exemption tag cannot exempt a layer version; `protected_resource_arns`
does (the layer version's ARN, or the layer's to protect every version). GetLayerVersionPolicy answers
ResourceNotFoundException both for a version without policy and for one that no longer exists (telling them apart
would take GetLayerVersion, which also hands out the layer's code): both read as an empty policy, nothing to
contain. The policy is never written whole: `changes` is empty and `write` refuses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from ..clients import error_code
from ..findings import LAMBDA_LAYER_VERSION, ResourceRef
from ..planner import Plan
from ..policy import Policy, Statement, statements
from ..settings import Settings
from ..state import Intended
from .lambda_function import (
    Grammar,
    PermissionAdapterBase,
    PermissionState,
    one_grant,
    plan_permissions,
    policy_from_api,
    revision_from_api,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mypy_boto3_lambda import LambdaClient

    from ..findings import Finding

RESOURCE_TYPE = LAMBDA_LAYER_VERSION
_IAM_ACTIONS = {
    "GetLayerVersionPolicy": "lambda:GetLayerVersionPolicy",
    "RemoveLayerVersionPermission": "lambda:RemoveLayerVersionPermission",
}
# Calls only a revert makes, with the operator's credentials: the Lambda role may never add a permission.
_OPERATOR_ACTIONS = {"AddLayerVersionPermission": "lambda:AddLayerVersionPermission"}
LAYER_ACTION = "lambda:GetLayerVersion"  # the only action AddLayerVersionPermission grants
# AddLayerVersionPermission's Principal: an account (its id or root ARN), or everyone.
_LAYER_PRINCIPAL_RE = re.compile(r"^(\d{12}|\*|arn:aws[a-zA-Z-]*:iam::\d{12}:root)$", re.ASCII)


def layer_address(ref: ResourceRef) -> dict[str, Any]:
    name, _, version = ref.name.rpartition(":")
    return {"LayerName": name, "VersionNumber": int(version)}


def layer_arn(ref: ResourceRef) -> str:
    """The layer's ARN (every version of it)."""
    return ref.arn.rpartition(":")[0]


def _layer_add_params(statement: Statement, ref: ResourceRef) -> dict[str, Any] | str:
    shape = one_grant(statement, ref)
    if isinstance(shape, str):
        return shape
    key, principal, action = shape
    if key != "AWS" or not _LAYER_PRINCIPAL_RE.match(principal):
        return f"AddLayerVersionPermission grants no {key} principal {principal}"
    if action.lower() != LAYER_ACTION.lower():
        return f"AddLayerVersionPermission grants no action {action}"
    params: dict[str, Any] = {"Action": LAYER_ACTION, "Principal": principal}
    condition = statement.get("Condition") or {}
    if condition:
        # The one condition AddLayerVersionPermission writes: an organization, for everyone in it.
        block = condition.get("StringEquals") if isinstance(condition, Mapping) and len(condition) == 1 else None
        org = list(block.items()) if isinstance(block, Mapping) else []
        if (
            principal != "*"
            or len(org) != 1
            or org[0][0].lower() != "aws:principalorgid"
            or not isinstance(org[0][1], str)
        ):
            return f"AddLayerVersionPermission writes no condition {condition}"
        params["OrganizationId"] = org[0][1]
    return params


def _layer_statement(params: Mapping[str, Any], ref: ResourceRef) -> Statement:
    """The statement AddLayerVersionPermission writes for `params` (the form GetLayerVersionPolicy returns)."""
    principal = str(params["Principal"])
    statement: Statement = {
        "Sid": str(params["StatementId"]),
        "Effect": "Allow",
        "Principal": "*" if principal == "*" else {"AWS": principal},
        "Action": LAYER_ACTION,
        "Resource": ref.arn,
    }
    if "OrganizationId" in params:
        statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": str(params["OrganizationId"])}}
    return statement


LAYER_VERSION = Grammar(
    LAMBDA_LAYER_VERSION,
    "lambda:RemoveLayerVersionPermission",
    "lambda:AddLayerVersionPermission",
    layer_address,
    _layer_add_params,
    _layer_statement,
    layer_arn,
)


def plan_layer_version(
    finding: Finding, snapshot: PermissionState, settings: Settings, intended: Sequence[Intended] = (), now: float = 0.0
) -> Plan:
    return plan_permissions(finding, snapshot, settings, LAYER_VERSION, intended=intended, now=now)


@dataclass(frozen=True)
class LambdaLayerVersionAdapter(PermissionAdapterBase):
    """A Lambda layer version's policy: the statements that grant the finding removed."""

    lambda_: LambdaClient
    grammar: ClassVar[Grammar] = LAYER_VERSION
    resource_type: str = RESOURCE_TYPE
    iam_actions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(_IAM_ACTIONS))
    # As for a function: no documented bound, seconds in practice; no Deny is written for a read to wait for.
    propagation_seconds: float = 5.0

    def read(self, ref: ResourceRef) -> PermissionState | None:
        policy, revision = self._policy(ref)
        return PermissionState(ref.arn, ref.name, {}, policy, revision)  # no tags: layers have none

    def _policy(self, ref: ResourceRef) -> tuple[Policy, str]:
        try:
            response = self.lambda_.get_layer_version_policy(**layer_address(ref))
        except Exception as err:
            if error_code(err) == "ResourceNotFoundException":  # no policy, or no such layer version
                return policy_from_api(None), ""
            raise
        return policy_from_api(response.get("Policy")), str(response.get("RevisionId", ""))

    def _remove(self, params: Mapping[str, Any]) -> None:
        self.lambda_.remove_layer_version_permission(**params)

    def _add(self, params: Mapping[str, Any]) -> None:
        self.lambda_.add_layer_version_permission(**params)

    def offline(self, ref: ResourceRef, policy: Policy, tags: Mapping[str, str], attributes: Any) -> PermissionState:
        """The policy of `aws lambda get-layer-version-policy` (`--attributes`: its RevisionId)."""
        if tags:
            raise ValueError("a layer version has no tags (protected_resource_arns exempts one)")
        statements(policy)  # PolicyError (a ValueError) when it has no readable Statement
        return PermissionState(ref.arn, ref.name, {}, policy, revision_from_api(attributes))
