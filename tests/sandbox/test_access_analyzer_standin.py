"""The Access Analyzer stand-in at the wire: boto3 unchanged, model-validated input, model-shaped output."""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sandbox.access_analyzer import AccessAnalyzerStandIn

from .conftest import EXTERNAL

ROLE = "arn:aws:iam::123456789012:role/Target"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _raw(
    standin: AccessAnalyzerStandIn, method: str, path: str, body: bytes | None = None
) -> tuple[int, dict[str, str], Any]:
    """A request botocore would never send, to prove the server validates on its own."""
    request = urllib.request.Request(f"{standin.endpoint_url}{path}", data=body, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"{}")


def test_get_finding_returns_every_field(standin: AccessAnalyzerStandIn, analyzer_client: Any) -> None:
    added = standin.add_finding(
        resource=ROLE, principal={"AWS": EXTERNAL}, action=["sts:AssumeRole"], condition={"aws:SourceIp": "10.0.0.0/8"}
    )
    finding = analyzer_client.get_finding(analyzerArn=standin.analyzer_arn, id=added["id"])["finding"]
    assert finding["id"] == added["id"]
    assert finding["resource"] == ROLE
    assert finding["resourceType"] == "AWS::IAM::Role"
    assert finding["principal"] == {"AWS": EXTERNAL}
    assert finding["action"] == ["sts:AssumeRole"]
    assert finding["condition"] == {"aws:SourceIp": "10.0.0.0/8"}
    assert finding["isPublic"] is False
    assert finding["status"] == "ACTIVE"
    assert finding["resourceOwnerAccount"] == "123456789012"
    assert isinstance(finding["createdAt"], datetime) and finding["createdAt"].tzinfo is not None
    assert standin.calls["GetFinding"] == 1


def test_timestamps_travel_as_iso8601_strings(standin: AccessAnalyzerStandIn) -> None:
    added = standin.add_finding(resource=ROLE)
    status, headers, body = _raw(standin, "GET", f"/finding/{added['id']}?analyzerArn={standin.analyzer_arn}")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert all(ISO_MS.match(body["finding"][key]) for key in ("createdAt", "analyzedAt", "updatedAt"))


def test_unknown_finding_and_analyzer_are_404(standin: AccessAnalyzerStandIn, analyzer_client: Any) -> None:
    with pytest.raises(ClientError) as missing_finding:
        analyzer_client.get_finding(analyzerArn=standin.analyzer_arn, id="no-such-finding")
    assert _error(missing_finding) == ("ResourceNotFoundException", 404)
    other = "arn:aws:access-analyzer:us-east-1:123456789012:analyzer/other"
    with pytest.raises(ClientError) as missing_analyzer:
        analyzer_client.list_findings_v2(analyzerArn=other)
    assert _error(missing_analyzer) == ("ResourceNotFoundException", 404)


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({"status": {"eq": ["ACTIVE"]}}, {"a", "b"}),
        ({"status": {"neq": ["ACTIVE"]}}, {"c"}),
        ({"resourceType": {"eq": ["AWS::S3::Bucket"]}}, {"b"}),
        ({"resource": {"contains": ["role/Target"]}}, {"a", "c"}),
        ({"status": {"eq": ["ACTIVE"]}, "resourceType": {"eq": ["AWS::IAM::Role"]}}, {"a"}),
        ({"error": {"exists": True}}, set()),
        ({"error": {"exists": False}}, {"a", "b", "c"}),
        ({"principal.AWS": {"eq": ["*"]}}, {"c"}),
        ({"isPublic": {"eq": ["true"]}}, {"c"}),
    ],
)
def test_list_findings_filters(
    standin: AccessAnalyzerStandIn, analyzer_client: Any, criteria: dict[str, Any], expected: set[str]
) -> None:
    standin.add_finding(resource=ROLE, finding_id="a")
    standin.add_finding(resource="arn:aws:s3:::bucket", resource_type="AWS::S3::Bucket", finding_id="b")
    standin.add_finding(resource=ROLE, principal={"AWS": "*"}, status="ARCHIVED", finding_id="c")
    v2 = analyzer_client.list_findings_v2(analyzerArn=standin.analyzer_arn, filter=criteria)["findings"]
    v1 = analyzer_client.list_findings(analyzerArn=standin.analyzer_arn, filter=criteria)["findings"]
    assert {f["id"] for f in v2} == expected
    assert {f["id"] for f in v1} == expected
    assert all(f["findingType"] == "ExternalAccess" for f in v2)
    assert all("principal" in f for f in v1)


