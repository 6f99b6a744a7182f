"""Load machinery shared by the burst test (tests/load/test_burst.py) and the benchmark (tests/bench.py).

- One clean AWS per run comes from `tests.unit.conftest.make_aws` (moto server + the two Access Analyzer stand-ins,
  the audit table, the topic and an SQS queue subscribed to it that stands in for the security team's mailbox).
- `build_burst`: many roles with varied trust policies, their findings from both stand-ins ("Regions"), and the
  EventBridge events that reach the queue (duplicated across Regions, some twice).
- `HandlerPool`: separate worker processes, each importing the REAL handler module with the Lambda's environment,
  like warm Lambda instances. Faults (tests/load/faults.py) are registered on the default boto3 session before the
  handler creates its clients, so the package's own client factory and retry configuration are what is tested.
- `SqsSimulator`: the SQS event source mapping: batches of 10, partial batch responses, redelivery after a visibility
  timeout, duplicate deliveries (SQS is at-least-once), and a dead-letter queue after `max_receive_count` receives.
- `verify_burst`: the outcome checks, as a list of problems (empty = nothing lost, nothing altered).
"""

from __future__ import annotations

import heapq
import importlib
import json
import logging
import math
import os
import random
import re
import sys
import time
import traceback
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from types import ModuleType, SimpleNamespace
from typing import Any

from access_analyzer_remediation.policy import SID_PREFIX, classify_principal, statements, tool_entries
from sandbox.access_analyzer import build_finding_event
from tests.load.faults import ENGINE_SERVICES, NO_FAULTS, FaultInjector, FaultRates, route_access_analyzer
from tests.unit.conftest import Aws

ACCOUNT = "123456789012"  # moto's default account: every role lives here
LAMBDA_CONTEXT = SimpleNamespace(
    function_name="access-analyzer-remediation",
    memory_limit_in_mb=256,
    invoked_function_arn=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:access-analyzer-remediation",
    aws_request_id="load-test",
)
QUEUE_ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}:aar-findings"
# Configured in AAR_ANALYZER_ARNS, but the function's role may not call GetFinding on it (tests/load/faults.py).
UNREADABLE_ANALYZER = f"arn:aws:access-analyzer:ap-southeast-2:{ACCOUNT}:analyzer/sandbox-analyzer"


# ==================================================================================================== AWS
def handler_env(aws: Aws, **overrides: str) -> dict[str, str]:
    """The Lambda's environment (docs/architecture.md), pointing at the sandbox."""
    env = aws.moto.env({"accessanalyzer": aws.standins["us-east-1"].endpoint_url})
    env.update(
        {
            "AAR_ANALYZER_ARNS": json.dumps([*(s.analyzer_arn for s in aws.standins.values()), UNREADABLE_ANALYZER]),
            "AAR_AUDIT_TABLE_NAME": aws.table,
            "AAR_TOPIC_ARN": aws.topic_arn,
            "POWERTOOLS_SERVICE_NAME": "access-analyzer-remediation",
            "POWERTOOLS_METRICS_NAMESPACE": "AarLoadTest",
        }
    )
    env.update(overrides)
    return env


def stand_in_endpoints(aws: Aws) -> dict[str, str]:
    return {region: standin.endpoint_url for region, standin in aws.standins.items()}


def read_mailbox(aws: Aws) -> list[str]:
    """Every digest published so far (the e-mail bodies). Messages stay hidden, so each is read once."""
    sqs = aws.client("sqs")
    bodies: list[str] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=aws.mail_queue_url, MaxNumberOfMessages=10, VisibilityTimeout=3600, WaitTimeSeconds=0
        ).get("Messages", [])
        if not batch:
            return bodies
        bodies += [json.loads(message["Body"])["Message"] for message in batch]


def scan_table(aws: Aws) -> list[dict[str, Any]]:
    """Every item of the audit table (paginated)."""
    dynamodb = aws.client("dynamodb")
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": aws.table}
    while True:
        page = dynamodb.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def sqs_event(records: Sequence[tuple[str, str, int]]) -> dict[str, Any]:
    """An SQS event as the event source mapping sends it: (messageId, body, receive count) per record."""
    return {
        "Records": [
            {
                "messageId": message_id,
                "receiptHandle": f"{message_id}#{count}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": str(count), "SentTimestamp": "0"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": QUEUE_ARN,
                "awsRegion": "us-east-1",
            }
            for message_id, body, count in records
        ]
    }


