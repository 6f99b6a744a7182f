"""The subscription note's look-up beside GetFinding (SubscriptionGate.look_for_note): the same answer take_note's
condition gives, read before the digest instead of in front of its Publish."""

from __future__ import annotations

from typing import Any, cast

from access_analyzer_remediation.subscription import SubscriptionGate

from .conftest import Aws


class _Counting:
    """A DynamoDB client that counts its calls by operation."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[str] = []

    def get_item(self, **kwargs: Any) -> Any:
        self.calls.append("GetItem")
        return self._client.get_item(**kwargs)

    def update_item(self, **kwargs: Any) -> Any:
        self.calls.append("UpdateItem")
        return self._client.update_item(**kwargs)


def _gate(aws: Aws, dynamodb: Any) -> SubscriptionGate:
    return SubscriptionGate(aws.client("sns"), dynamodb, aws.topic_arn, aws.table)


def test_no_note_waiting_costs_the_digest_no_conditional_write(aws: Aws) -> None:
    dynamodb = _Counting(aws.client("dynamodb"))
    gate = _gate(aws, dynamodb)
    assert gate.confirmed()
    gate.look_for_note()
    assert gate.take_note() is None
    assert dynamodb.calls == ["GetItem"]


def test_a_waiting_note_is_still_taken_once_by_the_digest(aws: Aws) -> None:
    _gate(aws, aws.client("dynamodb")).held_back(2)  # an environment that saw no confirmed subscription yet
    dynamodb = _Counting(aws.client("dynamodb"))
    gate = _gate(aws, dynamodb)
    assert gate.confirmed()
    gate.look_for_note()
    note = gate.take_note()
    assert note is not None and "2 finding(s) were only reported" in note
    assert gate.take_note() is None
    assert dynamodb.calls == ["GetItem", "UpdateItem"]
    # Taken: another environment finds nothing to announce.
    other = _gate(aws, aws.client("dynamodb"))
    assert other.confirmed()
    other.look_for_note()
    assert other.take_note() is None


def test_nothing_is_read_before_a_subscription_is_confirmed(aws: Aws) -> None:
    lonely = aws.client("sns").create_topic(Name="no-subscribers")["TopicArn"]
    dynamodb = _Counting(aws.client("dynamodb"))
    gate = SubscriptionGate(aws.client("sns"), cast(Any, dynamodb), lonely, aws.table)  # a counting stand-in
    assert not gate.confirmed()
    gate.look_for_note()
    assert gate.take_note() is None
    assert dynamodb.calls == []
