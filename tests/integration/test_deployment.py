"""What pytest-terraform deployed into the sandbox is what the module says, and what the tests run is what it deployed.

Also checks the sandbox itself: authorization is enforced per resource, so the least-privilege tests cannot pass
vacuously.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from sandbox.deployment import OVERRIDE_FILE, TFVARS_FILE, FunctionConfiguration, write_sandbox_files
from sandbox.lambda_runtime import LambdaPackage
from sandbox.terraform import REPO_ROOT, Terraform, copy_module, provider_mirror
from tests.integration.plan_check import AppliedRoot, assert_plan_settled
from tests.integration.targets import SandboxTarget

pytestmark = [pytest.mark.integration, pytest.mark.terraform]


def test_pytest_terraform_applied_a_copy_of_examples_complete(sandbox: SandboxTarget) -> None:
    module_dir = sandbox.local.deployment.module_dir
    assert not module_dir.resolve().is_relative_to(REPO_ROOT)
    assert (module_dir / "tf_resources.json").is_file()
    assert (module_dir / "main.tf").read_text() == (REPO_ROOT / "examples" / "complete" / "main.tf").read_text()
    for shipped in ("examples/complete", "examples/basic", "."):
        for name in (OVERRIDE_FILE, TFVARS_FILE, "tf_resources.json"):
            assert not (REPO_ROOT / shipped / name).exists(), f"{shipped}/{name} written into the repository"


def test_a_plan_right_after_apply_changes_nothing(sandbox_root: AppliedRoot) -> None:
    """examples/complete as pytest-terraform applied it: `terraform plan` has nothing to do but moto's known drift
    (tests/integration/plan_check.py: MOTO_DRIFT, each entry with its reason)."""
    code = assert_plan_settled(sandbox_root.terraform, sandbox_root.module_dir, state_args=sandbox_root.state_args)
    assert code in (0, 2)  # 2 only with exactly MOTO_DRIFT (asserted inside)


def test_the_deployed_function_is_the_committed_zip_with_terraforms_configuration(sandbox: SandboxTarget) -> None:
    local = sandbox.local
    outputs = local.deployment.outputs
    config = FunctionConfiguration.read(local.aws.admin.client("lambda"), outputs["lambda_function_name"])
    assert config.code_sha256 == LambdaPackage().code_sha256
    assert (config.handler, config.runtime) == ("access_analyzer_remediation.handler.lambda_handler", "python3.13")
    assert config.role_arn == outputs["lambda_role_arn"]
    environment = dict(config.environment)
    # The output leaves out the sensitive ExternalId (outputs.tf); examples/complete sets none: empty in the function.
    assert environment.pop("AAR_MEMBER_ROLE_EXTERNAL_ID") == ""
    assert environment == outputs["lambda_environment"]
    assert json.loads(config.environment["AAR_ANALYZER_ARNS"]) == [local.aws.standin.analyzer_arn]

    # What the tests run: the handler from the extracted zip, with that environment, as the execution role.
    instance = local.function.instance or local.function.cold_start()
    assert instance.handler_file == (local.function.code_dir / "access_analyzer_remediation" / "handler.py").resolve()
    assert not instance.handler_file.is_relative_to(REPO_ROOT)
    differing = {k for k, v in config.environment.items() if instance.environment.get(k) != v}
    assert differing == set()
    assert instance.environment["AWS_ACCESS_KEY_ID"] == local.function.credentials.access_key_id
    caller = local.function.role_session.client("sts").get_caller_identity()["Arn"]
    assert caller.startswith(config.role_arn.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/"))


def test_the_rule_targets_the_queue_the_function_polls(sandbox: SandboxTarget) -> None:
    local = sandbox.local
    outputs = local.deployment.outputs
    assert local.queue_url == outputs["queue_url"]
    events = local.aws.admin.client("events")
    [target] = events.list_targets_by_rule(Rule=outputs["event_rule_name"])["Targets"]
    assert target["Arn"] == outputs["queue_arn"]
    assert target["DeadLetterConfig"]["Arn"] == outputs["events_dlq_arn"]
    pattern = json.loads(events.describe_rule(Name=outputs["event_rule_name"])["EventPattern"])
    assert pattern["resources"] == [local.aws.standin.analyzer_arn]


def test_authorization_is_enforced_per_resource(sandbox: SandboxTarget) -> None:
    """The execution role may use its table and analyzer, not another table or analyzer, nor edit its own role."""
    local = sandbox.local
    aws = local.aws
    admin = aws.admin
    other_table = "not-the-audit-table"
    admin.client("dynamodb").create_table(
        TableName=other_table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    other_analyzer = aws.standin.analyzer_arn_for("not-configured")  # authorization comes before "not found"
    role = local.function.role_session
    item = {"pk": {"S": "sandbox-probe"}, "sk": {"S": "probe"}}
    with aws.authorization():
        probe = {"UpdateExpression": "SET probe = :p", "ExpressionAttributeValues": {":p": {"S": "x"}}}
        role.client("dynamodb").update_item(TableName=local.deployment.audit_table, Key=item, **probe)
        with pytest.raises(ClientError, match="not authorized to perform: dynamodb:UpdateItem"):
            role.client("dynamodb").update_item(TableName=other_table, Key={"pk": {"S": "x"}}, **probe)
        with pytest.raises(ClientError, match="ResourceNotFoundException"):  # allowed, and then not found
            role.client("accessanalyzer").get_finding(analyzerArn=aws.standin.analyzer_arn, id="no-such-finding")
        with pytest.raises(ClientError, match="AccessDeniedException"):
            role.client("accessanalyzer").get_finding(analyzerArn=other_analyzer, id="no-such-finding")
        with pytest.raises(ClientError, match="not authorized to perform: iam:UpdateAssumeRolePolicy"):
            own = local.function.configuration.role_arn.rsplit("/", 1)[-1]
            role.client("iam").update_assume_role_policy(RoleName=own, PolicyDocument="{}")
    admin.client("dynamodb").delete_item(TableName=local.deployment.audit_table, Key=item)


def test_examples_complete_plans_with_its_kms_key(sandbox: SandboxTarget, tmp_path: Path) -> None:
    """examples/complete as shipped (create_kms_key = true): its key's ARN is unknown until applied, so nothing in
    the module may depend on it for a count or for_each. Plan only (the apply above runs without that key)."""
    aws = sandbox.local.aws
    module_dir = copy_module(tmp_path / "module") / "examples" / "complete"
    variables = {
        "notification_email": "security@example.com",
        "create_analyzer": False,
        "analyzer_arns": [aws.standin.analyzer_arn],
        "lambda_layers": [],
    }
    write_sandbox_files(module_dir, aws.endpoint_url, region=aws.region, variables=variables)
    terraform = Terraform.create(tmp_path / "terraform", mirror=provider_mirror())
    terraform.init(module_dir)
    plan = terraform.run("plan", "-input=false", "-no-color", "-lock=false", cwd=module_dir, check=False)
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr
