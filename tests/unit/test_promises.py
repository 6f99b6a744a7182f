"""The README's promises under real AWS behaviour: one test (or a few) per point of the hardening issue.

Each test drives only the stable edges of the package (the Lambda handler, `aa-remediate`, the sandbox AWS), so
the same file can be run against an earlier engine to show what broke there (the closing note of the hardening
work lists which fail on the engine before it). IAM's eventual consistency is the sandbox moto server's read lag
(sandbox.iam_consistency): GetRole answers an older trust policy for a few seconds after each write.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from access_analyzer_remediation.cli import main
from sandbox.access_analyzer import build_finding_event
from tests.load.faults import route_access_analyzer

from .conftest import EVENTS, Aws, trust_policy

EXTERNAL = "999988887777"
OTHER = "222233334444"
ACCOUNT = "123456789012"
CONTEXT = SimpleNamespace(
    function_name="aar",
    memory_limit_in_mb=256,
    invoked_function_arn=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:aar",
    aws_request_id="req-1",
)
ASSUME = "sts:AssumeRole"


class LambdaTimeout(BaseException):  # what the runtime does to a function out of time: stops it dead
    """Raised from a botocore hook: unlike an Exception no handler in the package catches it."""


# ==================================================================================================== helpers
def env(aws: Aws, **overrides: str) -> dict[str, str]:
    values = aws.moto.env({"accessanalyzer": aws.standin.endpoint_url})
    values.update(
        {
            "AAR_ANALYZER_ARNS": json.dumps([s.analyzer_arn for s in aws.standins.values()]),
            "AAR_AUDIT_TABLE_NAME": aws.table,
            "AAR_TOPIC_ARN": aws.topic_arn,
            "POWERTOOLS_METRICS_NAMESPACE": "AarPromises",
            "AWS_MAX_ATTEMPTS": "2",
        }
    )
    values.update(overrides)
    return values


@pytest.fixture(autouse=True)
def regions(aws: Aws) -> Iterator[None]:
    """Each Region's analyzer is its own stand-in, for the handler's clients and the CLI's alike."""
    yield
    boto3.DEFAULT_SESSION = None


def fresh_session(aws: Aws) -> None:
    boto3.setup_default_session()  # the package's clients come from here: hooks registered on it apply to them
    assert boto3.DEFAULT_SESSION is not None
    endpoints = {region: standin.endpoint_url for region, standin in aws.standins.items()}
    route_access_analyzer(boto3.DEFAULT_SESSION.events, endpoints)


def load_handler(monkeypatch: pytest.MonkeyPatch, values: dict[str, str], aws: Aws) -> ModuleType:
    """A fresh execution environment: its own handler module, engine and boto3 clients."""
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    fresh_session(aws)
    sys.modules.pop("access_analyzer_remediation.handler", None)
    return importlib.import_module("access_analyzer_remediation.handler")


def sqs_event(*bodies: Any, receives: int = 1) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m{index}",
                "receiptHandle": f"r{index}",
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {"ApproximateReceiveCount": str(receives)},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:us-east-1:{ACCOUNT}:aar-findings",
                "awsRegion": "us-east-1",
            }
            for index, body in enumerate(bodies)
        ]
    }


def event_of(aws: Aws, finding: dict[str, Any], region: str = "us-east-1") -> dict[str, Any]:
    return build_finding_event(finding, aws.standins[region].analyzer_arn, region, ACCOUNT)


def denied(policy: dict[str, Any]) -> set[str]:
    """Every principal value the policy's Deny statements name (Principal lists and aws:PrincipalArn)."""
    values: set[str] = set()
    body = policy["Statement"] if isinstance(policy["Statement"], list) else [policy["Statement"]]
    for statement in body:
        if statement.get("Effect") != "Deny":
            continue
        principal = statement.get("Principal", {})
        for value in principal.values() if isinstance(principal, dict) else [principal]:
            values.update([value] if isinstance(value, str) else value)
        arns = statement.get("Condition", {}).get("ArnLike", {}).get("aws:PrincipalArn", [])
        values.update([arns] if isinstance(arns, str) else arns)
    return {v.split(":")[4] if v.endswith(":root") else v for v in values} - {"*"}


