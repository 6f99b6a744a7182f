"""Organization mode: a central deployment contains findings of resources in member accounts through the member
role (members.py), with every rail of the single-account path; accounts without the role are reported with how to
deploy it; the management account, excluded accounts and per-account modes are respected; revert acts in the
member account. moto: STS AssumeRole into another account id returns credentials that act in that account."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from access_analyzer_remediation import members
from access_analyzer_remediation.findings import S3_BUCKET, FindingRef
from access_analyzer_remediation.revert import RevertRefused, revert, revert_all
from access_analyzer_remediation.settings import Settings, SettingsError

from .conftest import EXTERNAL, SANDBOX_ACCOUNT, Aws, trust_policy

MEMBER = "210987654321"
NO_ROLE = "333344445555"  # an account without the member role: AssumeRole is refused there
MANAGEMENT = "444455556666"
ROLE_NAME = "access-analyzer-remediation-member"
ORG = {"member_role_name": ROLE_NAME, "management_account_id": MANAGEMENT}
ROLE = "Partner_Access"
BUCKET = "member-shared-data"


def _ref(aws: Aws, finding: dict[str, Any]) -> FindingRef:
    return FindingRef(aws.standin.analyzer_arn, finding["id"])


def _refuse_assume_role_into(aws: Aws, *accounts: str) -> None:
    """STS refuses AssumeRole into `accounts` (moto assumes any role, even one that does not exist)."""
    made = aws.client

    def refuse(params: Any, **_: Any) -> Any:
        if str(params.get("body", {}).get("RoleArn", "")).split(":")[4] in accounts:
            aws.assumed.append(dict(params["body"]))  # answered here: the counting handler does not see it
            error = {"Error": {"Code": "AccessDenied", "Message": "not authorized to perform: sts:AssumeRole"}}
            return SimpleNamespace(status_code=403, headers={}), {**error, "ResponseMetadata": {"HTTPStatusCode": 403}}
        return None

    def client(service: str, region: str | None = None, credentials: Any = None) -> Any:
        made_client = made(service, region, credentials)
        if service == "sts":
            made_client.meta.events.register("before-call.sts.AssumeRole", refuse)
        return made_client

    aws.client = client  # type: ignore[method-assign]


def _member_role(aws: Aws, account: str = MEMBER, name: str = ROLE) -> Any:
    iam = aws.member_client(account, "iam")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust_policy({"AWS": EXTERNAL})))
    return iam


def _role_finding(aws: Aws, account: str = MEMBER, name: str = ROLE) -> dict[str, Any]:
    return aws.standin.add_finding(
        resource=f"arn:aws:iam::{account}:role/{name}", principal={"AWS": EXTERNAL}, publish=False
    )


def _denies(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in policy["Statement"] if s["Effect"] == "Deny"]


def test_a_member_account_role_is_contained_there_with_the_central_audit_and_reverted_there(aws: Aws) -> None:
    member_iam = _member_role(aws)
    aws.create_role(ROLE, trust_policy({"AWS": EXTERNAL}))  # the same name in the central account: never touched
    finding = _role_finding(aws)
    remediator = aws.remediator(**ORG, member_role_external_id="central-ext-id")
    [outcome] = remediator.process([_ref(aws, finding)])
    assert (outcome.decision, outcome.reason) == ("remediate", "external_access_denied")
    member_policy = member_iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]
    [deny] = _denies(member_policy)
    assert deny["Principal"] == {"AWS": [EXTERNAL]}
    assert _denies(aws.policy(ROLE)) == []  # the central account's role of the same name
    [assumed] = aws.assumed
    assert assumed["RoleArn"] == f"arn:aws:iam::{MEMBER}:role/{ROLE_NAME}"
    assert assumed["RoleSessionName"] == f"aar-{finding['id']}"  # CloudTrail names the finding on every write
    assert assumed["ExternalId"] == "central-ext-id" and str(assumed["DurationSeconds"]) == "900"
    [record] = [i for i in aws.audit_items() if i["pk"]["S"] == f"FINDING#{finding['id']}"]  # the central table
    assert record["decision"]["S"] == "remediate"
    remediator.announce([outcome], SANDBOX_ACCOUNT)
    [mail] = aws.emails()
    assert f"arn:aws:iam::{MEMBER}:role/{ROLE}" in mail["Message"]
    [again] = aws.remediator(**ORG).process([_ref(aws, finding)])  # redelivery: the ledger in the central table
    assert (again.decision, again.reason) == ("skip", "already_contained")
    result = revert(aws.remediator(**ORG), finding["id"])
    assert result["removed"] and result["resource_arn"] == f"arn:aws:iam::{MEMBER}:role/{ROLE}"
    assert _denies(member_iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]) == []


def test_a_member_account_bucket_is_contained_in_that_account(aws: Aws) -> None:
    s3 = aws.member_client(MEMBER, "s3")
    s3.create_bucket(Bucket=BUCKET)
    allow = {
        "Sid": "Partner",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{EXTERNAL}:root"},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/*",
    }
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [allow]}))
    finding = aws.standin.add_finding(
        resource=f"arn:aws:s3:::{BUCKET}",
        resource_type=S3_BUCKET,
        principal={"AWS": EXTERNAL},
        action=["s3:GetObject"],
        resource_owner_account=MEMBER,
        publish=False,
    )
    remediator = aws.remediator(**ORG)
    [outcome] = remediator.process([_ref(aws, finding)])
    assert (outcome.decision, outcome.reason) == ("remediate", "external_access_denied")
    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET, ExpectedBucketOwner=MEMBER)["Policy"])
    assert policy["Statement"][0] == allow and len(_denies(policy)) == 1
    assert [a["RoleArn"] for a in aws.assumed] == [f"arn:aws:iam::{MEMBER}:role/{ROLE_NAME}"]
    revert(remediator, finding["id"])
    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    assert policy["Statement"] == [allow]


def test_one_session_per_member_account_per_invocation(aws: Aws) -> None:
    _member_role(aws, name="One")
    _member_role(aws, name="Two")
    findings = [_role_finding(aws, name=name) for name in ("One", "Two")]
    outcomes = aws.remediator(**ORG).process([_ref(aws, f) for f in findings])
    assert [o.decision for o in outcomes] == ["remediate", "remediate"]
    assert len(aws.assumed) == 1 and aws.assumed[0]["RoleSessionName"] in {f"aar-{f['id']}" for f in findings}


def test_an_account_without_the_member_role_is_reported_with_how_to_deploy_it_and_never_retried(aws: Aws) -> None:
    _refuse_assume_role_into(aws, NO_ROLE)
    findings = [_role_finding(aws, NO_ROLE, "One"), _role_finding(aws, NO_ROLE, "Two")]
    remediator = aws.remediator(**ORG)
    outcomes = remediator.process([_ref(aws, f) for f in findings])
    assert [(o.decision, o.reason) for o in outcomes] == [("notify", "member_role_unavailable")] * 2
    assert len(aws.assumed) == 1  # asked once per invocation, and the findings are not handed back for a retry
    assert all(o.stored and not o.failed for o in outcomes)
    remediator.announce(outcomes, SANDBOX_ACCOUNT)
    [mail] = aws.emails()
    assert f"could not assume arn:aws:iam::{NO_ROLE}:role/{ROLE_NAME} (AccessDenied)" in mail["Message"]
    assert "deploy modules/member-role there" in mail["Message"] and f"name = {ROLE_NAME}" in mail["Message"]


def test_without_a_member_role_name_other_accounts_are_reported_as_before(aws: Aws) -> None:
    member_iam = _member_role(aws)
    [outcome] = aws.remediator().process([_ref(aws, _role_finding(aws))])
    assert (outcome.decision, outcome.reason) == ("notify", "cross_account_role")
    assert aws.assumed == [] or all(a.get("RoleSessionName") == "test-setup" for a in aws.assumed)
    assert _denies(member_iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]) == []


def test_the_management_account_is_modified_only_when_allowed(aws: Aws) -> None:
    iam = _member_role(aws, MANAGEMENT)
    finding = _role_finding(aws, MANAGEMENT)
    aws.assumed.clear()
    [held] = aws.remediator(**ORG).process([_ref(aws, finding)])
    assert (held.decision, held.reason) == ("notify", "management_account") and aws.assumed == []
    assert _denies(iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]) == []
    [done] = aws.remediator(**ORG, allow_management_account=True).process([_ref(aws, finding)])
    assert (done.decision, done.reason) == ("remediate", "external_access_denied")
    assert len(_denies(iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"])) == 1


def test_account_modes_and_excluded_accounts(aws: Aws) -> None:
    iam = _member_role(aws)
    finding = _role_finding(aws)
    [notified] = aws.remediator(**ORG, account_modes=((MEMBER, "notify"),)).process([_ref(aws, finding)])
    assert (notified.decision, notified.reason) == ("notify", "notify_mode")
    [excluded] = aws.remediator(**ORG, excluded_account_ids=frozenset({MEMBER})).process([_ref(aws, finding)])
    assert (excluded.decision, excluded.reason) == ("skip", "account_excluded") and not excluded.notifies
    assert _denies(iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]) == []
    # A deployment in notify mode with one account set to remediate: that account's resources are contained.
    [contained] = aws.remediator(**ORG, mode="notify", account_modes=((MEMBER, "remediate"),)).process(
        [_ref(aws, finding)]
    )
    assert (contained.decision, contained.reason) == ("remediate", "external_access_denied")
    records = [i for i in aws.audit_items() if i["pk"]["S"] == f"FINDING#{finding['id']}"]
    assert {r["reason"]["S"] for r in records} >= {"notify_mode", "account_excluded", "external_access_denied"}


def test_a_pending_subscription_holds_back_an_account_set_to_remediate(aws: Aws) -> None:
    sns = aws.client("sns")
    for subscription in sns.list_subscriptions_by_topic(TopicArn=aws.topic_arn)["Subscriptions"]:
        sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
    iam = _member_role(aws)
    remediator = aws.remediator(
        **ORG, mode="notify", account_modes=((MEMBER, "remediate"),), require_confirmed_subscription=True
    )
    [held] = remediator.process([_ref(aws, _role_finding(aws))])
    assert (held.decision, held.reason) == ("notify", "no_confirmed_subscription")
    assert _denies(iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]) == []


def test_notify_everywhere_overrides_an_account_set_to_remediate() -> None:
    """A dry run (`with_mode("notify")`) or a pending subscription writes in no account."""
    settings = Settings(
        analyzer_arns=(f"arn:aws:access-analyzer:us-east-1:{SANDBOX_ACCOUNT}:analyzer/a",),
        audit_table_name="t",
        topic_arn=f"arn:aws:sns:us-east-1:{SANDBOX_ACCOUNT}:t",
        mode="notify",
        account_modes=((MEMBER, "remediate"), (NO_ROLE, "notify")),
    )
    assert settings.may_remediate and settings.account_mode(MEMBER) == "remediate"
    held = settings.with_mode("notify")
    assert not held.may_remediate and held.account_mode(MEMBER) == "notify"
    assert settings.with_mode("remediate").account_mode(NO_ROLE) == "notify"


def test_the_member_role_itself_is_never_modified(aws: Aws) -> None:
    iam = _member_role(aws, name=ROLE_NAME)
    [outcome] = aws.remediator(**ORG).process([_ref(aws, _role_finding(aws, name=ROLE_NAME))])
    assert (outcome.decision, outcome.reason) == ("notify", "own_role")
    assert _denies(iam.get_role(RoleName=ROLE_NAME)["Role"]["AssumeRolePolicyDocument"]) == []


def test_a_revert_whose_member_role_cannot_be_assumed_says_what_is_needed(aws: Aws) -> None:
    _member_role(aws)
    finding = _role_finding(aws)
    [outcome] = aws.remediator(**ORG).process([_ref(aws, finding)])
    assert outcome.decision == "remediate"
    _refuse_assume_role_into(aws, MEMBER)
    with pytest.raises(RevertRefused, match="credentials the member role trusts"):
        revert(aws.remediator(**ORG), finding["id"])


def test_revert_all_removes_the_denies_in_the_member_accounts(aws: Aws) -> None:
    """The uninstall path: a role's ARN names its account; a bucket's does not (GetFinding's resourceOwnerAccount)."""
    iam = _member_role(aws)
    s3 = aws.member_client(MEMBER, "s3")
    s3.create_bucket(Bucket=BUCKET)
    role_finding = _role_finding(aws)
    bucket_finding = aws.standin.add_finding(
        resource=f"arn:aws:s3:::{BUCKET}",
        resource_type=S3_BUCKET,
        principal={"AWS": EXTERNAL},
        action=["s3:GetObject"],
        resource_owner_account=MEMBER,
        publish=False,
    )
    remediator = aws.remediator(**ORG)
    outcomes = remediator.process([_ref(aws, role_finding), _ref(aws, bucket_finding)])
    assert [o.decision for o in outcomes] == ["remediate", "remediate"]
    rows = revert_all(remediator, dry_run=False)
    assert sorted(row["resource_arn"] for row in rows if row["removed"]) == [
        f"arn:aws:iam::{MEMBER}:role/{ROLE}",
        f"arn:aws:s3:::{BUCKET}",
    ]
    assert _denies(iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]) == []
    with pytest.raises(Exception, match="NoSuchBucketPolicy"):  # the bucket had none: deleted again
        s3.get_bucket_policy(Bucket=BUCKET)


