"""Uninstall, with the module's defaults (examples/basic): apply, contain a finding, `aa-remediate revert --all`,
then `terraform destroy`, which must either work in one step or stop before it removes anything.

Its own local AWS (a second moto server and stand-in): the package's deployment (examples/complete) uses the same
names and listens to the same analyzer, and must not see this test's findings or lose its resources. Applied and
destroyed with the sandbox's Terraform runner (`sandbox.terraform`, `sandbox.deployment.apply`), not pytest-terraform:
the destroy is what is tested, including one that must fail. A plan right after the apply must change nothing
(tests/integration/plan_check.py): this is the plan check of the module's defaults, the package's deployment has its
own (test_deployment.py) for examples/complete.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from sandbox.deployment import Deployment, LocalAws, LocalDeployment, allow, apply, run_cli, trust_policy
from sandbox.deployment import write_sandbox_files as write_files
from sandbox.terraform import Terraform, copy_module, provider_mirror
from tests.integration.plan_check import assert_plan_settled
from tests.integration.targets import EXTERNAL_ACCOUNT
from tests.terraform.tfrunner import require_terraform

pytestmark = [pytest.mark.integration, pytest.mark.terraform, pytest.mark.timeout(600)]

EXAMPLE = "examples/basic"
NAME = "access-analyzer-remediation"  # the module's default name (examples/basic sets nothing else)
# As an operator runs it; -parallelism as sandbox.deployment.apply (the SQS waiters dominate the time).
DESTROY = ("destroy", "-auto-approve", "-input=false", "-no-color", "-parallelism=32")


def state_list(terraform: Terraform, module_dir: Path) -> list[str]:
    """The managed resources in the state. Data sources are left out: a destroy that stops may already have dropped
    some (modules/permissions' policy document, which nothing being destroyed depends on); the next plan reads them
    again, and nothing in AWS is behind them."""
    proc = terraform.run("state", "list", "-no-color", cwd=module_dir, check=False)
    addresses = proc.stdout.split() if proc.returncode == 0 else []
    return [a for a in addresses if not a.startswith("data.") and ".data." not in a]


def one_line(text: str) -> str:
    """Terraform wraps its error messages: compare words."""
    return " ".join(text.split())


def module_resources_in_aws(aws: LocalAws) -> dict[str, Any]:
    """What moto holds of the deployment, by kind (empty lists once it is destroyed)."""
    admin = aws.admin
    return {
        "function": [f["FunctionName"] for f in admin.client("lambda").list_functions()["Functions"]],
        "table": [t for t in admin.client("dynamodb").list_tables()["TableNames"] if t.startswith(NAME)],
        "queues": [
            url.rsplit("/", 1)[-1] for url in admin.client("sqs").list_queues(QueueNamePrefix=NAME).get("QueueUrls", [])
        ],
        "roles": [r["RoleName"] for r in admin.client("iam").list_roles()["Roles"] if r["RoleName"].startswith(NAME)],
        "topics": [t["TopicArn"] for t in admin.client("sns").list_topics()["Topics"] if t["TopicArn"].endswith(NAME)],
        "rules": [r["Name"] for r in admin.client("events").list_rules(NamePrefix=NAME)["Rules"]],
        "alarms": [a["AlarmName"] for a in admin.client("cloudwatch").describe_alarms()["MetricAlarms"]],
        "dashboards": [d["DashboardName"] for d in admin.client("cloudwatch").list_dashboards()["DashboardEntries"]],
        "schedules": [s["Name"] for s in admin.client("scheduler").list_schedules()["Schedules"]],
        "log_groups": [
            g["logGroupName"]
            for g in admin.client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{NAME}")["logGroups"]
        ],
    }


def test_revert_all_then_destroy_with_the_defaults(tmp_path: Path) -> None:
    require_terraform()
    started = time.monotonic()
    with LocalAws() as aws:
        # ------------------------------------------------------------ apply examples/basic (the defaults)
        module_dir = copy_module(tmp_path / "module") / EXAMPLE
        # examples/basic takes only notification_email: the sandbox's needs go into a module override (as make demo).
        sandbox_arguments: dict[str, Any] = {
            "create_analyzer": False,  # moto has no Access Analyzer: the stand-in's analyzer instead
            "analyzer_arns": [aws.standin.analyzer_arn],
            "lambda_layers": [],  # moto cannot resolve the public Powertools layer
        }

        def write_sandbox_files(**arguments: Any) -> None:
            write_files(
                module_dir,
                aws.endpoint_url,
                region=aws.region,
                variables={"notification_email": "security@example.com"},
                module_arguments={**sandbox_arguments, **arguments},
            )

        write_sandbox_files()
        terraform = Terraform.create(tmp_path / "terraform", mirror=provider_mirror())
        outputs = apply(terraform, module_dir)
        deployed = state_list(terraform, module_dir)
        assert "module.access_analyzer_remediation.terraform_data.destroy_guard" in deployed
        assert_plan_settled(terraform, module_dir)  # the module's defaults settle (moto's known drift aside)

        # ------------------------------------------------------------ a finding is contained
        local = LocalDeployment(aws, Deployment(module_dir, outputs), tmp_path / "lambda")
        role = "aar-uninstall-Audit_CrossAccountRole"
        role_arn = local.create_role(role, trust_policy(allow({"AWS": EXTERNAL_ACCOUNT})))
        original = local.trust_policy(role)
        # A confirmed subscriber: with require_confirmed_subscription (on by default) the function only reports
        # until someone reads the digests.
        local.subscribe_mailbox("aar-uninstall-mailbox")
        cli_environment = {**local.cli_environment(), "AWS_DEFAULT_REGION": aws.region}
        with aws.authorization():
            created = local.rescan(role_arn).created
            delivery = local.run_function(local.receive_findings(1))
            assert delivery.invocation.result == {"batchItemFailures": []}, delivery.invocation.logs
            contained = local.trust_policy(role)
            assert contained["Statement"][: len(original["Statement"])] == original["Statement"]
            assert [s["Effect"] for s in contained["Statement"][len(original["Statement"]) :]] == ["Deny"]

            # -------------------------------------------------------- aa-remediate revert --all: a dry run first
            dry_run = run_cli(["revert", "--all", "--json"], cli_environment)
            assert dry_run.code == 0, dry_run.stderr
            [row] = dry_run.json()["roles"]
            assert (dry_run.json()["dry_run"], row["role_arn"], len(row["entries"])) == (True, role_arn, 1)
            assert local.trust_policy(role) == contained, "the dry run changed the trust policy"

            removed = run_cli(["revert", "--all", "--yes"], cli_environment)
            assert removed.code == 0, removed.stderr
            assert f"{role_arn}: removed 1 Deny entry" in removed.stdout, removed.stdout
            assert local.trust_policy(role) == original
            [finding_id] = created
            reverts = [r for r in local.audit_records(finding_id) if r.get("record_type") == "REVERT"]
            assert [(r["reason"], json.loads(r["policy_after"])) for r in reverts] == [("uninstall", original)]

        # ------------------------------------------------------------ destroy with the defaults: stops, removes nothing
        before = module_resources_in_aws(aws)
        refused = terraform.run(*DESTROY, cwd=module_dir, check=False)
        assert refused.returncode != 0, refused.stdout[-3000:]
        message = one_line(refused.stdout + refused.stderr)
        for text in (
            "STOP: terraform destroy has removed nothing.",
            f"the audit table {NAME}-audit",
            "set mode = notify and audit_table_deletion_protection = false in the module block and run terraform apply",
            "aa-remediate revert --all --yes",
            "Run terraform destroy again.",
        ):
            assert text in message, message[-3000:]
        assert "Destruction complete" not in refused.stdout, refused.stdout[-3000:]
        assert state_list(terraform, module_dir) == deployed
        assert module_resources_in_aws(aws) == before
        assert all(before.values()), before

        # ------------------------------------------------------------ as the message says: notify, unprotect, apply
        write_sandbox_files(mode="notify", audit_table_deletion_protection=False)
        # This apply also re-sends the queue's redrive policy (moto's drift, plan_check.MOTO_DRIFT), and moto 5.2.5's
        # SetQueueAttributes then drops the queue's Policy (Queue._set_attributes takes it from the request alone;
        # SQS keeps the attributes a request does not name): moto's, and harmless to the destroy that follows.
        apply(terraform, module_dir)
        destroyed = terraform.run(*DESTROY, cwd=module_dir, check=False)
        assert destroyed.returncode == 0, destroyed.stdout[-3000:] + destroyed.stderr
        assert state_list(terraform, module_dir) == []
        assert module_resources_in_aws(aws) == {kind: [] for kind in before}
        assert local.trust_policy(role) == original  # what the tool wrote is gone, the role as it was
    # About 3 minutes on moto: two applies (the first ~90 s), two destroys (the second ~45 s: SQS queue policy waits).
    assert time.monotonic() - started < 420
