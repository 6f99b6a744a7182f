"""Load machinery shared by the burst test (tests/load/test_burst.py), the contention test and the benchmark.

- One clean AWS per run comes from `tests.unit.conftest.make_aws` (moto server + the two Access Analyzer stand-ins,
  the audit table, the topic and an SQS queue subscribed to it that stands in for the security team's mailbox).
- `build_burst`: many roles with varied trust policies, their findings from both stand-ins ("Regions"), and the
  EventBridge events that reach the queue (duplicated across Regions, some twice).
- `HandlerPool`: separate worker processes, each importing the REAL handler module with the Lambda's environment,
  like warm Lambda instances. Faults (tests/load/faults.py) are registered on the default boto3 session before the
  handler creates its clients, so the package's own client factory and retry configuration are what is tested.
  Each worker is its own process behind a pipe: a worker that dies in the middle of a batch (`kill_after_write`,
  or a crash) reports that batch as "invocation killed", like a Lambda timeout, and is respawned warm.
- `SqsSimulator`: the SQS event source mapping: batches of 10, partial batch responses, redelivery after a visibility
  timeout, duplicate deliveries (SQS is at-least-once), and a dead-letter queue after `max_receive_count` receives.
  Optionally also: outages of one service for a while (`Outage`), the analyzer re-analysing the roles every few
  batches (`AnalyzerRerun`: contained findings turn RESOLVED while their messages are still being redelivered),
  scheduled sweeps (`SweepPlan`, with ListFindingsV2 failing) whose finding references land on a real SQS queue in
  moto (`QueueFeed`) and are fed back into the simulation, and hooks called after every batch (`RevertRacer`).
- `RevertRacer`: `aa-remediate revert --finding-id ID` (the CLI's `main`, in its own process with the deployment's
  AAR_* environment) for a sample of findings as soon as they are remediated, while the burst goes on.
- `verify_burst`: the outcome checks, as a list of problems (empty = nothing lost, nothing altered).
"""

from __future__ import annotations

import contextlib
import heapq
import importlib
import json
import logging
import math
import os
import queue
import random
import re
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from multiprocessing import connection as mp_connection
from multiprocessing import get_context
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, Protocol

import access_analyzer_remediation
from access_analyzer_remediation.policy import SID_PREFIX, classify_principal, statements, tool_entries
from sandbox.access_analyzer import AccessAnalyzerStandIn, build_finding_event
from sandbox.iam_consistency import consistent_reads
from tests.load.faults import (
    ENGINE_SERVICES,
    KILLED_EXIT_CODE,
    NO_FAULTS,
    FaultInjector,
    FaultRates,
    Outage,
    OutageWindow,
    route_access_analyzer,
)
from tests.unit.conftest import Aws

ACCOUNT = "123456789012"  # moto's default account: every role lives here
LAMBDA_CONTEXT = SimpleNamespace(
    function_name="access-analyzer-remediation",
    memory_limit_in_mb=256,
    invoked_function_arn=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:access-analyzer-remediation",
    aws_request_id="load-test",
)
LAMBDA_TIMEOUT_SECONDS = 60.0  # the module's default function timeout


def lambda_context(timeout: float = LAMBDA_TIMEOUT_SECONDS) -> SimpleNamespace:
    """LAMBDA_CONTEXT for one invocation, with the Lambda context's clock (get_remaining_time_in_millis)."""
    deadline = time.monotonic() + timeout
    return SimpleNamespace(
        **vars(LAMBDA_CONTEXT),
        get_remaining_time_in_millis=lambda: max(0, int((deadline - time.monotonic()) * 1000)),
    )


QUEUE_NAME = "aar-findings"
QUEUE_ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}:{QUEUE_NAME}"
# Configured in AAR_ANALYZER_ARNS, but the function's role may not call GetFinding on it (tests/load/faults.py).
UNREADABLE_ANALYZER = f"arn:aws:access-analyzer:ap-southeast-2:{ACCOUNT}:analyzer/sandbox-analyzer"
REPO_ROOT = Path(__file__).resolve().parents[2]
# The engine under test: the same package the test process imported (so the CLI runs the same code).
PACKAGE_PARENT = Path(access_analyzer_remediation.__file__).resolve().parents[1]
INVOCATION_KILLED = "invocation killed"
_REVERT_LINE = re.compile(r"aa-remediate revert --finding-id (\S+)")


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


def create_findings_queue(aws: Aws) -> str:
    """The module's main queue in moto (AAR_QUEUE_URL): where the sweep puts its finding references."""
    return str(aws.client("sqs").create_queue(QueueName=QUEUE_NAME)["QueueUrl"])


def stand_in_endpoints(aws: Aws) -> dict[str, str]:
    return {region: standin.endpoint_url for region, standin in aws.standins.items()}


def consistent_iam(aws: Aws) -> Any:
    """An IAM client that always reads the latest trust policy, even with the server's read lag on."""
    return consistent_reads(aws.client("iam"))


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


