"""The same scenarios in a real AWS sandbox account (opt-in; skipped, never failed, when not configured).

Configuration (environment):

- ``AAR_E2E_REAL_AWS=1`` turns it on. Use a SANDBOX account: the tests deploy examples/complete (named
  ``aar-e2e-<random>``), create IAM roles that trust another account, and destroy everything at the end.
- credentials and Region as for any AWS SDK: ``AWS_PROFILE`` (or the ``AWS_ACCESS_KEY_ID`` family) and
  ``AWS_REGION`` / ``AWS_DEFAULT_REGION``. Terraform must reach the registry or a mirror (``TF_PROVIDER_MIRROR``).
- ``AAR_E2E_ANALYZER_ARN``: an existing ACCOUNT analyzer to use; unset, the module creates one.
- ``AAR_E2E_NOTIFICATION_EMAIL``: the module's e-mail subscriber (default ``aar-e2e@example.com``, which never
  confirms; the tests read the digests from an SQS queue they subscribe themselves).
- ``AAR_E2E_EXTERNAL_ACCOUNT_ID`` (default 999988887777) and ``AAR_E2E_EXTERNAL_PRINCIPAL_ARN`` (an existing
  principal of another account; without it the principal-ARN variant is skipped: IAM rejects unknown principals).
- ``AAR_E2E_TIMEOUT``: seconds to wait for the analyzer and the Lambda (default 1800: the analyzer reports new
  trust within about 30 minutes; the tests call StartResourceScan to make it sooner).

What differs from the sandbox, and why:

- The real analyzer raises the findings and the DEPLOYED Lambda (the committed zip, with the public Powertools
  layer) processes them through the deployed rule, queue and event source mapping. The tests cannot read the queue
  (the function consumes it), so "the event arrived" is shown by the function's audit record, and the function's
  permissions are enforced by IAM itself.
- Every trust statement granting an AWS account or principal also requires a random ``sts:ExternalId`` nobody
  knows, so the role cannot actually be assumed during the minutes before the Deny lands. The analyzer still
  reports the access (with the condition), and the remediation denies the principal whatever the conditions.
- A redelivery is the finding's event (rebuilt from GetFinding) sent to the deployed queue again; if the
  analyzer has already resolved the finding, the function skips it as finding_not_active instead of
  already_contained.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sandbox.access_analyzer import build_finding_event
from sandbox.deployment import CliResult, Deployment, Mailbox, run_cli
from tests.integration.targets import Containment

T = TypeVar("T")
ENABLED = os.environ.get("AAR_E2E_REAL_AWS") == "1"
NOT_CONFIGURED = (
    "real-AWS end-to-end tests not configured: set AAR_E2E_REAL_AWS=1 with AWS_PROFILE (or keys) and AWS_REGION "
    "of a sandbox account (tests/integration/real_aws.py)"
)
# The AWS SDK settings of the developer's shell that the CLI run by the tests needs.
_SDK_VARIABLES = (
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_CA_BUNDLE",
)


def timeout() -> float:
    return float(os.environ.get("AAR_E2E_TIMEOUT", "1800"))


def terraform_variables(name: str) -> dict[str, Any]:
    """examples/complete's variables for a real account (everything else: the example's defaults)."""
    analyzer = os.environ.get("AAR_E2E_ANALYZER_ARN", "")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return {
        "name": name,
        "region": region,
        "notification_email": os.environ.get("AAR_E2E_NOTIFICATION_EMAIL", "aar-e2e@example.com"),
        "create_analyzer": not analyzer,
        "analyzer_arns": [analyzer] if analyzer else [],
    }


def wait_for(what: str, probe: Callable[[], T | None], seconds: float, interval: float = 10.0) -> T:
    """Call `probe` until it returns something other than None; AssertionError after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(interval)


