"""Properties the adapters that hold no Deny keep (Lambda functions and layer versions, EBS and RDS snapshots), over
generated policies, sharing attributes and findings: the change only removes (never an add call), only what grants
the finding's principal, never the zone of trust, an allowlisted principal or an AWS service; it is idempotent (once
applied, the same finding plans no further change); its undo re-creates exactly what was removed."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from access_analyzer_remediation.findings import (
    EBS_SNAPSHOT,
    LAMBDA_FUNCTION,
    LAMBDA_LAYER_VERSION,
    RDS_CLUSTER_SNAPSHOT,
    RDS_DB_SNAPSHOT,
    Finding,
)
from access_analyzer_remediation.planner import Plan
from access_analyzer_remediation.policy import POLICY_VERSION
from access_analyzer_remediation.resources.ebs_snapshot import SharingState, plan_ebs_snapshot
from access_analyzer_remediation.resources.lambda_function import (
    FUNCTION,
    LambdaFunctionAdapter,
    PermissionState,
    plan_function,
    same_statement,
)
from access_analyzer_remediation.resources.lambda_layer_version import (
    LAYER_VERSION,
    LambdaLayerVersionAdapter,
    plan_layer_version,
)
from access_analyzer_remediation.resources.rds_snapshot import plan_cluster_snapshot, plan_db_snapshot

from .conftest import ANALYZER, OWNER, make_settings, resource_finding

EXTERNAL = "999988887777"
OTHER = "210987654321"
TRUSTED = "222233334444"
ALLOWED_ACCOUNT = "555566667777"
ALLOWED_ROLE = "arn:aws:iam::444455556666:role/Auditor"
ZONE = {OWNER, TRUSTED, ALLOWED_ACCOUNT}
SETTINGS = make_settings(
    trusted_account_ids=frozenset({TRUSTED}),
    trusted_org_id="o-abcdefghij",
    allowed_principals=(ALLOWED_ACCOUNT, ALLOWED_ROLE),
)
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:{OWNER}:function:orders"
LAYER_VERSION_ARN = f"arn:aws:lambda:us-east-1:{OWNER}:layer:shared-libs:3"
SNAPSHOT_ARNS = {
    EBS_SNAPSHOT: "arn:aws:ec2:us-east-1::snapshot/snap-0123456789abcdef0",
    RDS_DB_SNAPSHOT: f"arn:aws:rds:us-east-1:{OWNER}:snapshot:orders-final",
    RDS_CLUSTER_SNAPSHOT: f"arn:aws:rds:us-east-1:{OWNER}:cluster-snapshot:orders-weekly",
}
SNAPSHOT_PLANS = {
    EBS_SNAPSHOT: plan_ebs_snapshot,
    RDS_DB_SNAPSHOT: plan_db_snapshot,
    RDS_CLUSTER_SNAPSHOT: plan_cluster_snapshot,
}
SNAPSHOT_ACTIONS = {
    EBS_SNAPSHOT: "ec2:CreateVolume",
    RDS_DB_SNAPSHOT: "rds:RestoreDBInstanceFromDBSnapshot",
    RDS_CLUSTER_SNAPSHOT: "rds:RestoreDBClusterFromSnapshot",
}
ACCOUNTS = [EXTERNAL, OTHER, TRUSTED, ALLOWED_ACCOUNT, OWNER]


# ================================================================================================ Lambda permissions
def _aws_principal(value: str) -> dict[str, str] | str:
    if value == "*":
        return "*"
    return {"AWS": value if value.startswith("arn:") else f"arn:aws:iam::{value}:root"}


@st.composite
def permission_statements(draw: st.DrawFn, layer: bool) -> dict[str, Any]:
    """A statement as GetPolicy / GetLayerVersionPolicy returns it: an account, an IAM role, everyone or (functions)
    a service with its source pinned to the owner account."""
    kinds = ["account", "role", "public"] + ([] if layer else ["service"])
    kind = draw(st.sampled_from(kinds))
    action = (
        "lambda:GetLayerVersion" if layer else draw(st.sampled_from(["lambda:InvokeFunction", "lambda:GetFunction"]))
    )
    statement: dict[str, Any] = {"Effect": "Allow", "Action": action}
    if kind == "account":
        statement["Principal"] = _aws_principal(draw(st.sampled_from(ACCOUNTS)))
    elif kind == "role":
        statement["Principal"] = {"AWS": draw(st.sampled_from([ALLOWED_ROLE, f"arn:aws:iam::{EXTERNAL}:role/Reader"]))}
    elif kind == "public":
        statement["Principal"] = "*"
    else:
        statement["Principal"] = {"Service": "s3.amazonaws.com"}
        statement["Condition"] = {"StringEquals": {"AWS:SourceAccount": OWNER}}
    return statement


def _finding_principal(principal: dict[str, str] | str) -> str:
    """The finding's principal for a statement's: an account root as the account id, as Access Analyzer names it."""
    if principal == "*" or isinstance(principal, str):
        return "*"
    value = principal["AWS"]
    return value.split(":")[4] if value.endswith(":root") else value


@st.composite
def permission_cases(draw: st.DrawFn) -> tuple[bool, dict[str, Any], list[Finding]]:
    layer = draw(st.booleans())
    body = draw(st.lists(permission_statements(layer), min_size=1, max_size=5))
    arn = LAYER_VERSION_ARN if layer else FUNCTION_ARN
    for number, statement in enumerate(body):
        statement["Sid"] = f"s{number}"
        statement["Resource"] = arn
    # Mostly a principal the statements name (as the analyzer would report it), sometimes any other.
    named = [_finding_principal(s["Principal"]) for s in body if "Service" not in s["Principal"]] or ["*"]
    anyone = [*ACCOUNTS, "*", f"arn:aws:iam::{EXTERNAL}:role/Reader", ALLOWED_ROLE]
    principals = draw(st.lists(st.one_of(st.sampled_from(named), st.sampled_from(anyone)), min_size=1))
    kind = LAMBDA_LAYER_VERSION if layer else LAMBDA_FUNCTION
    findings = [
        resource_finding(
            kind,
            arn,
            {"AWS": p},
            ANALYZER,
            OWNER,
            action=[str(body[0]["Action"])],
            isPublic=p == "*",
            id=f"f-{n}",
        )
        for n, p in enumerate(principals[:3])
    ]
    return layer, {"Version": POLICY_VERSION, "Id": "default", "Statement": body}, findings


def _plan_permissions(layer: bool, policy: dict[str, Any], finding: Finding) -> Plan:
    arn = LAYER_VERSION_ARN if layer else FUNCTION_ARN
    state = PermissionState(arn, arn.split(":", 6)[6], {}, policy, "rev-1")
    return (plan_layer_version if layer else plan_function)(finding, state, SETTINGS)


def _in_zone(statement: dict[str, Any]) -> bool:
    principal = statement["Principal"]
    if not isinstance(principal, dict) or "Service" in principal:
        return "Service" in principal if isinstance(principal, dict) else False
    value = str(principal["AWS"])
    return value == ALLOWED_ROLE or any(f"::{account}:" in value for account in ZONE)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(permission_cases())
def test_a_permission_removal_takes_only_external_grants_is_idempotent_and_its_undo_re_adds_exactly(
    case: tuple[bool, dict[str, Any], list[Finding]],
) -> None:
    layer, policy, findings = case
    grammar = LAYER_VERSION if layer else FUNCTION
    adapter: Any = LambdaLayerVersionAdapter(None) if layer else LambdaFunctionAdapter(None)  # type: ignore[arg-type]
    ref = adapter.ref(LAYER_VERSION_ARN if layer else FUNCTION_ARN, OWNER)
    current = policy
    for finding in findings:
        plan = _plan_permissions(layer, current, finding)
        event(f"{'layer' if layer else 'function'}: {plan.decision} {plan.reason}")
        if plan.decision != "remediate":
            assert plan.side_changes == () or plan.decision == "notify"
            continue
        assert plan.policy_after == current  # nothing written whole
        for change in plan.side_changes:
            assert change.do["api"] == grammar.remove_api  # only ever a removal
            assert change.undo["api"] == grammar.add_api
            sid = change.do["params"]["StatementId"]
            [removed] = [s for s in current["Statement"] if s["Sid"] == sid]
            assert not _in_zone(removed), removed  # never the zone, the allowlist or a service
            re_added = grammar.rendered(change.undo["params"], ref)
            assert same_statement(re_added, removed), (re_added, removed)  # the undo writes it again exactly
            current = {**current, "Statement": [s for s in current["Statement"] if s["Sid"] != sid]}
        again = _plan_permissions(layer, current, finding)
        assert again.decision != "remediate" or again.side_changes == (), again  # idempotent
    kept = {s["Sid"] for s in current["Statement"]}
    assert all(s["Sid"] in kept for s in policy["Statement"] if _in_zone(s))


# ================================================================================================ snapshot sharing
@st.composite
def sharing_cases(draw: st.DrawFn) -> tuple[str, tuple[str, ...], list[Finding]]:
    kind = draw(st.sampled_from(sorted(SNAPSHOT_ARNS)))
    shared = tuple(draw(st.lists(st.sampled_from([*ACCOUNTS[:-1], "all"]), min_size=1, max_size=5, unique=True)))
    accounts = draw(st.lists(st.sampled_from([*ACCOUNTS[:-1], "all"]), min_size=1, max_size=3))
    findings = [
        resource_finding(
            kind,
            SNAPSHOT_ARNS[kind],
            {"AWS": "*" if a == "all" else a},
            ANALYZER,
            OWNER,
            action=[SNAPSHOT_ACTIONS[kind]],
            isPublic=a == "all",
            id=f"f-{n}",
        )
        for n, a in enumerate(accounts)
    ]
    return kind, shared, findings


def _removed_values(kind: str, params: dict[str, Any]) -> list[str]:
    if kind == EBS_SNAPSHOT:
        return [*params.get("UserIds", []), *params.get("GroupNames", [])]
    return list(params["ValuesToRemove"])


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sharing_cases())
def test_a_sharing_removal_takes_only_the_findings_value_is_idempotent_and_its_undo_adds_it_back(
    case: tuple[str, tuple[str, ...], list[Finding]],
) -> None:
    kind, shared, findings = case
    arn = SNAPSHOT_ARNS[kind]
    current = shared
    for finding in findings:
        state = SharingState(arn, arn.rsplit("/" if kind == EBS_SNAPSHOT else ":", 1)[1], {}, current)
        plan = SNAPSHOT_PLANS[kind](finding, state, SETTINGS)
        event(f"{kind}: {plan.decision} {plan.reason}")
        if plan.decision != "remediate":
            continue
        wanted = "all" if finding.principal.get("AWS") == "*" else finding.principal["AWS"]
        for change in plan.side_changes:
            values = _removed_values(kind, change.do["params"])
            assert values == [wanted] and wanted in current, (values, current)  # exactly the finding's entry
            assert wanted not in ZONE  # never the zone of trust or an allowlisted account
            if kind == EBS_SNAPSHOT:
                assert change.do["params"]["OperationType"] == "remove"
                assert change.undo["params"] == {**change.do["params"], "OperationType": "add"}
            else:
                undo = change.undo["params"]
                assert undo["ValuesToAdd"] == [wanted] and "ValuesToRemove" not in undo
            current = tuple(v for v in current if v != wanted)
        again = SNAPSHOT_PLANS[kind](finding, SharingState(arn, state.name, {}, current), SETTINGS)
        assert again.decision != "remediate", again  # idempotent
    assert {v for v in shared if v in ZONE} <= set(current)
