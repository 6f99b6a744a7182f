"""Shared builders for the unit tests: settings, findings and trust policies."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

from access_analyzer_remediation.clients import AwsClients, Credentials
from access_analyzer_remediation.engine import Remediator
from access_analyzer_remediation.findings import S3_BUCKET, Finding, finding_from_api
from access_analyzer_remediation.planner import RoleState
from access_analyzer_remediation.settings import Settings
from sandbox.access_analyzer import AccessAnalyzerStandIn
from sandbox.moto_server import MotoServer

EVENTS = Path(__file__).resolve().parents[1] / "events"
ANALYZER = "arn:aws:access-analyzer:us-west-2:111122223333:analyzer/MyAnalyzer"
OWNER = "111122223333"
EXTERNAL = "999988887777"
ROLE_ARN = f"arn:aws:iam::{OWNER}:role/Audit_CrossAccountRole"
TOPIC = f"arn:aws:sns:us-west-2:{OWNER}:aar-topic"


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def resource_finding(
    resource_type: str, resource: str, principal: dict[str, str], analyzer: str, owner: str, **extra: Any
) -> Finding:
    """A verified finding on a bucket or key as GetFinding returns it (S3: s3:GetObject, KMS: kms:Decrypt)."""
    data = {
        "id": "f-1",
        "resourceType": resource_type,
        "resource": resource,
        "status": "ACTIVE",
        "principal": principal,
        "action": extra.pop("action", ["s3:GetObject"] if resource_type == S3_BUCKET else ["kms:Decrypt"]),
        "condition": {},
        "isPublic": extra.pop("isPublic", False),
        "resourceOwnerAccount": owner,
        **extra,
    }
    return finding_from_api(data, analyzer)


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"analyzer_arns": (ANALYZER,), "audit_table_name": "aar-audit", "topic_arn": TOPIC}
    values.update(overrides)
    return Settings(**values)


def make_finding(
    principal: dict[str, str] | None = None,
    actions: tuple[str, ...] = ("sts:AssumeRole",),
    resource: str = ROLE_ARN,
    finding_id: str = "f-1",
    status: str = "ACTIVE",
) -> Finding:
    return Finding(
        id=finding_id,
        analyzer_arn=ANALYZER,
        resource_type="AWS::IAM::Role",
        resource_arn=resource,
        status=status,
        principal=principal or {"AWS": EXTERNAL},
        actions=actions,
        condition={},
        is_public=(principal or {}).get("AWS") == "*",
        resource_owner_account=resource.split(":")[4],
    )


def trust_policy(*principals: Mapping[str, Any], action: str = "sts:AssumeRole") -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": p, "Action": action} for p in principals],
    }


def role_state(policy: dict[str, Any], arn: str = ROLE_ARN, tags: dict[str, str] | None = None) -> RoleState:
    return RoleState(arn, "/", tags or {}, policy)


@pytest.fixture
def settings() -> Settings:
    return make_settings()


# -- AWS: a moto server and the Access Analyzer stand-in, both on 127.0.0.1 -------------------------------------


SANDBOX_ACCOUNT = "123456789012"
# The key policy statement KMS writes for a new key: the account administers its key through IAM.
KEY_ADMIN_STATEMENT = {
    "Sid": "Enable IAM User Permissions",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{SANDBOX_ACCOUNT}:root"},
    "Action": "kms:*",
    "Resource": "*",
}
FAST_RETRIES = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5, read_timeout=20)


@dataclass
class Aws:
    """One test's AWS: clients, a remediator wired to them, and helpers to arrange and inspect."""

    moto: MotoServer
    standins: dict[str, AccessAnalyzerStandIn]
    table: str
    topic_arn: str
    mail_queue_url: str
    calls: Counter[str] = field(default_factory=Counter)
    assumed: list[dict[str, Any]] = field(default_factory=list)  # the parameters of every AssumeRole call made
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def standin(self) -> AccessAnalyzerStandIn:
        return self.standins["us-east-1"]

    def client(self, service: str, region: str | None = None, credentials: Credentials | None = None) -> Any:
        endpoints = {"accessanalyzer": self.standins[region or "us-east-1"].endpoint_url}
        keys = (
            {
                "aws_access_key_id": credentials.access_key_id,
                "aws_secret_access_key": credentials.secret_access_key,
                "aws_session_token": credentials.session_token,
            }
            if credentials is not None
            else {}
        )
        client = self.moto.session(service_endpoints=endpoints, **keys).client(
            service, region_name=region or "us-east-1", config=FAST_RETRIES
        )
        client.meta.events.register("before-call", self._count)
        return client

    def _count(self, model: Any, params: Any = None, **_: Any) -> None:
        with self._lock:
            self.calls[model.name] += 1
            if model.name == "AssumeRole":
                self.assumed.append(dict(params.get("body", {})) if isinstance(params, dict) else {})

    def clients(self) -> AwsClients:
        return AwsClients(factory=self.client, credentialed=self.client)

    def member_client(self, account: str, service: str, region: str | None = None) -> Any:
        """A client acting in another account (moto: an assumed role's credentials act in the role's account)."""
        given = self.moto.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/test-setup", RoleSessionName="test-setup"
        )["Credentials"]
        credentials = Credentials(given["AccessKeyId"], given["SecretAccessKey"], given["SessionToken"])
        return self.client(service, region, credentials)

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "analyzer_arns": tuple(s.analyzer_arn for s in self.standins.values()),
            "audit_table_name": self.table,
            "topic_arn": self.topic_arn,
        }
        values.update(overrides)
        return Settings(**values)

    def remediator(self, **overrides: Any) -> Remediator:
        return Remediator(self.settings(**overrides), self.clients(), lock_wait_seconds=10)

    def create_role(
        self, name: str, policy: dict[str, Any], path: str = "/", tags: dict[str, str] | None = None
    ) -> str:
        iam = self.client("iam")
        response = iam.create_role(
            RoleName=name,
            Path=path,
            AssumeRolePolicyDocument=json.dumps(policy),
            Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
        )
        return str(response["Role"]["Arn"])

    def policy(self, name: str) -> dict[str, Any]:
        return dict(self.client("iam").get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"])

    def analyze(self, region: str = "us-east-1") -> list[dict[str, Any]]:
        """Let the stand-in analyse every role; return the ACTIVE findings."""
        self.standins[region].analyze_roles(self.client("iam"))
        return self.standins[region].findings(status="ACTIVE")

    def emails(self) -> list[dict[str, str]]:
        sqs = self.client("sqs")
        messages: list[dict[str, str]] = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.mail_queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return messages
            for message in batch:
                body = json.loads(message["Body"])
                messages.append({"Subject": body.get("Subject", ""), "Message": body["Message"]})
                sqs.delete_message(QueueUrl=self.mail_queue_url, ReceiptHandle=message["ReceiptHandle"])

    def audit_items(self) -> list[dict[str, Any]]:
        items = self.client("dynamodb").scan(TableName=self.table)["Items"]
        return [item for item in items if item["pk"]["S"].startswith("FINDING#")]


@pytest.fixture(scope="package")  # stopped before other packages run: no stray stand-in threads
def moto_server() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture(scope="package")  # stopped before other packages run: no stray stand-in threads
def standins() -> Iterator[dict[str, AccessAnalyzerStandIn]]:
    east = AccessAnalyzerStandIn(region="us-east-1").start()
    west = AccessAnalyzerStandIn(region="eu-west-1").start()
    try:
        yield {"us-east-1": east, "eu-west-1": west}
    finally:
        east.stop()
        west.stop()


def make_aws(moto: MotoServer, standins: Mapping[str, AccessAnalyzerStandIn], table: str = "aar-audit") -> Aws:
    """Reset moto and the stand-ins; create the audit table, the topic and a mailbox queue subscribed to it."""
    moto.reset()
    for standin in standins.values():
        standin.reset()
    session = moto.session()
    session.client("dynamodb").create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    sns, sqs = session.client("sns"), session.client("sqs")
    topic_arn = sns.create_topic(Name="aar-topic")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="mail")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return Aws(moto, dict(standins), table, topic_arn, queue_url)


@pytest.fixture
def aws(moto_server: MotoServer, standins: dict[str, AccessAnalyzerStandIn]) -> Aws:
    return make_aws(moto_server, standins)


def deployment_env(aws: Aws, **extra: str) -> dict[str, str]:
    """The deployment's environment pointed at the sandbox (one analyzer, its table and topic), plus `extra`."""
    env = aws.moto.env({"accessanalyzer": aws.standin.endpoint_url})
    env.update(
        {
            "AAR_ANALYZER_ARNS": json.dumps([aws.standin.analyzer_arn]),
            "AAR_AUDIT_TABLE_NAME": aws.table,
            "AAR_TOPIC_ARN": aws.topic_arn,
            **extra,
        }
    )
    return env


@pytest.fixture
def cli_env(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Aws:
    """`aa-remediate` pointed at the sandbox: the deployment's environment (cli_environment), one analyzer."""
    for key, value in deployment_env(aws, AWS_MAX_ATTEMPTS="1").items():
        monkeypatch.setenv(key, value)
    return aws
