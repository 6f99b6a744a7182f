"""Many workers on one role at once: the per-role DynamoDB lease must keep IAM's read-modify-write cycles apart.

IAM has no conditional write, so two workers that read the same trust policy and each add a Deny would lose one of
them; the engine serialises them with a lease in DynamoDB. These tests run on the serialising moto server
(tests/load/serial_moto.py), where a conditional write is atomic as in DynamoDB, so a lost Deny here is the
engine's doing, not moto's.

And IAM is eventually consistent (sandbox/iam_consistency.py): with `LAG` on (3 s, half of the reads; the default
here, AAR_CONTENTION_LAG=0 turns it off), the GetRole a worker makes right after taking the lease may still show the
trust policy from before the previous holder's write. A worker that writes back what it read then drops that Deny.

- `test_eight_workers_fifty_findings_on_one_role_lose_nothing`: 8 engines in threads of this process, 50 findings;
- `test_handler_workers_on_one_role_with_kills_and_a_revert`: the same role through 8 handler processes and the
  simulated queue (tests/load/harness.py), with the random faults, invocations killed between their write and their
  audit record, partial BatchWriteItem answers and an operator reverting two findings in the middle of it;
- `test_a_write_that_outlives_its_lock_lease_heals_on_the_next_analysis`: one write stuck past the lease (no lag).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from access_analyzer_remediation.clients import AwsClients
from access_analyzer_remediation.engine import Remediator
from access_analyzer_remediation.findings import FindingRef
from access_analyzer_remediation.policy import statements, tool_entries
from sandbox.access_analyzer import build_finding_event
from tests.load.faults import FaultRates
from tests.load.harness import (
    ACCOUNT,
    Burst,
    FindingInfo,
    HandlerPool,
    Message,
    RevertRacer,
    RoleInfo,
    SqsSimulator,
    consistent_iam,
    decision_items,
    expected_denies,
    handler_env,
    scan_table,
    stand_in_endpoints,
    verify_burst,
)
from tests.unit.conftest import Aws

WORKERS = 8
FINDINGS = 50
SEED = 1312
# IAM read lag (seconds, probability per read); AAR_CONTENTION_LAG="0" switches it off, "2,1.0" sets both.
_LAG = [float(v) for v in os.environ.get("AAR_CONTENTION_LAG", "3,0.5").split(",")]
LAG = (_LAG[0], _LAG[1] if len(_LAG) > 1 else 1.0)
POOL_FAULTS = FaultRates(
    throttle=0.10,
    server_error=0.02,
    server_error_after=0.01,
    lost_response=0.01,
    kill_after_write=0.05,
    unprocessed_items=0.25,
)


def _principals() -> list[dict[str, Any]]:
    """50 external principals of every deniable kind: account ids, root ARNs, user/role ARNs, federated providers."""
    accounts = [str(300000000000 + 104729 * n) for n in range(44)]
    return [
        *({"AWS": account} for account in accounts[:28]),
        *({"AWS": f"arn:aws:iam::{account}:root"} for account in accounts[28:38]),
        *(
            {"AWS": f"arn:aws:iam::{account}:{kind}/partner-{n}"}
            for n, (account, kind) in enumerate(zip(accounts[38:44], itertools.cycle(["user", "role"]), strict=False))
        ),
        {"Federated": "cognito-identity.amazonaws.com"},
        {"Federated": f"arn:aws:iam::{accounts[0]}:saml-provider/Okta"},
        {"Federated": "accounts.google.com"},
        {"Federated": "graph.facebook.com"},
        {"Federated": "www.amazon.com"},
        {"Federated": f"arn:aws:iam::{accounts[1]}:saml-provider/AzureAD"},
    ]


def _trust_policy(principals: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One Allow per kind of principal (a service, AWS principals, web identity and SAML providers)."""
    aws = [p["AWS"] for p in principals if "AWS" in p]
    saml = [p["Federated"] for p in principals if ":saml-provider/" in p.get("Federated", "")]
    web = [p["Federated"] for p in principals if "Federated" in p and p["Federated"] not in saml]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"AWS": aws}, "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"Federated": web}, "Action": "sts:AssumeRoleWithWebIdentity"},
            {"Effect": "Allow", "Principal": {"Federated": saml}, "Action": "sts:AssumeRoleWithSAML"},
        ],
    }


