"""S3 buckets and KMS keys on the shared engine: each principal kind, each S3 source, the quota edge, exact revert,
redelivery, two Regions, guardrails and key-lockout safety. The engine paths run against moto (S3 and KMS hold real
policies there) with findings put into the Access Analyzer stand-in."""

from __future__ import annotations

import json
from typing import Any

import pytest

from access_analyzer_remediation.findings import KMS_KEY, S3_BUCKET, Finding, FindingRef, Source
from access_analyzer_remediation.policy import POLICY_VERSION, compact, statements
from access_analyzer_remediation.resources import kms_key, s3_bucket
from access_analyzer_remediation.resources.kms_key import KeyState, may_lock_out, plan_key
from access_analyzer_remediation.resources.s3_bucket import BUCKET_POLICY_MAX_BYTES, BucketState, plan_bucket
from access_analyzer_remediation.revert import revert
from access_analyzer_remediation.settings import Settings

from .conftest import EXTERNAL, KEY_ADMIN_STATEMENT, SANDBOX_ACCOUNT, Aws, resource_finding

ANALYZER = f"arn:aws:access-analyzer:us-east-1:{SANDBOX_ACCOUNT}:analyzer/aar"
SETTINGS = Settings(
    analyzer_arns=(ANALYZER,), audit_table_name="t", topic_arn=f"arn:aws:sns:us-east-1:{SANDBOX_ACCOUNT}:t"
)
BUCKET = "shared-data"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
KEY_ARN = f"arn:aws:kms:us-east-1:{SANDBOX_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
DELETED_ROLE = f"arn:aws:iam::{EXTERNAL}:role/GoneSinceTheGrant"


def _finding(resource_type: str, resource: str, principal: dict[str, str], **extra: Any) -> Finding:
    return resource_finding(resource_type, resource, principal, ANALYZER, SANDBOX_ACCOUNT, **extra)


def _bucket_policy(*statements_: dict[str, Any]) -> dict[str, Any]:
    return {"Version": POLICY_VERSION, "Statement": list(statements_)}


ALLOW_EXTERNAL: dict[str, Any] = {
    "Sid": "Partner",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{EXTERNAL}:root"},
    "Action": "s3:GetObject",
    "Resource": f"{BUCKET_ARN}/*",
}
CLOUDFRONT_OAC = {
    "Sid": "AllowCloudFrontServicePrincipal",
    "Effect": "Allow",
    "Principal": {"Service": "cloudfront.amazonaws.com"},
    "Action": "s3:GetObject",
    "Resource": f"{BUCKET_ARN}/*",
    "Condition": {"StringEquals": {"AWS:SourceArn": f"arn:aws:cloudfront::{SANDBOX_ACCOUNT}:distribution/E1"}},
}


# -- pure planning -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("principal", "principal_element", "condition_key"),
    [
        ({"AWS": EXTERNAL}, {"AWS": [EXTERNAL]}, None),
        ({"AWS": DELETED_ROLE}, {"AWS": "*"}, "ArnLike"),  # a deleted ARN in Principal is rejected: matched instead
        ({"AWS": "*"}, {"AWS": "*"}, "StringNotEqualsIfExists"),
    ],
)
def test_the_bucket_deny_names_the_bucket_and_its_objects_and_keeps_every_statement(
    principal: dict[str, str], principal_element: Any, condition_key: str | None
) -> None:
    before = _bucket_policy(ALLOW_EXTERNAL, CLOUDFRONT_OAC)
    finding = _finding(S3_BUCKET, BUCKET_ARN, principal, isPublic=principal == {"AWS": "*"})
    plan = plan_bucket(finding, BucketState(BUCKET_ARN, BUCKET, {}, before), SETTINGS)
    assert plan.decision == "remediate" and plan.policy_after is not None
    body = statements(plan.policy_after)
    assert body[:2] == [ALLOW_EXTERNAL, CLOUDFRONT_OAC]  # existing statements never change
    [deny] = plan.statements_added()
    assert deny["Principal"] == principal_element and deny["Action"] == ["s3:GetObject"]
    assert deny["Resource"] == [BUCKET_ARN, f"{BUCKET_ARN}/*"]
    if condition_key:
        assert condition_key in deny["Condition"]
    if principal == {"AWS": "*"}:
        # the zone (own account) is excluded, and AWS services acting for the account (CloudFront OAC) are spared
        assert deny["Condition"]["StringNotEqualsIfExists"]["aws:PrincipalAccount"] == [SANDBOX_ACCOUNT]
        assert deny["Condition"]["BoolIfExists"] == {"aws:PrincipalIsAWSService": "false"}


