"""The types whose resource policy holds the tool's Deny beside the Allows that cause the finding: SQS queues, SNS
topics, Secrets Manager secrets, ECR repositories, EFS file systems, DynamoDB tables (and streams, S3 directory
buckets where moto holds none). The engine paths run against moto with findings put into the Access Analyzer
stand-in; the limits, guardrails and conditional writes are checked on the pure plans and on the adapters."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from access_analyzer_remediation import findings as types
from access_analyzer_remediation.findings import Finding, FindingRef, ResourceRef
from access_analyzer_remediation.policy import POLICY_VERSION, compact, statements
from access_analyzer_remediation.resources import Conflict, registry
from access_analyzer_remediation.resources.dynamodb_table import DynamoDbTableAdapter
from access_analyzer_remediation.resources.resource_policy import PolicyState
from access_analyzer_remediation.resources.s3_directory_bucket import S3DirectoryBucketAdapter
from access_analyzer_remediation.resources.secret import SecretAdapter
from access_analyzer_remediation.resources.sqs_queue import LIMITS as SQS_LIMITS
from access_analyzer_remediation.revert import revert
from access_analyzer_remediation.settings import Settings

from .conftest import EXTERNAL, SANDBOX_ACCOUNT, Aws, resource_finding

ANALYZER = f"arn:aws:access-analyzer:us-east-1:{SANDBOX_ACCOUNT}:analyzer/aar"
SETTINGS = Settings(
    analyzer_arns=(ANALYZER,), audit_table_name="t", topic_arn=f"arn:aws:sns:us-east-1:{SANDBOX_ACCOUNT}:t"
)
OTHER = "444455556666"
REGION = "us-east-1"
POLICY_TYPES = (
    types.SQS_QUEUE,
    types.SNS_TOPIC,
    types.SECRETS_MANAGER_SECRET,
    types.ECR_REPOSITORY,
    types.EFS_FILE_SYSTEM,
    types.DYNAMODB_TABLE,
)


@dataclass(frozen=True)
class Kind:
    """How a test makes one resource of a type in moto, and reads and replaces its policy by hand."""

    action: str
    arn: str  # a resource of this type (pure tests; the moto one is made by `create`)
    resource: Callable[[str], Any]  # the Resource element of a granting statement (None: none, as in ECR)
    create: Callable[[Aws], tuple[str, Callable[[], dict[str, Any] | None], Callable[[dict[str, Any]], None]]]


def _policy(*body: dict[str, Any]) -> dict[str, Any]:
    return {"Version": POLICY_VERSION, "Statement": list(body)}


def _loaded(text: str | None) -> dict[str, Any] | None:
    return dict(json.loads(text)) if text else None


def _sqs(aws: Aws) -> tuple[str, Callable[[], dict[str, Any] | None], Callable[[dict[str, Any]], None]]:
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="shared-queue", tags={"team": "data"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def get() -> dict[str, Any] | None:
        return _loaded(
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get("Attributes", {}).get("Policy")
        )

    return arn, get, lambda p: sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(p)})


def _sns(aws: Aws) -> tuple[str, Callable[[], dict[str, Any] | None], Callable[[dict[str, Any]], None]]:
    sns = aws.client("sns")
    arn = sns.create_topic(Name="shared-topic")["TopicArn"]

    def put(policy: dict[str, Any]) -> None:
        sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(policy))

    return arn, lambda: _loaded(sns.get_topic_attributes(TopicArn=arn)["Attributes"].get("Policy")), put


def _secret(aws: Aws) -> tuple[str, Callable[[], dict[str, Any] | None], Callable[[dict[str, Any]], None]]:
    client = aws.client("secretsmanager")
    arn = client.create_secret(Name="db-password", SecretString="s3cr3t")["ARN"]

    def put(policy: dict[str, Any]) -> None:
        client.put_resource_policy(SecretId=arn, ResourcePolicy=json.dumps(policy))

    return arn, lambda: _loaded(client.get_resource_policy(SecretId=arn).get("ResourcePolicy")), put


def _ecr(aws: Aws) -> tuple[str, Callable[[], dict[str, Any] | None], Callable[[dict[str, Any]], None]]:
    ecr = aws.client("ecr")
    repository = ecr.create_repository(repositoryName="team/app")["repository"]

    def get() -> dict[str, Any] | None:
        try:
            return _loaded(ecr.get_repository_policy(repositoryName="team/app")["policyText"])
        except ecr.exceptions.RepositoryPolicyNotFoundException:
            return None

    def put(policy: dict[str, Any]) -> None:
        ecr.set_repository_policy(repositoryName="team/app", policyText=json.dumps(policy))

    return str(repository["repositoryArn"]), get, put


def _efs(aws: Aws) -> tuple[str, Callable[[], dict[str, Any] | None], Callable[[dict[str, Any]], None]]:
    efs = aws.client("efs")
    created = efs.create_file_system(CreationToken="shared-fs")
    fs_id = created["FileSystemId"]

    def get() -> dict[str, Any] | None:
        try:
            return _loaded(efs.describe_file_system_policy(FileSystemId=fs_id)["Policy"])
        except efs.exceptions.PolicyNotFound:
            return None

    def put(policy: dict[str, Any]) -> None:
        efs.put_file_system_policy(FileSystemId=fs_id, Policy=json.dumps(policy))

    return str(created["FileSystemArn"]), get, put


def _table(aws: Aws) -> tuple[str, Callable[[], dict[str, Any] | None], Callable[[dict[str, Any]], None]]:
    dynamodb = aws.client("dynamodb")
    arn = dynamodb.create_table(
        TableName="Orders",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )["TableDescription"]["TableArn"]

    def get() -> dict[str, Any] | None:
        try:
            return _loaded(dynamodb.get_resource_policy(ResourceArn=arn)["Policy"])
        except dynamodb.exceptions.PolicyNotFoundException:
            return None

    def put(policy: dict[str, Any]) -> None:
        dynamodb.put_resource_policy(ResourceArn=arn, Policy=json.dumps(policy))

    return arn, get, put


KINDS = {
    types.SQS_QUEUE: Kind("sqs:SendMessage", f"arn:aws:sqs:{REGION}:{SANDBOX_ACCOUNT}:q", lambda arn: arn, _sqs),
    types.SNS_TOPIC: Kind("sns:Publish", f"arn:aws:sns:{REGION}:{SANDBOX_ACCOUNT}:t", lambda arn: arn, _sns),
    types.SECRETS_MANAGER_SECRET: Kind(
        "secretsmanager:GetSecretValue",
        f"arn:aws:secretsmanager:{REGION}:{SANDBOX_ACCOUNT}:secret:db-AbCdEf",
        lambda arn: "*",
        _secret,
    ),
    types.ECR_REPOSITORY: Kind(
        "ecr:BatchGetImage", f"arn:aws:ecr:{REGION}:{SANDBOX_ACCOUNT}:repository/team/app", lambda arn: None, _ecr
    ),
    types.EFS_FILE_SYSTEM: Kind(
        "elasticfilesystem:ClientMount",
        f"arn:aws:elasticfilesystem:{REGION}:{SANDBOX_ACCOUNT}:file-system/fs-0123456789abcdef0",
        lambda arn: arn,
        _efs,
    ),
    types.DYNAMODB_TABLE: Kind(
        "dynamodb:GetItem", f"arn:aws:dynamodb:{REGION}:{SANDBOX_ACCOUNT}:table/Orders", lambda arn: arn, _table
    ),
}


def _allow(resource_type: str, arn: str, principal: Any, sid: str = "Partner") -> dict[str, Any]:
    kind = KINDS[resource_type]
    statement = {"Sid": sid, "Effect": "Allow", "Principal": principal, "Action": kind.action}
    resource = kind.resource(arn)
    return statement if resource is None else {**statement, "Resource": resource}


def _finding(resource_type: str, arn: str, principal: dict[str, str], **extra: Any) -> Finding:
    action = extra.pop("action", None) or [KINDS[resource_type].action]
    return resource_finding(resource_type, arn, principal, ANALYZER, SANDBOX_ACCOUNT, action=action, **extra)


def _adapter(resource_type: str) -> Any:
    from access_analyzer_remediation.cli import _NO_AWS

    return registry()[resource_type](_NO_AWS, REGION)


def _plan(
    resource_type: str, policy: dict[str, Any], finding: Finding, settings: Settings = SETTINGS, **tags: str
) -> Any:
    adapter = _adapter(resource_type)
    ref = adapter.ref(finding.resource_arn, SANDBOX_ACCOUNT)
    snapshot = adapter.offline(ref, policy, tags, None)
    return adapter.guard(ref, settings, ANALYZER) or adapter.plan(finding, snapshot, settings, (), 0.0)


def _ref(aws: Aws, finding: dict[str, Any]) -> FindingRef:
    return FindingRef(aws.standin.analyzer_arn, finding["id"])


def _remediator(aws: Aws, **overrides: Any) -> Any:
    return aws.remediator(resource_types=(*POLICY_TYPES, types.IAM_ROLE), **overrides)


# -- pure planning -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("resource_type", [*POLICY_TYPES, types.DYNAMODB_STREAM])
@pytest.mark.parametrize(
    "principal",
    [{"AWS": EXTERNAL}, {"AWS": f"arn:aws:iam::{EXTERNAL}:root"}, {"AWS": f"arn:aws:iam::{EXTERNAL}:role/Reader"}],
)
def test_each_aws_principal_kind_gets_a_deny_of_exactly_its_actions(
    resource_type: str, principal: dict[str, str]
) -> None:
    arn = (
        f"arn:aws:dynamodb:{REGION}:{SANDBOX_ACCOUNT}:table/Orders/stream/2026-12-01T00:00:00.000"
        if resource_type == types.DYNAMODB_STREAM
        else KINDS[resource_type].arn
    )
    kind_type = types.DYNAMODB_TABLE if resource_type == types.DYNAMODB_STREAM else resource_type
    granting = _allow(kind_type, arn, principal)
    finding = _finding(resource_type, arn, principal, action=[KINDS[kind_type].action])
    plan = _plan(resource_type, _policy(granting), finding)
    assert (plan.decision, plan.reason) == ("remediate", "external_access_denied")
    assert statements(plan.policy_after)[0] == granting  # the Allow is never touched
    [deny] = plan.statements_added()
    assert deny["Effect"] == "Deny" and deny["Action"] in (KINDS[kind_type].action, [KINDS[kind_type].action])
    resources = list(_adapter(resource_type).resources(finding.resource))
    assert deny.get("Resource") == (resources or None)  # the type's Resource element (none in ECR)


@pytest.mark.parametrize("resource_type", POLICY_TYPES)
def test_a_public_grant_is_denied_to_everyone_outside_the_owner_account(resource_type: str) -> None:
    arn = KINDS[resource_type].arn
    finding = _finding(resource_type, arn, {"AWS": "*"}, isPublic=True)
    plan = _plan(resource_type, _policy(_allow(resource_type, arn, "*")), finding)
    assert plan.decision == "remediate"
    [deny] = plan.statements_added()
    assert deny["Principal"] in ("*", {"AWS": "*"}) and SANDBOX_ACCOUNT in json.dumps(deny["Condition"])


@pytest.mark.parametrize("resource_type", POLICY_TYPES)
def test_guardrails_zone_org_allowlist_exemption_own_and_protected(resource_type: str) -> None:
    arn = KINDS[resource_type].arn
    policy = _policy(_allow(resource_type, arn, {"AWS": EXTERNAL}))
    finding = _finding(resource_type, arn, {"AWS": EXTERNAL})
    trusted = Settings(**{**SETTINGS.__dict__, "trusted_account_ids": frozenset({EXTERNAL})})
    assert _plan(resource_type, policy, finding, trusted).reason == "principal_in_zone_of_trust"
    in_org = _finding(resource_type, arn, {"AWS": EXTERNAL}, condition={"aws:PrincipalOrgID": "o-abcdefghij"})
    org = Settings(**{**SETTINGS.__dict__, "trusted_org_id": "o-abcdefghij"})
    assert _plan(resource_type, policy, in_org, org).reason == "principal_in_zone_of_trust"
    allowed = Settings(**{**SETTINGS.__dict__, "allowed_principals": (EXTERNAL,)})
    assert _plan(resource_type, policy, finding, allowed).reason == "allowlisted_principal"
    tags = {SETTINGS.exemption_tag_key: "true"}
    assert _plan(resource_type, policy, finding, SETTINGS, **tags).reason == "exempt_tag"
    own = Settings(**{**SETTINGS.__dict__, "own_resource_arns": frozenset({arn})})
    assert _plan(resource_type, policy, finding, own).reason == "own_resource"
    protected = Settings(**{**SETTINGS.__dict__, "protected_resource_arns": frozenset({arn})})
    assert _plan(resource_type, policy, finding, protected).reason == "protected_resource"
    notify = Settings(**{**SETTINGS.__dict__, "mode": "notify"})
    assert _plan(resource_type, policy, finding, notify).reason == "notify_mode"


@pytest.mark.parametrize(
    ("resource_type", "limit", "unit"),
    [
        (types.SQS_QUEUE, 8192, "byte"),
        (types.SNS_TOPIC, 30720, "byte"),
        (types.SECRETS_MANAGER_SECRET, 20480, "character"),
        (types.ECR_REPOSITORY, 10240, "character"),
        (types.EFS_FILE_SYSTEM, 20000, "character"),
        (types.DYNAMODB_TABLE, 20480, "byte"),
    ],
)
def test_the_size_quota_edge(resource_type: str, limit: int, unit: str) -> None:
    """A policy the Deny would push over the quota is reported, nothing written; one that fits is contained."""
    arn = KINDS[resource_type].arn
    finding = _finding(resource_type, arn, {"AWS": EXTERNAL})
    granting = _allow(resource_type, arn, {"AWS": EXTERNAL})
    deny_size = len(compact(_plan(resource_type, _policy(granting), finding).policy_after)) - len(
        compact(_policy(granting))
    )

    def padded(size: int) -> dict[str, Any]:
        filler = {
            **_allow(resource_type, arn, {"AWS": SANDBOX_ACCOUNT}, sid="Filler"),
            "Condition": {"StringEquals": {"aws:SourceVpce": ""}},
        }
        base = len(compact(_policy(granting, filler)))
        filler["Condition"]["StringEquals"]["aws:SourceVpce"] = "v" * (size - base)
        return _policy(granting, filler)

    fits = _plan(resource_type, padded(limit - deny_size), finding)
    assert fits.decision == "remediate" and len(compact(fits.policy_after)) == limit
    over = _plan(resource_type, padded(limit - deny_size + 1), finding)
    assert (over.decision, over.reason) == ("notify", "policy_quota") and over.policy_after is None
    assert f"{limit}-{unit} quota" in over.summary


def test_sqs_statement_and_action_limits_are_enforced_before_any_write() -> None:
    arn = KINDS[types.SQS_QUEUE].arn
    finding = _finding(types.SQS_QUEUE, arn, {"AWS": EXTERNAL})
    others = [_allow(types.SQS_QUEUE, arn, {"AWS": SANDBOX_ACCOUNT}, sid=f"S{n}") for n in range(19)]
    granting = _allow(types.SQS_QUEUE, arn, {"AWS": EXTERNAL})
    full = _plan(types.SQS_QUEUE, _policy(granting, *others), finding)  # 20 statements + the Deny
    assert (full.decision, full.reason) == ("notify", "policy_quota") and "20-statement limit" in full.summary
    fits = _plan(types.SQS_QUEUE, _policy(granting, *others[:18]), finding)
    assert fits.decision == "remediate" and len(statements(fits.policy_after)) == SQS_LIMITS.max_statements
    many = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:PurgeQueue", "sqs:ListQueueTags"]  # fmt: skip
    wide = _finding(types.SQS_QUEUE, arn, {"AWS": EXTERNAL}, action=many)
    plan = _plan(types.SQS_QUEUE, _policy({**granting, "Action": "sqs:*"}), wide)
    assert (plan.decision, plan.reason) == ("notify", "policy_quota") and "8 actions, over the 7-action" in plan.summary


def test_a_directory_bucket_deny_names_the_session_action_only() -> None:
    arn = f"arn:aws:s3express:{REGION}:{SANDBOX_ACCOUNT}:bucket/data--use1-az4--x-s3"
    granting = {"Sid": "P", "Effect": "Allow", "Principal": {"AWS": EXTERNAL}, "Action": "s3express:*", "Resource": arn}
    finding = _finding(types.S3_DIRECTORY_BUCKET, arn, {"AWS": EXTERNAL}, action=["s3express:CreateSession"])
    plan = _plan(types.S3_DIRECTORY_BUCKET, _policy(granting), finding)
    [deny] = plan.statements_added()
    assert plan.decision == "remediate" and deny["Action"] in ("s3express:CreateSession", ["s3express:CreateSession"])
    assert deny["Resource"] == [arn]


class _Recorder:
    """A service client that answers what a test gives it and records each call."""

    def __init__(self, **answers: Any) -> None:
        self.answers = answers
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def call(**params: Any) -> Any:
            self.calls.append((name, params))
            answer = self.answers.get(name, {})
            return answer(**params) if callable(answer) else answer

        return call


def test_a_directory_bucket_policy_is_written_on_its_zonal_api_and_deleted_when_empty() -> None:
    client = _Recorder(get_bucket_policy={"Policy": json.dumps(_policy())})
    adapter = S3DirectoryBucketAdapter(client)  # type: ignore[arg-type]
    ref = adapter.ref(f"arn:aws:s3express:{REGION}:{SANDBOX_ACCOUNT}:bucket/data--use1-az4--x-s3", SANDBOX_ACCOUNT)
    state = adapter.read(ref)
    assert state is not None and state.tags == {}
    doc = _policy(
        {"Sid": "X", "Effect": "Deny", "Principal": "*", "Action": "s3express:CreateSession", "Resource": ref.arn}
    )
    assert adapter.write(ref, doc, state) is None and adapter.write(ref, _policy(), state) is None
    assert [c[0] for c in client.calls] == ["get_bucket_policy", "put_bucket_policy", "delete_bucket_policy"]
    assert client.calls[1][1] == {"Bucket": "data--use1-az4--x-s3", "Policy": compact(doc)}


def test_a_secret_policy_that_fails_validation_is_never_written() -> None:
    """ValidateResourcePolicy runs on the planned document; a failure the current policy does not share means
    nothing is written and the finding is reported with Secrets Manager's words. A failure both share (the public
    statement that caused the finding) is not the Deny's doing: written."""
    arn = KINDS[types.SECRETS_MANAGER_SECRET].arn
    current = _policy(_allow(types.SECRETS_MANAGER_SECRET, arn, "*"))
    planned = {
        **current,
        "Statement": [
            *current["Statement"],
            {"Sid": "D", "Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"},
        ],
    }

    def validate(**params: Any) -> dict[str, Any]:
        broad = {"CheckName": "BROAD_ACCESS_CHECK", "ErrorMessage": "grants public access"}
        lockout = {"CheckName": "LOCKOUT_CHECK", "ErrorMessage": "the caller loses access"}
        errors = [broad, lockout] if params["ResourcePolicy"] == compact(planned) else [broad]
        return {"PolicyValidationPassed": False, "ValidationErrors": errors}

    client = _Recorder(validate_resource_policy=validate)
    adapter = SecretAdapter(client)  # type: ignore[arg-type]
    ref = adapter.ref(arn, SANDBOX_ACCOUNT)
    state = PolicyState(arn, ref.name, {}, current)
    refused = adapter.write(ref, planned, state)
    assert refused is not None and refused[:2] == ("notify", "policy_rejected") and "LOCKOUT_CHECK" in refused[2]
    assert "BROAD_ACCESS_CHECK" not in refused[2]
    assert "put_resource_policy" not in [c[0] for c in client.calls]

    shared_only = _Recorder(
        validate_resource_policy={
            "PolicyValidationPassed": False,
            "ValidationErrors": [{"CheckName": "BROAD_ACCESS_CHECK"}],
        }
    )
    written = SecretAdapter(shared_only)  # type: ignore[arg-type]
    assert written.write(ref, planned, state) is None
    [put] = [c for c in shared_only.calls if c[0] == "put_resource_policy"]
    assert put[1]["BlockPublicPolicy"] is True and put[1]["ResourcePolicy"] == compact(planned)


# -- against moto --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("resource_type", POLICY_TYPES)
def test_a_finding_is_contained_announced_and_reverted_exactly(aws: Aws, resource_type: str) -> None:
    arn, get, put = KINDS[resource_type].create(aws)
    original = _policy(_allow(resource_type, arn, {"AWS": f"arn:aws:iam::{EXTERNAL}:root"}))
    put(original)
    finding = aws.standin.add_finding(
        resource=arn,
        resource_type=resource_type,
        principal={"AWS": EXTERNAL},
        action=[KINDS[resource_type].action],
        resource_owner_account=SANDBOX_ACCOUNT,
        publish=False,
    )
    remediator = _remediator(aws)
    [outcome] = remediator.process([_ref(aws, finding)])
    assert (outcome.decision, outcome.reason) == ("remediate", "external_access_denied"), outcome.summary
    after = get()
    assert after is not None and after["Statement"][0] == original["Statement"][0]
    assert [s["Effect"] for s in after["Statement"]] == ["Allow", "Deny"]
    remediator.announce([outcome], SANDBOX_ACCOUNT)
    [mail] = aws.emails()
    document = types.NOUN_AND_DOCUMENT[resource_type][1]
    assert (
        f"Added to the {document}:" in mail["Message"]
        and f"aa-remediate revert --finding-id {finding['id']}" in mail["Message"]
    )
    [again] = _remediator(aws).process([_ref(aws, finding)])  # redelivery
    assert (again.decision, again.reason) == ("skip", "already_contained") and get() == after
    later = _allow(resource_type, arn, {"AWS": SANDBOX_ACCOUNT}, sid="AddedLater")
    put({**after, "Statement": [*after["Statement"], later]})
    result = revert(remediator, finding["id"])
    assert result["resource_arn"] == arn
    assert get() == {**original, "Statement": [*original["Statement"], later]}  # exact, the later change kept


