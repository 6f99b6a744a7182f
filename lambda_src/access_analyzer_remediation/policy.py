"""Policy arithmetic: the exact Deny statements the tool writes, what they cover, adding and removing them.
Pure functions, for every policy document the tool edits: a role's trust policy (no `Resource` element) and
resource-based policies, whose statements name their resource (`resources`: e.g. a bucket and its objects, or `*` in
a key policy). Every function that reads or writes the tool's statements takes the document's `resources`; the
default, none, is the trust policy.

The tool writes only Deny statements whose Sid starts with `SID_PREFIX`, one per (principal kind, action set,
exclusions), and grows/shrinks their principal lists. Statements it did not write are never changed, reordered or
removed. A statement counts as the tool's ("own") only in the exact shape `render` produces: a decoy that merely
carries a Sid like ours, or a Deny with other principals or extra conditions, covers nothing and is never edited.

Every Deny excludes, inside the statement itself, the principals it must never catch although its Principal
covers them: the trusted organization (`aws:PrincipalOrgID`), allowlisted principals (`aws:PrincipalArn`) and, for
the public Deny, the zone's and allowlisted accounts and AWS services acting for the account.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

SID_PREFIX = "AccessAnalyzerDeny"
POLICY_VERSION = "2012-10-17"

ACCOUNT = "Account"  # {"AWS": "<12 digits>"} or the account's root ARN
PRINCIPAL = "Principal"  # a user/role ARN: matched on aws:PrincipalArn, so a deleted principal cannot be rejected
FEDERATED = "Federated"  # web identity / SAML provider
PUBLIC = "Public"  # {"AWS": "*"}: everyone outside the zone of trust
KINDS = (ACCOUNT, PRINCIPAL, FEDERATED, PUBLIC)

ASSUME_ROLE = "sts:AssumeRole"
FEDERATED_ACTIONS = frozenset({"sts:assumerolewithwebidentity", "sts:assumerolewithsaml"})

_ACCOUNT_ID = re.compile(r"^\d{12}$", re.ASCII)
_ROOT_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):root$", re.ASCII)
_IAM_PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):(user|role)/[\w+=,.@/-]+$", re.ASCII)
_SESSION_ARN = re.compile(r"^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([\w+=,.@-]+)/[\w+=,.@-]+$", re.ASCII)
_UNIQUE_ID = re.compile(r"^(AROA|AIDA)[A-Z0-9]{12,}$", re.ASCII)
_PATTERN_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:(?:iam|sts)::([0-9*?]{1,12}):", re.ASCII)
_PROVIDER_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9*?]{1,12}:(saml-provider|oidc-provider)/", re.ASCII)
_SID = re.compile(rf"^{SID_PREFIX}({'|'.join(KINDS)})[0-9A-F]{{8}}$", re.ASCII)

ORG_KEY = "aws:PrincipalOrgID"
ACCOUNT_KEY = "aws:PrincipalAccount"
ARN_KEY = "aws:PrincipalArn"
SERVICE_KEY = "aws:PrincipalIsAWSService"
NOT_IN_ORG = "StringNotEqualsIfExists"
NOT_ALLOWLISTED = "ArnNotLike"

Policy = dict[str, Any]
Statement = dict[str, Any]


class PolicyError(ValueError):
    """The trust policy cannot be read or safely changed."""


# ==================================================================================================== principals
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
    """A principal of a finding that no Deny can name, and why."""

    key: str
    value: str
    reason: str  # "principal_deleted" | "unsupported_principal"


def classify_principal(principal: Mapping[str, str]) -> tuple[list[DenyTarget], list[Unsupported]]:
    """Map a finding's principal map to deny targets; explain what cannot be denied."""
    targets: list[DenyTarget] = []
    unsupported: list[Unsupported] = []
    for key, value in sorted(principal.items()):
        target = deny_target(key, value)
        if target is not None:
            targets.append(target)
        elif key == "AWS" and _UNIQUE_ID.match(value):
            # IAM stores a deleted principal as its unique id; nobody can use that trust any more.
            unsupported.append(Unsupported(key, value, "principal_deleted"))
        else:
            unsupported.append(Unsupported(key, value, "unsupported_principal"))
    return targets, unsupported


def deny_target(key: str, value: str) -> DenyTarget | None:
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
        return DenyTarget(PRINCIPAL, session_role_pattern(*session.groups()))
    return None


def session_role_pattern(partition: str, account: str, role: str) -> str:
    """aws:PrincipalArn of a role session is the role ARN, whose path the session ARN does not show."""
    return f"arn:{partition}:iam::{account}:role*/{role}"


