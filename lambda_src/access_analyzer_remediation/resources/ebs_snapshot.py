"""The EBS snapshot adapter: a snapshot holds no policy, so a finding is contained by removing the account it names
(or the group `all`: public) from the snapshot's createVolumePermission attribute (ModifySnapshotAttribute,
OperationType=remove), never by a Deny. What EBS and RDS snapshots share (the snapshot state, the plan, apply and
undo) lives here; rds_snapshot.py names RDS's calls.

Contain: each value of the attribute that the finding names (its account id; `all` for a public finding) is removed
by one call, a side change of a "remediate" plan whose document is the empty one the read made up (nothing is ever
written as a document: `changes` is empty and `write` refuses). Removing `all` leaves every explicitly listed
account sharing the snapshot: each such account outside the zone of trust has a finding of its own, which removes
it; the notice names them. Revert: `aa-remediate revert` reads the attribute again and adds the value back
(OperationType=add: the same IAM action, ec2:ModifySnapshotAttribute) unless it is listed already; every other
entry, those added since included, stays as it is.

Never removed, reported with the exact `aws ec2 modify-snapshot-attribute` command: an account of the zone of trust
or the allowlist (planner.screen); an account holding allowlisted principals (sharing is per account: a Deny could
spare one principal, a removal cannot); `all` while the zone of trust or the allowlist holds an account or an
organization that the attribute does not list explicitly (removing `all` would cut them off too, and the tool never
adds a share to make up for it). Notify mode: the commands, nothing changed.

Only reported, never changed: EBS snapshot Block Public Access (EnableSnapshotBlockPublicAccess) is a setting of the
account and Region, not of the snapshot: turning it on would change every snapshot there, so it is left as it is
(with `block-all-sharing` on, AWS still shows `all` in the attribute; removing it is harmless either way). The KMS
key of an encrypted snapshot is not changed either: an account the snapshot is shared with also needs the key (its
key policy or a grant) to use it; removing the share is what contains the finding. Encrypted snapshots cannot be
public, and those under the AWS managed key (aws/ebs) cannot be shared at all.

Reads: DescribeSnapshots (it exists, its owner, encryption and tags; InvalidSnapshot.NotFound: gone) and
DescribeSnapshotAttribute createVolumePermission.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from .. import planner
from ..clients import error_code
from ..findings import EBS_SNAPSHOT, NOUN_AND_DOCUMENT, Finding, ResourceRef
from ..planner import Plan, SideChange
from ..policy import ACCOUNT, POLICY_VERSION, PUBLIC, DenyTarget, Policy, Zone
from ..settings import ACCOUNT_ID_RE, Settings
from ..state import Intended
from . import Change, Rejection, TypeAdapterBase, guard_resource

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

RESOURCE_TYPE = EBS_SNAPSHOT
# Reasons of the snapshot types (metric dimensions and audit values, like planner's: keep them stable).
SHARING_REMOVED = "sharing_removed"
SHARING_SERVES_ZONE_OF_TRUST = "sharing_serves_zone_of_trust"
UNSUPPORTED_PRINCIPAL = "unsupported_principal"  # as policy.Unsupported names a principal no Deny can name
_IAM_ACTIONS = {
    "DescribeSnapshots": "ec2:DescribeSnapshots",
    "DescribeSnapshotAttribute": "ec2:DescribeSnapshotAttribute",
    "ModifySnapshotAttribute": "ec2:ModifySnapshotAttribute",
}
PUBLIC_VALUE = "all"  # the group (EBS) or attribute value (RDS) that shares a snapshot with every account
VOLUME_PERMISSION = "createVolumePermission"
# The parameters that name the one value a change removes or adds.
_VALUE_KEYS = ("UserIds", "GroupNames", "ValuesToRemove", "ValuesToAdd")
# How the AWS CLI spells each parameter of the calls in a notice's commands.
_CLI_FLAGS = {
    "SnapshotId": "--snapshot-id",
    "Attribute": "--attribute",
    "OperationType": "--operation-type",
    "UserIds": "--user-ids",
    "GroupNames": "--group-names",
    "DBSnapshotIdentifier": "--db-snapshot-identifier",
    "DBClusterSnapshotIdentifier": "--db-cluster-snapshot-identifier",
    "AttributeName": "--attribute-name",
    "ValuesToRemove": "--values-to-remove",
    "ValuesToAdd": "--values-to-add",
}
_PATTERN_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:(?:iam|sts)::([0-9*?]{1,12}):", re.ASCII)


def no_policy() -> Policy:
    """The document a snapshot's state carries: the engine plans on a document, and nothing is ever written to it."""
    return {"Version": POLICY_VERSION, "Statement": []}


