"""IAM role trust policies: the stand-in's original analysis, moved here unchanged from `sandbox.access_analyzer`.

`compute_role_access` turns one trust policy into the external access it grants ({(principal kind, value):
`RoleAccess`}); its docstring lists the rules. The statement-level helpers below (principals, action and condition
matching, and above all the Deny model `_deny_effect` / `_deny_condition_holds` / `_deny_exclusion`, which
understands the exact Deny shapes the remediation writes) are also what `sandbox.analysis` builds the resource
policy analysis of S3 buckets and KMS keys on, so that every type honours those Denies the same way.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

RESOURCE_TYPE = "AWS::IAM::Role"
ASSUME_ROLE = "sts:AssumeRole"
ASSUME_ROLE_WITH_SAML = "sts:AssumeRoleWithSAML"
ASSUME_ROLE_WITH_WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"
ASSUME_ACTIONS = (ASSUME_ROLE, ASSUME_ROLE_WITH_SAML, ASSUME_ROLE_WITH_WEB_IDENTITY)

_ACCOUNT_RE = re.compile(r"^\d{12}$")
_ASSUMED_ROLE_RE = re.compile(r"^arn:(?P<partition>[\w-]+):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/.+$")


@dataclass(frozen=True)
class TrustZone:
    """The analyzer's zone of trust: principals from these accounts (or this organization) are not external."""

    account_ids: frozenset[str]
    organization_id: str | None = None
    organization_account_ids: frozenset[str] = frozenset()

    def contains_account(self, account_id: str | None) -> bool:
        """True when `account_id` is one of the trusted accounts or a member of the trusted organization."""
        if account_id is None:
            return False
        return account_id in self.account_ids or (
            self.organization_id is not None and account_id in self.organization_account_ids
        )

    def organization_of(self, account_id: str | None) -> str | None:
        """The organization id of `account_id` as far as the zone knows it (None = unknown / none)."""
        if self.organization_id is not None and account_id in self.organization_account_ids:
            return self.organization_id
        return None


@dataclass(frozen=True)
class RoleAccess:
    """What one external principal can still do with one role: the content of one finding."""

    kind: str  # "AWS" or "Federated"
    value: str  # account id, principal ARN, "*" (public) or the federated provider
    actions: tuple[str, ...]
    condition: Mapping[str, str]
    is_public: bool

    @property
    def key(self) -> tuple[str, str]:
        """(principal kind, principal value): one finding per key and resource."""
        return (self.kind, self.value)

    @property
    def principal(self) -> dict[str, str]:
        """The finding's ``principal`` map."""
        return {self.kind: self.value}

    def signature(self) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
        """What a re-analysis compares: a change here resolves the old finding and opens a new one."""
        return (self.actions, tuple(sorted(self.condition.items())))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _account_of(value: str) -> str | None:
    """The account id behind an ``AWS`` principal value (account id or IAM/STS ARN); None when unknowable."""
    if _ACCOUNT_RE.match(value):
        return value
    parts = value.split(":")
    if len(parts) >= 6 and parts[0] == "arn" and _ACCOUNT_RE.match(parts[4]):
        return parts[4]
    return None  # a unique id (AROA.../AIDA...) left behind by a deleted principal, or garbage


def _normalise_aws_principal(value: str) -> str:
    """``arn:aws:iam::999988887777:root`` -> ``999988887777``: findings name whole accounts by their id."""
    parts = value.split(":")
    if len(parts) == 6 and parts[0] == "arn" and parts[2] == "iam" and parts[5] == "root":
        return parts[4]
    return value


def _principal_entries(principal: Any) -> list[tuple[str, str]]:
    """Flatten a Principal element to (kind, value) pairs; ``"*"`` becomes ``("AWS", "*")``."""
    if principal == "*":
        return [("AWS", "*")]
    if not isinstance(principal, Mapping):
        return []
    return [(str(kind), str(value)) for kind, values in principal.items() for value in _as_list(values)]


def _applicable_actions(kind: str, value: str) -> tuple[str, ...]:
    """Which assume-role action a wildcard grants to this kind of principal."""
    if kind == "AWS":
        return (ASSUME_ROLE,)
    if ":saml-provider/" in value:
        return (ASSUME_ROLE_WITH_SAML,)
    return (ASSUME_ROLE_WITH_WEB_IDENTITY,)


