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
from typing import TYPE_CHECKING, Any

from .. import planner
from ..clients import error_code
from ..findings import KMS_KEY, NOUN_AND_DOCUMENT, Finding, ResourceRef
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
    "RevokeGrant": "kms:RevokeGrant",
}
# Calls only a revert makes, with the operator's credentials: the Lambda role may never create a grant.
_OPERATOR_ACTIONS = {"CreateGrant": "kms:CreateGrant"}
# KMS's permanent refusals of RevokeGrant: the Deny contains the finding; the notice gives the command.
_SIDE_REFUSALS = frozenset({"AccessDeniedException", "KMSInvalidStateException", "InvalidGrantIdException"})
# KMS's permanent refusals of PutKeyPolicy: reported, never retried.
_REJECTIONS: dict[str, tuple[planner.Decision, str]] = {
    "MalformedPolicyDocumentException": ("notify", planner.POLICY_REJECTED),
    "LimitExceededException": ("notify", planner.POLICY_QUOTA),
    "KMSInvalidStateException": ("notify", planner.POLICY_REJECTED),
    "NotFoundException": ("skip", planner.RESOURCE_NOT_FOUND),
}


@dataclass(frozen=True)
class Grant:
    """A grant on the key as ListGrants returns it: everything CreateGrant needs to make an equivalent one."""

    grant_id: str
    grantee: str
    operations: tuple[str, ...]
    name: str = ""
    retiring_principal: str = ""
    constraints: Mapping[str, Any] = field(default_factory=dict)
    issuing_account: str = ""

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Grant:
        return cls(
            str(data.get("GrantId", "")),
            str(data.get("GranteePrincipal", "")),
            tuple(str(op) for op in data.get("Operations", [])),
            str(data.get("Name", "")),
            str(data.get("RetiringPrincipal", "")),
            {str(k): v for k, v in dict(data.get("Constraints") or {}).items()},
            str(data.get("IssuingAccount", "")),
        )

    def create_params(self, key_arn: str) -> dict[str, Any]:
        """CreateGrant's parameters for an equivalent grant (KMS gives it a new id)."""
        params: dict[str, Any] = {"KeyId": key_arn, "GranteePrincipal": self.grantee}
        params["Operations"] = list(self.operations)
        if self.retiring_principal:
            params["RetiringPrincipal"] = self.retiring_principal
        if self.constraints:
            params["Constraints"] = dict(self.constraints)
        if self.name:
            params["Name"] = self.name
        return params

    def same_as(self, other: Grant) -> bool:
        """Equivalent: the same grantee, operations, retiring principal, constraints and name (ids differ)."""
        mine = (self.grantee, sorted(self.operations), self.retiring_principal, self.name)
        theirs = (other.grantee, sorted(other.operations), other.retiring_principal, other.name)
        return mine == theirs and _canonical(self.constraints) == _canonical(other.constraints)