def test_a_bucket_without_a_policy_gets_one_holding_only_the_deny_and_loses_it_on_revert() -> None:
    finding = _finding(S3_BUCKET, BUCKET_ARN, {"AWS": EXTERNAL})
    empty = s3_bucket.policy_from_api(None)
    plan = plan_bucket(finding, BucketState(BUCKET_ARN, BUCKET, {}, empty), SETTINGS)
    assert plan.policy_after is not None and len(statements(plan.policy_after)) == 1
    ref = finding.resource
    [put] = s3_bucket.changes_for(ref, plan.policy_after)
    assert put["api"] == "s3:PutBucketPolicy" and put["params"]["ExpectedBucketOwner"] == SANDBOX_ACCOUNT
    assert "ConfirmRemoveSelfBucketAccess" not in put["params"]
    assert s3_bucket.changes_for(ref, empty) == [
        {"api": "s3:DeleteBucketPolicy", "params": {"Bucket": BUCKET, "ExpectedBucketOwner": SANDBOX_ACCOUNT}}
    ]


@pytest.mark.parametrize("resource_type", [S3_BUCKET, KMS_KEY])
def test_the_quota_edge_notifies_with_the_deny_that_did_not_fit(resource_type: str) -> None:
    is_bucket = resource_type == S3_BUCKET
    arn, limit = (BUCKET_ARN, BUCKET_POLICY_MAX_BYTES) if is_bucket else (KEY_ARN, kms_key.KEY_POLICY_MAX_BYTES)
    finding = _finding(resource_type, arn, {"AWS": EXTERNAL})

    def plan_with(padding: int) -> Any:
        pad = {**ALLOW_EXTERNAL, "Sid": "Pad", "Condition": {"StringLike": {"aws:userid": ["x" * padding]}}}
        if is_bucket:
            return plan_bucket(
                finding, BucketState(BUCKET_ARN, BUCKET, {}, _bucket_policy(ALLOW_EXTERNAL, pad)), SETTINGS
            )
        policy = {**KEY_POLICY, "Statement": [*KEY_POLICY["Statement"], {**pad, "Resource": "*"}]}
        return plan_key(finding, _key(policy), SETTINGS)

    low, high = 0, limit  # the largest padding that still fits, by bisection
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if plan_with(middle).decision == "remediate" else (low, middle)
    fits, over = plan_with(low), plan_with(high)
    assert fits.policy_after is not None and len(compact(fits.policy_after).encode()) == limit
    assert (over.decision, over.reason) == ("notify", "policy_quota") and over.policy_after is None
    assert f"{limit + 1} bytes, over the {limit}-byte quota" in over.summary
    assert [e.value for e in over.added] == [EXTERNAL]  # the notice shows the Deny that did not fit


