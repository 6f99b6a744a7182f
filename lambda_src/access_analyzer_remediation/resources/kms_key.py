"""The KMS key adapter: an explicit Deny appended to the key policy (GetKeyPolicy / PutKeyPolicy, policy name
`default`, BypassPolicyLockoutSafetyCheck never true).

A key's external access comes from its key policy or from grants. An explicit Deny in the key policy overrides
both (KMS allows a request only when nothing denies it), so one Deny contains either; the notice names each grant
the principal holds, with the exact RevokeGrant that would remove it for good. The planner refuses any Deny that
could catch the key's own account on kms:PutKeyPolicy (the account would lose control of its key), before KMS's
own lockout check would. AWS managed keys (their policy belongs to AWS) and keys whose policy this tool may not
read are reported only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from types import MappingProxyType
from typing import TYPE_CHECKING

from .. import planner
from ..clients import error_code
from ..findings import KMS_KEY, Finding, ResourceRef
from ..planner import Plan, Quota
from ..policy import (
    ACCOUNT,
    PRINCIPAL,
    PUBLIC,
    DenyEntry,
    DenyTarget,
    Policy,
    canonical_value,
    compact,
    own_statements,
)
from ..settings import Settings
from ..state import Intended
from . import Change, Rejection, guard_resource

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

RESOURCE_TYPE = KMS_KEY
KEY_POLICY_MAX_BYTES = 32 * 1024  # KMS quota: a key policy document is at most 32 KB
POLICY_NAME = "default"  # the only key policy name KMS has
_IAM_ACTIONS = {
    "DescribeKey": "kms:DescribeKey",
    "GetKeyPolicy": "kms:GetKeyPolicy",
    "ListResourceTags": "kms:ListResourceTags",
    "ListGrants": "kms:ListGrants",
    "PutKeyPolicy": "kms:PutKeyPolicy",
}
# KMS's permanent refusals of PutKeyPolicy: reported, never retried.
_REJECTIONS: dict[str, tuple[planner.Decision, str]] = {
    "MalformedPolicyDocumentException": ("notify", planner.POLICY_REJECTED),
    "LimitExceededException": ("notify", planner.POLICY_QUOTA),
    "KMSInvalidStateException": ("notify", planner.POLICY_REJECTED),
    "NotFoundException": ("skip", planner.RESOURCE_NOT_FOUND),
}


@dataclass(frozen=True)
class Grant:
    """A grant on the key (ListGrants), reduced to what the notice names."""

    grant_id: str
    grantee: str
    operations: tuple[str, ...]
    name: str = ""


@dataclass(frozen=True)
class KeyState:
    """What DescribeKey, GetKeyPolicy, ListResourceTags and ListGrants returned. `readable` is false when the key
    policy does not let this tool read it (nothing else was read)."""

    arn: str
    key_id: str
    manager: str  # "CUSTOMER" or "AWS"
    tags: Mapping[str, str]
    policy: Policy
    grants: tuple[Grant, ...] = ()
    readable: bool = True

    def with_policy(self, policy: Policy) -> KeyState:
        return replace(self, policy=policy)


def may_lock_out(after: Policy, added: Sequence[DenyEntry], owner_account: str) -> bool:
    """Could one of the Deny entries added to `after` catch a principal of the key's own account on
    kms:PutKeyPolicy? The zone of trust always holds the owner account, so the planner never asks for one; this is
    the proof, kept apart from the arithmetic that should make it true."""
    written = {own.sid: own for own in own_statements(after, ("*",))}
    for entry in added:
        if not any(fnmatchcase("kms:putkeypolicy", action.lower()) for action in entry.actions):
            continue
        own = written.get(entry.sid)
        if own is None:
            return True  # not in a shape this check can read: never written on a key
        if entry.kind == ACCOUNT and canonical_value(ACCOUNT, entry.value) == owner_account:
            return True
        if entry.kind == PRINCIPAL and fnmatchcase(owner_account, DenyTarget(PRINCIPAL, entry.value).account_id or "*"):
            return True
        if entry.kind == PUBLIC and owner_account not in own.exclusions.accounts:
            return True
        if entry.kind not in (ACCOUNT, PRINCIPAL, PUBLIC):
            return True
    return False


def plan_key(
    finding: Finding, key: KeyState, settings: Settings, intended: Sequence[Intended] = (), now: float = 0.0
) -> Plan:
    """Pure: the Deny for `finding` appended to the key policy, or why not."""
    ref = finding.resource
    if key.manager == "AWS":
        return Plan(
            "notify",
            planner.AWS_MANAGED_KEY,
            f"key {ref.name} is an AWS managed key: its policy belongs to AWS; stop the service integration that"
            " shares it, or move the data to a customer managed key",
        )
    if not key.readable:
        return Plan(
            "notify",
            planner.UNREADABLE_POLICY,
            f"the key policy of {ref.name} does not let this tool read it (no IAM delegation): review it by hand",
        )
    plan = planner.plan_deny(
        finding,
        key.policy,
        key.tags,
        settings,
        intended=intended,
        now=now,
        quota=Quota(KEY_POLICY_MAX_BYTES, planner.POLICY_QUOTA, "key policy", "byte"),
        noun="key",
        resources=("*",),
        refuse=lambda after, added: planner.KEY_LOCKOUT if may_lock_out(after, added, ref.account_id) else None,
    )
    notes = [
        f"grant {grant.grant_id}{f' ({grant.name})' if grant.name else ''} gives {grant.grantee}"
        f" {'/'.join(grant.operations)}: the Deny overrides it; to remove it for good: aws kms revoke-grant"
        f" --region {ref.region} --key-id {ref.arn} --grant-id {grant.grant_id}"
        for grant in key.grants
        if _held_by(grant, finding.principal)
    ]
    return replace(plan, notes=(*plan.notes, *notes)) if notes else plan


def _held_by(grant: Grant, principal: Mapping[str, str]) -> bool:
    value = principal.get("AWS", "")
    account = canonical_value(ACCOUNT, value)
    return grant.grantee in (value, account) or (account.isdigit() and f":{account}:" in grant.grantee)


def changes_for(ref: ResourceRef, document: Policy) -> list[Change]:
    """Pure: the one write that puts `document` in place as the key policy (KMS's lockout check stays on)."""
    params = {"KeyId": ref.arn, "PolicyName": POLICY_NAME, "Policy": compact(document)}
    return [{"api": "kms:PutKeyPolicy", "params": {**params, "BypassPolicyLockoutSafetyCheck": False}}]


@dataclass(frozen=True)
class KmsKeyAdapter:
    kms: KMSClient
    resource_type: str = RESOURCE_TYPE
    document: str = "key policy"
    iam_actions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(_IAM_ACTIONS))

    def ref(self, arn: str, owner_account: str) -> ResourceRef:
        return ResourceRef.parse(RESOURCE_TYPE, arn, owner_account)

    def resources(self, ref: ResourceRef) -> tuple[str, ...]:
        return ("*",)  # in a key policy, "*" is the key itself

    def guard(self, ref: ResourceRef, settings: Settings, analyzer_arn: str) -> Plan | None:
        return guard_resource(ref, settings, analyzer_arn, "key")

    def read(self, ref: ResourceRef) -> KeyState | None:
        try:
            metadata = self.kms.describe_key(KeyId=ref.arn)["KeyMetadata"]
        except Exception as err:
            if error_code(err) == "NotFoundException":
                return None
            raise
        manager = str(metadata.get("KeyManager", "CUSTOMER"))
        if manager == "AWS":
            return KeyState(ref.arn, ref.name, manager, {}, {})
        try:
            text = self.kms.get_key_policy(KeyId=ref.arn, PolicyName=POLICY_NAME)["Policy"]
        except Exception as err:
            if error_code(err) == "NotFoundException":
                return None
            if error_code(err) == "AccessDeniedException":
                return KeyState(ref.arn, ref.name, manager, {}, {}, readable=False)
            raise
        policy = json.loads(text)
        if not isinstance(policy, dict):
            raise ValueError(f"the key policy of {ref.arn} is not a JSON object")
        tags: dict[str, str] = {}
        for page in self.kms.get_paginator("list_resource_tags").paginate(KeyId=ref.arn):
            tags.update({str(tag["TagKey"]): str(tag.get("TagValue", "")) for tag in page.get("Tags", [])})
        grants = [
            Grant(
                str(grant.get("GrantId", "")),
                str(grant.get("GranteePrincipal", "")),
                tuple(str(op) for op in grant.get("Operations", [])),
                str(grant.get("Name", "")),
            )
            for page in self.kms.get_paginator("list_grants").paginate(KeyId=ref.arn)
            for grant in page.get("Grants", [])
        ]
        return KeyState(ref.arn, ref.name, manager, tags, policy, tuple(grants))

    def plan(
        self, finding: Finding, snapshot: KeyState, settings: Settings, intended: Sequence[Intended], now: float
    ) -> Plan:
        return plan_key(finding, snapshot, settings, intended, now)

    def changes(self, ref: ResourceRef, document: Policy) -> list[Change]:
        return changes_for(ref, document)

    def write(self, ref: ResourceRef, document: Policy) -> Rejection | None:
        (change,) = self.changes(ref, document)
        try:
            self.kms.put_key_policy(**change["params"])
        except Exception as err:
            code = error_code(err)
            if code in _REJECTIONS:
                decision, reason = _REJECTIONS[code]
                return decision, reason, f"KMS refused the change ({code}): nothing written"
            raise
        return None
