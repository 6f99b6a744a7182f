"""Approve mode: the exact planned change waits for a person (or a deadline) before it is written.

A finding whose mode (`Settings.mode_for`) is `approve` is planned like notify mode (nothing written). `hold` then
records that plan as PENDING, once per finding: a conditional UpdateItem on `APPROVAL / <finding id>` creates the
request only if none is pending (a redelivery, the daily sweep, a concurrent worker meet the existing one). The
request's audit record and its notice (the deadline and three commands; no link performs anything) are written
under deterministic keys, then the request is marked stored, so a crash in between makes the next delivery write
the same record and notice again, never a second request.

`approve` (the CLI, or the sweep when a deadline passed with `on_timeout = apply`) re-verifies before anything is
written: GetFinding must still say ACTIVE, the change re-planned on the current document and ledger must be exactly
the requested one, and it is then applied by the engine itself (lease, ledger, audit, outbox). Otherwise nothing is
written and the record says why. `reject` keeps the access (with `--archive`: an archive rule in every configured
analyzer and the finding archived). `expire` (deadline passed, `on_timeout = expire`) keeps it too and says so.
Every step is an APPROVAL record in the finding's audit trail with who decided (the caller's ARN from
sts:GetCallerIdentity; the sweep's is the Lambda's role, marked as a timeout).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from . import planner
from .audit import AuditRecord, new_id, now_iso
from .clients import error_code
from .findings import Finding, FindingRef
from .outcomes import ALREADY_PENDING, APPROVAL_REJECTED, Outcome, audit_record
from .settings import Settings

if TYPE_CHECKING:
    from .engine import Remediator

logger = logging.getLogger(__name__)

APPROVAL_PK = "APPROVAL"
APPROVAL = "APPROVAL"  # the audit record kind of every approval step
PENDING, APPLIED, REJECTED, EXPIRED, NOT_APPLIED = "PENDING", "APPLIED", "REJECTED", "EXPIRED", "NOT_APPLIED"
# Statuses after which a new delivery of a still-ACTIVE finding asks again (a fresh request): the change was not
# made (expired, no longer valid), or it was made and undone since (the finding is ACTIVE again).
REQUEST_AGAIN = (EXPIRED, NOT_APPLIED, APPLIED)

APPROVAL_PENDING = "approval_pending"  # the request's record and notice
APPROVAL_EXPIRED = "approval_expired"


class ApprovalError(RuntimeError):
    """An approval step could not be done (AWS trouble): nothing was decided, the request stays as it was."""


class NotPending(ValueError):
    """Bad input: there is no pending request for this finding (the CLI: one line, exit 2)."""


@dataclass(frozen=True)
class Pending:
    """One approval request: the exact change planned for one finding, as it was announced."""

    finding: Finding
    record_id: str  # the request's audit record (and its notice's outbox key)
    requested_at: str  # ISO time, the request record's decided_at
    deadline: float | None  # epoch seconds; None: waits until someone decides
    summary: str
    entries: Sequence[Mapping[str, Any]] = ()  # the Deny entries the change adds (DenyEntry.to_json)
    side_changes: Sequence[Mapping[str, Any]] = ()  # SideChange.to_json
    policy_after: str | None = None  # the planned document (compact JSON)
    status: str = PENDING
    stored: bool = False  # the request's record and notice are in the table
    decided_by: str = ""
    decided_at: str = ""
    why: str = ""

    @property
    def change(self) -> dict[str, Any]:
        return {"entries": [dict(e) for e in self.entries], "side_changes": [dict(c) for c in self.side_changes]}

    def deadline_text(self) -> str:
        if self.deadline is None:
            return "none"
        return datetime.fromtimestamp(self.deadline, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

    def to_json(self) -> dict[str, Any]:
        return {
            "finding_id": self.finding.id,
            "status": self.status,
            "requested_at": self.requested_at,
            "deadline": self.deadline_text(),
            "summary": self.summary,
            "resource_arn": self.finding.resource_arn,
            "entries": [dict(e) for e in self.entries],
            "side_changes": [dict(c) for c in self.side_changes],
            "policy_after": json.loads(self.policy_after) if self.policy_after else None,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at,
            "why": self.why,
        }


class ApprovalStore:
    """The requests, in the deployment's table (pk APPROVAL, sk the finding id): the Lambda's existing GetItem,
    UpdateItem and Query, no new action."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def request(self, pending: Pending) -> Pending:
        """Create `pending` unless a request that must not be asked again exists; return the one in the table."""
        data = {
            "finding": pending.finding.to_json(),
            "summary": pending.summary,
            "entries": list(pending.entries),
            "side_changes": list(pending.side_changes),
            "policy_after": pending.policy_after,
        }
        values: dict[str, Any] = {
            ":pending": {"S": PENDING},
            ":rid": {"S": pending.record_id},
            ":at": {"S": pending.requested_at},
            ":data": {"S": json.dumps(data, sort_keys=True)},
            ":no": {"BOOL": False},
            ":empty": {"S": ""},
            ":deadline": {"N": str(pending.deadline)} if pending.deadline is not None else {"NULL": True},
        }
        values.update({f":again{n}": {"S": status} for n, status in enumerate(REQUEST_AGAIN)})
        again = ", ".join(f":again{n}" for n in range(len(REQUEST_AGAIN)))
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(pending.finding.id),
                UpdateExpression=(
                    "SET #status = :pending, #rid = :rid, #at = :at, #data = :data, #stored = :no,"
                    " #deadline = :deadline, #by = :empty, #settled = :empty, #why = :empty"
                ),
                ConditionExpression=f"attribute_not_exists(pk) OR #status IN ({again})",
                ExpressionAttributeNames=_NAMES,
                ExpressionAttributeValues=values,
            )
        except Exception as err:
            if error_code(err) != "ConditionalCheckFailedException":
                raise
            existing = self.get(pending.finding.id)
            if existing is None:  # deleted in between (by hand): ask again on the next delivery
                raise ApprovalError(f"the approval request of {pending.finding.id} changed meanwhile") from err
            return existing
        return pending

    def get(self, finding_id: str) -> Pending | None:
        response = self._client.get_item(TableName=self._table, Key=_key(finding_id), ConsistentRead=True)
        item = response.get("Item")
        return _pending(item) if item else None

    def mark_stored(self, pending: Pending) -> None:
        self._client.update_item(
            TableName=self._table,
            Key=_key(pending.finding.id),
            UpdateExpression="SET #stored = :yes",
            ConditionExpression="#rid = :rid",
            ExpressionAttributeNames={"#stored": "stored", "#rid": "record_id"},
            ExpressionAttributeValues={":yes": {"BOOL": True}, ":rid": {"S": pending.record_id}},
        )

    def settle(self, pending: Pending, status: str, by: str, why: str, at: str) -> bool:
        """PENDING -> `status`, only for this very request; False when someone else decided it meanwhile."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(pending.finding.id),
                UpdateExpression="SET #status = :status, #by = :by, #why = :why, #settled = :at",
                ConditionExpression="#status = :pending AND #rid = :rid",
                ExpressionAttributeNames={n: _NAMES[n] for n in ("#status", "#by", "#why", "#settled", "#rid")},
                ExpressionAttributeValues={
                    ":status": {"S": status},
                    ":by": {"S": by},
                    ":why": {"S": why[:2000] or "-"},
                    ":at": {"S": at},
                    ":pending": {"S": PENDING},
                    ":rid": {"S": pending.record_id},
                },
            )
        except Exception as err:
            if error_code(err) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def due(self, now: float) -> list[Pending]:
        """Every PENDING request whose deadline has passed (one Query of the APPROVAL partition)."""
        found: list[Pending] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "FilterExpression": "#status = :pending AND #deadline <= :now",
            "ExpressionAttributeNames": {"#status": "status", "#deadline": "deadline"},
            "ExpressionAttributeValues": {
                ":pk": {"S": APPROVAL_PK},
                ":pending": {"S": PENDING},
                ":now": {"N": f"{now:.3f}"},
            },
            "ConsistentRead": True,
        }
        for page in self._client.get_paginator("query").paginate(**kwargs):
            found += [_pending(item) for item in page.get("Items", [])]
        return found


def store_of(remediator: Remediator) -> ApprovalStore:
    return ApprovalStore(remediator.clients.dynamodb(), remediator.settings.audit_table_name)


# ==================================================================================================== requesting
def hold(remediator: Remediator, outcomes: list[Outcome], settings: Settings) -> list[Outcome]:
    """The engine's hook: every outcome of an approve-mode finding that would change something becomes a request
    (or meets the existing one). The rest is left to the engine."""
    if "approve" not in settings.modes:
        return outcomes
    store = store_of(remediator)
    result = []
    for outcome in outcomes:
        finding = outcome.finding
        if (
            finding is None
            or outcome.failed
            or outcome.stored
            or outcome.reason != planner.NOTIFY_MODE
            or outcome.plan is None
            or settings.mode_for(finding.resource_owner_account, finding.resource_type) != "approve"
        ):
            result.append(outcome)
            continue
        try:
            result.append(_request(remediator, store, outcome, finding, settings))
        except Exception as err:  # the finding is retried: its request is made (or completed) then
            logger.warning("approval request failed", extra={"correlation_id": finding.id, "error": repr(err)})
            result.append(replace(outcome, decision="failed", reason="approval_failed", summary=repr(err), error=err))
    return result


def _request(
    remediator: Remediator, store: ApprovalStore, outcome: Outcome, finding: Finding, settings: Settings
) -> Outcome:
    plan = outcome.plan
    assert plan is not None
    now = remediator.clock()
    hours = settings.approval_timeout_hours
    wanted = Pending(
        finding=finding,
        record_id=f"approval-{new_id()}",
        requested_at=now_iso(remediator.clock),
        deadline=now + hours * 3600 if hours else None,
        summary=plan.summary.removesuffix(" (notify mode)"),
        entries=[e.to_json() for e in plan.added],
        side_changes=[c.to_json() for c in plan.side_changes],
        policy_after=json.dumps(plan.policy_after, sort_keys=True, separators=(",", ":"))
        if plan.policy_after is not None
        else None,
    )
    pending = store.request(wanted)
    # A later delivery: the engine records it (a quiet skip, no notice; not the cycle's notify-mode record), as it
    # records every other delivery.
    if pending.status == REJECTED:
        summary = f"access kept: the change was rejected by {pending.decided_by} at {pending.decided_at}"
        return replace(outcome, decision="skip", reason=APPROVAL_REJECTED, summary=summary, record=None)
    if pending.stored:
        summary = f"approval requested at {pending.requested_at} and still pending (deadline {pending.deadline_text()})"
        return replace(outcome, decision="skip", reason=ALREADY_PENDING, summary=summary, record=None)
    # New, or made by a delivery that died before its record and notice were stored: write them (same keys).
    summary = f"approval needed: {pending.summary}"
    notes = (*plan.notes, *_commands(pending, settings))
    held = replace(plan, reason=APPROVAL_PENDING, summary=summary, notes=notes)
    requested = replace(outcome, reason=APPROVAL_PENDING, summary=summary, plan=held)
    record = remediator.audit.stamp(audit_record(requested, "approve", pending.record_id, pending.requested_at))
    record = replace(record, extra={**record.extra, "approval_deadline": pending.deadline_text()})
    outbox = remediator.audit.outbox([(requested.notice("approve").to_json(), record)], key_hint=pending.record_id)
    remediator.audit.write([record], outbox)
    store.mark_stored(pending)
    return replace(requested, record=record, outbox=tuple(outbox), stored=True)


def _commands(pending: Pending, settings: Settings) -> list[str]:
    fid = pending.finding.id
    if pending.deadline is None:
        deadline = "none: nothing is written until someone approves"
    elif settings.on_timeout == "apply":
        deadline = f"{pending.deadline_text()}: then the change is applied (after re-verification)"
    else:
        deadline = f"{pending.deadline_text()}: then the request expires and the access stays"
    return [
        f"approval deadline: {deadline}",
        f"apply now: aa-remediate approve --finding-id {fid}  (re-verifies the finding and the change first)",
        f"keep the access: aa-remediate reject --finding-id {fid} [--archive]  (--archive: it is intended)",
        f"status: aa-remediate status --finding-id {fid}",
    ]


# ==================================================================================================== deciding
@dataclass(frozen=True)
class Decided:
    """What an approval step did: `status` is the request's new status (or PENDING when nothing was decided)."""

    finding_id: str
    status: str
    applied: bool
    why: str
    by: str
    outcomes: list[Outcome] = field(default_factory=list)  # their notices wait in the outbox: announce them

    def to_json(self) -> dict[str, Any]:
        return {
            "finding_id": self.finding_id,
            "status": self.status,
            "applied": self.applied,
            "why": self.why,
            "decided_by": self.by,
        }


