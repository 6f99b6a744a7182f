"""Hostile input: generated events, principals, trust policies and settings against the parser, the planner and the
real handler (in a worker process, against the serialising moto server and the Access Analyzer stand-ins).

The handler's exception contract (what may escape `access_analyzer_remediation.handler`):

- at import (cold start): `SettingsError`, for a missing or invalid AAR_* variable; nothing else
  (`test_settings_from_any_environment_accept_or_raise_settings_error`);
- an SQS batch as the event source mapping sends it (``{"Records": [...]}``, 1 to 10 records, each with a string
  ``messageId`` and a string ``body``): never raises, whatever the bodies hold. A malformed body is reported once (the
  "malformed event dropped" warning) and acknowledged; a well-formed event that GetFinding does not confirm (unknown
  analyzer, unknown finding, finding not ACTIVE, another resource or resource type, an error finding) is skipped and
  acknowledged; neither is ever in batchItemFailures, so neither is retried
  (`test_hostile_sqs_batches_are_acknowledged_and_change_nothing`);
- a direct (EventBridge -> Lambda) event: raises `RecordFailed` only when a well-formed event could not be processed
  because of AWS trouble, so that Lambda retries it; any other JSON value, malformed or forged, returns
  ``{"processed": 0 or 1, "failed": 0}`` (`test_hostile_direct_events_return_and_change_nothing`);
- an event with a "Records" key that is not an SQS batch (the event source mapping never sends one; only a
  principal allowed by the function's resource policy could): it raises, which Lambda turns into two retries and then
  drops: `UnexpectedBatch` (not a non-empty list of records, each with a string messageId), before anything is read
  or changed (`test_non_sqs_records_envelopes_raise_only_the_documented_errors`).

Examples per run: each property asserts that it ran its own `max_examples` (counted by the test body itself, see
`run_counted`); together 8,900 examples, printed in pytest's terminal summary. tests/unit/test_properties.py adds
2 x 1,500, for 11,900 per run of the property suite. (The properties run inside
ordinary test functions, so that each can check its count: `--hypothesis-show-statistics` does not list them.) With
CI set, the "ci" profile (tests/conftest.py) derandomises every property.
"""

from __future__ import annotations

import copy
import json
import re
import string
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from access_analyzer_remediation import planner
from access_analyzer_remediation.findings import (
    ACTION_RE,
    FINDING_ID_RE,
    IAM_ROLE,
    RESOURCE_TYPE_RE,
    Finding,
    FindingRef,
    Ignored,
    MalformedEvent,
    RoleRef,
    parse_event,
)
from access_analyzer_remediation.policy import (
    ACCOUNT,
    FEDERATED,
    KINDS,
    PRINCIPAL,
    PUBLIC,
    SID_PREFIX,
    DenyTarget,
    classify_principal,
    compact,
    covering,
    sid_for,
    statements,
)
from access_analyzer_remediation.settings import ANALYZER_ARN_RE, Settings, SettingsError
from sandbox.access_analyzer import AccessAnalyzerStandIn, build_finding_event
from tests.load.harness import ACCOUNT as OWNER
from tests.load.harness import (
    BatchResult,
    HandlerPool,
    handler_env,
    sqs_event,
    stand_in_endpoints,
)
from tests.load.serial_moto import SerialMotoServer
from tests.unit.conftest import Aws, make_aws

EVENTS = Path(__file__).resolve().parents[1] / "events"
EXAMPLES: Counter[str] = Counter()  # property -> examples that ran to the end (printed by tests/load/conftest.py)
PURE = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
THROUGH_HANDLER = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def run_counted(name: str, test: Callable[[], None], minimum: int) -> None:
    """Run a hypothesis test and check that it really ran `minimum` examples (each example counts itself)."""
    before = EXAMPLES[name]
    test()
    ran = EXAMPLES[name] - before
    assert ran >= minimum, f"{name}: only {ran} examples ran, want {minimum}"


# ==================================================================================================== strategies
huge = st.integers(2_000, 120_000).map(lambda n: "A" * n)
unicode_text = st.text(
    alphabet=st.characters(codec=None, exclude_categories=()),  # every code point, lone surrogates included
    max_size=60,
)
hostile_text = st.one_of(
    st.text(max_size=30),
    unicode_text,
    huge,
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "\ud800",
            "*",
            "sts:*",
            "arn:aws:iam::999988887777:root\n",
            " arn:aws:iam::999988887777:role/x ",
            "arn:aws:iam::123456789012:role/../../admin",
            "arn:aws:iam::12345678901:role/short-account",
            "\uff21\uff37\uff33",  # fullwidth "AWS"
            "🙂",
            "null",
            "AccessAnalyzerDenyAccount00000000",
        ]
    ),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(hostile_text, children, max_size=4),
    max_leaves=12,
)