def test_id_filter_and_unknown_filter_key(standin: AccessAnalyzerStandIn, analyzer_client: Any) -> None:
    added = standin.add_finding(resource=ROLE)
    standin.add_finding(resource=ROLE)
    found = analyzer_client.list_findings_v2(analyzerArn=standin.analyzer_arn, filter={"id": {"eq": [added["id"]]}})
    assert [f["id"] for f in found["findings"]] == [added["id"]]
    with pytest.raises(ClientError) as bad:
        analyzer_client.list_findings_v2(analyzerArn=standin.analyzer_arn, filter={"colour": {"eq": ["red"]}})
    assert _error(bad) == ("ValidationException", 400)


def test_pagination_with_max_results_and_next_token(standin: AccessAnalyzerStandIn, analyzer_client: Any) -> None:
    ids = {standin.add_finding(resource=f"{ROLE}{n}", publish=False)["id"] for n in range(23)}
    pages = []
    kwargs: dict[str, Any] = {"analyzerArn": standin.analyzer_arn, "maxResults": 10}
    while True:
        page = analyzer_client.list_findings_v2(**kwargs)
        pages.append([f["id"] for f in page["findings"]])
        if "nextToken" not in page:
            break
        kwargs["nextToken"] = page["nextToken"]
    assert [len(p) for p in pages] == [10, 10, 3]
    assert {i for p in pages for i in p} == ids
    paginated = analyzer_client.get_paginator("list_findings").paginate(
        analyzerArn=standin.analyzer_arn, PaginationConfig={"PageSize": 7}
    )
    assert {f["id"] for page in paginated for f in page["findings"]} == ids


def test_next_token_from_another_query_is_rejected(standin: AccessAnalyzerStandIn, analyzer_client: Any) -> None:
    for n in range(3):
        standin.add_finding(resource=f"{ROLE}{n}", publish=False)
    token = analyzer_client.list_findings_v2(analyzerArn=standin.analyzer_arn, maxResults=1)["nextToken"]
    with pytest.raises(ClientError) as other_filter:
        analyzer_client.list_findings_v2(
            analyzerArn=standin.analyzer_arn, maxResults=1, nextToken=token, filter={"status": {"eq": ["ACTIVE"]}}
        )
    assert _error(other_filter) == ("ValidationException", 400)
    with pytest.raises(ClientError) as garbage:
        analyzer_client.list_findings_v2(analyzerArn=standin.analyzer_arn, nextToken="not-a-token")
    assert _error(garbage) == ("ValidationException", 400)


def test_sort_orders_findings(standin: AccessAnalyzerStandIn, analyzer_client: Any) -> None:
    for name in ("b", "c", "a"):
        standin.add_finding(resource=f"{ROLE}-{name}", publish=False)
    found = analyzer_client.list_findings_v2(
        analyzerArn=standin.analyzer_arn, sort={"attributeName": "resource", "orderBy": "DESC"}
    )["findings"]
    assert [f["resource"][-1] for f in found] == ["c", "b", "a"]


def test_update_findings_by_ids_and_by_resource(standin: AccessAnalyzerStandIn, analyzer_client: Any) -> None:
    first = standin.add_finding(resource=ROLE)["id"]
    second = standin.add_finding(resource=ROLE)["id"]
    standin.emitted_events.clear()
    analyzer_client.update_findings(analyzerArn=standin.analyzer_arn, status="ARCHIVED", ids=[first])
    statuses = {f["id"]: f["status"] for f in standin.findings()}
    assert statuses == {first: "ARCHIVED", second: "ACTIVE"}
    analyzer_client.update_findings(analyzerArn=standin.analyzer_arn, status="ARCHIVED", resourceArn=ROLE)
    analyzer_client.update_findings(analyzerArn=standin.analyzer_arn, status="ARCHIVED", resourceArn=ROLE)  # no-op
    assert {f["status"] for f in standin.findings()} == {"ARCHIVED"}
    assert [(e["detail"]["id"], e["detail"]["status"]) for e in standin.emitted_events] == [
        (first, "ARCHIVED"),
        (second, "ARCHIVED"),
    ]
    with pytest.raises(ClientError) as unknown:
        analyzer_client.update_findings(analyzerArn=standin.analyzer_arn, status="ACTIVE", ids=["nope"])
    assert _error(unknown) == ("ResourceNotFoundException", 404)


