"""External-access analysis for the Access Analyzer stand-in, one module per resource type (sandbox only).

- `sandbox.analysis.iam_role`: role trust policies (the stand-in's original model, moved here unchanged).
- `sandbox.analysis.s3_bucket`: general-purpose bucket policies, bucket ACLs and the bucket's Block Public Access.
- `sandbox.analysis.kms_key`: key policies and grants.

Each type module reads its resource through a boto3 client (moto in the sandbox) and reports, per principal outside
the zone of trust, what that principal can still do after the resource's explicit Denies: a deliberately small
model of the real analyzer, not IAM policy evaluation. `sandbox.access_analyzer` only dispatches: it calls the
type's read and compute functions and turns the result into findings and events.

This module is what the resource-policy types share (`allow_grants`, then `remaining_access`):

- Allow statements: an ``AWS`` principal outside the zone (account id, root ARN reported as the account id,
  user/role/session ARN) or ``"*"`` / ``{"AWS": "*"}`` (public). ``Service``, ``Federated`` and ``CanonicalUser``
  principals, NotPrincipal Allows, principals of the zone, unique ids IAM leaves for deleted principals, and Allows
  whose conditions pin ``aws:PrincipalAccount`` / ``aws:PrincipalOrgID`` / ``aws:PrincipalArn`` to the zone grant
  nothing external (the role model's rules). The Allow's conditions are flattened into the finding's ``condition``.
- Actions are reported as the statement names them (the API reference: "the action in the analyzed policy
  statement"): ``s3:GetObject`` stays ``s3:GetObject``, ``s3:Get*`` stays ``s3:Get*``, ``*`` becomes
  ``<service>:*``; other services' actions grant nothing here. A NotAction Allow is reported as ``<service>:*``
  (over-reported: nothing is subtracted) unless its NotAction covers ``<service>:*``. Whether the real analyzer
  expands wildcards into single actions is unconfirmed.
- Resource: a resource has one or more scopes, each named by a representative string (a bucket: ``arn:aws:s3:::b``
  and its objects ``arn:aws:s3:::b/*``; a key: its ARN). An Allow reaches the scopes its ``Resource`` patterns may
  overlap (no Resource, or NotResource: every scope). A Deny covers a scope only when one of its ``Resource``
  patterns matches the representative itself: ``arn:aws:s3:::b/*`` and ``*`` cover the objects,
  ``arn:aws:s3:::b/logs/*`` does not; no Resource covers every scope, NotResource none.
- Denies: an action granted on a scope is removed there when a Deny covering the scope removes it for the principal
  by the role model's `_deny_effect`: Principal, Action / NotAction, and the condition forms the remediation writes
  (``Principal {"AWS": [ids]}``; ``Principal "*"`` + ``ArnLike aws:PrincipalArn``; the public perimeter
  ``StringNotEqualsIfExists {aws:PrincipalAccount, aws:PrincipalOrgID}`` + ``BoolIfExists
  {aws:PrincipalIsAWSService: false}``). A Deny that excludes some callers leaves the access to them, with their
  condition added, as for roles. One case is added to the role model (`deny_effect`): the perimeter's optional
  ``ArnNotLike aws:PrincipalArn`` on a Deny reaching public access counts when every pattern names an account of the
  zone; otherwise the access stays, with the patterns outside the zone as its condition. As granted actions may be
  wildcards, a Deny's Action must cover the granted pattern itself (``s3:*`` covers ``s3:Get*``, ``s3:GetObject``
  does not), and a NotAction Deny counts only when none of its patterns may overlap the granted action.
- An action stays reported while one of its scopes is left; one finding per principal.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sandbox.analysis.iam_role import (
    TrustZone,
    _account_of,
    _action_matches,
    _allow_limited_to_zone,
    _as_list,
    _deny_effect,
    _flatten_condition,
    _normalise_aws_principal,
    _principal_entries,
)

PrincipalKey = tuple[str, str]  # (principal kind, value), e.g. ("AWS", "999988887777"), ("AWS", "*")
_WILDCARDS = ("*", "?")


@dataclass(frozen=True)
class ResourceAccess:
    """What one external principal can still do with one resource: the content of one finding (as `RoleAccess`
    for roles, plus the finding's ``sources``).

    `sources` is ``("POLICY",)``, ``("BUCKET_ACL",)`` or both for S3 buckets; None when findings of the type carry
    none (KMS keys). A change of sources, like a change of actions or conditions, resolves the old finding and opens
    a new one.
    """

    kind: str  # "AWS" or "CanonicalUser"
    value: str  # account id, principal ARN, canonical user id or "*" (public)
    actions: tuple[str, ...]
    condition: Mapping[str, str]
    is_public: bool
    sources: tuple[str, ...] | None = None

    @property
    def key(self) -> PrincipalKey:
        """(principal kind, principal value): one finding per key and resource."""
        return (self.kind, self.value)

    @property
    def principal(self) -> dict[str, str]:
        """The finding's ``principal`` map."""
        return {self.kind: self.value}

    def signature(self) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...], tuple[str, ...] | None]:
        """Actions, conditions and sources: what a re-analysis compares."""
        return (self.actions, tuple(sorted(self.condition.items())), self.sources)


