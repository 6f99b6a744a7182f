"""The function's execution role, as the module deploys it, is exactly enough (sandbox only).

Under enforced IAM authorization (moto for its services, the stand-in for access-analyzer:*), the function and its
event source mapping run with the execution role's credentials only. Two directions:

- missing: withhold one granted action from the deployed role policy and the record fails (AccessDenied ->
  batchItemFailures), and succeeds once the permission is back (the queue redelivers it);
- excess: every action the policy grants is used by the function, its event source mapping or its log delivery
  in one pass over the code paths (remediate a role, a bucket and a key; sweep; error path). Exempt, and said so:
  kms:GenerateDataKey and kms:Decrypt (the services encrypt with the role's permissions, which moto does not
  emulate), xray:* (tracing), s3:DeleteBucketPolicy, secretsmanager:DeleteResourcePolicy,
  ecr:DeleteRepositoryPolicy and dynamodb:DeleteResourcePolicy (only when the function completes an interrupted
  revert that leaves a bucket, secret, repository or table without statements: tests/unit/test_resources.py and
  tests/unit/test_policy_types.py cover those paths).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.deployment import LocalDeployment, allow, trust_policy
from sandbox.lambda_runtime import AwsCall, EventSourceMapping, QueueMessage, sqs_event
from sandbox.moto_server import DEFAULT_ACCOUNT_ID
from tests.integration import shared_resources
from tests.integration.targets import SANDBOX_RESOURCE_TYPES, SandboxTarget

pytestmark = [pytest.mark.integration, pytest.mark.terraform]

# IAM action of an API call, where it is not "<service prefix>:<operation>" (Service Authorization Reference).
_PREFIX = {"accessanalyzer": "access-analyzer"}
_ACTION_OF = {
    "ListFindingsV2": "ListFindings",
    "GetFindingV2": "GetFinding",
    # SQS authorizes a batch call under the single call's action.
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    # S3's Block Public Access calls are authorized as bucket actions.
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
}
NOT_EMULATED = (
    "kms:GenerateDataKey",
    "kms:Decrypt",
    "xray:",
    "s3:DeleteBucketPolicy",
    "secretsmanager:DeleteResourcePolicy",
    "ecr:DeleteRepositoryPolicy",
    "dynamodb:DeleteResourcePolicy",
)


def iam_action(call: AwsCall) -> str:
    return f"{_PREFIX.get(call.service, call.service)}:{_ACTION_OF.get(call.operation, call.operation)}"


def role_policy(local: LocalDeployment) -> tuple[str, str, dict[str, Any]]:
    """(role name, policy name, document) of the execution role's one inline policy."""
    iam = local.aws.admin.client("iam")
    role = local.function.configuration.role_arn.rsplit("/", 1)[-1]
    [name] = iam.list_role_policies(RoleName=role)["PolicyNames"]
    return role, name, dict(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"])


def as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def granted_actions(document: dict[str, Any]) -> set[str]:
    return {a for s in document["Statement"] if s["Effect"] == "Allow" for a in as_list(s["Action"])}


@contextlib.contextmanager
def withheld(local: LocalDeployment, *actions: str) -> Iterator[None]:
    """The deployed role policy without `actions` inside the block (each must be granted: else nothing is tested)."""
    iam = local.aws.admin.client("iam")
    role, name, original = role_policy(local)
    missing = set(actions) - granted_actions(original)
    assert not missing, f"the deployed policy does not grant {missing}: nothing to withhold"
    statements = []
    for statement in original["Statement"]:
        kept = [a for a in as_list(statement["Action"]) if statement["Effect"] != "Allow" or a not in actions]
        if kept:
            statements.append({**statement, "Action": kept})
    iam.put_role_policy(
        RoleName=role, PolicyName=name, PolicyDocument=json.dumps({**original, "Statement": statements})
    )
    try:
        yield
    finally:
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(original))


def new_role(sandbox: SandboxTarget, prefix: str) -> tuple[str, str]:
    name = sandbox.unique(prefix)
    return name, sandbox.create_role(name, trust_policy(allow({"AWS": sandbox.external_account})))