def _lag(aws: Aws, lag: tuple[float, float]) -> None:
    if lag[0] > 0:
        aws.moto.set_iam_read_lag(lag[0], probability=lag[1], seed=SEED)


def _held_leases(items: Sequence[dict[str, Any]]) -> list[str]:
    """Lease items (LOCK#... or RESOURCE#... STATE) whose lease has not run out: a lock left behind."""
    now = time.time()
    return [
        item["pk"]["S"]
        for item in items
        if item["pk"]["S"].startswith(("LOCK#", "RESOURCE#"))
        and float(item.get("lease_until", {}).get("N", "0")) > now
        and item.get("owner", {}).get("S", "x")
    ]


def _process_until_done(
    remediator: Remediator, refs: Sequence[FindingRef], per_call: int, calls: list[tuple[float, float]]
) -> list[Any]:
    """Like SQS: whatever fails (lock busy, say) is handed back and tried again. `calls`: when each call ran."""
    done: list[Any] = []
    pending = list(refs)
    for _ in range(20):
        if not pending:
            break
        retry: list[FindingRef] = []
        for start in range(0, len(pending), per_call):
            began = time.monotonic()
            outcomes = remediator.process(pending[start : start + per_call])
            calls.append((began, time.monotonic()))
            for outcome in outcomes:
                if outcome.failed:
                    retry.append(outcome.ref)
                else:
                    done.append(outcome)
        pending = retry
    assert not pending, f"still failing after 20 rounds: {pending}"
    return done


def _max_overlap(calls: Sequence[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in calls] + [(end, -1) for _, end in calls])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


