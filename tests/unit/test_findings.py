"""Event intake: strict validation, known quirks tolerated, non-actionable events acknowledged."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from access_analyzer_remediation.findings import FindingRef, Ignored, MalformedEvent, RoleRef, parse_event

from .conftest import ANALYZER, load_event


def test_documented_sample_event_is_a_reference_to_verify() -> None:
    ref = parse_event(load_event("iam_role_active.json"))
    assert isinstance(ref, FindingRef)
    assert ref.analyzer_arn == ANALYZER
    assert ref.claim is not None
    assert ref.claim.role.name == "Audit_CrossAccountRole"
    assert ref.claim.principal == {"AWS": "999988887777"}
    assert ref.claim.actions == ("sts:AssumeRole",)


def test_whitespace_quirks_in_arns_and_resource_type_are_tolerated() -> None:
    ref = parse_event(load_event("iam_role_whitespace_quirk.json"))
    assert isinstance(ref, FindingRef) and ref.claim is not None
    assert ref.claim.resource_type == "AWS::IAM::Role"
    assert ref.claim.resource_arn == ref.claim.resource_arn.strip()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("iam_role_archived.json", "not_active"),
        ("iam_role_resolved.json", "not_active"),
        ("iam_role_deleted.json", "deleted"),
        ("iam_role_error.json", "error_finding"),
        ("s3_bucket_active.json", "unsupported_resource_type"),
        ("unused_access.json", "not_external_access"),
    ],
)
def test_events_needing_no_action_are_acknowledged_with_a_reason(name: str, reason: str) -> None:
    parsed = parse_event(load_event(name))
    assert isinstance(parsed, Ignored)
    assert parsed.reason == reason


@pytest.mark.parametrize(
    "name",
    ["iam_role_federated_cognito.json", "iam_role_public.json", "iam_role_with_path.json"],
)
def test_principal_variants_parse(name: str) -> None:
    parsed = parse_event(load_event(name))
    assert isinstance(parsed, FindingRef) and parsed.claim is not None


def _mutate(path: list[Any], value: Any) -> dict[str, Any]:
    event = copy.deepcopy(load_event("iam_role_active.json"))
    target = event
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return event


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["source"], "aws.evil"),
        (["detail-type"], "Something Else"),
        (["resources"], []),
        (["resources"], ["arn:aws:iam::111122223333:role/NotAnAnalyzer"]),
        (["detail"], "text"),
        (["detail", "id"], _DELETE),
        (["detail", "id"], 7),
        (["detail", "status"], "PENDING"),
        (["detail", "isDeleted"], "no"),
        (["detail", "resource"], "arn:aws:iam::111122223333:user/Alice"),
        (["detail", "resource"], "arn:aws:iam::111122223333:role/"),
        (["detail", "principal"], {}),
        (["detail", "principal"], {"AWS": 5}),
        (["detail", "action"], []),
        (["detail", "action"], ["not an action"]),
        (["detail", "isPublic"], "false"),
        (["detail", "accountId"], "000000000000"),
    ],
)
def test_malformed_events_are_rejected(path: list[Any], value: Any) -> None:
    with pytest.raises(MalformedEvent):
        parse_event(_mutate(path, value))


@pytest.mark.parametrize("event", [None, [], "text", 3])
def test_non_objects_are_rejected(event: object) -> None:
    with pytest.raises(MalformedEvent):
        parse_event(event)


@pytest.mark.parametrize(
    ("arn", "name", "path"),
    [
        ("arn:aws:iam::111122223333:role/Plain", "Plain", "/"),
        ("arn:aws:iam::111122223333:role/service-role/x", "x", "/service-role/"),
        ("arn:aws-us-gov:iam::111122223333:role/a/b/c/Deep", "Deep", "/a/b/c/"),
    ],
)
def test_role_name_is_the_last_path_segment(arn: str, name: str, path: str) -> None:
    role = RoleRef.parse(arn)
    assert (role.name, role.path) == (name, path)
