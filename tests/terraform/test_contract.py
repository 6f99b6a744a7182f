"""The module follows docs/architecture.md: the Lambda environment and the IAM actions of the Lambda role."""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING, Any

import hcl2
import pytest
from hcl2.utils import SerializationOptions

from tests.terraform.tfrunner import REPO_ROOT

if TYPE_CHECKING:
    from pathlib import Path

OPTIONS = SerializationOptions(with_comments=False, strip_string_quotes=True)
CONTRACT = (REPO_ROOT / "docs" / "architecture.md").read_text()
# Not AWS calls of the package: the runtime's logging (the table lists what the code calls).
RUNTIME_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents"}
RESOURCES_DIR = REPO_ROOT / "lambda_src" / "access_analyzer_remediation" / "resources"
# Resource type -> (its adapter in resources/, the adapter's client attribute: `self.<client>.<operation>(`, the
# IAM service prefix of its actions). modules/permissions (locals.tf) holds each type's statements in
# `type_statements["<type>"]`, granted only while the type is in `resource_types`; the role's calls
# (resources/iam_role.py) are its `role_statements`, always granted, checked by the last test of this file. The root
# module's Lambda role and the member role (modules/member-role, modules/member-role-stackset) both take them from
# there (test_one_source_of_the_remediation_statements).
PERMISSIONS = "modules/permissions"
TYPE_ADAPTERS = {
    "AWS::S3::Bucket": ("s3_bucket.py", "s3", "s3"),
    "AWS::KMS::Key": ("kms_key.py", "kms", "kms"),
    "AWS::SQS::Queue": ("sqs_queue.py", "sqs", "sqs"),
    "AWS::SNS::Topic": ("sns_topic.py", "sns", "sns"),
    "AWS::SecretsManager::Secret": ("secret.py", "secretsmanager", "secretsmanager"),
    "AWS::ECR::Repository": ("ecr_repository.py", "ecr", "ecr"),
    "AWS::EFS::FileSystem": ("efs_file_system.py", "efs", "elasticfilesystem"),
    "AWS::DynamoDB::Table": ("dynamodb_table.py", "dynamodb", "dynamodb"),
    "AWS::DynamoDB::Stream": ("dynamodb_table.py", "dynamodb", "dynamodb"),
    "AWS::S3Express::DirectoryBucket": ("s3_directory_bucket.py", "s3express", "s3express"),
    "AWS::Lambda::Function": ("lambda_function.py", "lambda_", "lambda"),
    "AWS::Lambda::LayerVersion": ("lambda_layer_version.py", "lambda_", "lambda"),
    "AWS::EC2::Snapshot": ("ebs_snapshot.py", "ec2", "ec2"),
    "AWS::RDS::DBSnapshot": ("rds_snapshot.py", "rds", "rds"),
    "AWS::RDS::DBClusterSnapshot": ("rds_snapshot.py", "rds", "rds"),
}
# Types sharing a file whose statements grant only their own part of the file's `_IAM_ACTIONS` (the name of that
# part's literal in the file).
TYPE_ACTIONS = {
    "AWS::RDS::DBSnapshot": "_DB_SNAPSHOT_IAM_ACTIONS",
    "AWS::RDS::DBClusterSnapshot": "_CLUSTER_SNAPSHOT_IAM_ACTIONS",
}


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}.*?$(.*?)(?=^## |\Z)", CONTRACT, re.M | re.S)
    assert match, f"docs/architecture.md has no section {title!r}"
    return match.group(1)


def table_column(text: str, column: int) -> set[str]:
    """Backticked words in one column of the markdown table rows of `text`."""
    cells = [row.split("|")[column + 1] for row in text.splitlines() if row.startswith("| ") and "---" not in row]
    return {word for cell in cells[1:] for word in re.findall(r"`([^`]+)`", cell)}


def parse(name: str) -> dict[str, Any]:
    parsed: dict[str, Any] = hcl2.loads((REPO_ROOT / name).read_text(), serialization_options=OPTIONS)
    return parsed


def lambda_policy() -> dict[str, Any]:
    """The Lambda role's `aws_iam_policy_document` as python-hcl2 parses it: `statement` (static) and `dynamic`."""
    documents = [block["aws_iam_policy_document"] for block in parse("iam.tf")["data"]]
    policy: dict[str, Any] = next(doc["lambda"] for doc in documents if "lambda" in doc)
    return policy


def permissions_locals() -> dict[str, Any]:
    """modules/permissions/locals.tf's one `locals` block: `role_statements`, `type_statements`, `type_order`."""
    blocks = parse(f"{PERMISSIONS}/locals.tf")["locals"]
    assert len(blocks) == 1, "modules/permissions/locals.tf has one locals block"
    found: dict[str, Any] = blocks[0]
    return found


def static_statements() -> list[dict[str, Any]]:
    """The statements granted whatever resource_types holds: the Lambda role's own static ones and the role
    statements of modules/permissions (the trust policies every deployment edits)."""
    statements: list[dict[str, Any]] = lambda_policy()["statement"] + permissions_locals()["role_statements"]
    return statements


def type_statements(resource_type: str | None = None) -> list[dict[str, Any]]:
    """The statements granted only for one resource type (`resource_type`), or for any type (None)."""
    by_type: dict[str, list[dict[str, Any]]] = permissions_locals()["type_statements"]
    return [s for t, statements in by_type.items() if resource_type in (None, t) for s in statements]


def actions_of(statements: list[dict[str, Any]], effect: str) -> set[str]:
    return {a for s in statements if s.get("effect", "Allow") == effect for a in s["actions"]}


def declared_actions(path: Path, name: str = "_IAM_ACTIONS", required: bool = True) -> dict[str, str]:
    """The adapter's module-level `_IAM_ACTIONS = {"<Operation>": "<service>:<Action>", ...}` (or another such
    literal, e.g. `_OPERATOR_ACTIONS`), read from its source (a literal: nothing is imported, so the file needs no
    working import to be checked)."""
    for node in ast.parse(path.read_text(), filename=str(path)).body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            declared = ast.literal_eval(value)
            assert isinstance(declared, dict), f"{name} is not a dict literal"
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in declared.items()), declared
            return declared
    if not required:
        return {}
    pytest.fail(f"{path.relative_to(REPO_ROOT)} declares no module-level {name} dict literal")


