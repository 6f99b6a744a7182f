"""Properties every adapter's planner keeps (role, bucket, key), over generated policies and findings: never weakens
a policy, idempotent, revert inverts remediate, and the zone of trust, allowlisted principals and AWS service
principals are never denied."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from access_analyzer_remediation import findings as types
from access_analyzer_remediation import planner
from access_analyzer_remediation.findings import IAM_ROLE, KMS_KEY, S3_BUCKET, Finding
from access_analyzer_remediation.planner import Plan, RoleState
from access_analyzer_remediation.policy import (
    ACCOUNT,
    PRINCIPAL,
    PUBLIC,
    DenyEntry,
    compact,
    match_statement_form,
    own_statements,
    remove_denies,
    statements,
)
from access_analyzer_remediation.resources import registry
from access_analyzer_remediation.resources.kms_key import KeyState, plan_key
from access_analyzer_remediation.resources.s3_bucket import BucketState, plan_bucket, restored_acl, restored_block

from .conftest import ANALYZER, OWNER, make_settings

TRUSTED = "222233334444"
ALLOWED_ACCOUNT = "555566667777"
ALLOWED_ROLE = "arn:aws:iam::444455556666:role/Auditor"
BUCKET_ARN = "arn:aws:s3:::shared-data"
KEY_ARN = f"arn:aws:kms:us-east-1:{OWNER}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROLE_ARN = f"arn:aws:iam::{OWNER}:role/Shared"
SETTINGS = make_settings(
    trusted_account_ids=frozenset({TRUSTED}),
    trusted_org_id="o-abcdefghij",
    allowed_principals=(ALLOWED_ACCOUNT, ALLOWED_ROLE),
    trust_policy_max_chars=10240,
)
ACTIONS = {
    IAM_ROLE: ["sts:AssumeRole", "sts:TagSession"],
    S3_BUCKET: ["s3:GetObject", "s3:ListBucket", "s3:PutObject"],
    KMS_KEY: ["kms:Decrypt", "kms:Encrypt", "kms:PutKeyPolicy", "kms:CreateGrant"],
}
RESOURCE = {IAM_ROLE: ROLE_ARN, S3_BUCKET: BUCKET_ARN, KMS_KEY: KEY_ARN}
RESOURCES = {IAM_ROLE: (), S3_BUCKET: (BUCKET_ARN, f"{BUCKET_ARN}/*"), KMS_KEY: ("*",)}
# The types whose policy holds the Deny beside the Allows (resources/resource_policy.py): planned through the
# adapter as `aa-remediate plan` does (its offline snapshot), the Resource element the adapter's.
POLICY_TYPE_CASES = {
    types.SQS_QUEUE: (f"arn:aws:sqs:us-east-1:{OWNER}:jobs", ["sqs:SendMessage", "sqs:ReceiveMessage"]),
    types.SNS_TOPIC: (f"arn:aws:sns:us-east-1:{OWNER}:alerts", ["sns:Publish", "sns:Subscribe"]),
    types.SECRETS_MANAGER_SECRET: (
        f"arn:aws:secretsmanager:us-east-1:{OWNER}:secret:db-AbCdEf",
        ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
    ),
    types.ECR_REPOSITORY: (
        f"arn:aws:ecr:us-east-1:{OWNER}:repository/app",
        ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
    ),
    types.EFS_FILE_SYSTEM: (
        f"arn:aws:elasticfilesystem:us-east-1:{OWNER}:file-system/fs-0123456789abcdef0",
        ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
    ),
    types.DYNAMODB_TABLE: (f"arn:aws:dynamodb:us-east-1:{OWNER}:table/Orders", ["dynamodb:GetItem", "dynamodb:Query"]),
    types.DYNAMODB_STREAM: (
        f"arn:aws:dynamodb:us-east-1:{OWNER}:table/Orders/stream/2026-12-01T00:00:00.000",
        ["dynamodb:GetRecords", "dynamodb:GetShardIterator"],
    ),
    types.S3_DIRECTORY_BUCKET: (
        f"arn:aws:s3express:us-east-1:{OWNER}:bucket/data--use1-az4--x-s3",
        ["s3express:CreateSession"],
    ),
}


def _policy_adapter(resource_type: str) -> Any:
    from access_analyzer_remediation.cli import _NO_AWS

    return registry()[resource_type](_NO_AWS, "us-east-1")


for _type, (_arn, _actions) in POLICY_TYPE_CASES.items():
    RESOURCE[_type], ACTIONS[_type] = _arn, _actions
    RESOURCES[_type] = _policy_adapter(_type).resources(_policy_adapter(_type).ref(_arn, OWNER))
ALL_TYPES = [IAM_ROLE, S3_BUCKET, KMS_KEY, *POLICY_TYPE_CASES]


def _plan(resource_type: str) -> Callable[[Finding, dict[str, Any]], Plan]:
    def plan(finding: Finding, policy: dict[str, Any]) -> Plan:
        if resource_type == IAM_ROLE:
            return planner.plan_finding(finding, RoleState(ROLE_ARN, "/", {}, policy), SETTINGS)
        if resource_type == S3_BUCKET:
            return plan_bucket(finding, BucketState(BUCKET_ARN, "shared-data", {}, policy), SETTINGS)
        if resource_type == KMS_KEY:
            return plan_key(finding, KeyState(KEY_ARN, KEY_ARN.rsplit("/", 1)[1], "CUSTOMER", {}, policy), SETTINGS)
        adapter = _policy_adapter(resource_type)
        snapshot = adapter.offline(adapter.ref(finding.resource_arn, OWNER), policy, {}, None)
        result: Plan = adapter.plan(finding, snapshot, SETTINGS, (), 0.0)
        return result

    return plan


accounts = st.sampled_from([OWNER, TRUSTED, ALLOWED_ACCOUNT, "999988887777", "444455556666"])
aws_values = st.one_of(
    accounts,
    accounts.map(lambda a: f"arn:aws:iam::{a}:root"),
    st.tuples(accounts, st.sampled_from(["user/Alice", "role/Ci", "role/Auditor"])).map(
        lambda t: f"arn:aws:iam::{t[0]}:{t[1]}"
    ),
    st.just("*"),
)


@st.composite
def documents(draw: st.DrawFn, resource_type: str) -> dict[str, Any]:
    body = []
    for _ in range(draw(st.integers(1, 4))):
        statement: dict[str, Any] = {
            "Effect": draw(st.sampled_from(["Allow", "Allow", "Deny"])),
            "Principal": draw(
                st.one_of(
                    st.just("*"),
                    st.fixed_dictionaries({"AWS": aws_values}),
                    st.just({"Service": "cloudfront.amazonaws.com"}),
                )
            ),
            "Action": draw(st.sampled_from([*ACTIONS[resource_type], "*"])),
        }
        if RESOURCES[resource_type]:
            statement["Resource"] = draw(st.sampled_from(["*", *RESOURCES[resource_type]]))
        if draw(st.booleans()):
            statement["Sid"] = draw(st.from_regex(r"[A-Za-z0-9]{1,12}", fullmatch=True))
        body.append(statement)
    return {"Version": "2012-10-17", "Statement": body}


@st.composite
def findings(draw: st.DrawFn, resource_type: str) -> Finding:
    principal = {"AWS": draw(aws_values)}
    return Finding(
        id=draw(st.from_regex(r"[a-f0-9-]{8,36}", fullmatch=True)),
        analyzer_arn=ANALYZER,
        resource_type=resource_type,
        resource_arn=RESOURCE[resource_type],
        status="ACTIVE",
        principal=principal,
        actions=tuple(sorted(set(draw(st.lists(st.sampled_from(ACTIONS[resource_type]), min_size=1, max_size=3))))),
        condition={},
        is_public=principal["AWS"] == "*",
        resource_owner_account=OWNER,
    )


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, dict[str, Any], list[Finding]]:
    resource_type = draw(st.sampled_from(ALL_TYPES))
    return (
        resource_type,
        draw(documents(resource_type)),
        draw(st.lists(findings(resource_type), min_size=1, max_size=4)),
    )


def _never_denies_the_zone_allowlist_or_services(policy: dict[str, Any], resources: tuple[str, ...]) -> None:
    for own in own_statements(policy, resources):
        for value in own.values:
            if own.kind == ACCOUNT:
                assert value not in {OWNER, TRUSTED, ALLOWED_ACCOUNT}
            elif own.kind == PRINCIPAL:
                assert not any(f"::{a}:" in value for a in (OWNER, TRUSTED, ALLOWED_ACCOUNT)) and value != ALLOWED_ROLE
        rendered = own.render()
        assert "Service" not in rendered["Principal"]  # an AWS service principal is never named
        if own.kind == PUBLIC:
            outside = rendered["Condition"]["StringNotEqualsIfExists"]
            assert {OWNER, TRUSTED, ALLOWED_ACCOUNT} <= set(outside["aws:PrincipalAccount"])
            assert outside["aws:PrincipalOrgID"] == "o-abcdefghij"
            assert rendered["Condition"]["BoolIfExists"] == {"aws:PrincipalIsAWSService": "false"}
        if own.kind in (PUBLIC, PRINCIPAL) or ALLOWED_ROLE.split(":")[4] in own.values:
            assert ALLOWED_ROLE in rendered["Condition"].get("ArnNotLike", {}).get("aws:PrincipalArn", [ALLOWED_ROLE])


@settings(max_examples=1100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_every_adapter_never_weakens_is_idempotent_reverts_and_spares_the_zone(
    case: tuple[str, dict[str, Any], list[Finding]],
) -> None:
    resource_type, policy, batch = case
    plan = _plan(resource_type)
    resources = RESOURCES[resource_type]
    original = statements(policy)
    current, added = policy, list[DenyEntry]()
    for finding in batch:
        result = plan(finding, current)
        if result.decision == "remediate":
            assert result.policy_after is not None
            new = statements(result.policy_after)
            assert new[: len(original)] == original  # never weakens: every statement kept, in order
            assert all(s["Effect"] == "Deny" for s in new[len(original) :])
            for statement in new[len(original) :]:
                assert statement.get("Resource", []) == list(resources)
                assert "Allow" not in json.dumps(statement)  # never grants
            current = result.policy_after
            added.extend(result.added)
        assert plan(finding, current).decision != "remediate"  # idempotent
    _never_denies_the_zone_allowlist_or_services(current, resources)
    restored, removed = remove_denies(current, added, resources)
    assert sorted(removed) == sorted(added)
    assert compact(match_statement_form(restored, policy)) == compact(policy)  # revert inverts remediate


@pytest.mark.parametrize("resource_type", ALL_TYPES)
def test_a_finding_for_the_zone_or_the_allowlist_changes_nothing(resource_type: str) -> None:
    plan = _plan(resource_type)
    allow_all = {"Effect": "Allow", "Principal": "*", "Action": "*"}
    policy: dict[str, Any] = {"Version": "2012-10-17", "Statement": [allow_all]}
    if RESOURCES[resource_type]:
        policy["Statement"][0]["Resource"] = "*"
    for value, decision in ((OWNER, "skip"), (TRUSTED, "skip"), (ALLOWED_ACCOUNT, "notify"), (ALLOWED_ROLE, "notify")):
        finding = Finding("f-1", ANALYZER, resource_type, RESOURCE[resource_type], "ACTIVE", {"AWS": value},
                          (ACTIONS[resource_type][0],), {}, False, OWNER)  # fmt: skip
        result = plan(finding, policy)
        assert result.decision == decision and result.policy_after is None, (value, result)


# -- changes beside the policy: Block Public Access ---------------------------------------------------------------
OWNER_ONLY = make_settings()
SETTING_NAMES = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
configs = st.none() | st.fixed_dictionaries({name: st.booleans() for name in SETTING_NAMES})


@settings(max_examples=300, deadline=None)
@given(before=configs, later=st.dictionaries(st.sampled_from(SETTING_NAMES), st.booleans()))
def test_block_public_access_only_turns_settings_on_and_its_undo_restores_exactly_keeping_later_changes(
    before: dict[str, bool] | None, later: dict[str, bool]
) -> None:
    public = Finding(
        id="f-public",
        analyzer_arn=ANALYZER,
        resource_type=S3_BUCKET,
        resource_arn=BUCKET_ARN,
        status="ACTIVE",
        principal={"AWS": "*"},
        actions=("s3:GetObject",),
        condition={},
        is_public=True,
        resource_owner_account=OWNER,
    )
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
              "Action": "s3:GetObject", "Resource": f"{BUCKET_ARN}/*"}]}  # fmt: skip
    plan = plan_bucket(public, BucketState(BUCKET_ARN, "shared-data", {}, policy, before), OWNER_ONLY)
    previous = dict.fromkeys(SETTING_NAMES, False) | (before or {})
    if previous["IgnorePublicAcls"] and previous["RestrictPublicBuckets"]:
        assert plan.side_changes == ()
        return
    [change] = plan.side_changes
    done = change.do["params"]["PublicAccessBlockConfiguration"]
    assert all(done[name] for name in SETTING_NAMES if previous[name])  # never turns a setting off
    assert done["IgnorePublicAcls"] and done["RestrictPublicBuckets"]
    assert restored_block(change, done)[0] == before  # nothing changed since: exactly as before
    now = done | later
    result, _ = restored_block(change, now)
    after = dict.fromkeys(SETTING_NAMES, False) | (result or {})
    for name in SETTING_NAMES:
        ours = done[name] and not previous[name]  # what the change turned on goes back while still on
        assert after[name] == (previous[name] if ours and now[name] else now[name]), (name, before, later)
    assert (result is None) == (before is None and not any(after.values()))


# -- changes beside the policy: a cross-account ACL grant --------------------------------------------------------
GRANTEE_IDS = ("a" * 64, "b" * 64, "c" * 64)


def _grant_key(grant: dict[str, Any]) -> tuple[str, str]:
    return grant["Grantee"]["ID"], grant["Permission"]


acl_grants = st.lists(
    st.fixed_dictionaries(
        {
            "Grantee": st.fixed_dictionaries({"Type": st.just("CanonicalUser"), "ID": st.sampled_from(GRANTEE_IDS)}),
            "Permission": st.sampled_from(["READ", "WRITE", "READ_ACP", "WRITE_ACP", "FULL_CONTROL"]),
        }
    ),
    max_size=6,
    unique_by=_grant_key,
)


@settings(max_examples=300, deadline=None)
@given(grants=acl_grants, later=acl_grants)
def test_an_acl_grant_removal_takes_only_that_grantee_and_its_undo_restores_it_keeping_later_grants(
    grants: list[dict[str, Any]], later: list[dict[str, Any]]
) -> None:
    partner = GRANTEE_IDS[0]
    finding = Finding(
        id="f-acl",
        analyzer_arn=ANALYZER,
        resource_type=S3_BUCKET,
        resource_arn=BUCKET_ARN,
        status="ACTIVE",
        principal={"CanonicalUser": partner},
        actions=("s3:ListBucket",),
        condition={},
        is_public=False,
        resource_owner_account=OWNER,
    )
    acl = {"Owner": {"ID": "d" * 64}, "Grants": grants}
    bucket = BucketState(BUCKET_ARN, "shared-data", {}, {"Version": "2012-10-17", "Statement": []}, None, acl)
    plan = plan_bucket(finding, bucket, OWNER_ONLY)
    theirs = [g for g in grants if g["Grantee"]["ID"] == partner]
    if not theirs:
        assert (plan.decision, plan.side_changes) == ("skip", ())
        return
    [change] = plan.side_changes
    kept = change.do["params"]["AccessControlPolicy"]["Grants"]
    assert kept == [g for g in grants if g not in theirs]  # only that grantee's, the rest in order
    assert restored_acl(change, change.do["params"]["AccessControlPolicy"]) is not None
    done = {**acl, "Grants": kept}
    undone = restored_acl(change, done)
    assert undone is not None and sorted(map(str, undone["Grants"])) == sorted(map(str, grants))  # exactly as before
    since = {**acl, "Grants": [*kept, *(g for g in later if g not in kept)]}  # grants added since stay
    after = restored_acl(change, since) or since
    assert all(g in after["Grants"] for g in since["Grants"]) and all(g in after["Grants"] for g in theirs)