def decision_items(items: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The decision records (pk FINDING#<id>, sk DECISION#...): not claims (CLAIM#), not reverts (REVERT#)."""
    return [
        item
        for item in items
        if item["pk"]["S"].startswith("FINDING#") and item.get("sk", {}).get("S", "").startswith("DECISION#")
    ]


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
    iam = consistent_iam(aws)
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
    worker: int  # the worker's pid
    cpu_seconds: float = 0.0  # the worker process's CPU time during the invocation (all its threads)
    killed: bool = False  # the worker process died before it answered (its counters died with it)
    exit_code: int | None = None  # of a killed worker: KILLED_EXIT_CODE = the injected kill, anything else a crash

    @classmethod
    def of_killed_worker(cls, pid: int, exit_code: int | None, seconds: float) -> BatchResult:
        return cls(None, None, [], None, [], [], Counter(), Counter(), seconds, pid, 0.0, True, exit_code)

    @property
    def crashed(self) -> bool:
        """Died of something other than the injected kill."""
        return self.killed and self.exit_code != KILLED_EXIT_CODE


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
    rates: FaultRates  # the pool's


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
    _worker = _Worker(handler, injector, log, rates)


def run_batch(
    event: dict[str, Any], seed: str, outages: Sequence[OutageWindow] = (), rates: FaultRates | None = None
) -> BatchResult:
    """Invoke the handler once, like the event source mapping does, and report what happened.

    `outages` and `rates` (instead of the pool's rates) apply to this invocation only."""
    worker = _worker
    assert worker is not None, "init_worker has not run in this process"
    worker.injector.reseed(seed)
    worker.injector.set_outages(outages)
    worker.injector.rates = rates or worker.rates
    worker.log.clear()
    started = time.perf_counter()
    cpu_started = time.process_time()
    response: dict[str, Any] | None = None
    error = None
    try:
        response = worker.handler.lambda_handler(event, lambda_context())
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
        time.process_time() - cpu_started,
    )


def _worker_main(conn: mp_connection.Connection, initargs: tuple[Any, ...]) -> None:
    """One worker process: warm up (init_worker), say so, then run one batch per message until told to stop."""
    init_worker(*initargs)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            task = conn.recv()
        except EOFError:  # the pool is gone
            return
        if task is None:
            return
        event, seed, outages, rates = task
        conn.send(run_batch(event, seed, outages, rates))


@dataclass
class _Task:
    future: Future[BatchResult]
    event: dict[str, Any]
    seed: str
    outages: tuple[OutageWindow, ...]
    rates: FaultRates | None


@dataclass
class _Handle:
    process: Any  # multiprocessing.process.BaseProcess
    conn: mp_connection.Connection
    pid: int = 0


class HandlerPool:
    """`workers` processes, each a warm Lambda instance running the real handler (forked from a clean server: no
    state of the test process is inherited), each fed by its own thread through a pipe.

    Unlike a ProcessPoolExecutor, the pool survives a worker's death: the batch it was running comes back as a
    `BatchResult` with ``killed=True`` (what a Lambda timeout looks like to SQS: no response, every record of the
    batch visible again after the visibility timeout), and a new worker is started in its place and warmed up before
    it takes the next batch. `kills` counts the injected kills, `crashes` any other death, `respawns` both.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        endpoints: Mapping[str, str],
        workers: int = 8,
        rates: FaultRates = NO_FAULTS,
        poison_roles: Sequence[str] = (),
        poison_analyzers: Sequence[str] = (),
        log_dir: str | None = None,
        startup_timeout: float = 120.0,
    ) -> None:
        self.workers = workers
        self.startup_timeout = startup_timeout
        self._initargs = (
            dict(env),
            dict(endpoints),
            rates,
            list(poison_roles),
            list(poison_analyzers),
            os.path.join(log_dir, "handler.log") if log_dir else None,
        )
        self._context = _process_context()
        self._tasks: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._handles: list[_Handle | None] = [None] * workers
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.kills = 0
        self.respawns = 0
        self.crashes: list[str] = []
        self.pids: list[int] = []  # every worker process started, in order
        self._closed = False

    # -- lifecycle ------------------------------------------------------------------------------------------------
    def __enter__(self) -> HandlerPool:
        started: list[_Handle] = []
        try:
            started += [self._spawn() for _ in range(self.workers)]  # all start at once, then each warms up
            for index, handle in enumerate(started):
                self._handles[index] = self._await_ready(handle)
        except BaseException:
            self._handles = list(started) + [None] * (self.workers - len(started))
            self._close_handles()
            raise
        for index in range(self.workers):
            thread = threading.Thread(target=self._serve, args=(index,), name=f"handler-worker-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._closed = True
        for _ in self._threads:
            self._tasks.put(None)
        deadline = time.monotonic() + 30  # batches still running (the run was aborted) get this long
        for thread in self._threads:
            thread.join(timeout=max(0.1, deadline - time.monotonic()))
        self._close_handles()

    def _spawn(self) -> _Handle:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_worker_main, args=(child, self._initargs), daemon=True)
        process.start()
        child.close()
        return _Handle(process, parent)

    def _await_ready(self, handle: _Handle) -> _Handle:
        if not handle.conn.poll(self.startup_timeout):
            raise RuntimeError(f"a handler worker did not start within {self.startup_timeout:.0f} s")
        try:
            tag, pid = handle.conn.recv()
        except EOFError as error:
            handle.process.join(timeout=5)
            raise RuntimeError(f"a handler worker died while starting (exit {handle.process.exitcode})") from error
        assert tag == "ready", tag
        handle.pid = int(pid)
        with self._lock:
            self.pids.append(handle.pid)
        return handle

    def _close_handles(self) -> None:
        """Ask every worker to exit, then end (by its own handle, never a broad kill) any that did not."""
        handles = [handle for handle in self._handles if handle is not None]
        self._handles = [None] * self.workers
        for handle in handles:
            with contextlib.suppress(OSError, ValueError):
                handle.conn.send(None)
        deadline = time.monotonic() + 10
        for handle in handles:
            handle.process.join(timeout=max(0.1, deadline - time.monotonic()))
        for handle in handles:
            if handle.process.is_alive():
                handle.process.terminate()
                handle.process.join(timeout=5)
            handle.conn.close()

    def wait_for_workers(self, timeout: float = 60.0) -> None:
        """Block until every worker is up (no respawn under way)."""
        deadline = time.monotonic() + timeout
        while any(handle is None for handle in self._handles):
            if time.monotonic() > deadline:
                raise TimeoutError(f"a handler worker was not back within {timeout:.0f} s: {self.crashes}")
            time.sleep(0.02)

    # -- work -----------------------------------------------------------------------------------------------------
    def submit(
        self,
        event: dict[str, Any],
        seed: str,
        outages: Sequence[OutageWindow] = (),
        rates: FaultRates | None = None,
    ) -> Future[BatchResult]:
        """Run one invocation on the next free worker; `outages` (tests/load/faults.Outage) and `rates` (instead
        of the pool's) apply to it only."""
        if not self._threads:
            raise RuntimeError("the pool is not running (use it as a context manager)")
        future: Future[BatchResult] = Future()
        self._tasks.put(_Task(future, event, seed, tuple(outages), rates))
        return future

    def _serve(self, index: int) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            if not task.future.set_running_or_notify_cancel():
                continue
            try:
                handle = self._handles[index]
                if handle is None:  # a respawn failed earlier: try again
                    handle = self._handles[index] = self._await_ready(self._spawn())
                result = self._run(handle, task)
            except BaseException as error:  # reported to whoever waits on the batch
                task.future.set_exception(error)
                continue
            if result.killed:
                self._record_death(result)
                self._handles[index] = None
                handle.conn.close()
            task.future.set_result(result)
            if result.killed and not self._closed:
                try:
                    self._handles[index] = self._await_ready(self._spawn())  # warm before it takes the next batch
                except Exception as error:
                    with self._lock:
                        self.crashes.append(f"respawn failed: {error}")
                    continue
                with self._lock:
                    self.respawns += 1

    def _run(self, handle: _Handle, task: _Task) -> BatchResult:
        started = time.perf_counter()
        try:
            handle.conn.send((task.event, task.seed, task.outages, task.rates))
            ready = mp_connection.wait([handle.conn, handle.process.sentinel])
            if handle.conn in ready:
                result: BatchResult = handle.conn.recv()  # EOFError if it died with nothing sent
                return result
        except (EOFError, OSError):
            pass
        handle.process.join(timeout=10)
        return BatchResult.of_killed_worker(handle.pid, handle.process.exitcode, time.perf_counter() - started)

    def _record_death(self, result: BatchResult) -> None:
        with self._lock:
            if result.crashed:
                self.crashes.append(f"worker {result.worker} died with exit code {result.exit_code}")
            else:
                self.kills += 1


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


@dataclass(frozen=True)
class SweepRun:
    """One invocation of a scheduled sweep (``{"aar_action": "sweep"}``)."""

    number: int  # which sweep (scheduled ones in order, then the final one)
    attempt: int  # 1 = the schedule's invocation, then the scheduler's retries
    at_seconds: float
    ok: bool
    detail: str  # the handler's response, or what went wrong


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
    batch_cpu_seconds: list[float] = field(default_factory=list)
    killed_batches: int = 0  # invocations whose worker died (the injected kill or a crash)
    crashes: list[str] = field(default_factory=list)  # deaths that were not the injected kill
    sweeps: list[SweepRun] = field(default_factory=list)
    sweep_failures: list[str] = field(default_factory=list)  # sweeps that failed on every attempt
    fed: list[Message] = field(default_factory=list)  # messages the handler itself put on the queue (the sweep)
    timed_out: bool = False  # the run was stopped at its deadline (SqsSimulator.run(stop_at_deadline=True))
    undrained: list[Message] = field(default_factory=list)  # still queued then

    @property
    def injected_share(self) -> float:
        total = sum(self.attempts.values())
        return sum(self.injected.values()) / total if total else 0.0


_AWS_ERROR = re.compile(r"\((\w+)\) when calling the (\w+) operation")
_ARN = re.compile(r"arn:[^\s'\"]*[^\s'\":,.]")


def error_cause(summary: str) -> str:
    """ "ClientError('An error occurred (Throttling) when calling the GetRole operation...')" -> the code and call;
    any other error -> its type and message without ARNs, so "LockBusy('<arn> has a change in progress...')" (handed
    back at once) and "LockBusy('<arn> is leased by another worker')" (after the whole lock wait) count apart."""
    match = _AWS_ERROR.search(summary)
    if match:
        return f"{match[1]} on {match[2]}"
    name, _, rest = summary.partition("(")
    message = _ARN.sub("<arn>", rest.removesuffix(")").strip("'\"")).strip()
    if name and message:
        return f"{name}: {message[:80]}"
    return name or summary[:80]


def finding_id_of(body: str) -> str:
    """The finding a queued body is about: a sweep's finding reference or an EventBridge event."""
    try:
        data = json.loads(body)
    except ValueError:
        return "?"
    if isinstance(data, dict):
        if data.get("finding_id"):
            return str(data["finding_id"])
        detail = data.get("detail")
        if isinstance(detail, dict) and detail.get("id"):
            return str(detail["id"])
    return "?"


class QueueFeed:
    """The main queue in moto (AAR_QUEUE_URL): what a handler sent there (the sweep's SendMessageBatch) is taken off
    it and fed into the simulation, where it is delivered like every other message."""

    def __init__(self, aws: Aws, queue_url: str) -> None:
        self._sqs = aws.client("sqs")
        self.queue_url = queue_url

    def take(self) -> list[Message]:
        messages: list[Message] = []
        while True:
            batch = self._sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=600, WaitTimeSeconds=0
            ).get("Messages", [])
            if not batch:
                return messages
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(batch)],
            )
            messages += [Message(f"fed-{m['MessageId']}", finding_id_of(m["Body"]), m["Body"]) for m in batch]


