"""End to end: a role trusts outside the zone of trust -> finding -> event -> deployed rule and queue -> function ->
Deny in the trust policy, audit record, e-mail digest -> re-scan RESOLVED -> redelivery harmless -> revert.

Every scenario runs against each target (tests/integration/targets.py): the sandbox always, a real AWS account
when configured (skipped otherwise). In the sandbox, authorization is enforced from the moment the role exists:
the function runs with its execution role's credentials only.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from sandbox.deployment import allow, run_cli, trust_policy
from tests.integration.targets import INTENDED_CASES, IntendedCase, SandboxTarget, Target, Variant, role_variants

pytestmark = [pytest.mark.integration, pytest.mark.terraform]

TOOL_SID_PREFIX = "AccessAnalyzer"


def variant_for(target: Target, variant_id: str) -> Variant:
    principal = os.environ.get("AAR_E2E_EXTERNAL_PRINCIPAL_ARN") if target.name == "aws" else None
    [variant] = [v for v in role_variants(target.external_account, principal) if v.id == variant_id]
    if target.name == "aws" and variant.real_aws:
        pytest.skip(f"variant {variant.id} on real AWS: {variant.real_aws}")
    return variant


def decisions(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("record_type") == "DECISION"]


def actions_of(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


@pytest.mark.parametrize("variant_id", [v.id for v in role_variants("999988887777", None)])
def test_external_trust_is_contained_reported_resolved_and_reverted(target: Target, variant_id: str) -> None:
    variant = variant_for(target, variant_id)
    role_name = target.unique(variant.name_prefix)
    role_arn = target.create_role(role_name, trust_policy(target.guard(variant.statement)), path=variant.path)
    original = target.trust_policy(role_name)  # as IAM stored it (AWS rewrites account ids as root ARNs)
    mailbox = target.mailbox()

    with target.enforcing():
        contained = target.contain(role_arn, expected=1)

        # The finding, and its event as the deployed rule delivered it to the deployed queue.
        assert [(f["principal"], tuple(f["action"])) for f in contained.findings] == [
            (variant.finding_principal, variant.finding_actions)
        ]
        [finding] = contained.findings
        if contained.events is not None:
            assert [(e["detail"]["id"], e["detail"]["status"], e["detail"]["resource"]) for e in contained.events] == [
                (finding["id"], "ACTIVE", role_arn)
            ]
        if contained.delivery is not None:
            invocation = contained.delivery.invocation
            assert invocation.error is None, invocation.logs
            assert invocation.result == {"batchItemFailures": []}, invocation.logs
            assert contained.delivery.failed == ()

        # The Deny is added; every original statement is still there, unchanged and first.
        after = target.trust_policy(role_name)
        kept, added = after["Statement"][: len(original["Statement"])], after["Statement"][len(original["Statement"]) :]
        assert kept == original["Statement"]
        assert added, after
        assert all(s["Effect"] == "Deny" and s["Sid"].startswith(TOOL_SID_PREFIX) for s in added), added
        assert set(variant.finding_actions) <= set().union(*(actions_of(s) for s in added))

        # The audit record in the deployed table.
        [decision] = decisions(target.audit_records(finding["id"]))
        assert (decision["decision"], decision["reason"], decision["mode"]) == (
            "remediate",
            "external_access_denied",
            "remediate",
        )
        assert (decision["resource_arn"], json.loads(decision["principal"])) == (role_arn, variant.finding_principal)
        assert json.loads(decision["policy_before"]) == original
        assert json.loads(decision["policy_after"]) == after
        assert sorted(decision["sids_added"]) == sorted(s["Sid"] for s in added)

        # The e-mail digest, as a subscriber of the deployed topic receives it.
        [email] = mailbox.receive(1, target.mail_timeout)
        assert email.subject == f"[Access Analyzer] Denied external access to role {role_name}"
        for text in (
            f"[REMEDIATED] role {role_name} (external_access_denied)",
            f"Role:       {role_arn}",
            f"Finding:    {finding['id']}",
            f"Undo:       aa-remediate revert --finding-id {finding['id']} --archive",
        ):
            assert text in email.message, email.message

        # The same event again (at-least-once delivery): nothing changes.
        [again] = target.redeliver(contained)
        assert again["decision"] == "skip" and again["reason"] in target.redelivery_reasons, again
        assert target.trust_policy(role_name) == after
        if again["reason"] == "already_contained":
            [notice] = mailbox.receive(1, target.mail_timeout)
            assert f"[ALREADY CONTAINED] role {role_name}" in notice.message

        # The analyzer, looking again, finds the access gone; the RESOLVED event is not routed to the function.
        findings = target.rescan(role_arn, finding["id"], "RESOLVED")
        assert {f["id"]: f["status"] for f in findings} == {finding["id"]: "RESOLVED"}
        assert target.queued_events() in (None, [])

        # The operator keeps the access after all: revert restores the trust policy exactly.
        result = target.cli("revert", "--finding-id", finding["id"], "--archive", "--json")
        assert result.code == 0, result.stderr
        reverted = result.json()
        assert reverted["reverted"] is True
        assert sorted(e["sid"] for e in reverted["removed"]) == sorted(s["Sid"] for s in added)
        assert target.trust_policy(role_name) == original
        [revert_record] = [r for r in target.audit_records(finding["id"]) if r.get("record_type") == "REVERT"]
        assert json.loads(revert_record["policy_after"]) == original


@pytest.mark.parametrize("case", INTENDED_CASES, ids=[c.id for c in INTENDED_CASES])
def test_protected_or_exempt_role_is_reported_and_never_changed(target: Target, case: IntendedCase) -> None:
    role_name = target.unique(case.name_prefix)
    role_arn = target.create_role(
        role_name, trust_policy(target.guard(allow({"AWS": target.external_account}))), tags=case.tags
    )
    original = target.trust_policy(role_name)
    mailbox = target.mailbox()

    with target.enforcing():
        contained = target.contain(role_arn, expected=1)
        [finding] = contained.findings
        if contained.delivery is not None:
            assert contained.delivery.invocation.result == {"batchItemFailures": []}, contained.delivery.invocation.logs
        assert target.trust_policy(role_name) == original

        [decision] = decisions(target.audit_records(finding["id"]))
        assert (decision["decision"], decision["reason"]) == ("notify", case.reason)
        assert decision.get("sids_added", []) == [] and "policy_after" not in decision

        [email] = mailbox.receive(1, target.mail_timeout)
        assert email.subject == f"[Access Analyzer] {case.subject} to role {role_name}"
        assert f"[{case.headline}] role {role_name} ({case.reason})" in email.message
        assert "aa-remediate revert" not in email.message and "Added to the trust policy" not in email.message

        [again] = target.redeliver(contained)
        assert (again["decision"], again["reason"]) == ("notify", case.reason)
        assert target.trust_policy(role_name) == original
        [notice] = mailbox.receive(1, target.mail_timeout)
        assert f"[{case.headline}] role {role_name}" in notice.message

        # Nothing changed, so the access is still there and no new event is sent.
        findings = target.rescan(role_arn, finding["id"], "ACTIVE")
        assert {f["id"]: f["status"] for f in findings} == {finding["id"]: "ACTIVE"}
        assert target.queued_events() in (None, [])


@pytest.mark.parametrize("when", ["while-active", "after-resolved"])
def test_revert_archive_keeps_the_access_from_being_contained_again(target: Target, when: str) -> None:
    """`revert --archive` says the access is intended: the next analysis must not start the cycle again.

    Usually the analyzer resolves the finding soon after the Deny lands (it re-analyses changed roles), so an
    operator reverts a RESOLVED finding more often than an ACTIVE one. Archiving that finding cannot stop the
    NEW finding the analyzer opens when the access comes back: only an archive rule does.
    """
    role_name = target.unique("aar-e2e-keep-")
    role_arn = target.create_role(role_name, trust_policy(target.guard(allow({"AWS": target.external_account}))))
    original = target.trust_policy(role_name)

    with target.enforcing():
        [finding] = target.contain(role_arn, expected=1).findings
        if when == "after-resolved":
            findings = target.rescan(role_arn, finding["id"], "RESOLVED")
            assert {f["id"]: f["status"] for f in findings} == {finding["id"]: "RESOLVED"}

        result = target.cli("revert", "--finding-id", finding["id"], "--archive", "--json")
        assert result.code == 0, result.stderr
        assert result.json()["archived"] is True
        assert target.trust_policy(role_name) == original

        findings = target.rescan(role_arn, finding["id"], "ARCHIVED")
        statuses = {f["id"]: f["status"] for f in findings}
        active = [i for i, s in statuses.items() if s == "ACTIVE"]
        state = {"while-active": "an ACTIVE", "after-resolved": "a RESOLVED"}[when]
        assert active == [], (
            f"after `revert --archive` of {state} finding, the next analysis reports the intended access as ACTIVE "
            f"again (findings: {statuses}): the function will contain it again"
        )
        assert target.queued_events() in (None, [])
        assert target.trust_policy(role_name) == original


def test_cli_environment_output_alone_configures_the_cli(sandbox: SandboxTarget) -> None:
    """`eval "$(terraform output -raw cli_environment)"` must be enough for aa-remediate (plus credentials and,
    in the sandbox, its endpoints): a shell without a default Region or profile must work too."""
    local = sandbox.local
    environment = local.cli_environment()
    assert environment["AWS_DEFAULT_REGION"] == environment["AWS_REGION"]
    only_aws_region = {k: v for k, v in environment.items() if k != "AWS_DEFAULT_REGION"}
    for env in (environment, only_aws_region):  # the CLI also falls back to AWS_REGION (as the Lambda runtime sets)
        with local.aws.authorization():
            result = run_cli(["status", "--finding-id", "no-such-finding", "--json"], env)
        assert result.stderr == ""  # e.g. a NoRegionError traceback
        assert (result.code, result.json()) == (1, {"finding_id": "no-such-finding", "records": []})