@dataclass
class RealAwsTarget:
    """The module applied into a real account; the deployed Lambda does the work."""

    deployment: Deployment
    session: Any  # boto3.Session
    name: str = "aws"
    external_account: str = field(default_factory=lambda: os.environ.get("AAR_E2E_EXTERNAL_ACCOUNT_ID", "999988887777"))
    redelivery_reasons: frozenset[str] = frozenset({"already_contained", "finding_not_active"})
    mail_timeout: float = 600.0
    roles: list[str] = field(default_factory=list)
    mailboxes: list[Mailbox] = field(default_factory=list)

    @property
    def analyzer_arn(self) -> str:
        return self.deployment.analyzer_arns[0]

    @property
    def queue_url(self) -> str:
        return str(self.deployment.outputs["queue_url"])

    def unique(self, prefix: str) -> str:
        return f"{prefix}{uuid.uuid4().hex[:10]}"

    def guard(self, statement: dict[str, Any]) -> dict[str, Any]:
        principal = statement.get("Principal")
        if isinstance(principal, Mapping) and "AWS" in principal:
            condition = dict(statement.get("Condition", {}))
            condition["StringEquals"] = {**condition.get("StringEquals", {}), "sts:ExternalId": uuid.uuid4().hex}
            return {**statement, "Condition": condition}
        return statement

    def create_role(
        self, name: str, policy: Mapping[str, Any], *, path: str = "/", tags: Mapping[str, str] | None = None
    ) -> str:
        iam = self.session.client("iam")
        arn = iam.create_role(
            RoleName=name,
            Path=path,
            AssumeRolePolicyDocument=json.dumps(policy),
            Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
        )["Role"]["Arn"]
        self.roles.append(name)
        iam.get_waiter("role_exists").wait(RoleName=name)
        return str(arn)

    def mailbox(self) -> Mailbox:
        mailbox = Mailbox.subscribe(self.session, self.deployment.topic_arn, self.unique("aar-e2e-mailbox-"))
        self.mailboxes.append(mailbox)
        return mailbox

    def enforcing(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()  # IAM always enforces

    def _role_findings(self, role_arn: str) -> list[dict[str, Any]]:
        client = self.session.client("accessanalyzer")
        summaries = [
            f
            for page in client.get_paginator("list_findings_v2").paginate(
                analyzerArn=self.analyzer_arn, filter={"resource": {"eq": [role_arn]}}
            )
            for f in page["findings"]
        ]
        return [client.get_finding(analyzerArn=self.analyzer_arn, id=f["id"])["finding"] for f in summaries]

    def contain(self, role_arn: str, expected: int) -> Containment:
        """Ask the analyzer to scan the role, wait for its findings, then for the deployed Lambda's decisions."""
        self.session.client("accessanalyzer").start_resource_scan(analyzerArn=self.analyzer_arn, resourceArn=role_arn)

        def found() -> list[dict[str, Any]] | None:
            findings = [f for f in self._role_findings(role_arn) if not f.get("error")]
            return findings if len(findings) >= expected else None

        findings = wait_for(f"{expected} finding(s) on {role_arn}", found, timeout())
        for finding in findings:
            self._wait_for_decisions(finding["id"], 0)
        return Containment(role_arn, findings)

    def _wait_for_decisions(self, finding_id: str, known: int) -> list[dict[str, Any]]:
        """The decisions on a finding after the first `known` ones, once there is at least one."""

        def new() -> list[dict[str, Any]] | None:
            return self._decisions(finding_id)[known:] or None

        return wait_for(f"the deployed Lambda's decision on finding {finding_id}", new, timeout())

    def _decisions(self, finding_id: str) -> list[dict[str, Any]]:
        return [r for r in self.audit_records(finding_id) if r.get("record_type") == "DECISION"]

    def redeliver(self, containment: Containment) -> list[dict[str, Any]]:
        # The queue takes messages from the rule and the Lambda role only (its policy denies everyone else), so the
        # redelivery is handed to the function directly, as the event source mapping would hand it: an SQS batch
        # whose record was received before.
        functions = self.session.client("lambda")
        account = self.session.client("sts").get_caller_identity()["Account"]
        before = {f["id"]: len(self._decisions(f["id"])) for f in containment.findings}
        for finding in containment.findings:
            current = self.session.client("accessanalyzer").get_finding(analyzerArn=self.analyzer_arn, id=finding["id"])
            event = build_finding_event(current["finding"], self.analyzer_arn, self.deployment.region, account)
            event["detail"]["status"] = "ACTIVE"  # the event as first delivered
            record = {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "redelivery",
                "body": json.dumps(event, default=str),
                "attributes": {"ApproximateReceiveCount": "2"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{self.deployment.region}:{account}:{self.deployment.function_name}",
                "awsRegion": self.deployment.region,
            }
            functions.invoke(FunctionName=self.deployment.function_name, Payload=json.dumps({"Records": [record]}))
        return [r for f in containment.findings for r in self._wait_for_decisions(f["id"], before[f["id"]])]

    def trust_policy(self, role_name: str) -> dict[str, Any]:
        return dict(self.session.client("iam").get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"])

    def audit_records(self, finding_id: str) -> list[dict[str, Any]]:
        from boto3.dynamodb.types import TypeDeserializer

        response = self.session.client("dynamodb").query(
            TableName=self.deployment.audit_table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"FINDING#{finding_id}"}},
            ConsistentRead=True,
        )
        deserializer = TypeDeserializer()
        return [{k: deserializer.deserialize(v) for k, v in item.items()} for item in response["Items"]]

    def rescan(self, role_arn: str, finding_id: str, expect_status: str) -> list[dict[str, Any]]:
        """StartResourceScan; wait until the analyzer has analysed the role again (GetAnalyzedResource) and, for a
        little longer, until the finding shows `expect_status`; return the role's findings as they then are."""
        client = self.session.client("accessanalyzer")

        def analyzed_at() -> Any:
            try:
                resource = client.get_analyzed_resource(analyzerArn=self.analyzer_arn, resourceArn=role_arn)
            except client.exceptions.ResourceNotFoundException:
                return None
            return resource["resource"]["analyzedAt"]

        previous = analyzed_at()
        client.start_resource_scan(analyzerArn=self.analyzer_arn, resourceArn=role_arn)

        def analysed_again() -> bool | None:
            current = analyzed_at()
            return True if current is not None and (previous is None or current > previous) else None

        wait_for(f"a new analysis of {role_arn}", analysed_again, timeout(), 15)

        def settled() -> list[dict[str, Any]] | None:
            findings = self._role_findings(role_arn)
            return findings if any(f["id"] == finding_id and f["status"] == expect_status for f in findings) else None

        try:
            return wait_for(f"finding {finding_id} to be {expect_status}", settled, 300, 15)
        except AssertionError:
            return self._role_findings(role_arn)  # the caller's assertion shows what the analyzer reports

    def queued_events(self) -> list[dict[str, Any]] | None:
        return None  # the deployed function consumes the queue

    def findings(self, role_arn: str) -> list[dict[str, Any]]:
        return self._role_findings(role_arn)

    def cli_environment(self) -> dict[str, str]:
        sdk = {k: v for k, v in os.environ.items() if k in _SDK_VARIABLES}
        return {**sdk, **self.deployment.cli_environment}

    def cli(self, *argv: str) -> CliResult:
        return run_cli(argv, self.cli_environment())

    def cleanup(self) -> None:
        """Delete the roles and mailboxes the tests created (the finalizer of the `target` fixture)."""
        iam = self.session.client("iam")
        for name in self.roles:
            with contextlib.suppress(iam.exceptions.NoSuchEntityException):
                iam.delete_role(RoleName=name)
        self.roles.clear()
        sns, sqs = self.session.client("sns"), self.session.client("sqs")
        for mailbox in self.mailboxes:
            with contextlib.suppress(Exception):
                sns.unsubscribe(SubscriptionArn=mailbox.subscription_arn)
            with contextlib.suppress(Exception):
                sqs.delete_queue(QueueUrl=mailbox.queue_url)
        self.mailboxes.clear()
