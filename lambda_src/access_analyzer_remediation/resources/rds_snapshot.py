"""The RDS DB snapshot and DB cluster snapshot adapters: a snapshot holds no policy, so a finding is contained by
removing the account it names (or `all`: public) from the manual snapshot's `restore` attribute
(ModifyDBSnapshotAttribute / ModifyDBClusterSnapshotAttribute, ValuesToRemove), never by a Deny; ebs_snapshot.py
holds the design, shared (the plan, apply, undo and what is never removed).

Contain: each value of `restore` that the finding names is removed by one call, a side change of a "remediate"
plan (nothing is ever written as a document: `changes` is empty and `write` refuses). Removing `all` leaves every
explicitly listed account able to copy and restore the snapshot: each such account outside the zone of trust has a
finding of its own, which removes it; the notice names them. Revert: `aa-remediate revert` reads the attribute
again and adds the value back (ValuesToAdd: the same IAM action) unless it is listed already; every other value,
those added since included, stays as it is.

Only reported, never changed: the KMS key of an encrypted snapshot (an account it is shared with also needs the key,
through its key policy or a grant; removing the share is what contains the finding). Encrypted snapshots can never
be public. RDS shares a manual snapshot with a limited number of accounts (20), so a revert may meet
SharedSnapshotQuotaExceeded when accounts were added since: it then stops with the command to add the value by
hand. Cluster snapshots shared through AWS RAM are not in the attribute, and Access Analyzer does not report them
either. Automated snapshots cannot be shared.

Reads: DescribeDBSnapshots / DescribeDBClusterSnapshots by identifier (it exists, and its encryption;
DBSnapshotNotFound / DBClusterSnapshotNotFoundFault: gone), DescribeDBSnapshotAttributes /
DescribeDBClusterSnapshotAttributes (`restore`), and ListTagsForResource on the snapshot's ARN. The other calls name
the snapshot by its identifier, the ARN's last part (moto 5.2.5 does not accept the ARN there).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from ..clients import error_code
from ..findings import RDS_CLUSTER_SNAPSHOT, RDS_DB_SNAPSHOT, ResourceRef
from ..policy import Policy
from ..settings import ACCOUNT_ID_RE
from .ebs_snapshot import PUBLIC_VALUE, Sharing, SharingAdapterBase, SharingState, plan_sharing

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mypy_boto3_rds import RDSClient

    from ..findings import Finding
    from ..planner import Plan
    from ..settings import Settings
    from ..state import Intended

# iam.tf grants both snapshot types this one set: the calls of both adapters of this file.
_IAM_ACTIONS = {
    "DescribeDBSnapshots": "rds:DescribeDBSnapshots",
    "DescribeDBSnapshotAttributes": "rds:DescribeDBSnapshotAttributes",
    "ModifyDBSnapshotAttribute": "rds:ModifyDBSnapshotAttribute",
    "DescribeDBClusterSnapshots": "rds:DescribeDBClusterSnapshots",
    "DescribeDBClusterSnapshotAttributes": "rds:DescribeDBClusterSnapshotAttributes",
    "ModifyDBClusterSnapshotAttribute": "rds:ModifyDBClusterSnapshotAttribute",
    "ListTagsForResource": "rds:ListTagsForResource",
}
# The calls of each type, which is all its statements in modules/permissions grant (tests/terraform/test_contract.py):
# a deployment that contains DB snapshots only can never change a cluster snapshot's sharing, and the other way round.
_DB_SNAPSHOT_IAM_ACTIONS = {
    "DescribeDBSnapshots": "rds:DescribeDBSnapshots",
    "DescribeDBSnapshotAttributes": "rds:DescribeDBSnapshotAttributes",
    "ModifyDBSnapshotAttribute": "rds:ModifyDBSnapshotAttribute",
    "ListTagsForResource": "rds:ListTagsForResource",
}
_CLUSTER_SNAPSHOT_IAM_ACTIONS = {
    "DescribeDBClusterSnapshots": "rds:DescribeDBClusterSnapshots",
    "DescribeDBClusterSnapshotAttributes": "rds:DescribeDBClusterSnapshotAttributes",
    "ModifyDBClusterSnapshotAttribute": "rds:ModifyDBClusterSnapshotAttribute",
    "ListTagsForResource": "rds:ListTagsForResource",
}
RESTORE = "restore"
# RDS's permanent refusals of a modify call (SharedSnapshotQuotaExceeded: only an add meets it).
_REFUSALS = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "InvalidParameterValue",
        "InvalidParameterCombination",
        "SharedSnapshotQuotaExceeded",
        "SharedSnapshotQuotaExceededFault",
    }
)


def _db_params(ref: ResourceRef, value: str, remove: bool) -> dict[str, Any]:
    values = {"ValuesToRemove" if remove else "ValuesToAdd": [value]}
    return {"DBSnapshotIdentifier": ref.name, "AttributeName": RESTORE, **values}


def _cluster_params(ref: ResourceRef, value: str, remove: bool) -> dict[str, Any]:
    values = {"ValuesToRemove" if remove else "ValuesToAdd": [value]}
    return {"DBClusterSnapshotIdentifier": ref.name, "AttributeName": RESTORE, **values}


DB_SNAPSHOT = Sharing(
    RDS_DB_SNAPSHOT,
    RESTORE,
    "rds:ModifyDBSnapshotAttribute",
    "aws rds modify-db-snapshot-attribute",
    _db_params,
    frozenset({"DBSnapshotNotFound", "DBSnapshotNotFoundFault"}),
    _REFUSALS,
)
CLUSTER_SNAPSHOT = Sharing(
    RDS_CLUSTER_SNAPSHOT,
    RESTORE,
    "rds:ModifyDBClusterSnapshotAttribute",
    "aws rds modify-db-cluster-snapshot-attribute",
    _cluster_params,
    frozenset({"DBClusterSnapshotNotFoundFault", "DBClusterSnapshotNotFound"}),
    _REFUSALS,
)
# Where each describe-...-attributes output holds the snapshot's identifier and its attributes.
_RESULT_SHAPES = {
    RDS_DB_SNAPSHOT: ("DBSnapshotAttributesResult", "DBSnapshotIdentifier", "DBSnapshotAttributes"),
    RDS_CLUSTER_SNAPSHOT: (
        "DBClusterSnapshotAttributesResult",
        "DBClusterSnapshotIdentifier",
        "DBClusterSnapshotAttributes",
    ),
}


def restore_values(attributes: Any, list_key: str) -> tuple[str, ...]:
    """The `restore` values of a Describe...SnapshotAttributesResult (RDS lists no other attribute today)."""
    values: list[str] = []
    for attribute in attributes.get(list_key) or []:
        if attribute.get("AttributeName") == RESTORE:
            values.extend(str(value) for value in attribute.get("AttributeValues") or [])
    return tuple(values)


def restore_from_api(attributes: Any, resource_type: str, identifier: str) -> tuple[str, ...] | None:
    """The `restore` values of `aws rds describe-db-snapshot-attributes` (a DB snapshot) or
    `describe-db-cluster-snapshot-attributes` (a cluster snapshot) output; None: not given."""
    if attributes is None:
        return None
    result_key, id_key, list_key = _RESULT_SHAPES[resource_type]
    shape = f'not {result_key} output ({{"{result_key}": {{"{list_key}": [{{"AttributeName": "restore", ...}}]}}}})'
    result = attributes.get(result_key) if isinstance(attributes, dict) and set(attributes) == {result_key} else None
    if not isinstance(result, dict) or set(result) - {id_key, list_key} or not isinstance(result.get(list_key), list):
        raise ValueError(shape)
    if result.get(id_key, identifier) != identifier:
        raise ValueError(f"the attributes are of snapshot {result[id_key]}, not {identifier}")
    for attribute in result[list_key]:
        names = attribute.get("AttributeValues") if isinstance(attribute, dict) else None
        if (
            not isinstance(attribute, dict)
            or not isinstance(attribute.get("AttributeName"), str)
            or not isinstance(names, list)
            or set(attribute) - {"AttributeName", "AttributeValues"}
        ):
            raise ValueError(f"{shape}: {attribute!r}")
        if attribute["AttributeName"] == RESTORE:
            bad = [v for v in names if not isinstance(v, str) or not (v == PUBLIC_VALUE or ACCOUNT_ID_RE.match(v))]
            if bad:
                raise ValueError(f"restore holds {bad!r}: not account ids or `all`")
    return restore_values(result, list_key)


def plan_db_snapshot(
    finding: Finding, snapshot: SharingState, settings: Settings, intended: Sequence[Intended] = (), now: float = 0.0
) -> Plan:
    return plan_sharing(finding, snapshot, settings, DB_SNAPSHOT, intended=intended, now=now)


def plan_cluster_snapshot(
    finding: Finding, snapshot: SharingState, settings: Settings, intended: Sequence[Intended] = (), now: float = 0.0
) -> Plan:
    return plan_sharing(finding, snapshot, settings, CLUSTER_SNAPSHOT, intended=intended, now=now)


class _RdsSnapshotAdapter(SharingAdapterBase):
    """What a DB snapshot's and a cluster snapshot's adapters share: the read around the type's describe calls, the
    tags, offline."""

    rds: RDSClient

    def read(self, ref: ResourceRef) -> SharingState | None:
        try:
            encryption = self._encryption(ref)
            listed = self._shared_with(ref) if encryption is not None else None
            if encryption is None or listed is None:
                return None
            tags = self.rds.list_tags_for_resource(ResourceName=ref.arn).get("TagList", [])
        except Exception as err:
            if error_code(err) in self.grammar.gone:
                return None
            raise
        encrypted, key = encryption
        named = {str(tag.get("Key")): str(tag.get("Value", "")) for tag in tags}
        return SharingState(ref.arn, ref.name, named, listed, encrypted, key)

    def _encryption(self, ref: ResourceRef) -> tuple[bool, str] | None:
        """(encrypted, its KMS key) of the snapshot; None when it no longer exists (the gone codes raise)."""
        raise NotImplementedError

    def offline(self, ref: ResourceRef, policy: Policy, tags: Mapping[str, str], attributes: Any) -> SharingState:
        """The `restore` values of `aws rds describe-db-snapshot-attributes` / `describe-db-cluster-snapshot-
        attributes` output (None: not given, shared with no one); encryption is not known offline."""
        if policy.get("Statement"):
            raise ValueError("a snapshot holds no policy: give its restore attribute")
        values = restore_from_api(attributes, self.resource_type, ref.name)
        return SharingState(ref.arn, ref.name, dict(tags), values or (), attribute_read=values is not None)


@dataclass(frozen=True)
class RdsDbSnapshotAdapter(_RdsSnapshotAdapter):
    """A manual RDS DB snapshot: the finding's accounts removed from its `restore` attribute."""

    rds: RDSClient
    grammar: ClassVar[Sharing] = DB_SNAPSHOT
    resource_type: str = RDS_DB_SNAPSHOT
    iam_actions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(_DB_SNAPSHOT_IAM_ACTIONS))
    # RDS documents no bound for an attribute change to show (seconds, in practice). Nothing waits on it: no Deny is
    # written, so the engine's ledger has no entry for a read to show; a stale read only repeats a removal.
    propagation_seconds: float = 5.0

    def _encryption(self, ref: ResourceRef) -> tuple[bool, str] | None:
        found = self.rds.describe_db_snapshots(DBSnapshotIdentifier=ref.name).get("DBSnapshots", [])
        if not found:
            return None
        return bool(found[0].get("Encrypted", False)), str(found[0].get("KmsKeyId", ""))

    def _shared_with(self, ref: ResourceRef) -> tuple[str, ...] | None:
        try:
            response = self.rds.describe_db_snapshot_attributes(DBSnapshotIdentifier=ref.name)
        except Exception as err:
            if error_code(err) in DB_SNAPSHOT.gone:
                return None
            raise
        return restore_values(response.get("DBSnapshotAttributesResult", {}), "DBSnapshotAttributes")

    def _modify(self, params: Mapping[str, Any]) -> None:
        self.rds.modify_db_snapshot_attribute(**params)


@dataclass(frozen=True)
class RdsClusterSnapshotAdapter(_RdsSnapshotAdapter):
    """A manual RDS DB cluster snapshot: the finding's accounts removed from its `restore` attribute."""

    rds: RDSClient
    grammar: ClassVar[Sharing] = CLUSTER_SNAPSHOT
    resource_type: str = RDS_CLUSTER_SNAPSHOT
    iam_actions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(_CLUSTER_SNAPSHOT_IAM_ACTIONS))
    propagation_seconds: float = 5.0  # as for a DB snapshot

    def _encryption(self, ref: ResourceRef) -> tuple[bool, str] | None:
        found = self.rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=ref.name).get(
            "DBClusterSnapshots", []
        )
        if not found:
            return None
        return bool(found[0].get("StorageEncrypted", False)), str(found[0].get("KmsKeyId", ""))

    def _shared_with(self, ref: ResourceRef) -> tuple[str, ...] | None:
        try:
            response = self.rds.describe_db_cluster_snapshot_attributes(DBClusterSnapshotIdentifier=ref.name)
        except Exception as err:
            if error_code(err) in CLUSTER_SNAPSHOT.gone:
                return None
            raise
        return restore_values(response.get("DBClusterSnapshotAttributesResult", {}), "DBClusterSnapshotAttributes")

    def _modify(self, params: Mapping[str, Any]) -> None:
        self.rds.modify_db_cluster_snapshot_attribute(**params)
