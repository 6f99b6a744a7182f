"""The stand-in's analysis of the types beyond roles, buckets and keys (sandbox.analysis.<type>) against moto, through
the Access Analyzer API: SQS, SNS, Secrets Manager, ECR, EFS, DynamoDB (resource policies), Lambda functions and layer
versions (their policies), EBS and RDS snapshots (sharing attributes), and the sandbox's ValidateResourcePolicy.

The Denies are rendered by the Lambda's own `OwnStatement.render`, so these tests hold the stand-in to the exact
statement shapes the remediation writes.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from access_analyzer_remediation.policy import ACCOUNT as ACCOUNT_KIND
from access_analyzer_remediation.policy import PRINCIPAL, PUBLIC, Exclusions, OwnStatement, sid_for
from sandbox.access_analyzer import TYPE_ANALYSES, TYPE_CLIENTS, AccessAnalyzerStandIn, TrustZone, type_analysis
from sandbox.analysis import lambda_function, resource_policy
from sandbox.analysis.secret import BROAD_ACCESS_CHECK, SYNTAX_CHECK, validate_resource_policy
from sandbox.moto_server import MotoServer, SandboxSession

from .conftest import ACCOUNT, EXTERNAL, FindingQueue

TRUSTED = "111111111111"
ORG = "o-a1b2c3d4e5"
ORG_MEMBER = "222222222222"
OTHER = "444455556666"
ROLE_ARN = f"arn:aws:iam::{EXTERNAL}:role/Ci"


# ================================================================================================ helpers
def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def own_deny(
    kind: str, actions: tuple[str, ...] | list[str], values: list[str], resources: tuple[str, ...], **zone: Any
) -> dict[str, Any]:
    """The Deny exactly as the Lambda writes it (`OwnStatement.render`)."""
    exclusions = Exclusions(**zone)
    sid = sid_for(kind, list(actions), exclusions)
    return OwnStatement(sid, kind, tuple(sorted(actions)), exclusions, tuple(values), resources).render()


def scan(analyzer_client: Any, standin: AccessAnalyzerStandIn, resource: str) -> None:
    analyzer_client.start_resource_scan(analyzerArn=standin.analyzer_arn, resourceArn=resource)


def get(analyzer_client: Any, standin: AccessAnalyzerStandIn, finding_id: str) -> dict[str, Any]:
    finding: dict[str, Any] = analyzer_client.get_finding(analyzerArn=standin.analyzer_arn, id=finding_id)["finding"]
    return finding


def active(standin: AccessAnalyzerStandIn, resource: str) -> list[dict[str, Any]]:
    return standin.findings(resource=resource, status="ACTIVE")


def principals(standin: AccessAnalyzerStandIn, resource: str) -> list[dict[str, str]]:
    return sorted((f["principal"] for f in active(standin, resource)), key=json.dumps)


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    return buffer.getvalue()


# ================================================================================================ the policy types
@dataclass(frozen=True)
class PolicyType:
    """How a test creates a resource of a policy type in moto and writes its policy."""

    name: str
    resource_type: str
    service: str  # boto3 client name (the stand-in's keyword is f"{service}_client")
    actions: tuple[str, ...]  # two actions of the service, sorted
    create: Callable[[Any], str]  # client -> the resource ARN
    put: Callable[[Any, str, str], None]  # client, ARN, policy text
    delete: Callable[[Any, str], None]
    resources: Callable[[str], tuple[str, ...]]  # ARN -> the Resource element of statements about it (ECR: none)


def _queue_url(sqs: Any, arn: str) -> str:
    return str(sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"])


def _create_queue(sqs: Any) -> str:
    url = sqs.create_queue(QueueName="partner-queue")["QueueUrl"]
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def _create_table(dynamodb: Any) -> str:
    table = dynamodb.create_table(
        TableName="partner-table",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return str(table["TableDescription"]["TableArn"])


def _file_system_id(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


POLICY_TYPES = {
    "sqs": PolicyType(
        "sqs",
        "AWS::SQS::Queue",
        "sqs",
        ("sqs:ReceiveMessage", "sqs:SendMessage"),
        _create_queue,
        lambda c, arn, text: c.set_queue_attributes(QueueUrl=_queue_url(c, arn), Attributes={"Policy": text}),
        lambda c, arn: c.delete_queue(QueueUrl=_queue_url(c, arn)),
        lambda arn: (arn,),
    ),
    "sns": PolicyType(
        "sns",
        "AWS::SNS::Topic",
        "sns",
        ("sns:Publish", "sns:Subscribe"),
        lambda c: str(c.create_topic(Name="partner-topic")["TopicArn"]),
        lambda c, arn, text: c.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=text),
        lambda c, arn: c.delete_topic(TopicArn=arn),
        lambda arn: (arn,),
    ),
    "secretsmanager": PolicyType(
        "secretsmanager",
        "AWS::SecretsManager::Secret",
        "secretsmanager",
        ("secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"),
        lambda c: str(c.create_secret(Name="partner/api-key", SecretString="s3cr3t")["ARN"]),
        lambda c, arn, text: c.put_resource_policy(SecretId=arn, ResourcePolicy=text, BlockPublicPolicy=True),
        lambda c, arn: c.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True),
        lambda arn: ("*",),  # in a secret's policy, "*" is the secret
    ),
    "ecr": PolicyType(
        "ecr",
        "AWS::ECR::Repository",
        "ecr",
        ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"),
        lambda c: str(c.create_repository(repositoryName="partner/images")["repository"]["repositoryArn"]),
        lambda c, arn, text: c.set_repository_policy(repositoryName=arn.split("/", 1)[1], policyText=text),
        lambda c, arn: c.delete_repository(repositoryName=arn.split("/", 1)[1], force=True),
        lambda arn: (),  # repository policy statements name no Resource
    ),
    "efs": PolicyType(
        "efs",
        "AWS::EFS::FileSystem",
        "efs",
        ("elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"),
        lambda c: str(c.create_file_system(CreationToken="partner")["FileSystemArn"]),
        lambda c, arn, text: c.put_file_system_policy(FileSystemId=_file_system_id(arn), Policy=text),
        lambda c, arn: c.delete_file_system(FileSystemId=_file_system_id(arn)),
        lambda arn: (arn,),
    ),
    "dynamodb": PolicyType(
        "dynamodb",
        "AWS::DynamoDB::Table",
        "dynamodb",
        ("dynamodb:GetItem", "dynamodb:Query"),
        _create_table,
        lambda c, arn, text: c.put_resource_policy(ResourceArn=arn, Policy=text),
        lambda c, arn: c.delete_table(TableName=arn.rsplit("/", 1)[-1]),
        lambda arn: (arn, f"{arn}/index/*"),
    ),
}


@dataclass
class Resource:
    """One resource of a policy type in moto."""

    kind: PolicyType
    client: Any
    arn: str

    def grant(self, principal: Any, actions: Any = None, **extra: Any) -> dict[str, Any]:
        statement: dict[str, Any] = {
            "Effect": "Allow",
            "Principal": principal,
            "Action": list(actions or self.kind.actions),
        }
        resources = self.kind.resources(self.arn)
        if resources:
            statement["Resource"] = list(resources)
        return {**statement, **extra}

    def deny(self, kind: str, values: list[str], actions: Any = None, **zone: Any) -> dict[str, Any]:
        return own_deny(kind, tuple(actions or self.kind.actions), values, self.kind.resources(self.arn), **zone)

    def put(self, *statements: dict[str, Any]) -> None:
        self.kind.put(self.client, self.arn, document(*statements))


@pytest.fixture(scope="module")
def type_clients(moto_server: MotoServer) -> dict[str, Any]:
    """One client per type-client keyword, made once (moto is reset per test, the clients stay valid)."""
    session = moto_server.session()
    return {name: session.client(name.removesuffix("_client")) for name in TYPE_CLIENTS}


@pytest.fixture
def clients(moto: MotoServer, type_clients: dict[str, Any], standin: AccessAnalyzerStandIn) -> dict[str, Any]:
    """Every client the stand-in analyses with, attached as a caller would attach them; by service name."""
    standin.attach(**type_clients)
    return {name.removesuffix("_client"): client for name, client in type_clients.items()}


@pytest.fixture(params=sorted(POLICY_TYPES))
def resource(request: pytest.FixtureRequest, clients: dict[str, Any]) -> Resource:
    kind = POLICY_TYPES[request.param]
    client = clients[kind.service]
    return Resource(kind, client, kind.create(client))


@pytest.fixture
def zone(standin: AccessAnalyzerStandIn) -> TrustZone:
    standin.zone = TrustZone(frozenset({ACCOUNT, TRUSTED}), ORG, frozenset({ORG_MEMBER}))
    return standin.zone


# ------------------------------------------------------------------------------------------------ grants
def test_an_external_account_grant_is_a_finding_with_its_principal_and_sorted_actions(
    resource: Resource, standin: AccessAnalyzerStandIn, analyzer_client: Any
) -> None:
    resource.put(resource.grant({"AWS": f"arn:aws:iam::{EXTERNAL}:root"}, list(reversed(resource.kind.actions))))

    scan(analyzer_client, standin, resource.arn)

    (summary,) = active(standin, resource.arn)
    finding = get(analyzer_client, standin, summary["id"])
    assert (finding["resourceType"], finding["resource"]) == (resource.kind.resource_type, resource.arn)
    assert (finding["principal"], finding["isPublic"]) == ({"AWS": EXTERNAL}, False)
    assert finding["action"] == list(resource.kind.actions) and finding["condition"] == {}
    assert finding["resourceOwnerAccount"] == ACCOUNT and "sources" not in finding


def test_a_role_grant_is_reported_with_the_role_arn_and_its_conditions(
    resource: Resource, standin: AccessAnalyzerStandIn
) -> None:
    condition = {"StringEquals": {"aws:PrincipalTag/team": "data"}}
    resource.put(resource.grant({"AWS": ROLE_ARN}, resource.kind.actions[:1], Condition=condition))

    (finding_id,) = standin.scan_resource(resource.arn).created

    (finding,) = active(standin, resource.arn)
    assert finding["id"] == finding_id and finding["principal"] == {"AWS": ROLE_ARN}
    assert finding["action"] == [resource.kind.actions[0]]
    assert finding["condition"] == {"aws:PrincipalTag/team": "data"}


def test_grants_inside_the_zone_are_not_findings(
    resource: Resource, standin: AccessAnalyzerStandIn, zone: TrustZone
) -> None:
    resource.put(
        resource.grant(
            {"AWS": [f"arn:aws:iam::{ACCOUNT}:root", f"arn:aws:iam::{ACCOUNT}:role/App", TRUSTED, ORG_MEMBER]}
        ),
        resource.grant("*", Condition={"StringEquals": {"aws:PrincipalOrgID": ORG}}),
        resource.grant({"AWS": "*"}, Condition={"StringEquals": {"aws:PrincipalAccount": TRUSTED}}),
        resource.grant("*", Condition={"StringEquals": {"aws:SourceAccount": ACCOUNT}}),
        resource.grant({"Service": "events.amazonaws.com"}),
        resource.grant({"AWS": EXTERNAL}, resource.kind.actions[:1]),  # the one external grant
    )

    standin.analyze_type(resource.kind.resource_type)

    assert [(f["principal"], f["action"]) for f in active(standin, resource.arn)] == [
        ({"AWS": EXTERNAL}, [resource.kind.actions[0]])
    ]


def test_a_public_grant_is_a_public_finding(
    resource: Resource, standin: AccessAnalyzerStandIn, analyzer_client: Any
) -> None:
    resource.put(resource.grant("*", "*"), resource.grant({"AWS": "*"}, resource.kind.actions[:1]))

    scan(analyzer_client, standin, resource.arn)

    (finding,) = active(standin, resource.arn)
    assert (finding["principal"], finding["isPublic"]) == ({"AWS": "*"}, True)
    assert finding["action"] == sorted([f"{resource.kind.actions[0].split(':')[0]}:*", resource.kind.actions[0]])


# ------------------------------------------------------------------------------------------------ the tool's Denies
DENY_SHAPES = ("account", "account-with-organization", "principal-arn", "public-perimeter", "public-perimeter-org")


def _grant_and_deny(resource: Resource, shape: str) -> tuple[dict[str, Any], dict[str, Any]]:
    if shape == "account":
        return resource.grant({"AWS": f"arn:aws:iam::{EXTERNAL}:root"}), resource.deny(ACCOUNT_KIND, [EXTERNAL])
    if shape == "account-with-organization":
        return resource.grant({"AWS": EXTERNAL}), resource.deny(ACCOUNT_KIND, [EXTERNAL], org_id=ORG)
    if shape == "principal-arn":
        return resource.grant({"AWS": ROLE_ARN}), resource.deny(PRINCIPAL, [f"arn:aws:iam::{EXTERNAL}:role*/Ci"])
    if shape == "public-perimeter":
        return resource.grant("*"), resource.deny(PUBLIC, ["*"], accounts=(ACCOUNT, TRUSTED))
    return resource.grant("*"), resource.deny(PUBLIC, ["*"], accounts=(ACCOUNT, TRUSTED), org_id=ORG)


@pytest.mark.parametrize("shape", DENY_SHAPES)
def test_the_tools_deny_resolves_the_finding_and_removing_it_reopens_one(
    shape: str,
    resource: Resource,
    standin: AccessAnalyzerStandIn,
    analyzer_client: Any,
    finding_queue: FindingQueue,
    zone: TrustZone,
) -> None:
    allow, deny = _grant_and_deny(resource, shape)
    resource.put(allow)
    scan(analyzer_client, standin, resource.arn)
    (first,) = active(standin, resource.arn)
    finding_queue.drain()

    resource.put(allow, deny)
    scan(analyzer_client, standin, resource.arn)

    assert get(analyzer_client, standin, first["id"])["status"] == "RESOLVED"
    assert active(standin, resource.arn) == []
    assert [(e["detail"]["id"], e["detail"]["status"]) for e in finding_queue.drain()] == [(first["id"], "RESOLVED")]

    resource.put(allow)  # the Deny removed (a revert): the access is back
    scan(analyzer_client, standin, resource.arn)

    (again,) = active(standin, resource.arn)
    assert again["id"] != first["id"]
    assert (again["principal"], again["action"], again["isPublic"]) == (
        first["principal"],
        first["action"],
        first["isPublic"],
    )
    assert [e["detail"]["status"] for e in finding_queue.drain()] == ["ACTIVE"]


def test_a_deny_of_some_actions_leaves_a_finding_of_the_others(
    resource: Resource, standin: AccessAnalyzerStandIn
) -> None:
    allow = resource.grant({"AWS": EXTERNAL})
    resource.put(allow)
    (first,) = standin.scan_resource(resource.arn).created

    resource.put(allow, resource.deny(ACCOUNT_KIND, [EXTERNAL], resource.kind.actions[:1]))
    result = standin.scan_resource(resource.arn)

    assert result.resolved == (first,)
    (left,) = active(standin, resource.arn)
    assert left["action"] == [resource.kind.actions[1]]


@pytest.mark.parametrize(
    "case",
    ["other-account", "organization-excluded", "perimeter-sparing-an-outsider"],
)
def test_denies_that_do_not_cover_the_grant_leave_the_finding(
    case: str, resource: Resource, standin: AccessAnalyzerStandIn
) -> None:
    if case == "other-account":
        allow, deny = resource.grant({"AWS": EXTERNAL}), resource.deny(ACCOUNT_KIND, [OTHER])
    elif case == "organization-excluded":  # an account analyzer cannot tell whether EXTERNAL is in o-...
        allow, deny = resource.grant({"AWS": EXTERNAL}), resource.deny(ACCOUNT_KIND, [EXTERNAL], org_id=ORG)
    else:
        allow, deny = resource.grant("*"), resource.deny(PUBLIC, ["*"], accounts=(ACCOUNT, OTHER))
    resource.put(allow, deny)

    standin.scan_resource(resource.arn)

    (finding,) = active(standin, resource.arn)
    assert finding["action"] == list(resource.kind.actions)


def test_a_deleted_resource_resolves_its_findings_on_the_next_analysis(
    resource: Resource, standin: AccessAnalyzerStandIn
) -> None:
    resource.put(resource.grant({"AWS": EXTERNAL}))
    (finding_id,) = standin.analyze_type(resource.kind.resource_type).created

    resource.kind.delete(resource.client, resource.arn)
    result = standin.analyze_type(resource.kind.resource_type)

    assert result.resolved == (finding_id,)
    assert standin.scan_resource(resource.arn).created == ()  # StartResourceScan of it: nothing there


def test_analyze_runs_every_attached_type_and_leaves_unchanged_access_alone(
    resource: Resource, standin: AccessAnalyzerStandIn
) -> None:
    resource.put(resource.grant({"AWS": EXTERNAL}))

    (created,) = standin.analyze().created

    assert standin.findings()[0]["resourceType"] == resource.kind.resource_type
    again = standin.analyze()
    assert (again.created, again.resolved, again.unchanged) == ((), (), (created,))


# ------------------------------------------------------------------------------------------------ per-type details
def test_sqs_add_permission_and_source_conditions(clients: dict[str, Any], standin: AccessAnalyzerStandIn) -> None:
    sqs, sns = clients["sqs"], clients["sns"]
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders"
    own_topic = sns.create_topic(Name="orders")["TopicArn"]
    statements = [
        {  # the usual "our topic may send" statement: in the zone
            "Sid": "OurTopic",  # moto 5.2.5's AddPermission fails (KeyError 'Sid') on a statement without a Sid
            "Effect": "Allow",
            "Principal": "*",
            "Action": "sqs:SendMessage",
            "Resource": arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": own_topic}},
        },
        {  # a service principal: not modelled for queues (skipped, as for S3 and KMS)
            "Sid": "Notifications",
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": arn,
        },
    ]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": document(*statements)})
    sqs.add_permission(
        QueueUrl=url, Label="partner", AWSAccountIds=[EXTERNAL], Actions=["SendMessage", "ReceiveMessage"]
    )

    standin.analyze_type("AWS::SQS::Queue")

    (finding,) = active(standin, arn)  # AddPermission's statement only (moto's SQS: SQS:<Action>)
    assert (finding["principal"], finding["action"]) == ({"AWS": EXTERNAL}, ["sqs:ReceiveMessage", "sqs:SendMessage"])


def test_sqs_public_grant_from_another_accounts_topic_keeps_the_source_condition(
    clients: dict[str, Any], standin: AccessAnalyzerStandIn
) -> None:
    sqs = clients["sqs"]
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders"
    topic = f"arn:aws:sns:us-east-1:{EXTERNAL}:partner"
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "sqs:SendMessage",
        "Resource": arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": document(statement)})

    standin.scan_resource(arn)

    (finding,) = active(standin, arn)
    assert (finding["principal"], finding["condition"]) == ({"AWS": "*"}, {"aws:SourceArn": topic})


def test_sns_default_topic_policy_is_inside_the_zone_and_add_permission_is_not(
    clients: dict[str, Any], standin: AccessAnalyzerStandIn, analyzer_client: Any
) -> None:
    sns = clients["sns"]
    arn = sns.create_topic(Name="alerts")["TopicArn"]
    default = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])
    assert default["Statement"][0]["Condition"] == {"StringEquals": {"AWS:SourceOwner": ACCOUNT}}

    assert standin.analyze_type("AWS::SNS::Topic").created == ()

    sns.add_permission(TopicArn=arn, Label="partner", AWSAccountId=[EXTERNAL], ActionName=["Publish"])
    scan(analyzer_client, standin, arn)

    (finding,) = active(standin, arn)
    assert (finding["principal"], finding["action"]) == ({"AWS": EXTERNAL}, ["sns:Publish"])
    sns.remove_permission(TopicArn=arn, Label="partner")
    scan(analyzer_client, standin, arn)
    assert get(analyzer_client, standin, finding["id"])["status"] == "RESOLVED"


def test_dynamodb_index_access_is_a_scope_of_its_own(clients: dict[str, Any], standin: AccessAnalyzerStandIn) -> None:
    dynamodb = clients["dynamodb"]
    arn = _create_table(dynamodb)
    index = f"{arn}/index/by-customer"
    allow = {"Effect": "Allow", "Principal": {"AWS": EXTERNAL}, "Action": "dynamodb:Query", "Resource": index}
    dynamodb.put_resource_policy(ResourceArn=arn, Policy=document(allow))
    (first,) = standin.scan_resource(arn).created

    table_only = own_deny(ACCOUNT_KIND, ["dynamodb:Query"], [EXTERNAL], (arn,))
    dynamodb.put_resource_policy(ResourceArn=arn, Policy=document(allow, table_only))
    assert standin.scan_resource(arn).unchanged == (first,)  # the index is not the table

    both = own_deny(ACCOUNT_KIND, ["dynamodb:Query"], [EXTERNAL], (arn, f"{arn}/index/*"))
    dynamodb.put_resource_policy(ResourceArn=arn, Policy=document(allow, both))
    assert standin.scan_resource(arn).resolved == (first,)


def test_dynamodb_stream_policies_cannot_be_held_by_moto(clients: dict[str, Any]) -> None:
    dynamodb = clients["dynamodb"]
    stream = dynamodb.create_table(
        TableName="events",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )["TableDescription"]["LatestStreamArn"]
    allow = {"Effect": "Allow", "Principal": {"AWS": EXTERNAL}, "Action": "dynamodb:GetRecords", "Resource": stream}

    with pytest.raises(ClientError) as raised:
        dynamodb.put_resource_policy(ResourceArn=stream, Policy=document(allow))

    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"  # moto 5.2.5 gap: not modelled


def test_a_secret_scheduled_for_deletion_resolves_its_findings(
    clients: dict[str, Any], standin: AccessAnalyzerStandIn
) -> None:
    secrets = clients["secretsmanager"]
    arn = secrets.create_secret(Name="db-password", SecretString="x")["ARN"]
    allow = {
        "Effect": "Allow",
        "Principal": {"AWS": EXTERNAL},
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "*",
    }
    secrets.put_resource_policy(SecretId=arn, ResourcePolicy=document(allow))
    (finding_id,) = standin.analyze_type("AWS::SecretsManager::Secret").created

    secrets.delete_secret(SecretId=arn, RecoveryWindowInDays=7)

    assert standin.scan_resource(arn).resolved == (finding_id,)


def test_efs_scan_of_a_file_system_that_never_existed_resolves_nothing(
    clients: dict[str, Any], standin: AccessAnalyzerStandIn
) -> None:
    # moto answers DescribeFileSystemPolicy of an unknown id with an internal error: the analysis asks first
    arn = f"arn:aws:elasticfilesystem:us-east-1:{ACCOUNT}:file-system/fs-0123456789abcdef0"

    result = standin.scan_resource(arn, clients["efs"])

    assert (result.created, result.resolved) == ((), ())


# ================================================================================================ Lambda
@pytest.fixture
def function_arn(aws: SandboxSession, clients: dict[str, Any]) -> str:
    role = aws.client("iam").create_role(
        RoleName="fn-role",
        AssumeRolePolicyDocument=document(
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ),
    )["Role"]["Arn"]
    created = clients["lambda"].create_function(
        FunctionName="partner-hook",
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": zip_bytes()},
    )
    return str(created["FunctionArn"])


def _add(lambda_client: Any, sid: str, principal: str, **extra: Any) -> None:
    action = extra.pop("Action", "lambda:InvokeFunction")
    lambda_client.add_permission(
        FunctionName="partner-hook", StatementId=sid, Action=action, Principal=principal, **extra
    )


def test_lambda_function_grants_outside_the_zone_are_findings(
    function_arn: str, clients: dict[str, Any], standin: AccessAnalyzerStandIn, analyzer_client: Any, zone: TrustZone
) -> None:
    lam = clients["lambda"]
    _add(lam, "account", EXTERNAL)
    _add(lam, "role", ROLE_ARN)
    _add(lam, "public-url", "*", Action="lambda:InvokeFunctionUrl", FunctionUrlAuthType="NONE")
    _add(lam, "s3-other-account", "s3.amazonaws.com", SourceAccount=EXTERNAL)
    _add(lam, "sns-any-source", "sns.amazonaws.com")
    # inside the zone: the owner, a trusted account, the organization, services acting for the zone's resources
    _add(lam, "owner", ACCOUNT)
    _add(lam, "trusted", TRUSTED)
    _add(lam, "org", "*", PrincipalOrgID=ORG)
    _add(lam, "s3-own", "s3.amazonaws.com", SourceAccount=ACCOUNT, SourceArn="arn:aws:s3:::our-bucket")
    _add(lam, "sns-own", "sns.amazonaws.com", SourceArn=f"arn:aws:sns:us-east-1:{ACCOUNT}:alerts")
    _add(lam, "events-trusted", "events.amazonaws.com", SourceArn=f"arn:aws:events:us-east-1:{TRUSTED}:rule/r")

    scan(analyzer_client, standin, function_arn)

    found = {json.dumps(f["principal"]): f for f in active(standin, function_arn)}
    assert sorted(found) == sorted(
        json.dumps(p)
        for p in (
            {"AWS": EXTERNAL},
            {"AWS": ROLE_ARN},
            {"AWS": "*"},
            {"Service": "s3.amazonaws.com"},
            {"Service": "sns.amazonaws.com"},
        )
    )
    public = found[json.dumps({"AWS": "*"})]
    assert (public["isPublic"], public["action"]) == (True, ["lambda:InvokeFunctionUrl"])
    assert public["condition"] == {"lambda:FunctionUrlAuthType": "NONE"}
    s3 = found[json.dumps({"Service": "s3.amazonaws.com"})]
    assert (s3["isPublic"], s3["condition"]) == (False, {"AWS:SourceAccount": EXTERNAL})
    account = found[json.dumps({"AWS": EXTERNAL})]
    assert (account["resourceType"], account["action"]) == ("AWS::Lambda::Function", ["lambda:InvokeFunction"])


def test_lambda_remove_permission_resolves_and_adding_it_back_reopens(
    function_arn: str, clients: dict[str, Any], standin: AccessAnalyzerStandIn, analyzer_client: Any
) -> None:
    lam = clients["lambda"]
    _add(lam, "partner", EXTERNAL)
    scan(analyzer_client, standin, function_arn)
    (first,) = active(standin, function_arn)

    lam.remove_permission(FunctionName="partner-hook", StatementId="partner")
    scan(analyzer_client, standin, function_arn)
    assert get(analyzer_client, standin, first["id"])["status"] == "RESOLVED"

    _add(lam, "partner", EXTERNAL)
    scan(analyzer_client, standin, function_arn)
    (again,) = active(standin, function_arn)
    assert again["id"] != first["id"] and again["principal"] == {"AWS": EXTERNAL}

    lam.delete_function(FunctionName="partner-hook")
    assert standin.analyze_type("AWS::Lambda::Function").resolved == (again["id"],)


def test_lambda_policies_as_aws_returns_them_are_read_alike() -> None:
    """GetPolicy in AWS: principals as maps, root ARNs, conditions (what moto's shape is normalised to)."""
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"
    statements = [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{EXTERNAL}:root"},
            "Action": "lambda:InvokeFunction",
            "Resource": arn,
        },
        {
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "lambda:InvokeFunction",
            "Resource": arn,
            "Condition": {
                "StringEquals": {"AWS:SourceAccount": ACCOUNT},
                "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::b"},
            },
        },
        {"Effect": "Deny", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "lambda:*", "Resource": arn},
        {
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "lambda:InvokeFunction",
            "Resource": arn,
        },
    ]
    state = resource_policy.PolicyState(arn, ACCOUNT, {"Statement": statements}, (arn,))

    access = lambda_function.compute_access(state, TrustZone(frozenset({ACCOUNT})))

    assert sorted(access) == [("AWS", EXTERNAL)]  # s3 pinned to the owner; sns denied without a condition