def _action_matches(action: str, patterns: Iterable[Any]) -> bool:
    """IAM action matching: case-insensitive, ``*`` and ``?`` wildcards."""
    return any(fnmatch.fnmatchcase(action.lower(), str(pattern).lower()) for pattern in patterns)


def _granted_actions(statement: Mapping[str, Any], kind: str, value: str) -> set[str]:
    """Assume-role actions an Allow statement grants to (kind, value).

    Explicitly named assume-role actions are reported as named; wildcards and NotAction grant the actions that
    this kind of principal can use (AssumeRole for AWS, AssumeRoleWithSAML for SAML providers,
    AssumeRoleWithWebIdentity for other federated providers).
    """
    applicable = _applicable_actions(kind, value)
    if "Action" in statement:
        patterns = _as_list(statement["Action"])
        named = {a for a in ASSUME_ACTIONS for p in patterns if str(p).lower() == a.lower()}
        return named | {a for a in applicable if _action_matches(a, patterns)}
    if "NotAction" in statement:
        return {a for a in applicable if not _action_matches(a, _as_list(statement["NotAction"]))}
    return set()


def _flatten_condition(condition: Any) -> dict[str, str]:
    """``{"StringEquals": {"k": "v"}}`` -> ``{"k": "v"}`` (list values joined with commas)."""
    flat: dict[str, str] = {}
    if not isinstance(condition, Mapping):
        return flat
    for block in condition.values():
        if isinstance(block, Mapping):
            for key, values in block.items():
                flat.setdefault(str(key), ",".join(str(v) for v in _as_list(values)))
    return flat


def _condition_items(condition: Any) -> Iterator[tuple[str, str, list[str]]]:
    """(operator, lower-cased key, values) for every entry of a Condition element."""
    if not isinstance(condition, Mapping):
        return
    for operator, block in condition.items():
        if isinstance(block, Mapping):
            for key, values in block.items():
                yield str(operator), str(key).lower(), [str(v) for v in _as_list(values)]


def _allow_limited_to_zone(condition: Any, zone: TrustZone) -> bool:
    """True when an Allow's conditions pin the caller inside the zone (so its access is not external)."""
    for operator, key, values in _condition_items(condition):
        base = operator.removesuffix("IfExists")
        if not values:
            continue
        if base in ("StringEquals", "StringLike") and key == "aws:principalaccount":
            limited = all(zone.contains_account(v) for v in values)
        elif base in ("StringEquals", "StringLike") and key == "aws:principalorgid":
            limited = zone.organization_id is not None and set(values) <= {zone.organization_id}
        elif base in ("ArnEquals", "ArnLike") and key == "aws:principalarn":
            limited = all(zone.contains_account(_account_of(v)) for v in values)
        else:
            limited = False
        if limited:
            return True
    return False


def _principal_arn_representative(kind: str, value: str) -> str | None:
    """A string standing for every ``aws:PrincipalArn`` the principal can present (None: the key is absent).

    An account principal covers every principal of that account, so it stands as ``arn:aws:iam::<id>:*``
    (a literal ``*``): an ArnLike pattern covers it only if the pattern matches that literal, i.e. if it
    covers the whole account. Public access stands as the literal ``*``. Web identity / SAML sessions carry
    no aws:PrincipalArn.
    """
    if kind != "AWS":
        return None
    if value == "*":
        return "*"
    if _ACCOUNT_RE.match(value):
        return f"arn:aws:iam::{value}:*"
    session = _ASSUMED_ROLE_RE.match(value)
    if session:  # a role session presents its role's ARN (path unknown here: the plain one)
        return f"arn:{session['partition']}:iam::{session['account']}:role/{session['role']}"
    return value