@pytest.mark.timeout(300)
@pytest.mark.parametrize("lag", [LAG], ids=[f"iam-read-lag-{LAG[0]:g}s-p{LAG[1]:g}"])
def test_eight_workers_fifty_findings_on_one_role_lose_nothing(load_aws: Aws, lag: tuple[float, float]) -> None:
    aws = load_aws
    principals = _principals()
    assert len(principals) == FINDINGS
    aws.create_role("Contended", _trust_policy(principals), path="/shared/")
    original = consistent_iam(aws).get_role(RoleName="Contended")["Role"]["AssumeRolePolicyDocument"]
    findings = aws.analyze()
    assert len(findings) == FINDINGS
    analyzer = aws.standins["us-east-1"].analyzer_arn
    refs = [FindingRef(analyzer, finding["id"]) for finding in findings]
    # The account's trust-policy quota raised to 4,096: 50 Denies of every kind do not fit in 2,048 characters.
    remediators = [aws.remediator(trust_policy_max_chars=4096, lock_lease_seconds=5) for _ in range(WORKERS)]
    for remediator in remediators:
        remediator.lock_wait_seconds = 30
    barrier = threading.Barrier(WORKERS)
    results: dict[int, list[Any]] = {}
    errors: list[BaseException] = []
    calls: list[tuple[float, float]] = []

    def work(index: int) -> None:
        try:
            barrier.wait()
            # Half the workers take one finding per call (50 lock cycles in all), half three (coalesced).
            per_call = 1 if index % 2 else 3
            results[index] = _process_until_done(remediators[index], refs[index::WORKERS], per_call, calls)
        except BaseException as error:  # reported below: a thread's exception would otherwise vanish
            errors.append(error)

    _lag(aws, lag)
    threads = [threading.Thread(target=work, args=(index,)) for index in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert errors == []
    assert _max_overlap(calls) >= 4, "the workers did not really run at once"
    if lag[0] > 0:
        stats = aws.moto.iam_read_lag_stats()
        print(f"IAM read lag: {stats}")
        assert stats["stale"] > 0, "no read was stale: the lag did not bite"
    outcomes = [outcome for outcomes in results.values() for outcome in outcomes]

    problems: list[str] = []
    decisions = Counter(o.decision for o in outcomes)
    if decisions != {"remediate": FINDINGS}:
        problems.append(f"decisions {dict(decisions)}, want {FINDINGS} remediate")
    final = consistent_iam(aws).get_role(RoleName="Contended")["Role"]["AssumeRolePolicyDocument"]
    if statements(final)[: len(statements(original))] != statements(original):
        problems.append("an original statement changed")
    in_place = Counter((e.kind, e.value, tuple(sorted(e.actions))) for e in tool_entries(final))
    wanted = Counter(deny for finding in findings for deny in expected_denies(finding["principal"], finding["action"]))
    assert len(wanted) == FINDINGS
    if in_place != wanted:
        problems.append(f"{sum((wanted - in_place).values())} Denies lost: {sorted(wanted - in_place)}")
        problems.append(f"{sum((in_place - wanted).values())} Denies extra: {sorted(in_place - wanted)}")
    items = scan_table(aws)
    if _held_leases(items):
        problems.append(f"a lease was left behind: {_held_leases(items)}")
    remediated = Counter(
        item["finding_id"]["S"] for item in decision_items(items) if item["decision"]["S"] == "remediate"
    )
    if remediated != Counter({finding["id"]: 1 for finding in findings}):
        problems.append(f"remediate records per finding: {sorted(Counter(remediated.values()).items())}, want 1 each")
    aws.moto.set_iam_read_lag(0)
    exposed = aws.analyze()
    if exposed:
        problems.append(f"the analyzer still sees external access: {[f['principal'] for f in exposed]}")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    assert problems == []


@pytest.mark.timeout(300)
@pytest.mark.parametrize("lag", [LAG], ids=[f"iam-read-lag-{LAG[0]:g}s-p{LAG[1]:g}"])
def test_handler_workers_on_one_role_with_kills_and_a_revert(
    load_aws: Aws, tmp_path: Path, lag: tuple[float, float]
) -> None:
    aws = load_aws
    principals = _principals()
    arn = aws.create_role("ContendedPool", _trust_policy(principals), path="/shared/")
    original = consistent_iam(aws).get_role(RoleName="ContendedPool")["Role"]["AssumeRolePolicyDocument"]
    standin = aws.standin
    standin.analyze_roles(consistent_iam(aws))
    active = standin.findings(status="ACTIVE")
    assert len(active) == FINDINGS
    findings = {
        f["id"]: FindingInfo(
            f["id"], "us-east-1", standin.analyzer_arn, "ContendedPool", dict(f["principal"]), tuple(f["action"])
        )
        for f in active
    }
    rng = random.Random(f"contention:{SEED}")
    events = [(f["id"], json.dumps(build_finding_event(f, standin.analyzer_arn, "us-east-1", ACCOUNT))) for f in active]
    events += rng.sample(events, 5)  # EventBridge delivers some twice
    rng.shuffle(events)
    messages = [Message(f"msg-{n:03d}", finding_id, body) for n, (finding_id, body) in enumerate(events)]
    burst = Burst({"ContendedPool": RoleInfo("ContendedPool", arn, "contended", original, False)}, findings, messages)
    lease = 5
    env = handler_env(
        aws,
        AAR_ANALYZER_ARNS=json.dumps([standin.analyzer_arn]),
        AAR_LOCK_LEASE_SECONDS=str(lease),
        AAR_TRUST_POLICY_MAX_CHARS="4096",  # 50 Denies of every kind do not fit in 2,048 characters
        AWS_MAX_ATTEMPTS="2",
    )
    racer = RevertRacer(env, rng.sample(sorted(findings), 6), count=2, endpoints=stand_in_endpoints(aws))
    _lag(aws, lag)
    with HandlerPool(env, stand_in_endpoints(aws), workers=WORKERS, rates=POOL_FAULTS, log_dir=str(tmp_path)) as pool:
        # Two findings per invocation: 25+ invocations queue for the same role's lease at every moment.
        # The first two invocations die right after their first write (one of them is the first to hold the lease).
        killer = replace(POOL_FAULTS, kill_after_write=1.0)
        queue = SqsSimulator(
            pool,
            batch_size=2,
            max_receive_count=20,
            # At least the lease, as with the module's defaults (visibility 6 x the Lambda timeout = 360 s, lease
            # 60 s). A finding that needs no write while a lease with an intent runs (every holder's lease carries
            # its intent) is handed back at once, for a retry after that lease (cycle: ResourceCycle._pending).
            # With 0.5 s such a record came back every 0.6-0.7 s while the role's lease kept changing hands, and
            # on a loaded machine used up its 20 receives within about 20 s: the DLQ.
            visibility_timeout=lease,
            seed=SEED,
            on_batch=[racer.on_batch],
            batch_rates={0: killer, 1: killer},
        )
        result = queue.run(messages, deadline_seconds=120, stop_at_deadline=True)  # 35-60 s on 2 busy cores
        reverts = racer.join()
    report = verify_burst(aws, burst, result, lease_seconds=lease, reverted=racer.reverted, pool=pool)
    for run in reverts.values():
        print(f"revert {run.finding_id} at {run.started_at} s: exit {run.exit_code} {run.detail or run.removed}")
    print(report.summary())
    # The faults happened (a check of the harness, whatever the engine does).
    assert result.killed_batches > 0 and result.injected["dynamodb.unprocessed_items"] > 0
    assert reverts, "no revert ran"
    if lag[0] > 0:
        assert report.facts["IAM read lag"]["stale"] > 0
    assert report.problems == [], report.summary()


@pytest.mark.timeout(120)
def test_a_write_that_outlives_its_lock_lease_is_repaired_by_the_next_holder(load_aws: Aws) -> None:
    """Worker A holds the lease, has read the policy, and its UpdateAssumeRolePolicy call is slower than the whole
    lease (stuck in the network). Its lease runs out; worker B takes it, finds A's intent, writes A's Deny and its
    own, and commits both to the ledger. Then A's write lands: a policy computed before B's change, so B's Deny is
    gone from IAM for a while.

    The engine refuses to START a write with less than a safety margin of lease left, and the module makes the
    lease at least the Lambda timeout (a Terraform precondition), so in the Lambda a call would have to outlive the
    invocation itself. Should it happen anyway: A's commit finds its lease taken and marks the role ("a late write
    landed") and hands its finding back; its retry (or any next holder) takes the missing ledger entry for the truth at
    once (no waiting for IAM's lag) and writes it again."""
    aws = load_aws
    first, second = "999988887777", "222233334444"
    aws.create_role(
        "Slow",
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": [first, second]}, "Action": "sts:AssumeRole"}],
        },
    )
    by_account = {finding["principal"]["AWS"]: finding for finding in aws.analyze()}
    analyzer = aws.standins["us-east-1"].analyzer_arn
    a_is_writing, b_is_done = threading.Event(), threading.Event()

    def slow_write(event_name: str, **_: Any) -> None:
        if event_name.endswith(".UpdateAssumeRolePolicy"):
            a_is_writing.set()
            b_is_done.wait(timeout=60)

    def a_client(service: str, region: str | None) -> Any:
        client = aws.client(service, region)
        if service == "iam":
            client.meta.events.register("before-send", slow_write)
        return client

    settings = aws.settings(lock_lease_seconds=5)
    worker_a = Remediator(settings, AwsClients(factory=a_client), lock_wait_seconds=20)
    worker_b = Remediator(settings, aws.clients(), lock_wait_seconds=20)
    outcomes: dict[str, list[Any]] = {}
    thread = threading.Thread(
        target=lambda: outcomes.setdefault("a", worker_a.process([FindingRef(analyzer, by_account[first]["id"])]))
    )
    thread.start()
    assert a_is_writing.wait(timeout=30)
    outcomes["b"] = worker_b.process([FindingRef(analyzer, by_account[second]["id"])])  # waits out A's lease
    b_is_done.set()
    thread.join(timeout=60)
    # A's commit found its lease taken: its finding is handed back (its record and notice are stored), not done.
    assert [(o.decision, o.reason) for o in outcomes["a"]] == [("failed", "lock_lost")]
    assert [o.decision for o in outcomes["b"]] == ["remediate"]
    assert {e.value for e in tool_entries(aws.policy("Slow"))} == {first}  # A's late write dropped B's Deny
    state = worker_b.state.peek(outcomes["a"][0].finding.resource_arn)
    assert state.late_write_at >= state.updated_at > 0 and {e.value for e in state.ledger.entries()} == {first, second}
    reopened = aws.analyze()  # the analyzer re-analyses the changed role: A's finding RESOLVED, B's open again
    assert [f["principal"]["AWS"] for f in reopened] == [second]
    # A's retry alone sets it right, though its finding is resolved now: no other event need come.
    [retry] = worker_a.process([FindingRef(analyzer, by_account[first]["id"])])
    assert (retry.decision, retry.reason) == ("skip", "finding_not_active")
    assert {e.value for e in tool_entries(aws.policy("Slow"))} == {first, second}
    assert not worker_b.state.peek(outcomes["a"][0].finding.resource_arn).late_write_unsettled
    [again] = worker_b.process([FindingRef(analyzer, reopened[0]["id"])])
    assert (again.decision, again.reason) == ("skip", "already_contained")
