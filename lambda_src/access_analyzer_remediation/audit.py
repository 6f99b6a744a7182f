"""The audit log and per-role locks, both in one DynamoDB table (keys: docs/architecture.md).

Why a lock: IAM has no conditional write (no ETag on UpdateAssumeRolePolicy). Verify-after-write alone cannot
close the race: writer A can verify its statement between its own write and a concurrent writer B's write that
was computed from the policy A had not yet changed, and B's write then silently drops A's Deny. A per-role lease
in DynamoDB (conditional PutItem) serialises our read-modify-write cycles on a role; the lease expires so a crashed
holder cannot block a role for longer than `lock_lease_seconds`.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .clients import error_code

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_BATCH_WRITE_LIMIT = 25


class LockBusy(RuntimeError):
    """Another worker holds the role's lock for longer than we may wait: retry the findings later."""


class LockLost(RuntimeError):
    """Our lease is (nearly) over: writing now could overwrite another worker's change. Retry later."""


@dataclass(frozen=True)
class Lock:
    role_arn: str
    owner: str
    lease_until: float


@dataclass(frozen=True)
class AuditRecord:
    """One decision about one finding (or one revert). `denied` is what this decision added to the policy."""

    finding_id: str
    kind: str  # "DECISION" | "REVERT"
    decision: str
    reason: str
    summary: str
    mode: str
    analyzer_arn: str
    resource_arn: str
    principal: Mapping[str, str] = field(default_factory=dict)
    actions: Sequence[str] = ()
    denied: Sequence[Mapping[str, Any]] = ()
    policy_before: str | None = None
    policy_after: str | None = None
    decided_at: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def sids_added(self) -> list[str]:
        return sorted({str(entry["sid"]) for entry in self.denied})


def now_iso(clock: Callable[[], float] = time.time) -> str:
    return datetime.fromtimestamp(clock(), UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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

    # -- locks ---------------------------------------------------------------------------------------------
    def acquire(self, role_arn: str, lease_seconds: int, wait_seconds: float) -> Lock:
        """Take the role's lease, waiting (with jitter) up to `wait_seconds` while someone else holds it."""
        owner = uuid.uuid4().hex
        deadline = self._clock() + wait_seconds
        delay = 0.05
        while True:
            now = self._clock()
            lease_until = now + lease_seconds
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item={
                        "pk": {"S": f"LOCK#{role_arn}"},
                        "sk": {"S": "LOCK"},
                        "owner": {"S": owner},
                        "lease_until": {"N": f"{lease_until:.3f}"},
                        "expires_at": {"N": str(int(lease_until) + 3600)},
                    },
                    # `owner = :owner`: a retried PutItem whose first answer was lost finds its own lock.
                    ConditionExpression="attribute_not_exists(pk) OR lease_until < :now OR #owner = :owner",
                    ExpressionAttributeNames={"#owner": "owner"},
                    ExpressionAttributeValues={":now": {"N": f"{now:.3f}"}, ":owner": {"S": owner}},
                )
                return Lock(role_arn, owner, lease_until)
            except Exception as err:
                if error_code(err) != "ConditionalCheckFailedException":
                    raise
            if self._clock() + delay > deadline:
                raise LockBusy(f"{role_arn} is locked by another worker")
            self._sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter, not crypto
            delay = min(delay * 2, 1.0)

    def release(self, lock: Lock) -> None:
        """Conditional delete: never removes a lease that expired and was taken over by another worker."""
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=_lock_key(lock.role_arn),
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": lock.owner}},
            )
        except Exception as err:
            if error_code(err) != "ConditionalCheckFailedException":
                raise

    def still_held(self, lock: Lock, margin: float = 2.0) -> bool:
        return self._clock() + margin < lock.lease_until

    # -- records -------------------------------------------------------------------------------------------
    def record(self, records: Sequence[AuditRecord], release: Lock | None = None) -> None:
        """Write `records` (and release `release`) in as few calls as DynamoDB allows; nothing is dropped."""
        requests: list[dict[str, Any]] = [{"PutRequest": {"Item": self._item(r)}} for r in records]
        conditional_release = release is not None and not self.still_held(release)
        if release is not None and not conditional_release:
            # Still inside our lease, so the lock item is ours: an unconditional delete is safe and saves a call.
            requests.append({"DeleteRequest": {"Key": _lock_key(release.role_arn)}})
        if len(requests) == 1 and "PutRequest" in requests[0]:
            self._client.put_item(TableName=self._table, Item=requests[0]["PutRequest"]["Item"])
        else:
            for start in range(0, len(requests), _BATCH_WRITE_LIMIT):
                self._batch_write(requests[start : start + _BATCH_WRITE_LIMIT])
        if release is not None and conditional_release:
            self.release(release)

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        pending: Mapping[str, Any] = {self._table: requests}
        delay = 0.05
        for _attempt in range(12):
            response = self._client.batch_write_item(RequestItems=pending)
            pending = response.get("UnprocessedItems") or {}
            if not pending:
                return
            self._sleep(delay)
            delay = min(delay * 2, 2.0)
        raise RuntimeError(f"DynamoDB left {len(pending.get(self._table, []))} audit writes unprocessed")

    def history(self, finding_id: str) -> list[dict[str, Any]]:
        """Every record for a finding, oldest first (decisions and reverts)."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"FINDING#{finding_id}"}},
            "ConsistentRead": True,
        }
        while True:
            response = self._client.query(**kwargs)
            items.extend(_plain(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return sorted(items, key=lambda item: str(item.get("decided_at", "")))
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _item(self, record: AuditRecord) -> dict[str, Any]:
        decided_at = record.decided_at or now_iso(self._clock)
        item: dict[str, Any] = {
            "pk": {"S": f"FINDING#{record.finding_id}"},
            "sk": {"S": f"{record.kind}#{decided_at}#{uuid.uuid4().hex[:8]}"},
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
            "decided_at": {"S": decided_at},
        }
        for key, value in (("policy_before", record.policy_before), ("policy_after", record.policy_after)):
            if value is not None:
                item[key] = {"S": value}
        for key, value in record.extra.items():
            item[key] = {"S": value}
        if self._retention_seconds:
            item["expires_at"] = {"N": str(int(self._clock()) + self._retention_seconds)}
        return item


def _lock_key(role_arn: str) -> dict[str, Any]:
    return {"pk": {"S": f"LOCK#{role_arn}"}, "sk": {"S": "LOCK"}}


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB attribute values -> plain Python (only the shapes `_item` writes)."""
    result: dict[str, Any] = {}
    for key, value in item.items():
        if "S" in value:
            result[key] = value["S"]
        elif "N" in value:
            result[key] = float(value["N"])
        elif "L" in value:
            result[key] = [entry.get("S") for entry in value["L"]]
    return result


def denied_entries(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """What decisions added for a finding and later reverts have not yet removed (oldest first)."""
    entries: list[dict[str, Any]] = []
    for record in records:
        if record.get("record_type") == "DECISION":
            for entry in json.loads(str(record.get("denied", "[]"))):
                if entry not in entries:
                    entries.append(entry)
        elif record.get("record_type") == "REVERT":
            for entry in json.loads(str(record.get("removed", "[]"))):
                if entry in entries:
                    entries.remove(entry)
    return entries
