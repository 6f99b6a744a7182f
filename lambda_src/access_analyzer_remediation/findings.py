"""Access Analyzer events and findings: strict parsing into typed values.

An event only *claims* a finding. `FindingClaim` holds what the event says; the engine re-reads the finding with
GetFinding and acts on the re-read `Finding` alone (see engine.verify).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .settings import ACCOUNT_ID_RE, ANALYZER_ARN_RE

EVENT_SOURCE = "aws.access-analyzer"
EXTERNAL_ACCESS_DETAIL_TYPE = "Access Analyzer Finding"
# Other detail types Access Analyzer sends on the same bus: acknowledged, never acted on.
OTHER_DETAIL_TYPES = frozenset(
    {"Unused Access Finding for IAM entities", "Internal Access Finding", "Access Preview State Change"}
)
IAM_ROLE = "AWS::IAM::Role"
S3_BUCKET = "AWS::S3::Bucket"
KMS_KEY = "AWS::KMS::Key"
SQS_QUEUE = "AWS::SQS::Queue"
SNS_TOPIC = "AWS::SNS::Topic"
SECRETS_MANAGER_SECRET = "AWS::SecretsManager::Secret"  # noqa: S105  (a resource type name, not a secret)
ECR_REPOSITORY = "AWS::ECR::Repository"
EFS_FILE_SYSTEM = "AWS::EFS::FileSystem"
DYNAMODB_TABLE = "AWS::DynamoDB::Table"
DYNAMODB_STREAM = "AWS::DynamoDB::Stream"
S3_DIRECTORY_BUCKET = "AWS::S3Express::DirectoryBucket"
LAMBDA_FUNCTION = "AWS::Lambda::Function"
LAMBDA_LAYER_VERSION = "AWS::Lambda::LayerVersion"
EBS_SNAPSHOT = "AWS::EC2::Snapshot"
RDS_DB_SNAPSHOT = "AWS::RDS::DBSnapshot"
RDS_CLUSTER_SNAPSHOT = "AWS::RDS::DBClusterSnapshot"
# Per contained type: what notices and the CLI call one resource, and the document the tool's statements go into
# (or, where the type holds no Deny, what the tool changes). The one table of these names (the adapters, notify and
# cli read it).
NOUN_AND_DOCUMENT = {
    IAM_ROLE: ("role", "trust policy"),
    S3_BUCKET: ("bucket", "bucket policy"),
    KMS_KEY: ("key", "key policy"),
    SQS_QUEUE: ("queue", "queue policy"),
    SNS_TOPIC: ("topic", "topic policy"),
    SECRETS_MANAGER_SECRET: ("secret", "secret's resource policy"),
    ECR_REPOSITORY: ("repository", "repository policy"),
    EFS_FILE_SYSTEM: ("file system", "file system policy"),
    DYNAMODB_TABLE: ("table", "table's resource policy"),
    DYNAMODB_STREAM: ("stream", "stream's resource policy"),
    S3_DIRECTORY_BUCKET: ("directory bucket", "bucket policy"),
    LAMBDA_FUNCTION: ("function", "function policy"),
    LAMBDA_LAYER_VERSION: ("layer version", "layer version policy"),
    EBS_SNAPSHOT: ("snapshot", "createVolumePermission attribute"),
    RDS_DB_SNAPSHOT: ("DB snapshot", "restore attribute"),
    RDS_CLUSTER_SNAPSHOT: ("DB cluster snapshot", "restore attribute"),
}
FINDING_STATUSES = frozenset({"ACTIVE", "ARCHIVED", "RESOLVED"})

ROLE_ARN_RE = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):role/(?P<path_and_name>[\w+=,.@/-]+)$", re.ASCII
)


class _LazyPatterns(Mapping[str, "re.Pattern[str]"]):
    """resource type -> its compiled ARN pattern (re.ASCII), compiled on first use. Compiling one twice on two
    threads at once is harmless: both are the same pattern."""

    def __init__(self, sources: Mapping[str, str]) -> None:
        self._sources = dict(sources)
        self._compiled: dict[str, re.Pattern[str]] = {}

    def __getitem__(self, resource_type: str) -> re.Pattern[str]:
        pattern = self._compiled.get(resource_type)
        if pattern is None:
            pattern = self._compiled[resource_type] = re.compile(self._sources[resource_type], re.ASCII)
        return pattern

    def __iter__(self) -> Iterator[str]:
        return iter(self._sources)

    def __len__(self) -> int:
        return len(self._sources)


_REGION_ACCOUNT = r"(?P<region>[a-z0-9-]{1,32}):(?P<account>\d{12})"
# The ARN of each contained type other than a role, `name` what the type's APIs call the resource. An EBS snapshot
# ARN names no account (the finding's resourceOwnerAccount does). Compiled when a type is first met
# (_LazyPatterns): a cold start meets one or two types, and compiling all 15 costs it about 6 ms.
_ARN_SOURCES = {
    S3_BUCKET: r"^arn:(?P<partition>aws[a-z-]*):s3:::(?P<name>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])$",
    KMS_KEY: (
        r"^arn:(?P<partition>aws[a-z-]*):kms:(?P<region>[a-z0-9-]{1,32}):(?P<account>\d{12}):key/(?P<name>[A-Za-z0-9-]{1,128})$"
    ),
    SQS_QUEUE: rf"^arn:(?P<partition>aws[a-z-]*):sqs:{_REGION_ACCOUNT}:(?P<name>[\w-]{{1,80}})$",
    SNS_TOPIC: rf"^arn:(?P<partition>aws[a-z-]*):sns:{_REGION_ACCOUNT}:(?P<name>[\w-]{{1,256}})$",
    SECRETS_MANAGER_SECRET: (
        rf"^arn:(?P<partition>aws[a-z-]*):secretsmanager:{_REGION_ACCOUNT}:secret:(?P<name>[\w/+=.@-]{{1,512}})$"
    ),
    ECR_REPOSITORY: (
        rf"^arn:(?P<partition>aws[a-z-]*):ecr:{_REGION_ACCOUNT}:repository/(?P<name>[a-z0-9][a-z0-9._/-]{{0,255}})$"
    ),
    EFS_FILE_SYSTEM: (
        rf"^arn:(?P<partition>aws[a-z-]*):elasticfilesystem:{_REGION_ACCOUNT}:file-system/(?P<name>fs-[0-9a-f]{{8,40}})$"
    ),
    DYNAMODB_TABLE: rf"^arn:(?P<partition>aws[a-z-]*):dynamodb:{_REGION_ACCOUNT}:table/(?P<name>[\w.-]{{3,255}})$",
    DYNAMODB_STREAM: (
        rf"^arn:(?P<partition>aws[a-z-]*):dynamodb:{_REGION_ACCOUNT}:table/(?P<name>[\w.-]{{3,255}}/stream/[\w:.-]{{1,64}})$"
    ),
    S3_DIRECTORY_BUCKET: (
        rf"^arn:(?P<partition>aws[a-z-]*):s3express:{_REGION_ACCOUNT}:bucket/(?P<name>[a-z0-9][a-z0-9-]{{1,61}}--[a-z0-9-]{{1,20}}--x-s3)$"
    ),
    LAMBDA_FUNCTION: (
        rf"^arn:(?P<partition>aws[a-z-]*):lambda:{_REGION_ACCOUNT}:function:(?P<name>[\w-]{{1,64}}(:[\w$-]{{1,128}})?)$"
    ),
    LAMBDA_LAYER_VERSION: (
        rf"^arn:(?P<partition>aws[a-z-]*):lambda:{_REGION_ACCOUNT}:layer:(?P<name>[\w-]{{1,140}}:\d{{1,10}})$"
    ),
    EBS_SNAPSHOT: (
        r"^arn:(?P<partition>aws[a-z-]*):ec2:(?P<region>[a-z0-9-]{1,32}):(?P<account>\d{12})?:snapshot/(?P<name>snap-[0-9a-f]{8,17})$"
    ),
    RDS_DB_SNAPSHOT: (
        rf"^arn:(?P<partition>aws[a-z-]*):rds:{_REGION_ACCOUNT}:snapshot:(?P<name>[A-Za-z][A-Za-z0-9:-]{{0,254}})$"
    ),
    RDS_CLUSTER_SNAPSHOT: (
        rf"^arn:(?P<partition>aws[a-z-]*):rds:{_REGION_ACCOUNT}:cluster-snapshot:(?P<name>[A-Za-z][A-Za-z0-9:-]{{0,254}})$"
    ),
}
ARN_PATTERNS: Mapping[str, re.Pattern[str]] = _LazyPatterns(_ARN_SOURCES)
# Any other resource type: an ARN with no whitespace (reported, never changed).
OTHER_ARN_RE = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):(?P<service>[a-z0-9-]{1,64}):(?P<region>[a-z0-9-]{0,32}):(?P<account>\d{12})?:\S+$",
    re.ASCII,
)
RESOURCE_TYPE_RE = re.compile(r"^AWS::[A-Za-z0-9]{1,64}::[A-Za-z0-9]{1,64}$", re.ASCII)
SOURCE_TYPE_RE = re.compile(r"^[A-Z0-9_]{1,64}$", re.ASCII)
FINDING_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$", re.ASCII)
ACTION_RE = re.compile(r"^[a-z0-9-]{1,64}:[A-Za-z0-9*?]{1,128}$", re.ASCII)
MAX_PRINCIPAL_ENTRIES = 20
MAX_PRINCIPAL_VALUE = 2048
MAX_ACTIONS = 50


class MalformedEvent(ValueError):
    """The input is not a well-formed Access Analyzer event. Never retried: it cannot get better."""


@dataclass(frozen=True)
class RoleRef:
    """An IAM role, parsed from its ARN."""

    arn: str
    partition: str
    account_id: str
    name: str
    path: str

    @classmethod
    def parse(cls, arn: str) -> RoleRef:
        match = ROLE_ARN_RE.match(arn)
        if not match:
            raise MalformedEvent(f"not an IAM role ARN: {arn[:200]!r}")
        path_and_name = match["path_and_name"]
        if "//" in path_and_name or path_and_name.endswith("/"):
            raise MalformedEvent(f"not an IAM role ARN: {arn[:200]!r}")
        path, _, name = path_and_name.rpartition("/")
        # RoleName is the LAST path segment: role/service-role/x -> x (not split("/")[1]).
        return cls(arn, match["partition"], match["account"], name, f"/{path}/" if path else "/")

    @property
    def is_service_linked(self) -> bool:
        return self.path.startswith("/aws-service-role/")


@dataclass(frozen=True)
class ResourceRef:
    """The resource a finding names, of any type. `account_id` is its owner: an S3 bucket ARN names no account, so
    the finding's resourceOwnerAccount does; `region` is empty where the ARN names none (IAM, S3)."""

    arn: str
    resource_type: str
    partition: str
    account_id: str
    name: str
    region: str = ""

    @classmethod
    def parse(cls, resource_type: str, arn: str, owner_account: str | None = None) -> ResourceRef:
        if resource_type == IAM_ROLE:
            role = RoleRef.parse(arn)
            return cls(arn, resource_type, role.partition, role.account_id, role.name)
        pattern = ARN_PATTERNS.get(resource_type, OTHER_ARN_RE)
        match = pattern.match(arn)
        if not match:
            raise MalformedEvent(f"not an ARN of a {resource_type[:60]}: {arn[:200]!r}")
        groups = match.groupdict()
        account = groups.get("account") or owner_account
        if not account or not ACCOUNT_ID_RE.match(account):
            raise MalformedEvent(f"no owner account for {arn[:200]!r}")
        name = groups.get("name") or arn.split(":", 5)[5]
        return cls(arn, resource_type, match["partition"], account, name, groups.get("region") or "")


