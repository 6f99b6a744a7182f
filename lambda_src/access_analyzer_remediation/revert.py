"""Undo a remediation: remove exactly the Deny entries the tool added for one finding, keep everything else."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from .audit import AuditRecord, Lock, denied_entries
from .clients import error_code
from .engine import Remediator
from .findings import RoleRef
from .policy import (
    DenyEntry,
    canonical_value,
    classify_principal,
    compact,
    match_statement_form,
    remove_denies,
    tool_entries,
)


class NothingToRevert(LookupError):
    """The audit trail shows no Deny of this tool for the finding that is still in place."""


def revert(remediator: Remediator, finding_id: str, archive: bool = False) -> dict[str, Any]:
    history = remediator.audit.history(finding_id)
    decisions = [r for r in history if r.get("record_type") == "DECISION"]
    if not decisions:
        raise NothingToRevert(f"no decision recorded for finding {finding_id}")
    latest = decisions[-1]
    role = RoleRef.parse(str(latest["resource_arn"]))
    analyzer_arn = str(latest["analyzer_arn"])
    principal = json.loads(str(latest.get("principal", "{}")))
    recorded = [DenyEntry.from_json(entry) for entry in denied_entries(history)]
    rule = None
    if archive:
        # Before the Deny goes: once access is back the analyzer opens a NEW finding (the old one may be RESOLVED
        # by now and cannot be archived), which only an archive rule keeps from being contained again.
        rule = _archive_rule(remediator, analyzer_arn, role, principal)
    lock: Lock | None = remediator.audit.acquire(
        role.arn, remediator.settings.lock_lease_seconds, remediator.lock_wait_seconds
    )
    try:
        state = remediator._get_role(role)
        if state is None:
            raise NothingToRevert(f"role {role.arn} no longer exists")
        entries = recorded or _entries_for(latest, state.policy)
        after, removed = remove_denies(state.policy, entries)
        original = next((r["policy_before"] for r in decisions if r.get("policy_before")), None)
        if original:
            after = match_statement_form(after, json.loads(str(original)))
        if not removed:
            raise NothingToRevert(f"the Deny added for finding {finding_id} is no longer in the trust policy")
        remediator.clients.iam().update_assume_role_policy(RoleName=role.name, PolicyDocument=compact(after))
        record = AuditRecord(
            finding_id=finding_id,
            kind="REVERT",
            decision="revert",
            reason="reverted_by_operator",
            summary=f"removed {len(removed)} Deny entr{'y' if len(removed) == 1 else 'ies'}",
            mode=remediator.settings.mode,
            analyzer_arn=analyzer_arn,
            resource_arn=role.arn,
            policy_before=compact(state.policy),
            policy_after=compact(after),
            extra={
                "removed": json.dumps([e.to_json() for e in removed], sort_keys=True),
                "archive_rule": rule or "",
            },
        )
        remediator.audit.record([record], release=lock)
        lock = None
    finally:
        if lock is not None:
            remediator._release_quietly(lock)
    finding_status = _archive_finding(remediator, analyzer_arn, finding_id) if archive else None
    return {
        "reverted": True,
        "finding_id": finding_id,
        "role_arn": role.arn,
        "removed": [e.to_json() for e in removed],
        "archived": archive,
        "archive_rule": rule,
        "finding_status": finding_status,
        "policy_before": state.policy,
        "policy_after": after,
    }


def _archive_rule(remediator: Remediator, analyzer_arn: str, role: RoleRef, principal: dict[str, str]) -> str:
    """An archive rule for this role and principal (idempotent: the name is derived from both)."""
    criteria = {"resource": {"eq": [role.arn]}} | {f"principal.{k}": {"eq": [v]} for k, v in sorted(principal.items())}
    digest = hashlib.sha256(json.dumps(criteria, sort_keys=True).encode()).hexdigest()[:10]
    name = f"aar-intended-{re.sub(r'[^A-Za-z0-9_.-]', '-', role.name)[:200]}-{digest}"
    client = remediator.clients.access_analyzer(analyzer_arn.split(":")[3])
    try:
        client.create_archive_rule(
            analyzerName=analyzer_arn.rsplit("/", 1)[-1],
            ruleName=name,
            filter=criteria,  # type: ignore[arg-type]
        )
    except Exception as err:
        if error_code(err) != "ConflictException":  # the rule already exists
            raise
    return name


def _archive_finding(remediator: Remediator, analyzer_arn: str, finding_id: str) -> str:
    """Archive the finding itself and report its real status (a RESOLVED finding may stay RESOLVED)."""
    client = remediator.clients.access_analyzer(analyzer_arn.split(":")[3])
    client.update_findings(analyzerArn=analyzer_arn, ids=[finding_id], status="ARCHIVED")
    return str(client.get_finding(analyzerArn=analyzer_arn, id=finding_id)["finding"]["status"])


def _entries_for(decision: dict[str, Any], policy: dict[str, Any]) -> list[DenyEntry]:
    """Fallback when no entries were recorded (e.g. a redelivered finding found its Deny already in place): the
    tool's entries for exactly this finding's principal whose actions are all among the finding's actions."""
    targets, _ = classify_principal(json.loads(str(decision.get("principal", "{}"))))
    wanted = {(t.kind, t.value) for t in targets}
    actions = set(decision.get("actions") or [])
    return [
        e
        for e in tool_entries(policy)
        if (e.kind, canonical_value(e.kind, e.value)) in wanted and set(e.actions) <= actions
    ]
