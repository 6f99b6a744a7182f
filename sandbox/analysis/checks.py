"""Access Analyzer's policy checks for the stand-in: ValidatePolicy, CheckNoNewAccess and CheckNoPublicAccess.

The real checks run Zelkova on the documents; these are a deliberately small, SOUND model of them: where the model
cannot tell, a check FAILs (with a reason saying so) rather than PASS. A PASS here therefore implies a PASS from the
service for the shapes the model understands; a FAIL may be one the service would not give.

`validate_policy` (ValidatePolicy) reports, in document order, each with its ``locations`` (path and span):

- ``JSON_SYNTAX_ERROR`` (ERROR; nothing else is checked), ``DATA_TYPE_MISMATCH`` (ERROR: the document, a statement,
  Sid, Effect or Condition of the wrong JSON type), ``INVALID_POLICY_ELEMENT`` (ERROR: unknown element),
  ``MISSING_VERSION`` (WARNING, as the IAM User Guide's check reference files it: a General Warning, not an Error),
  ``INVALID_VERSION`` (ERROR), ``MISSING_STATEMENT`` (ERROR), ``MISSING_EFFECT`` / ``INVALID_EFFECT`` (ERROR),
  ``MISSING_ACTION`` (ERROR), ``UNSUPPORTED_ELEMENT_COMBINATION`` (ERROR: Action with NotAction, Resource with
  NotResource, Principal with NotPrincipal), ``MISSING_RESOURCE`` (ERROR: identity policies, and resource policies of
  a ``validatePolicyResourceType`` other than a trust policy), ``UNSUPPORTED_SID`` (ERROR: a Sid outside
  ``[0-9A-Za-z]``, e.g. with ``-``: IAM refuses it, moto accepts it; the stand-in applies IAM's rule to every policy
  type, stricter than the service may be for some resource policies), ``UNIQUE_SIDS_REQUIRED`` (ERROR),
  ``UNSUPPORTED_PRINCIPAL`` (ERROR: Principal / NotPrincipal in an identity policy, SCP or RCP),
  ``MISSING_PRINCIPAL`` (ERROR: a resource-policy statement without Principal or NotPrincipal),
  ``INVALID_PRINCIPAL_KEY`` (ERROR: a Principal map key other than AWS / Service / Federated / CanonicalUser);
- ``WILDCARD_PRINCIPAL_WITHOUT_CONDITION`` (SECURITY_WARNING): an Allow of ``"Principal": "*"`` / ``{"AWS": "*"}``
  without a Condition in a resource policy. This issue code is the stand-in's own (the service's security warnings
  for public grants are not confirmed); its learnMoreLink points at the check reference page.

A clean document has no findings. Messages are English whatever the ``locale``. ``learnMoreLink`` is the IAM User
Guide's check reference with the check's anchor.

`check_no_new_access` (CheckNoNewAccess) PASSes only when (1) the Versions are the same, (2) every Deny of the
existing document is in the new one unchanged (its Sid aside) or covered by a new Deny (`_deny_covers`: the same
Principal, Action and Resource or broader ones, and conditions the existing one implies, e.g. an ``ArnLike`` list with
one more ARN), and (3) every Allow of the new document is covered by
ONE Allow of the existing one: the same statement (Sid aside), or one whose Principal, Action and Resource each
cover the new one's (a wildcard pattern covers another only when it matches it taken literally, ``?`` never
standing for ``*``; ``"*"`` / ``{"AWS": "*"}`` cover every principal, an account id and its root ARN are the same;
a NotX covers a NotX with at least its patterns, and an X none of whose patterns may overlap them) and whose
Condition entries all appear, with the same values, in the new one's (added condition entries narrow an Allow). So
the existing policy plus Deny statements, or minus a statement, or with an Allow narrowed in an obvious way, PASSes;
anything else FAILs with one reason per statement (the new document's index and Sid, or a description of the
existing Deny that went).

`check_no_public_access` (CheckNoPublicAccess) runs the stand-in's own analysis of the resource type on the document
alone (no Block Public Access, no RCP, no resource: the scopes are the Allows' own Resource patterns, so a Deny counts
only when its Resource covers an Allow's pattern): `sandbox.analysis.iam_role` for trust policies,
`sandbox.analysis.kms_key`'s ``kms:CallerAccount`` rule for keys, `sandbox.analysis.lambda_function`'s statement
shapes for functions, and the shared resource-policy rules (with the source rules of
`sandbox.analysis.resource_policy`) with the type's service prefix for the others. The zone of trust is every
account and the one organization the document's conditions name: an Allow of ``*`` pinned by
``aws:PrincipalAccount`` / ``aws:SourceAccount`` / ``aws:PrincipalOrgID`` ... to named accounts is not public, and
the remediation's public perimeter Deny (``StringNotEqualsIfExists`` on the owner account and organization) removes
the public access. FAIL when any Allow statement (with all the Denies) leaves access to ``*``; a ``Federated``
principal without any Condition also FAILs (a web-identity or SAML trust nobody narrowed). Each reason names the
Allow statement.

Documents the checks cannot read (not JSON, not an object, no Statement, a statement that is not an object or has an
Effect other than Allow / Deny) are `PolicyDocumentError`, which the stand-in answers with ValidationException (the
service's exact error for them is unconfirmed: the model also lists InvalidParameterException and
UnprocessableEntityException); so are documents over `MAX_DOCUMENT_CHARS` (the service's limit is unconfirmed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sandbox.analysis import (
    allow_grants,
    denies_of,
    may_overlap,
    remaining_access,
)
from sandbox.analysis import kms_key as _kms_key
from sandbox.analysis import lambda_function as _lambda_function
from sandbox.analysis.iam_role import (
    TrustZone,
    _as_list,
    _condition_items,
    _normalise_aws_principal,
    _principal_entries,
    compute_role_access,
)
from sandbox.analysis.resource_policy import PolicyState, limited_to_zone, lower_prefix

MAX_DOCUMENT_CHARS = 65_536  # the stand-in's limit on a policy document (the service's is unconfirmed)
LEARN_MORE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html"
POLICY_VERSIONS = ("2012-10-17", "2008-10-17")
DEFAULT_VERSION = "2008-10-17"  # what IAM assumes without a Version
TRUST_POLICY = "AWS::IAM::AssumeRolePolicyDocument"
PASS, FAIL = "PASS", "FAIL"

_POLICY_KEYS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_KEYS = frozenset(
    {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)
_PRINCIPAL_KINDS = frozenset({"AWS", "Service", "Federated", "CanonicalUser"})
_SID_RE = re.compile(r"^[0-9A-Za-z]*$")
_ACCOUNT_RE = re.compile(r"^\d{12}$")
_FINDING_KIND = {"ERROR": "error", "SECURITY_WARNING": "security-warning", "WARNING": "general-warning"}
_FINDING_KIND["SUGGESTION"] = "suggestion"
# CheckNoPublicAccess: the service prefix of the actions that matter on each resource type the API accepts.
SERVICE_OF_TYPE: Mapping[str, str] = {
    "AWS::DynamoDB::Table": "dynamodb",
    "AWS::DynamoDB::Stream": "dynamodb",
    "AWS::EFS::FileSystem": "elasticfilesystem",
    "AWS::OpenSearchService::Domain": "es",
    "AWS::Kinesis::Stream": "kinesis",
    "AWS::Kinesis::StreamConsumer": "kinesis",
    "AWS::KMS::Key": "kms",
    "AWS::Lambda::Function": "lambda",
    "AWS::S3::Bucket": "s3",
    "AWS::S3::AccessPoint": "s3",
    "AWS::S3Express::DirectoryBucket": "s3express",
    "AWS::S3::Glacier": "glacier",
    "AWS::S3Outposts::Bucket": "s3-outposts",
    "AWS::S3Outposts::AccessPoint": "s3-outposts",
    "AWS::SecretsManager::Secret": "secretsmanager",
    "AWS::SNS::Topic": "sns",
    "AWS::SQS::Queue": "sqs",
    TRUST_POLICY: "sts",
    "AWS::S3Tables::TableBucket": "s3tables",
    "AWS::ApiGateway::RestApi": "execute-api",
    "AWS::CodeArtifact::Domain": "codeartifact",
    "AWS::Backup::BackupVault": "backup",
    "AWS::CloudTrail::Dashboard": "cloudtrail",
    "AWS::CloudTrail::EventDataStore": "cloudtrail",
    "AWS::S3Tables::Table": "s3tables",
    "AWS::S3Express::AccessPoint": "s3express",
}


class PolicyDocumentError(ValueError):
    """A document a check cannot evaluate: the stand-in answers ValidationException."""


# ====================================================================================================== spans
@dataclass
class _Node:
    """A JSON value with its span in the text: children by key (objects) or index (arrays)."""

    start: int
    end: int
    children: dict[Any, _Node] = field(default_factory=dict)


_WS = re.compile(r"[ \t\n\r]*")
_SCALAR = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null|NaN|-?Infinity")


def _node(text: str, pos: int) -> tuple[_Node, int]:
    """Parse the JSON value at `pos` (after whitespace) of a text json.loads accepted: (node, end)."""
    pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
    char = text[pos]
    if char == '"':
        _, end = json.decoder.scanstring(text, pos + 1)  # type: ignore[attr-defined]
        return _Node(pos, end), end
    if char in "{[":
        node = _Node(pos, pos)
        cursor = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
        index = 0
        while text[cursor] not in "}]":
            key: Any = index
            if char == "{":
                key, cursor = json.decoder.scanstring(text, cursor + 1)  # type: ignore[attr-defined]
                cursor = _WS.match(text, cursor).end() + 1  # type: ignore[union-attr]  # the ':'
            child, cursor = _node(text, cursor)
            node.children[key] = child
            index += 1
            cursor = _WS.match(text, cursor).end()  # type: ignore[union-attr]
            if text[cursor] == ",":
                cursor = _WS.match(text, cursor + 1).end()  # type: ignore[union-attr]
        node.end = cursor + 1
        return node, cursor + 1
    match = _SCALAR.match(text, pos)
    if match is None:
        raise ValueError(f"unexpected JSON at {pos}")
    return _Node(pos, match.end()), match.end()


def _position(text: str, offset: int) -> dict[str, int]:
    """``Position``: line (1-based), column (0-based, from the line's start) and offset."""
    line_start = text.rfind("\n", 0, offset) + 1
    return {"line": text.count("\n", 0, offset) + 1, "column": offset - line_start, "offset": offset}


@dataclass
class _Document:
    text: str
    root: _Node | None

    def location(self, path: Sequence[str | int]) -> dict[str, Any]:
        """``Location`` of `path` (keys and indexes): the deepest node found along it."""
        node = self.root
        for step in path:
            if node is None or step not in node.children:
                break
            node = node.children[step]
        start, end = (node.start, node.end) if node is not None else (0, len(self.text))
        return {
            "path": [{"index": step} if isinstance(step, int) else {"value": step} for step in path],
            "span": {"start": _position(self.text, start), "end": _position(self.text, end)},
        }


def _finding(
    document: _Document, finding_type: str, issue_code: str, details: str, path: Sequence[str | int]
) -> dict[str, Any]:
    anchor = f"access-analyzer-reference-policy-checks-{_FINDING_KIND[finding_type]}-"
    anchor += issue_code.lower().replace("_", "-")
    return {
        "findingDetails": details,
        "findingType": finding_type,
        "issueCode": issue_code,
        "learnMoreLink": f"{LEARN_MORE}#{anchor}",
        "locations": [document.location(path)],
    }


# ====================================================================================================== ValidatePolicy
def validate_policy(text: str, policy_type: str, resource_type: str | None = None) -> list[dict[str, Any]]:
    """ValidatePolicy's findings for `text` as a `policy_type` policy (see the module docstring)."""
    try:
        document = json.loads(text)
    except ValueError as error:
        position = getattr(error, "pos", 0)
        where = _Document(text, _Node(position, position))
        line, column = _position(text, position)["line"], _position(text, position)["column"]
        details = f"Fix the JSON syntax error at index {position} line {line} column {column}."
        return [_finding(where, "ERROR", "JSON_SYNTAX_ERROR", details, [])]
    try:
        root: _Node | None = _node(text, 0)[0]
    except (ValueError, IndexError):  # a form json.loads accepts and the span parser does not: whole-text spans
        root = None
    where = _Document(text, root)
    if not isinstance(document, Mapping):
        return [_finding(where, "ERROR", "DATA_TYPE_MISMATCH", "The policy must be a JSON object.", [])]
    findings: list[dict[str, Any]] = []
    for key in document:
        if key not in _POLICY_KEYS:
            findings.append(
                _finding(where, "ERROR", "INVALID_POLICY_ELEMENT", f"The policy element {key} is not valid.", [key])
            )
    if "Version" not in document:
        details = "We recommend that you specify the Version element to help you with debugging permission issues."
        findings.append(_finding(where, "WARNING", "MISSING_VERSION", details, []))
    elif document["Version"] not in POLICY_VERSIONS:
        details = f"Specify a valid Version: {POLICY_VERSIONS[0]} (recommended) or {POLICY_VERSIONS[1]}."
        findings.append(_finding(where, "ERROR", "INVALID_VERSION", details, ["Version"]))
    raw = document.get("Statement")
    if "Statement" not in document or raw == []:
        findings.append(_finding(where, "ERROR", "MISSING_STATEMENT", "Add a Statement element to the policy.", []))
        return findings
    if not isinstance(raw, Mapping | list):
        details = "The Statement element must be an object or an array of objects."
        findings.append(_finding(where, "ERROR", "DATA_TYPE_MISMATCH", details, ["Statement"]))
        return findings
    statements: list[tuple[list[str | int], Any]] = (
        [(["Statement"], raw)] if isinstance(raw, Mapping) else [(["Statement", i], s) for i, s in enumerate(raw)]
    )
    seen_sids: set[str] = set()
    for path, statement in statements:
        findings.extend(_statement_findings(where, path, statement, policy_type, resource_type, seen_sids))
    return findings


def _statement_findings(
    where: _Document,
    path: list[str | int],
    statement: Any,
    policy_type: str,
    resource_type: str | None,
    seen_sids: set[str],
) -> list[dict[str, Any]]:
    if not isinstance(statement, Mapping):
        return [_finding(where, "ERROR", "DATA_TYPE_MISMATCH", "A statement must be a JSON object.", path)]
    found: list[dict[str, Any]] = []

    def add(finding_type: str, code: str, details: str, *key: str) -> None:
        found.append(_finding(where, finding_type, code, details, [*path, *key]))

    for key in statement:
        if key not in _STATEMENT_KEYS:
            add("ERROR", "INVALID_POLICY_ELEMENT", f"The policy element {key} is not valid.", key)
    if "Sid" in statement:
        sid = statement["Sid"]
        if not isinstance(sid, str):
            add("ERROR", "DATA_TYPE_MISMATCH", "The Sid element must be a string.", "Sid")
        elif not _SID_RE.match(sid):
            add("ERROR", "UNSUPPORTED_SID", "Use only the characters [a-z, A-Z, 0-9] in the Sid element.", "Sid")
        elif sid and sid in seen_sids:
            add("ERROR", "UNIQUE_SIDS_REQUIRED", f"Duplicate Sid {sid}: Sids must be unique in a policy.", "Sid")
        if isinstance(sid, str) and sid:
            seen_sids.add(sid)
    effect = statement.get("Effect")
    if "Effect" not in statement:
        add("ERROR", "MISSING_EFFECT", "Add an Effect element (Allow or Deny) to the statement.")
    elif not isinstance(effect, str):
        add("ERROR", "DATA_TYPE_MISMATCH", "The Effect element must be a string.", "Effect")
    elif effect not in ("Allow", "Deny"):
        add("ERROR", "INVALID_EFFECT", f"The effect {effect} is not valid: use Allow or Deny.", "Effect")
    for positive, negative in (("Action", "NotAction"), ("Resource", "NotResource"), ("Principal", "NotPrincipal")):
        if positive in statement and negative in statement:
            details = f"The statement cannot contain both {positive} and {negative}."
            add("ERROR", "UNSUPPORTED_ELEMENT_COMBINATION", details, negative)
    if "Action" not in statement and "NotAction" not in statement:
        add("ERROR", "MISSING_ACTION", "Add an Action or NotAction element to the statement.")
    needs_resource = policy_type == "IDENTITY_POLICY" or (
        policy_type == "RESOURCE_POLICY" and resource_type not in (None, TRUST_POLICY)
    )
    if needs_resource and "Resource" not in statement and "NotResource" not in statement:
        add("ERROR", "MISSING_RESOURCE", "Add a Resource or NotResource element to the statement.")
    principal_keys = [k for k in ("Principal", "NotPrincipal") if k in statement]
    if policy_type != "RESOURCE_POLICY":
        for key in principal_keys:
            details = f'The "{key}" element is not supported in a {policy_type}: delete it.'
            add("ERROR", "UNSUPPORTED_PRINCIPAL", details, key)
    elif not principal_keys:
        add("ERROR", "MISSING_PRINCIPAL", "Add a Principal element to the resource policy statement.")
    for key in principal_keys:
        value = statement[key]
        if isinstance(value, Mapping):
            for kind in value:
                if kind not in _PRINCIPAL_KINDS:
                    details = f"The principal key {kind} is not valid: use AWS, Service, Federated or CanonicalUser."
                    add("ERROR", "INVALID_PRINCIPAL_KEY", details, key, str(kind))
        elif value != "*":
            details = f'The {key} element must be "*" or an object of principal keys.'
            add("ERROR", "DATA_TYPE_MISMATCH", details, key)
    condition = statement.get("Condition")
    if "Condition" in statement and not (
        isinstance(condition, Mapping) and all(isinstance(block, Mapping) for block in condition.values())
    ):
        add("ERROR", "DATA_TYPE_MISMATCH", "The Condition element must map operators to objects.", "Condition")
    if (
        policy_type == "RESOURCE_POLICY"
        and effect == "Allow"
        and not condition
        and "Principal" in statement
        and any(kind == "AWS" and value == "*" for kind, value in _principal_entries(statement["Principal"]))
    ):
        details = (
            'The statement allows every principal ("Principal": "*") without a condition: anyone, in any account,'
            " may be granted this access. Add a condition or name the principals."
        )
        add("SECURITY_WARNING", "WILDCARD_PRINCIPAL_WITHOUT_CONDITION", details, "Principal")
    return found


# ====================================================================================================== documents
@dataclass(frozen=True)
class _Policy:
    version: str
    statements: tuple[Mapping[str, Any], ...]


def parse_document(text: str, name: str) -> _Policy:
    """A document a check can evaluate, or `PolicyDocumentError` (see the module docstring)."""
    if len(text) > MAX_DOCUMENT_CHARS:
        raise PolicyDocumentError(f"{name} is longer than {MAX_DOCUMENT_CHARS} characters")
    try:
        document = json.loads(text)
    except ValueError as error:
        raise PolicyDocumentError(f"{name} is not valid JSON: {error}") from None
    if not isinstance(document, Mapping):
        raise PolicyDocumentError(f"{name} is not a JSON object")
    raw = document.get("Statement")
    statements = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(statements, list) or not statements:
        raise PolicyDocumentError(f"{name} has no Statement")
    for index, statement in enumerate(statements):
        if not isinstance(statement, Mapping):
            raise PolicyDocumentError(f"{name}: statement {index} is not a JSON object")
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise PolicyDocumentError(f"{name}: statement {index} has no Effect of Allow or Deny")
    return _Policy(str(document.get("Version", DEFAULT_VERSION)), tuple(statements))


def _reason(description: str, index: int | None = None, statement: Mapping[str, Any] | None = None) -> dict[str, Any]:
    reason: dict[str, Any] = {"description": description}
    if index is not None:
        reason["statementIndex"] = index
    if statement is not None and isinstance(statement.get("Sid"), str) and statement["Sid"]:
        reason["statementId"] = statement["Sid"]
    return reason


def _without_sid(statement: Mapping[str, Any]) -> str:
    return json.dumps({k: v for k, v in statement.items() if k != "Sid"}, sort_keys=True, default=str)


# ========================================================================================= CheckNoNewAccess
def glob_covers(pattern: str, other: str) -> bool:
    """Does every string `other` (a glob) matches also match `pattern`? Sound: `pattern` must match `other` taken
    literally, its ``*`` matching anything and its ``?`` any one character but a wildcard of `other`."""
    regex = "".join(".*" if c == "*" else "[^*]" if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, other, flags=re.DOTALL) is not None


def _principals(value: Any) -> set[tuple[str, str]]:
    return {(kind, _normalise_aws_principal(v) if kind == "AWS" else v) for kind, v in _principal_entries(value)}


def _principal_covers(existing: tuple[str, str], new: tuple[str, str]) -> bool:
    return existing == ("AWS", "*") or existing == new


def _dimension_covered(
    existing: Mapping[str, Any],
    new: Mapping[str, Any],
    element: tuple[str, str, Any],
    values: Any,
    covers: Any,
    overlaps: Any,
) -> bool:
    """Does the existing statement's element (X or NotX) allow at least what the new one's does? `element` is
    (X, NotX, the value standing for everything); an existing statement without either limits nothing only for
    Resource (a trust policy's statements name none), and for Principal / Action grants nothing."""
    positive, negative, everything = element
    if positive in existing:
        mine = values(existing[positive])
        if positive in new:
            return all(any(covers(e, n) for e in mine) for n in values(new[positive]))
        return any(covers(e, everything) for e in mine)  # the new one has NotX or neither: only "*" covers it
    if negative in existing:
        excluded = values(existing[negative])
        if negative in new:
            return bool(excluded <= values(new[negative]))  # more exclusions: narrower
        if positive in new:
            return not any(overlaps(e, n) for e in excluded for n in values(new[positive]))
        return False
    if positive == "Resource":
        return True
    return positive not in new and negative not in new


def _conditions(statement: Mapping[str, Any]) -> set[tuple[str, str, tuple[str, ...]]]:
    return {(op, key, tuple(sorted(values))) for op, key, values in _condition_items(statement.get("Condition"))}


def _allow_covers(existing: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    if existing.get("Effect") != "Allow":
        return False
    if _without_sid(existing) == _without_sid(new):
        return True

    def strings(value: Any) -> set[str]:
        return {str(v) for v in _as_list(value)}

    def lower(value: Any) -> set[str]:
        return {str(v).lower() for v in _as_list(value)}

    def principal_overlaps(a: tuple[str, str], b: tuple[str, str]) -> bool:
        return a == b or a == ("AWS", "*") or b == ("AWS", "*")

    checks = (
        (("Principal", "NotPrincipal", ("AWS", "*")), _principals, _principal_covers, principal_overlaps),
        (("Action", "NotAction", "*"), lower, glob_covers, may_overlap),
        (("Resource", "NotResource", "*"), strings, glob_covers, may_overlap),
    )
    for element, values, covers, overlaps in checks:
        if not _dimension_covered(existing, new, element, values, covers, overlaps):
            return False
    return _conditions(existing) <= _conditions(new)  # every existing condition still applies (more narrow it)


# Condition operators that match when the key matches ANY of the values: on a Deny, more values deny more.
_ANY_OF_OPERATORS = frozenset(
    {"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike"}
    | {f"{op}IfExists" for op in ("StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike")}
)


def _deny_covers(new: Mapping[str, Any], existing: Mapping[str, Any]) -> bool:
    """Does the new Deny deny at least what the existing one denied (so that the existing one may go)? The same
    statement (Sid aside), or one whose Principal, Action and Resource each cover the existing one's and each of
    whose Condition entries the existing one has too, with the same values, or (an any-of operator) with a subset of
    its values: a Deny the tool widened by one more principal still denies everything it did."""
    if new.get("Effect") != "Deny":
        return False
    if _without_sid(new) == _without_sid(existing):
        return True

    def strings(value: Any) -> set[str]:
        return {str(v) for v in _as_list(value)}

    def lower(value: Any) -> set[str]:
        return {str(v).lower() for v in _as_list(value)}

    def principal_overlaps(a: tuple[str, str], b: tuple[str, str]) -> bool:
        return a == b or a == ("AWS", "*") or b == ("AWS", "*")

    checks = (
        (("Principal", "NotPrincipal", ("AWS", "*")), _principals, _principal_covers, principal_overlaps),
        (("Action", "NotAction", "*"), lower, glob_covers, may_overlap),
        (("Resource", "NotResource", "*"), strings, glob_covers, may_overlap),
    )
    for element, values, covers, overlaps in checks:
        if not _dimension_covered(new, existing, element, values, covers, overlaps):
            return False
    had = _conditions(existing)
    for op, key, wanted in _conditions(new):
        if (op, key, wanted) in had:
            continue
        if op not in _ANY_OF_OPERATORS or not any((o, k) == (op, key) and set(v) <= set(wanted) for o, k, v in had):
            return False
    return True


def check_no_new_access(new_text: str, existing_text: str, policy_type: str) -> dict[str, Any]:
    """CheckNoNewAccess's answer: ``{"result", "message", "reasons"}`` (see the module docstring)."""
    new = parse_document(new_text, "newPolicyDocument")
    existing = parse_document(existing_text, "existingPolicyDocument")
    reasons: list[dict[str, Any]] = []
    if new.version != existing.version:
        reasons.append(_reason(f"The policy Version changed from {existing.version} to {new.version}."))
    new_denies = [s for s in new.statements if s.get("Effect") == "Deny"]
    for index, statement in enumerate(existing.statements):
        if statement.get("Effect") == "Deny" and not any(_deny_covers(d, statement) for d in new_denies):
            name = f" ({statement['Sid']})" if statement.get("Sid") else ""
            reasons.append(
                _reason(f"Deny statement {index}{name} of the existing policy is not in the new policy unchanged.")
            )
    existing_allows = [s for s in existing.statements if s.get("Effect") == "Allow"]
    for index, statement in enumerate(new.statements):
        if statement.get("Effect") != "Allow":
            continue
        if not any(_allow_covers(e, statement) for e in existing_allows):
            reasons.append(
                _reason(
                    f"Statement {index} may allow access ({policy_type}) that no statement of the existing policy"
                    " allows.",
                    index,
                    statement,
                )
            )
    if reasons:
        return {
            "result": FAIL,
            "message": "The modified permissions grant new access compared to your existing policy.",
            "reasons": reasons,
        }
    return {
        "result": PASS,
        "message": "The modified permissions do not grant new access compared to your existing policy.",
        "reasons": [],
    }


# ====================================================================================== CheckNoPublicAccess
_ZONE_ACCOUNT_KEYS = frozenset(
    {"aws:principalaccount", "aws:sourceaccount", "aws:sourceowner", "kms:calleraccount", "aws:resourceaccount"}
)
_ZONE_ARN_KEYS = frozenset({"aws:principalarn", "aws:sourcearn"})
_ZONE_ORG_KEYS = frozenset({"aws:principalorgid", "aws:sourceorgid"})


def _named_zone(statements: Iterable[Mapping[str, Any]]) -> TrustZone:
    """Every account and (when there is exactly one) the organization the document's conditions name."""
    accounts: set[str] = set()
    organizations: set[str] = set()
    for statement in statements:
        for _, key, values in _condition_items(statement.get("Condition")):
            for value in values:
                if key in _ZONE_ACCOUNT_KEYS and _ACCOUNT_RE.match(value):
                    accounts.add(value)
                elif key in _ZONE_ARN_KEYS:
                    parts = value.split(":")
                    if len(parts) >= 6 and parts[0] == "arn" and _ACCOUNT_RE.match(parts[4]):
                        accounts.add(parts[4])
                elif key in _ZONE_ORG_KEYS and "*" not in value and "?" not in value:
                    organizations.add(value)
    organization = next(iter(organizations)) if len(organizations) == 1 else None
    return TrustZone(frozenset(accounts), organization)


def _scopes(statements: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """The Allows' own Resource patterns (``*`` for an Allow without Resource, or with NotResource)."""
    scopes: set[str] = set()
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        if "Resource" in statement:
            scopes.update(str(p) for p in _as_list(statement["Resource"]))
        else:
            scopes.add("*")
    return tuple(sorted(scopes)) or ("*",)


def _public(statements: Sequence[Mapping[str, Any]], resource_type: str, zone: TrustZone) -> bool:
    """Does the stand-in's analysis of the type find access to ``*`` in these statements?"""
    if resource_type == TRUST_POLICY:
        access = compute_role_access({"Statement": list(statements)}, zone)
        return any(a.is_public for a in access.values())
    service = SERVICE_OF_TYPE[resource_type]
    scopes = _scopes(statements)
    if resource_type == _kms_key.RESOURCE_TYPE:
        granted = allow_grants(statements, zone, service, scopes, _kms_key._caller_account_in_zone)
        left = remaining_access(granted, denies_of(statements), zone)
    elif resource_type == _lambda_function.FUNCTION_TYPE:
        state = PolicyState("", "", {"Statement": list(statements)}, scopes)
        return any(a.is_public for a in _lambda_function.compute_access(state, zone).values())
    else:
        granted = lower_prefix(allow_grants(statements, zone, service, scopes, limited_to_zone()), service)
        left = remaining_access(granted, denies_of(statements), zone)
    return any(kind == "AWS" and value == "*" for kind, value in left)


def check_no_public_access(text: str, resource_type: str) -> dict[str, Any]:
    """CheckNoPublicAccess's answer: ``{"result", "message", "reasons"}`` (see the module docstring)."""
    if resource_type not in SERVICE_OF_TYPE:
        raise PolicyDocumentError(f"resourceType {resource_type} is not supported")
    policy = parse_document(text, "policyDocument")
    zone = _named_zone(policy.statements)
    denies = denies_of(policy.statements)
    reasons: list[dict[str, Any]] = []
    for index, statement in enumerate(policy.statements):
        if statement.get("Effect") != "Allow":
            continue
        federated_open = not statement.get("Condition") and any(
            kind == "Federated" for kind, _ in _principal_entries(statement.get("Principal"))
        )
        if federated_open or _public([statement, *denies], resource_type, zone):
            reasons.append(
                _reason(f"Statement {index} may grant public access to the {resource_type}.", index, statement)
            )
    if reasons:
        message = f"The policy might grant public access to the {resource_type}."
        return {"result": FAIL, "message": message, "reasons": reasons}
    message = f"The policy does not grant public access to the {resource_type}."
    return {"result": PASS, "message": message, "reasons": []}


__all__ = [
    "MAX_DOCUMENT_CHARS",
    "SERVICE_OF_TYPE",
    "PolicyDocumentError",
    "check_no_new_access",
    "check_no_public_access",
    "glob_covers",
    "parse_document",
    "validate_policy",
]