accounts = st.from_regex(r"\d{12}", fullmatch=True)
partitions = st.sampled_from(["aws", "aws-cn", "aws-us-gov"])
role_path = st.lists(st.from_regex(r"[A-Za-z0-9_+=,.@-]{1,12}", fullmatch=True), max_size=3).map(
    lambda parts: "".join(f"{p}/" for p in parts)
)
aws_principal_values = st.one_of(
    accounts,
    st.builds(lambda p, a: f"arn:{p}:iam::{a}:root", partitions, accounts),
    st.builds(
        lambda p, a, kind, path, name: f"arn:{p}:iam::{a}:{kind}/{path}{name}",
        partitions,
        accounts,
        st.sampled_from(["user", "role"]),
        role_path,
        st.from_regex(r"[A-Za-z0-9_+=,.@-]{1,20}", fullmatch=True),
    ),
    st.builds(
        lambda a, r, s: f"arn:aws:sts::{a}:assumed-role/{r}/{s}",
        accounts,
        st.text(string.ascii_letters, min_size=1, max_size=10),
        st.text(string.ascii_letters, min_size=1, max_size=10),
    ),
    st.from_regex(r"(AROA|AIDA)[A-Z0-9]{16}", fullmatch=True),
    st.just("*"),
    hostile_text,
)
federated_values = st.one_of(
    st.sampled_from(
        [
            "cognito-identity.amazonaws.com",
            "accounts.google.com",
            "graph.facebook.com",
            "www.amazon.com",
            "arn:aws:iam::999988887777:saml-provider/Okta",
            "arn:aws:iam::999988887777:oidc-provider/token.actions.githubusercontent.com",
            "*",
        ]
    ),
    hostile_text,
)
principal_keys = st.one_of(st.sampled_from(["AWS", "Federated", "Service", "CanonicalUser"]), hostile_text)
principal_maps = st.dictionaries(
    principal_keys,
    st.one_of(aws_principal_values, federated_values, st.sampled_from(["ec2.amazonaws.com", "79a59df900b9"])),
    max_size=4,
)
principals = st.one_of(principal_maps, json_values)  # every shape, including the ones that are not a map at all
assume_actions = st.sampled_from(["sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML"])
action_lists = st.lists(
    st.one_of(assume_actions, st.sampled_from(["sts:TagSession", "sts:SetSourceIdentity", "sts:*", "*"])),
    min_size=1,
    max_size=4,
)


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


SAMPLE_EVENTS = [load_event(path.name) for path in sorted(EVENTS.glob("*.json"))]


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> Any:
    """`base` with 1 to 4 hostile edits: a field removed, retyped, made huge or unicode, or an extra one added."""
    event: Any = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 4))):
        paths = list(_paths(event))
        if not paths:
            break
        container, key = draw(st.sampled_from(paths))
        edit = draw(st.sampled_from(["delete", "retype", "text", "extra", "principal"]))
        if edit == "delete" and isinstance(container, dict):
            del container[key]
        elif edit == "extra" and isinstance(container, dict):
            container[draw(hostile_text)] = draw(json_values)
        elif edit == "principal":
            target = event.get("detail") if isinstance(event, dict) else None
            if isinstance(target, dict):
                target["principal"] = draw(principals)
        else:
            container[key] = draw(hostile_text if edit == "text" else json_values)
    return event


def _paths(value: Any) -> Iterator[tuple[Any, Any]]:
    """(container, key) for every value nested in dicts and lists."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield value, key
            yield from _paths(item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield value, index
            yield from _paths(item)


# ==================================================================================================== parse_event
IGNORED_REASONS = {"not_external_access", "error_finding", "deleted", "not_active", "unsupported_resource_type"}


def check_parsed(event: Any) -> FindingRef | Ignored | None:
    """parse_event's contract: a FindingRef that is fully valid, an Ignored with a known reason, or MalformedEvent."""
    try:
        parsed = parse_event(event)
    except MalformedEvent:
        return None
    if isinstance(parsed, Ignored):
        assert parsed.reason in IGNORED_REASONS
        assert parsed.finding_id is None or FINDING_ID_RE.match(parsed.finding_id)
        return parsed
    assert isinstance(parsed, FindingRef)
    assert ANALYZER_ARN_RE.match(parsed.analyzer_arn)
    assert FINDING_ID_RE.match(parsed.finding_id)
    claim = parsed.claim
    assert claim is not None and claim.id == parsed.finding_id and claim.status == "ACTIVE"
    assert RESOURCE_TYPE_RE.match(claim.resource_type)
    assert claim.resource.account_id == claim.resource_owner_account
    if claim.resource_type == IAM_ROLE:
        assert RoleRef.parse(claim.resource_arn).account_id == claim.resource_owner_account
    assert claim.principal and all(isinstance(k, str) and isinstance(v, str) for k, v in claim.principal.items())
    assert claim.actions and all(ACTION_RE.match(action) for action in claim.actions)
    return parsed


