"""Confirm after writing, through the deployed pipeline in the sandbox: the rule, the queue, the function (its
committed zip and execution role), the audit table and the topic as Terraform deployed them.

The package's shared deployment has `confirm_changes` off (its tests share the queue; conftest.py); here the
function runs with it on, with no delay and no wait (AAR_CONFIRM_DELAY_SECONDS = AAR_CONFIRM_DEADLINE_SECONDS = 0),
so the confirmation message comes back at once and the first check gives the verdict.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from sandbox.deployment import allow, trust_policy
from tests.integration.targets import SandboxTarget

pytestmark = [pytest.mark.integration, pytest.mark.terraform]

EXTERNAL = "999988887777"


@contextlib.contextmanager
def confirming(sandbox: SandboxTarget) -> Iterator[None]:
    function = sandbox.local.function
    deployed = function.configuration
    assert deployed.environment["AAR_CONFIRM_CHANGES"] == "false"  # the shared deployment's (conftest.py)
    overrides = {"AAR_CONFIRM_CHANGES": "true", "AAR_CONFIRM_DELAY_SECONDS": "0", "AAR_CONFIRM_DEADLINE_SECONDS": "0"}
    function.configuration = replace(deployed, environment={**deployed.environment, **overrides})
    function.instance = None  # a cold start reads the environment
    # What iam.tf grants with confirm_changes on that the shared deployment's role lacks: the verdict's
    # TransactWriteItems Puts (statement RecordConfirmations; tests/module.tftest.hcl pins it; the demo's own apply
    # grants it through Terraform). StartResourceScan needs no grant here: the stand-in serves every request.
    iam = sandbox.local.aws.admin.client("iam")
    role = deployed.role_arn.rsplit("/", 1)[-1]
    account, region = deployed.role_arn.split(":")[4], sandbox.local.deployment.region
    table = f"arn:aws:dynamodb:{region}:{account}:table/{sandbox.local.deployment.audit_table}"
    grant = {"Version": "2012-10-17", "Statement": [{"Sid": "RecordConfirmations", "Effect": "Allow",
             "Action": ["dynamodb:PutItem"], "Resource": [table]}]}  # fmt: skip
    iam.put_role_policy(RoleName=role, PolicyName="test-record-confirmations", PolicyDocument=json.dumps(grant))
    try:
        yield
    finally:
        iam.delete_role_policy(RoleName=role, PolicyName="test-record-confirmations")
        function.configuration = deployed
        function.instance = None


def kinds(records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((str(r["record_type"]), str(r["decision"])) for r in records)


def test_the_rescan_resolves_the_finding_and_the_record_says_verified(sandbox: SandboxTarget) -> None:
    name = sandbox.unique("Confirmed")
    role_arn = sandbox.create_role(name, trust_policy(allow({"AWS": EXTERNAL})))
    standin = sandbox.local.aws.standin
    with confirming(sandbox):
        contained = sandbox.contain(role_arn, expected=1)
        assert contained.delivery is not None and contained.delivery.invocation.result == {"batchItemFailures": []}
        [finding] = contained.findings
        assert any(resource == role_arn for _, resource in standin.scans)  # the function's StartResourceScan
        [message] = sandbox.local.receive_findings(1)
        body = json.loads(message.body)
        assert (body["aar_action"], body["finding_id"], body["resource_arn"]) == ("confirm", finding["id"], role_arn)
        assert kinds(sandbox.audit_records(finding["id"])) == [("DECISION", "remediate")]
        delivery = sandbox.local.run_function([message])
        assert delivery.invocation.result == {"batchItemFailures": []}, delivery.invocation.logs
    records = sandbox.audit_records(finding["id"])
    assert kinds(records) == [("CONFIRM", "verified"), ("DECISION", "remediate")]
    [confirm] = [r for r in records if r["record_type"] == "CONFIRM"]
    [decision] = [r for r in records if r["record_type"] == "DECISION"]
    assert confirm["finding_status"] == "RESOLVED"
    assert confirm["confirms"] == str(decision["sk"]).rsplit("#", 1)[1]
    assert [f["status"] for f in sandbox.findings(role_arn)] == ["RESOLVED"]
    assert sandbox.queued_events() == []  # nothing re-scheduled


def test_a_finding_the_containment_leaves_active_is_announced_as_not_resolved(sandbox: SandboxTarget) -> None:
    name = sandbox.unique("Unresolved")
    role_arn = sandbox.create_role(name, trust_policy(allow({"AWS": EXTERNAL})))
    standin = sandbox.local.aws.standin
    mailbox = sandbox.mailbox()
    with confirming(sandbox):
        # The analyzer does not re-scan (fault injection): the finding stays ACTIVE past the deadline.
        standin.fail_next("StartResourceScan", "AccessDeniedException")
        contained = sandbox.contain(role_arn, expected=1)
        assert contained.delivery is not None and contained.delivery.invocation.result == {"batchItemFailures": []}
        [finding] = contained.findings
        [message] = sandbox.local.receive_findings(1)
        assert json.loads(message.body)["aar_action"] == "confirm"
        delivery = sandbox.local.run_function([message])
        assert delivery.invocation.result == {"batchItemFailures": []}, delivery.invocation.logs
    assert [f["status"] for f in sandbox.findings(role_arn)] == ["ACTIVE"]
    records = sandbox.audit_records(finding["id"])
    assert kinds(records) == [("CONFIRM", "unresolved"), ("DECISION", "remediate")]
    [confirm] = [r for r in records if r["record_type"] == "CONFIRM"]
    assert confirm["reason"] == "containment_unresolved" and confirm["finding_status"] == "ACTIVE"
    emails = mailbox.receive(2, sandbox.mail_timeout)
    [loud] = [e for e in emails if "[NOT RESOLVED]" in e.message]
    assert loud.subject == f"[Access Analyzer] NOT RESOLVED by the containment: role {name}"
    assert "containment did not resolve the finding" in loud.message and f"AWS: {EXTERNAL}" in loud.message
    assert any("[REMEDIATED]" in e.message for e in emails)
    sandbox.rescan(role_arn, finding["id"], "RESOLVED")  # the analyzer's own re-analysis, for the next tests
    assert [f["status"] for f in sandbox.findings(role_arn)] == ["RESOLVED"]
