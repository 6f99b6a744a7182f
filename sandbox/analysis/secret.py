"""Secrets Manager secrets (``AWS::SecretsManager::Secret``, resource
``arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 characters>``) for the stand-in, and the sandbox's
ValidateResourcePolicy (`validate_resource_policy`, served by `sandbox.moto_server`'s patch of moto).

`read_secret` reads what the analysis needs from Secrets Manager (moto): DescribeSecret (the secret exists, is not
scheduled for deletion) and GetResourcePolicy. `compute_secret_access` applies this small model:

- One scope, the secret ARN; in a secret's policy ``Resource: "*"`` is the secret itself (the only resource a secret
  policy can name), so an Allow or a Deny of ``*`` reaches / covers it.
- Resource policy: the shared resource-policy rules of `sandbox.analysis` with service ``secretsmanager``, plus the
  source rule of `sandbox.analysis.resource_policy`.
- One finding per principal (actions sorted, the Allow's conditions); no ``sources``. The owner is the ARN's account.
- A secret scheduled for deletion (DescribeSecret ``DeletedDate``) is treated as gone: its findings resolve
  (Secrets Manager refuses GetSecretValue on it; whether the real analyzer resolves them is unconfirmed). ListSecrets
  leaves such secrets out as well.

Not modelled: ``Service`` principals, the KMS key that encrypts the secret (the real analyzer reads the secret's key
too: unconfirmed how it reports it), replicas, error findings.

ValidateResourcePolicy (moto 5.2.5 does not implement it), as `validate_resource_policy` models it:

- Syntax (check ``SYNTAX_CHECK``): a JSON object with a ``Statement`` (an object or a non-empty list of objects), an
  optional ``Version`` of ``2012-10-17`` / ``2008-10-17``; each statement has only known elements, an ``Effect`` of
  Allow or Deny, exactly one of Principal / NotPrincipal (``"*"`` or a map of AWS / Service / Federated /
  CanonicalUser), exactly one of Action / NotAction, at most one of Resource / NotResource, and a Condition that is a
  map of maps.
- Broad access (check ``BROAD_ACCESS_CHECK``): an Allow of ``Principal "*"`` / ``{"AWS": "*"}`` without a Condition
  that grants ``secretsmanager`` actions fails, unless the Denies of the same policy take every one of those actions
  away from everyone outside the owner account, or outside the owner account and one organization (the Deny model of
  `sandbox.analysis`: the remediation's public perimeter ``StringNotEqualsIfExists {aws:PrincipalAccount: [owner],
  aws:PrincipalOrgID: o-...}`` + ``BoolIfExists {aws:PrincipalIsAWSService: false}`` counts, with or without an
  ``ArnNotLike aws:PrincipalArn`` allowlist of the owner account's principals). This is conservative: a perimeter
  that also spares other accounts (trusted accounts, an allowlisted account) still fails here, where Zelkova may
  pass it; an Allow of ``*`` with any Condition passes here, where Zelkova may fail it. A Deny counts only when its
  Resource is absent, ``*`` or matches the secret's ARN (``*`` only, without a SecretId). The message names the Allow
  by index and Sid, so appending a Deny to a policy that fails leaves the same failure (the remediation compares the
  failures before and after its change).
- The check names and messages of the real service are unconfirmed; a caller-lockout check is not modelled (always
  passes); an unknown SecretId is ``ResourceNotFoundException``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from sandbox.analysis import Grants, PrincipalKey, denies_of, granted_actions, policy_statements, remaining_access
from sandbox.analysis.iam_role import TrustZone, _condition_items, _principal_entries
from sandbox.analysis.resource_policy import (
    Access,
    Analysis,
    PolicyState,
    ZoneOf,
    compute_state_access,
    error_code,
    parse_policy,
)

RESOURCE_TYPE = "AWS::SecretsManager::Secret"
SERVICE = "secretsmanager"
SECRET_ARN_RE = re.compile(
    r"^arn:[\w-]+:secretsmanager:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):secret:(?P<name>[\w/+=.@-]{1,512})$"
)
SYNTAX_CHECK = "SYNTAX_CHECK"
BROAD_ACCESS_CHECK = "BROAD_ACCESS_CHECK"
POLICY_VERSIONS = frozenset({"2012-10-17", "2008-10-17"})
_STATEMENT_KEYS = frozenset(
    {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)
_PRINCIPAL_KINDS = frozenset({"AWS", "Service", "Federated", "CanonicalUser"})
_GONE = frozenset({"ResourceNotFoundException"})


def arn_parts(resource_arn: str) -> tuple[str, str] | None:
    """(Region, account) of a secret ARN; None for anything else."""
    match = SECRET_ARN_RE.match(resource_arn)
    return (match["region"], match["account"]) if match else None


def resource_arns(secretsmanager: Any, account: str) -> list[str]:
    """The ARN of every secret of the client's Region that `account` owns (ListSecrets, without the ones scheduled
    for deletion)."""
    arns: list[str] = []
    for page in secretsmanager.get_paginator("list_secrets").paginate():
        for secret in page.get("SecretList", []):
            parts = arn_parts(str(secret["ARN"]))
            if parts is not None and parts[1] == account and not secret.get("DeletedDate"):
                arns.append(str(secret["ARN"]))
    return arns


def read_secret(secretsmanager: Any, secret_arn: str) -> PolicyState | None:
    """The secret's resource policy; None when the secret does not exist or is scheduled for deletion."""
    parts = arn_parts(secret_arn)
    if parts is None:
        raise ValueError(f"not a Secrets Manager secret ARN: {secret_arn!r}")
    try:
        described = secretsmanager.describe_secret(SecretId=secret_arn)
        if described.get("ARN") != secret_arn or described.get("DeletedDate"):
            return None
        text = secretsmanager.get_resource_policy(SecretId=secret_arn).get("ResourcePolicy")
    except ClientError as error:
        if error_code(error) in _GONE:
            return None
        raise
    return PolicyState(secret_arn, parts[1], parse_policy(text), (secret_arn,))


