"""The rails under each cycle, one at a time: the lease margin, the commit that releases, conditional releases,
UnprocessedItems, an audit write that fails. scripts/mutation.py removes each rail and expects a test here (or in
test_promises.py) to fail."""

from __future__ import annotations

import json
from typing import Any

import pytest

from access_analyzer_remediation import engine as engine_module
from access_analyzer_remediation.audit import AuditRecord, AuditStore, AuditWriteFailed
from access_analyzer_remediation.engine import Remediator
from access_analyzer_remediation.findings import FindingRef
from access_analyzer_remediation.state import LockLost, StateStore

from .conftest import Aws, trust_policy

EXTERNAL = "999988887777"


class Clock:
    """Real time plus an offset the test moves forward."""

    def __init__(self) -> None:
        import time

        self._time = time.time
        self.offset = 0.0

    def __call__(self) -> float:
        return self._time() + self.offset


def _ref(aws: Aws, finding: dict[str, Any]) -> FindingRef:
    return FindingRef(aws.standin.analyzer_arn, finding["id"])


def test_no_write_starts_when_the_lease_is_nearly_over(aws: Aws) -> None:
    original = trust_policy({"AWS": EXTERNAL})
    aws.create_role("Margin", original)
    [finding] = aws.analyze()
    clock = Clock()
    remediator = Remediator(aws.settings(lock_lease_seconds=8), aws.clients(), lock_wait_seconds=1, clock=clock)

    def lease_runs_out(**_: Any) -> None:  # right after the lease is taken: 7.5 of its 8 seconds are gone
        clock.offset += 7.5

    remediator.clients.dynamodb().meta.events.register("after-call.dynamodb.UpdateItem", lease_runs_out)
    [outcome] = remediator.process([_ref(aws, finding)])
    assert (outcome.decision, outcome.reason) == ("failed", "lock_lost")
    assert aws.policy("Margin") == original