def _deny_condition_holds(operator: str, key: str, values: list[str], kind: str, value: str, zone: TrustZone) -> bool:
    """Does this one Deny condition hold for EVERY request the principal could make?

    Only the forms the remediation writes are understood; anything else is treated as not holding, so the
    Deny does not count and the access stays reported (the conservative answer the real analyzer gives too).
    """
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    account = _account_of(value) if kind == "AWS" else None
    if base in ("ArnLike", "ArnEquals") and key == "aws:principalarn":
        representative = _principal_arn_representative(kind, value)
        if representative is None:
            return if_exists
        return any(fnmatch.fnmatchcase(representative, pattern) for pattern in values)
    if base == "StringNotEquals" and key == "aws:principalaccount":
        if kind != "AWS":
            return True  # absent key: a not-equals condition is true
        if value == "*":  # what is left is the listed accounts: covered if they are all trusted
            return all(zone.contains_account(v) for v in values)
        return account not in values
    if base == "StringNotEquals" and key == "aws:principalorgid":
        if kind != "AWS":
            return True
        if value == "*":
            return zone.organization_id is not None and set(values) <= {zone.organization_id}
        return zone.organization_of(account) not in values
    if base == "Bool" and key == "aws:principalisawsservice":
        if kind != "AWS":
            return if_exists  # federated callers do not carry the key
        return "false" in (v.lower() for v in values)  # external principals here are never services
    return False


def _deny_exclusion(operator: str, key: str, values: list[str], kind: str, value: str, zone: TrustZone) -> str | None:
    """A Deny condition that holds for the principal's callers EXCEPT some: the condition those callers meet, as a
    finding shows it ("key" -> "values"), or None when this is not such a condition for this principal.

    Two forms, both written by the remediation inside its own Denies: ``StringNotEqualsIfExists aws:PrincipalOrgID``
    (an account analyzer cannot tell whether another account belongs to the organization: the access that is left is
    "if the caller's organization is o-...") and ``ArnNotLike aws:PrincipalArn`` (allowlisted principals of the
    account keep their access)."""
    base = operator.removesuffix("IfExists")
    if kind != "AWS" or value == "*":
        return None
    account = _account_of(value)
    if base == "StringNotEquals" and key == "aws:principalorgid":
        if zone.organization_id is not None:
            return None  # an organization analyzer knows its members: `_deny_condition_holds` decides
        return ",".join(values) if account is not None else None
    if base == "ArnNotLike" and key == "aws:principalarn":
        representative = _principal_arn_representative(kind, value)
        if representative is None:
            return None
        if _ACCOUNT_RE.match(value):  # some principals of the account may match: they keep their access
            matching = [p for p in values if _account_of(p) in (account, None)]
            return ",".join(matching) if matching else None
        return ",".join(values) if any(fnmatch.fnmatchcase(representative, p) for p in values) else None
    return None


def _principal_value_matches(kind: str, value: str, deny_kind: str, deny_value: str) -> bool:
    if deny_kind == "AWS" and deny_value == "*":
        return True  # {"AWS": "*"} is the same as "*": every principal, federated ones included
    if deny_kind != kind:
        return False
    if kind != "AWS":
        return deny_value == value
    if value == "*":
        return False  # only a wildcard covers public access
    deny_account = _account_of(_normalise_aws_principal(deny_value))
    if _ACCOUNT_RE.match(_normalise_aws_principal(deny_value)):
        return deny_account is not None and _account_of(value) == deny_account  # an account covers all its principals
    return deny_value == value


def _deny_covers(statement: Mapping[str, Any], kind: str, value: str, action: str, zone: TrustZone) -> bool:
    """Does this Deny statement remove `action` for the principal (kind, value) entirely?"""
    covered, left = _deny_effect(statement, kind, value, action, zone)
    return covered and not left


def _deny_effect(
    statement: Mapping[str, Any], kind: str, value: str, action: str, zone: TrustZone
) -> tuple[bool, dict[str, str]]:
    """(removes, left): whether the Deny removes `action` for the principal, and the conditions under which some
    of its callers keep it (empty: removed for every caller)."""
    if "Principal" in statement:
        entries = _principal_entries(statement["Principal"])
        if not any(_principal_value_matches(kind, value, k, v) for k, v in entries):
            return False, {}
    elif "NotPrincipal" in statement:
        if value == "*":
            return False, {}
        entries = _principal_entries(statement["NotPrincipal"])
        if any(_principal_value_matches(kind, value, k, v) for k, v in entries):
            return False, {}
    else:
        return False, {}
    if "Action" in statement:
        if not _action_matches(action, _as_list(statement["Action"])):
            return False, {}
    elif "NotAction" in statement:
        if _action_matches(action, _as_list(statement["NotAction"])):
            return False, {}
    else:
        return False, {}
    left: dict[str, str] = {}
    for operator, key, values in _condition_items(statement.get("Condition")):
        excluded = _deny_exclusion(operator, key, values, kind, value, zone)
        if excluded is not None:
            original = next(k for k in _raw_condition_keys(statement.get("Condition")) if k.lower() == key)
            left[original] = excluded
        elif not _deny_condition_holds(operator, key, values, kind, value, zone):
            return False, {}
    return True, left