@dataclass
class SweepPlan:
    """Scheduled sweeps during the run (`at_seconds` after it started), and with `final` one more once the queue is
    empty and every outage is over. Before each, the analyzer (the simulator's, if any) re-analyses every role, as
    the real one has long done by the time the daily sweep runs. A sweep is the backfill and what sends the notices
    still waiting in the outbox. One that raises is invoked again like EventBridge Scheduler retries
    (`retry_seconds`, up to `max_attempts` invocations in all).
    """

    at_seconds: Sequence[float] = ()
    final: bool = True
    feed: QueueFeed | None = None  # where the sweep's finding references land (None: the sweep processes inline)
    list_findings_failures: int = 0  # ListFindingsV2 fails this often (InternalServerException) at each sweep's start
    standins: Sequence[AccessAnalyzerStandIn] = ()  # whose ListFindingsV2 fails
    retry_seconds: float = 1.0
    max_attempts: int = 4


@dataclass(frozen=True)
class _SweepAttempt:
    number: int
    attempt: int
    at_seconds: float


class AnalyzerRerun:
    """IAM Access Analyzer re-analysing every role every `every_batches` finished batches, in the background (one
    analysis at a time), reading the trust policies IAM stores: a Deny in place turns its finding RESOLVED while
    the finding's messages may still be redelivered."""

    def __init__(self, aws: Aws, every_batches: int = 5) -> None:
        self.every_batches = max(1, every_batches)
        self._iam = consistent_iam(aws)
        self._standins = list(aws.standins.values())
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.runs = 0
        self.resolved = 0
        self.resolved_ids: set[str] = set()  # findings the re-analysis turned RESOLVED during the run
        self.created = 0
        self.errors: list[str] = []

    def after_batch(self, batches_done: int) -> None:
        if batches_done % self.every_batches or (self._thread is not None and self._thread.is_alive()):
            return
        self._thread = threading.Thread(target=self.run, name="analyzer-rerun", daemon=True)
        self._thread.start()

    def run(self) -> None:
        with self._lock:
            try:
                for standin in self._standins:
                    outcome = standin.analyze_roles(self._iam)
                    self.resolved += len(outcome.resolved)
                    self.resolved_ids.update(outcome.resolved)
                    self.created += len(outcome.created)
            except Exception as error:  # reported in the facts; the final checks analyse again
                self.errors.append(repr(error))
            self.runs += 1

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join(timeout=120)


