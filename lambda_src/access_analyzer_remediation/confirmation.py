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

Nothing is lost and nothing is said twice. The cycle stores a pending check (`CONFIRMING / <decision record id>`)
with the containment's records, in the same write: whatever path wrote it (the Lambda, the CLI, an approval, an
interrupted change completed later). The verdict's records and notice are written in one transaction with the
pending check's conditional "done", so a message delivered twice (or two chains of them) concludes once. A check
whose verdict is overdue (the invocation died between the commit and the SendMessage, the CLI had no queue, the
messages were dead-lettered) is sent again by the sweep (`Confirmer.recover`), with a new deadline; after
MAX_RECOVERIES the sweep checks it at once, and that verdict is final. A batch's checks (and the sweep's
recoveries) run on the engine's pool and only while the invocation has SEND_RESERVE_SECONDS left: the rest waits,
stored, for the next sweep.

A confirmation message is never a decision to write: nothing here changes a resource. A message that is not exactly
the shape `Confirmation.to_json` writes, or names an analyzer that is not configured, is rejected before any call.
Scheduling never blocks or undoes a containment: when it fails, a CONFIRM record "not_scheduled" says so, the
`ConfirmationNotScheduled` metric counts it, and the sweep sends the check later.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
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
# The pending checks (one item per containment, sort key: its DECISION record id), and how often the sweep sends a
# lost one again before it says so. A recovered check gets a new deadline, up to MAX_SPAN_SECONDS after the write.
PENDING_PK = "CONFIRMING"
MAX_RECOVERIES = 3
MAX_SPAN_SECONDS = 30 * 86400
# Sending stops this long before the invocation's timeout: what is left waits (stored) for the next sweep.
SEND_RESERVE_SECONDS = 5.0
SEND_BATCH = 10  # SQS SendMessageBatch takes at most 10 entries
# How a batch's checks run: the engine's pool (Remediator._parallel), one after another without one.
Parallel = Callable[[Callable[[Any], Any], list[Any]], list[Any]]
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
    """Counted from the pool's threads (`add`), read and reset by the handler (`take`)."""

    scheduled: int = 0
    not_scheduled: int = 0
    verified: int = 0
    unresolved: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, *, scheduled: int = 0, not_scheduled: int = 0, verified: int = 0, unresolved: int = 0) -> None:
        with self._lock:
            self.scheduled += scheduled
            self.not_scheduled += not_scheduled
            self.verified += verified
            self.unresolved += unresolved

    def take(self) -> dict[str, int]:
        """The counts as metric names (non-zero only), reset."""
        with self._lock:
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

    def body(self) -> str:
        """The message as it is sent and stored: the same JSON, key for key, wherever it goes."""
        return json.dumps(self.to_json(), sort_keys=True)

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
        if not 0 <= deadline - written_at <= MAX_SPAN_SECONDS:
            raise MalformedConfirmation(f"deadline must be 0 to {MAX_SPAN_SECONDS} s after written_at")
        attempt = body["attempt"]
        if not isinstance(attempt, int) or isinstance(attempt, bool) or not 1 <= attempt <= MAX_ATTEMPTS:
            raise MalformedConfirmation(f"attempt must be an integer from 1 to {MAX_ATTEMPTS}")
        return cls(analyzer_arn, finding_id, resource_arn, account, record_id, written_at, deadline, attempt)


def planned(outcomes: Sequence[Outcome], settings: Settings, now: float) -> list[Confirmation]:
    """The checks the containments written among `outcomes` need (each a remediate outcome with its record)."""
    if not settings.confirm_changes:
        return []
    messages: dict[str, Confirmation] = {}
    for outcome in (each for o in outcomes for each in o.all()):
        finding, record = outcome.finding, outcome.record
        if outcome.decision != "remediate" or finding is None or record is None or not record.record_id:
            continue
        messages.setdefault(
            record.record_id,
            Confirmation(
                finding.analyzer_arn,
                finding.id,
                finding.resource_arn,
                finding.resource_owner_account,
                record.record_id,
                now,
                now + settings.confirm_deadline_seconds,
            ),
        )
    return list(messages.values())


