"""Trust-policy arithmetic: each principal kind, coverage, aggregation, exact removal."""

from __future__ import annotations

import json
import re

import pytest

from access_analyzer_remediation.policy import (
    ACCOUNT,
    FEDERATED,
    PRINCIPAL,
    PUBLIC,
    SID_PREFIX,
    DenyEntry,
    DenyTarget,
    PolicyError,
    Zone,
    add_denies,
    classify_principal,
    compact,
    covering,
    match_statement_form,
    missing_entries,
    parse_own,
    remove_denies,
    restore_entries,
    sid_for,
    tool_entries,
)

from .conftest import EXTERNAL, OWNER, trust_policy

ZONE = Zone(frozenset({OWNER}))


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        ({"AWS": EXTERNAL}, DenyTarget(ACCOUNT, EXTERNAL)),
        ({"AWS": f"arn:aws:iam::{EXTERNAL}:root"}, DenyTarget(ACCOUNT, EXTERNAL)),
        ({"AWS": f"arn:aws:iam::{EXTERNAL}:user/Alice"}, DenyTarget(PRINCIPAL, f"arn:aws:iam::{EXTERNAL}:user/Alice")),
        (
            {"AWS": f"arn:aws:iam::{EXTERNAL}:role/team/ci/Deployer"},
            DenyTarget(PRINCIPAL, f"arn:aws:iam::{EXTERNAL}:role/team/ci/Deployer"),
        ),
        (
            {"AWS": f"arn:aws:sts::{EXTERNAL}:assumed-role/Deployer/session-1"},
            DenyTarget(PRINCIPAL, f"arn:aws:iam::{EXTERNAL}:role*/Deployer"),
        ),
        ({"Federated": "cognito-identity.amazonaws.com"}, DenyTarget(FEDERATED, "cognito-identity.amazonaws.com")),
        (
            {"Federated": f"arn:aws:iam::{EXTERNAL}:saml-provider/Okta"},
            DenyTarget(FEDERATED, f"arn:aws:iam::{EXTERNAL}:saml-provider/Okta"),
        ),
        ({"AWS": "*"}, DenyTarget(PUBLIC, "*")),
    ],
)
def test_each_principal_kind_becomes_one_deny_target(principal: dict[str, str], expected: DenyTarget) -> None:
    targets, unsupported = classify_principal(principal)
    assert targets == [expected]
    assert unsupported == []


@pytest.mark.parametrize(
    ("principal", "reason"),
    [
        ({"Service": "ec2.amazonaws.com"}, "unsupported_principal"),
        ({"CanonicalUser": "79a59df900b949e55d96a1e698fbaced"}, "unsupported_principal"),
        ({"AWS": "AROAEXAMPLEEXAMPLE1234"}, "principal_deleted"),
        ({"AWS": "not-an-arn"}, "unsupported_principal"),
    ],
)
def test_principals_that_cannot_be_denied_are_explained(principal: dict[str, str], reason: str) -> None:
    targets, unsupported = classify_principal(principal)
    assert targets == []
    assert [u.reason for u in unsupported] == [reason]


def test_account_deny_is_appended_and_originals_untouched() -> None:
    policy = trust_policy({"AWS": EXTERNAL})
    after, added = add_denies(policy, [(DenyTarget(ACCOUNT, EXTERNAL), ["sts:AssumeRole"])], ZONE)
    assert after["Statement"][0] == policy["Statement"][0]
    assert after["Statement"][1] == {
        "Sid": sid_for(ACCOUNT, ["sts:AssumeRole"]),
        "Effect": "Deny",
        "Principal": {"AWS": [EXTERNAL]},
        "Action": ["sts:AssumeRole"],
    }
    assert added == [DenyEntry(sid_for(ACCOUNT, ["sts:AssumeRole"]), ACCOUNT, EXTERNAL, ("sts:AssumeRole",))]
    assert policy["Statement"][0]["Effect"] == "Allow" and len(policy["Statement"]) == 1  # input not mutated


def test_principal_arn_is_denied_through_a_condition_that_iam_cannot_reject() -> None:
    arn = f"arn:aws:iam::{EXTERNAL}:user/Alice"
    after, _ = add_denies(trust_policy({"AWS": arn}), [(DenyTarget(PRINCIPAL, arn), ["sts:AssumeRole"])], ZONE)
    deny = after["Statement"][-1]
    assert deny["Principal"] == {"AWS": "*"}
    assert deny["Condition"] == {"ArnLike": {"aws:PrincipalArn": [arn]}}


