"""EBS snapshots and RDS DB / cluster snapshots hold no policy: the account a finding names (or `all`, public) is
removed from the snapshot's sharing attribute (ModifySnapshotAttribute / ModifyDB(Cluster)SnapshotAttribute) and a
revert adds it back, every other entry as it is then. The plans are pure; the engine paths run against moto with
findings put into the Access Analyzer stand-in."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from access_analyzer_remediation.engine import Remediator
from access_analyzer_remediation.findings import (
    EBS_SNAPSHOT,
    RDS_CLUSTER_SNAPSHOT,
    RDS_DB_SNAPSHOT,
    Finding,
    FindingRef,
)
from access_analyzer_remediation.planner import SideChange
from access_analyzer_remediation.resources import registry
from access_analyzer_remediation.resources.ebs_snapshot import (
    SHARING_REMOVED,
    SHARING_SERVES_ZONE_OF_TRUST,
    UNSUPPORTED_PRINCIPAL,
    EbsSnapshotAdapter,
    SharingState,
    no_policy,
    plan_ebs_snapshot,
)
from access_analyzer_remediation.resources.rds_snapshot import (
    RdsClusterSnapshotAdapter,
    RdsDbSnapshotAdapter,
    plan_cluster_snapshot,
    plan_db_snapshot,
)
from access_analyzer_remediation.revert import NothingToRevert, revert
from access_analyzer_remediation.settings import Settings

from .conftest import EXTERNAL, SANDBOX_ACCOUNT, Aws, resource_finding

REGION = "us-east-1"
ANALYZER = f"arn:aws:access-analyzer:{REGION}:{SANDBOX_ACCOUNT}:analyzer/aar"
SETTINGS = Settings(
    analyzer_arns=(ANALYZER,), audit_table_name="t", topic_arn=f"arn:aws:sns:{REGION}:{SANDBOX_ACCOUNT}:t"
)
SNAPSHOT_ID = "snap-0123456789abcdef0"
EBS_ARN = f"arn:aws:ec2:{REGION}::snapshot/{SNAPSHOT_ID}"  # an EBS snapshot ARN names no account
DB_ARN = f"arn:aws:rds:{REGION}:{SANDBOX_ACCOUNT}:snapshot:orders-final"
CLUSTER_ARN = f"arn:aws:rds:{REGION}:{SANDBOX_ACCOUNT}:cluster-snapshot:orders-weekly"
OTHER = "210987654321"
LATER = "444455556666"
ORG = "o-abcdefghij"
ALL = "all"
# The action the stand-in's analysis names for each type (sandbox/analysis/ebs_snapshot.py, rds_snapshot.py).
ACTIONS = {
    EBS_SNAPSHOT: "ec2:CreateVolume",
    RDS_DB_SNAPSHOT: "rds:RestoreDBInstanceFromDBSnapshot",
    RDS_CLUSTER_SNAPSHOT: "rds:RestoreDBClusterFromSnapshot",
}
ARNS = {EBS_SNAPSHOT: EBS_ARN, RDS_DB_SNAPSHOT: DB_ARN, RDS_CLUSTER_SNAPSHOT: CLUSTER_ARN}
PLANS = {
    EBS_SNAPSHOT: plan_ebs_snapshot,
    RDS_DB_SNAPSHOT: plan_db_snapshot,
    RDS_CLUSTER_SNAPSHOT: plan_cluster_snapshot,
}
TYPES = sorted(ARNS)


def _settings(**overrides: Any) -> Settings:
    return Settings(**{**SETTINGS.__dict__, **overrides})


def _finding(kind: str, account: str = EXTERNAL, **extra: Any) -> Finding:
    """A finding as the stand-in makes it: the account, or `*` (isPublic) for `all`."""
    principal = {"AWS": "*"} if account == ALL else {"AWS": account}
    extra.setdefault("resource", ARNS[kind])
    resource = extra.pop("resource")
    owner = extra.pop("owner", SANDBOX_ACCOUNT)
    return resource_finding(
        kind, resource, principal, ANALYZER, owner, action=[ACTIONS[kind]], isPublic=account == ALL, **extra
    )


def _state(kind: str, *shared: str, **extra: Any) -> SharingState:
    arn = ARNS[kind]
    name = SNAPSHOT_ID if kind == EBS_SNAPSHOT else arn.rsplit(":", 1)[1]
    return SharingState(arn, name, extra.pop("tags", {}), tuple(shared), **extra)


def _plan(kind: str, account: str, *shared: str, settings: Settings = SETTINGS, **extra: Any) -> Any:
    return PLANS[kind](_finding(kind, account), _state(kind, *shared, **extra), settings)


def _adapter(kind: str) -> Any:
    from access_analyzer_remediation.cli import _NO_AWS

    return registry()[kind](_NO_AWS, REGION)  # as `aa-remediate plan` builds it: no AWS call


# -- the plan ----------------------------------------------------------------------------------------------------
def test_an_account_is_removed_from_the_ebs_attribute_and_its_undo_adds_it_back() -> None:
    snapshot = _state(EBS_SNAPSHOT, EXTERNAL, OTHER)
    plan = plan_ebs_snapshot(_finding(EBS_SNAPSHOT), snapshot, SETTINGS)
    assert (plan.decision, plan.reason, plan.added) == ("remediate", SHARING_REMOVED, ())
    assert plan.policy_after == snapshot.policy == no_policy()  # nothing is written as a document
    [change] = plan.side_changes
    remove = {
        "SnapshotId": SNAPSHOT_ID,
        "Attribute": "createVolumePermission",
        "OperationType": "remove",
        "UserIds": [EXTERNAL],
    }
    assert change.key == f"createVolumePermission:{EXTERNAL}"
    assert change.do == {"api": "ec2:ModifySnapshotAttribute", "params": remove}
    assert change.undo == {"api": "ec2:ModifySnapshotAttribute", "params": {**remove, "OperationType": "add"}}
    assert change.summary == (
        f"removed account {EXTERNAL} from the createVolumePermission attribute of snapshot {SNAPSHOT_ID}"
    )
    assert SideChange.from_json(json.loads(json.dumps(change.to_json()))) == change
    adapter = _adapter(EBS_SNAPSHOT)
    ref = adapter.ref(EBS_ARN, SANDBOX_ACCOUNT)
    assert (ref.account_id, ref.name, adapter.resources(ref)) == (SANDBOX_ACCOUNT, SNAPSHOT_ID, ())
    assert adapter.changes(ref, snapshot.policy, snapshot) == []
    with pytest.raises(ValueError, match="holds no policy"):
        adapter.write(ref, snapshot.policy, snapshot)


def test_a_public_ebs_snapshot_loses_the_group_all_and_the_accounts_still_listed_are_named() -> None:
    plan = _plan(EBS_SNAPSHOT, ALL, ALL, EXTERNAL)
    assert (plan.decision, plan.reason) == ("remediate", SHARING_REMOVED)
    [change] = plan.side_changes
    assert change.do["params"] == {
        "SnapshotId": SNAPSHOT_ID,
        "Attribute": "createVolumePermission",
        "OperationType": "remove",
        "GroupNames": ["all"],
    }
    assert change.undo["params"]["OperationType"] == "add" and change.undo["params"]["GroupNames"] == ["all"]
    assert any(n.startswith(f"account {EXTERNAL} stays listed") and "its own finding" in n for n in plan.notes)


@pytest.mark.parametrize(
    ("kind", "identifier"),
    [(RDS_DB_SNAPSHOT, {"DBSnapshotIdentifier": "orders-final"}),
     (RDS_CLUSTER_SNAPSHOT, {"DBClusterSnapshotIdentifier": "orders-weekly"})],
)  # fmt: skip
def test_removing_all_from_an_rds_snapshot_leaves_the_listed_accounts_and_says_so(
    kind: str, identifier: dict[str, str]
) -> None:
    trusted = _settings(trusted_account_ids=frozenset({OTHER}))
    plan = _plan(kind, ALL, EXTERNAL, ALL, OTHER, settings=trusted)
    assert (plan.decision, plan.reason) == ("remediate", SHARING_REMOVED)
    [change] = plan.side_changes
    api = "rds:ModifyDBSnapshotAttribute" if kind == RDS_DB_SNAPSHOT else "rds:ModifyDBClusterSnapshotAttribute"
    assert change.do == {"api": api, "params": {**identifier, "AttributeName": "restore", "ValuesToRemove": ["all"]}}
    assert change.undo == {"api": api, "params": {**identifier, "AttributeName": "restore", "ValuesToAdd": ["all"]}}
    assert change.key == "restore:all"
    [external] = [n for n in plan.notes if n.startswith(f"account {EXTERNAL}")]
    assert "stays listed in the restore attribute" in external and "its own finding removes it" in external
    assert f"account {OTHER} stays listed in the restore attribute: inside the zone of trust" in plan.notes


@pytest.mark.parametrize("kind", TYPES)
def test_an_account_no_longer_listed_is_already_contained(kind: str) -> None:
    """A redelivery after the removal, or a finding the analyzer has not re-read yet: nothing left to remove."""
    plan = _plan(kind, EXTERNAL, OTHER)
    assert (plan.decision, plan.reason, plan.side_changes) == ("skip", "already_contained", ())
    public = _plan(kind, ALL, EXTERNAL)
    assert (public.decision, public.reason) == ("skip", "already_contained")


@pytest.mark.parametrize("kind", TYPES)
def test_the_zone_of_trust_is_never_removed(kind: str) -> None:
    trusted = _plan(kind, OTHER, OTHER, settings=_settings(trusted_account_ids=frozenset({OTHER})))
    assert (trusted.decision, trusted.reason, trusted.side_changes) == ("skip", "principal_in_zone_of_trust", ())
    in_org = PLANS[kind](
        _finding(kind, condition={"aws:PrincipalOrgID": ORG}), _state(kind, EXTERNAL), _settings(trusted_org_id=ORG)
    )
    assert (in_org.decision, in_org.reason, in_org.side_changes) == ("skip", "principal_in_zone_of_trust", ())


@pytest.mark.parametrize("kind", TYPES)
def test_all_is_not_removed_while_it_may_serve_the_zone_of_trust_or_the_allowlist(kind: str) -> None:
    """Removing `all` would cut off a trusted account the attribute does not list, the trusted organization (its
    members are not known here) or an allowlisted principal's account: reported, with the exact command."""
    cases = {
        f"account {OTHER}": _settings(trusted_account_ids=frozenset({OTHER})),
        f"organization {ORG}": _settings(trusted_org_id=ORG),
        f"allowlisted account {OTHER}": _settings(allowed_principals=(OTHER,)),
        f"allowlisted arn:aws:iam::{OTHER}:role/Auditor": _settings(
            allowed_principals=(f"arn:aws:iam::{OTHER}:role/Auditor",)
        ),
    }
    for named, settings in cases.items():
        plan = _plan(kind, ALL, ALL, settings=settings)
        assert (plan.decision, plan.reason, plan.side_changes) == ("notify", SHARING_SERVES_ZONE_OF_TRUST, ()), named
        assert f"removing all would also cut off {named}" in plan.summary
        assert any("to remove it: aws " in n and "to add it back: aws " in n for n in plan.notes)
        listed = _plan(kind, ALL, ALL, OTHER, settings=settings)  # listed explicitly: it keeps its access
        if "organization" not in named:
            assert (listed.decision, listed.reason) == ("remediate", SHARING_REMOVED), named