def test_a_remediation_commits_its_ledger_and_leaves_no_intent_behind(aws: Aws) -> None:
    arn = aws.create_role("Committed", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    remediator = aws.remediator()
    [outcome] = remediator.process([_ref(aws, finding)])
    assert outcome.decision == "remediate"
    state = remediator.state.peek(arn)
    assert state.intents == () and state.owner is None
    assert [(e.kind, e.value) for e in state.ledger.entries()] == [("Account", EXTERNAL)]
    assert state.ledger.findings_of(state.ledger.entries()[0]) == [finding["id"]]


def test_a_lease_taken_over_cannot_be_committed_or_released_by_its_old_holder(aws: Aws) -> None:
    clock = Clock()
    store = StateStore(aws.client("dynamodb"), aws.table, clock=clock)
    arn = "arn:aws:iam::123456789012:role/TakenOver"
    old = store.acquire(arn, 5, 0)
    clock.offset += 6  # the old holder stalled past its lease
    new = store.acquire(arn, 5, 0)
    with pytest.raises(LockLost):
        store.commit(old, old.state.ledger, [], [], [])
    store.abort(old)  # quietly refused
    store.release(old)
    assert store.peek(arn).owner == new.owner


class _Lossy:
    """A DynamoDB client whose BatchWriteItem processes only the first `keep` requests of each call, the first
    `times` times, answering the rest as UnprocessedItems (as DynamoDB does under load)."""

    def __init__(self, client: Any, times: int, keep: int = 1) -> None:
        self._client = client
        self._times = times
        self._keep = keep

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        if self._times <= 0:
            return dict(self._client.batch_write_item(RequestItems=RequestItems))
        self._times -= 1
        [(table, requests)] = RequestItems.items()
        if requests[: self._keep]:
            self._client.batch_write_item(RequestItems={table: requests[: self._keep]})
        rest = requests[self._keep :]
        return {"UnprocessedItems": {table: rest} if rest else {}}


def _record(n: int) -> AuditRecord:
    return AuditRecord(f"f-{n}", "DECISION", "skip", "already_contained", "-", "remediate", "a", "r")


def test_unprocessed_items_are_written_again_until_none_is_left(aws: Aws) -> None:
    store = AuditStore(_Lossy(aws.client("dynamodb"), times=5), aws.table, sleep=lambda _: None)  # type: ignore[arg-type]
    store.write([store.stamp(_record(n)) for n in range(7)])
    assert sorted(i["finding_id"]["S"] for i in aws.audit_items()) == [f"f-{n}" for n in range(7)]


def test_items_dynamodb_never_takes_fail_the_write(aws: Aws) -> None:
    store = AuditStore(_Lossy(aws.client("dynamodb"), times=100, keep=0), aws.table, sleep=lambda _: None)  # type: ignore[arg-type]
    with pytest.raises(AuditWriteFailed):
        store.write([store.stamp(_record(n)) for n in range(3)])


def test_a_record_that_cannot_be_stored_hands_its_finding_back(aws: Aws) -> None:
    aws.create_role("Unrecorded", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    remediator = aws.remediator(mode="notify")
    iam_before = json.dumps(aws.policy("Unrecorded"))

    def refuse(**_: Any) -> None:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "BatchWriteItem")

    remediator.clients.dynamodb().meta.events.register("before-call.dynamodb.BatchWriteItem", refuse)
    [outcome] = remediator.process([_ref(aws, finding)])
    assert (outcome.decision, outcome.reason) == ("failed", "audit_failed")  # retried, never silently lost
    assert json.dumps(aws.policy("Unrecorded")) == iam_before and aws.audit_items() == []


def test_a_failed_subscription_check_retries_the_batch_and_is_not_taken_for_no(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws.create_role("Gated", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    remediator = aws.remediator(require_confirmed_subscription=True)
    failures = {"left": 1}

    def throttled(**_: Any) -> None:
        if failures["left"]:
            failures["left"] -= 1
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "Throttled", "Message": "Rate exceeded"}}, "ListSubscriptionsByTopic")

    sns = remediator.clients.sns("us-east-1")
    sns.meta.events.register("before-call.sns.ListSubscriptionsByTopic", throttled)
    logged: list[dict[str, Any]] = []
    monkeypatch.setattr(
        engine_module.logger, "info", lambda message, extra=None: logged.append({"m": message, **(extra or {})})
    )
    [first] = remediator.process([_ref(aws, finding)])
    assert (first.decision, first.reason) == ("failed", "subscription_check_failed")
    # The record handed back has its cause in the log, as every decision has.
    assert [(e["m"], e["decision"], e["reason"]) for e in logged] == [
        ("decision", "failed", "subscription_check_failed")
    ]
    monkeypatch.undo()
    [second] = remediator.process([_ref(aws, finding)])  # SNS answers now: the topic has a confirmed subscriber
    assert (second.decision, second.reason) == ("remediate", "external_access_denied")


