"""The IAM role adapter: a role's trust policy, read with GetRole and written with UpdateAssumeRolePolicy; the
decisions are `planner`'s (the role planner), the statement arithmetic is `policy`'s."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from .. import planner
from ..clients import error_code
from ..findings import IAM_ROLE, NOUN_AND_DOCUMENT, Finding, RoleRef
from ..outcomes import IAM_REJECTED
from ..planner import Plan, RoleState, SideChange
from ..policy import compact
from ..settings import Settings
from ..state import Intended
from . import Change, Rejection

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

RESOURCE_TYPE = IAM_ROLE
_IAM_ACTIONS = {"GetRole": "iam:GetRole", "UpdateAssumeRolePolicy": "iam:UpdateAssumeRolePolicy"}
# IAM's permanent refusals of UpdateAssumeRolePolicy: reported, never retried.
_REJECTIONS: dict[str, tuple[planner.Decision, str]] = {
    "MalformedPolicyDocument": ("notify", IAM_REJECTED),
    "LimitExceeded": ("notify", planner.TRUST_POLICY_QUOTA),
    "UnmodifiableEntity": ("notify", planner.RESERVED_ROLE),
    "NoSuchEntity": ("skip", planner.ROLE_NOT_FOUND),
}


def changes_for(ref: RoleRef, document: dict[str, Any]) -> list[Change]:
    """Pure: the one write that puts `document` in place as the role's trust policy."""
    return [
        {"api": "iam:UpdateAssumeRolePolicy", "params": {"RoleName": ref.name, "PolicyDocument": compact(document)}}
    ]


@dataclass(frozen=True)
class IamRoleAdapter:
    """An IAM role's trust policy (GetRole / UpdateAssumeRolePolicy)."""

    iam: IAMClient
    resource_type: str = RESOURCE_TYPE
    document: str = NOUN_AND_DOCUMENT[RESOURCE_TYPE][1]
    iam_actions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(_IAM_ACTIONS))
    propagation_seconds: float = 0.0

    def ref(self, arn: str, owner_account: str) -> RoleRef:
        return RoleRef.parse(arn)

    def gone(self) -> Plan:
        return Plan("skip", planner.ROLE_NOT_FOUND, "the role no longer exists")

    def resources(self, ref: RoleRef) -> tuple[str, ...]:
        return ()  # a trust policy's statements name no resource

    def guard(self, ref: RoleRef, settings: Settings, analyzer_arn: str) -> Plan | None:
        return planner.guard_role(ref, settings, analyzer_arn)

    def read(self, ref: RoleRef) -> RoleState | None:
        try:
            response = self.iam.get_role(RoleName=ref.name)
        except Exception as err:
            if error_code(err) == "NoSuchEntity":
                return None
            raise
        data = response["Role"]
        policy: object = data.get("AssumeRolePolicyDocument", {})
        if isinstance(policy, str):  # boto3 decodes it to a dict; a raw string would be URL-encoded JSON
            policy = json.loads(unquote(policy))
        tags = {str(tag.get("Key")): str(tag.get("Value", "")) for tag in data.get("Tags", [])}
        return RoleState(data["Arn"], data.get("Path", "/"), tags, dict(policy) if isinstance(policy, dict) else {})

    def plan(
        self, finding: Finding, snapshot: RoleState, settings: Settings, intended: Sequence[Intended], now: float
    ) -> Plan:
        return planner.plan_finding(finding, snapshot, settings, intended, now)

    def changes(self, ref: RoleRef, document: dict[str, Any], planned_on: RoleState) -> list[Change]:
        return changes_for(ref, document)

    def write(self, ref: RoleRef, document: dict[str, Any], planned_on: RoleState) -> Rejection | None:
        (change,) = self.changes(ref, document, planned_on)
        try:
            self.iam.update_assume_role_policy(**change["params"])
        except Exception as err:
            code = error_code(err)
            if code in _REJECTIONS:
                decision, reason = _REJECTIONS[code]
                return decision, reason, f"IAM refused the change ({code}): nothing written"
            raise
        return None

    def offline(self, ref: RoleRef, policy: dict[str, Any], tags: Mapping[str, str], attributes: Any) -> RoleState:
        if attributes is not None:
            raise ValueError("a role has nothing beside its trust policy (give it in --policy)")
        return RoleState(ref.arn, ref.path, dict(tags), policy)

    def apply(self, ref: RoleRef, change: SideChange) -> str | None:
        raise ValueError(f"a trust policy has no side changes: {change.key}")  # the role planner never plans one

    def undo(self, ref: RoleRef, change: SideChange) -> str:
        raise ValueError(f"a trust policy has no side changes: {change.key}")
