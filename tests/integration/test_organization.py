"""Organization mode end to end (examples/organization): one central deployment, member roles in two member
accounts, a third member account without one, an ORGANIZATION analyzer whose findings name member resources.

Its own local AWS (a moto server and stand-in, as test_uninstall.py): moto's STS AssumeRole into another account id
returns credentials that act in that account, so the example's `member` provider (plus a second one written next to
the copy, `sandbox_members.tf`: providers cannot iterate) puts the member role into two account ids. The central
deployment runs in moto's default account, which is also the delegated administrator owning the stand-in's
ORGANIZATION analyzer; its zone of trust is the organization (`TrustZone` with every account of the test). Findings
come from the stand-in's analysis of the member accounts' resources (StartResourceScan's effect, with clients acting
in that account), so they name the resource's account in `detail.accountId` / `resourceOwnerAccount`.

Under enforced IAM authorization (moto; `sandbox.callers` logs the caller of each request as CloudTrail names it,
and refuses AssumeRole of a role that does not exist, as STS does), through the deployed rule, queue and function:

- a member account's IAM role finding: the Deny is written in that account by the member role session
  `aar-<finding id>`, audited centrally, e-mailed with its undo; the redelivery is already contained; `aa-remediate
  revert` (as the central Lambda role, the only principal the member role trusts) restores the document exactly;
- the same for an S3 bucket of the second member account;
- the same for a bucket of that account in a second Region (eu-west-1): its ORGANIZATION analyzer (a second
  stand-in behind the same endpoint, `serve_region`) emits the finding on eu-west-1's bus, modules/regional
  (`regional_region`) forwards it to the central rule and queue in us-east-1;
- a finding of the third account ends notify-only with the deployment hint, handed back for no retry;
- the member role's least privilege: every call of the member sessions was allowed (none missing), and every
  action its policy grants was used by them (none in excess), but the three S3 actions of NOT_EXERCISED (said why
  there).

One apply (the central module, modules/regional and two member roles, ~2 min on moto). Not destroyed: moto's state
dies with the server.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sandbox.access_analyzer import AccessAnalyzerStandIn
from sandbox.analysis.iam_role import TrustZone
from sandbox.callers import callers
from sandbox.deployment import (
    OVERRIDE_FILE,
    TFVARS_FILE,
    Credentials,
    Deployment,
    LocalAws,
    LocalDeployment,
    allow,
    apply,
    module_override,
    provider_override,
    run_cli,
    trust_policy,
)
from sandbox.moto_server import DEFAULT_ACCOUNT_ID, SandboxSession
from sandbox.terraform import Terraform, copy_module, provider_mirror
from tests.integration.targets import EXTERNAL_ACCOUNT
from tests.terraform.tfrunner import require_terraform

pytestmark = [pytest.mark.integration, pytest.mark.terraform, pytest.mark.timeout(900)]

EXAMPLE = "examples/organization"
CENTRAL = DEFAULT_ACCOUNT_ID  # the delegated administrator: central deployment, ORGANIZATION analyzer
MEMBER_A = "111111111111"  # member role through the example's `member` provider
MEMBER_B = "222222222222"  # member role through sandbox_members.tf's second provider
MEMBER_C = "333333333333"  # no member role
MANAGEMENT = "444444444444"
REGIONAL = "eu-west-1"  # the second Region: modules/regional forwards its ORGANIZATION analyzer's findings
ORGANIZATION_ID = "o-aar0test01"
MEMBER_ROLE = "access-analyzer-remediation-member"
SETUP_ROLE = "OrganizationAccountAccessRole"  # what Terraform and the harness assume in each member account
RESOURCE_TYPES = ["AWS::IAM::Role", "AWS::S3::Bucket"]
# Granted to the member role for these types and not exercised here: a revert interrupted after emptying a bucket
# policy (s3:DeleteBucketPolicy), and the containment of a bucket ACL grant or of public access through Block Public
# Access. modules/permissions gives the member role the Lambda role's statements for the same types
# (tests/member_role.tftest.hcl compares them); test_least_privilege.py exercises those for the Lambda role.
NOT_EXERCISED = {"s3:DeleteBucketPolicy", "s3:PutBucketAcl", "s3:PutBucketPublicAccessBlock"}

SECOND_MEMBER = """# Written by tests/integration/test_organization.py: the member role in a second account.
provider "aws" {
  alias  = "member_b"
  region = var.region
}

module "member_b_member_role" {
  source = "../../modules/member-role"

  providers = {
    aws = aws.member_b
  }