def type_of_arn(arn: str) -> str:
    """The resource type of a resource this tool changes, from its ARN alone (a resource state names only the ARN)."""
    if ROLE_ARN_RE.match(arn):
        return IAM_ROLE
    matched = [resource_type for resource_type, pattern in ARN_PATTERNS.items() if pattern.match(arn)]
    if len(matched) == 1:
        return matched[0]
    raise MalformedEvent(f"not the ARN of a resource this tool changes: {arn[:200]!r}")


@dataclass(frozen=True)
class Source:
    """Where an S3 bucket finding's access comes from (GetFinding `sources`): POLICY, BUCKET_ACL, S3_ACCESS_POINT,
    S3_ACCESS_POINT_ACCOUNT; `detail` is the access point ARN or account, when given."""

    type: str
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        if not self.detail:
            return {"type": self.type}
        key = "accessPointAccount" if ACCOUNT_ID_RE.match(self.detail) else "accessPointArn"
        return {"type": self.type, "detail": {key: self.detail}}


@dataclass(frozen=True)
class Finding:
    """An external-access finding, as returned by GetFinding (or claimed by an event)."""

    id: str
    analyzer_arn: str
    resource_type: str
    resource_arn: str
    status: str
    principal: Mapping[str, str]
    actions: tuple[str, ...]
    condition: Mapping[str, str]
    is_public: bool
    resource_owner_account: str
    sources: tuple[Source, ...] = ()

    @property
    def role(self) -> RoleRef:
        return RoleRef.parse(self.resource_arn)

    @property
    def resource(self) -> ResourceRef:
        return ResourceRef.parse(self.resource_type, self.resource_arn, self.resource_owner_account)

    @property
    def region(self) -> str:
        return self.analyzer_arn.split(":")[3]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Finding:
        """The inverse of `to_json` (a finding kept in an intent or an outbox notice)."""
        return finding_from_api(data, _text(data, "analyzerArn"))

    def to_json(self) -> dict[str, Any]:
        sources = {"sources": [source.to_json() for source in self.sources]} if self.sources else {}
        return {
            "id": self.id,
            "analyzerArn": self.analyzer_arn,
            "resourceType": self.resource_type,
            "resource": self.resource_arn,
            "status": self.status,
            "principal": dict(self.principal),
            "action": list(self.actions),
            "condition": dict(self.condition),
            "isPublic": self.is_public,
            "resourceOwnerAccount": self.resource_owner_account,
        } | sources


