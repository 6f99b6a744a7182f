"""What happened to one finding, its audit record and its notice: built the same way on every path (a fresh
decision, a change completed for an interrupted invocation, the CLI), so records and notices never disagree."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import planner
from .audit import CLAIM, DECISION, AuditRecord, OutboxItem
from .findings import Finding, FindingRef
from .notify import Notice
from .planner import Plan, SideChange
from .policy import DenyEntry, Policy, compact

UNKNOWN_ANALYZER = "unknown_analyzer"
FINDING_NOT_FOUND = "finding_not_found"
FINDING_NOT_ACTIVE = "finding_not_active"
FINDING_MISMATCH = "finding_mismatch"
ERROR_FINDING = "error_finding"
UNSUPPORTED_RESOURCE_TYPE = "unsupported_resource_type"
IAM_REJECTED = "iam_rejected"
# approval.py: a delivery of a finding whose approval request is still pending, or was rejected (access kept).
ALREADY_PENDING = "approval_already_pending"
APPROVAL_REJECTED = "approval_rejected"
# Outcomes not worth an e-mail (stale or forged events, nothing external, nothing left to contain).
QUIET_REASONS = frozenset(
    {
        UNKNOWN_ANALYZER,
        FINDING_NOT_FOUND,
        FINDING_NOT_ACTIVE,
        FINDING_MISMATCH,
        ERROR_FINDING,
        planner.PRINCIPAL_IN_ZONE_OF_TRUST,
        planner.ROLE_NOT_FOUND,
        planner.RESOURCE_NOT_FOUND,
        planner.ACCOUNT_EXCLUDED,
        ALREADY_PENDING,
        APPROVAL_REJECTED,
    }
)
# The event's claim was not confirmed by GetFinding: recorded as a CLAIM, never as a decision.
UNVERIFIED_REASONS = frozenset({UNKNOWN_ANALYZER, FINDING_NOT_FOUND, FINDING_MISMATCH})


@dataclass(frozen=True)
class Outcome:
    """What happened to one finding reference. `decision` is remediate | notify | skip | failed."""

    ref: FindingRef
    decision: str
    reason: str
    summary: str
    finding: Finding | None = None
    plan: Plan | None = None
    policy_before: Policy | None = None
    policy_after: Policy | None = None
    entries: tuple[DenyEntry, ...] = ()  # the tool's entries that contain the finding (added now or already)
    completed: bool = False  # an interrupted invocation's change, completed by this one
    record: AuditRecord | None = None
    stored: bool = False  # the record (and the notice, in `outbox`) is in the table
    outbox: tuple[OutboxItem, ...] = ()  # where its notice waits (written with the record)
    extra: tuple[Outcome, ...] = ()  # outcomes of interrupted changes this one completed on the way
    proofs: tuple[dict[str, str], ...] = ()  # proofs.py: each check run before the write and its verdict
    error: BaseException | None = field(default=None, compare=False)

    @property
    def failed(self) -> bool:
        return self.decision == "failed"

    @property
    def notifies(self) -> bool:
        return self.finding is not None and not self.failed and self.reason not in QUIET_REASONS

    @property
    def verified(self) -> bool:
        return self.reason not in UNVERIFIED_REASONS

    def notice(self, mode: str) -> Notice:
        assert self.finding is not None
        plan = self.plan
        statements = plan.statements_added() if plan is not None and plan.policy_after is not None else []
        return Notice(
            self.decision,
            self.reason,
            self.summary,
            self.finding,
            mode,
            statements,
            (*plan.notes, *(c.announced for c in plan.side_changes)) if plan is not None else (),
            self.entries,
            self.completed,
            len(plan.side_changes) if plan is not None and self.decision == "remediate" else 0,
        )

    def all(self) -> list[Outcome]:
        return [self, *self.extra]


def from_plan(
    ref: FindingRef,
    finding: Finding,
    plan: Plan,
    before: Policy | None = None,
    after: Policy | None = None,
) -> Outcome:
    if plan.decision == "remediate":
        entries = plan.added
    elif plan.decision == "skip":
        entries = plan.covered
    else:
        entries = ()
    if plan.decision != "remediate" and plan.policy_after is not None:
        after = plan.policy_after  # notify mode: what would be written
    return Outcome(ref, plan.decision, plan.reason, plan.summary, finding, plan, before, after, tuple(entries))


def audit_record(
    outcome: Outcome, mode: str, record_id: str = "", decided_at: str = "", intent_id: str = ""
) -> AuditRecord:
    """The audit record of an outcome; `notified` is False while its notice waits in the outbox."""
    finding = outcome.finding
    assert finding is not None
    plan = outcome.plan
    written = outcome.decision == "remediate" and plan is not None
    extra: dict[str, str] = {}
    if plan is not None and not written and plan.added:
        extra["would_deny"] = _json([e.to_json() for e in plan.added])
    if plan is not None and plan.notes:
        extra["notes"] = _json(list(plan.notes))
    if plan is not None and plan.side_changes:
        extra["side_changes" if written else "would_side_change"] = _json([c.to_json() for c in plan.side_changes])
    if outcome.completed:
        extra["completed_for_interrupted_invocation"] = "true"
    if outcome.proofs:
        extra["proofs"] = _json(list(outcome.proofs))
    return AuditRecord(
        finding_id=finding.id,
        kind=DECISION if outcome.verified else CLAIM,
        decision=outcome.decision,
        reason=outcome.reason,
        summary=outcome.summary,
        mode=mode,
        analyzer_arn=finding.analyzer_arn,
        resource_arn=finding.resource_arn,
        principal=finding.principal,
        actions=finding.actions,
        denied=[e.to_json() for e in outcome.entries] if written else [],
        covered_by=[e.to_json() for e in outcome.entries] if outcome.decision == "skip" else [],
        policy_before=compact(outcome.policy_before) if outcome.policy_before is not None else None,
        policy_after=compact(outcome.policy_after) if outcome.policy_after is not None else None,
        decided_at=decided_at,
        record_id=record_id,
        notified=False if outcome.notifies else None,
        intent_id=intent_id,
        extra=extra,
    )


# ==================================================================================================== intent payload
def payload(outcomes: Sequence[Outcome], records: Sequence[AuditRecord], mode: str) -> dict[str, Any]:
    """What an intent carries so that whoever completes it records and announces exactly this change."""
    items = []
    for outcome, record in zip(outcomes, records, strict=True):
        assert outcome.finding is not None and outcome.plan is not None
        items.append(
            {
                "ref": {"analyzer_arn": outcome.ref.analyzer_arn, "finding_id": outcome.ref.finding_id},
                "finding": outcome.finding.to_json(),
                "plan": _plan_json(outcome.plan),
                "decision": outcome.decision,
                "reason": outcome.reason,
                "summary": outcome.summary,
                "entries": [e.to_json() for e in outcome.entries],
                "record_id": record.record_id,
                "decided_at": record.decided_at,
                "proofs": list(outcome.proofs),
            }
        )
    before = next((o.policy_before for o in outcomes if o.policy_before is not None), None)
    after = next((o.policy_after for o in outcomes if o.policy_after is not None), None)
    return {
        "kind": "contain",
        "mode": mode,
        "outcomes": items,
        "policy_before": compact(before) if before is not None else None,
        "policy_after": compact(after) if after is not None else None,
    }


def completed_outcomes(data: Mapping[str, Any]) -> list[tuple[Outcome, str, str]]:
    """The outcomes an interrupted invocation's intent promised, as (outcome, record id, decided at)."""
    if data.get("kind") != "contain":
        return []
    before = json.loads(data["policy_before"]) if data.get("policy_before") else None
    after = json.loads(data["policy_after"]) if data.get("policy_after") else None
    result = []
    for item in data.get("outcomes", []):
        finding = Finding.from_json(item["finding"])
        ref = FindingRef(str(item["ref"]["analyzer_arn"]), str(item["ref"]["finding_id"]))
        plan = _plan_from_json(item["plan"])
        outcome = Outcome(
            ref,
            str(item["decision"]),
            str(item["reason"]),
            str(item["summary"]),
            finding,
            plan,
            before,
            after if item["decision"] == "remediate" else plan.policy_after,
            tuple(DenyEntry.from_json(e) for e in item.get("entries", [])),
            completed=True,
            proofs=tuple({str(k): str(v) for k, v in p.items()} for p in item.get("proofs", [])),
        )
        result.append((outcome, str(item["record_id"]), str(item["decided_at"])))
    return result


def _plan_json(plan: Plan) -> dict[str, Any]:
    return {
        "decision": plan.decision,
        "reason": plan.reason,
        "summary": plan.summary,
        "added": [e.to_json() for e in plan.added],
        "covered": [e.to_json() for e in plan.covered],
        "notes": list(plan.notes),
        "policy_after": compact(plan.policy_after) if plan.policy_after is not None else None,
        "side_changes": [c.to_json() for c in plan.side_changes],
    }


def _plan_from_json(data: Mapping[str, Any]) -> Plan:
    decision = str(data["decision"])
    assert decision in ("remediate", "notify", "skip")
    return Plan(
        decision,  # type: ignore[arg-type]
        str(data["reason"]),
        str(data["summary"]),
        tuple(DenyEntry.from_json(e) for e in data.get("added", [])),
        json.loads(data["policy_after"]) if data.get("policy_after") else None,
        tuple(map(str, data.get("notes", []))),
        tuple(DenyEntry.from_json(e) for e in data.get("covered", [])),
        tuple(SideChange.from_json(c) for c in data.get("side_changes", [])),
    )


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
