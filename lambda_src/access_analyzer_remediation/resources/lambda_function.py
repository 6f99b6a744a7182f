"""The Lambda function adapter: a finding is contained by removing the function policy statement that grants it
(RemovePermission), never by a Deny.

Why no Deny: a function policy is made of AddPermission statements, and AddPermission has no Effect; the only call
that writes a whole function policy (PutResourcePolicy, botocore 1.44 and later) replaces it, refuses a public one,
and whether Lambda honours a Deny in it is unconfirmed. So the statements that Allow the finding's principal (once
outside the zone of trust and the allowlist) one of the finding's actions are removed, one RemovePermission each:
its `StatementId`, the `Qualifier` of the finding's ARN (a version or alias has its own policy) and the `RevisionId`
of the read the plan was made on. Lambda refuses the removal when the function changed since; the statement is then
read again and removed only while it is still exactly the one planned. Statements of AWS service principals are
never external and stay; so does a statement limited to the zone of trust (`aws:PrincipalOrgID`).

Revert: `aa-remediate revert` adds each removed statement back exactly as it was (AddPermission with the same
statement id, principal, action and conditions, all kept in the decision record), with the operator's credentials:
the function's role is never granted lambda:AddPermission (the tool never grants access). A statement that is back
already is left as it is; one with that id but other content is never overwritten.

Only reported (notify, with the exact `aws lambda remove-permission` command and the statement's text): a statement
that AddPermission could not write again exactly (several principals or actions, NotAction, a Resource other than
the function, a condition AddPermission does not write). Its removal could not be undone, and would take access
from principals the finding does not name. Likewise a statement granting everyone while the zone of trust or the
allowlist holds more than the function's own account: a Deny would spare them, a removal would cut them off too.

Reads: ListTags on the unqualified function (the exemption tag; ResourceNotFoundException there: the function no
longer exists) and GetPolicy (the policy and its RevisionId; its ResourceNotFoundException is also "no policy"). A
version or alias that no longer exists reads as an empty policy: nothing to contain either way. The policy is never
written whole: `changes` is empty and `write` refuses.

What a function and a layer version share (the snapshot, the plan, apply and undo) lives here;
lambda_layer_version.py names the layer's calls.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from .. import planner
from ..clients import error_code
from ..findings import LAMBDA_FUNCTION, NOUN_AND_DOCUMENT, Finding, ResourceRef
from ..planner import Plan, Screened, SideChange
from ..policy import (
    ACCOUNT,
    POLICY_VERSION,
    DenyTarget,
    Policy,
    PolicyError,
    Statement,
    canonical_value,
    compact,
    deny_target,
    statements,
)
from ..settings import Settings
from ..state import Intended
from . import Change, Rejection, TypeAdapterBase, guard_resource

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

RESOURCE_TYPE = LAMBDA_FUNCTION
# Reasons of these types (metric dimensions and audit values, like planner's: keep them stable).
STATEMENT_REMOVED = "statement_removed"
STATEMENT_NOT_RECREATABLE = "statement_not_recreatable"
SERVES_ZONE_OF_TRUST = "public_statement_serves_zone_of_trust"
_IAM_ACTIONS = {
    "ListTags": "lambda:ListTags",
    "GetPolicy": "lambda:GetPolicy",
    "RemovePermission": "lambda:RemovePermission",
}
# Calls only a revert makes, with the operator's credentials: the Lambda role may never add a permission.
_OPERATOR_ACTIONS = {"AddPermission": "lambda:AddPermission"}
# Lambda's permanent refusals of a removal: reported with the command, never retried.
_REFUSALS = frozenset({"AccessDeniedException", "InvalidParameterValueException"})
# A removal that meets a changed RevisionId is tried again on a fresh read this often before it is retried later.
_ATTEMPTS = 3
_SID_RE = re.compile(r"^[A-Za-z0-9_-]{1,100}$", re.ASCII)  # AddPermission's StatementId
_FUNCTION_ACTION_RE = re.compile(r"^lambda:(\*|[A-Za-z]+)$", re.ASCII)  # AddPermission's Action, `*` alone aside
_ACCOUNT_ID_RE = re.compile(r"^\d{12}$", re.ASCII)
_STATEMENT_KEYS = frozenset({"Sid", "Effect", "Principal", "Action", "Resource", "Condition"})
# The conditions AddPermission writes, each from one of its parameters: (operator, key) -> (parameter, key as
# Lambda writes it). Condition keys are case-insensitive, operators are not.
_FUNCTION_CONDITIONS = {
    ("ArnLike", "aws:sourcearn"): ("SourceArn", "AWS:SourceArn"),
    ("StringEquals", "aws:sourceaccount"): ("SourceAccount", "AWS:SourceAccount"),
    ("StringEquals", "aws:principalorgid"): ("PrincipalOrgID", "aws:PrincipalOrgID"),
    ("StringEquals", "lambda:eventsourcetoken"): ("EventSourceToken", "lambda:EventSourceToken"),
    ("StringEquals", "lambda:functionurlauthtype"): ("FunctionUrlAuthType", "lambda:FunctionUrlAuthType"),
    ("Bool", "lambda:invokedviafunctionurl"): ("InvokedViaFunctionUrl", "lambda:InvokedViaFunctionUrl"),
}
# How the AWS CLI spells each parameter of the calls in a notice's commands.
_CLI_FLAGS = {
    "FunctionName": "--function-name",
    "Qualifier": "--qualifier",
    "LayerName": "--layer-name",
    "VersionNumber": "--version-number",
    "StatementId": "--statement-id",
    "RevisionId": "--revision-id",
    "Action": "--action",
    "Principal": "--principal",
    "SourceArn": "--source-arn",
    "SourceAccount": "--source-account",
    "PrincipalOrgID": "--principal-org-id",
    "EventSourceToken": "--event-source-token",
    "FunctionUrlAuthType": "--function-url-auth-type",
    "InvokedViaFunctionUrl": "--invoked-via-function-url",
    "OrganizationId": "--organization-id",
}


@dataclass(frozen=True)
class PermissionState:
    """A function's (or layer version's) policy as its read API returned it: `policy` has no statements when there
    is none; `revision` is its RevisionId ("" when there is no policy, or offline without one); `tags` the
    function's (a layer version has none)."""

    arn: str
    name: str
    tags: Mapping[str, str]
    policy: Policy
    revision: str = ""

    def with_policy(self, policy: Policy) -> PermissionState:
        return replace(self, policy=policy)