def compute_secret_access(state: PolicyState, zone: TrustZone) -> Access:
    """External access to the secret after its Denies: {(kind, value): ResourceAccess}."""
    return compute_state_access(state, zone, SERVICE)


def analyse(secretsmanager: Any, secret_arn: str, zone_of: ZoneOf) -> Analysis | None:
    """(owner, external access) of the secret; None when it does not exist (or is scheduled for deletion)."""
    state = read_secret(secretsmanager, secret_arn)
    if state is None:
        return None
    return state.owner, compute_secret_access(state, zone_of(state.owner))


# ============================================================================================ ValidateResourcePolicy
def syntax_errors(text: str) -> list[str]:
    """What is wrong with the policy's syntax (see the module docstring); empty when nothing is."""
    try:
        document = json.loads(text)
    except ValueError as error:
        return [f"the policy is not valid JSON: {error}"]
    if not isinstance(document, Mapping):
        return ["the policy is not a JSON object"]
    errors: list[str] = []
    unknown = sorted(set(document) - {"Version", "Id", "Statement"})
    if unknown:
        errors.append(f"unknown policy element(s): {', '.join(map(str, unknown))}")
    if "Version" in document and document["Version"] not in POLICY_VERSIONS:
        errors.append(f"unsupported Version {document['Version']!r}")
    raw = document.get("Statement")
    statements = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(statements, list) or not statements:
        return [*errors, "the policy has no Statement"]
    for index, statement in enumerate(statements):
        errors.extend(f"statement {index}: {problem}" for problem in _statement_errors(statement))
    return errors


