"""`aa-remediate plan`: offline, on the documented sample event; bad input exits 2 with one line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from access_analyzer_remediation.cli import main

from .conftest import EVENTS, trust_policy


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(trust_policy({"AWS": "arn:aws:iam::999988887777:user/Alice"}, {"AWS": "999988887777"})))
    return path


def test_plan_json_on_the_documented_sample_event(policy_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["plan", "--event", str(EVENTS / "iam_role_active.json"), "--policy", str(policy_file), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(result) >= {"decision", "reason", "statements_added", "policy"}
    assert result["decision"] == "remediate"
    assert result["statements_added"][0]["Principal"] == {"AWS": ["999988887777"]}
    assert result["policy"]["Statement"][-1] == result["statements_added"][0]


def test_plan_accepts_get_role_output_and_honours_tags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    get_role = {
        "Role": {
            "AssumeRolePolicyDocument": trust_policy({"AWS": "999988887777"}),
            "Tags": [{"Key": "access-analyzer-remediation:exempt", "Value": "true"}],
        }
    }
    path = tmp_path / "role.json"
    path.write_text(json.dumps(get_role))
    code = main(["plan", "--event", str(EVENTS / "iam_role_active.json"), "--policy", str(path), "--json"])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["reason"] == "exempt_tag"


@pytest.mark.parametrize(
    ("flags", "decision", "reason"),
    [
        (["--trusted-account", "999988887777"], "skip", "principal_in_zone_of_trust"),
        (["--mode", "notify"], "notify", "notify_mode"),
        (["--allowed-principal", "999988887777"], "notify", "allowlisted_principal"),
    ],
)
def test_plan_flags(
    policy_file: Path, capsys: pytest.CaptureFixture[str], flags: list[str], decision: str, reason: str
) -> None:
    main(["plan", "--event", str(EVENTS / "iam_role_active.json"), "--policy", str(policy_file), "--json", *flags])
    result = json.loads(capsys.readouterr().out)
    assert (result["decision"], result["reason"]) == (decision, reason)


def test_plan_human_output(policy_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--event", str(EVENTS / "iam_role_active.json"), "--policy", str(policy_file)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("decision: remediate (external_access_denied)")
    assert '+ {"Sid":"AccessAnalyzerDenyAccount' in out


def test_plan_of_an_ignored_event_is_skip(policy_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["plan", "--event", str(EVENTS / "iam_role_archived.json"), "--policy", str(policy_file), "--json"])
    assert json.loads(capsys.readouterr().out)["decision"] == "skip"


@pytest.mark.parametrize(
    "bad",
    [
        ["--event", "missing.json"],
        ["--trusted-account", "12"],
        ["--trusted-org-id", "org"],
        ["--max-chars", "100"],
        ["--event", "__not_json__"],
        ["--event", "__bad_event__"],
        ["--policy", "__bad_policy__"],
    ],
)
def test_bad_input_exits_2_with_one_line(
    policy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: list[str]
) -> None:
    (tmp_path / "__not_json__").write_text("{nope")
    (tmp_path / "__bad_event__").write_text(json.dumps({"source": "aws.access-analyzer"}))
    (tmp_path / "__bad_policy__").write_text(json.dumps({"Version": "2012-10-17"}))
    args = {"--event": str(EVENTS / "iam_role_active.json"), "--policy": str(policy_file)}
    for flag, value in zip(bad[::2], bad[1::2], strict=True):
        args[flag] = str(tmp_path / value) if value.startswith("__") else value
    argv = ["plan"] + [item for pair in args.items() for item in pair]
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("aa-remediate: error: ")


# -- buckets and keys: the event's resourceType chooses the adapter ----------------------------------------------
BUCKET_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Partner",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::999988887777:root"},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/*",
        }
    ],
}


def _write(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_plan_on_get_bucket_policy_output_lists_the_exact_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = _write(tmp_path, "bucket.json", {"Policy": json.dumps(BUCKET_POLICY)})
    code = main(["plan", "--event", str(EVENTS / "s3_bucket_active.json"), "--policy", str(policy), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and (result["decision"], result["reason"]) == ("remediate", "external_access_denied")
    [change] = result["changes"]
    assert change["api"] == "s3:PutBucketPolicy"
    assert change["params"]["Bucket"] == "amzn-s3-demo-bucket"
    assert change["params"]["ExpectedBucketOwner"] == "111122223333"
    assert json.loads(change["params"]["Policy"]) == result["policy"]
    assert result["policy"]["Statement"][0] == BUCKET_POLICY["Statement"][0]
    assert result["statements_added"] == result["policy"]["Statement"][1:] and result["statements_removed"] == []
    assert result["statements_added"][0]["Resource"] == [
        "arn:aws:s3:::amzn-s3-demo-bucket",
        "arn:aws:s3:::amzn-s3-demo-bucket/*",
    ]


def test_plan_for_a_bucket_without_a_policy_and_in_notify_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = _write(tmp_path, "none.json", {})
    event = str(EVENTS / "s3_bucket_active.json")
    assert main(["plan", "--event", event, "--policy", str(empty), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [s["Effect"] for s in result["policy"]["Statement"]] == ["Deny"]
    assert main(["plan", "--event", event, "--policy", str(empty), "--mode", "notify", "--json"]) == 0
    notify = json.loads(capsys.readouterr().out)
    assert (notify["decision"], notify["changes"]) == ("notify", [])
    assert notify["policy"] == {"Version": "2012-10-17", "Statement": []}  # unchanged for notify


def test_plan_on_get_key_policy_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    event = json.loads((EVENTS / "s3_bucket_active.json").read_text())
    key_arn = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    event["detail"] |= {"resourceType": "AWS::KMS::Key", "resource": key_arn, "action": ["kms:Decrypt"]}
    key_policy = {**BUCKET_POLICY, "Statement": [{**BUCKET_POLICY["Statement"][0], "Action": "kms:*", "Resource": "*"}]}
    policy = _write(tmp_path, "key.json", {"Policy": json.dumps(key_policy), "PolicyName": "default"})
    code = main(["plan", "--event", str(_write(tmp_path, "e.json", event)), "--policy", str(policy), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["decision"] == "remediate"
    [change] = result["changes"]
    assert change["api"] == "kms:PutKeyPolicy" and change["params"]["KeyId"] == key_arn
    assert change["params"]["PolicyName"] == "default" and change["params"]["BypassPolicyLockoutSafetyCheck"] is False
    assert result["statements_added"][0]["Resource"] == ["*"]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"Policy": "{not json"}, "Policy is not JSON text"),
        (
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]},
            "no Principal",
        ),
        (["a list"], "not a bucket policy document"),
    ],
)
def test_plan_refuses_what_is_not_a_bucket_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], document: object, message: str
) -> None:
    path = _write(tmp_path, "bad.json", document)
    assert main(["plan", "--event", str(EVENTS / "s3_bucket_active.json"), "--policy", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("aa-remediate: error:")


def test_plan_refuses_a_type_the_tool_does_not_contain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    event = json.loads((EVENTS / "s3_bucket_active.json").read_text())
    event["detail"] |= {
        "resourceType": "AWS::Example::Widget",
        "resource": "arn:aws:example:us-west-2:111122223333:w/1",
    }
    path = _write(tmp_path, "e.json", event)
    assert main(["plan", "--event", str(path), "--policy", str(_write(tmp_path, "p.json", BUCKET_POLICY))]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not contain AWS::Example::Widget findings" in err


# Each policy type: its ARN, an action, its read API's output around a policy (`--policy`), the write `plan` lists.
READ_OUTPUTS: dict[str, tuple[str, str, Callable[[str], dict[str, Any]], str]] = {
    "AWS::SQS::Queue": (
        "arn:aws:sqs:us-west-2:111122223333:jobs",
        "sqs:SendMessage",
        lambda p: {"Attributes": {"Policy": p}},
        "sqs:SetQueueAttributes",
    ),
    "AWS::SNS::Topic": (
        "arn:aws:sns:us-west-2:111122223333:alerts",
        "sns:Publish",
        lambda p: {"Attributes": {"Policy": p, "Owner": "111122223333"}},
        "sns:SetTopicAttributes",
    ),
    "AWS::SecretsManager::Secret": (
        "arn:aws:secretsmanager:us-west-2:111122223333:secret:db-AbCdEf",
        "secretsmanager:GetSecretValue",
        lambda p: {"ARN": "x", "ResourcePolicy": p},
        "secretsmanager:PutResourcePolicy",
    ),
    "AWS::ECR::Repository": (
        "arn:aws:ecr:us-west-2:111122223333:repository/app",
        "ecr:BatchGetImage",
        lambda p: {"registryId": "111122223333", "repositoryName": "app", "policyText": p},
        "ecr:SetRepositoryPolicy",
    ),
    "AWS::EFS::FileSystem": (
        "arn:aws:elasticfilesystem:us-west-2:111122223333:file-system/fs-0123456789abcdef0",
        "elasticfilesystem:ClientMount",
        lambda p: {"FileSystemId": "fs-0123456789abcdef0", "Policy": p},
        "elasticfilesystem:PutFileSystemPolicy",
    ),
    "AWS::DynamoDB::Table": (
        "arn:aws:dynamodb:us-west-2:111122223333:table/Orders",
        "dynamodb:GetItem",
        lambda p: {"Policy": p, "RevisionId": "1"},
        "dynamodb:PutResourcePolicy",
    ),
}


@pytest.mark.parametrize("resource_type", sorted(READ_OUTPUTS))
def test_plan_on_each_policy_types_read_output_lists_the_exact_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], resource_type: str
) -> None:
    arn, action, output, api = READ_OUTPUTS[resource_type]
    event = json.loads((EVENTS / "s3_bucket_active.json").read_text())
    event["detail"] |= {"resourceType": resource_type, "resource": arn, "action": [action]}
    granting = {**BUCKET_POLICY["Statement"][0], "Action": action, "Resource": arn}
    if resource_type == "AWS::ECR::Repository":
        del granting["Resource"]
    policy = _write(tmp_path, "p.json", output(json.dumps({**BUCKET_POLICY, "Statement": [granting]})))
    code = main(["plan", "--event", str(_write(tmp_path, "e.json", event)), "--policy", str(policy), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and (result["decision"], result["reason"]) == ("remediate", "external_access_denied")
    [change] = result["changes"]
    assert change["api"] == api and result["policy"]["Statement"][0] == granting
    text = next(
        v
        for k, v in change["params"].items()
        if k in ("Policy", "ResourcePolicy", "policyText", "AttributeValue", "Attributes")
    )
    assert json.loads(text["Policy"] if isinstance(text, dict) else text) == result["policy"]
    assert [s["Effect"] for s in result["statements_added"]] == ["Deny"]


PUBLIC_SITE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "PublicRead",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::amzn-s3-demo-website/*",
        }
    ],
}


def test_plan_of_a_public_bucket_lists_the_block_public_access_write_after_the_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = str(_write(tmp_path, "site.json", {"Policy": json.dumps(PUBLIC_SITE)}))
    event = str(EVENTS / "s3_bucket_public.json")
    config = {"BlockPublicAcls": True, "IgnorePublicAcls": False, "BlockPublicPolicy": False}
    block = {"PublicAccessBlockConfiguration": {**config, "RestrictPublicBuckets": False}}
    attributes = str(_write(tmp_path, "bpa.json", block))
    assert main(["plan", "--event", event, "--policy", policy, "--attributes", attributes, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [c["api"] for c in result["changes"]] == ["s3:PutBucketPolicy", "s3:PutPublicAccessBlock"]
    assert result["changes"][1]["params"] == {
        "Bucket": "amzn-s3-demo-website",
        "ExpectedBucketOwner": "111122223333",
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                                           "BlockPublicPolicy": False, "RestrictPublicBuckets": True},
    }  # fmt: skip
    assert main(["plan", "--event", event, "--policy", policy, "--json"]) == 0  # no --attributes: taken as off
    assert "Block Public Access taken as off: none in --attributes" in json.loads(capsys.readouterr().out)["notes"]
    org = ["--trusted-org-id", "o-abc123def4"]
    assert main(["plan", "--event", event, "--policy", policy, "--attributes", attributes, "--json", *org]) == 0
    assert [c["api"] for c in json.loads(capsys.readouterr().out)["changes"]] == ["s3:PutBucketPolicy"]


def test_plan_of_a_key_with_list_grants_output_revokes_the_principals_grant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_arn = "arn:aws:kms:us-west-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321"
    owner = {"Sid": "Owner", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
             "Action": "kms:*", "Resource": "*"}  # fmt: skip
    policy = _write(tmp_path, "key.json", {"Policy": json.dumps({"Version": "2012-10-17", "Statement": [owner]})})
    grants = {"Grants": [{"GrantId": "g-9", "GranteePrincipal": "arn:aws:iam::999988887777:role/Ci",
                          "Operations": ["Decrypt"], "KeyId": key_arn}]}  # fmt: skip
    attributes = _write(tmp_path, "grants.json", grants)
    argv = ["plan", "--event", str(EVENTS / "kms_key_grant.json"), "--policy", str(policy), "--json"]
    assert main([*argv, "--attributes", str(attributes)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [c["api"] for c in result["changes"]] == ["kms:PutKeyPolicy", "kms:RevokeGrant"]
    assert result["changes"][1]["params"] == {"KeyId": key_arn, "GrantId": "g-9"}


@pytest.mark.parametrize(
    ("event", "attributes", "message"),
    [
        ("s3_bucket_public.json", {"PublicAccessBlockConfiguration": {"BlockAll": True}}, "get-public-access-block"),
        ("kms_key_grant.json", {"Grants": [{"Operations": ["Decrypt"]}]}, "list-grants output"),
        ("iam_role_active.json", {}, "a role has nothing beside its trust policy"),
    ],
)
def test_plan_refuses_attributes_that_are_not_the_read_apis_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], event: str, attributes: object, message: str
) -> None:
    document = trust_policy({"AWS": "999988887777"}) if event.startswith("iam") else {"Policy": json.dumps(PUBLIC_SITE)}
    policy = _write(tmp_path, "p.json", document)
    path = _write(tmp_path, "a.json", attributes)
    assert main(["plan", "--event", str(EVENTS / event), "--policy", str(policy), "--attributes", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
