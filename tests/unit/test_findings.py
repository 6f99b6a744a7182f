"""Event intake: strict validation, known quirks tolerated, non-actionable events acknowledged."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from access_analyzer_remediation.findings import Finding, FindingRef, Ignored, MalformedEvent, RoleRef, parse_event

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


def test_a_bucket_event_is_a_claim_whose_owner_comes_from_the_event() -> None:
    parsed = parse_event(load_event("s3_bucket_active.json"))
    assert isinstance(parsed, FindingRef) and parsed.claim is not None
    ref = parsed.claim.resource
    assert (ref.resource_type, ref.name, ref.account_id) == ("AWS::S3::Bucket", "amzn-s3-demo-bucket", "111122223333")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"accountId": None}, "no owner account"),  # a bucket ARN names no account: the event must
        ({"resource": "arn:aws:s3:::Not_A_Bucket"}, "not an ARN of a AWS::S3::Bucket"),
        ({"resourceType": "AWS::KMS::Key"}, "not an ARN of a AWS::KMS::Key"),
        ({"sources": [{"type": "policy"}]}, "sources holds an entry without a valid type"),
        ({"sources": [{"type": "S3_ACCESS_POINT", "detail": {"accessPointArn": "a b"}}]}, "detail is not an ARN"),
        ({"resourceType": "S3 bucket"}, "resourceType is not a resource type name"),
    ],
)
def test_a_bucket_event_that_does_not_add_up_is_malformed(changes: dict[str, Any], message: str) -> None:
    event = copy.deepcopy(load_event("s3_bucket_active.json"))
    for key, value in changes.items():
        if value is None:
            del event["detail"][key]
        else:
            event["detail"][key] = value
    with pytest.raises(MalformedEvent, match=message):
        parse_event(event)


def test_a_key_arn_names_its_owner_and_region_and_must_agree_with_the_event() -> None:
    event = copy.deepcopy(load_event("s3_bucket_active.json"))
    key_arn = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    event["detail"] |= {"resourceType": "AWS::KMS::Key", "resource": key_arn, "action": ["kms:Decrypt"]}
    parsed = parse_event(event)
    assert isinstance(parsed, FindingRef) and parsed.claim is not None
    ref = parsed.claim.resource
    assert (ref.account_id, ref.region, ref.name) == ("111122223333", "us-west-2", key_arn.rsplit("/", 1)[1])
    event["detail"]["accountId"] = "444455556666"
    with pytest.raises(MalformedEvent, match="does not match the resource ARN"):
        parse_event(event)


def test_sources_survive_the_round_trip_through_an_intent() -> None:
    event = copy.deepcopy(load_event("s3_bucket_active.json"))
    event["detail"]["sources"] = [
        {"type": "POLICY"},
        {"type": "S3_ACCESS_POINT", "detail": {"accessPointArn": "arn:aws:s3:us-west-2:111122223333:accesspoint/ap"}},
    ]
    parsed = parse_event(event)
    assert isinstance(parsed, FindingRef) and parsed.claim is not None
    again = Finding.from_json(parsed.claim.to_json())
    assert again == parsed.claim and [s.type for s in again.sources] == ["POLICY", "S3_ACCESS_POINT"]
    role = parse_event(load_event("iam_role_active.json"))
    assert isinstance(role, FindingRef) and role.claim is not None
    assert "sources" not in role.claim.to_json()  # a role's finding JSON is what it was


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