@pytest.mark.parametrize("kind", TYPES)
def test_allowlisted_accounts_and_accounts_holding_allowlisted_principals_are_never_removed(kind: str) -> None:
    allowed = _plan(kind, EXTERNAL, EXTERNAL, settings=_settings(allowed_principals=(EXTERNAL,)))
    assert (allowed.decision, allowed.reason, allowed.side_changes) == ("notify", "allowlisted_principal", ())
    auditor = f"arn:aws:iam::{EXTERNAL}:role/Auditor"
    role = _plan(kind, EXTERNAL, EXTERNAL, settings=_settings(allowed_principals=(auditor,)))
    assert (role.decision, role.reason, role.side_changes) == ("notify", SHARING_SERVES_ZONE_OF_TRUST, ())
    assert f"would also cut off allowlisted {auditor}" in role.summary
    elsewhere = _plan(
        kind, EXTERNAL, EXTERNAL, settings=_settings(allowed_principals=(f"arn:aws:iam::{OTHER}:role/A",))
    )
    assert (elsewhere.decision, elsewhere.reason) == ("remediate", SHARING_REMOVED)  # another account's principal


@pytest.mark.parametrize("kind", TYPES)
def test_the_exemption_tag_keeps_the_share(kind: str) -> None:
    plan = _plan(kind, EXTERNAL, EXTERNAL, tags={SETTINGS.exemption_tag_key: "true"})
    assert (plan.decision, plan.reason, plan.side_changes) == ("notify", "exempt_tag", ())
    off = _plan(kind, EXTERNAL, EXTERNAL, tags={SETTINGS.exemption_tag_key: "false"})
    assert off.decision == "remediate"