@dataclass(frozen=True)
class Grammar:
    """What differs between a function's permissions and a layer version's: how the APIs name the resource, the
    calls that remove and add one statement, and which statements an add call writes again exactly."""

    resource_type: str
    remove_api: str
    add_api: str
    address: Callable[[ResourceRef], dict[str, Any]]
    # The add call's parameters beyond the address and StatementId that write `statement` again, or why none can.
    add_params: Callable[[Statement, ResourceRef], dict[str, Any] | str]
    # The statement an add call with these parameters (StatementId included) writes.
    rendered: Callable[[Mapping[str, Any], ResourceRef], Statement]
    # The ARN whose protection covers the resource too (the function of an alias, the layer of a version).
    parent_arn: Callable[[ResourceRef], str]

    @property
    def noun(self) -> str:
        return NOUN_AND_DOCUMENT[self.resource_type][0]

    @property
    def document(self) -> str:
        return NOUN_AND_DOCUMENT[self.resource_type][1]


def policy_from_api(text: str | None) -> Policy:
    """A read API's `Policy` text (None: no policy) as a document."""
    if not text:
        return {"Version": POLICY_VERSION, "Statement": []}
    loaded = json.loads(text)
    if not isinstance(loaded, dict):
        raise ValueError("the policy is not a JSON object")
    return loaded


def revision_from_api(attributes: Any) -> str:
    """The RevisionId of `aws lambda get-policy` / `get-layer-version-policy` output (None: not given)."""
    if attributes is None:
        return ""
    if (
        not isinstance(attributes, dict)
        or set(attributes) - {"Policy", "RevisionId"}
        or not isinstance(attributes.get("RevisionId", ""), str)
    ):
        raise ValueError('not get-policy output ({"RevisionId": "..."})')
    return str(attributes.get("RevisionId", ""))