class Invoker(Protocol):
    """What the simulator needs of a pool: how many invocations may run at once, and a way to start one."""

    workers: int

    def submit(
        self,
        event: dict[str, Any],
        seed: str,
        outages: Sequence[OutageWindow] = (),
        rates: FaultRates | None = None,
    ) -> Future[BatchResult]:
        """Start one invocation; its result arrives on the future."""
        ...


class SqsSimulator:
    """The SQS queue plus the event source mapping in front of the handler pool.

    - up to `concurrency` batches in flight (one per worker), `batch_size` records each, oldest visible first;
    - a record reported in batchItemFailures (or every record of a batch whose invocation raised, was killed, or
      whose response names an unknown message) becomes visible again after `visibility_timeout` seconds;
    - after `max_receive_count` receives a failed record moves to the dead-letter queue instead;
    - a share of the acknowledged records is delivered once more (`duplicate_rate`; SQS is at-least-once);
    - `outages` (tests/load/faults.Outage) are handed to every invocation they touch;
    - `analyzer` re-analyses the roles every few batches, `sweeps` invokes the sweep (and feeds what it queued back
      in), and each of `on_batch` is called with every batch's result (e.g. `RevertRacer.on_batch`);
    - `batch_rates`: other fault rates for some invocations (by index, 0 = the first batch), e.g. a kill for sure.
    """

    def __init__(
        self,
        pool: Invoker,
        batch_size: int = 10,
        max_receive_count: int = 5,
        visibility_timeout: float = 1.0,
        duplicate_rate: float = 0.05,
        seed: int | str = 1,
        outages: Sequence[Outage] = (),
        analyzer: AnalyzerRerun | None = None,
        sweeps: SweepPlan | None = None,
        on_batch: Sequence[Callable[[BatchResult], None]] = (),
        batch_rates: Mapping[int, FaultRates] | None = None,
    ) -> None:
        self.pool = pool
        self.batch_size = batch_size
        self.max_receive_count = max_receive_count
        self.visibility_timeout = visibility_timeout
        self.duplicate_rate = duplicate_rate
        self.seed = seed
        self.outages = list(outages)
        self.analyzer = analyzer
        self.sweeps = sweeps
        self.on_batch = list(on_batch)
        self.batch_rates = dict(batch_rates or {})
        self._random = random.Random(f"sqs:{seed}")
        self._wall_started = time.time()

    def _windows(self, batch_index: int) -> list[OutageWindow]:
        windows = (outage.window(self._wall_started, batch_index) for outage in self.outages)
        return [window for window in windows if window is not None]

    def run(
        self, messages: Iterable[Message], deadline_seconds: float = 600.0, stop_at_deadline: bool = False
    ) -> SimulationResult:
        """Deliver until the queue is empty. At `deadline_seconds` raise TimeoutError, or, with `stop_at_deadline`,
        let the invocations under way finish and return with what is still queued in `result.undrained` (an
        engine that hands healthy records back for ever would otherwise take max_receive_count rounds for each)."""
        result = SimulationResult()
        visible: deque[QueuedMessage] = deque(QueuedMessage(m) for m in messages)
        hidden: list[tuple[float, int, QueuedMessage]] = []  # (visible again at, tie-breaker, message)
        in_flight: dict[Future[BatchResult], list[QueuedMessage] | _SweepAttempt] = {}
        causes: dict[str, Counter[str]] = {}  # message id -> why its deliveries failed
        started = time.monotonic()
        self._wall_started = time.time()
        plan = self.sweeps
        due: list[tuple[float, int, int]] = [
            (started + at, n, 1) for n, at in enumerate(plan.at_seconds if plan else ())
        ]
        heapq.heapify(due)
        final_pending = plan is not None and plan.final
        sweep_running = False
        last_feed = 0.0
        tie = completed = 0

        def feed() -> None:
            if plan is not None and plan.feed is not None:
                for message in plan.feed.take():
                    result.fed.append(message)
                    visible.append(QueuedMessage(message))

        while True:
            now = time.monotonic()
            if now - started > deadline_seconds:
                if not stop_at_deadline:
                    left = f"{len(visible)} visible, {len(hidden)} hidden"
                    raise TimeoutError(f"queue not drained after {deadline_seconds:.0f} s: {left}")
                self._stop(result, in_flight, visible, hidden, causes, started)
                break
            while hidden and hidden[0][0] <= now:
                visible.append(heapq.heappop(hidden)[2])
            if now - last_feed >= 0.25:
                feed()
                last_feed = now
            if due and due[0][0] <= now and not sweep_running and len(in_flight) < self.pool.workers:
                _, number, attempt = heapq.heappop(due)
                in_flight[self._submit_sweep(plan, number, attempt, result)] = _SweepAttempt(
                    number, attempt, now - started
                )
                sweep_running = True
            while visible and len(in_flight) < self.pool.workers:
                batch = [visible.popleft() for _ in range(min(self.batch_size, len(visible)))]
                for queued in batch:
                    queued.receives += 1
                event = sqs_event([(q.message.message_id, q.message.body, q.receives) for q in batch])
                index = result.batches
                future = self.pool.submit(
                    event, f"{self.seed}:{index}", self._windows(index), self.batch_rates.get(index)
                )
                in_flight[future] = batch
                result.batches += 1
                result.deliveries += len(batch)
            if not in_flight:
                if visible or hidden or due:
                    wakes = [hidden[0][0]] if hidden else []
                    wakes += [due[0][0]] if due else []
                    time.sleep(max(0.0, min(0.05, min(wakes, default=now) - time.monotonic())))
                    continue
                if final_pending and plan is not None:
                    if not all(o.over(self._wall_started, result.batches) for o in self.outages):
                        time.sleep(0.05)
                        continue
                    heapq.heappush(due, (time.monotonic(), len(plan.at_seconds), 1))
                    final_pending = False
                    continue
                feed()  # a last look at the main queue
                if visible:
                    continue
                break
            done, _ = wait(list(in_flight), timeout=0.05, return_when=FIRST_COMPLETED)
            for future in done:
                item = in_flight.pop(future)
                outcome = future.result()
                if isinstance(item, _SweepAttempt):
                    sweep_running = False
                    self._account_sweep(outcome, item, plan, result, due)
                    feed()
                    continue
                completed += 1
                self._settle(outcome, item, result, causes, visible, hidden, started, tie)
                tie += len(item)
                for hook in self.on_batch:
                    hook(outcome)
                if self.analyzer is not None:
                    self.analyzer.after_batch(completed)
        if self.analyzer is not None:
            self.analyzer.wait()
        result.seconds = time.monotonic() - started
        return result

    def _stop(
        self,
        result: SimulationResult,
        in_flight: dict[Future[BatchResult], list[QueuedMessage] | _SweepAttempt],
        visible: deque[QueuedMessage],
        hidden: list[tuple[float, int, QueuedMessage]],
        causes: dict[str, Counter[str]],
        started: float,
    ) -> None:
        """The deadline passed: let what runs finish (its records settle), then list what is still queued."""
        for n, (future, item) in enumerate(list(in_flight.items())):
            try:
                outcome = future.result(timeout=60)
            except Exception as error:  # reported: the run is being cut short anyway
                result.handler_errors.append(f"an invocation did not finish after the deadline: {error!r}")
                continue
            if isinstance(item, list):
                self._settle(outcome, item, result, causes, visible, hidden, started, 10**9 + 1000 * n)
        result.timed_out = True
        result.undrained = [q.message for q in visible] + [entry[2].message for entry in hidden]

    def _settle(
        self,
        outcome: BatchResult,
        batch: list[QueuedMessage],
        result: SimulationResult,
        causes: dict[str, Counter[str]],
        visible: deque[QueuedMessage],
        hidden: list[tuple[float, int, QueuedMessage]],
        started: float,
        tie: int,
    ) -> None:
        """Acknowledge, hide again or dead-letter each record of a finished batch."""
        failed = self._account(outcome, batch, result, causes)
        for offset, queued in enumerate(batch):
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
                result.dead_letters.append(DeadLetter(message.message_id, message.finding_id, queued.receives, why))
            else:
                heapq.heappush(hidden, (time.monotonic() + self.visibility_timeout, tie + offset, queued))

    def _submit_sweep(
        self, plan: SweepPlan | None, number: int, attempt: int, result: SimulationResult
    ) -> Future[BatchResult]:
        assert plan is not None
        if attempt == 1 and self.analyzer is not None:
            self.analyzer.wait()
            self.analyzer.run()  # the daily sweep meets an analyzer that has caught up with every change
        if attempt == 1 and plan.list_findings_failures:
            for standin in plan.standins:
                standin.fail_next("ListFindingsV2", "InternalServerException", times=plan.list_findings_failures)
        seed = f"{self.seed}:sweep{number}:{attempt}"
        return self.pool.submit({"aar_action": "sweep"}, seed, self._windows(result.batches))

    def _account_sweep(
        self,
        outcome: BatchResult,
        item: _SweepAttempt,
        plan: SweepPlan | None,
        result: SimulationResult,
        due: list[tuple[float, int, int]],
    ) -> None:
        assert plan is not None
        result.attempts.update(outcome.attempts)
        result.injected.update(outcome.injected)
        for finding_id, decision, reason, summary in outcome.decisions:
            result.decisions.setdefault(finding_id, []).append((decision, reason, summary))
        if outcome.killed:
            result.killed_batches += 1
            if outcome.crashed:
                result.crashes.append(f"sweep: worker {outcome.worker} died with exit code {outcome.exit_code}")
            detail = f"{INVOCATION_KILLED} (exit {outcome.exit_code})"
        else:
            detail = outcome.error.splitlines()[0] if outcome.error else json.dumps(outcome.response)[:300]
        ok = not outcome.killed and outcome.error is None
        result.sweeps.append(SweepRun(item.number, item.attempt, round(item.at_seconds, 1), ok, detail))
        if ok:
            return
        if item.attempt < plan.max_attempts:
            heapq.heappush(due, (time.monotonic() + plan.retry_seconds, item.number, item.attempt + 1))
        else:
            result.sweep_failures.append(f"sweep {item.number} failed {item.attempt} times, last: {detail}")

    @staticmethod
    def _account(
        outcome: BatchResult, batch: list[QueuedMessage], result: SimulationResult, causes: dict[str, Counter[str]]
    ) -> set[str]:
        """Fold one invocation into the result; return the message ids SQS keeps (failed records)."""
        result.attempts.update(outcome.attempts)
        result.injected.update(outcome.injected)
        result.batch_seconds.append(outcome.seconds)
        result.batch_cpu_seconds.append(outcome.cpu_seconds)
        ids = {q.message.message_id for q in batch}
        if outcome.killed:
            # Like a Lambda timeout: no response at all, so SQS keeps every record of the batch.
            result.killed_batches += 1
            if outcome.crashed:
                result.crashes.append(f"worker {outcome.worker} died with exit code {outcome.exit_code}")
            for message_id in ids:
                causes.setdefault(message_id, Counter())[f"{INVOCATION_KILLED} (exit {outcome.exit_code})"] += 1
            return ids
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