def test_update_findings_rejects_a_status_outside_the_enum(
    standin: AccessAnalyzerStandIn, analyzer_client: Any
) -> None:
    finding = standin.add_finding(resource=ROLE)["id"]
    with pytest.raises(ClientError) as bad:  # botocore's client does not check enums: the server must
        analyzer_client.update_findings(analyzerArn=standin.analyzer_arn, status="RESOLVED", ids=[finding])
    assert _error(bad) == ("ValidationException", 400)
    assert "enum" in bad.value.response["Error"]["Message"]
    assert standin.findings()[0]["status"] == "ACTIVE"


def test_archive_rules_are_stored_listed_and_unique(standin: AccessAnalyzerStandIn, analyzer_client: Any) -> None:
    name = standin.default_analyzer_name
    rule_filter = {"principal.AWS": {"eq": [EXTERNAL]}}
    analyzer_client.create_archive_rule(analyzerName=name, ruleName="KnownPartner", filter=rule_filter)
    rules = analyzer_client.list_archive_rules(analyzerName=name)["archiveRules"]
    assert [(r["ruleName"], r["filter"]) for r in rules] == [("KnownPartner", rule_filter)]
    got = analyzer_client.get_archive_rule(analyzerName=name, ruleName="KnownPartner")["archiveRule"]
    assert got["filter"] == rule_filter
    with pytest.raises(ClientError) as duplicate:
        analyzer_client.create_archive_rule(analyzerName=name, ruleName="KnownPartner", filter=rule_filter)
    assert _error(duplicate) == ("ConflictException", 409)


def test_apply_archive_rule_archives_existing_matches(standin: AccessAnalyzerStandIn, analyzer_client: Any) -> None:
    partner = standin.add_finding(resource=ROLE, principal={"AWS": EXTERNAL})["id"]
    other = standin.add_finding(resource=ROLE, principal={"AWS": "444455556666"})["id"]
    analyzer_client.create_archive_rule(
        analyzerName=standin.default_analyzer_name, ruleName="P", filter={"principal.AWS": {"eq": [EXTERNAL]}}
    )
    assert {f["id"]: f["status"] for f in standin.findings()} == {partner: "ACTIVE", other: "ACTIVE"}  # new only
    analyzer_client.apply_archive_rule(analyzerArn=standin.analyzer_arn, ruleName="P")
    assert {f["id"]: f["status"] for f in standin.findings()} == {partner: "ARCHIVED", other: "ACTIVE"}


def test_analyzers_get_list_create(standin: AccessAnalyzerStandIn, analyzer_client: Any) -> None:
    analyzer = analyzer_client.get_analyzer(analyzerName=standin.default_analyzer_name)["analyzer"]
    assert analyzer["arn"] == standin.analyzer_arn
    assert analyzer["type"] == "ACCOUNT"
    assert analyzer["status"] == "ACTIVE"
    arn = analyzer_client.create_analyzer(analyzerName="unused", type="ACCOUNT_UNUSED_ACCESS")["arn"]
    assert arn.endswith(":analyzer/unused")
    listed = analyzer_client.list_analyzers()["analyzers"]
    assert {a["name"] for a in listed} == {standin.default_analyzer_name, "unused"}
    assert [a["name"] for a in analyzer_client.list_analyzers(type="ACCOUNT")["analyzers"]] == [
        standin.default_analyzer_name
    ]
    with pytest.raises(ClientError) as duplicate:
        analyzer_client.create_analyzer(analyzerName="unused", type="ACCOUNT")
    assert _error(duplicate) == ("ConflictException", 409)
    with pytest.raises(ClientError) as missing:
        analyzer_client.get_analyzer(analyzerName="nope")
    assert _error(missing) == ("ResourceNotFoundException", 404)


def test_server_rejects_a_pattern_violation_the_client_lets_through(analyzer_client: Any) -> None:
    with pytest.raises(ClientError) as bad:
        analyzer_client.get_finding(analyzerArn="not-an-analyzer-arn", id="x")
    assert _error(bad) == ("ValidationException", 400)
    assert "analyzerArn" in bad.value.response["Error"]["Message"]


