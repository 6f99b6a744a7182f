"""A finding of another Region's analyzer (modules/regional forwards it to the central deployment): verified with
that Region's Access Analyzer, contained with clients of the resource's Region, listed by the sweep in its Region,
and `revert --archive` puts its archive rule in every analyzer. moto and the two stand-ins (us-east-1 = home,
eu-west-1 = forwarded)."""

from __future__ import annotations

import json
from typing import Any

from access_analyzer_remediation import findings as types
from access_analyzer_remediation.clients import AwsClients, Credentials
from access_analyzer_remediation.engine import Remediator
from access_analyzer_remediation.findings import FindingRef
from access_analyzer_remediation.policy import POLICY_VERSION
from access_analyzer_remediation.revert import revert

from .conftest import EXTERNAL, SANDBOX_ACCOUNT, Aws

HOME, FORWARDED = "us-east-1", "eu-west-1"
ALLOW_EXTERNAL_SEND = {
    "Sid": "Partner",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{EXTERNAL}:root"},
    "Action": "sqs:SendMessage",
}


class Recorded:
    """The AWS clients of a remediator, each (service, Region) it asked for recorded."""

    def __init__(self, aws: Aws) -> None:
        self.aws = aws
        self.asked: list[tuple[str, str | None]] = []

    def factory(self, service: str, region: str | None) -> Any:
        self.asked.append((service, region))
        return self.aws.client(service, region)

    def credentialed(self, service: str, region: str | None, credentials: Credentials) -> Any:
        self.asked.append((service, region))
        return self.aws.client(service, region, credentials)

    def remediator(self, **overrides: Any) -> Remediator:
        clients = AwsClients(factory=self.factory, credentialed=self.credentialed)
        return Remediator(self.aws.settings(**overrides), clients, lock_wait_seconds=10)


def _queue(aws: Aws, region: str, name: str = "jobs") -> tuple[str, Any, str]:
    sqs = aws.client("sqs", region)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {"Version": POLICY_VERSION, "Statement": [{**ALLOW_EXTERNAL_SEND, "Resource": arn}]}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    return arn, sqs, url


def _policy(sqs: Any, url: str) -> dict[str, Any]:
    return dict(json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]))


def _queue_finding(aws: Aws, region: str, arn: str) -> dict[str, Any]:
    return aws.standins[region].add_finding(
        resource=arn,
        resource_type=types.SQS_QUEUE,
        principal={"AWS": EXTERNAL},
        action=["sqs:SendMessage"],
        resource_owner_account=SANDBOX_ACCOUNT,
        publish=False,
    )


def test_a_forwarded_queue_finding_is_verified_and_contained_in_its_region(aws: Aws) -> None:
    arn, sqs, url = _queue(aws, FORWARDED)
    assert arn.split(":")[3] == FORWARDED
    _queue(aws, HOME)  # a queue of the same name in the home Region: it must stay as it is
    home_before = _policy(aws.client("sqs", HOME), aws.client("sqs", HOME).get_queue_url(QueueName="jobs")["QueueUrl"])
    finding = _queue_finding(aws, FORWARDED, arn)
    recorded = Recorded(aws)
    aws.standins[HOME].calls.clear()
    aws.standins[FORWARDED].calls.clear()
    [outcome] = recorded.remediator(resource_types=(types.IAM_ROLE, types.SQS_QUEUE)).process(
        [FindingRef(aws.standins[FORWARDED].analyzer_arn, finding["id"])]
    )
    assert (outcome.decision, outcome.reason) == ("remediate", "external_access_denied"), outcome.summary
    after = _policy(sqs, url)
    assert [s["Effect"] for s in after["Statement"]] == ["Allow", "Deny"]
    assert after["Statement"][1]["Resource"] == [arn]
    home_url = aws.client("sqs", HOME).get_queue_url(QueueName="jobs")["QueueUrl"]
    assert _policy(aws.client("sqs", HOME), home_url) == home_before
    assert aws.standins[FORWARDED].calls["GetFinding"] >= 1 and aws.standins[HOME].calls["GetFinding"] == 0
    assert ("accessanalyzer", FORWARDED) in recorded.asked and ("accessanalyzer", HOME) not in recorded.asked
    assert ("sqs", FORWARDED) in recorded.asked and ("sqs", HOME) not in recorded.asked


