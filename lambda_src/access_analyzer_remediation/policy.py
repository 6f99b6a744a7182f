"""Trust-policy arithmetic: which Deny covers what, adding exact Denies, removing them again. Pure functions.

The tool writes only Deny statements whose Sid starts with `SID_PREFIX`, one per (principal kind, action set), and
grows/shrinks their principal lists. Statements it did not write are never changed, reordered or removed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

SID_PREFIX = "AccessAnalyzerDeny"
POLICY_VERSION = "2012-10-17"

ACCOUNT = "Account"  # {"AWS": "<12 digits>"} or the account's root ARN
PRINCIPAL = "Principal"  # a user/role ARN: matched on aws:PrincipalArn, so a deleted principal cannot be rejected
FEDERATED = "Federated"  # web identity / SAML provider
PUBLIC = "Public"  # {"AWS": "*"}: everyone outside the zone of trust
KINDS = (ACCOUNT, PRINCIPAL, FEDERATED, PUBLIC)

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ROOT_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):root$")
_IAM_PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):(user|role)/[\w+=,.@/-]+$")
_SESSION_ARN = re.compile(r"^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([\w+=,.@-]+)/[\w+=,.@-]+$")
_UNIQUE_ID = re.compile(r"^(AROA|AIDA)[A-Z0-9]{12,}$")
_PATTERN_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):")
_SID = re.compile(rf"^{SID_PREFIX}({'|'.join(KINDS)})[0-9A-F]{{8}}$")

Policy = dict[str, Any]
Statement = dict[str, Any]


class PolicyError(ValueError):
    """The trust policy cannot be read or safely changed (e.g. a foreign statement holds one of our Sids)."""


@dataclass(frozen=True, order=True)
class DenyTarget:
    """One principal to deny. `value` is an account id, principal ARN (pattern), provider name or `*`."""

    kind: str
    value: str

    @property
    def account_id(self) -> str | None:
        if self.kind == ACCOUNT:
            return self.value
        match = _PATTERN_ACCOUNT.match(self.value) if self.kind == PRINCIPAL else None
        return match.group(1) if match else None


@dataclass(frozen=True)
class Unsupported:
    key: str
    value: str
    reason: str  # "principal_deleted" | "unsupported_principal"


@dataclass(frozen=True, order=True)
class DenyEntry:
    """What one change added to (or a revert removes from) the statement `sid`."""

    sid: str
    kind: str
    value: str
    actions: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"sid": self.sid, "kind": self.kind, "value": self.value, "actions": list(self.actions)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DenyEntry:
        entry = cls(str(data["sid"]), str(data["kind"]), str(data["value"]), tuple(map(str, data["actions"])))
        if not _SID.match(entry.sid) or entry.kind not in KINDS:
            raise PolicyError(f"not a statement this tool writes: {entry.sid!r}")
        return entry


@dataclass(frozen=True)
class Zone:
    """The zone of trust: never denied. Always holds the account that owns the role."""

    account_ids: frozenset[str]
    org_id: str | None = None


def classify_principal(principal: Mapping[str, str]) -> tuple[list[DenyTarget], list[Unsupported]]:
    """Map a finding's principal map to deny targets; explain what cannot be denied."""
    targets: list[DenyTarget] = []
    unsupported: list[Unsupported] = []
    for key, value in sorted(principal.items()):
        target = _target(key, value)
        if target is not None:
            targets.append(target)
        elif key == "AWS" and _UNIQUE_ID.match(value):
            # IAM stores a deleted principal as its unique id; nobody can use that trust any more.
            unsupported.append(Unsupported(key, value, "principal_deleted"))
        else:
            unsupported.append(Unsupported(key, value, "unsupported_principal"))
    return targets, unsupported


def _target(key: str, value: str) -> DenyTarget | None:
    if key == "Federated":
        return DenyTarget(FEDERATED, value) if value and value != "*" else None
    if key != "AWS":
        return None  # Service, CanonicalUser...: denying an AWS service would break the role's purpose
    if value == "*":
        return DenyTarget(PUBLIC, "*")
    if _ACCOUNT_ID.match(value):
        return DenyTarget(ACCOUNT, value)
    if root := _ROOT_ARN.match(value):
        return DenyTarget(ACCOUNT, root.group(1))
    if _IAM_PRINCIPAL_ARN.match(value):
        return DenyTarget(PRINCIPAL, value)
    if session := _SESSION_ARN.match(value):
        # aws:PrincipalArn of a role session is the role ARN, whose path the session ARN does not show.
        partition, account, role = session.groups()
        return DenyTarget(PRINCIPAL, f"arn:{partition}:iam::{account}:role*/{role}")
    return None


def canonical_value(kind: str, value: str) -> str:
    """An account's root ARN (as IAM may store it back) and its id are one principal."""
    root = _ROOT_ARN.match(value) if kind == ACCOUNT else None
    return root.group(1) if root else value


