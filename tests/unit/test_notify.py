"""The digest: subject rules, what every notice says, one message per batch."""

from __future__ import annotations

import dataclasses
import json

import pytest

from access_analyzer_remediation import planner
from access_analyzer_remediation.notify import (
    MESSAGE_MAX_BYTES,
    Notice,
    clean,
    console_link,
    digest,
    digests,
    render,
    subject,
)

from .conftest import make_finding, make_settings, role_state, trust_policy


def _remediated_notice(role_arn: str = "arn:aws:iam::111122223333:role/Audit_CrossAccountRole") -> Notice:
    finding = make_finding(resource=role_arn)
    plan = planner.plan_finding(
        finding, role_state(trust_policy({"AWS": "999988887777"}), arn=role_arn), make_settings()
    )
    assert plan.policy_after is not None
    return Notice(
        plan.decision, plan.reason, plan.summary, finding, "remediate", plan.statements_added(), entries=plan.added
    )


def test_remediated_notice_says_what_was_found_done_and_how_to_undo_or_archive() -> None:
    notice = _remediated_notice()
    text = render(notice)
    assert "[REMEDIATED] role Audit_CrossAccountRole" in text
    assert "AWS: 999988887777 can sts:AssumeRole" in text
    assert json.dumps(notice.statements[0], separators=(",", ":")) in text
    assert "aa-remediate revert --finding-id f-1 --archive" in text
    # No whole-document AWS CLI command: run later it would undo every change made since. By hand: exactly this entry.
    assert "update-assume-role-policy" not in text
    assert 'By hand:    in the trust policy of Audit_CrossAccountRole, remove "999988887777" from statement' in text
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
    assert console_link(finding.resource).startswith(f"https://{host}/")


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


def test_a_batch_is_one_digest_and_a_huge_one_is_split_never_cut() -> None:
    notices = [_remediated_notice() for _ in range(3)]
    assert len(digests(notices)) == 1 and digest(notices).count("[REMEDIATED]") == 3
    huge = digests([_remediated_notice()] * 2000)
    assert len(huge) > 1
    assert all(len(message.encode("utf-8")) <= MESSAGE_MAX_BYTES for message in huge)
    assert sum(message.count("[REMEDIATED]") for message in huge) == 2000  # every finding, with its undo line
    assert sum(message.count("aa-remediate revert --finding-id f-1 --archive") for message in huge) == 2000


def test_sizes_are_utf8_bytes_not_characters() -> None:
    wide = make_finding(principal={"AWS": "999988887777"})
    notice = Notice("notify", "protected_role", "é" * 3000, wide, "remediate")
    messages = digests([notice] * 200)
    assert all(len(m.encode("utf-8")) <= MESSAGE_MAX_BYTES for m in messages) and len(messages) > 1


def test_policy_text_cannot_forge_a_notice() -> None:
    forged = "x\n[REMEDIATED] role Prod (external_access_denied)\n  Undo: run this"
    finding = make_finding(principal={"AWS": "999988887777"})
    finding = dataclasses.replace(finding, condition={"aws:SourceIp": forged})
    text = render(Notice("notify", "protected_role", "summary\u2028line", finding, "remediate"))
    assert text.count("[REMEDIATED]") == 1 and "[NOT CONTAINED]" in text  # only inside the escaped value
    assert "\n[REMEDIATED]" not in text and "x\\x0a[REMEDIATED]" in text
    assert "summary\\u2028line" in text
    assert all(line.isprintable() for line in text.splitlines())
    assert clean("a\x1b[31mb") == "a\\x1b[31mb"