# EFS too on AWS; moto 5.2.5 does not implement DeleteFileSystemPolicy (500).
@pytest.mark.parametrize(
    "resource_type", [types.SQS_QUEUE, types.SECRETS_MANAGER_SECRET, types.ECR_REPOSITORY, types.DYNAMODB_TABLE]
)
def test_a_resource_without_a_policy_gets_one_and_revert_removes_it(aws: Aws, resource_type: str) -> None:
    """Access Analyzer would not report such a resource; a finding that raced the policy's removal still gets a
    Deny-only policy, and a revert leaves the resource as it was: no policy."""
    arn, get, _ = KINDS[resource_type].create(aws)
    assert get() is None
    finding = aws.standin.add_finding(
        resource=arn, resource_type=resource_type, principal={"AWS": EXTERNAL},
        action=[KINDS[resource_type].action], resource_owner_account=SANDBOX_ACCOUNT, publish=False,
    )  # fmt: skip
    remediator = _remediator(aws)
    [outcome] = remediator.process([_ref(aws, finding)])
    assert outcome.decision == "remediate" and [s["Effect"] for s in (get() or {})["Statement"]] == ["Deny"]
    revert(remediator, finding["id"])
    assert get() is None


@pytest.mark.parametrize(
    "resource_type", [types.SQS_QUEUE, types.SNS_TOPIC, types.SECRETS_MANAGER_SECRET, types.DYNAMODB_TABLE]
)
def test_two_findings_on_one_resource_at_once_are_both_contained(aws: Aws, resource_type: str) -> None:
    arn, get, put = KINDS[resource_type].create(aws)
    put(_policy(_allow(resource_type, arn, {"AWS": EXTERNAL}), _allow(resource_type, arn, {"AWS": OTHER}, sid="Other")))
    found = [
        aws.standin.add_finding(
            resource=arn,
            resource_type=resource_type,
            principal={"AWS": account},
            action=[KINDS[resource_type].action],
            resource_owner_account=SANDBOX_ACCOUNT,
            publish=False,
        )
        for account in (EXTERNAL, OTHER)
    ]
    outcomes = _remediator(aws).process([_ref(aws, f) for f in found])
    assert [o.decision for o in outcomes] == ["remediate", "remediate"]
    denied = json.dumps([s for s in (get() or {})["Statement"] if s["Effect"] == "Deny"])
    assert EXTERNAL in denied and OTHER in denied


