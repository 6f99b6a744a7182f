"""Confirm after writing (confirmation.py): StartResourceScan, a delayed GetFinding, and what each verdict leaves in
the audit history and the digest. The AWS side is the moto server and the Access Analyzer stand-in (conftest)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from access_analyzer_remediation.audit import REVERT, AuditRecord, AuditStore
from access_analyzer_remediation.confirmation import (
    CONFIRM,
    CONTAINMENT_UNRESOLVED,
    MAX_ATTEMPTS,
    MAX_SPAN_SECONDS,
    NEW_FINDING_AFTER_CHANGE,
    Confirmation,
    Confirmer,
    MalformedConfirmation,
)
from access_analyzer_remediation.findings import FindingRef
from access_analyzer_remediation.notify import Notice

from .conftest import ANALYZER, Aws, trust_policy
from .test_handler import CONTEXT, _finding_event, _load_handler, _sqs_event
from .test_handler import _env as _handler_env

EXTERNAL = "999988887777"
OTHER = "444455556666"


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _env(aws: Aws, **overrides: str) -> dict[str, str]:
    return _handler_env(aws, **{"AAR_CONFIRM_CHANGES": "true", **overrides})


def _queue(aws: Aws) -> str:
    return str(aws.client("sqs").create_queue(QueueName="aar-findings")["QueueUrl"])


def _messages(aws: Aws, queue_url: str) -> list[dict[str, Any]]:
    sqs = aws.client("sqs")
    found: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return found
        for message in batch:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _confirms(aws: Aws) -> list[dict[str, Any]]:
    return [item for item in aws.audit_items() if item["record_type"]["S"] == CONFIRM]


def _confirmer(aws: Aws, clock: Clock, queue_url: str | None, **overrides: Any) -> Confirmer:
    values: dict[str, Any] = {
        "confirm_changes": True,
        "confirm_delay_seconds": 60,
        "confirm_deadline_seconds": 600,
        "queue_url": queue_url,
    }
    settings = aws.settings(**{**values, **overrides})
    return Confirmer(settings, aws.clients(), AuditStore(aws.client("dynamodb"), aws.table, clock=clock), clock)


def _message(aws: Aws, finding: dict[str, Any], clock: Clock, **overrides: Any) -> Confirmation:
    values: dict[str, Any] = {
        "analyzer_arn": aws.standin.analyzer_arn,
        "finding_id": finding["id"],
        "resource_arn": finding["resource"],
        "resource_owner_account": finding["resourceOwnerAccount"],
        "record_id": "rec1",
        "written_at": clock.now,
        "deadline": clock.now + 600,
    }
    values.update(overrides)
    return Confirmation(**values)


# -- through the handler: the write, the scan, the message, the check -------------------------------------------
def test_a_containment_is_scanned_and_confirmed_verified_once_the_scan_resolves_it(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    role_arn = aws.create_role("Confirmed", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    aws.standin.attach(iam_client=aws.client("iam"))  # StartResourceScan re-analyses the role
    queue_url = _queue(aws)
    env = _env(aws, AAR_QUEUE_URL=queue_url, AAR_CONFIRM_DELAY_SECONDS="0", AAR_CONFIRM_DEADLINE_SECONDS="600")
    handler = _load_handler(monkeypatch, env)
    assert handler.lambda_handler(_sqs_event(_finding_event(aws, finding)), CONTEXT) == {"batchItemFailures": []}
    assert (aws.standin.analyzer_arn, role_arn) in aws.standin.scans
    [message] = _messages(aws, queue_url)
    assert message["aar_action"] == "confirm" and message["finding_id"] == finding["id"]
    assert message["resource_arn"] == role_arn and message["attempt"] == 1
    assert message["deadline"] - message["written_at"] == 600
    [decision] = [i for i in aws.audit_items() if i["record_type"]["S"] == "DECISION"]
    assert message["record_id"] == decision["sk"]["S"].rsplit("#", 1)[1]
    assert _confirms(aws) == []  # nothing is verified before the check
    aws.emails()

    assert handler.lambda_handler(_sqs_event(message), CONTEXT) == {"batchItemFailures": []}
    [confirm] = _confirms(aws)
    assert confirm["decision"]["S"] == "verified" and confirm["finding_status"]["S"] == "RESOLVED"
    assert confirm["confirms"]["S"] == message["record_id"]
    assert _messages(aws, queue_url) == []  # not re-scheduled
    assert aws.emails() == []  # a verified containment needs no e-mail: the record says it
    # Append-only: the containment's DECISION record is as it was.
    assert [i for i in aws.audit_items() if i["record_type"]["S"] == "DECISION"] == [decision]


def test_confirmation_disabled_means_no_scan_and_no_message(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    aws.create_role("Unconfirmed", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    queue_url = _queue(aws)
    handler = _load_handler(monkeypatch, _env(aws, AAR_QUEUE_URL=queue_url, AAR_CONFIRM_CHANGES="false"))
    assert handler.lambda_handler(_sqs_event(_finding_event(aws, finding)), CONTEXT) == {"batchItemFailures": []}
    assert [i["decision"]["S"] for i in aws.audit_items()] == ["remediate"]
    assert aws.calls["StartResourceScan"] == 0 and aws.calls["SendMessage"] == 0
    assert aws.standin.scans == [] and _messages(aws, queue_url) == []


@pytest.mark.parametrize(
    "change",
    [
        {"extra": "field"},
        {"attempt": True},
        {"attempt": 0},
        {"attempt": MAX_ATTEMPTS + 1},
        {"deadline": 1_800_000_000.0 + MAX_SPAN_SECONDS + 1},
        {"deadline": 1_799_999_999.0},
        {"written_at": "yesterday"},
        {"analyzer_arn": "arn:aws:iam::123456789012:role/not-an-analyzer"},
        {"resource_arn": "a role"},
        {"finding_id": "f 1\n"},
        {"record_id": ""},
        {"resource_owner_account": "12345"},
    ],
)
def test_malformed_confirmation_messages_are_rejected_without_any_call_or_write(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, change: dict[str, Any]
) -> None:
    role_arn = aws.create_role("Target", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    good = _message(aws, finding, Clock()).to_json()
    assert Confirmation.parse(good).resource_arn == role_arn
    bad = {**good, **change}
    with pytest.raises(MalformedConfirmation):
        Confirmation.parse(bad)
    handler = _load_handler(monkeypatch, _env(aws, AAR_QUEUE_URL=_queue(aws)))
    before = aws.policy("Target")
    aws.calls.clear()
    assert handler.lambda_handler(_sqs_event(bad), CONTEXT) == {"batchItemFailures": []}  # dropped, not retried
    assert aws.calls["GetFinding"] == 0 and aws.calls["BatchWriteItem"] == 0 and aws.calls["SendMessage"] == 0
    assert aws.audit_items() == [] and aws.policy("Target") == before


def test_a_confirmation_for_an_unknown_analyzer_or_another_resource_is_rejected(aws: Aws) -> None:
    aws.create_role("Target", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    clock = Clock()
    confirmer = _confirmer(aws, clock, _queue(aws))
    foreign = "arn:aws:access-analyzer:us-east-1:123456789012:analyzer/someone-elses"
    with pytest.raises(MalformedConfirmation, match="not a configured analyzer"):
        confirmer.check(_message(aws, finding, clock, analyzer_arn=foreign))
    assert aws.calls["GetFinding"] == 0
    with pytest.raises(MalformedConfirmation, match="does not match"):
        confirmer.check(_message(aws, finding, clock, resource_arn="arn:aws:iam::123456789012:role/Other"))
    assert aws.audit_items() == []


# -- the verdicts (Confirmer with a clock) ------------------------------------------------------------------------
def test_still_active_before_the_deadline_is_scanned_again_and_re_scheduled(aws: Aws) -> None:
    role_arn = aws.create_role("Slow", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()  # no IAM client attached: the scan leaves the finding ACTIVE
    clock = Clock()
    queue_url = _queue(aws)
    message = _message(aws, finding, clock)
    clock.now += 100
    assert _confirmer(aws, clock, queue_url).check(message) == []  # delay 60 s: the message waits in the queue
    attributes = aws.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert (attributes["ApproximateNumberOfMessagesDelayed"], attributes["ApproximateNumberOfMessages"]) == ("1", "0")
    assert _confirmer(aws, clock, queue_url, confirm_delay_seconds=0).check(message) == []
    [again] = _messages(aws, queue_url)
    assert Confirmation.parse(again) == Confirmation(**{**message.__dict__, "attempt": 2})
    assert aws.standin.scans == [(aws.standin.analyzer_arn, role_arn)] * 2
    assert _confirms(aws) == []


def test_still_active_at_the_deadline_is_a_loud_unresolved_notice_naming_what_still_grants(aws: Aws) -> None:
    aws.create_role("Stuck", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    clock = Clock()
    queue_url = _queue(aws)
    confirmer = _confirmer(aws, clock, queue_url)
    message = _message(aws, finding, clock, attempt=4)
    clock.now += 601
    [outcome] = confirmer.check(message)
    assert outcome.decision == "notify" and outcome.reason == CONTAINMENT_UNRESOLVED and outcome.stored
    assert "containment did not resolve the finding" in outcome.summary
    assert f"AWS: {EXTERNAL}" in outcome.summary and "sts:AssumeRole" in outcome.summary
    assert confirmer.counters.take() == {"ContainmentUnresolved": 1}
    [confirm] = _confirms(aws)
    assert confirm["decision"]["S"] == "unresolved" and confirm["finding_status"]["S"] == "ACTIVE"
    assert confirm["attempts"]["S"] == "4" and confirm["notified"]["BOOL"] is False
    assert _messages(aws, queue_url) == []  # the deadline has passed: no further check
    # The notice is in the outbox with the record; announcing sends it.
    [item] = outcome.outbox
    [notice] = [Notice.from_json(n) for n in item.notices]
    assert notice.headline == "NOT RESOLVED"
    remediator = aws.remediator()
    remediator.announce([outcome], "123456789012")
    [email] = aws.emails()
    assert "[NOT RESOLVED]" in email["Message"] and "containment did not resolve the finding" in email["Message"]
    assert email["Subject"].startswith("[Access Analyzer] NOT RESOLVED by the containment:")


def test_a_containment_reverted_before_the_check_is_not_an_alarm(aws: Aws) -> None:
    aws.create_role("Reverted", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    clock = Clock()
    audit = AuditStore(aws.client("dynamodb"), aws.table, clock=clock)
    earlier = AuditRecord(finding["id"], REVERT, "revert", "operator", "removed", "remediate", ANALYZER, "r")
    audit.write([audit.stamp(earlier)])  # a revert before the write: not this containment's
    clock.now += 10
    message = _message(aws, finding, clock)
    clock.now += 10
    audit.write([audit.stamp(replace(earlier, analyzer_arn=aws.standin.analyzer_arn))])  # the operator's revert
    clock.now += 601
    assert _confirmer(aws, clock, _queue(aws)).check(message) == []
    [confirm] = _confirms(aws)
    assert confirm["decision"]["S"] == "reverted" and aws.emails() == []


def test_a_revert_before_the_write_does_not_silence_the_alarm(aws: Aws) -> None:
    aws.create_role("RevertedBefore", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    clock = Clock()
    audit = AuditStore(aws.client("dynamodb"), aws.table, clock=clock)
    audit.write([audit.stamp(AuditRecord(finding["id"], REVERT, "revert", "op", "x", "remediate", ANALYZER, "r"))])
    clock.now += 10
    message = _message(aws, finding, clock)
    clock.now += 601
    [outcome] = _confirmer(aws, clock, _queue(aws)).check(message)
    assert outcome.reason == CONTAINMENT_UNRESOLVED


def test_the_attempts_are_bounded_even_before_the_deadline(aws: Aws) -> None:
    aws.create_role("Bounded", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    clock = Clock()
    queue_url = _queue(aws)
    [outcome] = _confirmer(aws, clock, queue_url).check(_message(aws, finding, clock, attempt=MAX_ATTEMPTS))
    assert outcome.reason == CONTAINMENT_UNRESOLVED and _messages(aws, queue_url) == []


@pytest.mark.parametrize("status", ["RESOLVED", "ARCHIVED"])
def test_resolved_or_archived_is_verified(aws: Aws, status: str) -> None:
    role_arn = aws.create_role("Done", trust_policy({"AWS": EXTERNAL}))
    finding = aws.standin.add_finding(resource=role_arn, status=status, publish=False)
    clock = Clock()
    confirmer = _confirmer(aws, clock, _queue(aws))
    clock.now += 30
    assert confirmer.check(_message(aws, finding, clock)) == []
    [confirm] = _confirms(aws)
    assert confirm["decision"]["S"] == "verified" and confirm["finding_status"]["S"] == status
    assert "new_findings" not in confirm
    assert confirmer.counters.take() == {"ContainmentVerified": 1}


def test_a_new_active_finding_on_the_resource_after_the_change_is_reported(aws: Aws) -> None:
    role_arn = aws.create_role("Opened", trust_policy({"AWS": EXTERNAL}))
    clock = Clock(now=1.0)  # the write happened before the stand-in created the findings below
    old = aws.standin.add_finding(resource=role_arn, status="RESOLVED", publish=False)
    new = aws.standin.add_finding(resource=role_arn, principal={"AWS": OTHER}, publish=False)
    confirmer = _confirmer(aws, clock, _queue(aws))
    [outcome] = confirmer.check(_message(aws, old, clock, deadline=601.0))
    assert outcome.reason == NEW_FINDING_AFTER_CHANGE and new["id"] in outcome.summary
    assert confirmer.counters.take() == {"ContainmentVerified": 1, "ContainmentUnresolved": 1}
    verdicts = sorted((i["decision"]["S"], i["reason"]["S"]) for i in _confirms(aws))
    assert verdicts == [("unresolved", NEW_FINDING_AFTER_CHANGE), ("verified", "verified")]
    assert all(json.loads(i["new_findings"]["S"]) == [new["id"]] for i in _confirms(aws))


def test_a_finding_created_before_the_write_is_not_new(aws: Aws) -> None:
    role_arn = aws.create_role("Older", trust_policy({"AWS": EXTERNAL}))
    old = aws.standin.add_finding(resource=role_arn, status="RESOLVED", publish=False)
    aws.standin.add_finding(resource=role_arn, principal={"AWS": OTHER}, publish=False)
    clock = Clock()  # 2027: after both findings were created
    assert _confirmer(aws, clock, _queue(aws)).check(_message(aws, old, clock)) == []
    [confirm] = _confirms(aws)
    assert confirm["decision"]["S"] == "verified"


def test_a_finding_gone_is_recorded_and_a_failed_get_finding_is_retried(aws: Aws) -> None:
    role_arn = aws.create_role("Gone", trust_policy({"AWS": EXTERNAL}))
    clock = Clock()
    confirmer = _confirmer(aws, clock, _queue(aws))
    finding = {"id": "no-such-finding", "resource": role_arn, "resourceOwnerAccount": "123456789012"}
    assert confirmer.check(_message(aws, finding, clock)) == []
    [confirm] = _confirms(aws)
    assert confirm["decision"]["S"] == "finding_gone"
    aws.standin.fail_next("GetFinding", "AccessDeniedException")
    with pytest.raises(Exception, match="AccessDenied"):
        confirmer.check(_message(aws, finding, clock))
    assert len(_confirms(aws)) == 1


# -- scheduling never blocks the containment ----------------------------------------------------------------------
def test_a_confirmation_that_cannot_be_scheduled_is_recorded_and_counted(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws.create_role("Unsent", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    missing = _queue(aws).replace("aar-findings", "no-such-queue")
    handler = _load_handler(monkeypatch, _env(aws, AAR_QUEUE_URL=missing, AWS_MAX_ATTEMPTS="1"))
    aws.standin.fail_next("StartResourceScan", "AccessDeniedException")
    assert handler.lambda_handler(_sqs_event(_finding_event(aws, finding)), CONTEXT) == {"batchItemFailures": []}
    decisions = {i["record_type"]["S"]: i for i in aws.audit_items()}
    assert decisions["DECISION"]["decision"]["S"] == "remediate"  # the containment stands
    assert decisions[CONFIRM]["decision"]["S"] == "not_scheduled"
    assert "confirmation not scheduled" in decisions[CONFIRM]["summary"]["S"]
    assert "Deny" in json.dumps(aws.policy("Unsent"))
    [email] = aws.emails()
    assert "[REMEDIATED]" in email["Message"]


def test_a_re_send_that_fails_hands_the_message_back(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    aws.create_role("Retry", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    missing = _queue(aws).replace("aar-findings", "no-such-queue")
    handler = _load_handler(monkeypatch, _env(aws, AAR_QUEUE_URL=missing, AWS_MAX_ATTEMPTS="1"))
    clock = Clock()
    message = _message(aws, finding, clock, written_at=4_000_000_000.0, deadline=4_000_000_600.0)
    assert handler.lambda_handler(_sqs_event(message.to_json()), CONTEXT) == {
        "batchItemFailures": [{"itemIdentifier": "m0"}]
    }
    assert _confirms(aws) == []


def test_only_written_containments_are_scheduled(aws: Aws) -> None:
    aws.create_role("Notified", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    queue_url = _queue(aws)
    clock = Clock()
    confirmer = _confirmer(aws, clock, queue_url, confirm_delay_seconds=0)
    outcomes = aws.remediator(mode="notify").process([FindingRef(aws.standin.analyzer_arn, finding["id"])])
    assert [o.decision for o in outcomes] == ["notify"]
    confirmer.schedule(outcomes)
    assert aws.calls["StartResourceScan"] == 0 and _messages(aws, queue_url) == []
    outcomes = aws.remediator().process([FindingRef(aws.standin.analyzer_arn, finding["id"])])
    confirmer.schedule(outcomes)
    [message] = _messages(aws, queue_url)
    assert Confirmation.parse(message).finding_id == finding["id"]
    assert confirmer.counters.take() == {"ConfirmationScheduled": 1}


class _Recorder:
    """A client that records its calls (the organization-mode scan parameters)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def start_resource_scan(self, **kwargs: Any) -> None:
        self.calls.append(("StartResourceScan", kwargs))

    def send_message(self, **kwargs: Any) -> dict[str, str]:
        self.calls.append(("SendMessage", kwargs))
        return {"MessageId": "m-1"}