def test_federated_deny_uses_the_federated_principal_and_the_findings_action() -> None:
    target = DenyTarget(FEDERATED, "cognito-identity.amazonaws.com")
    after, _ = add_denies(
        trust_policy({"Federated": target.value}, action="sts:AssumeRoleWithWebIdentity"),
        [(target, ["sts:AssumeRoleWithWebIdentity"])],
        ZONE,
    )
    deny = after["Statement"][-1]
    assert deny["Principal"] == {"Federated": ["cognito-identity.amazonaws.com"]}
    assert deny["Action"] == ["sts:AssumeRoleWithWebIdentity"]


def test_public_deny_spares_the_zone_of_trust_and_aws_services() -> None:
    zone = Zone(frozenset({OWNER, "444455556666"}), "o-abcdefghij")
    after, _ = add_denies(trust_policy({"AWS": "*"}), [(DenyTarget(PUBLIC, "*"), ["sts:AssumeRole"])], zone)
    deny = after["Statement"][-1]
    assert deny["Principal"] == {"AWS": "*"}
    assert deny["Condition"] == {
        "StringNotEqualsIfExists": {
            "aws:PrincipalAccount": ["111122223333", "444455556666"],
            "aws:PrincipalOrgID": "o-abcdefghij",
        },
        "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
    }


def test_sids_are_alphanumeric_prefixed_and_deterministic() -> None:
    for kind in (ACCOUNT, PRINCIPAL, FEDERATED, PUBLIC):
        sid = sid_for(kind, ["sts:AssumeRole", "sts:TagSession"])
        assert re.fullmatch(r"[A-Za-z0-9]+", sid)
        assert sid.startswith(SID_PREFIX)
        assert sid == sid_for(kind, ["sts:TagSession", "sts:AssumeRole"])


def test_second_principal_joins_the_same_statement_instead_of_a_new_one() -> None:
    first, _ = add_denies(trust_policy({"AWS": EXTERNAL}), [(DenyTarget(ACCOUNT, EXTERNAL), ["sts:AssumeRole"])], ZONE)
    second, added = add_denies(first, [(DenyTarget(ACCOUNT, "222233334444"), ["sts:AssumeRole"])], ZONE)
    assert len(second["Statement"]) == 2
    assert second["Statement"][1]["Principal"] == {"AWS": [EXTERNAL, "222233334444"]}
    assert [e.value for e in added] == ["222233334444"]


def test_the_same_principal_again_adds_nothing() -> None:
    target = DenyTarget(ACCOUNT, EXTERNAL)
    once, _ = add_denies(trust_policy({"AWS": EXTERNAL}), [(target, ["sts:AssumeRole"])], ZONE)
    twice, added = add_denies(once, [(target, ["sts:AssumeRole"])], ZONE)
    assert twice == once
    assert added == []
    own = covering(twice, target, "sts:AssumeRole", ZONE)
    assert own is not None and own.sid == sid_for(ACCOUNT, ["sts:AssumeRole"])


def test_the_tools_account_deny_stored_back_as_a_root_arn_covers_the_accounts_principals() -> None:
    stored = trust_policy({"AWS": EXTERNAL})
    stored["Statement"].append(
        {
            "Sid": sid_for(ACCOUNT, ["sts:AssumeRole"]),
            "Effect": "Deny",
            "Principal": {"AWS": f"arn:aws:iam::{EXTERNAL}:root"},
            "Action": "sts:AssumeRole",
        }
    )
    _, added = add_denies(
        stored, [(DenyTarget(PRINCIPAL, f"arn:aws:iam::{EXTERNAL}:user/Bob"), ["sts:AssumeRole"])], ZONE
    )
    assert added == []


def test_a_foreign_unconditional_deny_is_not_coverage() -> None:
    # Coverage only in the exact shapes the tool writes: anything else is contained anew (and reported).
    stored = trust_policy({"AWS": EXTERNAL})
    stored["Statement"].append(
        {"Sid": "Mine", "Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{EXTERNAL}:root"}, "Action": "sts:*"}
    )
    _, added = add_denies(stored, [(DenyTarget(ACCOUNT, EXTERNAL), ["sts:AssumeRole"])], ZONE)
    assert [e.value for e in added] == [EXTERNAL]


def test_conditional_deny_written_by_someone_else_does_not_count_as_coverage() -> None:
    policy = trust_policy({"AWS": EXTERNAL})
    policy["Statement"].append(
        {
            "Effect": "Deny",
            "Principal": {"AWS": EXTERNAL},
            "Action": "sts:AssumeRole",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}},
        }
    )
    _, added = add_denies(policy, [(DenyTarget(ACCOUNT, EXTERNAL), ["sts:AssumeRole"])], ZONE)
    assert len(added) == 1


