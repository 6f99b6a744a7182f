"""The digest: subject rules, what every notice says, one message per batch."""

from __future__ import annotations

import json

import pytest

from access_analyzer_remediation import planner
from access_analyzer_remediation.notify import MESSAGE_MAX, Notice, console_link, digest, render, subject
from access_analyzer_remediation.policy import remove_denies

from .conftest import make_finding, make_settings, role_state, trust_policy


def _remediated_notice(role_arn: str = "arn:aws:iam::111122223333:role/Audit_CrossAccountRole") -> Notice:
    finding = make_finding(resource=role_arn)
    plan = planner.plan_finding(
        finding, role_state(trust_policy({"AWS": "999988887777"}), arn=role_arn), make_settings()
    )
    assert plan.policy_after is not None
    revert_policy, _ = remove_denies(plan.policy_after, plan.added)
    return Notice(
        plan.decision, plan.reason, plan.summary, finding, "remediate", plan.statements_added(), revert_policy
    )


def test_remediated_notice_says_what_was_found_done_and_how_to_undo_or_archive() -> None:
    notice = _remediated_notice()
    text = render(notice)
    assert "[REMEDIATED] role Audit_CrossAccountRole" in text
    assert "AWS: 999988887777 can sts:AssumeRole" in text
    assert json.dumps(notice.statements[0], separators=(",", ":")) in text
    assert "aa-remediate revert --finding-id f-1 --archive" in text
    assert "aws iam update-assume-role-policy --role-name Audit_CrossAccountRole --policy-document" in text
    assert "aws accessanalyzer update-findings" in text and "--status ARCHIVED" in text
    assert "aws accessanalyzer create-archive-rule" in text and "--analyzer-name MyAnalyzer" in text
    assert '"principal.AWS":{"eq":["999988887777"]}' in text  # the rule covers this principal, not the whole role
    assert "https://console.aws.amazon.com/iam/home#/roles/details/Audit_CrossAccountRole" in text


def test_notify_mode_notice_shows_the_change_it_would_make() -> None:
    finding = make_finding()
    plan = planner.plan_finding(
        finding, role_state(trust_policy({"AWS": "999988887777"})), make_settings(mode="notify")
    )
    text = render(Notice(plan.decision, plan.reason, plan.summary, finding, "notify", plan.statements_added()))
    assert "[NOTIFY ONLY]" in text and "Would add to the trust policy" in text and "(notify_mode)" in text


@pytest.mark.parametrize(
    ("partition", "host"),
    [
        ("aws", "console.aws.amazon.com"),
        ("aws-cn", "console.amazonaws.cn"),
        ("aws-us-gov", "console.amazonaws-us-gov.com"),
    ],
)
def test_console_link_follows_the_partition(partition: str, host: str) -> None:
    finding = make_finding(resource=f"arn:{partition}:iam::111122223333:role/R")
    assert console_link(finding.role).startswith(f"https://{host}/")


def test_subject_is_ascii_and_under_100_characters() -> None:
    long_name = "R" * 64
    notice = _remediated_notice(f"arn:aws:iam::111122223333:role/{long_name}")
    single = subject([notice], "111122223333")
    many = subject([notice] * 7, "111122223333")
    for text in (single, many):
        assert len(text) < 100
        assert text.isascii()
        assert "\n" not in text
    assert many.startswith("[Access Analyzer] 7 findings in 111122223333")


def test_a_batch_is_one_digest_and_a_huge_one_is_truncated_with_a_pointer() -> None:
    notices = [_remediated_notice() for _ in range(3)]
    text = digest(notices)
    assert text.count("[REMEDIATED]") == 3
    huge = digest([_remediated_notice()] * 2000)
    assert len(huge) <= MESSAGE_MAX + 200
    assert "more finding(s)" in huge
