"""Access Analyzer events and findings: strict parsing into typed values.

An event only *claims* a finding. `FindingClaim` holds what the event says; the engine re-reads the finding with
GetFinding and acts on the re-read `Finding` alone (see engine.verify).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .settings import ANALYZER_ARN_RE

EVENT_SOURCE = "aws.access-analyzer"
EXTERNAL_ACCESS_DETAIL_TYPE = "Access Analyzer Finding"
# Other detail types Access Analyzer sends on the same bus: acknowledged, never acted on.
OTHER_DETAIL_TYPES = frozenset(
    {"Unused Access Finding for IAM entities", "Internal Access Finding", "Access Preview State Change"}
)
IAM_ROLE = "AWS::IAM::Role"
FINDING_STATUSES = frozenset({"ACTIVE", "ARCHIVED", "RESOLVED"})

ROLE_ARN_RE = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):role/(?P<path_and_name>[\w+=,.@/-]+)$", re.ASCII
)
FINDING_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$", re.ASCII)
ACTION_RE = re.compile(r"^[a-z0-9-]{1,64}:[A-Za-z0-9*?]{1,128}$", re.ASCII)
MAX_PRINCIPAL_ENTRIES = 20
MAX_PRINCIPAL_VALUE = 2048
MAX_ACTIONS = 50


class MalformedEvent(ValueError):
    """The input is not a well-formed Access Analyzer event. Never retried: it cannot get better."""


@dataclass(frozen=True)
class RoleRef:
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
class Finding:
    """An external-access finding on an IAM role, as returned by GetFinding (or claimed by an event)."""

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

    @property
    def role(self) -> RoleRef:
        return RoleRef.parse(self.resource_arn)

    @property
    def region(self) -> str:
        return self.analyzer_arn.split(":")[3]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Finding:
        """The inverse of `to_json` (a finding kept in an intent or an outbox notice)."""
        return finding_from_api(data, _text(data, "analyzerArn"))

    def to_json(self) -> dict[str, Any]:
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
        }


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
    if resource_type != IAM_ROLE:
        return Ignored("unsupported_resource_type", finding_id)
    claim = finding_from_api({**detail, "resourceType": resource_type}, analyzer_arn)
    return FindingRef(analyzer_arn, finding_id, claim)


def finding_from_api(data: Mapping[str, Any], analyzer_arn: str) -> Finding:
    """Parse a finding from an event `detail` or a GetFinding `finding`; raise MalformedEvent when invalid."""
    # IAM names and ARNs hold no whitespace: the AWS blog's sample event reads "role/ Audit_CrossAccountRole".
    resource_arn = re.sub(r"\s+", "", _text(data, "resource"))
    RoleRef.parse(resource_arn)
    return Finding(
        id=_finding_id(data.get("id")),
        analyzer_arn=analyzer_arn,
        resource_type=_text(data, "resourceType"),
        resource_arn=resource_arn,
        status=_text(data, "status"),
        principal=_principal(data.get("principal")),
        actions=_actions(data.get("action")),
        condition=_string_map(data.get("condition", {}), "condition"),
        is_public=_bool(data.get("isPublic", False), "isPublic"),
        resource_owner_account=_owner(data, resource_arn),
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


def _owner(data: Mapping[str, Any], resource_arn: str) -> str:
    # GetFinding returns resourceOwnerAccount; events carry accountId. Both must agree with the ARN.
    account = RoleRef.parse(resource_arn).account_id
    for key in ("resourceOwnerAccount", "accountId"):
        claimed = data.get(key)
        if claimed is not None and (not isinstance(claimed, str) or claimed.strip() != account):
            raise MalformedEvent(f"{key} does not match the resource ARN")
    return account
