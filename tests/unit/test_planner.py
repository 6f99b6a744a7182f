"""Decisions for one verified finding: guardrails first, then the exact change, then the quota."""

from __future__ import annotations

import pytest

from access_analyzer_remediation import planner
from access_analyzer_remediation.policy import compact, statements

from .conftest import EXTERNAL, OWNER, ROLE_ARN, make_finding, make_settings, role_state, trust_policy


def test_external_account_is_denied() -> None:
    plan = planner.plan_finding(make_finding(), role_state(trust_policy({"AWS": EXTERNAL})), make_settings())
    assert (plan.decision, plan.reason) == ("remediate", planner.EXTERNAL_ACCESS_DENIED)
    assert plan.policy_after is not None
    assert all(s["Effect"] == "Deny" for s in plan.statements_added())
    assert statements(plan.policy_after)[0] == trust_policy({"AWS": EXTERNAL})["Statement"][0]


def test_role_with_a_path_is_planned_by_its_last_segment() -> None:
    arn = f"arn:aws:iam::{OWNER}:role/service-role/teams/Deployer"
    finding = make_finding(resource=arn)
    assert finding.role.name == "Deployer" and finding.role.path == "/service-role/teams/"
    plan = planner.plan_finding(finding, role_state(trust_policy({"AWS": EXTERNAL}), arn=arn), make_settings())
    assert plan.decision == "remediate"


@pytest.mark.parametrize(
    ("arn", "reason"),
    [
        (f"arn:aws:iam::{OWNER}:role/OrganizationAccountAccessRole", planner.PROTECTED_ROLE),
        (f"arn:aws:iam::{OWNER}:role/AWSControlTowerExecution", planner.PROTECTED_ROLE),
        (f"arn:aws:iam::{OWNER}:role/AWSCloudFormationStackSetExecutionRole", planner.PROTECTED_ROLE),
        (f"arn:aws:iam::{OWNER}:role/stacksets-exec-0123456789abcdef", planner.PROTECTED_ROLE),
        (
            f"arn:aws:iam::{OWNER}:role/aws-service-role/support.amazonaws.com/AWSServiceRoleForSupport",
            planner.SERVICE_LINKED_ROLE,
        ),
    ],
)
def test_protected_roles_are_never_modified(arn: str, reason: str) -> None:
    plan = planner.plan_finding(
        make_finding(resource=arn), role_state(trust_policy({"AWS": EXTERNAL}), arn=arn), make_settings()
    )
    assert (plan.decision, plan.reason) == ("notify", reason)
    assert plan.policy_after is None


def test_the_tools_own_roles_are_never_modified() -> None:
    plan = planner.plan_finding(
        make_finding(), role_state(trust_policy({"AWS": EXTERNAL})), make_settings(own_role_arns=frozenset({ROLE_ARN}))
    )
    assert (plan.decision, plan.reason, plan.policy_after) == ("notify", planner.OWN_ROLE, None)


def test_custom_protected_patterns_replace_the_defaults() -> None:
    plan = planner.plan_finding(
        make_finding(), role_state(trust_policy({"AWS": EXTERNAL})), make_settings(protected_role_patterns=("Audit_*",))
    )
    assert plan.reason == planner.PROTECTED_ROLE


@pytest.mark.parametrize(("value", "decision"), [("true", "notify"), ("", "notify"), ("false", "remediate")])
def test_exemption_tag_means_intended(value: str, decision: str) -> None:
    settings = make_settings()
    state = role_state(trust_policy({"AWS": EXTERNAL}), tags={settings.exemption_tag_key: value})
    assert planner.plan_finding(make_finding(), state, settings).decision == decision


@pytest.mark.parametrize("allowed", [EXTERNAL, f"arn:aws:iam::{EXTERNAL}:root", "arn:aws:iam::9999*"])
def test_allowlisted_account_means_intended(allowed: str) -> None:
    plan = planner.plan_finding(
        make_finding(), role_state(trust_policy({"AWS": EXTERNAL})), make_settings(allowed_principals=(allowed,))
    )
    assert (plan.decision, plan.reason) == ("notify", planner.ALLOWLISTED_PRINCIPAL)


def test_allowlisted_principal_arn_pattern() -> None:
    finding = make_finding({"AWS": f"arn:aws:iam::{EXTERNAL}:role/PartnerReader"})
    plan = planner.plan_finding(
        finding,
        role_state(trust_policy(finding.principal)),
        make_settings(allowed_principals=(f"arn:aws:iam::{EXTERNAL}:role/Partner*",)),
    )
    assert plan.reason == planner.ALLOWLISTED_PRINCIPAL


@pytest.mark.parametrize("trusted", [frozenset({EXTERNAL}), frozenset()])
def test_zone_of_trust_is_never_denied(trusted: frozenset[str]) -> None:
    principal = EXTERNAL if trusted else OWNER  # the owner account is always in the zone
    plan = planner.plan_finding(
        make_finding({"AWS": principal}),
        role_state(trust_policy({"AWS": principal})),
        make_settings(trusted_account_ids=trusted),
    )
    assert (plan.decision, plan.reason) == ("skip", planner.PRINCIPAL_IN_ZONE_OF_TRUST)