@settings(PURE, max_examples=2500)
@given(st.sampled_from(SAMPLE_EVENTS).flatmap(mutated))
def _parse_mutated_events(event: Any) -> None:
    check_parsed(event)
    EXAMPLES["parse_event, mutated sample events"] += 1


def test_parse_event_on_mutated_events_returns_a_valid_ref_or_raises_malformed_event_only() -> None:
    run_counted("parse_event, mutated sample events", _parse_mutated_events, 2500)


@settings(PURE, max_examples=1000)
@given(json_values)
def _parse_any_json(event: Any) -> None:
    check_parsed(event)
    check_parsed({"source": "aws.access-analyzer", "detail-type": "Access Analyzer Finding", "detail": event})
    EXAMPLES["parse_event, any JSON"] += 1


def test_parse_event_on_any_json_returns_a_valid_ref_or_raises_malformed_event_only() -> None:
    run_counted("parse_event, any JSON", _parse_any_json, 1000)


@settings(PURE, max_examples=1500)
@given(principals, action_lists)
def _principal_shapes(principal: Any, actions: list[str]) -> None:
    event = load_event("iam_role_active.json")
    event["detail"]["principal"] = principal
    event["detail"]["action"] = actions
    parsed = check_parsed(event)
    if isinstance(parsed, FindingRef):
        assert parsed.claim is not None
        targets, unsupported = classify_principal(parsed.claim.principal)
        assert len(targets) + len(unsupported) == len(parsed.claim.principal)
        for target in targets:
            assert target.kind in KINDS and target.value
            if target.kind == ACCOUNT:
                assert target.value.isdigit() and len(target.value) == 12
            elif target.kind == PUBLIC:
                assert target.value == "*"
            elif target.kind == FEDERATED:
                assert target.value != "*"
            else:
                assert target.value.startswith("arn:") and target.account_id is not None
    EXAMPLES["every principal shape"] += 1


def test_every_principal_shape_is_parsed_and_classified_without_error() -> None:
    run_counted("every principal shape", _principal_shapes, 1500)


# ==================================================================================================== planner
# The planner cares about structure, not spelling: fixed pools of every principal shape keep generation fast.
AWS_POOL = [
    "999988887777",
    "222233334444",  # in the zone of trust (PLANNER_SETTINGS)
    "444455556666",  # allowlisted
    OWNER,
    "arn:aws:iam::999988887777:root",
    "arn:aws-cn:iam::555566667777:root",
    "arn:aws:iam::999988887777:user/Alice",
    "arn:aws:iam::999988887777:role/team/ci/Deployer",
    "arn:aws:iam::777788889999:role/allowed-partner",
    f"arn:aws:iam::{OWNER}:role/Internal",
    "arn:aws:sts::999988887777:assumed-role/Ci/session-1",
    "arn:aws-us-gov:iam::555566667777:user/Bob",
    "AROA1234567890ABCDEFG",
    "AIDAABCDEFGHIJKLMNOP",
    "*",
    "arn:aws:iam::999988887777:saml-provider/Okta",
    "not-a-principal",
    " 999988887777 ",
]
FEDERATED_POOL = [
    "cognito-identity.amazonaws.com",
    "accounts.google.com",
    "arn:aws:iam::999988887777:saml-provider/Okta",
    "arn:aws:iam::999988887777:oidc-provider/token.actions.githubusercontent.com",
    "*",
]
pool_aws = st.sampled_from(AWS_POOL)
pool_federated = st.sampled_from(FEDERATED_POOL)
conditions = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(
            [
                "StringEquals",
                "StringLike",
                "StringNotEqualsIfExists",
                "ArnLike",
                "ArnNotLike",
                "Bool",
                "BoolIfExists",
                "ForAnyValue:StringLike",
                "Null",
            ]
        ),
        st.dictionaries(
            st.sampled_from(
                ["sts:ExternalId", "aws:PrincipalArn", "aws:PrincipalAccount", "aws:PrincipalOrgID", "aws:SourceIp"]
            ),
            st.one_of(pool_aws, st.lists(pool_aws, max_size=3), st.sampled_from(["true", "false", "o-abc123"])),
            min_size=1,
            max_size=2,
        ),
        min_size=1,
        max_size=2,
    ),
)
statement_principals = st.one_of(
    st.just("*"),
    st.fixed_dictionaries({"AWS": st.one_of(pool_aws, st.lists(pool_aws, min_size=1, max_size=4))}),
    st.fixed_dictionaries({"Federated": st.one_of(pool_federated, st.lists(pool_federated, min_size=1, max_size=3))}),
    st.fixed_dictionaries({"Service": st.sampled_from(["ec2.amazonaws.com", "lambda.amazonaws.com"])}),
    st.fixed_dictionaries({"AWS": st.lists(pool_aws, min_size=1, max_size=3), "Federated": pool_federated}),
)
tool_sids = st.builds(sid_for, st.sampled_from(KINDS), st.lists(assume_actions, min_size=1, max_size=2))


