"""The tool's Deny statements in resource-based policies (`resources`: the document's Resource element), the first
step of the resource-type design (docs/architecture.md, "Resource types"): the same shapes, coverage, add, remove
and restore as for a trust policy, with the resource named; a trust policy's statements stay as they were.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from access_analyzer_remediation.policy import (
    ACCOUNT,
    PRINCIPAL,
    PUBLIC,
    DenyTarget,
    Zone,
    add_denies,
    covering,
    match_statement_form,
    missing_entries,
    own_statements,
    parse_own,
    remove_denies,
    restore_entries,
    statements,
    tool_entries,
)
from access_analyzer_remediation.state import Ledger

OWNER = "111122223333"
EXTERNAL = "999988887777"
BUCKET = ("arn:aws:s3:::shared-data", "arn:aws:s3:::shared-data/*")
KEY = ("*",)
FORMS = {"trust policy": (), "bucket policy": BUCKET, "key policy": KEY}
ZONE = Zone(frozenset({OWNER}), "o-abcdefghij", ("arn:aws:iam::222233334444:role/Auditor",))


def bucket_policy(*body: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(body)}


READ_FOR_PARTNER = {
    "Sid": "PartnerRead",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{EXTERNAL}:root"},
    "Action": "s3:GetObject",
    "Resource": "arn:aws:s3:::shared-data/*",
}


def test_a_bucket_deny_names_the_bucket_and_its_objects() -> None:
    after, [entry] = add_denies(
        bucket_policy(READ_FOR_PARTNER), [(DenyTarget(ACCOUNT, EXTERNAL), ["s3:GetObject"])], ZONE, BUCKET
    )
    first, deny = statements(after)
    assert first == READ_FOR_PARTNER
    assert deny == {
        "Sid": entry.sid,
        "Effect": "Deny",
        "Principal": {"AWS": [EXTERNAL]},
        "Action": ["s3:GetObject"],
        "Resource": list(BUCKET),
        "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-abcdefghij"}},
    }
    assert parse_own(deny, BUCKET) is not None
    assert parse_own(deny) is None and parse_own(deny, KEY) is None  # another document's shape is not ours
    assert covering(after, DenyTarget(ACCOUNT, EXTERNAL), "s3:GetObject", ZONE, BUCKET) is not None


def test_a_trust_policy_deny_is_unchanged_and_is_not_a_resource_policy_statement() -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": EXTERNAL}, "Action": "sts:AssumeRole"}],
    }
    after, _ = add_denies(trust, [(DenyTarget(ACCOUNT, EXTERNAL), ["sts:AssumeRole"])], Zone(frozenset({OWNER})))
    deny = statements(after)[1]
    assert set(deny) == {"Sid", "Effect", "Principal", "Action"}  # no Resource element, as before
    assert parse_own(deny) is not None and parse_own(deny, BUCKET) is None


def test_our_shape_for_another_bucket_is_not_coverage() -> None:
    other = ("arn:aws:s3:::other-bucket", "arn:aws:s3:::other-bucket/*")
    elsewhere, [entry] = add_denies(
        bucket_policy(READ_FOR_PARTNER), [(DenyTarget(ACCOUNT, EXTERNAL), ["s3:GetObject"])], ZONE, other
    )
    # Same Sid, same principal, another Resource (say, pasted from another bucket): it protects nothing here.
    assert covering(elsewhere, DenyTarget(ACCOUNT, EXTERNAL), "s3:GetObject", ZONE, BUCKET) is None
    after, [fresh] = add_denies(elsewhere, [(DenyTarget(ACCOUNT, EXTERNAL), ["s3:GetObject"])], ZONE, BUCKET)
    assert fresh.sid != entry.sid and statements(after)[:2] == statements(elsewhere)  # a fresh Sid; theirs untouched
    assert [own.resources for own in own_statements(after, BUCKET)] == [BUCKET]


def test_the_ledger_keeps_the_resources_and_restores_a_lost_deny() -> None:
    after, entries = add_denies(
        bucket_policy(READ_FOR_PARTNER),
        [(DenyTarget(PRINCIPAL, f"arn:aws:iam::{EXTERNAL}:user/Bob"), ["s3:GetObject"])],
        ZONE,
        BUCKET,
    )
    ledger = Ledger()
    ledger.add(after, entries, "finding-1", BUCKET)
    stored = json.loads(json.dumps(ledger.to_json()))
    assert [item["resources"] for item in stored] == [list(BUCKET)]
    again = Ledger.from_json(stored)
    assert again.in_place() == ledger.in_place()
    # A stale read without the Deny: the ledger says what is missing and puts it back, resources and all.
    stale = bucket_policy(READ_FOR_PARTNER)
    assert missing_entries(stale, again.in_place()) == entries
    restored, put_back = restore_entries(stale, again.in_place())
    assert put_back == entries and restored == after
    assert missing_entries(after, again.in_place()) == []


def test_a_role_ledger_is_stored_as_before() -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": EXTERNAL}, "Action": "sts:AssumeRole"}],
    }
    after, entries = add_denies(trust, [(DenyTarget(ACCOUNT, EXTERNAL), ["sts:AssumeRole"])], Zone(frozenset({OWNER})))
    ledger = Ledger()
    ledger.add(after, entries, "finding-1")
    assert [set(item) for item in ledger.to_json()] == [{"sid", "kind", "actions", "exclusions", "values"}]


# ==================================================================================================== properties
accounts = st.sampled_from([OWNER, EXTERNAL, "222233334444", "444455556666"])
targets = st.one_of(
    accounts.map(lambda a: DenyTarget(ACCOUNT, a)),
    st.tuples(accounts, st.sampled_from(["user/Alice", "role/Ci", "role/Auditor"])).map(
        lambda t: DenyTarget(PRINCIPAL, f"arn:aws:iam::{t[0]}:{t[1]}")
    ),
    st.just(DenyTarget(PUBLIC, "*")),
)
s3_actions = st.lists(st.sampled_from(["s3:GetObject", "s3:PutObject", "s3:ListBucket"]), min_size=1, max_size=2)
foreign = st.fixed_dictionaries(
    {
        "Effect": st.sampled_from(["Allow", "Deny"]),
        "Principal": st.one_of(st.just("*"), st.fixed_dictionaries({"AWS": accounts})),
        "Action": st.sampled_from(["s3:GetObject", "s3:*", "kms:Decrypt"]),
        "Resource": st.sampled_from(["arn:aws:s3:::shared-data/*", "*"]),
    }
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    form=st.sampled_from(sorted(FORMS)),
    body=st.lists(foreign, min_size=1, max_size=4),
    requests=st.lists(st.tuples(targets, s3_actions), min_size=1, max_size=4),
)
def test_every_form_adds_exactly_keeps_foreign_statements_and_reverts(
    form: str, body: list[dict[str, Any]], requests: list[tuple[DenyTarget, list[str]]]
) -> None:
    resources = FORMS[form]
    original = bucket_policy(*body)
    zone = Zone(frozenset({OWNER}), "o-abcdefghij", ("arn:aws:iam::222233334444:role/Auditor",))
    wanted = [(t, a) for t, a in requests if not zone.is_allowlisted(t) and t.account_id != OWNER]
    after, added = add_denies(original, wanted, zone, resources)
    # Foreign statements: the same, in the same order, first.
    assert statements(after)[: len(body)] == body
    # Every own statement names exactly the document's resources, and the zone is never a denied value.
    for own in own_statements(after, resources):
        assert own.resources == resources
        assert OWNER not in own.values and not any(v.startswith(f"arn:aws:iam::{OWNER}:") for v in own.values)
    # Every request is covered; asking again adds nothing (idempotent).
    for target, actions in wanted:
        assert all(covering(after, target, a, zone, resources) for a in actions)
    assert add_denies(after, wanted, zone, resources) == (after, [])
    # What was added is what the document's own statements hold; removing it gives the original back.
    assert sorted(tool_entries(after, resources)) == sorted(added)
    reverted, removed = remove_denies(after, added, resources)
    assert sorted(removed) == sorted(added)
    assert match_statement_form(reverted, original) == original


@pytest.mark.parametrize("form", sorted(FORMS))
def test_a_public_deny_keeps_the_zone_and_aws_services(form: str) -> None:
    after, [entry] = add_denies(
        bucket_policy(READ_FOR_PARTNER), [(DenyTarget(PUBLIC, "*"), ["s3:GetObject"])], ZONE, FORMS[form]
    )
    deny = statements(after)[1]
    assert deny["Principal"] == {"AWS": "*"} and deny.get("Resource", None) == (list(FORMS[form]) or None)
    assert deny["Condition"]["StringNotEqualsIfExists"] == {
        "aws:PrincipalAccount": [OWNER],
        "aws:PrincipalOrgID": "o-abcdefghij",
    }
    assert deny["Condition"]["BoolIfExists"] == {"aws:PrincipalIsAWSService": "false"}  # e.g. CloudFront reading
    assert deny["Condition"]["ArnNotLike"] == {"aws:PrincipalArn": ["arn:aws:iam::222233334444:role/Auditor"]}
    assert entry.kind == PUBLIC


def test_a_stale_read_missing_one_value_is_restored_into_our_statement() -> None:
    first, entries = add_denies(
        bucket_policy(READ_FOR_PARTNER), [(DenyTarget(ACCOUNT, EXTERNAL), ["s3:GetObject"])], ZONE, BUCKET
    )
    both, more = add_denies(first, [(DenyTarget(ACCOUNT, "444455556666"), ["s3:GetObject"])], ZONE, BUCKET)
    assert {e.sid for e in entries + more} == {entries[0].sid}  # one statement, two accounts
    ledger = Ledger()
    ledger.add(both, entries + more, "finding-1", BUCKET)
    # The read shows our statement with the first account only (the second write not visible yet).
    restored, put_back = restore_entries(first, ledger.in_place())
    assert put_back == more and restored == both  # into our statement, no second copy under a fresh Sid
