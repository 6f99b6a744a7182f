"""The module follows docs/architecture.md: the Lambda environment and the IAM actions of the Lambda role."""

from __future__ import annotations

import re
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions

from tests.terraform.tfrunner import REPO_ROOT

OPTIONS = SerializationOptions(with_comments=False, strip_string_quotes=True)
CONTRACT = (REPO_ROOT / "docs" / "architecture.md").read_text()
# Not AWS calls of the package: the runtime's logging (the table lists what the code calls).
RUNTIME_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents"}


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


def test_lambda_environment_is_the_contract() -> None:
    contract = {name for name in table_column(section("Environment"), 0) if re.fullmatch(r"[A-Z_]+", name)}
    environment = next(block["lambda_environment"] for block in parse("locals.tf")["locals"])
    assert set(environment) == contract


def test_lambda_role_actions_are_the_contract() -> None:
    contract = {a for a in table_column(section("AWS calls the Lambda makes"), 1) if ":" in a}
    documents = [block["aws_iam_policy_document"] for block in parse("iam.tf")["data"]]
    statements = next(doc["lambda"] for doc in documents if "lambda" in doc)["statement"]  # X-Ray/KMS are dynamic
    allowed = {a for s in statements if s.get("effect", "Allow") == "Allow" for a in s["actions"]}
    assert allowed - RUNTIME_ACTIONS == contract


def test_protected_role_patterns_default_is_the_contract() -> None:
    """The default of protected_role_patterns is docs/architecture.md's "Default protected patterns", in order."""
    paragraph = r"^Default protected patterns: (.*?)(?=\n\n|Service-linked roles)"
    match = re.search(paragraph, section("Environment"), re.M | re.S)
    assert match, "docs/architecture.md has no 'Default protected patterns:' paragraph"
    # Backticked words outside the parenthesised remarks (which name example roles, not patterns).
    contract = re.findall(r"`([^`]+)`", re.sub(r"\([^)]*\)", "", match.group(1)))
    variables = {name: body for block in parse("variables.tf")["variable"] for name, body in block.items()}
    assert variables["protected_role_patterns"]["default"] == contract


def test_metric_alarms_watch_contract_metrics() -> None:
    """Every alarm on a Powertools metric names a metric of the contract's Metrics table; NotContained has none."""
    metrics = table_column(section("Metrics"), 0)
    alarms = {
        name: body
        for block in parse("alarms.tf")["resource"]
        for name, body in block.get("aws_cloudwatch_metric_alarm", {}).items()
    }
    powertools = {a["metric_name"] for a in alarms.values() if a["namespace"] == "${var.metrics_namespace}"}
    assert powertools == {"NotificationFailed"}
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
    """Every Powertools metric of docs/architecture.md ("Metrics") is on the dashboard (dashboard.tf)."""
    metrics = {m for m in table_column(section("Metrics"), 0) if re.fullmatch(r"\w+", m)}  # not `.<reason>`
    source = (REPO_ROOT / "dashboard.tf").read_text()
    charted = set(re.findall(r'name = "(\w+)"', source))  # the outcome lines
    charted |= set(re.findall(r'\[var\.metrics_namespace, "(\w+)"\]', source))  # the other widgets' lines
    assert metrics <= charted, metrics - charted


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