@st.composite
def trust_statements(draw: st.DrawFn) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": draw(st.sampled_from(["Allow", "Allow", "Deny"]))}
    sid = draw(st.one_of(st.none(), st.sampled_from(["Trust", "Sid1", "AccessAnalyzerDeny"]), tool_sids))
    if sid is not None:
        statement["Sid"] = sid  # a foreign statement may even squat on one of the tool's Sids
    statement["NotPrincipal" if draw(st.integers(0, 7)) == 0 else "Principal"] = draw(statement_principals)
    actions = draw(st.one_of(assume_actions, action_lists))
    statement["NotAction" if draw(st.integers(0, 9)) == 0 else "Action"] = actions
    condition = draw(conditions)
    if condition:
        statement["Condition"] = condition
    return statement


@st.composite
def trust_policies(draw: st.DrawFn) -> dict[str, Any]:
    body = draw(st.lists(trust_statements(), min_size=1, max_size=6))
    policy: dict[str, Any] = {"Statement": body[0] if len(body) == 1 and draw(st.booleans()) else body}
    if draw(st.booleans()):
        policy = {"Version": "2012-10-17", **policy}
    return policy


@st.composite
def findings(draw: st.DrawFn) -> Finding:
    """A finding as GetFinding returns it, with any principal shape, on a plain, pathed or protected role."""
    principal = draw(
        st.dictionaries(
            st.sampled_from(["AWS"] * 6 + ["Federated"] * 3 + ["Service", "CanonicalUser"]),
            st.one_of(pool_aws, pool_federated).map(str.strip),
            min_size=1,
            max_size=2,
        )
    )
    path = draw(st.sampled_from(["", "", "", "teams/ci/", "aws-service-role/ec2.amazonaws.com/"]))
    name = draw(
        st.sampled_from(["App"] * 4 + ["ci-deployer"] * 4 + ["stacksets-exec-1", "OrganizationAccountAccessRole"])
    )
    resource = f"arn:aws:iam::{OWNER}:role/{path}{name}"
    return Finding(
        id="f-1",
        analyzer_arn=f"arn:aws:access-analyzer:us-east-1:{OWNER}:analyzer/a",
        resource_type=IAM_ROLE,
        resource_arn=resource,
        status="ACTIVE",
        principal=principal,
        actions=tuple(sorted(set(draw(st.lists(assume_actions, min_size=1, max_size=3))))),
        condition={},
        is_public=principal.get("AWS") == "*",
        resource_owner_account=OWNER,
    )


PLANNER_SETTINGS = Settings(
    analyzer_arns=(f"arn:aws:access-analyzer:us-east-1:{OWNER}:analyzer/a",),
    audit_table_name="aar-audit",
    topic_arn=f"arn:aws:sns:us-east-1:{OWNER}:t",
    trusted_account_ids=frozenset({"222233334444"}),
    allowed_principals=("arn:aws:iam::*:role/allowed-*", "444455556666"),
)
assert "222233334444" in PLANNER_SETTINGS.trusted_account_ids


