"""The function's Powertools metrics (docs/architecture.md, "Metrics"): the `service` ones, and the same outcomes
once more per resource type (dimensions `service` and `resource_type`), one EMF document per type and invocation."""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from access_analyzer_remediation.findings import KMS_KEY, S3_BUCKET, FindingRef
from access_analyzer_remediation.outcomes import Outcome
from access_analyzer_remediation.policy import POLICY_VERSION

from .conftest import ANALYZER, EXTERNAL, SANDBOX_ACCOUNT, Aws, make_finding, trust_policy
from .test_handler import CONTEXT, _env, _finding_event, _load_handler, _sqs_event

SERVICE = "aar-test"
ROLE = "AWS::IAM::Role"


def _documents(out: str) -> list[dict[str, Any]]:
    """The EMF documents among what Powertools printed (its JSON log lines are on stdout too)."""
    documents = []
    for line in out.splitlines():
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict) and "_aws" in parsed:
            documents.append(parsed)
    return documents


def _dimensions(document: dict[str, Any]) -> list[list[str]]:
    [directive] = document["_aws"]["CloudWatchMetrics"]
    return [sorted(names) for names in directive["Dimensions"]]


def _per_type(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in documents if _dimensions(d) == [["resource_type", "service"]]]


def _sums(documents: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """resource_type -> metric -> sum, over the per-type documents."""
    sums: dict[str, dict[str, float]] = defaultdict(dict)
    for document in documents:
        [directive] = document["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]:
            assert metric["Unit"] == "Count"
            values = document[metric["Name"]]
            sums[document["resource_type"]][metric["Name"]] = sum(values if isinstance(values, list) else [values])
    return dict(sums)


def _total(documents: list[dict[str, Any]], name: str) -> float:
    return float(sum(value for document in documents for value in document.get(name, [])))


def test_a_batch_of_roles_and_a_bucket_is_counted_per_resource_type(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.create_role("Partner", trust_policy({"AWS": EXTERNAL}))
    aws.create_role("OrganizationAccountAccessRole", trust_policy({"AWS": EXTERNAL}))  # protected: NotContained
    role_findings = aws.analyze()
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="shared-data")
    allow = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{EXTERNAL}:root"},
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::shared-data/*",
    }
    s3.put_bucket_policy(Bucket="shared-data", Policy=json.dumps({"Version": POLICY_VERSION, "Statement": [allow]}))
    bucket = aws.standin.add_finding(
        resource="arn:aws:s3:::shared-data",
        resource_type=S3_BUCKET,
        principal={"AWS": EXTERNAL},
        action=["s3:GetObject"],
        resource_owner_account=SANDBOX_ACCOUNT,
        publish=False,
    )
    handler = _load_handler(monkeypatch, _env(aws, POWERTOOLS_SERVICE_NAME=SERVICE))
    event = _sqs_event(*(_finding_event(aws, f) for f in [*role_findings, bucket]), "not json")
    capsys.readouterr()

    assert handler.lambda_handler(event, CONTEXT) == {"batchItemFailures": []}

    documents = _documents(capsys.readouterr().out)
    per_type = _per_type(documents)
    assert len(per_type) == 2  # one document per resource type, not one per finding
    assert _sums(per_type) == {
        ROLE: {"Remediated": 1.0, "NotifiedOnly": 1.0, "NotContained": 1.0},
        S3_BUCKET: {"Remediated": 1.0},
    }
    for document in per_type:
        [directive] = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "AarTest" and document["service"] == SERVICE
    # The service-only metrics stay as they were: totals and `<Outcome>.<reason>`, dimension `service` alone.
    service_only = [d for d in documents if _dimensions(d) == [["service"]]]
    assert service_only and all(d["service"] == SERVICE and "resource_type" not in d for d in service_only)
    totals = {name: _total(service_only, name) for name in ("Remediated", "NotifiedOnly", "NotContained", "Malformed")}
    assert totals == {"Remediated": 2.0, "NotifiedOnly": 1.0, "NotContained": 1.0, "Malformed": 1.0}
    assert _total(service_only, "Remediated.external_access_denied") == 2.0


def _outcome(decision: str, reason: str, resource_type: str | None, verified: bool, index: int) -> Outcome:
    ref = FindingRef(ANALYZER, f"f-{index}")
    if resource_type is None:
        return Outcome(ref, decision, reason, "not read")
    finding = dataclasses.replace(make_finding(finding_id=f"f-{index}"), resource_type=resource_type)
    if not verified:  # an event's claim GetFinding did not confirm: never a dimension value
        return Outcome(FindingRef(ANALYZER, f"f-{index}", finding), decision, reason, "claim", finding)
    return Outcome(ref, decision, reason, "done", finding)


def _offline_handler(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    handler = _load_handler(
        monkeypatch,
        {
            "AAR_ANALYZER_ARNS": json.dumps([ANALYZER]),
            "AAR_AUDIT_TABLE_NAME": "aar-audit",
            "AAR_TOPIC_ARN": "arn:aws:sns:us-west-2:111122223333:aar-topic",
            "POWERTOOLS_METRICS_NAMESPACE": "AarTest",
            "POWERTOOLS_SERVICE_NAME": SERVICE,
        },
    )
    engine = SimpleNamespace(
        counters=SimpleNamespace(stale_reads=0, repaired=0),
        confirmer=SimpleNamespace(counters=SimpleNamespace(take=dict)),
        announce=lambda *_, **__: None,
    )
    monkeypatch.setattr(handler, "_remediator", engine)
    return handler


def test_a_thousand_outcomes_add_one_document_per_resource_type(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = _offline_handler(monkeypatch)
    kinds = [
        *[("remediate", "external_access_denied", ROLE, True)] * 500,
        *[("notify", "protected_role", ROLE, True)] * 100,  # NotifiedOnly and NotContained
        *[("notify", "notify_mode", S3_BUCKET, True)] * 200,  # held back: NotifiedOnly only
        *[("failed", "kms_error", KMS_KEY, True)] * 90,
        *[("failed", "get_finding_failed", None, True)] * 50,  # no finding: `unknown`
        *[("skip", "finding_not_found", "AWS::Forged::Type", False)] * 40,  # Skipped: per service only
        *[("skip", "finding_not_active", ROLE, True)] * 20,
    ]
    outcomes = [_outcome(*kind, index=i) for i, kind in enumerate(kinds)]
    assert len(outcomes) == 1000
    handler.metrics.clear_metrics()
    capsys.readouterr()

    retry = handler._finish(outcomes, SANDBOX_ACCOUNT, flush=False)
    handler.metrics.flush_metrics()  # what @log_metrics does at the end of the invocation
    documents = _documents(capsys.readouterr().out)

    assert sum(retry) == 140  # the failed ones go back to the queue
    per_type = _per_type(documents)
    assert len(per_type) == 4  # the only extra documents: one per resource type, not one per finding
    assert _sums(per_type) == {
        ROLE: {"Remediated": 500.0, "NotifiedOnly": 100.0, "NotContained": 100.0},
        S3_BUCKET: {"NotifiedOnly": 200.0},
        KMS_KEY: {"Failed": 90.0},
        "unknown": {"Failed": 50.0},
    }
    assert all(document["service"] == SERVICE for document in per_type)
    # The service-only metrics count every outcome as before, none of them with a resource_type.
    service_only = [d for d in documents if d not in per_type]
    assert all(_dimensions(d) == [["service"]] for d in service_only)
    totals = {
        name: _total(service_only, name) for name in ("Remediated", "NotifiedOnly", "NotContained", "Skipped", "Failed")
    }
    assert totals == {"Remediated": 500, "NotifiedOnly": 300, "NotContained": 100, "Skipped": 60, "Failed": 140}