@dataclass(frozen=True)
class FindingRef:
    """What to verify: an analyzer and a finding id, plus what the event claimed (None from sweep/CLI)."""

    analyzer_arn: str
    finding_id: str
    claim: Finding | None = None

    @property
    def region(self) -> str:
        return self.analyzer_arn.split(":")[3]


@dataclass(frozen=True)
class Ignored:
    """A well-formed event that needs no action (not ACTIVE, deleted, error finding, other type...)."""

    reason: str
    finding_id: str | None = None


VERIFY_ACTION = "verify"


def finding_reference(analyzer_arn: str, finding_id: str) -> dict[str, str]:
    """The body the sweep puts on the queue: a finding to verify, no claim."""
    return {"aar_action": VERIFY_ACTION, "analyzer_arn": analyzer_arn, "finding_id": finding_id}


def parse_message(body: object) -> FindingRef | Ignored:
    """An SQS message body: an EventBridge event, or a finding reference put on the queue by the sweep."""
    if isinstance(body, Mapping) and body.get("aar_action") == VERIFY_ACTION:
        if set(body) != {"aar_action", "analyzer_arn", "finding_id"}:
            raise MalformedEvent("a finding reference holds exactly aar_action, analyzer_arn and finding_id")
        return FindingRef(_analyzer_arn([body.get("analyzer_arn")]), _finding_id(body.get("finding_id")))
    return parse_event(body)