@pytest.mark.parametrize(
    ("source", "note"),
    [
        (Source("POLICY"), None),
        (Source("BUCKET_ACL"), "the bucket ACL grants this access too"),
        (Source("S3_ACCESS_POINT", "arn:aws:s3:us-east-1:123456789012:accesspoint/ap"), "accesspoint/ap grants"),
        (Source("S3_ACCESS_POINT_ACCOUNT", EXTERNAL), f"an access point of account {EXTERNAL}"),
    ],
)
def test_each_source_is_contained_by_the_bucket_deny_and_the_other_grant_is_named(
    source: Source, note: str | None
) -> None:
    finding = _finding(S3_BUCKET, BUCKET_ARN, {"AWS": EXTERNAL}, sources=[source.to_json()])
    plan = plan_bucket(finding, BucketState(BUCKET_ARN, BUCKET, {}, _bucket_policy(ALLOW_EXTERNAL)), SETTINGS)
    assert plan.decision == "remediate"
    assert not plan.notes if note is None else any(note in n for n in plan.notes)


def test_bucket_guardrails_exempt_tag_allowlist_zone_and_organization() -> None:
    policy = _bucket_policy(ALLOW_EXTERNAL)
    finding = _finding(S3_BUCKET, BUCKET_ARN, {"AWS": EXTERNAL})
    tagged = BucketState(BUCKET_ARN, BUCKET, {SETTINGS.exemption_tag_key: "ticket-1"}, policy)
    assert plan_bucket(finding, tagged, SETTINGS).reason == "exempt_tag"
    state = BucketState(BUCKET_ARN, BUCKET, {}, policy)
    allowed = Settings(**{**SETTINGS.__dict__, "allowed_principals": (EXTERNAL,)})
    assert plan_bucket(finding, state, allowed).reason == "allowlisted_principal"
    trusted = Settings(**{**SETTINGS.__dict__, "trusted_account_ids": frozenset({EXTERNAL})})
    assert plan_bucket(finding, state, trusted).reason == "principal_in_zone_of_trust"
    org = Settings(**{**SETTINGS.__dict__, "trusted_org_id": "o-abcdefghij"})
    in_org = _finding(S3_BUCKET, BUCKET_ARN, {"AWS": EXTERNAL}, condition={"aws:PrincipalOrgID": "o-abcdefghij"})
    assert plan_bucket(in_org, state, org).reason == "principal_in_zone_of_trust"
    plan = plan_bucket(finding, state, org)  # another account: denied, but the organization stays excluded
    [deny] = plan.statements_added()
    assert deny["Condition"]["StringNotEqualsIfExists"] == {"aws:PrincipalOrgID": "o-abcdefghij"}


def test_a_redelivered_bucket_finding_is_already_contained() -> None:
    finding = _finding(S3_BUCKET, BUCKET_ARN, {"AWS": EXTERNAL})
    first = plan_bucket(finding, BucketState(BUCKET_ARN, BUCKET, {}, _bucket_policy(ALLOW_EXTERNAL)), SETTINGS)
    assert first.policy_after is not None
    again = plan_bucket(finding, BucketState(BUCKET_ARN, BUCKET, {}, first.policy_after), SETTINGS)
    assert (again.decision, again.reason) == ("skip", "already_contained")


KEY_POLICY: dict[str, Any] = {
    "Version": POLICY_VERSION,
    "Statement": [
        KEY_ADMIN_STATEMENT,
        {
            "Sid": "Partner",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{EXTERNAL}:root"},
            "Action": ["kms:Decrypt", "kms:PutKeyPolicy"],
            "Resource": "*",
        },
    ],
}


def _key(policy: dict[str, Any] = KEY_POLICY, **changes: Any) -> KeyState:
    return KeyState(
        **{
            "arn": KEY_ARN,
            "key_id": KEY_ARN.rsplit("/", 1)[1],
            "manager": "CUSTOMER",
            "tags": {},
            "policy": policy,
            **changes,
        }
    )