def _statement_errors(statement: Any) -> list[str]:
    if not isinstance(statement, Mapping):
        return ["not a JSON object"]
    errors: list[str] = []
    unknown = sorted(set(statement) - _STATEMENT_KEYS)
    if unknown:
        errors.append(f"unknown element(s): {', '.join(map(str, unknown))}")
    if statement.get("Effect") not in ("Allow", "Deny"):
        errors.append("Effect must be Allow or Deny")
    for pair in (("Principal", "NotPrincipal"), ("Action", "NotAction")):
        if sum(key in statement for key in pair) != 1:
            errors.append(f"exactly one of {pair[0]} / {pair[1]} is required")
    if "Resource" in statement and "NotResource" in statement:
        errors.append("Resource and NotResource are exclusive")
    for key in ("Principal", "NotPrincipal"):
        if key in statement and not _principal_ok(statement[key]):
            errors.append(f'{key} must be "*" or a map of AWS / Service / Federated / CanonicalUser')
    for key in ("Action", "NotAction", "Resource", "NotResource"):
        if key in statement and not _strings_ok(statement[key]):
            errors.append(f"{key} must be a string or a non-empty list of strings")
    condition = statement.get("Condition")
    if "Condition" in statement and not (
        isinstance(condition, Mapping) and all(isinstance(block, Mapping) for block in condition.values())
    ):
        errors.append("Condition must be a map of condition operators to maps")
    return errors


def _principal_ok(value: Any) -> bool:
    if value == "*":
        return True
    return (
        isinstance(value, Mapping)
        and bool(value)
        and set(value) <= _PRINCIPAL_KINDS
        and all(_strings_ok(v) for v in value.values())
    )


def _strings_ok(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value)
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) and v for v in value)


def _is_public_principal(principal: Any) -> bool:
    return any(kind == "AWS" and value == "*" for kind, value in _principal_entries(principal))


def broad_access_errors(document: Mapping[str, Any], owner: str, secret_arn: str | None = None) -> list[str]:
    """The Allows of ``*`` without a condition that the policy's Denies leave open (see the module docstring)."""
    statements = policy_statements(document)
    denies = denies_of(statements)
    organizations = sorted(
        {
            v
            for d in denies
            for _, key, values in _condition_items(d.get("Condition"))
            if key == "aws:principalorgid"
            for v in values
        }
    )
    zones = [TrustZone(frozenset({owner}))] + [TrustZone(frozenset({owner}), org) for org in organizations]
    scope = secret_arn or "*"
    errors: list[str] = []
    for index, statement in enumerate(statements):
        if statement.get("Effect") != "Allow" or statement.get("Condition") or "Principal" not in statement:
            continue
        if not _is_public_principal(statement["Principal"]):
            continue
        actions = sorted(granted_actions(statement, SERVICE))
        if not actions:
            continue
        granted: dict[PrincipalKey, Grants] = {("AWS", "*"): Grants()}
        granted["AWS", "*"].add(actions, (scope,))
        if all(remaining_access(granted, denies, zone) for zone in zones):
            name = f" ({statement['Sid']})" if statement.get("Sid") else ""
            errors.append(
                f"statement {index}{name} allows {', '.join(actions)} to every principal (Principal *) without a"
                " condition: the policy grants broad access to the secret"
            )
    return errors


def validate_resource_policy(text: str, owner: str, secret_arn: str | None = None) -> dict[str, Any]:
    """The ValidateResourcePolicy response for `text` as a resource policy of a secret `owner` owns:
    ``{"PolicyValidationPassed": bool, "ValidationErrors": [{"CheckName", "ErrorMessage"}]}``."""
    problems = [(SYNTAX_CHECK, message) for message in syntax_errors(text)]
    if not problems:
        problems = [(BROAD_ACCESS_CHECK, m) for m in broad_access_errors(json.loads(text), owner, secret_arn)]
    return {
        "PolicyValidationPassed": not problems,
        "ValidationErrors": [{"CheckName": check, "ErrorMessage": message} for check, message in problems],
    }
