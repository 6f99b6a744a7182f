"""One central deployment serving a second Region (examples/regional: the central module in us-east-1, modules/regional
in eu-west-1), applied into one moto server: a finding of the eu-west-1 analyzer on an eu-west-1 SQS queue goes
through the eu-west-1 forwarding rule to the us-east-1 default bus, the central rule and queue, and the central
function (its execution role's credentials, IAM enforced) verifies it with eu-west-1's Access Analyzer and denies the
access in the eu-west-1 queue's policy; `revert` (the CLI) restores the policy exactly.

Its own local AWS (a moto server and two stand-ins, eu-west-1 behind the us-east-1 endpoint: `serve_region`), as
test_regions.py. moto forwards an event to another Region's bus with its ``resources`` dropped; the sandbox delivers
it unchanged, as EventBridge does (`sandbox.event_bus_forwarding`, tests/sandbox/test_event_bus_forwarding.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sandbox.access_analyzer import AccessAnalyzerStandIn
from sandbox.deployment import (
    OVERRIDE_FILE,
    TFVARS_FILE,
    Deployment,
    LocalAws,
    LocalDeployment,
    apply,
    module_override,
    provider_override,
)
from sandbox.moto_server import DEFAULT_ACCOUNT_ID
from sandbox.terraform import Terraform, copy_module, provider_mirror
from tests.terraform.tfrunner import require_terraform

pytestmark = [pytest.mark.integration, pytest.mark.terraform, pytest.mark.timeout(600)]

EXAMPLE = "examples/regional"
HOME, REGIONAL = "us-east-1", "eu-west-1"
NAME = "access-analyzer-remediation"
EXTERNAL = "999988887777"


def sandbox_override(endpoint_url: str, home_analyzer: str, regional_analyzer: str) -> str:
    """Both providers to the one moto server; no Access Analyzer in moto: the stand-ins' analyzers instead."""
    regional = provider_override(endpoint_url, REGIONAL).replace(
        'provider "aws" {\n', 'provider "aws" {\n  alias                       = "regional"\n'
    )
    return "\n".join(
        [
            "# Written by tests/integration/test_regional.py: both Regions' providers to the local sandbox.\n",
            provider_override(endpoint_url, HOME),
            regional,
            module_override(
                {"create_analyzer": False, "analyzer_arns": [home_analyzer], "lambda_layers": []}, "central"
            ),
            module_override({"create_analyzer": False, "analyzer_arns": [regional_analyzer]}, "regional"),
        ]
    )


def _queue_policy(sqs: Any, url: str) -> dict[str, Any]:
    return dict(json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]))


def test_a_finding_of_another_region_is_forwarded_and_contained_there(tmp_path: Path) -> None:
    require_terraform()
    with LocalAws() as aws:
        regional_standin = AccessAnalyzerStandIn(account_id=DEFAULT_ACCOUNT_ID, region=REGIONAL)
        regional_standin.authorizer = aws.authorizer
        aws.standin.serve_region(regional_standin)
        home_analyzer, regional_analyzer = aws.standin.analyzer_arn, regional_standin.analyzer_arn

        module_dir = copy_module(tmp_path / "module") / EXAMPLE
        (module_dir / OVERRIDE_FILE).write_text(sandbox_override(aws.endpoint_url, home_analyzer, regional_analyzer))
        (module_dir / TFVARS_FILE).write_text(json.dumps({"notification_email": "security@example.com"}))
        outputs = apply(Terraform.create(tmp_path / "terraform", mirror=provider_mirror()), module_dir)
        assert outputs["analyzer_arns"] == [home_analyzer, regional_analyzer]
        assert outputs["forwarding_role_arn"] == f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/{NAME}-forward-{REGIONAL}"

        deployment = LocalDeployment(aws, Deployment(module_dir, outputs), tmp_path / "work")
        assert deployment.deployment.analyzer_arns == [home_analyzer, regional_analyzer]
        admin = aws.admin
        events = admin.client("events", region_name=REGIONAL)
        [target] = events.list_targets_by_rule(Rule=f"{NAME}-forward")["Targets"]
        assert target["Arn"] == f"arn:aws:events:{HOME}:{DEFAULT_ACCOUNT_ID}:event-bus/default"
        assert target["RoleArn"] == outputs["forwarding_role_arn"]

        # An eu-west-1 queue shared with another account, and the eu-west-1 analyzer's finding on it (its event on
        # the eu-west-1 default bus).
        sqs = admin.client("sqs", region_name=REGIONAL)
        url = sqs.create_queue(QueueName="orders")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        assert arn == f"arn:aws:sqs:{REGIONAL}:{DEFAULT_ACCOUNT_ID}:orders"
        allow = {
            "Sid": "Partner",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{EXTERNAL}:root"},
            "Action": "sqs:SendMessage",
            "Resource": arn,
        }
        original = {"Version": "2012-10-17", "Statement": [allow]}
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(original)})
        regional_standin.attach(events_client=events, sqs_client=sqs)
        result = regional_standin.scan_resource(arn)
        [finding_id] = result.created

        # Forwarded unchanged to the central rule and queue (us-east-1).
        [message] = deployment.receive_findings(1)
        event = message.event()
        assert (event["region"], event["resources"], event["detail"]["id"]) == (
            REGIONAL,
            [regional_analyzer],
            finding_id,
        )
        assert event["detail"]["resource"] == arn

        aws.standin.calls.clear()
        regional_standin.calls.clear()
        with aws.authorization():
            delivery = deployment.run_function([message])
        invocation = delivery.invocation
        assert invocation.error is None and invocation.result == {"batchItemFailures": []}, invocation.logs
        assert regional_standin.calls["GetFinding"] >= 1 and aws.standin.calls["GetFinding"] == 0

        contained = _queue_policy(sqs, url)
        assert contained["Statement"][0] == allow
        [deny] = contained["Statement"][1:]
        assert deny["Effect"] == "Deny" and deny["Resource"] == [arn], deny
        assert json.dumps(deny["Principal"]).count(EXTERNAL) == 1 and "sqs:SendMessage" in json.dumps(deny["Action"])
        assert [r["decision"] for r in deployment.audit_records(finding_id) if r.get("record_type") == "DECISION"] == [
            "remediate"
        ]
        # The home Region has no such queue: nothing was written there.
        assert admin.client("sqs", region_name=HOME).list_queues(QueueNamePrefix="orders").get("QueueUrls", []) == []

        reverted = deployment.cli("revert", "--finding-id", finding_id, "--json")
        assert reverted.code == 0, reverted.stderr
        assert reverted.json()["resource_arn"] == arn
        assert _queue_policy(sqs, url) == original