def parse_event(event: object) -> FindingRef | Ignored:
    """Validate an EventBridge event strictly; tolerate stray whitespace in ARNs and resourceType."""
    if not isinstance(event, Mapping):
        raise MalformedEvent("event is not a JSON object")
    if event.get("source") != EVENT_SOURCE:
        raise MalformedEvent(f"source is not {EVENT_SOURCE}")
    detail_type = event.get("detail-type")
    if isinstance(detail_type, str) and detail_type in OTHER_DETAIL_TYPES:  # a list or map is unhashable
        return Ignored("not_external_access")
    if detail_type != EXTERNAL_ACCESS_DETAIL_TYPE:
        raise MalformedEvent("detail-type is not an Access Analyzer finding")
    analyzer_arn = _analyzer_arn(event.get("resources"))
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise MalformedEvent("detail is not an object")
    finding_id = _finding_id(detail.get("id"))
    if "error" in detail:
        return Ignored("error_finding", finding_id)
    status = _text(detail, "status")
    if status not in FINDING_STATUSES:
        raise MalformedEvent(f"unknown finding status {status[:40]!r}")
    if detail.get("isDeleted", False) is not False:
        if detail.get("isDeleted") is True:
            return Ignored("deleted", finding_id)
        raise MalformedEvent("isDeleted is not a boolean")
    if status != "ACTIVE":
        return Ignored("not_active", finding_id)
    resource_type = _text(detail, "resourceType")
    claim = finding_from_api({**detail, "resourceType": resource_type}, analyzer_arn)
    return FindingRef(analyzer_arn, finding_id, claim)


