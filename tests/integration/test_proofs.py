"""Prove before writing, end to end (sandbox): the deployed function runs Access Analyzer's checks (the stand-in's
models) on each planned trust policy before writing it, with its execution role's credentials only; the audit record
carries every verdict, the e-mail a proofs line; a check the stand-in fails refuses the write, a check call that fails
hands the record back for a retry."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sandbox.deployment import allow, trust_policy
from tests.integration.targets import SandboxTarget

pytestmark = [pytest.mark.integration, pytest.mark.terraform]


def decision(sandbox: SandboxTarget, finding_id: str) -> dict[str, Any]:
    records = [r for r in sandbox.local.audit_records(finding_id) if r.get("record_type") == "DECISION"]
    return records[-1]


def contain(sandbox: SandboxTarget, prefix: str) -> tuple[str, dict[str, Any], str, Any]:
    """A role another account may assume, its finding delivered to the deployed function."""
    local = sandbox.local
    name = sandbox.unique(prefix)
    arn = sandbox.create_role(name, trust_policy(allow({"AWS": sandbox.external_account})))
    original = local.trust_policy(name)
    local.rescan(arn)
    [message] = local.receive_findings(1)
    return name, original, message.event()["detail"]["id"], message


def test_the_record_and_the_notice_carry_the_proofs(sandbox: SandboxTarget) -> None:
    local = sandbox.local
    mailbox = sandbox.mailbox()
    with local.aws.authorization():
        calls = dict(local.aws.standin.calls)
        name, original, finding_id, message = contain(sandbox, "aar-e2e-proof-")
        delivery = local.run_function([message])
        assert delivery.invocation.result == {"batchItemFailures": []}, delivery.invocation.logs
    assert local.trust_policy(name) != original
    record = decision(sandbox, finding_id)
    assert (record["decision"], record["reason"]) == ("remediate", "external_access_denied")
    assert {p["check"]: p["verdict"] for p in json.loads(record["proofs"])} == {
        "ValidatePolicy": "PASS",
        "CheckNoNewAccess": "PASS",
        "CheckNoPublicAccess": "NOT_APPLICABLE",
    }
    made = {op: local.aws.standin.calls[op] - calls.get(op, 0) for op in ("ValidatePolicy", "CheckNoNewAccess")}
    assert made == {"ValidatePolicy": 1, "CheckNoNewAccess": 1}
    [email] = mailbox.receive(1)
    assert "proofs: ValidatePolicy PASS; CheckNoNewAccess PASS; CheckNoPublicAccess not applicable" in email.message


def test_a_check_the_stand_in_fails_refuses_the_write_and_is_reported(sandbox: SandboxTarget) -> None:
    local = sandbox.local
    mailbox = sandbox.mailbox()
    with local.aws.authorization():
        name, original, finding_id, message = contain(sandbox, "aar-e2e-refused-")
        local.aws.standin.fail_next("CheckNoNewAccess", "ValidationException")  # the service refuses the document
        delivery = local.run_function([message])
        assert delivery.invocation.result == {"batchItemFailures": []}, delivery.invocation.logs
    assert local.trust_policy(name) == original  # nothing written
    record = decision(sandbox, finding_id)
    assert (record["decision"], record["reason"]) == ("notify", "proof_refused")
    assert {p["check"]: p["verdict"] for p in json.loads(record["proofs"])}["CheckNoNewAccess"] == "FAIL"
    [email] = mailbox.receive(1)
    assert "CheckNoNewAccess FAIL" in email.message and "not written" in email.message


def test_a_check_call_that_fails_hands_the_record_back_and_its_retry_contains(sandbox: SandboxTarget) -> None:
    local = sandbox.local
    with local.aws.authorization():
        name, original, finding_id, message = contain(sandbox, "aar-e2e-throttled-")
        # botocore does not retry AccessDeniedException: one failed call (tests/unit/test_proofs.py: throttling).
        local.aws.standin.fail_next("CheckNoNewAccess", "AccessDeniedException")
        failed = local.run_function([message])
        assert failed.invocation.result == {"batchItemFailures": [{"itemIdentifier": message.message_id}]}
        assert local.trust_policy(name) == original
        retried = local.run_function([message])
        assert retried.invocation.result == {"batchItemFailures": []}, retried.invocation.logs
    assert local.trust_policy(name) != original
    assert decision(sandbox, finding_id)["decision"] == "remediate"