@settings(PURE, max_examples=2500)
@given(trust_policies(), findings(), st.sampled_from([2048, 4096]))
def _plan_hostile(policy: dict[str, Any], finding: Finding, quota: int) -> None:
    snapshot = copy.deepcopy(policy)
    config = replace(PLANNER_SETTINGS, trust_policy_max_chars=quota)
    role = planner.RoleState(finding.resource_arn, finding.role.path, {}, policy)
    plan = planner.plan_finding(finding, role, config)
    assert policy == snapshot, "the planner changed its input"
    assert plan.decision in {"remediate", "notify", "skip"} and plan.reason
    if plan.decision != "remediate":
        assert plan.policy_after is None
    else:
        assert plan.policy_after is not None and plan.added
        before, after = statements(policy), statements(plan.policy_after)
        assert len(after) >= len(before)
        for old, new in zip(before, after, strict=False):
            if old != new and not grown_tool_statement(old, new):
                raise AssertionError(f"an original statement changed: {old} -> {new}")
        added = after[len(before) :]
        assert all(s["Effect"] == "Deny" and str(s["Sid"]).startswith(SID_PREFIX) for s in added)
        assert len(compact(plan.policy_after)) <= quota
        zone = planner.zone_for(finding, config)
        for entry in plan.added:
            target = DenyTarget(entry.kind, entry.value)
            assert all(covering(plan.policy_after, target, action, zone) for action in entry.actions)
        again = planner.plan_finding(finding, planner.RoleState(role.arn, role.path, {}, plan.policy_after), config)
        assert again.decision != "remediate", "remediating twice added more"
    EXAMPLES["planner, hostile trust policies"] += 1


TOOL_SID = re.compile(rf"^{SID_PREFIX}({'|'.join(KINDS)})[0-9A-F]{{8}}$")
TOOL_FORM_KEYS = {
    ACCOUNT: ({"Sid", "Effect", "Principal", "Action"}, {"AWS"}),
    FEDERATED: ({"Sid", "Effect", "Principal", "Action"}, {"Federated"}),
    PRINCIPAL: ({"Sid", "Effect", "Principal", "Action", "Condition"}, {"AWS"}),
}


def _tool_values(statement: dict[str, Any], kind: str) -> Any:
    if kind == PRINCIPAL:
        return statement["Condition"]["ArnLike"]["aws:PrincipalArn"]
    return statement["Principal"]["AWS" if kind == ACCOUNT else "Federated"]


def grown_tool_statement(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """`new` is `old`, a statement in exactly the form this tool writes, with principal values appended: the one
    change the tool may make to an existing statement (policy.py: it grows its own principal lists)."""
    match = TOOL_SID.match(str(old.get("Sid", "")))
    if match is None or match.group(1) not in TOOL_FORM_KEYS or old.get("Effect") != "Deny":
        return False
    kind = match.group(1)
    keys, principal_keys = TOOL_FORM_KEYS[kind]
    if set(old) != keys or not isinstance(old["Principal"], dict) or set(old["Principal"]) != principal_keys:
        return False
    if kind == PRINCIPAL and (
        old["Principal"] != {"AWS": "*"}
        or not isinstance(old["Condition"], dict)
        or set(old["Condition"]) != {"ArnLike"}
        or set(old["Condition"]["ArnLike"]) != {"aws:PrincipalArn"}
    ):
        return False
    # IAM stores a one-item list as a plain string: the tool's statement read back that way is still its own, and
    # growing it writes the lists out again.
    before_values, after_values = _as_list(_tool_values(old, kind)), _tool_values(new, kind)
    if not isinstance(after_values, list) or after_values[: len(before_values)] != before_values:
        return False
    expected = copy.deepcopy(old)
    if kind == PRINCIPAL:
        expected["Condition"]["ArnLike"]["aws:PrincipalArn"] = after_values
    else:
        expected["Principal"] = {next(iter(principal_keys)): after_values}
    expected["Action"] = _as_list(expected["Action"])
    return bool(expected == new)


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def test_planner_on_hostile_trust_policies_never_raises_and_never_weakens() -> None:
    run_counted("planner, hostile trust policies", _plan_hostile, 2500)


# ==================================================================================================== settings
aar_variables = st.sampled_from(
    [
        "AAR_MODE",
        "AAR_ANALYZER_ARNS",
        "AAR_TRUSTED_ACCOUNT_IDS",
        "AAR_TRUSTED_ORG_ID",
        "AAR_PROTECTED_ROLE_PATTERNS",
        "AAR_OWN_ROLE_ARNS",
        "AAR_EXEMPTION_TAG_KEY",
        "AAR_ALLOWED_PRINCIPALS",
        "AAR_AUDIT_TABLE_NAME",
        "AAR_TOPIC_ARN",
        "AAR_TRUST_POLICY_MAX_CHARS",
        "AAR_AUDIT_RETENTION_DAYS",
        "AAR_LOCK_LEASE_SECONDS",
        "AAR_TRACING",
    ]
)
VALID_ENV = {
    "AAR_ANALYZER_ARNS": json.dumps([f"arn:aws:access-analyzer:us-east-1:{OWNER}:analyzer/a"]),
    "AAR_AUDIT_TABLE_NAME": "aar-audit",
    "AAR_TOPIC_ARN": f"arn:aws:sns:us-east-1:{OWNER}:t",
}
env_values = st.one_of(hostile_text, json_values.map(json.dumps), st.integers(-10, 20000).map(str))


@settings(PURE, max_examples=1000)
@given(st.dictionaries(aar_variables, env_values, max_size=5), st.booleans())
def _settings_env(overrides: dict[str, str], start_valid: bool) -> None:
    env = {**(VALID_ENV if start_valid else {}), **overrides}
    try:
        loaded = Settings.from_env(env)
    except SettingsError:
        EXAMPLES["settings from any environment"] += 1
        return
    assert loaded.analyzer_arns and all(ANALYZER_ARN_RE.match(arn) for arn in loaded.analyzer_arns)
    assert 2048 <= loaded.trust_policy_max_chars <= 10240 and 5 <= loaded.lock_lease_seconds <= 900
    assert loaded.mode in {"remediate", "notify"}
    EXAMPLES["settings from any environment"] += 1


def test_settings_from_any_environment_accept_or_raise_settings_error() -> None:
    run_counted("settings from any environment", _settings_env, 1000)


# ==================================================================================================== the handler
@dataclass
class HostileWorld:
    """Roles and findings that forged events point at; none of them may ever change."""

    aws: Aws
    pool: HandlerPool
    analyzer: str  # the configured analyzer (us-east-1)
    victim_arn: str
    bystander_arn: str
    active: list[dict[str, Any]]  # genuine ACTIVE findings on Victim: only a forged claim may name them
    inactive: list[dict[str, Any]]  # ARCHIVED / RESOLVED findings on Victim
    other_type: dict[str, Any]  # an ACTIVE S3 bucket finding
    errored: dict[str, Any]  # an error finding on Victim
    policies: dict[str, Any]
    iam: Any = None

    def role_policies(self) -> dict[str, Any]:
        if self.iam is None:
            self.iam = self.aws.client("iam")  # one client: creating one costs more than the calls
        return {name: self.iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] for name in self.policies}


