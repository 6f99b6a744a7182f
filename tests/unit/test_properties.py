"""Properties of the planner over generated trust policies and findings: never weakens, idempotent, revertible."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from access_analyzer_remediation import planner
from access_analyzer_remediation.findings import Finding, MalformedEvent, parse_event
from access_analyzer_remediation.policy import DenyEntry, compact, match_statement_form, remove_denies, statements

from .conftest import ANALYZER, OWNER, ROLE_ARN, make_settings, role_state

accounts = st.sampled_from([OWNER, "999988887777", "222233334444", "444455556666"])
aws_values = st.one_of(
    accounts,
    accounts.map(lambda a: f"arn:aws:iam::{a}:root"),
    st.tuples(accounts, st.sampled_from(["user/Alice", "role/Ci", "role/team/Deployer"])).map(
        lambda t: f"arn:aws:iam::{t[0]}:{t[1]}"
    ),
    st.just("*"),
)
federated = st.sampled_from(
    ["cognito-identity.amazonaws.com", "accounts.google.com", "arn:aws:iam::999988887777:saml-provider/Okta"]
)
actions = st.sampled_from(
    ["sts:AssumeRole", "sts:TagSession", "sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML", "sts:*"]
)


def one_or_many(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, st.lists(strategy, min_size=1, max_size=3))


principals = st.one_of(
    st.just("*"),
    st.fixed_dictionaries({"AWS": one_or_many(aws_values)}),
    st.fixed_dictionaries({"Federated": one_or_many(federated)}),
    st.fixed_dictionaries({"Service": st.just("ec2.amazonaws.com")}),
)
conditions = st.one_of(
    st.none(),
    st.just({"StringEquals": {"sts:ExternalId": "abc"}}),
    st.just({"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
)


@st.composite
def statement(draw: st.DrawFn) -> dict[str, Any]:
    result: dict[str, Any] = {"Effect": draw(st.sampled_from(["Allow", "Allow", "Deny"]))}
    if draw(st.booleans()):
        result["Sid"] = draw(st.from_regex(r"[A-Za-z0-9]{1,12}", fullmatch=True))
    key = "NotPrincipal" if draw(st.integers(0, 9)) == 0 else "Principal"
    result[key] = draw(principals)
    result["Action"] = draw(one_or_many(actions))
    condition = draw(conditions)
    if condition:
        result["Condition"] = condition
    return result


@st.composite
def trust_policies(draw: st.DrawFn) -> dict[str, Any]:
    body = draw(st.lists(statement(), min_size=1, max_size=5))
    if len(body) == 1 and draw(st.booleans()):
        return {"Version": "2012-10-17", "Statement": body[0]}
    return {"Version": "2012-10-17", "Statement": body}


finding_principals = st.one_of(
    st.fixed_dictionaries({"AWS": aws_values}),
    st.fixed_dictionaries({"Federated": federated}),
)


@st.composite
def findings(draw: st.DrawFn) -> Finding:
    principal = draw(finding_principals)
    return Finding(
        id=draw(st.from_regex(r"[a-f0-9-]{8,36}", fullmatch=True)),
        analyzer_arn=ANALYZER,
        resource_type="AWS::IAM::Role",
        resource_arn=ROLE_ARN,
        status="ACTIVE",
        principal=principal,
        actions=tuple(sorted(set(draw(st.lists(actions.filter(lambda a: "*" not in a), min_size=1, max_size=3))))),
        condition={},
        is_public=principal.get("AWS") == "*",
        resource_owner_account=OWNER,
    )


SETTINGS = make_settings(trust_policy_max_chars=10240)
PROFILE = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROFILE
@given(trust_policies(), st.lists(findings(), min_size=1, max_size=4))
def test_never_weakens_is_idempotent_and_revert_inverts(policy: dict[str, Any], batch: list[Finding]) -> None:
    original = statements(policy)
    current = policy
    added: list[DenyEntry] = []
    for finding in batch:
        plan = planner.plan_finding(finding, role_state(current), SETTINGS)
        if plan.decision == "remediate":
            assert plan.policy_after is not None
            new = statements(plan.policy_after)
            # Never weakens: every original statement is still there, unchanged and in order; only Denies appear.
            assert new[: len(original)] == original
            assert all(s["Effect"] == "Deny" for s in new[len(original) :])
            assert len(compact(plan.policy_after)) <= SETTINGS.trust_policy_max_chars
            current = plan.policy_after
            added.extend(plan.added)
        # Idempotent: the same finding again changes nothing.
        again = planner.plan_finding(finding, role_state(current), SETTINGS)
        assert again.decision != "remediate"
    restored, removed = remove_denies(current, added)
    assert sorted(removed) == sorted(added)
    assert compact(match_statement_form(restored, policy)) == compact(policy)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=1500, deadline=None)
@given(json_values)
def test_parse_event_rejects_any_garbage_with_malformed_event_only(value: Any) -> None:
    with contextlib.suppress(MalformedEvent):
        parse_event(value)
