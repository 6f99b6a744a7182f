"""A plan right after apply must change nothing: what moto returns differently from AWS is listed here, with why.

`assert_plan_settled` runs ``terraform plan -detailed-exitcode``. Exit 0 is the goal. Exit 2 is accepted only when
every planned change is in `MOTO_DRIFT`: an in-place update of exactly the listed attributes of exactly the listed
resources, to a value that is the same JSON as the one moto returned. Anything else (another resource, another
attribute, a data source read at apply time, a replacement) fails with the plan's changes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.terraform import Terraform

MODULE_PREFIX = "module.access_analyzer_remediation."


@dataclass(frozen=True)
class AppliedRoot:
    """A root module pytest-terraform applied, and a runner for more commands on it: its TF_DATA_DIR (providers
    installed) and its state file, which pytest-terraform keeps outside the module directory (``-state=``)."""

    module_dir: Path
    terraform: Terraform
    state_args: tuple[str, ...]


# Filled by tests/integration/conftest.py as pytest-terraform applies each root.
APPLIED: dict[str, AppliedRoot] = {}

# Address (inside the module) -> the attributes moto makes a plan show although nothing changes.
MOTO_DRIFT: Mapping[str, frozenset[str]] = {
    # moto 5.2.5 keeps the redrive policy as a dict and returns json.dumps(dict) (moto/sqs/models.py, Queue's
    # attributes): ", " and ": " separators. SQS returns the document compact, as the module's jsonencode writes it,
    # and the provider compares the strings, so against moto (only) the plan shows "jsonencode( # whitespace
    # changes". The JSON is the same; `assert_plan_settled` checks that too.
    "aws_sqs_queue.this": frozenset({"redrive_policy"}),
}
JSON_ATTRIBUTES = frozenset({"redrive_policy"})


def planned_changes(plan: Mapping[str, Any]) -> dict[str, dict[str, tuple[Any, Any]]]:
    """``terraform show -json PLAN`` -> {address: {attribute: (before, after)}} of every change that is not a no-op
    (a data source read at apply time shows as `read`, a replacement as delete + create: both are reported)."""
    changes: dict[str, dict[str, tuple[Any, Any]]] = {}
    for change in plan.get("resource_changes", []):
        actions = change["change"]["actions"]
        if actions == ["no-op"]:
            continue
        before, after = change["change"].get("before") or {}, change["change"].get("after") or {}
        unknown = change["change"].get("after_unknown") or {}
        attributes = {
            key: (before.get(key), "(known after apply)" if unknown.get(key) is True else after.get(key))
            for key in sorted(set(before) | set(after) | set(unknown))
            if before.get(key) != after.get(key) or unknown.get(key) is True
        }
        address = str(change["address"]).removeprefix(MODULE_PREFIX)
        changes[address if actions == ["update"] else f"{address} {'+'.join(actions)}"] = attributes
    return changes


def unexpected(changes: Mapping[str, Mapping[str, tuple[Any, Any]]]) -> list[str]:
    """The changes `MOTO_DRIFT` does not explain, one line each."""
    problems = []
    for address, attributes in changes.items():
        allowed = MOTO_DRIFT.get(address)
        if allowed is None or set(attributes) != allowed:
            problems.append(f"{address}: {json.dumps(attributes, default=str)[:2000]}")
            continue
        for name in set(attributes) & JSON_ATTRIBUTES:
            before, after = attributes[name]
            if json.loads(str(before)) != json.loads(str(after)):
                problems.append(f"{address}.{name} is not only reformatted: {before!r} -> {after!r}")
    return problems


def assert_plan_settled(terraform: Terraform, module_dir: Path, *, state_args: Sequence[str] = ()) -> int:
    """Plan in module_dir (with `state_args`, e.g. pytest-terraform's ``-state=...``); returns the exit code."""
    plan_file = module_dir / "settled.tfplan"
    args = ("plan", "-detailed-exitcode", "-input=false", "-no-color", "-lock=false", f"-out={plan_file}")
    proc = terraform.run(*args, *state_args, cwd=module_dir, check=False, timeout=300)
    assert proc.returncode in (0, 2), proc.stdout[-4000:] + proc.stderr
    if proc.returncode == 2:
        shown = terraform.run("show", "-json", "-no-color", str(plan_file), cwd=module_dir)
        plan = json.loads(shown.stdout)
        problems = unexpected(planned_changes(plan))
        assert not problems, "a plan right after apply changes more than moto's known drift:\n" + "\n".join(problems)
        assert not plan.get("output_changes") or all(
            c.get("actions") == ["no-op"] for c in plan["output_changes"].values()
        ), plan["output_changes"]
    plan_file.unlink(missing_ok=True)
    return proc.returncode
