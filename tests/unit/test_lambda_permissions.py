"""Lambda functions and layer versions hold no Deny: the statement that grants the finding's principal is removed
(RemovePermission / RemoveLayerVersionPermission, conditional on the RevisionId) and a revert adds it back exactly
(AddPermission / AddLayerVersionPermission). The plans are pure; the engine paths run against moto with findings
put into the Access Analyzer stand-in."""

from __future__ import annotations

import io
import json
import shlex
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from access_analyzer_remediation.clients import AwsClients
from access_analyzer_remediation.engine import Remediator
from access_analyzer_remediation.findings import LAMBDA_FUNCTION, LAMBDA_LAYER_VERSION, Finding, FindingRef
from access_analyzer_remediation.planner import SideChange
from access_analyzer_remediation.policy import POLICY_VERSION
from access_analyzer_remediation.resources import lambda_function, registry
from access_analyzer_remediation.resources.lambda_function import (
    SERVES_ZONE_OF_TRUST,
    STATEMENT_NOT_RECREATABLE,
    STATEMENT_REMOVED,
    LambdaFunctionAdapter,
    PermissionState,
    plan_function,
    same_statement,
)
from access_analyzer_remediation.resources.lambda_layer_version import LambdaLayerVersionAdapter, plan_layer_version
from access_analyzer_remediation.revert import NothingToRevert, revert
from access_analyzer_remediation.settings import Settings

from .conftest import EVENTS, EXTERNAL, SANDBOX_ACCOUNT, Aws, resource_finding

REGION = "us-east-1"
ANALYZER = f"arn:aws:access-analyzer:{REGION}:{SANDBOX_ACCOUNT}:analyzer/aar"
SETTINGS = Settings(
    analyzer_arns=(ANALYZER,), audit_table_name="t", topic_arn=f"arn:aws:sns:{REGION}:{SANDBOX_ACCOUNT}:t"
)
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{SANDBOX_ACCOUNT}:function:orders"
ALIAS_ARN = f"{FUNCTION_ARN}:live"
LAYER_ARN = f"arn:aws:lambda:{REGION}:{SANDBOX_ACCOUNT}:layer:shared-libs"
LAYER_VERSION_ARN = f"{LAYER_ARN}:3"
ROOT = f"arn:aws:iam::{EXTERNAL}:root"
READER = f"arn:aws:iam::{EXTERNAL}:role/Reader"
OTHER = "210987654321"
ORG = "o-abcdefghij"
INVOKE = "lambda:InvokeFunction"


def _settings(**overrides: Any) -> Settings:
    return Settings(**{**SETTINGS.__dict__, **overrides})


def _statement(sid: str, principal: Any, action: Any = INVOKE, resource: str = FUNCTION_ARN, **condition: Any) -> Any:
    """A statement as Lambda's GetPolicy returns it; `condition` as {operator: {key: value}}."""
    statement = {"Sid": sid, "Effect": "Allow", "Principal": principal, "Action": action, "Resource": resource}
    return {**statement, "Condition": condition} if condition else statement


def _policy(*body: Any) -> dict[str, Any]:
    return {"Version": POLICY_VERSION, "Id": "default", "Statement": list(body)}


def _state(*body: Any, arn: str = FUNCTION_ARN, tags: dict[str, str] | None = None) -> PermissionState:
    return PermissionState(arn, arn.split(":", 6)[6], tags or {}, _policy(*body), "rev-1")


def _ref_of(arn: str) -> Any:
    return LambdaFunctionAdapter(None).ref(arn, SANDBOX_ACCOUNT)  # type: ignore[arg-type]  # never calls Lambda


def _finding(
    principal: dict[str, str], action: tuple[str, ...] = (INVOKE,), arn: str = FUNCTION_ARN, **extra: Any
) -> Finding:
    kind = LAMBDA_LAYER_VERSION if ":layer:" in arn else LAMBDA_FUNCTION
    return resource_finding(kind, arn, principal, ANALYZER, SANDBOX_ACCOUNT, action=list(action), **extra)