def decisions(aws: Aws, finding_id: str) -> list[tuple[str, str, str]]:
    return sorted(
        (i["record_type"]["S"], i["decision"]["S"], i["reason"]["S"])
        for i in aws.audit_items()
        if i["finding_id"]["S"] == finding_id
    )


def hook(name: str, action: Any) -> None:
    """Register a botocore hook on the default session, which the next handler's clients are made from."""
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register(name, action)


def client_error(code: str, operation: str, status: int = 400) -> ClientError:
    metadata: Any = {"HTTPStatusCode": status}  # a partial ResponseMetadata, as a test needs
    return ClientError({"Error": {"Code": code, "Message": "injected"}, "ResponseMetadata": metadata}, operation)


@contextlib.contextmanager
def read_lag(aws: Aws, seconds: float) -> Iterator[None]:
    aws.moto.set_iam_read_lag(seconds, probability=1.0, seed=1)
    try:
        yield
    finally:
        aws.moto.set_iam_read_lag(0)


def plan(capsys: pytest.CaptureFixture[str], tmp_path: Path, event: dict[str, Any], policy: Any, *flags: str) -> Any:
    event_file, policy_file = tmp_path / "event.json", tmp_path / "policy.json"
    event_file.write_text(json.dumps(event))
    policy_file.write_text(json.dumps(policy))
    code = main(["plan", "--event", str(event_file), "--policy", str(policy_file), "--json", *flags])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 else None), captured.err


def sample_event(resource: str, principal: dict[str, str], action: str = ASSUME) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "iam_role_active.json").read_text())
    event["detail"].update({"resource": resource, "principal": principal, "action": [action]})
    return event