@pytest.mark.parametrize("principal", [{"AWS": EXTERNAL}, {"AWS": DELETED_ROLE}, {"AWS": "*"}])
def test_the_key_deny_names_the_key_and_never_denies_the_owner_put_key_policy(principal: dict[str, str]) -> None:
    finding = _finding(KMS_KEY, KEY_ARN, principal, action=["kms:Decrypt", "kms:PutKeyPolicy"])
    plan = plan_key(finding, _key(), SETTINGS)
    assert plan.decision == "remediate" and plan.policy_after is not None
    assert statements(plan.policy_after)[:2] == KEY_POLICY["Statement"]
    [deny] = plan.statements_added()
    assert deny["Resource"] == ["*"] and "kms:PutKeyPolicy" in deny["Action"]
    assert not may_lock_out(plan.policy_after, plan.added, SANDBOX_ACCOUNT)
    [change] = kms_key.changes_for(finding.resource, plan.policy_after)
    assert change["params"]["PolicyName"] == "default" and change["params"]["BypassPolicyLockoutSafetyCheck"] is False


def test_a_deny_that_could_catch_the_owner_on_put_key_policy_is_refused_by_the_planner() -> None:
    finding = _finding(KMS_KEY, KEY_ARN, {"AWS": EXTERNAL}, action=["kms:PutKeyPolicy"])
    plan = plan_key(finding, _key(), SETTINGS)
    assert plan.policy_after is not None
    own = [e.__class__(e.sid, e.kind, SANDBOX_ACCOUNT, e.actions) for e in plan.added]
    assert may_lock_out(plan.policy_after, own, SANDBOX_ACCOUNT)  # the same entry, naming the owner
    wide = [e.__class__(e.sid, "Principal", "arn:aws:iam::*:role/Admin", ("kms:*",)) for e in plan.added]
    assert may_lock_out(plan.policy_after, wide, SANDBOX_ACCOUNT)
    assert not may_lock_out(plan.policy_after, plan.added, SANDBOX_ACCOUNT)


def test_aws_managed_and_unreadable_keys_are_reported_only() -> None:
    finding = _finding(KMS_KEY, KEY_ARN, {"AWS": EXTERNAL})
    assert plan_key(finding, _key(manager="AWS", policy={}), SETTINGS).reason == "aws_managed_key"
    assert plan_key(finding, _key(readable=False, policy={}), SETTINGS).reason == "unreadable_policy"


def test_a_grant_held_by_the_principal_is_revoked_beside_the_deny() -> None:
    grant = kms_key.Grant("g-123", f"arn:aws:iam::{EXTERNAL}:role/Reader", ("Decrypt",), "reader")
    finding = _finding(KMS_KEY, KEY_ARN, {"AWS": EXTERNAL})
    plan = plan_key(
        finding,
        _key(policy={"Version": POLICY_VERSION, "Statement": KEY_POLICY["Statement"][:1]}, grants=(grant,)),
        SETTINGS,
    )
    assert plan.decision == "remediate"
    [revocation] = plan.side_changes  # revoked beside the Deny (tests/unit/test_side_changes.py)
    assert revocation.do == {"api": "kms:RevokeGrant", "params": {"KeyId": KEY_ARN, "GrantId": "g-123"}}
    assert "revoked grant g-123 (reader)" in revocation.summary


# -- the engine, against moto --------------------------------------------------------------------------------
def _ref(aws: Aws, finding: dict[str, Any], region: str = "us-east-1") -> FindingRef:
    return FindingRef(aws.standins[region].analyzer_arn, finding["id"])


def _bucket(aws: Aws, policy: dict[str, Any] | None, name: str = BUCKET, region: str = "us-east-1") -> Any:
    s3 = aws.client("s3", region)
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=name, **location)
    if policy is not None:
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
    return s3


def _policy_of(s3: Any, name: str = BUCKET) -> dict[str, Any] | None:
    try:
        return dict(json.loads(s3.get_bucket_policy(Bucket=name)["Policy"]))
    except s3.exceptions.ClientError as err:
        if err.response["Error"]["Code"] == "NoSuchBucketPolicy":
            return None
        raise


