"""The stand-in's policy checks at the wire: ValidatePolicy, CheckNoNewAccess, CheckNoPublicAccess and
StartResourceScan."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.access_analyzer import AccessAnalyzerStandIn
from sandbox.analysis.checks import MAX_DOCUMENT_CHARS, glob_covers

from .conftest import ACCOUNT, EXTERNAL

BUCKET = "arn:aws:s3:::shared-bucket"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ORG = "o-a1b2c3d4e5"


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def doc(*statements: dict[str, Any], version: str | None = "2012-10-17") -> str:
    document: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        document = {"Version": version, **document}
    return json.dumps(document)


def public_read(sid: str = "PublicRead", resource: Any = f"{BUCKET}/*", **extra: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": resource, **extra}


def partner_read(sid: str = "PartnerRead") -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{EXTERNAL}:root"},
        "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": [BUCKET, f"{BUCKET}/*"],
    }


def public_perimeter(sid: str = "AccessAnalyzerDenyPublic0A1B2C3D", resource: Any = None) -> dict[str, Any]:
    """The remediation's public perimeter Deny."""
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Condition": {
            "StringNotEqualsIfExists": {"aws:PrincipalAccount": [ACCOUNT], "aws:PrincipalOrgID": ORG},
            "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
        },
    }
    statement["Resource"] = resource if resource is not None else [BUCKET, f"{BUCKET}/*"]
    return statement


def deny_partner(sid: str = "AccessAnalyzerDenyAws0A1B2C3D") -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": {"AWS": [EXTERNAL]},
        "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": [BUCKET, f"{BUCKET}/*"],
    }


def codes(findings: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(f["findingType"], f["issueCode"]) for f in findings]


# ======================================================================================================= ValidatePolicy
def test_a_clean_document_has_no_findings(standin: AccessAnalyzerStandIn, analyzer_client: Any) -> None:
    clean = doc(partner_read(), deny_partner())
    response = analyzer_client.validate_policy(
        policyDocument=clean, policyType="RESOURCE_POLICY", validatePolicyResourceType="AWS::S3::Bucket"
    )
    assert response["findings"] == []
    assert "nextToken" not in response
    identity = doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    assert analyzer_client.validate_policy(policyDocument=identity, policyType="IDENTITY_POLICY")["findings"] == []
    assert standin.calls["ValidatePolicy"] == 2
    assert [name for name, _ in standin.request_log] == ["ValidatePolicy", "ValidatePolicy"]


def test_invalid_json_is_one_error_at_the_offending_character(analyzer_client: Any) -> None:
    text = '{"Version": "2012-10-17",\n "Statement": [}'
    (finding,) = analyzer_client.validate_policy(policyDocument=text, policyType="IDENTITY_POLICY")["findings"]
    assert (finding["findingType"], finding["issueCode"]) == ("ERROR", "JSON_SYNTAX_ERROR")
    assert finding["learnMoreLink"].endswith("#access-analyzer-reference-policy-checks-error-json-syntax-error")
    start = finding["locations"][0]["span"]["start"]
    assert (start["line"], start["column"], start["offset"]) == (2, 15, text.index("}"))