def pending_for(remediator: Remediator, finding_id: str) -> Pending:
    pending = store_of(remediator).get(finding_id)
    if pending is None:
        raise NotPending(f"finding {finding_id} has no approval request")
    if pending.status != PENDING:
        raise NotPending(f"the approval request of finding {finding_id} is {pending.status}, not PENDING")
    return pending


def caller_arn(remediator: Remediator) -> str:
    """Who decides: sts:GetCallerIdentity (needs no permission). Raises: a decision is never recorded anonymously."""
    return str(remediator.clients.sts().get_caller_identity()["Arn"])


def approve(remediator: Remediator, pending: Pending, by: str, trigger: str = "approved") -> Decided:
    """Re-verify, re-plan, and apply exactly the requested change through the engine; or say why not."""
    from .engine import Remediator as Engine
    from .members import MemberAccess, Route

    store = store_of(remediator)

    def settle(status: str, why: str, outcomes: list[Outcome] | None = None) -> Decided:
        applied = status == APPLIED
        return _settled(
            remediator, store, pending, status, by=by, trigger=trigger, why=why, applied=applied, outcomes=outcomes
        )

    ref = FindingRef(pending.finding.analyzer_arn, pending.finding.id)
    verified = remediator.verify(ref)
    if isinstance(verified, Outcome):
        return settle(NOT_APPLIED, f"not applied: {verified.summary}")
    finding = verified
    # The same rails as the Lambda, in remediate mode for this one finding: account rails, guards, lease, ledger.
    acting = replace(remediator.settings, mode="remediate", account_modes=(), mode_rules=())
    route = MemberAccess(remediator.clients).route(finding, acting)
    if not isinstance(route, Route):
        return settle(NOT_APPLIED, f"not applied: {route.summary}")
    again = _replan(remediator, route, ref, finding)
    if again.reason == planner.ALREADY_CONTAINED and _same(pending, [e.to_json() for e in again.entries], []):
        why = "already applied (an earlier approval wrote it; its decision record has the undo)"
        return settle(APPLIED, why)
    if again.decision != "remediate" or again.plan is None:
        return settle(NOT_APPLIED, f"not applied: {again.summary}")
    if not _same(pending, [e.to_json() for e in again.plan.added], [c.to_json() for c in again.plan.side_changes]):
        why = (
            "not applied: the change planned on the current policy is not the one requested (the policy or the"
            f" ledger changed since): now it would be: {again.summary}; a new request follows with the finding's"
            " next delivery (the daily sweep)"
        )
        return settle(NOT_APPLIED, why)
    engine = Engine(
        acting, remediator.clients, remediator.audit, state=remediator.state, clock=remediator.clock,
        sleep=remediator.sleep, lock_wait_seconds=remediator.lock_wait_seconds,
    )  # fmt: skip
    engine.consistency_window = remediator.consistency_window
    engine.confirmer = remediator.confirmer  # the change is confirmed, and counted in the handler's metrics
    [done] = engine.process([ref])
    if done.failed:
        raise ApprovalError(f"applying the approved change failed ({done.reason}): {done.summary}; still pending")
    if done.reason == planner.NO_CONFIRMED_SUBSCRIPTION:
        return Decided(pending.finding.id, PENDING, False, "held back: no confirmed subscription yet", by, [done])
    if done.decision != "remediate":
        return settle(NOT_APPLIED, f"not applied: {done.summary}", [done])
    why = f"applied: {done.summary}"
    return settle(APPLIED, why, [done])


