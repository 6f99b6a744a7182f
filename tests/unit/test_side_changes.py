"""Changes beside the policy document, each with its exact undo: a public bucket's Block Public Access settings
(RestrictPublicBuckets, IgnorePublicAcls) and the KMS grants a finding's principal holds. The plans are pure; the
engine paths run against moto with findings put into the Access Analyzer stand-in."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from access_analyzer_remediation.findings import KMS_KEY, S3_BUCKET, Finding, FindingRef
from access_analyzer_remediation.planner import SideChange
from access_analyzer_remediation.policy import POLICY_VERSION
from access_analyzer_remediation.resources import kms_key, s3_bucket
from access_analyzer_remediation.resources.kms_key import Grant, KeyState, plan_key
from access_analyzer_remediation.resources.s3_bucket import BucketState, plan_bucket, restored_block
from access_analyzer_remediation.revert import NothingToRevert, revert
from access_analyzer_remediation.settings import Settings

from .conftest import EXTERNAL, KEY_ADMIN_STATEMENT, SANDBOX_ACCOUNT, Aws, resource_finding

ANALYZER = f"arn:aws:access-analyzer:us-east-1:{SANDBOX_ACCOUNT}:analyzer/aar"
SETTINGS = Settings(
    analyzer_arns=(ANALYZER,), audit_table_name="t", topic_arn=f"arn:aws:sns:us-east-1:{SANDBOX_ACCOUNT}:t"
)
BUCKET = "public-site"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
KEY_ARN = f"arn:aws:kms:us-east-1:{SANDBOX_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
PUBLIC_READ = {
    "Sid": "PublicRead",
    "Effect": "Allow",
    "Principal": "*",
    "Action": "s3:GetObject",
    "Resource": f"{BUCKET_ARN}/*",
}
ALL_OFF = dict.fromkeys(s3_bucket.BPA_SETTINGS, False)
OWNER_ONLY_KEY_POLICY = {"Version": POLICY_VERSION, "Statement": [KEY_ADMIN_STATEMENT]}
READER = f"arn:aws:iam::{EXTERNAL}:role/Reader"


def _finding(resource_type: str, resource: str, principal: dict[str, str], **extra: Any) -> Finding:
    return resource_finding(resource_type, resource, principal, ANALYZER, SANDBOX_ACCOUNT, **extra)


def _public_bucket(block: dict[str, bool] | None = None) -> BucketState:
    policy = {"Version": POLICY_VERSION, "Statement": [PUBLIC_READ]}
    return BucketState(BUCKET_ARN, BUCKET, {}, policy, block)


PUBLIC = _finding(S3_BUCKET, BUCKET_ARN, {"AWS": "*"}, isPublic=True)


# -- Block Public Access: the plan -----------------------------------------------------------------------------
def test_a_public_finding_turns_on_the_two_settings_that_act_on_existing_grants() -> None:
    plan = plan_bucket(PUBLIC, _public_bucket(), SETTINGS)
    assert plan.decision == "remediate" and plan.added  # the Deny is written as well
    [change] = plan.side_changes
    owner = {"Bucket": BUCKET, "ExpectedBucketOwner": SANDBOX_ACCOUNT}
    wanted = ALL_OFF | {"RestrictPublicBuckets": True, "IgnorePublicAcls": True}
    assert change.do == {
        "api": "s3:PutPublicAccessBlock",
        "params": {**owner, "PublicAccessBlockConfiguration": wanted},
    }
    assert change.undo == {"api": "s3:DeletePublicAccessBlock", "params": owner}  # it had no configuration


def test_the_other_two_settings_are_kept_and_recorded_for_the_undo() -> None:
    before = ALL_OFF | {"BlockPublicAcls": True, "IgnorePublicAcls": True}
    [change] = plan_bucket(PUBLIC, _public_bucket(before), SETTINGS).side_changes
    assert change.do["params"]["PublicAccessBlockConfiguration"] == before | {"RestrictPublicBuckets": True}
    assert change.undo["params"]["PublicAccessBlockConfiguration"] == before
    assert "turned on Block Public Access RestrictPublicBuckets of bucket" in change.summary
    assert "BlockPublicAcls=true" in change.summary


def test_nothing_beside_the_deny_when_both_settings_are_on_or_the_finding_is_not_public() -> None:
    on = ALL_OFF | {"RestrictPublicBuckets": True, "IgnorePublicAcls": True}
    assert plan_bucket(PUBLIC, _public_bucket(on), SETTINGS).side_changes == ()
    cross = _finding(S3_BUCKET, BUCKET_ARN, {"AWS": EXTERNAL})
    assert plan_bucket(cross, _public_bucket(), SETTINGS).side_changes == ()


@pytest.mark.parametrize(
    ("zone", "named"),
    [
        ({"trusted_account_ids": frozenset({"210987654321"})}, "account 210987654321"),
        ({"trusted_org_id": "o-abc123def4"}, "organization o-abc123def4"),
        ({"allowed_principals": ("arn:aws:iam::210987654321:role/Auditor",)}, "allowlisted arn:aws:iam::2109"),
    ],
)
def test_settings_that_could_cut_off_the_zone_of_trust_are_left_alone(zone: dict[str, Any], named: str) -> None:
    settings = Settings(**{**SETTINGS.__dict__, **zone})
    plan = plan_bucket(PUBLIC, _public_bucket(), settings)
    assert plan.decision == "remediate" and plan.added and plan.side_changes == ()
    assert any(n.startswith("Block Public Access not changed") and named in n for n in plan.notes), plan.notes


def test_with_block_public_policy_on_the_settings_are_the_containment_or_it_is_reported() -> None:
    """S3 refuses a public bucket policy while BlockPublicPolicy is on: no Deny can be written."""
    bucket = _public_bucket(ALL_OFF | {"BlockPublicPolicy": True})
    plan = plan_bucket(PUBLIC, bucket, SETTINGS)
    assert (plan.decision, plan.added, plan.policy_after) == ("remediate", (), bucket.policy)
    assert [c.key for c in plan.side_changes] == [s3_bucket.BPA_KEY]
    trusted = Settings(**{**SETTINGS.__dict__, "trusted_org_id": "o-abc123def4"})
    reported = plan_bucket(PUBLIC, bucket, trusted)
    assert (reported.decision, reported.reason, reported.side_changes) == ("notify", "policy_rejected", ())
    assert "remove the public statement by hand" in reported.summary


def test_notify_mode_says_what_it_would_change_and_changes_nothing() -> None:
    plan = plan_bucket(PUBLIC, _public_bucket(), Settings(**{**SETTINGS.__dict__, "mode": "notify"}))
    assert plan.decision == "notify" and plan.side_changes == ()
    assert any(n.startswith("would also have turned on Block Public Access") for n in plan.notes)


def test_the_undo_turns_back_only_what_the_change_turned_on_and_is_still_on() -> None:
    [change] = plan_bucket(PUBLIC, _public_bucket(), SETTINGS).side_changes
    done = dict(change.do["params"]["PublicAccessBlockConfiguration"])
    assert restored_block(change, done) == (None, ["IgnorePublicAcls", "RestrictPublicBuckets"])
    later = done | {"BlockPublicPolicy": True}  # turned on by someone since: kept
    assert restored_block(change, later) == (
        ALL_OFF | {"BlockPublicPolicy": True},
        ["IgnorePublicAcls", "RestrictPublicBuckets"],
    )
    turned_off = done | {"IgnorePublicAcls": False}  # someone turned one back off already
    assert restored_block(change, turned_off) == (None, ["RestrictPublicBuckets"])
    assert restored_block(change, None) == (None, [])


def test_side_changes_survive_the_record_and_the_intent() -> None:
    [change] = plan_bucket(PUBLIC, _public_bucket(), SETTINGS).side_changes
    assert SideChange.from_json(json.loads(json.dumps(change.to_json()))) == change


# -- KMS grants: the plan --------------------------------------------------------------------------------------
def _key(grants: tuple[Grant, ...]) -> KeyState:
    return KeyState(KEY_ARN, KEY_ARN.rsplit("/", 1)[-1], "CUSTOMER", {}, OWNER_ONLY_KEY_POLICY, grants)


def test_a_grant_the_principal_holds_is_revoked_and_its_undo_recreates_it_exactly() -> None:
    constraints = {"EncryptionContextSubset": {"app": "billing"}}
    grant = Grant("g-1", READER, ("Decrypt", "DescribeKey"), "reader", f"arn:aws:iam::{SANDBOX_ACCOUNT}:root",
                  constraints, EXTERNAL)  # fmt: skip
    other = Grant("g-2", READER, ("Sign",))  # not one of the finding's actions: named, not revoked
    plan = plan_key(_finding(KMS_KEY, KEY_ARN, {"AWS": READER}), _key((grant, other)), SETTINGS)
    assert plan.decision == "remediate" and plan.added
    [change] = plan.side_changes
    assert change.do == {"api": "kms:RevokeGrant", "params": {"KeyId": KEY_ARN, "GrantId": "g-1"}}
    assert change.undo == {
        "api": "kms:CreateGrant",
        "params": {
            "KeyId": KEY_ARN,
            "GranteePrincipal": READER,
            "Operations": ["Decrypt", "DescribeKey"],
            "RetiringPrincipal": f"arn:aws:iam::{SANDBOX_ACCOUNT}:root",
            "Constraints": constraints,
            "Name": "reader",
        },
    }
    assert "new grant id" in change.undo_summary
    assert any("--grant-id g-2" in n for n in plan.notes) and not any("--grant-id g-1" in n for n in plan.notes)


def test_an_account_finding_revokes_the_grants_of_its_principals_and_notify_mode_none() -> None:
    grant = Grant("g-1", READER, ("Decrypt",))
    plan = plan_key(_finding(KMS_KEY, KEY_ARN, {"AWS": EXTERNAL}), _key((grant,)), SETTINGS)
    assert [c.key for c in plan.side_changes] == ["kms:grant:g-1"]
    held = plan_key(
        _finding(KMS_KEY, KEY_ARN, {"AWS": EXTERNAL}),
        _key((grant,)),
        Settings(**{**SETTINGS.__dict__, "mode": "notify"}),
    )
    assert held.side_changes == () and any("revoke-grant" in n and "--grant-id g-1" in n for n in held.notes)


# -- the engine, against moto ------------------------------------------------------------------------------------
def _ref(aws: Aws, finding: dict[str, Any]) -> FindingRef:
    return FindingRef(aws.standin.analyzer_arn, finding["id"])


def _block(s3: Any) -> dict[str, bool] | None:
    try:
        return dict(s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"])
    except ClientError as err:
        if err.response["Error"]["Code"] == "NoSuchPublicAccessBlockConfiguration":
            return None
        raise


def _public_finding(aws: Aws, action: str = "s3:GetObject") -> dict[str, Any]:
    return aws.standin.add_finding(
        resource=BUCKET_ARN,
        resource_type=S3_BUCKET,
        principal={"AWS": "*"},
        action=[action],
        is_public=True,
        resource_owner_account=SANDBOX_ACCOUNT,
        publish=False,
    )


def test_a_public_bucket_gets_the_deny_and_the_settings_and_revert_restores_both_keeping_later_changes(
    aws: Aws,
) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    original = {"Version": POLICY_VERSION, "Statement": [PUBLIC_READ]}
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(original))
    s3.put_public_access_block(Bucket=BUCKET, PublicAccessBlockConfiguration=ALL_OFF | {"BlockPublicAcls": True})
    finding = _public_finding(aws)
    remediator = aws.remediator()
    [outcome] = remediator.process([_ref(aws, finding)])
    assert (outcome.decision, outcome.reason) == ("remediate", "external_access_denied")
    assert _block(s3) == ALL_OFF | {"BlockPublicAcls": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    remediator.announce([outcome], SANDBOX_ACCOUNT)
    [mail] = aws.emails()
    assert "turned on Block Public Access RestrictPublicBuckets and IgnorePublicAcls" in mail["Message"]
    assert "a revert turns RestrictPublicBuckets and IgnorePublicAcls back off" in mail["Message"]
    [again] = aws.remediator().process([_ref(aws, finding)])  # redelivery: nothing more
    assert again.reason == "already_contained" and again.plan is not None and again.plan.side_changes == ()
    s3.put_public_access_block(
        Bucket=BUCKET,
        PublicAccessBlockConfiguration=ALL_OFF | {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                                                  "RestrictPublicBuckets": True, "BlockPublicPolicy": True},
    )  # fmt: skip
    result = revert(remediator, finding["id"])
    assert result["restored"] == [
        f"turned Block Public Access IgnorePublicAcls and RestrictPublicBuckets of bucket {BUCKET} back off"
    ]
    assert _block(s3) == ALL_OFF | {"BlockPublicAcls": True, "BlockPublicPolicy": True}  # the later change stays
    assert json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"]) == original
    with pytest.raises(NothingToRevert):
        revert(remediator, finding["id"])  # done: a second revert finds nothing left
    assert _block(s3) == ALL_OFF | {"BlockPublicAcls": True, "BlockPublicPolicy": True}


def test_two_public_findings_in_one_batch_change_the_settings_once_and_an_undone_revert_deletes_them(
    aws: Aws,
) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": POLICY_VERSION, "Statement": [PUBLIC_READ]}))
    first, second = _public_finding(aws), _public_finding(aws, "s3:ListBucket")
    aws.calls.clear()
    outcomes = aws.remediator().process([_ref(aws, first), _ref(aws, second)])
    assert [o.decision for o in outcomes] == ["remediate", "remediate"]
    assert [len(o.plan.side_changes) for o in outcomes if o.plan is not None] == [1, 0]
    assert aws.calls["PutPublicAccessBlock"] == 1
    revert(aws.remediator(), first["id"])
    assert _block(s3) is None  # the bucket had no configuration: none again


def test_a_write_interrupted_before_the_settings_is_completed_by_the_next_holder(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": POLICY_VERSION, "Statement": [PUBLIC_READ]}))
    finding = _public_finding(aws)

    def no_answer(self: Any, ref: Any, change: Any) -> None:
        raise ConnectionError("the connection dropped after the policy write")

    with monkeypatch.context() as patched:
        patched.setattr(s3_bucket.S3BucketAdapter, "apply", no_answer)
        [failed] = aws.remediator().process([_ref(aws, finding)])
    assert failed.decision == "failed" and _block(s3) is None
    [done] = aws.remediator().process([_ref(aws, finding)])  # the retry completes the intent
    assert done.decision == "remediate" and done.completed
    assert _block(s3) == ALL_OFF | {"IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    revert(aws.remediator(), finding["id"])
    assert _block(s3) is None


def test_settings_s3_refuses_are_reported_and_never_undone(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": POLICY_VERSION, "Statement": [PUBLIC_READ]}))
    finding = _public_finding(aws)

    def refused(self: Any, ref: Any, change: Any) -> str:
        return "S3 refused PutPublicAccessBlock (AccessDenied)"

    with monkeypatch.context() as patched:
        patched.setattr(s3_bucket.S3BucketAdapter, "apply", refused)
        [outcome] = aws.remediator().process([_ref(aws, finding)])
    assert outcome.decision == "remediate" and outcome.plan is not None and outcome.plan.side_changes == ()
    assert any(n.startswith("not done: turned on Block Public Access") for n in outcome.plan.notes)
    assert outcome.record is not None and "side_changes" not in outcome.record.extra
    aws.calls.clear()
    result = revert(aws.remediator(), finding["id"])
    assert result["restored"] == [] and aws.calls["PutPublicAccessBlock"] == 0


def test_a_grant_is_revoked_with_the_deny_and_revert_recreates_an_equivalent_grant(aws: Aws) -> None:
    kms = aws.client("kms")
    key = kms.create_key(Policy=json.dumps(OWNER_ONLY_KEY_POLICY))["KeyMetadata"]
    grant = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=READER, Operations=["Decrypt"], Name="reader")
    finding = aws.standin.add_finding(
        resource=key["Arn"], resource_type=KMS_KEY, principal={"AWS": READER}, action=["kms:Decrypt"], publish=False
    )
    remediator = aws.remediator()
    [outcome] = remediator.process([_ref(aws, finding)])
    assert outcome.decision == "remediate"
    assert [g["GrantId"] for g in kms.list_grants(KeyId=key["KeyId"])["Grants"]] == []
    assert (
        json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])["Statement"][-1]["Effect"]
        == "Deny"
    )
    result = revert(remediator, finding["id"])
    [again] = kms.list_grants(KeyId=key["KeyId"])["Grants"]
    assert (again["GranteePrincipal"], again["Operations"], again["Name"]) == (READER, ["Decrypt"], "reader")
    assert again["GrantId"] != grant["GrantId"] and again["GrantId"] in result["restored"][0]
    assert json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"]) == OWNER_ONLY_KEY_POLICY
    assert outcome.record is not None
    [change] = [SideChange.from_json(c) for c in json.loads(outcome.record.extra["side_changes"])]
    adapter = kms_key.KmsKeyAdapter(kms)  # idempotent: an equivalent grant is there, none is created
    assert adapter.undo(adapter.ref(key["Arn"], SANDBOX_ACCOUNT), change).startswith("an equivalent of grant")
    assert len(kms.list_grants(KeyId=key["KeyId"])["Grants"]) == 1


def test_revert_all_lists_the_side_changes_in_its_dry_run_then_undoes_them(aws: Aws) -> None:
    from access_analyzer_remediation.revert import revert_all

    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": POLICY_VERSION, "Statement": [PUBLIC_READ]}))
    kms = aws.client("kms")
    key = kms.create_key(Policy=json.dumps(OWNER_ONLY_KEY_POLICY))["KeyMetadata"]
    kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=READER, Operations=["Decrypt"])
    key_finding = aws.standin.add_finding(
        resource=key["Arn"], resource_type=KMS_KEY, principal={"AWS": READER}, action=["kms:Decrypt"], publish=False
    )
    remediator = aws.remediator()
    outcomes = remediator.process([_ref(aws, _public_finding(aws)), _ref(aws, key_finding)])
    assert [o.decision for o in outcomes] == ["remediate", "remediate"]
    dry = revert_all(remediator, dry_run=True)
    planned = {row["resource_arn"]: row["side_changes"] for row in dry}
    assert [c.split(";")[0] for c in planned[BUCKET_ARN]] == [
        f"turned on Block Public Access RestrictPublicBuckets and IgnorePublicAcls of bucket {BUCKET} (off before"
    ]
    assert planned[key["Arn"]][0].startswith("revoked grant ")
    assert _block(s3) is not None and kms.list_grants(KeyId=key["KeyId"])["Grants"] == []  # the dry run changed nothing
    done = {row["resource_arn"]: row["restored"] for row in revert_all(remediator, dry_run=False)}
    assert _block(s3) is None and len(done[BUCKET_ARN]) == 1
    [grant] = kms.list_grants(KeyId=key["KeyId"])["Grants"]
    assert grant["GranteePrincipal"] == READER and grant["GrantId"] in done[key["Arn"]][0]


def test_with_block_public_policy_on_the_settings_alone_contain_and_revert_restores_them(aws: Aws) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    original = {"Version": POLICY_VERSION, "Statement": [PUBLIC_READ]}
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(original))  # moto takes it; S3 would not, later
    before = ALL_OFF | {"BlockPublicPolicy": True}
    s3.put_public_access_block(Bucket=BUCKET, PublicAccessBlockConfiguration=before)
    finding = _public_finding(aws)
    remediator = aws.remediator()
    aws.calls.clear()
    [outcome] = remediator.process([_ref(aws, finding)])
    assert (outcome.decision, outcome.entries) == ("remediate", ())
    assert aws.calls["PutBucketPolicy"] == 0 and json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"]) == original
    assert _block(s3) == before | {"IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    remediator.announce([outcome], SANDBOX_ACCOUNT)
    [mail] = aws.emails()
    assert "S3 refuses a public bucket policy while BlockPublicPolicy is on" in mail["Message"]
    assert f"aa-remediate revert --finding-id {finding['id']}" in mail["Message"]
    result = revert(remediator, finding["id"])
    assert result["removed"] == [] and len(result["restored"]) == 1
    assert _block(s3) == before and json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"]) == original


# -- a cross-account bucket ACL grant (principal CanonicalUser): removed from the ACL, added back by the revert ---
PARTNER_ID = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
OWNER_ID = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a"


def _grant(grantee_id: str, permission: str) -> dict[str, Any]:
    return {"Grantee": {"Type": "CanonicalUser", "ID": grantee_id}, "Permission": permission}


ACL = {"Owner": {"ID": OWNER_ID}, "Grants": [_grant(OWNER_ID, "FULL_CONTROL"), _grant(PARTNER_ID, "READ")]}


def _acl_finding() -> Finding:
    return _finding(S3_BUCKET, BUCKET_ARN, {"CanonicalUser": PARTNER_ID}, action=["s3:ListBucket"],
                    sources=[{"type": "BUCKET_ACL"}])  # fmt: skip


def test_a_cross_account_acl_grant_is_removed_exactly_and_its_undo_adds_it_back() -> None:
    bucket = BucketState(BUCKET_ARN, BUCKET, {}, {"Version": POLICY_VERSION, "Statement": []}, None, ACL)
    plan = plan_bucket(_acl_finding(), bucket, SETTINGS)
    assert (plan.decision, plan.reason, plan.added, plan.policy_after) == ("remediate", "acl_access", (), bucket.policy)
    [change] = plan.side_changes
    owner = {"Bucket": BUCKET, "ExpectedBucketOwner": SANDBOX_ACCOUNT}
    kept = {"Owner": {"ID": OWNER_ID}, "Grants": [_grant(OWNER_ID, "FULL_CONTROL")]}
    assert change.do == {"api": "s3:PutBucketAcl", "params": {**owner, "AccessControlPolicy": kept}}
    assert change.undo["params"]["AccessControlPolicy"] == ACL
    later = {**kept, "Grants": [*kept["Grants"], _grant("c" * 64, "WRITE")]}  # a grant added since: kept
    assert s3_bucket.restored_acl(change, later) == {**later, "Grants": [*later["Grants"], _grant(PARTNER_ID, "READ")]}
    assert s3_bucket.restored_acl(change, ACL) is None  # there already
    gone = plan_bucket(_acl_finding(), BucketState(BUCKET_ARN, BUCKET, {}, bucket.policy, None, kept), SETTINGS)
    assert (gone.decision, gone.reason) == ("skip", "already_contained")  # a redelivery: nothing left to remove


def test_an_acl_grant_that_could_be_the_zone_or_in_notify_mode_is_reported_with_the_exact_command() -> None:
    bucket = BucketState(BUCKET_ARN, BUCKET, {}, {"Version": POLICY_VERSION, "Statement": []}, None, ACL)
    for overrides in ({"trusted_org_id": "o-abc123def4"}, {"mode": "notify"}):
        plan = plan_bucket(_acl_finding(), bucket, Settings(**{**SETTINGS.__dict__, **overrides}))
        assert plan.decision == "notify" and plan.side_changes == ()
        [note] = [n for n in plan.notes if "put-bucket-acl" in n]
        command = note.split("to remove it: ", 1)[1]
        assert command.startswith(f"aws s3api put-bucket-acl --bucket {BUCKET} --expected-bucket-owner")
        policy = json.loads(command.split("--access-control-policy ", 1)[1].strip("'"))
        assert policy == {"Owner": {"ID": OWNER_ID}, "Grants": [_grant(OWNER_ID, "FULL_CONTROL")]}


def test_an_acl_grant_is_removed_through_the_engine_and_restored_by_revert(aws: Aws) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    owner = s3.get_bucket_acl(Bucket=BUCKET)["Owner"]
    original = {"Owner": owner, "Grants": [*s3.get_bucket_acl(Bucket=BUCKET)["Grants"], _grant(PARTNER_ID, "READ")]}
    s3.put_bucket_acl(Bucket=BUCKET, AccessControlPolicy=original)
    finding = aws.standin.add_finding(
        resource=BUCKET_ARN, resource_type=S3_BUCKET, principal={"CanonicalUser": PARTNER_ID},
        action=["s3:ListBucket"], resource_owner_account=SANDBOX_ACCOUNT, publish=False,
    )  # fmt: skip
    remediator = aws.remediator()
    [outcome] = remediator.process([_ref(aws, finding)])
    assert (outcome.decision, outcome.reason) == ("remediate", "acl_access")
    ids = [g["Grantee"].get("ID") for g in s3.get_bucket_acl(Bucket=BUCKET)["Grants"]]
    assert PARTNER_ID not in ids and owner["ID"] in ids
    [again] = aws.remediator().process([_ref(aws, finding)])
    assert (again.decision, again.reason) == ("skip", "already_contained")
    result = revert(remediator, finding["id"])
    assert result["restored"] == [f"added the bucket ACL grants of canonical user {PARTNER_ID} back to bucket {BUCKET}"]
    grants = s3.get_bucket_acl(Bucket=BUCKET)["Grants"]
    assert sorted(json.dumps(g, sort_keys=True) for g in grants) == sorted(
        json.dumps(g, sort_keys=True) for g in original["Grants"]
    )


def test_revert_all_also_undoes_a_containment_made_only_of_side_changes(aws: Aws) -> None:
    """An ACL grant removed without a Deny leaves no ledger entry: the uninstall path still finds it (the decision's
    side changes) and adds the grant back, once."""
    from access_analyzer_remediation.revert import revert_all

    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    owner = s3.get_bucket_acl(Bucket=BUCKET)["Owner"]
    original = {"Owner": owner, "Grants": [*s3.get_bucket_acl(Bucket=BUCKET)["Grants"], _grant(PARTNER_ID, "READ")]}
    s3.put_bucket_acl(Bucket=BUCKET, AccessControlPolicy=original)
    finding = aws.standin.add_finding(
        resource=BUCKET_ARN, resource_type=S3_BUCKET, principal={"CanonicalUser": PARTNER_ID},
        action=["s3:ListBucket"], resource_owner_account=SANDBOX_ACCOUNT, publish=False,
    )  # fmt: skip
    remediator = aws.remediator()
    assert [o.reason for o in remediator.process([_ref(aws, finding)])] == ["acl_access"]
    [dry] = revert_all(remediator, dry_run=True)
    assert (dry["resource_arn"], dry["entries"], dry["findings"]) == (BUCKET_ARN, [], [finding["id"]])
    assert PARTNER_ID in dry["side_changes"][0]
    [done] = revert_all(remediator, dry_run=False)
    assert done["restored"] == [f"added the bucket ACL grants of canonical user {PARTNER_ID} back to bucket {BUCKET}"]
    grants = s3.get_bucket_acl(Bucket=BUCKET)["Grants"]
    assert sorted(json.dumps(g, sort_keys=True) for g in grants) == sorted(
        json.dumps(g, sort_keys=True) for g in original["Grants"]
    )
    assert revert_all(remediator, dry_run=True) == []  # nothing left to undo


def test_a_containment_without_a_deny_whose_change_is_refused_is_reported_not_contained(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No Deny holds the finding when its only change is refused (here S3 refusing the ACL write): the outcome is a
    notify that says so, never a remediate with "the Deny contains the finding"."""
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    acl = s3.get_bucket_acl(Bucket=BUCKET)
    shared = {"Owner": acl["Owner"], "Grants": [*acl["Grants"], _grant(PARTNER_ID, "READ")]}
    s3.put_bucket_acl(Bucket=BUCKET, AccessControlPolicy=shared)
    finding = aws.standin.add_finding(
        resource=BUCKET_ARN, resource_type=S3_BUCKET, principal={"CanonicalUser": PARTNER_ID},
        action=["s3:ListBucket"], resource_owner_account=SANDBOX_ACCOUNT, publish=False,
    )  # fmt: skip
    monkeypatch.setattr(s3_bucket.S3BucketAdapter, "apply", lambda self, ref, change: "AccessControlListNotSupported")
    [outcome] = aws.remediator().process([_ref(aws, finding)])
    assert (outcome.decision, outcome.reason) == ("notify", "change_refused")
    assert "nothing contains the finding" in outcome.summary
    notes = outcome.plan.notes if outcome.plan else ()
    assert any("do it by hand" in n for n in notes) and not any("the Deny contains" in n for n in notes)
    assert outcome.record is not None and outcome.record.decision == "notify"
    assert PARTNER_ID in json.dumps(s3.get_bucket_acl(Bucket=BUCKET)["Grants"])  # nothing changed