@pytest.fixture(scope="module")
def hostile_world(
    serial_moto: SerialMotoServer, load_standins: dict[str, AccessAnalyzerStandIn]
) -> Iterator[HostileWorld]:
    aws = make_aws(serial_moto, load_standins)
    external = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": ["999988887777", "arn:aws:iam::222233334444:role/ci"]},
                "Action": "sts:AssumeRole",
            },
            {
                "Effect": "Allow",
                "Principal": {"Federated": "cognito-identity.amazonaws.com"},
                "Action": "sts:AssumeRoleWithWebIdentity",
            },
        ],
    }
    victim = aws.create_role("Victim", external, path="/apps/")
    bystander = aws.create_role(
        "Bystander",
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
        },
    )
    east = load_standins["us-east-1"]
    active = [f for f in aws.analyze("us-east-1") if f["resource"] == victim]
    inactive = [
        east.add_finding(resource=victim, status=status, principal={"AWS": "555566667777"}, publish=False)
        for status in ("ARCHIVED", "RESOLVED")
    ]
    other_type = east.add_finding(resource="arn:aws:s3:::victim-bucket", resource_type="AWS::S3::Bucket", publish=False)
    errored = east.add_finding(resource=victim, error="ACCESS_DENIED", publish=False)
    env = handler_env(aws, AAR_ANALYZER_ARNS=json.dumps([east.analyzer_arn]), AWS_MAX_ATTEMPTS="2")
    with HandlerPool(env, stand_in_endpoints(aws), workers=1) as pool:
        world = HostileWorld(aws, pool, east.analyzer_arn, victim, bystander, active, inactive, other_type, errored, {})
        world.policies = {"Victim": aws.policy("Victim"), "Bystander": aws.policy("Bystander")}
        yield world
    assert world.role_policies() == world.policies
    assert east.internal_errors == []