def test_lambda_layer_version_grants(
    clients: dict[str, Any], standin: AccessAnalyzerStandIn, analyzer_client: Any, zone: TrustZone
) -> None:
    lam = clients["lambda"]
    arn = lam.publish_layer_version(LayerName="shared-lib", Content={"ZipFile": zip_bytes()})["LayerVersionArn"]

    def add(sid: str, principal: str, **extra: Any) -> None:
        lam.add_layer_version_permission(
            LayerName="shared-lib",
            VersionNumber=1,
            StatementId=sid,
            Action="lambda:GetLayerVersion",
            Principal=principal,
            **extra,
        )

    add("partner", EXTERNAL)
    add("our-org", "*", OrganizationId=ORG)  # in the zone
    add("trusted", TRUSTED)  # in the zone
    add("their-org", "*", OrganizationId="o-z9y8x7w6v5")  # public, limited by that organization

    created = standin.analyze_type("AWS::Lambda::LayerVersion").created

    found = {json.dumps(f["principal"]): f for f in (get(analyzer_client, standin, i) for i in created)}
    assert sorted(found) == [json.dumps({"AWS": "*"}), json.dumps({"AWS": EXTERNAL})]
    partner, public = found[json.dumps({"AWS": EXTERNAL})], found[json.dumps({"AWS": "*"})]
    assert (partner["resourceType"], partner["resource"]) == ("AWS::Lambda::LayerVersion", arn)
    assert (partner["principal"], partner["action"]) == ({"AWS": EXTERNAL}, ["lambda:GetLayerVersion"])
    assert (public["principal"], public["isPublic"]) == ({"AWS": "*"}, True)
    assert public["condition"] == {"aws:PrincipalOrgID": "o-z9y8x7w6v5"}

    lam.remove_layer_version_permission(LayerName="shared-lib", VersionNumber=1, StatementId="partner")
    scan(analyzer_client, standin, arn)
    assert get(analyzer_client, standin, partner["id"])["status"] == "RESOLVED"
    assert principals(standin, arn) == [{"AWS": "*"}]
    add("partner", EXTERNAL)
    scan(analyzer_client, standin, arn)
    assert principals(standin, arn) == [{"AWS": "*"}, {"AWS": EXTERNAL}]
    assert get(analyzer_client, standin, public["id"])["status"] == "ACTIVE"  # unchanged access: the same finding