# ==================================================================================================== scenario
@dataclass(frozen=True)
class BurstSize:
    roles: int = 200
    principals_per_role: int = 5
    west_every: int = 3  # every n-th role's findings also arrive from the second Region
    duplicate_share: float = 0.08  # events EventBridge delivers twice (two messages)
    poison_roles: int = 1  # roles whose UpdateAssumeRolePolicy is always denied: permanent failures
    unreadable_findings: int = 10  # events from an analyzer whose GetFinding is always denied: permanent failures
    reorder_window: float = 12.0  # how far (in messages) the queue's order strays from the analyzers' order

    @classmethod
    def from_env(cls, default_roles: int = 200) -> BurstSize:
        """AAR_BURST_ROLES (5 findings per role, so 200 roles = 1,000 findings in the first Region)."""
        return cls(roles=int(os.environ.get("AAR_BURST_ROLES", default_roles)))


@dataclass(frozen=True)
class RoleInfo:
    name: str
    arn: str
    shape: str
    original: dict[str, Any]  # the trust policy as IAM returns it before the burst
    poison: bool


@dataclass(frozen=True)
class FindingInfo:
    id: str
    region: str
    analyzer_arn: str
    role_name: str
    principal: dict[str, str]
    actions: tuple[str, ...]


@dataclass(frozen=True)
class Message:
    message_id: str
    finding_id: str
    body: str


@dataclass
class Burst:
    roles: dict[str, RoleInfo]
    findings: dict[str, FindingInfo]
    messages: list[Message]

    @property
    def poison_roles(self) -> list[str]:
        return [role.name for role in self.roles.values() if role.poison]

    def permanent_failures(self) -> dict[str, str]:
        """Finding id -> the error that must explain why its messages ended in the dead-letter queue."""
        causes = {}
        for finding in self.findings.values():
            if finding.analyzer_arn == UNREADABLE_ANALYZER:
                causes[finding.id] = "AccessDeniedException on GetFinding"
            elif self.roles[finding.role_name].poison:
                causes[finding.id] = "AccessDenied on UpdateAssumeRolePolicy"
        return causes


def external_accounts(count: int) -> list[str]:
    return [str(200000000000 + 7919 * index) for index in range(count)]


_SHAPES = ("accounts", "root_arns_one_statement_each", "statement_object", "principal_arns", "federated", "public")


