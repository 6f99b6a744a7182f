"""DynamoDB tables (``AWS::DynamoDB::Table``, resource ``arn:aws:dynamodb:<region>:<account>:table/<name>``) for the
stand-in.

`read_table` reads the table's resource policy from DynamoDB (moto): GetResourcePolicy (``ResourceNotFoundException``:
no table; ``PolicyNotFoundException``: no policy). `compute_table_access` applies this small model:

- Two scopes: the table ``arn:...:table/<name>`` and its indexes ``arn:...:table/<name>/index/*`` (a Query on an
  index acts on the index's ARN; `sandbox.analysis` says how Allow and Deny ``Resource`` elements meet scopes: the
  remediation's Deny names both). Statements about the table's streams (``.../stream/*``) reach neither.
- Resource policy: the shared resource-policy rules of `sandbox.analysis` with service ``dynamodb``, plus the source
  rule of `sandbox.analysis.resource_policy`.
- One finding per principal (actions sorted, the Allow's conditions); no ``sources``. The owner is the ARN's account.

Not modelled: streams (``AWS::DynamoDB::Stream``): moto 5.2.5 answers GetResourcePolicy / PutResourcePolicy of a
stream ARN with ``ResourceNotFoundException`` (it looks the stream's timestamp up as a table name), so no stream
policy can be held; the eventual consistency of GetResourcePolicy after a write (moto answers the latest at once);
``Service`` principals; error findings.
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

RESOURCE_TYPE = "AWS::DynamoDB::Table"
SERVICE = "dynamodb"
TABLE_ARN_RE = re.compile(
    r"^arn:[\w-]+:dynamodb:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):table/(?P<name>[\w.-]{3,255})$"
)


def arn_parts(resource_arn: str) -> tuple[str, str] | None:
    """(Region, account) of a table ARN; None for anything else (indexes, streams, other services)."""
    match = TABLE_ARN_RE.match(resource_arn)
    return (match["region"], match["account"]) if match else None


def table_scopes(table_arn: str) -> tuple[str, str]:
    """The table and its indexes."""
    return (table_arn, f"{table_arn}/index/*")


def resource_arns(dynamodb: Any, account: str) -> list[str]:
    """The ARN of every table of the client's Region (ListTables; the ARN from the client's Region and `account`)."""
    region = dynamodb.meta.region_name
    arns: list[str] = []
    for page in dynamodb.get_paginator("list_tables").paginate():
        arns.extend(f"arn:aws:dynamodb:{region}:{account}:table/{name}" for name in page.get("TableNames", []))
    return arns


def read_table(dynamodb: Any, table_arn: str) -> PolicyState | None:
    """The table's resource policy; None when the table does not exist."""
    parts = arn_parts(table_arn)
    if parts is None:
        raise ValueError(f"not a DynamoDB table ARN: {table_arn!r}")
    try:
        text: str | None = dynamodb.get_resource_policy(ResourceArn=table_arn).get("Policy")
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return None
        if error_code(error) != "PolicyNotFoundException":
            raise
        text = None
    return PolicyState(table_arn, parts[1], parse_policy(text), table_scopes(table_arn))


def compute_table_access(state: PolicyState, zone: TrustZone) -> Access:
    """External access to the table after its Denies: {(kind, value): ResourceAccess}."""
    return compute_state_access(state, zone, SERVICE)


def analyse(dynamodb: Any, table_arn: str, zone_of: ZoneOf) -> Analysis | None:
    """(owner, external access) of the table; None when it does not exist."""
    state = read_table(dynamodb, table_arn)
    if state is None:
        return None
    return state.owner, compute_table_access(state, zone_of(state.owner))