# ================================================================================================ snapshots
@pytest.fixture
def snapshot_arn(clients: dict[str, Any]) -> str:
    ec2 = clients["ec2"]
    volume = ec2.create_volume(Size=1, AvailabilityZone="us-east-1a")["VolumeId"]
    snapshot_id = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    return f"arn:aws:ec2:us-east-1::snapshot/{snapshot_id}"


def _share_snapshot(ec2: Any, arn: str, operation: str, **who: Any) -> None:
    snapshot_id = arn.rsplit("/", 1)[-1]
    ec2.modify_snapshot_attribute(
        SnapshotId=snapshot_id, Attribute="createVolumePermission", OperationType=operation, **who
    )


def test_ebs_snapshot_shared_with_an_external_account_and_made_public(
    snapshot_arn: str, clients: dict[str, Any], standin: AccessAnalyzerStandIn, analyzer_client: Any, zone: TrustZone
) -> None:
    ec2 = clients["ec2"]
    _share_snapshot(ec2, snapshot_arn, "add", UserIds=[EXTERNAL, TRUSTED, ORG_MEMBER])

    (finding_id,) = standin.analyze_type("AWS::EC2::Snapshot").created  # moto's ~1,300 AMI snapshots are not ours

    finding = get(analyzer_client, standin, finding_id)
    assert (finding["resourceType"], finding["resource"]) == ("AWS::EC2::Snapshot", snapshot_arn)
    assert (finding["principal"], finding["action"], finding["isPublic"]) == (
        {"AWS": EXTERNAL},
        ["ec2:CreateVolume"],
        False,
    )
    assert finding["resourceOwnerAccount"] == ACCOUNT  # the ARN names no account

    _share_snapshot(ec2, snapshot_arn, "add", GroupNames=["all"])
    scan(analyzer_client, standin, snapshot_arn)

    public = next(f for f in active(standin, snapshot_arn) if f["principal"] == {"AWS": "*"})
    assert (public["isPublic"], public["action"]) == (True, ["ec2:CreateVolume"])