def sid_for(kind: str, actions: Sequence[str]) -> str:
    digest = hashlib.sha256("|".join(sorted(actions)).encode()).hexdigest()[:8].upper()
    return f"{SID_PREFIX}{kind}{digest}"


def compact(policy: Policy) -> str:
    """The policy as sent to IAM; its length is what the trust-policy quota counts."""
    return json.dumps(policy, separators=(",", ":"), ensure_ascii=False)


def statements(policy: Mapping[str, Any]) -> list[Statement]:
    raw = policy.get("Statement")
    items = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(items, list) or not all(isinstance(item, Mapping) for item in items):
        raise PolicyError("trust policy has no readable Statement")
    return [dict(item) for item in items]


def covering_sids(policy: Mapping[str, Any], target: DenyTarget, action: str) -> list[str]:
    """Sids (or `#<index>` for unnamed ones) of Deny statements that already block `target` doing `action`."""
    return [
        str(statement.get("Sid") or f"#{index}")
        for index, statement in enumerate(statements(policy))
        if _covers(statement, target, action)
    ]


def add_denies(
    policy: Mapping[str, Any], requests: Iterable[tuple[DenyTarget, Sequence[str]]], zone: Zone
) -> tuple[Policy, list[DenyEntry]]:
    """Return a copy of `policy` that denies each (target, actions) not already denied, and what was added."""
    result = copy.deepcopy(dict(policy))
    body = statements(result)
    added: list[DenyEntry] = []
    for target, actions in requests:
        missing = tuple(sorted(a for a in set(actions) if not any(_covers(s, target, a) for s in body)))
        if not missing:
            continue
        sid = sid_for(target.kind, missing)
        existing = next((s for s in body if s.get("Sid") == sid), None)
        if existing is None:
            body.append(_new_statement(sid, target, missing, zone))
        else:
            values = _own_values(existing, target.kind, missing)
            if target.kind != PUBLIC:
                _set_values(existing, target.kind, [*values, target.value])
        added.append(DenyEntry(sid, target.kind, target.value, missing))
    result["Statement"] = body
    return result, added


def remove_denies(policy: Mapping[str, Any], entries: Iterable[DenyEntry]) -> tuple[Policy, list[DenyEntry]]:
    """Remove exactly `entries` from the tool's statements; leave every other statement and value as it is."""
    result = copy.deepcopy(dict(policy))
    body = statements(result)
    removed: list[DenyEntry] = []
    for entry in entries:
        statement = next((s for s in body if s.get("Sid") == entry.sid), None)
        if statement is None:
            continue
        values = _own_values(statement, entry.kind, entry.actions)
        if entry.kind == PUBLIC:
            body.remove(statement)
            removed.append(entry)
            continue
        equivalent = _equivalent_values(entry)
        remaining = [value for value in values if value not in equivalent]
        if len(remaining) == len(values):
            continue
        removed.append(entry)
        if remaining:
            _set_values(statement, entry.kind, remaining)
        else:
            body.remove(statement)
    result["Statement"] = body
    return result, removed


def match_statement_form(policy: Policy, reference: Mapping[str, Any]) -> Policy:
    """Give `policy` the single-object `Statement` form of `reference` when only that one statement is left,
    so a revert restores the original document exactly, not just an equivalent one."""
    body = statements(policy)
    if isinstance(reference.get("Statement"), Mapping) and len(body) == 1:
        return {**policy, "Statement": body[0]}
    return policy


def tool_entries(policy: Mapping[str, Any]) -> list[DenyEntry]:
    """Every (principal, actions) the tool's statements currently deny."""
    entries: list[DenyEntry] = []
    for statement in statements(policy):
        match = _SID.match(str(statement.get("Sid", "")))
        if not match:
            continue
        kind = match.group(1)
        actions = tuple(sorted(_as_list(statement.get("Action"))))
        values = _values_if_own_shape(statement, kind)
        if values is None:
            continue  # our Sid in a shape we did not write: not ours to list or remove
        entries.extend(DenyEntry(statement["Sid"], kind, value, actions) for value in values)
    return entries


def _new_statement(sid: str, target: DenyTarget, actions: Sequence[str], zone: Zone) -> Statement:
    statement: Statement = {"Sid": sid, "Effect": "Deny"}
    if target.kind == ACCOUNT:
        statement["Principal"] = {"AWS": [target.value]}
    elif target.kind == FEDERATED:
        statement["Principal"] = {"Federated": [target.value]}
    else:
        statement["Principal"] = {"AWS": "*"}
    statement["Action"] = list(actions)
    if target.kind == PRINCIPAL:
        statement["Condition"] = {"ArnLike": {"aws:PrincipalArn": [target.value]}}
    elif target.kind == PUBLIC:
        statement["Condition"] = _perimeter(zone)
    return statement


