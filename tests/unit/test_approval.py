"""Approve mode (approval.py): the planned change is recorded as PENDING and mailed with its commands; nothing is
written until it is approved (or due with on_timeout = apply), and then only after re-verification; reject keeps
the access (and archives it everywhere with --archive); expire keeps it and says so; a redelivery makes no second
request. Against moto and the Access Analyzer stand-in, as the Lambda runs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from access_analyzer_remediation import approval
from access_analyzer_remediation.cli import main
from access_analyzer_remediation.engine import Remediator
from access_analyzer_remediation.findings import FindingRef
from access_analyzer_remediation.outcomes import ALREADY_PENDING, APPROVAL_REJECTED

from .conftest import EXTERNAL, Aws, trust_policy

ROLE = "Partner_Access"
HOUR = 3600.0


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _setup(aws: Aws, **overrides: Any) -> tuple[Remediator, FindingRef, Clock]:
    arn = aws.create_role(ROLE, trust_policy({"AWS": EXTERNAL}))
    finding = aws.standin.add_finding(resource=arn, principal={"AWS": EXTERNAL}, publish=False)
    clock = Clock()
    settings = aws.settings(**({"mode": "approve"} | overrides))
    remediator = Remediator(settings, aws.clients(), lock_wait_seconds=10, clock=clock)
    return remediator, FindingRef(aws.standin.analyzer_arn, finding["id"]), clock


def _denies(aws: Aws) -> list[dict[str, Any]]:
    return [s for s in aws.policy(ROLE)["Statement"] if s["Effect"] == "Deny"]


def _records(aws: Aws, finding_id: str) -> list[dict[str, Any]]:
    return [i for i in aws.audit_items() if i["pk"]["S"] == f"FINDING#{finding_id}"]


def _request(aws: Aws, **overrides: Any) -> tuple[Remediator, FindingRef, Clock]:
    remediator, ref, clock = _setup(aws, **overrides)
    [outcome] = remediator.process([ref])
    assert (outcome.decision, outcome.reason) == ("notify", approval.APPROVAL_PENDING)
    remediator.announce([outcome], "123456789012")
    return remediator, ref, clock


def test_approve_mode_writes_nothing_records_the_exact_change_and_mails_three_commands(aws: Aws) -> None:
    remediator, ref, _ = _setup(aws, approval_timeout_hours=24)
    [outcome] = remediator.process([ref])
    assert (outcome.decision, outcome.reason) == ("notify", approval.APPROVAL_PENDING), outcome.summary
    assert _denies(aws) == []  # nothing written
    pending = approval.store_of(remediator).get(ref.finding_id)
    assert pending is not None and pending.status == approval.PENDING and pending.stored
    [entry] = pending.entries
    assert entry["value"] == EXTERNAL and entry["actions"] == ["sts:AssumeRole"]
    planned = json.loads(pending.policy_after or "{}")
    assert next(s for s in planned["Statement"] if s["Effect"] == "Deny")["Principal"] == {"AWS": [EXTERNAL]}
    assert pending.deadline == remediator.clock() + 24 * HOUR
    [record] = _records(aws, ref.finding_id)
    assert (record["reason"]["S"], record["mode"]["S"]) == (approval.APPROVAL_PENDING, "approve")
    assert record["approval_deadline"]["S"] == pending.deadline_text()
    remediator.announce([outcome], "123456789012")
    [mail] = aws.emails()
    assert "[APPROVAL NEEDED]" in mail["Message"] and mail["Subject"].startswith("[Access Analyzer] Approval needed")
    for command in (
        f"aa-remediate approve --finding-id {ref.finding_id}",
        f"aa-remediate reject --finding-id {ref.finding_id} [--archive]",
        f"aa-remediate status --finding-id {ref.finding_id}",
        f"approval deadline: {pending.deadline_text()}: then the request expires",
    ):
        assert command in mail["Message"]
    assert "Would add to the trust policy" in mail["Message"]


def test_a_redelivered_finding_makes_no_second_request_or_notice_and_is_recorded(aws: Aws) -> None:
    remediator, ref, _ = _request(aws)
    aws.emails()
    first = approval.store_of(remediator).get(ref.finding_id)
    [again] = remediator.process([ref])
    assert (again.decision, again.reason) == ("skip", ALREADY_PENDING) and again.outbox == ()
    remediator.announce([again], "123456789012", flush=True)
    assert aws.emails() == []
    # The request's record once, and the delivery's own (a quiet skip, as every other delivery is recorded).
    records = _records(aws, ref.finding_id)
    assert sorted(r["reason"]["S"] for r in records) == sorted([approval.APPROVAL_PENDING, ALREADY_PENDING])
    [delivery] = [r for r in records if r["reason"]["S"] == ALREADY_PENDING]
    assert (delivery["decision"]["S"], delivery["mode"]["S"], "notified" in delivery) == ("skip", "approve", False)
    assert approval.store_of(remediator).get(ref.finding_id) == first
    assert _denies(aws) == []


def test_a_request_whose_record_was_not_stored_is_completed_with_the_same_keys(aws: Aws) -> None:
    """A delivery died after the request item and before its record: the redelivery writes that record once."""
    remediator, ref, _ = _setup(aws)
    write = remediator.audit.write
    calls = {"n": 0}

    def failing(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("DynamoDB unavailable")
        write(*args, **kwargs)

    remediator.audit.write = failing  # type: ignore[method-assign]
    [failed] = remediator.process([ref])
    assert failed.failed and failed.reason == "approval_failed"
    item = approval.store_of(remediator).get(ref.finding_id)
    assert item is not None and not item.stored
    [retried] = remediator.process([ref])
    assert retried.reason == approval.APPROVAL_PENDING and retried.record is not None
    assert retried.record.record_id == item.record_id  # the same request, not a second one
    stored = approval.store_of(remediator).get(ref.finding_id)
    assert stored is not None and stored.stored and stored.record_id == item.record_id
    assert len(_records(aws, ref.finding_id)) == 1


def test_approve_re_verifies_then_applies_through_the_engine_with_the_approver(aws: Aws) -> None:
    remediator, ref, _ = _request(aws)
    pending = approval.pending_for(remediator, ref.finding_id)
    approver = approval.caller_arn(remediator)
    decided = approval.approve(remediator, pending, approver)
    assert decided.applied and decided.status == approval.APPLIED
    [deny] = _denies(aws)
    assert deny["Principal"] == {"AWS": [EXTERNAL]}
    records = _records(aws, ref.finding_id)
    decision = [r for r in records if r["record_type"]["S"] == "DECISION" and r["decision"]["S"] == "remediate"]
    assert len(decision) == 1  # the engine's own record: revert trusts it
    [step] = [r for r in records if r["record_type"]["S"] == approval.APPROVAL]
    assert step["approver"]["S"] == approver and step["decision"]["S"] == "applied"
    assert aws.standin.analyzer_arn in step["analyzer_arn"]["S"]
    with pytest.raises(approval.NotPending, match="APPLIED, not PENDING"):
        approval.pending_for(remediator, ref.finding_id)


def test_approve_does_not_apply_a_finding_resolved_meanwhile_and_says_why(aws: Aws) -> None:
    remediator, ref, _ = _request(aws)
    aws.client("accessanalyzer").update_findings(analyzerArn=ref.analyzer_arn, ids=[ref.finding_id], status="ARCHIVED")
    decided = approval.approve(remediator, approval.pending_for(remediator, ref.finding_id), "arn:test:approver")
    assert not decided.applied and decided.status == approval.NOT_APPLIED
    assert "finding is ARCHIVED now" in decided.why
    assert _denies(aws) == []
    [step] = [r for r in _records(aws, ref.finding_id) if r["record_type"]["S"] == approval.APPROVAL]
    assert step["decision"]["S"] == "not_applied" and step["approver"]["S"] == "arn:test:approver"


def test_approve_does_not_apply_when_the_resource_changed_meanwhile_and_says_why(aws: Aws) -> None:
    remediator, ref, _ = _request(aws)
    # Someone marked the role exempt since the request: the re-plan on the current role keeps the access.
    aws.client("iam").tag_role(RoleName=ROLE, Tags=[{"Key": remediator.settings.exemption_tag_key, "Value": "x"}])
    decided = approval.approve(remediator, approval.pending_for(remediator, ref.finding_id), "arn:test:approver")
    assert not decided.applied and decided.status == approval.NOT_APPLIED
    assert decided.why.startswith("not applied") and "exempt" in decided.why
    assert _denies(aws) == []


def test_approve_applies_the_requested_change_on_a_policy_edited_elsewhere(aws: Aws) -> None:
    """An edit that leaves the requested change the same (the re-plan is identical) does not stop it."""
    remediator, ref, _ = _request(aws)
    edited = trust_policy({"AWS": EXTERNAL}, {"Service": "ec2.amazonaws.com"})
    aws.client("iam").update_assume_role_policy(RoleName=ROLE, PolicyDocument=json.dumps(edited))
    decided = approval.approve(remediator, approval.pending_for(remediator, ref.finding_id), "arn:test:approver")
    assert decided.applied
    policy = aws.policy(ROLE)
    assert [s for s in policy["Statement"] if s["Effect"] == "Allow"] == edited["Statement"]  # theirs untouched
    [deny] = _denies(aws)
    assert deny["Principal"] == {"AWS": [EXTERNAL]}


def test_approve_does_not_apply_a_change_that_differs_from_the_request(aws: Aws) -> None:
    remediator, ref, _ = _request(aws)
    store = approval.store_of(remediator)
    pending = store.get(ref.finding_id)
    assert pending is not None
    # The request said one thing; the plan on the current policy says another (here: other actions).
    altered = [dict(e, actions=["sts:TagSession"]) for e in pending.entries]
    from dataclasses import replace

    decided = approval.approve(remediator, replace(pending, entries=altered), "arn:test:approver")
    assert not decided.applied and "not the one requested" in decided.why
    assert _denies(aws) == []


def test_on_timeout_expire_keeps_the_access_and_announces_it(aws: Aws) -> None:
    remediator, ref, clock = _request(aws, approval_timeout_hours=2, on_timeout="expire")
    aws.emails()
    assert approval.settle_due(remediator, "123456789012") == []  # not due yet
    clock.now += 2 * HOUR + 1
    [decided] = approval.settle_due(remediator, "123456789012")
    assert (decided.status, decided.applied) == (approval.EXPIRED, False)
    assert decided.by.startswith("timeout (arn:")
    assert _denies(aws) == []
    [mail] = aws.emails()
    assert "expired: nobody approved or rejected the change" in mail["Message"]
    assert approval.settle_due(remediator, "123456789012") == []  # once
    # Its next delivery asks again: a fresh request.
    [again] = remediator.process([ref])
    assert again.reason == approval.APPROVAL_PENDING


def test_on_timeout_apply_re_verifies_and_applies(aws: Aws) -> None:
    remediator, ref, clock = _request(aws, approval_timeout_hours=1, on_timeout="apply")
    clock.now += HOUR + 1
    [decided] = approval.settle_due(remediator, "123456789012")
    assert (decided.status, decided.applied) == (approval.APPLIED, True)
    assert len(_denies(aws)) == 1
    [step] = [r for r in _records(aws, ref.finding_id) if r["record_type"]["S"] == approval.APPROVAL]
    assert step["trigger"]["S"] == "timeout" and step["approver"]["S"].startswith("timeout (")


def test_on_timeout_apply_of_a_resolved_finding_writes_nothing(aws: Aws) -> None:
    remediator, ref, clock = _request(aws, approval_timeout_hours=1, on_timeout="apply")
    aws.client("accessanalyzer").update_findings(analyzerArn=ref.analyzer_arn, ids=[ref.finding_id], status="ARCHIVED")
    clock.now += HOUR + 1
    [decided] = approval.settle_due(remediator, "123456789012")
    assert (decided.status, decided.applied) == (approval.NOT_APPLIED, False) and "ARCHIVED" in decided.why
    assert _denies(aws) == []


def test_reject_archive_keeps_the_access_and_archives_in_every_analyzer(aws: Aws) -> None:
    remediator, ref, _ = _request(aws)
    before = aws.policy(ROLE)
    decided = approval.reject(remediator, approval.pending_for(remediator, ref.finding_id), "arn:x", archive=True)
    assert decided.status == approval.REJECTED and not decided.applied
    assert aws.policy(ROLE) == before
    for standin in aws.standins.values():
        client = aws.client("accessanalyzer", standin.region)
        rules = client.list_archive_rules(analyzerName=standin.analyzer_arn.rsplit("/", 1)[-1])["archiveRules"]
        assert [r["ruleName"] for r in rules if r["ruleName"].startswith("aar-intended-")], standin.region
    assert aws.standin.findings(status="ARCHIVED")[0]["id"] == ref.finding_id
    # A later delivery keeps it: no new request, no notice.
    aws.client("accessanalyzer").update_findings(analyzerArn=ref.analyzer_arn, ids=[ref.finding_id], status="ACTIVE")
    [later] = remediator.process([ref])
    assert (later.decision, later.reason) == ("skip", APPROVAL_REJECTED) and not later.outbox
    assert aws.policy(ROLE) == before
    # ... and records it: who rejected it and when, no notice.
    [kept] = [r for r in _records(aws, ref.finding_id) if r["decision"]["S"] == "skip"]
    assert kept["reason"]["S"] == APPROVAL_REJECTED
    assert kept["decision"]["S"] == "skip" and "rejected by arn:x at " in kept["summary"]["S"]
    assert "notified" not in kept
    remediator.announce([later], "123456789012", flush=True)
    assert not [m for m in aws.emails() if ref.finding_id in m["Message"] and "rejected" in m["Message"]]


def test_reject_without_archive_keeps_the_access_and_archives_nothing(aws: Aws) -> None:
    remediator, ref, _ = _request(aws)
    decided = approval.reject(remediator, approval.pending_for(remediator, ref.finding_id), "arn:x")
    assert decided.status == approval.REJECTED
    assert aws.standin.findings(status="ACTIVE")[0]["id"] == ref.finding_id
    assert _denies(aws) == []


def _cli_env(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = aws.settings()
    monkeypatch.setenv("AAR_AUDIT_TABLE_NAME", aws.table)
    monkeypatch.setenv("AAR_TOPIC_ARN", aws.topic_arn)
    monkeypatch.setenv("AAR_ANALYZER_ARNS", json.dumps(list(settings.analyzer_arns)))
    monkeypatch.setenv("AAR_MODE", "approve")
    monkeypatch.setattr("access_analyzer_remediation.clients.AwsClients", aws.clients)


def test_cli_approve_status_and_bad_input(aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    _cli_env(aws, monkeypatch)
    assert main(["approve", "--finding-id", "no-such-finding"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no approval request" in err
    assert main(["reject", "--finding-id", "bad id!"]) == 2
    assert "is not a finding id" in capsys.readouterr().err
    _, ref, _ = _request(aws)
    assert main(["status", "--finding-id", ref.finding_id, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["approval"]["status"] == approval.PENDING and status["approval"]["entries"]
    assert main(["approve", "--finding-id", ref.finding_id, "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["applied"] and done["decided_by"].startswith("arn:aws")
    assert len(_denies(aws)) == 1
    assert main(["reject", "--finding-id", ref.finding_id]) == 2  # decided: nothing changed
    assert "APPLIED, not PENDING" in capsys.readouterr().err
    assert len(_denies(aws)) == 1


def test_the_lambda_sweep_applies_a_due_request(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scheduled sweep's invocation settles due requests (handler -> approval.settle_due), after enqueueing."""
    from .test_handler import CONTEXT, _env, _finding_event, _load_handler

    arn = aws.create_role(ROLE, trust_policy({"AWS": EXTERNAL}))
    [finding] = [f for f in aws.analyze() if f["resource"] == arn]
    queue_url = aws.client("sqs").create_queue(QueueName="aar-findings")["QueueUrl"]
    env = _env(aws, AAR_QUEUE_URL=queue_url, AAR_MODE="approve", AAR_APPROVAL_TIMEOUT_HOURS="1", AAR_ON_TIMEOUT="apply")
    handler = _load_handler(monkeypatch, env)
    assert handler.lambda_handler(_finding_event(aws, finding), CONTEXT) == {"processed": 1, "failed": 0}
    assert _denies(aws) == []
    assert handler.lambda_handler({"aar_action": "sweep"}, CONTEXT) == {"enqueued": 1}
    assert _denies(aws) == []  # not due yet
    aws.client("dynamodb").update_item(  # an hour later
        TableName=aws.table,
        Key={"pk": {"S": approval.APPROVAL_PK}, "sk": {"S": finding["id"]}},
        UpdateExpression="SET deadline = :past",
        ExpressionAttributeValues={":past": {"N": "1"}},
    )
    handler.lambda_handler({"aar_action": "sweep"}, CONTEXT)
    [deny] = _denies(aws)
    assert deny["Principal"] == {"AWS": [EXTERNAL]}
    messages = [m["Message"] for m in aws.emails()]
    assert any("[APPROVAL NEEDED]" in m for m in messages) and any("[REMEDIATED]" in m for m in messages)


