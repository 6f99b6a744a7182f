"""Modes per resource type and per account: `mode_rules` (ordered, first match wins), then `account_modes`, then
`mode`, answered by the one `Settings.mode_for`, which the Lambda's path, the sweep's and the CLI's all use."""

from __future__ import annotations

import json
from typing import Any

import pytest

from access_analyzer_remediation import approval
from access_analyzer_remediation.findings import IAM_ROLE, KMS_KEY, S3_BUCKET, FindingRef
from access_analyzer_remediation.settings import ModeRule, Settings, SettingsError

from .conftest import EXTERNAL, SANDBOX_ACCOUNT, Aws, trust_policy

PROD = "210987654321"
BASE = {
    "AAR_ANALYZER_ARNS": json.dumps([f"arn:aws:access-analyzer:us-east-1:{SANDBOX_ACCOUNT}:analyzer/a"]),
    "AAR_AUDIT_TABLE_NAME": "aar-audit",
    "AAR_TOPIC_ARN": f"arn:aws:sns:us-east-1:{SANDBOX_ACCOUNT}:t",
}
RULES = [
    {"mode": "notify", "resource_types": [S3_BUCKET], "account_ids": [PROD]},
    {"mode": "remediate", "resource_types": [IAM_ROLE]},
    {"mode": "approve", "resource_types": [KMS_KEY]},
]


def _settings(**env: str) -> Settings:
    return Settings.from_env(BASE | env)


def test_first_matching_rule_wins_then_account_modes_then_mode() -> None:
    settings = _settings(
        AAR_MODE="notify",
        AAR_MODE_RULES=json.dumps(RULES),
        AAR_ACCOUNT_MODES=json.dumps({PROD: "approve"}),
    )
    assert settings.mode_for(SANDBOX_ACCOUNT, IAM_ROLE) == "remediate"
    assert settings.mode_for(PROD, IAM_ROLE) == "remediate"  # a rule before account_modes
    assert settings.mode_for(SANDBOX_ACCOUNT, KMS_KEY) == "approve"
    assert settings.mode_for(PROD, S3_BUCKET) == "notify"  # S3 in production
    assert settings.mode_for(SANDBOX_ACCOUNT, S3_BUCKET) == "notify"  # no rule: mode
    assert settings.mode_for(PROD, "AWS::SQS::Queue") == "approve"  # no rule: account_modes
    assert settings.modes == {"notify", "remediate", "approve"} and settings.may_remediate
    held = settings.with_mode("notify")  # a dry run or a pending subscription: nothing anywhere
    assert {held.mode_for(a, t) for a in (PROD, SANDBOX_ACCOUNT) for t in (IAM_ROLE, KMS_KEY)} == {"notify"}
    assert not held.may_remediate


def test_account_modes_keeps_working_without_rules() -> None:
    settings = _settings(AAR_ACCOUNT_MODES=json.dumps({PROD: "notify"}))
    assert settings.mode_rules == ()
    assert (settings.mode_for(PROD, IAM_ROLE), settings.mode_for(SANDBOX_ACCOUNT, IAM_ROLE)) == ("notify", "remediate")


