"""The moto server's event bus targets (sandbox.event_bus_forwarding): a rule in eu-west-1 whose target is the
us-east-1 default bus puts the matched event there unchanged (id, time, resources, detail, region still eu-west-1),
and the us-east-1 rules match it, as EventBridge does for modules/regional's forwarding rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sandbox.moto_server import MotoServer

from .conftest import ACCOUNT

ANALYZER = f"arn:aws:access-analyzer:eu-west-1:{ACCOUNT}:analyzer/eu"
HOME_BUS = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default"
PATTERN = {"source": ["aws.access-analyzer"], "detail-type": ["Access Analyzer Finding"], "resources": [ANALYZER]}


def _queue_behind_rule(moto: MotoServer, region: str, rule: str, pattern: dict[str, Any]) -> tuple[Any, str]:
    sqs, events = moto.client("sqs", region_name=region), moto.client("events", region_name=region)
    url = sqs.create_queue(QueueName=f"{rule}-queue")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])
    return sqs, url


def _drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def _forwarding_rule(moto: MotoServer, pattern: dict[str, Any], state: str = "ENABLED") -> Any:
    events = moto.client("events", region_name="eu-west-1")
    events.put_rule(Name="forward", EventPattern=json.dumps(pattern), State=state)
    role = f"arn:aws:iam::{ACCOUNT}:role/forward-eu-west-1"
    events.put_targets(Rule="forward", Targets=[{"Id": "bus", "Arn": HOME_BUS, "RoleArn": role}])
    return events


def _put_finding(events: Any) -> None:
    response = events.put_events(
        Entries=[
            {
                "Source": "aws.access-analyzer",
                "DetailType": "Access Analyzer Finding",
                "Detail": json.dumps({"id": "f-1", "status": "ACTIVE"}),
                "Resources": [ANALYZER],
                "Time": datetime(2026, 12, 2, 10, 9, 3, tzinfo=UTC),
            }
        ]
    )
    assert response["FailedEntryCount"] == 0


def test_a_bus_target_gets_the_event_unchanged(moto: MotoServer) -> None:
    home_sqs, home_url = _queue_behind_rule(moto, "us-east-1", "central", PATTERN)
    eu_sqs, eu_url = _queue_behind_rule(moto, "eu-west-1", "local", PATTERN)  # a second target kind, left to moto
    _put_finding(_forwarding_rule(moto, PATTERN))
    [local] = _drain(eu_sqs, eu_url)
    [forwarded] = _drain(home_sqs, home_url)
    assert forwarded == local  # the event as the source bus's own rules see it
    assert forwarded["region"] == "eu-west-1" and forwarded["time"] == "2026-12-02T10:09:03Z"
    assert forwarded["resources"] == [ANALYZER]
    assert forwarded["detail"] == {"id": "f-1", "status": "ACTIVE"}
    assert forwarded["source"] == "aws.access-analyzer" and forwarded["detail-type"] == "Access Analyzer Finding"


def test_only_matched_events_are_forwarded_and_the_target_bus_rules_filter_them(moto: MotoServer) -> None:
    other = {**PATTERN, "resources": [f"arn:aws:access-analyzer:eu-west-1:{ACCOUNT}:analyzer/other"]}
    home_sqs, home_url = _queue_behind_rule(moto, "us-east-1", "central", other)
    everything_sqs, everything_url = _queue_behind_rule(moto, "us-east-1", "all", {"source": ["aws.access-analyzer"]})
    events = _forwarding_rule(moto, PATTERN)
    _put_finding(events)
    events.put_events(Entries=[{"Source": "aws.access-analyzer", "DetailType": "Other", "Detail": "{}"}])
    assert _drain(home_sqs, home_url) == []  # the home rule matches another analyzer only
    [forwarded] = _drain(everything_sqs, everything_url)  # the "Other" event did not match the forwarding rule
    assert forwarded["detail-type"] == "Access Analyzer Finding" and forwarded["region"] == "eu-west-1"


def test_a_disabled_forwarding_rule_forwards_nothing(moto: MotoServer) -> None:
    # The home rule matches on source only: moto's own forwarding (resources dropped) would reach it.
    home_sqs, home_url = _queue_behind_rule(moto, "us-east-1", "central", {"source": ["aws.access-analyzer"]})
    _put_finding(_forwarding_rule(moto, PATTERN, state="DISABLED"))
    assert _drain(home_sqs, home_url) == []