def reject(remediator: Remediator, pending: Pending, by: str, archive: bool = False) -> Decided:
    """Keep the access; with `archive`, archive it in every configured analyzer (a rule for this resource and
    principal, applied at once) and archive the finding itself."""
    from .revert import _archive_finding, _archive_rule

    finding = pending.finding
    why = "rejected: the access is kept"
    if archive:
        rules = [
            _archive_rule(remediator, arn, finding.resource_arn, finding.resource.name, finding.principal)
            for arn in remediator.settings.analyzer_arns
        ]
        status = _archive_finding(remediator, finding.analyzer_arn, finding.id)
        why += f" and archived (rules {', '.join(rules)} in {len(rules)} analyzer(s); finding {status})"
    store = store_of(remediator)
    return _settled(remediator, store, pending, REJECTED, by=by, trigger="rejected", why=why, applied=False)


def expire(remediator: Remediator, pending: Pending, by: str) -> Decided:
    why = f"expired: nobody approved or rejected the change by {pending.deadline_text()}; the access stays"
    return _settled(
        remediator, store_of(remediator), pending, EXPIRED, by=by, trigger="timeout", why=why, applied=False
    )


def settle_due(remediator: Remediator, account: str) -> list[Decided]:
    """The sweep's step: every request past its deadline is applied (after re-verification) or expires, as
    `on_timeout` says. Their notices are announced; a request that failed stays PENDING (the next sweep tries
    again) and the step raises after the others, so the Errors alarm sees it."""
    settings = remediator.settings
    if settings.approval_timeout_hours is None:
        return []
    due = store_of(remediator).due(remediator.clock())
    if not due:
        return []
    by = f"timeout ({caller_arn(remediator)})"
    decided: list[Decided] = []
    problems: list[str] = []
    for pending in due:
        try:
            if settings.on_timeout == "apply":
                decided.append(approve(remediator, pending, by, trigger="timeout"))
            else:
                decided.append(expire(remediator, pending, by))
        except Exception as err:
            logger.warning("due approval failed", extra={"correlation_id": pending.finding.id, "error": repr(err)})
            problems.append(f"{pending.finding.id}: {err!r}")
    outcomes = [o for d in decided for o in d.outcomes]
    if outcomes:
        remediator.announce(outcomes, account)
    if problems:
        raise ApprovalError(f"{len(problems)} due approval(s) failed: {'; '.join(problems)}")
    return decided