@pytest.mark.parametrize(
    ("document", "policy_type", "expected"),
    [
        (json.dumps({"Version": "2012-10-17"}), "IDENTITY_POLICY", [("ERROR", "MISSING_STATEMENT")]),
        (json.dumps({"Version": "2012-10-17", "Statement": []}), "IDENTITY_POLICY", [("ERROR", "MISSING_STATEMENT")]),
        (
            doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, version=None),
            "IDENTITY_POLICY",
            [("WARNING", "MISSING_VERSION")],
        ),
        (
            doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, version="2020-01-01"),
            "IDENTITY_POLICY",
            [("ERROR", "INVALID_VERSION")],
        ),
        (json.dumps(["not", "an", "object"]), "IDENTITY_POLICY", [("ERROR", "DATA_TYPE_MISMATCH")]),
        (
            doc({"Effect": "Permit", "Action": "s3:*", "Resource": "*"}),
            "IDENTITY_POLICY",
            [("ERROR", "INVALID_EFFECT")],
        ),
        (doc({"Action": "s3:*", "Resource": "*"}), "IDENTITY_POLICY", [("ERROR", "MISSING_EFFECT")]),
        (doc({"Effect": "Allow", "Resource": "*"}), "IDENTITY_POLICY", [("ERROR", "MISSING_ACTION")]),
        (doc({"Effect": "Allow", "Action": "s3:*"}), "IDENTITY_POLICY", [("ERROR", "MISSING_RESOURCE")]),
        (
            doc({"Effect": "Allow", "Principal": {"AWS": EXTERNAL}, "Action": "s3:*", "Resource": "*"}),
            "IDENTITY_POLICY",
            [("ERROR", "UNSUPPORTED_PRINCIPAL")],
        ),
        (
            doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/*"}),
            "RESOURCE_POLICY",
            [("ERROR", "MISSING_PRINCIPAL")],
        ),
        (
            doc({"Sid": "deny-partner", "Effect": "Deny", "Principal": {"AWS": EXTERNAL}, "Action": "sts:AssumeRole"}),
            "RESOURCE_POLICY",
            [("ERROR", "UNSUPPORTED_SID")],
        ),
        (
            doc(partner_read("Same"), {**deny_partner(), "Sid": "Same"}),
            "RESOURCE_POLICY",
            [("ERROR", "UNIQUE_SIDS_REQUIRED")],
        ),
        (doc(public_read()), "RESOURCE_POLICY", [("SECURITY_WARNING", "WILDCARD_PRINCIPAL_WITHOUT_CONDITION")]),
        (
            doc({**partner_read(), "Colour": "red"}),
            "RESOURCE_POLICY",
            [("ERROR", "INVALID_POLICY_ELEMENT")],
        ),
        (
            doc({**partner_read(), "NotAction": "s3:PutObject"}),
            "RESOURCE_POLICY",
            [("ERROR", "UNSUPPORTED_ELEMENT_COMBINATION")],
        ),
        (
            doc({**partner_read(), "Principal": {"Account": EXTERNAL}}),
            "RESOURCE_POLICY",
            [("ERROR", "INVALID_PRINCIPAL_KEY")],
        ),
    ],
)
def test_each_modelled_check(analyzer_client: Any, document: str, policy_type: str, expected: list[Any]) -> None:
    findings = analyzer_client.validate_policy(policyDocument=document, policyType=policy_type)["findings"]
    assert codes(findings) == expected
    assert all(f["learnMoreLink"].startswith("https://docs.aws.amazon.com/IAM/") for f in findings)
    assert all(f["locations"] and f["findingDetails"] for f in findings)


def test_public_principal_with_a_condition_is_no_security_warning(analyzer_client: Any) -> None:
    conditioned = public_read(Condition={"StringEquals": {"aws:PrincipalOrgID": ORG}})
    findings = analyzer_client.validate_policy(policyDocument=doc(conditioned), policyType="RESOURCE_POLICY")
    assert findings["findings"] == []


def test_locations_point_at_the_element(analyzer_client: Any) -> None:
    text = doc(
        partner_read(), {"Sid": "bad-sid", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}
    )
    (finding,) = analyzer_client.validate_policy(policyDocument=text, policyType="RESOURCE_POLICY")["findings"]
    (location,) = finding["locations"]
    assert location["path"] == [{"value": "Statement"}, {"index": 1}, {"value": "Sid"}]
    start, end = location["span"]["start"]["offset"], location["span"]["end"]["offset"]
    assert text[start:end] == '"bad-sid"'


def test_trust_policies_need_no_resource_but_buckets_do(analyzer_client: Any) -> None:
    trust = doc({"Effect": "Allow", "Principal": {"AWS": EXTERNAL}, "Action": "sts:AssumeRole"})
    as_trust = analyzer_client.validate_policy(
        policyDocument=trust,
        policyType="RESOURCE_POLICY",
        validatePolicyResourceType="AWS::IAM::AssumeRolePolicyDocument",
    )
    assert as_trust["findings"] == []
    as_bucket = analyzer_client.validate_policy(
        policyDocument=trust, policyType="RESOURCE_POLICY", validatePolicyResourceType="AWS::S3::Bucket"
    )
    assert codes(as_bucket["findings"]) == [("ERROR", "MISSING_RESOURCE")]


def test_validate_policy_pages_with_max_results(analyzer_client: Any) -> None:
    statements = [{"Sid": f"bad-{n}", "Effect": "Allow", "Action": "s3:*", "Resource": "*"} for n in range(7)]
    text = doc(*statements)
    pages: list[list[dict[str, Any]]] = []
    kwargs: dict[str, Any] = {"policyDocument": text, "policyType": "IDENTITY_POLICY", "maxResults": 3}
    while True:
        response = analyzer_client.validate_policy(**kwargs)
        pages.append(response["findings"])
        if "nextToken" not in response:
            break
        kwargs["nextToken"] = response["nextToken"]
    assert [len(page) for page in pages] == [3, 3, 1]
    indexes = [f["locations"][0]["path"][1]["index"] for page in pages for f in page]
    assert indexes == list(range(7))
    paginated = analyzer_client.get_paginator("validate_policy").paginate(
        policyDocument=text, policyType="IDENTITY_POLICY"
    )
    assert sum(len(page["findings"]) for page in paginated) == 7
    with pytest.raises(ClientError) as foreign:  # a token of another document
        analyzer_client.validate_policy(
            policyDocument=doc(statements[0]), policyType="IDENTITY_POLICY", nextToken=kwargs["nextToken"]
        )
    assert _error(foreign) == ("ValidationException", 400)


def test_validate_policy_rejects_bad_enums_and_oversized_documents(analyzer_client: Any) -> None:
    clean = doc(partner_read())
    with pytest.raises(ClientError) as bad_type:
        analyzer_client.validate_policy(policyDocument=clean, policyType="BUCKET_POLICY")
    assert _error(bad_type) == ("ValidationException", 400)
    assert "policyType" in bad_type.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as bad_resource_type:
        analyzer_client.validate_policy(
            policyDocument=clean, policyType="RESOURCE_POLICY", validatePolicyResourceType="AWS::KMS::Key"
        )
    assert _error(bad_resource_type) == ("ValidationException", 400)
    huge = doc(*[{**partner_read(f"S{n}")} for n in range(MAX_DOCUMENT_CHARS // 150)])
    assert len(huge) > MAX_DOCUMENT_CHARS
    with pytest.raises(ClientError) as oversized:
        analyzer_client.validate_policy(policyDocument=huge, policyType="RESOURCE_POLICY")
    assert _error(oversized) == ("ValidationException", 400)


# ===================================================================================================== CheckNoNewAccess
def check_new(client: Any, new: str, existing: str, policy_type: str = "RESOURCE_POLICY") -> dict[str, Any]:
    response: dict[str, Any] = client.check_no_new_access(
        newPolicyDocument=new, existingPolicyDocument=existing, policyType=policy_type
    )
    return response


def test_the_tools_own_case_appending_denies_passes(standin: AccessAnalyzerStandIn, analyzer_client: Any) -> None:
    existing = doc(public_read(), partner_read())
    new = doc(public_read(), partner_read(), deny_partner(), public_perimeter())
    response = check_new(analyzer_client, new, existing)
    assert response["result"] == "PASS"
    assert response["reasons"] == []
    assert standin.calls["CheckNoNewAccess"] == 1
    assert standin.request_log[-1][0] == "CheckNoNewAccess"


@pytest.mark.parametrize(
    "new_statements",
    [
        pytest.param([partner_read()], id="a statement removed"),
        pytest.param([{**partner_read(), "Action": "s3:GetObject"}], id="fewer actions"),
        pytest.param([{**partner_read(), "Resource": f"{BUCKET}/reports/*"}], id="narrower resource"),
        pytest.param(
            [{**partner_read(), "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}], id="condition added"
        ),
        pytest.param([{**partner_read(), "Principal": {"AWS": EXTERNAL}}], id="root ARN as the account id"),
        pytest.param([{**partner_read(), "Sid": "Renamed"}], id="renamed Sid"),
    ],
)
def test_obviously_narrower_passes(analyzer_client: Any, new_statements: list[dict[str, Any]]) -> None:
    existing = doc(partner_read(), public_read())
    assert check_new(analyzer_client, doc(*new_statements), existing)["result"] == "PASS"


@pytest.mark.parametrize(
    ("new_statement", "why"),
    [
        pytest.param({**partner_read(), "Action": "s3:*"}, "wider action", id="wider action"),
        pytest.param({**partner_read(), "Action": ["s3:GetObject", "s3:PutObject"]}, "extra action", id="extra"),
        pytest.param({**partner_read(), "Action": "s3:GetObjec?"}, "? wildcard", id="question mark"),
        pytest.param({**partner_read(), "Resource": "*"}, "wider resource", id="wider resource"),
        pytest.param({**partner_read(), "Principal": {"AWS": "111122223333"}}, "other principal", id="principal"),
        pytest.param({**partner_read(), "Principal": "*"}, "public", id="public"),
        pytest.param({**partner_read(), "NotAction": "s3:DeleteObject", "Action": None}, "NotAction", id="notaction"),
        pytest.param(
            {**partner_read(), "NotPrincipal": {"AWS": EXTERNAL}, "Principal": None}, "NotPrincipal", id="notprincipal"
        ),
    ],
)
def test_anything_possibly_wider_fails_with_the_statement(
    analyzer_client: Any, new_statement: dict[str, Any], why: str
) -> None:
    statement = {k: v for k, v in new_statement.items() if v is not None}
    existing = doc(partner_read())
    response = check_new(analyzer_client, doc(deny_partner(), {**statement, "Sid": "Changed"}), existing)
    assert response["result"] == "FAIL", why
    assert response["reasons"] == [
        {"description": response["reasons"][0]["description"], "statementIndex": 1, "statementId": "Changed"}
    ]
    assert "new access" in response["message"]


def test_conditions_narrow_only_when_every_existing_one_stays(analyzer_client: Any) -> None:
    conditioned = {**partner_read(), "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG}}}
    existing = doc(conditioned)
    assert check_new(analyzer_client, doc(partner_read()), existing)["result"] == "FAIL"  # condition dropped
    widened = {**partner_read(), "Condition": {"StringEquals": {"aws:PrincipalOrgID": [ORG, "o-other00000"]}}}
    assert check_new(analyzer_client, doc(widened), existing)["result"] == "FAIL"  # more values: wider
    both = {**partner_read(), "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG, "aws:SourceVpc": "vpc-1"}}}
    assert check_new(analyzer_client, doc(both), existing)["result"] == "PASS"


def test_a_removed_or_changed_deny_fails(analyzer_client: Any) -> None:
    existing = doc(public_read(), public_perimeter())
    removed = check_new(analyzer_client, doc(public_read()), existing)
    assert removed["result"] == "FAIL"
    assert "Deny statement 1" in removed["reasons"][0]["description"]
    narrowed_deny = public_perimeter(resource=f"{BUCKET}/private/*")
    assert check_new(analyzer_client, doc(public_read(), narrowed_deny), existing)["result"] == "FAIL"


def test_a_wildcard_reference_policy_covers_named_principals(analyzer_client: Any) -> None:
    reference = doc({"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"})
    assert check_new(analyzer_client, doc(partner_read()), reference)["result"] == "PASS"
    assert check_new(analyzer_client, doc(partner_read()), doc(deny_partner(), partner_read()))["result"] == "FAIL"


def test_identity_policies_and_trust_policies(analyzer_client: Any) -> None:
    existing = doc({"Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": f"{BUCKET}/*"})
    narrower = doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/a/*"})
    wider = doc({"Effect": "Allow", "Action": "s3:Put*", "Resource": f"{BUCKET}/*"})
    assert check_new(analyzer_client, narrower, existing, "IDENTITY_POLICY")["result"] == "PASS"
    assert check_new(analyzer_client, wider, existing, "IDENTITY_POLICY")["result"] == "FAIL"
    trust = {"Effect": "Allow", "Principal": {"AWS": EXTERNAL}, "Action": "sts:AssumeRole"}
    deny = {
        "Sid": "AccessAnalyzerDenyAws0A1B2C3D",
        "Effect": "Deny",
        "Principal": {"AWS": [EXTERNAL]},
        "Action": "sts:AssumeRole",
    }
    assert check_new(analyzer_client, doc(trust, deny), doc(trust))["result"] == "PASS"
    assert check_new(analyzer_client, doc({**trust, "Action": "sts:*"}), doc(trust))["result"] == "FAIL"


def test_a_version_change_fails(analyzer_client: Any) -> None:
    statement = partner_read()
    response = check_new(analyzer_client, doc(statement), doc(statement, version=None))
    assert response["result"] == "FAIL"
    assert "Version" in response["reasons"][0]["description"]
    assert "statementIndex" not in response["reasons"][0]


@pytest.mark.parametrize(
    ("new", "existing", "member"),
    [
        ("{not json", doc(partner_read()), "newPolicyDocument"),
        (doc(partner_read()), "[]", "existingPolicyDocument"),
        (json.dumps({"Version": "2012-10-17"}), doc(partner_read()), "newPolicyDocument"),
        (doc({**partner_read(), "Effect": "Maybe"}), doc(partner_read()), "newPolicyDocument"),
        (
            doc(*[partner_read(f"S{n}") for n in range(MAX_DOCUMENT_CHARS // 150)]),
            doc(partner_read()),
            "newPolicyDocument",
        ),
    ],
)
def test_documents_the_check_cannot_read_are_validation_errors(
    standin: AccessAnalyzerStandIn, analyzer_client: Any, new: str, existing: str, member: str
) -> None:
    with pytest.raises(ClientError) as bad:
        check_new(analyzer_client, new, existing)
    assert _error(bad) == ("ValidationException", 400)
    body: Any = bad.value.response  # the modelled error members sit beside "Error"
    assert body["fieldList"][0]["name"] == member
    assert standin.internal_errors == []


def test_check_no_new_access_rejects_an_unknown_policy_type(analyzer_client: Any) -> None:
    with pytest.raises(ClientError) as bad:
        check_new(analyzer_client, doc(partner_read()), doc(partner_read()), "SERVICE_CONTROL_POLICY")
    assert _error(bad) == ("ValidationException", 400)


@pytest.mark.parametrize(
    ("pattern", "other", "expected"),
    [
        ("s3:*", "s3:Get*", True),
        ("s3:Get*", "s3:GetObject", True),
        ("s3:GetObject", "s3:Get*", False),
        ("s3:GetObjec?", "s3:GetObject", True),
        ("s3:Get?", "s3:Get*", False),  # "?" is one character, "*" many
        (f"{BUCKET}/*", f"{BUCKET}/logs/*", True),
        (f"{BUCKET}/logs/*", f"{BUCKET}/*", False),
    ],
)
def test_glob_covers_is_sound(pattern: str, other: str, expected: bool) -> None:
    assert glob_covers(pattern, other) is expected


# ================================================================================================== CheckNoPublicAccess
def check_public(client: Any, text: str, resource_type: str = "AWS::S3::Bucket") -> dict[str, Any]:
    response: dict[str, Any] = client.check_no_public_access(policyDocument=text, resourceType=resource_type)
    return response


def test_public_bucket_policy_fails_and_names_the_statement(
    standin: AccessAnalyzerStandIn, analyzer_client: Any
) -> None:
    response = check_public(analyzer_client, doc(partner_read(), public_read()))
    assert response["result"] == "FAIL"
    assert [(r["statementIndex"], r["statementId"]) for r in response["reasons"]] == [(1, "PublicRead")]
    assert standin.calls["CheckNoPublicAccess"] == 1


@pytest.mark.parametrize(
    "statements",
    [
        pytest.param([partner_read()], id="cross-account only"),
        pytest.param([public_read(), public_perimeter()], id="the remediation's perimeter Deny"),
        pytest.param([public_read(), {**public_perimeter(), "Resource": "*"}], id="perimeter on every resource"),
        pytest.param(
            [public_read(Condition={"StringEquals": {"aws:PrincipalOrgID": ORG}})], id="pinned to an organization"
        ),
        pytest.param(
            [public_read(Condition={"StringEquals": {"aws:PrincipalAccount": EXTERNAL}})], id="pinned to an account"
        ),
        pytest.param([{**public_read(), "Effect": "Deny"}], id="only a Deny"),
    ],
)
def test_bucket_policies_without_public_access_pass(analyzer_client: Any, statements: list[dict[str, Any]]) -> None:
    response = check_public(analyzer_client, doc(*statements))
    assert (response["result"], response["reasons"]) == ("PASS", [])


@pytest.mark.parametrize(
    "statements",
    [
        pytest.param([public_read(), public_perimeter(resource=f"{BUCKET}/private/*")], id="deny on a narrower path"),
        pytest.param([public_read(resource="*"), public_perimeter()], id="allow wider than the deny"),
        pytest.param(
            [public_read(Condition={"StringLike": {"aws:PrincipalAccount": "1234*"}})], id="wildcard account pin"
        ),
        pytest.param([public_read(Condition={"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})], id="ip condition"),
        pytest.param([{**public_read(), "Principal": {"AWS": "*"}}], id="AWS star"),
        pytest.param([{**public_read(), "Action": "*"}], id="every action"),
    ],
)
def test_bucket_policies_the_model_cannot_clear_fail(analyzer_client: Any, statements: list[dict[str, Any]]) -> None:
    assert check_public(analyzer_client, doc(*statements))["result"] == "FAIL"


def test_trust_policies(analyzer_client: Any) -> None:
    kind = "AWS::IAM::AssumeRolePolicyDocument"
    public = {"Sid": "Anyone", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
    partner = {"Effect": "Allow", "Principal": {"AWS": EXTERNAL}, "Action": "sts:AssumeRole"}
    assert check_public(analyzer_client, doc(public), kind)["result"] == "FAIL"
    assert check_public(analyzer_client, doc(partner), kind)["result"] == "PASS"
    deny_all = {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole"}
    assert check_public(analyzer_client, doc(public, deny_all), kind)["result"] == "PASS"
    oidc = {
        "Effect": "Allow",
        "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"},
        "Action": "sts:AssumeRoleWithWebIdentity",
    }
    assert check_public(analyzer_client, doc(oidc), kind)["result"] == "FAIL"  # nobody narrowed it
    narrowed = {**oidc, "Condition": {"StringEquals": {"token.actions.githubusercontent.com:sub": "repo:o/r:ref:x"}}}
    assert check_public(analyzer_client, doc(narrowed), kind)["result"] == "PASS"


@pytest.mark.parametrize(
    ("resource_type", "action", "resource"),
    [
        ("AWS::SQS::Queue", "sqs:SendMessage", QUEUE),
        ("AWS::SNS::Topic", "SNS:Publish", f"arn:aws:sns:us-east-1:{ACCOUNT}:alerts"),
        ("AWS::KMS::Key", "kms:Decrypt", "*"),
        ("AWS::SecretsManager::Secret", "secretsmanager:GetSecretValue", "*"),
        ("AWS::Lambda::Function", "lambda:InvokeFunction", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"),
        ("AWS::DynamoDB::Table", "dynamodb:GetItem", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/t"),
        ("AWS::EFS::FileSystem", "elasticfilesystem:ClientMount", "*"),
        ("AWS::Kinesis::Stream", "kinesis:GetRecords", "*"),  # no analysis of its own: the shared rules
    ],
)
def test_other_types_pass_and_fail_through_their_analysis(
    analyzer_client: Any, resource_type: str, action: str, resource: str
) -> None:
    public = {"Sid": "Open", "Effect": "Allow", "Principal": "*", "Action": action, "Resource": resource}
    assert check_public(analyzer_client, doc(public), resource_type)["result"] == "FAIL"
    pin = "kms:CallerAccount" if resource_type == "AWS::KMS::Key" else "aws:SourceAccount"  # each type's own rule
    pinned = {**public, "Condition": {"StringEquals": {pin: ACCOUNT}}}
    assert check_public(analyzer_client, doc(pinned), resource_type)["result"] == "PASS"
    other_service = {**public, "Action": "iam:PassRole"}
    assert check_public(analyzer_client, doc(other_service), resource_type)["result"] == "PASS"


def test_kms_caller_account_pins_the_key_policy(analyzer_client: Any) -> None:
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": ["kms:Encrypt", "kms:Decrypt"],
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:CallerAccount": ACCOUNT, "kms:ViaService": "s3.us-east-1.amazonaws.com"}},
    }
    assert check_public(analyzer_client, doc(statement), "AWS::KMS::Key")["result"] == "PASS"


def test_unsupported_resource_types_and_unreadable_documents_are_rejected(analyzer_client: Any) -> None:
    with pytest.raises(ClientError) as ecr:
        check_public(analyzer_client, doc(public_read()), "AWS::ECR::Repository")  # not a type the check takes
    assert _error(ecr) == ("ValidationException", 400)
    assert "resourceType" in ecr.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as broken:
        check_public(analyzer_client, '{"Statement": [', "AWS::S3::Bucket")
    assert _error(broken) == ("ValidationException", 400)


# ======================================================================================================= faults, counts
@pytest.mark.parametrize(
    ("operation", "call"),
    [
        (
            "ValidatePolicy",
            lambda c: c.validate_policy(policyDocument=doc(partner_read()), policyType="RESOURCE_POLICY"),
        ),
        ("CheckNoNewAccess", lambda c: check_new(c, doc(partner_read()), doc(partner_read()))),
        ("CheckNoPublicAccess", lambda c: check_public(c, doc(partner_read()))),
    ],
)
def test_faults_apply_to_the_checks(
    standin: AccessAnalyzerStandIn, analyzer_client: Any, operation: str, call: Any
) -> None:
    standin.fail_next(operation, "ThrottlingException")  # retried by botocore: absorbed
    assert call(analyzer_client)
    assert standin.calls[operation] == 2
    standin.fail_next(operation, "AccessDeniedException")
    with pytest.raises(ClientError) as denied:
        call(analyzer_client)
    assert _error(denied) == ("AccessDeniedException", 403)
    assert standin.calls[operation] == 3
    standin.fail_next(operation, "InternalServerException", times=10)
    with pytest.raises(ClientError) as broken:
        call(analyzer_client)
    assert _error(broken) == ("InternalServerException", 500)
    assert standin.calls[operation] > 4  # retried
    served = [name for name, _ in standin.request_log]
    assert served == [operation]  # faulted requests are counted in `calls`, never served


def test_no_check_call_is_visible_in_the_counters(standin: AccessAnalyzerStandIn, analyzer_client: Any) -> None:
    analyzer_client.list_findings_v2(analyzerArn=standin.analyzer_arn)
    assert all(standin.calls[op] == 0 for op in ("ValidatePolicy", "CheckNoNewAccess", "CheckNoPublicAccess"))


# ==================================================================================================== StartResourceScan
def test_start_resource_scan_answers_200_with_an_empty_body(
    standin: AccessAnalyzerStandIn, analyzer_client: Any
) -> None:
    response = analyzer_client.start_resource_scan(analyzerArn=standin.analyzer_arn, resourceArn=BUCKET)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert set(response) == {"ResponseMetadata"}
    assert standin.scans == [(standin.analyzer_arn, BUCKET)]


def test_start_resource_scan_errors(standin: AccessAnalyzerStandIn, analyzer_client: Any) -> None:
    other = f"arn:aws:access-analyzer:us-east-1:{ACCOUNT}:analyzer/missing"
    with pytest.raises(ClientError) as missing:
        analyzer_client.start_resource_scan(analyzerArn=other, resourceArn=BUCKET)
    assert _error(missing) == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as unsupported:
        analyzer_client.start_resource_scan(
            analyzerArn=standin.analyzer_arn,
            resourceArn=f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0123456789abcdef0",
        )
    assert _error(unsupported) == ("ValidationException", 400)
    with pytest.raises(ClientError) as not_an_arn:
        analyzer_client.start_resource_scan(analyzerArn=standin.analyzer_arn, resourceArn="shared-bucket")
    assert _error(not_an_arn) == ("ValidationException", 400)
    unused = analyzer_client.create_analyzer(analyzerName="unused", type="ACCOUNT_UNUSED_ACCESS")["arn"]
    with pytest.raises(ClientError) as wrong_type:
        analyzer_client.start_resource_scan(analyzerArn=unused, resourceArn=BUCKET)
    assert _error(wrong_type) == ("ValidationException", 400)
    assert standin.scans == []
    standin.fail_next("StartResourceScan", "InternalServerException", times=10)
    with pytest.raises(ClientError) as broken:
        analyzer_client.start_resource_scan(analyzerArn=standin.analyzer_arn, resourceArn=BUCKET)
    assert _error(broken) == ("InternalServerException", 500)
    assert standin.scans == []


# ====================================================================================================== the whole loop
def test_prove_write_and_rescan_a_public_bucket(aws: Any, standin: AccessAnalyzerStandIn, analyzer_client: Any) -> None:
    """What the engine will do: prove the planned policy (no new access, no public access), write it, then
    StartResourceScan: the public finding resolves (and the partner's: the perimeter spares only the account)."""
    s3 = aws.client("s3")
    standin.attach(s3_client=s3)
    s3.create_bucket(Bucket="shared-bucket")
    current = doc(public_read(), partner_read())
    s3.put_bucket_policy(Bucket="shared-bucket", Policy=current)
    standin.analyze_buckets()
    public = [f for f in standin.findings(resource=BUCKET, status="ACTIVE") if f["isPublic"]]
    assert len(public) == 1

    perimeter = public_perimeter()
    perimeter["Condition"]["StringNotEqualsIfExists"] = {"aws:PrincipalAccount": [ACCOUNT]}  # no organization
    planned = doc(public_read(), partner_read(), perimeter)
    assert check_new(analyzer_client, planned, current)["result"] == "PASS"
    assert check_public(analyzer_client, planned)["result"] == "PASS"
    assert check_public(analyzer_client, current)["result"] == "FAIL"
    s3.put_bucket_policy(Bucket="shared-bucket", Policy=planned)
    analyzer_client.start_resource_scan(analyzerArn=standin.analyzer_arn, resourceArn=BUCKET)

    finding = analyzer_client.get_finding(analyzerArn=standin.analyzer_arn, id=public[0]["id"])["finding"]
    assert finding["status"] == "RESOLVED"
    assert standin.findings(resource=BUCKET, status="ACTIVE") == []  # the perimeter denies the partner too
    assert [name for name, _ in standin.request_log] == [
        "CheckNoNewAccess",
        "CheckNoPublicAccess",
        "CheckNoPublicAccess",
        "StartResourceScan",
        "GetFinding",
    ]


def _arn_deny(*arns: str, operator: str = "ArnLike") -> dict[str, Any]:
    return {
        "Sid": "AarDeny",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "sts:AssumeRole",
        "Condition": {operator: {"aws:PrincipalArn": list(arns)}},
    }


@pytest.mark.parametrize(
    ("existing", "new", "result"),
    [
        # The tool widens its Deny by one more principal: it still denies everything it did.
        (_arn_deny("arn:aws:iam::999988887777:user/a"), _arn_deny("arn:aws:iam::999988887777:user/a", "arn:b"), "PASS"),
        # One principal dropped from the Deny: access comes back.
        (_arn_deny("arn:aws:iam::999988887777:user/a", "arn:b"), _arn_deny("arn:aws:iam::999988887777:user/a"), "FAIL"),
        # More values of a negated operator deny less.
        (_arn_deny("arn:a", operator="ArnNotLike"), _arn_deny("arn:a", "arn:b", operator="ArnNotLike"), "FAIL"),
    ],
)
def test_a_deny_covered_by_a_broader_one_is_kept(existing: dict[str, Any], new: dict[str, Any], result: str) -> None:
    from sandbox.analysis.checks import check_no_new_access

    allow = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"}

    def document(deny: dict[str, Any]) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": [allow, deny]})

    assert check_no_new_access(document(new), document(existing), "RESOURCE_POLICY")["result"] == result