def canonical_value(kind: str, value: str) -> str:
    """An account's root ARN (as IAM may store it back) and its id are one principal."""
    root = _ROOT_ARN.match(value) if kind == ACCOUNT else None
    return root.group(1) if root else value


# ==================================================================================================== zone of trust
@dataclass(frozen=True)
class Zone:
    """Who is never denied: the zone of trust (always the resource owner's account) and allowlisted principals.

    `allowed` holds account ids, principal ARN patterns (`*`/`?`) and federated provider names (or patterns)."""

    account_ids: frozenset[str]
    org_id: str | None = None
    allowed: tuple[str, ...] = ()

    @property
    def allowed_accounts(self) -> frozenset[str]:
        return frozenset(entry for entry in self.allowed if _ACCOUNT_ID.match(entry))

    @property
    def allowed_principal_patterns(self) -> tuple[str, ...]:
        """Allowlisted ARN patterns that can match aws:PrincipalArn (not provider ARNs), session patterns as the
        role pattern a session presents."""
        patterns: list[str] = []
        for entry in self.allowed:
            if not entry.startswith("arn:") or _PROVIDER_ARN.match(entry):
                continue
            session = re.match(r"^arn:(aws[a-z-]*):sts::([0-9*?]{1,12}):assumed-role/([^/]+)/", entry)
            patterns.append(session_role_pattern(*session.groups()) if session else entry)
        return tuple(sorted(set(patterns)))

    @property
    def allowed_providers(self) -> tuple[str, ...]:
        """Allowlisted federated providers (names such as cognito-identity.amazonaws.com, or provider ARNs)."""
        return tuple(
            e for e in self.allowed if not _ACCOUNT_ID.match(e) and (not e.startswith("arn:") or _PROVIDER_ARN.match(e))
        )

    def is_allowlisted(self, target: DenyTarget, original: str | None = None) -> bool:
        """The target itself is intended access: nothing is written for it."""
        for entry in self.allowed:
            if _ACCOUNT_ID.match(entry):
                if target.kind in (ACCOUNT, PRINCIPAL) and target.account_id == entry:
                    return True
                continue
            candidates = {target.value, original or target.value}
            if target.kind == ACCOUNT:
                candidates = {f"arn:aws:iam::{target.value}:root", target.value}
            elif target.kind == PRINCIPAL and "role*/" in target.value:
                candidates.add(target.value.replace("role*/", "role/"))
            if target.kind == PUBLIC:
                candidates = {"*"}
            if any(fnmatchcase(candidate, entry) for candidate in candidates):
                return True
        return False

    def exclusions(self, target: DenyTarget) -> Exclusions:
        """What the Deny for `target` must exclude inside itself (its statement shape depends on it)."""
        if target.kind == FEDERATED:
            return Exclusions()  # federated callers carry neither an org id nor a principal ARN
        patterns = self.allowed_principal_patterns
        if target.kind == PUBLIC:
            accounts = tuple(sorted(self.account_ids | self.allowed_accounts))
            return Exclusions(self.org_id, accounts, patterns)
        account = target.account_id or ""
        relevant = tuple(p for p in patterns if _pattern_may_match_account(p, account))
        return Exclusions(self.org_id, (), relevant)


def _pattern_may_match_account(pattern: str, account: str) -> bool:
    match = _PATTERN_ACCOUNT.match(pattern)
    return match is None or fnmatchcase(account, match.group(1))


@dataclass(frozen=True)
class Exclusions:
    """The conditions that keep a Deny off principals it must never catch. `accounts` is used by the public Deny
    only (its perimeter); `principal_arns` become `ArnNotLike aws:PrincipalArn`."""

    org_id: str | None = None
    accounts: tuple[str, ...] = ()
    principal_arns: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"org_id": self.org_id, "accounts": list(self.accounts), "principal_arns": list(self.principal_arns)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Exclusions:
        org = data.get("org_id")
        return cls(
            str(org) if org else None,
            tuple(map(str, data.get("accounts", []))),
            tuple(map(str, data.get("principal_arns", []))),
        )


