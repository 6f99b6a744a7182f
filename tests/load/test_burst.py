"""A burst of findings through the real Lambda handler while IAM, SNS, DynamoDB and Access Analyzer misbehave.

What is fed: every ACTIVE finding of `BurstSize.roles` roles (5 external principals each, in six trust-policy shapes:
accounts, root ARNs one statement each beside a foreign Deny, Statement as an object, user/role ARNs beside a service
principal under an ExternalId condition, federated web identity and SAML, public), as EventBridge events on an SQS
queue: the findings of every third role arrive from both Regions' analyzers, 8 % of the events twice, and 5 % of the
acknowledged messages are delivered once more. Batches of 10 go to 16 worker processes, each a warm Lambda instance
running `access_analyzer_remediation.handler.lambda_handler` (tests/load/harness.py).

What goes wrong: on every HTTP attempt to IAM, SNS, DynamoDB and Access Analyzer (seeded, tests/load/faults.py)
20 % throttling, 3 % 5xx before the service acts, 2 % 5xx after it acted and 1 % lost answers (read timeouts) after
it acted. The handler runs with AWS_MAX_ATTEMPTS=2, so botocore retries a call at most once (and sleeps at most
about a second) and SQS redelivery does the rest of the retrying; with a single attempt, 26 % faults per call leave
a batch a ~20 % chance of going through and a message needs dozens of receives. (clients.py currently passes
AWS_MAX_ATTEMPTS to botocore as its number of *retries*, so 2 means three attempts; the test holds either way.)
AAR_LOCK_LEASE_SECONDS=5, so a lock left behind by a failed release or a lost answer stalls its role for 5 s. Two
permanent failures ride along: one role whose UpdateAssumeRolePolicy IAM always refuses (AccessDenied, an SCP) and
ten events from an analyzer whose GetFinding the function may not call.

What must hold (tests/load/harness.py: verify_burst): every finding's Deny exactly once; every original statement
an unchanged prefix; nothing else added; every finding audited and in some e-mail; every Deny traceable to an audit
record (so `aa-remediate revert` finds it); the analyzers re-analyse and find external access only on the role IAM
refused to change; the handler never raised; and the dead-letter queue holds exactly the permanent failures, each
with its cause.

Size: AAR_BURST_ROLES (default 60 here: 300 findings in the first Region, ~440 messages, about a minute on 2 cores).
`make bench` runs 200 roles (1,000 findings); `AAR_BURST_ROLES=200 pytest tests/load/test_burst.py` does too.
maxReceiveCount is 20 (the module's default of 5 assumes the SDK's 8 attempts per call): with two attempts per call a
healthy message needs up to ~10 receives at these fault rates; permanent failures take 20 receives to reach the DLQ.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.load.faults import ACCESS_DENIED, SERVER_ERROR, SERVER_ERROR_AFTER, THROTTLE, FaultRates
from tests.load.harness import (
    UNREADABLE_ANALYZER,
    BurstSize,
    HandlerPool,
    SqsSimulator,
    build_burst,
    handler_env,
    stand_in_endpoints,
    verify_burst,
)
from tests.unit.conftest import Aws

SEED = 20240722
FAULTS = FaultRates(throttle=0.20, server_error=0.03, server_error_after=0.02, lost_response=0.01)
LEASE_SECONDS = 5
MAX_RECEIVE_COUNT = 20
WORKERS = 16


@pytest.mark.timeout(600)
def test_burst_with_injected_faults_loses_nothing(load_aws: Aws, tmp_path: Path) -> None:
    size = BurstSize.from_env(default_roles=60)
    burst = build_burst(load_aws, size, seed=SEED)
    regions = {f.region for f in burst.findings.values()}
    per_role = len(burst.findings) / size.roles
    assert len({m.finding_id for m in burst.messages}) < len(burst.messages), "no event arrives twice"
    assert {"us-east-1", "eu-west-1"} <= regions and per_role >= 5, (regions, per_role)
    assert FAULTS.throttle >= 0.20 and FAULTS.five_xx >= 0.05

    env = handler_env(load_aws, AAR_LOCK_LEASE_SECONDS=str(LEASE_SECONDS), AWS_MAX_ATTEMPTS="2")
    with HandlerPool(
        env,
        stand_in_endpoints(load_aws),
        workers=WORKERS,
        rates=FAULTS,
        poison_roles=burst.poison_roles,
        poison_analyzers=[UNREADABLE_ANALYZER],
        log_dir=str(tmp_path),  # the handler's own JSON logs, for a post-mortem
    ) as pool:
        queue = SqsSimulator(pool, max_receive_count=MAX_RECEIVE_COUNT, visibility_timeout=0.5, seed=SEED)
        result = queue.run(burst.messages, deadline_seconds=480)
    report = verify_burst(load_aws, burst, result, lease_seconds=LEASE_SECONDS)
    print(report.summary())  # shown with -rP / -s: the figures and the dead-letter list with causes

    assert report.problems == [], report.summary()
    # The faults really happened, in the configured mix (a sanity check of the injection, not of the engine).
    attempts = sum(result.attempts.values())
    for kind, rate in ((THROTTLE, FAULTS.throttle), (SERVER_ERROR, FAULTS.server_error)):
        seen = sum(n for key, n in result.injected.items() if key.endswith(f".{kind}"))
        assert seen >= 0.8 * rate * attempts, (kind, seen, attempts)
    assert sum(n for key, n in result.injected.items() if key.endswith(f".{SERVER_ERROR_AFTER}")) > 0
    assert {key.split(".")[0] for key in result.injected if not key.endswith(ACCESS_DENIED)} == {
        "iam",
        "sns",
        "dynamodb",
        "accessanalyzer",
    }
    assert result.sqs_duplicates > 0
    # Every permanent failure is in the DLQ (checked against its cause in verify_burst), and nothing else is.
    permanent = {m.message_id for m in burst.messages if m.finding_id in burst.permanent_failures()}
    assert {d.message_id for d in report.dead_letters} == permanent