# (action withheld, does the Deny land before the failure, decision when the record is retried with the permission)
# BatchWriteItem: the Deny is written but its record is not; the retry completes the interrupted change and records
# it as what it was (remediate). Publish: the record is written and the notice waits in the outbox; the retry finds
# the Deny in place (skip) and sends the waiting notice.
MISSING = [
    ("access-analyzer:GetFinding", False, "remediate"),
    ("iam:GetRole", False, "remediate"),
    ("iam:UpdateAssumeRolePolicy", False, "remediate"),
    ("dynamodb:UpdateItem", False, "remediate"),
    ("dynamodb:BatchWriteItem", True, "remediate"),
    ("sns:Publish", True, "skip"),
]


@pytest.mark.parametrize(("action", "written", "retried"), MISSING, ids=[m[0] for m in MISSING])
def test_a_missing_permission_fails_the_record_until_it_is_granted(
    sandbox: SandboxTarget, action: str, written: bool, retried: str
) -> None:
    local = sandbox.local
    name, arn = new_role(sandbox, "aar-e2e-perm-")
    original = local.trust_policy(name)
    mailbox = sandbox.mailbox()

    with local.aws.authorization():
        local.rescan(arn)
        messages = local.receive_findings(1)
        assert len(messages) == 1
        [finding_id] = [m.event()["detail"]["id"] for m in messages]
        with withheld(local, action):
            invocation = local.function.invoke(sqs_event(messages, local.function.event_source.queue_arn, "us-east-1"))
        assert invocation.error is None
        assert invocation.result == {"batchItemFailures": [{"itemIdentifier": messages[0].message_id}]}
        logs = "\n".join(invocation.logs)
        assert "not authorized to perform" in logs and action in logs, logs
        assert (local.trust_policy(name) != original) is written
        assert mailbox.receive(0, timeout=1) == []

        # The record stayed in the queue; once the permission is back, its retry succeeds.
        delivery = local.run_function(messages)
        assert delivery.invocation.result == {"batchItemFailures": []}, delivery.invocation.logs
        assert [r["decision"] for r in local.audit_records(finding_id) if r["record_type"] == "DECISION"][-1] == retried
        assert local.trust_policy(name) != original
        assert len(mailbox.receive(1)) == 1


def test_the_sweep_needs_list_findings(sandbox: SandboxTarget) -> None:
    local = sandbox.local
    standin = local.aws.standin
    _, arn = new_role(sandbox, "aar-e2e-sweep-")
    with local.aws.authorization():
        local.rescan(arn)
        local.run_function(local.receive_findings(1))  # the rule's own event first: the sweep finds it contained
        with withheld(local, "access-analyzer:ListFindings"):
            denied = local.function.invoke({"aar_action": "sweep"})
        assert denied.error is not None and "AccessDeniedException" in repr(denied.error)
        received = SANDBOX_RESOURCE_TYPES  # the deployment's resource_types
        active = [f for f in standin.findings(status="ACTIVE") if f["resourceType"] in received]
        swept = local.function.invoke({"aar_action": "sweep"})
        assert swept.error is None, swept.logs
        assert active and swept.result == {"enqueued": len(active)}  # references: the normal path does the work
        references = [m for m in local.receive_findings(len(active)) if m.event().get("aar_action") == "verify"]
        assert sorted(m.event()["finding_id"] for m in references) == sorted(f["id"] for f in active), references
        assert local.run_function(references).invocation.result == {"batchItemFailures": []}


@pytest.mark.parametrize("action", ["sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:DeleteMessage"])
def test_the_event_source_mapping_needs_its_sqs_permissions(sandbox: SandboxTarget, action: str) -> None:
    local = sandbox.local
    _, arn = new_role(sandbox, "aar-e2e-esm-")
    mapping = EventSourceMapping(local.function.role_session.client("sqs"), local.queue_url, "us-east-1")
    received: list[QueueMessage] = []
    with local.aws.authorization():
        local.rescan(arn)
        with withheld(local, action), pytest.raises(ClientError) as denied:
            received = mapping.receive(1)
            mapping.delete_succeeded(received, {"batchItemFailures": []})
        assert action.split(":")[1] in str(denied.value) and "not authorized" in str(denied.value)
        # With the permission back the message is processed and deleted (after a failed delete it is still
        # invisible: the mapping retries the delete of the batch it holds).
        if action == "sqs:DeleteMessage":
            assert len(received) == 1
            retry = received
        else:
            assert received == []
            retry = local.receive_findings(1)
        delivery = local.function.deliver(retry)
        assert delivery.invocation.result == {"batchItemFailures": []}, delivery.invocation.logs
        assert local.receive_findings(0, timeout=0) == []