def test_a_bucket_finding_is_contained_announced_and_reverted_exactly(aws: Aws) -> None:
    original = _bucket_policy(ALLOW_EXTERNAL, CLOUDFRONT_OAC)
    s3 = _bucket(aws, original)
    finding = aws.standin.add_finding(
        resource=BUCKET_ARN,
        resource_type=S3_BUCKET,
        principal={"AWS": EXTERNAL},
        action=["s3:GetObject"],
        resource_owner_account=SANDBOX_ACCOUNT,
        publish=False,
    )
    remediator = aws.remediator()
    [outcome] = remediator.process([_ref(aws, finding)])
    assert (outcome.decision, outcome.reason) == ("remediate", "external_access_denied")
    after = _policy_of(s3)
    assert after is not None and after["Statement"][:2] == original["Statement"]
    remediator.announce([outcome], SANDBOX_ACCOUNT)
    [mail] = aws.emails()
    assert f"bucket {BUCKET}" in mail["Subject"] and "Added to the bucket policy:" in mail["Message"]
    assert f"aa-remediate revert --finding-id {finding['id']}" in mail["Message"]
    [again] = aws.remediator().process([_ref(aws, finding)])  # redelivery
    assert (again.decision, again.reason) == ("skip", "already_contained") and _policy_of(s3) == after
    later = {**ALLOW_EXTERNAL, "Sid": "AddedLater", "Action": "s3:ListBucket", "Resource": BUCKET_ARN}
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({**after, "Statement": [*after["Statement"], later]}))
    result = revert(remediator, finding["id"])
    assert result["resource_arn"] == BUCKET_ARN and "role_arn" not in result
    assert _policy_of(s3) == {**original, "Statement": [*original["Statement"], later]}  # exact, later change kept


def test_a_bucket_without_a_policy_is_given_one_and_revert_deletes_it(aws: Aws) -> None:
    s3 = _bucket(aws, None)
    finding = aws.standin.add_finding(
        resource=BUCKET_ARN,
        resource_type=S3_BUCKET,
        principal={"AWS": "*"},
        action=["s3:GetObject"],
        is_public=True,
        resource_owner_account=SANDBOX_ACCOUNT,
        publish=False,
    )
    remediator = aws.remediator()
    [outcome] = remediator.process([_ref(aws, finding)])
    assert outcome.decision == "remediate"
    written = _policy_of(s3)
    assert written is not None and [s["Effect"] for s in written["Statement"]] == ["Deny"]
    revert(remediator, finding["id"])
    assert _policy_of(s3) is None


def test_own_protected_and_other_account_buckets_are_never_modified(aws: Aws) -> None:
    s3 = _bucket(aws, _bucket_policy(ALLOW_EXTERNAL))
    findings = [
        aws.standin.add_finding(
            resource=BUCKET_ARN,
            resource_type=S3_BUCKET,
            principal={"AWS": EXTERNAL},
            action=["s3:GetObject"],
            resource_owner_account=owner,
            publish=False,
        )
        for owner in (SANDBOX_ACCOUNT, "444455556666")
    ]
    own = aws.remediator(own_resource_arns=frozenset({BUCKET_ARN})).process([_ref(aws, findings[0])])
    protected = aws.remediator(protected_resource_arns=frozenset({BUCKET_ARN})).process([_ref(aws, findings[0])])
    foreign = aws.remediator().process([_ref(aws, findings[1])])
    assert [o.reason for o in own + protected + foreign] == [
        "own_resource",
        "protected_resource",
        "cross_account_resource",
    ]
    assert _policy_of(s3) == _bucket_policy(ALLOW_EXTERNAL)


