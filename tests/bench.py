"""`make bench`: the remediation's performance figures, printed as a table and written to bench-results/bench.json.

Everything runs locally: a moto server (tests/load/serial_moto.py) and two Access Analyzer stand-ins on 127.0.0.1,
the real handler in worker processes (tests/load/harness.py). Absolute times are the engine's own work plus local
round trips, not AWS latency; call counts, ratios, sizes and capacities carry over to AWS as they are.

Figures (docs/benchmarks.md explains each and how to read it):

1. handler time per finding, median and p95: one finding per invocation; ten findings on ten roles per invocation;
2. AWS API calls per remediated finding, the digest's SNS Publish excluded: one finding; 5 and 10 findings on one role
   in the same batch;
3. findings per second of the 1,000-finding burst (200 roles, both Regions, duplicates, 16 workers), without and with
   injected faults (20 % throttling, 5 % 5xx, 1 % lost answers), and the checks of tests/load/test_burst.py on each;
4. import time of the handler module against ``import boto3`` alone, fresh interpreters, several runs each;
5. size of lambda_dist/access-analyzer-remediation.zip (``make package``);
6. distinct external principals one role can have denied within the 2,048-character trust-policy quota, through the
   planner: account ids, principal ARNs, and account ids that IAM stores back as root ARNs.

Options: ``--quick`` (60 roles instead of 200, fewer samples) for a smoke run; ``--skip-burst``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from access_analyzer_remediation import planner
from access_analyzer_remediation.findings import Finding
from access_analyzer_remediation.policy import compact, statements
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
    handler_env,
    sqs_event,
    stand_in_endpoints,
    verify_burst,
)
from tests.load.serial_moto import SerialMotoServer
from tests.unit.conftest import Aws, make_aws

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench-results" / "bench.json"
ZIP = ROOT / "lambda_dist" / "access-analyzer-remediation.zip"
FAULTS = FaultRates(throttle=0.20, server_error=0.03, server_error_after=0.02, lost_response=0.01)
QUOTA = 2048
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
    """Handler time and API calls per finding, in one warm worker process (no faults)."""
    env = handler_env(aws, AAR_ANALYZER_ARNS=json.dumps([aws.standins["us-east-1"].analyzer_arn]))
    figures: dict[str, Any] = {}
    with HandlerPool(env, stand_in_endpoints(aws), workers=1) as pool:
        cold = invoke(pool, aws, external_role(aws, "cold-start", 1), "cold")
        figures["first invocation (creates the boto3 clients), ms"] = ms(cold.seconds)
        single = [invoke(pool, aws, external_role(aws, f"single-{n}", 1), f"single-{n}") for n in range(samples)]
        figures["1 finding per invocation"] = {
            "handler ms per finding, median": ms(statistics.median(r.seconds for r in single)),
            "handler ms per finding, p95": ms(percentile([r.seconds for r in single], 0.95)),
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
            "AWS calls per finding (SNS excluded)": max(calls_without_publish(r) for r in spread) / 10,
        }
        for count in (5, 10):
            same_role = [
                invoke(pool, aws, external_role(aws, f"busy{count}-{n}", count), f"busy{count}-{n}")
                for n in range(max(3, samples // 10))
            ]
            figures[f"{count} findings on 1 role per invocation"] = {
                "handler ms per finding, median": ms(statistics.median(r.seconds / count for r in same_role)),
                "AWS calls per finding (SNS excluded)": max(calls_without_publish(r) for r in same_role) / count,
            }
    return figures


# ==================================================================================================== 3
def burst(aws: Aws, roles: int, rates: FaultRates, log_dir: str) -> dict[str, Any]:
    """The burst of tests/load/test_burst.py at `roles` roles, with its checks."""
    built = build_burst(aws, BurstSize(roles=roles), seed=SEED)
    env = handler_env(aws, AAR_LOCK_LEASE_SECONDS="5", AWS_MAX_ATTEMPTS="2")
    with HandlerPool(
        env,
        stand_in_endpoints(aws),
        workers=16,
        rates=rates,
        poison_roles=built.poison_roles,
        poison_analyzers=[UNREADABLE_ANALYZER],
        log_dir=log_dir,
    ) as pool:
        result = SqsSimulator(pool, max_receive_count=20, visibility_timeout=0.5, seed=SEED).run(built.messages)
    report = verify_burst(aws, built, result)
    figures = dict(report.facts)
    figures["problems (must be none)"] = report.problems
    figures["handler invocations, ms median / p95"] = (
        ms(statistics.median(result.batch_seconds)),
        ms(percentile(result.batch_seconds, 0.95)),
    )
    return figures


# ==================================================================================================== 4
_TIMED_IMPORT = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def import_times(runs: int, env: dict[str, str]) -> dict[str, Any]:
    """Fresh interpreters, alternating, so that disk caches favour neither."""
    python_path = os.pathsep.join([str(ROOT / "lambda_src"), str(ROOT)])
    child_env = {**os.environ, **env, "PYTHONPATH": python_path}
    samples: dict[str, list[float]] = {"boto3": [], "access_analyzer_remediation.handler": []}
    for _ in range(runs):
        for module, times in samples.items():
            output = subprocess.run(
                [sys.executable, "-c", _TIMED_IMPORT.format(module=module)],
                env=child_env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            times.append(float(output.strip().splitlines()[-1]))
    boto3_ms = statistics.median(samples["boto3"]) * 1000
    handler_ms = statistics.median(samples["access_analyzer_remediation.handler"]) * 1000
    importtime = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import access_analyzer_remediation.handler"],
        env=child_env,
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    # Lines are "import time: self | cumulative | <indent>module"; the handler's own imports are indented by 3.
    heaviest = sorted(
        (
            (int(match[1]), match[2])
            for match in re.finditer(r"^import time:\s+\d+ \|\s+(\d+) \| {3}(\S+)$", importtime, re.M)
        ),
        reverse=True,
    )[:5]
    return {
        "runs each": runs,
        "import boto3, ms median": round(boto3_ms, 1),
        "import handler, ms median": round(handler_ms, 1),
        "handler / boto3": round(handler_ms / boto3_ms, 2),
        "heaviest imports of the handler module (-X importtime, cumulative ms)": [
            (name, round(us / 1000, 1)) for us, name in heaviest
        ],
        "boto3 imported by the handler module": "boto3" in importtime.split("access_analyzer_remediation.handler")[0],
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


def _as_root_arns(policy: dict[str, Any]) -> dict[str, Any]:
    """What IAM may return for {"AWS": ["<id>"]}: the account's root ARN."""
    body = statements(policy)
    for statement in body:
        aws = statement.get("Principal", {}).get("AWS") if isinstance(statement.get("Principal"), dict) else None
        if isinstance(aws, list):
            statement["Principal"]["AWS"] = [f"arn:aws:iam::{v}:root" if v.isdigit() else v for v in aws]
    return {**policy, "Statement": body}


