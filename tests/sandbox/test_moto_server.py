"""The moto server helper: lifecycle, reset, IAM authorization switch, session factory."""

from __future__ import annotations

import json
import socket
import threading

import pytest
from botocore.exceptions import ClientError

from sandbox.moto_server import MotoServer, SandboxSession

from .conftest import ACCOUNT


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_process_mode_serves_then_leaves_no_process_or_port() -> None:
    server = MotoServer(mode="process").start()
    process = server._process
    port = server.port
    assert server.endpoint_url == f"http://127.0.0.1:{port}"
    assert server.client("sts").get_caller_identity()["Account"] == ACCOUNT
    server.stop()
    assert process is not None and process.returncode is not None
    assert not _port_open(port)
    assert not server.running
    server.stop()  # idempotent


def test_thread_mode_serves_then_leaves_no_thread_or_port() -> None:
    before = set(threading.enumerate())
    with MotoServer(mode="thread") as server:
        port = server.port
        assert server.client("iam").list_roles()["Roles"] == []
    assert not _port_open(port)
    assert set(threading.enumerate()) - before == set()


def test_only_loopback_hosts_are_accepted() -> None:
    with pytest.raises(ValueError, match="loopback"):
        MotoServer(host="0.0.0.0")


def test_reset_deletes_every_resource(moto: MotoServer) -> None:
    moto.client("sqs").create_queue(QueueName="q")
    moto.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")
    moto.reset()
    assert moto.client("sqs").list_queues().get("QueueUrls", []) == []
    assert moto.client("iam").list_roles()["Roles"] == []


def test_authorization_is_enforced_inside_the_block_only(moto: MotoServer) -> None:
    iam = moto.client("iam")
    iam.create_user(UserName="reader")
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"}]}
    iam.put_user_policy(UserName="reader", PolicyName="p", PolicyDocument=json.dumps(policy))
    reader = moto.session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])

    with moto.authorization():
        assert reader.client("iam").list_roles()["Roles"] == []
        with pytest.raises(ClientError) as denied:
            reader.client("iam").list_users()
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
        with pytest.raises(ClientError) as unknown:
            iam.list_roles()  # the dummy "testing" key does not exist in moto's IAM
        assert unknown.value.response["Error"]["Code"] == "InvalidClientTokenId"

    assert len(iam.list_users()["Users"]) == 1  # enforcement is off again


def test_set_auth_threshold_returns_the_previous_value(moto: MotoServer) -> None:
    assert moto.set_auth_threshold(5) == float("inf")
    assert moto.disable_auth() == 5.0


def test_session_sends_each_service_to_its_endpoint(moto: MotoServer) -> None:
    session = moto.session(service_endpoints={"accessanalyzer": "http://127.0.0.1:1"})
    assert isinstance(session, SandboxSession)
    assert session.client("iam").meta.endpoint_url == moto.endpoint_url
    assert session.client("accessanalyzer").meta.endpoint_url == "http://127.0.0.1:1"
    assert session.resource("dynamodb").meta.client.meta.endpoint_url == moto.endpoint_url
    assert session.client("iam", endpoint_url="http://127.0.0.1:2").meta.endpoint_url == "http://127.0.0.1:2"
    assert session.region_name == "us-east-1"


def test_env_points_botocore_at_the_sandbox(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    env = moto.env({"accessanalyzer": "http://127.0.0.1:1"})
    assert env["AWS_ENDPOINT_URL"] == moto.endpoint_url
    assert env["AWS_ENDPOINT_URL_ACCESSANALYZER"] == "http://127.0.0.1:1"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    import boto3

    assert boto3.session.Session().client("accessanalyzer").meta.endpoint_url == "http://127.0.0.1:1"
    assert boto3.session.Session().client("sqs").meta.endpoint_url == moto.endpoint_url


def test_a_transaction_is_authorized_per_action_as_aws_does(moto: MotoServer) -> None:
    """TransactWriteItems needs PutItem for its Puts and UpdateItem for its Updates (on their tables), as in IAM:
    moto alone asks for `dynamodb:TransactWriteItems` on "*", which no IAM policy of ours grants."""
    from sandbox.callers import callers

    dynamodb = moto.client("dynamodb")
    arn = dynamodb.create_table(
        TableName="audit",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )["TableDescription"]["TableArn"]
    iam = moto.client("iam")
    iam.create_user(UserName="writer")
    key = iam.create_access_key(UserName="writer")["AccessKey"]
    writer = moto.session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])

    def grant(*actions: str) -> None:
        statement = {"Effect": "Allow", "Action": list(actions), "Resource": arn}
        document = {"Version": "2012-10-17", "Statement": [statement]}
        iam.put_user_policy(UserName="writer", PolicyName="p", PolicyDocument=json.dumps(document))

    def transact(pk: str) -> None:
        writer.client("dynamodb").transact_write_items(
            TransactItems=[
                {"Update": {"TableName": "audit", "Key": {"pk": {"S": f"{pk}-guard"}}, "UpdateExpression": "SET s = :d",
                            "ExpressionAttributeValues": {":d": {"S": "done"}}}},
                {"Put": {"TableName": "audit", "Item": {"pk": {"S": pk}}}},
            ]
        )  # fmt: skip

    grant("dynamodb:UpdateItem")
    with moto.authorization():
        with pytest.raises(ClientError) as denied:
            transact("a")
        # moto answers a JSON service's refusal as an XML AccessDenied: botocore reads the status as the code.
        assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "Items" not in dynamodb.scan(TableName="audit") or dynamodb.scan(TableName="audit")["Items"] == []
    grant("dynamodb:UpdateItem", "dynamodb:PutItem")
    callers(moto.endpoint_url, clear=True)
    with moto.authorization():
        transact("b")
    logged = [(c["action"], c["resource"]) for c in callers(moto.endpoint_url) if c["action"].startswith("dynamodb:")]
    assert logged == [("dynamodb:UpdateItem", arn), ("dynamodb:PutItem", arn)]
    assert {item["pk"]["S"] for item in dynamodb.scan(TableName="audit")["Items"]} == {"b", "b-guard"}