def pending_item(message: Confirmation) -> dict[str, Any]:
    """The pending check of one containment, stored with its records (AuditStore.write(items=...))."""
    return {
        "pk": {"S": PENDING_PK},
        "sk": {"S": message.record_id},
        "state": {"S": "pending"},
        "message": {"S": message.body()},
        "deadline": {"N": f"{message.deadline:.3f}"},
        "recoveries": {"N": "0"},
    }


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
        parallel: Parallel | None = None,
    ) -> None:
        self.settings = settings
        self.clients = clients
        self.audit = audit
        self.clock = clock
        self.counters = ConfirmationCounters()
        self._parallel: Parallel = parallel or (lambda function, items: [function(item) for item in items])

    # -- after the write -------------------------------------------------------------------------------------
    def schedule(self, outcomes: Sequence[Outcome], time_left: Callable[[], float] | None = None) -> None:
        """For every containment written (and recorded, its pending check with it) among `outcomes`:
        StartResourceScan (once per resource), then the delayed check (ten to a SendMessageBatch), concurrently: a
        batch may hold hundreds. Never raises: a check that cannot be sent, or not before the invocation's time runs
        out (`time_left`), is recorded or logged and counted, and its pending check waits for the sweep (`recover`)."""
        messages = planned([o for o in outcomes if o.stored], self.settings, self.clock())
        if not messages:
            return
        if not self.settings.queue_url:  # the CLI (cli.py): the sweep scans and sends them once they are overdue
            logger.info("no queue: the sweep sends the confirmations", extra={"count": len(messages)})
            return

        # One scan per resource (several findings on one role share it), then the checks, ten to a SendMessageBatch.
        scans: dict[tuple[str, str, str], Confirmation] = {}
        for message in messages:
            scans.setdefault((message.analyzer_arn, message.resource_arn, message.resource_owner_account), message)
        if not _out_of_time(time_left):
            self._parallel(self._scan, list(scans.values()))

        def send(chunk: list[Confirmation]) -> list[bool | None]:
            if _out_of_time(time_left):
                logger.warning("no time left to send: the sweep sends them", extra={"count": len(chunk)})
                return [None] * len(chunk)
            try:
                failed = self._send_all(chunk, self.settings.confirm_delay_seconds)
            except Exception as err:
                failed = {index: repr(err) for index in range(len(chunk))}
            for index, why in failed.items():
                message = chunk[index]
                logger.warning("confirmation not scheduled", extra={"finding_id": message.finding_id, "error": why})
                summary = f"confirmation not scheduled: {why}"[:900] + "; the sweep sends it after the deadline"
                self._record_safely(message, NOT_SCHEDULED, summary)
            return [index not in failed for index in range(len(chunk))]

        chunks = [messages[n : n + SEND_BATCH] for n in range(0, len(messages), SEND_BATCH)]
        sent = [each for chunk in self._parallel(send, chunks) for each in chunk]
        self.counters.add(scheduled=sent.count(True), not_scheduled=sent.count(False))

    # -- the delayed check -----------------------------------------------------------------------------------
    def check(self, message: Confirmation) -> list[Outcome]:
        """Re-read the finding and record the verdict (once: a duplicate message concludes nothing). Returns the
        outcomes to announce (stored, notice in the outbox); raises when AWS could not be asked or the verdict not
        stored (the message is retried)."""
        if message.analyzer_arn not in self.settings.analyzer_arns:
            raise MalformedConfirmation(f"{message.analyzer_arn} is not a configured analyzer")
        client = self.clients.access_analyzer(message.analyzer_arn.split(":")[3])
        try:
            data = dict(client.get_finding(analyzerArn=message.analyzer_arn, id=message.finding_id)["finding"])
        except Exception as err:
            if error_code(err) != "ResourceNotFoundException":
                raise
            gone = f"GetFinding no longer knows finding {message.finding_id}: nothing left to confirm"
            self._conclude(message, [self._record(None, message, FINDING_GONE, gone, status="NOT_FOUND")])
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
            self._conclude(message, [self._record(finding, message, REVERTED, summary, status=finding.status)])
            return []
        new = self._new_findings(message)
        records: list[AuditRecord] = []
        announced: list[Outcome] = []
        if finding.status == "ACTIVE":
            summary = (
                f"containment did not resolve the finding: still ACTIVE {now - message.written_at:.0f} s after the"
                f" write; still granting access: {_granting(finding)}"
            )
            announced.append(self._loud(finding, message, CONTAINMENT_UNRESOLVED, summary, new))
        else:
            summary = f"verified: the finding is {finding.status} {now - message.written_at:.0f} s after the write"
            records.append(self._record(finding, message, VERIFIED, summary, status=finding.status, new=new))
        if new:
            summary = (
                f"new ACTIVE finding(s) on the contained resource created after the change: {', '.join(new)}"
                " (review them: the change may have opened access)"
            )
            announced.append(self._loud(finding, message, NEW_FINDING_AFTER_CHANGE, summary, new))
        if not self._conclude(message, records, announced):
            return []
        if finding.status != "ACTIVE":
            self.counters.add(verified=1)
        if finding.status == "ACTIVE" or new:
            self.counters.add(unresolved=1)
        return announced

    # -- the sweep's catch-all -------------------------------------------------------------------------------
    def recover(self, time_left: Callable[[], float] | None = None) -> list[Outcome]:
        """Pending checks whose verdict is overdue (their deadline and a grace past): their messages were never
        sent or were lost. Each is sent again with a new deadline; the MAX_RECOVERIES-th time (or once a new
        deadline would pass MAX_SPAN_SECONDS after the write) it is checked at once instead, its verdict final.
        Concurrently, and only while the invocation has time (`time_left`): the rest waits for the next sweep.
        Returns the outcomes to announce; raises, after the others, when one could not be recovered."""
        if not self.settings.confirm_changes:
            return []
        now = self.clock()
        # A live chain's last check comes at most a delay (and SQS's redeliveries of a failing one) after its
        # deadline: only a check this far overdue is lost.
        overdue = now - max(900, 2 * self.settings.confirm_delay_seconds)

        def recovered(pending: tuple[str, Confirmation, int]) -> tuple[list[Outcome], str]:
            key, message, recoveries = pending
            if _out_of_time(time_left):
                return [], ""  # the next sweep
            try:
                deadline = now + self.settings.confirm_deadline_seconds
                if recoveries >= MAX_RECOVERIES or deadline - message.written_at > MAX_SPAN_SECONDS:
                    return self.check(message), ""  # past its deadline: the verdict, whatever it is
                again = replace(message, deadline=deadline, attempt=1)
                if self._renew(again, recoveries):
                    logger.warning("sending a lost confirmation again", extra={"finding_id": message.finding_id})
                    self._scan(again)
                    self._send(again, self.settings.confirm_delay_seconds)
                    self.counters.add(scheduled=1)
                return [], ""
            except Exception as err:  # the next sweep tries again; the others go on
                logger.warning("could not recover a confirmation", extra={"key": key, "error": repr(err)})
                return [], f"{key}: {err!r}"

        results = self._parallel(recovered, self._overdue(overdue))
        problems = [problem for _, problem in results if problem]
        if problems:
            raise RuntimeError(f"{len(problems)} confirmation(s) not recovered: {'; '.join(problems)}"[:2000])
        return [outcome for outcomes, _ in results for outcome in outcomes]

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
        self.clients.sqs(self.settings.queue_region).send_message(
            QueueUrl=queue_url,
            MessageBody=message.body(),
            DelaySeconds=_delay(delay),
        )

    def _send_all(self, messages: Sequence[Confirmation], delay: int) -> dict[int, str]:
        """Up to SEND_BATCH checks in one SendMessageBatch (one: SendMessage); the index and reason of each the
        queue refused."""
        if len(messages) == 1:
            self._send(messages[0], delay)
            return {}
        response = self.clients.sqs(self.settings.queue_region).send_message_batch(
            QueueUrl=self.settings.queue_url or "",
            Entries=[
                {
                    "Id": str(index),
                    "MessageBody": message.body(),
                    "DelaySeconds": _delay(delay),
                }
                for index, message in enumerate(messages)
            ],
        )
        return {int(f["Id"]): f"{f.get('Code', '')}: {f.get('Message', '')}" for f in response.get("Failed", [])}

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

    def _loud(self, finding: Finding, message: Confirmation, reason: str, summary: str, new: list[str]) -> Outcome:
        """A CONFIRM record "unresolved" and its notice in an outbox item (stored by `_conclude`, announced by
        the handler)."""
        record = self._record(finding, message, UNRESOLVED, summary, status=finding.status, new=new, reason=reason)
        outcome = Outcome(FindingRef(message.analyzer_arn, finding.id), "notify", reason, summary, finding)
        notice = outcome.notice(self.settings.account_mode(finding.resource_owner_account))
        outbox = self.audit.outbox([(notice.to_json(), record)])
        return replace(outcome, record=record, outbox=tuple(outbox), stored=True)

    def _conclude(
        self, message: Confirmation, records: Sequence[AuditRecord], announced: Sequence[Outcome] = ()
    ) -> bool:
        """The verdict's records and notices, and the pending check marked done, in one transaction; False (and
        nothing written) when it was done already: a duplicate message, or another chain of the same check."""
        guard = {
            "Key": {"pk": {"S": PENDING_PK}, "sk": {"S": message.record_id}},
            "UpdateExpression": "SET #state = :done, concluded_at = :now, expires_at = :expires",
            "ConditionExpression": "attribute_not_exists(#state) OR #state <> :done",
            "ExpressionAttributeNames": {"#state": "state"},
            "ExpressionAttributeValues": {
                ":done": {"S": "done"},
                ":now": {"N": f"{self.clock():.3f}"},
                # Kept while a duplicate or another chain's message can still come (SQS keeps one 14 days at
                # most), so the sweep's query reads a month of checks, not the whole retention.
                ":expires": {"N": str(int(self.clock()) + MAX_SPAN_SECONDS)},
            },
        }
        every = [*records, *(o.record for o in announced if o.record is not None)]
        done = self.audit.write_once(guard, every, [item for o in announced for item in o.outbox])
        if not done:
            logger.info("confirmation already concluded: nothing more", extra={"finding_id": message.finding_id})
        return done

    def _overdue(self, before: float) -> list[tuple[str, Confirmation, int]]:
        """(key, message, recoveries so far) of every pending check whose deadline is before `before`."""
        found: list[tuple[str, Confirmation, int]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.settings.audit_table_name,
            "KeyConditionExpression": "pk = :pk",
            "FilterExpression": "#state = :pending AND #deadline < :before",
            "ExpressionAttributeNames": {"#state": "state", "#deadline": "deadline"},
            "ExpressionAttributeValues": {
                ":pk": {"S": PENDING_PK},
                ":pending": {"S": "pending"},
                ":before": {"N": f"{before:.3f}"},
            },
            "ConsistentRead": True,
        }
        client = self.clients.dynamodb()
        for page in client.get_paginator("query").paginate(**kwargs):
            for item in page.get("Items", []):
                key = item["sk"]["S"]
                try:
                    message = Confirmation.parse(json.loads(item["message"]["S"]))
                except (MalformedConfirmation, ValueError, KeyError) as err:
                    logger.warning("unusable pending confirmation", extra={"key": key, "error": repr(err)})
                    continue
                if message.analyzer_arn not in self.settings.analyzer_arns:  # no longer configured: never checked
                    logger.warning("pending confirmation of an analyzer not configured", extra={"key": key})
                    continue
                found.append((key, message, int(item.get("recoveries", {}).get("N", "0"))))
        return found

    def _renew(self, message: Confirmation, recoveries: int) -> bool:
        """The pending check gets the new message and deadline, one more recovery counted; False when it was
        concluded or renewed meanwhile (another sweep)."""
        try:
            self.clients.dynamodb().update_item(
                TableName=self.settings.audit_table_name,
                Key={"pk": {"S": PENDING_PK}, "sk": {"S": message.record_id}},
                UpdateExpression="SET message = :message, #deadline = :deadline, recoveries = :next",
                ConditionExpression="#state = :pending AND recoveries = :seen",
                ExpressionAttributeNames={"#state": "state", "#deadline": "deadline"},
                ExpressionAttributeValues={
                    ":message": {"S": message.body()},
                    ":deadline": {"N": f"{message.deadline:.3f}"},
                    ":next": {"N": str(recoveries + 1)},
                    ":pending": {"S": "pending"},
                    ":seen": {"N": str(recoveries)},
                },
            )
        except Exception as err:
            if error_code(err) == "ConditionalCheckFailedException":
                return False
            raise
        return True

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

    def _record_safely(self, message: Confirmation, verdict: str, summary: str) -> None:
        try:
            self.audit.write([self._record(None, message, verdict, summary, status="ACTIVE")])
        except Exception as err:  # the metric still counts it; the containment stands either way
            logger.warning("could not record an unscheduled confirmation", extra={"error": repr(err)})


def _out_of_time(time_left: Callable[[], float] | None) -> bool:
    """Too little of the invocation is left to scan and send: what is left waits for the sweep (`recover`)."""
    return time_left is not None and time_left() < SEND_RESERVE_SECONDS


def _delay(seconds: int) -> int:
    """SQS DelaySeconds: 0 to MAX_DELAY_SECONDS."""
    return max(0, min(MAX_DELAY_SECONDS, seconds))


def _granting(finding: Finding) -> str:
    """What the ACTIVE finding says still grants the access."""
    principal = ", ".join(f"{k}: {v}" for k, v in sorted(finding.principal.items())) or "a principal"
    actions = ", ".join(finding.actions) or "its actions"
    sources = ", ".join(s.type + (f" ({s.detail})" if s.detail else "") for s in finding.sources)
    where = f" through {sources}" if sources else ""
    public = " (public)" if finding.is_public else ""
    return f"{principal}{public} can {actions}{where}"