def deniable_principals(
    principal_for: Callable[[int], dict[str, str]], stored_back: Callable[[dict[str, Any]], dict[str, Any]]
) -> dict[str, Any]:
    """Deny one more external principal at a time (each its own finding) until the planner reports the quota."""
    settings = Settings(
        analyzer_arns=(f"arn:aws:access-analyzer:us-east-1:{ACCOUNT}:analyzer/a",),
        audit_table_name="aar-audit",
        topic_arn=f"arn:aws:sns:us-east-1:{ACCOUNT}:t",
        trust_policy_max_chars=QUOTA,
    )
    policy: dict[str, Any] = {  # the role's own trust: its account's root (inside the zone of trust)
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
        ],
    }
    base = len(compact(policy))
    denied = 0
    while True:
        role = planner.RoleState(f"arn:aws:iam::{ACCOUNT}:role/Shared", "/", {}, policy)
        plan = planner.plan_finding(_finding(principal_for(denied), denied), role, settings)
        if plan.decision != "remediate":
            if plan.reason != planner.TRUST_POLICY_QUOTA:
                raise RuntimeError(f"stopped for {plan.reason}: {plan.summary}")
            break
        assert plan.policy_after is not None
        policy = stored_back(plan.policy_after)
        denied += 1
    return {"denied": denied, "policy characters": len(compact(policy)), "base policy characters": base}


def capacity() -> dict[str, Any]:
    def account(n: int) -> str:
        return str(500000000000 + 7919 * n)

    figures: dict[str, Any] = {
        "account ids": deniable_principals(lambda n: {"AWS": account(n)}, lambda p: p),
        "account ids, stored back by IAM as root ARNs": deniable_principals(
            lambda n: {"AWS": account(n)}, _as_root_arns
        ),
    }
    # Principal ARNs: the count depends on their length. arn:aws:iam::<12 digits>:role/ is 31 characters.
    for name_length in (9, 16, 30, 50):
        example = f"arn:aws:iam::{account(0)}:role/{'r' * name_length}"

        def arn(n: int, width: int = name_length) -> dict[str, str]:
            return {"AWS": f"arn:aws:iam::{account(n)}:role/{f'p{n:0{width - 1}d}'}"}

        figures[f"principal ARNs of {len(example)} characters"] = deniable_principals(arn, lambda p: p)
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
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    roles, samples, runs = (60, 20, 3) if args.quick else (200, 100, 7)
    started = time.perf_counter()
    results: dict[str, Any] = {"machine": machine()}
    with SerialMotoServer() as moto, tempfile.TemporaryDirectory() as logs:
        standins = {
            "us-east-1": AccessAnalyzerStandIn(region="us-east-1").start(),
            "eu-west-1": AccessAnalyzerStandIn(region="eu-west-1").start(),
        }
        try:
            aws = make_aws(moto, standins)
            results["handler time and AWS calls per finding (no faults)"] = per_finding(aws, samples)
            if not args.skip_burst:
                for label, rates in (("without faults", NO_FAULTS), ("with injected faults", FAULTS)):
                    print(f"burst, {roles} roles, {label}...", file=sys.stderr, flush=True)
                    aws = make_aws(moto, standins)
                    results[f"burst of {roles * 5} findings ({roles} roles), {label}"] = burst(aws, roles, rates, logs)
            results["import time"] = import_times(runs, handler_env(aws))
        finally:
            for standin in standins.values():
                standin.stop()
    results["Lambda zip"] = {
        "path": str(ZIP.relative_to(ROOT)),
        "bytes": ZIP.stat().st_size if ZIP.exists() else None,
    }
    results["distinct external principals deniable within 2,048 characters (planner)"] = capacity()
    results["bench seconds"] = round(time.perf_counter() - started, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(table(results))
    print(f"\nwritten to {args.output}")
    return (
        0
        if all(not value.get("problems (must be none)") for value in results.values() if isinstance(value, dict))
        else 1
    )


if __name__ == "__main__":
    sys.exit(main())
