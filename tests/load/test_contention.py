"""Many workers on one role at once: the per-role DynamoDB lock must keep IAM's read-modify-write cycles apart.

IAM has no conditional write, so two workers that read the same trust policy and each add a Deny would lose one of
them; the engine serialises them with a lease in DynamoDB (audit.AuditStore.acquire). These tests run on the
serialising moto server (tests/load/serial_moto.py), where a conditional PutItem is atomic as in DynamoDB, so a
lost Deny here is the engine's doing, not moto's.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

from access_analyzer_remediation.clients import AwsClients
from access_analyzer_remediation.engine import Outcome, Remediator
from access_analyzer_remediation.findings import FindingRef
from access_analyzer_remediation.policy import statements, tool_entries
from tests.load.harness import expected_denies, scan_table
from tests.unit.conftest import Aws

WORKERS = 8
FINDINGS = 50


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


def _process_until_done(remediator: Remediator, refs: Sequence[FindingRef], per_call: int) -> list[Outcome]:
    """Like SQS: whatever fails (lock busy, say) is handed back and tried again."""
    done: list[Outcome] = []
    pending = list(refs)
    for _ in range(20):
        if not pending:
            break
        retry: list[FindingRef] = []
        for start in range(0, len(pending), per_call):
            for outcome in remediator.process(pending[start : start + per_call]):
                if outcome.failed:
                    retry.append(outcome.ref)
                else:
                    done.append(outcome)
        pending = retry
    assert not pending, f"still failing after 20 rounds: {pending}"
    return done


@pytest.mark.timeout(300)
def test_eight_workers_fifty_findings_on_one_role_lose_nothing(load_aws: Aws) -> None:
    aws = load_aws
    principals = _principals()
    assert len(principals) == FINDINGS
    aws.create_role("Contended", _trust_policy(principals), path="/shared/")
    original = aws.policy("Contended")
    findings = aws.analyze()
    assert len(findings) == FINDINGS
    analyzer = aws.standins["us-east-1"].analyzer_arn
    refs = [FindingRef(analyzer, finding["id"]) for finding in findings]
    # The account's trust-policy quota raised to 4,096: 50 Denies of every kind do not fit in 2,048 characters.
    remediators = [aws.remediator(trust_policy_max_chars=4096, lock_lease_seconds=5) for _ in range(WORKERS)]
    for remediator in remediators:
        remediator.lock_wait_seconds = 30
    barrier = threading.Barrier(WORKERS)
    results: dict[int, list[Outcome]] = {}
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            barrier.wait()
            # Half the workers take one finding per call (50 lock cycles in all), half three (coalesced).
            results[index] = _process_until_done(remediators[index], refs[index::WORKERS], 1 if index % 2 else 3)
        except BaseException as error:  # reported below: a thread's exception would otherwise vanish
            errors.append(error)

    aws.calls.clear()
    threads = [threading.Thread(target=work, args=(index,)) for index in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert errors == []
    # The workers really collided: more lock attempts (PutItem) than lock cycles (one per GetRole).
    assert aws.calls["PutItem"] > aws.calls["GetRole"], aws.calls
    outcomes = [outcome for outcomes in results.values() for outcome in outcomes]
    assert Counter(o.decision for o in outcomes) == {"remediate": FINDINGS}, [o.summary for o in outcomes]

    final = aws.policy("Contended")
    assert statements(final)[: len(statements(original))] == statements(original), "an original statement changed"
    in_place = Counter((e.kind, e.value, tuple(sorted(e.actions))) for e in tool_entries(final))
    wanted = Counter(deny for finding in findings for deny in expected_denies(finding["principal"], finding["action"]))
    assert len(wanted) == FINDINGS
    assert in_place == wanted, {"missing": wanted - in_place, "extra": in_place - wanted}
    items = scan_table(aws)
    assert not [item for item in items if item["pk"]["S"].startswith("LOCK#")], "a lock was left behind"
    remediated = Counter(item["finding_id"]["S"] for item in items if item.get("decision", {}).get("S") == "remediate")
    assert remediated == Counter({finding["id"]: 1 for finding in findings})
    assert aws.analyze() == [], "the analyzer still sees external access"


@pytest.mark.timeout(120)
def test_a_write_that_outlives_its_lock_lease_heals_on_the_next_analysis(load_aws: Aws) -> None:
    """Worker A holds the lock, has read the policy, and its UpdateAssumeRolePolicy call is slower than the whole
    lease (stuck in the network). Its lease runs out; worker B takes the lock, reads the policy, adds its Deny and
    releases. Then A's write lands: a policy computed before B's change, so B's Deny is gone for a while.

    The engine refuses to START a write with less than a safety margin of lease left, and the module makes the
    lease at least the Lambda timeout (a Terraform precondition), so in the Lambda a call would have to outlive the
    invocation itself. Should it happen anyway, nothing is lost for good: the overwritten policy grants B's
    principal again, the analyzer reports it ACTIVE again, and the next event (or the daily sweep) denies it."""
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
    outcomes: dict[str, list[Outcome]] = {}
    thread = threading.Thread(
        target=lambda: outcomes.setdefault("a", worker_a.process([FindingRef(analyzer, by_account[first]["id"])]))
    )
    thread.start()
    assert a_is_writing.wait(timeout=30)
    outcomes["b"] = worker_b.process([FindingRef(analyzer, by_account[second]["id"])])  # waits out A's lease
    b_is_done.set()
    thread.join(timeout=60)
    assert [o.decision for o in outcomes["a"] + outcomes["b"]] == ["remediate", "remediate"]
    assert {e.value for e in tool_entries(aws.policy("Slow"))} == {first}  # A's late write dropped B's Deny
    reopened = aws.analyze()  # the analyzer re-analyses the changed role
    assert [f["principal"]["AWS"] for f in reopened] == [second]
    healed = worker_b.process([FindingRef(analyzer, reopened[0]["id"])])
    assert [o.decision for o in healed] == ["remediate"]
    assert {e.value for e in tool_entries(aws.policy("Slow"))} == {first, second}
