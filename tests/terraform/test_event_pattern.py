"""The rule's event pattern, rendered by Terraform, against the sample events (moto's EventBridge matcher)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from tests.terraform.tfrunner import REPO_ROOT, Terraform

pytestmark = pytest.mark.terraform

EVENTS = REPO_ROOT / "tests" / "events"
ANALYZER = "arn:aws:access-analyzer:us-west-2:111122223333:analyzer/MyAnalyzer"
ROLE_MATCH = [
    "iam_role_active.json",
    "iam_role_federated_cognito.json",
    "iam_role_public.json",
    "iam_role_with_path.json",
    "iam_role_error.json",  # the rule cannot tell error findings apart; the Lambda ignores them
    # resourceType is prefix-matched: events with stray whitespace after the type are still delivered.
    "iam_role_whitespace_quirk.json",
]
# The default resource_types also sends bucket and key findings; a roles-only deployment does not.
BUCKET_AND_KEY_MATCH = [
    "s3_bucket_active.json",
    "s3_bucket_public.json",
    "s3_bucket_cross_account.json",
    "s3_bucket_acl.json",
    "kms_key_cross_account.json",
    "kms_key_grant.json",
]
MATCH = ROLE_MATCH + BUCKET_AND_KEY_MATCH
NO_MATCH = [
    "iam_role_archived.json",
    "iam_role_resolved.json",
    "iam_role_deleted.json",
    "unused_access.json",
]


def render(terraform: Terraform, directory: Path, *variables: str) -> dict[str, Any]:
    """local.event_pattern of the root module for the sample events' analyzer (existing-analyzer mode)."""
    proc = terraform.run(
        "console",
        "-no-color",
        "-var=notification_email=security@example.com",
        "-var=create_analyzer=false",
        f"-var=analyzer_arns=[{json.dumps(ANALYZER)}]",
        *variables,
        cwd=directory,
        stdin="local.event_pattern\n",
    )
    rendered: dict[str, Any] = json.loads(json.loads(proc.stdout.strip()))
    return rendered


@pytest.fixture(scope="module")
def pattern(terraform: Terraform, initialized: Callable[[str], Path]) -> dict[str, Any]:
    """The pattern with the default resource_types."""
    return render(terraform, initialized("."))


@pytest.fixture(scope="module")
def roles_only_pattern(terraform: Terraform, initialized: Callable[[str], Path]) -> dict[str, Any]:
    return render(terraform, initialized("."), '-var=resource_types=["AWS::IAM::Role"]')


def load(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    return bool(EventPattern.load(json.dumps(pattern)).matches_event(event))  # type: ignore[arg-type]


def test_pattern_content(pattern: dict[str, Any]) -> None:
    assert pattern == {
        "source": ["aws.access-analyzer"],
        "detail-type": ["Access Analyzer Finding"],
        "resources": [ANALYZER],
        "detail": {
            "status": ["ACTIVE"],
            "isDeleted": [{"exists": False}, False],
            "resourceType": [{"prefix": "AWS::IAM::Role"}, {"prefix": "AWS::S3::Bucket"}, {"prefix": "AWS::KMS::Key"}],
        },
    }


@pytest.mark.parametrize("name", MATCH)
def test_active_findings_of_the_default_types_match(pattern: dict[str, Any], name: str) -> None:
    assert matches(pattern, load(name))


@pytest.mark.parametrize("name", ROLE_MATCH)
def test_roles_only_matches_role_findings(roles_only_pattern: dict[str, Any], name: str) -> None:
    assert roles_only_pattern["detail"]["resourceType"] == [{"prefix": "AWS::IAM::Role"}]
    assert matches(roles_only_pattern, load(name))


@pytest.mark.parametrize("name", BUCKET_AND_KEY_MATCH + NO_MATCH)
def test_roles_only_matches_nothing_else(roles_only_pattern: dict[str, Any], name: str) -> None:
    assert not matches(roles_only_pattern, load(name))


def test_a_type_not_listed_does_not_match(pattern: dict[str, Any]) -> None:
    event = load("iam_role_active.json")
    event["detail"]["resourceType"] = "AWS::SQS::Queue"
    assert not matches(pattern, event)


@pytest.mark.parametrize("name", NO_MATCH)
def test_other_events_do_not_match(pattern: dict[str, Any], name: str) -> None:
    assert not matches(pattern, load(name))


def test_every_sample_is_classified() -> None:
    assert sorted(MATCH + NO_MATCH) == sorted(p.name for p in EVENTS.glob("*.json"))


def test_missing_is_deleted_matches(pattern: dict[str, Any]) -> None:
    event = load("iam_role_active.json")
    del event["detail"]["isDeleted"]
    assert matches(pattern, event)


def test_other_analyzer_does_not_match(pattern: dict[str, Any]) -> None:
    event = load("iam_role_active.json")
    event["resources"] = [ANALYZER.replace("MyAnalyzer", "SomeoneElses")]
    assert not matches(pattern, event)