def called_operations(source: str, client: str) -> set[str]:
    """Every `self.<client>.<method>(` call of `source`, a paginator `self.<client>.get_paginator("<method>")` as
    a call of that method."""
    calls = set(re.findall(rf"self\.{client}\.(\w+)\(", source)) - {"get_paginator"}
    return calls | set(re.findall(rf"self\.{client}\.get_paginator\(\s*[\"'](\w+)[\"']", source))


def test_lambda_environment_is_the_contract() -> None:
    contract = {name for name in table_column(section("Environment"), 0) if re.fullmatch(r"[A-Z_]+", name)}
    block = next(block for block in parse("locals.tf")["locals"] if "lambda_settings" in block)
    # lambda_environment = merge(lambda_settings, {the sensitive ExternalId}): the outputs show lambda_settings.
    merged = re.fullmatch(r"\$\{merge\(local\.lambda_settings, \{(.*)\}\)\}", block["lambda_environment"], re.S)
    assert merged, block["lambda_environment"]
    sensitive = set(re.findall(r"(AAR_\w+)\s*=", merged.group(1)))
    assert sensitive == {"AAR_MEMBER_ROLE_EXTERNAL_ID"}
    assert not sensitive & set(block["lambda_settings"])
    assert set(block["lambda_settings"]) | sensitive == contract


def test_lambda_role_actions_are_the_contract() -> None:
    """The table lists every action the role may be granted: the static statements and the statements of each
    resource type (the X-Ray and kms:ViaService statements, dynamic on other inputs, are described below it)."""
    contract = {a for a in table_column(section("AWS calls the Lambda makes"), 1) if ":" in a}
    allowed = actions_of(static_statements(), "Allow") | actions_of(type_statements(), "Allow")
    assert allowed - RUNTIME_ACTIONS == contract


def test_every_type_statement_belongs_to_an_adapter() -> None:
    """Only the types with an adapter get calls; each of them gets its own statements."""
    gated = permissions_locals()["type_statements"]
    assert set(gated) == set(TYPE_ADAPTERS)
    assert permissions_locals()["type_order"] == list(gated), "type_order lists every type once, in file order"
    assert all(actions_of(type_statements(t), "Allow") for t in TYPE_ADAPTERS)