@pytest.mark.parametrize("kind", TYPES)
def test_own_protected_and_other_accounts_snapshots_are_never_changed(kind: str) -> None:
    arn = ARNS[kind]
    snapshot = _state(kind, EXTERNAL)
    for overrides, reason in (({"own_resource_arns": frozenset({arn})}, "own_resource"),
                              ({"protected_resource_arns": frozenset({arn})}, "protected_resource")):  # fmt: skip
        settings = _settings(**overrides)
        plan = PLANS[kind](_finding(kind), snapshot, settings)
        assert (plan.decision, plan.reason, plan.side_changes) == ("notify", reason, ())
        adapter = _adapter(kind)
        guarded = adapter.guard(adapter.ref(arn, SANDBOX_ACCOUNT), settings, ANALYZER)  # before any read
        assert guarded is not None and guarded.reason == reason
    if kind == EBS_SNAPSHOT:  # the finding's resourceOwnerAccount names the owner; the snapshot's OwnerId too
        other = plan_ebs_snapshot(_finding(kind, owner=OTHER), snapshot, SETTINGS)
        assert (other.decision, other.reason) == ("notify", "cross_account_resource")
        shared_in = plan_ebs_snapshot(_finding(kind), _state(kind, EXTERNAL, owner=OTHER), SETTINGS)
        assert (shared_in.decision, shared_in.reason) == ("notify", "cross_account_resource")
    else:
        foreign = arn.replace(SANDBOX_ACCOUNT, OTHER)
        other = PLANS[kind](_finding(kind, resource=foreign, owner=OTHER), snapshot, SETTINGS)
        assert (other.decision, other.reason) == ("notify", "cross_account_resource")


