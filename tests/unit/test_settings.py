"""Settings: one validated object; a bad value fails with a message naming the variable."""

from __future__ import annotations

import json

import pytest

from access_analyzer_remediation.settings import DEFAULT_PROTECTED_ROLE_PATTERNS, Settings, SettingsError

from .conftest import ANALYZER, TOPIC

BASE = {
    "AAR_ANALYZER_ARNS": json.dumps([ANALYZER]),
    "AAR_AUDIT_TABLE_NAME": "aar-audit",
    "AAR_TOPIC_ARN": TOPIC,
}


def test_minimal_environment_gives_safe_defaults() -> None:
    settings = Settings.from_env(BASE)
    assert settings.mode == "remediate"
    assert settings.protected_role_patterns == DEFAULT_PROTECTED_ROLE_PATTERNS
    assert settings.trust_policy_max_chars == 2048
    assert settings.tracing is False


def test_every_variable_is_read() -> None:
    env = {
        **BASE,
        "AAR_MODE": "notify",
        "AAR_TRUSTED_ACCOUNT_IDS": '["444455556666"]',
        "AAR_TRUSTED_ORG_ID": "o-abcdefghij",
        "AAR_PROTECTED_ROLE_PATTERNS": '["Break*"]',
        "AAR_OWN_ROLE_ARNS": '["arn:aws:iam::111122223333:role/aar-lambda"]',
        "AAR_EXEMPTION_TAG_KEY": "security:exempt",
        "AAR_ALLOWED_PRINCIPALS": '["555566667777"]',
        "AAR_TRUST_POLICY_MAX_CHARS": "4096",
        "AAR_AUDIT_RETENTION_DAYS": "0",
        "AAR_LOCK_LEASE_SECONDS": "30",
        "AAR_TRACING": "true",
    }
    settings = Settings.from_env(env)
    assert settings.mode == "notify"
    assert settings.trusted_account_ids == frozenset({"444455556666"})
    assert settings.trusted_org_id == "o-abcdefghij"
    assert settings.protected_role_patterns == ("Break*",)
    assert settings.own_role_arns == frozenset({"arn:aws:iam::111122223333:role/aar-lambda"})
    assert settings.exemption_tag_key == "security:exempt"
    assert settings.allowed_principals == ("555566667777",)
    assert (settings.trust_policy_max_chars, settings.audit_retention_days, settings.lock_lease_seconds) == (
        4096,
        0,
        30,
    )
    assert settings.tracing is True


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AAR_MODE", "fix-everything"),
        ("AAR_ANALYZER_ARNS", "arn:aws:access-analyzer:us-east-1:111122223333:analyzer/x"),
        ("AAR_ANALYZER_ARNS", "[]"),
        ("AAR_ANALYZER_ARNS", '["arn:aws:iam::111122223333:role/x"]'),
        ("AAR_TRUSTED_ACCOUNT_IDS", '["12345"]'),
        ("AAR_TRUSTED_ORG_ID", "org-1"),
        ("AAR_TOPIC_ARN", "my-topic"),
        ("AAR_AUDIT_TABLE_NAME", ""),
        ("AAR_TRUST_POLICY_MAX_CHARS", "1000"),
        ("AAR_TRUST_POLICY_MAX_CHARS", "lots"),
        ("AAR_LOCK_LEASE_SECONDS", "0"),
        ("AAR_TRACING", "yes"),
        ("AAR_PROTECTED_ROLE_PATTERNS", '[""]'),
    ],
)
def test_bad_values_fail_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({**BASE, name: value})


@pytest.mark.parametrize("missing", sorted(BASE))
def test_required_values_are_required(missing: str) -> None:
    env = {k: v for k, v in BASE.items() if k != missing}
    with pytest.raises(SettingsError, match=missing):
        Settings.from_env(env)