@dataclass(frozen=True)
class SharingState:
    """A snapshot as its read APIs returned it: `shared_with` the attribute's values (account ids and `all`, in the
    service's order), its tags, whether it is encrypted (and under which KMS key), its owner ("" when not read).
    `attribute_read` is false offline without --attributes (taken as shared with no one)."""

    arn: str
    name: str
    tags: Mapping[str, str]
    shared_with: tuple[str, ...]
    encrypted: bool = False
    kms_key_id: str = ""
    owner: str = ""
    attribute_read: bool = True
    policy: Policy = field(default_factory=no_policy)

    def with_policy(self, policy: Policy) -> SharingState:
        return replace(self, policy=policy)


@dataclass(frozen=True)
class Sharing:
    """What differs between the snapshot types: the attribute, the one call that removes and adds a value, its
    parameters, its AWS CLI command, and the service's error codes."""

    resource_type: str
    attribute: str  # "createVolumePermission", "restore"
    api: str  # "ec2:ModifySnapshotAttribute"
    cli: str  # "aws ec2 modify-snapshot-attribute"
    # The call's parameters that remove (True) or add (False) one value of the attribute.
    params: Callable[[ResourceRef, str, bool], dict[str, Any]]
    gone: frozenset[str]  # the snapshot no longer exists
    refusals: frozenset[str]  # the service refuses the call for good (no retry makes it pass)

    @property
    def noun(self) -> str:
        return NOUN_AND_DOCUMENT[self.resource_type][0]

    @property
    def document(self) -> str:
        return NOUN_AND_DOCUMENT[self.resource_type][1]

    @property
    def operation(self) -> str:
        return self.api.split(":", 1)[1]

    def command(self, ref: ResourceRef, params: Mapping[str, Any]) -> str:
        """The AWS CLI command that makes the call with `params`."""
        words = [self.cli, *(["--region", ref.region] if ref.region else [])]
        for name, value in params.items():
            words.append(_CLI_FLAGS[name])
            words.extend(shlex.quote(str(item)) for item in (value if isinstance(value, list) else [value]))
        return " ".join(words)


def _ebs_params(ref: ResourceRef, value: str, remove: bool) -> dict[str, Any]:
    who = {"GroupNames": [PUBLIC_VALUE]} if value == PUBLIC_VALUE else {"UserIds": [value]}
    operation = "remove" if remove else "add"
    return {"SnapshotId": ref.name, "Attribute": VOLUME_PERMISSION, "OperationType": operation, **who}


EBS = Sharing(
    EBS_SNAPSHOT,
    VOLUME_PERMISSION,
    "ec2:ModifySnapshotAttribute",
    "aws ec2 modify-snapshot-attribute",
    _ebs_params,
    frozenset({"InvalidSnapshot.NotFound", "InvalidSnapshotID.Malformed"}),
    frozenset(
        {
            "UnauthorizedOperation",
            "AuthFailure",
            "OperationNotPermitted",
            "InvalidParameter",
            "InvalidParameterValue",
            "InvalidParameterCombination",
        }
    ),
)


def value_of(params: Mapping[str, Any]) -> str:
    """The one value a change's call removes or adds."""
    (value,) = [str(v) for key in _VALUE_KEYS for v in params.get(key, [])]
    return value


def _who(value: str) -> str:
    return "all (every AWS account: public)" if value == PUBLIC_VALUE else f"account {value}"


# -- the plan --------------------------------------------------------------------------------------------------------
def _pattern_account(pattern: str) -> str | None:
    match = _PATTERN_ACCOUNT.match(pattern)
    return match.group(1) if match else None


def cut_off(value: str, target: DenyTarget, snapshot: SharingState, zone: Zone, owner: str) -> list[str]:
    """Who the zone of trust or the allowlist holds that removing `value` would cut off as well. Sharing names
    accounts only: removing an account cuts off its allowlisted principals; removing `all` cuts off every trusted or
    allowlisted account the attribute does not list explicitly, and the trusted organization (its members are not
    known here). Nothing is ever shared to make up for it: the tool never grants access."""
    if value != PUBLIC_VALUE:
        return [f"allowlisted {pattern}" for pattern in zone.exclusions(target).principal_arns]
    listed = set(snapshot.shared_with) | {owner}
    beyond = [f"account {a}" for a in sorted(zone.account_ids - listed)]
    beyond += [f"organization {zone.org_id}"] if zone.org_id else []
    beyond += [f"allowlisted account {a}" for a in sorted(zone.allowed_accounts - listed - zone.account_ids)]
    return beyond + [
        f"allowlisted {pattern}"
        for pattern in zone.allowed_principal_patterns
        if _pattern_account(pattern) not in listed  # a pattern of no one account, or of one not listed
    ]


