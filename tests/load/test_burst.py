"""A burst of findings through the real Lambda handler while IAM, SNS, DynamoDB and Access Analyzer misbehave.

What is fed: every ACTIVE finding of `BurstSize.roles` roles (5 external principals each, in six trust-policy shapes:
accounts, root ARNs one statement each beside a foreign Deny, Statement as an object, user/role ARNs beside a service
principal under an ExternalId condition, federated web identity and SAML, public), as EventBridge events on an SQS
queue: the findings of every third role arrive from both Regions' analyzers, 8 % of the events twice, and 5 % of the
acknowledged messages are delivered once more. Batches of 10 go to 16 worker processes, each a warm Lambda instance
running `access_analyzer_remediation.handler.lambda_handler` (tests/load/harness.py).

What goes wrong, always: on every HTTP attempt to IAM, SNS, DynamoDB and Access Analyzer (seeded,
tests/load/faults.py) 20 % throttling, 3 % 5xx before the service acts, 2 % 5xx after it acted and 1 % lost answers
(read timeouts) after it acted. The handler runs with AWS_MAX_ATTEMPTS=2, so botocore retries a call at most once
and SQS redelivery does the rest of the retrying. AAR_LOCK_LEASE_SECONDS=5, so a lease left behind stalls its role
for 5 s. Two permanent failures ride along: one role whose UpdateAssumeRolePolicy IAM always refuses (AccessDenied,
an SCP) and ten events from an analyzer the function may not read (GetFinding and ListFindingsV2 denied).

What goes wrong on top, each behind a switch of `Scenario` (all on by default; AAR_BURST_FAULTS=lag,kill,...
keeps only the named ones, AAR_BURST_FAULTS=none none of them):

- ``lag``: IAM is eventually consistent: for 3 s after each trust-policy write, half of the GetRole calls of that
  role answer an earlier version (sandbox/iam_consistency.py, switched on in the serialising moto server);
- ``kill``: 3 % of the UpdateAssumeRolePolicy calls succeed and then the invocation is killed on the spot (between
  the write and its audit record); SQS hands the whole batch back after the visibility timeout;
- ``unprocessed``: 25 % of the BatchWriteItem calls store only part of their items and return the rest as
  UnprocessedItems;
- ``sns``: an SNS outage: every Publish fails (InternalError 500) from 5 s to 12 s into the run;
- ``analyzer``: the analyzers re-analyse every role every 6 batches, so contained findings turn RESOLVED while their
  messages are still being redelivered;
- ``sweep``: the daily sweep 25 s into the run (after the SNS outage), once the analyzer has re-analysed every role
  (with AAR_QUEUE_URL: its finding references come back through the queue), ListFindingsV2 failing twice at its
  start, 30 % of its SendMessageBatch calls reporting some entries Failed and 10 % failing whole; a sweep that
  raises is invoked again (the scheduler's retries), 3 times in all;
- ``revert``: an operator runs `aa-remediate revert --finding-id ID --archive` for 4 findings as soon as they are
  remediated, while the burst goes on: exactly those Denies must be gone at the end.

What must hold (tests/load/harness.py: verify_burst): every finding's Deny exactly once (reverted ones: gone); every
original statement an unchanged prefix; nothing else added; every finding audited (a DECISION record) and in some
e-mail; every remediated finding in an e-mail with its `aa-remediate revert --finding-id` line; every Deny traceable
to an audit record; no sent finding silently dropped; the analyzers re-analyse and find external access only on the
role IAM refused to change; the handler never raised; and the dead-letter queue holds exactly the permanent failures,
each with its cause.

Size: AAR_BURST_ROLES (default 30 here: 150 findings in the first Region, ~230 messages, about two minutes on 2 cores;
an engine that hands healthy records back again and again is stopped after DEADLINE_SECONDS and what is still
queued is reported).
`make bench` runs 200 roles (1,000 findings). maxReceiveCount is 20 (the module's default of 5 assumes the SDK's 8
attempts per call): with two attempts per call a healthy message needs up to ~10 receives at these fault rates.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import pytest

from tests.load.faults import ACCESS_DENIED, SERVER_ERROR, SERVER_ERROR_AFTER, THROTTLE, FaultRates, Outage
from tests.load.harness import (
    UNREADABLE_ANALYZER,
    AnalyzerRerun,
    BurstSize,
    HandlerPool,
    QueueFeed,
    RevertRacer,
    SqsSimulator,
    SweepPlan,
    build_burst,
    cli_env,
    create_findings_queue,
    handler_env,
    revert_candidates,
    stand_in_endpoints,
    verify_burst,
)
from tests.unit.conftest import Aws

SEED = 20240722
SNS_OUTAGE = Outage(start=5.0, end=12.0)  # every Publish fails (InternalError 500) from 5 s to 12 s into the run
FAULTS = FaultRates(throttle=0.20, server_error=0.03, server_error_after=0.02, lost_response=0.01)
LEASE_SECONDS = 5
MAX_RECEIVE_COUNT = 20
WORKERS = 16
DEADLINE_SECONDS = 180
SWEEP_AT = 25.0  # after the SNS outage; its references to the poison role's findings reach the DLQ in time


@dataclass(frozen=True)
class Scenario:
    """The faults on top of the random ones (see the module docstring); a falsy value switches one off."""

    lag: tuple[float, float] | None = (3.0, 0.5)  # (seconds, probability)
    kill: float = 0.03  # kill_after_write per UpdateAssumeRolePolicy attempt
    unprocessed: float = 0.25  # per BatchWriteItem attempt
    sns: Outage | None = SNS_OUTAGE
    analyzer: int | None = 6  # re-analyse every N batches
    sweep: bool = True
    revert: int = 4  # findings reverted while the burst runs

    @classmethod
    def from_env(cls) -> Scenario:
        chosen = os.environ.get("AAR_BURST_FAULTS", "").strip()
        if not chosen:
            return cls()
        keep = {name.strip() for name in chosen.split(",")} - {"none", ""}
        unknown = keep - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"AAR_BURST_FAULTS: unknown fault(s) {sorted(unknown)}")
        off: dict[str, Any] = {
            "lag": None,
            "kill": 0.0,
            "unprocessed": 0.0,
            "sns": None,
            "analyzer": None,
            "sweep": False,
            "revert": 0,
        }
        return replace(cls(), **{name: value for name, value in off.items() if name not in keep})


@pytest.mark.timeout(600)
def test_burst_with_injected_faults_loses_nothing(load_aws: Aws, tmp_path: Path) -> None:
    scenario = Scenario.from_env()
    size = BurstSize.from_env(default_roles=30)
    burst = build_burst(load_aws, size, seed=SEED)
    regions = {f.region for f in burst.findings.values()}
    per_role = len(burst.findings) / size.roles
    assert len({m.finding_id for m in burst.messages}) < len(burst.messages), "no event arrives twice"
    assert {"us-east-1", "eu-west-1"} <= regions and per_role >= 5, (regions, per_role)
    assert FAULTS.throttle >= 0.20 and FAULTS.five_xx >= 0.05
    print(scenario)

    queue_url = create_findings_queue(load_aws)
    env = handler_env(
        load_aws, AAR_LOCK_LEASE_SECONDS=str(LEASE_SECONDS), AWS_MAX_ATTEMPTS="2", AAR_QUEUE_URL=queue_url
    )
    rates = replace(
        FAULTS,
        kill_after_write=scenario.kill,
        unprocessed_items=scenario.unprocessed,
        send_batch_partial=0.3 if scenario.sweep else 0.0,
        send_batch_error=0.1 if scenario.sweep else 0.0,
    )
    racer = None
    if scenario.revert:
        candidates = revert_candidates(burst, random.Random(f"revert:{SEED}"), 4 * scenario.revert)
        env_of_cli = cli_env(load_aws, AAR_LOCK_LEASE_SECONDS=str(LEASE_SECONDS))
        racer = RevertRacer(env_of_cli, candidates, scenario.revert, endpoints=stand_in_endpoints(load_aws))
    sweeps = None
    if scenario.sweep:
        sweeps = SweepPlan(
            at_seconds=(SWEEP_AT,),
            final=True,  # the next daily sweep: it sends what is still waiting in the outbox
            feed=QueueFeed(load_aws, queue_url),
            list_findings_failures=2,
            standins=list(load_aws.standins.values()),
            max_attempts=2,
        )
    analyzer = None
    if scenario.analyzer or scenario.sweep:
        # Without `analyzer` only before the sweep: the daily sweep meets an analyzer that has caught up.
        analyzer = AnalyzerRerun(load_aws, every_batches=scenario.analyzer or 10**9)
    if scenario.lag:
        load_aws.moto.set_iam_read_lag(scenario.lag[0], probability=scenario.lag[1], seed=SEED)
    with HandlerPool(
        env,
        stand_in_endpoints(load_aws),
        workers=WORKERS,
        rates=rates,
        poison_roles=burst.poison_roles,
        poison_analyzers=[UNREADABLE_ANALYZER],
        log_dir=str(tmp_path),  # the handler's own JSON logs, for a post-mortem
    ) as pool:
        queue = SqsSimulator(
            pool,
            max_receive_count=MAX_RECEIVE_COUNT,
            visibility_timeout=0.5,
            seed=SEED,
            outages=[scenario.sns] if scenario.sns else [],
            analyzer=analyzer,
            sweeps=sweeps,
            on_batch=[racer.on_batch] if racer else [],
            # Besides the random kills, two invocations killed for sure after their first write: the run always
            # has some, whatever order the pool's workers take the batches in.
            batch_rates={i: replace(rates, kill_after_write=1.0) for i in (4, 9)} if scenario.kill else None,
        )
        # A working engine drains this queue (dead letters included) in about a minute; one that hands healthy
        # records back again and again is stopped after DEADLINE_SECONDS and what is left is reported.
        result = queue.run(burst.messages, deadline_seconds=DEADLINE_SECONDS, stop_at_deadline=True)
        reverts = racer.join() if racer else {}
    report = verify_burst(
        load_aws,
        burst,
        result,
        lease_seconds=LEASE_SECONDS,
        reverted=racer.reverted if racer else (),
        pool=pool,
        resolved=analyzer.resolved_ids if analyzer else (),
    )
    for run in reverts.values():
        print(f"revert {run.finding_id} at {run.started_at} s: exit {run.exit_code} {run.detail or run.removed}")
    print(report.summary())  # shown with -rP / -s: the figures and the dead-letter list with causes

    # The faults really happened (a sanity check of the injection, not of the engine): these hold for any engine.
    attempts = sum(result.attempts.values())
    for kind, rate in ((THROTTLE, FAULTS.throttle), (SERVER_ERROR, FAULTS.server_error)):
        seen = sum(n for key, n in result.injected.items() if key.endswith(f".{kind}"))
        assert seen >= 0.8 * rate * attempts, (kind, seen, attempts)
    assert sum(n for key, n in result.injected.items() if key.endswith(f".{SERVER_ERROR_AFTER}")) > 0
    assert {"iam", "sns", "dynamodb", "accessanalyzer"} <= {
        key.split(".")[0] for key in result.injected if not key.endswith(ACCESS_DENIED)
    }
    assert result.sqs_duplicates > 0
    if scenario.kill:
        assert result.killed_batches > 0 and pool.kills == result.killed_batches - len(result.crashes)
    if scenario.unprocessed:
        assert result.injected["dynamodb.unprocessed_items"] > 0
    if scenario.sns:
        assert result.injected["sns.outage"] > 0
    if scenario.lag:
        assert report.facts["IAM read lag"]["stale"] > 0
    if scenario.sweep:
        assert result.sweeps, "no sweep ran"
    if scenario.analyzer:
        assert analyzer is not None and analyzer.runs > 1 and analyzer.resolved > 0 and analyzer.errors == []
    if racer:
        assert reverts, "no revert ran: the racer saw no remediated candidate"
    # What the engine must guarantee.
    assert report.problems == [], report.summary()
    permanent = {m.message_id for m in burst.messages if m.finding_id in burst.permanent_failures()}
    assert {d.message_id for d in report.dead_letters if not d.message_id.startswith("fed-")} == permanent