def test_a_forwarded_bucket_finding_is_contained_with_clients_of_the_bucket_region(aws: Aws) -> None:
    s3 = aws.client("s3", FORWARDED)
    s3.create_bucket(Bucket="eu-data", CreateBucketConfiguration={"LocationConstraint": FORWARDED})
    allow = {**ALLOW_EXTERNAL_SEND, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::eu-data/*"}
    s3.put_bucket_policy(Bucket="eu-data", Policy=json.dumps({"Version": POLICY_VERSION, "Statement": [allow]}))
    finding = aws.standins[FORWARDED].add_finding(
        resource="arn:aws:s3:::eu-data",
        resource_type=types.S3_BUCKET,
        principal={"AWS": EXTERNAL},
        action=["s3:GetObject"],
        resource_owner_account=SANDBOX_ACCOUNT,
        publish=False,
    )
    recorded = Recorded(aws)
    [outcome] = recorded.remediator().process([FindingRef(aws.standins[FORWARDED].analyzer_arn, finding["id"])])
    assert outcome.decision == "remediate", outcome.summary
    policy = json.loads(s3.get_bucket_policy(Bucket="eu-data")["Policy"])
    assert [s["Effect"] for s in policy["Statement"]] == ["Allow", "Deny"]
    assert ("s3", FORWARDED) in recorded.asked and ("s3", HOME) not in recorded.asked


def test_the_sweep_lists_the_forwarded_analyzer_in_its_region(aws: Aws) -> None:
    east_arn, _, _ = _queue(aws, HOME, "east")
    west_arn, _, _ = _queue(aws, FORWARDED, "west")
    east, west = _queue_finding(aws, HOME, east_arn), _queue_finding(aws, FORWARDED, west_arn)
    recorded = Recorded(aws)
    refs = list(recorded.remediator(resource_types=(types.SQS_QUEUE,)).active_findings())
    assert sorted((r.analyzer_arn, r.finding_id) for r in refs) == sorted(
        [(aws.standins[HOME].analyzer_arn, east["id"]), (aws.standins[FORWARDED].analyzer_arn, west["id"])]
    )
    assert aws.standins[FORWARDED].calls["ListFindingsV2"] >= 1 and aws.standins[HOME].calls["ListFindingsV2"] >= 1
    assert {r for s, r in recorded.asked if s == "accessanalyzer"} == {HOME, FORWARDED}


def test_revert_archive_of_a_forwarded_finding_puts_the_rule_in_every_analyzer(aws: Aws) -> None:
    arn, sqs, url = _queue(aws, FORWARDED)
    original = _policy(sqs, url)
    finding = _queue_finding(aws, FORWARDED, arn)
    remediator = Recorded(aws).remediator(resource_types=(types.IAM_ROLE, types.SQS_QUEUE))
    [outcome] = remediator.process([FindingRef(aws.standins[FORWARDED].analyzer_arn, finding["id"])])
    assert outcome.decision == "remediate", outcome.summary
    result = revert(remediator, finding["id"], archive=True)
    assert _policy(sqs, url) == original
    assert len(result["archive_rules"]) == 2 and len(set(result["archive_rules"])) == 1
    for region in (HOME, FORWARDED):
        name = aws.standins[region].analyzer_arn.rsplit("/", 1)[-1]
        rules = aws.client("accessanalyzer", region).list_archive_rules(analyzerName=name)["archiveRules"]
        assert [r["ruleName"] for r in rules] == result["archive_rules"][:1]
    status = aws.client("accessanalyzer", FORWARDED).get_finding(
        analyzerArn=aws.standins[FORWARDED].analyzer_arn, id=finding["id"]
    )["finding"]["status"]
    assert status == "ARCHIVED"
