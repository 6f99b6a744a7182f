"""Confirmation loses nothing and says nothing twice (confirmation.py): every path that writes a containment stores
its pending check with it; the sweep sends a lost check again and, at last, gives its verdict; a message delivered
twice concludes once; the CLI, an approval and a timeout's apply are confirmed as the Lambda's writes are."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from access_analyzer_remediation import approval
from access_analyzer_remediation.audit import AuditStore
from access_analyzer_remediation.cli import main
from access_analyzer_remediation.confirmation import (
    CONFIRM,
    CONTAINMENT_UNRESOLVED,
    MAX_RECOVERIES,
    PENDING_PK,
    Confirmation,
    Confirmer,
    pending_item,
)
from access_analyzer_remediation.engine import Remediator
from access_analyzer_remediation.findings import FindingRef

from .conftest import Aws, trust_policy
from .test_handler import CONTEXT, _load_handler, _sqs_event
from .test_handler import _env as _handler_env

EXTERNAL = "999988887777"
DELAY, DEADLINE = 0, 600
OVERDUE = DEADLINE + 900 + 1  # past the deadline and the sweep's grace (max(900 s, 2 delays))


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _queue(aws: Aws) -> str:
    return str(aws.client("sqs").create_queue(QueueName="aar-findings")["QueueUrl"])


def _messages(aws: Aws, queue_url: str) -> list[dict[str, Any]]:
    sqs = aws.client("sqs")
    found = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return found


def _confirms(aws: Aws) -> list[dict[str, Any]]:
    return [item for item in aws.audit_items() if item["record_type"]["S"] == CONFIRM]


def _pending(aws: Aws) -> list[dict[str, Any]]:
    items = aws.client("dynamodb").scan(TableName=aws.table)["Items"]
    return [item for item in items if item["pk"]["S"] == PENDING_PK]


def _settings(aws: Aws, queue_url: str | None, **overrides: Any) -> Any:
    values = {
        "confirm_changes": True,
        "confirm_delay_seconds": DELAY,
        "confirm_deadline_seconds": DEADLINE,
        "queue_url": queue_url,
    }
    return aws.settings(**{**values, **overrides})


def _remediator(aws: Aws, clock: Clock, queue_url: str | None, **overrides: Any) -> Remediator:
    return Remediator(_settings(aws, queue_url, **overrides), aws.clients(), lock_wait_seconds=10, clock=clock)


def _confirmer(aws: Aws, clock: Clock, queue_url: str | None) -> Confirmer:
    audit = AuditStore(aws.client("dynamodb"), aws.table, clock=clock)
    return Confirmer(_settings(aws, queue_url), aws.clients(), audit, clock)


def _decision_id(aws: Aws) -> str:
    [decision] = [i for i in aws.audit_items() if i["decision"]["S"] == "remediate"]
    return str(decision["sk"]["S"].rsplit("#", 1)[1])


def _died(*_: object) -> None:
    raise RuntimeError("the invocation died after its commit")


# -- a check never sent, or lost, is recovered by the sweep ------------------------------------------------------
def test_a_crash_between_the_commit_and_the_message_is_recovered_by_the_sweep(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    role_arn = aws.create_role("Crashed", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    ref = FindingRef(aws.standin.analyzer_arn, finding["id"])
    clock, queue_url = Clock(), _queue(aws)
    dying = _remediator(aws, clock, queue_url)
    monkeypatch.setattr(dying.confirmer, "schedule", _died)
    with pytest.raises(RuntimeError, match="died after its commit"):
        dying.process([ref])
    assert "Deny" in json.dumps(aws.policy("Crashed")) and _messages(aws, queue_url) == []
    # The pending check was stored with the containment's records, in the same write.
    [pending] = _pending(aws)
    assert (pending["sk"]["S"], pending["state"]["S"], pending["recoveries"]["N"]) == (
        _decision_id(aws),
        "pending",
        "0",
    )
    assert float(pending["deadline"]["N"]) == clock.now + DEADLINE

    # The redelivery finds the Deny in place: nothing to schedule. Nor does a sweep before the check is overdue.
    remediator = _remediator(aws, clock, queue_url)
    [again] = remediator.process([ref])
    assert again.reason == "already_contained" and _messages(aws, queue_url) == []
    clock.now += OVERDUE - 2
    assert remediator.confirmer.recover() == [] and _messages(aws, queue_url) == []

    # Overdue: the sweep scans and sends it again, with a new deadline.
    aws.standin.attach(iam_client=aws.client("iam"))  # the scan re-analyses the role: RESOLVED
    clock.now += 2
    assert remediator.confirmer.recover() == []
    [body] = _messages(aws, queue_url)
    message = Confirmation.parse(body)
    assert (message.finding_id, message.record_id, message.attempt) == (finding["id"], _decision_id(aws), 1)
    assert message.deadline == clock.now + DEADLINE and (aws.standin.analyzer_arn, role_arn) in aws.standin.scans
    assert remediator.confirmer.counters.take() == {"ConfirmationScheduled": 1}
    [pending] = _pending(aws)
    assert (pending["state"]["S"], pending["recoveries"]["N"]) == ("pending", "1")

    assert remediator.confirmer.check(message) == []
    [confirm] = _confirms(aws)
    assert (confirm["decision"]["S"], confirm["confirms"]["S"]) == ("verified", _decision_id(aws))
    [pending] = _pending(aws)
    assert pending["state"]["S"] == "done"
    clock.now += 10 * OVERDUE
    assert remediator.confirmer.recover() == [] and _messages(aws, queue_url) == []  # concluded: nothing more


def test_a_check_lost_every_time_gets_its_verdict_from_the_sweep_at_last(aws: Aws) -> None:
    aws.create_role("Lost", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()  # no IAM client attached: the finding stays ACTIVE
    clock, queue_url = Clock(), _queue(aws)
    confirmer = _confirmer(aws, clock, queue_url)
    message = Confirmation(
        aws.standin.analyzer_arn, finding["id"], finding["resource"], finding["resourceOwnerAccount"], "rec-lost",
        clock.now, clock.now + DEADLINE,
    )  # fmt: skip
    confirmer.audit.write([], items=[pending_item(message)])
    for recovery in range(1, MAX_RECOVERIES + 1):
        clock.now += OVERDUE
        assert confirmer.recover() == []
        [sent] = _messages(aws, queue_url)  # ... and lost again (dead-lettered, say)
        assert Confirmation.parse(sent).deadline == clock.now + DEADLINE
        assert _pending(aws)[0]["recoveries"]["N"] == str(recovery)
    assert _confirms(aws) == []
    clock.now += OVERDUE
    [outcome] = confirmer.recover()  # the last recovery checks at once: still ACTIVE past its deadline
    assert (outcome.decision, outcome.reason, outcome.stored) == ("notify", CONTAINMENT_UNRESOLVED, True)
    assert _messages(aws, queue_url) == []
    [confirm] = _confirms(aws)
    assert confirm["decision"]["S"] == "unresolved" and confirm["confirms"]["S"] == "rec-lost"
    assert confirmer.counters.take() == {"ConfirmationScheduled": MAX_RECOVERIES, "ContainmentUnresolved": 1}
    clock.now += OVERDUE
    assert confirmer.recover() == [] and len(_confirms(aws)) == 1


def test_the_lambda_sweep_announces_a_recovered_verdict(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    aws.create_role("Swept", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    queue_url = _queue(aws)
    written = time.time() - 2 * OVERDUE  # the handler's clock is the real one
    message = Confirmation(
        aws.standin.analyzer_arn, finding["id"], finding["resource"], finding["resourceOwnerAccount"], "rec-swept",
        written, written + DEADLINE,
    )  # fmt: skip
    item = {**pending_item(message), "recoveries": {"N": str(MAX_RECOVERIES)}}
    aws.client("dynamodb").put_item(TableName=aws.table, Item=item)
    env = _handler_env(
        aws, AAR_QUEUE_URL=queue_url, AAR_CONFIRM_CHANGES="true", AAR_CONFIRM_DEADLINE_SECONDS=str(DEADLINE)
    )
    handler = _load_handler(monkeypatch, env)
    aws.emails()
    handler.lambda_handler({"aar_action": "sweep"}, CONTEXT)
    [email] = [e for e in aws.emails() if "NOT RESOLVED" in e["Message"]]
    assert "containment did not resolve the finding" in email["Message"] and finding["id"] in email["Message"]
    [confirm] = _confirms(aws)
    assert confirm["decision"]["S"] == "unresolved" and confirm["notified"]["BOOL"] is True


# -- a message delivered twice concludes once --------------------------------------------------------------------
@pytest.mark.parametrize("stored", [True, False], ids=["pending-check-stored", "message-without-pending-check"])
def test_a_confirmation_delivered_twice_records_and_announces_once(aws: Aws, stored: bool) -> None:
    aws.create_role("Twice", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    clock, queue_url = Clock(), _queue(aws)
    confirmer = _confirmer(aws, clock, queue_url)
    message = Confirmation(
        aws.standin.analyzer_arn, finding["id"], finding["resource"], finding["resourceOwnerAccount"], "rec-twice",
        clock.now, clock.now + DEADLINE, attempt=3,
    )  # fmt: skip
    if stored:
        confirmer.audit.write([], items=[pending_item(message)])
    clock.now += DEADLINE + 1
    [outcome] = confirmer.check(message)
    assert outcome.reason == CONTAINMENT_UNRESOLVED
    assert confirmer.check(message) == []  # the duplicate: nothing recorded, nothing to announce
    assert len(_confirms(aws)) == 1 and confirmer.counters.take() == {"ContainmentUnresolved": 1}
    [pending] = _pending(aws)
    assert pending["state"]["S"] == "done"
    outbox = aws.client("dynamodb").query(
        TableName=aws.table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": "OUTBOX"}}
    )["Items"]
    assert len(outbox) == 1


def test_a_duplicate_in_one_batch_mails_once(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    aws.create_role("Batch", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    written = time.time() - DEADLINE - 5
    message = Confirmation(
        aws.standin.analyzer_arn, finding["id"], finding["resource"], finding["resourceOwnerAccount"], "rec-batch",
        written, written + DEADLINE,
    ).to_json()  # fmt: skip
    handler = _load_handler(monkeypatch, _handler_env(aws, AAR_QUEUE_URL=_queue(aws), AAR_CONFIRM_CHANGES="true"))
    aws.emails()
    assert handler.lambda_handler(_sqs_event(message, message), CONTEXT) == {"batchItemFailures": []}
    assert handler.lambda_handler(_sqs_event(message, receives=2), CONTEXT) == {"batchItemFailures": []}
    assert len([e for e in aws.emails() if "NOT RESOLVED" in e["Message"]]) == 1
    assert len(_confirms(aws)) == 1


# -- every path that writes confirms ------------------------------------------------------------------------------
def test_the_cli_remediate_is_confirmed_through_the_deployments_sweep(
    cli_env: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The main queue's policy lets only the rule and the Lambda role send: the CLI stores the pending check with
    its records and sends nothing; the deployment's sweep scans and sends it once it is overdue."""
    aws = cli_env
    queue_url = _queue(aws)
    for key, value in {
        "AAR_QUEUE_URL": queue_url,  # as `terraform output cli_environment` exports it
        "AAR_CONFIRM_CHANGES": "true",
        "AAR_CONFIRM_DELAY_SECONDS": "0",
        "AAR_CONFIRM_DEADLINE_SECONDS": str(DEADLINE),
    }.items():
        monkeypatch.setenv(key, value)
    role_arn = aws.create_role("ByHand", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    argv = ["remediate", "--analyzer-arn", aws.standin.analyzer_arn, "--finding-id", finding["id"], "--json"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["counts"] == {"remediate": 1}
    assert aws.standin.scans == [] and _messages(aws, queue_url) == []
    assert _confirms(aws) == []  # no "not_scheduled": nothing was refused
    [pending] = _pending(aws)
    assert (pending["sk"]["S"], pending["state"]["S"]) == (_decision_id(aws), "pending")

    sweep = _confirmer(aws, Clock(time.time() + OVERDUE), queue_url)
    assert sweep.recover() == []
    [message] = _messages(aws, queue_url)
    assert (message["finding_id"], message["record_id"]) == (finding["id"], _decision_id(aws))
    assert aws.standin.scans == [(aws.standin.analyzer_arn, role_arn)]


@pytest.mark.parametrize("path", ["approve", "timeout-apply"])
def test_an_approved_or_timed_out_change_is_confirmed(aws: Aws, path: str) -> None:
    role = "Approved"
    arn = aws.create_role(role, trust_policy({"AWS": EXTERNAL}))
    finding = aws.standin.add_finding(resource=arn, principal={"AWS": EXTERNAL}, publish=False)
    ref = FindingRef(aws.standin.analyzer_arn, finding["id"])
    clock, queue_url = Clock(), _queue(aws)
    remediator = _remediator(aws, clock, queue_url, mode="approve", approval_timeout_hours=1, on_timeout="apply")
    [requested] = remediator.process([ref])
    assert requested.reason == approval.APPROVAL_PENDING and _pending(aws) == [] and _messages(aws, queue_url) == []
    if path == "approve":
        decided = approval.approve(
            remediator, approval.pending_for(remediator, ref.finding_id), "arn:aws:iam::1:user/a"
        )
    else:
        clock.now += 3601
        [decided] = approval.settle_due(remediator, "123456789012")
    assert (decided.status, decided.applied) == (approval.APPLIED, True)
    [message] = _messages(aws, queue_url)
    [pending] = _pending(aws)
    assert message["finding_id"] == finding["id"] and message["record_id"] == pending["sk"]["S"] == _decision_id(aws)
    assert remediator.confirmer.counters.take() == {"ConfirmationScheduled": 1}


def test_a_pending_check_of_an_analyzer_no_longer_configured_is_left_alone(aws: Aws) -> None:
    clock, queue_url = Clock(), _queue(aws)
    confirmer = _confirmer(aws, clock, queue_url)
    gone = "arn:aws:access-analyzer:us-east-1:123456789012:analyzer/removed"
    message = Confirmation(
        gone, "f-1", "arn:aws:iam::123456789012:role/R", "123456789012", "rec-gone", clock.now, clock.now + DEADLINE
    )
    confirmer.audit.write([], items=[pending_item(message)])
    clock.now += OVERDUE
    assert confirmer.recover() == []  # no call for it, and the sweep does not fail every day over it
    assert _messages(aws, queue_url) == [] and aws.calls["GetFinding"] == 0 and aws.standin.scans == []
    assert _pending(aws)[0]["state"]["S"] == "pending"


def test_a_batch_of_checks_is_sent_concurrently_and_only_while_there_is_time(aws: Aws) -> None:
    for n in range(3):
        aws.create_role(f"Many{n}", trust_policy({"AWS": EXTERNAL}))
    findings = aws.analyze()
    refs = [FindingRef(aws.standin.analyzer_arn, f["id"]) for f in findings]
    clock, queue_url = Clock(), _queue(aws)
    threads: set[str] = set()
    remediator = _remediator(aws, clock, queue_url)
    scan = remediator.confirmer._scan

    def recording_scan(message: Confirmation) -> None:
        import threading

        threads.add(threading.current_thread().name)
        scan(message)

    remediator.confirmer._scan = recording_scan  # type: ignore[method-assign]
    aws.calls.clear()
    outcomes = remediator.process(refs)
    assert [o.decision for o in outcomes] == ["remediate"] * 3
    assert len(_messages(aws, queue_url)) == 3 and len(threads) > 1  # the engine's pool, not one after another
    assert aws.calls["SendMessageBatch"] == 1 and aws.calls["SendMessage"] == 0  # the three checks in one call
    assert remediator.confirmer.counters.take() == {"ConfirmationScheduled": 3}

    # An invocation out of time sends nothing more: the pending checks wait for the sweep (no record, no count).
    remediator.confirmer.schedule(outcomes, time_left=lambda: 1.0)
    assert _messages(aws, queue_url) == [] and remediator.confirmer.counters.take() == {}
    assert _confirms(aws) == [] and {p["state"]["S"] for p in _pending(aws)} == {"pending"}
    clock.now += OVERDUE
    assert remediator.confirmer.recover(time_left=lambda: 1.0) == [] and _messages(aws, queue_url) == []
    assert remediator.confirmer.recover() == [] and len(_messages(aws, queue_url)) == 3


def test_findings_on_one_resource_share_one_scan_and_a_refused_entry_is_recorded(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    role_arn = aws.create_role("Shared", trust_policy({"AWS": [EXTERNAL, "111122223333"]}))
    findings = aws.analyze()
    assert len(findings) == 2
    clock, queue_url = Clock(), _queue(aws)
    remediator = _remediator(aws, clock, queue_url)
    sqs = aws.client("sqs")

    class RefusesTheSecond:
        def send_message_batch(self, **kwargs: Any) -> dict[str, Any]:
            first, second = kwargs["Entries"]
            sqs.send_message(QueueUrl=kwargs["QueueUrl"], MessageBody=first["MessageBody"])
            return {"Successful": [{"Id": first["Id"]}], "Failed": [{"Id": second["Id"], "Code": "KMS.Throttled"}]}

    monkeypatch.setattr(remediator.confirmer.clients, "sqs", lambda region: RefusesTheSecond())
    outcomes = remediator.process([FindingRef(aws.standin.analyzer_arn, f["id"]) for f in findings])
    assert [o.decision for o in outcomes] == ["remediate"] * 2
    assert aws.standin.scans == [(aws.standin.analyzer_arn, role_arn)]  # one scan for the role
    assert len(_messages(aws, queue_url)) == 1
    [refused] = _confirms(aws)
    assert refused["decision"]["S"] == "not_scheduled" and "KMS.Throttled" in refused["summary"]["S"]
    assert remediator.confirmer.counters.take() == {"ConfirmationScheduled": 1, "ConfirmationNotScheduled": 1}
    assert len(_pending(aws)) == 2  # both stored: the refused one waits for the sweep
