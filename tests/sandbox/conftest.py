"""Fixtures for the sandbox's own tests: one moto server per session, a fresh stand-in per test.

The moto server runs in a child process (`MotoServer` default), so these tests cannot disturb (or be disturbed
by) unit tests that use moto in-process. It is reset before every test that uses `moto`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from sandbox.access_analyzer import AccessAnalyzerStandIn
from sandbox.moto_server import MotoServer, SandboxSession

ACCOUNT = "123456789012"  # moto's default account
EXTERNAL = "999988887777"
FINDING_PATTERN = {"source": ["aws.access-analyzer"], "detail-type": ["Access Analyzer Finding"]}


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture
def moto(moto_server: MotoServer) -> MotoServer:
    moto_server.disable_auth()
    moto_server.reset()
    return moto_server


@pytest.fixture
def standin() -> Iterator[AccessAnalyzerStandIn]:
    with AccessAnalyzerStandIn(account_id=ACCOUNT) as analyzer:
        yield analyzer
        assert analyzer.internal_errors == [], "the stand-in produced an invalid response"


@pytest.fixture
def aws(moto: MotoServer, standin: AccessAnalyzerStandIn) -> SandboxSession:
    """Every client on moto, except accessanalyzer on the stand-in."""
    session = moto.session(service_endpoints={"accessanalyzer": standin.endpoint_url})
    standin.attach(iam_client=session.client("iam"), events_client=session.client("events"))
    return session


@pytest.fixture
def analyzer_client(aws: SandboxSession) -> Any:
    return aws.client("accessanalyzer")


@dataclass
class FindingQueue:
    """An SQS queue behind an EventBridge rule for Access Analyzer finding events, in moto."""

    sqs: Any
    url: str

    def drain(self) -> list[dict[str, Any]]:
        """Every event delivered so far (deleted from the queue), as parsed JSON."""
        events: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return events
            for message in messages:
                events.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def finding_queue(aws: SandboxSession) -> FindingQueue:
    sqs, events = aws.client("sqs"), aws.client("events")
    url = sqs.create_queue(QueueName="aa-findings")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="aa-findings", EventPattern=json.dumps(FINDING_PATTERN), State="ENABLED")
    events.put_targets(Rule="aa-findings", Targets=[{"Id": "queue", "Arn": arn}])
    return FindingQueue(sqs, url)


def trust(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(principal: Any, action: Any = "sts:AssumeRole", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": action, **extra}