@pytest.mark.parametrize("resource_type", sorted(TYPE_ADAPTERS))
def test_each_type_grants_exactly_its_adapter_calls(resource_type: str) -> None:
    """resources/<type>.py declares the IAM action of every call it makes (`_IAM_ACTIONS`, operation -> action,
    and `_OPERATOR_ACTIONS` for the calls only a revert makes, with the operator's credentials); each declared
    operation is called in that file and every call of its client is declared; the statements modules/permissions
    grants for the type allow exactly the `_IAM_ACTIONS`, each in docs/architecture.md's table, and never an
    operator-only action (the function may never create a KMS grant); the type's Denies only take back declared
    actions."""
    from botocore import xform_name

    filename, client, prefix = TYPE_ADAPTERS[resource_type]
    path = RESOURCES_DIR / filename
    assert path.is_file(), f"{resource_type}: iam.tf grants its calls but {path.relative_to(REPO_ROOT)} is missing"
    declared = declared_actions(path)
    operator = declared_actions(path, "_OPERATOR_ACTIONS", required=False)
    source = path.read_text()
    assert declared, "an adapter that declares no calls"
    called = called_operations(source, client)
    for operation, action in {**declared, **operator}.items():
        assert xform_name(operation) in called, f"{operation} is declared but never called (self.{client}...)"
        assert action.startswith(f"{prefix}:"), f"{operation}: {action} is not an action of {prefix}"
    assert called == {xform_name(op) for op in {**declared, **operator}}, "a call without a declared action"

    if resource_type in TYPE_ACTIONS:
        own = declared_actions(path, TYPE_ACTIONS[resource_type])
        assert own.items() <= declared.items(), f"{TYPE_ACTIONS[resource_type]} is not a part of _IAM_ACTIONS"
        declared = own
    statements = type_statements(resource_type)
    assert actions_of(statements, "Allow") == set(declared.values()), (
        "the actions modules/permissions grants for the type are not the adapter's declared ones"
    )
    operator_only = set(operator.values()) - set(declared.values())
    assert not operator_only & actions_of(static_statements() + statements, "Allow"), operator_only
    assert actions_of(statements, "Deny") <= set(declared.values())
    contract = {a for a in table_column(section("AWS calls the Lambda makes"), 1) if ":" in a}
    assert set(declared.values()) <= contract, set(declared.values()) - contract


def test_protected_role_patterns_default_is_the_contract() -> None:
    """The default of protected_role_patterns is docs/architecture.md's "Default protected patterns", in order."""
    paragraph = r"^Default protected patterns: (.*?)(?=\n\n|Service-linked roles)"
    match = re.search(paragraph, section("Environment"), re.M | re.S)
    assert match, "docs/architecture.md has no 'Default protected patterns:' paragraph"
    # Backticked words outside the parenthesised remarks (which name example roles, not patterns).
    contract = re.findall(r"`([^`]+)`", re.sub(r"\([^)]*\)", "", match.group(1)))
    variables = {name: body for block in parse("variables.tf")["variable"] for name, body in block.items()}
    assert variables["protected_role_patterns"]["default"] == contract