def _canonical(value: Mapping[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, default=str)


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
    held = [grant for grant in key.grants if _held_by(grant, finding.principal)]
    revoked = [grant for grant in held if _serves(grant, finding.actions)] if plan.decision == "remediate" else []
    notes = [
        f"grant {_named(grant)} gives {grant.grantee} {'/'.join(grant.operations)}: the Deny overrides it; to remove"
        f" it for good: aws kms revoke-grant --region {ref.region} --key-id {ref.arn} --grant-id {grant.grant_id}"
        for grant in held
        if grant not in revoked
    ]
    changes = tuple(_revocation(ref, grant) for grant in revoked)
    return replace(plan, notes=(*plan.notes, *notes), side_changes=changes) if notes or changes else plan


def grants_from_api(attributes: Any) -> tuple[Grant, ...]:
    """`aws kms list-grants` output (None: no grants)."""
    if attributes is None:
        return ()
    grants = attributes.get("Grants") if isinstance(attributes, dict) else None
    if not isinstance(grants, list) or not all(
        isinstance(g, dict) and isinstance(g.get("GrantId"), str) and isinstance(g.get("GranteePrincipal"), str)
        for g in grants
    ):
        raise ValueError("not list-grants output (Grants with GrantId and GranteePrincipal)")
    return tuple(Grant.from_api(g) for g in grants)


def _revocation(ref: ResourceRef, grant: Grant) -> planner.SideChange:
    """Revoke a grant the finding's principal holds; its undo creates an equivalent grant (a new grant id, issued
    by whoever reverts: KMS cannot re-issue the old one)."""
    return planner.SideChange(
        f"kms:grant:{grant.grant_id}",
        f"revoked grant {_named(grant)} of key {ref.name} ({grant.grantee}: {'/'.join(grant.operations)})",
        {"api": "kms:RevokeGrant", "params": {"KeyId": ref.arn, "GrantId": grant.grant_id}},
        {"api": "kms:CreateGrant", "params": grant.create_params(ref.arn)},
        "creates an equivalent grant (same grantee, operations, constraints, retiring principal and name; KMS gives"
        " it a new grant id, issued by the reverting principal; needs kms:CreateGrant)",
    )


def _named(grant: Grant) -> str:
    return f"{grant.grant_id}{f' ({grant.name})' if grant.name else ''}"


def _serves(grant: Grant, actions: Sequence[str]) -> bool:
    """The grant allows one of the finding's actions (KMS names grant operations without the `kms:` prefix)."""
    wanted = {a.lower().removeprefix("kms:") for a in actions}
    return any(op.lower() in wanted or "*" in wanted for op in grant.operations)


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
    """A KMS key's key policy: a Deny appended (GetKeyPolicy / PutKeyPolicy), never one that locks the account out."""

    kms: KMSClient
    resource_type: str = RESOURCE_TYPE
    document: str = NOUN_AND_DOCUMENT[RESOURCE_TYPE][1]
    iam_actions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(_IAM_ACTIONS))
    propagation_seconds: float = 0.0

    def ref(self, arn: str, owner_account: str) -> ResourceRef:
        return ResourceRef.parse(RESOURCE_TYPE, arn, owner_account)

    def gone(self) -> Plan:
        return Plan("skip", planner.RESOURCE_NOT_FOUND, f"the {NOUN_AND_DOCUMENT[RESOURCE_TYPE][0]} no longer exists")

    def resources(self, ref: ResourceRef) -> tuple[str, ...]:
        return ("*",)  # in a key policy, "*" is the key itself

    def guard(self, ref: ResourceRef, settings: Settings, analyzer_arn: str) -> Plan | None:
        return guard_resource(ref, settings, analyzer_arn, NOUN_AND_DOCUMENT[RESOURCE_TYPE][0])

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
        return KeyState(ref.arn, ref.name, manager, tags, policy, self._grants(ref))

    def _grants(self, ref: ResourceRef) -> tuple[Grant, ...]:
        return tuple(
            Grant.from_api(grant)
            for page in self.kms.get_paginator("list_grants").paginate(KeyId=ref.arn)
            for grant in page.get("Grants", [])
        )

    def plan(
        self, finding: Finding, snapshot: KeyState, settings: Settings, intended: Sequence[Intended], now: float
    ) -> Plan:
        return plan_key(finding, snapshot, settings, intended, now)

    def changes(self, ref: ResourceRef, document: Policy, planned_on: KeyState) -> list[Change]:
        return changes_for(ref, document)

    def write(self, ref: ResourceRef, document: Policy, planned_on: KeyState) -> Rejection | None:
        (change,) = self.changes(ref, document, planned_on)
        try:
            self.kms.put_key_policy(**change["params"])
        except Exception as err:
            code = error_code(err)
            if code in _REJECTIONS:
                decision, reason = _REJECTIONS[code]
                return decision, reason, f"KMS refused the change ({code}): nothing written"
            raise
        return None

    def offline(self, ref: ResourceRef, policy: Policy, tags: Mapping[str, str], attributes: Any) -> KeyState:
        """A customer managed key (DescribeKey is not read offline) with the grants of `aws kms list-grants`."""
        return KeyState(ref.arn, ref.name, "CUSTOMER", dict(tags), policy, grants_from_api(attributes))

    def apply(self, ref: ResourceRef, change: planner.SideChange) -> str | None:
        if change.do["api"] != "kms:RevokeGrant":
            raise ValueError(f"not a side change of a key: {change.do['api']}")
        try:
            self.kms.revoke_grant(**change.do["params"])
        except Exception as err:
            code = error_code(err)
            if code == "NotFoundException":
                return None  # revoked already (by an interrupted invocation, or by hand): nothing left to do
            if code in _SIDE_REFUSALS:
                grant = change.do["params"]["GrantId"]
                return (
                    f"KMS refused RevokeGrant ({code}); to revoke it by hand: aws kms revoke-grant --region"
                    f" {ref.region} --key-id {ref.arn} --grant-id {grant}"
                )
            raise
        return None

    def undo(self, ref: ResourceRef, change: planner.SideChange) -> str:
        if change.undo["api"] != "kms:CreateGrant":
            raise ValueError(f"not a side change of a key: {change.key}")
        params = change.undo["params"]
        wanted = Grant.from_api({**params, "GrantId": ""})
        try:
            existing = next((g for g in self._grants(ref) if g.same_as(wanted)), None)
        except Exception as err:
            if error_code(err) == "NotFoundException":
                return f"key {ref.name} no longer exists: no grant re-created"
            raise
        revoked = change.do["params"]["GrantId"]
        if existing is not None:
            return f"an equivalent of grant {revoked} is on key {ref.name} already ({existing.grant_id}): none created"
        created = self.kms.create_grant(**params)
        return f"re-created grant {revoked} of key {ref.name} as {created['GrantId']} (a new grant id)"