# ==================================================================================================== helpers
def _replan(remediator: Remediator, route: Any, ref: FindingRef, finding: Finding) -> Outcome:
    """The plan the engine would make now, on the resource's current document and ledger; nothing written."""
    from .cycle import Budget

    cycle = remediator._cycle(route.settings, Budget(), finding, route.clients)  # the engine's own rails
    resource = cycle.adapter.ref(finding.resource_arn, finding.resource_owner_account)
    guarded = cycle.adapter.guard(resource, route.settings, finding.analyzer_arn)
    if guarded is not None:
        return Outcome(ref, guarded.decision, guarded.reason, guarded.summary, finding, guarded)
    read = cycle.read(resource)
    if read is None:
        gone = cycle.adapter.gone()
        return Outcome(ref, gone.decision, gone.reason, gone.summary, finding, gone)
    outcomes, _ = cycle._plan(resource, [(ref, finding)], read, remediator.state.peek(finding.resource_arn))
    return outcomes[0]


def _same(pending: Pending, entries: Sequence[Mapping[str, Any]], side_changes: Sequence[Mapping[str, Any]]) -> bool:
    def canon(items: Sequence[Mapping[str, Any]]) -> list[str]:
        return sorted(json.dumps(dict(i), sort_keys=True) for i in items)

    return canon(pending.entries) == canon(entries) and canon(pending.side_changes) == canon(side_changes)