# ==================================================================================================== own statements
@dataclass(frozen=True)
class OwnStatement:
    """A Deny statement in the exact shape the tool writes: `render` and `parse_own` are inverses."""

    sid: str
    kind: str
    actions: tuple[str, ...]
    exclusions: Exclusions
    values: tuple[str, ...]
    resources: tuple[str, ...] = ()  # the Resource element; none in a trust policy

    def render(self) -> Statement:
        statement: Statement = {"Sid": self.sid, "Effect": "Deny"}
        values = list(self.values)
        if self.kind == ACCOUNT:
            statement["Principal"] = {"AWS": values}
        elif self.kind == FEDERATED:
            statement["Principal"] = {"Federated": values}
        else:
            statement["Principal"] = {"AWS": "*"}
        statement["Action"] = list(self.actions)
        if self.resources:
            statement["Resource"] = list(self.resources)
        condition = _conditions(self.kind, self.exclusions, values)
        if condition:
            statement["Condition"] = condition
        return statement

    def with_values(self, values: Iterable[str]) -> OwnStatement:
        return OwnStatement(self.sid, self.kind, self.actions, self.exclusions, tuple(values), self.resources)

    @property
    def template(self) -> tuple[str, tuple[str, ...], Exclusions, tuple[str, ...]]:
        return (self.kind, self.actions, self.exclusions, self.resources)


def _conditions(kind: str, exclusions: Exclusions, values: list[str]) -> dict[str, Any]:
    condition: dict[str, Any] = {}
    if kind == PRINCIPAL:
        condition["ArnLike"] = {ARN_KEY: values}
    if kind == PUBLIC:
        # Data-perimeter form: deny unless the caller is in the zone of trust or is an AWS service. With several keys
        # in one operator all must hold, so "not our accounts AND not our org"; IfExists keeps callers without the key
        # (federated users) denied, while BoolIfExists spares service principals the role trusts.
        outside: dict[str, Any] = {ACCOUNT_KEY: list(exclusions.accounts)}
        if exclusions.org_id:
            outside[ORG_KEY] = exclusions.org_id
        condition[NOT_IN_ORG] = outside
        condition["BoolIfExists"] = {SERVICE_KEY: "false"}
    elif kind in (ACCOUNT, PRINCIPAL) and exclusions.org_id:
        # Principals of the trusted organization keep their access: with an ACCOUNT analyzer a sibling account is
        # "external", but the organization is in the zone of trust. IfExists: a caller without an org is denied.
        condition[NOT_IN_ORG] = {ORG_KEY: exclusions.org_id}
    if kind != FEDERATED and exclusions.principal_arns:
        condition[NOT_ALLOWLISTED] = {ARN_KEY: list(exclusions.principal_arns)}
    return condition


def parse_own(statement: Mapping[str, Any], resources: Sequence[str] = ()) -> OwnStatement | None:
    """The statement as an OwnStatement if it has exactly a shape `render` writes for a document whose statements
    name `resources`, else None."""
    match = _SID.match(str(statement.get("Sid", "")))
    if not match or statement.get("Effect") != "Deny":
        return None
    kind = match.group(1)
    actions = _string_list(statement.get("Action"))
    principal = statement.get("Principal")
    if actions is None or not isinstance(principal, Mapping):
        return None
    condition = statement.get("Condition", {})
    if not isinstance(condition, Mapping) or ("Condition" in statement and not condition):
        return None
    if set(statement) - {"Sid", "Effect", "Principal", "Action", "Condition", *(("Resource",) if resources else ())}:
        return None
    values: list[str] | None
    if kind in (ACCOUNT, FEDERATED):
        key = "AWS" if kind == ACCOUNT else "Federated"
        values = _string_list(principal.get(key)) if set(principal) == {key} else None
        if values is not None and kind == ACCOUNT:
            values = [canonical_value(ACCOUNT, v) for v in values]
    else:
        values = _string_list(_block(condition, "ArnLike").get(ARN_KEY)) if kind == PRINCIPAL else ["*"]
        if dict(principal) != {"AWS": "*"}:
            return None
    exclusions = _parse_exclusions(kind, condition)
    if values is None or exclusions is None:
        return None
    own = OwnStatement(
        str(statement["Sid"]), kind, tuple(sorted(set(actions))), exclusions, tuple(values), tuple(resources)
    )
    return own if _same_statement(own.render(), statement) else None


def _parse_exclusions(kind: str, condition: Mapping[str, Any]) -> Exclusions | None:
    arns = _string_list(_block(condition, NOT_ALLOWLISTED).get(ARN_KEY)) or []
    outside = _block(condition, NOT_IN_ORG)
    org = outside.get(ORG_KEY)
    if org is not None and not isinstance(org, str):
        return None
    accounts = _string_list(outside.get(ACCOUNT_KEY)) if kind == PUBLIC else []
    if accounts is None:
        return None
    return Exclusions(org or None, tuple(accounts), tuple(arns))