def _removal(grammar: Sharing, ref: ResourceRef, value: str) -> SideChange:
    return SideChange(
        f"{grammar.attribute}:{value}",
        f"removed {_who(value)} from the {grammar.document} of {grammar.noun} {ref.name}",
        {"api": grammar.api, "params": grammar.params(ref, value, True)},
        {"api": grammar.api, "params": grammar.params(ref, value, False)},
        f"adds {value} back (every other entry as it is then, those added since included; needs {grammar.api})",
    )


def _commands(grammar: Sharing, ref: ResourceRef, value: str) -> str:
    remove = grammar.command(ref, grammar.params(ref, value, True))
    add = grammar.command(ref, grammar.params(ref, value, False))
    return f"{_who(value)}: to remove it: {remove}; to add it back: {add}"


def _staying(grammar: Sharing, snapshot: SharingState, zone: Zone, removed: Sequence[str]) -> list[str]:
    """Notes on the accounts still listed once `all` is removed: each keeps its access until its own finding (or
    nothing, inside the zone of trust) removes it."""
    if PUBLIC_VALUE not in removed:
        return []
    notes = []
    for value in snapshot.shared_with:
        if value == PUBLIC_VALUE or value in removed:
            continue
        if value in zone.account_ids:
            notes.append(f"account {value} stays listed in the {grammar.document}: inside the zone of trust")
        elif zone.is_allowlisted(DenyTarget(ACCOUNT, value)):
            notes.append(f"account {value} stays listed in the {grammar.document}: allowlisted")
        else:
            notes.append(
                f"account {value} stays listed in the {grammar.document} (removing `all` does not remove it): it can"
                " still use the snapshot; its own finding removes it"
            )
    return notes


def _encryption(grammar: Sharing, snapshot: SharingState, removed: Sequence[str]) -> list[str]:
    accounts = [value for value in removed if value != PUBLIC_VALUE]
    if not snapshot.encrypted or not accounts:
        return []
    key = f"KMS key {snapshot.kms_key_id}" if snapshot.kms_key_id else "a KMS key"
    return [
        f"the {grammar.noun} is encrypted with {key}: what {', '.join(accounts)} may use of that key (its key policy"
        " or a grant) is not changed; removing the share is what contains this finding"
    ]


def plan_sharing(
    finding: Finding,
    snapshot: SharingState,
    settings: Settings,
    grammar: Sharing,
    *,
    intended: Sequence[Intended] = (),
    now: float = 0.0,
) -> Plan:
    """Pure: remove the attribute's values the finding names (each a side change with its exact undo), or why not."""
    ref = finding.resource
    noun, where = grammar.noun, f"the {grammar.document} of {grammar.noun} {ref.name}"
    guarded = guard_resource(ref, settings, finding.analyzer_arn, noun)
    if guarded is not None:
        return guarded
    if snapshot.owner and snapshot.owner != ref.account_id:
        return Plan(
            "notify",
            planner.CROSS_ACCOUNT_RESOURCE,
            f"{noun} {ref.name} is owned by account {snapshot.owner}, not {ref.account_id}: only its owner can change"
            " who it is shared with",
        )
    screened = planner.screen(finding, snapshot.tags, settings, intended=intended, now=now, noun=noun)
    if isinstance(screened, Plan):
        return screened
    notes = list(screened.notes)
    if not snapshot.attribute_read:
        notes.append(f"the {grammar.document} was not given (--attributes): taken as shared with no one")
    listed: list[tuple[str, list[str]]] = []  # (value, who else removing it cuts off: none)
    held: list[tuple[str, list[str]]] = []
    unsupported: list[str] = []
    for target in screened.targets:
        if target.kind not in (ACCOUNT, PUBLIC):
            unsupported.append(target.value)  # a principal, a provider: a snapshot is shared with accounts only
            continue
        value = PUBLIC_VALUE if target.kind == PUBLIC else target.value
        if value not in snapshot.shared_with:
            continue  # removed already (this tool, a redelivery, by hand): that access is gone
        spared = cut_off(value, target, snapshot, screened.zone, ref.account_id)
        (held if spared else listed).append((value, spared))
    commands = [_commands(grammar, ref, value) for value, _ in [*held, *listed]]
    if held:
        why = "; ".join(f"removing {value} would also cut off {', '.join(spared)}" for value, spared in held)
        # Once the accounts `all` serves are listed explicitly, `all` can go; an account's share cannot be split.
        advice = "list them explicitly first, or review by hand" if PUBLIC_VALUE in dict(held) else "review by hand"
        return Plan(
            "notify",
            SHARING_SERVES_ZONE_OF_TRUST,
            f"{where}: {why} (the zone of trust or the allowlist; no Deny can spare them on a {noun}): {advice}",
            notes=(*notes, *commands),
        )
    if unsupported and not listed:
        return Plan(
            "notify",
            UNSUPPORTED_PRINCIPAL,
            f"{where} shares with whole accounts, not with {', '.join(unsupported)}: removing an account would cut off"
            " more than the finding names; review by hand",
            notes=tuple(notes),
        )
    if not listed:
        who = ", ".join(PUBLIC_VALUE if t.kind == PUBLIC else t.value for t in screened.targets)
        return Plan("skip", planner.ALREADY_CONTAINED, f"{where} does not list {who}", notes=tuple(notes))
    values = [value for value, _ in listed]
    notes += _staying(grammar, snapshot, screened.zone, values) + _encryption(grammar, snapshot, values)
    what = f"{' and '.join(_who(value) for value in values)} from {where}"
    if settings.mode == "notify":
        return Plan("notify", planner.NOTIFY_MODE, f"would remove {what} (notify mode)", notes=(*notes, *commands))
    return Plan(
        "remediate",
        SHARING_REMOVED,
        f"removed {what}: a {noun} holds no policy a Deny could go into",
        policy_after=snapshot.policy,
        notes=tuple(notes),
        side_changes=tuple(_removal(grammar, ref, value) for value in values),
    )