def test_partially_covered_actions_add_only_the_missing_action() -> None:
    target = DenyTarget(ACCOUNT, EXTERNAL)
    once, _ = add_denies(trust_policy({"AWS": EXTERNAL}), [(target, ["sts:AssumeRole"])], ZONE)
    after, added = add_denies(once, [(target, ["sts:AssumeRole", "sts:TagSession"])], ZONE)
    assert [e.actions for e in added] == [("sts:TagSession",)]
    assert after["Statement"][-1]["Action"] == ["sts:TagSession"]


def test_a_foreign_statement_holding_our_sid_gets_a_fresh_sid_and_stays_as_it_is() -> None:
    policy = trust_policy({"AWS": EXTERNAL})
    planted = {"Sid": sid_for(ACCOUNT, ["sts:AssumeRole"]), "Effect": "Allow", "Principal": "*", "Action": "x:Y"}
    policy["Statement"].append(planted)
    after, [entry] = add_denies(policy, [(DenyTarget(ACCOUNT, EXTERNAL), ["sts:AssumeRole"])], ZONE)
    assert after["Statement"][:2] == policy["Statement"]
    assert entry.sid != planted["Sid"] and entry.sid == sid_for(ACCOUNT, ["sts:AssumeRole"], generation=1)
    assert after["Statement"][2]["Principal"] == {"AWS": [EXTERNAL]}


@pytest.mark.parametrize("bad", [{}, {"Statement": "x"}, {"Statement": [1, 2]}])
def test_unreadable_policies_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(PolicyError):
        add_denies(bad, [(DenyTarget(ACCOUNT, EXTERNAL), ["sts:AssumeRole"])], ZONE)