def test_findings_from_two_regions_contain_the_bucket_of_each(aws: Aws) -> None:
    east = _bucket(aws, _bucket_policy(ALLOW_EXTERNAL), "east-data")
    west = _bucket(aws, _bucket_policy(ALLOW_EXTERNAL), "west-data", "eu-west-1")
    refs = []
    for name, region in (("east-data", "us-east-1"), ("west-data", "eu-west-1")):
        finding = aws.standins[region].add_finding(
            resource=f"arn:aws:s3:::{name}",
            resource_type=S3_BUCKET,
            principal={"AWS": EXTERNAL},
            action=["s3:GetObject"],
            resource_owner_account=SANDBOX_ACCOUNT,
            publish=False,
        )
        refs.append(_ref(aws, finding, region))
    outcomes = aws.remediator().process(refs)
    assert [o.decision for o in outcomes] == ["remediate", "remediate"]
    for s3, name in ((east, "east-data"), (west, "west-data")):
        policy = _policy_of(s3, name)
        assert policy is not None and policy["Statement"][-1]["Resource"] == [
            f"arn:aws:s3:::{name}",
            f"arn:aws:s3:::{name}/*",
        ]


def test_findings_from_two_regions_contain_the_key_of_each(aws: Aws) -> None:
    keys, refs = [], []
    for region in ("us-east-1", "eu-west-1"):
        kms = aws.client("kms", region)
        key = kms.create_key(Policy=json.dumps(KEY_POLICY))["KeyMetadata"]
        finding = aws.standins[region].add_finding(
            resource=key["Arn"],
            resource_type=KMS_KEY,
            principal={"AWS": EXTERNAL},
            action=["kms:Decrypt"],
            publish=False,
        )
        keys.append((kms, key))
        refs.append(_ref(aws, finding, region))
    outcomes = aws.remediator().process(refs)
    assert [o.decision for o in outcomes] == ["remediate", "remediate"]
    for kms, key in keys:
        policy = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
        assert policy["Statement"][-1]["Effect"] == "Deny" and policy["Statement"][:2] == KEY_POLICY["Statement"]


def test_a_key_finding_is_contained_and_reverted_exactly(aws: Aws) -> None:
    kms = aws.client("kms")
    key = kms.create_key(Policy=json.dumps(KEY_POLICY))["KeyMetadata"]
    finding = aws.standin.add_finding(
        resource=key["Arn"],
        resource_type=KMS_KEY,
        principal={"AWS": EXTERNAL},
        action=["kms:Decrypt"],
        publish=False,
    )
    remediator = aws.remediator()
    [outcome] = remediator.process([_ref(aws, finding)])
    assert (outcome.decision, outcome.reason) == ("remediate", "external_access_denied")
    policy = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    assert policy["Statement"][:2] == KEY_POLICY["Statement"] and policy["Statement"][2]["Resource"] == ["*"]
    [again] = aws.remediator().process([_ref(aws, finding)])
    assert again.reason == "already_contained"
    revert(remediator, finding["id"])
    assert json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"]) == KEY_POLICY


def test_a_tagged_key_is_exempt_and_an_own_key_is_never_modified(aws: Aws) -> None:
    kms = aws.client("kms")
    key = kms.create_key(
        Policy=json.dumps(KEY_POLICY), Tags=[{"TagKey": SETTINGS.exemption_tag_key, "TagValue": "yes"}]
    )["KeyMetadata"]
    plain = kms.create_key(Policy=json.dumps(KEY_POLICY))["KeyMetadata"]
    refs = [
        _ref(
            aws,
            aws.standin.add_finding(
                resource=k["Arn"],
                resource_type=KMS_KEY,
                principal={"AWS": EXTERNAL},
                action=["kms:Decrypt"],
                publish=False,
            ),
        )
        for k in (key, plain)
    ]
    outcomes = aws.remediator(own_resource_arns=frozenset({plain["Arn"]})).process(refs)
    assert [o.reason for o in outcomes] == ["exempt_tag", "own_resource"]
    for k in (key, plain):
        assert json.loads(kms.get_key_policy(KeyId=k["KeyId"], PolicyName="default")["Policy"]) == KEY_POLICY


# -- AWS calls per contained finding (the closing figures; SNS is counted apart) -----------------------------
def _accounts(count: int) -> list[str]:
    return [str(500000000000 + 7919 * n) for n in range(count)]


