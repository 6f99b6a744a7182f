"""Per-resource state in DynamoDB: the lease, the ledger, write-ahead intents and kept ("intended") access.

Why a lease: IAM has no conditional write (no ETag on UpdateAssumeRolePolicy), so two read-modify-write cycles on
one role must not overlap. A conditional UpdateItem takes the role's lease; it expires, so a crashed holder cannot
block a role for longer than `lock_lease_seconds`.

Why a ledger: IAM reads are eventually consistent. After worker A writes a Deny and releases the lease, worker B's
GetRole may still return the document from before A's write; B would write that back with only its own Deny and
A's would be gone. The ledger is a strongly consistent list of everything the tool's statements must hold now,
written in the same UpdateItem that releases the lease. Every holder compares what GetRole returned with it before
computing anything (engine: re-read while the read lags), and never writes a document lacking a ledger entry
(policy.restore_entries). A revert removes entries from the ledger and leaves tombstones, so a stale read that
still shows a reverted Deny is recognised too.

Why intents: the lease is taken together with the change about to be written (and what to record and announce for
it). A holder that dies between its write and its commit leaves the intent behind; the next holder completes it
(writes it again, records and announces it), so neither a Deny nor its notice is lost.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .clients import error_code
from .policy import DenyEntry, Exclusions, OwnStatement, Policy, canonical_value, own_statements

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

STATE_SK = "STATE"
INTENT_PREFIX = "intent_"
TOMBSTONE_SECONDS = 3600  # how long a reverted entry seen in a read is taken for a stale read (and removed again)
INTENDED_SECONDS = 86400  # how long `revert --archive` keeps a principal from being contained again (archive rules
# in every analyzer take over; the mark only bridges the moment until they apply)


class LockBusy(RuntimeError):
    """Another worker holds the resource's lease for longer than we may wait: retry the findings later."""


class LockLost(RuntimeError):
    """Our lease is (nearly) over or was taken over: writing now could overwrite another worker's change."""


def state_key(resource_arn: str) -> dict[str, Any]:
    return {"pk": {"S": f"RESOURCE#{resource_arn}"}, "sk": {"S": STATE_SK}}


# ==================================================================================================== ledger
@dataclass
class Ledger:
    """What the tool's statements on one resource must hold now, and which findings each entry answers."""

    statements: dict[str, OwnStatement] = field(default_factory=dict)
    answers: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (sid, value) -> finding ids

    def in_place(self) -> list[OwnStatement]:
        return [s for s in self.statements.values() if s.values]

    def entries(self) -> list[DenyEntry]:
        return [DenyEntry(s.sid, s.kind, v, s.actions) for s in self.in_place() for v in s.values]

    def findings_of(self, entry: DenyEntry) -> list[str]:
        return list(self.answers.get(entry.key, []))

    def add(
        self, policy: Policy, entries: Iterable[DenyEntry], finding_id: str | None, resources: Sequence[str] = ()
    ) -> None:
        """Record `entries` as in place; their statement shapes come from `policy` (the document written, whose
        statements name `resources`)."""
        shapes = {own.sid: own for own in own_statements(policy, resources)}
        for entry in entries:
            shape = shapes.get(entry.sid) or self.statements.get(entry.sid)
            if shape is None:
                continue  # not in the document written (e.g. IAM refused it): not in place
            value = canonical_value(entry.kind, entry.value)
            current = self.statements.get(entry.sid, shape.with_values(()))
            if value not in current.values:
                current = current.with_values([*current.values, value])
            self.statements[entry.sid] = current
            answers = self.answers.setdefault(entry.key, [])
            if finding_id and finding_id not in answers:
                answers.append(finding_id)

    def merge(self, other: Ledger) -> None:
        for own in other.in_place():
            current = self.statements.get(own.sid, own.with_values(()))
            values = [*current.values, *(v for v in own.values if v not in current.values)]
            self.statements[own.sid] = current.with_values(values)
        for key, findings in other.answers.items():
            answers = self.answers.setdefault(key, [])
            answers += [f for f in findings if f not in answers]

    def rebase(self, policy: Policy, resources: Sequence[str] = ()) -> None:
        """Follow entries that a write moved to another Sid (a foreign statement had taken theirs)."""
        shapes = own_statements(policy, resources)
        for sid, own in list(self.statements.items()):
            home = next((s for s in shapes if s.sid == sid and s.template == own.template), None)
            if home is not None:
                continue
            moved = next((s for s in shapes if s.template == own.template and set(own.values) <= set(s.values)), None)
            if moved is None:
                continue
            del self.statements[sid]
            target = self.statements.get(moved.sid, moved.with_values(()))
            self.statements[moved.sid] = target.with_values(
                [*target.values, *(v for v in own.values if v not in target.values)]
            )
            for value in own.values:
                findings = self.answers.pop((sid, value), [])
                self.answers.setdefault((moved.sid, value), []).extend(findings)

    def remove(self, entries: Iterable[DenyEntry]) -> None:
        for entry in entries:
            own = self.statements.get(entry.sid)
            value = canonical_value(entry.kind, entry.value)
            if own is not None:
                self.statements[entry.sid] = own.with_values([v for v in own.values if v != value])
                if not self.statements[entry.sid].values:
                    del self.statements[entry.sid]
            self.answers.pop(entry.key, None)

    def to_json(self) -> list[dict[str, Any]]:
        return [
            {
                "sid": own.sid,
                "kind": own.kind,
                "actions": list(own.actions),
                "exclusions": own.exclusions.to_json(),
                "values": {v: self.answers.get((own.sid, v), []) for v in own.values},
                # A trust policy's statements name no resource: its ledger items stay as earlier releases wrote them.
                **({"resources": list(own.resources)} if own.resources else {}),
            }
            for own in self.in_place()
        ]

    @classmethod
    def from_json(cls, data: Sequence[Mapping[str, Any]]) -> Ledger:
        ledger = cls()
        for item in data:
            values = dict(item.get("values", {}))
            own = OwnStatement(
                str(item["sid"]),
                str(item["kind"]),
                tuple(map(str, item["actions"])),
                Exclusions.from_json(item.get("exclusions", {})),
                tuple(map(str, values)),
                tuple(map(str, item.get("resources", []))),
            )
            ledger.statements[own.sid] = own
            for value, findings in values.items():
                ledger.answers[(own.sid, value)] = [str(f) for f in findings]
        return ledger


