"""Two instances of the module in one account, one per Region (examples/multi-region: us-east-1 and eu-west-1),
applied into one moto server: no `EntityAlreadyExists` (IAM is global), and no two resources of the state share a
name where AWS would make them collide (account-wide for IAM roles and dashboards, per Region for the rest).

Its own local AWS (a moto server and stand-in), as test_uninstall.py: the package's deployment (examples/complete)
uses the module's default names in us-east-1. moto keeps CloudWatch dashboards per Region, unlike AWS (they are
global to the account): the names in the state are compared, not what moto lists. Not destroyed: moto's state dies
with the server.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from sandbox.deployment import OVERRIDE_FILE, TFVARS_FILE, LocalAws, apply, module_override, provider_override
from sandbox.moto_server import DEFAULT_ACCOUNT_ID
from sandbox.terraform import Terraform, copy_module, provider_mirror
from tests.terraform.tfrunner import require_terraform

pytestmark = [pytest.mark.integration, pytest.mark.terraform, pytest.mark.timeout(600)]

EXAMPLE = "examples/multi-region"
REGIONS = {"primary": "us-east-1", "secondary": "eu-west-1"}  # module block -> its provider's Region
NAME = "access-analyzer-remediation"  # the module's default name (the example sets nothing else)

# Resource type -> the attribute AWS names it by. IAM roles and dashboards are global to the account; inline role
# policies are named per role; everything else per Region.
NAME_ATTRIBUTES = {
    "aws_accessanalyzer_analyzer": "analyzer_name",
    "aws_cloudwatch_dashboard": "dashboard_name",
    "aws_cloudwatch_event_rule": "name",
    "aws_cloudwatch_log_group": "name",
    "aws_cloudwatch_metric_alarm": "alarm_name",
    "aws_dynamodb_table": "name",
    "aws_iam_role": "name",
    "aws_iam_role_policy": "name",
    "aws_kms_alias": "name",
    "aws_lambda_function": "function_name",
    "aws_scheduler_schedule": "name",
    "aws_sns_topic": "name",
    "aws_sqs_queue": "name",
}
GLOBAL_TYPES = frozenset({"aws_iam_role", "aws_cloudwatch_dashboard"})
# Named by what they attach to (a rule, a queue, a topic, a role, a function), or not named at all.
UNNAMED_TYPES = frozenset(
    {
        "aws_cloudwatch_event_target",
        "aws_kms_key",
        "aws_lambda_event_source_mapping",
        "aws_sns_topic_policy",
        "aws_sns_topic_subscription",
        "aws_sqs_queue_policy",
        "terraform_data",
    }
)


def sandbox_override(endpoint_url: str, analyzer_arn: str) -> str:
    """Both providers to the one moto server (one account, two Regions); the sandbox's module arguments for both
    module blocks (no Access Analyzer in moto: an analyzer ARN of each instance's Region instead; no layer)."""
    parts = ["# Written by tests/integration/test_regions.py: both Regions' providers to the local sandbox.\n"]
    for module, region in REGIONS.items():
        provider = provider_override(endpoint_url, region)
        if module != "primary":
            alias = f'  alias                       = "{module}"\n'
            provider = provider.replace('provider "aws" {\n', 'provider "aws" {\n' + alias)
        parts.append(provider)
        regional_analyzer = analyzer_arn.replace(f":{REGIONS['primary']}:", f":{region}:")
        arguments = {"create_analyzer": False, "analyzer_arns": [regional_analyzer], "lambda_layers": []}
        parts.append(module_override(arguments, module))
    return "\n".join(parts)


def named_resources(state: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """`terraform show -json` -> {module block: [(scope, type:name)]}, scope being "account" for the global types,
    the role for inline policies, the Region for the rest."""
    found: dict[str, list[tuple[str, str]]] = {module: [] for module in REGIONS}
    for child in state["values"]["root_module"].get("child_modules", []):
        module = child["address"].removeprefix("module.")
        for resource in child.get("resources", []):
            kind, values = resource["type"], resource["values"]
            if resource["mode"] != "managed" or kind in UNNAMED_TYPES:
                continue
            assert kind in NAME_ATTRIBUTES, f"{resource['address']}: a resource type this test does not know"
            if kind in GLOBAL_TYPES:
                scope = "account"
            elif kind == "aws_iam_role_policy":
                scope = f"role {values['role']}"
            else:
                scope = REGIONS[module]
            found[module].append((scope, f"{kind}:{values[NAME_ATTRIBUTES[kind]]}"))
    return found


def test_two_regions_in_one_account(tmp_path: Path) -> None:
    require_terraform()
    with LocalAws() as aws:
        module_dir = copy_module(tmp_path / "module") / EXAMPLE
        (module_dir / OVERRIDE_FILE).write_text(sandbox_override(aws.endpoint_url, aws.standin.analyzer_arn))
        (module_dir / TFVARS_FILE).write_text(json.dumps({"notification_email": "security@example.com"}))
        terraform = Terraform.create(tmp_path / "terraform", mirror=provider_mirror())
        outputs = apply(terraform, module_dir)  # raises with Terraform's output on any error (EntityAlreadyExists)

        assert outputs["iam_role_names"] == {
            region: {"lambda": f"{NAME}-lambda-{region}", "scheduler": f"{NAME}-scheduler-{region}"}
            for region in REGIONS.values()
        }
        roles = {r["RoleName"] for r in aws.admin.client("iam").list_roles()["Roles"]}
        assert {f"{NAME}-{kind}-{region}" for kind in ("lambda", "scheduler") for region in REGIONS.values()} <= roles
        for region in REGIONS.values():
            arn = outputs["lambda_role_arns"][region]
            assert arn == f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/{NAME}-lambda-{region}"
            assert f"export AWS_REGION='{region}'" in outputs["cli_environments"][region]
            functions = aws.admin.client("lambda", region_name=region).list_functions()["Functions"]
            assert [(f["FunctionName"], f["Role"]) for f in functions] == [(NAME, arn)]

        # Every named resource of the state: both instances have the same kinds, and no name is taken twice in
        # its scope (the account for roles and dashboards, the Region otherwise).
        state = json.loads(terraform.run("show", "-json", "-no-color", cwd=module_dir).stdout)
        found = named_resources(state)
        kinds = {module: sorted(name.split(":")[0] for _, name in names) for module, names in found.items()}
        assert kinds["primary"] == kinds["secondary"] and len(kinds["primary"]) >= 20, kinds
        taken = Counter(entry for names in found.values() for entry in names)
        assert [entry for entry, count in taken.items() if count > 1] == []
        # The account-global names differ only because they carry the Region.
        account_wide = sorted(name for names in found.values() for scope, name in names if scope == "account")
        regions = REGIONS.values()
        assert account_wide == sorted(
            [f"aws_cloudwatch_dashboard:{NAME}-{region}" for region in regions]
            + [f"aws_iam_role:{NAME}-{kind}-{region}" for kind in ("lambda", "scheduler") for region in regions]
        )