def test_the_confirmation_statements_grant_exactly_the_calls_the_code_makes() -> None:
    """confirm_changes: the dynamic ConfirmChanges statement grants access-analyzer:StartResourceScan on the analyzers
    and RecordConfirmations dynamodb:PutItem on the table, nothing else, only while confirmation is on; confirmation.py
    calls StartResourceScan, SendMessage (already granted to the sweep) and the verdict's transaction, and the contract
    names the actions."""
    dynamics = {
        d["statement"]["for_each"]: d["statement"]
        for d in lambda_policy()["dynamic"]
        if "statement" in d and d["statement"]["for_each"].startswith("${var.confirm_changes.enabled")
    }
    assert set(dynamics) == {
        '${var.confirm_changes.enabled ? ["ConfirmChanges"] : []}',
        '${var.confirm_changes.enabled ? ["RecordConfirmations"] : []}',
    }

    def content(for_each: str) -> dict[str, Any]:
        dynamic = dynamics[for_each]
        [body] = dynamic["content"] if isinstance(dynamic["content"], list) else [dynamic["content"]]
        return dict(body)

    scan = content('${var.confirm_changes.enabled ? ["ConfirmChanges"] : []}')
    assert scan["actions"] == ["access-analyzer:StartResourceScan"]
    assert scan["resources"] == "${local.analyzer_arns}"
    # The verdict: one TransactWriteItems, its Puts checked by IAM as PutItem on the audit table (its Update is
    # AuditTable's UpdateItem).
    record = content('${var.confirm_changes.enabled ? ["RecordConfirmations"] : []}')
    assert record["actions"] == ["dynamodb:PutItem"]
    assert record["resources"] == ["${local.table_arn}"]
    source = (REPO_ROOT / "lambda_src/access_analyzer_remediation/confirmation.py").read_text()
    assert ".start_resource_scan(**kwargs)" in source and ".send_message(" in source
    assert "self.audit.write_once(guard," in source
    audit = (REPO_ROOT / "lambda_src/access_analyzer_remediation/audit.py").read_text()
    assert ".transact_write_items(TransactItems=actions)" in audit and '{"Put": {"TableName"' in audit
    assert "`access-analyzer:StartResourceScan`" in CONTRACT and "`dynamodb:PutItem`" in CONTRACT
    assert "sqs:SendMessage" in actions_of(static_statements(), "Allow")
    assert "dynamodb:PutItem" not in actions_of(static_statements(), "Allow")


def test_metric_alarms_watch_contract_metrics() -> None:
    """Every alarm on a Powertools metric names a metric of the contract's Metrics table; NotContained has none."""
    metrics = table_column(section("Metrics"), 0)
    alarms = {
        name: body
        for block in parse("alarms.tf")["resource"]
        for name, body in block.get("aws_cloudwatch_metric_alarm", {}).items()
    }
    powertools = {a["metric_name"] for a in alarms.values() if a["namespace"] == "${var.metrics_namespace}"}
    assert powertools == {"NotificationFailed", "ContainmentUnresolved"}
    assert powertools <= metrics
    assert "NotContained" in metrics  # informational: documented, never alarmed
    assert all(a["dimensions"] == {"service": "${var.name}"} for a in alarms.values() if a["metric_name"] in powertools)


def module_resources() -> set[str]:
    """Every managed resource of the root module, as `type.name`."""
    return {
        f"{kind}.{name}"
        for path in sorted(REPO_ROOT.glob("*.tf"))
        for block in parse(path.name).get("resource", [])
        for kind, named in block.items()
        for name in named
    }


def test_the_destroy_guard_depends_on_every_other_resource() -> None:
    """uninstall.tf: a destroy must remove the guard first, so it must depend on every other resource; a resource
    added to the module without being added there would be destroyed before the guard could stop the destroy."""
    guard = next(
        named["destroy_guard"]
        for block in parse("uninstall.tf")["resource"]
        for kind, named in block.items()
        if kind == "terraform_data"
    )
    depends_on = {ref.removeprefix("${").removesuffix("}") for ref in guard["depends_on"]}
    assert depends_on == module_resources() - {"terraform_data.destroy_guard"}


def test_the_dashboard_charts_every_contract_metric() -> None:
    """Every Powertools metric of docs/architecture.md ("Metrics") is on the dashboard (dashboard.tf); the metrics
    counted per resource type are those the handler emits with that dimension and the "By resource type" row
    charts, one search per metric over the {namespace,resource_type,service} dimension set."""
    metrics = {m for m in table_column(section("Metrics"), 0) if re.fullmatch(r"\w+", m)}  # not `.<reason>`
    source = (REPO_ROOT / "dashboard.tf").read_text()
    charted = set(re.findall(r'name = "(\w+)"', source))  # the outcome lines
    charted |= set(re.findall(r'\[var\.metrics_namespace, "(\w+)"\]', source))  # the other widgets' lines
    assert metrics <= charted, metrics - charted

    rows = [row for row in section("Metrics").splitlines() if row.startswith("| ") and "per resource type" in row]
    documented = table_column("| metric | meaning |\n" + "\n".join(rows), 0)
    handler = ast.parse((REPO_ROOT / "lambda_src/access_analyzer_remediation/handler.py").read_text())
    emitted = next(
        ast.literal_eval(node.value)
        for node in handler.body
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "PER_TYPE_METRICS" for t in node.targets)
    )
    dashboard = next(block for block in parse("dashboard.tf")["locals"] if "dashboard_by_type" in block)
    by_type = [outcome["name"] for outcome in dashboard["dashboard_by_type"]]
    assert documented == set(emitted) == set(by_type) and len(by_type) == len(set(by_type))
    assert {"Remediated", "NotifiedOnly", "NotContained", "Failed"} <= documented <= metrics
    assert (
        dashboard["dashboard_search_by_type"]
        == '{"${var.metrics_namespace}",resource_type,service} service="${var.name}"'
    )


