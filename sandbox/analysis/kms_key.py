"""KMS keys (``AWS::KMS::Key``, resource = the key ARN ``arn:aws:kms:<region>:<account>:key/<id>``) for the stand-in.

`read_key` reads what the analysis needs from KMS (moto): DescribeKey (``KeyManager``), GetKeyPolicy (PolicyName
``default``, the only name there is) and ListGrants. `compute_key_access` applies this small model:

- AWS managed keys (``KeyManager`` ``AWS``): no finding.
- One scope, the key itself (key policies name it as ``*``).
- Key policy: the shared resource-policy rules of `sandbox.analysis` with service ``kms``; an Allow whose
  ``kms:CallerAccount`` condition (StringEquals / StringLike) names only accounts of the zone is in the zone too (the
  form AWS's own service-integration statements use). The default key policy (the owner account's root, ``kms:*``)
  is in the zone: no finding.
- Grants: a grant whose ``GranteePrincipal`` is outside the zone (account id, root ARN reported as the account id,
  user/role ARN; service principals are skipped) grants ``kms:<Operation>`` for each of its ``Operations``. The key
  policy's Denies remove grant operations too (an explicit Deny wins over a grant). Grant constraints (encryption
  context) are not reported as conditions (unconfirmed for the real analyzer); the retiring principal is not access.
- One finding per principal: the actions of the key policy and of its grants merged (sorted), the policy's
  conditions; KMS findings carry no ``sources`` (S3 bucket findings only). The owner is the account of the key ARN.
- moto 5.2.5 answers DescribeKey with AccessDeniedException when the key policy holds any Deny naming
  ``kms:DescribeKey`` (``kms:*``, ``kms:Describe*``), whatever its Principal and conditions
  (``moto/kms/policy_validator.py``), e.g. the remediation's own Deny of ``kms:*`` for one external account. The
  analyzer's service-linked role is in the zone and would not be denied, so such a key is analysed as customer
  managed.

Not modelled: error findings (``ACCESS_DENIED`` for a key the analyzer cannot read), multi-Region replicas, key state
(keys pending deletion are analysed like the others), ``kms:ViaService``, grant constraints.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from sandbox.analysis import (
    Grants,
    PrincipalKey,
    ResourceAccess,
    allow_grants,
    denies_of,
    external_aws_principal,
    policy_statements,
    remaining_access,
)
from sandbox.analysis.iam_role import TrustZone, _condition_items

RESOURCE_TYPE = "AWS::KMS::Key"
KEY_ARN_RE = re.compile(r"^arn:[\w-]+:kms:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):key/(?P<id>[\w-]+)$")
AWS_MANAGED = "AWS"


@dataclass(frozen=True)
class KeyState:
    """One key as KMS returns it: what the analysis reads."""

    arn: str
    key_manager: str  # "CUSTOMER" or "AWS"
    policy: Mapping[str, Any] | None
    grants: tuple[Mapping[str, Any], ...]

    @property
    def account(self) -> str:
        """The owner: the account of the key ARN."""
        match = KEY_ARN_RE.match(self.arn)
        return match["account"] if match else ""


def key_arn_parts(resource_arn: str) -> tuple[str, str] | None:
    """(Region, account) of a key ARN; None for anything else (aliases, other services)."""
    match = KEY_ARN_RE.match(resource_arn)
    return (match["region"], match["account"]) if match else None


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def read_key(kms: Any, key_arn: str) -> KeyState | None:
    """The key's manager, policy and grants; None when the key does not exist."""
    key_manager = "CUSTOMER"
    try:
        key_manager = str(kms.describe_key(KeyId=key_arn)["KeyMetadata"].get("KeyManager", "CUSTOMER"))
    except ClientError as error:
        if _code(error) == "NotFoundException":
            return None
        if _code(error) != "AccessDeniedException":  # moto's Deny check ignores principals: see the module docstring
            raise
    try:
        document = json.loads(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
        grants = [g for page in kms.get_paginator("list_grants").paginate(KeyId=key_arn) for g in page["Grants"]]
    except ClientError as error:
        if _code(error) == "NotFoundException":
            return None
        raise
    policy = document if isinstance(document, Mapping) else None
    return KeyState(key_arn, key_manager, policy, tuple(grants))


def _caller_account_in_zone(condition: Any, zone: TrustZone) -> bool:
    """An Allow conditioned on ``kms:CallerAccount`` naming only accounts of the zone grants nothing external."""
    for operator, key, values in _condition_items(condition):
        pinned = operator.removesuffix("IfExists") in ("StringEquals", "StringLike") and key == "kms:calleraccount"
        if pinned and values and all(zone.contains_account(v) for v in values):
            return True
    return False


def grant_grants(state: KeyState, zone: TrustZone) -> dict[PrincipalKey, Grants]:
    """What the key's grants give principals outside the zone, before the key policy's Denies."""
    granted: dict[PrincipalKey, Grants] = {}
    for grant in state.grants:
        value = external_aws_principal(str(grant.get("GranteePrincipal", "")), zone)
        operations = [f"kms:{operation}" for operation in grant.get("Operations") or []]
        if value is None or value == "*" or not operations:
            continue
        granted.setdefault(("AWS", value), Grants()).add(operations, (state.arn,))
    return granted


def compute_key_access(state: KeyState, zone: TrustZone) -> dict[PrincipalKey, ResourceAccess]:
    """External access to the key after its Denies: {(kind, value): ResourceAccess}; nothing for AWS managed keys."""
    if state.key_manager == AWS_MANAGED:
        return {}
    statements = policy_statements(state.policy)
    granted = allow_grants(statements, zone, "kms", (state.arn,), _caller_account_in_zone)
    for key, entry in grant_grants(state, zone).items():
        merged = granted.setdefault(key, Grants())
        for action, scopes in entry.actions.items():
            merged.add((action,), scopes)
    left = remaining_access(granted, denies_of(statements), zone)
    return {
        (kind, value): ResourceAccess(kind, value, actions, condition, value == "*")
        for (kind, value), (actions, condition) in left.items()
    }