def test_approval_settings_from_the_environment() -> None:
    settings = _settings(AAR_MODE="approve", AAR_APPROVAL_TIMEOUT_HOURS="48", AAR_ON_TIMEOUT="apply")
    assert (settings.mode, settings.approval_timeout_hours, settings.on_timeout) == ("approve", 48, "apply")
    default = _settings()
    assert (default.approval_timeout_hours, default.on_timeout) == (None, "expire")
    assert _settings(AAR_MODE_RULES=json.dumps(RULES)).mode_rules[0] == ModeRule(
        "notify", frozenset({S3_BUCKET}), frozenset({PROD})
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AAR_MODE": "ask"}, "AAR_MODE must be 'remediate', 'notify' or 'approve'"),
        ({"AAR_MODE_RULES": "{"}, "AAR_MODE_RULES must be a JSON list of mode rules"),
        ({"AAR_MODE_RULES": '{"mode": "notify"}'}, "must be a JSON list of at most 50"),
        ({"AAR_MODE_RULES": '[{"mode": "notify"}]'}, "names neither resource_types nor account_ids"),
        ({"AAR_MODE_RULES": '[{"mode": "later", "account_ids": ["210987654321"]}]'}, r"AAR_MODE_RULES\[0\]\.mode"),
        ({"AAR_MODE_RULES": '[{"mode": "notify", "account_ids": ["12"]}]'}, "account_ids: '12' is not valid"),
        ({"AAR_MODE_RULES": '[{"mode": "notify", "resource_types": []}]'}, "must be a non-empty list"),
        ({"AAR_MODE_RULES": '[{"mode": "notify", "resource_types": ["S3"]}]'}, "resource_types: 'S3' is not valid"),
        ({"AAR_MODE_RULES": '[{"mode": "notify", "accounts": ["210987654321"]}]'}, "unknown key"),
        ({"AAR_APPROVAL_TIMEOUT_HOURS": "0"}, "between 1 and 8760"),
        ({"AAR_APPROVAL_TIMEOUT_HOURS": "soon"}, "must be an integer"),
        ({"AAR_ON_TIMEOUT": "ignore"}, "AAR_ON_TIMEOUT must be 'apply' or 'expire'"),
    ],
)
def test_bad_mode_settings_fail_at_cold_start(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        _settings(**env)


# -- the paths pick the right mode ------------------------------------------------------------------------------
def _role_and_bucket(aws: Aws) -> tuple[FindingRef, FindingRef]:
    arn = aws.create_role("Partner_Access", trust_policy({"AWS": EXTERNAL}))
    role = aws.standin.add_finding(resource=arn, principal={"AWS": EXTERNAL}, publish=False)
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="shared-reports")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{EXTERNAL}:root"},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::shared-reports/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket="shared-reports", Policy=json.dumps(policy))
    bucket = aws.standin.add_finding(
        resource="arn:aws:s3:::shared-reports",
        resource_type=S3_BUCKET,
        principal={"AWS": EXTERNAL},
        action=["s3:GetObject"],
        resource_owner_account=SANDBOX_ACCOUNT,
        publish=False,
    )
    return FindingRef(aws.standin.analyzer_arn, role["id"]), FindingRef(aws.standin.analyzer_arn, bucket["id"])


def _bucket_denies(aws: Aws) -> list[dict[str, Any]]:
    policy = json.loads(aws.client("s3").get_bucket_policy(Bucket="shared-reports")["Policy"])
    return [s for s in policy["Statement"] if s["Effect"] == "Deny"]


def test_one_batch_remediates_the_role_and_asks_approval_for_the_bucket(aws: Aws) -> None:
    role, bucket = _role_and_bucket(aws)
    rules = (ModeRule("remediate", frozenset({IAM_ROLE})), ModeRule("approve", frozenset({S3_BUCKET})))
    remediator = aws.remediator(mode="notify", mode_rules=rules)
    contained, asked = remediator.process([role, bucket])
    assert (contained.decision, contained.reason) == ("remediate", "external_access_denied")
    assert (asked.decision, asked.reason) == ("notify", approval.APPROVAL_PENDING)
    assert _bucket_denies(aws) == []
    pending = approval.store_of(remediator).get(bucket.finding_id)
    assert pending is not None and pending.status == approval.PENDING
    assert approval.store_of(remediator).get(role.finding_id) is None
    modes = {i["finding_id"]["S"]: i["mode"]["S"] for i in aws.audit_items()}
    assert modes == {role.finding_id: "remediate", bucket.finding_id: "approve"}


def test_notify_for_s3_in_one_account_leaves_other_types_to_the_mode(aws: Aws) -> None:
    role, bucket = _role_and_bucket(aws)
    rules = (ModeRule("notify", frozenset({S3_BUCKET}), frozenset({SANDBOX_ACCOUNT})),)
    remediator = aws.remediator(mode="remediate", mode_rules=rules)
    contained, notified = remediator.process([role, bucket])
    assert contained.decision == "remediate"
    assert (notified.decision, notified.reason) == ("notify", "notify_mode")
    assert _bucket_denies(aws) == []


def test_the_cli_remediate_command_asks_approval_too(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from access_analyzer_remediation.cli import main

    role, _ = _role_and_bucket(aws)
    monkeypatch.setenv("AAR_AUDIT_TABLE_NAME", aws.table)
    monkeypatch.setenv("AAR_TOPIC_ARN", aws.topic_arn)
    monkeypatch.setenv("AAR_ANALYZER_ARNS", json.dumps([aws.standin.analyzer_arn]))
    monkeypatch.setenv("AAR_MODE_RULES", json.dumps([{"mode": "approve", "resource_types": [IAM_ROLE]}]))
    monkeypatch.setattr("access_analyzer_remediation.clients.AwsClients", aws.clients)
    code = main(["remediate", "--analyzer-arn", role.analyzer_arn, "--finding-id", role.finding_id, "--json"])
    assert code == 0
    [row] = json.loads(capsys.readouterr().out)["findings"]
    assert row["reason"] == approval.APPROVAL_PENDING
    assert [s for s in aws.policy("Partner_Access")["Statement"] if s["Effect"] == "Deny"] == []
