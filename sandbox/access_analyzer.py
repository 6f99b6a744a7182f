"""An IAM Access Analyzer STAND-IN: a test double for the sandbox, never part of the Lambda package.

moto 5.x has no Access Analyzer, and the remediation depends on it twice: it confirms every event with GetFinding
and it sweeps with ListFindingsV2. This module fills that gap with a small HTTP service on 127.0.0.1 that speaks
the real Access Analyzer REST-JSON protocol, so ``boto3.client("accessanalyzer", endpoint_url=standin.endpoint_url)``
works unchanged and the code under test cannot tell it from the service at the wire level:

- requests are routed by each operation's ``http.method`` + ``requestUri`` from botocore's service model, path /
  query / body members are read per the input shape, and the input is validated against the model (botocore's
  ParamValidator for required members, types and minimums, plus enum, pattern and maximum checks that the real
  service applies and botocore's client does not) -> ``ValidationException`` (HTTP 400, ``x-amzn-ErrorType``);
- responses are serialised per the output shape (timestamps as ISO-8601 strings, as the real service sends them)
  and validated against it, so a bug in the stand-in surfaces as an ``InternalServerException`` and in
  `AccessAnalyzerStandIn.internal_errors` instead of as a subtly wrong answer.

Findings come from the resources in moto, analysed per type by `sandbox.analysis` (this module only dispatches and
keeps the findings): IAM role trust policies (`AccessAnalyzerStandIn.analyze_roles`, `sandbox.analysis.iam_role`),
S3 general-purpose buckets, from their policy, ACL and Block Public Access (`AccessAnalyzerStandIn.analyze_buckets`,
`sandbox.analysis.s3_bucket`), and KMS keys, from their key policy and grants (`AccessAnalyzerStandIn.analyze_keys`,
`sandbox.analysis.kms_key`), and the types of `TYPE_ANALYSES` (`AccessAnalyzerStandIn.analyze_type`, one module
each: SQS queues, SNS topics, Secrets Manager secrets, ECR repositories, EFS file systems and DynamoDB tables from
their resource policies, Lambda functions and layer versions from theirs, EBS snapshots from
``createVolumePermission``, RDS DB and cluster snapshots from ``restore``; `sandbox.analysis.resource_policy`
describes what they share). `AccessAnalyzerStandIn.analyze` runs every type whose client is attached (``iam_client``,
``s3_client``, ``kms_client``, and `TYPE_CLIENTS`: ``sqs_client`` ... ``rds_client``), and ``StartResourceScan``
re-analyses the one resource it names when its type's client is attached. The analysis mimics an ACCOUNT analyzer whose
zone of trust is its account (optionally plus trusted accounts and an organization); the rules, a deliberately small
model of the real analyzer and not a reimplementation of IAM policy evaluation, are in each module's docstring. A
re-analysis resolves the finding of access that is gone, opens one for new access, and resolves and re-opens one
whose actions, conditions or sources changed.

Every created or changed finding becomes an "Access Analyzer Finding" event (`build_finding_event`), kept in
`AccessAnalyzerStandIn.emitted_events` and, when an EventBridge client is attached, put on the default bus with
``Source="aws.access-analyzer"``. The real EventBridge refuses ``aws.*`` sources from PutEvents
(NotAuthorizedForSourceException); moto 5.2.5 accepts them and routes the event through its rules like any other,
which is exactly what an integration test needs.

Authorization: by default every request is served, as moto serves requests while its IAM enforcement is off. Set
`AccessAnalyzerStandIn.authorizer` to a callable taking an `AuthorizationRequest` (the IAM action, e.g.
``access-analyzer:ListFindings`` for ListFindingsV2, the analyzer ARN it acts on and the caller's access key id) and
raising PermissionError to refuse it: the caller then gets ``AccessDeniedException`` (HTTP 403), as from the real
service. The signature itself is not verified.

Policy checks: ``ValidatePolicy``, ``CheckNoNewAccess`` and ``CheckNoPublicAccess`` answer from
`sandbox.analysis.checks`, a sound model (a check FAILs where the model cannot tell) whose public-access verdict is
the type analyses' own; StartResourceScan refuses an analyzer that is not an external-access one and an ARN of a type
external access analyzers do not analyse (ValidationException; the service's exact answer is unconfirmed).

Regions: one stand-in is one Region's service. `AccessAnalyzerStandIn.serve_region` puts another Region's stand-in
behind the same endpoint, answering the requests signed for its Region (the sandbox has one endpoint variable).

Test hooks: `AccessAnalyzerStandIn.fail_next` (fault injection), `AccessAnalyzerStandIn.calls` (a Counter of
requests per operation, retries included), `AccessAnalyzerStandIn.request_log`, `AccessAnalyzerStandIn.add_finding`
and `AccessAnalyzerStandIn.delete_finding`.
"""

from __future__ import annotations

import base64
import binascii
import collections
import contextlib
import hashlib
import json
import logging
import re
import socket
import threading
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import botocore.session
from botocore.exceptions import ClientError
from botocore.model import OperationModel, ServiceModel, Shape, StructureShape
from botocore.validate import ParamValidator

from sandbox.analysis import ResourceAccess
from sandbox.analysis import checks as _checks
from sandbox.analysis import dynamodb_table as _dynamodb_table
from sandbox.analysis import ebs_snapshot as _ebs_snapshot
from sandbox.analysis import ecr_repository as _ecr_repository
from sandbox.analysis import efs_file_system as _efs_file_system
from sandbox.analysis import iam_role as _iam_role
from sandbox.analysis import kms_key as _kms_key
from sandbox.analysis import lambda_function as _lambda_function
from sandbox.analysis import rds_snapshot as _rds_snapshot
from sandbox.analysis import s3_bucket as _s3_bucket
from sandbox.analysis import secret as _secret
from sandbox.analysis import sns_topic as _sns_topic
from sandbox.analysis import sqs_queue as _sqs_queue
from sandbox.analysis.iam_role import _account_of
from sandbox.analysis.resource_policy import Analysis, ZoneOf

SERVICE_NAME = "accessanalyzer"
EVENT_SOURCE = "aws.access-analyzer"
FINDING_DETAIL_TYPE = "Access Analyzer Finding"
IAM_ROLE = "AWS::IAM::Role"
S3_BUCKET = _s3_bucket.RESOURCE_TYPE
KMS_KEY = _kms_key.RESOURCE_TYPE
SQS_QUEUE = _sqs_queue.RESOURCE_TYPE
SNS_TOPIC = _sns_topic.RESOURCE_TYPE
SECRETS_MANAGER_SECRET = _secret.RESOURCE_TYPE
ECR_REPOSITORY = _ecr_repository.RESOURCE_TYPE
EFS_FILE_SYSTEM = _efs_file_system.RESOURCE_TYPE
DYNAMODB_TABLE = _dynamodb_table.RESOURCE_TYPE
LAMBDA_FUNCTION = _lambda_function.FUNCTION_TYPE
LAMBDA_LAYER_VERSION = _lambda_function.LAYER_VERSION_TYPE
EBS_SNAPSHOT = _ebs_snapshot.RESOURCE_TYPE
RDS_DB_SNAPSHOT = _rds_snapshot.DB_SNAPSHOT_TYPE
RDS_CLUSTER_SNAPSHOT = _rds_snapshot.CLUSTER_SNAPSHOT_TYPE
DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account: the roles the stand-in analyses live there
DEFAULT_REGION = "us-east-1"
DEFAULT_ANALYZER_NAME = "sandbox-analyzer"
EXTERNAL_ACCESS_TYPES = frozenset({"ACCOUNT", "ORGANIZATION"})

# The role trust-policy model lives in sandbox.analysis.iam_role; its public names stay importable from here.
TrustZone = _iam_role.TrustZone
RoleAccess = _iam_role.RoleAccess
compute_role_access = _iam_role.compute_role_access
ASSUME_ROLE = _iam_role.ASSUME_ROLE
ASSUME_ROLE_WITH_SAML = _iam_role.ASSUME_ROLE_WITH_SAML
ASSUME_ROLE_WITH_WEB_IDENTITY = _iam_role.ASSUME_ROLE_WITH_WEB_IDENTITY
ASSUME_ACTIONS = _iam_role.ASSUME_ACTIONS

_LOG = logging.getLogger(__name__)
_DEFAULT_PAGE_SIZE = 100
# Filter keys the real ListFindings/ListFindingsV2/archive rules accept, besides principal.* and condition.*.
_FILTER_KEYS = frozenset(
    {"id", "status", "resource", "resourceType", "resourceOwnerAccount", "isPublic", "action", "error", "findingType"}
)
_SORT_KEYS = frozenset(
    {"id", "status", "resource", "resourceType", "resourceOwnerAccount", "createdAt", "analyzedAt", "updatedAt"}
)


# ====================================================================================================== time
def utc_now() -> datetime:
    """Now, in UTC, at millisecond precision (what the real service reports and ISO strings round-trip)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def iso_timestamp(value: datetime | str) -> str:
    """ISO-8601 with milliseconds and ``Z``, e.g. ``2024-07-22T10:09:03.496Z`` (as in real finding events)."""
    if isinstance(value, str):
        return value
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _event_time(value: datetime | str) -> str:
    """EventBridge's top-level ``time``: whole seconds, ``2019-11-21T01:22:33Z``."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