def test_an_undo_that_fails_leaves_the_deny_and_no_intent_and_the_next_revert_finishes(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator may lack kms:CreateGrant: the grant is not re-created, the Deny stays (no holder completes the
    revert on the operator's behalf), and once the operator can, a second revert does all of it."""
    kms = aws.client("kms")
    key = kms.create_key(Policy=json.dumps(OWNER_ONLY_KEY_POLICY))["KeyMetadata"]
    kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=READER, Operations=["Decrypt"])
    finding = aws.standin.add_finding(
        resource=key["Arn"], resource_type=KMS_KEY, principal={"AWS": READER}, action=["kms:Decrypt"], publish=False
    )
    remediator = aws.remediator()
    assert [o.decision for o in remediator.process([_ref(aws, finding)])] == ["remediate"]
    contained = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])

    def denied(self: Any, ref: Any, change: Any) -> str:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no kms:CreateGrant"}}, "CreateGrant")

    with monkeypatch.context() as patched:
        patched.setattr(kms_key.KmsKeyAdapter, "undo", denied)
        with pytest.raises(ClientError):
            revert(remediator, finding["id"])
    assert remediator.state.peek(key["Arn"]).intents == ()  # nothing left for a later holder to complete
    [after] = aws.remediator().process([_ref(aws, finding)])  # the function meets the key again: Deny kept
    assert after.reason == "already_contained"
    assert json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"]) == contained
    result = revert(remediator, finding["id"])
    assert result["removed"] and len(result["restored"]) == 1
    assert json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"]) == OWNER_ONLY_KEY_POLICY
    assert len(kms.list_grants(KeyId=key["KeyId"])["Grants"]) == 1
