"""One stand-in endpoint serving two Regions (AccessAnalyzerStandIn.serve_region): a request signed for eu-west-1
is answered by the eu-west-1 stand-in, one for us-east-1 by the endpoint's own."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from sandbox.access_analyzer import AccessAnalyzerStandIn

from .conftest import ACCOUNT


def _client(endpoint: str, region: str) -> Any:
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing").client(
        "accessanalyzer", region_name=region, endpoint_url=endpoint
    )


def test_requests_signed_for_another_region_reach_its_standin() -> None:
    west = AccessAnalyzerStandIn(account_id=ACCOUNT, region="eu-west-1")
    with AccessAnalyzerStandIn(account_id=ACCOUNT, region="us-east-1") as east:
        east.serve_region(west)
        finding = west.add_finding(
            resource=f"arn:aws:sqs:eu-west-1:{ACCOUNT}:jobs",
            resource_type="AWS::SQS::Queue",
            principal={"AWS": "999988887777"},
            action=["sqs:SendMessage"],
            publish=False,
        )
        eu, us = _client(east.endpoint_url, "eu-west-1"), _client(east.endpoint_url, "us-east-1")
        assert [a["arn"] for a in eu.list_analyzers()["analyzers"]] == [west.analyzer_arn]
        assert [a["arn"] for a in us.list_analyzers()["analyzers"]] == [east.analyzer_arn]
        got = eu.get_finding(analyzerArn=west.analyzer_arn, id=finding["id"])
        assert got["finding"]["resource"] == f"arn:aws:sqs:eu-west-1:{ACCOUNT}:jobs"
        with pytest.raises(us.exceptions.ResourceNotFoundException):
            us.get_finding(analyzerArn=east.analyzer_arn, id=finding["id"])
        assert west.calls["GetFinding"] == 1 and east.calls["GetFinding"] == 1


def test_a_standin_does_not_serve_its_own_region_twice() -> None:
    east = AccessAnalyzerStandIn(account_id=ACCOUNT, region="us-east-1")
    with pytest.raises(ValueError, match="own Region"):
        east.serve_region(AccessAnalyzerStandIn(account_id=ACCOUNT, region="us-east-1"))