def test_ebs_unsharing_resolves_and_sharing_again_reopens(
    snapshot_arn: str, clients: dict[str, Any], standin: AccessAnalyzerStandIn, analyzer_client: Any
) -> None:
    ec2 = clients["ec2"]
    _share_snapshot(ec2, snapshot_arn, "add", GroupNames=["all"])
    scan(analyzer_client, standin, snapshot_arn)
    (first,) = active(standin, snapshot_arn)

    _share_snapshot(ec2, snapshot_arn, "remove", GroupNames=["all"])
    scan(analyzer_client, standin, snapshot_arn)
    assert get(analyzer_client, standin, first["id"])["status"] == "RESOLVED"

    _share_snapshot(ec2, snapshot_arn, "add", GroupNames=["all"])
    scan(analyzer_client, standin, snapshot_arn)
    (again,) = active(standin, snapshot_arn)
    assert again["id"] != first["id"] and again["isPublic"] is True

    ec2.delete_snapshot(SnapshotId=snapshot_arn.rsplit("/", 1)[-1])
    assert standin.scan_resource(snapshot_arn).resolved == (again["id"],)


RDS_KINDS = ("db", "cluster")


@pytest.fixture(params=RDS_KINDS)
def rds_snapshot(request: pytest.FixtureRequest, clients: dict[str, Any]) -> tuple[str, str, Callable[..., None]]:
    """(kind, snapshot ARN, modify(ValuesToAdd=... / ValuesToRemove=...))."""
    rds = clients["rds"]
    if request.param == "db":
        rds.create_db_instance(
            DBInstanceIdentifier="db1",
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            MasterUsername="admin1",
            MasterUserPassword="password-123",
            AllocatedStorage=20,
        )
        arn = rds.create_db_snapshot(DBInstanceIdentifier="db1", DBSnapshotIdentifier="nightly")["DBSnapshot"][
            "DBSnapshotArn"
        ]

        def modify(**values: Any) -> None:
            rds.modify_db_snapshot_attribute(DBSnapshotIdentifier="nightly", AttributeName="restore", **values)

        return "db", str(arn), modify
    rds.create_db_cluster(
        DBClusterIdentifier="c1", Engine="aurora-postgresql", MasterUsername="admin1", MasterUserPassword="password-123"
    )
    arn = rds.create_db_cluster_snapshot(DBClusterIdentifier="c1", DBClusterSnapshotIdentifier="nightly")[
        "DBClusterSnapshot"
    ]["DBClusterSnapshotArn"]

    def modify_cluster(**values: Any) -> None:
        rds.modify_db_cluster_snapshot_attribute(
            DBClusterSnapshotIdentifier="nightly", AttributeName="restore", **values
        )

    return "cluster", str(arn), modify_cluster