# ====================================================================================================== errors
class ServiceError(Exception):
    """An Access Analyzer error response: code (``x-amzn-ErrorType``), HTTP status and modelled body fields."""

    def __init__(self, code: str, message: str, status: int = 400, **fields: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.fields = fields
        self.headers: dict[str, str] = {}


def _validation_error(
    message: str, reason: str = "fieldValidationFailed", fields: Sequence[dict[str, str]] = ()
) -> ServiceError:
    return ServiceError("ValidationException", message, 400, reason=reason, fieldList=list(fields))


def _not_found(resource_type: str, resource_id: str) -> ServiceError:
    return ServiceError(
        "ResourceNotFoundException",
        f"{resource_type} {resource_id} not found",
        404,
        resourceId=resource_id,
        resourceType=resource_type,
    )


# ====================================================================================================== findings
@dataclass
class StoredFinding:
    """A finding as the stand-in keeps it (``principal`` etc. are None for error findings)."""

    id: str
    analyzer_arn: str
    resource: str
    resource_type: str
    resource_owner_account: str
    status: str
    created_at: datetime
    analyzed_at: datetime
    updated_at: datetime
    principal: dict[str, str] | None = None
    action: list[str] | None = None
    condition: dict[str, str] | None = None
    is_public: bool | None = None
    error: str | None = None
    signature: Any = None  # RoleAccess / ResourceAccess .signature() for analysed findings
    # The finding's `sources` types: POLICY for roles (as the stand-in always reported them) and by default, POLICY
    # and/or BUCKET_ACL for analysed S3 buckets, None (no `sources` member) for analysed KMS keys.
    sources: list[str] | None = field(default_factory=lambda: ["POLICY"])

    @property
    def key(self) -> tuple[str, str] | None:
        """(principal kind, value) for access findings."""
        if not self.principal:
            return None
        return next(iter(self.principal.items()))

    def to_api(self) -> dict[str, Any]:
        """The ``Finding`` / ``FindingSummary`` structure (datetimes; the wire layer formats them)."""
        data: dict[str, Any] = {
            "id": self.id,
            "resource": self.resource,
            "resourceType": self.resource_type,
            "condition": dict(self.condition or {}),
            "createdAt": self.created_at,
            "analyzedAt": self.analyzed_at,
            "updatedAt": self.updated_at,
            "status": self.status,
            "resourceOwnerAccount": self.resource_owner_account,
        }
        if self.error is not None:
            data["error"] = self.error
        else:
            data["principal"] = dict(self.principal or {})
            data["action"] = list(self.action or [])
            data["isPublic"] = bool(self.is_public)
            if self.sources is not None:
                data["sources"] = [{"type": source} for source in self.sources]
        return data

    def to_api_v2(self) -> dict[str, Any]:
        """The ``FindingSummaryV2`` structure."""
        data: dict[str, Any] = {
            "id": self.id,
            "resource": self.resource,
            "resourceType": self.resource_type,
            "createdAt": self.created_at,
            "analyzedAt": self.analyzed_at,
            "updatedAt": self.updated_at,
            "status": self.status,
            "resourceOwnerAccount": self.resource_owner_account,
            "findingType": "ExternalAccess",
        }
        if self.error is not None:
            data["error"] = self.error
        return data


@dataclass
class ArchiveRule:
    """A stored archive rule: its filter archives matching NEW findings (and existing ones on ApplyArchiveRule)."""

    rule_name: str
    filter: dict[str, dict[str, Any]]
    created_at: datetime
    updated_at: datetime

    def to_api(self) -> dict[str, Any]:
        """The ``ArchiveRuleSummary`` structure."""
        return {
            "ruleName": self.rule_name,
            "filter": self.filter,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }


@dataclass
class Analyzer:
    """One analyzer, its findings (by id) and archive rules (by name)."""

    name: str
    arn: str
    type: str
    created_at: datetime
    tags: dict[str, str] = field(default_factory=dict)
    findings: dict[str, StoredFinding] = field(default_factory=dict)
    archive_rules: dict[str, ArchiveRule] = field(default_factory=dict)
    last_resource_analyzed: str | None = None
    last_resource_analyzed_at: datetime | None = None

    def to_api(self) -> dict[str, Any]:
        """The ``AnalyzerSummary`` structure."""
        data: dict[str, Any] = {
            "arn": self.arn,
            "name": self.name,
            "type": self.type,
            "createdAt": self.created_at,
            "status": "ACTIVE",
            "tags": dict(self.tags),
        }
        if self.last_resource_analyzed:
            data["lastResourceAnalyzed"] = self.last_resource_analyzed
            data["lastResourceAnalyzedAt"] = self.last_resource_analyzed_at
        return data


def _finding_attribute(finding: Mapping[str, Any], key: str) -> list[str] | None:
    """The values a filter key sees on a finding (API shape); None when the attribute is absent."""
    if key.startswith(("principal.", "condition.")):
        container, _, sub = key.partition(".")
        mapping = finding.get(container) or {}
        return [str(mapping[sub])] if sub in mapping else None
    if key == "findingType":
        return ["ExternalAccess"]
    if key not in finding:
        return None
    value = finding[key]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def criterion_matches(values: list[str] | None, criterion: Mapping[str, Any]) -> bool:
    """Access Analyzer filter semantics for one key: every operator given must hold.

    ``eq``: some value equals one of the criterion values; ``neq``: none does (an absent attribute matches);
    ``contains``: some value contains one of the criterion values; ``exists``: presence equals the flag.
    """
    if "exists" in criterion and bool(criterion["exists"]) != (values is not None):
        return False
    if "eq" in criterion and not (values and set(values) & set(criterion["eq"])):
        return False
    if "neq" in criterion and values and set(values) & set(criterion["neq"]):
        return False
    return not ("contains" in criterion and not (values and any(c in v for v in values for c in criterion["contains"])))


def filter_matches(finding: Mapping[str, Any], criteria: Mapping[str, Mapping[str, Any]]) -> bool:
    """True when an API-shaped finding satisfies every criterion of a ListFindings / archive-rule filter."""
    return all(criterion_matches(_finding_attribute(finding, key), c) for key, c in criteria.items())


def _check_filter(criteria: Mapping[str, Mapping[str, Any]] | None) -> None:
    for key, criterion in (criteria or {}).items():
        if key not in _FILTER_KEYS and not key.startswith(("principal.", "condition.")):
            raise _validation_error(f"Invalid filter key: {key}", fields=[{"name": "filter", "message": key}])
        if not criterion:
            raise _validation_error(f"Filter criterion for {key} is empty", fields=[{"name": "filter", "message": key}])


# ====================================================================================================== events
def build_finding_event(
    finding: Mapping[str, Any],
    analyzer_arn: str,
    region: str,
    account: str,
    *,
    is_deleted: bool = False,
    event_id: str | None = None,
    event_time: datetime | str | None = None,
) -> dict[str, Any]:
    """The EventBridge event Access Analyzer sends for a finding (IAM User Guide, access-analyzer-eventbridge).

    `finding` is a GetFinding ``finding`` (timestamps as datetimes or ISO strings). ``detail.id`` is the finding
    id, the top-level ``id`` the event's own; ``resources`` is ``[analyzer ARN]``; ``detail.accountId`` is the
    resource owner. Error findings carry ``error`` and no principal/action/condition/isPublic.
    """
    detail: dict[str, Any] = {
        "version": "1.0",
        "id": finding["id"],
        "status": finding["status"],
        "resourceType": finding["resourceType"],
        "resource": finding["resource"],
        "createdAt": iso_timestamp(finding["createdAt"]),
        "analyzedAt": iso_timestamp(finding["analyzedAt"]),
        "updatedAt": iso_timestamp(finding["updatedAt"]),
        "accountId": finding.get("resourceOwnerAccount", account),
        "region": region,
    }
    if finding.get("error"):
        detail["error"] = finding["error"]
    else:
        detail["principal"] = dict(finding.get("principal") or {})
        detail["action"] = list(finding.get("action") or [])
        detail["condition"] = dict(finding.get("condition") or {})
        detail["isPublic"] = bool(finding.get("isPublic", False))
    detail["isDeleted"] = is_deleted
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": FINDING_DETAIL_TYPE,
        "source": EVENT_SOURCE,
        "account": account,
        "time": _event_time(event_time if event_time is not None else finding["updatedAt"]),
        "region": region,
        "resources": [analyzer_arn],
        "detail": detail,
    }


def put_finding_events(events_client: Any, events: Sequence[Mapping[str, Any]]) -> None:
    """PutEvents on the default bus, 10 per call, keeping source/detail-type/resources/time of each event.

    Raises RuntimeError if EventBridge rejects any entry (moto accepts ``aws.*`` sources; real AWS would not).
    """
    for start in range(0, len(events), 10):
        entries = [
            {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"]),
                "Resources": list(event["resources"]),
                "Time": datetime.fromisoformat(event["time"].replace("Z", "+00:00")),
            }
            for event in events[start : start + 10]
        ]
        response = events_client.put_events(Entries=entries)
        if response.get("FailedEntryCount"):
            failed = [e for e in response.get("Entries", []) if e.get("ErrorCode")]
            raise RuntimeError(f"EventBridge rejected {len(failed)} Access Analyzer event(s): {failed[:3]}")


# ====================================================================================================== wire protocol
@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    operation: OperationModel


def _compile_routes(model: ServiceModel) -> list[_Route]:
    """One regex per operation from its requestUri template: ``/finding/{id}`` -> ``^/finding/(?P<id>[^/]+)$``."""
    routes = []
    for name in model.operation_names:
        operation = model.operation_model(name)
        template = operation.http["requestUri"].split("?", 1)[0]
        regex = ""
        for part in re.split(r"(\{[^}]+\})", template):
            if part.startswith("{"):
                label = part[1:-1]
                greedy = label.endswith("+")
                label = label.rstrip("+")
                regex += f"(?P<{re.sub(r'[^0-9A-Za-z_]', '_', label)}>{'.+' if greedy else '[^/]+'})"
            else:
                regex += re.escape(part)
        routes.append(_Route(operation.http["method"], re.compile(f"^{regex.rstrip('/') or '/'}/?$"), operation))
    return routes