@pytest.mark.parametrize(
    ("kind", "account", "remove", "add"),
    [
        (EBS_SNAPSHOT, EXTERNAL,
         f"aws ec2 modify-snapshot-attribute --region {REGION} --snapshot-id {SNAPSHOT_ID} --attribute"
         f" createVolumePermission --operation-type remove --user-ids {EXTERNAL}",
         f"aws ec2 modify-snapshot-attribute --region {REGION} --snapshot-id {SNAPSHOT_ID} --attribute"
         f" createVolumePermission --operation-type add --user-ids {EXTERNAL}"),
        (EBS_SNAPSHOT, ALL,
         f"aws ec2 modify-snapshot-attribute --region {REGION} --snapshot-id {SNAPSHOT_ID} --attribute"
         " createVolumePermission --operation-type remove --group-names all",
         f"aws ec2 modify-snapshot-attribute --region {REGION} --snapshot-id {SNAPSHOT_ID} --attribute"
         " createVolumePermission --operation-type add --group-names all"),
        (RDS_DB_SNAPSHOT, EXTERNAL,
         f"aws rds modify-db-snapshot-attribute --region {REGION} --db-snapshot-identifier orders-final"
         f" --attribute-name restore --values-to-remove {EXTERNAL}",
         f"aws rds modify-db-snapshot-attribute --region {REGION} --db-snapshot-identifier orders-final"
         f" --attribute-name restore --values-to-add {EXTERNAL}"),
        (RDS_CLUSTER_SNAPSHOT, ALL,
         f"aws rds modify-db-cluster-snapshot-attribute --region {REGION} --db-cluster-snapshot-identifier"
         " orders-weekly --attribute-name restore --values-to-remove all",
         f"aws rds modify-db-cluster-snapshot-attribute --region {REGION} --db-cluster-snapshot-identifier"
         " orders-weekly --attribute-name restore --values-to-add all"),
    ],
)  # fmt: skip
def test_notify_mode_changes_nothing_and_gives_the_exact_commands(
    kind: str, account: str, remove: str, add: str
) -> None:
    plan = _plan(kind, account, account, settings=_settings(mode="notify"))
    assert (plan.decision, plan.reason, plan.side_changes) == ("notify", "notify_mode", ())
    assert plan.summary.startswith("would remove ") and plan.summary.endswith("(notify mode)")
    who = "all (every AWS account: public)" if account == ALL else f"account {account}"
    assert f"{who}: to remove it: {remove}; to add it back: {add}" in plan.notes


@pytest.mark.parametrize("kind", [RDS_DB_SNAPSHOT, EBS_SNAPSHOT])
def test_an_encrypted_snapshot_names_the_key_it_does_not_change(kind: str) -> None:
    key = f"arn:aws:kms:{REGION}:{SANDBOX_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    plan = _plan(kind, EXTERNAL, EXTERNAL, encrypted=True, kms_key_id=key)
    assert plan.decision == "remediate"
    [note] = [n for n in plan.notes if "encrypted" in n]
    assert f"encrypted with KMS key {key}" in note and EXTERNAL in note and "not changed" in note
    assert not any("encrypted" in n for n in _plan(kind, EXTERNAL, EXTERNAL).notes)


