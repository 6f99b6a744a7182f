"""Decide what to do with one verified finding. Pure: no AWS call, so `aa-remediate plan` and tests call it directly.

Order matters: guardrails (protected roles, exemptions, zone of trust, allowlist) come before any change is computed,
and the quota check comes before anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Literal

from .findings import Finding, RoleRef
from .policy import (
    ACCOUNT,
    FEDERATED,
    PRINCIPAL,
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
    covering_sids,
    statements,
)
from .settings import ACCOUNT_ID_RE, Settings

Decision = Literal["remediate", "notify", "skip"]

# Reasons, by decision. They are metric dimensions and audit values: keep them stable.
EXTERNAL_ACCESS_DENIED = "external_access_denied"
NOTIFY_MODE = "notify_mode"
OWN_ROLE = "own_role"
SERVICE_LINKED_ROLE = "service_linked_role"
PROTECTED_ROLE = "protected_role"
ROLE_ARN_MISMATCH = "role_arn_mismatch"
EXEMPT_TAG = "exempt_tag"
ALLOWLISTED_PRINCIPAL = "allowlisted_principal"
TRUST_POLICY_QUOTA = "trust_policy_quota"
UNREADABLE_POLICY = "unreadable_policy"
ALREADY_CONTAINED = "already_contained"
PRINCIPAL_IN_ZONE_OF_TRUST = "principal_in_zone_of_trust"
ROLE_NOT_FOUND = "role_not_found"
CROSS_ACCOUNT_ROLE = "cross_account_role"


@dataclass(frozen=True)
class RoleState:
    """What GetRole returned, reduced to what the decision needs."""

    arn: str
    path: str
    tags: Mapping[str, str]
    policy: Policy


@dataclass(frozen=True)
class Plan:
    decision: Decision
    reason: str
    summary: str
    added: tuple[DenyEntry, ...] = ()
    policy_after: Policy | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def sids_added(self) -> list[str]:
        return sorted({entry.sid for entry in self.added})

    def statements_added(self) -> list[dict[str, Any]]:
        """The tool's statements that this plan created or extended, as they stand in `policy_after`."""
        sids = set(self.sids_added)
        return [s for s in statements(self.policy_after or {"Statement": []}) if s.get("Sid") in sids]


def zone_for(finding: Finding, settings: Settings) -> Zone:
    return Zone(frozenset(settings.trusted_account_ids | {finding.resource_owner_account}), settings.trusted_org_id)


def guard_role(role: RoleRef, settings: Settings, analyzer_arn: str) -> Plan | None:
    """Guardrails that need only the role ARN (checked before any IAM read)."""
    analyzer_account = analyzer_arn.split(":")[4]
    if role.account_id != analyzer_account:
        # An organization analyzer reports roles of member accounts; this deployment's credentials act in the
        # analyzer's account only, where a role of the same name would be the wrong role.
        return Plan(
            "notify",
            CROSS_ACCOUNT_ROLE,
            f"{role.name} is in account {role.account_id}, not {analyzer_account}: contain it from that account",
        )
    if role.arn in settings.own_role_arns:
        return Plan("notify", OWN_ROLE, f"{role.name} is one of this tool's own roles: never modified")
    if role.is_service_linked:
        return Plan("notify", SERVICE_LINKED_ROLE, f"{role.name} is a service-linked role: IAM forbids changes")
    for pattern in settings.protected_role_patterns:
        if fnmatchcase(role.name, pattern):
            return Plan(
                "notify",
                PROTECTED_ROLE,
                f"{role.name} matches protected pattern {pattern!r}: never modified (denying it could lock "
                "the organization out)",
            )
    return None


def plan_finding(finding: Finding, role: RoleState, settings: Settings) -> Plan:
    """The decision for `finding` given the role's current state (a new policy when it says remediate)."""
    ref = finding.role
    guarded = guard_role(ref, settings, finding.analyzer_arn)
    if guarded:
        return guarded
    if role.arn != ref.arn:
        return Plan("notify", ROLE_ARN_MISMATCH, f"GetRole returned {role.arn}, not {ref.arn}: not modified")
    tag = role.tags.get(settings.exemption_tag_key)
    if tag is not None and tag.strip().lower() != "false":
        return Plan("notify", EXEMPT_TAG, f"role is tagged {settings.exemption_tag_key}={tag}: access is intended")
    targets, unsupported = classify_principal(finding.principal)
    zone = zone_for(finding, settings)
    targets = [t for t in targets if t.account_id not in zone.account_ids]
    allowed = [t for t in targets if is_allowlisted(t, settings.allowed_principals)]
    targets = [t for t in targets if t not in allowed]
    notes = tuple(
        [f"{t.value} is allowlisted: not denied" for t in allowed]
        + [f"{u.key}:{u.value} cannot be denied ({u.reason})" for u in unsupported]
    )
    if not targets:
        return _nothing_to_deny(allowed, unsupported, notes)
    try:
        after, added = add_denies(role.policy, [(t, finding.actions) for t in targets], zone)
    except PolicyError as err:
        return Plan("notify", UNREADABLE_POLICY, str(err), notes=notes)
    if not added:
        covered = sorted({s for t in targets for a in finding.actions for s in covering_sids(after, t, a)})
        return Plan("skip", ALREADY_CONTAINED, f"already denied by {', '.join(covered)}", notes=notes)
    size = len(compact(after))
    if size > settings.trust_policy_max_chars:
        return Plan(
            "notify",
            TRUST_POLICY_QUOTA,
            f"the Deny would make the trust policy {size} characters, over the {settings.trust_policy_max_chars}"
            "-character quota: nothing written",
            added=tuple(added),
            notes=notes,
        )
    denied = ", ".join(f"{e.value} ({'/'.join(e.actions)})" for e in added)
    if settings.mode == "notify":
        return Plan("notify", NOTIFY_MODE, f"would deny {denied} (notify mode)", tuple(added), after, notes)
    return Plan("remediate", EXTERNAL_ACCESS_DENIED, f"denied {denied}", tuple(added), after, notes)


def _nothing_to_deny(allowed: Sequence[DenyTarget], unsupported: Sequence[Unsupported], notes: tuple[str, ...]) -> Plan:
    if allowed:
        return Plan("notify", ALLOWLISTED_PRINCIPAL, "principal is allowlisted: access is intended", notes=notes)
    if unsupported:
        reason = unsupported[0].reason
        return Plan("notify", reason, f"{unsupported[0].key} principal cannot be denied ({reason})", notes=notes)
    return Plan("skip", PRINCIPAL_IN_ZONE_OF_TRUST, "principal is inside the zone of trust", notes=notes)


def is_allowlisted(target: DenyTarget, allowed: Sequence[str]) -> bool:
    for entry in allowed:
        if ACCOUNT_ID_RE.match(entry):
            if target.account_id == entry:
                return True
        elif (target.kind in (PRINCIPAL, FEDERATED, PUBLIC) and fnmatchcase(target.value, entry)) or (
            target.kind == ACCOUNT and fnmatchcase(f"arn:aws:iam::{target.value}:root", entry)
        ):
            return True
    return False