def forged_events(world: HostileWorld) -> st.SearchStrategy[dict[str, Any]]:
    """Well-formed events that GetFinding must not confirm: each names something that is not an ACTIVE finding on
    the resource it claims, or comes from an analyzer that is not configured."""

    def event(finding: dict[str, Any], analyzer: str | None = None, **detail: Any) -> dict[str, Any]:
        claimed = {
            **finding,
            "status": "ACTIVE",
            "resourceType": IAM_ROLE,
            "principal": {"AWS": "999988887777"},
            "action": ["sts:AssumeRole"],
            "error": None,  # the event claims a plain finding, whatever GetFinding will say
        }
        body = build_finding_event(claimed, analyzer or world.analyzer, "us-east-1", OWNER)
        body["detail"].update(detail)
        return body

    genuine = st.sampled_from(world.active)
    other_analyzers = st.builds(
        lambda region, account, name: f"arn:aws:access-analyzer:{region}:{account}:analyzer/{name}",
        st.sampled_from(["us-east-1", "eu-west-1", "ap-south-1"]),
        st.one_of(st.just(OWNER), accounts),
        st.from_regex(r"[A-Za-z0-9_.-]{1,30}", fullmatch=True),
    ).filter(lambda arn: arn != world.analyzer)
    role_arns = st.one_of(
        st.just(world.bystander_arn),
        st.builds(lambda a, path: f"arn:aws:iam::{a}:role/{path}Victim", accounts, role_path),
    ).filter(lambda arn: arn != world.victim_arn)
    return st.one_of(
        st.builds(event, genuine, other_analyzers),  # unknown analyzer
        st.builds(  # unknown finding id
            lambda f, fid: event({**f, "id": fid}),
            genuine,
            st.from_regex(FINDING_ID_RE, fullmatch=True).filter(lambda fid: fid not in {x["id"] for x in world.active}),
        ),
        st.builds(event, st.sampled_from(world.inactive)),  # GetFinding: not ACTIVE
        st.builds(  # another resource than the finding's
            lambda f, arn: event(f, resource=arn, accountId=arn.split(":")[4]), genuine, role_arns
        ),
        st.just(event({**world.other_type, "resource": world.victim_arn})),  # GetFinding: an S3 bucket
        st.just(event({**world.errored})),  # GetFinding: an error finding
    )


def hostile_bodies(world: HostileWorld) -> st.SearchStrategy[str]:
    forged = forged_events(world)
    return st.one_of(
        forged.map(json.dumps),
        forged.flatmap(mutated).map(json.dumps),
        json_values.map(json.dumps),
        hostile_text,  # not JSON at all (mostly)
        st.sampled_from(SAMPLE_EVENTS).flatmap(mutated).map(json.dumps),  # the samples' analyzer is not configured
    )


def _genuine(world: HostileWorld, body: str) -> bool:
    """True if a generated body happens to be a real claim (configured analyzer, ACTIVE finding, its resource)."""
    try:
        parsed = parse_event(json.loads(body))
    except (MalformedEvent, ValueError, TypeError, RecursionError):
        return False
    if not isinstance(parsed, FindingRef) or parsed.claim is None:
        return False
    return parsed.analyzer_arn == world.analyzer and any(
        f["id"] == parsed.finding_id and f["resource"] == parsed.claim.resource_arn for f in world.active
    )


def _malformed(body: str) -> bool:
    try:
        parse_event(json.loads(body))
    except (MalformedEvent, ValueError, TypeError):
        return True
    return False


def _unchanged(world: HostileWorld, result: BatchResult) -> None:
    assert result.error is None, result.error
    assert all(decision == "skip" for _, decision, _, _ in result.decisions), result.decisions
    assert not any(key.startswith("iam.UpdateAssumeRolePolicy") or key == "sns.Publish" for key in result.attempts)
    assert world.role_policies() == world.policies


def test_hostile_sqs_batches_are_acknowledged_and_change_nothing(hostile_world: HostileWorld) -> None:
    world = hostile_world

    @settings(THROUGH_HANDLER, max_examples=250)
    @given(st.lists(hostile_bodies(world), min_size=1, max_size=10))
    def batch(bodies: list[str]) -> None:
        assume(not any(_genuine(world, body) for body in bodies))
        records = [(f"m{index}", body, 1) for index, body in enumerate(bodies)]
        result = world.pool.submit(sqs_event(records), "hostile").result(timeout=120)
        _unchanged(world, result)
        assert result.response == {"batchItemFailures": []}, "a hostile record would be retried"
        malformed = sorted(mid for mid, body, _ in records if _malformed(body))
        assert sorted(result.malformed) == malformed, "each malformed record is reported exactly once"
        EXAMPLES["handler, hostile SQS batches"] += 1

    run_counted("handler, hostile SQS batches", batch, 250)