def finding_from_api(data: Mapping[str, Any], analyzer_arn: str) -> Finding:
    """Parse a finding from an event `detail` or a GetFinding `finding`; raise MalformedEvent when invalid."""
    # ARNs hold no whitespace: the AWS blog's sample event reads "role/ Audit_CrossAccountRole".
    resource_arn = re.sub(r"\s+", "", _text(data, "resource"))
    resource_type = _text(data, "resourceType")
    if not RESOURCE_TYPE_RE.match(resource_type):
        raise MalformedEvent("resourceType is not a resource type name")
    return Finding(
        id=_finding_id(data.get("id")),
        analyzer_arn=analyzer_arn,
        resource_type=resource_type,
        resource_arn=resource_arn,
        status=_text(data, "status"),
        principal=_principal(data.get("principal")),
        actions=_actions(data.get("action")),
        condition=_string_map(data.get("condition", {}), "condition"),
        is_public=_bool(data.get("isPublic", False), "isPublic"),
        resource_owner_account=_owner(data, resource_type, resource_arn),
        sources=_sources(data.get("sources", [])),
    )


def _analyzer_arn(resources: object) -> str:
    if not isinstance(resources, list) or not resources or not isinstance(resources[0], str):
        raise MalformedEvent("resources[0] is not the analyzer ARN")
    arn = resources[0].strip()
    if not ANALYZER_ARN_RE.match(arn):
        raise MalformedEvent("resources[0] is not an analyzer ARN")
    return arn


def _finding_id(value: object) -> str:
    if not isinstance(value, str) or not FINDING_ID_RE.match(value.strip()):
        raise MalformedEvent("finding id is missing or invalid")
    return value.strip()


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > 2048:
        raise MalformedEvent(f"{key} is missing or not a string")
    return value.strip()


def _principal(value: object) -> dict[str, str]:
    principal = _string_map(value, "principal")
    if not principal:
        raise MalformedEvent("principal is empty")
    return principal


def _string_map(value: object, name: str) -> dict[str, str]:
    if not isinstance(value, Mapping) or len(value) > MAX_PRINCIPAL_ENTRIES:
        raise MalformedEvent(f"{name} is not a small string map")
    result: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str) or len(item) > MAX_PRINCIPAL_VALUE:
            raise MalformedEvent(f"{name} is not a string map")
        result[key.strip()] = item.strip()
    return result


def _actions(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or len(value) > MAX_ACTIONS:
        raise MalformedEvent("action is not a non-empty list")
    actions = set()
    for item in value:
        if not isinstance(item, str) or not ACTION_RE.match(item.strip()):
            raise MalformedEvent("action holds an invalid action name")
        actions.add(item.strip())
    return tuple(sorted(actions))


def _bool(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise MalformedEvent(f"{name} is not a boolean")
    return value


def _owner(data: Mapping[str, Any], resource_type: str, resource_arn: str) -> str:
    # GetFinding returns resourceOwnerAccount; events carry accountId. Both must agree with the ARN, and with each
    # other where the ARN names no account (S3).
    claims = {key: data.get(key) for key in ("resourceOwnerAccount", "accountId") if data.get(key) is not None}
    if any(not isinstance(claimed, str) for claimed in claims.values()):
        raise MalformedEvent("resourceOwnerAccount / accountId is not a string")
    named = {str(claimed).strip() for claimed in claims.values()}
    if len(named) > 1:
        raise MalformedEvent("resourceOwnerAccount and accountId disagree")
    account = ResourceRef.parse(resource_type, resource_arn, next(iter(named), None)).account_id
    if named and named != {account}:
        raise MalformedEvent(f"{next(iter(claims))} does not match the resource ARN")
    return account


def _sources(value: object) -> tuple[Source, ...]:
    if not isinstance(value, list) or len(value) > MAX_PRINCIPAL_ENTRIES:
        raise MalformedEvent("sources is not a small list")
    result = []
    for item in value:
        kind = item.get("type") if isinstance(item, Mapping) else None
        if not isinstance(kind, str) or not SOURCE_TYPE_RE.match(kind):
            raise MalformedEvent("sources holds an entry without a valid type")
        detail = item.get("detail") or {}
        if not isinstance(detail, Mapping):
            raise MalformedEvent("a source's detail is not an object")
        named = detail.get("accessPointArn") or detail.get("accessPointAccount") or ""
        if not isinstance(named, str) or len(named) > MAX_PRINCIPAL_VALUE or re.search(r"\s", named):
            raise MalformedEvent("a source's detail is not an ARN or account")
        result.append(Source(kind, named))
    return tuple(result)