def _parse_timestamp(value: Any) -> datetime:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _from_wire(shape: Shape, value: Any) -> Any:
    """JSON/query value -> the Python value botocore's validator expects (timestamps, blobs, numbers)."""
    if value is None:
        return None
    kind = shape.type_name
    try:
        if kind == "structure" and isinstance(value, Mapping):
            members = shape.members  # type: ignore[attr-defined]
            return {k: (_from_wire(members[k], v) if k in members else v) for k, v in value.items()}
        if kind == "list" and isinstance(value, list):
            return [_from_wire(shape.member, v) for v in value]  # type: ignore[attr-defined]
        if kind == "map" and isinstance(value, Mapping):
            return {k: _from_wire(shape.value, v) for k, v in value.items()}  # type: ignore[attr-defined]
        if kind == "timestamp":
            return _parse_timestamp(value)
        if kind == "blob" and isinstance(value, str):
            return base64.b64decode(value, validate=True)
        if kind in ("integer", "long") and isinstance(value, str):
            return int(value)
        if kind in ("float", "double") and isinstance(value, str):
            return float(value)
        if kind == "boolean" and isinstance(value, str):
            return {"true": True, "false": False}[value.lower()]
    except (ValueError, KeyError, binascii.Error) as error:
        raise _validation_error(f"Could not parse {value!r} as {kind}", reason="cannotParse") from error
    return value


def _to_wire(shape: Shape, value: Any) -> Any:
    """Python value -> JSON value per the output shape (timestamps per timestampFormat, default ISO-8601)."""
    kind = shape.type_name
    if kind == "structure":
        members = shape.members  # type: ignore[attr-defined]
        return {
            members[k].serialization.get("name", k): _to_wire(members[k], v)
            for k, v in value.items()
            if v is not None and k in members and not members[k].serialization.get("location")
        }
    if kind == "list":
        return [_to_wire(shape.member, v) for v in value]  # type: ignore[attr-defined]
    if kind == "map":
        return {k: _to_wire(shape.value, v) for k, v in value.items()}  # type: ignore[attr-defined]
    if kind == "timestamp":
        fmt = shape.serialization.get("timestampFormat", "iso8601")
        moment = _parse_timestamp(value) if not isinstance(value, datetime) else value
        return moment.timestamp() if fmt == "unixTimestamp" else iso_timestamp(moment)
    if kind == "blob":
        return base64.b64encode(value).decode("ascii")
    return value


def _drop_none(value: Any) -> Any:
    """Absent, not null: the service omits members it has no value for."""
    if isinstance(value, Mapping):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def _check_constraints(value: Any, shape: Shape, path: str, errors: list[dict[str, str]]) -> None:
    """What the real service validates and botocore's ParamValidator does not: enum, pattern, max."""
    if value is None:
        return
    meta = shape.metadata
    kind = shape.type_name
    if kind == "string" and isinstance(value, str):
        if meta.get("enum") and value not in meta["enum"]:
            errors.append({"name": path, "message": f"Member must satisfy enum value set: {meta['enum']}"})
        pattern = meta.get("pattern")
        if pattern:
            with contextlib.suppress(re.error):
                if not re.fullmatch(pattern, value, flags=re.DOTALL):
                    errors.append(
                        {"name": path, "message": f"Member must satisfy regular expression pattern: {pattern}"}
                    )
        if "max" in meta and len(value) > meta["max"]:
            errors.append({"name": path, "message": f"Member must have length less than or equal to {meta['max']}"})
    elif kind in ("integer", "long") and isinstance(value, int):
        if "max" in meta and value > meta["max"]:
            errors.append({"name": path, "message": f"Member must have value less than or equal to {meta['max']}"})
    elif kind == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            errors.append({"name": path, "message": f"Member must have length less than or equal to {meta['max']}"})
        for index, item in enumerate(value):
            _check_constraints(item, shape.member, f"{path}.{index + 1}", errors)  # type: ignore[attr-defined]
    elif kind == "map" and isinstance(value, Mapping):
        if "max" in meta and len(value) > meta["max"]:
            errors.append({"name": path, "message": f"Member must have length less than or equal to {meta['max']}"})
        for key, item in value.items():
            _check_constraints(key, shape.key, f"{path}.key", errors)  # type: ignore[attr-defined]
            _check_constraints(item, shape.value, f"{path}.{key}", errors)  # type: ignore[attr-defined]
    elif kind == "structure" and isinstance(value, Mapping):
        members = shape.members  # type: ignore[attr-defined]
        for key, item in value.items():
            if key in members:
                _check_constraints(item, members[key], f"{path}.{key}" if path else key, errors)


def validate_input(operation: OperationModel, params: Mapping[str, Any]) -> None:
    """Reject `params` the way the service would: ValidationException with one message per bad field."""
    shape = operation.input_shape
    if shape is None:
        return
    report = ParamValidator().validate(dict(params), shape)
    if report.has_errors():
        raise _validation_error(report.generate_report(), fields=[{"name": operation.name, "message": "invalid input"}])
    problems: list[dict[str, str]] = []
    _check_constraints(params, shape, "", problems)
    if problems:
        details = "; ".join(f"Value at '{p['name']}' failed to satisfy constraint: {p['message']}" for p in problems)
        raise _validation_error(f"{len(problems)} validation error(s) detected: {details}", fields=problems)


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that can close idle keep-alive connections, so stop() leaves no thread behind."""

    daemon_threads = False
    block_on_close = True
    request_queue_size = 128  # a burst of new connections must queue, not be dropped (a SYN retried after 1 s)

    def __init__(self, address: tuple[str, int], standin: AccessAnalyzerStandIn) -> None:
        self.standin = standin
        self.open_connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore expects
    # Small responses on a keep-alive connection otherwise wait for the client's delayed ACK (~40 ms a call).
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.open_connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.open_connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        _LOG.debug("access-analyzer stand-in: " + format, *args)

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self.server.standin.handle_http(self.command, self.path, dict(self.headers), body)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _dispatch


# ====================================================================================================== the stand-in
def _bucket_names(s3: Any) -> list[str]:
    """Every bucket name ListBuckets returns (following ContinuationToken)."""
    names: list[str] = []
    token: str | None = None
    while True:
        response = s3.list_buckets(**({"ContinuationToken": token} if token else {}))
        names.extend(str(bucket["Name"]) for bucket in response.get("Buckets", []))
        token = response.get("ContinuationToken")
        if not token:
            return names


@dataclass(frozen=True)
class AnalysisResult:
    """What one analysis run changed: finding ids created and resolved, and events emitted."""

    created: tuple[str, ...] = ()
    resolved: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    events: tuple[dict[str, Any], ...] = ()

    def __add__(self, other: AnalysisResult) -> AnalysisResult:
        return AnalysisResult(
            self.created + other.created,
            self.resolved + other.resolved,
            self.unchanged + other.unchanged,
            self.events + other.events,
        )


def _finding_sources(access: RoleAccess | ResourceAccess) -> list[str] | None:
    """The ``sources`` of an analysed finding: the analysis's for resource policies, POLICY for roles (as always)."""
    if isinstance(access, ResourceAccess):
        return list(access.sources) if access.sources is not None else None
    return ["POLICY"]


@dataclass(frozen=True)
class TypeAnalysis:
    """How the stand-in analyses one of the types beyond roles, buckets and keys: the type module's three functions
    (`sandbox.analysis.resource_policy` describes them) and the client they take."""

    resource_type: str
    client: str  # the stand-in's attribute, and the attach / analyze / constructor keyword, e.g. "sqs_client"
    arn_parts: Callable[[str], tuple[str, str] | None]  # (Region, account or "") of an ARN of the type; None: not one
    resource_arns: Callable[[Any, str], list[str]]  # (client, owner account) -> every such resource the client sees
    analyse: Callable[[Any, str, ZoneOf], Analysis | None]  # (client, ARN, zone of an owner) -> (owner, access)


TYPE_ANALYSES: tuple[TypeAnalysis, ...] = (
    TypeAnalysis(SQS_QUEUE, "sqs_client", _sqs_queue.arn_parts, _sqs_queue.resource_arns, _sqs_queue.analyse),
    TypeAnalysis(SNS_TOPIC, "sns_client", _sns_topic.arn_parts, _sns_topic.resource_arns, _sns_topic.analyse),
    TypeAnalysis(
        SECRETS_MANAGER_SECRET, "secretsmanager_client", _secret.arn_parts, _secret.resource_arns, _secret.analyse
    ),
    TypeAnalysis(
        ECR_REPOSITORY,
        "ecr_client",
        _ecr_repository.arn_parts,
        _ecr_repository.resource_arns,
        _ecr_repository.analyse,
    ),
    TypeAnalysis(
        EFS_FILE_SYSTEM,
        "efs_client",
        _efs_file_system.arn_parts,
        _efs_file_system.resource_arns,
        _efs_file_system.analyse,
    ),
    TypeAnalysis(
        DYNAMODB_TABLE,
        "dynamodb_client",
        _dynamodb_table.arn_parts,
        _dynamodb_table.resource_arns,
        _dynamodb_table.analyse,
    ),
    TypeAnalysis(
        LAMBDA_FUNCTION,
        "lambda_client",
        _lambda_function.function_arn_parts,
        _lambda_function.function_arns,
        _lambda_function.analyse_function,
    ),
    TypeAnalysis(
        LAMBDA_LAYER_VERSION,
        "lambda_client",
        _lambda_function.layer_version_arn_parts,
        _lambda_function.layer_version_arns,
        _lambda_function.analyse_layer_version,
    ),
    TypeAnalysis(
        EBS_SNAPSHOT, "ec2_client", _ebs_snapshot.arn_parts, _ebs_snapshot.resource_arns, _ebs_snapshot.analyse
    ),
    TypeAnalysis(
        RDS_DB_SNAPSHOT,
        "rds_client",
        _rds_snapshot.db_snapshot_arn_parts,
        _rds_snapshot.db_snapshot_arns,
        _rds_snapshot.analyse_db_snapshot,
    ),
    TypeAnalysis(
        RDS_CLUSTER_SNAPSHOT,
        "rds_client",
        _rds_snapshot.cluster_snapshot_arn_parts,
        _rds_snapshot.cluster_snapshot_arns,
        _rds_snapshot.analyse_cluster_snapshot,
    ),
)
# The clients of those types, in the order `analyze` runs them: the keywords of attach / analyze / the constructor.
TYPE_CLIENTS: tuple[str, ...] = tuple(dict.fromkeys(t.client for t in TYPE_ANALYSES))