def test_a_principal_other_than_an_account_is_reported() -> None:
    """Sharing names whole accounts: a finding naming one role of an account cannot be contained by it alone."""
    role = f"arn:aws:iam::{EXTERNAL}:role/Reader"
    finding = resource_finding(
        EBS_SNAPSHOT, EBS_ARN, {"AWS": role}, ANALYZER, SANDBOX_ACCOUNT, action=["ec2:CreateVolume"]
    )
    plan = plan_ebs_snapshot(finding, _state(EBS_SNAPSHOT, EXTERNAL), SETTINGS)
    assert (plan.decision, plan.reason, plan.side_changes) == ("notify", UNSUPPORTED_PRINCIPAL, ())
    assert role in plan.summary


# -- offline: `aa-remediate plan --attributes` -------------------------------------------------------------------
def test_offline_reads_describe_snapshot_attribute_output() -> None:
    adapter = _adapter(EBS_SNAPSHOT)
    ref = adapter.ref(EBS_ARN, SANDBOX_ACCOUNT)
    given = {"SnapshotId": SNAPSHOT_ID, "CreateVolumePermissions": [{"UserId": EXTERNAL}, {"Group": "all"}]}
    snapshot = adapter.offline(ref, {}, {"team": "data"}, given)
    assert (snapshot.shared_with, snapshot.tags, snapshot.attribute_read) == ((EXTERNAL, ALL), {"team": "data"}, True)
    assert adapter.plan(_finding(EBS_SNAPSHOT), snapshot, SETTINGS, (), 0.0).decision == "remediate"
    unknown = adapter.offline(ref, {}, {}, None)  # not given: shared with no one, and the plan says so
    assert (unknown.shared_with, unknown.attribute_read) == ((), False)
    plan = adapter.plan(_finding(EBS_SNAPSHOT), unknown, SETTINGS, (), 0.0)
    assert plan.reason == "already_contained" and any("was not given (--attributes)" in n for n in plan.notes)
    bad_outputs: list[Any] = [
        [{"UserId": EXTERNAL}],
        {"CreateVolumePermissions": {"UserId": EXTERNAL}},
        {"CreateVolumePermissions": [{"UserId": "not-an-account"}]},
        {"CreateVolumePermissions": [{"Group": "admins"}]},
        {"CreateVolumePermissions": [{"UserId": EXTERNAL, "Group": "all"}]},
        {"SnapshotId": "snap-0fedcba9876543210", "CreateVolumePermissions": []},
        {"CreateVolumePermissions": [], "ProductCodes": []},
    ]
    for bad in bad_outputs:
        with pytest.raises(ValueError, match=r"describe-snapshot-attribute output|is of snapshot"):
            adapter.offline(ref, {}, {}, bad)
    with pytest.raises(ValueError, match="holds no policy"):
        adapter.offline(ref, {"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]}, {}, None)


@pytest.mark.parametrize(
    ("kind", "result", "identifier", "listing"),
    [(RDS_DB_SNAPSHOT, "DBSnapshotAttributesResult", "DBSnapshotIdentifier", "DBSnapshotAttributes"),
     (RDS_CLUSTER_SNAPSHOT, "DBClusterSnapshotAttributesResult", "DBClusterSnapshotIdentifier",
      "DBClusterSnapshotAttributes")],
)  # fmt: skip
def test_offline_reads_describe_db_snapshot_attributes_output(
    kind: str, result: str, identifier: str, listing: str
) -> None:
    adapter = _adapter(kind)
    ref = adapter.ref(ARNS[kind], SANDBOX_ACCOUNT)
    restore = {"AttributeName": "restore", "AttributeValues": [EXTERNAL, ALL]}
    given = {result: {identifier: ref.name, listing: [restore]}}
    snapshot = adapter.offline(ref, {}, {}, given)
    assert (snapshot.shared_with, snapshot.attribute_read) == ((EXTERNAL, ALL), True)
    assert adapter.offline(ref, {}, {}, None).attribute_read is False
    other = "DBClusterSnapshotAttributesResult" if kind == RDS_DB_SNAPSHOT else "DBSnapshotAttributesResult"
    bad_outputs: list[Any] = [
        {other: {listing: [restore]}},  # the other type's output
        {result: {listing: [{"AttributeName": "restore", "AttributeValues": ["everyone"]}]}},
        {result: {listing: [{"AttributeName": "restore", "AttributeValues": EXTERNAL}]}},
        {result: {identifier: "another-snapshot", listing: [restore]}},
        {result: {listing: [restore]}, "Extra": 1},
        [restore],
    ]
    for bad in bad_outputs:
        with pytest.raises(ValueError, match=f"not {result} output|restore holds|are of snapshot"):
            adapter.offline(ref, {}, {}, bad)


# -- the engine, against moto --------------------------------------------------------------------------------------
def _remediator(aws: Aws) -> Remediator:
    return aws.remediator(resource_types=tuple(TYPES))  # a deployment that lists the snapshot types


def _ref(aws: Aws, finding_id: str) -> FindingRef:
    return FindingRef(aws.standin.analyzer_arn, finding_id)


def _add_finding(aws: Aws, kind: str, arn: str, account: str) -> str:
    finding = aws.standin.add_finding(
        resource=arn, resource_type=kind, principal={"AWS": "*" if account == ALL else account},
        action=[ACTIONS[kind]], is_public=account == ALL, resource_owner_account=SANDBOX_ACCOUNT, publish=False,
    )  # fmt: skip
    return str(finding["id"])


def _ebs(aws: Aws, *shared: str) -> tuple[Any, str, str]:
    ec2 = aws.client("ec2")
    volume = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=1)
    snapshot_id = str(ec2.create_snapshot(VolumeId=volume["VolumeId"])["SnapshotId"])
    for value in shared:
        who = {"GroupNames": [ALL]} if value == ALL else {"UserIds": [value]}
        ec2.modify_snapshot_attribute(
            SnapshotId=snapshot_id, Attribute="createVolumePermission", OperationType="add", **who
        )
    return ec2, snapshot_id, f"arn:aws:ec2:{REGION}::snapshot/{snapshot_id}"


def _volume_permissions(ec2: Any, snapshot_id: str) -> list[str]:
    permissions = ec2.describe_snapshot_attribute(SnapshotId=snapshot_id, Attribute="createVolumePermission")
    return sorted(p.get("UserId") or p["Group"] for p in permissions["CreateVolumePermissions"])


def _db_snapshot(aws: Aws, *shared: str) -> tuple[Any, str]:
    rds = aws.client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier="orders", DBInstanceClass="db.t3.micro", Engine="postgres", MasterUsername="admin",
        MasterUserPassword="not-a-real-password", AllocatedStorage=20,
    )  # fmt: skip
    arn = rds.create_db_snapshot(DBSnapshotIdentifier="orders-final", DBInstanceIdentifier="orders")["DBSnapshot"]
    if shared:
        rds.modify_db_snapshot_attribute(
            DBSnapshotIdentifier="orders-final", AttributeName="restore", ValuesToAdd=list(shared)
        )
    return rds, str(arn["DBSnapshotArn"])