def plan_ebs_snapshot(
    finding: Finding, snapshot: SharingState, settings: Settings, intended: Sequence[Intended] = (), now: float = 0.0
) -> Plan:
    return plan_sharing(finding, snapshot, settings, EBS, intended=intended, now=now)


# -- offline: the read APIs' output ----------------------------------------------------------------------------------
def volume_permissions_from_api(attributes: Any, snapshot_id: str) -> tuple[str, ...] | None:
    """The values of `aws ec2 describe-snapshot-attribute --attribute createVolumePermission` output (None: not
    given)."""
    if attributes is None:
        return None
    shape = 'not describe-snapshot-attribute output ({"CreateVolumePermissions": [{"UserId": ...} | {"Group": "all"}]})'
    if not isinstance(attributes, dict) or set(attributes) - {"SnapshotId", "CreateVolumePermissions"}:
        raise ValueError(shape)
    if attributes.get("SnapshotId", snapshot_id) != snapshot_id:
        raise ValueError(f"the attribute is of snapshot {attributes['SnapshotId']}, not {snapshot_id}")
    permissions = attributes.get("CreateVolumePermissions")
    if not isinstance(permissions, list):
        raise ValueError(shape)
    values = []
    for permission in permissions:
        value = _permission_value(permission)
        if value is None or set(permission) - {"UserId", "Group"}:
            raise ValueError(f"{shape}: {permission!r}")
        values.append(value)
    return tuple(values)


def _permission_value(permission: Any) -> str | None:
    """An account id (UserId) or `all` (Group), None for anything else."""
    if not isinstance(permission, Mapping):
        return None
    group, user = permission.get("Group"), permission.get("UserId")
    if group is not None:
        return PUBLIC_VALUE if group == PUBLIC_VALUE and user is None else None
    return user if isinstance(user, str) and ACCOUNT_ID_RE.match(user) else None


