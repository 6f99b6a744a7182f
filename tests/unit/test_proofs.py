"""Prove before writing (proofs.py): Access Analyzer's checks on the planned document, before any write.

The Prover's verdicts with a stubbed client; the write path through the engine against moto and the Access Analyzer
stand-in (its ValidatePolicy / CheckNoNewAccess / CheckNoPublicAccess models and fault injection), both on 127.0.0.1.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from access_analyzer_remediation import findings as types
from access_analyzer_remediation.cli import main
from access_analyzer_remediation.findings import FindingRef
from access_analyzer_remediation.proofs import (
    FAIL,
    NOT_APPLICABLE,
    PASS,
    PROOF_REFUSED,
    ProofUnavailable,
    Prover,
)
from access_analyzer_remediation.settings import Settings

from .conftest import EVENTS, Aws, trust_policy

EXTERNAL = "999988887777"
CURRENT = trust_policy({"AWS": f"arn:aws:iam::{EXTERNAL}:root"})
DENY = {"Sid": "AarDeny1", "Effect": "Deny", "Principal": {"AWS": [EXTERNAL]}, "Action": ["sts:AssumeRole"]}
PLANNED = {**CURRENT, "Statement": [*CURRENT["Statement"], DENY]}
CHECK_CALLS = ("ValidatePolicy", "CheckNoNewAccess", "CheckNoPublicAccess")


class StubAnalyzer:
    """Answers the three checks as configured; records every call's parameters."""

    def __init__(
        self,
        issues: dict[str, list[dict[str, Any]]] | None = None,
        new_access: dict[str, Any] | None = None,
        public: dict[str, Any] | None = None,
        error: tuple[str, str] | None = None,
    ) -> None:
        self.issues = issues or {}
        self.new_access = new_access or {"result": "PASS", "message": "no new access"}
        self.public = public or {"result": "PASS", "message": "not public"}
        self.error = error  # (operation, error code) raised by that operation
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _answer(self, operation: str, params: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((operation, params))
        if self.error and self.error[0] == operation:
            raise ClientError({"Error": {"Code": self.error[1], "Message": "stubbed"}}, operation)
        return answer

    def validate_policy(self, **params: Any) -> dict[str, Any]:
        return self._answer("ValidatePolicy", params, {"findings": self.issues.get(params["policyDocument"], [])})

    def check_no_new_access(self, **params: Any) -> dict[str, Any]:
        return self._answer("CheckNoNewAccess", params, self.new_access)

    def check_no_public_access(self, **params: Any) -> dict[str, Any]:
        return self._answer("CheckNoPublicAccess", params, self.public)


def compact(policy: dict[str, Any]) -> str:
    return json.dumps(policy, separators=(",", ":"), ensure_ascii=False)


def verdicts(proofs: Any) -> dict[str, str]:
    return {p.check: p.verdict for p in proofs.proofs}


def test_a_trust_policy_is_validated_as_one_and_every_check_is_recorded() -> None:
    stub = StubAnalyzer()
    proofs = Prover(stub).prove(types.IAM_ROLE, CURRENT, PLANNED, public=True)
    assert verdicts(proofs) == {"ValidatePolicy": PASS, "CheckNoNewAccess": PASS, "CheckNoPublicAccess": PASS}
    assert not proofs.refused
    by_operation = dict(stub.calls)
    assert by_operation["ValidatePolicy"]["validatePolicyResourceType"] == "AWS::IAM::AssumeRolePolicyDocument"
    assert by_operation["ValidatePolicy"]["policyType"] == "RESOURCE_POLICY"
    assert by_operation["CheckNoNewAccess"] == {
        "newPolicyDocument": compact(PLANNED),
        "existingPolicyDocument": compact(CURRENT),
        "policyType": "RESOURCE_POLICY",
    }
    assert by_operation["CheckNoPublicAccess"] == {
        "policyDocument": compact(PLANNED),
        "resourceType": "AWS::IAM::AssumeRolePolicyDocument",
    }
    assert proofs.line() == "proofs: ValidatePolicy PASS; CheckNoNewAccess PASS; CheckNoPublicAccess PASS"


def test_a_new_security_warning_refuses_and_one_the_current_document_had_does_not() -> None:
    warning = {"findingType": "SECURITY_WARNING", "issueCode": "PASS_ROLE_WITH_STAR_IN_RESOURCE"}
    new = Prover(StubAnalyzer(issues={compact(PLANNED): [warning]})).prove(types.IAM_ROLE, CURRENT, PLANNED, False)
    assert verdicts(new)["ValidatePolicy"] == FAIL and new.refused
    assert "SECURITY_WARNING PASS_ROLE_WITH_STAR_IN_RESOURCE" in new.refusal("trust policy")
    both = {compact(PLANNED): [warning], compact(CURRENT): [warning]}
    had = Prover(StubAnalyzer(issues=both)).prove(types.IAM_ROLE, CURRENT, PLANNED, False)
    assert verdicts(had)["ValidatePolicy"] == PASS and not had.refused
    # A plain WARNING never refuses.
    plain = {compact(PLANNED): [{"findingType": "WARNING", "issueCode": "MISSING_VERSION"}]}
    assert not Prover(StubAnalyzer(issues=plain)).prove(types.IAM_ROLE, CURRENT, PLANNED, False).refused


def test_new_access_or_public_access_refuses() -> None:
    failed = {"result": "FAIL", "message": "new access", "reasons": [{"description": "Statement 1 grants more"}]}
    new = Prover(StubAnalyzer(new_access=failed)).prove(types.S3_BUCKET, CURRENT, PLANNED, False)
    assert verdicts(new)["CheckNoNewAccess"] == FAIL and new.refused
    assert "Statement 1 grants more" in new.refusal("bucket policy")
    public = Prover(StubAnalyzer(public=failed)).prove(types.KMS_KEY, CURRENT, PLANNED, True)
    assert verdicts(public)["CheckNoPublicAccess"] == FAIL and public.refused


def test_a_document_the_service_refuses_is_a_failed_proof_not_a_retry() -> None:
    proofs = Prover(StubAnalyzer(error=("CheckNoNewAccess", "ValidationException"))).prove(
        types.SQS_QUEUE, CURRENT, PLANNED, False
    )
    assert verdicts(proofs)["CheckNoNewAccess"] == FAIL and proofs.refused


@pytest.mark.parametrize("code", ["ThrottlingException", "InternalServerException", "AccessDeniedException"])
@pytest.mark.parametrize("operation", CHECK_CALLS)
def test_a_check_that_could_not_be_made_raises_for_a_retry(operation: str, code: str) -> None:
    with pytest.raises(ProofUnavailable):
        Prover(StubAnalyzer(error=(operation, code))).prove(types.S3_BUCKET, CURRENT, PLANNED, public=True)


@pytest.mark.parametrize(
    "resource_type",
    [types.LAMBDA_FUNCTION, types.LAMBDA_LAYER_VERSION, types.EBS_SNAPSHOT, types.RDS_DB_SNAPSHOT],
)
def test_a_type_without_a_policy_document_is_not_applicable_and_calls_nothing(resource_type: str) -> None:
    stub = StubAnalyzer()
    proofs = Prover(stub).prove(resource_type, CURRENT, PLANNED, public=True)
    assert set(verdicts(proofs).values()) == {NOT_APPLICABLE} and not proofs.refused
    assert stub.calls == []


def test_unsupported_or_not_public_is_not_applicable_never_a_pass() -> None:
    stub = StubAnalyzer()
    ecr = Prover(stub).prove(types.ECR_REPOSITORY, CURRENT, PLANNED, public=True)
    assert verdicts(ecr)["CheckNoPublicAccess"] == NOT_APPLICABLE
    assert "CheckNoPublicAccess" not in {op for op, _ in stub.calls}
    assert all("validatePolicyResourceType" not in p for op, p in stub.calls if op == "ValidatePolicy")
    private = Prover(StubAnalyzer()).prove(types.SNS_TOPIC, CURRENT, PLANNED, public=False)
    assert verdicts(private)["CheckNoPublicAccess"] == NOT_APPLICABLE
    assert "CheckNoPublicAccess not applicable" in private.line()


def test_no_current_document_proves_nothing_by_call_and_refuses_an_allow() -> None:
    empty: dict[str, Any] = {}
    only_deny = {"Version": "2012-10-17", "Statement": [DENY]}
    stub = StubAnalyzer()
    proofs = Prover(stub).prove(types.S3_BUCKET, empty, only_deny, public=False)
    assert verdicts(proofs)["CheckNoNewAccess"] == NOT_APPLICABLE
    assert "CheckNoNewAccess" not in {op for op, _ in stub.calls}
    with_allow = Prover(StubAnalyzer()).prove(types.S3_BUCKET, empty, PLANNED, public=False)
    assert verdicts(with_allow)["CheckNoNewAccess"] == FAIL


# -- through the engine ---------------------------------------------------------------------------------------------
def _ref(aws: Aws, finding: dict[str, Any]) -> FindingRef:
    return FindingRef(aws.standin.analyzer_arn, finding["id"])


def _denies(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in policy["Statement"] if s.get("Effect") == "Deny"]


def _checks(aws: Aws) -> dict[str, int]:
    return {name: aws.calls[name] for name in CHECK_CALLS if aws.calls[name]}


def test_proofs_run_before_the_write_and_the_record_and_notice_carry_them(aws: Aws) -> None:
    aws.create_role("Proven", trust_policy({"AWS": f"arn:aws:iam::{EXTERNAL}:root"}))
    [finding] = aws.analyze()
    remediator = aws.remediator(prove_changes=True)
    aws.calls.clear()
    [outcome] = remediator.process([_ref(aws, finding)])
    assert (outcome.decision, outcome.reason) == ("remediate", "external_access_denied"), outcome.summary
    assert _checks(aws) == {"ValidatePolicy": 1, "CheckNoNewAccess": 1}  # not public: no CheckNoPublicAccess
    assert len(_denies(aws.policy("Proven"))) == 1
    [record] = aws.audit_items()
    proofs = {p["check"]: p["verdict"] for p in json.loads(record["proofs"]["S"])}
    assert proofs == {"ValidatePolicy": PASS, "CheckNoNewAccess": PASS, "CheckNoPublicAccess": NOT_APPLICABLE}
    remediator.announce([outcome], "123456789012")
    [email] = aws.emails()
    assert "proofs: ValidatePolicy PASS; CheckNoNewAccess PASS; CheckNoPublicAccess not applicable" in email["Message"]


def test_a_public_finding_is_also_proven_not_public(aws: Aws) -> None:
    aws.create_role("Public", trust_policy({"AWS": "*"}))
    [finding] = aws.analyze()
    aws.calls.clear()
    [outcome] = aws.remediator(prove_changes=True).process([_ref(aws, finding)])
    assert outcome.decision == "remediate", outcome.summary
    # The planned document keeps the current one's SECURITY_WARNING (the Allow of "*"): the current one is validated
    # too, and the warning it already had does not refuse the change.
    assert _checks(aws) == {"ValidatePolicy": 2, "CheckNoNewAccess": 1, "CheckNoPublicAccess": 1}
    assert {p["check"]: p["verdict"] for p in outcome.proofs}["CheckNoPublicAccess"] == PASS


def test_checks_disabled_means_no_check_call(aws: Aws) -> None:
    aws.create_role("Unproven", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    aws.calls.clear()
    [outcome] = aws.remediator(prove_changes=False).process([_ref(aws, finding)])
    assert outcome.decision == "remediate"
    assert _checks(aws) == {}
    [record] = aws.audit_items()
    assert "proofs" not in record


def test_the_lambda_default_is_on_and_false_turns_it_off() -> None:
    env = {
        "AAR_ANALYZER_ARNS": json.dumps(["arn:aws:access-analyzer:us-east-1:123456789012:analyzer/a"]),
        "AAR_AUDIT_TABLE_NAME": "aar-audit",
        "AAR_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t",
    }
    assert Settings.from_env(env).prove_changes is True
    assert Settings.from_env({**env, "AAR_PROVE_CHANGES": "false"}).prove_changes is False


def _answer(result: str) -> Any:
    """A before-call handler: the check answers `result` without reaching the stand-in."""

    def handler(**_: Any) -> tuple[Any, dict[str, Any]]:
        reasons = [{"description": "Statement 0 may grant new access", "statementIndex": 0}]
        return SimpleNamespace(status_code=200), {"result": result, "message": result, "reasons": reasons}

    return handler


def test_a_failed_check_writes_nothing_and_reports_the_refusal(aws: Aws) -> None:
    original = trust_policy({"AWS": EXTERNAL})
    aws.create_role("Refused", original)
    [finding] = aws.analyze()
    remediator = aws.remediator(prove_changes=True)
    client = remediator.clients.access_analyzer("us-east-1")
    client.meta.events.register("before-call.accessanalyzer.CheckNoNewAccess", _answer("FAIL"))
    aws.calls.clear()
    [outcome] = remediator.process([_ref(aws, finding)])
    assert (outcome.decision, outcome.reason) == ("notify", PROOF_REFUSED)
    assert "CheckNoNewAccess" in outcome.summary and "Statement 0 may grant new access" in outcome.summary
    assert aws.policy("Refused") == original  # nothing written
    assert aws.calls["UpdateAssumeRolePolicy"] == 0
    [record] = aws.audit_items()
    assert record["decision"]["S"] == "notify" and record["reason"]["S"] == PROOF_REFUSED
    assert {p["check"]: p["verdict"] for p in json.loads(record["proofs"]["S"])}["CheckNoNewAccess"] == FAIL
    remediator.announce([outcome], "123456789012")
    [email] = aws.emails()
    assert "CheckNoNewAccess FAIL" in email["Message"]


def test_a_document_the_stand_in_refuses_is_never_written(aws: Aws) -> None:
    original = trust_policy({"AWS": EXTERNAL})
    aws.create_role("Invalid", original)
    [finding] = aws.analyze()
    aws.standin.fail_next("ValidatePolicy", "ValidationException")
    [outcome] = aws.remediator(prove_changes=True).process([_ref(aws, finding)])
    assert (outcome.decision, outcome.reason) == ("notify", PROOF_REFUSED)
    assert aws.policy("Invalid") == original


def test_a_throttled_check_writes_nothing_and_the_finding_is_retried(aws: Aws) -> None:
    original = trust_policy({"AWS": EXTERNAL})
    aws.create_role("Throttled", original)
    [finding] = aws.analyze()
    aws.standin.fail_next("CheckNoNewAccess", "ThrottlingException", times=3)  # the call and its 2 retries
    remediator = aws.remediator(prove_changes=True)
    [outcome] = remediator.process([_ref(aws, finding)])
    assert (outcome.decision, outcome.reason) == ("failed", "proof_unavailable")
    assert aws.policy("Throttled") == original
    assert aws.audit_items() == []  # nothing recorded as decided: the retry decides
    [retried] = remediator.process([_ref(aws, finding)])
    assert retried.decision == "remediate" and len(_denies(aws.policy("Throttled"))) == 1


# -- aa-remediate plan --prove -----------------------------------------------------------------------------------
def _plan(tmp_path: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str, str]:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(trust_policy({"AWS": "999988887777"})))
    code = main(["plan", "--event", str(EVENTS / "iam_role_active.json"), "--policy", str(policy), *flags])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_plan_prove_runs_the_checks_on_the_printed_plan(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in aws.moto.env({"accessanalyzer": aws.standin.endpoint_url}).items():
        monkeypatch.setenv(key, value)
    aws.calls.clear()
    code, out, _ = _plan(tmp_path, capsys, "--prove", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["decision"] == "remediate"
    assert {p["check"]: p["verdict"] for p in result["proofs"]} == {
        "ValidatePolicy": PASS,
        "CheckNoNewAccess": PASS,
        "CheckNoPublicAccess": NOT_APPLICABLE,
    }
    assert any(note.startswith("proofs: ValidatePolicy PASS") for note in result["notes"])
    code, out, _ = _plan(tmp_path, capsys, "--json")
    assert code == 0 and "proofs" not in json.loads(out)  # without --prove: offline, no check


def test_plan_prove_without_a_reachable_service_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_ACCESSANALYZER", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    code, out, err = _plan(tmp_path, capsys, "--prove")
    assert code == 2 and out == ""
    assert err.startswith("aa-remediate: error: --prove: the checks could not be made") and err.count("\n") == 1