class _Clients:
    def __init__(self, recorder: _Recorder) -> None:
        self.recorder = recorder

    def access_analyzer(self, region: str) -> _Recorder:
        return self.recorder

    def sqs(self, region: str) -> _Recorder:
        return self.recorder


@pytest.mark.parametrize("organization", [False, True])
def test_the_scan_names_the_resource_owner_in_organization_mode(aws: Aws, organization: bool) -> None:
    aws.create_role("Member", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    outcome = aws.remediator().process([FindingRef(aws.standin.analyzer_arn, finding["id"])])
    org = {"member_role_name": "aar-member", "management_account_id": "210987654321"} if organization else {}
    settings = aws.settings(
        confirm_changes=True, confirm_delay_seconds=7, queue_url="https://sqs/123456789012/q", **org
    )
    recorder = _Recorder()
    confirmer = Confirmer(settings, _Clients(recorder), AuditStore(aws.client("dynamodb"), aws.table))  # type: ignore[arg-type]
    confirmer.schedule(outcome)
    [(scan, params), (send, message)] = recorder.calls
    expected = {"analyzerArn": aws.standin.analyzer_arn, "resourceArn": finding["resource"]}
    if organization:
        expected["resourceOwnerAccount"] = finding["resourceOwnerAccount"]
    assert (scan, params) == ("StartResourceScan", expected)
    assert send == "SendMessage" and message["DelaySeconds"] == 7 and message["QueueUrl"] == settings.queue_url
    assert Confirmation.parse(json.loads(message["MessageBody"])).finding_id == finding["id"]