  name             = local.member_role_name
  central_role_arn = module.central.lambda_role_arn
  organization_id  = var.organization_id
  resource_types   = var.resource_types
}
"""


def setup_role_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:role/{SETUP_ROLE}"


def sandbox_override(endpoint_url: str, region: str, regional_analyzer: str) -> str:
    """Every provider of the copy to the moto server; the member ones assume a role in their account. No Access
    Analyzer in moto: the second Region's stand-in analyzer for modules/regional."""
    parts = ["# Written by tests/integration/test_organization.py: every provider to the local sandbox.\n"]
    providers = (
        ("", None),
        ("regional", None),
        ("management", MANAGEMENT),
        ("member", MEMBER_A),
        ("member_b", MEMBER_B),
    )
    for alias, account in providers:
        block = provider_override(endpoint_url, REGIONAL if alias == "regional" else region)
        extra = f'  alias                       = "{alias}"\n' if alias else ""
        if account is not None:
            extra += f'\n  assume_role {{\n    role_arn = "{setup_role_arn(account)}"\n  }}\n\n'
        parts.append(block.replace('provider "aws" {\n', 'provider "aws" {\n' + extra))
    parts.append(module_override({"create_analyzer": False, "analyzer_arns": [regional_analyzer]}, "regional"))
    return "\n".join(parts)


def in_account(aws: LocalAws, account: str) -> SandboxSession:
    """The harness in a member account (moto: AssumeRole into any account id acts in that account), as the role
    Organizations creates in the accounts it creates, allowed everything (created here: moto makes it only through
    CreateAccount, and under enforcement a session needs its role to exist)."""
    response = aws.admin.client("sts").assume_role(RoleArn=setup_role_arn(account), RoleSessionName="aar-test-setup")
    c = response["Credentials"]
    session = aws.session(Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]))
    iam = session.client("iam")
    if SETUP_ROLE not in {r["RoleName"] for r in iam.list_roles()["Roles"]}:
        trust = trust_policy(allow({"AWS": f"arn:aws:iam::{MANAGEMENT}:root"}))
        iam.create_role(RoleName=SETUP_ROLE, AssumeRolePolicyDocument=json.dumps(trust))
        everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam.put_role_policy(RoleName=SETUP_ROLE, PolicyName="everything", PolicyDocument=json.dumps(everything))
    return session


def decisions(local: LocalDeployment, finding_id: str) -> list[dict[str, Any]]:
    return [r for r in local.audit_records(finding_id) if r.get("record_type") == "DECISION"]


def member_writes(log: list[dict[str, str]], account: str) -> list[dict[str, str]]:
    prefix = f"arn:aws:sts::{account}:assumed-role/{MEMBER_ROLE}/"
    return [entry for entry in log if entry["caller"].startswith(prefix)]


def granted(iam: Any) -> set[str]:
    [name] = iam.list_role_policies(RoleName=MEMBER_ROLE)["PolicyNames"]
    document = iam.get_role_policy(RoleName=MEMBER_ROLE, PolicyName=name)["PolicyDocument"]
    actions: set[str] = set()
    for statement in document["Statement"]:
        if statement["Effect"] == "Allow":
            value = statement["Action"]
            actions |= {value} if isinstance(value, str) else set(value)
    return actions


