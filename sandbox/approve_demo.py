"""Approve mode end to end (`python -m sandbox.demo --approve`; tests/integration/test_approve_scenario.py).

The deployed function, run with `AAR_MODE=approve` (what the module's `mode = "approve"` sets; every other variable
is the deployment's), receives the blog post's finding through the deployed rule and queue, writes nothing and
records the exact change as a pending request, mailed with the three commands. `aa-remediate status` shows it; the
security team runs `aa-remediate approve`, which re-verifies the finding and the change and applies it through the
engine; the Deny is in place, a REMEDIATED e-mail follows and a re-scan resolves the finding.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from typing import Any

from sandbox.deployment import CliResult, Delivery, Email, LocalDeployment, LocalLambda, Mailbox, allow, trust_policy

ALICE = "arn:aws:iam::999988887777:user/Alice"


@dataclass
class ApproveScenario:
    local: LocalDeployment
    narrator: Any  # sandbox.demo.Narrator
    role_name: str = "Partner_ApprovalRole"
    principal: str = ALICE
    role_arn: str = ""
    finding: dict[str, Any] = field(default_factory=dict)
    delivery: Delivery | None = None
    policy_before: dict[str, Any] = field(default_factory=dict)
    policy_pending: dict[str, Any] = field(default_factory=dict)
    policy_after: dict[str, Any] = field(default_factory=dict)
    request_emails: list[Email] = field(default_factory=list)
    applied_emails: list[Email] = field(default_factory=list)
    status: CliResult | None = None
    approve: CliResult | None = None
    status_after_rescan: str = ""
    mailbox: Mailbox | None = None

    def function(self) -> LocalLambda:
        """The deployed function (its committed zip, its execution role), in approve mode."""
        deployed = self.local.function
        environment = {**deployed.configuration.environment, "AAR_MODE": "approve"}
        configuration = dataclasses.replace(deployed.configuration, environment=environment)
        return LocalLambda(
            self.local.aws, configuration, self.local.queue_url, self.local.work_dir / "approve", self.local.package
        )

    def run(self) -> ApproveScenario:
        n = self.narrator
        n.title(f"Approve mode: the role {self.role_name}, trusted by {self.principal}")
        self.policy_before = trust_policy(allow({"AWS": self.principal}))
        self.role_arn = self.local.create_role(self.role_name, self.policy_before)
        self.mailbox = self.local.subscribe_mailbox(f"demo-approve-mailbox-{uuid.uuid4().hex[:8]}")
        function = self.function()
        n.say('the deployed function, with AAR_MODE=approve (the module\'s mode = "approve")')
        with self.local.aws.authorization():
            result = self.local.rescan(self.role_arn)
            [self.finding] = [
                f for f in self.local.aws.standin.findings(resource=self.role_arn) if f["id"] in result.created
            ]
            n.say(f"finding {self.finding['id']}: {self.finding['status']}")
            self.delivery = function.deliver(self.local.receive_findings(1))
            for record in self.delivery.invocation.log_records():
                if record.get("message") == "decision":
                    n.say(f"decision: {record['decision']} ({record['reason']}): {record['summary']}")
            self.policy_pending = self.local.trust_policy(self.role_name)
            same = "unchanged" if self.policy_pending == self.policy_before else "CHANGED"
            n.say(f"the trust policy is {same}: nothing is written before someone approves.")
            n.title("The approval request e-mail")
            self.request_emails = self.mailbox.receive(1)
            for email in self.request_emails:
                n.say(f"Subject: {email.subject}")
                n.say(email.message, indent=6)
            environment = {**self.local.cli_environment(), "AWS_DEFAULT_REGION": self.local.aws.region}
            argv = ["status", "--finding-id", self.finding["id"]]
            n.title(f"aa-remediate {' '.join(argv)}")
            self.status = _cli(argv, environment)
            n.say(self.status.stdout.rstrip() or self.status.stderr.rstrip(), indent=6)
            argv = ["approve", "--finding-id", self.finding["id"]]
            n.title(f"The security team approves: aa-remediate {' '.join(argv)}")
            self.approve = _cli(argv, environment)
            n.say(self.approve.stdout.rstrip() or self.approve.stderr.rstrip(), indent=6)
            self.policy_after = self.local.trust_policy(self.role_name)
            n.say("the trust policy now (the original statement untouched, the Deny appended):")
            n.json(self.policy_after)
            self.applied_emails = self.mailbox.receive(1)
            for email in self.applied_emails:
                n.say(f"then the e-mail: {email.subject}")
            n.title("Access Analyzer analyses the role again")
            self.local.rescan(self.role_arn)
            status = {f["id"]: f["status"] for f in self.local.aws.standin.findings(resource=self.role_arn)}
            self.status_after_rescan = status[self.finding["id"]]
            n.say(f"finding {self.finding['id']}: {self.status_after_rescan}")
        return self


def _cli(argv: list[str], environment: dict[str, str]) -> CliResult:
    from sandbox.deployment import run_cli

    return run_cli(argv, environment)
