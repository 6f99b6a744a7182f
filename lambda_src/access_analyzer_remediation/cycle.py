"""One read-modify-write cycle on one role: lease and intent, a read the ledger vouches for, the plan, the write,
the records and notices, then the ledger and the release. The engine runs one cycle per role and batch. Every read,
plan and write of the role itself goes through its adapter (resources.iam_role).

The order of a cycle, and why:

1. GetRole before the lease (optimistic): most of the time nothing else touches the role and this read is good.
2. Lease + intent in one conditional UpdateItem, which also returns the ledger and any intent an interrupted holder
   left behind.
3. The read is checked against the ledger: every entry the ledger holds must show, no entry a revert removed may
   show. If not (IAM's eventual consistency), re-read with backoff while the last commit is recent enough for a
   stale read to explain it; otherwise the difference is real (a hand edit) and the ledger's entries are written
   again. Out of time: hand the findings back for a retry, nothing written.
4. Interrupted intents are completed (their entries written again, their records and notices written now).
5. Our plans are made on top; nothing is written unless the invocation still has the time for the write, the
   records and the notice, and the lease still has a margin.
6. Records and outbox (notified = false) first, then the commit: the ledger and the release in one conditional
   UpdateItem. A crash anywhere leaves an intent or an outbox item that the next holder or flush completes.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Generic

from . import confirmation, planner, proofs
from .audit import AuditRecord, AuditStore, new_id
from .clients import error_code
from .findings import Finding, FindingRef
from .outcomes import Outcome, audit_record, completed_outcomes, from_plan, payload
from .planner import SideChange
from .policy import (
    DenyEntry,
    Policy,
    compact,
    match_statement_form,
    missing_entries,
    present_entries,
    remove_denies,
    restore_entries,
)
from .resources import Adapter, Conflict, RefT, Rejection, SnapshotT
from .settings import Settings
from .state import Intended, Intent, Lease, Ledger, LockBusy, LockLost, ResourceState, StateStore, Tombstone

logger = logging.getLogger(__name__)

# A write is started only with this much of the lease left (or a quarter of the lease, if shorter), and only with
# WRITE_RESERVE_SECONDS of the invocation left: the write, the records, the commit and the digest must fit.
WRITE_MARGIN_SECONDS = 5.0
WRITE_RESERVE_SECONDS = 10.0
# How long after a commit a read that lacks a ledger entry is taken for IAM's eventual consistency (re-read) rather
# than a change made by hand (the entry is written again). IAM documents "usually seconds".
CONSISTENCY_WINDOW_SECONDS = 30.0


class OutOfTime(RuntimeError):
    """Not enough of the invocation is left to write, record and announce: hand the findings back."""


class StaleRead(RuntimeError):
    """IAM kept returning a document older than the ledger until time ran out: hand the findings back."""


class Budget:
    """The invocation's remaining time (the Lambda context's), or unlimited (the CLI)."""

    def __init__(self, remaining: Callable[[], float] | None = None) -> None:
        self._remaining = remaining

    def left(self) -> float:
        return self._remaining() if self._remaining is not None else math.inf

    def reserve(self, lease_seconds: float) -> float:
        return min(WRITE_RESERVE_SECONDS, lease_seconds / 4)


@dataclass
class Counters:
    """What a cycle met that the metrics count: reads the ledger showed stale, ledger entries written again."""

    stale_reads: int = 0
    repaired: int = 0


@dataclass
class ResourceCycle(Generic[RefT, SnapshotT]):
    """One resource's containment through its adapter: read, plan, prove, lease, write, record, commit."""

    settings: Settings
    adapter: Adapter[RefT, SnapshotT]
    audit: AuditStore
    state: StateStore
    budget: Budget
    counters: Counters = field(default_factory=Counters)
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    lock_wait_seconds: float = 20.0
    consistency_window: float = CONSISTENCY_WINDOW_SECONDS
    prover: proofs.Prover | None = None  # prove before writing (settings.prove_changes); None: no check call

    # -- entry ---------------------------------------------------------------------------------------------------
    def run(self, role: RefT, items: Sequence[tuple[FindingRef, Finding]]) -> list[Outcome]:
        """Outcomes for `items` (in order). Outcomes of a write carry their record (already stored); the others are
        recorded by the caller, with the rest of the batch."""
        guarded = self.adapter.guard(role, self.settings, items[0][1].analyzer_arn) if items else None
        if guarded is not None:
            return [from_plan(ref, finding, guarded) for ref, finding in items]
        pre = self.read(role)
        if pre is None:
            return [from_plan(ref, finding, self.adapter.gone()) for ref, finding in items]
        outcomes, _ = self._plan(role, items, pre, ResourceState(role.arn))
        if self.settings.mode != "remediate":
            return outcomes
        outcomes = self._proven(outcomes, pre.policy)
        # Nothing to write for these findings? An invocation that died mid-write may still have left an intent on
        # this role (its notice not yet sent): complete it now, whatever these findings need.
        if not any(o.decision == "remediate" for o in outcomes) and not self._pending(role):
            return outcomes
        return self._locked(role, items, pre, outcomes)

    def complete_interrupted(self, role: RefT) -> list[Outcome]:
        """For a role whose finding is no longer ACTIVE: finish an intent an interrupted holder left behind."""
        if self.settings.mode != "remediate" or not self._pending(role):
            return []
        pre = self.read(role)
        if pre is None:
            return []
        return self._locked(role, [], pre, [])

    def _pending(self, role: RefT) -> bool:
        """Is an intent waiting on this role that this cycle must complete, or a late write to set right? While its
        holder's lease runs (the holder may be alive and finish it, or dead), the finding is handed back: its retry
        comes after the lease, so an intent never waits for a next event that may not come."""
        peeked = self.state.peek(role.arn)
        if not peeked.intents and not peeked.late_write_unsettled:
            return False
        if peeked.leased(self.clock()):
            raise LockBusy(f"{role.arn} has a change in progress: retry after its lease")
        return True

    # -- the locked path -----------------------------------------------------------------------------------------
    def _locked(
        self, role: RefT, items: Sequence[tuple[FindingRef, Finding]], pre: SnapshotT, planned: list[Outcome]
    ) -> list[Outcome]:
        intent = self._intent(role, planned, new_id(), new_id())
        lease = self._acquire(role, intent)
        progress = _Progress()
        try:
            return self._contain(
                role, items=items, pre=pre, planned=planned, lease=lease, intent=intent, progress=progress
            )
        except Exception:
            self._let_go(lease, progress)
            raise

    def _let_go(self, lease: Lease, progress: _Progress) -> None:
        """After a failure: nothing written, drop our intent with the lease; a write that may have happened keeps
        its intent, so the next holder (this finding's retry, say) completes it at once instead of waiting out the
        lease."""
        try:
            if progress.written:
                self.state.release(lease)
            else:
                self.state.abort(lease)
        except Exception as err:  # the lease expires on its own; the original error matters more
            logger.warning("could not release the lease", extra={"role": lease.resource_arn, "error": repr(err)})

    def _acquire(self, role: RefT, intent: Intent) -> Lease:
        reserve = self.budget.reserve(self.settings.lock_lease_seconds)
        wait = min(self.lock_wait_seconds, self.budget.left() - reserve)
        if wait < 0:
            raise OutOfTime(f"{self.budget.left():.1f} s left: not starting a write on {role.arn}")
        return self.state.acquire(role.arn, self.settings.lock_lease_seconds, wait, intent)

    def _prepare(self, role: RefT, pre: SnapshotT, lease: Lease) -> _Prepared[SnapshotT]:
        """A read the ledger vouches for, and the document that must hold before any new change: the ledger's
        entries (never written back without them), no entry a revert removed, every interrupted change completed."""
        state = lease.state
        interrupted = [i for i in state.intents if i.id != lease.intent_id]
        read = pre if self._consistent(role, pre.policy, state) else self._await_consistent(role, lease)
        now = self.clock()
        base, repaired = restore_entries(read.policy, state.ledger.in_place())
        if repaired:
            self.counters.repaired += len(repaired)
            logger.warning("ledger entries missing from the policy: written again", extra={"role": role.arn})
        resources = self.adapter.resources(role)
        base, _ = remove_denies(
            base, [e for e in state.recent_tombstones(now) if e.key not in _keys(state.ledger)], resources
        )
        completed: list[Outcome] = []
        for other in interrupted:
            base, _ = restore_entries(base, other.adds.in_place())
            base, _ = remove_denies(base, other.removes, resources)
            completed += self._completed(other)
        return _Prepared(read, base, interrupted, completed, _ledger_after(state, interrupted), now, repaired)

    def _contain(
        self,
        role: RefT,
        *,
        items: Sequence[tuple[FindingRef, Finding]],
        pre: SnapshotT,
        planned: list[Outcome],
        lease: Lease,
        intent: Intent,
        progress: _Progress,
    ) -> list[Outcome]:
        state = lease.state
        ready = self._prepare(role, pre, lease)
        done = {o.finding.id for o in ready.completed if o.finding is not None}
        unchanged = ready.base == pre.policy and not state.intended and not ready.interrupted
        if unchanged and not done:
            mine, after = planned, _after(planned, pre.policy)  # the read before the lease was good: keep that plan
        else:
            stamps = {o.finding.id: o.record for o in planned if o.finding is not None and o.record is not None}
            todo = [(r, f) for r, f in items if f.id not in done]
            mine, after = self._plan(
                role, todo, ready.read.with_policy(ready.base), state, stamps=stamps, before=ready.read.policy
            )
            mine = self._proven(mine, ready.base)
            if any(o.reason == proofs.PROOF_REFUSED for o in mine):  # a proof refused the new plan: nothing written
                return self._rejected(lease, mine, ("notify", proofs.PROOF_REFUSED, ""), state)
            intent_now = self._intent(role, mine, intent.id, intent.owner)
            if _promise(intent_now) != _promise(intent):
                lease = self.state.record_intent(lease, intent_now)
        if missing_entries(after, ready.ledger.in_place()):
            raise RuntimeError(f"refusing to write a policy of {role.arn} that lacks a ledger entry")
        if after != ready.read.policy:
            rejection = self._write_under(role, lease, after, ready.read, progress)
            if rejection is not None:
                return self._rejected(lease, mine, rejection, state)
        # Beside the policy: what the interrupted changes and ours still need (each idempotent), once the Deny that
        # contains the finding is written.
        ready.completed = self._sides(role, lease, ready.completed, progress)
        mine = self._sides(role, lease, mine, progress)
        mine = self._restored(mine, ready.repaired, after)
        resources = self.adapter.resources(role)
        ours = iter(mine)
        by_id = {o.finding.id: o for o in ready.completed if o.finding is not None}
        result = [by_id.pop(finding.id) if finding.id in by_id else next(ours) for _, finding in items]
        extra = list(by_id.values())
        ledger = ready.ledger
        ledger.rebase(after, resources)
        for outcome in result + extra:
            if outcome.decision in ("remediate", "skip") and outcome.finding is not None:
                ledger.add(after, outcome.entries, outcome.finding.id, resources)
        stored = self._finish(
            lease,
            ready=ready,
            ledger=ledger,
            outcomes=result + extra,
            removed=[],
            intended=state.intended,
            intent_id=intent.id,
        )
        result, extra = stored[: len(result)], stored[len(result) :]
        if not result:
            return extra  # no finding of ours (a completion only): the completed outcomes themselves
        result[0] = replace(result[0], extra=tuple(extra))
        return result

    def revert(
        self,
        role: RefT,
        entries: Sequence[DenyEntry],
        records: Sequence[AuditRecord],
        keep: Intended | None = None,
        original: str | None = None,
        *,
        undo: Sequence[SideChange] = (),
    ) -> Reverted:
        """Remove exactly `entries` (an operator's revert) with every rail of a containment: lease, intent, a read
        the ledger vouches for, interrupted changes completed. `records`: one REVERT record per finding, each with
        the entries it reverts in `extra["removed"]` (narrowed to what was really removed). `original`: the document
        before the first Deny, whose Statement form a revert restores. `undo`: the side changes to undo, first,
        while the Deny still holds (a failure there leaves the Deny and the rest in place, and a second run goes
        on from where the first stopped)."""
        pre = self.read(role)
        if pre is None:
            raise LookupError(f"{role.arn} no longer exists")
        intent = Intent(new_id(), new_id(), self.clock(), Ledger(), tuple(entries), {"kind": "revert"})
        lease = self._acquire(role, intent)
        progress = _Progress()
        try:
            ready = self._prepare(role, pre, lease)
            after, removed = remove_denies(ready.base, entries, self.adapter.resources(role))
            if not removed and not undo:
                self.state.abort(lease)
                return Reverted(ready.read.policy, ready.read.policy, [], [], [])
            restored = []
            for change in undo:
                # Not `written`: an undo that fails drops this revert's intent, so no later holder removes the
                # Deny on its behalf; every undo is idempotent, and the operator's next revert makes the rest.
                self._may_write(role, lease)
                restored.append({"key": change.key, "summary": self.adapter.undo(role, change)})
            if original and removed:
                after = match_statement_form(after, json.loads(original))
            if removed:
                rejection = self._write_under(role, lease, after, ready.read, progress)
                if rejection is not None:
                    raise RuntimeError(rejection[2])
            ledger = ready.ledger
            ledger.remove(removed)
            intended = [*lease.state.intended, *([keep] if keep else [])]
            done = []
            for record in records:
                asked = [DenyEntry.from_json(e) for e in json.loads(record.extra.get("removed", "[]"))]
                mine = [e for e in removed if e in asked] if asked else removed
                summary = "; ".join(
                    [f"removed {len(mine)} Deny entr{'y' if len(mine) == 1 else 'ies'}"]
                    + [str(r["summary"]) for r in restored]
                )
                extra = {**record.extra, "removed": json.dumps([e.to_json() for e in mine], sort_keys=True)}
                if restored:
                    extra["restored"] = json.dumps(restored, sort_keys=True)
                done.append(
                    self.audit.stamp(
                        replace(
                            record,
                            summary=summary,
                            policy_before=compact(ready.read.policy),
                            policy_after=compact(after),
                            extra=extra,
                        )
                    )
                )
            self._finish(
                lease,
                ready=ready,
                ledger=ledger,
                outcomes=ready.completed,
                removed=removed,
                intended=intended,
                intent_id=intent.id,
                more_records=done,
            )
            return Reverted(ready.read.policy, after, removed, done, [str(r["summary"]) for r in restored])
        except Exception:
            self._let_go(lease, progress)
            raise

    def _may_write(self, role: RefT, lease: Lease) -> None:
        """A write starts only under a lease with a margin left, and with the time to record and announce it."""
        margin = min(WRITE_MARGIN_SECONDS, self.settings.lock_lease_seconds / 4)
        if not self.state.still_held(lease, margin):
            raise LockLost(f"lease on {role.arn} is nearly over: not writing a policy read under it")
        if self.budget.left() < self.budget.reserve(self.settings.lock_lease_seconds):
            raise OutOfTime(f"{self.budget.left():.1f} s left: not writing {role.arn}")

    def _sides(self, role: RefT, lease: Lease, outcomes: list[Outcome], progress: _Progress) -> list[Outcome]:
        """Make the side changes of the remediated outcomes. One the service refuses for good is dropped from the
        outcome (its record and notice say what was not done and how to do it by hand); the Deny already written
        contains the finding either way. Any other error is raised: the intent stays and the retry makes them."""
        result = []
        for outcome in outcomes:
            plan = outcome.plan
            if outcome.decision != "remediate" or plan is None or not plan.side_changes:
                result.append(outcome)
                continue
            made, refused = [], []
            # Where no Deny was written (a removed Lambda statement, snapshot sharing, an ACL grant), the side
            # changes are the containment: all of them refused leaves the access open, and the outcome says so.
            denied = bool(plan.added or outcome.entries)
            for change in plan.side_changes:
                self._may_write(role, lease)
                progress.written = True
                message = self.adapter.apply(role, change)
                if message is None:
                    made.append(change)
                else:
                    held = "the Deny contains the finding" if denied else "do it by hand"
                    refused.append(f"not done: {change.summary} ({message}); {held}")
            if not refused:
                result.append(outcome)
                continue
            kept = replace(plan, side_changes=tuple(made), notes=(*plan.notes, *refused))
            changed = replace(outcome, plan=kept)
            if not denied and not made:
                summary = f"the service refused the change, nothing contains the finding: {plan.summary}"
                kept = replace(kept, decision="notify", reason=planner.CHANGE_REFUSED, summary=summary)
                changed = replace(changed, decision="notify", reason=planner.CHANGE_REFUSED, summary=summary, plan=kept)
            record = outcome.record
            stamped = audit_record(
                changed,
                self.settings.mode,
                record.record_id if record else "",
                record.decided_at if record else "",
                record.intent_id if record else "",
            )
            result.append(replace(changed, record=self.audit.stamp(stamped)))
        return result

    def _write_under(
        self, role: RefT, lease: Lease, policy: Policy, planned_on: SnapshotT, progress: _Progress
    ) -> Rejection | None:
        self._may_write(role, lease)
        progress.written = True  # from here on the write may have happened: our intent stays until the commit
        try:
            rejection = self.write(role, policy, planned_on)
        except Exception as err:
            # A client error (AccessDenied, Throttling...) on the only attempt: IAM did not apply the change. A 5xx,
            # no answer, or a client error after botocore retried (the earlier attempts failed with a 5xx or no
            # answer, and one of them may have landed): it may have.
            metadata = getattr(err, "response", {}).get("ResponseMetadata", {})
            status, retried = int(metadata.get("HTTPStatusCode") or 0), int(metadata.get("RetryAttempts") or 0) > 0
            progress.written = not (error_code(err) and 400 <= status < 500 and not retried)
            if isinstance(err, Conflict):
                progress.written = False  # the service refused a conditional write: certainly nothing written
            raise
        if rejection is not None:
            progress.written = False
        return rejection

    def _finish(
        self,
        lease: Lease,
        *,
        ready: _Prepared[SnapshotT],
        ledger: Ledger,
        outcomes: Sequence[Outcome],
        removed: Sequence[DenyEntry],
        intended: Sequence[Intended],
        intent_id: str,
        more_records: Sequence[AuditRecord] = (),
    ) -> list[Outcome]:
        """Records, notices (notified = false) and the containments' pending checks (confirmation.py) first, then
        the ledger and the release in one conditional write."""
        records = [o.record for o in outcomes if o.record is not None] + list(more_records)
        outbox = self.audit.outbox(_announced(outcomes, self.settings.mode), key_hint=intent_id)
        checks = confirmation.planned(outcomes, self.settings, self.clock())
        self.audit.write(records, outbox, [confirmation.pending_item(c) for c in checks])
        tombstones = [t for t in lease.state.tombstones if t.entry.key not in _keys(ledger)]
        tombstones += [Tombstone(e, ready.now) for other in ready.interrupted for e in other.removes]
        tombstones += [Tombstone(e, ready.now) for e in removed]
        try:
            self.state.commit(lease, ledger, tombstones, intended, [i.id for i in ready.interrupted])
        except LockLost:
            # Records and notices are stored and our intent is in the item: a holder that took over completes it.
            # But our write may have landed after that holder's commit (an operator's revert, another finding's
            # Deny) and undone it: say so in the state item, and hand the findings back, so that their retry takes
            # the lease and sets the document right even when no other event for this resource ever comes.
            logger.warning("lease taken over before the commit", extra={"role": lease.resource_arn})
            self.state.mark_late_write(lease)
            raise
        return [replace(o, outbox=tuple(outbox), stored=True) for o in outcomes]

    def _restored(self, outcomes: list[Outcome], repaired: Sequence[DenyEntry], after: Policy) -> list[Outcome]:
        """A finding found "already contained" by an entry that had to be written again (missing from the trust
        policy after the consistency window: a hand edit, or a write that outlived its lease) was contained by this
        write: it is announced as remediated, with its undo."""
        if not repaired:
            return outcomes
        keys = {e.key for e in repaired}
        result = []
        for outcome in outcomes:
            again = [e for e in outcome.entries if e.key in keys] if outcome.reason == planner.ALREADY_CONTAINED else []
            if not again or outcome.plan is None:
                result.append(outcome)
                continue
            summary = "denied again " + ", ".join(f"{e.value} ({'/'.join(e.actions)})" for e in again)
            summary += f": the Deny was missing from the {self.adapter.document}"
            plan = replace(
                outcome.plan,
                decision="remediate",
                reason=planner.EXTERNAL_ACCESS_DENIED,
                summary=summary,
                added=tuple(again),
                policy_after=after,
            )
            changed = replace(
                outcome,
                decision="remediate",
                reason=planner.EXTERNAL_ACCESS_DENIED,
                summary=summary,
                plan=plan,
                entries=tuple(again),
                policy_after=after,
            )
            result.append(
                replace(changed, record=self._stamp(changed, outcome.record.record_id if outcome.record else ""))
            )
        return result

    def _rejected(
        self, lease: Lease, outcomes: list[Outcome], rejection: Rejection, state: ResourceState
    ) -> list[Outcome]:
        """IAM refused the document: nothing was written. Our findings are reported; interrupted intents stay for
        a later holder (the refused document would have completed them)."""
        decision, reason, message = rejection
        result = []
        for planned in outcomes:
            outcome = planned
            if planned.decision == "remediate" and planned.plan is not None:
                plan = replace(planned.plan, decision=decision, reason=reason, summary=message, policy_after=None)
                outcome = replace(
                    planned, decision=decision, reason=reason, summary=message, plan=plan, entries=(), policy_after=None
                )
                record_id = planned.record.record_id if planned.record else ""
                outcome = replace(outcome, record=self._stamp(outcome, record_id))
            result.append(outcome)
        records = [o.record for o in result if o.record is not None]
        outbox = self.audit.outbox(_announced(result, self.settings.mode))
        self.audit.write(records, outbox)
        self.state.commit(lease, state.ledger, state.tombstones, state.intended, [])
        return [replace(o, outbox=tuple(outbox), stored=True) for o in result]

    # -- reading -------------------------------------------------------------------------------------------------
    def read(self, role: RefT) -> SnapshotT | None:
        return self.adapter.read(role)

    def _consistent(self, role: RefT, policy: Policy, state: ResourceState) -> bool:
        """The read shows everything the ledger holds and nothing a recent revert removed."""
        if missing_entries(policy, state.ledger.in_place()):
            return False
        gone = [e for e in state.recent_tombstones(self.clock()) if e.key not in _keys(state.ledger)]
        return not present_entries(policy, gone, self.adapter.resources(role))

    def _await_consistent(self, role: RefT, lease: Lease) -> SnapshotT:
        """Re-read until the read agrees with the ledger, while a stale read can explain the difference. The read
        before the lease usually lags only because another worker committed in between: the first re-read is at
        once, later ones back off."""
        state = lease.state
        delay = 0.1
        reserve = self.budget.reserve(self.settings.lock_lease_seconds)
        margin = min(WRITE_MARGIN_SECONDS, self.settings.lock_lease_seconds / 4)
        while True:
            read = self.read(role)
            if read is None:
                raise RuntimeError(f"{role.arn} disappeared while it was leased")
            if self._consistent(role, read.policy, state):
                return read
            self.counters.stale_reads += 1
            window = max(self.consistency_window, self.adapter.propagation_seconds)
            if self.clock() >= state.updated_at + window or state.late_write_at >= state.updated_at:
                # No stale read explains it any more (a hand edit), or a write that outlived its lease overwrote the
                # last commit: the read is the truth, and the ledger's entries are written again.
                return read
            if self.budget.left() - reserve < delay or not self.state.still_held(lease, margin + delay):
                raise StaleRead(f"the service still returns an older policy of {role.arn}: retry later")
            self.sleep(delay)
            delay = min(delay * 2, 2.0)

    # -- planning ------------------------------------------------------------------------------------------------
    def _plan(
        self,
        ref_of: RefT,
        items: Sequence[tuple[FindingRef, Finding]],
        role: SnapshotT,
        state: ResourceState,
        *,
        stamps: Mapping[str, AuditRecord] | None = None,
        before: Policy | None = None,
    ) -> tuple[list[Outcome], Policy]:
        """Plan each finding on top of the previous ones; every outcome gets its (not yet stored) record, under
        the record id it had in an earlier plan of this cycle (`stamps`), so the intent's promise stays valid."""
        running = role.policy
        planned = []
        sides: set[str] = set()  # a side change is made once per cycle, by the first finding that needs it
        for ref, finding in items:
            plan = self.adapter.plan(finding, role.with_policy(running), self.settings, state.intended, self.clock())
            if plan.side_changes:
                plan = replace(plan, side_changes=tuple(c for c in plan.side_changes if c.key not in sides))
            if plan.decision == "remediate" and plan.policy_after is not None:
                running = plan.policy_after
                sides |= {c.key for c in plan.side_changes}
            planned.append((ref, finding, plan))
        result = []
        for ref, finding, plan in planned:
            outcome = from_plan(
                ref, finding, plan, before or role.policy, running if plan.decision == "remediate" else None
            )
            earlier = (stamps or {}).get(finding.id)
            record = self._stamp(outcome, earlier.record_id if earlier else "", earlier.decided_at if earlier else "")
            result.append(replace(outcome, record=record))
        return result, running

    def _proven(self, outcomes: list[Outcome], before: Policy) -> list[Outcome]:
        """The proofs of the planned write (proofs.py), before any write; a refused change writes nothing."""
        if self.prover is None:
            return outcomes

        def stamp(outcome: Outcome) -> Outcome:
            earlier = outcome.record
            record_id, decided_at = (earlier.record_id, earlier.decided_at) if earlier else ("", "")
            return replace(outcome, record=self._stamp(outcome, record_id, decided_at))

        return proofs.proven(
            self.prover, self.adapter.resource_type, self.adapter.document, outcomes, before, stamp=stamp
        )

    def _stamp(self, outcome: Outcome, record_id: str = "", decided_at: str = "") -> AuditRecord:
        return self.audit.stamp(audit_record(outcome, self.settings.mode, record_id, decided_at))

    def _intent(self, role: RefT, outcomes: Sequence[Outcome], intent_id: str, owner: str) -> Intent:
        adds = Ledger()
        mine = [o for o in outcomes if o.decision == "remediate" and o.finding is not None]
        for outcome in mine:
            assert outcome.policy_after is not None and outcome.finding is not None
            adds.add(outcome.policy_after, outcome.entries, outcome.finding.id, self.adapter.resources(role))
        records = [o.record for o in mine if o.record is not None]
        return Intent(intent_id, owner, self.clock(), adds, (), payload(mine, records, self.settings.mode))

    def _completed(self, intent: Intent) -> list[Outcome]:
        logger.warning("completing a change an interrupted invocation left", extra={"intent": intent.id})
        mode = str(intent.payload.get("mode", "remediate"))
        return [
            replace(o, record=self.audit.stamp(audit_record(o, mode, record_id, decided_at, intent.id)))
            for o, record_id, decided_at in completed_outcomes(intent.payload)
        ]

    # -- writing -------------------------------------------------------------------------------------------------
    def write(self, role: RefT, policy: Policy, planned_on: SnapshotT) -> Rejection | None:
        """The adapter's write; a permanent refusal becomes (decision, reason, message) instead of a retry."""
        return self.adapter.write(role, policy, planned_on)