def trust_policy_for(index: int, principals: int, rng: random.Random) -> tuple[str, dict[str, Any]]:
    """One of several realistic trust-policy shapes granting `principals` external principals."""
    shape = _SHAPES[index % len(_SHAPES)]
    accounts = rng.sample(external_accounts(64), principals)
    allow = "Allow"
    body: list[dict[str, Any]] | dict[str, Any]
    if shape == "accounts":
        body = [{"Effect": allow, "Principal": {"AWS": accounts}, "Action": "sts:AssumeRole"}]
    elif shape == "root_arns_one_statement_each":
        body = [
            {
                "Sid": "LegacyDeny",
                "Effect": "Deny",
                "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
                "Action": "sts:AssumeRole",
            }
        ] + [
            {
                "Sid": f"Partner{n}",
                "Effect": allow,
                "Principal": {"AWS": f"arn:aws:iam::{a}:root"},
                "Action": "sts:AssumeRole",
            }
            for n, a in enumerate(accounts)
        ]
    elif shape == "statement_object":
        body = {
            "Effect": allow,
            "Principal": {"AWS": [f"arn:aws:iam::{a}:root" for a in accounts]},
            "Action": ["sts:AssumeRole"],
        }
    elif shape == "principal_arns":
        arns = [f"arn:aws:iam::{a}:{'user' if n % 2 else 'role'}/partner-{index}-{n}" for n, a in enumerate(accounts)]
        body = [
            {"Effect": allow, "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
            {
                "Effect": allow,
                "Principal": {"AWS": arns},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": f"ext-{index}"}},
            },
        ]
    elif shape == "federated":
        body = [
            {
                "Effect": allow,
                "Principal": {"Federated": "cognito-identity.amazonaws.com"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": f"us-east-1:pool-{index}"}},
            },
            {
                "Effect": allow,
                "Principal": {"Federated": f"arn:aws:iam::{accounts[0]}:saml-provider/Okta"},
                "Action": "sts:AssumeRoleWithSAML",
            },
            {"Effect": allow, "Principal": {"AWS": accounts[2:principals]}, "Action": "sts:AssumeRole"},
        ]
    else:  # public: anyone, plus named accounts
        body = [
            {"Effect": allow, "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
            {"Effect": allow, "Principal": {"AWS": accounts[1:principals]}, "Action": "sts:AssumeRole"},
        ]
    return shape, {"Version": "2012-10-17", "Statement": body}


def build_burst(aws: Aws, size: BurstSize, seed: int | str = 1) -> Burst:
    """Create the roles, let both stand-ins analyse them, and build the queue's messages (seeded order)."""
    rng = random.Random(f"burst:{seed}")
    iam = aws.client("iam")
    poison_indexes = {1 + n * max(1, size.roles // max(1, size.poison_roles)) for n in range(size.poison_roles)}
    roles: dict[str, RoleInfo] = {}
    for index in range(size.roles):
        name = f"burst-{index:04d}"
        shape, policy = trust_policy_for(index, size.principals_per_role, rng)
        path = "/teams/ci/" if index % 4 == 1 else "/"
        iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=json.dumps(policy))
        stored = iam.get_role(RoleName=name)["Role"]
        roles[name] = RoleInfo(name, stored["Arn"], shape, stored["AssumeRolePolicyDocument"], index in poison_indexes)
    by_arn = {role.arn: role for role in roles.values()}
    by_arn_name = {role.name: role.arn for role in roles.values()}
    findings: dict[str, FindingInfo] = {}
    events: list[tuple[str, dict[str, Any]]] = []
    for region, standin in aws.standins.items():
        standin.analyze_roles(iam)
        active = standin.findings(status="ACTIVE")
        # In role order, then principal order (moto lists roles in no fixed order): the same seed, the same burst.
        active.sort(key=lambda f: (list(by_arn).index(f["resource"]), json.dumps(f["principal"], sort_keys=True)))
        for finding in active:
            role = by_arn[finding["resource"]]
            if region != "us-east-1" and int(role.name.split("-")[1]) % size.west_every:
                continue
            findings[finding["id"]] = FindingInfo(
                finding["id"],
                region,
                standin.analyzer_arn,
                role.name,
                dict(finding["principal"]),
                tuple(finding["action"]),
            )
            events.append((finding["id"], build_finding_event(finding, standin.analyzer_arn, region, ACCOUNT)))
    # Events naming an analyzer the function may not read (a Region added to the configuration, not to the role).
    for source in rng.sample(list(findings.values()), min(size.unreadable_findings, len(findings))):
        finding_id = f"unreadable-{rng.getrandbits(64):016x}"
        findings[finding_id] = FindingInfo(
            finding_id, "ap-southeast-2", UNREADABLE_ANALYZER, source.role_name, source.principal, source.actions
        )
        stored = aws.standins[source.region].findings(status="ACTIVE", resource=by_arn_name[source.role_name])
        api = next(f for f in stored if f["id"] == source.id)
        event = build_finding_event({**api, "id": finding_id}, UNREADABLE_ANALYZER, "ap-southeast-2", ACCOUNT)
        events.append((finding_id, event))
    # The analyzers emit a role's findings together; a standard queue keeps roughly that order, not exactly.
    order = sorted(range(len(events)), key=lambda n: n + rng.uniform(0, size.reorder_window))
    ordered = [events[n] for n in order]
    duplicates = [ordered[n] for n in sorted(rng.sample(range(len(ordered)), int(len(ordered) * size.duplicate_share)))]
    for duplicate in duplicates:  # EventBridge delivers at least once: a second message, somewhat later
        ordered.insert(min(len(ordered), ordered.index(duplicate) + rng.randint(1, 200)), duplicate)
    messages = [Message(f"msg-{n:05d}", finding_id, json.dumps(event)) for n, (finding_id, event) in enumerate(ordered)]
    return Burst(roles, findings, messages)


# ==================================================================================================== workers
@dataclass
class BatchResult:
    response: dict[str, Any] | None
    error: str | None  # an exception that escaped the handler (a bug for SQS batches)
    decisions: list[tuple[str, str, str, str]]  # (finding id, decision, reason, summary) as the engine logged them
    notification_error: str | None  # the digest could not be published (the handler logged it)
    malformed: list[str]  # message ids the handler reported as malformed (and acknowledged)
    ignored: list[str]  # reasons of the events the handler acknowledged without action
    attempts: Counter[str]
    injected: Counter[str]
    seconds: float
    worker: int


class _DecisionLog(logging.Handler):
    """Collects what the engine and the handler log per record: decisions, malformed and ignored events, and a
    failed notification (their structured extras)."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.clear()

    def clear(self) -> None:
        self.decisions: list[tuple[str, str, str, str]] = []
        self.notification_error: str | None = None
        self.malformed: list[str] = []
        self.ignored: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message == "notification failed":
            self.notification_error = str(getattr(record, "error", "")) or "unknown error"
        elif message == "malformed event dropped":
            self.malformed.append(str(getattr(record, "message_id", "")))
        elif message == "event ignored":
            self.ignored.append(str(getattr(record, "reason", "")))
        elif message == "decision":
            self.decisions.append(
                (
                    str(getattr(record, "correlation_id", "")),
                    str(getattr(record, "decision", "")),
                    str(getattr(record, "reason", "")),
                    str(getattr(record, "summary", "")),
                )
            )


@dataclass
class _Worker:
    handler: ModuleType
    injector: FaultInjector
    log: _DecisionLog


_worker: _Worker | None = None


def init_worker(
    env: Mapping[str, str],
    endpoints: Mapping[str, str],
    rates: FaultRates,
    poison_roles: Sequence[str],
    poison_analyzers: Sequence[str],
    log_path: str | None,
) -> None:
    """Process initialiser: one warm "Lambda instance" with the real handler module."""
    global _worker  # noqa: PLW0603 - one handler per worker process, as one per Lambda execution environment
    os.environ.update(env)
    # Powertools writes its JSON logs and EMF metrics to stdout: keep them, out of the test's output.
    sys.stdout = open(log_path or os.devnull, "a", buffering=1)  # noqa: SIM115 - lives as long as the process
    import boto3

    boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    emitter = boto3.DEFAULT_SESSION.events  # the handler's clients are created from this session, with these hooks
    injector = FaultInjector(rates, poison_roles=frozenset(poison_roles), poison_analyzers=frozenset(poison_analyzers))
    injector.register(emitter)
    route_access_analyzer(emitter, endpoints)
    handler = importlib.import_module("access_analyzer_remediation.handler")
    log = _DecisionLog()
    logging.getLogger("access_analyzer_remediation.engine").addHandler(log)
    logging.getLogger(handler.logger.name).addHandler(log)  # Powertools' logger: "notification failed"
    _worker = _Worker(handler, injector, log)


def run_batch(event: dict[str, Any], seed: str) -> BatchResult:
    """Invoke the handler once, like the event source mapping does, and report what happened."""
    worker = _worker
    assert worker is not None, "init_worker has not run in this process"
    worker.injector.reseed(seed)
    worker.log.clear()
    started = time.perf_counter()
    response: dict[str, Any] | None = None
    error = None
    try:
        response = worker.handler.lambda_handler(event, LAMBDA_CONTEXT)
    except Exception as err:
        error = "".join(traceback.format_exception_only(err)).strip() + "\n" + traceback.format_exc(limit=-3)
    attempts, injected = worker.injector.take_counts()
    return BatchResult(
        response,
        error,
        worker.log.decisions,
        worker.log.notification_error,
        worker.log.malformed,
        worker.log.ignored,
        attempts,
        injected,
        time.perf_counter() - started,
        os.getpid(),
    )


def _warm_up(delay: float) -> int:
    time.sleep(delay)  # keeps this worker busy so the next warm-up task starts another process
    return os.getpid()


class HandlerPool:
    """`workers` processes, each a warm Lambda instance running the real handler (spawned: no inherited state)."""

    def __init__(
        self,
        env: Mapping[str, str],
        endpoints: Mapping[str, str],
        workers: int = 8,
        rates: FaultRates = NO_FAULTS,
        poison_roles: Sequence[str] = (),
        poison_analyzers: Sequence[str] = (),
        log_dir: str | None = None,
    ) -> None:
        self.workers = workers
        self._executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=_process_context(),
            initializer=init_worker,
            initargs=(
                dict(env),
                dict(endpoints),
                rates,
                list(poison_roles),
                list(poison_analyzers),
                os.path.join(log_dir, "handler.log") if log_dir else None,
            ),
        )

    def __enter__(self) -> HandlerPool:
        pids = {f.result() for f in [self._executor.submit(_warm_up, 0.5) for _ in range(self.workers)]}
        assert pids, "no worker started"
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def submit(self, event: dict[str, Any], seed: str) -> Future[BatchResult]:
        return self._executor.submit(run_batch, event, seed)


# ==================================================================================================== SQS
@dataclass
class QueuedMessage:
    message: Message
    receives: int = 0
    duplicated: bool = False


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    finding_id: str
    receives: int
    why: str


@dataclass
class SimulationResult:
    seconds: float = 0.0
    batches: int = 0
    deliveries: int = 0
    sqs_duplicates: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)
    handler_errors: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)
    attempts: Counter[str] = field(default_factory=Counter)
    injected: Counter[str] = field(default_factory=Counter)
    decisions: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    receives: Counter[int] = field(default_factory=Counter)  # receives it took -> messages (acknowledged ones)
    last_ack_seconds: float = 0.0  # when the last message was acknowledged (dead letters never are)
    batch_seconds: list[float] = field(default_factory=list)

    @property
    def injected_share(self) -> float:
        total = sum(self.attempts.values())
        return sum(self.injected.values()) / total if total else 0.0


_AWS_ERROR = re.compile(r"\((\w+)\) when calling the (\w+) operation")


def error_cause(summary: str) -> str:
    """ "ClientError('An error occurred (Throttling) when calling the GetRole operation...')" -> the code and call."""
    match = _AWS_ERROR.search(summary)
    if match:
        return f"{match[1]} on {match[2]}"
    return summary.split("(", 1)[0] or summary[:80]


class SqsSimulator:
    """The SQS queue plus the event source mapping in front of the handler pool.

    - up to `concurrency` batches in flight (one per worker), `batch_size` records each, oldest visible first;
    - a record reported in batchItemFailures (or every record of a batch whose invocation raised, or whose response
      names an unknown message) becomes visible again after `visibility_timeout` seconds;
    - after `max_receive_count` receives a failed record moves to the dead-letter queue instead;
    - a share of the acknowledged records is delivered once more (`duplicate_rate`; SQS is at-least-once).
    """

    def __init__(
        self,
        pool: HandlerPool,
        batch_size: int = 10,
        max_receive_count: int = 5,
        visibility_timeout: float = 1.0,
        duplicate_rate: float = 0.05,
        seed: int | str = 1,
    ) -> None:
        self.pool = pool
        self.batch_size = batch_size
        self.max_receive_count = max_receive_count
        self.visibility_timeout = visibility_timeout
        self.duplicate_rate = duplicate_rate
        self.seed = seed
        self._random = random.Random(f"sqs:{seed}")

    def run(self, messages: Iterable[Message], deadline_seconds: float = 600.0) -> SimulationResult:
        result = SimulationResult()
        visible: deque[QueuedMessage] = deque(QueuedMessage(m) for m in messages)
        hidden: list[tuple[float, int, QueuedMessage]] = []  # (visible again at, tie-breaker, message)
        in_flight: dict[Future[BatchResult], list[QueuedMessage]] = {}
        causes: dict[str, Counter[str]] = {}  # message id -> why its deliveries failed
        started = time.monotonic()
        tie = 0
        while visible or hidden or in_flight:
            now = time.monotonic()
            if now - started > deadline_seconds:
                raise TimeoutError(
                    f"queue not drained after {deadline_seconds:.0f} s: {len(visible)} visible, {len(hidden)} hidden"
                )
            while hidden and hidden[0][0] <= now:
                visible.append(heapq.heappop(hidden)[2])
            while visible and len(in_flight) < self.pool.workers:
                batch = [visible.popleft() for _ in range(min(self.batch_size, len(visible)))]
                for queued in batch:
                    queued.receives += 1
                event = sqs_event([(q.message.message_id, q.message.body, q.receives) for q in batch])
                in_flight[self.pool.submit(event, f"{self.seed}:{result.batches}")] = batch
                result.batches += 1
                result.deliveries += len(batch)
            if not in_flight:
                time.sleep(max(0.0, min(0.05, hidden[0][0] - time.monotonic())) if hidden else 0.0)
                continue
            done, _ = wait(list(in_flight), timeout=0.05, return_when=FIRST_COMPLETED)
            for future in done:
                batch = in_flight.pop(future)
                outcome = future.result()
                failed = self._account(outcome, batch, result, causes)
                for queued in batch:
                    message = queued.message
                    if message.message_id not in failed:
                        result.receives[queued.receives] += 1
                        result.last_ack_seconds = time.monotonic() - started
                        if not queued.duplicated and self._random.random() < self.duplicate_rate:
                            queued.duplicated = True  # the delete was lost: the same message comes once more
                            result.sqs_duplicates += 1
                            visible.append(queued)
                    elif queued.receives >= self.max_receive_count:
                        counted = causes.get(message.message_id, Counter())
                        why = "; ".join(f"{cause} (x{n})" for cause, n in counted.most_common()) or "unknown"
                        result.dead_letters.append(
                            DeadLetter(message.message_id, message.finding_id, queued.receives, why)
                        )
                    else:
                        tie += 1
                        heapq.heappush(hidden, (time.monotonic() + self.visibility_timeout, tie, queued))
        result.seconds = time.monotonic() - started
        return result

    @staticmethod
    def _account(
        outcome: BatchResult, batch: list[QueuedMessage], result: SimulationResult, causes: dict[str, Counter[str]]
    ) -> set[str]:
        """Fold one invocation into the result; return the message ids SQS keeps (failed records)."""
        result.attempts.update(outcome.attempts)
        result.injected.update(outcome.injected)
        result.batch_seconds.append(outcome.seconds)
        ids = {q.message.message_id for q in batch}
        by_finding: dict[str, list[str]] = {}
        for queued in batch:
            by_finding.setdefault(queued.message.finding_id, []).append(queued.message.message_id)
        failed_causes: dict[str, str] = {}
        for finding_id, decision, reason, summary in outcome.decisions:
            result.decisions.setdefault(finding_id, []).append((decision, reason, summary))
            if decision == "failed":
                for message_id in by_finding.get(finding_id, []):
                    failed_causes[message_id] = f"{reason}: {error_cause(summary)}"
        failed = SqsSimulator._failed_ids(outcome, ids, result)
        for message_id in failed:  # once per delivery, even if a batch held the event twice
            cause = failed_causes.get(message_id) or (
                f"notification failed: {error_cause(outcome.notification_error)}"
                if outcome.notification_error
                else "handed back without a logged cause"
            )
            causes.setdefault(message_id, Counter())[cause] += 1
        return failed

    @staticmethod
    def _failed_ids(outcome: BatchResult, ids: set[str], result: SimulationResult) -> set[str]:
        if outcome.error is not None:
            result.handler_errors.append(outcome.error)
            return ids
        response = outcome.response or {}
        failures = response.get("batchItemFailures")
        if not isinstance(failures, list):
            result.bad_responses.append(f"no batchItemFailures list: {response!r}"[:300])
            return ids
        failed = {str(item.get("itemIdentifier")) for item in failures if isinstance(item, dict)}
        if not failed <= ids or len(failed) != len(failures):
            # SQS treats a response naming an unknown or empty id as a failure of the whole batch.
            result.bad_responses.append(f"unknown or malformed itemIdentifier in {failures!r}"[:300])
            return ids
        return failed


# ==================================================================================================== checks
@dataclass
class BurstReport:
    problems: list[str]
    dead_letters: list[DeadLetter]
    facts: dict[str, Any]

    def summary(self) -> str:
        lines = [f"{key}: {value}" for key, value in self.facts.items()]
        lines += [
            f"DLQ {d.message_id} (finding {d.finding_id}, {d.receives} receives): {d.why}" for d in self.dead_letters
        ]
        lines += [f"PROBLEM: {problem}" for problem in self.problems[:50]]
        return "\n".join(lines)


Deny = tuple[str, str, tuple[str, ...]]  # (principal kind, value, actions) as the tool's statements hold them


def expected_denies(principal: Mapping[str, str], actions: Iterable[str]) -> set[Deny]:
    """What the tool must deny for a finding: each principal outside the zone of trust, for the finding's actions."""
    targets, _ = classify_principal(principal)
    return {(t.kind, t.value, tuple(sorted(actions))) for t in targets if t.account_id != ACCOUNT}


def verify_burst(aws: Aws, burst: Burst, result: SimulationResult, lease_seconds: float = 5.0) -> BurstReport:
    """Everything the burst must guarantee, as a list of problems (none = pass), plus the facts worth reporting."""
    problems: list[str] = []
    iam = aws.client("iam")
    sent = {m.finding_id for m in burst.messages}
    permanent = {fid: cause for fid, cause in burst.permanent_failures().items() if fid in sent}
    healthy = sent - set(permanent)
    items = scan_table(aws)
    decisions = [item for item in items if item["pk"]["S"].startswith("FINDING#")]
    locks = [item for item in items if item["pk"]["S"].startswith("LOCK#")]
    # Where each Deny in place comes from: a "remediate" record naming it, or an "already contained" record of a
    # finding with that principal (a redelivery after a write whose answer was lost: revert falls back to those).
    recorded: set[tuple[str, Deny]] = set()  # named in the `denied` list of a "remediate" record
    traceable: set[tuple[str, Deny]] = set()
    for item in decisions:
        role_arn = item["resource_arn"]["S"]
        if item["decision"]["S"] == "remediate":
            for entry in json.loads(item["denied"]["S"]):
                recorded.add((role_arn, (entry["kind"], entry["value"], tuple(sorted(entry["actions"])))))
        elif item["reason"]["S"] == "already_contained":
            principal = json.loads(item["principal"]["S"])
            actions = [a["S"] for a in item["actions"]["L"]]
            traceable |= {(role_arn, deny) for deny in expected_denies(principal, actions)}
    traceable |= recorded
    # -- trust policies: originals an unchanged prefix, each Deny exactly once, nothing else added -----------------
    denies_in_place = untraceable = unrecorded = 0
    for role in burst.roles.values():
        final = iam.get_role(RoleName=role.name)["Role"]["AssumeRolePolicyDocument"]
        original, now = statements(role.original), statements(final)
        if now[: len(original)] != original:
            problems.append(f"{role.name}: an original statement was altered, removed or reordered")
        added = now[len(original) :]
        if role.poison:
            if added:
                problems.append(f"{role.name}: changed although IAM refuses every change to it")
            continue
        foreign = [s for s in added if not str(s.get("Sid", "")).startswith(SID_PREFIX) or s.get("Effect") != "Deny"]
        if foreign:
            problems.append(f"{role.name}: added statements that are not the tool's Denies: {foreign}")
        in_place = Counter((e.kind, e.value, tuple(sorted(e.actions))) for e in tool_entries(final))
        denies_in_place += sum(in_place.values())
        wanted = {
            deny
            for finding in burst.findings.values()
            if finding.id in healthy and finding.role_name == role.name
            for deny in expected_denies(finding.principal, finding.actions)
        }
        problems += [
            f"{role.name}: {deny} denied {in_place[deny]} times, want exactly once"
            for deny in sorted(wanted)
            if in_place[deny] != 1
        ]
        problems += [
            f"{role.name}: {deny} denied, but no finding asked for it" for deny in sorted(set(in_place) - wanted)
        ]
        untraceable += sum(1 for deny in in_place if (role.arn, deny) not in traceable)
        unrecorded += sum(1 for deny in in_place if (role.arn, deny) not in recorded)
    if untraceable:
        problems.append(f"{untraceable} Denies in place that no audit record explains (revert could not find them)")
    # -- audit: a decision recorded for every finding ----------------------------------------------------------------
    missing_audit = sorted(healthy - {item["finding_id"]["S"] for item in decisions})
    if missing_audit:
        problems.append(f"{len(missing_audit)} findings without an audit record, e.g. {missing_audit[:5]}")
    # -- locks: whatever is left is an expired lease of a failed release, never a longer one -------------------------
    ended = time.time()
    held_on = [item["pk"]["S"] for item in locks if float(item["lease_until"]["N"]) > ended + lease_seconds]
    if held_on:
        problems.append(f"locks leased beyond {lease_seconds} s: {held_on[:5]}")
    # -- notifications: every finding in some digest ----------------------------------------------------------------
    mails = read_mailbox(aws)
    missing_mail = sorted(f for f in healthy if not any(f in body for body in mails))
    if missing_mail:
        problems.append(f"{len(missing_mail)} findings in no e-mail, e.g. {missing_mail[:5]}")
    # -- the dead-letter queue: the permanent failures, all of them, only them, each with its cause -------------------
    dead = {d.finding_id for d in result.dead_letters}
    if dead - set(permanent):
        problems.append(f"transient failures ended in the DLQ: {sorted(dead - set(permanent))}")
    if set(permanent) - dead:
        problems.append(f"permanent failures not dead-lettered: {sorted(set(permanent) - dead)}")
    problems += [
        f"dead letter {d.message_id} does not show its cause ({permanent[d.finding_id]}): {d.why}"
        for d in result.dead_letters
        if d.finding_id in permanent and permanent[d.finding_id] not in d.why
    ]
    problems += [f"handler raised: {error}" for error in result.handler_errors]
    problems += [f"invalid batch response: {bad}" for bad in result.bad_responses]
    # -- the analyzers agree: only roles IAM would not let us change still show external access ---------------------
    still_active: set[str] = set()
    for standin in aws.standins.values():
        standin.analyze_roles(iam)
        still_active |= {f["resource"] for f in standin.findings(status="ACTIVE")}
    exposed = sorted(still_active - {r.arn for r in burst.roles.values() if r.poison})
    if exposed:
        problems.append(f"the analyzer still reports external access to {exposed[:5]}")
    attempts = sum(n for key, n in result.attempts.items() if key.split(".")[0] in ENGINE_SERVICES)
    facts = {
        "roles": len(burst.roles),
        "distinct findings": len(sent),
        "messages": len(burst.messages),
        "deliveries": result.deliveries,
        "SQS duplicate deliveries": result.sqs_duplicates,
        "batches": result.batches,
        "seconds until every healthy finding was acknowledged": round(result.last_ack_seconds, 1),
        "seconds until the queue was empty (DLQ included)": round(result.seconds, 1),
        "healthy findings per second": round(len(healthy) / result.last_ack_seconds, 1)
        if result.last_ack_seconds
        else math.nan,
        "HTTP attempts": attempts,
        "faults injected": dict(sorted(result.injected.items())),
        "fault share of attempts": round(sum(result.injected.values()) / attempts, 3) if attempts else 0.0,
        "receives per acknowledged message": dict(sorted(result.receives.items())),
        "Denies in place": denies_in_place,
        # A write whose answer was lost: no "remediate" record names it; the redelivery found it and recorded
        # "already contained", which is what revert falls back on (revert._entries_for).
        "Denies only an 'already contained' record explains": unrecorded,
        "audit records": len(decisions),
        "lock items left (expired leases)": len(locks),
        "e-mails": len(mails),
        "dead letters": len(result.dead_letters),
    }
    return BurstReport(problems, result.dead_letters, facts)


def _process_context() -> Any:
    # Workers fork from a server that has already imported boto3 and Powertools (tests/load/preload.py): 16 workers
    # start in about 2 s instead of 6 s, and nothing of the test process (threads, sockets, moto) is inherited.
    context = get_context("forkserver")
    context.set_forkserver_preload(["tests.load.preload"])
    return context
