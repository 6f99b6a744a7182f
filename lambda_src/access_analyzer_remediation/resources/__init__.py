"""Containment adapters: one per Access Analyzer resource type, on one engine (docs/architecture.md, "Resource
types").

The engine (verification, lease, ledger, intent, records, outbox, digest, revert, sweep) never calls a service's
read or write API itself: it asks the adapter of the finding's `resourceType`. An adapter knows how to guard, read,
plan (a pure function) and write its resource, which IAM actions those calls need, and which `Resource` element its
policy statements carry. A type without an adapter is never changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar

if TYPE_CHECKING:
    from ..clients import AwsClients
    from ..findings import Finding, ResourceRef
    from ..planner import Decision, Plan, SideChange
    from ..policy import Policy
    from ..settings import Settings
    from ..state import Intended


class Snapshot(Protocol):
    """What an adapter's read returns: at least the resource's policy document (and how to swap it for a plan)."""

    @property
    def arn(self) -> str: ...

    @property
    def policy(self) -> Policy: ...

    def with_policy(self, policy: Policy) -> Self: ...


class Ref(Protocol):
    @property
    def arn(self) -> str: ...


RefT = TypeVar("RefT", bound=Ref)
SnapshotT = TypeVar("SnapshotT", bound=Snapshot)
# A permanent refusal of a write by the service: (decision, reason, message); the write is not retried.
Rejection = tuple["Decision", str, str]
# One write call exactly as the adapter makes it: {"api": "s3:PutBucketPolicy", "params": {...}}.
Change = dict[str, Any]


class Adapter(Protocol[RefT, SnapshotT]):
    """What the engine needs of one resource type: `RefT` names a resource, `read` returns a `SnapshotT`."""

    @property
    def resource_type(self) -> str: ...

    @property
    def document(self) -> str:
        """The document the tool's statements go into, as a notice names it ("trust policy", "bucket policy")."""
        ...

    def resources(self, ref: RefT) -> tuple[str, ...]:
        """The Resource element of the tool's statements on `ref` (none in a trust policy)."""
        ...

    @property
    def iam_actions(self) -> Mapping[str, str]:
        """API operation -> IAM action, for every call the adapter makes."""
        ...

    def ref(self, arn: str, owner_account: str) -> RefT:
        """The resource named by `arn` (MalformedEvent if it is not one of this type)."""
        ...

    def gone(self) -> Plan:
        """The plan for a resource the read no longer finds (a skip: nothing to contain)."""
        ...

    def guard(self, ref: RefT, settings: Settings, analyzer_arn: str) -> Plan | None:
        """A plan that changes nothing (protected, the tool's own, reserved), before any read; None to go on."""
        ...

    def read(self, ref: RefT) -> SnapshotT | None:
        """The resource as the service returns it now (eventually consistent); None when it no longer exists."""
        ...

    def plan(
        self, finding: Finding, snapshot: SnapshotT, settings: Settings, intended: Sequence[Intended], now: float
    ) -> Plan:
        """Pure: the decision for one finding on top of `snapshot`."""
        ...

    @property
    def propagation_seconds(self) -> float:
        """How long the service may go on returning the document as it was before a write (the engine's reads
        under a lease wait at least this long for its own writes to show before taking a read as the truth)."""
        ...

    def changes(self, ref: RefT, document: Policy, planned_on: SnapshotT) -> list[Change]:
        """Pure: the exact write calls that put `document` in place (what `write` makes, and `plan --json` shows);
        `planned_on` is the read the document was planned on (a conditional write names its revision)."""
        ...

    def write(self, ref: RefT, document: Policy, planned_on: SnapshotT) -> Rejection | None:
        """Write the planned document; a permanent refusal is returned, anything else raises (a retry; a
        conditional write the service refuses because the policy changed since `planned_on` raises Conflict)."""
        ...

    def offline(self, ref: RefT, policy: Policy, tags: Mapping[str, str], attributes: Any) -> SnapshotT:
        """Pure: the snapshot `aa-remediate plan` plans on: the policy and tags as given, `attributes` as the
        type's read APIs return them (None: not given, taken as none). ValueError when they are not that."""
        ...

    def apply(self, ref: RefT, change: SideChange) -> str | None:
        """Make a side change of a plan (idempotent: made again when an interrupted invocation's change is
        completed); a permanent refusal is returned as a message, anything else raises (a retry)."""
        ...

    def undo(self, ref: RefT, change: SideChange) -> str:
        """Undo a side change as far as it still holds (what changed since stays): what was done, as a record says
        it. Idempotent: a second revert finds it undone."""
        ...