@dataclass(frozen=True)
class Reverted:
    """What a revert did: the document before and after, the Deny entries removed, its records."""

    before: Policy
    after: Policy
    removed: list[DenyEntry]
    records: list[AuditRecord]
    restored: list[str]  # what undoing the side changes did, as the records say it


@dataclass
class _Progress:
    """Whether this cycle's write may have reached the resource (a failure after it keeps the intent)."""

    written: bool = False


@dataclass
class _Prepared(Generic[SnapshotT]):
    """The read and the document a change starts from, under the lease (`ResourceCycle._prepare`)."""

    read: SnapshotT  # the read the ledger vouches for (or the real document, once a stale read cannot explain it)
    base: Policy  # what must hold before any new change
    interrupted: list[Intent]
    completed: list[Outcome]  # the outcomes the interrupted intents promised
    ledger: Ledger  # the ledger with the interrupted intents completed
    now: float
    repaired: list[DenyEntry] = field(default_factory=list)  # ledger entries the read lacked, written again


def _after(outcomes: Sequence[Outcome], policy: Policy) -> Policy:
    written = [o.policy_after for o in outcomes if o.decision == "remediate" and o.policy_after is not None]
    return written[-1] if written else policy


def _promise(intent: Intent) -> dict[str, object]:
    """What an intent commits to (its id and time aside)."""
    return {"adds": intent.adds.to_json(), "removes": [e.to_json() for e in intent.removes], "payload": intent.payload}


def _announced(outcomes: Sequence[Outcome], mode: str) -> list[tuple[dict[str, object], AuditRecord]]:
    """(notice, record) of every outcome worth a notice."""
    return [(o.notice(mode).to_json(), o.record) for o in outcomes if o.notifies and o.record is not None]


def _keys(ledger: Ledger) -> set[tuple[str, str]]:
    return {entry.key for entry in ledger.entries()}


def _ledger_after(state: ResourceState, interrupted: Sequence[Intent]) -> Ledger:
    """The ledger once the interrupted intents are completed."""
    ledger = Ledger.from_json(state.ledger.to_json())
    for other in interrupted:
        ledger.merge(other.adds)
        ledger.remove(other.removes)
    return ledger
