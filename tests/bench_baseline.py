"""The cold-start baseline of `make bench`: a minimal handler of the original design (the AWS blog's sample, with its
bugs fixed): GetRole, append a Deny for the event's principal, UpdateAssumeRolePolicy, Publish. No verification, no
lease, no ledger, no audit, no outbox: what the tool's extra safety is measured against."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3

_clients: dict[str, Any] = {}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    del context
    iam = _clients.setdefault("iam", boto3.client("iam"))
    sns = _clients.setdefault("sns", boto3.client("sns"))
    detail = event["detail"]
    role = detail["resource"].strip().rsplit("/", 1)[-1]
    principal = detail["principal"]["AWS"]
    policy = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    policy["Statement"].append(
        {"Sid": "DenyExternalAccess", "Effect": "Deny", "Principal": {"AWS": principal}, "Action": detail["action"]}
    )
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(policy))
    sns.publish(TopicArn=os.environ["AAR_TOPIC_ARN"], Message=f"denied {principal} on {role}")
    return {"denied": principal}