def test_server_validates_raw_requests_against_the_model(standin: AccessAnalyzerStandIn) -> None:
    status, headers, body = _raw(standin, "POST", "/findingv2", json.dumps({"maxResults": 5}).encode())
    assert status == 400
    assert headers["x-amzn-ErrorType"] == "ValidationException"
    assert "analyzerArn" in body["message"]
    assert body["reason"] == "fieldValidationFailed"

    status, headers, _ = _raw(standin, "POST", "/findingv2", json.dumps({"analyzerArn": 42}).encode())
    assert (status, headers["x-amzn-ErrorType"]) == (400, "ValidationException")

    status, headers, body = _raw(standin, "POST", "/findingv2", b"{not json")
    assert (status, headers["x-amzn-ErrorType"], body["reason"]) == (400, "ValidationException", "cannotParse")

    status, headers, _ = _raw(standin, "GET", "/analyzer?type=ACCOUNT&maxResults=ten")
    assert (status, headers["x-amzn-ErrorType"]) == (400, "ValidationException")

    status, headers, _ = _raw(standin, "GET", "/no/such/route")
    assert (status, headers["x-amzn-ErrorType"]) == (404, "UnknownOperationException")
    assert standin.request_log == []  # nothing invalid reached an operation


def test_unimplemented_operation_says_so(standin: AccessAnalyzerStandIn, analyzer_client: Any) -> None:
    with pytest.raises(ClientError) as unsupported:
        analyzer_client.list_access_previews(analyzerArn=standin.analyzer_arn)
    assert _error(unsupported) == ("ValidationException", 400)
    assert "not implemented" in unsupported.value.response["Error"]["Message"]


def test_fail_next_injects_faults_and_calls_counts_them(standin: AccessAnalyzerStandIn, analyzer_client: Any) -> None:
    finding = standin.add_finding(resource=ROLE)["id"]
    standin.fail_next("GetFinding", "AccessDeniedException")
    with pytest.raises(ClientError) as denied:
        analyzer_client.get_finding(analyzerArn=standin.analyzer_arn, id=finding)
    assert _error(denied) == ("AccessDeniedException", 403)
    assert standin.calls["GetFinding"] == 1

    standin.fail_next("GetFinding", "ThrottlingException")  # 429, retried by botocore
    assert analyzer_client.get_finding(analyzerArn=standin.analyzer_arn, id=finding)["finding"]["id"] == finding
    assert standin.calls["GetFinding"] == 3

    standin.fail_next("ListFindingsV2", "InternalServerException", times=10)
    with pytest.raises(ClientError) as broken:
        analyzer_client.list_findings_v2(analyzerArn=standin.analyzer_arn)
    assert _error(broken) == ("InternalServerException", 500)
    assert broken.value.response["ResponseMetadata"]["RetryAttempts"] > 0


def test_start_resource_scan_is_recorded(standin: AccessAnalyzerStandIn, analyzer_client: Any) -> None:
    analyzer_client.start_resource_scan(analyzerArn=standin.analyzer_arn, resourceArn=ROLE)
    assert standin.scans == [(standin.analyzer_arn, ROLE)]
    assert standin.calls["StartResourceScan"] == 1


def test_stop_leaves_no_thread_behind(standin: AccessAnalyzerStandIn, analyzer_client: Any) -> None:
    def handler_threads() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if "process_request_thread" in t.name]

    analyzer_client.list_analyzers()  # botocore keeps the connection alive, so its handler thread waits
    assert handler_threads()
    standin.stop()
    assert handler_threads() == []
    assert all(t.name != "access-analyzer-standin" for t in threading.enumerate())


def test_works_beside_in_process_mock_aws() -> None:
    """Unit tests may use moto in-process: the stand-in's traffic passes through mock_aws untouched."""
    from moto import mock_aws

    session = boto3.session.Session(
        region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": EXTERNAL}, "Action": "sts:AssumeRole"}],
    }
    with mock_aws(), AccessAnalyzerStandIn() as standin:
        iam = session.client("iam")
        role_arn = iam.create_role(RoleName="Partner", AssumeRolePolicyDocument=json.dumps(policy))["Role"]["Arn"]
        standin.attach(iam_client=iam)
        client = session.client("accessanalyzer", endpoint_url=standin.endpoint_url)
        client.start_resource_scan(analyzerArn=standin.analyzer_arn, resourceArn=role_arn)
        (finding,) = client.list_findings(analyzerArn=standin.analyzer_arn)["findings"]
        assert (finding["resource"], finding["principal"], finding["status"]) == (role_arn, {"AWS": EXTERNAL}, "ACTIVE")
        assert standin.internal_errors == []
