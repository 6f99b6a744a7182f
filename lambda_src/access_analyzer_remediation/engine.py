"""The remediation path shared by the Lambda, the scheduled sweep and the CLI.

Per batch: every finding is re-read with GetFinding (the event is only a claim), findings are grouped by role, and
each role is handled under its lock with one GetRole, at most one UpdateAssumeRolePolicy and one audit write:
5 AWS calls for a lone finding, fewer per finding when several hit one role.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from . import planner
from .audit import AuditRecord, AuditStore, Lock, LockLost
from .clients import AwsClients, error_code
from .findings import IAM_ROLE, Finding, FindingRef, MalformedEvent, RoleRef, finding_from_api
from .notify import Notice, publish
from .planner import Plan, RoleState
from .policy import Policy, compact, remove_denies
from .settings import Settings

logger = logging.getLogger(__name__)

# A write is started only with this much lease left (or a quarter of the lease, if shorter). The Lambda's lease
# is at least its timeout (a Terraform precondition), so an invocation cannot outlive its lock; the CLI, which has
# no timeout, holds CLI_LEASE_SECONDS.
WRITE_MARGIN_SECONDS = 5.0
CLI_LEASE_SECONDS = 900
UNKNOWN_ANALYZER = "unknown_analyzer"
FINDING_NOT_FOUND = "finding_not_found"
FINDING_NOT_ACTIVE = "finding_not_active"
FINDING_MISMATCH = "finding_mismatch"
ERROR_FINDING = "error_finding"
IAM_REJECTED = "iam_rejected"
# Skips that are not worth an e-mail (stale/forged events, nothing external).
QUIET_REASONS = frozenset(
    {
        UNKNOWN_ANALYZER,
        FINDING_NOT_FOUND,
        FINDING_NOT_ACTIVE,
        FINDING_MISMATCH,
        ERROR_FINDING,
        planner.PRINCIPAL_IN_ZONE_OF_TRUST,
        planner.ROLE_NOT_FOUND,
    }
)
_IAM_REJECTIONS: dict[str, tuple[planner.Decision, str]] = {
    "MalformedPolicyDocument": ("notify", IAM_REJECTED),
    "LimitExceeded": ("notify", planner.TRUST_POLICY_QUOTA),
    "UnmodifiableEntity": ("notify", planner.SERVICE_LINKED_ROLE),
    "NoSuchEntity": ("skip", planner.ROLE_NOT_FOUND),
}


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
    revert_policy: Policy | None = None
    error: BaseException | None = field(default=None, compare=False)

    @property
    def failed(self) -> bool:
        return self.decision == "failed"

    @property
    def notifies(self) -> bool:
        return self.finding is not None and not self.failed and self.reason not in QUIET_REASONS

    def notice(self, mode: str) -> Notice:
        assert self.finding is not None
        statements = self.plan.statements_added() if self.plan and self.plan.policy_after else []
        notes = self.plan.notes if self.plan else ()
        return Notice(
            self.decision,
            self.reason,
            self.summary,
            self.finding,
            mode,
            statements,
            self.revert_policy,
            notes,
        )


class Remediator:
    def __init__(
        self,
        settings: Settings,
        clients: AwsClients,
        audit: AuditStore | None = None,
        lock_wait_seconds: float = 20.0,
    ) -> None:
        self.settings = settings
        self.clients = clients
        self.audit = audit or AuditStore(clients.dynamodb(), settings.audit_table_name, settings.audit_retention_days)
        self.lock_wait_seconds = lock_wait_seconds

    # -- entry points ------------------------------------------------------------------------------------------
    def process(self, refs: Sequence[FindingRef]) -> list[Outcome]:
        """Decide and act on every reference; one Outcome per reference, in order. Never raises for one finding."""
        outcomes: dict[int, Outcome] = {}
        by_role: dict[str, list[tuple[int, FindingRef, Finding]]] = {}
        for index, ref in enumerate(refs):
            try:
                verified = self.verify(ref)
            except Exception as err:  # AWS trouble: hand the record back for a retry, keep going with the rest
                logger.warning("GetFinding failed", extra={"correlation_id": ref.finding_id, "error": repr(err)})
                outcomes[index] = Outcome(ref, "failed", "get_finding_failed", repr(err), error=err)
                continue
            if isinstance(verified, Outcome):
                outcomes[index] = verified
            else:
                by_role.setdefault(verified.resource_arn, []).append((index, ref, verified))
        self._audit_rejections(outcomes)
        for role_arn, items in by_role.items():
            try:
                results = self._process_role(RoleRef.parse(role_arn), [(ref, f) for _, ref, f in items])
            except Exception as err:
                logger.warning("role processing failed", extra={"role_arn": role_arn, "error": repr(err)})
                results = [Outcome(ref, "failed", "processing_failed", repr(err), f, error=err) for _, ref, f in items]
            for (index, _, _), outcome in zip(items, results, strict=True):
                outcomes[index] = outcome
        for outcome in outcomes.values():
            logger.info(
                "decision",
                extra={
                    "correlation_id": outcome.ref.finding_id,
                    "decision": outcome.decision,
                    "reason": outcome.reason,
                    "summary": outcome.summary,
                },
            )
        return [outcomes[index] for index in range(len(refs))]

    def _audit_rejections(self, outcomes: dict[int, Outcome]) -> None:
        """Stale, spoofed or unknown findings are decisions too: record them (one write), or retry them."""
        audited = {index: o for index, o in outcomes.items() if o.finding is not None and not o.failed}
        if not audited:
            return
        try:
            self.audit.record([self._record(o) for o in audited.values()])
        except Exception as err:
            for index, outcome in audited.items():
                outcomes[index] = replace(outcome, decision="failed", reason="audit_failed", error=err)

    def active_role_findings(self, analyzer_arns: Sequence[str] | None = None) -> Iterator[FindingRef]:
        """Every ACTIVE IAM role finding of the analyzers (ListFindingsV2, paginated): the sweep's input."""
        for analyzer_arn in analyzer_arns or self.settings.analyzer_arns:
            client = self.clients.access_analyzer(analyzer_arn.split(":")[3])
            paginator = client.get_paginator("list_findings_v2")
            pages = paginator.paginate(
                analyzerArn=analyzer_arn,
                filter={"status": {"eq": ["ACTIVE"]}, "resourceType": {"eq": [IAM_ROLE]}},
            )
            for page in pages:
                for summary in page.get("findings", []):
                    yield FindingRef(analyzer_arn, summary["id"])

    def notify(self, outcomes: Sequence[Outcome], account: str) -> str | None:
        """Publish one digest for every outcome worth an e-mail. Raises if SNS refuses after retries."""
        notices = [o.notice(self.settings.mode) for o in outcomes if o.notifies]
        if not notices:
            return None
        region = self.settings.topic_arn.split(":")[3]
        return publish(self.clients.sns(region), self.settings.topic_arn, notices, account)

    # -- verification --------------------------------------------------------------------------------------
    def verify(self, ref: FindingRef) -> Finding | Outcome:
        """Trust nothing: the analyzer must be ours and GetFinding must confirm an ACTIVE matching finding."""
        if ref.analyzer_arn not in self.settings.analyzer_arns:
            return Outcome(ref, "skip", UNKNOWN_ANALYZER, f"{ref.analyzer_arn} is not a configured analyzer")
        client = self.clients.access_analyzer(ref.region)
        try:
            response = client.get_finding(analyzerArn=ref.analyzer_arn, id=ref.finding_id)
        except Exception as err:
            if error_code(err) == "ResourceNotFoundException":
                return Outcome(ref, "skip", FINDING_NOT_FOUND, "GetFinding does not know this finding", ref.claim)
            raise
        data = dict(response["finding"])
        if data.get("error"):
            return Outcome(ref, "skip", ERROR_FINDING, f"the analyzer reports {data['error']}")
        if str(data.get("resourceType", "")).strip() != IAM_ROLE:
            return Outcome(ref, "skip", "unsupported_resource_type", f"resource type {data.get('resourceType')}")
        try:
            finding = finding_from_api(data, ref.analyzer_arn)
        except MalformedEvent as err:
            return Outcome(ref, "skip", FINDING_MISMATCH, f"GetFinding returned an unusable finding: {err}", ref.claim)
        if finding.status != "ACTIVE":
            return Outcome(ref, "skip", FINDING_NOT_ACTIVE, f"finding is {finding.status} now", finding)
        claim = ref.claim
        if claim is not None and (claim.resource_arn, claim.id) != (finding.resource_arn, finding.id):
            return Outcome(ref, "skip", FINDING_MISMATCH, "event does not match GetFinding: not acted on", claim)
        return finding

    # -- one role ------------------------------------------------------------------------------------------
    def _process_role(self, role: RoleRef, items: Sequence[tuple[FindingRef, Finding]]) -> list[Outcome]:
        guarded = planner.guard_role(role, self.settings, items[0][1].analyzer_arn)
        if guarded is not None:
            outcomes = [self._outcome(ref, finding, guarded) for ref, finding in items]
            self.audit.record([self._record(o) for o in outcomes])
            return outcomes
        lock = None
        if self.settings.mode == "remediate":
            lock = self.audit.acquire(role.arn, self.settings.lock_lease_seconds, self.lock_wait_seconds)
        try:
            outcomes = self._decide_and_write(role, items, lock)
            self.audit.record([self._record(o) for o in outcomes], release=lock)
            lock = None
            return outcomes
        finally:
            if lock is not None:
                self._release_quietly(lock)

    def _decide_and_write(
        self, role: RoleRef, items: Sequence[tuple[FindingRef, Finding]], lock: Lock | None = None
    ) -> list[Outcome]:
        state = self._get_role(role)
        if state is None:
            plan = Plan("skip", planner.ROLE_NOT_FOUND, "the role no longer exists")
            return [self._outcome(ref, finding, plan) for ref, finding in items]
        running = state.policy
        plans: list[Plan] = []
        for _, finding in items:
            plan = planner.plan_finding(finding, replace(state, policy=running), self.settings)
            if plan.decision == "remediate" and plan.policy_after is not None:
                running = plan.policy_after
            plans.append(plan)
        if running is not state.policy:
            margin = min(WRITE_MARGIN_SECONDS, self.settings.lock_lease_seconds / 4)
            if lock is not None and not self.audit.still_held(lock, margin):
                raise LockLost(f"lease on {role.arn} is nearly over: not writing a policy read under it")
            rejection = self._write(role, running)
            if rejection is not None:
                decision, reason, message = rejection
                plans = [
                    replace(p, decision=decision, reason=reason, summary=message, policy_after=None)
                    if p.decision == "remediate"
                    else p
                    for p in plans
                ]
                running = state.policy
        return [
            self._outcome(ref, finding, plan, state.policy, running if plan.decision == "remediate" else None)
            for (ref, finding), plan in zip(items, plans, strict=True)
        ]

    def _get_role(self, role: RoleRef) -> RoleState | None:
        try:
            response = self.clients.iam().get_role(RoleName=role.name)
        except Exception as err:
            if error_code(err) == "NoSuchEntity":
                return None
            raise
        data = response["Role"]
        policy: Any = data.get("AssumeRolePolicyDocument", {})
        if isinstance(policy, str):  # boto3 decodes it to a dict; a raw string would be URL-encoded JSON
            from urllib.parse import unquote

            policy = json.loads(unquote(policy))
        tags = {tag["Key"]: tag["Value"] for tag in data.get("Tags", [])}
        return RoleState(data["Arn"], data.get("Path", "/"), tags, policy)

    def _write(self, role: RoleRef, policy: Policy) -> tuple[planner.Decision, str, str] | None:
        """UpdateAssumeRolePolicy; a permanent IAM refusal becomes (decision, reason, message) instead of a retry."""
        try:
            self.clients.iam().update_assume_role_policy(RoleName=role.name, PolicyDocument=compact(policy))
        except Exception as err:
            code = error_code(err)
            if code in _IAM_REJECTIONS:
                decision, reason = _IAM_REJECTIONS[code]
                return decision, reason, f"IAM refused the change ({code}): nothing written"
            raise
        return None

    def _outcome(
        self,
        ref: FindingRef,
        finding: Finding,
        plan: Plan,
        before: Policy | None = None,
        after: Policy | None = None,
    ) -> Outcome:
        revert_policy = None
        if plan.decision == "remediate" and after is not None:
            revert_policy, _ = remove_denies(after, plan.added)
        elif plan.policy_after is not None:
            after = plan.policy_after  # notify mode: what would be written
        return Outcome(ref, plan.decision, plan.reason, plan.summary, finding, plan, before, after, revert_policy)

    def _record(self, outcome: Outcome) -> AuditRecord:
        finding = outcome.finding
        assert finding is not None
        plan = outcome.plan
        written = outcome.decision == "remediate" and plan is not None
        extra = {}
        if plan is not None and not written and plan.added:
            extra["would_deny"] = _json([e.to_json() for e in plan.added])
        if plan is not None and plan.notes:
            extra["notes"] = _json(list(plan.notes))
        return AuditRecord(
            finding_id=finding.id,
            kind="DECISION",
            decision=outcome.decision,
            reason=outcome.reason,
            summary=outcome.summary,
            mode=self.settings.mode,
            analyzer_arn=finding.analyzer_arn,
            resource_arn=finding.resource_arn,
            principal=finding.principal,
            actions=finding.actions,
            denied=[e.to_json() for e in plan.added] if written and plan else [],
            policy_before=compact(outcome.policy_before) if outcome.policy_before is not None else None,
            policy_after=compact(outcome.policy_after) if outcome.policy_after is not None else None,
            extra=extra,
        )

    def _release_quietly(self, lock: Lock) -> None:
        try:
            self.audit.release(lock)
        except Exception as err:  # the lease expires on its own; the original error matters more
            logger.warning("lock release failed", extra={"role_arn": lock.role_arn, "error": repr(err)})


def sweep(
    remediator: Remediator,
    chunk: int = 50,
    progress: Callable[[int, list[Outcome]], None] | None = None,
) -> list[Outcome]:
    """Process every ACTIVE IAM role finding in chunks (the backfill for lost or pre-existing findings)."""
    outcomes: list[Outcome] = []
    batch: list[FindingRef] = []
    for ref in remediator.active_role_findings():
        batch.append(ref)
        if len(batch) >= chunk:
            outcomes += remediator.process(batch)
            batch = []
            if progress:
                progress(len(outcomes), outcomes)
    if batch:
        outcomes += remediator.process(batch)
        if progress:
            progress(len(outcomes), outcomes)
    return outcomes


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