# -- the function's grammar ----------------------------------------------------------------------------------------
def split_name(ref: ResourceRef) -> tuple[str, str]:
    """The function name and the qualifier (a version or alias; "" for the function itself) of `ref`."""
    name, _, qualifier = ref.name.partition(":")
    return name, qualifier


def unqualified_arn(ref: ResourceRef) -> str:
    _, qualifier = split_name(ref)
    return ref.arn.removesuffix(f":{qualifier}") if qualifier else ref.arn


def function_address(ref: ResourceRef) -> dict[str, Any]:
    name, qualifier = split_name(ref)
    return {"FunctionName": name, **({"Qualifier": qualifier} if qualifier else {})}


def _function_add_params(statement: Statement, ref: ResourceRef) -> dict[str, Any] | str:
    shape = one_grant(statement, ref)
    if isinstance(shape, str):
        return shape
    key, principal, action = shape
    if key not in ("AWS", "Service"):
        return f"AddPermission writes no {key} principal"
    if not _FUNCTION_ACTION_RE.match(action):
        return f"AddPermission writes no action {action}"
    params: dict[str, Any] = {"Action": action, "Principal": principal}
    condition = statement.get("Condition", {})
    if not isinstance(condition, Mapping):
        return "its Condition is not readable"
    for operator, block in condition.items():
        if not isinstance(block, Mapping):
            return f"its {operator} condition is not readable"
        for name, value in block.items():
            known = _FUNCTION_CONDITIONS.get((str(operator), str(name).lower()))
            values = _listed(value)
            if known is None or len(values) != 1:
                return f"AddPermission writes no condition {operator} {name} {json.dumps(value)}"
            param = known[0]
            params[param] = str(values[0]).lower() == "true" if param == "InvokedViaFunctionUrl" else str(values[0])
    return params


def _function_statement(params: Mapping[str, Any], ref: ResourceRef) -> Statement:
    """The statement AddPermission writes for `params` (the form GetPolicy returns)."""
    principal = str(params["Principal"])
    statement: Statement = {
        "Sid": str(params["StatementId"]),
        "Effect": "Allow",
        "Principal": _principal_element(principal),
        "Action": str(params["Action"]),
        "Resource": ref.arn,
    }
    condition: dict[str, dict[str, str]] = {}
    for (operator, _), (param, key) in _FUNCTION_CONDITIONS.items():
        if param in params:
            value = params[param]
            condition.setdefault(operator, {})[key] = str(value).lower() if isinstance(value, bool) else str(value)
    if condition:
        statement["Condition"] = condition
    return statement


def _principal_element(principal: str) -> Any:
    """AddPermission's Principal as the policy holds it: everyone, an account or IAM principal, or a service."""
    if principal == "*":
        return "*"
    if _ACCOUNT_ID_RE.match(principal) or principal.startswith("arn:"):
        return {"AWS": principal}
    return {"Service": principal}


FUNCTION = Grammar(
    LAMBDA_FUNCTION,
    "lambda:RemovePermission",
    "lambda:AddPermission",
    function_address,
    _function_add_params,
    _function_statement,
    unqualified_arn,
)


# -- statements: which grant the finding, and which an add call writes again exactly --------------------------------
def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def one_grant(statement: Statement, ref: ResourceRef) -> tuple[str, str, str] | str:
    """(principal key, principal, action) of a statement granting one principal one action on exactly `ref`
    (an add call's shape), or what keeps it from being one."""
    sid = statement.get("Sid")
    if not isinstance(sid, str) or not _SID_RE.match(sid):
        return "it has no statement id RemovePermission could name"
    extra = sorted(set(statement) - _STATEMENT_KEYS)
    if extra:
        return f"it has {', '.join(extra)}"
    named = statement.get("Principal")
    principals = {"AWS": ["*"]} if named == "*" else named if isinstance(named, Mapping) else {}
    listed = [(str(key), value) for key, values in principals.items() for value in _listed(values)]
    if len(listed) != 1 or not isinstance(listed[0][1], str):
        who = ", ".join(str(value) for _, value in listed) or "no readable principal"
        return f"it grants several principals ({who})" if len(listed) > 1 else f"it grants {who}"
    actions = _listed(statement.get("Action"))
    if len(actions) != 1 or not isinstance(actions[0], str):
        return f"it grants several actions ({', '.join(map(str, actions))})"
    if _listed(statement.get("Resource")) != [ref.arn]:
        return f"its Resource is not {ref.arn}"
    return listed[0][0], listed[0][1], actions[0]


