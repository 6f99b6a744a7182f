"""Seeded fault injection into botocore clients, with error responses in each service's own wire protocol.

A `FaultInjector` is a ``before-send`` handler. Registered on a botocore event emitter (a boto3 session's, before its
clients are created, or one client's), it decides for every HTTP attempt, from a seeded random stream, whether the
attempt

- is throttled before it reaches the service (`THROTTLE`): IAM ``Throttling`` (query XML, 400), SNS ``Throttled``
  (query XML, 429), DynamoDB ``ThrottlingException`` (JSON 1.0, 400) and Access Analyzer ``ThrottlingException``
  (REST-JSON, 429);
- fails with a 5xx before it reaches the service (`SERVER_ERROR`): ``ServiceFailure`` / ``InternalError`` /
  ``InternalServerError`` / ``InternalServerException``;
- reaches the service and is processed, but the caller gets a 5xx instead of the answer (`SERVER_ERROR_AFTER`):
  a write that succeeded while the caller saw a failure, which the remediation must absorb idempotently;
- reaches the service and is processed, but the answer never arrives (`LOST_RESPONSE`, a read timeout).

The error responses are real HTTP responses (`botocore.awsrequest.AWSResponse`) handed to botocore in place of the
network's, so botocore parses them with the service's protocol parser, raises the same `ClientError` (same code,
same HTTP status) as the service would, and its retry handler classifies them as throttling / transient errors
exactly as it does in production (tests/load/test_faults.py checks this for every service).

Beside the random faults, two permanent failures that must end in the dead-letter queue and be reported:
`poison_roles` names roles whose ``UpdateAssumeRolePolicy`` is always refused with ``AccessDenied`` (an SCP, say),
`poison_analyzers` analyzers whose ``GetFinding`` is always refused with ``AccessDeniedException`` (an analyzer
configured in AAR_ANALYZER_ARNS that the function's role may not read).
"""

from __future__ import annotations

import json
import random
import threading
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import urllib3
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ReadTimeoutError

THROTTLE = "throttle"
SERVER_ERROR = "server_error"
SERVER_ERROR_AFTER = "server_error_after_processing"
LOST_RESPONSE = "lost_response"
ACCESS_DENIED = "access_denied"
FAULT_KINDS = (THROTTLE, SERVER_ERROR, SERVER_ERROR_AFTER, LOST_RESPONSE, ACCESS_DENIED)

# botocore's hyphenised service ids (the middle part of "before-send.<service>.<Operation>").
IAM, SNS, DYNAMODB, ACCESS_ANALYZER = "iam", "sns", "dynamodb", "accessanalyzer"
ENGINE_SERVICES = frozenset({IAM, SNS, DYNAMODB, ACCESS_ANALYZER})


@dataclass(frozen=True)
class ServiceErrors:
    """How one service says "throttled" and "internal error" on the wire."""

    protocol: str  # "query" | "json" | "rest-json"
    throttle_code: str
    throttle_status: int
    server_code: str
    xml_namespace: str = ""
    json_prefix: str = ""  # DynamoDB's __type prefix


SERVICE_ERRORS: Mapping[str, ServiceErrors] = {
    IAM: ServiceErrors("query", "Throttling", 400, "ServiceFailure", "https://iam.amazonaws.com/doc/2010-05-08/"),
    SNS: ServiceErrors("query", "Throttled", 429, "InternalError", "http://sns.amazonaws.com/doc/2010-03-31/"),
    DYNAMODB: ServiceErrors(
        "json", "ThrottlingException", 400, "InternalServerError", json_prefix="com.amazonaws.dynamodb.v20120810#"
    ),
    ACCESS_ANALYZER: ServiceErrors("rest-json", "ThrottlingException", 429, "InternalServerException"),
}