def test_a_resolved_finding_waits_for_an_intent_under_a_running_lease(aws: Aws) -> None:
    """A holder died after its write (its lease still runs): the finding, RESOLVED by that write, is handed back
    instead of acknowledged, so the intent is completed (and announced) once the lease is over."""
    arn = aws.create_role("Pending", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    remediator = aws.remediator()
    from access_analyzer_remediation.state import Intent, Ledger

    dead = Intent("deadbeefdeadbeef", "dead-holder", 0.0, Ledger())
    remediator.state.acquire(arn, 60, 0, dead)  # the dead holder's lease and intent
    aws.client("accessanalyzer").update_findings(
        analyzerArn=aws.standin.analyzer_arn, ids=[finding["id"]], status="ARCHIVED"
    )
    [outcome] = remediator.process([_ref(aws, finding)])
    assert (outcome.decision, outcome.reason) == ("failed", "lock_busy")


def test_a_write_retried_into_a_client_error_may_have_landed_and_keeps_its_intent(aws: Aws) -> None:
    """botocore retried UpdateAssumeRolePolicy: the first attempt landed (IAM answered 500 after applying it), the
    retry was throttled. The final error is a client error, yet the Deny is in place: the intent must stay, so the
    next holder records and announces it as REMEDIATED (the burst found it dropped: a Deny no record explained)."""
    from botocore.exceptions import ClientError

    arn = aws.create_role("Retried", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    remediator = aws.remediator()
    landed = {"once": True}

    def throttled_retry(**_: Any) -> None:
        if landed.pop("once", False):
            metadata: Any = {"HTTPStatusCode": 400, "RetryAttempts": 1}  # a partial ResponseMetadata
            raise ClientError({"Error": {"Code": "Throttling"}, "ResponseMetadata": metadata}, "UpdateAssumeRolePolicy")

    remediator.clients.iam().meta.events.register("after-call.iam.UpdateAssumeRolePolicy", throttled_retry)
    [first] = remediator.process([_ref(aws, finding)])
    assert first.decision == "failed"
    assert "AccessAnalyzerDeny" in json.dumps(aws.policy("Retried"))  # the write landed
    assert remediator.state.peek(arn).intents != ()  # ... so its intent stays for the next holder
    [second] = remediator.process([_ref(aws, finding)])
    assert (second.decision, second.reason) == ("remediate", "external_access_denied"), second


def test_a_write_that_outlives_its_lease_is_handed_back_and_its_retry_undoes_it(aws: Aws) -> None:
    """The race of the burst: a holder stalls in its write past its lease; an operator's `revert --archive` takes
    the lease, removes the Deny and commits; then the stalled write lands and puts the Deny back. The stalled holder's
    commit is refused: its findings are handed back (not taken for done), and the retry, though the finding is
    archived now, takes the lease and removes the Deny the revert removed."""
    from access_analyzer_remediation.revert import revert

    original = trust_policy({"AWS": EXTERNAL})
    aws.create_role("Late", original)
    [finding] = aws.analyze()
    clock = Clock()
    remediator = Remediator(aws.settings(lock_lease_seconds=8), aws.clients(), lock_wait_seconds=1, clock=clock)
    operator = Remediator(aws.settings(lock_lease_seconds=8), aws.clients(), lock_wait_seconds=1, clock=clock)
    iam = remediator.clients.iam()
    late: dict[str, Any] = {}

    def stall_then_let_the_operator_revert(**kwargs: Any) -> None:
        if late:
            return
        late["document"] = kwargs["params"]["PolicyDocument"]  # what the stalled write will put back
        clock.offset += 9  # the write stalls past the 8 s lease; meanwhile the operator reverts

    def operator_reverts_before_the_write_lands(**_: Any) -> None:
        if late.get("reverted"):
            return
        late["reverted"] = True
        result = revert(operator, finding["id"], archive=True)
        assert result["removed"] and aws.policy("Late") == original
        iam.update_assume_role_policy(RoleName="Late", PolicyDocument=late["document"])  # the stalled write lands

    iam.meta.events.register("before-parameter-build.iam.UpdateAssumeRolePolicy", stall_then_let_the_operator_revert)
    remediator.clients.dynamodb().meta.events.register(
        "after-call.dynamodb.BatchWriteItem", operator_reverts_before_the_write_lands
    )
    [outcome] = remediator.process([_ref(aws, finding)])
    assert (outcome.decision, outcome.reason) == ("failed", "lock_lost")  # handed back, not taken for done
    assert aws.policy("Late") != original  # the late write put the Deny back
    assert aws.standin.findings()[0]["status"] == "ARCHIVED"

    clock.offset += 1
    [retry] = remediator.process([_ref(aws, finding)])  # the redelivery: the finding is archived now
    assert retry.decision == "skip"
    assert aws.policy("Late") == original  # the Deny the operator removed is gone again
    state = remediator.state.peek("arn:aws:iam::123456789012:role/Late")
    assert state.intents == () and state.owner is None and state.ledger.entries() == []
