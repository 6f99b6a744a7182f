"""SQS queues (``AWS::SQS::Queue``, resource ``arn:aws:sqs:<region>:<account>:<name>``) for the stand-in.

`read_queue` reads what the analysis needs from SQS (moto): GetQueueUrl (``QueueOwnerAWSAccountId`` = the ARN's
account) and GetQueueAttributes ``Policy``. `compute_queue_access` applies this small model:

- One scope, the queue ARN (the Resource its statements name).
- Queue policy: the shared resource-policy rules of `sandbox.analysis` with service ``sqs``, plus the source rule of
  `sandbox.analysis.resource_policy` (``aws:SourceArn`` of a topic or rule of the zone, ``aws:SourceAccount`` of the
  zone: no finding). AddPermission grants are statements of the same policy (``Principal {"AWS": "<root ARN>"}``,
  actions ``SQS:<Action>``, reported as ``sqs:<Action>``).
- One finding per principal (actions sorted, the Allow's conditions); no ``sources``. The owner is the ARN's account.

Not modelled: ``Service`` principals (skipped, as for S3 and KMS), error findings, the 60-second propagation of policy
changes (moto applies them at once), queues of other Regions than the client's.
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

RESOURCE_TYPE = "AWS::SQS::Queue"
SERVICE = "sqs"
QUEUE_ARN_RE = re.compile(r"^arn:[\w-]+:sqs:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?P<name>[\w-]{1,80})$")
QUEUE_URL_RE = re.compile(r"^https?://[^/]+/(?P<account>\d{12})/(?P<name>[\w-]{1,80})$")
_GONE = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NonExistentQueue"})


def arn_parts(resource_arn: str) -> tuple[str, str] | None:
    """(Region, account) of a queue ARN; None for anything else."""
    match = QUEUE_ARN_RE.match(resource_arn)
    return (match["region"], match["account"]) if match else None


def resource_arns(sqs: Any, account: str) -> list[str]:
    """The ARN of every queue of the client's Region that `account` owns (ListQueues, from the queue URLs)."""
    region = sqs.meta.region_name
    arns: list[str] = []
    for page in sqs.get_paginator("list_queues").paginate():
        for url in page.get("QueueUrls", []):
            match = QUEUE_URL_RE.match(str(url))
            if match and match["account"] == account:
                arns.append(f"arn:aws:sqs:{region}:{match['account']}:{match['name']}")
    return arns


def read_queue(sqs: Any, queue_arn: str) -> PolicyState | None:
    """The queue's policy; None when the queue does not exist."""
    match = QUEUE_ARN_RE.match(queue_arn)
    if match is None:
        raise ValueError(f"not an SQS queue ARN: {queue_arn!r}")
    try:
        url = sqs.get_queue_url(QueueName=match["name"], QueueOwnerAWSAccountId=match["account"])["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get("Attributes", {})
    except ClientError as error:
        if error_code(error) in _GONE:
            return None
        raise
    return PolicyState(queue_arn, match["account"], parse_policy(attributes.get("Policy")), (queue_arn,))


def compute_queue_access(state: PolicyState, zone: TrustZone) -> Access:
    """External access to the queue after its Denies: {(kind, value): ResourceAccess}."""
    return compute_state_access(state, zone, SERVICE)


def analyse(sqs: Any, queue_arn: str, zone_of: ZoneOf) -> Analysis | None:
    """(owner, external access) of the queue; None when it does not exist."""
    state = read_queue(sqs, queue_arn)
    if state is None:
        return None
    return state.owner, compute_queue_access(state, zone_of(state.owner))