def test_notify_mode_computes_the_change_but_marks_it_unwritten() -> None:
    plan = planner.plan_finding(
        make_finding(), role_state(trust_policy({"AWS": EXTERNAL})), make_settings(mode="notify")
    )
    assert (plan.decision, plan.reason) == ("notify", planner.NOTIFY_MODE)
    assert plan.statements_added() and plan.added


def test_already_contained_is_a_skip_naming_the_statement() -> None:
    first = planner.plan_finding(make_finding(), role_state(trust_policy({"AWS": EXTERNAL})), make_settings())
    assert first.policy_after is not None
    again = planner.plan_finding(make_finding(finding_id="f-2"), role_state(first.policy_after), make_settings())
    assert (again.decision, again.reason) == ("skip", planner.ALREADY_CONTAINED)
    assert first.sids_added[0] in again.summary


def test_quota_overflow_writes_nothing_and_says_why() -> None:
    policy = trust_policy({"AWS": EXTERNAL})
    policy["Statement"][0]["Condition"] = {"StringEquals": {"sts:ExternalId": "x" * 1900}}
    plan = planner.plan_finding(make_finding(), role_state(policy), make_settings())
    assert (plan.decision, plan.reason) == ("notify", planner.TRUST_POLICY_QUOTA)
    assert plan.policy_after is None and "2048" in plan.summary


def test_many_findings_on_one_role_stay_within_quota_or_end_notify_only() -> None:
    policy = trust_policy({"AWS": EXTERNAL})
    settings = make_settings()
    decisions = []
    for n in range(200):
        account = f"{300000000000 + n}"
        plan = planner.plan_finding(make_finding({"AWS": account}, finding_id=f"f{n}"), role_state(policy), settings)
        decisions.append(plan.decision)
        if plan.policy_after is not None:
            policy = plan.policy_after
        assert len(compact(policy)) <= 2048
    assert decisions.count("remediate") >= 40
    assert decisions[-1] == "notify"
    assert set(decisions) == {"remediate", "notify"}


def test_unsupported_principal_is_notified_not_denied() -> None:
    finding = make_finding({"Service": "ec2.amazonaws.com"})
    plan = planner.plan_finding(finding, role_state(trust_policy(finding.principal)), make_settings())
    assert (plan.decision, plan.reason) == ("notify", "unsupported_principal")


def test_role_arn_mismatch_is_not_modified() -> None:
    other = f"arn:aws:iam::{OWNER}:role/other/Audit_CrossAccountRole"
    plan = planner.plan_finding(make_finding(), role_state(trust_policy({"AWS": EXTERNAL}), arn=other), make_settings())
    assert (plan.decision, plan.reason) == ("notify", planner.ROLE_ARN_MISMATCH)


def test_unreadable_policy_is_notified() -> None:
    plan = planner.plan_finding(make_finding(), role_state({"Version": "2012-10-17"}), make_settings())
    assert (plan.decision, plan.reason) == ("notify", planner.UNREADABLE_POLICY)


def test_member_account_role_of_an_organization_analyzer_is_notified_not_touched() -> None:
    member_role = "arn:aws:iam::444455556666:role/Audit_CrossAccountRole"
    finding = make_finding(resource=member_role)
    plan = planner.plan_finding(finding, role_state(trust_policy({"AWS": EXTERNAL}), arn=member_role), make_settings())
    assert (plan.decision, plan.reason) == ("notify", planner.CROSS_ACCOUNT_ROLE)
    assert "444455556666" in plan.summary and plan.policy_after is None


def test_our_statement_stored_with_one_item_strings_is_grown_not_copied() -> None:
    """IAM may hand back a one-item list as a string: the tool's statement read that way is still its own, so a new
    provider is appended to it (lists written out again) instead of a second statement (hypothesis found this form)."""
    sid = "AccessAnalyzerDenyFederated4843E18A"  # the Sid of a Federated Deny of sts:AssumeRoleWithSAML
    ours = {
        "Effect": "Deny",
        "Sid": sid,
        "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": "sts:AssumeRoleWithSAML",
    }
    grant = {"Effect": "Allow", "Principal": {"Federated": "accounts.google.com"}, "Action": "sts:AssumeRoleWithSAML"}
    policy = {"Version": "2012-10-17", "Statement": [grant, ours]}
    finding = make_finding({"Federated": "accounts.google.com"}, ("sts:AssumeRoleWithSAML",))
    plan = planner.plan_finding(finding, role_state(policy), make_settings())
    assert plan.decision == "remediate" and plan.policy_after is not None
    assert statements(plan.policy_after) == [
        grant,
        {
            "Sid": sid,
            "Effect": "Deny",
            "Principal": {"Federated": ["cognito-identity.amazonaws.com", "accounts.google.com"]},
            "Action": ["sts:AssumeRoleWithSAML"],
        },
    ]
