"""The remediation path shared by the Lambda, the sweep and the CLI.

Per batch: every finding is re-read with GetFinding (the event is only a claim), concurrently; findings are grouped
by role and each role runs one cycle (cycle.RoleCycle: lease, ledger, intent, write, records, commit), roles
concurrently; the records and notices of everything that needed no write are stored together; `announce` then
publishes the notices and clears them from the outbox.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

from . import approval, planner
from .audit import AuditStore, OutboxItem
from .clients import AwsClients, error_code
from .confirmation import SEND_BATCH, Confirmer
from .cycle import Budget, Counters, ResourceCycle
from .findings import Finding, FindingRef, MalformedEvent, finding_from_api, finding_reference
from .members import MemberAccess, Route
from .notify import Notice, publish
from .outcomes import (
    ERROR_FINDING,
    FINDING_MISMATCH,
    FINDING_NOT_ACTIVE,
    FINDING_NOT_FOUND,
    UNKNOWN_ANALYZER,
    UNSUPPORTED_RESOURCE_TYPE,
    Outcome,
    audit_record,
    from_plan,
)
from .planner import Plan
from .proofs import Prover
from .resources import AdapterFactory, registry
from .settings import Settings
from .state import StateStore
from .subscription import SubscriptionGate

logger = logging.getLogger(__name__)

WORKERS = 16  # findings verified and roles handled at once within one invocation
CLI_LEASE_SECONDS = 900  # a person's CLI has no timeout to bound its writes: it holds a role for the longest lease
T = TypeVar("T")
R = TypeVar("R")


class NotificationFailed(RuntimeError):
    """SNS did not take the digest: the notices stay in the outbox and their findings are retried."""


class SweepFailed(RuntimeError):
    """The sweep could not list or enqueue every finding: it raises, so the Errors alarm and retries see it."""


class Remediator:
    def __init__(
        self,
        settings: Settings,
        clients: AwsClients,
        audit: AuditStore | None = None,
        *,
        state: StateStore | None = None,
        lock_wait_seconds: float = 20.0,
        consistency_window: float | None = None,
        workers: int = WORKERS,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.clients = clients
        table = settings.audit_table_name
        self.audit = audit or AuditStore(clients.dynamodb(), table, settings.audit_retention_days, clock, sleep)
        self.state = state or StateStore(clients.dynamodb(), table, clock, sleep)
        self.lock_wait_seconds = lock_wait_seconds
        self.consistency_window = consistency_window
        self.workers = workers
        self.clock = clock
        self.sleep = sleep
        self.counters = Counters()
        # Confirm after writing, whoever wrote: the Lambda, the CLI, an approval (confirmation.py).
        self.confirmer = Confirmer(settings, clients, self.audit, clock, parallel=self._parallel)
        self._adapters: dict[str, AdapterFactory] = registry()
        self._gate: SubscriptionGate | None = None
        self._gate_lock = threading.Lock()
        self._prepared: set[tuple[str, str]] = set()  # clients made ahead (`_prepare_clients`)

    # -- entry points ------------------------------------------------------------------------------------------
    def process(
        self,
        refs: Sequence[FindingRef],
        remaining: Callable[[], float] | None = None,
        *,
        meanwhile: Callable[[list[Outcome]], None] | None = None,
    ) -> list[Outcome]:
        """Decide and act on every reference; one Outcome per reference, in order. Never raises for one finding:
        a finding that could not be handled is a `failed` outcome (hand it back for a retry). `meanwhile(outcomes)`
        runs on the calling thread while their confirmations are scheduled (the Lambda publishes the notices then):
        neither waits for the other; what it raises is raised once the scheduling is done."""
        budget = Budget(remaining)
        self._prepare_clients(refs)
        # Whether a subscription is confirmed and what GetFinding says do not depend on each other: ask at once.
        # Whether a note waits for the digest does not decide anything: it is read beside the cycles.
        with ThreadPoolExecutor(max_workers=1) as side:
            mode = side.submit(self._effective_settings)
            verified = self._parallel(self._verify_safely, list(refs))
            try:
                settings, gated = mode.result()
            except Exception as err:  # which mode applies is unknown: nothing is decided, everything is retried
                logger.warning("could not read the topic's subscriptions", extra={"error": repr(err)})
                failed = [Outcome(ref, "failed", "subscription_check_failed", repr(err), error=err) for ref in refs]
                ordered = _logged(failed)
            else:
                if not gated:
                    side.submit(self._look_for_note)
                ordered = self._decide(refs, verified, settings, gated, budget)
        if meanwhile is None:
            self.confirmer.schedule(ordered, budget.left)
            return ordered
        with ThreadPoolExecutor(max_workers=1) as side:
            scheduled = side.submit(self.confirmer.schedule, ordered, budget.left)  # never raises
            meanwhile(ordered)
        scheduled.result()
        return ordered

    def _decide(
        self,
        refs: Sequence[FindingRef],
        verified: list[Finding | Outcome],
        settings: Settings,
        gated: bool,
        budget: Budget,
    ) -> list[Outcome]:
        groups: dict[str, list[int]] = {}
        resolved: dict[str, list[int]] = {}
        for index, item in enumerate(verified):
            if isinstance(item, Finding):
                groups.setdefault(item.resource_arn, []).append(index)
            elif item.reason == FINDING_NOT_ACTIVE and item.finding is not None:
                resolved.setdefault(item.finding.resource_arn, []).append(index)
        outcomes: dict[int, Outcome] = {i: item for i, item in enumerate(verified) if isinstance(item, Outcome)}
        # Organization mode: the clients of each member account, made once per invocation (members.py).
        access = MemberAccess(self.clients)
        cycles = _Cycles(lambda finding, route: self._cycle(route.settings, budget, finding, route.clients))

        def run(arn: str) -> list[tuple[int, Outcome]]:
            indexes = groups[arn]
            items = [(refs[i], verified[i]) for i in indexes]
            findings = [(ref, f) for ref, f in items if isinstance(f, Finding)]
            try:
                route = access.route(findings[0][1], settings, gated)
                if not isinstance(route, Route):  # an account rail, or a member role it could not assume
                    return [(i, from_plan(r, f, route)) for i, (r, f) in zip(indexes, findings, strict=True)]
                cycle = cycles.get(findings[0][1], route)
                ref = cycle.adapter.ref(arn, findings[0][1].resource_owner_account)
                return list(zip(indexes, cycle.run(ref, findings), strict=True))
            except Exception as err:
                logger.warning("role processing failed", extra={"role_arn": arn, "error": repr(err)})
                return [
                    (i, Outcome(r, "failed", _failure(err), repr(err), f, error=err))
                    for i, (r, f) in zip(indexes, findings, strict=True)
                ]

        def complete(arn: str) -> list[tuple[int, Outcome]]:
            # A finding that is no longer ACTIVE may have been resolved by a write whose notice was never sent.
            first = resolved[arn][0]
            finding = outcomes[first].finding
            assert finding is not None
            try:
                route = access.route(finding, settings, gated)
                if not isinstance(route, Route):
                    return []
                cycle = cycles.get(finding, route)
                extra = cycle.complete_interrupted(cycle.adapter.ref(arn, finding.resource_owner_account))
            except Exception as err:
                logger.warning("completing an interrupted change failed", extra={"role_arn": arn, "error": repr(err)})
                return [(first, replace(outcomes[first], decision="failed", reason=_failure(err), error=err))]
            return [(first, replace(outcomes[first], extra=tuple(extra)))] if extra else []

        for pairs in self._parallel(run, list(groups)):
            outcomes.update(pairs)
        for pairs in self._parallel(complete, [arn for arn in resolved if arn not in groups]):
            outcomes.update(pairs)
        ordered = [outcomes[index] for index in range(len(refs))]
        # Held back (no confirmed subscription), or approve mode's planned changes made pending requests.
        ordered = [_held_back(o) for o in ordered] if gated else approval.hold(self, ordered, settings)
        ordered = self._store_the_rest(ordered, settings, gated)
        if gated:
            self._count_held_back(ordered)
        for cycle in cycles.all():
            self.counters.stale_reads += cycle.counters.stale_reads
            self.counters.repaired += cycle.counters.repaired
        return _logged(ordered)

    def announce(self, outcomes: Sequence[Outcome], account: str, flush: bool = False) -> list[str]:
        """Publish the notices of `outcomes` (and, with `flush`, every notice left in the outbox by earlier
        invocations), then mark them sent. Returns the SNS message ids. Raises NotificationFailed."""
        items: dict[str, OutboxItem] = {}
        for outcome in (each for o in outcomes for each in o.all()):
            for item in outcome.outbox:
                items.setdefault(item.key, item)
        own = list(items)
        if flush:
            try:
                for item in self.audit.waiting(float(self.settings.lock_lease_seconds)):
                    items.setdefault(item.key, item)
            except Exception as err:  # they stay in the outbox for the next flush; this batch's go out now
                logger.warning("could not read the outbox", extra={"error": repr(err)})
        notices = _dedupe([Notice.from_json(n) for item in items.values() for n in item.notices])
        prologue = self._gate_note()
        if not notices and not prologue:
            return []
        topic = self.settings.topic_arn
        try:
            ids = publish(self.clients.sns(topic.split(":")[3]), topic, notices, account, prologue or "")
        except Exception as err:
            logger.warning("notification failed", extra={"error": repr(err), "notices": len(notices)})
            try:
                self.audit.abandon([items[key] for key in own])
            except Exception as abandon_err:  # the notices are in the outbox anyway: only their grace is longer
                logger.warning("could not mark notices abandoned", extra={"error": repr(abandon_err)})
            raise NotificationFailed(f"SNS did not take {len(notices)} notice(s): {err!r}") from err
        try:
            self.audit.published(list(items.values()), ids)
        except Exception as err:  # they were sent: the worst case is that they are sent once more later
            logger.warning("could not clear the outbox after publishing", extra={"error": repr(err)})
        return ids

    def enqueue_sweep(self) -> int:
        """Put a reference to every ACTIVE finding of the analyzers on the queue (the normal path does the work).
        An analyzer that cannot be listed does not stop the others; the sweep raises at the end, naming it."""
        queue_url = self.settings.queue_url
        if not queue_url:
            raise SweepFailed("AAR_QUEUE_URL is not set: the sweep has no queue to put findings on")
        sqs = self.clients.sqs(self.settings.queue_region)
        sent = 0
        problems: list[str] = []
        for analyzer_arn in self.settings.analyzer_arns:
            batch: list[FindingRef] = []
            try:
                for ref in self.active_findings([analyzer_arn]):
                    batch.append(ref)
                    if len(batch) == SEND_BATCH:
                        sent += self._send(sqs, queue_url, batch)
                        batch = []
                if batch:
                    sent += self._send(sqs, queue_url, batch)
            except Exception as err:
                logger.warning("sweep of an analyzer failed", extra={"analyzer": analyzer_arn, "error": repr(err)})
                problems.append(f"{analyzer_arn}: {err!r}")
        if problems:
            raise SweepFailed(f"sweep enqueued {sent} finding(s) but failed for {'; '.join(problems)}")
        return sent

    def _send(self, sqs: Any, queue_url: str, refs: Sequence[FindingRef]) -> int:
        entries = {
            str(n): json.dumps(finding_reference(ref.analyzer_arn, ref.finding_id)) for n, ref in enumerate(refs)
        }
        delay = 0.2
        for _attempt in range(6):
            response = sqs.send_message_batch(
                QueueUrl=queue_url, Entries=[{"Id": key, "MessageBody": body} for key, body in entries.items()]
            )
            failed = {f["Id"] for f in response.get("Failed", [])}
            entries = {key: body for key, body in entries.items() if key in failed}
            if not entries:
                return len(refs)
            self.sleep(delay)
            delay = min(delay * 2, 5.0)
        raise SweepFailed(f"SQS refused {len(entries)} finding reference(s) after retries")

    def active_findings(self, analyzer_arns: Sequence[str] | None = None) -> Iterator[FindingRef]:
        """Every ACTIVE finding of the analyzers on the resource types this deployment receives (ListFindingsV2,
        paginated): those the tool contains and those it reports."""
        for analyzer_arn in analyzer_arns or self.settings.analyzer_arns:
            client = self.clients.access_analyzer(analyzer_arn.split(":")[3])
            paginator = client.get_paginator("list_findings_v2")
            pages = paginator.paginate(
                analyzerArn=analyzer_arn,
                filter={"status": {"eq": ["ACTIVE"]}, "resourceType": {"eq": list(self.settings.resource_types)}},
            )
            for page in pages:
                for summary in page.get("findings", []):
                    yield FindingRef(analyzer_arn, summary["id"])

    # -- verification ------------------------------------------------------------------------------------------
    def verify(self, ref: FindingRef) -> Finding | Outcome:
        """Trust nothing: the analyzer must be ours and GetFinding must confirm an ACTIVE matching finding."""
        if ref.analyzer_arn not in self.settings.analyzer_arns:
            return Outcome(ref, "skip", UNKNOWN_ANALYZER, f"{ref.analyzer_arn} is not a configured analyzer", ref.claim)
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
        resource_type = str(data.get("resourceType", "")).strip()
        if resource_type not in self.settings.resource_types:
            return Outcome(ref, "skip", UNSUPPORTED_RESOURCE_TYPE, f"resource type {data.get('resourceType')}")
        try:
            finding = finding_from_api(data, ref.analyzer_arn)
        except MalformedEvent as err:
            return Outcome(ref, "skip", FINDING_MISMATCH, f"GetFinding returned an unusable finding: {err}", ref.claim)
        claim = ref.claim
        if claim is not None and (claim.resource_arn, claim.id) != (finding.resource_arn, finding.id):
            return Outcome(ref, "skip", FINDING_MISMATCH, "event does not match GetFinding: not acted on", claim)
        if finding.status != "ACTIVE":
            return Outcome(ref, "skip", FINDING_NOT_ACTIVE, f"finding is {finding.status} now", finding)
        if finding.resource_type not in self._adapters:
            # A type this deployment receives but the tool does not contain: always reported, never changed.
            plan = Plan(
                "notify",
                planner.NOT_CONTAINED_TYPE,
                f"this tool does not contain {finding.resource_type} findings: review this access by hand",
            )
            return from_plan(ref, finding, plan)
        return finding

    def _verify_safely(self, ref: FindingRef) -> Finding | Outcome:
        try:
            return self.verify(ref)
        except Exception as err:  # AWS trouble: hand the record back for a retry, keep going with the rest
            logger.warning("GetFinding failed", extra={"correlation_id": ref.finding_id, "error": repr(err)})
            return Outcome(ref, "failed", "get_finding_failed", repr(err), error=err)

    # -- helpers -------------------------------------------------------------------------------------------------
    def _cycle(
        self, settings: Settings, budget: Budget, finding: Finding, clients: AwsClients
    ) -> ResourceCycle[Any, Any]:
        cycle: ResourceCycle[Any, Any] = ResourceCycle(
            settings,
            self._adapters[finding.resource_type](clients, finding.region),
            self.audit,
            self.state,
            budget,
            clock=self.clock,
            sleep=self.sleep,
            lock_wait_seconds=self.lock_wait_seconds,
            prover=Prover(self.clients.access_analyzer(finding.region)) if settings.prove_changes else None,
        )
        if self.consistency_window is not None:
            cycle.consistency_window = self.consistency_window
        return cycle

    def _prepare_clients(self, refs: Sequence[FindingRef]) -> None:
        """The clients these findings will need, made in the background while GetFinding waits (AwsClients.prepare):
        once per kind and Region per execution environment. The claimed resource type only chooses which adapter
        to load early; what is decided still rests on the finding GetFinding returns."""
        confirm = self.settings.confirm_changes and self.settings.queue_url is not None
        queue_region = self.settings.queue_region
        wanted: dict[tuple[str, str], Callable[[], object]] = {}
        for ref in refs:
            if ref.analyzer_arn not in self.settings.analyzer_arns:
                continue
            wanted[("accessanalyzer", ref.region)] = partial(self.clients.access_analyzer, ref.region)
            claim = ref.claim
            # A resource of another account is handled with that account's clients (members.py): none made here.
            if claim is None or claim.resource_owner_account != ref.analyzer_arn.split(":")[4]:
                continue
            claimed = claim.resource_type
            if claimed in self._adapters and claimed in self.settings.resource_types:
                wanted[(claimed, ref.region)] = partial(self._adapters[claimed], self.clients, ref.region)
        if confirm and wanted:
            wanted[("sqs", queue_region)] = partial(self.clients.sqs, queue_region)
        makers = [make for key, make in wanted.items() if key not in self._prepared]
        if makers:
            self._prepared.update(wanted)
            self.clients.prepare(makers)

    def _store_the_rest(self, outcomes: list[Outcome], settings: Settings, gated: bool) -> list[Outcome]:
        """Records and notices of every outcome a cycle did not store (no write was needed): one batch."""
        pending = [
            (index, outcome)
            for index, outcome in enumerate(outcomes)
            if not outcome.failed and outcome.finding is not None and not outcome.stored
        ]
        if not pending:
            return outcomes

        def mode(outcome: Outcome) -> str:  # the finding's mode (Settings.mode_for), unless held back
            assert outcome.finding is not None
            finding = outcome.finding
            return settings.mode if gated else settings.mode_for(finding.resource_owner_account, finding.resource_type)

        records = [o.record if o.record is not None else self.audit.stamp(audit_record(o, mode(o))) for _, o in pending]
        pairs = [(o.notice(mode(o)).to_json(), r) for (_, o), r in zip(pending, records, strict=True) if o.notifies]
        outbox = self.audit.outbox(pairs)
        try:
            self.audit.write(records, outbox)
        except Exception as err:
            logger.warning("audit write failed", extra={"error": repr(err)})
            for index, outcome in pending:
                outcomes[index] = replace(outcome, decision="failed", reason="audit_failed", error=err)
            return outcomes
        for (index, outcome), record in zip(pending, records, strict=True):
            outbox_of = tuple(outbox) if outcome.notifies else ()
            outcomes[index] = replace(outcome, record=record, outbox=outbox_of, stored=True)
        return outcomes

    def _effective_settings(self) -> tuple[Settings, bool]:
        settings = self.settings
        if not settings.may_remediate or not settings.require_confirmed_subscription:
            return settings, False
        if self._subscription_gate().confirmed():
            return settings, False
        logger.warning("no confirmed subscription: acting in notify mode", extra={"topic": settings.topic_arn})
        return settings.with_mode("notify"), True

    def _look_for_note(self) -> None:
        if not self.settings.may_remediate or not self.settings.require_confirmed_subscription:
            return
        try:
            self._subscription_gate().look_for_note()  # not in front of the digest's Publish
        except Exception as err:  # announce's take_note asks again, as it did before
            logger.warning("could not read the subscription note", extra={"error": repr(err)})

    def _subscription_gate(self) -> SubscriptionGate:
        with self._gate_lock:
            if self._gate is None:
                topic = self.settings.topic_arn
                self._gate = SubscriptionGate(
                    self.clients.sns(topic.split(":")[3]),
                    self.clients.dynamodb(),
                    topic,
                    self.settings.audit_table_name,
                    self.clock,
                )
            return self._gate

    def _gate_note(self) -> str | None:
        if not self.settings.require_confirmed_subscription or not self.settings.may_remediate:
            return None
        try:
            return self._subscription_gate().take_note()
        except Exception as err:
            logger.warning("could not read the subscription note", extra={"error": repr(err)})
            return None

    def _count_held_back(self, outcomes: Sequence[Outcome]) -> None:
        held = sum(1 for o in outcomes if o.reason == planner.NO_CONFIRMED_SUBSCRIPTION)
        if held:
            try:
                self._subscription_gate().held_back(held)
            except Exception as err:  # only the later "held back" note depends on it
                logger.warning("could not count held-back findings", extra={"error": repr(err)})

    def _parallel(self, function: Callable[[T], R], items: list[T]) -> list[R]:
        if len(items) <= 1 or self.workers <= 1:
            return [function(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(items))) as pool:
            return list(pool.map(function, items))


class _Cycles:
    """One cycle per resource type, Region, account and mode within a batch (each with its adapter and clients:
    another account's are its member role's), made on first use; roles, buckets and keys are handled
    concurrently."""

    def __init__(self, make: Callable[[Finding, Route], ResourceCycle[Any, Any]]) -> None:
        self._make = make
        self._made: dict[tuple[str, str, str, str], ResourceCycle[Any, Any]] = {}
        self._lock = threading.Lock()

    def get(self, finding: Finding, route: Route) -> ResourceCycle[Any, Any]:
        key = (finding.resource_type, finding.region, route.account, route.settings.mode)
        with self._lock:
            if key not in self._made:
                self._made[key] = self._make(finding, route)
            return self._made[key]

    def all(self) -> list[ResourceCycle[Any, Any]]:
        with self._lock:
            return list(self._made.values())


def _held_back(outcome: Outcome) -> Outcome:
    if outcome.reason != planner.NOTIFY_MODE or outcome.plan is None:
        return outcome
    summary = outcome.summary.replace("(notify mode)", "(no confirmed subscription to the topic yet)")
    plan = replace(outcome.plan, reason=planner.NO_CONFIRMED_SUBSCRIPTION, summary=summary)
    return replace(outcome, reason=planner.NO_CONFIRMED_SUBSCRIPTION, summary=summary, plan=plan, record=None)


def _dedupe(notices: list[Notice]) -> list[Notice]:
    """One notice per finding and headline; an ALREADY CONTAINED notice is dropped when the REMEDIATED one that
    announces the same finding is in the same digest (a redelivery met the notice left behind)."""
    remediated = {n.finding.id for n in notices if n.decision == "remediate"}
    seen: set[tuple[str, str]] = set()
    result = []
    for notice in notices:
        key = (notice.finding.id, notice.headline)
        if key in seen or (notice.decision == "skip" and notice.finding.id in remediated):
            continue
        seen.add(key)
        result.append(notice)
    return result


def _logged(outcomes: list[Outcome]) -> list[Outcome]:
    """One "decision" log line per outcome, those handed back for a retry included: every record has its cause."""
    for outcome in outcomes:
        for each in outcome.all():
            logger.info(
                "decision",
                extra={
                    "correlation_id": each.ref.finding_id,
                    "decision": each.decision,
                    "reason": each.reason,
                    "summary": each.summary,
                },
            )
    return outcomes


def _failure(err: BaseException) -> str:
    name = type(err).__name__
    return {
        "LockBusy": "lock_busy",
        "LockLost": "lock_lost",
        "OutOfTime": "out_of_time",
        "StaleRead": "stale_read",
        "AuditWriteFailed": "audit_failed",
        "ProofUnavailable": "proof_unavailable",
    }.get(name, "processing_failed")


def sweep(
    remediator: Remediator,
    chunk: int = 50,
    progress: Callable[[int, list[Outcome]], None] | None = None,
    announce: Callable[[list[Outcome], bool], None] | None = None,
) -> list[Outcome]:
    """Process every ACTIVE IAM role finding here, in chunks (the CLI's sweep; the Lambda's enqueues instead).
    `announce(outcomes, first)` is called per chunk, so a sweep that stops half way has announced what it did."""
    outcomes: list[Outcome] = []
    batch: list[FindingRef] = []

    def run() -> None:
        done = remediator.process(batch)
        if announce:
            announce(done, not outcomes)
        outcomes.extend(done)
        if progress:
            progress(len(outcomes), outcomes)

    for ref in remediator.active_findings():
        batch.append(ref)
        if len(batch) >= chunk:
            run()
            batch = []
    if batch:
        run()
    return outcomes
