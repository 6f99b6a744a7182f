"""RDS manual DB snapshots (``AWS::RDS::DBSnapshot``, resource ``arn:aws:rds:<region>:<account>:snapshot:<id>``)
and DB cluster snapshots (``AWS::RDS::DBClusterSnapshot``, ``arn:aws:rds:<region>:<account>:cluster-snapshot:<id>``)
for the stand-in.

`read_db_snapshot` / `read_cluster_snapshot` read the ``restore`` attribute (DescribeDBSnapshotAttributes /
DescribeDBClusterSnapshotAttributes, by the identifier of the ARN: moto 5.2.5 does not accept the ARN there).
`compute_restore_access` applies this small model:

- An account id of the ``restore`` attribute outside the zone can restore (and copy) the snapshot: principal
  ``{"AWS": "<account id>"}``, action ``["rds:RestoreDBInstanceFromDBSnapshot"]`` for a DB snapshot,
  ``["rds:RestoreDBClusterFromSnapshot"]`` for a cluster snapshot, no condition. This single action is the
  stand-in's model; which actions the real analyzer lists is unconfirmed.
- ``all`` makes the snapshot public: principal ``{"AWS": "*"}``, ``isPublic`` true, the same action (removing
  ``all`` leaves the listed accounts sharing it, and their findings open).
- Accounts of the zone are not findings. No ``sources``. Only manual snapshots are listed (automated ones cannot be
  shared); the owner is the ARN's account.

Not modelled: snapshots shared through AWS RAM (the real analyzer does not see them either), encryption (an encrypted
snapshot cannot be public; moto does not refuse it), error findings.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from sandbox.analysis import ResourceAccess
from sandbox.analysis.iam_role import TrustZone
from sandbox.analysis.resource_policy import Access, Analysis, ZoneOf, error_code

DB_SNAPSHOT_TYPE = "AWS::RDS::DBSnapshot"
CLUSTER_SNAPSHOT_TYPE = "AWS::RDS::DBClusterSnapshot"
RESOURCE_TYPES = (DB_SNAPSHOT_TYPE, CLUSTER_SNAPSHOT_TYPE)
DB_SNAPSHOT_ACTIONS = ("rds:RestoreDBInstanceFromDBSnapshot",)
CLUSTER_SNAPSHOT_ACTIONS = ("rds:RestoreDBClusterFromSnapshot",)
RESTORE = "restore"
PUBLIC_VALUE = "all"
DB_SNAPSHOT_ARN_RE = re.compile(
    r"^arn:[\w-]+:rds:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):snapshot:(?P<id>[A-Za-z][A-Za-z0-9-]{0,254})$"
)
CLUSTER_SNAPSHOT_ARN_RE = re.compile(
    r"^arn:[\w-]+:rds:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):cluster-snapshot:(?P<id>[A-Za-z][A-Za-z0-9-]{0,254})$"
)
_DB_GONE = frozenset({"DBSnapshotNotFound", "DBSnapshotNotFoundFault"})
_CLUSTER_GONE = frozenset({"DBClusterSnapshotNotFoundFault", "DBClusterSnapshotNotFound"})


def _parts(pattern: re.Pattern[str], resource_arn: str) -> tuple[str, str] | None:
    match = pattern.match(resource_arn)
    return (match["region"], match["account"]) if match else None


def db_snapshot_arn_parts(resource_arn: str) -> tuple[str, str] | None:
    """(Region, account) of a DB snapshot ARN; None for anything else."""
    return _parts(DB_SNAPSHOT_ARN_RE, resource_arn)


def cluster_snapshot_arn_parts(resource_arn: str) -> tuple[str, str] | None:
    """(Region, account) of a DB cluster snapshot ARN; None for anything else."""
    return _parts(CLUSTER_SNAPSHOT_ARN_RE, resource_arn)


def db_snapshot_arns(rds: Any, account: str) -> list[str]:
    """The ARN of every manual DB snapshot of the client's Region that `account` owns."""
    arns: list[str] = []
    for page in rds.get_paginator("describe_db_snapshots").paginate(SnapshotType="manual"):
        for snapshot in page.get("DBSnapshots", []):
            parts = db_snapshot_arn_parts(str(snapshot.get("DBSnapshotArn", "")))
            if parts is not None and parts[1] == account:
                arns.append(str(snapshot["DBSnapshotArn"]))
    return arns


