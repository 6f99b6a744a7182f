"""EBS snapshots (``AWS::EC2::Snapshot``, resource ``arn:aws:ec2:<region>::snapshot/snap-...``: the ARN names no
account, the finding's ``resourceOwnerAccount`` is the snapshot's owner) for the stand-in.

`read_snapshot` reads what the analysis needs from EC2 (moto): DescribeSnapshots (the snapshot exists; its
``OwnerId``) and DescribeSnapshotAttribute ``createVolumePermission``. `compute_snapshot_access` applies this small
model:

- A ``UserId`` outside the zone can create a volume from the snapshot: principal ``{"AWS": "<account id>"}``, action
  ``["ec2:CreateVolume"]``, no condition.
- The group ``all`` makes the snapshot public: principal ``{"AWS": "*"}``, ``isPublic`` true, the same action.
- Accounts of the zone (the owner's included) are not findings. No ``sources``, no conditions.
- Only snapshots the analyzer's account owns are analysed (`sandbox.access_analyzer` checks the owner `analyse`
  returns): a snapshot of another account, visible because it is shared with this one, is not this analyzer's.

The action is the stand-in's model (the IAM action sharing enables); which actions the real analyzer lists for a
snapshot is unconfirmed, as is ``isPublic`` for ``all`` (resource-types.md §3).

moto 5.2.5: DescribeSnapshots ignores ``OwnerIds`` (``self`` or an account id): it answers the ~1,300 snapshots
behind its built-in AMIs too, owned by other accounts. `resource_arns` also asks for the ``owner-id`` filter (which
moto applies) and checks ``OwnerId`` itself.
Not modelled: EBS snapshot Block Public Access (EnableSnapshotBlockPublicAccess is not implemented by moto 5.2.5;
AWS then still shows the attribute as public), encryption (an encrypted snapshot cannot be public; moto does not
refuse it), error findings.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from sandbox.analysis import ResourceAccess
from sandbox.analysis.iam_role import TrustZone
from sandbox.analysis.resource_policy import Access, Analysis, ZoneOf, error_code

RESOURCE_TYPE = "AWS::EC2::Snapshot"
ACTIONS = ("ec2:CreateVolume",)
PUBLIC_GROUP = "all"
SNAPSHOT_ARN_RE = re.compile(
    r"^arn:[\w-]+:ec2:(?P<region>[a-z0-9-]+):(?P<account>\d{12})?:snapshot/(?P<id>snap-[0-9a-f]{8,17})$"
)
_GONE = frozenset({"InvalidSnapshot.NotFound", "InvalidSnapshotID.Malformed"})


def arn_parts(resource_arn: str) -> tuple[str, str] | None:
    """(Region, account) of a snapshot ARN, the account ``""`` when the ARN names none; None for anything else."""
    match = SNAPSHOT_ARN_RE.match(resource_arn)
    return (match["region"], match["account"] or "") if match else None


def snapshot_arn(region: str, snapshot_id: str) -> str:
    """``arn:aws:ec2:<region>::snapshot/<id>``."""
    return f"arn:aws:ec2:{region}::snapshot/{snapshot_id}"


def resource_arns(ec2: Any, account: str) -> list[str]:
    """The ARN of every snapshot of the client's Region that `account` owns (DescribeSnapshots, filtered here)."""
    region = ec2.meta.region_name
    arns: list[str] = []
    owned = {"OwnerIds": ["self"], "Filters": [{"Name": "owner-id", "Values": [account]}]}
    for page in ec2.get_paginator("describe_snapshots").paginate(**owned):
        arns.extend(
            snapshot_arn(region, str(s["SnapshotId"])) for s in page.get("Snapshots", []) if s.get("OwnerId") == account
        )
    return arns


def read_snapshot(ec2: Any, arn: str) -> tuple[str, tuple[dict[str, str], ...]] | None:
    """(owner account, createVolumePermission entries) of the snapshot; None when it does not exist."""
    match = SNAPSHOT_ARN_RE.match(arn)
    if match is None:
        raise ValueError(f"not an EBS snapshot ARN: {arn!r}")
    try:
        (snapshot,) = ec2.describe_snapshots(SnapshotIds=[match["id"]])["Snapshots"]
        attribute = ec2.describe_snapshot_attribute(SnapshotId=match["id"], Attribute="createVolumePermission")
    except ClientError as error:
        if error_code(error) in _GONE:
            return None
        raise
    permissions = tuple(dict(p) for p in attribute.get("CreateVolumePermissions", []))
    return str(snapshot.get("OwnerId", "")), permissions


def compute_snapshot_access(permissions: tuple[dict[str, str], ...], zone: TrustZone) -> Access:
    """External access the createVolumePermission entries give: {(kind, value): ResourceAccess}."""
    access: Access = {}
    for permission in permissions:
        if permission.get("Group") == PUBLIC_GROUP:
            value = "*"
        elif permission.get("UserId") and not zone.contains_account(permission["UserId"]):
            value = permission["UserId"]
        else:
            continue
        access["AWS", value] = ResourceAccess("AWS", value, ACTIONS, {}, value == "*")
    return access


def analyse(ec2: Any, arn: str, zone_of: ZoneOf) -> Analysis | None:
    """(owner, external access) of the snapshot; None when it does not exist."""
    read = read_snapshot(ec2, arn)
    if read is None:
        return None
    owner, permissions = read
    return owner, compute_snapshot_access(permissions, zone_of(owner))