def test_rds_snapshot_restore_attribute(
    rds_snapshot: tuple[str, str, Callable[..., None]],
    standin: AccessAnalyzerStandIn,
    analyzer_client: Any,
    zone: TrustZone,
) -> None:
    kind, arn, modify = rds_snapshot
    resource_type, action = {
        "db": ("AWS::RDS::DBSnapshot", "rds:RestoreDBInstanceFromDBSnapshot"),
        "cluster": ("AWS::RDS::DBClusterSnapshot", "rds:RestoreDBClusterFromSnapshot"),
    }[kind]
    modify(ValuesToAdd=[EXTERNAL, TRUSTED, ORG_MEMBER])

    (finding_id,) = standin.analyze_type(resource_type).created  # the automated snapshot is not listed

    finding = get(analyzer_client, standin, finding_id)
    assert (finding["resourceType"], finding["resource"], finding["resourceOwnerAccount"]) == (
        resource_type,
        arn,
        ACCOUNT,
    )
    assert (finding["principal"], finding["action"], finding["isPublic"]) == ({"AWS": EXTERNAL}, [action], False)

    modify(ValuesToAdd=["all"])
    scan(analyzer_client, standin, arn)
    assert principals(standin, arn) == [{"AWS": "*"}, {"AWS": EXTERNAL}]
    assert [f["isPublic"] for f in active(standin, arn) if f["principal"] == {"AWS": "*"}] == [True]

    modify(ValuesToRemove=["all"])  # the listed accounts keep theirs
    scan(analyzer_client, standin, arn)
    assert principals(standin, arn) == [{"AWS": EXTERNAL}]

    modify(ValuesToRemove=[EXTERNAL])
    scan(analyzer_client, standin, arn)
    assert active(standin, arn) == [] and get(analyzer_client, standin, finding_id)["status"] == "RESOLVED"

    modify(ValuesToAdd=[EXTERNAL])
    scan(analyzer_client, standin, arn)
    assert [f["principal"] for f in active(standin, arn)] == [{"AWS": EXTERNAL}]