ACCOUNT_GRANT = _statement("partner", {"AWS": ROOT})
S3_GRANT = _statement(
    "s3-events",
    {"Service": "s3.amazonaws.com"},
    StringEquals={"AWS:SourceAccount": SANDBOX_ACCOUNT},
    ArnLike={"AWS:SourceArn": "arn:aws:s3:::orders-inbox"},
)
URL_GRANT = _statement(
    "FunctionURLAllowPublicAccess",
    "*",
    "lambda:InvokeFunctionUrl",
    StringEquals={"lambda:FunctionUrlAuthType": "NONE"},
)
URL_INVOKE_GRANT = _statement(
    "FunctionURLAllowInvokeAction", "*", INVOKE, Bool={"lambda:InvokedViaFunctionUrl": "true"}
)


# -- the plan: what is removed, with its exact undo ----------------------------------------------------------------
def test_an_account_grant_is_removed_with_the_planned_revision_and_its_undo_adds_it_back_exactly() -> None:
    snapshot = _state(S3_GRANT, ACCOUNT_GRANT)
    plan = plan_function(_finding({"AWS": EXTERNAL}), snapshot, SETTINGS)
    assert (plan.decision, plan.reason, plan.added) == ("remediate", STATEMENT_REMOVED, ())
    assert plan.policy_after == snapshot.policy  # nothing is written whole: the removal is the side change
    [change] = plan.side_changes
    assert change.key == "lambda:statement:partner"
    assert change.do == {
        "api": "lambda:RemovePermission",
        "params": {"FunctionName": "orders", "StatementId": "partner", "RevisionId": "rev-1"},
    }
    assert change.undo == {
        "api": "lambda:AddPermission",
        "params": {"FunctionName": "orders", "StatementId": "partner", "Action": INVOKE, "Principal": ROOT},
    }
    assert change.summary == f"removed statement partner ({ROOT}: {INVOKE}) from the function policy of function orders"
    assert "AddPermission with the same statement id" in change.undo_summary
    assert SideChange.from_json(json.loads(json.dumps(change.to_json()))) == change  # survives record and intent
    adapter = LambdaFunctionAdapter(None)  # type: ignore[arg-type]  # nothing here calls Lambda
    assert adapter.changes(adapter.ref(FUNCTION_ARN, SANDBOX_ACCOUNT), snapshot.policy, snapshot) == []


def test_a_role_grant_on_an_alias_names_the_qualifier_in_both_calls() -> None:
    grant = _statement("reader", {"AWS": READER}, resource=ALIAS_ARN)
    plan = plan_function(_finding({"AWS": READER}, arn=ALIAS_ARN), _state(grant, arn=ALIAS_ARN), SETTINGS)
    [change] = plan.side_changes
    address = {"FunctionName": "orders", "Qualifier": "live", "StatementId": "reader"}
    assert change.do["params"] == {**address, "RevisionId": "rev-1"}
    assert change.undo["params"] == {**address, "Action": INVOKE, "Principal": READER}
    assert same_statement(lambda_function.FUNCTION.rendered(change.undo["params"], _ref_of(ALIAS_ARN)), grant)
    assert not same_statement(lambda_function.FUNCTION.rendered(change.undo["params"], _ref_of(FUNCTION_ARN)), grant)


def test_a_public_function_url_loses_both_statements_and_keeps_its_conditions_for_the_undo() -> None:
    finding = _finding({"AWS": "*"}, ("lambda:InvokeFunction", "lambda:InvokeFunctionUrl"), isPublic=True)
    plan = plan_function(finding, _state(S3_GRANT, URL_GRANT, URL_INVOKE_GRANT), SETTINGS)
    assert plan.decision == "remediate"
    undo = {c.key: c.undo["params"] for c in plan.side_changes}
    assert undo == {
        "lambda:statement:FunctionURLAllowPublicAccess": {
            "FunctionName": "orders",
            "StatementId": "FunctionURLAllowPublicAccess",
            "Action": "lambda:InvokeFunctionUrl",
            "Principal": "*",
            "FunctionUrlAuthType": "NONE",
        },
        "lambda:statement:FunctionURLAllowInvokeAction": {
            "FunctionName": "orders",
            "StatementId": "FunctionURLAllowInvokeAction",
            "Action": INVOKE,
            "Principal": "*",
            "InvokedViaFunctionUrl": True,
        },
    }
    for change, statement in zip(plan.side_changes, (URL_GRANT, URL_INVOKE_GRANT), strict=True):
        assert lambda_function.FUNCTION.rendered(change.undo["params"], _ref_of(FUNCTION_ARN)) == statement


def test_a_service_principal_is_never_external_its_statement_stays() -> None:
    """The S3 statement (limited by AWS:SourceAccount) grants lambda:InvokeFunction too: only the public one goes."""
    finding = _finding({"AWS": "*"}, (INVOKE,), isPublic=True)
    plan = plan_function(finding, _state(S3_GRANT, URL_INVOKE_GRANT), SETTINGS)
    assert [c.key for c in plan.side_changes] == ["lambda:statement:FunctionURLAllowInvokeAction"]
    service = plan_function(_finding({"Service": "s3.amazonaws.com"}), _state(S3_GRANT), SETTINGS)
    assert (service.decision, service.side_changes) == ("notify", ())  # reported: a service is not contained


def test_a_statement_of_several_principals_is_reported_with_the_exact_commands_never_removed() -> None:
    shared = _statement("partners", {"AWS": [ROOT, f"arn:aws:iam::{OTHER}:root"]})
    plan = plan_function(_finding({"AWS": EXTERNAL}), _state(shared), SETTINGS)
    assert (plan.decision, plan.reason, plan.side_changes) == ("notify", STATEMENT_NOT_RECREATABLE, ())
    assert "it grants several principals" in plan.summary and OTHER in plan.summary
    [note] = [n for n in plan.notes if "remove-permission" in n]
    command = note.split("to remove it by hand: ", 1)[1].split(";", 1)[0]
    assert shlex.split(command) == [
        "aws", "lambda", "remove-permission", "--region", REGION, "--function-name", "orders",
        "--statement-id", "partners", "--revision-id", "rev-1",
    ]  # fmt: skip
    assert json.loads(note.split("to restore it by hand: ", 1)[1]) == shared


@pytest.mark.parametrize(
    ("statement", "why"),
    [
        (_statement("two", {"AWS": ROOT}, ["lambda:InvokeFunction", "lambda:GetFunction"]), "several actions"),
        (_statement("like", {"AWS": ROOT}, StringLike={"AWS:SourceArn": "arn:aws:s3:::x*"}), "no condition"),
        (_statement("ip", {"AWS": ROOT}, IpAddress={"aws:SourceIp": "10.0.0.0/8"}), "no condition"),
        (_statement("wide", {"AWS": ROOT}, resource=f"{FUNCTION_ARN}:*"), "Resource is not"),
        ({**_statement("not", {"AWS": ROOT}), "NotResource": "x"}, "it has NotResource"),
        ({k: v for k, v in _statement("x", {"AWS": ROOT}).items() if k != "Sid"}, "no statement id"),
    ],
)
def test_a_shape_addpermission_cannot_write_again_is_only_reported(statement: dict[str, Any], why: str) -> None:
    plan = plan_function(_finding({"AWS": EXTERNAL}), _state(statement), SETTINGS)
    assert (plan.decision, plan.reason, plan.side_changes) == ("notify", STATEMENT_NOT_RECREATABLE, ())
    assert why in plan.summary


def test_zone_of_trust_accounts_and_organization_are_never_touched() -> None:
    snapshot = _state(ACCOUNT_GRANT)
    trusted = plan_function(_finding({"AWS": EXTERNAL}), snapshot, _settings(trusted_account_ids=frozenset({EXTERNAL})))
    assert (trusted.decision, trusted.reason, trusted.side_changes) == ("skip", "principal_in_zone_of_trust", ())
    org_grant = _statement("org", "*", StringEquals={"aws:PrincipalOrgID": ORG})
    in_org = _finding({"AWS": "*"}, condition={"aws:PrincipalOrgID": ORG}, isPublic=False)
    plan = plan_function(in_org, _state(org_grant), _settings(trusted_org_id=ORG))
    assert (plan.decision, plan.reason, plan.side_changes) == ("skip", "principal_in_zone_of_trust", ())
    # A public finding from another statement: one limited to the zone (the owner's account) stays, the public one
    # goes; with a trusted organization the public one may be what serves it: reported, never removed.
    own = _statement("own", "*", StringEquals={"aws:PrincipalAccount": SANDBOX_ACCOUNT})
    public = _finding({"AWS": "*"}, isPublic=True)
    plan = plan_function(public, _state(own, _statement("all", "*")), SETTINGS)
    assert [c.key for c in plan.side_changes] == ["lambda:statement:all"]
    assert any(n.startswith("statement own grants it only inside the zone of trust") for n in plan.notes)
    served = plan_function(public, _state(org_grant, _statement("all", "*")), _settings(trusted_org_id=ORG))
    assert (served.decision, served.reason, served.side_changes) == ("notify", SERVES_ZONE_OF_TRUST, ())
    assert f"also cut off organization {ORG}" in served.summary
    assert any("aws lambda remove-permission" in n and "--statement-id all" in n for n in served.notes)
    outside = plan_function(in_org, _state(org_grant), SETTINGS)  # not the trusted organization: removed
    assert [c.key for c in outside.side_changes] == ["lambda:statement:org"]
    assert outside.side_changes[0].undo["params"]["PrincipalOrgID"] == ORG