def test_each_adapter_action_is_a_call_of_its_code_and_in_the_contract() -> None:
    """An adapter declares the IAM action of every API call it makes (resources/<type>.py); each declared operation
    is called in that file, and each action is in docs/architecture.md's table (and so in the Lambda role)."""
    from botocore import xform_name

    from access_analyzer_remediation.resources.iam_role import IamRoleAdapter

    contract = {a for a in table_column(section("AWS calls the Lambda makes"), 1) if ":" in a}
    adapter = IamRoleAdapter(iam=None)  # type: ignore[arg-type]  # only its declarations are read
    source = (REPO_ROOT / "lambda_src/access_analyzer_remediation/resources/iam_role.py").read_text()
    assert adapter.iam_actions, "an adapter that declares no calls"
    for operation, action in adapter.iam_actions.items():
        assert f".{xform_name(operation)}(" in source, f"{operation} is declared but never called"
        assert action in contract, f"{action} ({operation}) is not in docs/architecture.md"
    called = set(re.findall(r"self\.iam\.(\w+)\(", source))
    assert called == {xform_name(op) for op in adapter.iam_actions}, "a call without a declared action"


def test_one_source_of_the_remediation_statements() -> None:
    """No drift between the central Lambda role and the member role: neither writes a remediation statement of its
    own. The Lambda role's document has no type-gated statement and takes exactly one dynamic block, over
    modules/permissions' statements; the member role (Terraform and StackSet) instantiates the same module with the
    same resource_types and protected inputs."""
    policy = lambda_policy()
    assert not re.search(r"var\.resource_types", str(policy)), "iam.tf grants a type's calls itself"
    loops = [d["statement"]["for_each"] for d in policy["dynamic"] if "statement" in d]
    assert loops.count("${module.permissions.statements}") == 1, loops
    sids = {s["sid"] for s in policy["statement"]}
    module_sids = {s["sid"] for s in static_statements()[len(policy["statement"]) :]}
    module_sids |= {s["sid"] for s in type_statements()}
    assert not sids & module_sids, sids & module_sids
    calls = {
        path: next(block["permissions"] for block in parse(path)["module"] if "permissions" in block)
        for path in ("iam.tf", "modules/member-role/permissions.tf", "modules/member-role-stackset/permissions.tf")
    }
    for path, call in calls.items():
        assert call["source"] in ("./modules/permissions", "../permissions"), (path, call["source"])
        assert call["resource_types"] == "${var.resource_types}", path
        assert call["protected_role_patterns"] == "${var.protected_role_patterns}", path
        assert call["protected_resource_arns"] == "${var.protected_resource_arns}", path


def test_the_member_role_is_assumed_only_in_organization_mode_by_name_and_by_the_code() -> None:
    """iam.tf grants sts:AssumeRole on exactly arn:<partition>:iam::*:role/<member_role_name>, only when that is set
    (a dynamic statement), and members.py is the code that calls it (through the clients' STS client)."""
    policy = lambda_policy()
    [assume] = [d["statement"] for d in policy["dynamic"] if "statement" in d and "member_role_name" in str(d)]
    assert assume["for_each"] == "${var.member_role_name == null ? [] : [var.member_role_name]}"
    content = assume["content"][0] if isinstance(assume["content"], list) else assume["content"]
    assert content["actions"] == ["sts:AssumeRole"]
    assert content["resources"] == ["arn:${local.partition}:iam::*:role/${statement.value}"]
    assert "sts:AssumeRole" not in actions_of(static_statements() + type_statements(), "Allow")
    source = (REPO_ROOT / "lambda_src/access_analyzer_remediation/members.py").read_text()
    assert re.findall(r"\.sts\(\)\.(\w+)\(", source) == ["assume_role"]
    assert "`sts:AssumeRole` on `arn:<partition>:iam::*:role/<member_role_name>`" in CONTRACT
