"""The stand-in's trust-policy analysis against roles in moto, and the events it publishes through EventBridge."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sandbox.access_analyzer import (
    AccessAnalyzerStandIn,
    TrustZone,
    build_finding_event,
    compute_role_access,
)
from sandbox.moto_server import SandboxSession

from .conftest import ACCOUNT, EXTERNAL, FindingQueue, allow, trust

ZONE = TrustZone(frozenset({ACCOUNT}))
OIDC_SAME_ACCOUNT = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
SAML_OTHER_ACCOUNT = f"arn:aws:iam::{EXTERNAL}:saml-provider/Okta"


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _only(access: dict[tuple[str, str], Any]) -> Any:
    assert len(access) == 1, access
    return next(iter(access.values()))


# ------------------------------------------------------------------------------------------------ pure analysis
@pytest.mark.parametrize(
    ("principal", "action", "expected_principal", "expected_actions", "public"),
    [
        ({"AWS": EXTERNAL}, "sts:AssumeRole", {"AWS": EXTERNAL}, ["sts:AssumeRole"], False),
        ({"AWS": f"arn:aws:iam::{EXTERNAL}:root"}, "sts:AssumeRole", {"AWS": EXTERNAL}, ["sts:AssumeRole"], False),
        (
            {"AWS": f"arn:aws:iam::{EXTERNAL}:role/Ci"},
            ["sts:AssumeRole", "sts:TagSession"],
            {"AWS": f"arn:aws:iam::{EXTERNAL}:role/Ci"},
            ["sts:AssumeRole"],
            False,
        ),
        ("*", "sts:AssumeRole", {"AWS": "*"}, ["sts:AssumeRole"], True),
        ({"AWS": "*"}, "sts:*", {"AWS": "*"}, ["sts:AssumeRole"], True),
        (
            {"Federated": "cognito-identity.amazonaws.com"},
            "sts:AssumeRoleWithWebIdentity",
            {"Federated": "cognito-identity.amazonaws.com"},
            ["sts:AssumeRoleWithWebIdentity"],
            False,
        ),
        (
            {"Federated": OIDC_SAME_ACCOUNT},
            "*",
            {"Federated": OIDC_SAME_ACCOUNT},
            ["sts:AssumeRoleWithWebIdentity"],
            False,
        ),
        (
            {"Federated": SAML_OTHER_ACCOUNT},
            "sts:AssumeRole*",
            {"Federated": SAML_OTHER_ACCOUNT},
            ["sts:AssumeRoleWithSAML"],
            False,
        ),
    ],
)
def test_external_principals_become_findings(
    principal: Any, action: Any, expected_principal: dict[str, str], expected_actions: list[str], public: bool
) -> None:
    access = _only(compute_role_access(_policy(allow(principal, action)), ZONE))
    assert access.principal == expected_principal
    assert list(access.actions) == expected_actions
    assert access.is_public is public


@pytest.mark.parametrize(
    "principal",
    [
        {"Service": "lambda.amazonaws.com"},
        {"AWS": ACCOUNT},
        {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        {"AWS": f"arn:aws:iam::{ACCOUNT}:role/Admin"},
        {"AWS": "AROAEXAMPLEDELETEDROLE"},  # a deleted principal: nobody can use it
    ],
)
def test_service_same_account_and_deleted_principals_are_not_external(principal: dict[str, str]) -> None:
    assert compute_role_access(_policy(allow(principal)), ZONE) == {}


def test_trusted_accounts_and_organization_are_inside_the_zone() -> None:
    zone = TrustZone(frozenset({ACCOUNT, "111111111111"}), "o-abc", frozenset({"222222222222"}))
    policy = _policy(allow({"AWS": ["111111111111", "222222222222", EXTERNAL]}))
    assert set(compute_role_access(policy, zone)) == {("AWS", EXTERNAL)}


def test_not_action_and_non_assume_actions() -> None:
    assert compute_role_access(_policy(allow({"AWS": EXTERNAL}, "sts:TagSession")), ZONE) == {}
    not_action = _policy({"Effect": "Allow", "Principal": {"AWS": EXTERNAL}, "NotAction": "sts:TagSession"})
    assert _only(compute_role_access(not_action, ZONE)).actions == ("sts:AssumeRole",)
    excluded = _policy({"Effect": "Allow", "Principal": {"AWS": EXTERNAL}, "NotAction": "sts:Assume*"})
    assert compute_role_access(excluded, ZONE) == {}


def test_allow_conditions_are_flattened_and_zone_pinning_conditions_hide_access() -> None:
    condition = {"StringEquals": {"cognito-identity.amazonaws.com:aud": "us-west-2:pool"}}
    cognito = allow(
        {"Federated": "cognito-identity.amazonaws.com"}, "sts:AssumeRoleWithWebIdentity", Condition=condition
    )
    assert _only(compute_role_access(_policy(cognito), ZONE)).condition == {
        "cognito-identity.amazonaws.com:aud": "us-west-2:pool"
    }
    pinned = allow("*", Condition={"StringEquals": {"aws:PrincipalAccount": ACCOUNT}})
    assert compute_role_access(_policy(pinned), ZONE) == {}


# The Deny forms the remediation writes (lambda_src/access_analyzer_remediation/policy.py), plus plain wildcards.
PERIMETER = {
    "StringNotEqualsIfExists": {"aws:PrincipalAccount": [ACCOUNT]},
    "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
}
DENY_CASES: dict[str, tuple[Any, str, dict[str, Any]]] = {
    "account": (
        {"AWS": EXTERNAL},
        "sts:AssumeRole",
        {"Effect": "Deny", "Principal": {"AWS": [EXTERNAL]}, "Action": ["sts:AssumeRole"]},
    ),
    "account-root-arn-covers-role-arn": (
        {"AWS": f"arn:aws:iam::{EXTERNAL}:role/Ci"},
        "sts:AssumeRole",
        {"Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{EXTERNAL}:root"}, "Action": "sts:AssumeRole"},
    ),
    "principal-arn-like": (
        {"AWS": f"arn:aws:iam::{EXTERNAL}:role/Ci"},
        "sts:AssumeRole",
        {
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": ["sts:AssumeRole"],
            "Condition": {"ArnLike": {"aws:PrincipalArn": [f"arn:aws:iam::{EXTERNAL}:role*/Ci"]}},
        },
    ),
    "principal-arn-equals-whole-account": (
        {"AWS": EXTERNAL},
        "sts:AssumeRole",
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sts:AssumeRole",
            "Condition": {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{EXTERNAL}:*"}},
        },
    ),
    "federated": (
        {"Federated": "cognito-identity.amazonaws.com"},
        "sts:AssumeRoleWithWebIdentity",
        {
            "Effect": "Deny",
            "Principal": {"Federated": ["cognito-identity.amazonaws.com"]},
            "Action": ["sts:AssumeRoleWithWebIdentity"],
        },
    ),
    "public-perimeter": (
        "*",
        "sts:AssumeRole",
        {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": ["sts:AssumeRole"], "Condition": PERIMETER},
    ),
    "perimeter-also-covers-federated": (
        {"Federated": OIDC_SAME_ACCOUNT},
        "sts:AssumeRoleWithWebIdentity",
        {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:*", "Condition": PERIMETER},
    ),
    "wildcard-everything": ({"AWS": EXTERNAL}, "sts:AssumeRole", {"Effect": "Deny", "Principal": "*", "Action": "*"}),
}


@pytest.mark.parametrize(
    ("deny_condition", "left"),
    [
        # An account analyzer cannot tell whether another account belongs to the organization: the access left is
        # "if the caller's organization is o-ours", which the remediation takes for the zone of trust.
        ({"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-ours"}}, {"aws:PrincipalOrgID": "o-ours"}),
        # Allowlisted principals of the account keep their access.
        (
            {"ArnNotLike": {"aws:PrincipalArn": [f"arn:aws:iam::{EXTERNAL}:role/ci-*"]}},
            {"aws:PrincipalArn": f"arn:aws:iam::{EXTERNAL}:role/ci-*"},
        ),
    ],
)
def test_a_deny_that_excludes_some_callers_leaves_their_access_with_its_condition(
    deny_condition: dict[str, Any], left: dict[str, str]
) -> None:
    deny = {"Effect": "Deny", "Principal": {"AWS": [EXTERNAL]}, "Action": "sts:AssumeRole", "Condition": deny_condition}
    access = compute_role_access(_policy(allow({"AWS": EXTERNAL}, "sts:AssumeRole"), deny), ZONE)
    assert [(a.value, dict(a.condition)) for a in access.values()] == [(EXTERNAL, left)]


@pytest.mark.parametrize("case", sorted(DENY_CASES))
def test_each_deny_form_removes_the_access(case: str) -> None:
    principal, action, deny = DENY_CASES[case]
    assert compute_role_access(_policy(allow(principal, action)), ZONE) != {}
    assert compute_role_access(_policy(allow(principal, action), deny), ZONE) == {}


@pytest.mark.parametrize(
    "deny",
    [
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sts:AssumeRole",
            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        },
        {"Effect": "Deny", "Principal": {"AWS": "444455556666"}, "Action": "sts:AssumeRole"},
        {"Effect": "Deny", "Principal": {"AWS": EXTERNAL}, "Action": "sts:AssumeRoleWithSAML"},
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sts:AssumeRole",
            "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalAccount": [EXTERNAL]}},
        },
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sts:AssumeRole",
            "Condition": {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{EXTERNAL}:role/*"}},
        },
    ],
    ids=["unknown-condition", "other-account", "other-action", "exempts-the-principal", "arn-like-roles-only"],
)
def test_denies_that_do_not_cover_leave_the_access(deny: dict[str, Any]) -> None:
    assert set(compute_role_access(_policy(allow({"AWS": EXTERNAL}), deny), ZONE)) == {("AWS", EXTERNAL)}


def test_public_perimeter_that_exempts_an_untrusted_account_leaves_public_access() -> None:
    leaky = {
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalAccount": [ACCOUNT, EXTERNAL]}},
    }
    assert set(compute_role_access(_policy(allow("*"), leaky), ZONE)) == {("AWS", "*")}


def test_partial_deny_leaves_the_other_actions() -> None:
    both = allow({"Federated": SAML_OTHER_ACCOUNT}, ["sts:AssumeRoleWithSAML", "sts:AssumeRole"])
    deny = {"Effect": "Deny", "Principal": {"Federated": SAML_OTHER_ACCOUNT}, "Action": "sts:AssumeRoleWithSAML"}
    assert _only(compute_role_access(_policy(both, deny), ZONE)).actions == ("sts:AssumeRole",)


# ------------------------------------------------------------------------------------------------ against moto
def test_analyze_roles_reports_external_principals_of_every_role(
    aws: SandboxSession, standin: AccessAnalyzerStandIn
) -> None:
    iam = aws.client("iam")
    iam.create_role(RoleName="Partner", AssumeRolePolicyDocument=trust(allow({"AWS": EXTERNAL})))
    iam.create_role(
        RoleName="Deployer",
        Path="/service-role/teams/",
        AssumeRolePolicyDocument=trust(allow({"AWS": f"arn:aws:iam::{EXTERNAL}:role/Ci"})),
    )
    iam.create_role(RoleName="Lambda", AssumeRolePolicyDocument=trust(allow({"Service": "lambda.amazonaws.com"})))
    iam.create_role(RoleName="Internal", AssumeRolePolicyDocument=trust(allow({"AWS": ACCOUNT})))
    for n in range(5):
        iam.create_role(RoleName=f"Public{n}", AssumeRolePolicyDocument=trust(allow("*")))

    result = standin.analyze_roles()

    findings = {(f["resource"].split(":role", 1)[1], json.dumps(f["principal"])): f for f in standin.findings()}
    assert set(findings) == {
        ("/Partner", json.dumps({"AWS": EXTERNAL})),
        ("/service-role/teams/Deployer", json.dumps({"AWS": f"arn:aws:iam::{EXTERNAL}:role/Ci"})),
        *((f"/Public{n}", json.dumps({"AWS": "*"})) for n in range(5)),
    }
    assert len(result.created) == 7 and result.resolved == ()
    assert all(f["status"] == "ACTIVE" and f["resourceOwnerAccount"] == ACCOUNT for f in findings.values())
    assert findings[("/Public0", json.dumps({"AWS": "*"}))]["isPublic"] is True
    assert standin.analyze_roles().created == ()  # nothing changed: nothing new


def test_adding_the_deny_resolves_the_finding_via_start_resource_scan(
    aws: SandboxSession, standin: AccessAnalyzerStandIn, analyzer_client: Any
) -> None:
    iam = aws.client("iam")
    role = iam.create_role(RoleName="Partner", AssumeRolePolicyDocument=trust(allow({"AWS": EXTERNAL})))["Role"]
    (finding_id,) = standin.analyze_roles().created
    deny = {
        "Sid": "AccessAnalyzerDenyAccount",
        "Effect": "Deny",
        "Principal": {"AWS": [EXTERNAL]},
        "Action": ["sts:AssumeRole"],
    }
    iam.update_assume_role_policy(RoleName="Partner", PolicyDocument=trust(allow({"AWS": EXTERNAL}), deny))

    analyzer_client.start_resource_scan(analyzerArn=standin.analyzer_arn, resourceArn=role["Arn"])

    finding = analyzer_client.get_finding(analyzerArn=standin.analyzer_arn, id=finding_id)["finding"]
    assert finding["status"] == "RESOLVED"
    active = analyzer_client.list_findings_v2(analyzerArn=standin.analyzer_arn, filter={"status": {"eq": ["ACTIVE"]}})
    assert active["findings"] == []


def test_changed_actions_resolve_the_old_finding_and_open_a_new_one(
    aws: SandboxSession, standin: AccessAnalyzerStandIn
) -> None:
    iam = aws.client("iam")
    iam.create_role(RoleName="Fed", AssumeRolePolicyDocument=trust(allow({"Federated": SAML_OTHER_ACCOUNT}, "sts:*")))
    (old,) = standin.analyze_roles().created
    both = allow({"Federated": SAML_OTHER_ACCOUNT}, ["sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity"])
    iam.update_assume_role_policy(RoleName="Fed", PolicyDocument=trust(both))

    result = standin.analyze_roles()

    assert result.resolved == (old,)
    (new,) = result.created
    by_id = {f["id"]: f for f in standin.findings()}
    assert by_id[old]["status"] == "RESOLVED"
    assert by_id[new]["status"] == "ACTIVE"
    assert by_id[new]["action"] == ["sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity"]


def test_archived_findings_stay_archived_and_deleted_roles_resolve(
    aws: SandboxSession, standin: AccessAnalyzerStandIn, analyzer_client: Any
) -> None:
    iam = aws.client("iam")
    iam.create_role(RoleName="Partner", AssumeRolePolicyDocument=trust(allow({"AWS": EXTERNAL})))
    (finding_id,) = standin.analyze_roles().created
    analyzer_client.update_findings(analyzerArn=standin.analyzer_arn, status="ARCHIVED", ids=[finding_id])
    assert standin.analyze_roles().unchanged == (finding_id,)
    assert standin.findings()[0]["status"] == "ARCHIVED"

    iam.delete_role(RoleName="Partner")
    assert standin.analyze_roles().resolved == (finding_id,)
    assert standin.findings()[0]["status"] == "RESOLVED"


def test_archive_rule_archives_matching_new_findings(
    aws: SandboxSession, standin: AccessAnalyzerStandIn, analyzer_client: Any
) -> None:
    analyzer_client.create_archive_rule(
        analyzerName=standin.default_analyzer_name,
        ruleName="KnownPartner",
        filter={"principal.AWS": {"eq": [EXTERNAL]}},
    )
    iam = aws.client("iam")
    iam.create_role(RoleName="Partner", AssumeRolePolicyDocument=trust(allow({"AWS": EXTERNAL})))
    iam.create_role(RoleName="Public", AssumeRolePolicyDocument=trust(allow("*")))
    standin.analyze_roles()
    statuses = {f["principal"]["AWS"]: f["status"] for f in standin.findings()}
    assert statuses == {EXTERNAL: "ARCHIVED", "*": "ACTIVE"}


def test_events_reach_an_sqs_queue_through_an_eventbridge_rule(
    aws: SandboxSession, standin: AccessAnalyzerStandIn, finding_queue: FindingQueue
) -> None:
    iam = aws.client("iam")
    iam.create_role(RoleName="Partner", AssumeRolePolicyDocument=trust(allow({"AWS": EXTERNAL})))
    (finding_id,) = standin.analyze_roles().created

    (delivered,) = finding_queue.drain()

    (emitted,) = standin.emitted_events
    assert delivered["source"] == "aws.access-analyzer"
    assert delivered["detail-type"] == "Access Analyzer Finding"
    assert delivered["resources"] == [standin.analyzer_arn]
    assert delivered["region"] == "us-east-1"
    assert delivered["time"] == emitted["time"]
    assert delivered["detail"] == emitted["detail"]
    detail = delivered["detail"]
    assert detail["id"] == finding_id
    assert (detail["status"], detail["principal"], detail["action"]) == (
        "ACTIVE",
        {"AWS": EXTERNAL},
        ["sts:AssumeRole"],
    )
    assert (detail["isPublic"], detail["isDeleted"], detail["version"]) == (False, False, "1.0")
    assert (detail["accountId"], detail["region"]) == (ACCOUNT, "us-east-1")

    iam.update_assume_role_policy(RoleName="Partner", PolicyDocument=trust(allow({"Service": "ec2.amazonaws.com"})))
    standin.analyze_roles()
    (resolved,) = finding_queue.drain()
    assert (resolved["detail"]["id"], resolved["detail"]["status"]) == (finding_id, "RESOLVED")


def test_the_rule_pattern_keeps_other_access_analyzer_detail_types_out(
    aws: SandboxSession, finding_queue: FindingQueue
) -> None:
    unused = {"findingId": "f-1", "findingType": "UnusedIAMRole", "status": "ACTIVE"}
    response = aws.client("events").put_events(
        Entries=[
            {
                "Source": "aws.access-analyzer",
                "DetailType": "Unused Access Finding for IAM entities",
                "Detail": json.dumps(unused),
            }
        ]
    )
    assert response["FailedEntryCount"] == 0  # moto accepts an aws.* source (real EventBridge refuses it)
    assert finding_queue.drain() == []


def test_deleting_a_finding_publishes_is_deleted_with_the_status_unchanged(
    aws: SandboxSession, standin: AccessAnalyzerStandIn, finding_queue: FindingQueue
) -> None:
    finding = standin.add_finding(resource=f"arn:aws:iam::{ACCOUNT}:role/Partner", publish=False)
    standin.delete_finding(finding["id"])
    (delivered,) = finding_queue.drain()
    assert (delivered["detail"]["isDeleted"], delivered["detail"]["status"]) == (True, "ACTIVE")
    assert standin.findings() == []


def test_build_finding_event_needs_no_server() -> None:
    finding = {
        "id": "f-1",
        "status": "ACTIVE",
        "resourceType": "AWS::IAM::Role",
        "resource": "arn:aws:iam::111122223333:role/R",
        "createdAt": "2024-07-22T10:09:03.496Z",
        "analyzedAt": "2024-07-22T10:09:03.496Z",
        "updatedAt": "2024-07-22T10:09:03.496Z",
        "resourceOwnerAccount": "111122223333",
        "principal": {"AWS": EXTERNAL},
        "action": ["sts:AssumeRole"],
        "condition": {},
        "isPublic": False,
    }
    analyzer = "arn:aws:access-analyzer:us-west-2:111122223333:analyzer/A"
    event = build_finding_event(finding, analyzer, "us-west-2", "111122223333", event_id="e-1")
    assert event["id"] == "e-1" and event["time"] == "2024-07-22T10:09:03Z"
    assert event["resources"] == [analyzer]
    assert event["detail"]["id"] == "f-1" and event["detail"]["accountId"] == "111122223333"
    error_event = build_finding_event({**finding, "error": "ACCESS_DENIED"}, analyzer, "us-west-2", "111122223333")
    assert "principal" not in error_event["detail"] and error_event["detail"]["error"] == "ACCESS_DENIED"