def test_lost_log_delivery_does_not_fail_the_function(sandbox: SandboxTarget) -> None:
    local = sandbox.local
    errors = len(local.function.log_delivery_errors)
    with local.aws.authorization(), withheld(local, "logs:CreateLogStream"):
        local.function.cold_start()  # a new instance writes to a new log stream
        invocation = local.function.invoke({"source": "sandbox.not-a-finding"})
    assert invocation.error is None and invocation.result == {"processed": 0, "failed": 0}
    [error] = local.function.log_delivery_errors[errors:]
    assert "CreateLogStream" in str(error) and "not authorized" in str(error)


def test_every_granted_action_is_used(sandbox: SandboxTarget) -> None:
    local = sandbox.local
    function = local.function
    first_call = len(function.calls)
    with local.aws.authorization():
        function.cold_start()  # -> logs:CreateLogStream, logs:PutLogEvents
        mapping = EventSourceMapping(function.role_session.client("sqs"), local.queue_url, "us-east-1")
        # The remediation path: ListSubscriptionsByTopic (once per instance), GetFinding, GetRole, UpdateItem (lease
        # and intent), UpdateAssumeRolePolicy, BatchWriteItem (record, outbox), UpdateItem (ledger, release), Publish,
        # BatchWriteItem (notified, outbox cleared).
        _, arn = new_role(sandbox, "aar-e2e-all-")
        local.rescan(arn)
        messages = mapping.receive(1)  # -> sqs:GetQueueAttributes, sqs:ReceiveMessage
        invocation = function.invoke(sqs_event(messages, mapping.queue_arn, "us-east-1"))
        assert invocation.result == {"batchItemFailures": []}, invocation.logs
        assert mapping.delete_succeeded(messages, invocation.result) == []  # -> sqs:DeleteMessage
        # The sweep: ListFindingsV2, then SendMessage(Batch) of a reference to each ACTIVE finding. The one just
        # contained is still ACTIVE (no re-scan yet): its reference finds the Deny in place and reads the role's
        # state (GetItem) for a change an interrupted invocation may have left.
        swept = function.invoke({"aar_action": "sweep"})
        assert swept.error is None and swept.result is not None, swept.logs
        references = mapping.receive(int(swept.result["enqueued"]))
        assert function.invoke(sqs_event(references, mapping.queue_arn, "us-east-1")).result == {
            "batchItemFailures": []
        }
        assert mapping.delete_succeeded(references, {"batchItemFailures": []}) == []
        # A public bucket and a key shared by policy and grant: GetBucketPolicy, GetBucketTagging,
        # GetPublicAccessBlock, GetBucketAcl, PutBucketPolicy, PutPublicAccessBlock; DescribeKey, GetKeyPolicy,
        # ListResourceTags, ListGrants, PutKeyPolicy, RevokeGrant.
        admin = local.aws.admin
        bucket = sandbox.unique("aar-e2e-all-")
        admin.client("s3").create_bucket(Bucket=bucket)
        shared = {"Effect": "Allow", "Principal": {"AWS": sandbox.external_account}, "Action": "s3:GetObject"}
        public = {**shared, "Principal": "*", "Resource": f"arn:aws:s3:::{bucket}/*"}
        policy = {"Version": "2012-10-17", "Statement": [public]}
        admin.client("s3").put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
        key_policy = {
            "Version": "2012-10-17",
            "Statement": [
                {**shared, "Action": "kms:Encrypt", "Resource": "*"},
                {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:root"},
                 "Action": "kms:*", "Resource": "*"},
            ],
        }  # fmt: skip
        key = admin.client("kms").create_key(Policy=json.dumps(key_policy))["KeyMetadata"]["Arn"]
        grantee = f"arn:aws:iam::{sandbox.external_account}:root"
        admin.client("kms").create_grant(KeyId=key, GranteePrincipal=grantee, Operations=["Encrypt"])
        # A bucket shared by an ACL grant to another account's canonical user: GetBucketAcl, PutBucketAcl.
        acl_bucket = sandbox.unique("aar-e2e-acl-")
        admin.client("s3").create_bucket(Bucket=acl_bucket)
        acl = admin.client("s3").get_bucket_acl(Bucket=acl_bucket)
        partner = {"Grantee": {"Type": "CanonicalUser", "ID": "f" * 64}, "Permission": "READ"}
        admin.client("s3").put_bucket_acl(
            Bucket=acl_bucket, AccessControlPolicy={"Owner": acl["Owner"], "Grants": [*acl["Grants"], partner]}
        )
        # One of each other type the deployment contains: GetQueueUrl, GetQueueAttributes, ListQueueTags,
        # SetQueueAttributes; GetTopicAttributes, ListTagsForResource, SetTopicAttributes; GetResourcePolicy,
        # DescribeSecret, ValidateResourcePolicy, PutResourcePolicy; GetPolicy, ListTags, RemovePermission;
        # DescribeSnapshots, DescribeSnapshotAttribute, ModifySnapshotAttribute; GetRepositoryPolicy,
        # ListTagsForResource, SetRepositoryPolicy; GetResourcePolicy, ListTagsOfResource, PutResourcePolicy;
        # GetLayerVersionPolicy, RemoveLayerVersionPermission; DescribeDBSnapshots, DescribeDBSnapshotAttributes,
        # ListTagsForResource, ModifyDBSnapshotAttribute.
        external = f"arn:aws:iam::{sandbox.external_account}:root"
        others = [
            shared_resources.queue(sandbox, [external])[0],
            shared_resources.topic(sandbox, external)[0],
            shared_resources.secret(sandbox, external)[0],
            shared_resources.function(sandbox, sandbox.external_account)[0],
            shared_resources.snapshot(sandbox, user_ids=[sandbox.external_account], groups=[])[0],
            shared_resources.repository(sandbox, external)[0],
            shared_resources.table(sandbox, external)[0],
            shared_resources.layer_version(sandbox, sandbox.external_account)[0],
            shared_resources.db_snapshot(sandbox, [sandbox.external_account])[0],
        ]
        for resource in (f"arn:aws:s3:::{bucket}", key, f"arn:aws:s3:::{acl_bucket}", *(o.arn for o in others)):
            local.rescan(resource)
            shared_messages = mapping.receive(1)
            result = function.invoke(sqs_event(shared_messages, mapping.queue_arn, "us-east-1")).result
            assert result == {"batchItemFailures": []}, resource
            assert mapping.delete_succeeded(shared_messages, {"batchItemFailures": []}) == []
        # The error path: Publish refused, the notice waits in the outbox; the redelivery sends it (Query).
        _, failing = new_role(sandbox, "aar-e2e-outbox-")
        local.rescan(failing)
        retry = mapping.receive(1)
        with withheld(local, "sns:Publish"):
            failed = function.invoke(sqs_event(retry, mapping.queue_arn, "us-east-1"))
        assert failed.result == {"batchItemFailures": [{"itemIdentifier": retry[0].message_id}]}
        redelivered = [replace(m, attributes={**m.attributes, "ApproximateReceiveCount": "2"}) for m in retry]
        assert function.deliver(redelivered).invocation.result == {"batchItemFailures": []}

    used = {iam_action(call) for call in function.calls[first_call:]}
    _, _, document = role_policy(local)
    granted = {a for a in granted_actions(document) if not a.startswith(NOT_EMULATED)}
    assert used - granted == set(), "called without a grant (enforcement should have refused it)"
    assert granted - used == set(), "granted but never used: remove it from the module's role policy"