def test_allowlist_exemption_tag_own_protected_and_cross_account_resources_change_nothing() -> None:
    finding, snapshot = _finding({"AWS": EXTERNAL}), _state(ACCOUNT_GRANT)
    cases = {
        "allowlisted_principal": (_settings(allowed_principals=(EXTERNAL,)), snapshot, finding),
        "exempt_tag": (SETTINGS, _state(ACCOUNT_GRANT, tags={SETTINGS.exemption_tag_key: "yes"}), finding),
        "own_resource": (_settings(own_resource_arns=frozenset({FUNCTION_ARN})), snapshot, finding),
        "protected_resource": (_settings(protected_resource_arns=frozenset({FUNCTION_ARN})), snapshot, finding),
    }
    for reason, (settings, state, found) in cases.items():
        plan = plan_function(found, state, settings)
        assert (plan.decision, plan.reason, plan.side_changes) == ("notify", reason, ()), reason
    # Protecting (or owning) a function protects its aliases and versions.
    alias = _finding({"AWS": EXTERNAL}, arn=ALIAS_ARN)
    guarded = plan_function(alias, _state(arn=ALIAS_ARN), _settings(own_resource_arns=frozenset({FUNCTION_ARN})))
    assert guarded.reason == "own_resource"
    from access_analyzer_remediation.cli import _NO_AWS

    adapter = registry()[LAMBDA_FUNCTION](_NO_AWS, REGION)  # as the engine builds it: the guard reads nothing
    protected = _settings(protected_resource_arns=frozenset({FUNCTION_ARN}))
    refused = adapter.guard(adapter.ref(ALIAS_ARN, SANDBOX_ACCOUNT), protected, ANALYZER)
    assert refused is not None and refused.reason == "protected_resource"
    foreign = f"arn:aws:lambda:{REGION}:{OTHER}:function:orders"
    theirs = resource_finding(LAMBDA_FUNCTION, foreign, {"AWS": EXTERNAL}, ANALYZER, OTHER, action=[INVOKE])
    other = plan_function(theirs, _state(arn=foreign), SETTINGS)
    assert other.reason == "cross_account_resource"


def test_notify_mode_says_what_would_be_removed_with_both_commands_and_changes_nothing() -> None:
    plan = plan_function(_finding({"AWS": EXTERNAL}), _state(ACCOUNT_GRANT), _settings(mode="notify"))
    assert (plan.decision, plan.reason, plan.side_changes) == ("notify", "notify_mode", ())
    assert plan.summary == "would remove statement partner from the function policy of orders (notify mode)"
    [note] = plan.notes
    assert f"aws lambda remove-permission --region {REGION} --function-name orders --statement-id partner" in note
    assert f"to add it back: aws lambda add-permission --region {REGION} --function-name orders" in note
    assert f"--action {INVOKE} --principal {ROOT}" in note