class _Body:
    """The `raw` of an AWSResponse: botocore reads the body through `stream()`."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def error_response(service: str, url: str, status: int, code: str, message: str) -> AWSResponse:
    """An error answer of `service` in its protocol, as botocore would receive it from the network."""
    errors = SERVICE_ERRORS[service]
    request_id = str(uuid.uuid4())
    headers = {"x-amzn-RequestId": request_id}
    if errors.protocol == "query":
        fault = "Receiver" if status >= 500 else "Sender"
        body = (
            f'<ErrorResponse xmlns="{errors.xml_namespace}"><Error><Type>{fault}</Type><Code>{code}</Code>'
            f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers["Content-Type"] = "text/xml"
    elif errors.protocol == "json":
        body = json.dumps({"__type": f"{errors.json_prefix}{code}", "message": message}).encode()
        headers["Content-Type"] = "application/x-amz-json-1.0"
    else:
        body = json.dumps({"message": message}).encode()
        headers["Content-Type"] = "application/json"
        headers["x-amzn-ErrorType"] = code
    headers["Content-Length"] = str(len(body))
    http_headers = HTTPHeaders()
    for name, value in headers.items():
        http_headers[name] = value
    return AWSResponse(url, status, http_headers, _Body(body))


@dataclass(frozen=True)
class FaultRates:
    """Probability of each fault per HTTP attempt (retries included). The rest of the attempts go through."""

    throttle: float = 0.20
    server_error: float = 0.03
    server_error_after: float = 0.02
    lost_response: float = 0.01

    @property
    def total(self) -> float:
        return self.throttle + self.server_error + self.server_error_after + self.lost_response

    @property
    def five_xx(self) -> float:
        return self.server_error + self.server_error_after

    def pick(self, draw: float) -> str | None:
        """The fault for a uniform draw in [0, 1), or None."""
        for kind, rate in (
            (THROTTLE, self.throttle),
            (SERVER_ERROR, self.server_error),
            (SERVER_ERROR_AFTER, self.server_error_after),
            (LOST_RESPONSE, self.lost_response),
        ):
            if draw < rate:
                return kind
            draw -= rate
        return None


NO_FAULTS = FaultRates(0.0, 0.0, 0.0, 0.0)


@dataclass
class FaultInjector:
    """A seeded ``before-send`` handler. Same seed + same sequence of attempts = same faults."""

    rates: FaultRates = field(default_factory=FaultRates)
    seed: str | int = 0
    services: Collection[str] = ENGINE_SERVICES
    poison_roles: Collection[str] = ()
    poison_analyzers: Collection[str] = ()
    scripted: list[str | None] = field(default_factory=list)  # faults for the next attempts, before random ones
    attempts: Counter[str] = field(default_factory=Counter)  # "service.Operation" -> HTTP attempts
    injected: Counter[str] = field(default_factory=Counter)  # "service.kind" -> faults
    _random: random.Random = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _pool: urllib3.PoolManager = field(default_factory=lambda: urllib3.PoolManager(retries=False), init=False)

    def __post_init__(self) -> None:
        self._random = random.Random(str(self.seed))

    def reseed(self, seed: str | int) -> None:
        """Start a new deterministic stream (e.g. per SQS batch, so a batch's faults do not depend on history)."""
        with self._lock:
            self._random = random.Random(str(seed))

    def register(self, emitter: Any) -> None:
        emitter.register("before-send", self.before_send)

    def take_counts(self) -> tuple[Counter[str], Counter[str]]:
        """(attempts, injected) since the last call; resets both."""
        with self._lock:
            attempts, injected = self.attempts, self.injected
            self.attempts, self.injected = Counter(), Counter()
        return attempts, injected

    def before_send(self, request: AWSPreparedRequest, event_name: str, **_: Any) -> AWSResponse | None:
        service, operation = event_name.split(".", 2)[1:]
        with self._lock:
            self.attempts[f"{service}.{operation}"] += 1
            if service not in self.services:
                return None
            if self.poison_roles and service == IAM and operation == "UpdateAssumeRolePolicy":
                role = _form_value(request, "RoleName")
                if role in self.poison_roles:
                    self.injected[f"{service}.{ACCESS_DENIED}"] += 1
                    return error_response(
                        service, request.url, 403, "AccessDenied", f"explicit deny in a service control policy: {role}"
                    )
            if self.poison_analyzers and service == ACCESS_ANALYZER and operation == "GetFinding":
                analyzer = _query_value(request, "analyzerArn")
                if analyzer in self.poison_analyzers:
                    self.injected[f"{service}.{ACCESS_DENIED}"] += 1
                    return error_response(
                        service, request.url, 403, "AccessDeniedException", f"not authorized to read {analyzer}"
                    )
            kind = self.scripted.pop(0) if self.scripted else self.rates.pick(self._random.random())
            if kind is None:
                return None
            self.injected[f"{service}.{kind}"] += 1
        errors = SERVICE_ERRORS[service]
        if kind == THROTTLE:
            return error_response(service, request.url, errors.throttle_status, errors.throttle_code, "Rate exceeded")
        if kind == SERVER_ERROR:
            return error_response(service, request.url, 500, errors.server_code, "injected internal error")
        # The service gets the request and acts on it; only the answer is lost or replaced.
        self._forward(request)
        if kind == SERVER_ERROR_AFTER:
            return error_response(service, request.url, 500, errors.server_code, "injected error after processing")
        raise ReadTimeoutError(endpoint_url=request.url)

    def _forward(self, request: AWSPreparedRequest) -> None:
        raw = request.body
        if raw is not None and not isinstance(raw, str | bytes | bytearray):
            raw = raw.read()  # a file-like body (streaming uploads; none of the engine's calls)
        body = bytes(raw) if isinstance(raw, bytearray) else raw
        headers = {key: value.decode() if isinstance(value, bytes) else value for key, value in request.headers.items()}
        response = self._pool.request(request.method, request.url, body=body, headers=headers, preload_content=True)
        response.release_conn()


def _form_value(request: AWSPreparedRequest, key: str) -> str | None:
    body = request.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str):
        return None
    values = urllib.parse.parse_qs(body).get(key)
    return values[0] if values else None


def _query_value(request: AWSPreparedRequest, key: str) -> str | None:
    values = urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query).get(key)
    return values[0] if values else None


def route_access_analyzer(emitter: Any, endpoints_by_region: Mapping[str, str]) -> None:
    """Send each Region's Access Analyzer calls to that Region's stand-in.

    botocore takes one endpoint per service from the environment (AWS_ENDPOINT_URL_ACCESSANALYZER); the tests run
    one stand-in per Region. ``before-endpoint-resolution`` is botocore's hook for per-call endpoint builtins.
    """
    endpoints = dict(endpoints_by_region)

    def route(builtins: dict[str, Any], **_: Any) -> None:
        url = endpoints.get(str(builtins.get("AWS::Region")))
        if url:
            builtins["SDK::Endpoint"] = url

    emitter.register("before-endpoint-resolution.accessanalyzer", route)
