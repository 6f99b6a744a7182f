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
`poison_analyzers` analyzers whose ``GetFinding`` and ``ListFindingsV2`` are always refused with
``AccessDeniedException`` (an analyzer configured in AAR_ANALYZER_ARNS that the function's role may not read).

Faults of one operation each, drawn from a second seeded stream (so switching them on leaves the stream of the
random faults above as it was), each with its own rate in `FaultRates`:

- `kill_after_write` (IAM ``UpdateAssumeRolePolicy``): the write is sent to the service and, once it answered 200,
  the process exits at once (``os._exit(KILLED_EXIT_CODE)``): a Lambda invocation killed (timeout, OOM) between
  its trust-policy write and its audit record. Only meaningful in a worker process (tests/load/harness.HandlerPool);
  `FaultInjector.on_kill` replaces the exit in tests of the injector itself.
- `unprocessed_items` (DynamoDB ``BatchWriteItem``): only some of the request items go to the service, the others
  come back in ``UnprocessedItems`` in DynamoDB's wire format, as DynamoDB does under load; the caller must retry them.
- `send_batch_partial` / `send_batch_error` (SQS ``SendMessageBatch``, the sweep's enqueue): some entries are not
  sent and are reported in ``Failed`` (``InternalError``, not a sender fault), or the whole call fails with a 500.

And `Outage` windows (`FaultInjector.set_outages`): every attempt of one operation (SNS ``Publish`` by default)
fails from one moment to another, e.g. an SNS outage of 8 s in the middle of a burst.

The forwarded, trimmed requests of ``BatchWriteItem`` and ``SendMessageBatch`` no longer match their SigV4 signature:
fine for moto with its IAM authorization off (the load tests), which does not check signatures then.
"""

from __future__ import annotations

import json
import math
import os
import random
import threading
import time
import urllib.parse
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
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
KILL_AFTER_WRITE = "kill_after_write"
UNPROCESSED_ITEMS = "unprocessed_items"
SEND_BATCH_PARTIAL = "send_batch_partial"
SEND_BATCH_ERROR = "send_batch_error"
OUTAGE = "outage"
OUTAGE_THROTTLE = "outage_throttle"  # an outage answered with the service's throttling error (counted as "outage")
FAULT_KINDS = (
    THROTTLE,
    SERVER_ERROR,
    SERVER_ERROR_AFTER,
    LOST_RESPONSE,
    ACCESS_DENIED,
    KILL_AFTER_WRITE,
    UNPROCESSED_ITEMS,
    SEND_BATCH_PARTIAL,
    SEND_BATCH_ERROR,
    OUTAGE,
)
# The exit status of a worker killed by `kill_after_write` (anything else is a crash of the harness or the handler).
KILLED_EXIT_CODE = 86

# botocore's hyphenised service ids (the middle part of "before-send.<service>.<Operation>").
IAM, SNS, DYNAMODB, ACCESS_ANALYZER, SQS = "iam", "sns", "dynamodb", "accessanalyzer", "sqs"
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
    # SQS speaks JSON 1.0 with the awsQueryCompatible trait (botocore reads the code from x-amzn-query-error).
    SQS: ServiceErrors("json", "RequestThrottled", 400, "InternalError", json_prefix="com.amazonaws.sqs#"),
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
        if service == SQS:
            headers["x-amzn-query-error"] = f"{code};{'Receiver' if status >= 500 else 'Sender'}"
    else:
        body = json.dumps({"message": message}).encode()
        headers["Content-Type"] = "application/json"
        headers["x-amzn-ErrorType"] = code
    headers["Content-Length"] = str(len(body))
    http_headers = HTTPHeaders()
    for name, value in headers.items():
        http_headers[name] = value
    return AWSResponse(url, status, http_headers, _Body(body))


def json_response(url: str, payload: Mapping[str, Any], status: int = 200, crc32: bool = False) -> AWSResponse:
    """A JSON 1.0 answer (DynamoDB, SQS); with `crc32` the x-amz-crc32 header DynamoDB sends (botocore checks it)."""
    body = json.dumps(payload).encode()
    http_headers = HTTPHeaders()
    http_headers["x-amzn-RequestId"] = str(uuid.uuid4())
    http_headers["Content-Type"] = "application/x-amz-json-1.0"
    http_headers["Content-Length"] = str(len(body))
    if crc32:
        http_headers["x-amz-crc32"] = str(zlib.crc32(body) & 0xFFFFFFFF)
    return AWSResponse(url, status, http_headers, _Body(body))


@dataclass(frozen=True)
class FaultRates:
    """Probability of each fault per HTTP attempt (retries included). The rest of the attempts go through.

    The first four apply to every call of the services the injector covers; the others each to one operation
    (see the module docstring), per attempt of that operation that no other fault hit.
    """

    throttle: float = 0.20
    server_error: float = 0.03
    server_error_after: float = 0.02
    lost_response: float = 0.01
    kill_after_write: float = 0.0  # IAM UpdateAssumeRolePolicy succeeds, then the process dies
    unprocessed_items: float = 0.0  # DynamoDB BatchWriteItem: part of the items come back as UnprocessedItems
    send_batch_partial: float = 0.0  # SQS SendMessageBatch: some entries reported in Failed
    send_batch_error: float = 0.0  # SQS SendMessageBatch: the whole call fails (500 InternalError)
    latency: float = 0.0  # seconds every attempt waits before it is sent: an AWS round trip, which moto lacks

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


@dataclass(frozen=True)
class Outage:
    """Every attempt of `operation` of `service` fails while the outage lasts, then the service recovers.

    The window is either `start`..`end` seconds after the run started (tests/load/harness.SqsSimulator), or, with
    `first_batches`, every invocation among the run's first N batches, for as long as it runs.
    """

    service: str = SNS
    operation: str | None = "Publish"  # None: every operation of the service
    kind: str = SERVER_ERROR  # SERVER_ERROR (InternalError 500 for SNS) or THROTTLE ('Throttled' 429 for SNS)
    start: float = 0.0
    end: float = math.inf
    first_batches: int | None = None

    def window(self, run_started: float, batch_index: int) -> OutageWindow | None:
        """The absolute (epoch) window for one invocation, or None if the outage does not touch it."""
        if self.first_batches is not None:
            if batch_index >= self.first_batches:
                return None
            return OutageWindow(self.service, self.operation, self.kind, 0.0, math.inf)
        return OutageWindow(self.service, self.operation, self.kind, run_started + self.start, run_started + self.end)

    def over(self, run_started: float, batches: int) -> bool:
        if self.first_batches is not None:
            return batches >= self.first_batches
        return time.time() >= run_started + self.end


@dataclass(frozen=True)
class OutageWindow:
    """An outage as one worker applies it: epoch seconds (time.time(), the same clock in every process)."""

    service: str
    operation: str | None
    kind: str
    start: float
    end: float

    def covers(self, service: str, operation: str, now: float) -> bool:
        return (
            service == self.service
            and (self.operation is None or operation == self.operation)
            and self.start <= now < self.end
        )


def _die() -> None:
    os._exit(KILLED_EXIT_CODE)


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
    outages: Sequence[OutageWindow] = ()
    on_kill: Callable[[], None] = _die  # what `kill_after_write` does once the write succeeded
    _random: random.Random = field(init=False)
    _special: random.Random = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _pool: urllib3.PoolManager = field(default_factory=lambda: urllib3.PoolManager(retries=False), init=False)

    def __post_init__(self) -> None:
        self._random = random.Random(str(self.seed))
        self._special = random.Random(f"{self.seed}:special")

    def reseed(self, seed: str | int) -> None:
        """Start a new deterministic stream (e.g. per SQS batch, so a batch's faults do not depend on history)."""
        with self._lock:
            self._random = random.Random(str(seed))
            self._special = random.Random(f"{seed}:special")

    def set_outages(self, outages: Sequence[OutageWindow]) -> None:
        with self._lock:
            self.outages = tuple(outages)

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
        if self.rates.latency:
            time.sleep(self.rates.latency)  # outside the lock: concurrent calls wait concurrently, as on a network
        kind = self._decide(request, service, operation)
        if kind is None:
            return None
        errors = SERVICE_ERRORS.get(service)
        if kind == OUTAGE_THROTTLE and errors is not None:
            return error_response(service, request.url, errors.throttle_status, errors.throttle_code, "outage")
        if kind == OUTAGE and errors is not None:
            return error_response(service, request.url, 500, errors.server_code, "injected outage")
        if kind == ACCESS_DENIED and service == IAM:
            role = _form_value(request, "RoleName")
            return error_response(
                service, request.url, 403, "AccessDenied", f"explicit deny in a service control policy: {role}"
            )
        if kind == ACCESS_DENIED:
            analyzer = _query_value(request, "analyzerArn") or _json_value(request, "analyzerArn")
            return error_response(
                service, request.url, 403, "AccessDeniedException", f"not authorized to read {analyzer}"
            )
        if kind == KILL_AFTER_WRITE:
            return self._kill_after_write(request)
        if kind == UNPROCESSED_ITEMS:
            return self._unprocessed_items(request)
        if kind == SEND_BATCH_PARTIAL:
            return self._send_message_batch_partially(request)
        if kind == SEND_BATCH_ERROR:
            return error_response(SQS, request.url, 500, SERVICE_ERRORS[SQS].server_code, "injected internal error")
        assert errors is not None
        if kind == THROTTLE:
            return error_response(service, request.url, errors.throttle_status, errors.throttle_code, "Rate exceeded")
        if kind == SERVER_ERROR:
            return error_response(service, request.url, 500, errors.server_code, "injected internal error")
        # The service gets the request and acts on it; only the answer is lost or replaced.
        self._forward(request)
        if kind == SERVER_ERROR_AFTER:
            return error_response(service, request.url, 500, errors.server_code, "injected error after processing")
        raise ReadTimeoutError(endpoint_url=request.url)

    def _decide(self, request: AWSPreparedRequest, service: str, operation: str) -> str | None:
        """The fault for this attempt (counted), or None: outages, permanent failures, random, one-operation."""
        with self._lock:
            self.attempts[f"{service}.{operation}"] += 1
            kind = self._pick(request, service, operation)
            if kind is not None:
                counted = OUTAGE if kind == OUTAGE_THROTTLE else kind
                self.injected[f"{service}.{counted}"] += 1
            return kind

    def _pick(self, request: AWSPreparedRequest, service: str, operation: str) -> str | None:
        now = time.time()
        outage = next((o for o in self.outages if o.covers(service, operation, now)), None)
        if outage is not None:
            return OUTAGE_THROTTLE if outage.kind == THROTTLE else OUTAGE
        if service == SQS and operation == "SendMessageBatch":
            if self.rates.send_batch_error > 0 and self._special.random() < self.rates.send_batch_error:
                return SEND_BATCH_ERROR
            if self.rates.send_batch_partial > 0 and self._special.random() < self.rates.send_batch_partial:
                return SEND_BATCH_PARTIAL
        if service not in self.services:
            return None
        writes_role = service == IAM and operation == "UpdateAssumeRolePolicy"
        if writes_role and self.poison_roles and _form_value(request, "RoleName") in self.poison_roles:
            return ACCESS_DENIED
        reads_finding = service == ACCESS_ANALYZER and operation == "GetFinding"
        if reads_finding and self.poison_analyzers and _query_value(request, "analyzerArn") in self.poison_analyzers:
            return ACCESS_DENIED
        lists_findings = service == ACCESS_ANALYZER and operation == "ListFindingsV2"
        if lists_findings and self.poison_analyzers and _json_value(request, "analyzerArn") in self.poison_analyzers:
            return ACCESS_DENIED
        kind = self.scripted.pop(0) if self.scripted else self.rates.pick(self._random.random())
        if kind is not None:
            return kind
        if writes_role and self.rates.kill_after_write > 0 and self._special.random() < self.rates.kill_after_write:
            return KILL_AFTER_WRITE
        batch_write = service == DYNAMODB and operation == "BatchWriteItem"
        if batch_write and self.rates.unprocessed_items > 0 and self._special.random() < self.rates.unprocessed_items:
            return UNPROCESSED_ITEMS
        return None

    def _kill_after_write(self, request: AWSPreparedRequest) -> AWSResponse:
        response = self._forward(request)
        if response.status_code == 200:
            self.on_kill()  # os._exit in a worker: the audit record, the release and the e-mail never happen
        return response

    def _unprocessed_items(self, request: AWSPreparedRequest) -> AWSResponse:
        """Send a part of the items; the rest come back as UnprocessedItems (at least one, perhaps all)."""
        payload = json.loads(_body_bytes(request) or b"{}")
        items = [(table, entry) for table, entries in payload.get("RequestItems", {}).items() for entry in entries]
        with self._lock:
            kept = [self._special.random() < 0.5 for _ in items]
            if items and all(kept):
                kept[self._special.randrange(len(items))] = False
        unprocessed: dict[str, list[Any]] = {}
        sent: dict[str, list[Any]] = {}
        for (table, entry), keep in zip(items, kept, strict=True):
            (sent if keep else unprocessed).setdefault(table, []).append(entry)
        answer: dict[str, Any] = {"UnprocessedItems": {}}
        if sent:
            response = self._forward(request, json.dumps({**payload, "RequestItems": sent}).encode())
            if response.status_code != 200:
                return response
            answer = json.loads(response.content or b"{}")
        merged = dict(answer.get("UnprocessedItems") or {})
        for table, entries in unprocessed.items():
            merged[table] = [*merged.get(table, []), *entries]
        answer["UnprocessedItems"] = merged
        return json_response(request.url, answer, crc32=True)

    def _send_message_batch_partially(self, request: AWSPreparedRequest) -> AWSResponse:
        """Send some entries; report the others in Failed (InternalError, not the sender's fault): at least one."""
        payload = json.loads(_body_bytes(request) or b"{}")
        entries = list(payload.get("Entries", []))
        with self._lock:
            failed = [self._special.random() < 0.5 for _ in entries]
            if entries and not any(failed):
                failed[self._special.randrange(len(entries))] = True
        send = [e for e, f in zip(entries, failed, strict=True) if not f]
        answer: dict[str, Any] = {"Successful": [], "Failed": []}
        if send:
            response = self._forward(request, json.dumps({**payload, "Entries": send}).encode())
            if response.status_code != 200:
                return response
            answer = json.loads(response.content or b"{}")
        answer.setdefault("Successful", [])
        answer["Failed"] = [
            *answer.get("Failed", []),
            *(
                {"Id": e["Id"], "SenderFault": False, "Code": "InternalError", "Message": "injected: not sent"}
                for e, f in zip(entries, failed, strict=True)
                if f
            ),
        ]
        return json_response(request.url, answer)

    def _forward(self, request: AWSPreparedRequest, body: bytes | None = None) -> AWSResponse:
        """Send the request (or the same request with another body) to the service; its answer as botocore's."""
        data = _body_bytes(request) if body is None else body
        headers = {
            key: value.decode() if isinstance(value, bytes) else value
            for key, value in request.headers.items()
            if body is None or key.lower() != "content-length"
        }
        response = self._pool.request(request.method, request.url, body=data, headers=headers, preload_content=True)
        content = response.data
        response.release_conn()
        http_headers = HTTPHeaders()
        for name, value in response.headers.items():
            http_headers[name] = value
        return AWSResponse(request.url, response.status, http_headers, _Body(content))


def _body_bytes(request: AWSPreparedRequest) -> bytes | None:
    raw = request.body
    if raw is not None and not isinstance(raw, str | bytes | bytearray):
        raw = raw.read()  # a file-like body (streaming uploads; none of the engine's calls)
    if isinstance(raw, str):
        return raw.encode("utf-8")
    return bytes(raw) if raw is not None else None


def _form_value(request: AWSPreparedRequest, key: str) -> str | None:
    body = request.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str):
        return None
    values = urllib.parse.parse_qs(body).get(key)
    return values[0] if values else None


def _json_value(request: AWSPreparedRequest, key: str) -> str | None:
    try:
        payload = json.loads(_body_bytes(request) or b"{}")
    except ValueError:
        return None
    value = payload.get(key) if isinstance(payload, dict) else None
    return str(value) if value is not None else None


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