@dataclass(frozen=True)
class Tombstone:
    """A Deny entry a revert removed, remembered for a while so a stale read does not bring it back."""

    entry: DenyEntry
    removed_at: float

    def to_json(self) -> dict[str, Any]:
        return {**self.entry.to_json(), "removed_at": self.removed_at}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Tombstone:
        return cls(DenyEntry.from_json(data), float(data["removed_at"]))


@dataclass(frozen=True)
class Intended:
    """Access a `revert --archive` kept: not contained again while archive rules take effect."""

    principal: Mapping[str, str]
    actions: tuple[str, ...]
    until: float
    finding_id: str

    def covers(self, principal: Mapping[str, str], actions: Iterable[str], now: float) -> bool:
        return now < self.until and dict(principal) == dict(self.principal) and set(actions) <= set(self.actions)

    def to_json(self) -> dict[str, Any]:
        return {
            "principal": dict(self.principal),
            "actions": list(self.actions),
            "until": self.until,
            "finding_id": self.finding_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Intended:
        return cls(
            {str(k): str(v) for k, v in dict(data["principal"]).items()},
            tuple(map(str, data["actions"])),
            float(data["until"]),
            str(data.get("finding_id", "")),
        )


# ==================================================================================================== intents
@dataclass(frozen=True)
class Intent:
    """A change about to be written: entries to add (with their statement shapes), entries to remove, and what to
    record and announce for it (`payload`, opaque here: see engine)."""

    id: str
    owner: str
    created_at: float
    adds: Ledger
    removes: tuple[DenyEntry, ...] = ()
    payload: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "owner": self.owner,
            "created_at": self.created_at,
            "adds": self.adds.to_json(),
            "removes": [e.to_json() for e in self.removes],
            "payload": dict(self.payload),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Intent:
        return cls(
            str(data["id"]),
            str(data["owner"]),
            float(data["created_at"]),
            Ledger.from_json(data.get("adds", [])),
            tuple(DenyEntry.from_json(e) for e in data.get("removes", [])),
            dict(data.get("payload", {})),
        )


@dataclass(frozen=True)
class ResourceState:
    """A resource's item in the state table: ledger, tombstones, intents, lease."""

    resource_arn: str
    ledger: Ledger = field(default_factory=Ledger)
    tombstones: tuple[Tombstone, ...] = ()
    intended: tuple[Intended, ...] = ()
    intents: tuple[Intent, ...] = ()
    owner: str | None = None
    lease_until: float = 0.0
    updated_at: float = 0.0
    version: int = 0
    late_write_at: float = 0.0  # a holder's write landed after its lease had passed on (see mark_late_write)

    def recent_tombstones(self, now: float) -> list[DenyEntry]:
        return [t.entry for t in self.tombstones if now - t.removed_at < TOMBSTONE_SECONDS]

    def leased(self, now: float) -> bool:
        return self.owner is not None and self.lease_until > now

    @property
    def late_write_unsettled(self) -> bool:
        """A write landed after its lease had passed on, and no holder has committed since: the document may have
        lost a later commit's change (a revert's removal, another finding's Deny) until a holder sets it right."""
        return self.late_write_at > 0 and self.late_write_at >= self.updated_at


@dataclass(frozen=True)
class Lease:
    """A lease held on one resource: who, until when, and the state read when it was taken."""

    resource_arn: str
    owner: str
    lease_until: float
    state: ResourceState  # as it was when the lease was taken
    intent_id: str | None = None


# ==================================================================================================== the store
class StateStore:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._table = table_name
        self._clock = clock
        self._sleep = sleep

    def peek(self, resource_arn: str) -> ResourceState:
        """A strongly consistent read of the resource's state (no lease taken)."""
        response = self._client.get_item(TableName=self._table, Key=state_key(resource_arn), ConsistentRead=True)
        return _state(resource_arn, response.get("Item"))

    def all_states(self) -> list[ResourceState]:
        """Every resource's state (a Scan: the uninstall path and operators only, never the Lambda)."""
        states = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "begins_with(pk, :resource) AND sk = :state",
            "ExpressionAttributeValues": {":resource": {"S": "RESOURCE#"}, ":state": {"S": STATE_SK}},
            "ConsistentRead": True,
        }
        for page in self._client.get_paginator("scan").paginate(**kwargs):
            states += [_state(item["pk"]["S"].removeprefix("RESOURCE#"), item) for item in page.get("Items", [])]
        return states

    def acquire(
        self, resource_arn: str, lease_seconds: float, wait_seconds: float, intent: Intent | None = None
    ) -> Lease:
        """Take the resource's lease (recording `intent` with it), waiting with jitter up to `wait_seconds` while
        another worker holds it. Returns the state as it is under the new lease (ledger, others' intents)."""
        owner = intent.owner if intent else uuid.uuid4().hex
        deadline = self._clock() + max(0.0, wait_seconds)
        delay = 0.05
        while True:
            now = self._clock()
            lease_until = now + lease_seconds
            names = {"#owner": "owner", "#lease": "lease_until"}
            values: dict[str, Any] = {
                ":owner": {"S": owner},
                ":lease": {"N": f"{lease_until:.3f}"},
                ":now": {"N": f"{now:.3f}"},
            }
            update = "SET #owner = :owner, #lease = :lease"
            if intent is not None:
                names["#intent"] = INTENT_PREFIX + intent.id
                values[":intent"] = {"S": _json(intent.to_json())}
                update += ", #intent = :intent"
            try:
                response = self._client.update_item(
                    TableName=self._table,
                    Key=state_key(resource_arn),
                    UpdateExpression=update,
                    # `owner = :owner`: a retried call whose first answer was lost finds its own lease.
                    ConditionExpression="attribute_not_exists(#owner) OR #lease < :now OR #owner = :owner",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                )
                state = _state(resource_arn, response.get("Attributes"))
                return Lease(resource_arn, owner, lease_until, state, intent.id if intent else None)
            except Exception as err:
                if error_code(err) != "ConditionalCheckFailedException":
                    raise
            if self._clock() + delay > deadline:
                raise LockBusy(f"{resource_arn} is leased by another worker")
            self._sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter, not crypto
            delay = min(delay * 2, 1.0)

    def record_intent(self, lease: Lease, intent: Intent) -> Lease:
        """Replace our intent (the plan changed after a fresh read); only while the lease is ours."""
        names = {"#owner": "owner", "#intent": INTENT_PREFIX + intent.id}
        values = {":owner": {"S": lease.owner}, ":intent": {"S": _json(intent.to_json())}}
        update = "SET #intent = :intent"
        if lease.intent_id and lease.intent_id != intent.id:
            names["#old"] = INTENT_PREFIX + lease.intent_id
            update += " REMOVE #old"
        self._conditional(lease, update, names, values)
        return replace(lease, intent_id=intent.id)

    def commit(
        self,
        lease: Lease,
        ledger: Ledger,
        tombstones: Sequence[Tombstone],
        intended: Sequence[Intended],
        completed_intents: Iterable[str],
    ) -> None:
        """Write the new ledger and release the lease in one conditional UpdateItem (only if the lease is ours)."""
        now = self._clock()
        # Every attribute through a name placeholder: several of them are DynamoDB reserved words.
        names = {
            "#owner": "owner",
            "#lease": "lease_until",
            "#ledger": "ledger",
            "#tombstones": "tombstones",
            "#intended": "intended",
            "#updated": "updated_at",
            "#version": "version",
        }
        values: dict[str, Any] = {
            ":owner": {"S": lease.owner},
            ":ledger": {"S": _json(ledger.to_json())},
            ":tombstones": {"S": _json([t.to_json() for t in tombstones if now - t.removed_at < TOMBSTONE_SECONDS])},
            ":intended": {"S": _json([i.to_json() for i in intended if i.until > now])},
            ":now": {"N": f"{now:.3f}"},
            ":one": {"N": "1"},
            ":zero": {"N": "0"},
        }
        removed = ["#owner", "#lease"]
        for index, intent_id in enumerate(sorted(set(completed_intents) | {lease.intent_id or ""} - {""})):
            names[f"#i{index}"] = INTENT_PREFIX + intent_id
            removed.append(f"#i{index}")
        update = (
            "SET #ledger = :ledger, #tombstones = :tombstones, #intended = :intended, #updated = :now, "
            "#version = if_not_exists(#version, :zero) + :one REMOVE " + ", ".join(removed)
        )
        self._conditional(lease, update, names, values)

    def abort(self, lease: Lease) -> None:
        """Release without having written: drop our intent with the lease. Never touches a lease taken over."""
        names = {"#owner": "owner", "#lease": "lease_until"}
        update = "REMOVE #owner, #lease"
        if lease.intent_id:
            names["#intent"] = INTENT_PREFIX + lease.intent_id
            update += ", #intent"
        try:
            self._conditional(lease, update, names, {":owner": {"S": lease.owner}})
        except LockLost:
            return

    def release(self, lease: Lease) -> None:
        """Release but keep our intent: a write that may have happened is completed by the next holder."""
        try:
            self._conditional(
                lease,
                "REMOVE #owner, #lease",
                {"#owner": "owner", "#lease": "lease_until"},
                {":owner": {"S": lease.owner}},
            )
        except LockLost:
            return

    def mark_late_write(self, lease: Lease) -> None:
        """Our write may have landed after our lease passed to another worker: it can have overwritten that
        worker's change. Unconditional on purpose (the lease is not ours any more): the next holder takes a read
        that lacks a ledger entry for the truth at once, instead of for IAM's lag, and writes the entry again."""
        self._client.update_item(
            TableName=self._table,
            Key=state_key(lease.resource_arn),
            UpdateExpression="SET #late = :now",
            ExpressionAttributeNames={"#late": "late_write_at"},
            ExpressionAttributeValues={":now": {"N": f"{self._clock():.3f}"}},
        )

    def still_held(self, lease: Lease, margin: float) -> bool:
        return self._clock() + margin < lease.lease_until

    def _conditional(self, lease: Lease, update: str, names: dict[str, str], values: dict[str, Any]) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=state_key(lease.resource_arn),
                UpdateExpression=update,
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except Exception as err:
            if error_code(err) == "ConditionalCheckFailedException":
                raise LockLost(f"the lease on {lease.resource_arn} was taken over") from None
            raise


def _state(resource_arn: str, item: Mapping[str, Any] | None) -> ResourceState:
    if not item:
        return ResourceState(resource_arn)

    def text(name: str, default: str) -> str:
        return str(item.get(name, {}).get("S", default))

    intents = tuple(
        Intent.from_json(json.loads(str(value["S"])))
        for name, value in sorted(item.items())
        if name.startswith(INTENT_PREFIX) and "S" in value
    )
    return ResourceState(
        resource_arn,
        Ledger.from_json(json.loads(text("ledger", "[]"))),
        tuple(Tombstone.from_json(t) for t in json.loads(text("tombstones", "[]"))),
        tuple(Intended.from_json(i) for i in json.loads(text("intended", "[]"))),
        intents,
        item["owner"]["S"] if "owner" in item else None,
        float(item.get("lease_until", {}).get("N", "0")),
        float(item.get("updated_at", {}).get("N", "0")),
        int(float(item.get("version", {}).get("N", "0"))),
        float(item.get("late_write_at", {}).get("N", "0")),
    )


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