def test_a_dynamodb_write_names_the_revision_it_was_planned_on(aws: Aws) -> None:
    """DynamoDB's conditional write: a policy changed since the read is never overwritten; the write raises
    Conflict (a retry on a fresh read) and the other writer's change stays."""
    arn, get, put = KINDS[types.DYNAMODB_TABLE].create(aws)
    put(_policy(_allow(types.DYNAMODB_TABLE, arn, {"AWS": EXTERNAL})))
    adapter = DynamoDbTableAdapter(aws.client("dynamodb"))
    ref = adapter.ref(arn, SANDBOX_ACCOUNT)
    read = adapter.read(ref)
    assert read is not None and read.revision
    theirs = _policy(_allow(types.DYNAMODB_TABLE, arn, {"AWS": OTHER}, sid="Theirs"))
    put(theirs)  # another writer, after our read
    with pytest.raises(Conflict):
        adapter.write(ref, _policy(), read)  # would have deleted their policy
    with pytest.raises(Conflict):
        adapter.write(ref, read.policy, read)
    assert get() == theirs
    fresh = adapter.read(ref)
    assert fresh is not None and adapter.write(ref, read.policy, fresh) is None and get() == read.policy


def test_an_exemption_tag_on_a_queue_keeps_its_access(aws: Aws) -> None:
    arn, get, put = KINDS[types.SQS_QUEUE].create(aws)
    original = _policy(_allow(types.SQS_QUEUE, arn, {"AWS": EXTERNAL}))
    put(original)
    aws.client("sqs").tag_queue(QueueUrl=aws.client("sqs").get_queue_url(QueueName="shared-queue")["QueueUrl"],
                                Tags={"access-analyzer-remediation:exempt": "true"})  # fmt: skip
    finding = aws.standin.add_finding(
        resource=arn, resource_type=types.SQS_QUEUE, principal={"AWS": EXTERNAL},
        action=["sqs:SendMessage"], resource_owner_account=SANDBOX_ACCOUNT, publish=False,
    )  # fmt: skip
    [outcome] = _remediator(aws).process([_ref(aws, finding)])
    assert (outcome.decision, outcome.reason) == ("notify", "exempt_tag") and get() == original


