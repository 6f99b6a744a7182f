"""The audit log and the notice outbox, in the same DynamoDB table as the resource state (docs/architecture.md).

Records: a DECISION is a verified outcome (revert trusts only these); a CLAIM is what an event said that GetFinding
did not confirm (stale, forged or unknown: kept for the record, never acted on); a REVERT is an operator's undo.

Outbox: every notice is written with its outcome records, before anything is published, and deleted once SNS has
accepted the digest. Whoever meets a notice left behind (SNS was down, the invocation timed out) sends it: the next
batch with a redelivery, the sweep, the CLI.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .clients import error_code
from .planner import SideChange

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_BATCH_WRITE_LIMIT = 25
_OUTBOX_ITEM_BYTES = 300_000  # DynamoDB items hold 400 KB: notices beyond this go into further outbox items
DECISION = "DECISION"
CLAIM = "CLAIM"
REVERT = "REVERT"
OUTBOX_PK = "OUTBOX"


class AuditWriteFailed(RuntimeError):
    """DynamoDB did not take every audit item after retries: the findings are retried, nothing is announced yet."""


@dataclass(frozen=True)
class AuditRecord:
    """One decision about one finding (or one revert, or one unconfirmed claim)."""

    finding_id: str
    kind: str  # DECISION | CLAIM | REVERT
    decision: str
    reason: str
    summary: str
    mode: str
    analyzer_arn: str
    resource_arn: str
    principal: Mapping[str, str] = field(default_factory=dict)
    actions: Sequence[str] = ()
    denied: Sequence[Mapping[str, Any]] = ()  # entries this decision added
    covered_by: Sequence[Mapping[str, Any]] = ()  # the tool's entries that already contained it
    policy_before: str | None = None
    policy_after: str | None = None
    decided_at: str = ""
    record_id: str = ""  # deterministic for records an intent carries, so writing one twice leaves one item
    notified: bool | None = None
    intent_id: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def sids_added(self) -> list[str]:
        return sorted({str(entry["sid"]) for entry in self.denied})

    def to_json(self) -> dict[str, Any]:
        return {
            "finding_id": self.finding_id,
            "kind": self.kind,
            "decision": self.decision,
            "reason": self.reason,
            "summary": self.summary,
            "mode": self.mode,
            "analyzer_arn": self.analyzer_arn,
            "resource_arn": self.resource_arn,
            "principal": dict(self.principal),
            "actions": list(self.actions),
            "denied": [dict(e) for e in self.denied],
            "covered_by": [dict(e) for e in self.covered_by],
            "policy_before": self.policy_before,
            "policy_after": self.policy_after,
            "decided_at": self.decided_at,
            "record_id": self.record_id,
            "notified": self.notified,
            "intent_id": self.intent_id,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuditRecord:
        return cls(
            finding_id=str(data["finding_id"]),
            kind=str(data["kind"]),
            decision=str(data["decision"]),
            reason=str(data["reason"]),
            summary=str(data["summary"]),
            mode=str(data["mode"]),
            analyzer_arn=str(data["analyzer_arn"]),
            resource_arn=str(data["resource_arn"]),
            principal={str(k): str(v) for k, v in dict(data.get("principal", {})).items()},
            actions=tuple(map(str, data.get("actions", []))),
            denied=[dict(e) for e in data.get("denied", [])],
            covered_by=[dict(e) for e in data.get("covered_by", [])],
            policy_before=data.get("policy_before"),
            policy_after=data.get("policy_after"),
            decided_at=str(data.get("decided_at", "")),
            record_id=str(data.get("record_id", "")),
            notified=data.get("notified"),
            intent_id=str(data.get("intent_id", "")),
            extra={str(k): str(v) for k, v in dict(data.get("extra", {})).items()},
        )


@dataclass(frozen=True)
class OutboxItem:
    """Notices waiting to be published (JSON, rendered by notify.Notice.from_json) with the records they announce
    (whole, so that marking them notified needs no read: a flush is one Query, one Publish, one BatchWriteItem)."""

    key: str  # the sort key
    notices: Sequence[Mapping[str, Any]]
    created_at: float
    records: Sequence[AuditRecord] = ()
    abandoned: bool = False


def now_iso(clock: Callable[[], float] = time.time) -> str:
    return datetime.fromtimestamp(clock(), UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id() -> str:
    return uuid.uuid4().hex[:16]


class AuditStore:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        retention_days: int = 365,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._table = table_name
        self._retention_seconds = retention_days * 86400
        self._clock = clock
        self._sleep = sleep

    # -- records and outbox ----------------------------------------------------------------------------------
    def stamp(self, record: AuditRecord) -> AuditRecord:
        """Give a record its time and id now, so writing it again (a retry, a completed intent) overwrites it."""
        return replace(
            record, decided_at=record.decided_at or now_iso(self._clock), record_id=record.record_id or new_id()
        )

    def outbox(self, pairs: Sequence[tuple[Mapping[str, Any], AuditRecord]], key_hint: str = "") -> list[OutboxItem]:
        """Outbox items for (notice, the record it announces) pairs, split so none exceeds DynamoDB's item size.
        `key_hint` (an intent id) makes the keys deterministic, so a completed intent writes the same items again
        rather than new ones. Records must be stamped (their key is final)."""
        items: list[OutboxItem] = []
        chunk: list[tuple[Mapping[str, Any], AuditRecord]] = []
        size = 0
        for notice, record in pairs:
            length = len(json.dumps(notice)) + len(json.dumps(record.to_json()))
            if chunk and size + length > _OUTBOX_ITEM_BYTES:
                items.append(self._outbox_item(chunk, key_hint, len(items)))
                chunk, size = [], 0
            chunk.append((notice, record))
            size += length
        if chunk:
            items.append(self._outbox_item(chunk, key_hint, len(items)))
        return items

    def _outbox_item(self, pairs: list[tuple[Mapping[str, Any], AuditRecord]], key_hint: str, index: int) -> OutboxItem:
        suffix = f"{key_hint}-{index}" if key_hint else new_id()
        return OutboxItem(suffix, [n for n, _ in pairs], self._clock(), [r for _, r in pairs])

    def write(
        self,
        records: Sequence[AuditRecord],
        outbox: Sequence[OutboxItem] = (),
        items: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """Put every record, outbox item and further item (confirmation.py's pending checks, stored with the
        containment they check); raise AuditWriteFailed unless all of them are stored."""
        requests = [{"PutRequest": {"Item": self._item(r)}} for r in records]
        requests += [{"PutRequest": {"Item": self._outbox_attributes(o)}} for o in outbox]
        requests += [{"PutRequest": {"Item": self._expiring(i)}} for i in items]
        self._batch(requests)

    def write_once(
        self, guard: Mapping[str, Any], records: Sequence[AuditRecord], outbox: Sequence[OutboxItem] = ()
    ) -> bool:
        """`guard` (a conditional UpdateItem: Key, UpdateExpression, ConditionExpression, ...), the records and
        the outbox items in one transaction: all or nothing. False when the guard's condition failed (someone
        wrote them before: nothing is written); raises on any other failure."""
        actions: list[dict[str, Any]] = [{"Update": {"TableName": self._table, **guard}}]
        actions += [{"Put": {"TableName": self._table, "Item": self._item(r)}} for r in records]
        actions += [{"Put": {"TableName": self._table, "Item": self._outbox_attributes(o)}} for o in outbox]
        try:
            self._client.transact_write_items(TransactItems=actions)  # type: ignore[arg-type]
        except Exception as err:
            reasons = getattr(err, "response", {}).get("CancellationReasons") or []
            if (
                error_code(err) == "TransactionCanceledException"
                and reasons[:1]
                and (reasons[0].get("Code") == "ConditionalCheckFailed")
            ):
                return False
            raise
        return True

    def published(self, outbox: Sequence[OutboxItem], message_ids: Sequence[str]) -> None:
        """The digest is out: mark the records notified and delete their outbox items (one batch)."""
        note = ",".join(message_ids)
        marked = {_record_key(r): r for o in outbox for r in o.records}
        requests = [
            {"PutRequest": {"Item": self._item(replace(r, notified=True, extra={**r.extra, "sns_message_ids": note}))}}
            for r in marked.values()
        ]
        requests += [{"DeleteRequest": {"Key": {"pk": {"S": OUTBOX_PK}, "sk": {"S": o.key}}}} for o in outbox]
        self._batch(requests)

    def abandon(self, outbox: Sequence[OutboxItem]) -> None:
        """Publishing failed: let the next invocation send these at once instead of waiting out their grace."""
        for item in outbox:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": OUTBOX_PK}, "sk": {"S": item.key}},
                UpdateExpression="SET abandoned = :yes",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":yes": {"BOOL": True}},
            )

    def waiting(self, grace_seconds: float) -> list[OutboxItem]:
        """Outbox items nobody is about to publish: abandoned, or older than `grace_seconds` (their writer is gone)."""
        now = self._clock()
        items: list[OutboxItem] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": OUTBOX_PK}},
            "ConsistentRead": True,
        }
        for page in self._client.get_paginator("query").paginate(**kwargs):
            for raw in page.get("Items", []):
                item = OutboxItem(
                    raw["sk"]["S"],
                    json.loads(raw.get("notices", {}).get("S", "[]")),
                    float(raw.get("created_at", {}).get("N", "0")),
                    [AuditRecord.from_json(r) for r in json.loads(raw.get("records", {}).get("S", "[]"))],
                    bool(raw.get("abandoned", {}).get("BOOL", False)),
                )
                if item.abandoned or now - item.created_at >= grace_seconds:
                    items.append(item)
        return items

    def _batch(self, requests: list[dict[str, Any]]) -> None:
        for start in range(0, len(requests), _BATCH_WRITE_LIMIT):
            pending: Mapping[str, Any] = {self._table: requests[start : start + _BATCH_WRITE_LIMIT]}
            delay = 0.05
            for _attempt in range(12):
                response = self._client.batch_write_item(RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
                if not pending:
                    break
                self._sleep(delay)
                delay = min(delay * 2, 2.0)
            if pending:
                left = len(pending.get(self._table, []))
                raise AuditWriteFailed(f"DynamoDB left {left} audit writes unprocessed after retries")

    # -- reading ---------------------------------------------------------------------------------------------
    def history(self, finding_id: str) -> list[dict[str, Any]]:
        """Every record for a finding, oldest first (decisions, claims and reverts)."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"FINDING#{finding_id}"}},
            "ConsistentRead": True,
        }
        for page in self._client.get_paginator("query").paginate(**kwargs):
            items.extend(_plain(item) for item in page.get("Items", []))
        return sorted(items, key=lambda item: (str(item.get("decided_at", "")), str(item.get("sk", ""))))

    def side_change_findings(self) -> dict[str, set[str]]:
        """resource ARN -> the findings whose decisions made side changes there (a Scan: the uninstall path only,
        never the Lambda). A containment made only of side changes (a removed Lambda statement, snapshot sharing, a
        bucket ACL grant) leaves no ledger entry: this is how `revert --all` finds it."""
        found: dict[str, set[str]] = {}
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": (
                "begins_with(pk, :finding) AND record_type = :decision AND attribute_exists(side_changes)"
            ),
            "ExpressionAttributeValues": {":finding": {"S": "FINDING#"}, ":decision": {"S": DECISION}},
            "ConsistentRead": True,
        }
        for page in self._client.get_paginator("scan").paginate(**kwargs):
            for item in page.get("Items", []):
                found.setdefault(item["resource_arn"]["S"], set()).add(item["finding_id"]["S"])
        return found

    # -- items -----------------------------------------------------------------------------------------------
    def _item(self, record: AuditRecord) -> dict[str, Any]:
        record = self.stamp(record)
        pk, sk = _record_key(record)
        item: dict[str, Any] = {
            "pk": {"S": pk},
            "sk": {"S": sk},
            "finding_id": {"S": record.finding_id},
            "record_type": {"S": record.kind},
            "decision": {"S": record.decision},
            "reason": {"S": record.reason},
            "summary": {"S": record.summary or "-"},
            "mode": {"S": record.mode},
            "analyzer_arn": {"S": record.analyzer_arn},
            "resource_arn": {"S": record.resource_arn},
            "principal": {"S": json.dumps(dict(record.principal), sort_keys=True)},
            "actions": {"L": [{"S": action} for action in record.actions]},
            "sids_added": {"L": [{"S": sid} for sid in record.sids_added]},
            "denied": {"S": json.dumps(list(record.denied), sort_keys=True)},
            "covered_by": {"S": json.dumps(list(record.covered_by), sort_keys=True)},
            "decided_at": {"S": record.decided_at},
        }
        if record.notified is not None:
            item["notified"] = {"BOOL": record.notified}
        if record.intent_id:
            item["intent_id"] = {"S": record.intent_id}
        for key, value in (("policy_before", record.policy_before), ("policy_after", record.policy_after)):
            if value is not None:
                item[key] = {"S": value}
        for key, value in record.extra.items():
            item[key] = {"S": value}
        if self._retention_seconds:
            item["expires_at"] = {"N": str(int(self._clock()) + self._retention_seconds)}
        return item

    def _expiring(self, item: Mapping[str, Any]) -> dict[str, Any]:
        if not self._retention_seconds:
            return dict(item)
        return {**item, "expires_at": {"N": str(int(self._clock()) + self._retention_seconds)}}

    def _outbox_attributes(self, item: OutboxItem) -> dict[str, Any]:
        return {
            "pk": {"S": OUTBOX_PK},
            "sk": {"S": item.key},
            "notices": {"S": json.dumps(list(item.notices), sort_keys=True)},
            "records": {"S": json.dumps([r.to_json() for r in item.records], sort_keys=True)},
            "created_at": {"N": f"{item.created_at:.3f}"},
            "abandoned": {"BOOL": item.abandoned},
        }


