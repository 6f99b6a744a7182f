"""Prove before writing (proofs.py): the Lambda role gets exactly the three check actions, only with prove_changes,
each one a call of the code; the setting reaches the Lambda."""

from __future__ import annotations

import ast
import re
from typing import Any

from botocore import xform_name

from tests.terraform.test_contract import CONTRACT, lambda_policy, parse, section
from tests.terraform.tfrunner import REPO_ROOT

PROOFS = REPO_ROOT / "lambda_src" / "access_analyzer_remediation" / "proofs.py"


def declared() -> dict[str, str]:
    for node in ast.parse(PROOFS.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "_IAM_ACTIONS" for t in node.targets):
            value = ast.literal_eval(node.value)
            assert isinstance(value, dict)
            return {str(k): str(v) for k, v in value.items()}
    raise AssertionError("proofs.py declares no _IAM_ACTIONS")


def prove_statement() -> dict[str, Any]:
    dynamic = [block["statement"] for block in lambda_policy().get("dynamic", []) if "statement" in block]
    [statement] = [s for s in dynamic if any(c.get("sid") == "ProveChanges" for c in s["content"])]
    found: dict[str, Any] = statement
    return found


def test_the_role_gets_exactly_the_check_actions_only_with_prove_changes() -> None:
    statement = prove_statement()
    assert statement["for_each"] == "${var.prove_changes ? [1] : []}"
    [content] = statement["content"]
    assert set(content["actions"]) == set(declared().values())
    assert content["resources"] == ["*"]  # the checks read no resource: no resource-level permissions
    static = {a for s in lambda_policy()["statement"] for a in s["actions"]}
    assert not static & set(declared().values())  # never granted with prove_changes off


def test_each_check_action_is_a_call_of_proofs_and_named_by_the_contract() -> None:
    source = PROOFS.read_text()
    called = set(re.findall(r"self\.client\.(\w+)\b", source))
    assert called == {xform_name(operation) for operation in declared()}
    for operation, action in declared().items():
        assert action == f"access-analyzer:{operation}"
        assert f"`{action}`" in CONTRACT
    assert "`AAR_PROVE_CHANGES`" in section("Environment")


def test_the_setting_reaches_the_lambda() -> None:
    block = next(block for block in parse("locals.tf")["locals"] if "lambda_settings" in block)
    assert block["lambda_settings"]["AAR_PROVE_CHANGES"] == '${var.prove_changes ? "true" : "false"}'
    [variable] = [v["prove_changes"] for v in parse("variables.tf")["variable"] if "prove_changes" in v]
    assert variable["type"] == "bool" and variable["default"] is True and variable["nullable"] is False
    assert "$0.002" in variable["description"]