def _restore(rds: Any, kind: str = RDS_DB_SNAPSHOT) -> list[str]:
    if kind == RDS_DB_SNAPSHOT:
        result = rds.describe_db_snapshot_attributes(DBSnapshotIdentifier="orders-final")["DBSnapshotAttributesResult"]
        attributes = result["DBSnapshotAttributes"]
    else:
        result = rds.describe_db_cluster_snapshot_attributes(DBClusterSnapshotIdentifier="orders-weekly")
        attributes = result["DBClusterSnapshotAttributesResult"]["DBClusterSnapshotAttributes"]
    return sorted(v for a in attributes if a["AttributeName"] == "restore" for v in a["AttributeValues"])


def test_an_ebs_share_is_removed_a_redelivery_finds_it_gone_and_revert_adds_it_back_keeping_a_later_one(
    aws: Aws,
) -> None:
    ec2, snapshot_id, arn = _ebs(aws, EXTERNAL)
    finding_id = _add_finding(aws, EBS_SNAPSHOT, arn, EXTERNAL)
    remediator = _remediator(aws)
    aws.calls.clear()
    [outcome] = remediator.process([_ref(aws, finding_id)])
    processed = sum(aws.calls.values())
    assert (outcome.decision, outcome.reason, outcome.entries) == ("remediate", SHARING_REMOVED, ())
    assert aws.calls["ModifySnapshotAttribute"] == 1
    assert _volume_permissions(ec2, snapshot_id) == []
    assert outcome.record is not None
    [recorded] = [SideChange.from_json(c) for c in json.loads(outcome.record.extra["side_changes"])]
    assert recorded.undo["params"]["UserIds"] == [EXTERNAL] and recorded.undo["params"]["OperationType"] == "add"
    aws.calls.clear()
    remediator.announce([outcome], SANDBOX_ACCOUNT)
    # Calls per contained finding, Publish aside: GetFinding, DescribeSnapshots (tags) and DescribeSnapshotAttribute,
    # the lease, ModifySnapshotAttribute, records and outbox, commit, outbox clear (as the policy types count them).
    assert processed + sum(n for call, n in aws.calls.items() if call != "Publish") == 8, aws.calls
    [mail] = aws.emails()
    assert (
        f"removed account {EXTERNAL} from the createVolumePermission attribute of snapshot {snapshot_id}"
        in (mail["Message"])
    )
    assert f"a revert adds {EXTERNAL} back" in mail["Message"]
    [again] = _remediator(aws).process([_ref(aws, finding_id)])  # redelivered before the analyzer re-reads
    assert (again.decision, again.reason) == ("skip", "already_contained")
    ec2.modify_snapshot_attribute(
        SnapshotId=snapshot_id, Attribute="createVolumePermission", OperationType="add", UserIds=[LATER]
    )  # shared by hand since: kept
    result = revert(remediator, finding_id)
    assert result["removed"] == [] and result["restored"] == [
        f"added {EXTERNAL} back to the createVolumePermission attribute of snapshot {snapshot_id}"
        " (ModifySnapshotAttribute; every other entry as it is)"
    ]
    assert _volume_permissions(ec2, snapshot_id) == sorted([EXTERNAL, LATER])
    with pytest.raises(NothingToRevert):
        revert(remediator, finding_id)  # done: a second revert finds nothing left
    assert _volume_permissions(ec2, snapshot_id) == sorted([EXTERNAL, LATER])


def test_a_public_ebs_snapshot_is_made_private_and_revert_makes_its_attribute_exactly_as_before(aws: Aws) -> None:
    ec2, snapshot_id, arn = _ebs(aws, ALL, EXTERNAL)
    before = _volume_permissions(ec2, snapshot_id)
    finding_id = _add_finding(aws, EBS_SNAPSHOT, arn, ALL)
    remediator = _remediator(aws)
    [outcome] = remediator.process([_ref(aws, finding_id)])
    assert (outcome.decision, outcome.reason) == ("remediate", SHARING_REMOVED)
    assert _volume_permissions(ec2, snapshot_id) == [EXTERNAL]  # the listed account stays: its own finding
    assert outcome.plan is not None and any(
        n.startswith(f"account {EXTERNAL} stays listed") for n in outcome.plan.notes
    )
    revert(remediator, finding_id)
    assert _volume_permissions(ec2, snapshot_id) == before


def test_two_findings_on_one_db_snapshot_are_removed_in_one_batch_and_reverted_one_by_one(aws: Aws) -> None:
    rds, arn = _db_snapshot(aws, EXTERNAL, OTHER)
    first, second = _add_finding(aws, RDS_DB_SNAPSHOT, arn, EXTERNAL), _add_finding(aws, RDS_DB_SNAPSHOT, arn, OTHER)
    remediator = _remediator(aws)
    outcomes = remediator.process([_ref(aws, first), _ref(aws, second)])
    assert [(o.decision, o.reason) for o in outcomes] == [("remediate", SHARING_REMOVED)] * 2
    assert [[c.key for c in o.plan.side_changes] for o in outcomes if o.plan is not None] == [
        [f"restore:{EXTERNAL}"],
        [f"restore:{OTHER}"],
    ]
    assert _restore(rds) == []
    result = revert(remediator, first)
    assert result["restored"] == [
        f"added {EXTERNAL} back to the restore attribute of DB snapshot orders-final"
        " (ModifyDBSnapshotAttribute; every other entry as it is)"
    ]
    assert _restore(rds) == [EXTERNAL]  # only the reverted finding's account
    revert(remediator, second)
    assert _restore(rds) == sorted([EXTERNAL, OTHER])


def test_a_public_cluster_snapshot_keeps_its_listed_account_until_that_accounts_own_finding(aws: Aws) -> None:
    rds = aws.client("rds")
    rds.create_db_cluster(
        DBClusterIdentifier="orders", Engine="aurora-postgresql", MasterUsername="admin",
        MasterUserPassword="not-a-real-password",
    )  # fmt: skip
    created = rds.create_db_cluster_snapshot(DBClusterSnapshotIdentifier="orders-weekly", DBClusterIdentifier="orders")
    arn = str(created["DBClusterSnapshot"]["DBClusterSnapshotArn"])
    rds.modify_db_cluster_snapshot_attribute(
        DBClusterSnapshotIdentifier="orders-weekly", AttributeName="restore", ValuesToAdd=[ALL, EXTERNAL]
    )
    before = _restore(rds, RDS_CLUSTER_SNAPSHOT)
    public = _add_finding(aws, RDS_CLUSTER_SNAPSHOT, arn, ALL)
    remediator = _remediator(aws)
    [outcome] = remediator.process([_ref(aws, public)])
    assert (outcome.decision, outcome.reason) == ("remediate", SHARING_REMOVED)
    assert _restore(rds, RDS_CLUSTER_SNAPSHOT) == [EXTERNAL]
    account = _add_finding(aws, RDS_CLUSTER_SNAPSHOT, arn, EXTERNAL)
    [second] = remediator.process([_ref(aws, account)])
    assert (second.decision, second.reason) == ("remediate", SHARING_REMOVED)
    assert _restore(rds, RDS_CLUSTER_SNAPSHOT) == []
    revert(remediator, public)
    assert _restore(rds, RDS_CLUSTER_SNAPSHOT) == [ALL]
    revert(remediator, account)
    assert _restore(rds, RDS_CLUSTER_SNAPSHOT) == before


def test_a_snapshot_that_no_longer_exists_is_skipped(aws: Aws) -> None:
    ebs = _add_finding(aws, EBS_SNAPSHOT, EBS_ARN, EXTERNAL)
    db = _add_finding(aws, RDS_DB_SNAPSHOT, DB_ARN, EXTERNAL)
    cluster = _add_finding(aws, RDS_CLUSTER_SNAPSHOT, CLUSTER_ARN, EXTERNAL)
    outcomes = _remediator(aws).process([_ref(aws, ebs), _ref(aws, db), _ref(aws, cluster)])
    assert [(o.decision, o.reason) for o in outcomes] == [("skip", "resource_not_found")] * 3


def test_apply_and_undo_are_idempotent_and_a_refused_removal_of_a_value_not_listed_is_done(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    ec2, snapshot_id, arn = _ebs(aws, EXTERNAL, OTHER)
    adapter = EbsSnapshotAdapter(ec2)
    ref = adapter.ref(arn, SANDBOX_ACCOUNT)
    snapshot = adapter.read(ref)
    assert snapshot is not None and sorted(snapshot.shared_with) == sorted([EXTERNAL, OTHER])
    assert (snapshot.owner, snapshot.encrypted) == (SANDBOX_ACCOUNT, False)
    [change] = adapter.plan(_finding(EBS_SNAPSHOT, resource=arn), snapshot, SETTINGS, (), 0.0).side_changes
    assert adapter.apply(ref, change) is None
    assert adapter.apply(ref, change) is None  # removed already: harmless (moto, like EC2, accepts it)
    assert _volume_permissions(ec2, snapshot_id) == [OTHER]

    def refuse(self: Any, params: Any) -> None:
        raise ClientError({"Error": {"Code": "InvalidParameterValue", "Message": "no"}}, "ModifySnapshotAttribute")

    with monkeypatch.context() as patched:
        patched.setattr(EbsSnapshotAdapter, "_modify", refuse)
        assert adapter.apply(ref, change) is None  # refused, but not listed: it is removed
        ec2.modify_snapshot_attribute(
            SnapshotId=snapshot_id, Attribute="createVolumePermission", OperationType="add", UserIds=[EXTERNAL]
        )
        message = adapter.apply(ref, change)  # refused while listed: reported with the command
        assert message is not None and message.startswith("EC2 refused ModifySnapshotAttribute (InvalidParameterValue)")
        assert f"--operation-type remove --user-ids {EXTERNAL}" in message
    assert adapter.apply(ref, change) is None
    assert adapter.undo(ref, change).startswith(f"added {EXTERNAL} back")
    assert adapter.undo(ref, change) == (
        f"{EXTERNAL} is in the createVolumePermission attribute of snapshot {snapshot_id} already: none added"
    )
    assert _volume_permissions(ec2, snapshot_id) == sorted([EXTERNAL, OTHER])


def test_the_rds_adapters_read_tags_encryption_and_the_restore_attribute(aws: Aws) -> None:
    rds, arn = _db_snapshot(aws, EXTERNAL)
    rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": SETTINGS.exemption_tag_key, "Value": "true"}])
    adapter = RdsDbSnapshotAdapter(rds)
    snapshot = adapter.read(adapter.ref(arn, SANDBOX_ACCOUNT))
    assert snapshot is not None
    assert (snapshot.shared_with, snapshot.tags, snapshot.encrypted) == (
        (EXTERNAL,),
        {SETTINGS.exemption_tag_key: "true"},
        False,
    )
    plan = adapter.plan(_finding(RDS_DB_SNAPSHOT, resource=arn), snapshot, SETTINGS, (), 0.0)
    assert (plan.decision, plan.reason) == ("notify", "exempt_tag")
    cluster = RdsClusterSnapshotAdapter(rds)
    assert cluster.read(cluster.ref(CLUSTER_ARN, SANDBOX_ACCOUNT)) is None  # no such cluster snapshot
    assert adapter.read(adapter.ref(DB_ARN.replace("orders-final", "orders-gone"), SANDBOX_ACCOUNT)) is None