def test_hostile_direct_events_return_and_change_nothing(hostile_world: HostileWorld) -> None:
    world = hostile_world

    @settings(THROUGH_HANDLER, max_examples=150)
    @given(st.one_of(forged_events(world), forged_events(world).flatmap(mutated), json_values))
    def direct(event: Any) -> None:
        assume(not (isinstance(event, dict) and ("Records" in event or event.get("aar_action") == "sweep")))
        assume(not _genuine(world, json.dumps(event)))
        result = world.pool.submit(event, "hostile").result(timeout=120)
        _unchanged(world, result)
        assert result.response in ({"processed": 0, "failed": 0}, {"processed": 1, "failed": 0})
        EXAMPLES["handler, hostile direct events"] += 1

    run_counted("handler, hostile direct events", direct, 150)


@pytest.mark.parametrize(
    ("event", "error"),
    [
        ({"Records": []}, "UnexpectedBatch"),
        ({"Records": "x"}, "UnexpectedBatch"),
        ({"Records": {"a": 1}}, "UnexpectedBatch"),
        ({"Records": [1]}, "UnexpectedBatch"),
        ({"Records": None}, "UnexpectedBatch"),
        ({"Records": [{"body": "{}"}]}, "UnexpectedBatch"),
        ({"Records": [{"messageId": 7, "body": "{}"}]}, "UnexpectedBatch"),
        ({"Records": [{"messageId": "ok", "body": "{}"}, {"messageId": "", "body": "{}"}]}, "UnexpectedBatch"),
    ],
)
def test_non_sqs_records_envelopes_raise_only_the_documented_errors(
    hostile_world: HostileWorld, event: dict[str, Any], error: str
) -> None:
    result = hostile_world.pool.submit(event, "envelope").result(timeout=60)
    assert result.error is not None, result.response
    raised = result.error.split(":", 1)[0].rsplit(".", 1)[-1]  # "package.module.Class: message" -> "Class"
    assert raised == error, result.error
    assert hostile_world.role_policies() == hostile_world.policies


def test_the_genuine_event_is_the_control(hostile_world: HostileWorld) -> None:
    """The forged events above are near misses of this one, which the same handler does act on (last, as it
    changes Victim)."""
    world = hostile_world
    finding = world.active[0]
    body = json.dumps(build_finding_event(finding, world.analyzer, "us-east-1", OWNER))
    assert _genuine(world, body)
    result = world.pool.submit(sqs_event([("genuine", body, 1)]), "control").result(timeout=60)
    assert result.response == {"batchItemFailures": []}
    assert [d[1] for d in result.decisions] == ["remediate"]
    assert world.role_policies()["Victim"] != world.policies["Victim"]
    world.policies = world.role_policies()  # the fixture's final check: nothing else changed


@pytest.mark.parametrize(
    "foreign",
    [
        # Someone copied the tool's Sid onto their own statement.
        {"Sid": sid_for(ACCOUNT, ["sts:AssumeRole"]), "Effect": "Deny", "Principal": {"Service": "ec2.amazonaws.com"}},
        # Someone added a service to the tool's statement by hand.
        {
            "Sid": sid_for(ACCOUNT, ["sts:AssumeRole"]),
            "Effect": "Deny",
            "Principal": {"AWS": ["111111111111"], "Service": "ec2.amazonaws.com"},
        },
        # Someone narrowed the tool's principal Deny with a second condition.
        {
            "Sid": sid_for(PRINCIPAL, ["sts:AssumeRole"]),
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Condition": {
                "ArnLike": {"aws:PrincipalArn": ["arn:aws:iam::111111111111:role/x"]},
                "Bool": {"aws:MultiFactorAuthPresent": "false"},
            },
        },
    ],
    ids=["copied-sid", "service-added", "condition-added"],
)
def test_a_foreign_statement_holding_the_tools_sid_is_never_changed(foreign: dict[str, Any]) -> None:
    foreign = {**foreign, "Action": "sts:AssumeRole"}
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:role/x"}, "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"AWS": "999988887777"}, "Action": "sts:AssumeRole"},
            foreign,
        ],
    }
    principal = "999988887777" if "Condition" not in foreign else "arn:aws:iam::999988887777:role/x"
    finding = Finding(
        id="f-1",
        analyzer_arn=f"arn:aws:access-analyzer:us-east-1:{OWNER}:analyzer/a",
        resource_type=IAM_ROLE,
        resource_arn=f"arn:aws:iam::{OWNER}:role/App",
        status="ACTIVE",
        principal={"AWS": principal},
        actions=("sts:AssumeRole",),
        condition={},
        is_public=False,
        resource_owner_account=OWNER,
    )
    role = planner.RoleState(finding.resource_arn, "/", {}, policy)
    plan = planner.plan_finding(finding, role, PLANNER_SETTINGS)
    written = plan.policy_after or policy
    assert statements(written)[2] == foreign, f"{plan.decision}: {statements(written)[2]}"
