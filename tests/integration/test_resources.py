"""End to end for S3 buckets and KMS keys, in the sandbox: a bucket or key policy shares it outside the zone of trust
-> the stand-in's finding -> event -> deployed rule and queue -> function (its execution role's credentials only,
IAM enforced) -> Deny in the bucket or key policy, audit record, e-mail -> re-scan RESOLVED -> redelivery harmless
-> revert restores the policy exactly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sandbox.moto_server import DEFAULT_ACCOUNT_ID
from tests.integration.targets import SandboxTarget

pytestmark = [pytest.mark.integration, pytest.mark.terraform]

EXTERNAL = "999988887777"


def _decision(target: SandboxTarget, finding_id: str) -> dict[str, Any]:
    [decision] = [r for r in target.audit_records(finding_id) if r.get("record_type") == "DECISION"]
    return decision


def _bucket_policy(target: SandboxTarget, name: str) -> dict[str, Any] | None:
    s3 = target.local.aws.admin.client("s3")
    try:
        return dict(json.loads(s3.get_bucket_policy(Bucket=name)["Policy"]))
    except s3.exceptions.ClientError as err:
        if err.response["Error"]["Code"] == "NoSuchBucketPolicy":
            return None
        raise


def _key_policy(target: SandboxTarget, key_id: str) -> dict[str, Any]:
    kms = target.local.aws.admin.client("kms")
    return dict(json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]))


_BLOCKED = {
    "BlockPublicAcls": False,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": False,
    "RestrictPublicBuckets": True,
}


def _public_access_block(target: SandboxTarget, name: str) -> dict[str, bool] | None:
    s3 = target.local.aws.admin.client("s3")
    try:
        return dict(s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"])
    except s3.exceptions.ClientError as err:
        if err.response["Error"]["Code"] == "NoSuchPublicAccessBlockConfiguration":
            return None
        raise


@pytest.mark.parametrize("principal", [EXTERNAL, "*"], ids=["cross-account", "public"])
def test_a_shared_bucket_is_contained_resolved_and_reverted(sandbox: SandboxTarget, principal: str) -> None:
    name = sandbox.unique("aar-e2e-bucket-")
    arn = f"arn:aws:s3:::{name}"
    s3 = sandbox.local.aws.admin.client("s3")
    s3.create_bucket(Bucket=name)
    grant = {"Sid": "Shared", "Effect": "Allow", "Principal": {"AWS": principal}, "Action": "s3:GetObject"}
    original = {"Version": "2012-10-17", "Statement": [{**grant, "Resource": f"{arn}/*"}]}
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps(original))
    mailbox = sandbox.mailbox()

    with sandbox.enforcing():
        contained = sandbox.contain(arn, expected=1)
        [finding] = contained.findings
        assert finding["resourceType"] == "AWS::S3::Bucket" and finding["isPublic"] is (principal == "*")
        assert contained.delivery is not None
        invocation = contained.delivery.invocation
        assert invocation.error is None and invocation.result == {"batchItemFailures": []}, invocation.logs

        after = _bucket_policy(sandbox, name)
        assert after is not None and after["Statement"][0] == original["Statement"][0]
        [deny] = after["Statement"][1:]
        assert deny["Effect"] == "Deny" and deny["Resource"] == [arn, f"{arn}/*"]
        decision = _decision(sandbox, finding["id"])
        assert (decision["decision"], decision["reason"]) == ("remediate", "external_access_denied")
        assert json.loads(decision["policy_before"]) == original and json.loads(decision["policy_after"]) == after
        # A public finding also turns on the two Block Public Access settings that act on existing grants.
        block = _public_access_block(sandbox, name)
        assert block == (_BLOCKED if principal == "*" else None)

        [email] = mailbox.receive(1, sandbox.mail_timeout)
        assert email.subject == f"[Access Analyzer] Denied external access to bucket {name}"
        assert f"Bucket:     {arn}" in email.message and "Added to the bucket policy:" in email.message

        [again] = sandbox.redeliver(contained)
        assert (again["decision"], again["reason"]) == ("skip", "already_contained")
        assert _bucket_policy(sandbox, name) == after

        findings = sandbox.rescan(arn, finding["id"], "RESOLVED")
        assert {f["id"]: f["status"] for f in findings} == {finding["id"]: "RESOLVED"}
        assert sandbox.queued_events() in (None, [])

        result = sandbox.cli("revert", "--finding-id", finding["id"], "--json")
        assert result.code == 0, result.stderr
        assert result.json()["resource_arn"] == arn
        assert _bucket_policy(sandbox, name) == original
        assert _public_access_block(sandbox, name) is None  # the bucket had no configuration: none again


def test_a_bucket_without_a_policy_shared_by_its_acl_is_contained_and_the_acl_grant_named(
    sandbox: SandboxTarget,
) -> None:
    name = sandbox.unique("aar-e2e-acl-")
    arn = f"arn:aws:s3:::{name}"
    s3 = sandbox.local.aws.admin.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_acl(Bucket=name, ACL="public-read")
    mailbox = sandbox.mailbox()

    with sandbox.enforcing():
        contained = sandbox.contain(arn, expected=1)
        [finding] = contained.findings
        assert [s["type"] for s in finding["sources"]] == ["BUCKET_ACL"]
        decision = _decision(sandbox, finding["id"])
        assert (decision["decision"], decision["reason"]) == ("remediate", "external_access_denied")
        written = _bucket_policy(sandbox, name)
        assert written is not None and [s["Effect"] for s in written["Statement"]] == ["Deny"]
        [email] = mailbox.receive(1, sandbox.mail_timeout)
        assert "the bucket ACL grants this access too" in email.message

        result = sandbox.cli("revert", "--finding-id", finding["id"], "--json")
        assert result.code == 0, result.stderr
        assert _bucket_policy(sandbox, name) is None  # the policy the tool created is gone again


def test_a_key_shared_with_another_account_is_contained_resolved_and_reverted(sandbox: SandboxTarget) -> None:
    account = DEFAULT_ACCOUNT_ID
    kms = sandbox.local.aws.admin.client("kms")
    original = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Admin",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "Partner",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{EXTERNAL}:root"},
                "Action": "kms:Decrypt",
                "Resource": "*",
            },
        ],
    }
    key = kms.create_key(Policy=json.dumps(original))["KeyMetadata"]
    # The same account also holds a grant: revoked beside the Deny, re-created (a new id) by the revert.
    grantee = f"arn:aws:iam::{EXTERNAL}:root"  # one finding: the account, by its policy statement and its grant
    grant = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=grantee, Operations=["Decrypt"], Name="reader")
    mailbox = sandbox.mailbox()

    with sandbox.enforcing():
        contained = sandbox.contain(key["Arn"], expected=1)
        [finding] = contained.findings
        assert contained.delivery is not None
        invocation = contained.delivery.invocation
        assert invocation.error is None and invocation.result == {"batchItemFailures": []}, invocation.logs
        after = _key_policy(sandbox, key["KeyId"])
        assert after["Statement"][:2] == original["Statement"]
        [deny] = after["Statement"][2:]
        assert deny["Effect"] == "Deny" and deny["Resource"] == ["*"] and deny["Action"] == ["kms:Decrypt"]
        assert _decision(sandbox, finding["id"])["reason"] == "external_access_denied"
        assert kms.list_grants(KeyId=key["KeyId"])["Grants"] == []
        [email] = mailbox.receive(1, sandbox.mail_timeout)
        assert email.subject == f"[Access Analyzer] Denied external access to key {key['KeyId']}"
        assert f"revoked grant {grant['GrantId']} (reader)" in email.message

        [again] = sandbox.redeliver(contained)
        assert (again["decision"], again["reason"]) == ("skip", "already_contained")

        findings = sandbox.rescan(key["Arn"], finding["id"], "RESOLVED")
        assert {f["id"]: f["status"] for f in findings} == {finding["id"]: "RESOLVED"}

        result = sandbox.cli("revert", "--finding-id", finding["id"], "--json")
        assert result.code == 0, result.stderr
        assert _key_policy(sandbox, key["KeyId"]) == original
        [again_granted] = kms.list_grants(KeyId=key["KeyId"])["Grants"]
        assert (again_granted["GranteePrincipal"], again_granted["Operations"], again_granted["Name"]) == (
            grantee,
            ["Decrypt"],
            "reader",
        )
        assert again_granted["GrantId"] in result.json()["restored"][0]