def type_analysis(resource_type: str) -> TypeAnalysis:
    """The `TypeAnalysis` of a resource type; ValueError for roles, buckets, keys (their own methods) and others."""
    for analysis in TYPE_ANALYSES:
        if analysis.resource_type == resource_type:
            return analysis
    raise ValueError(f"no stand-in analysis of {resource_type!r} beyond analyze_roles / _buckets / _keys")


def type_analysis_of_arn(resource_arn: str) -> TypeAnalysis | None:
    """The `TypeAnalysis` whose ARN pattern `resource_arn` matches; None when none does."""
    return next((t for t in TYPE_ANALYSES if t.arn_parts(resource_arn) is not None), None)


# StartResourceScan: the ARNs of the resource types an external access analyzer analyses (aws-facts.md §1); another
# ARN is refused with ValidationException (the service's answer for it is unconfirmed).
_SCANNABLE_ARN_RE = re.compile(
    r"^arn:[\w-]+:(?:"
    r"iam::\d{12}:role/.+"
    r"|s3:::[^/]+"
    r"|s3express:[\w-]+:\d{12}:bucket/.+"
    r"|kms:[\w-]+:\d{12}:key/.+"
    r"|lambda:[\w-]+:\d{12}:(?:function|layer):.+"
    r"|sqs:[\w-]+:\d{12}:.+"
    r"|sns:[\w-]+:\d{12}:.+"
    r"|secretsmanager:[\w-]+:\d{12}:secret:.+"
    r"|elasticfilesystem:[\w-]+:\d{12}:file-system/.+"
    r"|ecr:[\w-]+:\d{12}:repository/.+"
    r"|dynamodb:[\w-]+:\d{12}:table/.+"
    r"|ec2:[\w-]+::snapshot/.+"
    r"|ec2:[\w-]+:\d{12}:snapshot/.+"
    r"|rds:[\w-]+:\d{12}:(?:snapshot|cluster-snapshot):.+"
    r")$"
)


def _scannable(resource_arn: str) -> bool:
    """Whether StartResourceScan accepts the ARN: one of a type external access analyzers analyse."""
    return _SCANNABLE_ARN_RE.match(resource_arn) is not None


@dataclass
class _Fault:
    code: str
    status: int
    message: str
    remaining: int


Handler = Callable[[dict[str, Any]], dict[str, Any] | None]

# Operations whose IAM action is not named after them (Service Authorization Reference, IAM Access Analyzer).
_IAM_ACTION_OF = {"ListFindingsV2": "ListFindings", "GetFindingV2": "GetFinding"}
_CREDENTIAL_RE = re.compile(r"Credential=(?P<key>[^/,\s]+)/")
# SigV4's credential scope: Credential=<key>/<date>/<region>/<service>/aws4_request.
_SIGNED_REGION_RE = re.compile(r"Credential=[^/,\s]+/\d{8}/(?P<region>[a-z0-9-]+)/")


@dataclass(frozen=True)
class AuthorizationRequest:
    """What `AccessAnalyzerStandIn.authorizer` decides on: one request, as IAM would see it."""

    operation: str  # e.g. "ListFindingsV2"
    action: str  # e.g. "access-analyzer:ListFindings"
    resource: str  # the analyzer ARN the operation acts on ("*" when it names none)
    access_key_id: str | None  # from the SigV4 Authorization header; None for an unsigned request
    session_token: str | None  # X-Amz-Security-Token (temporary credentials)


