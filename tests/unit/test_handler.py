"""The Lambda entry point: SQS batches with partial failures, direct events, the sweep, cold-start settings."""

from __future__ import annotations

import importlib
import json
import sys
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from access_analyzer_remediation.settings import SettingsError
from sandbox.access_analyzer import build_finding_event

from .conftest import Aws, deployment_env, trust_policy

EXTERNAL = "999988887777"
CONTEXT = SimpleNamespace(
    function_name="aar",
    memory_limit_in_mb=256,
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:aar",
    aws_request_id="req-1",
)


def _env(aws: Aws, **overrides: str) -> dict[str, str]:
    # AAR_CONFIRM_CHANGES off: the confirmation after a write is tests/unit/test_confirmation.py's.
    defaults = {"POWERTOOLS_METRICS_NAMESPACE": "AarTest", "AAR_CONFIRM_CHANGES": "false"}
    return deployment_env(aws, **{**defaults, **overrides})


def _load_handler(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> ModuleType:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    sys.modules.pop("access_analyzer_remediation.handler", None)
    return importlib.import_module("access_analyzer_remediation.handler")


def _sqs_event(*bodies: Any, receives: int = 1) -> dict[str, Any]:
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
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:aar-findings",
                "awsRegion": "us-east-1",
            }
            for index, body in enumerate(bodies)
        ]
    }


def _finding_event(aws: Aws, finding: dict[str, Any], status: str | None = None) -> dict[str, Any]:
    event = build_finding_event(finding, aws.standin.analyzer_arn, "us-east-1", "123456789012")
    if status:
        event["detail"]["status"] = status
    return event


def test_sqs_batch_remediates_acknowledges_junk_and_sends_one_digest(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    aws.create_role("A", trust_policy({"AWS": EXTERNAL}))
    aws.create_role(
        "B", trust_policy({"Federated": "cognito-identity.amazonaws.com"}, action="sts:AssumeRoleWithWebIdentity")
    )
    first, second = aws.analyze()
    handler = _load_handler(monkeypatch, _env(aws))
    event = _sqs_event(
        _finding_event(aws, first),
        "not json",
        {"source": "aws.evil"},
        _finding_event(aws, first, "ARCHIVED"),
        _finding_event(aws, second),
    )
    response = handler.lambda_handler(event, CONTEXT)
    assert response == {"batchItemFailures": []}
    assert aws.analyze() == []
    [email] = aws.emails()
    assert email["Message"].count("[REMEDIATED]") == 2


def test_failed_publish_keeps_the_notice_and_the_redelivery_sends_it_as_remediated(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws.create_role("Mail", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    missing_topic = aws.topic_arn.replace("aar-topic", "no-such-topic")
    handler = _load_handler(
        monkeypatch, _env(aws, AAR_TOPIC_ARN=missing_topic, AAR_REQUIRE_CONFIRMED_SUBSCRIPTION="false")
    )
    assert handler.lambda_handler(_sqs_event(_finding_event(aws, finding)), CONTEXT) == {
        "batchItemFailures": [{"itemIdentifier": "m0"}]
    }
    [record] = aws.audit_items()
    assert record["decision"]["S"] == "remediate" and record["notified"]["BOOL"] is False
    assert aws.emails() == []
    handler = _load_handler(monkeypatch, _env(aws))  # SQS redelivers; SNS works again
    redelivery = _sqs_event(_finding_event(aws, finding), receives=2)
    assert handler.lambda_handler(redelivery, CONTEXT) == {"batchItemFailures": []}
    [email] = aws.emails()
    # The notice left behind goes out as what it was: REMEDIATED, with the undo command (not "already contained").
    assert "[REMEDIATED]" in email["Message"] and "[ALREADY CONTAINED]" not in email["Message"]
    assert f"aa-remediate revert --finding-id {finding['id']}" in email["Message"]
    decisions = {item["decision"]["S"]: item for item in aws.audit_items()}
    assert sorted(decisions) == ["remediate", "skip"] and decisions["remediate"]["notified"]["BOOL"] is True


def test_throttled_records_go_back_to_the_queue(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    aws.create_role("Slow", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    handler = _load_handler(monkeypatch, _env(aws, AWS_MAX_ATTEMPTS="1"))
    aws.standin.fail_next("GetFinding", "ThrottlingException", times=50)
    response = handler.lambda_handler(_sqs_event(_finding_event(aws, finding)), CONTEXT)
    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}


def test_direct_eventbridge_event_and_a_sweep_that_enqueues(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    aws.create_role("Direct", trust_policy({"AWS": EXTERNAL}))
    aws.create_role("Swept", trust_policy({"AWS": "222233334444"}))
    direct, swept = aws.analyze()
    sqs = aws.client("sqs")
    queue_url = sqs.create_queue(QueueName="aar-findings")["QueueUrl"]
    handler = _load_handler(monkeypatch, _env(aws, AAR_QUEUE_URL=queue_url))
    assert handler.lambda_handler(_finding_event(aws, direct), CONTEXT) == {"processed": 1, "failed": 0}
    assert [f["id"] for f in aws.analyze()] == [swept["id"]]  # the analyzer re-scans: only Swept is still ACTIVE
    # The sweep only puts references on the queue; the normal path (partial batches, DLQ) does the work.
    assert handler.lambda_handler({"aar_action": "sweep"}, CONTEXT) == {"enqueued": 1}
    assert [f["id"] for f in aws.analyze()] == [swept["id"]]  # enqueued, not yet handled
    [message] = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(message["Body"]) == {
        "aar_action": "verify",
        "analyzer_arn": aws.standin.analyzer_arn,
        "finding_id": swept["id"],
    }
    assert handler.lambda_handler(_sqs_event(message["Body"]), CONTEXT) == {"batchItemFailures": []}
    assert aws.analyze() == []
    assert swept["id"] in aws.emails()[-1]["Message"]


def test_sweep_without_a_queue_or_listing_fails_loudly(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    from access_analyzer_remediation.engine import SweepFailed

    handler = _load_handler(monkeypatch, _env(aws))
    with pytest.raises(SweepFailed, match="AAR_QUEUE_URL"):
        handler.lambda_handler({"aar_action": "sweep"}, CONTEXT)
    queue_url = aws.client("sqs").create_queue(QueueName="aar-findings")["QueueUrl"]
    handler = _load_handler(monkeypatch, _env(aws, AAR_QUEUE_URL=queue_url, AWS_MAX_ATTEMPTS="1"))
    aws.standin.fail_next("ListFindingsV2", "InternalServerException", times=5)
    with pytest.raises(SweepFailed, match="InternalServerException"):
        handler.lambda_handler({"aar_action": "sweep"}, CONTEXT)


def test_bad_setting_fails_the_cold_start_with_a_clear_message(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError, match="AAR_MODE"):
        _load_handler(monkeypatch, _env(aws, AAR_MODE="yolo"))