def test_organization_mode_end_to_end(tmp_path: Path) -> None:
    require_terraform()
    started = time.monotonic()
    with LocalAws() as aws:
        aws.create_administrator()
        standin = aws.standin
        org_analyzer = aws.admin.client("accessanalyzer").create_analyzer(
            analyzerName="organization", type="ORGANIZATION"
        )["arn"]
        regional_standin = AccessAnalyzerStandIn(account_id=CENTRAL, region=REGIONAL)
        regional_standin.authorizer = aws.authorizer
        standin.serve_region(regional_standin)
        regional_analyzer = aws.admin.client("accessanalyzer", region_name=REGIONAL).create_analyzer(
            analyzerName="organization", type="ORGANIZATION"
        )["arn"]
        assert regional_analyzer == f"arn:aws:access-analyzer:{REGIONAL}:{CENTRAL}:analyzer/organization"
        # The ORGANIZATION analyzers' zone of trust: every account of the organization.
        for analyzing in (standin, regional_standin):
            analyzing.zone = TrustZone(
                frozenset({CENTRAL}), ORGANIZATION_ID, frozenset({CENTRAL, MEMBER_A, MEMBER_B, MEMBER_C, MANAGEMENT})
            )

        # ------------------------------------------------------------ one apply: central + two member roles
        module_dir = copy_module(tmp_path / "module") / EXAMPLE
        (module_dir / OVERRIDE_FILE).write_text(sandbox_override(aws.endpoint_url, aws.region, regional_analyzer))
        (module_dir / "sandbox_members.tf").write_text(SECOND_MEMBER)
        variables = {
            "notification_email": "security@example.com",
            "organization_id": ORGANIZATION_ID,
            "management_account_id": MANAGEMENT,
            "member_account_role_arn": setup_role_arn(MEMBER_A),
            "create_analyzer": False,  # moto has no Access Analyzer: the stand-in's ORGANIZATION analyzer
            "analyzer_arns": [org_analyzer],
            "lambda_layers": [],
            "resource_types": RESOURCE_TYPES,
            "regional_region": REGIONAL,
        }
        (module_dir / TFVARS_FILE).write_text(json.dumps(variables))
        terraform = Terraform.create(tmp_path / "terraform", mirror=provider_mirror())
        outputs = apply(terraform, module_dir)
        lambda_role_arn = outputs["lambda_role_arn"]
        assert outputs["member_account_member_role_arn"] == f"arn:aws:iam::{MEMBER_A}:role/{MEMBER_ROLE}"
        assert outputs["regional_analyzer_arns"] == [regional_analyzer]
        # Null outputs (no management account role, no StackSet here) are left out of `terraform output`.
        assert outputs.get("management_account_member_role_arn") is None
        assert outputs.get("member_role_arn_pattern") is None

        sessions = {account: in_account(aws, account) for account in (MEMBER_A, MEMBER_B, MEMBER_C)}
        for account in (MEMBER_A, MEMBER_B):
            role = sessions[account].client("iam").get_role(RoleName=MEMBER_ROLE)["Role"]
            trusted = [s["Principal"] for s in role["AssumeRolePolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
            assert trusted == [{"AWS": lambda_role_arn}], role["AssumeRolePolicyDocument"]
        iam_c = sessions[MEMBER_C].client("iam")
        assert MEMBER_ROLE not in {r["RoleName"] for r in iam_c.list_roles()["Roles"]}

        local = LocalDeployment(aws, Deployment(module_dir, outputs), tmp_path / "lambda")
        # The confirmation after a write (StartResourceScan) is tests/integration/test_confirmation.py's: here the
        # finding stays ACTIVE until the test re-scans, so a redelivery meets the Deny (as the shared sandbox has it).
        deployed = local.function.configuration
        assert deployed.environment["AAR_CONFIRM_CHANGES"] == "true"  # the example's default
        local.function.configuration = replace(
            deployed, environment={**deployed.environment, "AAR_CONFIRM_CHANGES": "false"}
        )
        local.function.instance = None  # a cold start reads the environment
        mailbox = local.subscribe_mailbox("aar-org-mailbox")

        # ------------------------------------------------------------ arrange the member accounts' resources
        iam_a = sessions[MEMBER_A].client("iam")
        role_a = "aar-org-CrossAccountRole"
        role_a_arn = iam_a.create_role(
            RoleName=role_a, AssumeRolePolicyDocument=json.dumps(trust_policy(allow({"AWS": EXTERNAL_ACCOUNT})))
        )["Role"]["Arn"]
        assert role_a_arn == f"arn:aws:iam::{MEMBER_A}:role/{role_a}"
        role_a_before = iam_a.get_role(RoleName=role_a)["Role"]["AssumeRolePolicyDocument"]

        s3_b = sessions[MEMBER_B].client("s3")
        bucket = "aar-org-member-b-shared"
        bucket_arn = f"arn:aws:s3:::{bucket}"
        s3_b.create_bucket(Bucket=bucket)
        bucket_policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PartnerRead",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{EXTERNAL_ACCOUNT}:root"},
                    "Action": "s3:GetObject",
                    "Resource": f"{bucket_arn}/*",
                }
            ],
        }
        s3_b.put_bucket_policy(Bucket=bucket, Policy=json.dumps(bucket_policy))
        bucket_before = json.loads(s3_b.get_bucket_policy(Bucket=bucket)["Policy"])

        # A bucket of member B in the second Region, analysed there.
        s3_b_regional = sessions[MEMBER_B].client("s3", region_name=REGIONAL)
        regional_bucket = "aar-org-member-b-regional"
        regional_bucket_arn = f"arn:aws:s3:::{regional_bucket}"
        s3_b_regional.create_bucket(Bucket=regional_bucket, CreateBucketConfiguration={"LocationConstraint": REGIONAL})
        regional_policy = json.loads(json.dumps(bucket_policy).replace(bucket, regional_bucket))
        s3_b_regional.put_bucket_policy(Bucket=regional_bucket, Policy=json.dumps(regional_policy))
        regional_before = json.loads(s3_b_regional.get_bucket_policy(Bucket=regional_bucket)["Policy"])
        regional_standin.attach(events_client=aws.admin.client("events", region_name=REGIONAL))

        role_c = "aar-org-NoMemberRole"
        iam_c.create_role(
            RoleName=role_c, AssumeRolePolicyDocument=json.dumps(trust_policy(allow({"AWS": EXTERNAL_ACCOUNT})))
        )
        role_c_arn = f"arn:aws:iam::{MEMBER_C}:role/{role_c}"
        role_c_before = iam_c.get_role(RoleName=role_c)["Role"]["AssumeRolePolicyDocument"]

        callers(aws.endpoint_url, clear=True)
        with aws.authorization():
            # -------------------------------------------------------- member A: an IAM role finding
            [role_finding] = standin.scan_role(role_a_arn, iam_a, analyzer_arn=org_analyzer).created
            [event] = [e for e in standin.emitted_events if e["detail"]["id"] == role_finding]
            assert (event["account"], event["detail"]["accountId"]) == (CENTRAL, MEMBER_A)
            delivery = local.run_function(local.receive_findings(1))
            assert delivery.invocation.result == {"batchItemFailures": []}, delivery.invocation.logs
            role_a_after = iam_a.get_role(RoleName=role_a)["Role"]["AssumeRolePolicyDocument"]
            kept = role_a_after["Statement"][: len(role_a_before["Statement"])]
            added = role_a_after["Statement"][len(role_a_before["Statement"]) :]
            assert kept == role_a_before["Statement"]
            assert [s["Effect"] for s in added] == ["Deny"], role_a_after
            [decision] = decisions(local, role_finding)
            assert (decision["decision"], decision["reason"], decision["resource_arn"]) == (
                "remediate",
                "external_access_denied",
                role_a_arn,
            )
            assert json.loads(decision["policy_before"]) == role_a_before
            assert json.loads(decision["policy_after"]) == role_a_after
            [email] = mailbox.receive(1)
            for text in (f"Role:       {role_a_arn}", f"Finding:    {role_finding}", "aa-remediate revert"):
                assert text in email.message, email.message

            # The write, as CloudTrail shows its caller: the member role session named after the finding.
            writes = [w for w in member_writes(callers(aws.endpoint_url), MEMBER_A) if w["resource"] == role_a_arn]
            updates = [w for w in writes if w["action"] == "iam:UpdateAssumeRolePolicy"]
            assert [w["caller"] for w in updates] == [
                f"arn:aws:sts::{MEMBER_A}:assumed-role/{MEMBER_ROLE}/aar-{role_finding}"
            ], writes

            # At-least-once delivery: the same batch again changes nothing.
            again = local.function.redeliver(delivery.messages)
            assert again.result == {"batchItemFailures": []}, again.logs
            assert decisions(local, role_finding)[-1]["reason"] == "already_contained"
            assert iam_a.get_role(RoleName=role_a)["Role"]["AssumeRolePolicyDocument"] == role_a_after
            assert "[ALREADY CONTAINED]" in mailbox.receive(1)[0].message

            # -------------------------------------------------------- member B: an S3 bucket finding
            [bucket_finding] = standin.scan_bucket(
                bucket_arn, s3_b, analyzer_arn=org_analyzer, owner_account=MEMBER_B
            ).created
            delivery = local.run_function(local.receive_findings(1))
            assert delivery.invocation.result == {"batchItemFailures": []}, delivery.invocation.logs
            bucket_after = json.loads(s3_b.get_bucket_policy(Bucket=bucket)["Policy"])
            assert bucket_after["Statement"][: len(bucket_before["Statement"])] == bucket_before["Statement"]
            assert [s["Effect"] for s in bucket_after["Statement"][len(bucket_before["Statement"]) :]] == ["Deny"]
            [decision] = decisions(local, bucket_finding)
            assert (decision["decision"], decision["reason"], decision["resource_arn"]) == (
                "remediate",
                "external_access_denied",
                bucket_arn,
            )
            [email] = mailbox.receive(1)
            assert f"Finding:    {bucket_finding}" in email.message and "aa-remediate revert" in email.message
            puts = [
                w for w in member_writes(callers(aws.endpoint_url), MEMBER_B) if w["action"] == "s3:PutBucketPolicy"
            ]
            assert [w["caller"] for w in puts] == [
                f"arn:aws:sts::{MEMBER_B}:assumed-role/{MEMBER_ROLE}/aar-{bucket_finding}"
            ], puts

            # -------------------------------------------------------- member B, second Region: forwarded home
            [regional_finding] = regional_standin.scan_bucket(
                regional_bucket_arn, s3_b_regional, analyzer_arn=regional_analyzer, owner_account=MEMBER_B
            ).created
            [message] = local.receive_findings(1)
            assert (message.event()["detail"]["region"], message.event()["resources"]) == (
                REGIONAL,
                [regional_analyzer],
            )
            delivery = local.run_function([message])
            assert delivery.invocation.result == {"batchItemFailures": []}, delivery.invocation.logs
            regional_after = json.loads(s3_b_regional.get_bucket_policy(Bucket=regional_bucket)["Policy"])
            assert regional_after["Statement"][: len(regional_before["Statement"])] == regional_before["Statement"]
            assert [s["Effect"] for s in regional_after["Statement"][len(regional_before["Statement"]) :]] == ["Deny"]
            [decision] = decisions(local, regional_finding)
            assert (decision["decision"], decision["resource_arn"]) == ("remediate", regional_bucket_arn)
            [email] = mailbox.receive(1)
            assert f"Finding:    {regional_finding}" in email.message, email.message
            puts = [
                w
                for w in member_writes(callers(aws.endpoint_url), MEMBER_B)
                if w["action"] == "s3:PutBucketPolicy" and w["resource"].startswith(regional_bucket_arn)
            ]
            assert [w["caller"] for w in puts] == [
                f"arn:aws:sts::{MEMBER_B}:assumed-role/{MEMBER_ROLE}/aar-{regional_finding}"
            ], puts

            # -------------------------------------------------------- member C: no member role
            [orphan_finding] = standin.scan_role(role_c_arn, iam_c, analyzer_arn=org_analyzer).created
            delivery = local.run_function(local.receive_findings(1))
            assert delivery.invocation.result == {"batchItemFailures": []}, delivery.invocation.logs
            assert delivery.failed == ()
            [decision] = decisions(local, orphan_finding)
            assert (decision["decision"], decision["reason"]) == ("notify", "member_role_unavailable"), decision
            assert iam_c.get_role(RoleName=role_c)["Role"]["AssumeRolePolicyDocument"] == role_c_before
            [email] = mailbox.receive(1)
            for text in (f"arn:aws:iam::{MEMBER_C}:role/{MEMBER_ROLE}", "deploy modules/member-role"):
                assert text in " ".join(email.message.split()), email.message
            assert local.receive_findings(0, timeout=1) == []  # nothing handed back for a retry

            # -------------------------------------------------------- the member role's least privilege
            log = callers(aws.endpoint_url)
            for account, iam in ((MEMBER_A, iam_a), (MEMBER_B, sessions[MEMBER_B].client("iam"))):
                used = {w["action"] for w in member_writes(log, account)}
                assert used <= granted(iam), f"{account}: used and not granted: {used - granted(iam)}"
            used_anywhere = {w["action"] for a in (MEMBER_A, MEMBER_B) for w in member_writes(log, a)}
            unused = granted(iam_a) - used_anywhere - NOT_EXERCISED
            assert unused == set(), f"granted to the member role and never used: {sorted(unused)}"

        # ------------------------------------------------------------ revert, as the central Lambda role
        revert_env = {**local.cli_environment(), **local.function.credentials.env(), "AWS_DEFAULT_REGION": aws.region}
        for finding_id in (role_finding, bucket_finding, regional_finding):
            result = run_cli(["revert", "--finding-id", finding_id, "--json"], revert_env)
            assert result.code == 0, result.stderr
            assert result.json()["reverted"] is True, result.stdout
        assert iam_a.get_role(RoleName=role_a)["Role"]["AssumeRolePolicyDocument"] == role_a_before
        assert json.loads(s3_b.get_bucket_policy(Bucket=bucket)["Policy"]) == bucket_before
        assert json.loads(s3_b_regional.get_bucket_policy(Bucket=regional_bucket)["Policy"]) == regional_before
        reverted = ((role_finding, role_a_before), (bucket_finding, bucket_before), (regional_finding, regional_before))
        for finding_id, before in reverted:
            [revert_record] = [r for r in local.audit_records(finding_id) if r.get("record_type") == "REVERT"]
            assert json.loads(revert_record["policy_after"]) == before
    assert time.monotonic() - started < 600