def _raw_condition_keys(condition: Any) -> list[str]:
    if not isinstance(condition, Mapping):
        return []
    return [str(key) for block in condition.values() if isinstance(block, Mapping) for key in block]


def compute_role_access(policy: Mapping[str, Any] | str, zone: TrustZone) -> dict[tuple[str, str], RoleAccess]:
    """External access a role trust policy grants, after its explicit Denies: {(kind, value): RoleAccess}.

    Rules (a small model of the real analyzer, enough for the remediation's tests):

    - Allow statements with assume-role actions (``sts:AssumeRole``, ``...WithSAML``, ``...WithWebIdentity``;
      Action or NotAction, string or list, wildcards such as ``sts:*`` and ``*``) grant access to each principal:
      ``AWS`` account ids, root ARNs (reported as the account id), user/role/session ARNs (not the unique ids IAM
      leaves for deleted principals: nobody can use those), ``"*"`` / ``{"AWS": "*"}``
      (public, isPublic true), and ``Federated`` providers, which are always external (even an OIDC provider in
      the same account). ``Service`` principals are skipped, as are principals whose account is in the zone, and
      Allows whose conditions pin ``aws:PrincipalAccount`` / ``aws:PrincipalOrgID`` / ``aws:PrincipalArn`` to the
      zone.
    - A Deny of the same policy removes an action when its Principal covers the principal (``*``, ``{"AWS": "*"}``,
      the same account id / root ARN / ARN / federated provider) and its Action covers the action, and each of its
      conditions holds for every caller of that principal (see `_deny_condition_holds`). Other conditions make the
      Deny not count. A Deny that excludes some callers (`_deny_exclusion`: the organization, allowlisted principal
      ARNs) leaves the access to those callers: the finding stays, with their condition added (the signature
      changes, so the old finding resolves and a new one opens, as the real analyzer does).
    - One entry per principal: the remaining actions (sorted) and the Allow conditions flattened to "key": "value".
    """
    document = json.loads(policy) if isinstance(policy, str) else policy
    statements = [s for s in _as_list(document.get("Statement")) if isinstance(s, Mapping)]
    denies = [s for s in statements if s.get("Effect") == "Deny"]
    granted: dict[tuple[str, str], tuple[set[str], dict[str, str]]] = {}
    for statement in statements:
        if statement.get("Effect") != "Allow" or "Principal" not in statement:
            continue
        if _allow_limited_to_zone(statement.get("Condition"), zone):
            continue
        for kind, raw in _principal_entries(statement["Principal"]):
            if kind == "AWS":
                value = _normalise_aws_principal(raw)
                account = _account_of(value)
                if value != "*" and (account is None or zone.contains_account(account)):
                    continue  # same zone, or a unique id IAM left for a deleted principal (unusable)
            elif kind == "Federated":
                value = raw
            else:
                continue  # Service (and CanonicalUser, which trust policies do not use)
            actions = _granted_actions(statement, kind, value)
            if not actions:
                continue
            entry = granted.setdefault((kind, value), (set(), {}))
            entry[0].update(actions)
            for key, condition_value in _flatten_condition(statement.get("Condition")).items():
                entry[1].setdefault(key, condition_value)
    result: dict[tuple[str, str], RoleAccess] = {}
    for (kind, value), (actions, condition) in granted.items():
        remaining = []
        left = dict(condition)
        for action in sorted(actions):
            effects = [_deny_effect(d, kind, value, action, zone) for d in denies]
            if any(covered and not excluded for covered, excluded in effects):
                continue  # removed for every caller
            remaining.append(action)
            for covered, excluded in effects:
                if covered:  # removed except for the callers these conditions describe: only they keep it
                    for key, values in excluded.items():
                        left.setdefault(key, values)
        if remaining:
            result[(kind, value)] = RoleAccess(kind, value, tuple(remaining), left, value == "*")
    return result
