"""Decide what to do with one verified finding. Pure: no AWS call, so `aa-remediate plan` and tests call it directly.

Order matters: guardrails (protected roles, exemptions, kept access, zone of trust, allowlist) come before any
change is computed, and the quota check comes before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import Any, Literal

from .findings import Finding, RoleRef
from .policy import (
    FEDERATED_ACTIONS,
    PUBLIC,
    DenyEntry,
    DenyTarget,
    Policy,
    PolicyError,
    Unsupported,
    Zone,
    add_denies,
    classify_principal,
    compact,
    covering,
    covering_entry,
    deny_target,
    lookalikes,
    statements,
)
from .settings import Settings
from .state import Intended

Decision = Literal["remediate", "notify", "skip"]

# Reasons, by decision. They are metric dimensions and audit values: keep them stable.
EXTERNAL_ACCESS_DENIED = "external_access_denied"
NOTIFY_MODE = "notify_mode"
NO_CONFIRMED_SUBSCRIPTION = "no_confirmed_subscription"
OWN_ROLE = "own_role"
SERVICE_LINKED_ROLE = "service_linked_role"
RESERVED_ROLE = "reserved_role"
PROTECTED_ROLE = "protected_role"
ROLE_ARN_MISMATCH = "role_arn_mismatch"
EXEMPT_TAG = "exempt_tag"
ALLOWLISTED_PRINCIPAL = "allowlisted_principal"
INTENDED_BY_OPERATOR = "intended_by_operator"
TRUST_POLICY_QUOTA = "trust_policy_quota"
UNREADABLE_POLICY = "unreadable_policy"
ALREADY_CONTAINED = "already_contained"
PRINCIPAL_IN_ZONE_OF_TRUST = "principal_in_zone_of_trust"
ROLE_NOT_FOUND = "role_not_found"
CROSS_ACCOUNT_ROLE = "cross_account_role"
# Other resource types (resources/<type>.py decides them; the reasons live here, with the rest).
RESOURCE_NOT_FOUND = "resource_not_found"
CROSS_ACCOUNT_RESOURCE = "cross_account_resource"
OWN_RESOURCE = "own_resource"
PROTECTED_RESOURCE = "protected_resource"
POLICY_QUOTA = "policy_quota"
POLICY_REJECTED = "policy_rejected"
KEY_LOCKOUT = "key_lockout"
AWS_MANAGED_KEY = "aws_managed_key"
GRANT_ACCESS = "grant_access"
ACL_ACCESS = "acl_access"
ACCESS_POINT_ACCESS = "access_point_access"
NOT_CONTAINED_TYPE = "not_contained_type"
# Organization mode (members.py): the account-level rails, before any read.
MEMBER_ROLE_UNAVAILABLE = "member_role_unavailable"
MANAGEMENT_ACCOUNT = "management_account"
ACCOUNT_EXCLUDED = "account_excluded"
CHANGE_REFUSED = "change_refused"  # a containment without a Deny whose every change the service refused
_REFUSALS = {
    KEY_LOCKOUT: "the Deny could catch the key's own account on kms:PutKeyPolicy (a lockout): nothing written",
}


@dataclass(frozen=True)
class RoleState:
    """What GetRole returned, reduced to what the decision needs."""

    arn: str
    path: str
    tags: Mapping[str, str]
    policy: Policy

    def with_policy(self, policy: Policy) -> RoleState:
        return replace(self, policy=policy)


@dataclass(frozen=True)
class SideChange:
    """A change beside the policy document that the same finding needs (a bucket's Block Public Access settings,
    a key's grant), with its exact undo. `key` names what it changes (one side change per key and resource in a
    cycle); `do` and `undo` are single write calls as `plan --json` shows them. The adapter makes `do` (idempotent:
    an interrupted invocation's is made again) and `undo` (after reading what holds now, so later changes stay)."""

    key: str
    summary: str
    do: Mapping[str, Any]
    undo: Mapping[str, Any]
    undo_summary: str

    @property
    def announced(self) -> str:
        """What was done and what a revert does, as notices and `revert --all` say it."""
        return f"{self.summary}; a revert {self.undo_summary}"

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "summary": self.summary,
            "do": dict(self.do),
            "undo": dict(self.undo),
            "undo_summary": self.undo_summary,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SideChange:
        return cls(
            str(data["key"]), str(data["summary"]), dict(data["do"]), dict(data["undo"]), str(data["undo_summary"])
        )


@dataclass(frozen=True)
class Plan:
    """What to do about one finding: the decision, why, and the exact change (Deny entries, side changes)."""

    decision: Decision
    reason: str
    summary: str
    added: tuple[DenyEntry, ...] = ()
    policy_after: Policy | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    covered: tuple[DenyEntry, ...] = ()  # the tool's entries that already contain the finding
    side_changes: tuple[SideChange, ...] = ()  # made after the policy write, undone by a revert

    @property
    def sids_added(self) -> list[str]:
        return sorted({entry.sid for entry in self.added})

    def statements_added(self) -> list[dict[str, Any]]:
        """The tool's statements that this plan created or extended, as they stand in `policy_after`."""
        sids = set(self.sids_added)
        return [s for s in statements(self.policy_after or {"Statement": []}) if s.get("Sid") in sids]


def zone_for(finding: Finding, settings: Settings) -> Zone:
    return Zone(
        frozenset(settings.trusted_account_ids | {finding.resource_owner_account}),
        settings.trusted_org_id,
        settings.allowed_principals,
    )


def protected_pattern(role: RoleRef, patterns: Sequence[str]) -> str | None:
    """The first pattern protecting `role`: on path + name when it starts with "/", else on the name."""
    for pattern in patterns:
        subject = f"{role.path}{role.name}" if pattern.startswith("/") else role.name
        if fnmatchcase(subject, pattern):
            return pattern
    return None


def guard_role(role: RoleRef, settings: Settings, analyzer_arn: str) -> Plan | None:
    """Guardrails that need only the role ARN (checked before any IAM read)."""
    analyzer_account = settings.member_account_id or analyzer_arn.split(":")[4]
    if role.account_id != analyzer_account:
        # An organization analyzer reports roles of member accounts; this cycle's credentials act in one account
        # only (the analyzer's, or the member account whose member role it assumed), where a role of the same name
        # would be the wrong role.
        return Plan(
            "notify",
            CROSS_ACCOUNT_ROLE,
            f"{role.name} is in account {role.account_id}, not {analyzer_account}: contain it from that account",
        )
    if role.arn in settings.own_role_arns or (
        settings.member_role_name is not None and role.path == "/" and role.name == settings.member_role_name
    ):
        # The member role trusts the central role: an account analyzer reports it in every member account.
        return Plan("notify", OWN_ROLE, f"{role.name} is one of this tool's own roles: never modified")
    if role.is_service_linked:
        return Plan("notify", SERVICE_LINKED_ROLE, f"{role.name} is a service-linked role: IAM forbids changes")
    if role.path.startswith("/aws-reserved/"):
        return Plan(
            "notify",
            RESERVED_ROLE,
            f"{role.name} is an AWS reserved role (IAM Identity Center): IAM forbids changes; change its permission "
            "set or the identity provider instead",
        )
    pattern = protected_pattern(role, settings.protected_role_patterns)
    if pattern is not None:
        return Plan(
            "notify",
            PROTECTED_ROLE,
            f"{role.name} matches protected pattern {pattern!r}: never modified (denying it could lock the "
            "organization out); review this access by hand",
        )
    return None


@dataclass(frozen=True)
class Quota:
    """A resource's policy size quota, as its service counts it."""

    limit: int
    reason: str  # the notify reason when a Deny does not fit
    document: str  # "trust policy", "bucket policy", "key policy"
    unit: str = "character"  # or "byte" (UTF-8)

    def size(self, policy: Policy) -> int:
        text = compact(policy)
        return len(text.encode("utf-8")) if self.unit == "byte" else len(text)


def trust_policy_quota(settings: Settings) -> Quota:
    return Quota(settings.trust_policy_max_chars, TRUST_POLICY_QUOTA, "trust policy")


def plan_finding(
    finding: Finding,
    role: RoleState,
    settings: Settings,
    intended: Sequence[Intended] = (),
    now: float = 0.0,
) -> Plan:
    """The decision for `finding` given the role's current state (a new policy when it says remediate)."""
    ref = finding.role
    guarded = guard_role(ref, settings, finding.analyzer_arn)
    if guarded:
        return guarded
    if role.arn != ref.arn:
        return Plan("notify", ROLE_ARN_MISMATCH, f"GetRole returned {role.arn}, not {ref.arn}: not modified")
    return plan_deny(
        finding, role.policy, role.tags, settings, intended=intended, now=now, quota=trust_policy_quota(settings)
    )


def exempt(tags: Mapping[str, str], settings: Settings, noun: str = "role") -> Plan | None:
    """The resource carries the exemption tag (any value but "false"): its access is intended."""
    tag = tags.get(settings.exemption_tag_key)
    if tag is not None and tag.strip().lower() != "false":
        return Plan("notify", EXEMPT_TAG, f"{noun} is tagged {settings.exemption_tag_key}={tag}: access is intended")
    return None


@dataclass(frozen=True)
class Screened:
    """What is left to contain once every guardrail that needs the resource's state has passed: the finding's
    principals outside the zone of trust and the allowlist, and notes on the others."""

    targets: tuple[DenyTarget, ...]
    zone: Zone
    notes: tuple[str, ...] = ()


def screen(
    finding: Finding,
    tags: Mapping[str, str],
    settings: Settings,
    *,
    intended: Sequence[Intended],
    now: float,
    noun: str = "role",
) -> Screened | Plan:
    """The guardrails every containment shares, whatever it changes (a Deny, a removed statement, a sharing
    attribute): exemption tag, access kept by an operator, zone of trust, allowlist. A Plan that changes nothing,
    or the principals still to contain."""
    tagged = exempt(tags, settings, noun)
    if tagged is not None:
        return tagged
    kept = next((i for i in intended if i.covers(finding.principal, finding.actions, now)), None)
    if kept is not None:
        return Plan(
            "notify",
            INTENDED_BY_OPERATOR,
            f"kept by `aa-remediate revert --archive` of finding {kept.finding_id}: access is intended",
        )
    zone = zone_for(finding, settings)
    if _limited_to_zone(finding.condition, zone):
        return Plan("skip", PRINCIPAL_IN_ZONE_OF_TRUST, "access is granted only inside the zone of trust")
    if _limited_to_allowlist(finding.condition, zone):
        return Plan("notify", ALLOWLISTED_PRINCIPAL, "access is granted only to allowlisted principals: intended")
    targets, unsupported = classify_principal(finding.principal)
    originals = {t: v for k, v in finding.principal.items() if (t := deny_target(k, v)) is not None}
    targets = [t for t in targets if t.account_id not in zone.account_ids]
    allowed = [t for t in targets if zone.is_allowlisted(t, originals.get(t))]
    targets = [t for t in targets if t not in allowed]
    notes = [f"{t.value} is allowlisted: not denied" for t in allowed]
    notes += [f"{u.key}:{u.value} cannot be denied ({u.reason})" for u in unsupported]
    if not targets:
        return _nothing_to_deny(allowed, unsupported, tuple(notes))
    return Screened(tuple(targets), zone, tuple(notes))


def plan_deny(
    finding: Finding,
    policy: Policy,
    tags: Mapping[str, str],
    settings: Settings,
    *,
    intended: Sequence[Intended],
    now: float,
    quota: Quota,
    noun: str = "role",
    resources: Sequence[str] = (),
    refuse: Callable[[Policy, Sequence[DenyEntry]], str | None] = lambda after, added: None,
) -> Plan:
    """The explicit Deny of exactly the finding's principal and actions appended to `policy`, a resource-based
    policy whose statements name `resources` (none in a trust policy), after every guardrail that needs the
    resource's state: exemption tag, access kept by an operator, zone of trust, allowlist. `refuse` names a reason
    the added entries must not be written (a KMS key's lockout), checked before the quota."""
    screened = screen(finding, tags, settings, intended=intended, now=now, noun=noun)
    if isinstance(screened, Plan):
        return screened
    targets, zone, notes = screened.targets, screened.zone, list(screened.notes)
    try:
        requests = [(target, _deniable_actions(target, finding.actions, zone)) for target in targets]
        notes += _request_notes(policy, requests, finding.actions, zone, resources)
        after, added = add_denies(policy, requests, zone, resources)
    except PolicyError as err:
        return Plan("notify", UNREADABLE_POLICY, str(err), notes=tuple(notes))
    covered = tuple(
        sorted(
            {
                entry
                for target, actions in requests
                for action in actions
                if (entry := covering_entry(after, target, action, zone, resources)) is not None
            }
        )
    )
    if not added:
        sids = ", ".join(sorted({e.sid for e in covered}))
        return Plan("skip", ALREADY_CONTAINED, f"already denied by {sids}", notes=tuple(notes), covered=covered)
    refused = refuse(after, added)
    if refused is not None:
        return Plan("notify", refused, _REFUSALS.get(refused, refused), added=tuple(added), notes=tuple(notes))
    size = quota.size(after)
    if size > quota.limit:
        return Plan(
            "notify",
            quota.reason,
            f"the Deny would make the {quota.document} {size} {quota.unit}s, over the {quota.limit}-{quota.unit}"
            " quota: nothing written",
            added=tuple(added),
            notes=tuple(notes),
        )
    denied = ", ".join(f"{e.value} ({'/'.join(e.actions)})" for e in added)
    if settings.mode == "notify":
        return Plan("notify", NOTIFY_MODE, f"would deny {denied} (notify mode)", tuple(added), after, tuple(notes))
    return Plan(
        "remediate", EXTERNAL_ACCESS_DENIED, f"denied {denied}", tuple(added), after, tuple(notes), covered=covered
    )


def _request_notes(
    policy: Policy,
    requests: Sequence[tuple[DenyTarget, Sequence[str]]],
    actions: Sequence[str],
    zone: Zone,
    resources: Sequence[str],
) -> list[str]:
    notes = []
    for target, deniable in requests:
        if len(deniable) < len(actions):
            notes.append(f"{target.value}: web-identity/SAML actions not denied (an allowlisted provider uses them)")
        notes += [
            f"statement {sid} looks like a Deny of {target.value} but is not in a form this tool writes for the "
            "current zone of trust: not counted, contained with the tool's own statement"
            for action in deniable
            if covering(policy, target, action, zone, resources) is None
            for sid in lookalikes(policy, target, action, resources)
        ]
    return list(dict.fromkeys(notes))


def _deniable_actions(target: DenyTarget, actions: Sequence[str], zone: Zone) -> tuple[str, ...]:
    # A public Deny covers federated callers too, and no condition key names their provider: when a provider is
    # allowlisted, its web-identity/SAML actions stay out of the public Deny rather than deny intended access.
    if target.kind == PUBLIC and zone.allowed_providers:
        kept = tuple(a for a in actions if a.lower() not in FEDERATED_ACTIONS)
        return kept or tuple(actions)
    return tuple(actions)


def _limited_to_zone(condition: Mapping[str, str], zone: Zone) -> bool:
    """The finding says the access exists only for callers of the trusted organization or accounts (e.g. what an
    ACCOUNT analyzer reports after the tool's Deny excluded the organization): inside the zone of trust."""
    lowered = {k.lower(): v for k, v in condition.items()}
    org = lowered.get("aws:principalorgid")
    if org is not None and zone.org_id is not None and set(org.split(",")) <= {zone.org_id}:
        return True
    account = lowered.get("aws:principalaccount")
    return account is not None and set(account.split(",")) <= set(zone.account_ids)


def _limited_to_allowlist(condition: Mapping[str, str], zone: Zone) -> bool:
    """The finding says the access exists only for allowlisted principal ARNs (what is left once the tool's Deny
    excluded them from a broader one)."""
    arns = {k.lower(): v for k, v in condition.items()}.get("aws:principalarn")
    patterns = zone.allowed_principal_patterns
    return (
        bool(arns)
        and bool(patterns)
        and all(any(fnmatchcase(arn, p) or arn == p for p in patterns) for arn in (arns or "").split(","))
    )


def _nothing_to_deny(allowed: Sequence[DenyTarget], unsupported: Sequence[Unsupported], notes: tuple[str, ...]) -> Plan:
    if allowed:
        return Plan("notify", ALLOWLISTED_PRINCIPAL, "principal is allowlisted: access is intended", notes=notes)
    if unsupported:
        reason = unsupported[0].reason
        return Plan("notify", reason, f"{unsupported[0].key} principal cannot be denied ({reason})", notes=notes)
    return Plan("skip", PRINCIPAL_IN_ZONE_OF_TRUST, "principal is inside the zone of trust", notes=notes)