def test_remove_takes_out_exactly_one_principal_and_keeps_later_changes() -> None:
    a, b = DenyTarget(ACCOUNT, EXTERNAL), DenyTarget(ACCOUNT, "222233334444")
    with_a, added_a = add_denies(trust_policy({"AWS": EXTERNAL}), [(a, ["sts:AssumeRole"])], ZONE)
    with_ab, _ = add_denies(with_a, [(b, ["sts:AssumeRole"])], ZONE)
    with_ab["Statement"].append({"Sid": "Later", "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}})
    after, removed = remove_denies(with_ab, added_a)
    assert removed == added_a
    assert after["Statement"][1]["Principal"] == {"AWS": ["222233334444"]}
    assert after["Statement"][2]["Sid"] == "Later"


def test_remove_drops_the_statement_when_its_last_principal_goes_and_restores_the_original() -> None:
    original = {
        "Version": "2012-10-17",
        "Statement": {"Effect": "Allow", "Principal": {"AWS": EXTERNAL}, "Action": "sts:AssumeRole"},
    }
    after, added = add_denies(original, [(DenyTarget(ACCOUNT, EXTERNAL), ["sts:AssumeRole"])], ZONE)
    restored, _ = remove_denies(after, added)
    assert compact(match_statement_form(restored, original)) == compact(original)


def test_remove_matches_the_root_arn_form_iam_may_store() -> None:
    entry = DenyEntry(sid_for(ACCOUNT, ["sts:AssumeRole"]), ACCOUNT, EXTERNAL, ("sts:AssumeRole",))
    stored = trust_policy({"AWS": EXTERNAL})
    stored["Statement"].append(
        {
            "Sid": entry.sid,
            "Effect": "Deny",
            "Principal": {"AWS": f"arn:aws:iam::{EXTERNAL}:root"},
            "Action": "sts:AssumeRole",
        }
    )
    after, removed = remove_denies(stored, [entry])
    assert removed == [entry]
    assert after == trust_policy({"AWS": EXTERNAL})


def test_tool_entries_lists_what_the_tool_denies() -> None:
    arn = f"arn:aws:iam::{EXTERNAL}:user/Alice"
    after, added = add_denies(
        trust_policy({"AWS": EXTERNAL}),
        [(DenyTarget(ACCOUNT, EXTERNAL), ["sts:AssumeRole"]), (DenyTarget(PRINCIPAL, arn), ["sts:AssumeRole"])],
        ZONE,
    )
    # The account deny already covers Alice, so only one entry is added and listed.
    assert tool_entries(after) == added
    assert [e.kind for e in added] == [ACCOUNT]


def test_compact_json_has_no_whitespace() -> None:
    text = compact(trust_policy({"AWS": EXTERNAL}))
    assert " " not in text and json.loads(text) == trust_policy({"AWS": EXTERNAL})


def test_a_decoy_with_our_sid_shape_covers_nothing() -> None:
    # A Deny whose Sid merely looks like ours, for some unrelated account, must not count as containment.
    target = DenyTarget(PRINCIPAL, f"arn:aws:iam::{EXTERNAL}:user/Alice")
    policy = trust_policy({"AWS": target.value})
    policy["Statement"].append(
        {
            "Sid": f"{SID_PREFIX}Principal0BADF00D",
            "Effect": "Deny",
            "Principal": {"AWS": "123412341234"},
            "Action": "sts:AssumeRole",
            "Condition": {"ArnLike": {"aws:PrincipalArn": [target.value]}},
        }
    )
    assert covering(policy, target, "sts:AssumeRole", ZONE) is None
    after, added = add_denies(policy, [(target, ["sts:AssumeRole"])], ZONE)
    assert [e.value for e in added] == [target.value]
    assert after["Statement"][1] == policy["Statement"][1]  # the decoy is left exactly as it was


def test_a_public_deny_limited_to_one_unused_account_is_not_the_perimeter() -> None:
    policy = trust_policy({"AWS": "*"})
    policy["Statement"].append(
        {
            "Sid": sid_for(PUBLIC, ["sts:AssumeRole"]),
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": ["sts:AssumeRole"],
            "Condition": {
                "StringNotEqualsIfExists": {"aws:PrincipalAccount": ["555555555555"]},
                "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
            },
        }
    )
    target = DenyTarget(PUBLIC, "*")
    assert covering(policy, target, "sts:AssumeRole", ZONE) is None
    after, [entry] = add_denies(policy, [(target, ["sts:AssumeRole"])], ZONE)
    assert entry.sid == sid_for(PUBLIC, ["sts:AssumeRole"], generation=1)
    assert after["Statement"][-1]["Condition"]["StringNotEqualsIfExists"]["aws:PrincipalAccount"] == [OWNER]


def test_org_and_allowlisted_principals_are_excluded_inside_the_deny() -> None:
    zone = Zone(frozenset({OWNER}), "o-abcdefghij", (f"arn:aws:iam::{EXTERNAL}:role/ci-*", "444455556666"))
    account = DenyTarget(ACCOUNT, EXTERNAL)
    after, _ = add_denies(trust_policy({"AWS": EXTERNAL}), [(account, ["sts:AssumeRole"])], zone)
    deny = after["Statement"][-1]
    assert deny["Principal"] == {"AWS": [EXTERNAL]}
    assert deny["Condition"] == {
        "StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-abcdefghij"},
        "ArnNotLike": {"aws:PrincipalArn": [f"arn:aws:iam::{EXTERNAL}:role/ci-*"]},
    }
    public, _ = add_denies(trust_policy({"AWS": "*"}), [(DenyTarget(PUBLIC, "*"), ["sts:AssumeRole"])], zone)
    perimeter = public["Statement"][-1]["Condition"]
    assert perimeter["StringNotEqualsIfExists"] == {
        "aws:PrincipalAccount": [OWNER, "444455556666"],  # the allowlisted account is inside the perimeter
        "aws:PrincipalOrgID": "o-abcdefghij",
    }
    assert perimeter["ArnNotLike"] == {"aws:PrincipalArn": [f"arn:aws:iam::{EXTERNAL}:role/ci-*"]}


def test_a_session_of_an_allowlisted_role_is_allowlisted() -> None:
    zone = Zone(frozenset({OWNER}), None, (f"arn:aws:iam::{EXTERNAL}:role/Deployer",))
    [target], _ = classify_principal({"AWS": f"arn:aws:sts::{EXTERNAL}:assumed-role/Deployer/s1"})
    assert zone.is_allowlisted(target)


def test_own_statements_round_trip_through_parse() -> None:
    zone = Zone(frozenset({OWNER}), "o-abcdefghij", (f"arn:aws:iam::{EXTERNAL}:user/ok",))
    policy = trust_policy({"AWS": EXTERNAL})
    for target in (
        DenyTarget(ACCOUNT, EXTERNAL),
        DenyTarget(PRINCIPAL, f"arn:aws:iam::{EXTERNAL}:user/Alice"),
        DenyTarget(FEDERATED, "accounts.google.com"),
        DenyTarget(PUBLIC, "*"),
    ):
        policy, _ = add_denies(policy, [(target, ["sts:AssumeRole"])], zone)
    owns = [parse_own(s) for s in policy["Statement"][1:]]
    assert all(own is not None and own.render() == s for own, s in zip(owns, policy["Statement"][1:], strict=True))


def test_a_stale_read_missing_a_ledger_entry_gets_it_back() -> None:
    target = DenyTarget(ACCOUNT, EXTERNAL)
    written, _ = add_denies(trust_policy({"AWS": EXTERNAL}), [(target, ["sts:AssumeRole"])], ZONE)
    own = parse_own(written["Statement"][-1])
    assert own is not None
    stale = trust_policy({"AWS": EXTERNAL})
    assert [e.value for e in missing_entries(stale, [own])] == [EXTERNAL]
    restored, put_back = restore_entries(stale, [own])
    assert restored == written and [e.value for e in put_back] == [EXTERNAL]
    assert missing_entries(restored, [own]) == []
