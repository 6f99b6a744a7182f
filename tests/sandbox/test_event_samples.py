"""tests/events: every sample is exactly what the stand-in would publish for the same finding."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from sandbox.access_analyzer import build_finding_event

from .conftest import FINDING_PATTERN

EVENTS = Path(__file__).resolve().parents[1] / "events"
SAMPLES = sorted(p.name for p in EVENTS.glob("*.json"))
FINDING_SAMPLES = [name for name in SAMPLES if name != "unused_access.json"]
TOP_LEVEL = ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return data


def test_readme_lists_exactly_the_samples() -> None:
    listed = re.findall(r"^\| `([^`]+\.json)` \|", (EVENTS / "README.md").read_text(), flags=re.MULTILINE)
    assert sorted(listed) == SAMPLES
    assert len(SAMPLES) == 16


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_is_an_access_analyzer_eventbridge_event(name: str) -> None:
    event = _load(name)
    assert list(event) == TOP_LEVEL
    assert event["source"] == "aws.access-analyzer"
    assert event["resources"][0].startswith("arn:aws:access-analyzer:us-west-2:111122223333:analyzer/")


@pytest.mark.parametrize("name", FINDING_SAMPLES)
def test_finding_sample_equals_what_the_standin_builds(name: str) -> None:
    sample = _load(name)
    detail = sample["detail"]
    finding = {
        key: value for key, value in detail.items() if key not in ("version", "accountId", "region", "isDeleted")
    }
    finding["resourceOwnerAccount"] = detail["accountId"]
    built = build_finding_event(
        finding,
        sample["resources"][0],
        detail["region"],
        sample["account"],
        is_deleted=detail["isDeleted"],
        event_id=sample["id"],
        event_time=sample["time"],
    )
    assert built == sample
    assert list(built["detail"]) == list(detail)  # same fields in the same order


def test_error_sample_has_no_access_fields() -> None:
    detail = _load("iam_role_error.json")["detail"]
    assert detail["error"] == "ACCESS_DENIED"
    assert not {"principal", "action", "condition", "isPublic"} & set(detail)


def test_quirk_and_lifecycle_samples_carry_their_quirk() -> None:
    quirk = _load("iam_role_whitespace_quirk.json")["detail"]
    assert quirk["resourceType"] == "AWS::IAM::Role\n"
    assert quirk["resource"] != quirk["resource"].strip()
    assert quirk["resource"].strip() == _load("iam_role_active.json")["detail"]["resource"]
    assert _load("iam_role_deleted.json")["detail"]["isDeleted"] is True
    assert _load("iam_role_archived.json")["detail"]["status"] == "ARCHIVED"
    assert _load("iam_role_resolved.json")["detail"]["status"] == "RESOLVED"
    assert _load("iam_role_with_path.json")["detail"]["resource"].endswith(":role/service-role/teams/Deployer")
    assert _load("iam_role_public.json")["detail"]["isPublic"] is True
    ids = [_load(name)["detail"]["id"] for name in FINDING_SAMPLES]
    assert len(set(ids)) == len(ids)


def test_unused_access_sample_is_not_an_external_access_finding() -> None:
    event = _load("unused_access.json")
    assert event["detail-type"] == "Unused Access Finding for IAM entities"
    assert "id" not in event["detail"] and event["detail"]["findingId"]
    assert event["detail"]["findingType"] == "UnusedPermission"


@pytest.mark.parametrize("name", SAMPLES)
def test_the_module_rule_pattern_matches_only_external_access_samples(name: str) -> None:
    pattern = EventPattern(json.dumps(FINDING_PATTERN), FINDING_PATTERN)
    assert pattern.matches_event(_load(name)) is (name in FINDING_SAMPLES)  # type: ignore[arg-type]
