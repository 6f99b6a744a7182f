"""`make bench`: the remediation's performance figures, written to bench-results/bench.json and rendered into
docs/benchmarks.md (`python -m tests.bench --docs` renders the JSON again).

Everything runs locally: a moto server (tests/load/serial_moto.py) and two Access Analyzer stand-ins on 127.0.0.1,
the real handler in worker processes (tests/load/harness.py). A local round trip to moto is not an AWS round trip:
where it matters, a simulated latency is added to every AWS call (tests/load/faults.py `FaultRates.latency`), and
call counts, ratios, CPU time, sizes and capacities are given beside the times.

Figures (docs/benchmarks.md explains each and how to read it):

1. cold start: a fresh process importing the handler and handling its first event, beside ``import boto3`` alone and
   beside a minimal handler of the original design (tests/bench_baseline.py: GetRole, UpdateAssumeRolePolicy,
   Publish), same moto, same run, alternating; wall and CPU time, and the ratios; then again with 20 ms added to
   every AWS call (what counts then is how many calls wait one after another);
2. warm handler time (wall and CPU) and AWS calls per finding: one finding per invocation; ten on ten roles; 5 and 10
   on one role;
3. one invocation with 1,000 findings on 200 roles, 20 ms added to every AWS call: within the 60 s timeout?
4. the 1,000-finding burst (200 roles, both Regions, duplicates, 16 workers) with 20 ms per AWS call, and with
   injected faults (20 % throttling, 5 % 5xx, 1 % lost answers), with the checks of tests/load/test_burst.py on each
   and the longest invocation against the 60 s timeout;
5. size of lambda_dist/access-analyzer-remediation.zip;
6. distinct external principals one role can have denied within the 2,048-character trust-policy quota, with the
   Allow statement that grants them (the cause of the findings) counted.

Options: ``--quick`` (60 roles, fewer samples) for a smoke run; ``--skip-burst``; ``--docs`` (render only);
``--cold-start`` (figure 1 alone, printed: neither the JSON nor docs/benchmarks.md is written; with ``--merge``
it also replaces both cold starts, and only them, in an existing JSON, which ``--docs`` then renders).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from access_analyzer_remediation import planner
from access_analyzer_remediation.findings import Finding
from access_analyzer_remediation.policy import compact
from access_analyzer_remediation.settings import Settings
from sandbox.access_analyzer import AccessAnalyzerStandIn, build_finding_event
from tests.load.faults import NO_FAULTS, FaultRates
from tests.load.harness import (
    ACCOUNT,
    UNREADABLE_ANALYZER,
    BatchResult,
    BurstSize,
    HandlerPool,
    SqsSimulator,
    build_burst,
    create_findings_queue,
    handler_env,
    sqs_event,
    stand_in_endpoints,
    verify_burst,
)
from tests.load.serial_moto import SerialMotoServer
from tests.load.test_burst import LEASE_SECONDS as BURST_LEASE_SECONDS
from tests.unit.conftest import Aws, make_aws

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench-results" / "bench.json"
ZIP = ROOT / "lambda_dist" / "access-analyzer-remediation.zip"
FAULTS = FaultRates(throttle=0.20, server_error=0.03, server_error_after=0.02, lost_response=0.01)
QUOTA = 2048
LATENCY = 0.02  # seconds added to every AWS call where the figure is about time
TIMEOUT = 60.0  # the module's default Lambda timeout
DOCS = ROOT / "docs" / "benchmarks.md"
SEED = 20240722


# ==================================================================================================== helpers
def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def external_role(aws: Aws, name: str, principals: int) -> list[dict[str, Any]]:
    """A role trusting `principals` external accounts; its ACTIVE findings (us-east-1)."""
    accounts = [str(400000000000 + 7 * index + 1000 * len(name)) for index in range(principals)]
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": accounts}, "Action": "sts:AssumeRole"}],
    }
    arn = aws.create_role(name, policy)
    standin = aws.standins["us-east-1"]
    standin.scan_role(arn, aws.client("iam"))
    return standin.findings(resource=arn, status="ACTIVE")


def invoke(pool: HandlerPool, aws: Aws, findings: Sequence[dict[str, Any]], tag: str) -> BatchResult:
    analyzer = aws.standins["us-east-1"].analyzer_arn
    records = [
        (f"{tag}-{index}", json.dumps(build_finding_event(finding, analyzer, "us-east-1", ACCOUNT)), 1)
        for index, finding in enumerate(findings)
    ]
    result = pool.submit(sqs_event(records), tag).result(timeout=120)
    decisions = [decision for _, decision, _, _ in result.decisions]
    if result.error or result.response != {"batchItemFailures": []} or set(decisions) != {"remediate"}:
        raise RuntimeError(f"{tag}: not remediated: {result.error or result.response} {result.decisions}")
    return result


def calls_without_publish(result: BatchResult) -> int:
    return sum(n for operation, n in result.attempts.items() if operation != "sns.Publish")


# ==================================================================================================== 1 + 2
def per_finding(aws: Aws, samples: int) -> dict[str, Any]:
    """Handler time and API calls per finding, in one warm worker process (no faults), with the deployment's queue:
    each containment's confirmation is scanned and sent."""
    env = handler_env(
        aws,
        AAR_ANALYZER_ARNS=json.dumps([aws.standins["us-east-1"].analyzer_arn]),
        AAR_QUEUE_URL=create_findings_queue(aws),
    )
    figures: dict[str, Any] = {}
    with HandlerPool(env, stand_in_endpoints(aws), workers=1) as pool:
        cold = invoke(pool, aws, external_role(aws, "cold-start", 1), "cold")
        figures["first invocation (creates the boto3 clients), ms"] = ms(cold.seconds)
        single = [invoke(pool, aws, external_role(aws, f"single-{n}", 1), f"single-{n}") for n in range(samples)]
        figures["1 finding per invocation"] = {
            "handler ms per finding, median": ms(statistics.median(r.seconds for r in single)),
            "handler ms per finding, p95": ms(percentile([r.seconds for r in single], 0.95)),
            "handler CPU ms per finding, median": ms(statistics.median(r.cpu_seconds for r in single)),
            "AWS calls per finding (SNS excluded)": max(calls_without_publish(r) for r in single),
            "calls by operation": dict(sorted(single[-1].attempts.items())),
        }
        spread = []
        for n in range(max(3, samples // 10)):
            findings = [external_role(aws, f"spread-{n}-{k}", 1)[0] for k in range(10)]
            spread.append(invoke(pool, aws, findings, f"spread-{n}"))
        figures["10 findings on 10 roles per invocation"] = {
            "handler ms per finding, median": ms(statistics.median(r.seconds / 10 for r in spread)),
            "handler ms per finding, p95": ms(percentile([r.seconds / 10 for r in spread], 0.95)),
            "handler CPU ms per finding, median": ms(statistics.median(r.cpu_seconds / 10 for r in spread)),
            "AWS calls per finding (SNS excluded)": max(calls_without_publish(r) for r in spread) / 10,
        }
        for count in (5, 10):
            same_role = [
                invoke(pool, aws, external_role(aws, f"busy{count}-{n}", count), f"busy{count}-{n}")
                for n in range(max(3, samples // 10))
            ]
            figures[f"{count} findings on 1 role per invocation"] = {
                "handler ms per finding, median": ms(statistics.median(r.seconds / count for r in same_role)),
                "handler CPU ms per finding, median": ms(statistics.median(r.cpu_seconds / count for r in same_role)),
                "AWS calls per finding (SNS excluded)": max(calls_without_publish(r) for r in same_role) / count,
            }
    return figures


# ==================================================================================================== 3
def burst(aws: Aws, roles: int, rates: FaultRates, log_dir: str, lease_seconds: int) -> dict[str, Any]:
    """The burst of tests/load/test_burst.py at `roles` roles, with its checks and the longest invocation.

    The simulated queue makes a message visible again after 0.5 s, 20 receives at most (10 s), where the module's
    queue waits 6 x the Lambda timeout between receives (6 minutes, 5 receives). A lease a failed write leaves behind
    must run out within those receives, as the deployed 60 s lease does within 6 minutes: with faults the lease is
    test_burst's 5 s; without them no lease is left behind and the module's 60 s stands."""
    built = build_burst(aws, BurstSize(roles=roles), seed=SEED)
    env = handler_env(aws, AAR_LOCK_LEASE_SECONDS=str(lease_seconds), AWS_MAX_ATTEMPTS="2")
    with HandlerPool(
        env,
        stand_in_endpoints(aws),
        workers=16,
        rates=rates,
        poison_roles=built.poison_roles,
        poison_analyzers=[UNREADABLE_ANALYZER],
        log_dir=log_dir,
    ) as pool:
        result = SqsSimulator(pool, max_receive_count=20, visibility_timeout=0.5, seed=SEED).run(
            built.messages, deadline_seconds=900
        )
    report = verify_burst(aws, built, result, lease_seconds=lease_seconds)
    figures = dict(report.facts)
    figures["problems (must be none)"] = report.problems
    figures["handler invocations, ms median / p95 / max"] = (
        ms(statistics.median(result.batch_seconds)),
        ms(percentile(result.batch_seconds, 0.95)),
        ms(max(result.batch_seconds)),
    )
    figures["handler CPU per invocation, ms median / p95"] = (
        ms(statistics.median(result.batch_cpu_seconds)),
        ms(percentile(result.batch_cpu_seconds, 0.95)),
    )
    figures["invocations longer than the 60 s timeout (must be 0)"] = sum(s > TIMEOUT for s in result.batch_seconds)
    return figures


def one_big_batch(aws: Aws, roles: int, latency: float) -> dict[str, Any]:
    """One invocation with every finding of `roles` roles (5 each) as one SQS batch, `latency` added per call."""
    findings = [f for n in range(roles) for f in external_role(aws, f"batch-{n:04d}", 5)]
    env = handler_env(
        aws,
        AAR_ANALYZER_ARNS=json.dumps([aws.standins["us-east-1"].analyzer_arn]),
        AAR_QUEUE_URL=create_findings_queue(aws),  # the confirmations of the batch's containments are sent too
    )
    env["AAR_LOCK_LEASE_SECONDS"] = "120"
    with HandlerPool(env, stand_in_endpoints(aws), workers=1, rates=replace(NO_FAULTS, latency=latency)) as pool:
        result = invoke(pool, aws, findings, "big")
    return {
        "findings": len(findings),
        "roles": roles,
        "added latency per AWS call, ms": latency * 1000,
        "seconds": round(result.seconds, 2),
        "CPU seconds": round(result.cpu_seconds, 2),
        "AWS calls": sum(result.attempts.values()),
        "AWS calls one after another would wait, s": round(sum(result.attempts.values()) * latency, 1),
        "within the 60 s timeout": result.seconds < TIMEOUT,
    }


# ==================================================================================================== 1
_COLD_CHILD = r"""
import json, os, sys, time
latency = float(os.environ.get("BENCH_LATENCY") or 0)
if latency:  # every client botocore makes, boto3's too, waits `latency` before each attempt (as faults.py does)
    import importlib.abc, importlib.util

    class _Latency(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name != "botocore.session":
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(name)
            run = spec.loader.exec_module

            def exec_module(module):
                run(module)
                create = module.Session.create_client

                def create_client(session, *args, **kwargs):
                    client = create(session, *args, **kwargs)
                    client.meta.events.register("before-send", lambda **_: time.sleep(latency))
                    return client

                module.Session.create_client = create_client

            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, _Latency())
started, cpu = time.perf_counter(), time.process_time()
kind, event = sys.argv[1], json.loads(os.environ["BENCH_EVENT"])
if kind == "import boto3":
    import boto3
elif kind == "baseline handler":
    from tests import bench_baseline
    bench_baseline.handler(event, None)
else:
    from types import SimpleNamespace
    from access_analyzer_remediation import handler
    context = SimpleNamespace(
        function_name="aar", memory_limit_in_mb=256, aws_request_id="cold",
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:aar",
    )
    record = {
        "messageId": "m", "receiptHandle": "r", "body": json.dumps(event), "md5OfBody": "",
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1",
    }
    response = handler.lambda_handler({"Records": [record]}, context)
    assert response == {"batchItemFailures": []}, response
elapsed = [time.perf_counter() - started, time.process_time() - cpu, "boto3" in sys.modules]
elapsed.append(getattr(sys.modules.get("access_analyzer_remediation"), "__file__", None))
sys.stderr.write("BENCH " + json.dumps(elapsed) + "\n")
"""
COLD_KINDS = ("import boto3", "baseline handler", "this handler")
SETTLE = 0.25  # seconds between a child's set-up and its start
COLD = "cold start"
COLD_WITH_LATENCY = f"cold start, {LATENCY * 1000:.0f} ms per AWS call"


def lambda_task(directory: Path) -> Path:
    """lambda_dist's zip unpacked as Lambda unpacks it into /var/task, read-only. The zip carries bytecode for the
    Lambda runtime's Python (scripts/build_lambda_zip.py); a bench interpreter of another version gets its own
    bytecode of the same sources, compiled the same way (checked hash), before any run: each child then finds what
    a cold start on Lambda finds, bytecode for its interpreter and nowhere to write any. A zip that does not hold
    lambda_src's sources is refused (stale: run make package)."""
    import compileall
    import py_compile
    import zipfile

    task = directory / "task"
    with zipfile.ZipFile(ZIP) as zf:
        zf.extractall(task)
        packed = {n: zf.read(n) for n in zf.namelist() if n.endswith(".py")}
    package = ROOT / "lambda_src" / "access_analyzer_remediation"
    sources = {
        f"access_analyzer_remediation/{p.relative_to(package).as_posix()}": p.read_bytes()
        for p in package.rglob("*.py")
        if "__pycache__" not in p.parts
    }
    if packed != sources:
        raise RuntimeError(f"{ZIP.relative_to(ROOT)} does not hold lambda_src's sources: run make package")
    if sys.implementation.cache_tag not in {p.name.split(".")[-2] for p in task.rglob("*.pyc")}:
        mode = py_compile.PycInvalidationMode.CHECKED_HASH
        if not compileall.compile_dir(task, quiet=2, ddir="/var/task", invalidation_mode=mode):
            raise RuntimeError("could not compile the package for the bench's interpreter")
    for path in task.rglob("*"):
        path.chmod(path.stat().st_mode & ~0o222)
    return task


def cold_starts(aws: Aws, runs: int, latency: float = 0.0) -> dict[str, Any]:
    """Fresh interpreters, in turn, each on a role of its own: import (and, for the handlers, the first event).
    The time is measured inside the process, from before the first import to the answer: the interpreter's own
    start-up (the same for all three) is left out. The handler is imported from the Lambda zip (`lambda_task`);
    none of the children writes bytecode. `latency`: seconds every AWS call of every child waits before it is sent
    (an AWS round trip, which a local moto lacks): calls made side by side wait side by side."""
    with tempfile.TemporaryDirectory() as directory:
        task = lambda_task(Path(directory))
        try:
            before = os.getloadavg()[0]
            figures = _cold_starts(aws, runs, task, latency)
            figures["load average (1 min) before / after"] = (round(before, 1), round(os.getloadavg()[0], 1))
            figures["measured at (UTC)"] = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
            return figures
        finally:
            for path in task.rglob("*"):
                path.chmod(path.stat().st_mode | 0o200)


def _cold_starts(aws: Aws, runs: int, task: Path, latency: float) -> dict[str, Any]:
    standin = aws.standins["us-east-1"]
    env = {
        **os.environ,
        # The deployment's queue: the first containment's confirmation is scanned and sent, as on Lambda.
        **handler_env(
            aws, AAR_ANALYZER_ARNS=json.dumps([standin.analyzer_arn]), AAR_QUEUE_URL=create_findings_queue(aws)
        ),
        "PYTHONPATH": os.pathsep.join([str(task), str(ROOT)]),
        "POWERTOOLS_METRICS_NAMESPACE": "AarBench",
        "PYTHONDONTWRITEBYTECODE": "1",
        "BENCH_LATENCY": str(latency),
    }
    samples: dict[str, list[tuple[float, float]]] = {kind: [] for kind in COLD_KINDS}
    boto3_seen: dict[str, bool] = {}
    for run in range(runs):
        # Each kind takes each place in the order equally often (runs a multiple of 3): a child that always ran
        # right after another would always find the machine (its caches, moto, the CPU's clock) as that one left it.
        shift = run % len(COLD_KINDS)
        for kind in COLD_KINDS[shift:] + COLD_KINDS[:shift]:
            [finding] = external_role(aws, f"cold-{run}-{COLD_KINDS.index(kind)}", 1)
            time.sleep(SETTLE)  # what the role's creation set going in moto is over before the clock starts
            event = json.dumps(build_finding_event(finding, standin.analyzer_arn, "us-east-1", ACCOUNT), default=str)
            proc = subprocess.run(
                [sys.executable, "-c", _COLD_CHILD, kind],
                env={**env, "BENCH_EVENT": event},
                capture_output=True,
                text=True,
                check=False,
                cwd=ROOT,
            )
            line = next((x for x in proc.stderr.splitlines() if x.startswith("BENCH ")), None)
            if proc.returncode or line is None:
                raise RuntimeError(f"cold start of {kind} failed: {proc.stderr[-2000:]}")
            wall, cpu, imported_boto3, package = json.loads(line.removeprefix("BENCH "))
            if kind == "this handler" and not str(package).startswith(str(task)):
                raise RuntimeError(f"the handler was imported from {package}, not from the Lambda zip")
            samples[kind].append((wall, cpu))
            boto3_seen[kind] = boto3_seen.get(kind, False) or imported_boto3
    medians = {kind: tuple(statistics.median(x[i] for x in values) for i in (0, 1)) for kind, values in samples.items()}
    ours, baseline, boto3 = medians["this handler"], medians["baseline handler"], medians["import boto3"]
    # The spread: each round's handler against the same round's baseline (started seconds apart).
    paired = sorted(o[0] / b[0] for o, b in zip(samples["this handler"], samples["baseline handler"], strict=True))
    return {
        "runs each": runs,
        "order": "rotated: each kind first, second and third equally often",
        "added latency per AWS call, ms": round(latency * 1000),
        **{f"{kind}, ms wall / CPU": (ms(wall), ms(cpu)) for kind, (wall, cpu) in medians.items()},
        "this handler / baseline handler (wall)": round(ours[0] / baseline[0], 2),
        "this handler / baseline handler (CPU)": round(ours[1] / baseline[1], 2),
        "this handler / baseline handler per run (wall), lowest / median / highest": (
            round(paired[0], 2),
            round(statistics.median(paired), 2),
            round(paired[-1], 2),
        ),
        "this handler / import boto3 (wall)": round(ours[0] / boto3[0], 2),
        "baseline handler / import boto3 (wall)": round(baseline[0] / boto3[0], 2),
        "boto3 imported by this handler": boto3_seen["this handler"],  # clients.py builds botocore clients
        "handler imported from": (
            f"{ZIP.relative_to(ROOT)} unpacked read-only, with the bytecode of"
            f" {', '.join(sorted({p.name.split('.')[-2] for p in task.rglob('*.pyc')}))}"
        ),
    }


# ==================================================================================================== 6
def _finding(principal: dict[str, str], number: int) -> Finding:
    return Finding(
        id=f"f-{number}",
        analyzer_arn=f"arn:aws:access-analyzer:us-east-1:{ACCOUNT}:analyzer/a",
        resource_type="AWS::IAM::Role",
        resource_arn=f"arn:aws:iam::{ACCOUNT}:role/Shared",
        status="ACTIVE",
        principal=principal,
        actions=("sts:AssumeRole",),
        condition={},
        is_public=False,
        resource_owner_account=ACCOUNT,
    )


def deniable_principals(principal_for: Callable[[int], dict[str, str]]) -> dict[str, Any]:
    """The most external principals of one kind one role can be granted AND have denied within the quota: an Allow
    listing n principals (what causes the n findings), then one finding per principal through the planner."""
    settings = Settings(
        analyzer_arns=(f"arn:aws:access-analyzer:us-east-1:{ACCOUNT}:analyzer/a",),
        audit_table_name="aar-audit",
        topic_arn=f"arn:aws:sns:us-east-1:{ACCOUNT}:t",
        trust_policy_max_chars=QUOTA,
    )

    def all_denied(count: int) -> dict[str, Any] | None:
        principals = [principal_for(n) for n in range(count)]
        policy: dict[str, Any] = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": [p["AWS"] for p in principals]}, "Action": "sts:AssumeRole"}
            ],
        }
        for number, principal in enumerate(principals):
            role = planner.RoleState(f"arn:aws:iam::{ACCOUNT}:role/Shared", "/", {}, policy)
            plan = planner.plan_finding(_finding(principal, number), role, settings)
            if plan.decision != "remediate" or plan.policy_after is None:
                if plan.reason != planner.TRUST_POLICY_QUOTA:
                    raise RuntimeError(f"stopped for {plan.reason}: {plan.summary}")
                return None
            policy = plan.policy_after
        return policy

    count, best = 0, None
    while (policy := all_denied(count + 1)) is not None:
        count, best = count + 1, policy
    example = principal_for(0)["AWS"]
    return {
        "denied": count,
        "principal length": len(example),
        "policy characters": len(compact(best)) if best else 0,
    }


def capacity() -> dict[str, Any]:
    def account(n: int) -> str:
        return str(500000000000 + 7919 * n)

    figures: dict[str, Any] = {"account ids": deniable_principals(lambda n: {"AWS": account(n)})}
    # Principal ARNs: arn:aws:iam::<12 digits>:role/ is 31 characters; 40 and 60 in all.
    for total in (40, 60):

        def arn(n: int, width: int = total - 31) -> dict[str, str]:
            return {"AWS": f"arn:aws:iam::{account(n)}:role/{f'p{n:0{width - 1}d}'}"}

        figures[f"principal ARNs of {total} characters"] = deniable_principals(arn)
    return figures


def _bucket_or_key_denied(
    arn: str, action: str, resource: str, base: list[dict[str, Any]], principals: list[str]
) -> dict[str, Any] | None:
    """The policy once an Allow granting `principals` and one finding per principal are planned, or None when the
    Denies do not fit the quota."""
    from access_analyzer_remediation.resources.kms_key import KeyState, plan_key
    from access_analyzer_remediation.resources.s3_bucket import BucketState, plan_bucket

    settings = Settings(
        analyzer_arns=(f"arn:aws:access-analyzer:us-east-1:{ACCOUNT}:analyzer/a",),
        audit_table_name="t",
        topic_arn=f"arn:aws:sns:us-east-1:{ACCOUNT}:t",
    )
    allow = {"Effect": "Allow", "Principal": {"AWS": principals}, "Action": action, "Resource": resource}
    policy: dict[str, Any] = {"Version": "2012-10-17", "Statement": [*base, allow]}
    is_bucket = arn.startswith("arn:aws:s3:::")
    for number, principal in enumerate(principals):
        finding = replace(
            _finding({"AWS": principal}, number),
            resource_type="AWS::S3::Bucket" if is_bucket else "AWS::KMS::Key",
            resource_arn=arn,
            actions=(action,),
        )
        if is_bucket:
            plan = plan_bucket(finding, BucketState(arn, arn.rsplit(":", 1)[1], {}, policy), settings)
        else:
            plan = plan_key(finding, KeyState(arn, arn.rsplit("/", 1)[1], "CUSTOMER", {}, policy), settings)
        if plan.decision != "remediate" or plan.policy_after is None:
            if plan.reason != planner.POLICY_QUOTA:
                raise RuntimeError(f"stopped for {plan.reason}: {plan.summary}")
            return None
        policy = plan.policy_after
    return policy


# The other resource-policy types: (example ARN, an action the Allow grants, the Allow's Resource; None: no
# Resource element, as ECR's repository policies have none).
_POLICY_TYPES: dict[str, tuple[str, str, str | None]] = {
    "AWS::SQS::Queue": (f"arn:aws:sqs:us-east-1:{ACCOUNT}:shared-queue", "sqs:SendMessage", "self"),
    "AWS::SNS::Topic": (f"arn:aws:sns:us-east-1:{ACCOUNT}:shared-topic", "sns:Publish", "self"),
    "AWS::SecretsManager::Secret": (
        f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:shared-secret-AbCdEf",
        "secretsmanager:GetSecretValue",
        "*",
    ),
    "AWS::ECR::Repository": (f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/shared", "ecr:BatchGetImage", None),
    "AWS::EFS::FileSystem": (
        f"arn:aws:elasticfilesystem:us-east-1:{ACCOUNT}:file-system/fs-0123456789abcdef0",
        "elasticfilesystem:ClientMount",
        "self",
    ),
    "AWS::DynamoDB::Table": (f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/shared", "dynamodb:GetItem", "self"),
}


def _policy_adapter(resource_type: str) -> Any:
    """The type's adapter, for its plan, limits and Resource element: a plan never calls the adapter's clients."""
    from access_analyzer_remediation.clients import AwsClients
    from access_analyzer_remediation.resources import registry

    return registry()[resource_type](AwsClients(lambda service, region: None), "us-east-1")


def _policy_denied(resource_type: str, principals: list[str]) -> dict[str, Any] | None:
    """As `_bucket_or_key_denied`, for a type on `resources.resource_policy`, through its adapter's plan."""
    from access_analyzer_remediation.resources.resource_policy import PolicyState

    arn, action, resource = _POLICY_TYPES[resource_type]
    adapter = _policy_adapter(resource_type)
    ref = adapter.ref(arn, ACCOUNT)
    settings = Settings(
        analyzer_arns=(f"arn:aws:access-analyzer:us-east-1:{ACCOUNT}:analyzer/a",),
        audit_table_name="t",
        topic_arn=f"arn:aws:sns:us-east-1:{ACCOUNT}:t",
    )
    allow: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": principals}, "Action": action}
    if resource is not None:
        allow["Resource"] = arn if resource == "self" else resource
    policy: dict[str, Any] = {"Version": "2012-10-17", "Statement": [allow]}
    for number, principal in enumerate(principals):
        finding = replace(
            _finding({"AWS": principal}, number), resource_type=resource_type, resource_arn=arn, actions=(action,)
        )
        plan = adapter.plan(finding, PolicyState(arn, ref.name, {}, policy), settings, (), 0.0)
        if plan.decision != "remediate" or plan.policy_after is None:
            if plan.reason != planner.POLICY_QUOTA:
                raise RuntimeError(f"stopped for {plan.reason}: {plan.summary}")
            return None
        policy = plan.policy_after
    return policy


def resource_capacity() -> dict[str, Any]:
    """Per contained resource-policy type: the most external principals one resource can be granted (one Allow
    listing them all, counted in the quota) AND have denied, one finding per principal, through the type's planner
    (its size quota and, for SQS and SNS, its statement and action caps)."""
    from access_analyzer_remediation.resources.kms_key import KEY_POLICY_MAX_BYTES
    from access_analyzer_remediation.resources.s3_bucket import BUCKET_POLICY_MAX_BYTES

    bucket = "arn:aws:s3:::shared-data"
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    admin = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    bucket_or_key = {
        "S3 bucket policy": (bucket, "s3:GetObject", f"{bucket}/*", [], BUCKET_POLICY_MAX_BYTES),
        "KMS key policy": (key, "kms:Decrypt", "*", [admin], KEY_POLICY_MAX_BYTES),
    }
    fits: dict[str, Callable[[list[str]], dict[str, Any] | None]] = {
        f"{label} ({quota:,} bytes)": partial(_bucket_or_key_denied, arn, action, resource, base)
        for label, (arn, action, resource, base, quota) in bucket_or_key.items()
    }
    for resource_type in _POLICY_TYPES:
        quota = _policy_adapter(resource_type).limits.quota
        fits[f"{resource_type} ({quota.limit:,} {quota.unit}s)"] = partial(_policy_denied, resource_type)

    def account(n: int) -> str:
        return str(500000000000 + 7919 * n)

    def arn60(n: int) -> str:
        return f"arn:aws:iam::{account(n)}:role/{f'p{n:028d}'}"

    figures: dict[str, Any] = {}
    for label, denied in fits.items():
        for kind, value in (("account ids", account), ("principal ARNs of 60 characters", arn60)):
            low, high = 0, 4096  # the largest count that fits, by bisection (fitting is monotone in the count)
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (middle, high) if denied([value(n) for n in range(middle)]) is not None else (low, middle)
            best = denied([value(n) for n in range(low)])
            figures[f"{label}, {kind}"] = {
                "denied": low,
                "policy bytes": len(compact(best).encode()) if best else 0,
            }
    return figures


# ==================================================================================================== report
def machine() -> dict[str, Any]:
    cpu = ""
    with open("/proc/cpuinfo") if Path("/proc/cpuinfo").exists() else open(os.devnull) as info:
        cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "")
    versions = {}
    for package in ("boto3", "botocore", "moto", "aws_lambda_powertools"):
        versions[package] = __import__(package).__version__
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        **versions,
    }


def table(results: dict[str, Any]) -> str:
    lines: list[str] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value and not all(isinstance(k, str) and ("." in k) for k in value):
            for key, item in value.items():
                walk(f"{prefix} / {key}" if prefix else key, item)
        else:
            lines.append(f"{prefix:<100} {json.dumps(value) if not isinstance(value, str) else value}")

    for section, value in results.items():
        lines.append("")
        lines.append(f"== {section}")
        walk("", value)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="60 roles and fewer samples: a smoke run")
    parser.add_argument("--skip-burst", action="store_true")
    parser.add_argument("--docs", action="store_true", help="only render docs/benchmarks.md from the JSON")
    parser.add_argument("--cold-start", action="store_true", help="only the cold starts (both), printed")
    parser.add_argument("--merge", action="store_true", help="with --cold-start: replace them in the JSON (--output)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.docs:
        DOCS.write_text(render_docs(json.loads(args.output.read_text())))
        print(f"written {DOCS}")
        return 0
    roles, samples, runs = (60, 20, 3) if args.quick else (200, 100, 15)
    if args.cold_start:
        with SerialMotoServer() as moto:
            standins = {region: AccessAnalyzerStandIn(region=region).start() for region in ("us-east-1", "eu-west-1")}
            try:
                colds = {
                    COLD: cold_starts(make_aws(moto, standins), runs),
                    COLD_WITH_LATENCY: cold_starts(make_aws(moto, standins), runs, LATENCY),
                }
                print(table(colds))
                if args.merge:
                    merged = json.loads(args.output.read_text())
                    for key, cold in colds.items():
                        merged[key] = {**cold, "merged (--cold-start --merge)": True}
                    merged["Lambda zip"] = {"path": str(ZIP.relative_to(ROOT)), "bytes": ZIP.stat().st_size}
                    args.output.write_text(json.dumps(merged, indent=2, default=str) + "\n")
                    print(f"cold starts replaced in {args.output}")
            finally:
                for standin in standins.values():
                    standin.stop()
        return 0
    started = time.perf_counter()
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick}
    with SerialMotoServer() as moto, tempfile.TemporaryDirectory() as logs:
        standins = {
            "us-east-1": AccessAnalyzerStandIn(region="us-east-1").start(),
            "eu-west-1": AccessAnalyzerStandIn(region="eu-west-1").start(),
        }
        try:
            print("cold starts...", file=sys.stderr, flush=True)
            results[COLD] = cold_starts(make_aws(moto, standins), runs)
            results[COLD_WITH_LATENCY] = cold_starts(make_aws(moto, standins), runs, LATENCY)
            print("warm handler...", file=sys.stderr, flush=True)
            results["warm handler time and AWS calls per finding (no faults)"] = per_finding(
                make_aws(moto, standins), samples
            )
            print("one batch of 1,000 findings...", file=sys.stderr, flush=True)
            results["one invocation, one batch"] = one_big_batch(make_aws(moto, standins), roles, LATENCY)
            if not args.skip_burst:
                for label, rates, lease in (
                    (f"{LATENCY * 1000:.0f} ms per AWS call", replace(NO_FAULTS, latency=LATENCY), 60),
                    ("injected faults", FAULTS, BURST_LEASE_SECONDS),
                ):
                    print(f"burst, {roles} roles, {label}...", file=sys.stderr, flush=True)
                    aws = make_aws(moto, standins)
                    key = f"burst of {roles * 5} findings ({roles} roles), {label}"
                    results[key] = burst(aws, roles, rates, logs, lease)
        finally:
            for standin in standins.values():
                standin.stop()
    results["Lambda zip"] = {
        "path": str(ZIP.relative_to(ROOT)),
        "bytes": ZIP.stat().st_size if ZIP.exists() else None,
    }
    results[f"distinct external principals granted and denied within {QUOTA:,} characters (planner)"] = capacity()
    print("bucket and key policy capacity...", file=sys.stderr, flush=True)
    results["distinct external principals granted and denied per resource policy (planner)"] = resource_capacity()
    results["bench seconds"] = round(time.perf_counter() - started, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(table(results))
    print(f"\nwritten to {args.output}")
    if not args.quick:
        DOCS.write_text(render_docs(results))
        print(f"written {DOCS}")
    problems = [value.get("problems (must be none)") for value in results.values() if isinstance(value, dict)]
    return 0 if not any(problems) else 1


# ==================================================================================================== docs
def _cold_table(cold: dict[str, Any], machine_info: dict[str, Any]) -> list[str]:
    """One cold-start figure: the table, the ratios, the CPU ratio and the machine's load."""
    lines = ["| process | wall ms | CPU ms |", "| --- | ---: | ---: |"]
    for kind in COLD_KINDS:
        wall, cpu = cold[f"{kind}, ms wall / CPU"]
        lines.append(f"| {kind} | {wall} | {cpu} |")
    lines += [
        "",
        f"Ratios (wall): this handler / baseline **{cold['this handler / baseline handler (wall)']}**, this handler /"
        f" `import boto3` {cold['this handler / import boto3 (wall)']}, baseline / `import boto3`"
        f" {cold['baseline handler / import boto3 (wall)']}. The handler imports boto3:"
        f" {'yes' if cold['boto3 imported by this handler'] else 'no'} (it builds botocore clients).",
    ]
    spread = cold.get("this handler / baseline handler per run (wall), lowest / median / highest")
    if spread is not None:
        lines.append(
            "The same ratio run by run (this handler against the baseline of the same run): lowest"
            f" {spread[0]}, median {spread[1]}, highest {spread[2]}."
        )
    if "load average (1 min) before / after" in cold:
        lines.append(
            f"CPU: this handler / baseline {cold['this handler / baseline handler (CPU)']}. The machine's load"
            " average (1 min) before and after the cold starts:"
            f" {' / '.join(str(x) for x in cold['load average (1 min) before / after'])} on"
            f" {machine_info['cpus']} CPUs: wall times above the CPU times are time spent waiting, for moto or"
            f" for a CPU. Measured at {cold.get('measured at (UTC)', 'the bench time')} UTC"
            + (
                " (`--cold-start --merge`), apart from the other figures."
                if cold.get("merged (--cold-start --merge)")
                else "."
            )
        )
    return lines


def _cold_with_latency(results: dict[str, Any]) -> list[str]:
    """The cold start again, with an AWS round trip added to every call (older JSON files have none)."""
    cold = results.get(COLD_WITH_LATENCY)
    if cold is None:
        return []
    latency = cold["added latency per AWS call, ms"]
    return [
        "",
        f"### Cold start with {latency} ms added to every AWS call",
        "",
        "The same, each call of every process waiting "
        f"{latency} ms before it is sent (an AWS round trip, which a local moto lacks; calls made side by side"
        " wait side by side, though the moto server still answers them one at a time). Here what counts is how"
        " many calls wait one after another: the baseline's 3; this handler's GetFinding (the subscription check"
        " beside it), GetRole (the subscription note's look-up beside it), the two proofs (side by side), the"
        " lease, the write, the records, the commit, then the confirmation's StartResourceScan and SendMessage"
        " beside Publish and the outbox update. Clients are made while the first calls wait.",
        "",
        *_cold_table(cold, results["machine"]),
    ]


def render_docs(results: dict[str, Any]) -> str:
    """docs/benchmarks.md from the bench's JSON: the figures as they were measured, with how to read them."""
    machine_info = results["machine"]
    cold = results["cold start"]
    warm = results["warm handler time and AWS calls per finding (no faults)"]
    big = results["one invocation, one batch"]
    bursts = {k: v for k, v in results.items() if k.startswith("burst of ")}
    capacity_key = next(k for k in results if k.startswith("distinct external principals"))
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`tests/bench.py`) from `bench-results/bench.json`; do not edit by hand.",
        f"Machine: {machine_info['cpus']} CPUs ({machine_info['cpu'] or 'unknown'}), Python {machine_info['python']},"
        f" boto3 {machine_info['boto3']}, botocore {machine_info['botocore']}, moto {machine_info['moto']},"
        f" Powertools {machine_info['aws_lambda_powertools']}. Bench time {results['bench seconds']} s.",
        "",
        "Everything runs against a local moto server and the Access Analyzer stand-in: a local round trip is not an",
        "AWS round trip. Where it matters a latency is added to every AWS call; call counts, CPU time, ratios, sizes",
        "and capacities carry over to AWS as they are.",
        "",
        "## Cold start",
        "",
        "A fresh Python process imports the code and handles its first event (one finding on a role of its own);",
        "measured inside the process (interpreter start-up left out), median of "
        f"{cold['runs each']} runs each, in turn ({cold.get('order', 'always in the order below')}). The baseline"
        " is `tests/bench_baseline.py`: the original design",
        "(GetRole, UpdateAssumeRolePolicy, Publish; no verification, lease, ledger, audit or outbox).",
        *(
            [
                f"The handler is imported from {cold['handler imported from']}: the zip carries the bytecode of the"
                " Lambda runtime's Python (cpython-313, checked hash; `scripts/build_lambda_zip.py`), and a bench"
                " interpreter of another version gets its own, compiled the same way from the same sources, as the"
                " runtime would find its own in /var/task.",
            ]
            if "handler imported from" in cold
            else []
        ),
        "",
        *_cold_table(cold, machine_info),
        "",
        "Target: no slower than the baseline. "
        + (
            "Met, though the first event still costs this handler"
            f" {warm['1 finding per invocation']['AWS calls per finding (SNS excluded)']} AWS calls besides SNS"
            " against the baseline's 3, and five clients against two: the package's bytecode comes with the zip."
            if cold["this handler / baseline handler (wall)"] <= 1.0
            else "Not met. The first event costs this handler"
            f" {warm['1 finding per invocation']['AWS calls per finding (SNS excluded)']} AWS calls besides SNS"
            " (GetFinding, GetRole, the proofs ValidatePolicy and CheckNoNewAccess side by side, the lease, the"
            " write, the records, the commit, the confirmation's StartResourceScan and SendMessage, the outbox"
            " cleared after the notice), plus Publish, beside GetFinding the subscription check and beside the"
            " cycle the subscription note's look-up, against the baseline's 3 (GetRole, UpdateAssumeRolePolicy,"
            " Publish); five clients (Access Analyzer, IAM, DynamoDB, SQS, SNS) against two; and Powertools and the"
            " package's modules (from the zip's bytecode). Those calls are the promises (verified findings, proofs,"
            " no lost Deny, audit, outbox and confirmation)."
        ),
        *_cold_with_latency(results),
        "",
        "## Warm handler, per finding (no faults, no added latency)",
        "",
        "| batch | ms per finding (median) | CPU ms per finding (median) | AWS calls per finding, SNS excluded |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, figures in warm.items():
        if not isinstance(figures, dict):
            continue
        wall = figures.get("handler ms per finding, median")
        cpu = figures.get("handler CPU ms per finding, median")
        lines.append(f"| {label} | {wall} | {cpu} | {figures.get('AWS calls per finding (SNS excluded)')} |")
    first = warm.get("first invocation (creates the boto3 clients), ms")
    latency_ms = big["added latency per AWS call, ms"]
    sequential = big["AWS calls one after another would wait, s"]
    fits = "yes" if big["within the 60 s timeout"] else "NO"
    lines += [
        "",
        f"First invocation of a warm-up worker (creates the clients): {first} ms.",
        "",
        "## One invocation, one batch",
        "",
        f"{big['findings']} findings on {big['roles']} roles in one SQS batch, {latency_ms:.0f} ms added to every AWS"
        f" call: **{big['seconds']} s** ({big['CPU seconds']} s CPU) for {big['AWS calls']} calls, which one after"
        f" another would wait {sequential} s; within the 60 s timeout: {fits}.",
        "",
        "## The 1,000-finding burst",
        "",
        "tests/load/test_burst.py's scenario at full size: every finding of the roles from two Regions' analyzers,",
        "duplicates, 16 worker processes running the real handler, batches of 10, partial batch responses, a",
        "dead-letter queue after 20 receives, 0.5 s apart; the burst's checks (every Deny exactly once, nothing else",
        "changed, every finding audited and announced) on each run. The lock lease is the module's 60 s, and 5 s with",
        "faults (tests/load/test_burst.py's), so a lease a failed write leaves behind runs out within those receives",
        "as the deployed 60 s lease does within the module's 6 minutes between receives.",
        "",
        "| run | healthy findings per second | invocations ms median / p95 / max | over the 60 s timeout | problems |",
        "| --- | ---: | --- | ---: | --- |",
    ]
    for label, figures in bursts.items():
        lines.append(
            f"| {label} | {figures.get('healthy findings per second')} |"
            f" {' / '.join(str(x) for x in figures.get('handler invocations, ms median / p95 / max', []))} |"
            f" {figures.get('invocations longer than the 60 s timeout (must be 0)')} |"
            f" {len(figures.get('problems (must be none)', [])) or 'none'} |"
        )
    lines += [
        "",
        f"## Capacity within the {QUOTA:,}-character trust-policy quota",
        "",
        "One role's trust policy holding the Allow that grants n external principals (the findings' cause) and the",
        "tool's Denies for all n, through the planner:",
        "",
        "| principals | most that can be granted and denied | policy characters then |",
        "| --- | ---: | ---: |",
    ]
    for label, figures in results[capacity_key].items():
        lines.append(f"| {label} | {figures['denied']} | {figures['policy characters']} |")
    per_type = results.get("distinct external principals granted and denied per resource policy (planner)", {})
    lines += [
        "",
        "## Capacity within a resource policy",
        "",
        "One bucket, key, queue, topic, secret, repository, file system or table policy holding the Allow that",
        "grants n external principals (a key policy also its account's administration statement) and the tool's",
        "Denies for all n, through the type's planner (its size quota; SQS's 20 statements and 7 actions per",
        "statement, SNS's 100 statements):",
        "",
        "| policy and principals | most that can be granted and denied | policy bytes then |",
        "| --- | ---: | ---: |",
    ]
    for label, figures in per_type.items():
        lines.append(f"| {label} | {figures['denied']} | {figures['policy bytes']} |")
    lines += [
        "",
        f"Lambda zip: {results['Lambda zip']['bytes']:,} bytes.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