def _settled(
    remediator: Remediator,
    store: ApprovalStore,
    pending: Pending,
    status: str,
    *,
    by: str,
    trigger: str,
    why: str,
    applied: bool,
    outcomes: list[Outcome] | None = None,
) -> Decided:
    """The step's APPROVAL record (and, when the access stays open without a person's say, its notice) first,
    then the request's new status: a crash in between leaves it PENDING and the step is done again."""
    finding = pending.finding
    at = now_iso(remediator.clock)
    record = remediator.audit.stamp(
        AuditRecord(
            finding_id=finding.id,
            kind=APPROVAL,
            decision=status.lower(),
            reason=f"approval_{status.lower()}",
            summary=why,
            mode="approve",
            analyzer_arn=finding.analyzer_arn,
            resource_arn=finding.resource_arn,
            principal=finding.principal,
            actions=finding.actions,
            record_id=f"{pending.record_id}-{status.lower()}",
            extra={
                "approver": by,
                "trigger": trigger,
                "request": pending.record_id,
                "change": json.dumps(pending.change, sort_keys=True),
            },
        )
    )
    made = list(outcomes or [])
    outbox = []
    if status in (EXPIRED, NOT_APPLIED) and not made:
        # The access stays open and nobody chose that: say so (an approver sees the CLI's answer too).
        outcome = Outcome(FindingRef(finding.analyzer_arn, finding.id), "notify", record.reason, why, finding)
        record = replace(record, notified=False)
        outbox = remediator.audit.outbox([(outcome.notice("approve").to_json(), record)], key_hint=record.record_id)
        made.append(replace(outcome, record=record, outbox=tuple(outbox), stored=True))
    remediator.audit.write([record], outbox)
    if not store.settle(pending, status, by, why, at):
        logger.warning("approval decided meanwhile by someone else", extra={"correlation_id": finding.id})
        now = store.get(finding.id)
        return Decided(finding.id, now.status if now else status, applied, f"{why} (decided meanwhile)", by, made)
    return Decided(finding.id, status, applied, why, by, made)