@dataclass
class Grants:
    """What one principal is granted before the Denies: action -> the scopes it is granted on, and conditions."""

    actions: dict[str, set[str]] = field(default_factory=dict)
    condition: dict[str, str] = field(default_factory=dict)

    def add(self, actions: Iterable[str], scopes: Iterable[str]) -> None:
        scopes = set(scopes)
        for action in actions:
            self.actions.setdefault(action, set()).update(scopes)


def policy_statements(document: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The statements of a policy document (a single statement object counts as a list of one)."""
    if not isinstance(document, Mapping):
        return []
    return [s for s in _as_list(document.get("Statement")) if isinstance(s, Mapping)]


def external_aws_principal(raw: str, zone: TrustZone) -> str | None:
    """The finding's ``AWS`` principal value for `raw` (root ARNs as the account id, ``*`` kept); None when the
    principal is in the zone or unusable (a unique id left by a deleted principal, or not a principal at all)."""
    value = _normalise_aws_principal(raw)
    if value == "*":
        return value
    account = _account_of(value)
    if account is None or zone.contains_account(account):
        return None
    return value


def _literal_prefix(pattern: str) -> str:
    cut = [i for i in (pattern.find(w) for w in _WILDCARDS) if i >= 0]
    return pattern[: min(cut)] if cut else pattern


def may_overlap(pattern: str, other: str) -> bool:
    """Could some string match both globs? Sound approximation: exact test when one side has no wildcard, else
    "the literal prefixes agree" (it may answer yes for two patterns that never meet, never the reverse)."""
    if not any(w in other for w in _WILDCARDS):
        return fnmatch.fnmatchcase(other, pattern)
    if not any(w in pattern for w in _WILDCARDS):
        return fnmatch.fnmatchcase(pattern, other)
    left, right = _literal_prefix(pattern), _literal_prefix(other)
    return left.startswith(right) or right.startswith(left)


def reached_scopes(statement: Mapping[str, Any], scopes: Sequence[str]) -> set[str]:
    """The scopes an Allow applies to: those its Resource patterns may overlap (all without Resource / NotResource)."""
    if "Resource" not in statement:
        return set(scopes)
    patterns = [str(p) for p in _as_list(statement["Resource"])]
    return {scope for scope in scopes if any(may_overlap(p, scope) for p in patterns)}


def covers_scope(statement: Mapping[str, Any], scope: str) -> bool:
    """Does a Deny's Resource cover the whole scope (a pattern matching its representative)? NotResource: no."""
    if "NotResource" in statement:
        return False
    if "Resource" not in statement:
        return True
    return any(fnmatch.fnmatchcase(scope, str(p)) for p in _as_list(statement["Resource"]))


def granted_actions(statement: Mapping[str, Any], service: str) -> set[str]:
    """The `service` actions an Allow grants, as the statement names them (``*`` -> ``<service>:*``)."""
    everything = f"{service}:*"
    if "Action" in statement:
        actions: set[str] = set()
        for raw in _as_list(statement["Action"]):
            action = str(raw)
            if action == "*":
                actions.add(everything)
            elif action.split(":", 1)[0].lower() == service:
                actions.add(action)
        return actions
    if "NotAction" in statement:
        return set() if _action_matches(everything, _as_list(statement["NotAction"])) else {everything}
    return set()


def allow_grants(
    statements: Iterable[Mapping[str, Any]],
    zone: TrustZone,
    service: str,
    scopes: Sequence[str],
    limited_to_zone: Callable[[Any, TrustZone], bool] | None = None,
) -> dict[PrincipalKey, Grants]:
    """What the Allow statements grant to principals outside the zone (before any Deny), per principal.

    `limited_to_zone`, when given, is an extra ``(condition, zone) -> bool`` test of a type's own condition keys that
    pin the caller inside the zone (KMS: ``kms:CallerAccount``)."""
    granted: dict[PrincipalKey, Grants] = {}
    for statement in statements:
        if statement.get("Effect") != "Allow" or "Principal" not in statement:
            continue
        condition = statement.get("Condition")
        if _allow_limited_to_zone(condition, zone):
            continue
        if limited_to_zone is not None and limited_to_zone(condition, zone):
            continue
        actions = granted_actions(statement, service)
        reached = reached_scopes(statement, scopes)
        if not actions or not reached:
            continue
        for kind, raw in _principal_entries(statement["Principal"]):
            if kind != "AWS":
                continue  # Service, Federated, CanonicalUser: not modelled in resource policies
            value = external_aws_principal(raw, zone)
            if value is None:
                continue
            entry = granted.setdefault((kind, value), Grants())
            entry.add(actions, reached)
            for key, condition_value in _flatten_condition(condition).items():
                entry.condition.setdefault(key, condition_value)
    return granted


def deny_effect(
    statement: Mapping[str, Any], kind: str, value: str, action: str, zone: TrustZone
) -> tuple[bool, dict[str, str]]:
    """The role model's `_deny_effect`, plus one case the role model leaves out: ``ArnNotLike aws:PrincipalArn`` on
    a Deny that reaches public access (``*``) or a canonical user (an ACL grantee, whose ARN the model cannot know).

    The Deny is judged by `_deny_effect` without that condition; if it removes the access, what is left is the
    access of the principals the ARN patterns exempt: nothing external when every pattern names an account of the
    zone (the public perimeter with an allowlist of the zone's principals contains the finding), else the patterns
    outside the zone as the finding's ``aws:PrincipalArn`` condition (the access stays reported, narrowed)."""
    condition = statement.get("Condition")
    block = condition.get("ArnNotLike") if isinstance(condition, Mapping) else None
    arn_keys = [k for k in block if str(k).lower() == "aws:principalarn"] if isinstance(block, Mapping) else []
    if not arn_keys or not (value == "*" or kind == "CanonicalUser"):
        return _deny_effect(statement, kind, value, action, zone)
    assert isinstance(condition, Mapping) and isinstance(block, Mapping)
    patterns = [str(p) for k in arn_keys for p in _as_list(block[k])]
    rest: dict[str, Any] = {op: b for op, b in condition.items() if op != "ArnNotLike"}
    other_keys = {k: v for k, v in block.items() if k not in arn_keys}
    if other_keys:
        rest["ArnNotLike"] = other_keys
    stripped = {k: v for k, v in statement.items() if k != "Condition"}
    if rest:
        stripped["Condition"] = rest
    covered, left = _deny_effect(stripped, kind, value, action, zone)
    if not covered:
        return False, {}
    outside = [p for p in patterns if not zone.contains_account(_account_of(p))]
    if outside:
        left = {**left, str(arn_keys[0]): ",".join(outside)}
    return True, left


def _deny_counts_for(statement: Mapping[str, Any], action: str, scope: str) -> bool:
    """Whether `_deny_effect` may judge this Deny for a possibly-wildcard granted action on this scope."""
    if not covers_scope(statement, scope):
        return False
    if "NotAction" in statement:  # literal matching cannot tell "s3:Get*" apart from NotAction "s3:GetObject"
        return not any(may_overlap(str(p).lower(), action.lower()) for p in _as_list(statement["NotAction"]))
    return True


def remaining_access(
    grants: Mapping[PrincipalKey, Grants], denies: Sequence[Mapping[str, Any]], zone: TrustZone
) -> dict[PrincipalKey, tuple[tuple[str, ...], dict[str, str]]]:
    """After the Denies: {principal: (actions left, sorted; conditions)}; principals left with nothing are dropped."""
    result: dict[PrincipalKey, tuple[tuple[str, ...], dict[str, str]]] = {}
    for (kind, value), grant in grants.items():
        remaining: list[str] = []
        left = dict(grant.condition)
        for action in sorted(grant.actions):
            kept = False
            for scope in sorted(grant.actions[action]):
                effects = [
                    deny_effect(deny, kind, value, action, zone)
                    for deny in denies
                    if _deny_counts_for(deny, action, scope)
                ]
                if any(covered and not excluded for covered, excluded in effects):
                    continue  # removed on this scope for every caller
                kept = True
                for covered, excluded in effects:
                    if covered:  # removed except for the callers these conditions describe: only they keep it
                        for key, values in excluded.items():
                            left.setdefault(key, values)
            if kept:
                remaining.append(action)
        if remaining:
            result[(kind, value)] = (tuple(remaining), left)
    return result


def denies_of(statements: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The Deny statements."""
    return [s for s in statements if s.get("Effect") == "Deny"]