# -- the adapters ----------------------------------------------------------------------------------------------------
class SharingAdapterBase(TypeAdapterBase):
    """The part of a snapshot type's adapter that does not depend on the call names: the subclass reads the attribute
    (`_shared_with`) and makes the modify call (`_modify`) in its own file."""

    grammar: ClassVar[Sharing]

    def plan(
        self, finding: Finding, snapshot: SharingState, settings: Settings, intended: Sequence[Intended], now: float
    ) -> Plan:
        return plan_sharing(finding, snapshot, settings, self.grammar, intended=intended, now=now)

    def changes(self, ref: ResourceRef, document: Policy, planned_on: SharingState) -> list[Change]:
        return []  # nothing is written as a document: each removal is a side change of its plan

    def write(self, ref: ResourceRef, document: Policy, planned_on: SharingState) -> Rejection | None:
        raise ValueError(f"a {self.grammar.noun} holds no policy: {ref.name} is contained by its sharing attribute")

    def _shared_with(self, ref: ResourceRef) -> tuple[str, ...] | None:
        """The attribute's values as they are now; None when the snapshot no longer exists."""
        raise NotImplementedError

    def _modify(self, params: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def _checked(self, change: SideChange) -> str:
        grammar = self.grammar
        if change.do.get("api") != grammar.api or change.undo.get("api") != grammar.api:
            raise ValueError(f"not a side change of a {grammar.noun}: {change.key}")
        return value_of(change.do["params"])

    def apply(self, ref: ResourceRef, change: SideChange) -> str | None:
        """Remove the value. Idempotent: a value no longer listed is harmless to remove again (EC2 and RDS accept
        it; should a service refuse it, the attribute is read again and a value not listed is taken as removed)."""
        grammar, value = self.grammar, self._checked(change)
        try:
            self._modify(change.do["params"])
        except Exception as err:
            code = error_code(err)
            if code in grammar.gone:
                return None  # the snapshot is gone, and with it who it was shared with
            if code not in grammar.refusals:
                raise
            listed = self._shared_with(ref)
            if listed is None or value not in listed:
                return None
            return (
                f"{grammar.cli.split()[1].upper()} refused {grammar.operation} ({code}); to remove it by hand: "
                + grammar.command(ref, change.do["params"])
            )
        return None

    def undo(self, ref: ResourceRef, change: SideChange) -> str:
        """Add the value back, unless it is listed already; every other entry stays as it is now. A refusal raises
        ValueError with the command (the revert stops there, the operator decides)."""
        grammar, value = self.grammar, self._checked(change)
        where = f"the {grammar.document} of {grammar.noun} {ref.name}"
        listed = self._shared_with(ref)
        if listed is None:
            return f"{grammar.noun} {ref.name} no longer exists: {value} not added back"
        if value in listed:
            return f"{value} is in {where} already: none added"
        try:
            self._modify(change.undo["params"])
        except Exception as err:
            code = error_code(err)
            if code in grammar.gone:
                return f"{grammar.noun} {ref.name} no longer exists: {value} not added back"
            if code in grammar.refusals:
                raise ValueError(
                    f"{grammar.operation} refused to add {value} back to {where} ({code}); to add it by hand: "
                    + grammar.command(ref, change.undo["params"])
                ) from err
            raise
        return f"added {value} back to {where} ({grammar.operation}; every other entry as it is)"


@dataclass(frozen=True)
class EbsSnapshotAdapter(SharingAdapterBase):
    """An EBS snapshot: the finding's accounts removed from its createVolumePermission attribute."""

    ec2: EC2Client
    grammar: ClassVar[Sharing] = EBS
    resource_type: str = RESOURCE_TYPE
    iam_actions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(_IAM_ACTIONS))
    # EC2's reads are eventually consistent (seconds, no documented bound). Nothing waits on it: no Deny is written,
    # so the engine's ledger has no entry for a read to show; a stale read only makes a removal be made again.
    propagation_seconds: float = 5.0

    def read(self, ref: ResourceRef) -> SharingState | None:
        try:
            found = self.ec2.describe_snapshots(SnapshotIds=[ref.name]).get("Snapshots", [])
        except Exception as err:
            if error_code(err) in EBS.gone:
                return None
            raise
        listed = self._shared_with(ref) if found else None
        if not found or listed is None:
            return None
        snapshot = found[0]
        tags = {str(tag.get("Key")): str(tag.get("Value", "")) for tag in snapshot.get("Tags", [])}
        return SharingState(
            ref.arn,
            ref.name,
            tags,
            listed,
            bool(snapshot.get("Encrypted", False)),
            str(snapshot.get("KmsKeyId", "")),
            str(snapshot.get("OwnerId", "")),
        )

    def _shared_with(self, ref: ResourceRef) -> tuple[str, ...] | None:
        try:
            response = self.ec2.describe_snapshot_attribute(SnapshotId=ref.name, Attribute="createVolumePermission")
        except Exception as err:
            if error_code(err) in EBS.gone:
                return None
            raise
        values = (_permission_value(dict(p)) for p in response.get("CreateVolumePermissions", []))
        return tuple(value for value in values if value is not None)

    def _modify(self, params: Mapping[str, Any]) -> None:
        self.ec2.modify_snapshot_attribute(**params)

    def offline(self, ref: ResourceRef, policy: Policy, tags: Mapping[str, str], attributes: Any) -> SharingState:
        """The values of `aws ec2 describe-snapshot-attribute --attribute createVolumePermission` (None: not given,
        shared with no one); encryption is not known offline."""
        if policy.get("Statement"):
            raise ValueError("a snapshot holds no policy: give its createVolumePermission attribute")
        values = volume_permissions_from_api(attributes, ref.name)
        return SharingState(ref.arn, ref.name, dict(tags), values or (), attribute_read=values is not None)