def normal_statement(statement: Mapping[str, Any]) -> dict[str, Any]:
    """A statement in a form where two that mean the same compare equal: an account as its id or root ARN, `*` or
    {"AWS": "*"}, one value or a list of one, action names and condition keys in any case, no Condition or an
    empty one."""
    result: dict[str, Any] = {}
    for key, value in statement.items():
        if key in ("Principal", "NotPrincipal"):
            named = {"AWS": "*"} if value == "*" else value
            result[key] = (
                {str(k): sorted({canonical_value(ACCOUNT, str(v)) for v in _listed(vs)}) for k, vs in named.items()}
                if isinstance(named, Mapping)
                else named
            )
        elif key in ("Action", "NotAction"):
            result[key] = sorted(str(v).lower() for v in _listed(value))
        elif key in ("Resource", "NotResource"):
            result[key] = sorted(str(v) for v in _listed(value))
        elif key == "Condition" and isinstance(value, Mapping):
            result[key] = {
                str(op): {str(k).lower(): sorted(_text(v) for v in _listed(vs)) for k, vs in block.items()}
                if isinstance(block, Mapping)
                else block
                for op, block in value.items()
            }
        else:
            result[key] = value
    if not result.get("Condition"):
        result.pop("Condition", None)
    return result


def same_statement(one: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    return normal_statement(one) == normal_statement(other)


def _grants_target(statement: Statement, targets: Sequence[DenyTarget]) -> bool:
    if "NotPrincipal" in statement:
        return True  # an Allow to everyone but some: it may grant the target (and is never written again exactly)
    named = statement.get("Principal")
    principals = {"AWS": ["*"]} if named == "*" else named if isinstance(named, Mapping) else {}
    # A service principal maps to no target: AWS services acting for the function's account are never external.
    return any(
        deny_target(str(key), str(value)) in targets for key, values in principals.items() for value in _listed(values)
    )


def _grants_action(statement: Statement, actions: Sequence[str]) -> bool:
    wanted = [action.lower() for action in actions]
    if "NotAction" in statement:
        excluded = [str(p).lower() for p in _listed(statement["NotAction"])]
        return any(not any(fnmatchcase(action, p) for p in excluded) for action in wanted)
    patterns = [str(p).lower() for p in _listed(statement.get("Action"))]
    return any(fnmatchcase(action, p) for action in wanted for p in patterns)


def _inside_zone(statement: Statement, screened: Screened) -> str | None:
    """The zone of trust a statement's own condition limits it to (the trusted organization's aws:PrincipalOrgID,
    trusted accounts' aws:PrincipalAccount), or None. Such a statement grants nothing outside the zone, whatever its
    principal: it stays, even when another statement for the same principal is the finding's."""
    condition = statement.get("Condition")
    block = condition.get("StringEquals") if isinstance(condition, Mapping) else None
    if not isinstance(block, Mapping):
        return None
    keys = {str(k).lower(): {str(v) for v in _listed(vs)} for k, vs in block.items()}
    org, accounts, zone = keys.get("aws:principalorgid"), keys.get("aws:principalaccount"), screened.zone
    if org and zone.org_id and org <= {zone.org_id}:
        return f"organization {zone.org_id}"
    if accounts and accounts <= zone.account_ids:
        return f"account {', '.join(sorted(accounts))}"
    return None


def _conditions(statement: Statement) -> dict[str, frozenset[str]]:
    """A statement's condition as Access Analyzer names it in a finding: key (lower case) -> values."""
    flat: dict[str, set[str]] = {}
    condition = statement.get("Condition")
    for block in condition.values() if isinstance(condition, Mapping) else ():
        for key, values in block.items() if isinstance(block, Mapping) else ():
            flat.setdefault(str(key).lower(), set()).update(_text(v) for v in _listed(values))
    return {key: frozenset(values) for key, values in flat.items()}


def granting_statements(
    body: Sequence[Statement], finding: Finding, screened: Screened
) -> tuple[list[Statement], list[str]]:
    """The Allow statements that grant one of the screened principals one of the finding's actions, outside the zone
    of trust, and notes on those kept. Access Analyzer makes one finding per principal and condition: where a
    statement's condition is the finding's, only such statements are the finding's; where none is (the analyzer
    may name a condition otherwise), every statement that grants it is."""
    candidates, notes = [], []
    for statement in body:
        if statement.get("Effect") != "Allow" or not _grants_target(statement, screened.targets):
            continue
        if not _grants_action(statement, finding.actions):
            continue
        zone = _inside_zone(statement, screened)
        if zone is not None:
            notes.append(f"statement {statement.get('Sid')} grants it only inside the zone of trust ({zone}): kept")
            continue
        candidates.append(statement)
    wanted = {key.lower(): frozenset(value.split(",")) for key, value in finding.condition.items()}
    exact = [statement for statement in candidates if _conditions(statement) == wanted]
    notes += [
        f"statement {statement.get('Sid')} grants it too, on other conditions (a finding of its own): not removed"
        for statement in candidates
        if exact and statement not in exact
    ]
    return exact or candidates, notes


# -- the plan --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Removal:
    """One statement to remove: its RemovePermission parameters and the AddPermission that writes it again."""

    statement: Statement
    sid: str
    remove: dict[str, Any]  # the remove call's parameters
    add: dict[str, Any] | None  # the add call's that write it again, None when none can
    why: str = ""  # why none can


def command(region: str, api: str, params: Mapping[str, Any]) -> str:
    """The AWS CLI command that makes the call `api` (e.g. "lambda:RemovePermission") with `params`."""
    operation = re.sub(r"(?<=[a-z])(?=[A-Z])", "-", api.split(":", 1)[1]).lower()
    words = [f"aws lambda {operation} --region {region}"]
    for name, value in params.items():
        flag = _CLI_FLAGS[name]
        words.append((flag if value else flag.replace("--", "--no-", 1)) if isinstance(value, bool) else flag)
        if not isinstance(value, bool):
            words.append(shlex.quote(str(value)))
    return " ".join(words)


def _removal(grammar: Grammar, ref: ResourceRef, statement: Statement, revision: str) -> _Removal:
    sid = str(statement.get("Sid", ""))
    remove = {**grammar.address(ref), "StatementId": sid, **({"RevisionId": revision} if revision else {})}
    params = grammar.add_params(statement, ref)
    if isinstance(params, str):
        return _Removal(statement, sid, remove, None, params)
    add = {**grammar.address(ref), "StatementId": sid, **params}
    if not same_statement(grammar.rendered(add, ref), statement):
        return _Removal(statement, sid, remove, None, f"{_operation(grammar.add_api)} would not write it as it is")
    return _Removal(statement, sid, remove, add)


def _operation(api: str) -> str:
    return api.split(":", 1)[1]


def _grant_text(statement: Statement) -> str:
    """Who a statement grants what, as a notice names it: `999988887777: lambda:InvokeFunction`."""
    named = statement.get("Principal")
    principals = {"AWS": "*"} if named == "*" else named if isinstance(named, Mapping) else {}
    who = ", ".join(str(value) for values in principals.values() for value in _listed(values)) or "NotPrincipal"
    actions = "/".join(str(a) for a in _listed(statement.get("Action", statement.get("NotAction"))))
    return f"{who}: {actions}"


def _side_change(grammar: Grammar, ref: ResourceRef, removal: _Removal) -> SideChange:
    assert removal.add is not None
    add = _operation(grammar.add_api)
    return SideChange(
        f"lambda:statement:{removal.sid}",
        f"removed statement {removal.sid} ({_grant_text(removal.statement)}) from the {grammar.document} of"
        f" {grammar.noun} {ref.name}",
        {"api": grammar.remove_api, "params": removal.remove},
        {"api": grammar.add_api, "params": removal.add},
        f"adds it back exactly as it was ({add} with the same statement id, principal, action and conditions; needs"
        f" {grammar.add_api})",
    )


def _commands(grammar: Grammar, ref: ResourceRef, removal: _Removal) -> str:
    remove = command(ref.region, grammar.remove_api, removal.remove)
    if removal.add is not None:
        return f"statement {removal.sid}: to remove it: {remove}; to add it back: " + command(
            ref.region, grammar.add_api, removal.add
        )
    return (
        f"statement {removal.sid} ({_grant_text(removal.statement)}) cannot be added back exactly by"
        f" {_operation(grammar.add_api)} ({removal.why}): not removed; to remove it by hand: {remove}; its text,"
        f" to restore it by hand: {compact(removal.statement)}"
    )


def plan_permissions(
    finding: Finding,
    snapshot: PermissionState,
    settings: Settings,
    grammar: Grammar,
    *,
    intended: Sequence[Intended] = (),
    now: float = 0.0,
) -> Plan:
    """Pure: remove the statements that grant `finding` (each a side change with its exact undo), or why not."""
    ref = finding.resource
    guarded = guard_permissions(grammar, ref, settings, finding.analyzer_arn)
    if guarded is not None:
        return guarded
    screened = planner.screen(finding, snapshot.tags, settings, intended=intended, now=now, noun=grammar.noun)
    if isinstance(screened, Plan):
        return screened
    try:
        body = statements(snapshot.policy)
    except PolicyError:
        summary = f"the {grammar.document} has no readable Statement: review it by hand"
        return Plan("notify", planner.UNREADABLE_POLICY, summary, notes=screened.notes)
    chosen, kept = granting_statements(body, finding, screened)
    notes = (*screened.notes, *kept)
    if not chosen:
        if kept:
            return Plan(
                "skip", planner.PRINCIPAL_IN_ZONE_OF_TRUST, "granted only inside the zone of trust", notes=notes
            )
        who = ", ".join(target.value for target in screened.targets)
        # A redelivery after the removal, or a finding the analyzer has not re-read yet: the access is gone.
        return Plan(
            "skip",
            planner.ALREADY_CONTAINED,
            f"no statement of the {grammar.document} grants {who} {'/'.join(finding.actions)}",
            notes=notes,
        )
    removals = [_removal(grammar, ref, statement, snapshot.revision) for statement in chosen]
    commands = tuple(_commands(grammar, ref, removal) for removal in removals)
    named = ", ".join(removal.sid or "(no id)" for removal in removals)
    statement_s = "statements" if len(removals) > 1 else "statement"
    refused = [removal for removal in removals if removal.add is None]
    if refused:
        why = "; ".join(f"{removal.sid or '(no id)'}: {removal.why}" for removal in refused)
        return Plan(
            "notify",
            STATEMENT_NOT_RECREATABLE,
            f"{statement_s} {named} of the {grammar.document} of {ref.name} grant{'' if len(removals) > 1 else 's'}"
            f" this access and cannot be removed and added back exactly ({why}): review by hand",
            notes=(*notes, *commands),
        )
    public = [removal.sid for removal in removals if _is_public(removal.statement)]
    beyond = _zone_beyond_owner(ref.account_id, settings) if public else []
    if beyond:
        return Plan(
            "notify",
            SERVES_ZONE_OF_TRUST,
            f"statement {', '.join(public)} of the {grammar.document} of {ref.name} grants everyone: removing it would"
            f" also cut off {', '.join(beyond)} (the zone of trust or the allowlist), and no Deny can spare them;"
            " review by hand",
            notes=(*notes, *commands),
        )
    what = f"{statement_s} {named} from the {grammar.document} of {ref.name}"
    if settings.mode == "notify":
        return Plan("notify", planner.NOTIFY_MODE, f"would remove {what} (notify mode)", notes=(*notes, *commands))
    return Plan(
        "remediate",
        STATEMENT_REMOVED,
        f"removed {what}: a {grammar.document} holds no Deny",
        policy_after=snapshot.policy,
        notes=notes,
        side_changes=tuple(_side_change(grammar, ref, removal) for removal in removals),
    )


def _is_public(statement: Statement) -> bool:
    named = statement.get("Principal")
    principals = {"AWS": ["*"]} if named == "*" else named if isinstance(named, Mapping) else {}
    return "NotPrincipal" in statement or any("*" in _listed(values) for values in principals.values())


def _zone_beyond_owner(owner_account: str, settings: Settings) -> list[str]:
    """Who the zone of trust and the allowlist hold outside the resource's own account: a statement granting
    everyone may be what serves them (a Deny would spare them; a removal cannot)."""
    beyond = [f"account {a}" for a in sorted(settings.trusted_account_ids - {owner_account})]
    beyond += [f"organization {settings.trusted_org_id}"] if settings.trusted_org_id else []
    return beyond + [
        f"allowlisted {p}" for p in settings.allowed_principals if p != owner_account and f"::{owner_account}:" not in p
    ]


def plan_function(
    finding: Finding, snapshot: PermissionState, settings: Settings, intended: Sequence[Intended] = (), now: float = 0.0
) -> Plan:
    return plan_permissions(finding, snapshot, settings, FUNCTION, intended=intended, now=now)


def guard_permissions(grammar: Grammar, ref: ResourceRef, settings: Settings, analyzer_arn: str) -> Plan | None:
    """guard_resource for `ref`, and for its function (layer) too: protecting a function protects its aliases and
    versions; the tool's own function, its aliases."""
    guarded = guard_resource(ref, settings, analyzer_arn, grammar.noun)
    parent = grammar.parent_arn(ref)
    if guarded is None and parent != ref.arn:
        guarded = guard_resource(replace(ref, arn=parent), settings, analyzer_arn, grammar.noun)
    return guarded


def _by_sid(policy: Policy, sid: str) -> Statement | None:
    return next((statement for statement in statements(policy) if statement.get("Sid") == sid), None)


# -- the adapters ----------------------------------------------------------------------------------------------------
class PermissionAdapterBase(TypeAdapterBase):
    """The part of a function's and a layer version's adapter that does not depend on the call names: the subclass
    reads the policy (`_policy`) and makes the remove and add calls (`_remove`, `_add`) in its own file."""

    grammar: ClassVar[Grammar]

    def guard(self, ref: ResourceRef, settings: Settings, analyzer_arn: str) -> Plan | None:
        return guard_permissions(self.grammar, ref, settings, analyzer_arn)

    def plan(
        self, finding: Finding, snapshot: PermissionState, settings: Settings, intended: Sequence[Intended], now: float
    ) -> Plan:
        return plan_permissions(finding, snapshot, settings, self.grammar, intended=intended, now=now)

    def changes(self, ref: ResourceRef, document: Policy, planned_on: PermissionState) -> list[Change]:
        return []  # the policy is never written whole: each removal is a side change of its plan

    def write(self, ref: ResourceRef, document: Policy, planned_on: PermissionState) -> Rejection | None:
        raise ValueError(f"the {self.document} of {ref.name} is never written whole: statements are removed one by one")

    def _policy(self, ref: ResourceRef) -> tuple[Policy, str]:
        """The policy and its RevisionId as they are now (none: no statements, "")."""
        raise NotImplementedError

    def _remove(self, params: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def _add(self, params: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def apply(self, ref: ResourceRef, change: SideChange) -> str | None:
        """Remove the planned statement, conditional on the planned RevisionId. A changed RevisionId (the function
        changed since the read) is checked on a fresh read: the statement is removed only while it is exactly the
        one planned. Gone already (an interrupted invocation, a redelivery, by hand): nothing left to do."""
        grammar = self.grammar
        if change.do.get("api") != grammar.remove_api or change.undo.get("api") != grammar.add_api:
            raise ValueError(f"not a side change of a {grammar.noun}: {change.key}")
        params = dict(change.do["params"])
        sid = str(params["StatementId"])
        planned = grammar.rendered(change.undo["params"], ref)
        for _ in range(_ATTEMPTS):
            try:
                self._remove(params)
                return None
            except Exception as err:
                code = error_code(err)
                if code == "ResourceNotFoundException":
                    return None
                if code in _REFUSALS:
                    return (
                        f"Lambda refused {_operation(grammar.remove_api)} ({code}); to remove it by hand: "
                        + command(
                            ref.region, grammar.remove_api, {k: v for k, v in params.items() if k != "RevisionId"}
                        )
                    )
                if code != "PreconditionFailedException":
                    raise
            policy, revision = self._policy(ref)
            current = _by_sid(policy, sid)
            if current is None:
                return None
            if not same_statement(current, planned):
                return f"statement {sid} changed since it was read ({compact(current)}): not removed; review it by hand"
            params = {k: v for k, v in params.items() if k != "RevisionId"} | (
                {"RevisionId": revision} if revision else {}
            )
        raise RuntimeError(f"the {grammar.document} of {ref.name} kept changing: statement {sid} not removed (retried)")

    def undo(self, ref: ResourceRef, change: SideChange) -> str:
        """Add the removed statement back exactly, unless it is back already; one with its id but other content is
        never overwritten (ValueError: the revert stops there, the operator decides)."""
        grammar = self.grammar
        if change.undo.get("api") != grammar.add_api:
            raise ValueError(f"not a side change of a {grammar.noun}: {change.key}")
        params = dict(change.undo["params"])
        sid = str(params["StatementId"])
        wanted = grammar.rendered(params, ref)
        where = f"the {grammar.document} of {grammar.noun} {ref.name}"
        for _ in range(_ATTEMPTS):
            policy, revision = self._policy(ref)
            current = _by_sid(policy, sid)
            if current is not None:
                if same_statement(current, wanted):
                    return f"statement {sid} is in {where} already: none added"
                add = command(ref.region, grammar.add_api, params)
                raise ValueError(
                    f"statement {sid} of {where} is not the one removed ({compact(current)}): not overwritten; to"
                    f" restore the removed one, remove that one first, then: {add}"
                )
            try:
                self._add({**params, **({"RevisionId": revision} if revision else {})})
            except Exception as err:
                code = error_code(err)
                if code == "ResourceNotFoundException":
                    return f"{grammar.noun} {ref.name} no longer exists: statement {sid} not added back"
                if code in ("PreconditionFailedException", "ResourceConflictException"):
                    continue  # changed since this read (another writer): read again
                raise
            return f"added statement {sid} back to {where} ({_operation(grammar.add_api)}, exactly as it was)"
        raise RuntimeError(f"{where} kept changing: statement {sid} not added back; run the revert again")


@dataclass(frozen=True)
class LambdaFunctionAdapter(PermissionAdapterBase):
    """A Lambda function's policy: the statements that grant the finding removed (RemovePermission)."""

    lambda_: LambdaClient
    grammar: ClassVar[Grammar] = FUNCTION
    resource_type: str = RESOURCE_TYPE
    iam_actions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(_IAM_ACTIONS))
    # Lambda documents no bound for a permission change to show in GetPolicy (seconds, in practice). Nothing waits
    # on it: no Deny is written, so the engine's ledger has no entry for a read to show; it only bounds re-reads.
    propagation_seconds: float = 5.0

    def read(self, ref: ResourceRef) -> PermissionState | None:
        try:
            tags = self.lambda_.list_tags(Resource=unqualified_arn(ref)).get("Tags", {})
        except Exception as err:
            if error_code(err) == "ResourceNotFoundException":
                return None
            raise
        policy, revision = self._policy(ref)
        return PermissionState(ref.arn, ref.name, {str(k): str(v) for k, v in tags.items()}, policy, revision)

    def _policy(self, ref: ResourceRef) -> tuple[Policy, str]:
        try:
            response = self.lambda_.get_policy(**function_address(ref))
        except Exception as err:
            if error_code(err) == "ResourceNotFoundException":  # no policy (or no function: ListTags tells)
                return policy_from_api(None), ""
            raise
        return policy_from_api(response.get("Policy")), str(response.get("RevisionId", ""))

    def _remove(self, params: Mapping[str, Any]) -> None:
        self.lambda_.remove_permission(**params)

    def _add(self, params: Mapping[str, Any]) -> None:
        self.lambda_.add_permission(**params)

    def offline(self, ref: ResourceRef, policy: Policy, tags: Mapping[str, str], attributes: Any) -> PermissionState:
        """The policy of `aws lambda get-policy` (`--attributes`: its RevisionId, which the removals then name)."""
        statements(policy)  # PolicyError (a ValueError) when it has no readable Statement
        return PermissionState(ref.arn, ref.name, dict(tags), policy, revision_from_api(attributes))