def test_no_statement_granting_it_is_already_contained_and_other_conditions_are_another_finding() -> None:
    again = plan_function(_finding({"AWS": EXTERNAL}), _state(S3_GRANT), SETTINGS)  # a redelivery after removal
    assert (again.decision, again.reason) == ("skip", "already_contained")
    scoped = _statement("scoped", {"AWS": ROOT}, ArnLike={"AWS:SourceArn": "arn:aws:sqs:us-east-1:1:q"})
    plan = plan_function(_finding({"AWS": EXTERNAL}), _state(scoped, ACCOUNT_GRANT), SETTINGS)
    assert [c.key for c in plan.side_changes] == ["lambda:statement:partner"]  # the finding's condition: none
    assert any(n.startswith("statement scoped grants it too, on other conditions") for n in plan.notes)
    conditioned = _finding({"AWS": EXTERNAL}, condition={"aws:SourceArn": "arn:aws:sqs:us-east-1:1:q"})
    assert [c.key for c in plan_function(conditioned, _state(scoped, ACCOUNT_GRANT), SETTINGS).side_changes] == [
        "lambda:statement:scoped"
    ]


def test_offline_reads_the_revision_of_get_policy_and_refuses_anything_else() -> None:
    adapter = LambdaFunctionAdapter(None)  # type: ignore[arg-type]
    ref = adapter.ref(FUNCTION_ARN, SANDBOX_ACCOUNT)
    policy = _policy(ACCOUNT_GRANT)
    assert adapter.offline(ref, policy, {}, {"RevisionId": "r-9"}).revision == "r-9"
    assert adapter.offline(ref, policy, {}, None).revision == ""
    no_revision = adapter.plan(_finding({"AWS": EXTERNAL}), adapter.offline(ref, policy, {}, None), SETTINGS, (), 0)
    assert "RevisionId" not in no_revision.side_changes[0].do["params"]
    bad: Any
    for bad in ({"Grants": []}, {"RevisionId": 3}, ["r"]):
        with pytest.raises(ValueError, match="get-policy"):
            adapter.offline(ref, policy, {}, bad)
    with pytest.raises(ValueError, match="never written whole"):
        adapter.write(ref, policy, adapter.offline(ref, policy, {}, None))
    layer = LambdaLayerVersionAdapter(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no tags"):
        layer.offline(layer.ref(LAYER_VERSION_ARN, SANDBOX_ACCOUNT), policy, {"k": "v"}, None)


def test_aa_remediate_plan_on_get_policy_output_lists_the_removal_it_would_make(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from access_analyzer_remediation.cli import main

    arn = "arn:aws:lambda:us-west-2:111122223333:function:orders"  # the sample event's account and Region
    event = json.loads((EVENTS / "s3_bucket_active.json").read_text())
    event["detail"] |= {"resourceType": LAMBDA_FUNCTION, "resource": arn, "action": [INVOKE]}
    output = {"Policy": json.dumps(_policy({**ACCOUNT_GRANT, "Resource": arn})), "RevisionId": "r-7"}
    (tmp_path / "e.json").write_text(json.dumps(event))
    (tmp_path / "p.json").write_text(json.dumps(output))
    files = ["--event", str(tmp_path / "e.json"), "--policy", str(tmp_path / "p.json")]
    assert main(["plan", *files, "--attributes", str(tmp_path / "p.json"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["decision"], result["reason"]) == ("remediate", STATEMENT_REMOVED)
    assert result["changes"] == [
        {
            "api": "lambda:RemovePermission",
            "params": {"FunctionName": "orders", "StatementId": "partner", "RevisionId": "r-7"},
        }
    ]  # the removal only: the function policy is never written whole


# -- layer versions: the plan ----------------------------------------------------------------------------------------
def _layer_grant(sid: str, principal: Any, **condition: Any) -> Any:
    return _statement(sid, principal, "lambda:GetLayerVersion", LAYER_VERSION_ARN, **condition)


def test_a_layer_version_grant_is_removed_and_added_back_with_its_organization() -> None:
    finding = _finding({"AWS": EXTERNAL}, ("lambda:GetLayerVersion",), arn=LAYER_VERSION_ARN)
    plan = plan_layer_version(finding, _state(_layer_grant("partner", {"AWS": ROOT}), arn=LAYER_VERSION_ARN), SETTINGS)
    [change] = plan.side_changes
    address = {"LayerName": "shared-libs", "VersionNumber": 3, "StatementId": "partner"}
    assert change.do == {"api": "lambda:RemoveLayerVersionPermission", "params": {**address, "RevisionId": "rev-1"}}
    assert change.undo == {
        "api": "lambda:AddLayerVersionPermission",
        "params": {**address, "Action": "lambda:GetLayerVersion", "Principal": ROOT},
    }
    org = _layer_grant("org", "*", StringEquals={"aws:PrincipalOrgID": ORG})
    public = _finding({"AWS": "*"}, ("lambda:GetLayerVersion",), arn=LAYER_VERSION_ARN, isPublic=True)
    [shared] = plan_layer_version(public, _state(org, arn=LAYER_VERSION_ARN), SETTINGS).side_changes
    assert shared.undo["params"]["OrganizationId"] == ORG  # another organization: removed, kept for the undo
    kept = plan_layer_version(public, _state(org, arn=LAYER_VERSION_ARN), _settings(trusted_org_id=ORG))
    assert (kept.decision, kept.reason) == ("skip", "principal_in_zone_of_trust")
    protected = _settings(protected_resource_arns=frozenset({LAYER_ARN}))  # the layer: every version of it
    assert plan_layer_version(finding, _state(arn=LAYER_VERSION_ARN), protected).reason == "protected_resource"
    odd = _layer_grant("odd", {"AWS": ROOT}, StringEquals={"aws:SourceVpc": "vpc-1"})
    refused = plan_layer_version(finding, _state(odd, arn=LAYER_VERSION_ARN), SETTINGS)
    assert (refused.reason, refused.side_changes) == (STATEMENT_NOT_RECREATABLE, ())
    assert any("aws lambda remove-layer-version-permission" in n and "--version-number 3" in n for n in refused.notes)


# -- the engine, against moto --------------------------------------------------------------------------------------
class _Revisions:
    """Lambda's RevisionId as Lambda keeps it. moto 5.2.5 reads RemovePermission's RevisionId (a query parameter) as
    a list and so refuses every one, current or stale, and keeps a policy's revision when a statement is removed.
    These clients check and change the revision themselves (a stale one: PreconditionFailedException; every
    successful add or remove: a new one) and never hand moto a RevisionId; GetPolicy shows theirs. Were moto's
    `Policy.del_statement` patched in sandbox/moto_server.py, they would only repeat its check."""

    CHANGES = ("RemovePermission", "AddPermission", "RemoveLayerVersionPermission", "AddLayerVersionPermission")
    READS = ("GetPolicy", "GetLayerVersionPolicy")

    def __init__(self, aws: Aws) -> None:
        self.aws = aws
        self.counter: Counter[tuple[str, str]] = Counter()
        self.refused = 0

    def client(self, service: str, region: str | None = None) -> Any:
        client = self.aws.client(service, region)
        if service == "lambda":
            for operation in (*self.CHANGES, *self.READS):
                client.meta.events.register(f"provide-client-params.lambda.{operation}", self._check)
                client.meta.events.register(f"after-call.lambda.{operation}", self._after)
        return client

    @staticmethod
    def _key(params: dict[str, Any]) -> tuple[str, str]:
        # moto keeps one policy per function, whatever the qualifier: so do these revisions.
        if "LayerName" in params:
            return str(params["LayerName"]), str(params["VersionNumber"])
        return str(params["FunctionName"]), ""

    def revision(self, key: tuple[str, str]) -> str:
        return f"rev-{key[0]}-{self.counter[key]}"

    def _check(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        key = self._key(params)
        context["revision_key"] = key
        revision = params.pop("RevisionId", None)
        if revision is not None and revision != self.revision(key):
            self.refused += 1
            error = {"Code": "PreconditionFailedException", "Message": "The RevisionId provided does not match"}
            response: Any = {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 412}}
            raise ClientError(response, model.name)

    def _after(self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if "Error" in parsed or http_response.status_code >= 300:
            return
        key = context["revision_key"]
        if model.name in self.CHANGES:
            self.counter[key] += 1
        if "RevisionId" in parsed or model.name in self.READS:
            parsed["RevisionId"] = self.revision(key)


@pytest.fixture
def revisions(aws: Aws) -> _Revisions:
    return _Revisions(aws)


def _remediator(aws: Aws, revisions: _Revisions, **overrides: Any) -> Remediator:
    settings = aws.settings(resource_types=(LAMBDA_FUNCTION, LAMBDA_LAYER_VERSION), **overrides)
    return Remediator(settings, AwsClients(factory=revisions.client), lock_wait_seconds=10)


def _code() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return 1\n")
    return buffer.getvalue()


def _function(aws: Aws, revisions: _Revisions, name: str = "orders") -> tuple[Any, str]:
    trust = {"Version": POLICY_VERSION, "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}  # fmt: skip
    role = aws.client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(trust))
    client = revisions.client("lambda")
    created = client.create_function(
        FunctionName=name, Runtime="python3.11", Role=role["Role"]["Arn"], Handler="index.handler",
        Code={"ZipFile": _code()},
    )  # fmt: skip
    return client, str(created["FunctionArn"])


def _statements(client: Any, name: str = "orders") -> dict[str, Any]:
    try:
        policy = json.loads(client.get_policy(FunctionName=name)["Policy"])
    except ClientError as err:
        if err.response["Error"]["Code"] == "ResourceNotFoundException":
            return {}
        raise
    return {s["Sid"]: s for s in policy["Statement"]}


def _add_finding(aws: Aws, arn: str, principal: str, action: str = INVOKE, kind: str = LAMBDA_FUNCTION) -> str:
    finding = aws.standin.add_finding(
        resource=arn, resource_type=kind, principal={"AWS": principal}, action=[action],
        resource_owner_account=SANDBOX_ACCOUNT, publish=False,
    )  # fmt: skip
    return str(finding["id"])


def _ref(aws: Aws, finding_id: str) -> FindingRef:
    return FindingRef(aws.standin.analyzer_arn, finding_id)


def test_the_grant_is_removed_a_redelivery_finds_it_gone_and_revert_adds_it_back_exactly(
    aws: Aws, revisions: _Revisions
) -> None:
    client, arn = _function(aws, revisions)
    client.add_permission(FunctionName="orders", StatementId="partner", Action=INVOKE, Principal=ROOT)
    client.add_permission(
        FunctionName="orders", StatementId="s3-events", Action=INVOKE, Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::orders-inbox", SourceAccount=SANDBOX_ACCOUNT,
    )  # fmt: skip
    before = _statements(client)
    finding_id = _add_finding(aws, arn, EXTERNAL)
    remediator = _remediator(aws, revisions)
    aws.calls.clear()
    [outcome] = remediator.process([_ref(aws, finding_id)])
    assert (outcome.decision, outcome.reason) == ("remediate", STATEMENT_REMOVED)
    processed = sum(aws.calls.values())
    assert _statements(client) == {"s3-events": before["s3-events"]}  # the service's statement stays
    assert outcome.record is not None
    [recorded] = [SideChange.from_json(c) for c in json.loads(outcome.record.extra["side_changes"])]
    assert recorded.undo["params"] == {
        "FunctionName": "orders",
        "StatementId": "partner",
        "Action": INVOKE,
        "Principal": ROOT,
    }
    aws.calls.clear()
    remediator.announce([outcome], SANDBOX_ACCOUNT)
    # Calls per contained finding, Publish aside: GetFinding, GetPolicy and ListTags, the lease, RemovePermission,
    # records and outbox, commit, outbox clear (as the policy types count them).
    assert processed + sum(n for call, n in aws.calls.items() if call != "Publish") == 8, aws.calls
    [mail] = aws.emails()
    assert "removed statement partner" in mail["Message"] and "a revert adds it back exactly" in mail["Message"]
    [again] = _remediator(aws, revisions).process([_ref(aws, finding_id)])  # redelivered before the analyzer re-reads
    assert (again.decision, again.reason) == ("skip", "already_contained")
    result = revert(remediator, finding_id)
    assert result["removed"] == [] and result["restored"] == [
        "added statement partner back to the function policy of function orders (AddPermission, exactly as it was)"
    ]
    assert _statements(client) == before  # the very statement, and nothing else changed
    with pytest.raises(NothingToRevert):
        revert(remediator, finding_id)  # done: a second revert finds nothing left
    assert _statements(client) == before


def test_two_findings_on_one_function_are_both_removed_though_the_first_removal_changes_the_revision(
    aws: Aws, revisions: _Revisions
) -> None:
    """Both are planned on one read (one RevisionId); the second removal meets the revision the first made, reads
    again, finds its statement as planned and removes it with the new revision."""
    client, arn = _function(aws, revisions)
    client.add_permission(FunctionName="orders", StatementId="partner", Action=INVOKE, Principal=ROOT)
    other_root = f"arn:aws:iam::{OTHER}:root"
    client.add_permission(FunctionName="orders", StatementId="other", Action=INVOKE, Principal=other_root)
    first, second = _add_finding(aws, arn, EXTERNAL), _add_finding(aws, arn, OTHER)
    outcomes = _remediator(aws, revisions).process([_ref(aws, first), _ref(aws, second)])
    assert [(o.decision, o.reason) for o in outcomes] == [("remediate", STATEMENT_REMOVED)] * 2
    assert [len(o.plan.side_changes) for o in outcomes if o.plan is not None] == [1, 1]
    assert revisions.refused == 1 and _statements(client) == {}


def test_a_statement_changed_after_the_plan_is_not_removed_and_an_undo_never_overwrites(
    aws: Aws, revisions: _Revisions
) -> None:
    client, arn = _function(aws, revisions)
    client.add_permission(FunctionName="orders", StatementId="partner", Action=INVOKE, Principal=ROOT)
    adapter = LambdaFunctionAdapter(client)
    ref = adapter.ref(arn, SANDBOX_ACCOUNT)
    snapshot = adapter.read(ref)
    assert snapshot is not None and snapshot.revision == revisions.revision(("orders", ""))
    [change] = adapter.plan(_finding({"AWS": EXTERNAL}, arn=arn), snapshot, SETTINGS, (), 0.0).side_changes
    client.remove_permission(FunctionName="orders", StatementId="partner")  # someone else, since: a new revision
    client.add_permission(FunctionName="orders", StatementId="partner", Action="lambda:GetFunction", Principal=ROOT)
    message = adapter.apply(ref, change)
    assert message is not None and message.startswith("statement partner changed since it was read")
    assert _statements(client)["partner"]["Action"] == "lambda:GetFunction"  # left as it is
    with pytest.raises(ValueError, match="not overwritten"):
        adapter.undo(ref, change)
    client.remove_permission(FunctionName="orders", StatementId="partner")
    assert adapter.apply(ref, change) is None  # gone already: nothing left to do (idempotent)
    assert adapter.undo(ref, change).startswith("added statement partner back")
    assert (
        adapter.undo(ref, change)
        == "statement partner is in the function policy of function orders already: none added"
    )
    assert list(_statements(client)) == ["partner"] and _statements(client)["partner"]["Action"] == INVOKE


def test_a_layer_version_grant_is_removed_and_revert_adds_it_back(aws: Aws, revisions: _Revisions) -> None:
    client = revisions.client("lambda")
    layer = client.publish_layer_version(LayerName="shared-libs", Content={"ZipFile": _code()})
    arn, version = str(layer["LayerVersionArn"]), int(layer["Version"])
    client.add_layer_version_permission(
        LayerName="shared-libs", VersionNumber=version, StatementId="partner", Action="lambda:GetLayerVersion",
        Principal=ROOT,
    )  # fmt: skip

    def grants() -> list[Any]:
        try:
            return list(
                json.loads(client.get_layer_version_policy(LayerName="shared-libs", VersionNumber=version)["Policy"])[
                    "Statement"
                ]
            )
        except ClientError as err:
            assert err.response["Error"]["Code"] == "ResourceNotFoundException"
            return []

    before = grants()
    finding_id = _add_finding(aws, arn, EXTERNAL, "lambda:GetLayerVersion", LAMBDA_LAYER_VERSION)
    remediator = _remediator(aws, revisions)
    [outcome] = remediator.process([_ref(aws, finding_id)])
    assert (outcome.decision, outcome.reason, grants()) == ("remediate", STATEMENT_REMOVED, [])
    [again] = _remediator(aws, revisions).process([_ref(aws, finding_id)])
    assert again.reason == "already_contained"
    result = revert(remediator, finding_id)
    assert result["restored"] == [
        f"added statement partner back to the layer version policy of layer version shared-libs:{version}"
        " (AddLayerVersionPermission, exactly as it was)"
    ]
    assert grants() == before