class AccessAnalyzerStandIn:
    """IAM Access Analyzer test double on 127.0.0.1 (see the module docstring).

    >>> with AccessAnalyzerStandIn() as standin:   # doctest: +SKIP
    ...     client = boto3.client("accessanalyzer", endpoint_url=standin.endpoint_url, ...)
    ...     standin.analyze_roles(iam_client, events_client)
    ...     client.list_findings_v2(analyzerArn=standin.analyzer_arn)
    """

    def __init__(
        self,
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
        analyzer_name: str = DEFAULT_ANALYZER_NAME,
        trusted_account_ids: Iterable[str] = (),
        organization_id: str | None = None,
        organization_account_ids: Iterable[str] = (),
        iam_client: Any = None,
        events_client: Any = None,
        s3_client: Any = None,
        kms_client: Any = None,
        sqs_client: Any = None,
        sns_client: Any = None,
        secretsmanager_client: Any = None,
        ecr_client: Any = None,
        efs_client: Any = None,
        dynamodb_client: Any = None,
        lambda_client: Any = None,
        ec2_client: Any = None,
        rds_client: Any = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"the stand-in only listens on the loopback interface, not {host!r}")
        self.account_id = account_id
        self.region = region
        self.default_analyzer_name = analyzer_name
        self.zone = TrustZone(
            frozenset({account_id, *trusted_account_ids}),
            organization_id,
            frozenset(organization_account_ids),
        )
        self.iam_client = iam_client
        self.events_client = events_client
        self.s3_client = s3_client
        self.kms_client = kms_client
        # The clients of the types of TYPE_ANALYSES (attribute = keyword, see TYPE_CLIENTS).
        self.sqs_client = sqs_client
        self.sns_client = sns_client
        self.secretsmanager_client = secretsmanager_client
        self.ecr_client = ecr_client
        self.efs_client = efs_client
        self.dynamodb_client = dynamodb_client
        self.lambda_client = lambda_client
        self.ec2_client = ec2_client
        self.rds_client = rds_client
        self.host = host
        self._requested_port = port
        self.model: ServiceModel = botocore.session.get_session().get_service_model(SERVICE_NAME)
        self._routes = _compile_routes(self.model)
        self._handlers: dict[str, Handler] = {
            "GetFinding": self._get_finding,
            "ListFindings": self._list_findings,
            "ListFindingsV2": self._list_findings_v2,
            "UpdateFindings": self._update_findings,
            "StartResourceScan": self._start_resource_scan,
            "CreateArchiveRule": self._create_archive_rule,
            "GetArchiveRule": self._get_archive_rule,
            "ListArchiveRules": self._list_archive_rules,
            "DeleteArchiveRule": self._delete_archive_rule,
            "ApplyArchiveRule": self._apply_archive_rule,
            "GetAnalyzer": self._get_analyzer,
            "ListAnalyzers": self._list_analyzers,
            "CreateAnalyzer": self._create_analyzer,
            "ValidatePolicy": self._validate_policy,
            "CheckNoNewAccess": self._check_no_new_access,
            "CheckNoPublicAccess": self._check_no_public_access,
        }
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.analyzers: dict[str, Analyzer] = {}
        self.calls: collections.Counter[str] = collections.Counter()
        self.request_log: list[tuple[str, dict[str, Any]]] = []
        self.emitted_events: list[dict[str, Any]] = []
        self.internal_errors: list[str] = []
        self.authorizer: Callable[[AuthorizationRequest], None] | None = None
        self.scans: list[tuple[str, str]] = []
        # Stand-ins of other Regions behind this endpoint (`serve_region`): requests signed for them go there.
        self.other_regions: dict[str, AccessAnalyzerStandIn] = {}
        self._faults: dict[str, list[_Fault]] = collections.defaultdict(list)
        self.reset()

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> AccessAnalyzerStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> AccessAnalyzerStandIn:
        """Listen on 127.0.0.1 (random port unless given). The socket is bound when this returns. Idempotent."""
        if self._server is not None:
            return self
        server = _Server((self.host, self._requested_port), self)
        # A short poll interval: shutdown() waits for the loop to notice, and tests start/stop one per test.
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="access-analyzer-standin", daemon=True
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving, close idle keep-alive connections and join every server thread. Idempotent."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        with server.connections_lock:
            connections = list(server.open_connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        server.server_close()  # joins the handler threads (block_on_close)
        if thread is not None:
            thread.join(timeout=10)

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>``: pass it as ``endpoint_url`` to ``boto3.client("accessanalyzer")``."""
        if self._server is None:
            raise RuntimeError("the Access Analyzer stand-in is not running")
        host, port = str(self._server.server_address[0]), int(self._server.server_address[1])
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def attach(
        self,
        iam_client: Any = None,
        events_client: Any = None,
        *,
        s3_client: Any = None,
        kms_client: Any = None,
        sqs_client: Any = None,
        sns_client: Any = None,
        secretsmanager_client: Any = None,
        ecr_client: Any = None,
        efs_client: Any = None,
        dynamodb_client: Any = None,
        lambda_client: Any = None,
        ec2_client: Any = None,
        rds_client: Any = None,
    ) -> None:
        """Set the clients used by default: those of the resources analysed (IAM roles, S3 buckets, KMS keys, and
        each type of TYPE_ANALYSES: SQS, SNS, Secrets Manager, ECR, EFS, DynamoDB, Lambda functions and layer versions,
        EC2 snapshots, RDS snapshots), by `analyze` and on StartResourceScan (use clients of the analyzer's Region),
        and EventBridge (events). A client left None keeps the one set before; a type without a client is not
        analysed."""
        if iam_client is not None:
            self.iam_client = iam_client
        if events_client is not None:
            self.events_client = events_client
        if s3_client is not None:
            self.s3_client = s3_client
        if kms_client is not None:
            self.kms_client = kms_client
        given = {
            "sqs_client": sqs_client,
            "sns_client": sns_client,
            "secretsmanager_client": secretsmanager_client,
            "ecr_client": ecr_client,
            "efs_client": efs_client,
            "dynamodb_client": dynamodb_client,
            "lambda_client": lambda_client,
            "ec2_client": ec2_client,
            "rds_client": rds_client,
        }
        for name, client in given.items():
            if client is not None:
                setattr(self, name, client)

    def reset(self) -> None:
        """Forget every finding, rule, analyzer, counter, fault and event; recreate the default analyzer."""
        with self._lock:
            self.analyzers.clear()
            self.calls.clear()
            self.request_log.clear()
            self.emitted_events.clear()
            self.internal_errors.clear()
            self.scans.clear()
            self._faults.clear()
            self._add_analyzer(self.default_analyzer_name, "ACCOUNT")

    # ------------------------------------------------------------------ analyzers
    def analyzer_arn_for(self, name: str) -> str:
        """``arn:aws:access-analyzer:<region>:<account>:analyzer/<name>``."""
        return f"arn:aws:access-analyzer:{self.region}:{self.account_id}:analyzer/{name}"

    @property
    def analyzer_arn(self) -> str:
        """ARN of the default analyzer (created at start and on reset)."""
        return self.analyzer_arn_for(self.default_analyzer_name)

    def _add_analyzer(self, name: str, analyzer_type: str, tags: Mapping[str, str] | None = None) -> Analyzer:
        analyzer = Analyzer(name, self.analyzer_arn_for(name), analyzer_type, utc_now(), dict(tags or {}))
        self.analyzers[name] = analyzer
        return analyzer

    def _analyzer_by_arn(self, arn: str) -> Analyzer:
        for analyzer in self.analyzers.values():
            if analyzer.arn == arn:
                return analyzer
        raise _not_found("Analyzer", arn)

    def _analyzer_by_name(self, name: str) -> Analyzer:
        if name not in self.analyzers:
            raise _not_found("Analyzer", name)
        return self.analyzers[name]

    def _external_access_analyzers(self, analyzer_arn: str | None) -> list[Analyzer]:
        if analyzer_arn is not None:
            return [self._analyzer_by_arn(analyzer_arn)]
        return [a for a in self.analyzers.values() if a.type in EXTERNAL_ACCESS_TYPES]

    # ------------------------------------------------------------------ test hooks
    def fail_next(
        self,
        operation: str,
        error_code: str = "ThrottlingException",
        status: int | None = None,
        message: str | None = None,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls of `operation` fail with `error_code` (HTTP status from the model).

        botocore retries ThrottlingException and InternalServerException (and 5xx): a fault with times=1 is
        usually absorbed by the client's retry, which `calls` shows as two requests.
        """
        operation_model = self.model.operation_model(operation)  # raises OperationNotFoundError on a typo
        if status is None:
            status = 400
            for error_shape in operation_model.error_shapes:
                if error_shape.name == error_code:
                    status = int(error_shape.metadata.get("error", {}).get("httpStatusCode", 400))
        with self._lock:
            self._faults[operation].append(
                _Fault(error_code, status, message or f"Injected {error_code} for {operation}", times)
            )

    def findings(
        self, analyzer_arn: str | None = None, *, resource: str | None = None, status: str | None = None
    ) -> list[dict[str, Any]]:
        """API-shaped findings of an analyzer (default analyzer), optionally only one resource / status."""
        with self._lock:
            analyzer = self._analyzer_by_arn(analyzer_arn or self.analyzer_arn)
            return [
                f.to_api()
                for f in analyzer.findings.values()
                if (resource is None or f.resource == resource) and (status is None or f.status == status)
            ]

    def add_finding(
        self,
        *,
        resource: str,
        resource_type: str = IAM_ROLE,
        principal: Mapping[str, str] | None = None,
        action: Sequence[str] | None = None,
        condition: Mapping[str, str] | None = None,
        is_public: bool | None = None,
        error: str | None = None,
        status: str = "ACTIVE",
        resource_owner_account: str | None = None,
        analyzer_arn: str | None = None,
        finding_id: str | None = None,
        publish: bool = True,
    ) -> dict[str, Any]:
        """Insert a finding directly (any resource type, error findings...) and, by default, emit its event."""
        now = utc_now()
        with self._lock:
            analyzer = self._analyzer_by_arn(analyzer_arn or self.analyzer_arn)
            finding = StoredFinding(
                id=finding_id or str(uuid.uuid4()),
                analyzer_arn=analyzer.arn,
                resource=resource,
                resource_type=resource_type,
                resource_owner_account=resource_owner_account or _account_of(resource) or self.account_id,
                status=status,
                created_at=now,
                analyzed_at=now,
                updated_at=now,
                error=error,
            )
            if error is None:
                finding.principal = dict(principal or {"AWS": "999988887777"})
                finding.action = list(action or [ASSUME_ROLE])
                finding.condition = dict(condition or {})
                finding.is_public = bool(is_public) if is_public is not None else "*" in finding.principal.values()
            analyzer.findings[finding.id] = finding
            if publish:
                self._emit([self._event_for(analyzer, finding)], None)
            return finding.to_api()

    def delete_finding(self, finding_id: str, analyzer_arn: str | None = None, publish: bool = True) -> dict[str, Any]:
        """Drop a finding as retention expiry does: status unchanged, event with ``isDeleted: true``."""
        with self._lock:
            analyzer = self._analyzer_by_arn(analyzer_arn or self.analyzer_arn)
            finding = analyzer.findings.pop(finding_id, None)
            if finding is None:
                raise KeyError(finding_id)
            event = self._event_for(analyzer, finding, is_deleted=True)
            if publish:
                self._emit([event], None)
            return event

    # ------------------------------------------------------------------ analysis
    def analyze_roles(
        self, iam_client: Any = None, events_client: Any = None, *, analyzer_arn: str | None = None
    ) -> AnalysisResult:
        """Re-analyse every IAM role trust policy in moto; update findings; emit an event per change.

        A principal whose access is gone -> its finding turns RESOLVED; new access -> a new ACTIVE finding (or
        ARCHIVED if an archive rule matches it); changed actions or conditions -> the old finding is RESOLVED
        and a new one opened; findings of roles that no longer exist are RESOLVED; an ARCHIVED finding whose
        access is unchanged stays ARCHIVED. Events go to `events_client` (or the attached one) when there is one.
        """
        iam = iam_client or self.iam_client
        if iam is None:
            raise ValueError("analyze_roles needs an IAM client (argument or attach())")
        roles: dict[str, Any] = {}
        for page in iam.get_paginator("list_roles").paginate():
            for listed in page["Roles"]:
                role = self._get_role(iam, listed["RoleName"])
                if role is not None:
                    roles[role["Arn"]] = role
        result = AnalysisResult()
        with self._lock:
            for analyzer in self._external_access_analyzers(analyzer_arn):
                for arn, role in roles.items():
                    result += self._reconcile_role(analyzer, arn, role)
                gone = {
                    f.resource
                    for f in analyzer.findings.values()
                    if f.resource_type == IAM_ROLE and f.status != "RESOLVED" and f.error is None
                }
                for arn in sorted(gone - roles.keys()):
                    result += self._reconcile_role(analyzer, arn, None)
            self._emit(list(result.events), events_client)
        return result

    def scan_role(
        self, role_arn: str, iam_client: Any = None, events_client: Any = None, *, analyzer_arn: str | None = None
    ) -> AnalysisResult:
        """Re-analyse one role (what StartResourceScan does); a role that no longer exists resolves its findings."""
        iam = iam_client or self.iam_client
        if iam is None:
            raise ValueError("scan_role needs an IAM client (argument or attach())")
        role = self._get_role(iam, role_arn.rsplit("/", 1)[-1])
        if role is not None and role["Arn"] != role_arn:
            role = None  # same name, different path or account: not this resource
        result = AnalysisResult()
        with self._lock:
            for analyzer in self._external_access_analyzers(analyzer_arn):
                result += self._reconcile_role(analyzer, role_arn, role)
            self._emit(list(result.events), events_client)
        return result

    def analyze(
        self,
        iam_client: Any = None,
        events_client: Any = None,
        *,
        s3_client: Any = None,
        kms_client: Any = None,
        sqs_client: Any = None,
        sns_client: Any = None,
        secretsmanager_client: Any = None,
        ecr_client: Any = None,
        efs_client: Any = None,
        dynamodb_client: Any = None,
        lambda_client: Any = None,
        ec2_client: Any = None,
        rds_client: Any = None,
        analyzer_arn: str | None = None,
    ) -> AnalysisResult:
        """Re-analyse every type whose client is given or attached: roles (IAM), buckets (S3), keys (KMS), then the
        types of TYPE_ANALYSES (`analyze_type`).

        Findings follow each resource as `analyze_roles` describes for roles."""
        iam, s3, kms = iam_client or self.iam_client, s3_client or self.s3_client, kms_client or self.kms_client
        given = {
            "sqs_client": sqs_client,
            "sns_client": sns_client,
            "secretsmanager_client": secretsmanager_client,
            "ecr_client": ecr_client,
            "efs_client": efs_client,
            "dynamodb_client": dynamodb_client,
            "lambda_client": lambda_client,
            "ec2_client": ec2_client,
            "rds_client": rds_client,
        }
        clients = {name: given[name] or getattr(self, name) for name in TYPE_CLIENTS}
        if iam is None and s3 is None and kms is None and all(c is None for c in clients.values()):
            raise ValueError("analyze needs a client of a type it analyses, e.g. IAM, S3 or KMS (argument or attach())")
        result = AnalysisResult()
        if iam is not None:
            result += self.analyze_roles(iam, events_client, analyzer_arn=analyzer_arn)
        if s3 is not None:
            result += self.analyze_buckets(s3, events_client, analyzer_arn=analyzer_arn)
        if kms is not None:
            result += self.analyze_keys(kms, events_client, analyzer_arn=analyzer_arn)
        for analysis in TYPE_ANALYSES:
            client = clients[analysis.client]
            if client is not None:
                result += self.analyze_type(analysis.resource_type, client, events_client, analyzer_arn=analyzer_arn)
        return result

    def analyze_type(
        self, resource_type: str, client: Any = None, events_client: Any = None, *, analyzer_arn: str | None = None
    ) -> AnalysisResult:
        """Re-analyse every resource of one type of TYPE_ANALYSES (e.g. ``AWS::SQS::Queue``) that the analyzer's
        account owns in its Region, as `analyze_roles` does roles; findings of resources that no longer exist are
        RESOLVED. `client` defaults to the attached client of the type (`TypeAnalysis.client`)."""
        analysis = type_analysis(resource_type)
        client = client or getattr(self, analysis.client)
        if client is None:
            raise ValueError(f"analyze_type({resource_type!r}) needs a client ({analysis.client} or attach())")
        found: dict[str, tuple[str, Mapping[tuple[str, str], ResourceAccess]]] = {}
        for arn in analysis.resource_arns(client, self.account_id):
            parts = analysis.arn_parts(arn)
            analysed = self._analysed(analysis, client, arn) if parts is not None and parts[0] == self.region else None
            if analysed is not None:
                found[arn] = analysed
        return self._reconcile_type(analysis.resource_type, found, analyzer_arn, events_client, sweep=True)

    def scan_resource(
        self, resource_arn: str, client: Any = None, events_client: Any = None, *, analyzer_arn: str | None = None
    ) -> AnalysisResult:
        """Re-analyse one resource of a type of TYPE_ANALYSES (what StartResourceScan does); a resource that no longer
        exists, is not in the analyzer's Region or is another account's resolves its findings."""
        analysis = type_analysis_of_arn(resource_arn)
        parts = analysis.arn_parts(resource_arn) if analysis is not None else None
        if analysis is None or parts is None:
            raise ValueError(f"not an ARN of a type the stand-in analyses: {resource_arn!r}")
        client = client or getattr(self, analysis.client)
        if client is None:
            raise ValueError(f"scan_resource({resource_arn!r}) needs a client ({analysis.client} or attach())")
        analysed = self._analysed(analysis, client, resource_arn) if parts[0] == self.region else None
        found = {resource_arn: analysed if analysed is not None else (parts[1] or self.account_id, {})}
        return self._reconcile_type(analysis.resource_type, found, analyzer_arn, events_client, sweep=False)

    def _analysed(
        self, analysis: TypeAnalysis, client: Any, arn: str
    ) -> tuple[str, Mapping[tuple[str, str], ResourceAccess]] | None:
        """(owner, access) of one resource; None when it does not exist or another account owns it (an ACCOUNT
        analyzer analyses its own account's resources)."""
        analysed = analysis.analyse(client, arn, lambda owner: self._zone_with(owner or self.account_id))
        if analysed is None:
            return None
        owner = analysed[0] or self.account_id
        return (owner, analysed[1]) if owner == self.account_id else None

    def analyze_buckets(
        self, s3_client: Any = None, events_client: Any = None, *, analyzer_arn: str | None = None
    ) -> AnalysisResult:
        """Re-analyse every S3 bucket of the analyzer's Region (`sandbox.analysis.s3_bucket`), as `analyze_roles`
        does roles; findings of buckets that no longer exist are RESOLVED."""
        s3 = s3_client or self.s3_client
        if s3 is None:
            raise ValueError("analyze_buckets needs an S3 client (argument or attach())")
        found: dict[str, tuple[str, Mapping[tuple[str, str], ResourceAccess]]] = {}
        for name in _bucket_names(s3):
            state = _s3_bucket.read_bucket(s3, name)
            if state is not None and state.region == self.region:
                found[state.arn] = self._bucket_access(state)
        return self._reconcile_type(S3_BUCKET, found, analyzer_arn, events_client, sweep=True)

    def scan_bucket(
        self,
        bucket_arn: str,
        s3_client: Any = None,
        events_client: Any = None,
        *,
        analyzer_arn: str | None = None,
        owner_account: str | None = None,
    ) -> AnalysisResult:
        """Re-analyse one bucket (what StartResourceScan does); a bucket that no longer exists (or is not in the
        analyzer's Region) resolves its findings. A bucket ARN names no account: `owner_account` is the account
        `s3_client` acts in when that is not the stand-in's (an ORGANIZATION analyzer's member account), the finding's
        ``resourceOwnerAccount``."""
        s3 = s3_client or self.s3_client
        if s3 is None:
            raise ValueError("scan_bucket needs an S3 client (argument or attach())")
        name = _s3_bucket.bucket_name(bucket_arn)
        if name is None:
            raise ValueError(f"not an S3 bucket ARN: {bucket_arn!r}")
        state = _s3_bucket.read_bucket(s3, name)
        if state is not None and (state.region != self.region or state.arn != bucket_arn):
            state = None  # another Region's bucket (or partition): not this analyzer's resource
        owner = owner_account or self.account_id
        found = {bucket_arn: self._bucket_access(state, owner) if state is not None else (owner, {})}
        return self._reconcile_type(S3_BUCKET, found, analyzer_arn, events_client, sweep=False)

    def analyze_keys(
        self, kms_client: Any = None, events_client: Any = None, *, analyzer_arn: str | None = None
    ) -> AnalysisResult:
        """Re-analyse every KMS key of the analyzer's Region (`sandbox.analysis.kms_key`), as `analyze_roles` does
        roles; findings of keys that no longer exist are RESOLVED."""
        kms = kms_client or self.kms_client
        if kms is None:
            raise ValueError("analyze_keys needs a KMS client (argument or attach())")
        found: dict[str, tuple[str, Mapping[tuple[str, str], ResourceAccess]]] = {}
        for page in kms.get_paginator("list_keys").paginate():
            for listed in page["Keys"]:
                parts = _kms_key.key_arn_parts(listed["KeyArn"])
                state = _kms_key.read_key(kms, listed["KeyArn"]) if parts and parts[0] == self.region else None
                if state is not None:
                    found[state.arn] = self._key_access(state)
        return self._reconcile_type(KMS_KEY, found, analyzer_arn, events_client, sweep=True)

    def scan_key(
        self, key_arn: str, kms_client: Any = None, events_client: Any = None, *, analyzer_arn: str | None = None
    ) -> AnalysisResult:
        """Re-analyse one KMS key (what StartResourceScan does); a key that no longer exists (or is not in the
        analyzer's Region) resolves its findings."""
        kms = kms_client or self.kms_client
        if kms is None:
            raise ValueError("scan_key needs a KMS client (argument or attach())")
        parts = _kms_key.key_arn_parts(key_arn)
        if parts is None:
            raise ValueError(f"not a KMS key ARN: {key_arn!r}")
        state = _kms_key.read_key(kms, key_arn) if parts[0] == self.region else None
        found = {key_arn: self._key_access(state) if state is not None else (parts[1], {})}
        return self._reconcile_type(KMS_KEY, found, analyzer_arn, events_client, sweep=False)

    def _zone_with(self, owner: str) -> TrustZone:
        return replace(self.zone, account_ids=self.zone.account_ids | {owner})

    def _bucket_access(
        self, state: _s3_bucket.BucketState, owner: str | None = None
    ) -> tuple[str, Mapping[tuple[str, str], ResourceAccess]]:
        owner = owner or self.account_id  # a bucket ARN names no account: the stand-in's unless told
        return owner, _s3_bucket.compute_bucket_access(state, self._zone_with(owner))

    def _key_access(self, state: _kms_key.KeyState) -> tuple[str, Mapping[tuple[str, str], ResourceAccess]]:
        owner = state.account or self.account_id
        return owner, _kms_key.compute_key_access(state, self._zone_with(owner))

    def _reconcile_type(
        self,
        resource_type: str,
        found: Mapping[str, tuple[str, Mapping[tuple[str, str], ResourceAccess]]],
        analyzer_arn: str | None,
        events_client: Any,
        *,
        sweep: bool,
    ) -> AnalysisResult:
        """Reconcile the analysed resources {ARN: (owner, access)} in every external-access analyzer (or one) and emit
        the events; with `sweep`, the findings of resources of the type that were not found are RESOLVED."""
        result = AnalysisResult()
        with self._lock:
            for analyzer in self._external_access_analyzers(analyzer_arn):
                for arn, (owner, access) in found.items():
                    result += self._reconcile(analyzer, arn, resource_type, owner, access, utc_now())
                if not sweep:
                    continue
                gone = {
                    f.resource
                    for f in analyzer.findings.values()
                    if f.resource_type == resource_type and f.status != "RESOLVED" and f.error is None
                }
                for arn in sorted(gone - found.keys()):
                    result += self._reconcile(analyzer, arn, resource_type, self.account_id, {}, utc_now())
            self._emit(list(result.events), events_client)
        return result

    @staticmethod
    def _get_role(iam: Any, name: str) -> dict[str, Any] | None:
        try:
            role: dict[str, Any] = iam.get_role(RoleName=name)["Role"]
            return role
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "NoSuchEntity":
                return None
            raise

    def _reconcile_role(self, analyzer: Analyzer, role_arn: str, role: Mapping[str, Any] | None) -> AnalysisResult:
        now = utc_now()
        owner = _account_of(role_arn) or self.account_id
        access: dict[tuple[str, str], RoleAccess] = {}
        if role is not None:
            document = role.get("AssumeRolePolicyDocument") or {}
            if isinstance(document, str):
                document = json.loads(urllib.parse.unquote(document))
            access = compute_role_access(document, replace(self.zone, account_ids=self.zone.account_ids | {owner}))
        return self._reconcile(analyzer, role_arn, IAM_ROLE, owner, access, now)

    def _reconcile(
        self,
        analyzer: Analyzer,
        resource: str,
        resource_type: str,
        owner: str,
        access: Mapping[tuple[str, str], RoleAccess | ResourceAccess],
        now: datetime,
    ) -> AnalysisResult:
        """Bring the resource's findings in line with `access` (what the analysis of its type found), every type alike:
        unchanged access keeps its finding, gone or changed access resolves it, new access opens one."""
        created: list[str] = []
        resolved: list[str] = []
        unchanged: list[str] = []
        events: list[dict[str, Any]] = []
        current = [
            f
            for f in analyzer.findings.values()
            if f.resource == resource and f.status != "RESOLVED" and f.error is None
        ]
        kept: set[tuple[str, str]] = set()
        for finding in current:
            wanted = access.get(finding.key) if finding.key else None
            if wanted is not None and wanted.signature() == finding.signature and finding.key not in kept:
                finding.analyzed_at = now
                kept.add(wanted.key)
                unchanged.append(finding.id)
                continue
            finding.status, finding.analyzed_at, finding.updated_at = "RESOLVED", now, now
            resolved.append(finding.id)
            events.append(self._event_for(analyzer, finding))
        for key, wanted in sorted(access.items()):
            if key in kept:
                continue
            finding = StoredFinding(
                id=str(uuid.uuid4()),
                analyzer_arn=analyzer.arn,
                resource=resource,
                resource_type=resource_type,
                resource_owner_account=owner,
                status="ACTIVE",
                created_at=now,
                analyzed_at=now,
                updated_at=now,
                principal=wanted.principal,
                action=list(wanted.actions),
                condition=dict(wanted.condition),
                is_public=wanted.is_public,
                signature=wanted.signature(),
                sources=_finding_sources(wanted),
            )
            if any(filter_matches(finding.to_api(), rule.filter) for rule in analyzer.archive_rules.values()):
                finding.status = "ARCHIVED"
            analyzer.findings[finding.id] = finding
            created.append(finding.id)
            events.append(self._event_for(analyzer, finding))
        analyzer.last_resource_analyzed, analyzer.last_resource_analyzed_at = resource, now
        return AnalysisResult(tuple(created), tuple(resolved), tuple(unchanged), tuple(events))

    def _event_for(self, analyzer: Analyzer, finding: StoredFinding, *, is_deleted: bool = False) -> dict[str, Any]:
        return build_finding_event(finding.to_api(), analyzer.arn, self.region, self.account_id, is_deleted=is_deleted)

    def _emit(self, events: list[dict[str, Any]], events_client: Any) -> None:
        if not events:
            return
        self.emitted_events.extend(events)
        client = events_client or self.events_client
        if client is not None:
            put_finding_events(client, events)

    # ------------------------------------------------------------------ HTTP entry point
    def serve_region(self, other: AccessAnalyzerStandIn) -> None:
        """Serve `other` (a stand-in of another Region) behind this endpoint: a request signed for its Region
        (SigV4's credential scope, as AWS routes it to that Region's endpoint) is answered by it. One endpoint
        variable (AWS_ENDPOINT_URL_ACCESSANALYZER) then reaches every Region's analyzers, as a client of the
        deployed function or the CLI would in AWS."""
        if other.region == self.region:
            raise ValueError(f"{other.region} is this stand-in's own Region")
        self.other_regions[other.region] = other

    def handle_http(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Serve one request: route, parse, validate, run, serialise. Returns (status, headers, body)."""
        signed = _SIGNED_REGION_RE.search(next((v for k, v in headers.items() if k.lower() == "authorization"), ""))
        if signed is not None and signed["region"] in self.other_regions:
            return self.other_regions[signed["region"]].handle_http(method, raw_path, headers, body)
        request_id = str(uuid.uuid4())
        base_headers = {"Content-Type": "application/json", "x-amzn-RequestId": request_id}
        operation: OperationModel | None = None
        try:
            split = urllib.parse.urlsplit(raw_path)
            operation, path_params = self._route(method, split.path)
            with self._lock:
                self.calls[operation.name] += 1
                self._raise_injected_fault(operation.name)
            params = self._parse_input(operation, path_params, urllib.parse.parse_qs(split.query), headers, body)
            validate_input(operation, params)
            self._authorize(operation.name, params, headers)
            with self._lock:
                self.request_log.append((operation.name, params))
            handler = self._handlers.get(operation.name)
            if handler is None:
                raise _validation_error(
                    f"{operation.name} is not implemented by the sandbox stand-in", reason="notSupported"
                )
            output = handler(params) or {}
            payload = self._serialise_output(operation, output)
            return int(operation.http.get("responseCode", 200)), base_headers, payload
        except ServiceError as error:
            body_fields = {"message": error.message, **error.fields}
            return (
                error.status,
                {**base_headers, "x-amzn-ErrorType": error.code, **error.headers},
                json.dumps(body_fields).encode(),
            )
        except Exception as error:  # a stand-in bug: answer like the service would, and record it for tests
            _LOG.exception("access-analyzer stand-in failed on %s %s", method, raw_path)
            self.internal_errors.append(f"{operation.name if operation else method} {raw_path}: {error!r}")
            return (
                500,
                {**base_headers, "x-amzn-ErrorType": "InternalServerException"},
                json.dumps({"message": f"stand-in internal error: {error!r}"}).encode(),
            )

    def _authorize(self, operation: str, params: Mapping[str, Any], headers: Mapping[str, str]) -> None:
        authorizer = self.authorizer
        if authorizer is None:
            return
        if params.get("analyzerArn"):
            resource = str(params["analyzerArn"])
        elif params.get("analyzerName"):
            resource = self.analyzer_arn_for(str(params["analyzerName"]))
        else:
            resource = "*"
        lower = {k.lower(): v for k, v in headers.items()}
        credential = _CREDENTIAL_RE.search(lower.get("authorization", ""))
        request = AuthorizationRequest(
            operation=operation,
            action=f"access-analyzer:{_IAM_ACTION_OF.get(operation, operation)}",
            resource=resource,
            access_key_id=credential["key"] if credential else None,
            session_token=lower.get("x-amz-security-token"),
        )
        try:
            authorizer(request)
        except PermissionError as error:
            raise ServiceError(
                "AccessDeniedException", str(error) or f"not authorized to {request.action}", 403
            ) from None

    def _route(self, method: str, path: str) -> tuple[OperationModel, dict[str, str]]:
        for route in self._routes:
            if route.method == method:
                match = route.pattern.match(path)
                if match:
                    return route.operation, {k: urllib.parse.unquote(v) for k, v in match.groupdict().items()}
        raise ServiceError("UnknownOperationException", f"No operation for {method} {path}", 404)

    def _raise_injected_fault(self, operation: str) -> None:
        queue = self._faults.get(operation)
        if not queue:
            return
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            queue.pop(0)
        fields: dict[str, Any] = {}
        if fault.code == "ValidationException":
            fields = {"reason": "other", "fieldList": []}
        elif fault.code == "ResourceNotFoundException":
            fields = {"resourceId": "injected", "resourceType": "injected"}
        raise ServiceError(fault.code, fault.message, fault.status, **fields)

    @staticmethod
    def _parse_input(
        operation: OperationModel,
        path_params: Mapping[str, str],
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> dict[str, Any]:
        shape = operation.input_shape
        if shape is None:
            return {}
        assert isinstance(shape, StructureShape)
        document: dict[str, Any] = {}
        if body.strip():
            try:
                parsed = json.loads(body)
            except ValueError as error:
                raise _validation_error("Request body is not valid JSON", reason="cannotParse") from error
            if not isinstance(parsed, dict):
                raise _validation_error("Request body is not a JSON object", reason="cannotParse")
            document = parsed
        lower_headers = {k.lower(): v for k, v in headers.items()}
        params: dict[str, Any] = {}
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            wire_name = member.serialization.get("name", name)
            raw: Any
            if location == "uri":
                raw = path_params.get(re.sub(r"[^0-9A-Za-z_]", "_", wire_name))
            elif location == "querystring":
                values = query.get(wire_name)
                raw = (values if member.type_name == "list" else values[-1]) if values else None
            elif location == "header":
                raw = lower_headers.get(wire_name.lower())
            else:
                raw = document.get(wire_name)
            if raw is not None:
                params[name] = _from_wire(member, raw)
        return params

    def _serialise_output(self, operation: OperationModel, output: Mapping[str, Any]) -> bytes:
        shape = operation.output_shape
        if shape is None:
            return b""
        output = _drop_none(output)
        report = ParamValidator().validate(output, shape)
        if report.has_errors():
            raise AssertionError(f"stand-in produced an invalid {operation.name} response: {report.generate_report()}")
        return json.dumps(_to_wire(shape, output)).encode()

    # ------------------------------------------------------------------ operations
    def _get_finding(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            analyzer = self._analyzer_by_arn(params["analyzerArn"])
            finding = analyzer.findings.get(params["id"])
            if finding is None:
                raise _not_found("Finding", params["id"])
            return {"finding": finding.to_api()}

    def _matching_findings(self, params: dict[str, Any]) -> list[StoredFinding]:
        analyzer = self._analyzer_by_arn(params["analyzerArn"])
        criteria = params.get("filter") or {}
        _check_filter(criteria)
        found = [f for f in analyzer.findings.values() if filter_matches(f.to_api(), criteria)]
        sort = params.get("sort") or {}
        attribute = sort.get("attributeName")
        if attribute is not None and attribute not in _SORT_KEYS:
            raise _validation_error(
                f"Invalid sort attribute: {attribute}", fields=[{"name": "sort", "message": attribute}]
            )
        found.sort(key=lambda f: (f.created_at, f.id))
        if attribute is not None:
            found.sort(key=lambda f: str(f.to_api().get(attribute)), reverse=sort.get("orderBy") == "DESC")
        return found

    def _page(self, items: list[Any], params: dict[str, Any], scope: Any) -> tuple[list[Any], str | None]:
        """Offset pagination with an opaque token bound to the request's scope (filter, sort, analyzer)."""
        fingerprint = hashlib.sha256(json.dumps(scope, sort_keys=True, default=str).encode()).hexdigest()[:16]
        offset = 0
        token = params.get("nextToken")
        if token:
            try:
                decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
                offset, token_scope = int(decoded["o"]), decoded["s"]
            except (ValueError, KeyError, TypeError, binascii.Error) as error:
                raise _validation_error(
                    "Invalid nextToken", fields=[{"name": "nextToken", "message": "invalid"}]
                ) from error
            if token_scope != fingerprint or offset < 0:
                raise _validation_error(
                    "nextToken does not belong to this request", fields=[{"name": "nextToken", "message": "invalid"}]
                )
        size = params.get("maxResults") or _DEFAULT_PAGE_SIZE
        if size < 1:
            raise _validation_error(
                "maxResults must be at least 1", fields=[{"name": "maxResults", "message": str(size)}]
            )
        page = items[offset : offset + size]
        next_offset = offset + len(page)
        next_token = None
        if next_offset < len(items):
            next_token = base64.urlsafe_b64encode(json.dumps({"o": next_offset, "s": fingerprint}).encode()).decode()
        return page, next_token

    def _list_findings(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            found = self._matching_findings(params)
            scope = [params["analyzerArn"], params.get("filter"), params.get("sort")]
            page, token = self._page(found, params, scope)
            return {"findings": [f.to_api() for f in page], "nextToken": token}

    def _list_findings_v2(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            found = self._matching_findings(params)
            scope = [params["analyzerArn"], params.get("filter"), params.get("sort"), "v2"]
            page, token = self._page(found, params, scope)
            return {"findings": [f.to_api_v2() for f in page], "nextToken": token}

    def _update_findings(self, params: dict[str, Any]) -> None:
        with self._lock:
            analyzer = self._analyzer_by_arn(params["analyzerArn"])
            ids, resource_arn = params.get("ids"), params.get("resourceArn")
            if not ids and not resource_arn:
                raise _validation_error("Either ids or resourceArn is required", reason="other")
            if ids:
                missing = [i for i in ids if i not in analyzer.findings]
                if missing:
                    raise _not_found("Finding", missing[0])
                targets = [analyzer.findings[i] for i in ids]
            else:
                targets = [f for f in analyzer.findings.values() if f.resource == resource_arn]
            now = utc_now()
            events = []
            for finding in targets:
                if finding.status in ("ACTIVE", "ARCHIVED") and finding.status != params["status"]:
                    finding.status, finding.updated_at = params["status"], now
                    events.append(self._event_for(analyzer, finding))
            self._emit(events, None)
        return None

    def _start_resource_scan(self, params: dict[str, Any]) -> None:
        resource = params["resourceArn"]
        with self._lock:
            analyzer = self._analyzer_by_arn(params["analyzerArn"])
            if analyzer.type not in EXTERNAL_ACCESS_TYPES:
                raise _validation_error(
                    f"StartResourceScan needs an external access analyzer, not {analyzer.type}",
                    reason="other",
                    fields=[{"name": "analyzerArn", "message": analyzer.type}],
                )
            if not _scannable(resource):
                raise _validation_error(
                    f"Resource type of {resource} is not supported by IAM Access Analyzer",
                    reason="notSupported",
                    fields=[{"name": "resourceArn", "message": "unsupported resource type"}],
                )
            self.scans.append((analyzer.arn, resource))
        if self.iam_client is not None and ":role/" in resource:
            self.scan_role(resource, analyzer_arn=analyzer.arn)
        elif self.s3_client is not None and _s3_bucket.bucket_name(resource) is not None:
            self.scan_bucket(resource, analyzer_arn=analyzer.arn)
        elif self.kms_client is not None and _kms_key.key_arn_parts(resource) is not None:
            self.scan_key(resource, analyzer_arn=analyzer.arn)
        else:
            analysis = type_analysis_of_arn(resource)
            if analysis is not None and getattr(self, analysis.client) is not None:
                self.scan_resource(resource, analyzer_arn=analyzer.arn)
        return None

    @staticmethod
    def _document_error(error: _checks.PolicyDocumentError, member: str) -> ServiceError:
        return _validation_error(str(error), fields=[{"name": member, "message": str(error)}])

    def _validate_policy(self, params: dict[str, Any]) -> dict[str, Any]:
        text = params["policyDocument"]
        if len(text) > _checks.MAX_DOCUMENT_CHARS:
            raise self._document_error(
                _checks.PolicyDocumentError(f"policyDocument is longer than {_checks.MAX_DOCUMENT_CHARS} characters"),
                "policyDocument",
            )
        findings = _checks.validate_policy(text, params["policyType"], params.get("validatePolicyResourceType"))
        scope = ["validate", text, params["policyType"], params.get("validatePolicyResourceType")]
        with self._lock:
            page, token = self._page(findings, params, scope)
        return {"findings": page, "nextToken": token}

    def _check_no_new_access(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            return _checks.check_no_new_access(
                params["newPolicyDocument"], params["existingPolicyDocument"], params["policyType"]
            )
        except _checks.PolicyDocumentError as error:
            member = "existingPolicyDocument" if "existingPolicyDocument" in str(error) else "newPolicyDocument"
            raise self._document_error(error, member) from None

    def _check_no_public_access(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            return _checks.check_no_public_access(params["policyDocument"], params["resourceType"])
        except _checks.PolicyDocumentError as error:
            raise self._document_error(error, "policyDocument") from None

    def _create_archive_rule(self, params: dict[str, Any]) -> None:
        with self._lock:
            analyzer = self._analyzer_by_name(params["analyzerName"])
            _check_filter(params["filter"])
            if params["ruleName"] in analyzer.archive_rules:
                raise ServiceError(
                    "ConflictException",
                    f"Archive rule {params['ruleName']} already exists",
                    409,
                    resourceId=params["ruleName"],
                    resourceType="ArchiveRule",
                )
            now = utc_now()
            analyzer.archive_rules[params["ruleName"]] = ArchiveRule(
                params["ruleName"], dict(params["filter"]), now, now
            )
        return None

    def _get_archive_rule(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            analyzer = self._analyzer_by_name(params["analyzerName"])
            rule = analyzer.archive_rules.get(params["ruleName"])
            if rule is None:
                raise _not_found("ArchiveRule", params["ruleName"])
            return {"archiveRule": rule.to_api()}

    def _list_archive_rules(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            analyzer = self._analyzer_by_name(params["analyzerName"])
            rules = sorted(analyzer.archive_rules.values(), key=lambda r: r.rule_name)
            page, token = self._page(rules, params, [analyzer.arn, "rules"])
            return {"archiveRules": [r.to_api() for r in page], "nextToken": token}

    def _delete_archive_rule(self, params: dict[str, Any]) -> None:
        with self._lock:
            analyzer = self._analyzer_by_name(params["analyzerName"])
            if analyzer.archive_rules.pop(params["ruleName"], None) is None:
                raise _not_found("ArchiveRule", params["ruleName"])
        return None

    def _apply_archive_rule(self, params: dict[str, Any]) -> None:
        with self._lock:
            analyzer = self._analyzer_by_arn(params["analyzerArn"])
            rule = analyzer.archive_rules.get(params["ruleName"])
            if rule is None:
                raise _not_found("ArchiveRule", params["ruleName"])
            now = utc_now()
            events = []
            for finding in analyzer.findings.values():
                if finding.status == "ACTIVE" and filter_matches(finding.to_api(), rule.filter):
                    finding.status, finding.updated_at = "ARCHIVED", now
                    events.append(self._event_for(analyzer, finding))
            self._emit(events, None)
        return None

    def _get_analyzer(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return {"analyzer": self._analyzer_by_name(params["analyzerName"]).to_api()}

    def _list_analyzers(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            wanted = params.get("type")
            analyzers = [a for a in self.analyzers.values() if wanted is None or a.type == wanted]
            page, token = self._page(analyzers, params, ["analyzers", wanted])
            return {"analyzers": [a.to_api() for a in page], "nextToken": token}

    def _create_analyzer(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            name = params["analyzerName"]
            if name in self.analyzers:
                raise ServiceError(
                    "ConflictException",
                    f"Analyzer {name} already exists",
                    409,
                    resourceId=name,
                    resourceType="Analyzer",
                )
            for rule in params.get("archiveRules") or []:
                _check_filter(rule["filter"])
            analyzer = self._add_analyzer(name, params["type"], params.get("tags"))
            now = utc_now()
            for rule in params.get("archiveRules") or []:
                analyzer.archive_rules[rule["ruleName"]] = ArchiveRule(rule["ruleName"], dict(rule["filter"]), now, now)
            return {"arn": analyzer.arn}