_NAMES = {  # every attribute by placeholder: several are DynamoDB reserved words
    "#status": "status",
    "#rid": "record_id",
    "#at": "requested_at",
    "#data": "approval",
    "#stored": "stored",
    "#deadline": "deadline",
    "#by": "decided_by",
    "#settled": "settled_at",
    "#why": "why",
}


def _key(finding_id: str) -> dict[str, Any]:
    return {"pk": {"S": APPROVAL_PK}, "sk": {"S": finding_id}}


def _pending(item: Mapping[str, Any]) -> Pending:
    data = json.loads(item["approval"]["S"])
    deadline = item.get("deadline", {})
    return Pending(
        finding=Finding.from_json(data["finding"]),
        record_id=item["record_id"]["S"],
        requested_at=item.get("requested_at", {}).get("S", ""),
        deadline=float(deadline["N"]) if "N" in deadline else None,
        summary=str(data.get("summary", "")),
        entries=list(data.get("entries", [])),
        side_changes=list(data.get("side_changes", [])),
        policy_after=data.get("policy_after"),
        status=item["status"]["S"],
        stored=bool(item.get("stored", {}).get("BOOL", False)),
        decided_by=item.get("decided_by", {}).get("S", ""),
        decided_at=item.get("settled_at", {}).get("S", ""),
        why=item.get("why", {}).get("S", ""),
    )
