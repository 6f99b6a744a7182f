"""Resources of the contained types beyond roles, buckets and keys, shared outside the zone of trust, for the
integration tests (test_resource_types.py drives each end to end; test_least_privilege.py has the function contain
one of each). Each builder returns the resource and its grants as the service reads them back before containment."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.deployment import allow, trust_policy
from tests.integration.targets import SandboxTarget


@dataclass
class Shared:
    """A resource shared outside the zone of trust, and how to read back what grants it."""

    arn: str
    name: str  # what the e-mail names it by
    read: Callable[[], Any]


# ================================================================================================ the resources
def queue(target: SandboxTarget, principals: list[str]) -> tuple[Shared, dict[str, Any]]:
    sqs = target.local.aws.admin.client("sqs")
    name = target.unique("aar-e2e-queue-")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    statements = [
        {"Sid": f"Partner{n}", "Effect": "Allow", "Principal": {"AWS": p}, "Action": "sqs:SendMessage", "Resource": arn}
        for n, p in enumerate(principals)
    ]
    original = {"Version": "2012-10-17", "Statement": statements}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(original)})

    def read() -> Any:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get("Attributes", {})
        return json.loads(attributes["Policy"]) if "Policy" in attributes else None

    return Shared(arn, name, read), original


def topic(target: SandboxTarget, principal: str) -> tuple[Shared, dict[str, Any]]:
    sns = target.local.aws.admin.client("sns")
    name = target.unique("aar-e2e-topic-")
    arn = sns.create_topic(Name=name)["TopicArn"]
    original = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Partner",
                "Effect": "Allow",
                "Principal": {"AWS": principal},
                "Action": ["sns:Subscribe", "sns:Publish"],
                "Resource": arn,
            }
        ],
    }
    sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(original))

    def read() -> Any:
        return json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])

    return Shared(arn, name, read), original


def secret(target: SandboxTarget, principal: str) -> tuple[Shared, dict[str, Any]]:
    secrets = target.local.aws.admin.client("secretsmanager")
    name = target.unique("aar-e2e-secret-")
    arn = secrets.create_secret(Name=name, SecretString="s3cr3t")["ARN"]
    original = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Partner",
                "Effect": "Allow",
                "Principal": {"AWS": principal},
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
            }
        ],
    }
    secrets.put_resource_policy(SecretId=arn, ResourcePolicy=json.dumps(original))

    def read() -> Any:
        text = secrets.get_resource_policy(SecretId=arn).get("ResourcePolicy")
        return json.loads(text) if text else None

    return Shared(arn, name, read), original


def zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def function(target: SandboxTarget, principal: str) -> tuple[Shared, dict[str, Any]]:
    admin = target.local.aws.admin
    name = target.unique("aar-e2e-fn-")
    role = target.create_role(f"{name}-role", trust_policy(allow({"Service": "lambda.amazonaws.com"})))
    function = admin.client("lambda").create_function(
        FunctionName=name, Runtime="python3.13", Role=role, Handler="index.handler", Code={"ZipFile": zip_archive()}
    )
    admin.client("lambda").add_permission(
        FunctionName=name, StatementId="Partner", Action="lambda:InvokeFunction", Principal=principal
    )

    def read() -> Any:
        lam = admin.client("lambda")
        try:
            return json.loads(lam.get_policy(FunctionName=name)["Policy"])
        except lam.exceptions.ResourceNotFoundException:
            return None

    return Shared(function["FunctionArn"], name, read), read()


def snapshot(target: SandboxTarget, *, user_ids: list[str], groups: list[str]) -> tuple[Shared, Any]:
    ec2 = target.local.aws.admin.client("ec2")
    volume = ec2.create_volume(AvailabilityZone=f"{target.local.aws.region}a", Size=1)["VolumeId"]
    snapshot = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    permission = {"Attribute": "createVolumePermission", "OperationType": "add"}
    ec2.modify_snapshot_attribute(SnapshotId=snapshot, **permission, UserIds=user_ids, GroupNames=groups)

    def read() -> Any:
        response = ec2.describe_snapshot_attribute(SnapshotId=snapshot, Attribute="createVolumePermission")
        return sorted(json.dumps(p, sort_keys=True) for p in response["CreateVolumePermissions"])

    return Shared(f"arn:aws:ec2:{target.local.aws.region}::snapshot/{snapshot}", snapshot, read), read()


def repository(target: SandboxTarget, principal: str) -> tuple[Shared, dict[str, Any]]:
    ecr = target.local.aws.admin.client("ecr")
    name = target.unique("aar-e2e-repo-")
    arn = ecr.create_repository(repositoryName=name)["repository"]["repositoryArn"]
    grant = {"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": principal}, "Action": "ecr:BatchGetImage"}
    original = {"Version": "2012-10-17", "Statement": [grant]}
    ecr.set_repository_policy(repositoryName=name, policyText=json.dumps(original))

    def read() -> Any:
        try:
            return json.loads(ecr.get_repository_policy(repositoryName=name)["policyText"])
        except ecr.exceptions.RepositoryPolicyNotFoundException:
            return None

    return Shared(arn, name, read), original


def table(target: SandboxTarget, principal: str) -> tuple[Shared, dict[str, Any]]:
    dynamodb = target.local.aws.admin.client("dynamodb")
    name = target.unique("aar-e2e-table-")
    arn = dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )["TableDescription"]["TableArn"]
    grant = {
        "Sid": "Partner",
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": "dynamodb:GetItem",
        "Resource": arn,
    }
    original = {"Version": "2012-10-17", "Statement": [grant]}
    dynamodb.put_resource_policy(ResourceArn=arn, Policy=json.dumps(original))

    def read() -> Any:
        try:
            return json.loads(dynamodb.get_resource_policy(ResourceArn=arn)["Policy"])
        except dynamodb.exceptions.PolicyNotFoundException:
            return None

    return Shared(arn, name, read), original


def layer_version(target: SandboxTarget, principal: str) -> tuple[Shared, dict[str, Any]]:
    lam = target.local.aws.admin.client("lambda")
    name = target.unique("aar-e2e-layer-")
    version = lam.publish_layer_version(LayerName=name, Content={"ZipFile": zip_archive()})
    number = int(version["Version"])
    lam.add_layer_version_permission(
        LayerName=name,
        VersionNumber=number,
        StatementId="Partner",
        Action="lambda:GetLayerVersion",
        Principal=principal,
    )

    def read() -> Any:
        try:
            return json.loads(lam.get_layer_version_policy(LayerName=name, VersionNumber=number)["Policy"])
        except lam.exceptions.ResourceNotFoundException:
            return None

    return Shared(str(version["LayerVersionArn"]), f"{name}:{number}", read), read()


def db_snapshot(target: SandboxTarget, accounts: list[str]) -> tuple[Shared, Any]:
    rds = target.local.aws.admin.client("rds")
    instance = target.unique("aar-e2e-db-")
    rds.create_db_instance(
        DBInstanceIdentifier=instance,
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="admin",
        MasterUserPassword="not-a-real-password",
        AllocatedStorage=20,
    )
    name = f"{instance}-final"
    arn = rds.create_db_snapshot(DBSnapshotIdentifier=name, DBInstanceIdentifier=instance)["DBSnapshot"]
    rds.modify_db_snapshot_attribute(DBSnapshotIdentifier=name, AttributeName="restore", ValuesToAdd=accounts)

    def read() -> Any:
        result = rds.describe_db_snapshot_attributes(DBSnapshotIdentifier=name)["DBSnapshotAttributesResult"]
        attributes = result["DBSnapshotAttributes"]
        return sorted(v for a in attributes if a["AttributeName"] == "restore" for v in a["AttributeValues"])

    return Shared(str(arn["DBSnapshotArn"]), name, read), read()
