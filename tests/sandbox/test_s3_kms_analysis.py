"""The stand-in's analysis of S3 buckets and KMS keys (sandbox.analysis) against moto, through the Access Analyzer API.

The Denies are rendered by the Lambda's own `OwnStatement.render`, so these tests hold the stand-in to the exact
statement shapes the remediation writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from access_analyzer_remediation.policy import ACCOUNT as ACCOUNT_KIND
from access_analyzer_remediation.policy import PRINCIPAL, PUBLIC, Exclusions, OwnStatement, sid_for
from sandbox.access_analyzer import AccessAnalyzerStandIn, TrustZone
from sandbox.analysis import Grants, remaining_access
from sandbox.moto_server import SandboxSession

from .conftest import ACCOUNT, EXTERNAL, FindingQueue, allow, trust

BUCKET = "partner-exports"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
OBJECTS = f"{BUCKET_ARN}/*"
BUCKET_RESOURCES = (BUCKET_ARN, OBJECTS)  # the Resource element of the tool's bucket statements
OTHER_CANONICAL_ID = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
TRUSTED = "111111111111"
EVENTS = Path(__file__).resolve().parents[1] / "events"


@pytest.fixture
def s3(aws: SandboxSession, standin: AccessAnalyzerStandIn) -> Any:
    client = aws.client("s3")
    standin.attach(s3_client=client)
    return client


@pytest.fixture
def kms(aws: SandboxSession, standin: AccessAnalyzerStandIn) -> Any:
    client = aws.client("kms")
    standin.attach(kms_client=client)
    return client


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def grant(principal: Any, action: Any, resource: Any = OBJECTS, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": resource, **extra}


def own_deny(
    kind: str, actions: list[str], values: list[str], resources: tuple[str, ...], **zone: Any
) -> dict[str, Any]:
    """The Deny exactly as the Lambda writes it (`OwnStatement.render`)."""
    exclusions = Exclusions(**zone)
    sid = sid_for(kind, actions, exclusions)
    return OwnStatement(sid, kind, tuple(sorted(actions)), exclusions, tuple(values), resources).render()


def active(standin: AccessAnalyzerStandIn, resource: str) -> list[dict[str, Any]]:
    return standin.findings(resource=resource, status="ACTIVE")


def scan(analyzer_client: Any, standin: AccessAnalyzerStandIn, resource: str) -> None:
    analyzer_client.start_resource_scan(analyzerArn=standin.analyzer_arn, resourceArn=resource)


def get(analyzer_client: Any, standin: AccessAnalyzerStandIn, finding_id: str) -> dict[str, Any]:
    finding: dict[str, Any] = analyzer_client.get_finding(analyzerArn=standin.analyzer_arn, id=finding_id)["finding"]
    return finding


# ================================================================================================ S3 bucket policy
def test_public_bucket_policy_is_an_active_public_finding_with_source_policy(
    s3: Any, standin: AccessAnalyzerStandIn, analyzer_client: Any, finding_queue: FindingQueue
) -> None:
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_policy(Bucket=BUCKET, Policy=policy(grant("*", "s3:GetObject")))

    (finding_id,) = standin.analyze_buckets().created

    finding = get(analyzer_client, standin, finding_id)
    assert finding["resourceType"] == "AWS::S3::Bucket" and finding["resource"] == BUCKET_ARN
    assert (finding["status"], finding["isPublic"], finding["principal"]) == ("ACTIVE", True, {"AWS": "*"})
    assert finding["action"] == ["s3:GetObject"] and finding["condition"] == {}
    assert finding["sources"] == [{"type": "POLICY"}] and finding["resourceOwnerAccount"] == ACCOUNT
    (event,) = finding_queue.drain()
    assert event["detail"]["id"] == finding_id and event["detail"]["resourceType"] == "AWS::S3::Bucket"
    assert event["detail"]["isPublic"] is True and "sources" not in event["detail"]  # GetFinding carries them


def test_cross_account_grant_is_reported_per_external_principal_and_the_zone_is_not(
    s3: Any, standin: AccessAnalyzerStandIn
) -> None:
    standin.zone = TrustZone(frozenset({ACCOUNT, TRUSTED}))
    s3.create_bucket(Bucket=BUCKET)
    principals = {"AWS": [f"arn:aws:iam::{EXTERNAL}:root", ACCOUNT, f"arn:aws:iam::{ACCOUNT}:role/Reader", TRUSTED]}
    statements = [
        grant(principals, ["s3:GetObject"]),
        grant({"AWS": EXTERNAL}, "s3:ListBucket", BUCKET_ARN, Condition={"StringEquals": {"s3:prefix": "exports/"}}),
        grant({"Service": "logging.s3.amazonaws.com"}, "s3:PutObject"),
        grant({"AWS": EXTERNAL}, "sqs:SendMessage"),  # not an S3 action: grants nothing on the bucket
        grant({"AWS": "444455556666"}, "s3:GetObject", "arn:aws:s3:::another-bucket/*"),  # another bucket
    ]
    s3.put_bucket_policy(Bucket=BUCKET, Policy=policy(*statements))

    standin.analyze_buckets()

    (finding,) = active(standin, BUCKET_ARN)
    assert (finding["principal"], finding["isPublic"]) == ({"AWS": EXTERNAL}, False)
    assert finding["action"] == ["s3:GetObject", "s3:ListBucket"]
    assert finding["condition"] == {"s3:prefix": "exports/"}
    assert finding["sources"] == [{"type": "POLICY"}]


def test_wildcard_actions_are_reported_as_the_policy_names_them(s3: Any, standin: AccessAnalyzerStandIn) -> None:
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_policy(
        Bucket=BUCKET,
        Policy=policy(grant({"AWS": EXTERNAL}, ["s3:Get*", "s3:ListBucket"], [BUCKET_ARN, OBJECTS]), grant("*", "*")),
    )

    standin.analyze_buckets()

    by_principal = {f["principal"]["AWS"]: f["action"] for f in active(standin, BUCKET_ARN)}
    assert by_principal == {EXTERNAL: ["s3:Get*", "s3:ListBucket"], "*": ["s3:*"]}


# ================================================================================================ S3 ACL and BPA
def test_public_acl_is_a_public_finding_with_source_bucket_acl(
    s3: Any, standin: AccessAnalyzerStandIn, analyzer_client: Any
) -> None:
    s3.create_bucket(Bucket=BUCKET, ACL="public-read")

    (finding_id,) = standin.analyze_buckets().created

    finding = get(analyzer_client, standin, finding_id)
    assert (finding["principal"], finding["isPublic"]) == ({"AWS": "*"}, True)
    assert finding["action"] == ["s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:ListBucketVersions"]
    assert finding["sources"] == [{"type": "BUCKET_ACL"}]


def test_acl_grant_to_another_accounts_canonical_user_is_cross_account(s3: Any, standin: AccessAnalyzerStandIn) -> None:
    s3.create_bucket(Bucket=BUCKET)
    owner = s3.get_bucket_acl(Bucket=BUCKET)["Owner"]["ID"]
    s3.put_bucket_acl(Bucket=BUCKET, GrantFullControl=f'id="{owner}"', GrantWrite=f'id="{OTHER_CANONICAL_ID}"')

    standin.analyze_buckets()

    (finding,) = active(standin, BUCKET_ARN)  # the owner's own grant is not external
    assert (finding["principal"], finding["isPublic"]) == ({"CanonicalUser": OTHER_CANONICAL_ID}, False)
    assert finding["action"] == ["s3:DeleteObject", "s3:PutObject"]
    assert finding["sources"] == [{"type": "BUCKET_ACL"}]


def test_policy_and_acl_access_of_one_principal_is_one_finding_with_both_sources(
    s3: Any, standin: AccessAnalyzerStandIn
) -> None:
    s3.create_bucket(Bucket=BUCKET, ACL="public-read")
    s3.put_bucket_policy(Bucket=BUCKET, Policy=policy(grant("*", "s3:GetObject")))

    standin.analyze_buckets()

    (finding,) = active(standin, BUCKET_ARN)
    assert finding["sources"] == [{"type": "POLICY"}, {"type": "BUCKET_ACL"}]
    assert finding["action"] == [
        "s3:GetObject",
        "s3:ListBucket",
        "s3:ListBucketMultipartUploads",
        "s3:ListBucketVersions",
    ]


def test_restrict_public_buckets_resolves_the_public_policy_findings_on_rescan(
    s3: Any, standin: AccessAnalyzerStandIn, analyzer_client: Any, finding_queue: FindingQueue
) -> None:
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_policy(Bucket=BUCKET, Policy=policy(grant("*", "s3:GetObject"), grant({"AWS": EXTERNAL}, "s3:*")))
    created = set(standin.analyze_buckets().created)
    assert len(created) == 2
    finding_queue.drain()

    s3.put_public_access_block(Bucket=BUCKET, PublicAccessBlockConfiguration={"RestrictPublicBuckets": True})
    scan(analyzer_client, standin, BUCKET_ARN)

    # S3 then limits a bucket with a public policy to AWS services and its own account: the cross-account grant too
    assert {get(analyzer_client, standin, i)["status"] for i in created} == {"RESOLVED"}
    assert {e["detail"]["id"] for e in finding_queue.drain() if e["detail"]["status"] == "RESOLVED"} == created
    assert active(standin, BUCKET_ARN) == []


def test_restrict_public_buckets_leaves_a_policy_that_is_not_public(s3: Any, standin: AccessAnalyzerStandIn) -> None:
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_policy(Bucket=BUCKET, Policy=policy(grant({"AWS": EXTERNAL}, "s3:GetObject")))
    s3.put_public_access_block(Bucket=BUCKET, PublicAccessBlockConfiguration={"RestrictPublicBuckets": True})

    standin.analyze_buckets()

    assert [f["principal"] for f in active(standin, BUCKET_ARN)] == [{"AWS": EXTERNAL}]


def test_ignore_public_acls_resolves_public_acl_findings_and_keeps_cross_account_ones(
    s3: Any, standin: AccessAnalyzerStandIn, analyzer_client: Any
) -> None:
    s3.create_bucket(Bucket=BUCKET)
    owner = s3.get_bucket_acl(Bucket=BUCKET)["Owner"]
    read = [
        {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"}, "Permission": "READ"},
        {"Grantee": {"Type": "CanonicalUser", "ID": OTHER_CANONICAL_ID}, "Permission": "READ"},
    ]
    s3.put_bucket_acl(Bucket=BUCKET, AccessControlPolicy={"Owner": owner, "Grants": read})
    created = standin.analyze_buckets().created
    assert {json.dumps(f["principal"]) for f in active(standin, BUCKET_ARN)} == {
        json.dumps({"AWS": "*"}),
        json.dumps({"CanonicalUser": OTHER_CANONICAL_ID}),
    }

    s3.put_public_access_block(Bucket=BUCKET, PublicAccessBlockConfiguration={"IgnorePublicAcls": True})
    scan(analyzer_client, standin, BUCKET_ARN)

    public = next(i for i in created if get(analyzer_client, standin, i)["principal"] == {"AWS": "*"})
    assert get(analyzer_client, standin, public)["status"] == "RESOLVED"
    assert [f["principal"] for f in active(standin, BUCKET_ARN)] == [{"CanonicalUser": OTHER_CANONICAL_ID}]


# ================================================================================================ the Lambda's Denies
DENY_CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "account": (
        grant({"AWS": f"arn:aws:iam::{EXTERNAL}:root"}, ["s3:GetObject", "s3:ListBucket"], [BUCKET_ARN, OBJECTS]),
        own_deny(ACCOUNT_KIND, ["s3:GetObject", "s3:ListBucket"], [EXTERNAL], BUCKET_RESOURCES),
    ),
    "principal-arn": (
        grant({"AWS": f"arn:aws:iam::{EXTERNAL}:role/Ci"}, "s3:GetObject"),
        own_deny(PRINCIPAL, ["s3:GetObject"], [f"arn:aws:iam::{EXTERNAL}:role*/Ci"], BUCKET_RESOURCES),
    ),
    "public-perimeter": (
        grant("*", ["s3:GetObject", "s3:ListBucket"], [BUCKET_ARN, OBJECTS]),
        own_deny(PUBLIC, ["s3:GetObject", "s3:ListBucket"], ["*"], BUCKET_RESOURCES, accounts=(ACCOUNT,)),
    ),
    "public-perimeter-with-zone-allowlist": (
        grant("*", "s3:GetObject"),
        own_deny(
            PUBLIC,
            ["s3:GetObject"],
            ["*"],
            BUCKET_RESOURCES,
            accounts=(ACCOUNT,),
            principal_arns=(f"arn:aws:iam::{ACCOUNT}:role/ops-*",),
        ),
    ),
    "public-perimeter-wildcard-action": (
        grant("*", "s3:Get*"),
        own_deny(PUBLIC, ["s3:Get*"], ["*"], BUCKET_RESOURCES, accounts=(ACCOUNT,)),
    ),
}


@pytest.mark.parametrize("case", sorted(DENY_CASES))
def test_each_deny_shape_the_lambda_writes_resolves_the_bucket_finding_on_rescan(
    case: str, s3: Any, standin: AccessAnalyzerStandIn, analyzer_client: Any, finding_queue: FindingQueue
) -> None:
    allow_statement, deny = DENY_CASES[case]
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_policy(Bucket=BUCKET, Policy=policy(allow_statement))
    (finding_id,) = standin.analyze_buckets().created
    finding_queue.drain()

    s3.put_bucket_policy(Bucket=BUCKET, Policy=policy(allow_statement, deny))
    scan(analyzer_client, standin, BUCKET_ARN)

    assert get(analyzer_client, standin, finding_id)["status"] == "RESOLVED"
    assert active(standin, BUCKET_ARN) == []
    assert [(e["detail"]["id"], e["detail"]["status"]) for e in finding_queue.drain()] == [(finding_id, "RESOLVED")]


def test_the_public_perimeter_also_contains_public_acl_access(
    s3: Any, standin: AccessAnalyzerStandIn, analyzer_client: Any
) -> None:
    s3.create_bucket(Bucket=BUCKET, ACL="public-read")
    (finding_id,) = standin.analyze_buckets().created
    actions = get(analyzer_client, standin, finding_id)["action"]

    s3.put_bucket_policy(
        Bucket=BUCKET, Policy=policy(own_deny(PUBLIC, actions, ["*"], BUCKET_RESOURCES, accounts=(ACCOUNT,)))
    )
    scan(analyzer_client, standin, BUCKET_ARN)

    assert get(analyzer_client, standin, finding_id)["status"] == "RESOLVED"


def test_a_perimeter_excluding_the_zone_leaves_in_zone_access_out_of_findings(
    s3: Any, standin: AccessAnalyzerStandIn, analyzer_client: Any
) -> None:
    standin.zone = TrustZone(frozenset({ACCOUNT, TRUSTED}))
    s3.create_bucket(Bucket=BUCKET)
    in_zone = grant({"AWS": [f"arn:aws:iam::{ACCOUNT}:role/Reader", TRUSTED]}, "s3:GetObject")
    public = grant("*", "s3:GetObject")
    s3.put_bucket_policy(Bucket=BUCKET, Policy=policy(in_zone, public))
    (finding_id,) = standin.analyze_buckets().created  # only the public access
    perimeter = own_deny(PUBLIC, ["s3:GetObject"], ["*"], BUCKET_RESOURCES, accounts=(ACCOUNT, TRUSTED))

    s3.put_bucket_policy(Bucket=BUCKET, Policy=policy(in_zone, public, perimeter))
    result = standin.scan_bucket(BUCKET_ARN)

    assert result.resolved == (finding_id,) and result.created == ()
    assert standin.findings(resource=BUCKET_ARN, status="ACTIVE") == []


def test_an_allowlisted_external_principal_keeps_its_access_narrowed_by_the_condition(
    s3: Any, standin: AccessAnalyzerStandIn
) -> None:
    allowlisted = f"arn:aws:iam::{EXTERNAL}:role/ci-*"
    s3.create_bucket(Bucket=BUCKET)
    public = grant("*", "s3:GetObject")
    s3.put_bucket_policy(Bucket=BUCKET, Policy=policy(public))
    (old,) = standin.analyze_buckets().created
    deny = own_deny(
        PUBLIC, ["s3:GetObject"], ["*"], BUCKET_RESOURCES, accounts=(ACCOUNT,), principal_arns=(allowlisted,)
    )

    s3.put_bucket_policy(Bucket=BUCKET, Policy=policy(public, deny))
    result = standin.scan_bucket(BUCKET_ARN)

    assert result.resolved == (old,)
    (new,) = active(standin, BUCKET_ARN)
    assert (new["principal"], new["condition"]) == ({"AWS": "*"}, {"aws:PrincipalArn": allowlisted})


@pytest.mark.parametrize(
    "deny",
    [
        own_deny(ACCOUNT_KIND, ["s3:GetObject"], ["444455556666"], BUCKET_RESOURCES),  # another account
        own_deny(ACCOUNT_KIND, ["s3:GetObject"], [EXTERNAL], (BUCKET_ARN,)),  # the bucket, not its objects
        own_deny(ACCOUNT_KIND, ["s3:GetObject"], [EXTERNAL], (f"{BUCKET_ARN}/logs/*",)),  # some objects only
        own_deny(ACCOUNT_KIND, ["s3:PutObject"], [EXTERNAL], BUCKET_RESOURCES),  # another action
        own_deny(ACCOUNT_KIND, ["s3:GetObject"], [EXTERNAL], BUCKET_RESOURCES, org_id="o-ours"),  # org kept
    ],
    ids=["other-account", "bucket-only", "prefix-only", "other-action", "organization-excluded"],
)
def test_denies_that_do_not_cover_the_grant_leave_a_finding(
    deny: dict[str, Any], s3: Any, standin: AccessAnalyzerStandIn
) -> None:
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_policy(Bucket=BUCKET, Policy=policy(grant({"AWS": EXTERNAL}, "s3:GetObject"), deny))

    standin.analyze_buckets()

    (finding,) = active(standin, BUCKET_ARN)
    assert finding["principal"] == {"AWS": EXTERNAL} and finding["action"] == ["s3:GetObject"]


def test_wildcard_grants_meet_denies_by_pattern() -> None:
    zone = TrustZone(frozenset({ACCOUNT}))
    granted = {("AWS", EXTERNAL): Grants({"s3:Get*": {OBJECTS}})}

    def left(deny: dict[str, Any]) -> Any:
        return remaining_access(granted, [deny], zone)

    base = {"Effect": "Deny", "Principal": {"AWS": EXTERNAL}, "Resource": OBJECTS}
    assert left({**base, "Action": "s3:*"}) == {}
    assert left({**base, "Action": "s3:Get*"}) == {}
    assert left({**base, "Action": "s3:GetObject"}) != {}  # s3:GetObjectAcl is still granted
    assert left({**base, "NotAction": "s3:PutObject"}) == {}  # denies everything but PutObject
    assert left({**base, "NotAction": "s3:GetObjectAcl"}) != {}  # spares something s3:Get* grants


# ================================================================================================ bucket lifecycle
def test_analyze_resolves_deleted_buckets_and_opens_new_exposure(s3: Any, standin: AccessAnalyzerStandIn) -> None:
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_policy(Bucket=BUCKET, Policy=policy(grant({"AWS": EXTERNAL}, "s3:GetObject")))
    (first,) = standin.analyze().created
    s3.delete_bucket_policy(Bucket=BUCKET)
    s3.delete_bucket(Bucket=BUCKET)
    s3.create_bucket(Bucket="public-site", ACL="public-read")

    result = standin.analyze()

    assert result.resolved == (first,)
    (new,) = result.created
    assert [f["id"] for f in active(standin, "arn:aws:s3:::public-site")] == [new]
    assert standin.analyze().created == ()  # nothing changed: nothing new


def test_list_findings_v2_filters_on_the_bucket_resource_type(
    aws: SandboxSession, s3: Any, kms: Any, standin: AccessAnalyzerStandIn, analyzer_client: Any
) -> None:
    aws.client("iam").create_role(RoleName="Partner", AssumeRolePolicyDocument=trust(allow({"AWS": EXTERNAL})))
    s3.create_bucket(Bucket=BUCKET, ACL="public-read")
    key = kms.create_key()["KeyMetadata"]
    kms.create_grant(KeyId=key["Arn"], GranteePrincipal=f"arn:aws:iam::{EXTERNAL}:root", Operations=["Decrypt"])
    assert len(standin.analyze().created) == 3

    pages = analyzer_client.get_paginator("list_findings_v2").paginate(
        analyzerArn=standin.analyzer_arn, filter={"resourceType": {"eq": ["AWS::S3::Bucket"]}}
    )
    found = [f for page in pages for f in page["findings"]]

    assert [(f["resource"], f["resourceType"], f["findingType"]) for f in found] == [
        (BUCKET_ARN, "AWS::S3::Bucket", "ExternalAccess")
    ]


# ================================================================================================ KMS keys
def test_the_default_key_policy_is_inside_the_zone(kms: Any, standin: AccessAnalyzerStandIn) -> None:
    kms.create_key()

    assert standin.analyze_keys().created == ()
    assert standin.findings() == []


def test_key_policy_cross_account_grant_is_a_finding(
    kms: Any, standin: AccessAnalyzerStandIn, analyzer_client: Any
) -> None:
    default = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    partner = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{EXTERNAL}:root"},
        "Action": ["kms:Decrypt", "kms:DescribeKey"],
        "Resource": "*",
    }
    key = kms.create_key(Policy=policy(default, partner))["KeyMetadata"]

    (finding_id,) = standin.analyze_keys().created

    finding = get(analyzer_client, standin, finding_id)
    assert (finding["resourceType"], finding["resource"]) == ("AWS::KMS::Key", key["Arn"])
    assert (finding["principal"], finding["isPublic"]) == ({"AWS": EXTERNAL}, False)
    assert finding["action"] == ["kms:Decrypt", "kms:DescribeKey"]
    assert finding["resourceOwnerAccount"] == ACCOUNT and "sources" not in finding


def test_our_deny_in_the_key_policy_resolves_the_finding(
    kms: Any, standin: AccessAnalyzerStandIn, analyzer_client: Any, finding_queue: FindingQueue
) -> None:
    default = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    partner = {"Effect": "Allow", "Principal": {"AWS": EXTERNAL}, "Action": "kms:*", "Resource": "*"}
    key = kms.create_key(Policy=policy(default, partner))["KeyMetadata"]
    (finding_id,) = standin.analyze_keys().created
    assert get(analyzer_client, standin, finding_id)["action"] == ["kms:*"]
    finding_queue.drain()

    # moto then refuses DescribeKey to everyone (its Deny check ignores principals): the stand-in reads on
    kms.put_key_policy(
        KeyId=key["KeyId"],
        PolicyName="default",
        Policy=policy(default, partner, own_deny(ACCOUNT_KIND, ["kms:*"], [EXTERNAL], ("*",))),
    )
    scan(analyzer_client, standin, key["Arn"])

    assert get(analyzer_client, standin, finding_id)["status"] == "RESOLVED"
    assert [e["detail"]["status"] for e in finding_queue.drain()] == ["RESOLVED"]


def test_grant_to_an_external_principal_is_a_finding_with_its_operations(
    kms: Any, standin: AccessAnalyzerStandIn, analyzer_client: Any
) -> None:
    key = kms.create_key()["KeyMetadata"]
    grantee = f"arn:aws:iam::{EXTERNAL}:role/Ci"
    kms.create_grant(KeyId=key["Arn"], GranteePrincipal=grantee, Operations=["Decrypt", "GenerateDataKey"])
    kms.create_grant(KeyId=key["Arn"], GranteePrincipal=f"arn:aws:iam::{ACCOUNT}:role/App", Operations=["Encrypt"])

    (finding_id,) = standin.analyze_keys().created

    finding = get(analyzer_client, standin, finding_id)
    assert finding["principal"] == {"AWS": grantee}
    assert finding["action"] == ["kms:Decrypt", "kms:GenerateDataKey"]


def test_revoking_the_grant_resolves_the_finding(
    kms: Any, standin: AccessAnalyzerStandIn, analyzer_client: Any, finding_queue: FindingQueue
) -> None:
    key = kms.create_key()["KeyMetadata"]
    grant_id = kms.create_grant(
        KeyId=key["Arn"], GranteePrincipal=f"arn:aws:iam::{EXTERNAL}:root", Operations=["Decrypt"]
    )["GrantId"]
    (finding_id,) = standin.analyze_keys().created
    assert get(analyzer_client, standin, finding_id)["principal"] == {"AWS": EXTERNAL}
    finding_queue.drain()

    kms.revoke_grant(KeyId=key["Arn"], GrantId=grant_id)
    scan(analyzer_client, standin, key["Arn"])

    assert get(analyzer_client, standin, finding_id)["status"] == "RESOLVED"
    assert [(e["detail"]["id"], e["detail"]["status"]) for e in finding_queue.drain()] == [(finding_id, "RESOLVED")]


@pytest.mark.parametrize(
    ("grantee", "kind", "value"),
    [
        (f"arn:aws:iam::{EXTERNAL}:root", ACCOUNT_KIND, EXTERNAL),
        (f"arn:aws:iam::{EXTERNAL}:role/Ci", PRINCIPAL, f"arn:aws:iam::{EXTERNAL}:role*/Ci"),
    ],
    ids=["account", "principal-arn"],
)
def test_our_deny_in_the_key_policy_also_contains_a_grant(
    grantee: str, kind: str, value: str, kms: Any, standin: AccessAnalyzerStandIn
) -> None:
    key = kms.create_key()["KeyMetadata"]
    kms.create_grant(KeyId=key["Arn"], GranteePrincipal=grantee, Operations=["Decrypt", "GenerateDataKey"])
    (finding_id,) = standin.analyze_keys().created
    document = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    document["Statement"].append(own_deny(kind, ["kms:Decrypt"], [value], ("*",)))
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(document))

    partly = standin.scan_key(key["Arn"])

    assert partly.resolved == (finding_id,)  # partly denied: the finding changes
    (left,) = active(standin, key["Arn"])
    assert left["action"] == ["kms:GenerateDataKey"]
    document["Statement"][-1] = own_deny(kind, ["kms:Decrypt", "kms:GenerateDataKey"], [value], ("*",))
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(document))

    assert standin.scan_key(key["Arn"]).resolved == (left["id"],)
    assert active(standin, key["Arn"]) == []


def test_aws_managed_keys_have_no_finding(kms: Any, standin: AccessAnalyzerStandIn) -> None:
    # moto creates only customer managed keys: answer DescribeKey as AWS does for an aws/<service> key
    def aws_managed(parsed: dict[str, Any], **_: Any) -> None:
        parsed["KeyMetadata"]["KeyManager"] = "AWS"

    open_policy = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*"}
    key = kms.create_key(Policy=policy(open_policy))["KeyMetadata"]
    kms.create_grant(KeyId=key["Arn"], GranteePrincipal=f"arn:aws:iam::{EXTERNAL}:root", Operations=["Decrypt"])
    assert len(standin.scan_key(key["Arn"]).created) == 2  # customer managed: public and cross-account
    kms.meta.events.register("after-call.kms.DescribeKey", aws_managed)

    result = standin.analyze_keys()

    assert len(result.resolved) == 2 and result.created == ()
    assert standin.findings(status="ACTIVE") == []


# ================================================================================================ the sample events
SAMPLE_SETUPS = {
    "s3_bucket_public.json": ("s3", policy(grant("*", "s3:GetObject")), None),
    "s3_bucket_cross_account.json": (
        "s3",
        policy(grant({"AWS": EXTERNAL}, ["s3:GetObject", "s3:ListBucket"], [BUCKET_ARN, OBJECTS])),
        None,
    ),
    "s3_bucket_acl.json": ("s3", None, "public-read"),
    "kms_key_cross_account.json": (
        "kms",
        policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Principal": {"AWS": EXTERNAL},
                "Action": ["kms:Decrypt", "kms:DescribeKey"],
                "Resource": "*",
            },
        ),
        None,
    ),
    "kms_key_grant.json": ("kms", None, f"arn:aws:iam::{EXTERNAL}:role/Ci"),
}


@pytest.mark.parametrize("name", sorted(SAMPLE_SETUPS))
def test_sample_event_reports_what_the_analysis_reports(
    name: str, s3: Any, kms: Any, standin: AccessAnalyzerStandIn
) -> None:
    service, document, extra = SAMPLE_SETUPS[name]
    sample = json.loads((EVENTS / name).read_text())["detail"]
    if service == "s3":
        s3.create_bucket(Bucket=BUCKET, **({"ACL": extra} if extra else {}))
        if document:
            s3.put_bucket_policy(Bucket=BUCKET, Policy=document)
        standin.analyze_buckets()
    else:
        key = kms.create_key(**({"Policy": document} if document else {}))["KeyMetadata"]
        if extra:
            kms.create_grant(KeyId=key["Arn"], GranteePrincipal=extra, Operations=["Decrypt", "GenerateDataKey"])
        standin.analyze_keys()

    (event,) = standin.emitted_events
    fields = ("status", "resourceType", "principal", "action", "condition", "isPublic", "isDeleted")
    assert {f: event["detail"][f] for f in fields} == {f: sample[f] for f in fields}
