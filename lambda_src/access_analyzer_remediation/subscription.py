"""Subscription safety: until somebody can hear about a change, the tool does not make one.

A fresh deployment's e-mail subscription is pending until the recipient confirms it; a Deny written before that is
announced to nobody. While the topic has no confirmed subscription the Lambda acts as in notify mode (reason
`no_confirmed_subscription`), counts what it held back, and the first digest after a confirmation says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .clients import error_code

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sns import SNSClient

NOTE_KEY = {"pk": {"S": "DEPLOYMENT"}, "sk": {"S": "SUBSCRIPTION"}}
RECHECK_SECONDS = 60.0  # an unconfirmed answer is asked again after this long (a confirmed one is kept)


class SubscriptionGate:
    def __init__(
        self,
        sns: SNSClient,
        dynamodb: DynamoDBClient,
        topic_arn: str,
        table: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sns = sns
        self._dynamodb = dynamodb
        self._topic = topic_arn
        self._table = table
        self._clock = clock
        self._confirmed = False
        self._checked_at = -RECHECK_SECONDS
        self._note_taken = False

    def confirmed(self) -> bool:
        """True once the topic has a confirmed subscription (pending e-mail subscriptions show no ARN)."""
        if self._confirmed or self._clock() - self._checked_at < RECHECK_SECONDS:
            return self._confirmed
        paginator = self._sns.get_paginator("list_subscriptions_by_topic")
        for page in paginator.paginate(TopicArn=self._topic):  # raises when SNS cannot say: nothing is cached
            if any(str(s.get("SubscriptionArn", "")).startswith("arn:") for s in page.get("Subscriptions", [])):
                self._confirmed = True
                break
        self._checked_at = self._clock()  # only a real answer is kept (for RECHECK_SECONDS when it is "no")
        return self._confirmed

    def look_for_note(self) -> None:
        """Once confirmed: is a note waiting at all? One consistent read, made beside the cycles (the engine's side
        thread), so that the common case, a note that is not there, costs the first digest no conditional write in
        front of its Publish. Only an absent note is remembered, as take_note remembers its failed condition: the
        same answer, read a moment earlier. A note another environment adds after it is that environment's to take,
        as it is after take_note: the findings it holds back are its own, and it takes the note at its first digest
        once it sees the confirmation (or a new environment does at its first)."""
        if self._note_taken or not self._confirmed:
            return
        response = self._dynamodb.get_item(
            TableName=self._table, Key=NOTE_KEY, ConsistentRead=True, ProjectionExpression="held_back"
        )
        if "held_back" not in response.get("Item", {}):
            self._note_taken = True

    def held_back(self, count: int) -> None:
        """Count findings only reported because nobody confirmed a subscription (told once someone does)."""
        now = str(int(self._clock()))
        self._dynamodb.update_item(
            TableName=self._table,
            Key=NOTE_KEY,
            UpdateExpression="ADD held_back :n SET first_at = if_not_exists(first_at, :now), last_at = :now",
            ExpressionAttributeValues={":n": {"N": str(count)}, ":now": {"N": now}},
        )

    def take_note(self) -> str | None:
        """Once confirmed: the note about what was held back before, for exactly one digest. Taken with one
        conditional UpdateItem, so only one execution environment announces it."""
        if self._note_taken or not self._confirmed:
            return None
        self._note_taken = True
        try:
            response = self._dynamodb.update_item(
                TableName=self._table,
                Key=NOTE_KEY,
                UpdateExpression="REMOVE held_back, first_at, last_at",
                ConditionExpression="attribute_exists(held_back)",
                ReturnValues="ALL_OLD",
            )
        except Exception as err:
            if error_code(err) == "ConditionalCheckFailedException":
                return None  # nothing held back, or another environment took it
            raise
        return _note(dict(response.get("Attributes", {})))


def _note(item: dict[str, Any]) -> str:
    count = int(float(item.get("held_back", {}).get("N", "0")))
    first = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(float(item.get("first_at", {}).get("N", "0"))))
    return (
        f"Before a subscription to this topic was confirmed, {count} finding(s) were only reported, not contained "
        f"(since {first}; reason no_confirmed_subscription). The daily sweep contains those still ACTIVE, or run "
        "`aa-remediate sweep` now."
    )