def test_an_approval_interrupted_after_the_write_is_settled_as_applied_not_written_twice(aws: Aws) -> None:
    """The engine wrote the approved change, then the approver's process died before the request was settled: a
    second `approve` finds the requested entries in place (the ledger's) and settles it, writing nothing more."""
    remediator, ref, _ = _request(aws)
    pending = approval.pending_for(remediator, ref.finding_id)
    [written] = aws.remediator(mode="remediate").process([ref])  # the approved write, then the crash
    assert written.decision == "remediate"
    policy = aws.policy(ROLE)
    decided = approval.approve(remediator, pending, "arn:test:approver")
    assert (decided.status, decided.applied) == (approval.APPLIED, True) and "already applied" in decided.why
    assert aws.policy(ROLE) == policy and len(_denies(aws)) == 1


def test_a_request_decided_meanwhile_is_not_decided_again(aws: Aws) -> None:
    remediator, ref, _ = _request(aws)
    pending = approval.pending_for(remediator, ref.finding_id)
    approval.reject(remediator, pending, "arn:first")
    decided = approval.reject(remediator, pending, "arn:second")  # a stale copy of the request
    assert decided.status == approval.REJECTED and "decided meanwhile" in decided.why
    stored = approval.store_of(remediator).get(ref.finding_id)
    assert stored is not None and stored.decided_by == "arn:first"
