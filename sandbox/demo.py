"""`make demo` (``python -m sandbox.demo``): the whole flow against a local AWS, narrated.

A moto server and the Access Analyzer stand-in start on 127.0.0.1; examples/basic is applied into them from a
temporary copy; then the scenario of the AWS blog post: ``Audit_CrossAccountRole`` trusts
``arn:aws:iam::999988887777:user/Alice`` of another account. The analyzer reports it, the deployed rule delivers
the event to the deployed queue, the function (the committed zip, running as its execution role under enforced
IAM authorization) adds a Deny, writes its audit record and e-mails the digest; a re-scan resolves the finding;
``aa-remediate revert --archive`` undoes it. Then a public S3 bucket (`BucketScenario`): its bucket policy lets
anyone read its objects; the function appends a Deny to the bucket policy, a re-scan resolves the finding and
``aa-remediate revert`` restores the bucket policy exactly.

examples/basic takes only ``notification_email``: the sandbox's settings for the module (no analyzer of its own,
the stand-in's instead; no Lambda layer, which moto cannot resolve) go into a module override in the override file.

Exit status: 0 when the flow ran; 1 when a step failed; 2 when Terraform is missing (one line on stderr).
The steps are `Scenario` methods: tests/integration/test_demo_scenario.py runs the same scenario against the
integration tests' deployment and checks what the narration claims.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sandbox.deployment import (
    CliResult,
    Delivery,
    Deployment,
    Email,
    LocalAws,
    LocalDeployment,
    Mailbox,
    allow,
    apply,
    run_cli,
    trust_policy,
    write_sandbox_files,
)
from sandbox.lambda_runtime import QueueMessage
from sandbox.terraform import REPO_ROOT, Terraform, copy_module, provider_mirror, terraform_binary

ROLE_NAME = "Audit_CrossAccountRole"
ALICE = "arn:aws:iam::999988887777:user/Alice"
EXAMPLE = "examples/basic"
# The module's arguments the sandbox needs, which examples/basic does not expose as variables.
MODULE_ARGUMENTS_TEMPLATE: dict[str, Any] = {
    "create_analyzer": False,  # moto has no Access Analyzer
    "analyzer_arns": None,  # filled in: the stand-in's analyzer
    "lambda_layers": [],  # moto rejects the public Powertools layer (another account's layer)
    # Confirm after writing at once: the function's re-scan resolves the finding before its check comes back.
    "confirm_changes": {"delay_seconds": 0, "deadline_seconds": 0},
}


def show_confirmation(local: LocalDeployment, narrator: Narrator, finding_id: str) -> None:
    """The confirmation the function scheduled after the write: run it and print the CONFIRM record."""
    if local.function.configuration.environment.get("AAR_CONFIRM_CHANGES") != "true":
        narrator.say("confirmation: off (confirm_changes.enabled = false)")
        return
    local.run_function(local.receive_findings(1))
    for item in local.audit_records(finding_id):
        if item.get("record_type") == "CONFIRM":
            narrator.say(f"confirmation: {item.get('decision')} ({item.get('summary')})")


class Narrator:
    """Numbered steps with the seconds elapsed since the start."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out
        self.started = time.monotonic()
        self.step = 0

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def title(self, text: str) -> None:
        self.step += 1
        self.out.write(f"\n[{self.elapsed():5.1f}s] {self.step}. {text}\n")
        self.out.flush()

    def say(self, text: str = "", indent: int = 3) -> None:
        for line in text.splitlines() or [""]:
            self.out.write(" " * indent + line + "\n")
        self.out.flush()

    def json(self, value: Any, indent: int = 6) -> None:
        self.say(json.dumps(value, indent=2), indent)


@dataclass
class Scenario:
    """The blog post's scenario, step by step, on a deployment in the local AWS."""

    local: LocalDeployment
    narrator: Narrator
    role_name: str = ROLE_NAME
    principal: str = ALICE
    role_arn: str = ""
    policy_before: dict[str, Any] = field(default_factory=dict)
    policy_after: dict[str, Any] = field(default_factory=dict)
    policy_reverted: dict[str, Any] = field(default_factory=dict)
    finding: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    delivery: Delivery | None = None
    emails: list[Email] = field(default_factory=list)
    status_after_rescan: str = ""
    revert: CliResult | None = None
    block_before: dict[str, bool] | None = None  # the bucket's Block Public Access settings (None: none)
    block_after: dict[str, bool] | None = None
    block_reverted: dict[str, bool] | None = None
    final_findings: list[dict[str, Any]] = field(default_factory=list)
    mailbox: Mailbox | None = None
    messages: list[QueueMessage] = field(default_factory=list)

    def run(self) -> Scenario:
        self.create_role()
        with self.local.aws.authorization():
            self.analyze()
            self.deliver()
            self.contain()
            self.show_policies()
            self.show_email()
            self.rescan()
            self.undo()
            self.rescan_after_undo()
        return self

    # ------------------------------------------------------------------ steps
    def create_role(self) -> None:
        n = self.narrator
        n.title(f"Creating the role {self.role_name}, trusted by {self.principal} (another account)")
        self.policy_before = trust_policy(allow({"AWS": self.principal}))
        self.role_arn = self.local.create_role(self.role_name, self.policy_before)
        n.say(f"{self.role_arn}, trust policy:")
        n.json(self.policy_before)
        self.mailbox = self.local.subscribe_mailbox(f"demo-mailbox-{uuid.uuid4().hex[:8]}")
        n.say("An SQS queue is subscribed to the deployed SNS topic: it receives what the e-mail subscriber gets.")
        n.say("IAM authorization enforcement is ON from here: every call needs a signature and a permission.")

    def analyze(self) -> None:
        n = self.narrator
        n.title("IAM Access Analyzer (the stand-in) analyses the role")
        result = self.local.rescan(self.role_arn)
        findings = self.local.aws.standin.findings(resource=self.role_arn)
        [self.finding] = [f for f in findings if f["id"] in result.created]
        f = self.finding
        n.say(f"finding {f['id']}: {f['status']}, {f['resourceType']}")
        n.say(f"  principal {f['principal']} can {', '.join(f['action'])} (public: {f['isPublic']})")
        n.say("It puts an 'Access Analyzer Finding' event on the default EventBridge bus.")

    def deliver(self) -> None:
        n = self.narrator
        n.title("The deployed EventBridge rule delivers the event to the deployed SQS queue")
        messages = self.local.receive_findings(1)
        self.events = [m.event() for m in messages]
        for message, event in zip(messages, self.events, strict=True):
            n.say(f"message {message.message_id} on {self.local.queue_url}")
            n.say(
                f"  {event['detail-type']} from {event['source']}: finding {event['detail']['id']}, "
                f"status {event['detail']['status']}, resource {event['detail']['resource']}"
            )
        self.messages = messages

    def contain(self) -> None:
        n = self.narrator
        function = self.local.function
        n.title("The function processes the batch, as its event source mapping would invoke it")
        n.say(
            f"code: the committed zip {function.package.path.relative_to(REPO_ROOT)} "
            f"(CodeSha256 {function.configuration.code_sha256[:12]}...)"
        )
        n.say(f"credentials: execution role {function.configuration.role_arn}")
        self.delivery = self.local.run_function(self.messages)
        invocation = self.delivery.invocation
        n.say(f"returned {json.dumps(invocation.result)}; AWS calls made:")
        n.say(", ".join(f"{c.service}:{c.operation}" for c in invocation.calls), indent=6)
        for record in invocation.log_records():
            if record.get("message") == "decision":
                n.say(f"decision: {record['decision']} ({record['reason']}): {record['summary']}")
        n.say(f"audit table {self.local.deployment.audit_table}:")
        for item in self.local.audit_records(self.finding["id"]):
            n.say(f"  {item['sk']}: {item.get('decision')} ({item.get('reason')}), sids_added {item.get('sids_added')}")
            for proof in json.loads(item.get("proofs") or "[]"):  # proven before the write (prove_changes)
                n.say(f"    proof: {proof['check']} {proof['verdict']}: {proof['detail']}")
        show_confirmation(self.local, n, self.finding["id"])

    def show_policies(self) -> None:
        n = self.narrator
        n.title("The trust policy, before and after")
        self.policy_after = self.local.trust_policy(self.role_name)
        n.say("before:")
        n.json(self.policy_before)
        n.say("after (the original statement untouched, the Deny appended):")
        n.json(self.policy_after)

    def show_email(self) -> None:
        n = self.narrator
        n.title("The notification e-mail (SNS digest)")
        assert self.mailbox is not None
        self.emails = self.mailbox.receive(1)
        for email in self.emails:
            n.say(f"Subject: {email.subject}")
            n.say(email.message, indent=6)

    def rescan(self) -> None:
        n = self.narrator
        n.title("Access Analyzer analyses the role again")
        self.local.rescan(self.role_arn)
        status = {f["id"]: f["status"] for f in self.local.aws.standin.findings(resource=self.role_arn)}
        self.status_after_rescan = status[self.finding["id"]]
        n.say(f"finding {self.finding['id']}: {self.status_after_rescan} (Alice cannot assume the role any more)")
        late = self.local.receive_findings(0, timeout=1)
        n.say(f"events delivered to the queue: {len(late)} (the rule routes ACTIVE findings only)")

    def undo(self) -> None:
        n = self.narrator
        argv = ["revert", "--finding-id", self.finding["id"], "--archive"]
        n.title(f"The security team keeps the access after all: aa-remediate {' '.join(argv)}")
        n.say("(the CLI with `terraform output -raw cli_environment`, as the administrator)")
        # The operator's shell also has a default Region (AWS_DEFAULT_REGION): cli_environment exports AWS_REGION.
        environment = {**self.local.cli_environment(), "AWS_DEFAULT_REGION": self.local.aws.region}
        self.revert = run_cli(argv, environment)
        n.say(self.revert.stdout.rstrip() or self.revert.stderr.rstrip(), indent=6)
        self.policy_reverted = self.local.trust_policy(self.role_name)
        same = "identical to" if self.policy_reverted == self.policy_before else "DIFFERENT FROM"
        n.say(f"the trust policy is now {same} the original.")

    def rescan_after_undo(self) -> None:
        n = self.narrator
        n.title("Access Analyzer analyses the role once more")
        self.local.rescan(self.role_arn)
        self.final_findings = self.local.aws.standin.findings(resource=self.role_arn)
        for finding in self.final_findings:
            n.say(f"finding {finding['id']}: {finding['status']}")
        active = [f["id"] for f in self.final_findings if f["status"] == "ACTIVE"]
        queued = self.local.receive_findings(0, timeout=1)
        if active:
            n.say(
                f"NOTE: the access is reported ACTIVE again ({', '.join(active)}) and {len(queued)} event(s) went to "
                "the queue: archiving a RESOLVED finding does not cover the new one, so the function would deny "
                "the access again. An archive rule for the role and principal would (known issue)."
            )
        else:
            n.say("no ACTIVE finding: the access stays, as the security team decided.")


@dataclass
class BucketScenario:
    """A public bucket, contained, resolved and reverted, on the same deployment."""

    local: LocalDeployment
    narrator: Narrator
    bucket: str = field(default_factory=lambda: f"demo-public-{uuid.uuid4().hex[:8]}")
    policy_before: dict[str, Any] = field(default_factory=dict)
    policy_after: dict[str, Any] = field(default_factory=dict)
    policy_reverted: dict[str, Any] = field(default_factory=dict)
    finding: dict[str, Any] = field(default_factory=dict)
    delivery: Delivery | None = None
    emails: list[Email] = field(default_factory=list)
    status_after_rescan: str = ""
    revert: CliResult | None = None
    block_before: dict[str, bool] | None = None  # the bucket's Block Public Access settings (None: none)
    block_after: dict[str, bool] | None = None
    block_reverted: dict[str, bool] | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:s3:::{self.bucket}"

    def run(self) -> BucketScenario:
        n = self.narrator
        s3 = self.local.aws.admin.client("s3")
        n.title(f"Creating the bucket {self.bucket}, whose policy lets anyone read its objects")
        s3.create_bucket(Bucket=self.bucket)
        self.policy_before = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PublicRead",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"{self.arn}/*",
                }
            ],
        }
        s3.put_bucket_policy(Bucket=self.bucket, Policy=json.dumps(self.policy_before))
        n.json(self.policy_before)
        self.block_before = self._block()
        mailbox = self.local.subscribe_mailbox(f"demo-bucket-mailbox-{uuid.uuid4().hex[:8]}")
        with self.local.aws.authorization():
            n.title("Access Analyzer reports the public bucket; rule, queue and function contain it")
            result = self.local.rescan(self.arn)
            [self.finding] = [
                f for f in self.local.aws.standin.findings(resource=self.arn) if f["id"] in result.created
            ]
            f = self.finding
            n.say(f"finding {f['id']}: {f['status']}, public: {f['isPublic']}, sources {f.get('sources')}")
            self.delivery = self.local.run_function(self.local.receive_findings(1))
            for record in self.delivery.invocation.log_records():
                if record.get("message") == "decision":
                    n.say(f"decision: {record['decision']} ({record['reason']}): {record['summary']}")
            show_confirmation(self.local, n, self.finding["id"])
            self.policy_after = self._policy()
            n.say("the bucket policy now (the original statement untouched, the Deny appended):")
            n.json(self.policy_after)
            self.block_after = self._block()
            n.say(f"Block Public Access, none before, now: {self.block_after}")
            self.emails = mailbox.receive(1)
            for email in self.emails:
                n.say(f"Subject: {email.subject}")
            n.title("Access Analyzer analyses the bucket again")
            self.local.rescan(self.arn)
            status = {f["id"]: f["status"] for f in self.local.aws.standin.findings(resource=self.arn)}
            self.status_after_rescan = status[self.finding["id"]]
            n.say(f"finding {self.finding['id']}: {self.status_after_rescan} (the public cannot read it any more)")
            argv = ["revert", "--finding-id", self.finding["id"]]
            n.title(f"Undo: aa-remediate {' '.join(argv)}")
            environment = {**self.local.cli_environment(), "AWS_DEFAULT_REGION": self.local.aws.region}
            self.revert = run_cli(argv, environment)
            n.say(self.revert.stdout.rstrip() or self.revert.stderr.rstrip(), indent=6)
            self.policy_reverted = self._policy()
            same = "identical to" if self.policy_reverted == self.policy_before else "DIFFERENT FROM"
            n.say(f"the bucket policy is now {same} the original.")
            self.block_reverted = self._block()
            same = "as before" if self.block_reverted == self.block_before else "DIFFERENT FROM BEFORE"
            n.say(f"Block Public Access: {self.block_reverted} ({same}).")
        return self

    def _block(self) -> dict[str, bool] | None:
        s3 = self.local.aws.admin.client("s3")
        try:
            return dict(s3.get_public_access_block(Bucket=self.bucket)["PublicAccessBlockConfiguration"])
        except s3.exceptions.ClientError as err:
            if err.response["Error"]["Code"] == "NoSuchPublicAccessBlockConfiguration":
                return None
            raise

    def _policy(self) -> dict[str, Any]:
        s3 = self.local.aws.admin.client("s3")
        return dict(json.loads(s3.get_bucket_policy(Bucket=self.bucket)["Policy"]))


def deploy(aws: LocalAws, work_dir: Path, narrator: Narrator, *, parallelism: int) -> LocalDeployment:
    """Apply examples/basic from a temporary copy into `aws`; narrate the progress."""
    tree = copy_module(work_dir / "module")
    module_dir = tree / EXAMPLE
    arguments = {**MODULE_ARGUMENTS_TEMPLATE, "analyzer_arns": [aws.standin.analyzer_arn]}
    written = write_sandbox_files(
        module_dir,
        aws.endpoint_url,
        region=aws.region,
        variables={"notification_email": "security@example.com"},
        module_arguments=arguments,
    )
    narrator.say(f"copy: {module_dir}")
    narrator.say(f"added: {', '.join(p.name for p in written)}")
    narrator.say(f'  provider "aws": dummy credentials, every service endpoint -> {aws.endpoint_url}')
    narrator.say('  module "access_analyzer_remediation" (examples/basic has no variables for these):')
    for name, value in arguments.items():
        narrator.say(f"    {name} = {json.dumps(value)}")
    terraform = Terraform.create(work_dir / "terraform", mirror=provider_mirror())
    started = time.monotonic()
    created = 0

    def progress(line: str) -> None:
        nonlocal created
        if ": Creation complete after " in line:
            created += 1
            address, _, rest = line.partition(": Creation complete after ")
            narrator.say(f"  + {address.removeprefix('module.access_analyzer_remediation.')} ({rest.split()[0]})")
        elif line.startswith(("Error", "│ Error")):
            narrator.say(line)

    outputs = apply(terraform, module_dir, parallelism=parallelism, on_line=progress)
    seconds = time.monotonic() - started
    narrator.say(f"{created} resources in {seconds:.0f} s (terraform init + apply -parallelism={parallelism})")
    return LocalDeployment(aws, Deployment(module_dir, outputs), work_dir / "lambda")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (module copy, state)")
    parser.add_argument("--parallelism", type=int, default=32, help="terraform apply -parallelism (default 32)")
    parser.add_argument("--approve", action="store_true", help="then approve mode end to end (sandbox.approve_demo)")
    args = parser.parse_args(argv)

    if terraform_binary() is None:
        print("demo: terraform not found (install Terraform >= 1.5.7 or set TERRAFORM_BIN)", file=sys.stderr)
        return 2

    narrator = Narrator()
    work_dir = Path(tempfile.mkdtemp(prefix="aar-demo-"))
    try:
        narrator.title("Starting the local AWS on 127.0.0.1")
        with LocalAws() as aws:
            narrator.say(f"moto server (every service but Access Analyzer): {aws.endpoint_url}")
            narrator.say(f"Access Analyzer stand-in: {aws.standin.endpoint_url}, analyzer {aws.standin.analyzer_arn}")
            narrator.title(f"Deploying {EXAMPLE} with Terraform (a temporary copy; the repository is not touched)")
            local = deploy(aws, work_dir, narrator, parallelism=args.parallelism)
            Scenario(local, narrator).run()
            BucketScenario(local, narrator).run()
            if args.approve:
                from sandbox.approve_demo import ApproveScenario

                ApproveScenario(local, narrator).run()
    except Exception as error:  # one readable line, then the details
        narrator.say("")
        print(f"demo: FAILED at step {narrator.step} after {narrator.elapsed():.0f} s: {error}", file=sys.stderr)
        raise
    finally:
        if args.keep:
            narrator.say(f"\nkept {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
    narrator.say(f"\nDone in {narrator.elapsed():.0f} s.", indent=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