# -- pure ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("finding_id", "expected"),
    [
        ("8d2ba1a5-6b0c-4e71-9d5b-0c6f5d1a2b3c", "aar-8d2ba1a5-6b0c-4e71-9d5b-0c6f5d1a2b3c"),
        ("a/b c:d", "aar-a-b-c-d"),
        ("x" * 100, "aar-" + "x" * 60),
    ],
)
def test_the_session_name_carries_the_finding_id_within_sts_limits(finding_id: str, expected: str) -> None:
    name = members.session_name(finding_id)
    assert name == expected and len(name) <= 64


BASE_ENV = {
    "AAR_ANALYZER_ARNS": json.dumps([f"arn:aws:access-analyzer:us-east-1:{SANDBOX_ACCOUNT}:analyzer/a"]),
    "AAR_AUDIT_TABLE_NAME": "aar-audit",
    "AAR_TOPIC_ARN": f"arn:aws:sns:us-east-1:{SANDBOX_ACCOUNT}:t",
}


def test_organization_settings_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            **BASE_ENV,
            "AAR_MEMBER_ROLE_NAME": ROLE_NAME,
            "AAR_MEMBER_ROLE_EXTERNAL_ID": "ext-id",
            "AAR_MANAGEMENT_ACCOUNT_ID": MANAGEMENT,
            "AAR_ACCOUNT_MODES": json.dumps({MEMBER: "notify"}),
            "AAR_EXCLUDED_ACCOUNT_IDS": json.dumps([NO_ROLE]),
        }
    )
    assert settings.organization_mode and settings.member_role_external_id == "ext-id"
    assert settings.account_mode(MEMBER) == "notify" and settings.account_mode(NO_ROLE) == "remediate"
    assert settings.excluded_account_ids == {NO_ROLE} and not settings.allow_management_account
    assert not Settings.from_env(BASE_ENV).organization_mode


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"AAR_MEMBER_ROLE_NAME": ROLE_NAME}, "AAR_MANAGEMENT_ACCOUNT_ID"),
        ({"AAR_MEMBER_ROLE_NAME": "bad name"}, "AAR_MEMBER_ROLE_NAME"),
        ({"AAR_ACCOUNT_MODES": json.dumps({MEMBER: "fix"})}, "AAR_ACCOUNT_MODES"),
        ({"AAR_ACCOUNT_MODES": json.dumps({"123": "notify"})}, "AAR_ACCOUNT_MODES"),
        ({"AAR_ACCOUNT_MODES": "[]"}, "AAR_ACCOUNT_MODES"),
        ({"AAR_EXCLUDED_ACCOUNT_IDS": json.dumps(["12"])}, "AAR_EXCLUDED_ACCOUNT_IDS"),
        ({"AAR_MEMBER_ROLE_EXTERNAL_ID": "a secret!"}, "AAR_MEMBER_ROLE_EXTERNAL_ID"),
    ],
)
def test_bad_organization_settings_fail_at_cold_start(extra: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message) as raised:
        Settings.from_env({**BASE_ENV, **extra})
    assert "a secret!" not in str(raised.value)  # an ExternalId is not repeated in the error
