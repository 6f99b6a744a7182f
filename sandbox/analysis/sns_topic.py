"""SNS topics (``AWS::SNS::Topic``, resource ``arn:aws:sns:<region>:<account>:<name>``) for the stand-in.

`read_topic` reads the topic policy from SNS (moto): GetTopicAttributes ``Policy``. `compute_topic_access` applies
this small model:

- One scope, the topic ARN.
- Topic policy: the shared resource-policy rules of `sandbox.analysis` with service ``sns``, plus the source rule of
  `sandbox.analysis.resource_policy`. The default topic policy SNS gives every topic (``Principal {"AWS": "*"}``, the
  topic-management actions, limited by ``AWS:SourceOwner`` = the owner account) is therefore in the zone: no finding.
  AddPermission grants are statements of the same policy (``Principal {"AWS": "<root ARN>"}``, ``SNS:<Action>``,
  reported as ``sns:<Action>``).
- One finding per principal (actions sorted, the Allow's conditions); no ``sources``. The owner is the ARN's account.

Not modelled: ``Service`` principals (skipped), subscriptions (an endpoint of another account subscribed to the topic
is not access the analyzer reports), error findings.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from sandbox.analysis.iam_role import TrustZone
from sandbox.analysis.resource_policy import (
    Access,
    Analysis,
    PolicyState,
    ZoneOf,
    compute_state_access,
    error_code,
    parse_policy,
)

RESOURCE_TYPE = "AWS::SNS::Topic"
SERVICE = "sns"
TOPIC_ARN_RE = re.compile(r"^arn:[\w-]+:sns:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?P<name>[\w-]{1,256})$")
_GONE = frozenset({"NotFound", "NotFoundException"})


def arn_parts(resource_arn: str) -> tuple[str, str] | None:
    """(Region, account) of a topic ARN; None for anything else (subscriptions, other services)."""
    match = TOPIC_ARN_RE.match(resource_arn)
    return (match["region"], match["account"]) if match else None


def resource_arns(sns: Any, account: str) -> list[str]:
    """The ARN of every topic of the client's Region that `account` owns (ListTopics)."""
    arns: list[str] = []
    for page in sns.get_paginator("list_topics").paginate():
        for topic in page.get("Topics", []):
            parts = arn_parts(str(topic["TopicArn"]))
            if parts is not None and parts[1] == account:
                arns.append(str(topic["TopicArn"]))
    return arns


def read_topic(sns: Any, topic_arn: str) -> PolicyState | None:
    """The topic's policy; None when the topic does not exist."""
    parts = arn_parts(topic_arn)
    if parts is None:
        raise ValueError(f"not an SNS topic ARN: {topic_arn!r}")
    try:
        attributes = sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    except ClientError as error:
        if error_code(error) in _GONE:
            return None
        raise
    return PolicyState(topic_arn, parts[1], parse_policy(attributes.get("Policy")), (topic_arn,))


def compute_topic_access(state: PolicyState, zone: TrustZone) -> Access:
    """External access to the topic after its Denies: {(kind, value): ResourceAccess}."""
    return compute_state_access(state, zone, SERVICE)


def analyse(sns: Any, topic_arn: str, zone_of: ZoneOf) -> Analysis | None:
    """(owner, external access) of the topic; None when it does not exist."""
    state = read_topic(sns, topic_arn)
    if state is None:
        return None
    return state.owner, compute_topic_access(state, zone_of(state.owner))