def guard_resource(ref: ResourceRef, settings: Settings, analyzer_arn: str, noun: str) -> Plan | None:
    """The guardrails every resource other than a role shares, before any read: another account's resource (this
    cycle's credentials act in the analyzer's account, or in the member account whose role it assumed), the tool's
    own resources, protected resources."""
    from ..planner import CROSS_ACCOUNT_RESOURCE, OWN_RESOURCE, PROTECTED_RESOURCE, Plan

    analyzer_account = settings.member_account_id or analyzer_arn.split(":")[4]
    if ref.account_id != analyzer_account:
        return Plan(
            "notify",
            CROSS_ACCOUNT_RESOURCE,
            f"{noun} {ref.name} is in account {ref.account_id}, not {analyzer_account}: contain it from that account",
        )
    if ref.arn in settings.own_resource_arns:
        return Plan("notify", OWN_RESOURCE, f"{noun} {ref.name} is used by this tool's deployment: never modified")
    if ref.arn in settings.protected_resource_arns:
        return Plan(
            "notify",
            PROTECTED_RESOURCE,
            f"{noun} {ref.name} is a protected resource: never modified; review this access by hand",
        )
    return None


class Conflict(RuntimeError):
    """A conditional write lost: the service's policy changed since the read it was planned on. Nothing was
    written; the finding is retried on a fresh read."""


class TypeAdapterBase:
    """What every adapter of a type other than a role shares: its ARN as a reference, a resource the read no longer
    finds, the guardrails before any read, the names notices use. A subclass names `resource_type`."""

    resource_type: str

    @property
    def noun(self) -> str:
        from ..findings import NOUN_AND_DOCUMENT

        return NOUN_AND_DOCUMENT[self.resource_type][0]

    @property
    def document(self) -> str:
        from ..findings import NOUN_AND_DOCUMENT

        return NOUN_AND_DOCUMENT[self.resource_type][1]

    def ref(self, arn: str, owner_account: str) -> ResourceRef:
        from ..findings import ResourceRef

        return ResourceRef.parse(self.resource_type, arn, owner_account)

    def gone(self) -> Plan:
        from ..planner import RESOURCE_NOT_FOUND, Plan

        return Plan("skip", RESOURCE_NOT_FOUND, f"the {self.noun} no longer exists")

    def resources(self, ref: ResourceRef) -> tuple[str, ...]:
        return ()  # the Resource element of the tool's statements (none where no Deny is ever written)

    def guard(self, ref: ResourceRef, settings: Settings, analyzer_arn: str) -> Plan | None:
        return guard_resource(ref, settings, analyzer_arn, self.noun)


AdapterFactory = Callable[["AwsClients", str], "Adapter[Any, Any]"]


def registry() -> dict[str, AdapterFactory]:
    """Access Analyzer resourceType -> how to build its adapter from the clients and the finding's Region. A type
    not listed is never changed: its findings are reported."""
    from .. import findings as types

    return {
        types.IAM_ROLE: _iam_role,
        types.S3_BUCKET: _s3_bucket,
        types.KMS_KEY: _kms_key,
        types.SQS_QUEUE: _sqs_queue,
        types.SNS_TOPIC: _sns_topic,
        types.SECRETS_MANAGER_SECRET: _secret,
        types.ECR_REPOSITORY: _ecr_repository,
        types.EFS_FILE_SYSTEM: _efs_file_system,
        types.DYNAMODB_TABLE: _dynamodb_table,
        types.DYNAMODB_STREAM: _dynamodb_stream,
        types.S3_DIRECTORY_BUCKET: _s3_directory_bucket,
        types.LAMBDA_FUNCTION: _lambda_function,
        types.LAMBDA_LAYER_VERSION: _lambda_layer_version,
        types.EBS_SNAPSHOT: _ebs_snapshot,
        types.RDS_DB_SNAPSHOT: _rds_db_snapshot,
        types.RDS_CLUSTER_SNAPSHOT: _rds_cluster_snapshot,
    }


