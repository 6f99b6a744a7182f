"""End to end for the other resource types, in the sandbox: an SQS queue, an SNS topic, a Secrets Manager secret, a
Lambda function and an EBS snapshot shared outside the zone of trust -> the stand-in's finding -> event -> deployed
rule and queue -> function (its execution role's credentials only, IAM enforced) -> the Deny in the resource policy,
the granting statement removed, or the account removed from the sharing attribute; audit record, e-mail ->
redelivery harmless -> re-scan RESOLVED -> revert (the operator's credentials) restores it exactly.

ECR repositories, DynamoDB tables, Lambda layer versions and RDS DB snapshots go the same way. The deployment's
resource_types are `SANDBOX_RESOURCE_TYPES` (tests/integration/targets.py). The other types are contained in unit
tests only (tests/unit/test_policy_types.py, test_snapshots.py): moto cannot carry them through the pipeline. EFS
(moto 5.2.5: no DeleteFileSystemPolicy, a 500 on a deleted file system), DynamoDB streams (moto's stream policies
cannot be read back), S3 directory buckets (no moto support); RDS cluster snapshots share the DB snapshots' calls
and would need an Aurora cluster in moto for no new path.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration import shared_resources
from tests.integration.shared_resources import Shared
from tests.integration.targets import SandboxTarget

pytestmark = [pytest.mark.integration, pytest.mark.terraform]

EXTERNAL = "999988887777"
OTHER_EXTERNAL = "555566667777"


def _decisions(target: SandboxTarget, finding_id: str) -> list[dict[str, Any]]:
    return [r for r in target.audit_records(finding_id) if r.get("record_type") == "DECISION"]


# ================================================================================================ the flow
def _contain_one(sandbox: SandboxTarget, shared: Shared, expected: int = 1) -> tuple[Any, list[dict[str, Any]]]:
    contained = sandbox.contain(shared.arn, expected=expected)
    assert len(contained.findings) == expected, contained.findings
    assert contained.delivery is not None
    invocation = contained.delivery.invocation
    assert invocation.error is None and invocation.result == {"batchItemFailures": []}, invocation.logs
    return contained, contained.findings


def _resolved_and_reverted(sandbox: SandboxTarget, shared: Shared, contained: Any, original: Any) -> None:
    """Redelivery changes nothing; the re-scan resolves every finding; revert restores `original` exactly."""
    contained_state = shared.read()
    for again in sandbox.redeliver(contained):
        assert (again["decision"], again["reason"]) == ("skip", "already_contained"), again
    assert shared.read() == contained_state

    ids = {f["id"] for f in contained.findings}
    findings = sandbox.rescan(shared.arn, next(iter(ids)), "RESOLVED")
    assert {f["id"]: f["status"] for f in findings if f["id"] in ids} == dict.fromkeys(ids, "RESOLVED")
    assert sandbox.queued_events() in (None, [])

    for finding_id in sorted(ids):
        result = sandbox.cli("revert", "--finding-id", finding_id, "--json")
        assert result.code == 0, result.stderr
        assert result.json()["resource_arn"] == shared.arn
    assert shared.read() == original


def _deny_of(policy: dict[str, Any], original: dict[str, Any]) -> list[dict[str, Any]]:
    """The statements the tool added; every statement of `original` is still there, unchanged and first."""
    assert policy["Statement"][: len(original["Statement"])] == original["Statement"]
    added = policy["Statement"][len(original["Statement"]) :]
    assert added and all(s["Effect"] == "Deny" for s in added), added
    return list(added)


# ================================================================================================ the scenarios
@pytest.mark.parametrize("principal", [f"arn:aws:iam::{EXTERNAL}:root", "*"], ids=["cross-account", "public"])
def test_a_shared_queue_is_denied_resolved_and_reverted(sandbox: SandboxTarget, principal: str) -> None:
    shared, original = shared_resources.queue(sandbox, [principal])
    mailbox = sandbox.mailbox()
    with sandbox.enforcing():
        contained, [finding] = _contain_one(sandbox, shared)
        assert finding["resourceType"] == "AWS::SQS::Queue" and finding["isPublic"] is (principal == "*")
        [deny] = _deny_of(shared.read(), original)
        assert deny["Resource"] == [shared.arn] and deny["Action"] == ["sqs:SendMessage"], deny
        [decision] = _decisions(sandbox, finding["id"])
        assert (decision["decision"], decision["reason"]) == ("remediate", "external_access_denied")
        assert json.loads(decision["policy_before"]) == original
        [email] = mailbox.receive(1, sandbox.mail_timeout)
        assert email.subject == f"[Access Analyzer] Denied external access to queue {shared.name}", email.subject
        _resolved_and_reverted(sandbox, shared, contained, original)


def test_two_findings_on_one_queue_in_one_batch_are_both_denied(sandbox: SandboxTarget) -> None:
    """The concurrency case through the pipeline: two accounts shared on one queue, two findings delivered
    together; each gets its own Deny, neither overwrites the other (the lease and the re-read per finding)."""
    accounts = [f"arn:aws:iam::{EXTERNAL}:root", f"arn:aws:iam::{OTHER_EXTERNAL}:root"]
    shared, original = shared_resources.queue(sandbox, accounts)
    with sandbox.enforcing():
        contained, findings = _contain_one(sandbox, shared, expected=2)
        denies = _deny_of(shared.read(), original)
        denied = sorted(p for d in denies for p in d["Principal"]["AWS"])
        assert denied == sorted(str(f["principal"]["AWS"]) for f in findings) == [OTHER_EXTERNAL, EXTERNAL], denies
        for finding in findings:
            assert [d["reason"] for d in _decisions(sandbox, finding["id"])] == ["external_access_denied"]
        _resolved_and_reverted(sandbox, shared, contained, original)


def test_a_shared_topic_is_denied_resolved_and_reverted(sandbox: SandboxTarget) -> None:
    shared, original = shared_resources.topic(sandbox, f"arn:aws:iam::{EXTERNAL}:root")
    mailbox = sandbox.mailbox()
    with sandbox.enforcing():
        contained, [finding] = _contain_one(sandbox, shared)
        assert finding["resourceType"] == "AWS::SNS::Topic"
        [deny] = _deny_of(shared.read(), original)
        assert deny["Resource"] == [shared.arn] and sorted(deny["Action"]) == sorted(finding["action"]), deny
        [decision] = _decisions(sandbox, finding["id"])
        assert (decision["decision"], decision["reason"]) == ("remediate", "external_access_denied")
        [email] = mailbox.receive(1, sandbox.mail_timeout)
        assert email.subject == f"[Access Analyzer] Denied external access to topic {shared.name}", email.subject
        _resolved_and_reverted(sandbox, shared, contained, original)


def test_a_shared_secret_is_validated_denied_resolved_and_reverted(sandbox: SandboxTarget) -> None:
    shared, original = shared_resources.secret(sandbox, f"arn:aws:iam::{EXTERNAL}:root")
    mailbox = sandbox.mailbox()
    with sandbox.enforcing():
        contained, [finding] = _contain_one(sandbox, shared)
        assert finding["resourceType"] == "AWS::SecretsManager::Secret"
        [deny] = _deny_of(shared.read(), original)
        assert deny["Resource"] == ["*"] and deny["Action"] == ["secretsmanager:GetSecretValue"], deny
        calls = [c.operation for c in sandbox.local.function.calls if c.service == "secretsmanager"]
        assert calls.index("ValidateResourcePolicy") < calls.index("PutResourcePolicy"), calls
        [email] = mailbox.receive(1, sandbox.mail_timeout)
        # Named as its ARN names it: the name and the six characters Secrets Manager appends.
        secret = shared.arn.rsplit(":", 1)[-1]
        assert email.subject == f"[Access Analyzer] Denied external access to secret {secret}", email.subject
        _resolved_and_reverted(sandbox, shared, contained, original)


@pytest.mark.parametrize("principal", [EXTERNAL, "*"], ids=["cross-account", "public"])
def test_a_function_permission_is_removed_resolved_and_re_added(sandbox: SandboxTarget, principal: str) -> None:
    shared, original = shared_resources.function(sandbox, principal)
    mailbox = sandbox.mailbox()
    with sandbox.enforcing():
        contained, [finding] = _contain_one(sandbox, shared)
        assert finding["resourceType"] == "AWS::Lambda::Function" and finding["isPublic"] is (principal == "*")
        [decision] = _decisions(sandbox, finding["id"])
        assert (decision["decision"], decision["reason"]) == ("remediate", "statement_removed"), decision
        assert shared.read() is None  # its only statement removed: no policy left
        assert "RemovePermission" in [c.operation for c in sandbox.local.function.calls]
        [email] = mailbox.receive(1, sandbox.mail_timeout)
        assert email.subject == f"[Access Analyzer] Denied external access to function {shared.name}", email.subject
        assert "removed statement Partner from the function policy" in email.message, email.message
        assert f"aa-remediate revert --finding-id {finding['id']}   (undo the change only)" in email.message
        _resolved_and_reverted(sandbox, shared, contained, original)


def test_a_shared_snapshot_is_unshared_resolved_and_shared_again(sandbox: SandboxTarget) -> None:
    shared, original = shared_resources.snapshot(sandbox, user_ids=[EXTERNAL], groups=["all"])
    mailbox = sandbox.mailbox()
    with sandbox.enforcing():
        contained, findings = _contain_one(sandbox, shared, expected=2)  # the account, and public (`all`)
        assert {f["resourceType"] for f in findings} == {"AWS::EC2::Snapshot"}
        assert shared.read() == []
        for finding in findings:
            [decision] = _decisions(sandbox, finding["id"])
            assert decision["decision"] == "remediate", decision
        [email] = mailbox.receive(1, sandbox.mail_timeout)  # one digest of both
        assert email.subject == "[Access Analyzer] 2 findings in 123456789012: 2 remediated", email.subject
        assert email.message.count(shared.arn) >= 2, email.message
        _resolved_and_reverted(sandbox, shared, contained, original)


def test_a_shared_repository_is_denied_resolved_and_reverted(sandbox: SandboxTarget) -> None:
    shared, original = shared_resources.repository(sandbox, f"arn:aws:iam::{EXTERNAL}:root")
    with sandbox.enforcing():
        contained, [finding] = _contain_one(sandbox, shared)
        assert finding["resourceType"] == "AWS::ECR::Repository"
        [deny] = _deny_of(shared.read(), original)
        assert "Resource" not in deny and deny["Action"] == ["ecr:BatchGetImage"], deny  # ECR: no Resource element
        [decision] = _decisions(sandbox, finding["id"])
        assert (decision["decision"], decision["reason"]) == ("remediate", "external_access_denied")
        _resolved_and_reverted(sandbox, shared, contained, original)


def test_a_shared_table_is_denied_with_a_conditional_write_resolved_and_reverted(sandbox: SandboxTarget) -> None:
    shared, original = shared_resources.table(sandbox, f"arn:aws:iam::{EXTERNAL}:root")
    with sandbox.enforcing():
        contained, [finding] = _contain_one(sandbox, shared)
        assert finding["resourceType"] == "AWS::DynamoDB::Table"
        [deny] = _deny_of(shared.read(), original)
        assert deny["Resource"] == [shared.arn, f"{shared.arn}/index/*"] and deny["Action"] == ["dynamodb:GetItem"]
        [decision] = _decisions(sandbox, finding["id"])
        assert (decision["decision"], decision["reason"]) == ("remediate", "external_access_denied")
        _resolved_and_reverted(sandbox, shared, contained, original)


def test_a_layer_version_permission_is_removed_resolved_and_re_added(sandbox: SandboxTarget) -> None:
    shared, original = shared_resources.layer_version(sandbox, EXTERNAL)
    with sandbox.enforcing():
        contained, [finding] = _contain_one(sandbox, shared)
        assert finding["resourceType"] == "AWS::Lambda::LayerVersion"
        [decision] = _decisions(sandbox, finding["id"])
        assert (decision["decision"], decision["reason"]) == ("remediate", "statement_removed"), decision
        assert shared.read() is None
        _resolved_and_reverted(sandbox, shared, contained, original)


def test_a_shared_db_snapshot_is_unshared_resolved_and_shared_again(sandbox: SandboxTarget) -> None:
    shared, original = shared_resources.db_snapshot(sandbox, [EXTERNAL])
    with sandbox.enforcing():
        contained, [finding] = _contain_one(sandbox, shared)
        assert finding["resourceType"] == "AWS::RDS::DBSnapshot"
        assert shared.read() == []
        [decision] = _decisions(sandbox, finding["id"])
        assert (decision["decision"], decision["reason"]) == ("remediate", "sharing_removed"), decision
        _resolved_and_reverted(sandbox, shared, contained, original)


def test_the_deployments_own_queue_is_reported_and_its_policy_is_beyond_the_role(sandbox: SandboxTarget) -> None:
    """The tool's own resources: a finding on its dead-letter queue is only reported, and the execution role could
    not write the queue's policy even if the code tried (the explicit Deny)."""
    local = sandbox.local
    sqs = local.aws.admin.client("sqs")
    url = str(local.deployment.outputs["dlq_url"])
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    before = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get("Attributes", {}).get("Policy")
    statement = {"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": EXTERNAL}, "Action": "sqs:SendMessage"}
    shared = {"Version": "2012-10-17", "Statement": [{**statement, "Resource": arn}]}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(shared)})
    try:
        with sandbox.enforcing():
            contained = sandbox.contain(arn, expected=1)
            [finding] = contained.findings
            [decision] = _decisions(sandbox, finding["id"])
            assert (decision["decision"], decision["reason"]) == ("notify", "own_resource"), decision
            policy = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
            assert json.loads(policy) == shared
            role_sqs = local.function.role_session.client("sqs")
            with pytest.raises(role_sqs.exceptions.ClientError, match="not authorized"):
                role_sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(shared)})
    finally:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": before or ""})
        local.rescan(arn)
        sandbox.queued_events()