def _block(condition: Mapping[str, Any], operator: str) -> Mapping[str, Any]:
    block = condition.get(operator)
    return block if isinstance(block, Mapping) else {}


def _same_statement(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> bool:
    """Equal up to what IAM may do to a stored document: a one-item list stored as a string, list order, and an
    account id stored back as its root ARN."""
    return bool(_normalised(expected) == _normalised(actual))


def _normalised(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _normalised(item) for key, item in value.items()}
    if isinstance(value, list | str):
        items = [value] if isinstance(value, str) else value
        if all(isinstance(item, str) for item in items):
            return tuple(sorted({canonical_value(ACCOUNT, item) for item in items}))
        return [_normalised(item) for item in items]
    return value


def _string_list(value: object) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return list(value)
    return None


# ==================================================================================================== sids
def sid_for(kind: str, actions: Sequence[str], exclusions: Exclusions | None = None, generation: int = 0) -> str:
    """Deterministic: every worker computes the same Sid for the same statement. The plain shapes (no organization,
    no allowlist) keep the Sids of earlier releases; `generation` moves off a Sid a foreign statement holds."""
    text = "|".join(sorted(actions))
    extra = _sid_exclusions(kind, exclusions or Exclusions())
    if extra:
        text += "#" + json.dumps(extra, sort_keys=True, separators=(",", ":"))
    if generation:
        text += f"#g{generation}"
    digest = hashlib.sha256(text.encode()).hexdigest()[:8].upper()
    return f"{SID_PREFIX}{kind}{digest}"


def _sid_exclusions(kind: str, exclusions: Exclusions) -> dict[str, Any]:
    # The public perimeter's accounts and org are not hashed (earlier releases wrote them without a hash, and the
    # accounts hold the role's own account): a changed zone shows as a different shape under the same Sid, which
    # moves the new statement to the next generation.
    extra: dict[str, Any] = {}
    if exclusions.principal_arns:
        extra["arns"] = list(exclusions.principal_arns)
    if kind in (ACCOUNT, PRINCIPAL) and exclusions.org_id:
        extra["org"] = exclusions.org_id
    return extra


# ==================================================================================================== documents
def compact(policy: Policy) -> str:
    """The policy as sent to IAM; its length is what the trust-policy quota counts."""
    return json.dumps(policy, separators=(",", ":"), ensure_ascii=False)


def statements(policy: Mapping[str, Any]) -> list[Statement]:
    raw = policy.get("Statement")
    items = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(items, list) or not all(isinstance(item, Mapping) for item in items):
        raise PolicyError("trust policy has no readable Statement")
    return [dict(item) for item in items]


@dataclass(frozen=True, order=True)
class DenyEntry:
    """One principal in one of the tool's statements: what a change added (or a revert removes)."""

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

    @property
    def key(self) -> tuple[str, str]:
        return (self.sid, canonical_value(self.kind, self.value))


def own_statements(policy: Mapping[str, Any], resources: Sequence[str] = ()) -> list[OwnStatement]:
    return [own for s in statements(policy) if (own := parse_own(s, resources)) is not None]


def tool_entries(policy: Mapping[str, Any], resources: Sequence[str] = ()) -> list[DenyEntry]:
    """Every (principal, actions) the tool's own statements currently deny."""
    return [
        DenyEntry(own.sid, own.kind, value, own.actions)
        for own in own_statements(policy, resources)
        for value in own.values
    ]


def covering(
    policy: Mapping[str, Any], target: DenyTarget, action: str, zone: Zone, resources: Sequence[str] = ()
) -> OwnStatement | None:
    """The tool's statement that denies `target` doing `action` for the current zone, if any.

    Only the exact shape counts: the kind (or, for a principal, the Deny of its whole account), the exclusions the
    current zone and allowlist ask for, the principal among its values and the action among its actions. A foreign
    Deny (or one of ours written for another zone) is not coverage: the finding is contained anew and the
    unrecognised statement reported."""
    candidates = [(target, zone.exclusions(target))]
    if target.kind == PRINCIPAL and target.account_id and _ACCOUNT_ID.match(target.account_id):
        account = DenyTarget(ACCOUNT, target.account_id)
        candidates.append((account, zone.exclusions(account)))
    for own in own_statements(policy, resources):
        if action.lower() not in {a.lower() for a in own.actions}:
            continue
        for candidate, wanted in candidates:
            value = canonical_value(candidate.kind, candidate.value)
            if own.kind == candidate.kind and own.exclusions == wanted and value in own.values:
                return own
    return None


def covering_entry(
    policy: Mapping[str, Any], target: DenyTarget, action: str, zone: Zone, resources: Sequence[str] = ()
) -> DenyEntry | None:
    """The entry of the tool's that denies `target` doing `action` (see `covering`), as revert would remove it."""
    own = covering(policy, target, action, zone, resources)
    if own is None:
        return None
    value = target.account_id if own.kind == ACCOUNT and target.kind == PRINCIPAL else target.value
    return DenyEntry(own.sid, own.kind, canonical_value(own.kind, str(value)), own.actions)


def lookalikes(policy: Mapping[str, Any], target: DenyTarget, action: str, resources: Sequence[str] = ()) -> list[str]:
    """Deny statements that mention `target` (or carry a Sid like the tool's) but are not coverage: reported."""
    found = []
    for index, statement in enumerate(statements(policy)):
        if statement.get("Effect") != "Deny" or parse_own(statement, resources) is not None:
            continue
        sid = str(statement.get("Sid", ""))
        mentions = target.value in json.dumps(statement) or sid.startswith(SID_PREFIX)
        if mentions and _action_listed(statement, action):
            found.append(sid or f"#{index}")
    return found


def _action_listed(statement: Mapping[str, Any], action: str) -> bool:
    patterns = _string_list(statement.get("Action")) or []
    return not patterns or any(fnmatchcase(action.lower(), p.lower()) for p in patterns)


@dataclass
class _Body:
    """A working copy of a document's statements, with the tool's statements indexed by Sid."""

    policy: Policy
    resources: tuple[str, ...] = ()
    items: list[Statement] = field(default_factory=list)
    changed: bool = False

    def __post_init__(self) -> None:
        self.items = statements(self.policy)

    def find(self, sid: str) -> tuple[int, Statement] | None:
        return next(((i, s) for i, s in enumerate(self.items) if s.get("Sid") == sid), None)

    def free_sid(self, kind: str, actions: Sequence[str], exclusions: Exclusions) -> tuple[str, OwnStatement | None]:
        """The Sid for this template: ours if it already holds this template, else the first one nobody uses."""
        for generation in range(100):
            sid = sid_for(kind, actions, exclusions, generation)
            found = self.find(sid)
            if found is None:
                return sid, None
            own = parse_own(found[1], self.resources)
            if own is not None and own.template == (kind, tuple(actions), exclusions, self.resources):
                return sid, own
        raise PolicyError("no free Sid for a new statement")

    def put(self, own: OwnStatement) -> None:
        self.changed = True
        found = self.find(own.sid)
        if found is None:
            self.items.append(own.render())
        else:
            self.items[found[0]] = own.render()

    def drop(self, sid: str) -> None:
        self.changed = True
        self.items = [s for s in self.items if s.get("Sid") != sid]

    def result(self) -> Policy:
        if not self.changed:  # unchanged: the document as it was, Statement form included
            return copy.deepcopy(dict(self.policy))
        result = copy.deepcopy(dict(self.policy))
        result["Statement"] = self.items
        return result


def add_denies(
    policy: Mapping[str, Any],
    requests: Iterable[tuple[DenyTarget, Sequence[str]]],
    zone: Zone,
    resources: Sequence[str] = (),
) -> tuple[Policy, list[DenyEntry]]:
    """Return a copy of `policy` that denies each (target, actions) not already covered, and what was added."""
    body = _Body(copy.deepcopy(dict(policy)), tuple(resources))
    added: list[DenyEntry] = []
    for target, actions in requests:
        current = body.result()
        missing = tuple(sorted({a for a in actions if covering(current, target, a, zone, resources) is None}))
        if not missing:
            continue
        exclusions = zone.exclusions(target)
        sid, existing = body.free_sid(target.kind, missing, exclusions)
        value = canonical_value(target.kind, target.value)
        if existing is None:
            body.put(OwnStatement(sid, target.kind, missing, exclusions, (value,), tuple(resources)))
        elif value not in existing.values and target.kind != PUBLIC:
            body.put(existing.with_values([*existing.values, value]))
        added.append(DenyEntry(sid, target.kind, value, missing))
    return body.result(), added


def remove_denies(
    policy: Mapping[str, Any], entries: Iterable[DenyEntry], resources: Sequence[str] = ()
) -> tuple[Policy, list[DenyEntry]]:
    """Remove exactly `entries` from the tool's statements; leave every other statement and value as it is."""
    body = _Body(copy.deepcopy(dict(policy)), tuple(resources))
    removed: list[DenyEntry] = []
    for entry in entries:
        found = body.find(entry.sid)
        own = parse_own(found[1], body.resources) if found else None
        if own is None or own.kind != entry.kind:
            continue  # gone, or a statement in a shape we did not write: never edited
        value = canonical_value(entry.kind, entry.value)
        if value not in own.values:
            continue
        removed.append(entry)
        remaining = [v for v in own.values if v != value]
        if remaining and entry.kind != PUBLIC:
            body.put(own.with_values(remaining))
        else:
            body.drop(entry.sid)
    return body.result(), removed


def restore_entries(
    policy: Mapping[str, Any], statements_in_place: Iterable[OwnStatement]
) -> tuple[Policy, list[DenyEntry]]:
    """Put back every value of `statements_in_place` (the ledger) that `policy` lacks; return what was put back.

    A stale read (IAM is eventually consistent) or a hand edit can lack an entry the tool has in place: writing
    that document back as read would silently drop a Deny. Each ledger statement names the resources of its
    document (none for a trust policy)."""
    body = _Body(copy.deepcopy(dict(policy)))
    restored: list[DenyEntry] = []
    for ledger_statement in statements_in_place:
        wanted = ledger_statement
        body.resources = wanted.resources
        found = body.find(wanted.sid)
        own = parse_own(found[1], wanted.resources) if found else None
        if found is not None and (own is None or own.template != wanted.template):
            # A foreign statement took the Sid: re-create ours under a fresh one rather than edit theirs.
            sid, own = body.free_sid(wanted.kind, wanted.actions, wanted.exclusions)
            wanted = OwnStatement(sid, wanted.kind, wanted.actions, wanted.exclusions, wanted.values, wanted.resources)
        held = {
            v
            for o in own_statements(body.result(), wanted.resources)
            if o.template == wanted.template
            for v in o.values
        }
        missing = [v for v in wanted.values if v not in held]
        if not missing:
            continue
        values = [*(own.values if own else ()), *missing]
        body.put(wanted.with_values(values))
        restored += [DenyEntry(wanted.sid, wanted.kind, v, wanted.actions) for v in missing]
    return body.result(), restored


def missing_entries(policy: Mapping[str, Any], statements_in_place: Iterable[OwnStatement]) -> list[DenyEntry]:
    """Entries the ledger holds that `policy` does not show (in one of the tool's statements of the same shape)."""
    in_place = list(statements_in_place)
    present = {
        (own.template, v)
        for resources in {own.resources for own in in_place}
        for own in own_statements(policy, resources)
        for v in own.values
    }
    return [
        DenyEntry(own.sid, own.kind, v, own.actions)
        for own in in_place
        for v in own.values
        if (own.template, v) not in present
    ]


def present_entries(
    policy: Mapping[str, Any], entries: Iterable[DenyEntry], resources: Sequence[str] = ()
) -> list[DenyEntry]:
    """Those of `entries` that `policy`'s own statements hold."""
    present = {entry.key for entry in tool_entries(policy, resources)}
    return [entry for entry in entries if entry.key in present]


def match_statement_form(policy: Policy, reference: Mapping[str, Any]) -> Policy:
    """Give `policy` the single-object `Statement` form of `reference` when only that one statement is left,
    so a revert restores the original document exactly, not just an equivalent one."""
    body = statements(policy)
    if isinstance(reference.get("Statement"), Mapping) and len(body) == 1:
        return {**policy, "Statement": body[0]}
    return policy


def grants(policy: Mapping[str, Any], principal: Mapping[str, str], actions: Sequence[str]) -> bool:
    """Does some Allow statement of `policy` name this principal (or everyone) for one of `actions`? A cheap check
    for a policy given by hand (`aa-remediate plan`), not a policy evaluation."""
    for statement in statements(policy):
        if statement.get("Effect") != "Allow":
            continue
        patterns = _string_list(statement.get("Action")) or []
        if "NotAction" not in statement and not any(
            fnmatchcase(a.lower(), p.lower()) for a in actions for p in patterns
        ):
            continue
        named = statement.get("Principal")
        if named == "*":
            return True
        if not isinstance(named, Mapping):
            continue
        for key, value in principal.items():
            listed = {canonical_value(ACCOUNT, v) for v in _string_list(named.get(key)) or []}
            if "*" in listed or canonical_value(ACCOUNT, value) in listed:
                return True
    return False