# ==================================================================================================== 1
def test_1_a_stale_read_after_another_workers_write_does_not_drop_its_deny(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws.create_role("Lagged", trust_policy({"AWS": EXTERNAL}, {"AWS": OTHER}))
    findings = {f["principal"]["AWS"]: f for f in aws.analyze()}
    values = env(aws, AAR_REQUIRE_CONFIRMED_SUBSCRIPTION="false")
    worker_a = load_handler(monkeypatch, values, aws)
    worker_b = load_handler(monkeypatch, values, aws)
    with read_lag(aws, 3.0):
        assert worker_a.lambda_handler(sqs_event(event_of(aws, findings[EXTERNAL])), CONTEXT)["batchItemFailures"] == []
        # Worker B's GetRole now answers the document from before A's write, for three seconds.
        assert worker_b.lambda_handler(sqs_event(event_of(aws, findings[OTHER])), CONTEXT)["batchItemFailures"] == []
    assert {EXTERNAL, OTHER} <= denied(aws.policy("Lagged"))
    assert aws.analyze() == []


def test_1_a_revert_soon_after_a_remediation_keeps_the_newer_deny(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    aws.create_role("Reverted", trust_policy({"AWS": EXTERNAL}, {"AWS": OTHER}))
    findings = {f["principal"]["AWS"]: f for f in aws.analyze()}
    values = env(aws, AAR_REQUIRE_CONFIRMED_SUBSCRIPTION="false")
    worker = load_handler(monkeypatch, values, aws)
    assert worker.lambda_handler(sqs_event(event_of(aws, findings[EXTERNAL])), CONTEXT)["batchItemFailures"] == []
    with read_lag(aws, 3.0):
        assert worker.lambda_handler(sqs_event(event_of(aws, findings[OTHER])), CONTEXT)["batchItemFailures"] == []
        # The operator reverts the first finding at once: the CLI's GetRole lacks the second Deny.
        assert main(["revert", "--finding-id", findings[EXTERNAL]["id"]]) == 0
    after = denied(aws.policy("Reverted"))
    assert OTHER in after and EXTERNAL not in after


# ==================================================================================================== 2
def test_2_a_notice_lost_to_sns_goes_out_as_remediated_after_the_finding_resolved(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws.create_role("Announced", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    missing_topic = aws.topic_arn.replace("aar-topic", "no-such-topic")
    down = load_handler(
        monkeypatch, env(aws, AAR_TOPIC_ARN=missing_topic, AAR_REQUIRE_CONFIRMED_SUBSCRIPTION="false"), aws
    )
    assert down.lambda_handler(sqs_event(event_of(aws, finding)), CONTEXT)["batchItemFailures"] != []
    assert aws.analyze() == []  # the Deny resolved the finding before SQS redelivers
    up = load_handler(monkeypatch, env(aws, AAR_REQUIRE_CONFIRMED_SUBSCRIPTION="false"), aws)
    assert up.lambda_handler(sqs_event(event_of(aws, finding), receives=2), CONTEXT)["batchItemFailures"] == []
    [email] = aws.emails()
    assert (
        "[REMEDIATED]" in email["Message"] and f"aa-remediate revert --finding-id {finding['id']}" in email["Message"]
    )


def test_2_a_permanent_sns_outage_keeps_every_notice_for_the_sweep(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """SNS fails on every receive of the record (max_receive_count, 5 by default): the Deny stays, the first
    receive hands the record back, the later ones (the finding RESOLVED by then) try the waiting notice again and
    leave it in the outbox; the next sweep, SNS back, sends it as REMEDIATED with its undo."""
    original = trust_policy({"AWS": EXTERNAL})
    aws.create_role("Unheard", original)
    [finding] = aws.analyze()
    missing_topic = aws.topic_arn.replace("aar-topic", "no-such-topic")
    down = load_handler(
        monkeypatch, env(aws, AAR_TOPIC_ARN=missing_topic, AAR_REQUIRE_CONFIRMED_SUBSCRIPTION="false"), aws
    )
    handed_back = []
    for receive in range(1, 6):
        response = down.lambda_handler(sqs_event(event_of(aws, finding), receives=receive), CONTEXT)
        handed_back.append(response["batchItemFailures"] != [])
        aws.analyze()  # the analyzer sees the Deny: the finding is RESOLVED from the second receive on
    assert handed_back[0] and aws.emails() == [] and aws.policy("Unheard") != original  # contained, nobody told yet
    queue_url = aws.client("sqs").create_queue(QueueName="aar-findings")["QueueUrl"]
    up = load_handler(monkeypatch, env(aws, AAR_QUEUE_URL=queue_url, AAR_REQUIRE_CONFIRMED_SUBSCRIPTION="false"), aws)
    up.lambda_handler({"aar_action": "sweep"}, CONTEXT)
    [email] = aws.emails()
    assert "[REMEDIATED]" in email["Message"], email["Message"]
    assert f"aa-remediate revert --finding-id {finding['id']}" in email["Message"]


def test_2_a_deny_written_before_its_audit_failed_is_recorded_and_announced(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws.create_role("Unaudited", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    values = env(aws, AAR_REQUIRE_CONFIRMED_SUBSCRIPTION="false", AWS_MAX_ATTEMPTS="1")
    broken = load_handler(monkeypatch, values, aws)

    def refuse(**_: Any) -> None:
        raise client_error("InternalServerError", "BatchWriteItem", 500)

    hook("before-call.dynamodb.BatchWriteItem", refuse)
    assert broken.lambda_handler(sqs_event(event_of(aws, finding)), CONTEXT)["batchItemFailures"] != []
    assert EXTERNAL in denied(aws.policy("Unaudited"))  # the Deny is in place, its record is not
    assert aws.analyze() == []
    fixed = load_handler(monkeypatch, values, aws)
    assert fixed.lambda_handler(sqs_event(event_of(aws, finding), receives=2), CONTEXT)["batchItemFailures"] == []
    assert ("DECISION", "remediate", "external_access_denied") in decisions(aws, finding["id"])
    [email] = aws.emails()
    assert (
        "[REMEDIATED]" in email["Message"] and f"aa-remediate revert --finding-id {finding['id']}" in email["Message"]
    )


def test_2_an_invocation_stopped_between_write_and_audit_is_completed_by_the_next(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws.create_role("Stopped", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    values = env(aws, AAR_REQUIRE_CONFIRMED_SUBSCRIPTION="false", AAR_LOCK_LEASE_SECONDS="5")
    dying = load_handler(monkeypatch, values, aws)

    def stop(**_: Any) -> None:
        raise LambdaTimeout

    hook("after-call.iam.UpdateAssumeRolePolicy", stop)
    with pytest.raises(LambdaTimeout):
        dying.lambda_handler(sqs_event(event_of(aws, finding)), CONTEXT)
    assert EXTERNAL in denied(aws.policy("Stopped")) and aws.analyze() == []
    time.sleep(5.2)  # the dead invocation's lease runs out
    next_one = load_handler(monkeypatch, values, aws)
    assert next_one.lambda_handler(sqs_event(event_of(aws, finding), receives=2), CONTEXT)["batchItemFailures"] == []
    assert ("DECISION", "remediate", "external_access_denied") in decisions(aws, finding["id"])
    [email] = aws.emails()
    assert (
        "[REMEDIATED]" in email["Message"] and f"aa-remediate revert --finding-id {finding['id']}" in email["Message"]
    )


def test_2_no_write_starts_without_the_time_to_record_and_announce_it(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = trust_policy({"AWS": EXTERNAL})
    aws.create_role("Late", original)
    [finding] = aws.analyze()
    handler = load_handler(monkeypatch, env(aws, AAR_REQUIRE_CONFIRMED_SUBSCRIPTION="false"), aws)
    late = SimpleNamespace(**vars(CONTEXT), get_remaining_time_in_millis=lambda: 2500)
    assert handler.lambda_handler(sqs_event(event_of(aws, finding)), late)["batchItemFailures"] == [
        {"itemIdentifier": "m0"}
    ]
    assert aws.policy("Late") == original


# ==================================================================================================== 3
def test_3_a_decoy_deny_is_not_containment(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    alice = f"arn:aws:iam::{EXTERNAL}:user/Alice"
    policy = trust_policy({"AWS": alice})
    policy["Statement"].append(
        {
            "Sid": "AccessAnalyzerDenyPrincipal0BADF00D",
            "Effect": "Deny",
            "Principal": {"AWS": "123412341234"},
            "Action": ASSUME,
            "Condition": {"ArnLike": {"aws:PrincipalArn": alice}},
        }
    )
    aws.create_role("Decoyed", policy)
    [finding] = aws.analyze()
    handler = load_handler(monkeypatch, env(aws, AAR_REQUIRE_CONFIRMED_SUBSCRIPTION="false"), aws)
    assert handler.lambda_handler(sqs_event(event_of(aws, finding)), CONTEXT)["batchItemFailures"] == []
    assert ("DECISION", "remediate", "external_access_denied") in decisions(aws, finding["id"])
    assert aws.policy("Decoyed")["Statement"][:2] == policy["Statement"]  # the decoy stays as it was
    assert aws.analyze() == []


def test_3_our_sid_planted_on_an_allow_does_not_block_containment(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    planted = "AccessAnalyzerDenyAccount" + hashlib.sha256(ASSUME.encode()).hexdigest()[:8].upper()
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": planted, **trust_policy({"AWS": EXTERNAL})["Statement"][0]}],
    }
    aws.create_role("Planted", policy)
    [finding] = aws.analyze()
    handler = load_handler(monkeypatch, env(aws, AAR_REQUIRE_CONFIRMED_SUBSCRIPTION="false"), aws)
    assert handler.lambda_handler(sqs_event(event_of(aws, finding)), CONTEXT)["batchItemFailures"] == []
    assert aws.policy("Planted")["Statement"][0] == policy["Statement"][0]
    assert aws.analyze() == []


# ==================================================================================================== 4
ROLE = "arn:aws:iam::111122223333:role/Audit_CrossAccountRole"


def test_4_the_trusted_organization_is_excluded_inside_an_account_deny(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, result, _ = plan(
        capsys,
        tmp_path,
        sample_event(ROLE, {"AWS": OTHER}),
        trust_policy({"AWS": OTHER}),
        "--trusted-org-id",
        "o-abcdefghij",
    )
    assert code == 0 and result["decision"] == "remediate"
    [deny] = result["statements_added"]
    assert deny["Condition"]["StringNotEqualsIfExists"] == {"aws:PrincipalOrgID": "o-abcdefghij"}


def test_4_an_allowlisted_role_is_not_caught_by_its_accounts_deny(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    allowed = f"arn:aws:iam::{OTHER}:role/ci-deployer"
    code, result, _ = plan(
        capsys,
        tmp_path,
        sample_event(ROLE, {"AWS": OTHER}),
        trust_policy({"AWS": OTHER}),
        "--allowed-principal",
        allowed,
    )
    assert code == 0
    [deny] = result["statements_added"]
    assert deny["Condition"]["ArnNotLike"] == {"aws:PrincipalArn": [allowed]}


def test_4_an_allowlisted_account_is_inside_the_public_perimeter(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, result, _ = plan(
        capsys, tmp_path, sample_event(ROLE, {"AWS": "*"}), trust_policy({"AWS": "*"}), "--allowed-principal", OTHER
    )
    assert code == 0
    [deny] = result["statements_added"]
    assert OTHER in deny["Condition"]["StringNotEqualsIfExists"]["aws:PrincipalAccount"]


def test_4_a_session_of_an_allowlisted_role_is_not_denied(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    session = f"arn:aws:sts::{OTHER}:assumed-role/Deployer/build-42"
    code, result, _ = plan(
        capsys,
        tmp_path,
        sample_event(ROLE, {"AWS": session}),
        trust_policy({"AWS": session}),
        "--allowed-principal",
        f"arn:aws:iam::{OTHER}:role/Deployer",
    )
    assert code == 0 and (result["decision"], result["reason"]) == ("notify", "allowlisted_principal")


# ==================================================================================================== 5
@pytest.mark.parametrize(
    ("resource", "reason"),
    [
        ("arn:aws:iam::111122223333:role/aws-controltower-AuditReadOnlyRole", "protected_role"),
        ("arn:aws:iam::111122223333:role/AWSAFTExecution", "protected_role"),
        ("arn:aws:iam::111122223333:role/service-role/AWSCloudFormationStackSetAdministrationRole", "protected_role"),
        (
            "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef",
            "reserved_role",
        ),
    ],
)
def test_5_organization_roles_are_classified_before_any_write(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, resource: str, reason: str
) -> None:
    code, result, _ = plan(capsys, tmp_path, sample_event(resource, {"AWS": EXTERNAL}), trust_policy({"AWS": EXTERNAL}))
    assert code == 0 and (result["decision"], result["reason"]) == ("notify", reason)
    assert result["statements_added"] == []


def test_5_a_protected_role_is_a_loud_not_contained_notice(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    aws.create_role("aws-controltower-AdministratorExecutionRole", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    handler = load_handler(monkeypatch, env(aws, AAR_REQUIRE_CONFIRMED_SUBSCRIPTION="false"), aws)
    assert handler.lambda_handler(sqs_event(event_of(aws, finding)), CONTEXT)["batchItemFailures"] == []
    [email] = aws.emails()
    assert "NOT CONTAINED" in email["Subject"] and "[NOT CONTAINED]" in email["Message"]


# ==================================================================================================== 6
def test_6_the_sweep_enqueues_and_changes_nothing_itself(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    originals = {}
    for n in range(3):
        originals[f"Old{n}"] = trust_policy({"AWS": EXTERNAL})
        aws.create_role(f"Old{n}", originals[f"Old{n}"])
    found = aws.analyze()
    queue_url = aws.client("sqs").create_queue(QueueName="aar-findings")["QueueUrl"]
    handler = load_handler(
        monkeypatch, env(aws, AAR_QUEUE_URL=queue_url, AAR_REQUIRE_CONFIRMED_SUBSCRIPTION="false"), aws
    )
    handler.lambda_handler({"aar_action": "sweep"}, CONTEXT)
    assert {name: aws.policy(name) for name in originals} == originals
    messages = aws.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(json.loads(m["Body"])["finding_id"] for m in messages) == sorted(f["id"] for f in found)


def test_6_a_sweep_that_cannot_list_fails_loudly(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    aws.create_role("Unlisted", trust_policy({"AWS": EXTERNAL}))
    aws.analyze()
    queue_url = aws.client("sqs").create_queue(QueueName="aar-findings")["QueueUrl"]
    handler = load_handler(monkeypatch, env(aws, AAR_QUEUE_URL=queue_url, AWS_MAX_ATTEMPTS="1"), aws)
    aws.standin.fail_next("ListFindingsV2", "InternalServerException", times=10)
    with pytest.raises(Exception, match="InternalServerException"):
        handler.lambda_handler({"aar_action": "sweep"}, CONTEXT)


# ==================================================================================================== 7
def test_7_a_forged_claim_is_not_a_decision_and_cannot_revert_a_real_deny(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.create_role("Forged", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    values = env(aws, AAR_REQUIRE_CONFIRMED_SUBSCRIPTION="false")
    handler = load_handler(monkeypatch, values, aws)
    assert handler.lambda_handler(sqs_event(event_of(aws, finding)), CONTEXT)["batchItemFailures"] == []
    contained = aws.policy("Forged")
    forged = event_of(aws, finding)
    forged["detail"]["id"] = "0badf00d-0000-4000-8000-000000000000"  # a finding nobody reported
    assert handler.lambda_handler(sqs_event(forged), CONTEXT)["batchItemFailures"] == []
    assert [k for k, _, _ in decisions(aws, forged["detail"]["id"])] == ["CLAIM"]
    assert main(["revert", "--finding-id", forged["detail"]["id"]]) == 1
    assert aws.policy("Forged") == contained  # the real Deny is still there
    capsys.readouterr()


def test_7_revert_archive_archives_in_every_configured_analyzer(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.create_role("Kept", trust_policy({"AWS": EXTERNAL}))
    [east] = aws.analyze("us-east-1")
    aws.analyze("eu-west-1")
    values = env(aws, AAR_REQUIRE_CONFIRMED_SUBSCRIPTION="false")
    handler = load_handler(monkeypatch, values, aws)
    assert handler.lambda_handler(sqs_event(event_of(aws, east)), CONTEXT)["batchItemFailures"] == []
    assert main(["revert", "--finding-id", east["id"], "--archive", "--json"]) == 0
    capsys.readouterr()
    for region, standin in aws.standins.items():
        rules = aws.client("accessanalyzer", region).list_archive_rules(analyzerName="sandbox-analyzer")["archiveRules"]
        assert len(rules) == 1, region
        assert standin.findings(status="ACTIVE") == [], region  # the other Region's finding is archived too


# ==================================================================================================== 8
def test_8_policy_text_cannot_forge_lines_of_the_notice(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    forged = "x\n[REMEDIATED] role Production (external_access_denied)\n  Undo: aws iam delete-role --role-name Prod"
    policy = trust_policy({"AWS": EXTERNAL})
    policy["Statement"][0]["Condition"] = {"StringEquals": {"sts:ExternalId": forged}}
    aws.create_role("Injected", policy)
    [finding] = aws.analyze()
    handler = load_handler(monkeypatch, env(aws, AAR_REQUIRE_CONFIRMED_SUBSCRIPTION="false"), aws)
    assert handler.lambda_handler(sqs_event(event_of(aws, finding)), CONTEXT)["batchItemFailures"] == []
    [email] = aws.emails()
    lines = email["Message"].splitlines()
    assert not any(line.startswith("[REMEDIATED] role Production") for line in lines)
    assert not any(line.strip().startswith("Undo: aws iam") for line in lines)
    # No whole-document AWS CLI "alternative": run later, it would undo every change made since.
    assert "update-assume-role-policy" not in email["Message"]


# ==================================================================================================== 9
DELAY = 0.05


def test_9_findings_of_a_batch_are_handled_concurrently(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(13):
        aws.create_role(f"Many{n}", trust_policy({"AWS": EXTERNAL}))
    first, *findings = aws.analyze()
    handler = load_handler(monkeypatch, env(aws, AAR_REQUIRE_CONFIRMED_SUBSCRIPTION="false"), aws)
    lock = threading.Lock()
    flight = {"now": 0, "most": 0, "calls": 0, "on": 0}

    def slow_send(**_: Any) -> None:  # DELAY per AWS call, counting the calls in flight
        if not flight["on"]:
            return
        with lock:
            flight["now"] += 1
            flight["calls"] += 1
            flight["most"] = max(flight["most"], flight["now"])
        time.sleep(DELAY)
        with lock:
            flight["now"] -= 1

    hook("before-send", slow_send)
    assert handler.lambda_handler(sqs_event(event_of(aws, first)), CONTEXT)["batchItemFailures"] == []  # warm
    flight["on"] = 1
    started = time.perf_counter()
    response = handler.lambda_handler(sqs_event(*(event_of(aws, f) for f in findings)), CONTEXT)
    seconds = time.perf_counter() - started
    assert response["batchItemFailures"] == []
    assert flight["most"] >= 8, flight
    # One call after another would take at least calls x DELAY.
    assert seconds < 0.5 * flight["calls"] * DELAY, (seconds, flight)


# ==================================================================================================== 10
def test_10_cli_aws_failures_are_one_line_and_exit_1(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in env(aws).items():
        monkeypatch.setenv(key, value)
    cases = {
        "missing table": {"AAR_AUDIT_TABLE_NAME": "no-such-table"},
        "unreachable endpoint": {
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
            "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9",
        },
        "no region": {"AWS_DEFAULT_REGION": "", "AWS_REGION": ""},
        "no credentials": {
            "AWS_ACCESS_KEY_ID": "",
            "AWS_SECRET_ACCESS_KEY": "",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        },
    }
    for name, overrides in cases.items():
        with monkeypatch.context() as patch:
            for key, value in overrides.items():
                if value:
                    patch.setenv(key, value)
                else:
                    patch.delenv(key, raising=False)
            for argv in (["status", "--finding-id", "f-1"], ["revert", "--finding-id", "f-1"]):
                fresh_session(aws)  # a new process: no credentials resolved before
                code = main(argv)
                out, err = capsys.readouterr()
                assert code == 1, (name, argv, out, err)
                assert err.startswith("aa-remediate: error:") and err.count("\n") == 1, (name, argv, out, err)


def test_10_plan_refuses_what_is_not_a_trust_policy(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    event = json.loads((EVENTS / "iam_role_active.json").read_text())
    no_principal = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    bad_tags = {"Role": {"AssumeRolePolicyDocument": trust_policy({"AWS": EXTERNAL}), "Tags": [{"Key": "x"}, "junk"]}}
    for document in (no_principal, bad_tags):
        code, _, err = plan(capsys, tmp_path, event, document)
        assert code == 2 and err.startswith("aa-remediate: error:") and err.count("\n") == 1, err


def test_10_plan_warns_when_the_policy_does_not_grant_the_findings_principal(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    event = json.loads((EVENTS / "iam_role_active.json").read_text())
    code, _, err = plan(capsys, tmp_path, event, trust_policy({"AWS": "444455556666"}))
    assert code == 0 and "warning: the trust policy does not grant" in err


def test_10_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("aa-remediate ")


# ==================================================================================================== 11
def test_11_the_aws_blog_sample_event_with_a_space_in_the_arn_is_accepted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    event = sample_event("arn:aws:iam::111122223333:role/ Audit_CrossAccountRole", {"AWS": EXTERNAL})
    code, result, err = plan(capsys, tmp_path, event, trust_policy({"AWS": EXTERNAL}))
    assert code == 0, err
    assert result["decision"] == "remediate"


# ==================================================================================================== 12
def test_12_nothing_changes_until_someone_can_hear_about_it(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    original = trust_policy({"AWS": EXTERNAL})
    aws.create_role("Fresh", original)
    [finding] = aws.analyze()
    lonely = aws.client("sns").create_topic(Name="no-subscribers")["TopicArn"]
    handler = load_handler(monkeypatch, env(aws, AAR_TOPIC_ARN=lonely), aws)
    assert handler.lambda_handler(sqs_event(event_of(aws, finding)), CONTEXT)["batchItemFailures"] == []
    assert aws.policy("Fresh") == original
    assert ("DECISION", "notify", "no_confirmed_subscription") in decisions(aws, finding["id"])
    # Someone confirms: the next batch contains it, and its digest says what was held back before.
    queue_arn = aws.client("sqs").get_queue_attributes(QueueUrl=aws.mail_queue_url, AttributeNames=["QueueArn"])
    aws.client("sns").subscribe(TopicArn=lonely, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
    handler = load_handler(monkeypatch, env(aws, AAR_TOPIC_ARN=lonely), aws)
    assert handler.lambda_handler(sqs_event(event_of(aws, finding)), CONTEXT)["batchItemFailures"] == []
    assert EXTERNAL in denied(aws.policy("Fresh"))
    [email] = aws.emails()
    assert "Before a subscription to this topic was confirmed, 1 finding(s) were only reported" in email["Message"]