# ================================================================================================ wiring
def test_a_type_without_an_attached_client_is_not_analysed(
    aws: SandboxSession, standin: AccessAnalyzerStandIn, analyzer_client: Any
) -> None:
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="open")["QueueUrl"]
    arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:open"
    public = {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": arn}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": document(public)})

    assert standin.analyze().created == ()  # IAM only (conftest attaches IAM and EventBridge)
    scan(analyzer_client, standin, arn)  # no SQS client: nothing to scan with, no error
    assert standin.findings() == [] and standin.internal_errors == []

    assert len(standin.analyze(sqs_client=sqs).created) == 1  # given to analyze() instead


def test_every_type_has_an_analysis_and_each_client_keyword_is_an_attribute(standin: AccessAnalyzerStandIn) -> None:
    assert sorted(t.resource_type for t in TYPE_ANALYSES) == sorted(
        [
            "AWS::SQS::Queue",
            "AWS::SNS::Topic",
            "AWS::SecretsManager::Secret",
            "AWS::ECR::Repository",
            "AWS::EFS::FileSystem",
            "AWS::DynamoDB::Table",
            "AWS::Lambda::Function",
            "AWS::Lambda::LayerVersion",
            "AWS::EC2::Snapshot",
            "AWS::RDS::DBSnapshot",
            "AWS::RDS::DBClusterSnapshot",
        ]
    )
    assert all(getattr(standin, name) is None for name in TYPE_CLIENTS)
    with pytest.raises(ValueError, match="analyze_roles"):
        type_analysis("AWS::S3::Bucket")
    with pytest.raises(ValueError, match="needs a client"):
        standin.analyze_type("AWS::SQS::Queue")


# ========================================================================================= ValidateResourcePolicy
PUBLIC_READ = {"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}


def _perimeter(**zone: Any) -> dict[str, Any]:
    return own_deny(PUBLIC, ["secretsmanager:GetSecretValue"], ["*"], ("*",), **zone)


@pytest.fixture
def secret(clients: dict[str, Any]) -> tuple[Any, str]:
    secrets = clients["secretsmanager"]
    return secrets, str(secrets.create_secret(Name="validated", SecretString="x")["ARN"])


def test_validate_resource_policy_fails_broad_access_unless_a_perimeter_contains_it(secret: tuple[Any, str]) -> None:
    secrets, arn = secret

    def check(*statements: dict[str, Any]) -> dict[str, Any]:
        response = secrets.validate_resource_policy(SecretId=arn, ResourcePolicy=document(*statements))
        return {k: response[k] for k in ("PolicyValidationPassed", "ValidationErrors")}

    broad = check(PUBLIC_READ)
    assert broad["PolicyValidationPassed"] is False
    assert [e["CheckName"] for e in broad["ValidationErrors"]] == [BROAD_ACCESS_CHECK]

    assert check(PUBLIC_READ, _perimeter(accounts=(ACCOUNT,))) == {
        "PolicyValidationPassed": True,
        "ValidationErrors": [],
    }
    assert check(PUBLIC_READ, _perimeter(accounts=(ACCOUNT,), org_id=ORG))["PolicyValidationPassed"] is True
    # conservative: a perimeter that also spares another account still fails, with the same error as before it
    assert check(PUBLIC_READ, _perimeter(accounts=(ACCOUNT, TRUSTED))) == broad
    # a Deny of only some of the granted actions leaves the others broad
    two = {**PUBLIC_READ, "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]}
    assert check(two, _perimeter(accounts=(ACCOUNT,)))["PolicyValidationPassed"] is False
    assert check({**PUBLIC_READ, "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG}}})["PolicyValidationPassed"]
    assert check({**PUBLIC_READ, "Principal": {"AWS": EXTERNAL}})["PolicyValidationPassed"] is True


def test_validate_resource_policy_checks_syntax_and_the_secret(secret: tuple[Any, str]) -> None:
    secrets, arn = secret

    not_json = secrets.validate_resource_policy(SecretId=arn, ResourcePolicy="{not json")
    no_effect = secrets.validate_resource_policy(
        ResourcePolicy=json.dumps({"Statement": [{"Principal": "*", "Action": "secretsmanager:*"}]})
    )

    assert not_json["PolicyValidationPassed"] is False
    assert [e["CheckName"] for e in not_json["ValidationErrors"]] == [SYNTAX_CHECK]
    assert [e["CheckName"] for e in no_effect["ValidationErrors"]] == [SYNTAX_CHECK]
    assert "Effect" in no_effect["ValidationErrors"][0]["ErrorMessage"]
    with pytest.raises(ClientError) as raised:
        secrets.validate_resource_policy(SecretId="no-such-secret", ResourcePolicy=document(PUBLIC_READ))
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize(
    ("text", "passed", "checks"),
    [
        (document(PUBLIC_READ), False, [BROAD_ACCESS_CHECK]),
        (document(PUBLIC_READ, _perimeter(accounts=(ACCOUNT,))), True, []),
        (document({**PUBLIC_READ, "Action": "sqs:SendMessage"}), True, []),  # nothing on the secret
        (json.dumps({"Version": "2001-01-01", "Statement": [PUBLIC_READ]}), False, [SYNTAX_CHECK]),
        (json.dumps({"Statement": []}), False, [SYNTAX_CHECK]),
        (document({**PUBLIC_READ, "Resource": "*", "NotResource": "*"}), False, [SYNTAX_CHECK]),
        (document({"Effect": "Allow", "Action": "secretsmanager:*"}), False, [SYNTAX_CHECK]),  # no Principal
        ("[]", False, [SYNTAX_CHECK]),
    ],
    ids=["broad", "perimeter", "other-service", "version", "empty", "resource-and-not", "no-principal", "not-object"],
)
def test_validate_resource_policy_model(text: str, passed: bool, checks: list[str]) -> None:
    result = validate_resource_policy(text, ACCOUNT)

    assert result["PolicyValidationPassed"] is passed
    assert [e["CheckName"] for e in result["ValidationErrors"]] == checks


def test_moto_ignores_block_public_policy(secret: tuple[Any, str]) -> None:
    """moto 5.2.5 stores a public policy although BlockPublicPolicy=True (AWS: PublicPolicyException)."""
    secrets, arn = secret

    secrets.put_resource_policy(SecretId=arn, ResourcePolicy=document(PUBLIC_READ), BlockPublicPolicy=True)

    assert json.loads(secrets.get_resource_policy(SecretId=arn)["ResourcePolicy"])["Statement"] == [PUBLIC_READ]