def _perimeter(zone: Zone) -> dict[str, Any]:
    # Data-perimeter form: deny unless the caller is in the zone of trust or is an AWS service. With several keys
    # in one operator all must hold, so "not our account AND not our org"; IfExists keeps callers without the key
    # (federated users) denied, while BoolIfExists spares service principals the role trusts.
    outside: dict[str, Any] = {"aws:PrincipalAccount": sorted(zone.account_ids)}
    if zone.org_id:
        outside["aws:PrincipalOrgID"] = zone.org_id
    return {"StringNotEqualsIfExists": outside, "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}


def _own_values(statement: Statement, kind: str, actions: Sequence[str]) -> list[str]:
    """The principal list of one of our statements. A statement holding our Sid in any other shape (copied, or
    edited by a person) is refused, so the tool never rewrites a statement it did not write exactly so."""
    values = _values_if_own_shape(statement, kind)
    if values is None or sorted(_as_list(statement.get("Action"))) != sorted(actions):
        raise PolicyError(f"statement {statement.get('Sid')!r} is not in the form this tool writes")
    return values


def _values_if_own_shape(statement: Statement, kind: str) -> list[str] | None:
    if not str(statement.get("Sid", "")).startswith(f"{SID_PREFIX}{kind}") or statement.get("Effect") != "Deny":
        return None
    keys = set(statement) - {"Sid", "Effect", "Principal", "Action"}
    principal, condition = statement.get("Principal"), statement.get("Condition")
    if not isinstance(principal, Mapping) or not _is_string_list(statement.get("Action")):
        return None
    if kind in (ACCOUNT, FEDERATED):
        key = "AWS" if kind == ACCOUNT else "Federated"
        values = principal.get(key)
        return _as_list(values) if not keys and set(principal) == {key} and _is_string_list(values) else None
    if keys != {"Condition"} or dict(principal) != {"AWS": "*"} or not isinstance(condition, Mapping):
        return None
    if kind == PRINCIPAL:
        arn_like = condition.get("ArnLike")
        values = arn_like.get("aws:PrincipalArn") if isinstance(arn_like, Mapping) else None
        shape_ok = (
            set(condition) == {"ArnLike"} and isinstance(arn_like, Mapping) and set(arn_like) == {"aws:PrincipalArn"}
        )
        return _as_list(values) if shape_ok and _is_string_list(values) else None
    outside = condition.get("StringNotEqualsIfExists")
    perimeter_ok = (
        set(condition) == {"StringNotEqualsIfExists", "BoolIfExists"}
        and condition.get("BoolIfExists") == {"aws:PrincipalIsAWSService": "false"}
        and isinstance(outside, Mapping)
        and set(outside) <= {"aws:PrincipalAccount", "aws:PrincipalOrgID"}
    )
    return ["*"] if perimeter_ok else None


def _is_string_list(value: object) -> bool:
    return isinstance(value, str) or (
        isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)
    )


def _set_values(statement: Statement, kind: str, values: list[str]) -> None:
    if kind == ACCOUNT:
        statement["Principal"] = {"AWS": values}
    elif kind == FEDERATED:
        statement["Principal"] = {"Federated": values}
    else:
        statement["Condition"] = {"ArnLike": {"aws:PrincipalArn": values}}


def _equivalent_values(entry: DenyEntry) -> set[str]:
    if entry.kind != ACCOUNT:
        return {entry.value}
    # IAM may store {"AWS": "<id>"} back as the account's root ARN.
    return {entry.value} | {f"arn:{p}:iam::{entry.value}:root" for p in ("aws", "aws-cn", "aws-us-gov")}


def _covers(statement: Mapping[str, Any], target: DenyTarget, action: str) -> bool:
    if statement.get("Effect") != "Deny" or "NotPrincipal" in statement or "NotAction" in statement:
        return False
    if not any(fnmatchcase(action.lower(), pattern.lower()) for pattern in _as_list(statement.get("Action"))):
        return False
    condition = statement.get("Condition")
    if not condition:
        return _principal_covers(statement.get("Principal"), target)
    # A conditional Deny covers only in the exact forms this tool writes.
    sid_match = _SID.match(str(statement.get("Sid", "")))
    if sid_match is None or sid_match.group(1) != target.kind:
        return False
    if target.kind == PUBLIC:
        return True
    if target.kind == PRINCIPAL and isinstance(condition, Mapping):
        arn_like = condition.get("ArnLike")
        return isinstance(arn_like, Mapping) and target.value in _as_list(arn_like.get("aws:PrincipalArn"))
    return False


def _principal_covers(principal: object, target: DenyTarget) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    if target.kind == FEDERATED:
        return target.value in _as_list(principal.get("Federated"))
    aws = _as_list(principal.get("AWS"))
    if "*" in aws:
        return True
    if target.kind == PUBLIC:
        return False
    account = target.account_id
    accounts = {value for value in aws if _ACCOUNT_ID.match(value)}
    accounts |= {root.group(1) for value in aws if (root := _ROOT_ARN.match(value))}
    return account in accounts or target.value in aws


def _as_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []
