"""The remediation path against a moto server and the Access Analyzer stand-in (both on 127.0.0.1)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from access_analyzer_remediation.engine import Remediator, sweep
from access_analyzer_remediation.findings import FindingRef, parse_event
from access_analyzer_remediation.policy import SID_PREFIX
from access_analyzer_remediation.revert import NothingToRevert, revert

from .conftest import Aws, trust_policy

EXTERNAL = "999988887777"


def _ref(aws: Aws, finding: dict[str, Any], region: str = "us-east-1") -> FindingRef:
    return FindingRef(aws.standins[region].analyzer_arn, finding["id"])


def _denies(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in policy["Statement"] if s.get("Effect") == "Deny"]


def test_external_account_is_denied_audited_and_notified_in_six_calls_and_two_for_the_notice(aws: Aws) -> None:
    original = trust_policy({"AWS": f"arn:aws:iam::{EXTERNAL}:root"})
    aws.create_role("Audit_CrossAccountRole", original)
    [finding] = aws.analyze()
    remediator = aws.remediator()
    aws.calls.clear()
    [outcome] = remediator.process([_ref(aws, finding)])
    assert (outcome.decision, outcome.reason) == ("remediate", "external_access_denied")
    # GetFinding, GetRole, UpdateItem (lease + intent), UpdateAssumeRolePolicy, BatchWriteItem (record + outbox),
    # UpdateItem (ledger + release).
    assert aws.calls == {
        "GetFinding": 1,
        "GetRole": 1,
        "UpdateItem": 2,
        "UpdateAssumeRolePolicy": 1,
        "BatchWriteItem": 1,
    }
    policy = aws.policy("Audit_CrossAccountRole")
    assert policy["Statement"][0] == original["Statement"][0]
    [deny] = _denies(policy)
    assert deny["Principal"] == {"AWS": [EXTERNAL]} and deny["Action"] == ["sts:AssumeRole"]
    [record] = aws.audit_items()
    assert record["decision"]["S"] == "remediate" and record["notified"]["BOOL"] is False
    assert record["finding_id"]["S"] == finding["id"]
    assert json.loads(record["policy_before"]["S"]) == original
    assert json.loads(record["policy_after"]["S"]) == policy
    assert [s["S"] for s in record["sids_added"]["L"]] == [deny["Sid"]]
    aws.calls.clear()
    remediator.announce([outcome], "123456789012")
    assert aws.calls == {"Publish": 1, "BatchWriteItem": 1}  # the notice, then: notified, outbox cleared
    [record] = aws.audit_items()
    assert record["notified"]["BOOL"] is True
    [email] = aws.emails()
    assert "Audit_CrossAccountRole" in email["Subject"]
    assert f"aa-remediate revert --finding-id {finding['id']}" in email["Message"]
    # The stand-in re-analyses the role: the finding is RESOLVED, as the real service does.
    assert aws.analyze() == []


@pytest.mark.parametrize(
    ("principal", "action", "expected"),
    [
        (
            {"AWS": f"arn:aws:iam::{EXTERNAL}:user/Alice"},
            "sts:AssumeRole",
            {
                "Principal": {"AWS": "*"},
                "Condition": {"ArnLike": {"aws:PrincipalArn": [f"arn:aws:iam::{EXTERNAL}:user/Alice"]}},
            },
        ),
        (
            {"Federated": "cognito-identity.amazonaws.com"},
            "sts:AssumeRoleWithWebIdentity",
            {"Principal": {"Federated": ["cognito-identity.amazonaws.com"]}},
        ),
        ({"AWS": "*"}, "sts:AssumeRole", {"Principal": {"AWS": "*"}}),
    ],
)
def test_each_principal_kind_is_contained_and_the_finding_resolves(
    aws: Aws, principal: dict[str, str], action: str, expected: dict[str, Any]
) -> None:
    aws.create_role("Target", trust_policy(principal, action=action), path="/teams/ci/")
    [finding] = aws.analyze()
    [outcome] = aws.remediator().process([_ref(aws, finding)])
    assert outcome.decision == "remediate", outcome.summary
    [deny] = _denies(aws.policy("Target"))
    assert {k: deny[k] for k in expected} == expected
    assert deny["Action"] == [action]
    assert aws.analyze() == []


def test_redelivery_and_a_second_region_add_nothing(aws: Aws) -> None:
    aws.create_role("Shared", trust_policy({"AWS": EXTERNAL}))
    [east] = aws.analyze("us-east-1")
    [west] = aws.analyze("eu-west-1")
    remediator = aws.remediator()
    first = remediator.process([_ref(aws, east)])
    after_first = aws.policy("Shared")
    again = remediator.process([_ref(aws, east), _ref(aws, west, "eu-west-1")])
    assert first[0].decision == "remediate"
    assert [(o.decision, o.reason) for o in again] == [("skip", "already_contained")] * 2
    assert aws.policy("Shared") == after_first
    assert len(_denies(after_first)) == 1


def test_several_findings_on_one_role_are_coalesced_into_one_read_and_one_write(aws: Aws) -> None:
    aws.create_role("Busy", trust_policy({"AWS": EXTERNAL}, {"AWS": "222233334444"}, {"AWS": "444455556666"}))
    findings = aws.analyze()
    assert len(findings) == 3
    aws.calls.clear()
    outcomes = aws.remediator().process([_ref(aws, f) for f in findings])
    assert [o.decision for o in outcomes] == ["remediate"] * 3
    assert aws.calls["GetRole"] == 1 and aws.calls["UpdateAssumeRolePolicy"] == 1
    assert sum(aws.calls.values()) == 3 + 5
    [deny] = _denies(aws.policy("Busy"))
    assert sorted(deny["Principal"]["AWS"]) == sorted([EXTERNAL, "222233334444", "444455556666"])


def test_notify_mode_writes_nothing_but_audits_and_reports_the_change(aws: Aws) -> None:
    original = trust_policy({"AWS": EXTERNAL})
    aws.create_role("Watched", original)
    [finding] = aws.analyze()
    remediator = aws.remediator(mode="notify")
    aws.calls.clear()
    [outcome] = remediator.process([_ref(aws, finding)])
    assert (outcome.decision, outcome.reason) == ("notify", "notify_mode")
    assert aws.calls["UpdateAssumeRolePolicy"] == 0 and aws.calls["UpdateItem"] == 0
    assert aws.calls["BatchWriteItem"] == 1  # the record and its notice
    assert aws.policy("Watched") == original
    remediator.announce([outcome], "123456789012")
    [email] = aws.emails()
    assert "Would add to the trust policy" in email["Message"]


@pytest.mark.parametrize(
    ("role", "path", "tags", "reason"),
    [
        ("OrganizationAccountAccessRole", "/", None, "protected_role"),
        ("stacksets-exec-abc", "/", None, "protected_role"),
        ("Exempted", "/", {"access-analyzer-remediation:exempt": "true"}, "exempt_tag"),
    ],
)
def test_guardrails_leave_the_role_untouched(
    aws: Aws, role: str, path: str, tags: dict[str, str] | None, reason: str
) -> None:
    original = trust_policy({"AWS": EXTERNAL})
    aws.create_role(role, original, path, tags)
    [finding] = aws.analyze()
    [outcome] = aws.remediator().process([_ref(aws, finding)])
    assert (outcome.decision, outcome.reason) == ("notify", reason)
    assert aws.policy(role) == original


def test_own_role_and_zone_of_trust(aws: Aws) -> None:
    own = aws.create_role("ToolRole", trust_policy({"AWS": EXTERNAL}))
    aws.create_role("Partner", trust_policy({"AWS": "444455556666"}))
    findings = {f["resource"].rsplit("/", 1)[-1]: f for f in aws.analyze()}
    remediator = aws.remediator(own_role_arns=frozenset({own}), trusted_account_ids=frozenset({"444455556666"}))
    outcomes = remediator.process([_ref(aws, findings["ToolRole"]), _ref(aws, findings["Partner"])])
    assert [(o.decision, o.reason) for o in outcomes] == [
        ("notify", "own_role"),
        ("skip", "principal_in_zone_of_trust"),
    ]
    assert _denies(aws.policy("ToolRole")) == [] and _denies(aws.policy("Partner")) == []


def test_spoofed_and_stale_events_change_nothing(aws: Aws) -> None:
    original = trust_policy({"AWS": EXTERNAL})
    arn = aws.create_role("Victim", original)
    [finding] = aws.analyze()
    event = json.loads(json.dumps(_event(aws, finding)))
    forged_resource = json.loads(json.dumps(event))
    forged_resource["detail"]["resource"] = arn.replace("Victim", "Other")
    unknown_analyzer = json.loads(json.dumps(event))
    unknown_analyzer["resources"] = ["arn:aws:access-analyzer:us-east-1:666666666666:analyzer/evil"]
    missing = json.loads(json.dumps(event))
    missing["detail"]["id"] = "00000000-0000-0000-0000-000000000000"
    refs = [parse_event(e) for e in (forged_resource, unknown_analyzer, missing)]
    remediator = aws.remediator()
    outcomes = remediator.process([r for r in refs if isinstance(r, FindingRef)])
    assert [o.reason for o in outcomes] == ["finding_mismatch", "unknown_analyzer", "finding_not_found"]
    aws.client("accessanalyzer").update_findings(
        analyzerArn=aws.standin.analyzer_arn, ids=[finding["id"]], status="ARCHIVED"
    )
    [stale] = remediator.process([parse_event(event)])  # type: ignore[list-item]
    assert stale.reason == "finding_not_active"
    assert aws.policy("Victim") == original


def _event(aws: Aws, finding: dict[str, Any]) -> dict[str, Any]:
    from sandbox.access_analyzer import build_finding_event

    return build_finding_event(finding, aws.standin.analyzer_arn, "us-east-1", "123456789012")


def test_deleted_role_is_nothing_to_do(aws: Aws) -> None:
    aws.create_role("Gone", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    aws.client("iam").delete_role(RoleName="Gone")
    [outcome] = aws.remediator().process([_ref(aws, finding)])
    assert (outcome.decision, outcome.reason) == ("skip", "role_not_found")


def test_revert_restores_the_original_exactly_and_archives(aws: Aws) -> None:
    original = {
        "Version": "2012-10-17",
        "Statement": {"Effect": "Allow", "Principal": {"AWS": EXTERNAL}, "Action": "sts:AssumeRole"},
    }
    aws.create_role("Reverted", original)
    [finding] = aws.analyze()
    remediator = aws.remediator()
    remediator.process([_ref(aws, finding)])
    assert aws.policy("Reverted") != original
    result = revert(remediator, finding["id"], archive=True)
    assert aws.policy("Reverted") == original
    assert result["removed"] and result["archived"]
    assert aws.standin.findings()[0]["status"] == "ARCHIVED"
    with pytest.raises(NothingToRevert):
        revert(remediator, finding["id"])


def test_revert_keeps_changes_made_since(aws: Aws) -> None:
    aws.create_role("Kept", trust_policy({"AWS": EXTERNAL}, {"AWS": "222233334444"}))
    first, second = aws.analyze()
    remediator = aws.remediator()
    remediator.process([_ref(aws, first)])
    remediator.process([_ref(aws, second)])
    revert(remediator, first["id"])
    [deny] = _denies(aws.policy("Kept"))
    assert deny["Principal"]["AWS"] == [second["principal"]["AWS"]]


def test_iam_rejection_is_reported_not_retried(aws: Aws) -> None:
    aws.create_role("Rejected", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    remediator = aws.remediator()
    iam = remediator.clients.iam()

    def reject(**_: Any) -> None:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "MalformedPolicyDocument", "Message": "no"}}, "UpdateAssumeRolePolicy")

    iam.meta.events.register("before-call.iam.UpdateAssumeRolePolicy", reject)
    [outcome] = remediator.process([_ref(aws, finding)])
    assert (outcome.decision, outcome.reason) == ("notify", "iam_rejected")
    assert _denies(aws.policy("Rejected")) == []


def test_throttled_finding_fails_for_a_retry_and_others_go_on(aws: Aws) -> None:
    aws.create_role("One", trust_policy({"AWS": EXTERNAL}))
    aws.create_role("Two", trust_policy({"AWS": EXTERNAL}))
    findings = aws.analyze()
    aws.standin.fail_next("GetFinding", "ThrottlingException", times=3)  # the call and its 2 retries
    one_at_a_time = Remediator(aws.settings(), aws.clients(), lock_wait_seconds=10, workers=1)
    outcomes = one_at_a_time.process([_ref(aws, f) for f in findings])
    assert [o.decision for o in outcomes] == ["failed", "remediate"]


def test_lock_held_elsewhere_fails_the_findings_for_a_retry(aws: Aws) -> None:
    arn = aws.create_role("Locked", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    holder = aws.remediator()
    holder.state.acquire(arn, 60, 0)
    waiting = Remediator(aws.settings(), aws.clients(), lock_wait_seconds=0.3)
    [outcome] = waiting.process([_ref(aws, finding)])
    assert (outcome.decision, outcome.reason) == ("failed", "lock_busy") and "leased" in outcome.summary
    assert _denies(aws.policy("Locked")) == []


def test_sweep_backfills_every_active_role_finding(aws: Aws) -> None:
    for n in range(7):
        aws.create_role(f"Old{n}", trust_policy({"AWS": EXTERNAL}))
    aws.analyze()
    outcomes = sweep(aws.remediator(), chunk=3)
    assert [o.decision for o in outcomes] == ["remediate"] * 7
    assert aws.analyze() == []


def test_one_digest_per_batch(aws: Aws) -> None:
    for n in range(3):
        aws.create_role(f"Digest{n}", trust_policy({"AWS": EXTERNAL}))
    findings = aws.analyze()
    remediator = aws.remediator()
    remediator.announce(remediator.process([_ref(aws, f) for f in findings]), "123456789012")
    [email] = aws.emails()
    assert email["Message"].count("[REMEDIATED]") == 3
    assert email["Subject"].startswith("[Access Analyzer] 3 findings")


def test_sids_the_tool_writes_are_accepted_by_the_iam_rules(aws: Aws) -> None:
    aws.create_role("Sids", trust_policy({"AWS": EXTERNAL}, {"Federated": "cognito-identity.amazonaws.com"}))
    findings = aws.analyze()
    aws.remediator().process([_ref(aws, f) for f in findings])
    sids = [s["Sid"] for s in _denies(aws.policy("Sids"))]
    assert len(sids) == 2 and len(set(sids)) == 2
    assert all(s.isalnum() and s.isascii() and s.startswith(SID_PREFIX) for s in sids)


def test_getfinding_error_or_a_type_this_deployment_does_not_receive_is_skipped(aws: Aws) -> None:
    errored = aws.standin.add_finding(
        resource="arn:aws:iam::123456789012:role/Unreadable", error="ACCESS_DENIED", publish=False
    )
    bucket = aws.standin.add_finding(
        resource="arn:aws:s3:::shared-bucket", resource_type="AWS::S3::Bucket", publish=False
    )
    roles_only = aws.remediator(resource_types=("AWS::IAM::Role",))
    outcomes = roles_only.process([_ref(aws, errored), _ref(aws, bucket)])
    assert [(o.decision, o.reason) for o in outcomes] == [
        ("skip", "error_finding"),
        ("skip", "unsupported_resource_type"),
    ]
    assert aws.audit_items() == []


def test_a_received_type_the_tool_does_not_contain_is_always_reported(aws: Aws) -> None:
    # Every type Access Analyzer reports today has an adapter; a type it adds later, once listed, is reported.
    widget = aws.standin.add_finding(
        resource="arn:aws:example:us-east-1:123456789012:widget/shared", resource_type="AWS::Example::Widget",
        publish=False,
    )  # fmt: skip
    remediator = aws.remediator(resource_types=("AWS::IAM::Role", "AWS::Example::Widget"))
    [outcome] = remediator.process([_ref(aws, widget)])
    assert (outcome.decision, outcome.reason) == ("notify", "not_contained_type")
    assert outcome.stored and outcome.outbox  # a notice waits in the outbox: the e-mail goes out
    assert "AWS::Example::Widget" in outcome.notice("remediate").summary


def test_revert_archive_of_a_resolved_finding_keeps_the_access_intended(aws: Aws) -> None:
    original = trust_policy({"AWS": EXTERNAL})
    aws.create_role("Intended", original)
    [finding] = aws.analyze()
    remediator = aws.remediator()
    remediator.process([_ref(aws, finding)])
    assert aws.analyze() == []  # the Deny resolved the finding
    result = revert(remediator, finding["id"], archive=True)
    assert result["finding_status"] == "RESOLVED" and result["archive_rule"].startswith("aar-intended-Intended-")
    assert aws.policy("Intended") == original
    assert aws.analyze() == []  # the access is back, but the archive rule archives the new finding
    assert {f["status"] for f in aws.standin.findings()} == {"RESOLVED", "ARCHIVED"}
    rules = aws.client("accessanalyzer").list_archive_rules(analyzerName="sandbox-analyzer")["archiveRules"]
    assert [r["ruleName"] for r in rules] == [result["archive_rule"]]


def test_organization_and_allowlisted_principals_keep_their_access_after_the_deny(aws: Aws) -> None:
    allowed = f"arn:aws:iam::{EXTERNAL}:role/ci-deployer"
    aws.create_role("Sibling", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    remediator = aws.remediator(trusted_org_id="o-abcdefghij", allowed_principals=(allowed,))
    [outcome] = remediator.process([_ref(aws, finding)])
    assert outcome.decision == "remediate"
    [deny] = _denies(aws.policy("Sibling"))
    assert deny["Condition"] == {
        "StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-abcdefghij"},
        "ArnNotLike": {"aws:PrincipalArn": [allowed]},
    }
    # The account analyzer reports what is left: the organization's callers and the allowlisted role.
    [left] = aws.analyze()
    assert left["condition"] == {"aws:PrincipalOrgID": "o-abcdefghij", "aws:PrincipalArn": allowed}
    [again] = remediator.process([_ref(aws, left)])
    assert (again.decision, again.reason) == ("skip", "principal_in_zone_of_trust")
    assert len(_denies(aws.policy("Sibling"))) == 1  # nothing more written