def _record_key(record: AuditRecord) -> tuple[str, str]:
    return (f"FINDING#{record.finding_id}", f"{record.kind}#{record.decided_at}#{record.record_id}")


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB attribute values -> plain Python (only the shapes `_item` writes)."""
    result: dict[str, Any] = {}
    for key, value in item.items():
        if "S" in value:
            result[key] = value["S"]
        elif "N" in value:
            result[key] = float(value["N"])
        elif "BOOL" in value:
            result[key] = bool(value["BOOL"])
        elif "L" in value:
            result[key] = [entry.get("S") for entry in value["L"]]
    return result


def denied_entries(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """What verified decisions added for (or found containing) a finding, minus what later reverts removed."""
    entries: list[dict[str, Any]] = []
    for record in records:
        if record.get("record_type") == DECISION:
            for name in ("denied", "covered_by"):
                for entry in json.loads(str(record.get(name, "[]"))):
                    if entry not in entries:
                        entries.append(entry)
        elif record.get("record_type") == REVERT:
            for entry in json.loads(str(record.get("removed", "[]"))):
                if entry in entries:
                    entries.remove(entry)
    return entries


def side_changes(records: Iterable[Mapping[str, Any]]) -> list[SideChange]:
    """The side changes verified decisions made for a finding (Block Public Access, a revoked grant), minus those a
    later revert undid, in the order they were made."""
    made: dict[str, SideChange] = {}
    for record in records:
        if record.get("record_type") == DECISION and record.get("decision") == "remediate":
            for data in json.loads(str(record.get("side_changes", "[]"))):
                change = SideChange.from_json(data)
                made.setdefault(change.key, change)
        elif record.get("record_type") == REVERT:
            for data in json.loads(str(record.get("restored", "[]"))):
                made.pop(str(data.get("key")), None)
    return list(made.values())