def cluster_snapshot_arns(rds: Any, account: str) -> list[str]:
    """The ARN of every manual DB cluster snapshot of the client's Region that `account` owns."""
    arns: list[str] = []
    for page in rds.get_paginator("describe_db_cluster_snapshots").paginate(SnapshotType="manual"):
        for snapshot in page.get("DBClusterSnapshots", []):
            parts = cluster_snapshot_arn_parts(str(snapshot.get("DBClusterSnapshotArn", "")))
            if parts is not None and parts[1] == account:
                arns.append(str(snapshot["DBClusterSnapshotArn"]))
    return arns


def _restore_values(attributes: list[dict[str, Any]]) -> tuple[str, ...]:
    values: list[str] = []
    for attribute in attributes:
        if attribute.get("AttributeName") == RESTORE:
            values.extend(str(v) for v in attribute.get("AttributeValues") or [])
    return tuple(values)


def read_db_snapshot(rds: Any, arn: str) -> tuple[str, ...] | None:
    """The ``restore`` attribute's values of the DB snapshot; None when it does not exist."""
    match = DB_SNAPSHOT_ARN_RE.match(arn)
    if match is None:
        raise ValueError(f"not an RDS DB snapshot ARN: {arn!r}")
    try:
        result = rds.describe_db_snapshot_attributes(DBSnapshotIdentifier=match["id"])["DBSnapshotAttributesResult"]
    except ClientError as error:
        if error_code(error) in _DB_GONE:
            return None
        raise
    return _restore_values(result.get("DBSnapshotAttributes", []))


def read_cluster_snapshot(rds: Any, arn: str) -> tuple[str, ...] | None:
    """The ``restore`` attribute's values of the DB cluster snapshot; None when it does not exist."""
    match = CLUSTER_SNAPSHOT_ARN_RE.match(arn)
    if match is None:
        raise ValueError(f"not an RDS DB cluster snapshot ARN: {arn!r}")
    try:
        result = rds.describe_db_cluster_snapshot_attributes(DBClusterSnapshotIdentifier=match["id"])[
            "DBClusterSnapshotAttributesResult"
        ]
    except ClientError as error:
        if error_code(error) in _CLUSTER_GONE:
            return None
        raise
    return _restore_values(result.get("DBClusterSnapshotAttributes", []))


def compute_restore_access(values: tuple[str, ...], zone: TrustZone, actions: tuple[str, ...]) -> Access:
    """External access the ``restore`` values give: {(kind, value): ResourceAccess}."""
    access: Access = {}
    for raw in values:
        if raw == PUBLIC_VALUE:
            value = "*"
        elif not zone.contains_account(raw):
            value = raw
        else:
            continue
        access["AWS", value] = ResourceAccess("AWS", value, actions, {}, value == "*")
    return access


def analyse_db_snapshot(rds: Any, arn: str, zone_of: ZoneOf) -> Analysis | None:
    """(owner, external access) of the DB snapshot; None when it does not exist."""
    values = read_db_snapshot(rds, arn)
    parts = db_snapshot_arn_parts(arn)
    if values is None or parts is None:
        return None
    return parts[1], compute_restore_access(values, zone_of(parts[1]), DB_SNAPSHOT_ACTIONS)


def analyse_cluster_snapshot(rds: Any, arn: str, zone_of: ZoneOf) -> Analysis | None:
    """(owner, external access) of the DB cluster snapshot; None when it does not exist."""
    values = read_cluster_snapshot(rds, arn)
    parts = cluster_snapshot_arn_parts(arn)
    if values is None or parts is None:
        return None
    return parts[1], compute_restore_access(values, zone_of(parts[1]), CLUSTER_SNAPSHOT_ACTIONS)