# Each adapter is imported when its type is first met: a batch of role findings never loads the S3 or KMS code.
def _iam_role(clients: AwsClients, region: str) -> Adapter[Any, Any]:
    from .iam_role import IamRoleAdapter

    return IamRoleAdapter(clients.iam())


def _s3_bucket(clients: AwsClients, region: str) -> Adapter[Any, Any]:
    from .s3_bucket import S3BucketAdapter

    return S3BucketAdapter(clients.s3(region))


def _kms_key(clients: AwsClients, region: str) -> Adapter[Any, Any]:
    from .kms_key import KmsKeyAdapter

    return KmsKeyAdapter(clients.kms(region))


def _sqs_queue(clients: AwsClients, region: str) -> Adapter[Any, Any]:
    from .sqs_queue import SqsQueueAdapter

    return SqsQueueAdapter(clients.sqs(region))


def _sns_topic(clients: AwsClients, region: str) -> Adapter[Any, Any]:
    from .sns_topic import SnsTopicAdapter

    return SnsTopicAdapter(clients.sns(region))


def _secret(clients: AwsClients, region: str) -> Adapter[Any, Any]:
    from .secret import SecretAdapter

    return SecretAdapter(clients.secretsmanager(region))


def _ecr_repository(clients: AwsClients, region: str) -> Adapter[Any, Any]:
    from .ecr_repository import EcrRepositoryAdapter

    return EcrRepositoryAdapter(clients.ecr(region))


def _efs_file_system(clients: AwsClients, region: str) -> Adapter[Any, Any]:
    from .efs_file_system import EfsFileSystemAdapter

    return EfsFileSystemAdapter(clients.efs(region))


def _dynamodb_table(clients: AwsClients, region: str) -> Adapter[Any, Any]:
    from .dynamodb_table import DynamoDbTableAdapter

    return DynamoDbTableAdapter(clients.dynamodb(region))


def _dynamodb_stream(clients: AwsClients, region: str) -> Adapter[Any, Any]:
    from .dynamodb_table import DynamoDbStreamAdapter

    return DynamoDbStreamAdapter(clients.dynamodb(region))


def _s3_directory_bucket(clients: AwsClients, region: str) -> Adapter[Any, Any]:
    from .s3_directory_bucket import S3DirectoryBucketAdapter

    return S3DirectoryBucketAdapter(clients.s3(region))


def _lambda_function(clients: AwsClients, region: str) -> Adapter[Any, Any]:
    from .lambda_function import LambdaFunctionAdapter

    return LambdaFunctionAdapter(clients.lambda_(region))


def _lambda_layer_version(clients: AwsClients, region: str) -> Adapter[Any, Any]:
    from .lambda_layer_version import LambdaLayerVersionAdapter

    return LambdaLayerVersionAdapter(clients.lambda_(region))


def _ebs_snapshot(clients: AwsClients, region: str) -> Adapter[Any, Any]:
    from .ebs_snapshot import EbsSnapshotAdapter

    return EbsSnapshotAdapter(clients.ec2(region))


def _rds_db_snapshot(clients: AwsClients, region: str) -> Adapter[Any, Any]:
    from .rds_snapshot import RdsDbSnapshotAdapter

    return RdsDbSnapshotAdapter(clients.rds(region))


def _rds_cluster_snapshot(clients: AwsClients, region: str) -> Adapter[Any, Any]:
    from .rds_snapshot import RdsClusterSnapshotAdapter

    return RdsClusterSnapshotAdapter(clients.rds(region))