# ==================================================================================================== revert race
@dataclass(frozen=True)
class RevertRun:
    """One `aa-remediate revert` run of the racer."""

    finding_id: str
    exit_code: int
    reverted: bool  # exit 0 and the CLI said it removed the finding's Deny
    removed: list[dict[str, Any]]
    started_at: float  # seconds after the racer was created
    seconds: float
    detail: str  # the CLI's reason, or its stderr's last lines


# `aa-remediate` = access_analyzer_remediation.cli.main; first each Region's Access Analyzer calls are routed to that
# Region's stand-in (botocore takes one endpoint per service from the environment), as in the handler's workers.
_CLI = """
import json, os, sys
endpoints = json.loads(os.environ.get("AAR_TEST_ACCESSANALYZER_ENDPOINTS") or "{}")
if endpoints:
    import boto3
    from tests.load.faults import route_access_analyzer
    boto3.setup_default_session()
    route_access_analyzer(boto3.DEFAULT_SESSION.events, endpoints)
from access_analyzer_remediation.cli import main
sys.exit(main(sys.argv[1:]))
"""


def cli_env(aws: Aws, **overrides: str) -> dict[str, str]:
    """The deployment's AAR_* environment as an operator's shell has it (`terraform output cli_environment`), for the
    analyzers that exist in the sandbox (the burst's unreadable analyzer exists in no stand-in)."""
    return handler_env(aws, AAR_ANALYZER_ARNS=json.dumps([s.analyzer_arn for s in aws.standins.values()]), **overrides)


