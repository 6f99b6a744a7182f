"""Confirm after writing: did the containment resolve the finding?

After a containment is written and committed (the cycle's records are stored), `Confirmer.schedule` asks the analyzer
to re-analyse the resource at once (StartResourceScan) and puts a confirmation message on the function's own queue
with a delay (SendMessage, DelaySeconds). When it comes back, `Confirmer.check` re-reads the finding (GetFinding):

- RESOLVED or ARCHIVED: a CONFIRM record "verified" is appended to the finding's audit history;
- still ACTIVE before the deadline: the resource is scanned again and the message re-sent (bounded by the deadline
  and MAX_ATTEMPTS);
- still ACTIVE at the deadline: a CONFIRM record "unresolved" and a loud notice "containment did not resolve the
  finding", naming what the finding says still grants access;
- either way, ACTIVE findings on the same resource created after the write (ListFindingsV2) are reported the same way.

A confirmation message is never a decision to write: nothing here changes a resource. A message that is not exactly
the shape `Confirmation.to_json` writes, or names an analyzer that is not configured, is rejected before any call.
Scheduling never blocks or undoes a containment: when it fails, a CONFIRM record "not_scheduled" says so and the
`ConfirmationNotScheduled` metric counts it.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from .audit import REVERT, AuditRecord, AuditStore, now_iso
from .clients import AwsClients, error_code
from .findings import Finding, FindingRef, MalformedEvent, finding_from_api
from .notify import UNRESOLVED_REASONS
from .outcomes import Outcome
from .settings import ANALYZER_ARN_RE, Settings

logger = logging.getLogger(__name__)

CONFIRM_ACTION = "confirm"
CONFIRM = "CONFIRM"  # the audit record kind (beside DECISION, CLAIM, REVERT): appended, never replacing a record
VERIFIED = "verified"
UNRESOLVED = "unresolved"
NOT_SCHEDULED = "not_scheduled"
FINDING_GONE = "finding_gone"
REVERTED = "reverted"  # an operator reverted the containment before the check: nothing to confirm, no alarm
# Notice reasons (notify.Notice.headline shows them as NOT RESOLVED).
CONTAINMENT_UNRESOLVED = "containment_unresolved"
NEW_FINDING_AFTER_CHANGE = "new_finding_after_change"
CONFIRMATION_REASONS = UNRESOLVED_REASONS  # CONTAINMENT_UNRESOLVED and NEW_FINDING_AFTER_CHANGE
MAX_DELAY_SECONDS = 900  # SQS DelaySeconds
MAX_DEADLINE_SECONDS = 86400
MAX_ATTEMPTS = 100
_FIELDS = frozenset(
    {
        "aar_action",
        "analyzer_arn",
        "finding_id",
        "resource_arn",
        "resource_owner_account",
        "record_id",
        "written_at",
        "deadline",
        "attempt",
    }
)
_FINDING_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,256}$", re.ASCII)
_RECORD_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$", re.ASCII)
_ACCOUNT_RE = re.compile(r"^\d{12}$", re.ASCII)
_ARN_RE = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{0,12}:\S{1,2000}$", re.ASCII)


class MalformedConfirmation(ValueError):
    """Not a confirmation message this function wrote: acknowledged and dropped, nothing read or written."""


@dataclass
class ConfirmationCounters:
    scheduled: int = 0
    not_scheduled: int = 0
    verified: int = 0
    unresolved: int = 0

    def take(self) -> dict[str, int]:
        """The counts as metric names (non-zero only), reset."""
        names = {
            "ConfirmationScheduled": self.scheduled,
            "ConfirmationNotScheduled": self.not_scheduled,
            "ContainmentVerified": self.verified,
            "ContainmentUnresolved": self.unresolved,
        }
        self.scheduled = self.not_scheduled = self.verified = self.unresolved = 0
        return {name: value for name, value in names.items() if value}


@dataclass(frozen=True)
class Confirmation:
    """A delayed check of one containment: the finding, where it was written, and until when to wait."""

    analyzer_arn: str
    finding_id: str
    resource_arn: str
    resource_owner_account: str
    record_id: str  # the DECISION record of the containment it confirms
    written_at: float  # epoch seconds, after the commit
    deadline: float  # epoch seconds: still ACTIVE then = unresolved
    attempt: int = 1

    def to_json(self) -> dict[str, Any]:
        return {
            "aar_action": CONFIRM_ACTION,
            "analyzer_arn": self.analyzer_arn,
            "finding_id": self.finding_id,
            "resource_arn": self.resource_arn,
            "resource_owner_account": self.resource_owner_account,
            "record_id": self.record_id,
            "written_at": self.written_at,
            "deadline": self.deadline,
            "attempt": self.attempt,
        }

    @classmethod
    def parse(cls, body: object) -> Confirmation:
        """Exactly the shape `to_json` writes; anything else raises MalformedConfirmation."""
        if not isinstance(body, Mapping) or body.get("aar_action") != CONFIRM_ACTION:
            raise MalformedConfirmation("not a confirmation message")
        if set(body) != _FIELDS:
            raise MalformedConfirmation(f"a confirmation message holds exactly {', '.join(sorted(_FIELDS))}")
        analyzer_arn = _text(body, "analyzer_arn", ANALYZER_ARN_RE)
        finding_id = _text(body, "finding_id", _FINDING_ID_RE)
        resource_arn = _text(body, "resource_arn", _ARN_RE)
        account = _text(body, "resource_owner_account", _ACCOUNT_RE)
        record_id = _text(body, "record_id", _RECORD_ID_RE)
        written_at, deadline = _number(body, "written_at"), _number(body, "deadline")
        if not 0 <= deadline - written_at <= MAX_DEADLINE_SECONDS:
            raise MalformedConfirmation(f"deadline must be 0 to {MAX_DEADLINE_SECONDS} s after written_at")
        attempt = body["attempt"]
        if not isinstance(attempt, int) or isinstance(attempt, bool) or not 1 <= attempt <= MAX_ATTEMPTS:
            raise MalformedConfirmation(f"attempt must be an integer from 1 to {MAX_ATTEMPTS}")
        return cls(analyzer_arn, finding_id, resource_arn, account, record_id, written_at, deadline, attempt)


def is_confirmation(body: object) -> bool:
    """Whether an SQS message body claims to be a confirmation message (validated by Confirmation.parse)."""
    return isinstance(body, Mapping) and body.get("aar_action") == CONFIRM_ACTION


def _text(body: Mapping[str, Any], name: str, pattern: re.Pattern[str]) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not pattern.match(value):
        raise MalformedConfirmation(f"{name} is not valid")
    return value


def _number(body: Mapping[str, Any], name: str) -> float:
    value = body.get(name)
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise MalformedConfirmation(f"{name} must be a positive number (epoch seconds)")
    return float(value)


class Confirmer:
    """Schedules and runs the confirmation of written containments (never writes to a contained resource)."""

    def __init__(
        self,
        settings: Settings,
        clients: AwsClients,
        audit: AuditStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.clients = clients
        self.audit = audit
        self.clock = clock
        self.counters = ConfirmationCounters()

    # -- after the write -------------------------------------------------------------------------------------
    def schedule(self, outcomes: Sequence[Outcome]) -> None:
        """For every containment written (and recorded) among `outcomes`: StartResourceScan, then the delayed
        check. Never raises: a confirmation that cannot be scheduled is recorded and counted."""
        if not self.settings.confirm_changes:
            return
        for outcome in (each for o in outcomes for each in o.all()):
            if outcome.decision != "remediate" or not outcome.stored or outcome.finding is None:
                continue
            if outcome.record is None:
                continue
            finding, now = outcome.finding, self.clock()
            message = Confirmation(
                finding.analyzer_arn,
                finding.id,
                finding.resource_arn,
                finding.resource_owner_account,
                outcome.record.record_id,
                now,
                now + self.settings.confirm_deadline_seconds,
            )
            self._scan(message)
            try:
                self._send(message, self.settings.confirm_delay_seconds)
            except Exception as err:
                logger.warning("confirmation not scheduled", extra={"finding_id": finding.id, "error": repr(err)})
                self.counters.not_scheduled += 1
                self._record_safely(
                    finding, message, NOT_SCHEDULED, f"confirmation not scheduled: {err!r}"[:1000], "ACTIVE"
                )
                continue
            self.counters.scheduled += 1

    # -- the delayed check -----------------------------------------------------------------------------------
    def check(self, message: Confirmation) -> list[Outcome]:
        """Re-read the finding and record the verdict. Returns the outcomes to announce (stored, notice in the
        outbox); raises when AWS could not be asked or the record not stored (the message is retried)."""
        if message.analyzer_arn not in self.settings.analyzer_arns:
            raise MalformedConfirmation(f"{message.analyzer_arn} is not a configured analyzer")
        client = self.clients.access_analyzer(message.analyzer_arn.split(":")[3])
        try:
            data = dict(client.get_finding(analyzerArn=message.analyzer_arn, id=message.finding_id)["finding"])
        except Exception as err:
            if error_code(err) != "ResourceNotFoundException":
                raise
            gone = f"GetFinding no longer knows finding {message.finding_id}: nothing left to confirm"
            self.audit.write([self._record(None, message, FINDING_GONE, gone, status="NOT_FOUND")])
            return []
        try:
            finding = finding_from_api(data, message.analyzer_arn)
        except MalformedEvent as err:
            raise MalformedConfirmation(f"GetFinding returned an unusable finding: {err}") from None
        if (finding.id, finding.resource_arn) != (message.finding_id, message.resource_arn):
            raise MalformedConfirmation("the message does not match the finding GetFinding returned")
        now = self.clock()
        if finding.status == "ACTIVE" and now < message.deadline and message.attempt < MAX_ATTEMPTS:
            again = replace(message, attempt=message.attempt + 1)
            self._scan(again)
            self._send(again, min(self.settings.confirm_delay_seconds, math.ceil(message.deadline - now)))
            return []
        if finding.status == "ACTIVE" and self._reverted(message):
            summary = "the containment was reverted before it could be confirmed: the access is open as decided"
            self.audit.write([self._record(finding, message, REVERTED, summary, status=finding.status)])
            return []
        new = self._new_findings(message)
        outcomes: list[Outcome] = []
        if finding.status == "ACTIVE":
            self.counters.unresolved += 1
            summary = (
                f"containment did not resolve the finding: still ACTIVE {now - message.written_at:.0f} s after the"
                f" write; still granting access: {_granting(finding)}"
            )
            outcomes.append(self._announced(finding, message, reason=CONTAINMENT_UNRESOLVED, summary=summary, new=new))
        else:
            self.counters.verified += 1
            summary = f"verified: the finding is {finding.status} {now - message.written_at:.0f} s after the write"
            self.audit.write([self._record(finding, message, VERIFIED, summary, status=finding.status, new=new)])
        if new:
            if finding.status != "ACTIVE":
                self.counters.unresolved += 1
            summary = (
                f"new ACTIVE finding(s) on the contained resource created after the change: {', '.join(new)}"
                " (review them: the change may have opened access)"
            )
            outcomes.append(
                self._announced(finding, message, reason=NEW_FINDING_AFTER_CHANGE, summary=summary, new=new)
            )
        return outcomes

    # -- helpers ---------------------------------------------------------------------------------------------
    def _scan(self, message: Confirmation) -> None:
        """Ask for an immediate re-analysis; a failure only means waiting for the analyzer's own (about 30 min)."""
        kwargs: dict[str, str] = {"analyzerArn": message.analyzer_arn, "resourceArn": message.resource_arn}
        if self.settings.organization_mode:
            kwargs["resourceOwnerAccount"] = message.resource_owner_account
        try:
            self.clients.access_analyzer(message.analyzer_arn.split(":")[3]).start_resource_scan(**kwargs)
        except Exception as err:
            logger.warning(
                "StartResourceScan failed: the analyzer re-analyses on its own",
                extra={"resource_arn": message.resource_arn, "error": repr(err)},
            )

    def _send(self, message: Confirmation, delay: int) -> None:
        queue_url = self.settings.queue_url
        if not queue_url:
            raise RuntimeError("AAR_QUEUE_URL is not set: no queue to put the confirmation on")
        self.clients.sqs(self.settings.topic_arn.split(":")[3]).send_message(
            QueueUrl=queue_url,
            MessageBody=json.dumps(message.to_json(), sort_keys=True),
            DelaySeconds=max(0, min(MAX_DELAY_SECONDS, delay)),
        )

    def _reverted(self, message: Confirmation) -> bool:
        """Has an operator reverted this finding's containment since the write (a REVERT record after it)?"""
        written = now_iso(lambda: message.written_at)
        return any(
            r.get("record_type") == REVERT and str(r.get("decided_at", "")) >= written
            for r in self.audit.history(message.finding_id)
        )

    def _new_findings(self, message: Confirmation) -> list[str]:
        """ACTIVE findings on the resource, other than this one, created after the write."""
        client = self.clients.access_analyzer(message.analyzer_arn.split(":")[3])
        paginator = client.get_paginator("list_findings_v2")
        pages = paginator.paginate(
            analyzerArn=message.analyzer_arn,
            filter={"resource": {"eq": [message.resource_arn]}, "status": {"eq": ["ACTIVE"]}},
        )
        found = []
        for page in pages:
            for summary in page.get("findings", []):
                created = summary.get("createdAt")
                when = created.timestamp() if isinstance(created, datetime) else 0.0
                if summary.get("id") != message.finding_id and when >= message.written_at:
                    found.append(str(summary["id"]))
        return sorted(found)

    def _announced(
        self, finding: Finding, message: Confirmation, *, reason: str, summary: str, new: list[str]
    ) -> Outcome:
        """A stored CONFIRM record "unresolved" and its notice in the outbox, as one write (announced by the
        handler)."""
        record = self._record(finding, message, UNRESOLVED, summary, status=finding.status, new=new, reason=reason)
        outcome = Outcome(FindingRef(message.analyzer_arn, finding.id), "notify", reason, summary, finding)
        notice = outcome.notice(self.settings.account_mode(finding.resource_owner_account))
        outbox = self.audit.outbox([(notice.to_json(), record)])
        self.audit.write([record], outbox)
        return replace(outcome, record=record, outbox=tuple(outbox), stored=True)

    def _record(
        self,
        finding: Finding | None,
        message: Confirmation,
        verdict: str,
        summary: str,
        *,
        status: str,
        new: Sequence[str] = (),
        reason: str = "",
    ) -> AuditRecord:
        extra = {
            "confirms": message.record_id,
            "finding_status": status,
            "attempts": str(message.attempt),
            "written_at": f"{message.written_at:.3f}",
        }
        if new:
            extra["new_findings"] = json.dumps(list(new))
        return self.audit.stamp(
            AuditRecord(
                finding_id=message.finding_id,
                kind=CONFIRM,
                decision=verdict,
                reason=reason or verdict,
                summary=summary,
                mode=self.settings.mode,
                analyzer_arn=message.analyzer_arn,
                resource_arn=message.resource_arn,
                principal=dict(finding.principal) if finding is not None else {},
                actions=finding.actions if finding is not None else (),
                notified=False if reason else None,
                extra=extra,
            )
        )

    def _record_safely(self, finding: Finding, message: Confirmation, verdict: str, summary: str, status: str) -> None:
        try:
            self.audit.write([self._record(finding, message, verdict, summary, status=status)])
        except Exception as err:  # the metric still counts it; the containment stands either way
            logger.warning("could not record an unscheduled confirmation", extra={"error": repr(err)})


def _granting(finding: Finding) -> str:
    """What the ACTIVE finding says still grants the access."""
    principal = ", ".join(f"{k}: {v}" for k, v in sorted(finding.principal.items())) or "a principal"
    actions = ", ".join(finding.actions) or "its actions"
    sources = ", ".join(s.type + (f" ({s.detail})" if s.detail else "") for s in finding.sources)
    where = f" through {sources}" if sources else ""
    public = " (public)" if finding.is_public else ""
    return f"{principal}{public} can {actions}{where}"