@pytest.mark.parametrize("resource_type", [S3_BUCKET, KMS_KEY])
def test_aws_calls_per_contained_finding_lone_and_ten_on_one_resource(aws: Aws, resource_type: str) -> None:
    figures = {}
    for count in (1, 10):
        principals = _accounts(count)
        if resource_type == S3_BUCKET:
            name = f"calls-{count}"
            allow = {**ALLOW_EXTERNAL, "Principal": {"AWS": principals}, "Resource": f"arn:aws:s3:::{name}/*"}
            _bucket(aws, _bucket_policy(allow), name)
            arn, action = f"arn:aws:s3:::{name}", "s3:GetObject"
        else:
            grant = {**KEY_POLICY["Statement"][1], "Principal": {"AWS": principals}, "Action": "kms:Decrypt"}
            policy = {**KEY_POLICY, "Statement": [KEY_POLICY["Statement"][0], grant]}
            arn, action = aws.client("kms").create_key(Policy=json.dumps(policy))["KeyMetadata"]["Arn"], "kms:Decrypt"
        refs = [
            _ref(
                aws,
                aws.standin.add_finding(
                    resource=arn,
                    resource_type=resource_type,
                    principal={"AWS": p},
                    action=[action],
                    resource_owner_account=SANDBOX_ACCOUNT,
                    publish=False,
                ),
            )
            for p in principals
        ]
        remediator = aws.remediator()
        aws.calls.clear()
        outcomes = remediator.process(refs)
        remediator.announce(outcomes, SANDBOX_ACCOUNT)
        assert {o.decision for o in outcomes} == {"remediate"}
        calls = {k: v for k, v in aws.calls.items() if k != "Publish"}
        figures[count] = (sum(calls.values()) / count, dict(sorted(calls.items())))
    # GetFinding, the reads (a bucket: policy, tags, Block Public Access, ACL; a key: DescribeKey, GetKeyPolicy,
    # ListResourceTags, ListGrants), lease,
    # the write, records and outbox, commit, outbox clear: the role's 7 plus the type's extra reads.
    # Ten findings on one resource: ten GetFinding, the rest once.
    expected = {S3_BUCKET: (10, 1.9), KMS_KEY: (10, 1.9)}[resource_type]
    assert (figures[1][0], figures[10][0]) == expected, figures


def test_the_function_completes_an_interrupted_revert_that_leaves_a_bucket_without_a_policy(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The only path on which the function itself calls DeleteBucketPolicy: a revert whose write may or may not
    have landed (no answer) keeps its intent; the next holder, here the function handling a resolved finding of the
    bucket, completes it and the policy the tool created is gone."""
    s3 = _bucket(aws, None)
    kwargs: dict[str, Any] = {"resource": BUCKET_ARN, "resource_type": S3_BUCKET, "principal": {"AWS": EXTERNAL},
              "action": ["s3:GetObject"], "resource_owner_account": SANDBOX_ACCOUNT, "publish": False}  # fmt: skip
    finding = aws.standin.add_finding(**kwargs)
    remediator = aws.remediator()
    [outcome] = remediator.process([_ref(aws, finding)])
    assert outcome.decision == "remediate" and _policy_of(s3) is not None

    def no_answer(self: Any, ref: Any, document: Any, planned_on: Any) -> None:
        raise ConnectionError("the connection dropped: S3 may or may not have applied it")

    with monkeypatch.context() as patched:
        patched.setattr(s3_bucket.S3BucketAdapter, "write", no_answer)
        with pytest.raises(ConnectionError):
            revert(remediator, finding["id"])
    assert _policy_of(s3) is not None  # nothing written, but the intent to remove the Deny stays
    resolved = aws.standin.add_finding(**{**kwargs, "status": "RESOLVED"})
    aws.calls.clear()
    [done] = aws.remediator().process([_ref(aws, resolved)])
    assert done.reason == "finding_not_active" and aws.calls["DeleteBucketPolicy"] == 1
    assert _policy_of(s3) is None