def run_cli(
    env: Mapping[str, str], *argv: str, endpoints: Mapping[str, str] | None = None, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """`aa-remediate ARGV` in its own process, with `env` on top of ours; `endpoints`: Region -> stand-in URL."""
    full_env = {**os.environ, **env}
    full_env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (PACKAGE_PARENT, REPO_ROOT))
    full_env["AAR_TEST_ACCESSANALYZER_ENDPOINTS"] = json.dumps(dict(endpoints or {}))
    return subprocess.run(
        [sys.executable, "-c", _CLI, *argv],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def revert_candidates(burst: Burst, rng: random.Random, count: int) -> list[str]:
    """Findings a revert may target without ambiguity: readable, on a role IAM lets us change, and the only finding
    for their role and principal (a second Region's finding for the same access would ask for the same Deny)."""
    keys = Counter((f.role_name, json.dumps(f.principal, sort_keys=True)) for f in burst.findings.values())
    eligible = [
        f.id
        for f in burst.findings.values()
        if f.analyzer_arn != UNREADABLE_ANALYZER
        and not burst.roles[f.role_name].poison
        and keys[(f.role_name, json.dumps(f.principal, sort_keys=True))] == 1
        and expected_denies(f.principal, f.actions)
    ]
    return rng.sample(eligible, min(count, len(eligible)))


class RevertRacer:
    """Reverts `count` findings, each as soon as a batch reports it remediated, in a thread per revert, while the
    burst goes on: `aa-remediate revert --finding-id ID [--archive]` with the deployment's AAR_* environment
    (`cli_env`) and each Region's Access Analyzer calls sent to that Region's stand-in (`endpoints`).

    `candidates` are the findings it may pick (e.g. `revert_candidates`), in the order it prefers them; the first
    `count` of them that are remediated are reverted. `runs` has every revert's result, `reverted` the ones that
    removed something (exit 0): exactly those findings' Denies must be gone at the end. With `archive` (the
    README's "intended access" path) the finding is archived with an archive rule too, so neither a redelivery nor
    the analyzer nor the sweep brings it back.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        candidates: Sequence[str],
        count: int = 3,
        archive: bool = True,
        endpoints: Mapping[str, str] | None = None,
    ) -> None:
        self.env = dict(env)
        self.endpoints = dict(endpoints or {})
        self.candidates = list(candidates)
        self.count = count
        self.archive = archive
        self._created = time.monotonic()
        self._started: list[str] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.runs: dict[str, RevertRun] = {}

    def on_batch(self, outcome: BatchResult) -> None:
        for finding_id, decision, _, _ in outcome.decisions:
            if decision == "remediate" and finding_id in self.candidates:
                self.start(finding_id)

    def start(self, finding_id: str) -> None:
        if finding_id in self._started or len(self._started) >= self.count:
            return
        self._started.append(finding_id)
        thread = threading.Thread(target=self._revert, args=(finding_id,), name=f"revert-{finding_id}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _revert(self, finding_id: str) -> None:
        started = time.monotonic()
        argv = ["revert", "--finding-id", finding_id, "--json", *(["--archive"] if self.archive else [])]
        try:
            done = run_cli(self.env, *argv, endpoints=self.endpoints)
            code, out, err = done.returncode, done.stdout, done.stderr
        except subprocess.TimeoutExpired as error:
            code, out, err = -1, "", f"timed out: {error}"
        try:
            answer = json.loads(out) if out.strip() else {}
        except ValueError:
            answer = {}
        reverted = code == 0 and answer.get("reverted") is True
        detail = str(answer.get("reason") or "") or " | ".join(err.strip().splitlines()[-3:])
        run = RevertRun(
            finding_id,
            code,
            reverted,
            list(answer.get("removed") or []),
            round(started - self._created, 1),
            round(time.monotonic() - started, 1),
            detail[:500],
        )
        with self._lock:
            self.runs[finding_id] = run

    def join(self, timeout: float = 180.0) -> dict[str, RevertRun]:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        with self._lock:
            return dict(self.runs)

    @property
    def reverted(self) -> set[str]:
        with self._lock:
            return {finding_id for finding_id, run in self.runs.items() if run.reverted}


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
        lines += [f"PROBLEM: {problem}" for problem in self.problems[:60]]
        if len(self.problems) > 60:
            lines.append(f"PROBLEM: ... and {len(self.problems) - 60} more")
        return "\n".join(lines)


Deny = tuple[str, str, tuple[str, ...]]  # (principal kind, value, actions) as the tool's statements hold them


def expected_denies(principal: Mapping[str, str], actions: Iterable[str]) -> set[Deny]:
    """What the tool must deny for a finding: each principal outside the zone of trust, for the finding's actions."""
    targets, _ = classify_principal(principal)
    return {(t.kind, t.value, tuple(sorted(actions))) for t in targets if t.account_id != ACCOUNT}


def revert_commands(mails: Iterable[str]) -> set[str]:
    """The finding ids of every `aa-remediate revert --finding-id <id>` line in the e-mails."""
    return {match[1] for body in mails for line in body.splitlines() for match in _REVERT_LINE.finditer(line)}


def verify_burst(
    aws: Aws,
    burst: Burst,
    result: SimulationResult,
    lease_seconds: float = 5.0,
    reverted: Collection[str] = (),
    pool: HandlerPool | None = None,
    resolved: Collection[str] = (),
) -> BurstReport:
    """Everything the burst must guarantee, as a list of problems (none = pass), plus the facts worth reporting.

    `reverted`: findings an operator reverted during the run (RevertRacer.reverted): their Denies must be gone,
    everything else in place. `resolved`: findings the analyzer turned RESOLVED during the run
    (AnalyzerRerun.resolved_ids); one of them that no invocation remediated and whose own Deny is not in place was
    contained by another statement before the engine got to it (a public Deny covers every account): the engine may
    leave it alone (no Deny, no e-mail, no decision record), as long as the final analysis shows its access closed.
    Reads go around the server's IAM read lag: the checks judge what IAM stores.
    """
    problems: list[str] = []
    iam = consistent_iam(aws)
    sent = {m.finding_id for m in burst.messages} | {m.finding_id for m in result.fed if m.finding_id != "?"}
    permanent = {fid: cause for fid, cause in burst.permanent_failures().items() if fid in sent}
    # The sweep also queues findings the burst never sent (the other Region's of a role whose twins were sent): one on
    # a role IAM refuses every change to fails for good too.
    poison_arns = {r.arn for r in burst.roles.values() if r.poison}
    for standin in aws.standins.values():
        for stored in standin.findings():
            if stored["id"] in sent and stored["id"] not in burst.findings and stored.get("resource") in poison_arns:
                permanent[stored["id"]] = "AccessDenied on UpdateAssumeRolePolicy"
    healthy = sent - set(permanent)
    reverted = set(reverted)
    items = scan_table(aws)
    decisions = decision_items(items)
    remediated = {item["finding_id"]["S"] for item in decisions if item["decision"]["S"] == "remediate"}
    moot: set[str] = set()  # contained by another statement before any invocation acted on it (see above)
    reverts = [i for i in items if i["pk"]["S"].startswith("FINDING#") and i["sk"]["S"].startswith("REVERT#")]
    leases = [i for i in items if i["pk"]["S"].startswith(("LOCK#", "RESOURCE#")) and "lease_until" in i]
    # Where each Deny in place comes from: a "remediate" record naming it, or an "already contained" record of a
    # finding with that principal (a redelivery after a write whose answer was lost: revert falls back to those).
    recorded: set[tuple[str, Deny]] = set()  # named in the `denied` list of a "remediate" record
    traceable: set[tuple[str, Deny]] = set()
    for item in decisions:
        role_arn = item["resource_arn"]["S"]
        if item["decision"]["S"] == "remediate":
            for entry in json.loads(item.get("denied", {}).get("S", "[]")):
                recorded.add((role_arn, (entry["kind"], entry["value"], tuple(sorted(entry["actions"])))))
        elif item.get("reason", {}).get("S") == "already_contained" and "principal" in item:
            principal = json.loads(item["principal"]["S"])
            actions = [a["S"] for a in item.get("actions", {}).get("L", [])]
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
        asked: dict[Deny, set[str]] = {}
        for finding in burst.findings.values():
            if finding.id in healthy and finding.role_name == role.name:
                own = expected_denies(finding.principal, finding.actions)
                if finding.id in resolved and finding.id not in remediated and not own & set(in_place):
                    moot.add(finding.id)
                    continue
                for deny in own:
                    asked.setdefault(deny, set()).add(finding.id)
        gone = {deny for deny, ids in asked.items() if ids <= reverted}  # every finding asking for it was reverted
        wanted = set(asked) - gone
        problems += [
            f"{role.name}: {deny} denied {in_place[deny]} times, want exactly once"
            for deny in sorted(wanted)
            if in_place[deny] != 1
        ]
        problems += [
            f"{role.name}: {deny} still denied although `aa-remediate revert` removed it for {sorted(asked[deny])}"
            for deny in sorted(gone)
            if in_place[deny]
        ]
        problems += [
            f"{role.name}: {deny} denied, but no finding asked for it" for deny in sorted(set(in_place) - set(asked))
        ]
        untraceable += sum(1 for deny in in_place if (role.arn, deny) not in traceable)
        problems += [
            f"{role.name}: {deny} in place, no audit record explains it"
            for deny in in_place
            if (role.arn, deny) not in traceable
        ]
        unrecorded += sum(1 for deny in in_place if (role.arn, deny) not in recorded)
    if untraceable:
        problems.append(f"{untraceable} Denies in place that no audit record explains (revert could not find them)")
    # -- audit: a decision recorded for every finding ----------------------------------------------------------------
    decided = {item["finding_id"]["S"] for item in decisions if "finding_id" in item}
    missing_audit = sorted(healthy - decided - moot)
    if missing_audit:
        problems.append(f"{len(missing_audit)} findings without a decision record, e.g. {missing_audit[:5]}")
    reverted_records = {i["pk"]["S"].removeprefix("FINDING#") for i in reverts}
    if reverted - reverted_records:
        problems.append(f"reverted findings without a REVERT record: {sorted(reverted - reverted_records)}")
    # -- leases: whatever is left is an expired lease of a failed release, never a longer one -----------------------
    ended = time.time()
    held_on = [item["pk"]["S"] for item in leases if float(item["lease_until"]["N"]) > ended + lease_seconds]
    if held_on:
        problems.append(f"leases held beyond {lease_seconds} s: {held_on[:5]}")
    # -- notifications: every finding in some digest; every remediation with its undo command -----------------------
    mails = read_mailbox(aws)
    # A finding resolved by its twin's Deny (the same role and principal from the other Region's analyzer) before
    # an invocation acted on it is announced by the twin's notice, which carries the undo command.
    announced = revert_commands(mails)
    access_of = {
        item["finding_id"]["S"]: (item["resource_arn"]["S"], item.get("principal", {}).get("S", ""))
        for item in decisions
    }
    announced_access = {access_of[f] for f in announced if f in access_of}
    by_twin = {f for f in healthy - moot if f in access_of and access_of[f] in announced_access and f not in remediated}
    missing_mail = sorted(f for f in healthy - moot - by_twin if not any(f in body for body in mails))
    if missing_mail:
        problems.append(f"{len(missing_mail)} findings in no e-mail, e.g. {missing_mail[:5]}")
    undo_missing = sorted(remediated - revert_commands(mails))
    if undo_missing:
        problems.append(
            f"{len(undo_missing)} remediated findings in no e-mail with `aa-remediate revert --finding-id <id>`,"
            f" e.g. {undo_missing[:5]}"
        )
    # -- nothing silently dropped: each sent finding decided, or dead-lettered with its cause -------------------------
    with_cause = {d.finding_id for d in result.dead_letters if d.why and "without a logged cause" not in d.why}
    dropped = sorted(sent - decided - with_cause - moot)
    if dropped:
        problems.append(f"{len(dropped)} findings neither decided nor dead-lettered with a cause, e.g. {dropped[:5]}")
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
    if result.timed_out:
        stuck = sorted({m.finding_id for m in result.undrained})
        problems.append(
            f"the queue was not drained in {result.seconds:.0f} s: {len(result.undrained)} messages of {len(stuck)}"
            f" findings still queued (handed back again and again?), e.g. {stuck[:5]}"
        )
    problems += [f"handler raised: {error}" for error in result.handler_errors]
    problems += [f"invalid batch response: {bad}" for bad in result.bad_responses]
    problems += [f"worker crashed (not the injected kill): {crash}" for crash in result.crashes]
    # -- the analyzers agree: only roles IAM would not let us change (and reverted access) show external access -------
    allowed = {r.arn for r in burst.roles.values() if r.poison}
    reverted_access = {
        (burst.roles[burst.findings[f].role_name].arn, json.dumps(burst.findings[f].principal, sort_keys=True))
        for f in reverted
        if f in burst.findings
    }
    exposed: set[str] = set()
    for standin in aws.standins.values():
        standin.analyze_roles(iam)
        for active in standin.findings(status="ACTIVE"):
            key = (active["resource"], json.dumps(active["principal"], sort_keys=True))
            if active["resource"] not in allowed and key not in reverted_access:
                exposed.add(active["resource"])
    if exposed:
        problems.append(f"the analyzer still reports external access to {len(exposed)} roles: {sorted(exposed)[:10]}")
    attempts = sum(n for key, n in result.attempts.items() if key.split(".")[0] in ENGINE_SERVICES)
    facts: dict[str, Any] = {
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
        "invocations killed": result.killed_batches,
        "receives per acknowledged message": dict(sorted(result.receives.items())),
        "Denies in place": denies_in_place,
        # A write whose answer was lost: no "remediate" record names it; the redelivery found it and recorded
        # "already contained", which is what revert falls back on (revert._entries_for).
        "Denies only an 'already contained' record explains": unrecorded,
        "decision records": len(decisions),
        "findings contained by another statement before the engine acted (resolved, no Deny of their own)": len(moot),
        "lease items left": len(leases),
        "e-mails": len(mails),
        "dead letters": len(result.dead_letters),
    }
    if pool is not None:
        facts["worker processes started"] = len(pool.pids)
        facts["workers respawned"] = pool.respawns
    with_lag = getattr(aws.moto, "iam_read_lag_stats", None)
    if with_lag is not None and aws.moto.mode == "process":
        stats = with_lag()
        facts["IAM read lag"] = {k: stats[k] for k in ("seconds", "probability", "reads", "stale") if k in stats}
    if reverted or result.sweeps:
        facts["findings reverted during the run"] = sorted(reverted)
    if result.sweeps:
        facts["sweeps"] = [
            f"#{s.number}.{s.attempt} at {s.at_seconds} s: {'ok' if s.ok else s.detail}" for s in result.sweeps
        ]
        facts["finding references the sweeps queued"] = len(result.fed)
    return BurstReport(problems, result.dead_letters, facts)


def _process_context() -> Any:
    # Workers fork from a server that has already imported boto3 and Powertools (tests/load/preload.py): 16 workers
    # start in about 2 s instead of 6 s, and nothing of the test process (threads, sockets, moto) is inherited.
    context = get_context("forkserver")
    context.set_forkserver_preload(["tests.load.preload"])
    return context
