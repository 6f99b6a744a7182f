"""What the stand-in's analysis of the types added after S3 and KMS shares: the policy-holding types (SQS queues, SNS
topics, Secrets Manager secrets, ECR repositories, EFS file systems, DynamoDB tables, Lambda functions and layer
versions) and the sharing-attribute types (EBS, RDS DB and DB cluster snapshots).

Each type module exposes the same three functions, which `sandbox.access_analyzer` dispatches to (its
``TYPE_ANALYSES`` table; the modules of two types, `sandbox.analysis.lambda_function` and
`sandbox.analysis.rds_snapshot`, name them per type):

- ``arn_parts(arn) -> (Region, account) | None``: whether an ARN names a resource of the type (the account is ``""``
  where the ARN names none: EBS snapshots);
- ``resource_arns(client, account) -> list[str]``: every resource of the type the client (of the analyzer's Region)
  sees that `account` owns;
- ``analyse(client, arn, zone_of) -> (owner, access) | None``: the resource's owner and its external access
  ({(principal kind, value): `ResourceAccess`}), None when the resource does not exist. `zone_of(owner)` is the
  analyzer's zone of trust with the owner's account in it. The stand-in analyses only resources its own account
  owns, in its own Region; another account's resource has no findings.

For the policy types, `compute_policy_access` is the whole model: the shared resource-policy rules of
`sandbox.analysis` (``allow_grants`` then ``remaining_access``, which honour the exact Denies the remediation writes)
with the type's service prefix and the resource's scopes, plus two rules of this module:

- An Allow whose conditions pin the request's source to the zone grants nothing external: ``aws:SourceAccount`` /
  ``aws:SourceOwner`` (StringEquals / StringLike, IfExists or not) naming only accounts of the zone, or
  ``aws:SourceArn`` (ArnEquals / ArnLike / StringEquals / StringLike) naming only ARNs whose account field is in the
  zone (an ARN without an account, such as an S3 bucket's, is not), or ``aws:SourceOrgID`` naming the zone's
  organization. This is what keeps SNS's default topic policy (``Principal {"AWS": "*"}`` limited by
  ``AWS:SourceOwner`` = the owner) and the usual "SNS topic / EventBridge rule of this account may send to this
  queue" statements out of the findings. A Deny conditioned on these keys is not understood (it does not count).
- Actions are reported with the service prefix in lower case (``SQS:SendMessage`` -> ``sqs:SendMessage``; SQS's
  AddPermission and SNS's default policy write the upper-case form): IAM matches actions case-insensitively, and the
  remediation's finding parser accepts only lower-case prefixes. The rest of the action stays as the policy names
  it. The real analyzer's casing is unconfirmed.

Findings of these types carry no ``sources`` (S3 bucket findings only).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from sandbox.analysis import (
    Grants,
    PrincipalKey,
    ResourceAccess,
    allow_grants,
    denies_of,
    policy_statements,
    remaining_access,
)
from sandbox.analysis.iam_role import TrustZone, _account_of, _condition_items

Access = dict[PrincipalKey, ResourceAccess]
Analysis = tuple[str, Access]  # (resource owner account, external access)
ZoneOf = Callable[[str], TrustZone]  # owner account -> the analyzer's zone of trust with that account in it
LimitedToZone = Callable[[Any, TrustZone], bool]

_SOURCE_ACCOUNT_KEYS = frozenset({"aws:sourceaccount", "aws:sourceowner"})
_STRING_MATCH = frozenset({"StringEquals", "StringLike"})
_ARN_MATCH = frozenset({"ArnEquals", "ArnLike", "StringEquals", "StringLike"})


@dataclass(frozen=True)
class PolicyState:
    """One policy-holding resource as its service returns it: what the analysis reads."""

    arn: str  # the finding's resource
    owner: str  # the resource owner's account
    policy: Mapping[str, Any] | None  # None: the resource has no policy
    scopes: tuple[str, ...]  # the strings the policy's Resource elements are matched against (`sandbox.analysis`)


def error_code(error: ClientError) -> str:
    """The error code of a boto3 ClientError."""
    return str(error.response.get("Error", {}).get("Code", ""))


def parse_policy(text: Any) -> Mapping[str, Any] | None:
    """A policy document from a read API's text (None, "" or not a JSON object: no policy)."""
    if not text:
        return None
    document = json.loads(text) if isinstance(text, str | bytes) else text
    return document if isinstance(document, Mapping) else None


def source_in_zone(condition: Any, zone: TrustZone) -> bool:
    """True when an Allow's conditions pin the request's source account (or source ARN's account, or source
    organization) to the zone."""
    for operator, key, values in _condition_items(condition):
        base = operator.removesuffix("IfExists")
        if not values:
            continue
        if key in _SOURCE_ACCOUNT_KEYS and base in _STRING_MATCH:
            pinned = all(zone.contains_account(v) for v in values)
        elif key == "aws:sourcearn" and base in _ARN_MATCH:
            pinned = all(zone.contains_account(_arn_account(v)) for v in values)
        elif key == "aws:sourceorgid" and base in _STRING_MATCH:
            pinned = zone.organization_id is not None and set(values) <= {zone.organization_id}
        else:
            pinned = False
        if pinned:
            return True
    return False


def _arn_account(value: str) -> str | None:
    parts = value.split(":")
    return _account_of(value) if len(parts) >= 6 and parts[0] == "arn" else None


def limited_to_zone(extra: LimitedToZone | None = None) -> LimitedToZone:
    """The ``limited_to_zone`` test `allow_grants` takes: `source_in_zone`, or the type's own `extra` test."""

    def test(condition: Any, zone: TrustZone) -> bool:
        return source_in_zone(condition, zone) or (extra is not None and extra(condition, zone))

    return test


def lower_prefix(granted: Mapping[PrincipalKey, Grants], service: str) -> dict[PrincipalKey, Grants]:
    """The grants with each action's service prefix in lower case (scopes of actions that then coincide merged)."""
    result: dict[PrincipalKey, Grants] = {}
    for key, grant in granted.items():
        renamed = Grants(condition=dict(grant.condition))
        for action, scopes in grant.actions.items():
            prefix, sep, name = action.partition(":")
            renamed.add((f"{prefix.lower()}{sep}{name}" if prefix.lower() == service else action,), scopes)
        result[key] = renamed
    return result


def to_access(left: Mapping[PrincipalKey, tuple[tuple[str, ...], dict[str, str]]]) -> Access:
    """`remaining_access`'s result as findings' content: one `ResourceAccess` per principal, ``*`` public."""
    return {
        (kind, value): ResourceAccess(kind, value, actions, condition, kind == "AWS" and value == "*")
        for (kind, value), (actions, condition) in left.items()
    }


def compute_policy_access(
    policy: Mapping[str, Any] | None,
    zone: TrustZone,
    service: str,
    scopes: Sequence[str],
    *,
    extra_limited_to_zone: LimitedToZone | None = None,
) -> Access:
    """External access a resource policy grants after its Denies (see the module docstring)."""
    statements = policy_statements(policy)
    granted = allow_grants(statements, zone, service, scopes, limited_to_zone(extra_limited_to_zone))
    return to_access(remaining_access(lower_prefix(granted, service), denies_of(statements), zone))


def compute_state_access(state: PolicyState, zone: TrustZone, service: str) -> Access:
    """`compute_policy_access` of a `PolicyState`."""
    return compute_policy_access(state.policy, zone, service, state.scopes)
