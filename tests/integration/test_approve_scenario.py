"""Approve mode end to end through the deployed pipeline (sandbox/approve_demo.py, `make demo`'s `--approve`):
rule -> queue -> the deployed function in approve mode writes nothing and mails the request; `aa-remediate
approve` re-verifies and applies; the finding resolves."""

from __future__ import annotations

import io

import pytest

from sandbox.approve_demo import ALICE, ApproveScenario
from sandbox.demo import Narrator
from tests.integration.targets import SandboxTarget

pytestmark = [pytest.mark.integration, pytest.mark.terraform]


def test_approve_mode_end_to_end(sandbox: SandboxTarget) -> None:
    out = io.StringIO()
    scenario = ApproveScenario(sandbox.local, Narrator(out), role_name=sandbox.unique("Partner_ApprovalRole")).run()
    text = out.getvalue()
    assert (scenario.finding["principal"], scenario.finding["status"]) == ({"AWS": ALICE}, "ACTIVE")
    assert scenario.delivery is not None and scenario.delivery.invocation.result == {"batchItemFailures": []}
    assert "decision: notify (approval_pending)" in text
    assert scenario.policy_pending == scenario.policy_before  # nothing written before the approval
    [request] = scenario.request_emails
    fid = scenario.finding["id"]
    assert f"[APPROVAL NEEDED] role {scenario.role_name}" in request.message
    assert f"aa-remediate approve --finding-id {fid}" in request.message
    assert f"aa-remediate reject --finding-id {fid} [--archive]" in request.message
    assert f"aa-remediate status --finding-id {fid}" in request.message
    assert "http" not in request.message.split("Console:")[0]  # no link performs anything
    assert scenario.status is not None
    assert scenario.status.code == 0, scenario.status.stderr
    assert "approval: PENDING" in scenario.status.stdout
    assert scenario.approve is not None
    assert scenario.approve.code == 0, scenario.approve.stderr
    assert f"finding {fid}: APPLIED by arn:aws:" in scenario.approve.stdout
    before, after = scenario.policy_before["Statement"], scenario.policy_after["Statement"]
    assert after[: len(before)] == before and [s["Effect"] for s in after[len(before) :]] == ["Deny"]
    [applied] = scenario.applied_emails
    assert f"[REMEDIATED] role {scenario.role_name}" in applied.message
    assert scenario.status_after_rescan == "RESOLVED"
    records = sandbox.local.audit_records(fid)
    assert {r["record_type"] for r in records} >= {"DECISION", "APPROVAL"}
    [step] = [r for r in records if r["record_type"] == "APPROVAL"]
    assert step["decision"] == "applied" and step["approver"].startswith("arn:aws:")
