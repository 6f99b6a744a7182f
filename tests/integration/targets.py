"""Where the integration tests run: the local sandbox (moto + stand-in) or a real AWS account.

Both targets offer the same steps, so one test body covers both. They differ where AWS itself differs from the
sandbox, and say so:

- sandbox: the stand-in raises the finding and puts its event on moto's EventBridge; the DEPLOYED rule delivers it
  to the DEPLOYED queue, from which the harness receives it (with the function's role, as the event source mapping
  does) and runs the committed zip in-process (`sandbox.deployment.LocalLambda`), under IAM authorization.
- real AWS (`tests/integration/real_aws.py`): the real analyzer raises the finding and the deployed Lambda
  processes it; the test waits for the outcome.
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sandbox.deployment import CliResult, Delivery, LocalDeployment, Mailbox, run_cli
from sandbox.moto_server import DEFAULT_REGION

EXTERNAL_ACCOUNT = "999988887777"  # the documentation's "other" account
ALICE = f"arn:aws:iam::{EXTERNAL_ACCOUNT}:user/Alice"  # the principal of the AWS blog post's scenario
SANDBOX_REDELIVERY_REASONS = frozenset({"already_contained"})
# The types the sandbox deployment contains (conftest.py): the defaults and those test_resource_types.py drives.
SANDBOX_RESOURCE_TYPES = (
    "AWS::IAM::Role",
    "AWS::S3::Bucket",
    "AWS::KMS::Key",
    "AWS::SQS::Queue",
    "AWS::SNS::Topic",
    "AWS::SecretsManager::Secret",
    "AWS::ECR::Repository",
    "AWS::DynamoDB::Table",
    "AWS::Lambda::Function",
    "AWS::Lambda::LayerVersion",
    "AWS::EC2::Snapshot",
    "AWS::RDS::DBSnapshot",
)


@dataclass
class Containment:
    """What happened after a role's trust policy was analysed: the findings, the events, the function's result."""

    role_arn: str
    findings: list[dict[str, Any]]
    events: list[dict[str, Any]] | None = None  # what arrived on the deployed queue (None: not observable)
    delivery: Delivery | None = None  # sandbox only: the function's invocation and the records handed back


class Target(Protocol):
    """The steps of a scenario, on one kind of AWS."""

    name: str
    external_account: str
    # Reasons a redelivered, already contained finding may get: on real AWS the analyzer may have resolved the
    # finding before the redelivery arrives (finding_not_active); the sandbox controls the timing.
    redelivery_reasons: frozenset[str]
    mail_timeout: float  # seconds to wait for an e-mail digest

    def unique(self, prefix: str) -> str: ...

    def guard(self, statement: dict[str, Any]) -> dict[str, Any]: ...

    def create_role(
        self, name: str, policy: Mapping[str, Any], *, path: str = "/", tags: Mapping[str, str] | None = None
    ) -> str: ...

    def mailbox(self) -> Mailbox: ...

    def enforcing(self) -> contextlib.AbstractContextManager[None]: ...

    def contain(self, role_arn: str, expected: int) -> Containment: ...

    def redeliver(self, containment: Containment) -> list[dict[str, Any]]: ...

    def trust_policy(self, role_name: str) -> dict[str, Any]: ...

    def audit_records(self, finding_id: str) -> list[dict[str, Any]]: ...

    def rescan(self, role_arn: str, finding_id: str, expect_status: str) -> list[dict[str, Any]]: ...

    def queued_events(self) -> list[dict[str, Any]] | None: ...

    def findings(self, role_arn: str) -> list[dict[str, Any]]: ...

    def cli(self, *argv: str) -> CliResult: ...

    def cli_environment(self) -> dict[str, str]: ...


_counter = itertools.count(1)


@dataclass
class SandboxTarget:
    """The module applied into moto (see the module docstring)."""

    local: LocalDeployment
    name: str = "sandbox"
    external_account: str = EXTERNAL_ACCOUNT
    redelivery_reasons: frozenset[str] = SANDBOX_REDELIVERY_REASONS
    mail_timeout: float = 10.0
    roles: list[str] = field(default_factory=list)

    def unique(self, prefix: str) -> str:
        return f"{prefix}{next(_counter)}{uuid.uuid4().hex[:6]}"

    def guard(self, statement: dict[str, Any]) -> dict[str, Any]:
        return statement  # nobody can assume a role in moto

    def create_role(
        self, name: str, policy: Mapping[str, Any], *, path: str = "/", tags: Mapping[str, str] | None = None
    ) -> str:
        arn = self.local.create_role(name, policy, path=path, tags=tags)
        self.roles.append(name)
        return arn

    def mailbox(self) -> Mailbox:
        return self.local.subscribe_mailbox(self.unique("mailbox-"))

    def enforcing(self) -> contextlib.AbstractContextManager[None]:
        return self.local.aws.authorization()

    def contain(self, role_arn: str, expected: int) -> Containment:
        """The stand-in analyses the role (events onto moto's bus), the rule delivers, the function runs."""
        result = self.local.rescan(role_arn)
        standin = self.local.aws.standin
        findings = [f for f in standin.findings(resource=role_arn) if f["id"] in result.created]
        messages = self.local.receive_findings(expected)
        delivery = self.local.run_function(messages) if messages else None
        return Containment(role_arn, findings, [m.event() for m in messages], delivery)

    def redeliver(self, containment: Containment) -> list[dict[str, Any]]:
        """The same SQS batch again; returns the new audit decisions of the containment's findings."""
        assert containment.delivery is not None
        before = {f["id"]: len(self.audit_records(f["id"])) for f in containment.findings}
        invocation = self.local.function.redeliver(containment.delivery.messages)
        assert invocation.error is None, invocation.logs
        assert invocation.result == {"batchItemFailures": []}, invocation.logs
        return [r for f in containment.findings for r in self.audit_records(f["id"])[before[f["id"]] :]]

    def trust_policy(self, role_name: str) -> dict[str, Any]:
        return self.local.trust_policy(role_name)

    def audit_records(self, finding_id: str) -> list[dict[str, Any]]:
        return self.local.audit_records(finding_id)

    def rescan(self, role_arn: str, finding_id: str, expect_status: str) -> list[dict[str, Any]]:
        del finding_id, expect_status  # the stand-in's scan is synchronous: nothing to wait for
        self.local.rescan(role_arn)
        return self.findings(role_arn)

    def queued_events(self) -> list[dict[str, Any]] | None:
        """Whatever the rule delivered since the last receive (polled as the event source mapping would)."""
        messages = self.local.receive_findings(0, timeout=1)
        if messages:
            self.local.run_function(messages)  # consumed, so the next test starts from an empty queue
        return [m.event() for m in messages]

    def findings(self, role_arn: str) -> list[dict[str, Any]]:
        return self.local.aws.standin.findings(resource=role_arn)

    def cli_environment(self) -> dict[str, str]:
        """`cli_environment` + sandbox endpoints + the administrator's keys, plus the default Region that an
        operator's shell or profile has (test_cli_environment_alone_configures_the_cli checks the output alone)."""
        return {**self.local.cli_environment(), "AWS_DEFAULT_REGION": self.local.deployment.region or DEFAULT_REGION}

    def cli(self, *argv: str) -> CliResult:
        return run_cli(argv, self.cli_environment())


# ====================================================================================================== scenarios
@dataclass(frozen=True)
class Variant:
    """A role whose trust policy grants access outside the zone of trust, and the finding it must produce."""

    id: str
    statement: dict[str, Any]
    finding_principal: dict[str, str]
    finding_actions: tuple[str, ...] = ("sts:AssumeRole",)
    path: str = "/"
    name_prefix: str = "aar-e2e-"
    tags: Mapping[str, str] = field(default_factory=dict)
    real_aws: str | None = None  # why the variant cannot run on real AWS (None: it can)


def cognito_statement(pool: str) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": pool}},
    }


def role_variants(external_account: str, external_principal: str | None) -> list[Variant]:
    pool = f"us-east-1:{uuid.UUID(int=0x5EED)}"
    account = {"Effect": "Allow", "Principal": {"AWS": external_account}, "Action": "sts:AssumeRole"}
    return [
        Variant("account", account, {"AWS": external_account}),
        Variant(
            "principal-arn",
            {"Effect": "Allow", "Principal": {"AWS": external_principal or ALICE}, "Action": "sts:AssumeRole"},
            {"AWS": external_principal or ALICE},
            real_aws=None
            if external_principal
            else "IAM rejects a trust policy naming a principal that does not exist: set "
            "AAR_E2E_EXTERNAL_PRINCIPAL_ARN to a principal of another account",
        ),
        Variant(
            "federated",
            cognito_statement(pool),
            {"Federated": "cognito-identity.amazonaws.com"},
            ("sts:AssumeRoleWithWebIdentity",),
        ),
        Variant(
            "public",
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
            {"AWS": "*"},
            real_aws="never create a publicly assumable role in a real account",
        ),
        Variant("path", account, {"AWS": external_account}, path="/service-role/teams/"),
    ]


@dataclass(frozen=True)
class IntendedCase:
    """A role the module must only report on: the expected reason and how the role is set up."""

    id: str
    reason: str
    name_prefix: str
    tags: Mapping[str, str]
    headline: str  # a protected role is loud (its access stays open); an exempt one is intended
    subject: str


INTENDED_CASES = [
    # examples/complete protects break-glass-* besides the defaults.
    IntendedCase("protected", "protected_role", "break-glass-", {}, "NOT CONTAINED", "NOT CONTAINED: external access"),
    IntendedCase(
        "exempt-tag",
        "exempt_tag",
        "aar-e2e-exempt-",
        {"access-analyzer-remediation:exempt": "true"},
        "INTENDED",
        "Intended external access",
    ),
]