def test_every_policy_type_reads_with_few_calls(aws: Aws) -> None:
    """Calls per contained finding, one resource alone (the role's is 7)."""
    counts = {}
    for resource_type in POLICY_TYPES:
        arn, _, put = KINDS[resource_type].create(aws)
        put(_policy(_allow(resource_type, arn, {"AWS": EXTERNAL})))
        finding = aws.standin.add_finding(
            resource=arn, resource_type=resource_type, principal={"AWS": EXTERNAL},
            action=[KINDS[resource_type].action], resource_owner_account=SANDBOX_ACCOUNT, publish=False,
        )  # fmt: skip
        remediator = _remediator(aws)
        aws.calls.clear()
        [outcome] = remediator.process([_ref(aws, finding)])
        remediator.announce([outcome], SANDBOX_ACCOUNT)
        assert outcome.decision == "remediate"
        counts[resource_type] = sum(v for k, v in aws.calls.items() if k != "Publish")
    # As tests/unit/test_resources.py counts them (the role's 7): GetFinding, the resource's policy and its tags,
    # the lease, the write, records and outbox, commit, outbox clear; SQS also asks for the queue URL, Secrets
    # Manager validates the planned policy.
    assert counts == {
        types.SQS_QUEUE: 9,
        types.SNS_TOPIC: 8,
        types.SECRETS_MANAGER_SECRET: 9,
        types.ECR_REPOSITORY: 8,
        types.EFS_FILE_SYSTEM: 8,
        types.DYNAMODB_TABLE: 8,
    }, counts


def test_the_default_resource_ref_of_each_type_names_its_api_identifier() -> None:
    names = {t: ResourceRef.parse(t, KINDS[t].arn, SANDBOX_ACCOUNT).name for t in POLICY_TYPES}
    assert names == {
        types.SQS_QUEUE: "q",
        types.SNS_TOPIC: "t",
        types.SECRETS_MANAGER_SECRET: "db-AbCdEf",
        types.ECR_REPOSITORY: "team/app",
        types.EFS_FILE_SYSTEM: "fs-0123456789abcdef0",
        types.DYNAMODB_TABLE: "Orders",
    }
