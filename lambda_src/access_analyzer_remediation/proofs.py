"""Prove before writing: Access Analyzer's own checks on a planned policy document, before the write.

For a planned write of a policy document (`before` -> `after`), three independent checks run concurrently:

- ``ValidatePolicy`` on the planned document and on the current one (the type's ``validatePolicyResourceType``
  where the API has one): an ERROR or SECURITY_WARNING issue the planned document has more often than the current
  one means the change is refused (nothing written, the notice names the issue);
- ``CheckNoNewAccess`` (planned vs current, RESOURCE_POLICY): must PASS, the tool never grants access;
- ``CheckNoPublicAccess`` on the planned document, for a public finding where the type is supported: must PASS.

A type whose containment writes no policy document (a Lambda permission or layer permission removed, a snapshot
attribute value removed) and a check the type does not support are recorded as NOT_APPLICABLE with the reason,
never as a pass. A check call that fails for any other reason than the document itself (throttled, 5xx, access
denied, no answer) raises `ProofUnavailable`: nothing is written, the finding is handed back for a retry.

Cost (resource-types.md, section 5): CheckNoNewAccess and CheckNoPublicAccess are charged per call ($0.002 per call
per secondary sources, unconfirmed); ValidatePolicy has no stated charge. One write (one resource, every finding of
the batch on it) makes 1 ValidatePolicy call (2 when the planned document has a blocking issue: the current one is
then validated too), 1 CheckNoNewAccess call and, for a public finding, 1 CheckNoPublicAccess call: about $0.002
per contained finding, $0.004 for a public one.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from . import findings as types
from .clients import error_code
from .outcomes import Outcome
from .policy import Policy, compact

PASS = "PASS"  # noqa: S105  (a check verdict, not a password)
FAIL = "FAIL"
NOT_APPLICABLE = "NOT_APPLICABLE"
VALIDATE = "ValidatePolicy"
NO_NEW_ACCESS = "CheckNoNewAccess"
NO_PUBLIC_ACCESS = "CheckNoPublicAccess"
CHECKS = (VALIDATE, NO_NEW_ACCESS, NO_PUBLIC_ACCESS)
PROOF_REFUSED = "proof_refused"  # the reason of a change a proof refused: nothing written
# Issue severities of ValidatePolicy that stop a write (WARNING and SUGGESTION do not).
BLOCKING = frozenset({"ERROR", "SECURITY_WARNING"})
# Errors about the document itself: a verdict (the change is refused), not a failure to retry.
DOCUMENT_ERRORS = frozenset({"ValidationException", "InvalidParameterException", "UnprocessableEntityException"})
# The IAM action of each call (tests/terraform/test_contract.py ties them to the calls below and to iam.tf).
_IAM_ACTIONS = {
    "ValidatePolicy": "access-analyzer:ValidatePolicy",
    "CheckNoNewAccess": "access-analyzer:CheckNoNewAccess",
    "CheckNoPublicAccess": "access-analyzer:CheckNoPublicAccess",
}


@dataclass(frozen=True)
class Spec:
    """How a type's policy document is checked: `validate_type` is ValidatePolicy's validatePolicyResourceType
    (None: omitted, as the API wants for every other type), `public_type` CheckNoPublicAccess's resourceType (None:
    the check does not support the type)."""

    validate_type: str | None
    public_type: str | None


TRUST_POLICY = "AWS::IAM::AssumeRolePolicyDocument"
SPECS: dict[str, Spec] = {
    types.IAM_ROLE: Spec(TRUST_POLICY, TRUST_POLICY),
    types.S3_BUCKET: Spec("AWS::S3::Bucket", "AWS::S3::Bucket"),
    types.KMS_KEY: Spec(None, "AWS::KMS::Key"),
    types.SQS_QUEUE: Spec(None, "AWS::SQS::Queue"),
    types.SNS_TOPIC: Spec(None, "AWS::SNS::Topic"),
    types.SECRETS_MANAGER_SECRET: Spec(None, "AWS::SecretsManager::Secret"),
    types.ECR_REPOSITORY: Spec(None, None),
    types.EFS_FILE_SYSTEM: Spec(None, "AWS::EFS::FileSystem"),
    types.DYNAMODB_TABLE: Spec("AWS::DynamoDB::Table", "AWS::DynamoDB::Table"),
    types.DYNAMODB_STREAM: Spec(None, "AWS::DynamoDB::Stream"),
    types.S3_DIRECTORY_BUCKET: Spec(None, "AWS::S3Express::DirectoryBucket"),
}
# Types whose containment writes no policy document: the checks do not apply to what is written.
NO_DOCUMENT = {
    types.LAMBDA_FUNCTION: "the containment removes a permission (RemovePermission): no policy document is written",
    types.LAMBDA_LAYER_VERSION: "the containment removes a layer permission: no policy document is written",
    types.EBS_SNAPSHOT: "the containment removes a createVolumePermission value: no policy document is written",
    types.RDS_DB_SNAPSHOT: "the containment removes a restore attribute value: no policy document is written",
    types.RDS_CLUSTER_SNAPSHOT: "the containment removes a restore attribute value: no policy document is written",
}


class ProofUnavailable(RuntimeError):
    """A check could not be made (throttled, 5xx, denied, no answer): never write unproven, retry the finding."""


@dataclass(frozen=True)
class Proof:
    """One Access Analyzer check on a planned document, and its verdict."""

    check: str
    verdict: str  # PASS | FAIL | NOT_APPLICABLE
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"check": self.check, "verdict": self.verdict, "detail": self.detail}

    @classmethod
    def from_json(cls, data: Any) -> Proof:
        return cls(str(data["check"]), str(data["verdict"]), str(data["detail"]))


@dataclass(frozen=True)
class Proofs:
    """The checks made on one planned document."""

    proofs: tuple[Proof, ...]

    @property
    def refused(self) -> bool:
        return any(p.verdict == FAIL for p in self.proofs)

    def line(self) -> str:
        """The notice's line: which proofs ran and their verdicts."""
        return "proofs: " + "; ".join(f"{p.check} {_verdict_text(p)}" for p in self.proofs)

    def refusal(self, document: str) -> str:
        failed = [p for p in self.proofs if p.verdict == FAIL]
        reasons = "; ".join(f"{p.check}: {p.detail}" for p in failed)
        return f"not written: the planned {document} failed {reasons}; review this access by hand"

    def to_json(self) -> list[dict[str, str]]:
        return [p.to_json() for p in self.proofs]


def _verdict_text(proof: Proof) -> str:
    return "not applicable" if proof.verdict == NOT_APPLICABLE else proof.verdict


class Prover:
    """Runs the checks with one Access Analyzer client (any Region's: the checks read no resource)."""

    def __init__(self, client: Any, workers: int = 3) -> None:
        self.client = client
        self.workers = workers

    def prove(self, resource_type: str, before: Policy, after: Policy, public: bool) -> Proofs:
        """The verdicts of the checks on writing `after` in place of `before` (raises ProofUnavailable)."""
        if resource_type in NO_DOCUMENT or resource_type not in SPECS:
            reason = NO_DOCUMENT.get(resource_type, f"no check is known for {resource_type}")
            return Proofs(tuple(Proof(check, NOT_APPLICABLE, reason) for check in CHECKS))
        spec = SPECS[resource_type]
        planned, current = compact(after), compact(before)
        tasks: list[Callable[[], Proof]] = [
            lambda: self._validate(spec, planned, current),
            lambda: self._no_new_access(planned, current),
            lambda: self._no_public_access(spec, planned, public),
        ]
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            futures = [pool.submit(task) for task in tasks]
            return Proofs(tuple(f.result() for f in futures))

    # -- the checks ----------------------------------------------------------------------------------------------
    def _validate(self, spec: Spec, planned: str, current: str) -> Proof:
        found = self._issues(planned, spec)
        if isinstance(found, _Refused):
            return Proof(VALIDATE, FAIL, found.message)
        had = self._issues(current, spec) if found and _statements(current) else Counter()
        # A current document the service refuses: every issue of the planned one counts.
        new = found - had if not isinstance(had, _Refused) else found
        if new:
            listed = ", ".join(f"{kind} {code}" for kind, code in sorted(new.elements()))
            return Proof(VALIDATE, FAIL, f"new issue(s) in the planned document: {listed}")
        return Proof(VALIDATE, PASS, "no ERROR or SECURITY_WARNING the current document does not already have")

    def _issues(self, document: str, spec: Spec) -> Counter[tuple[str, str]] | _Refused:
        params: dict[str, Any] = {"policyDocument": document, "policyType": "RESOURCE_POLICY"}
        if spec.validate_type is not None:
            params["validatePolicyResourceType"] = spec.validate_type
        found: Counter[tuple[str, str]] = Counter()
        token: str | None = None
        while True:
            page = self._call(self.client.validate_policy, **params, **({"nextToken": token} if token else {}))
            if isinstance(page, _Refused):
                return page
            for issue in page.get("findings", []):
                if issue.get("findingType") in BLOCKING:
                    found[str(issue["findingType"]), str(issue.get("issueCode", ""))] += 1
            token = page.get("nextToken")
            if not token:
                return found

    def _no_new_access(self, planned: str, current: str) -> Proof:
        if not _statements(current):
            # Nothing to compare with: the planned document may only deny.
            allows = [s for s in _statement_list(planned) if s.get("Effect") != "Deny"]
            if allows:
                return Proof(NO_NEW_ACCESS, FAIL, "no current document, and the planned one has an Allow statement")
            return Proof(NO_NEW_ACCESS, NOT_APPLICABLE, "no current document; the planned one has only Deny statements")
        answer = self._call(
            self.client.check_no_new_access,
            newPolicyDocument=planned,
            existingPolicyDocument=current,
            policyType="RESOURCE_POLICY",
        )
        return _verdict(NO_NEW_ACCESS, answer)

    def _no_public_access(self, spec: Spec, planned: str, public: bool) -> Proof:
        if not public:
            return Proof(NO_PUBLIC_ACCESS, NOT_APPLICABLE, "not a public finding")
        if spec.public_type is None:
            return Proof(NO_PUBLIC_ACCESS, NOT_APPLICABLE, "the check does not support this resource type")
        answer = self._call(self.client.check_no_public_access, policyDocument=planned, resourceType=spec.public_type)
        return _verdict(NO_PUBLIC_ACCESS, answer)

    @staticmethod
    def _call(operation: Callable[..., Any], **params: Any) -> dict[str, Any] | _Refused:
        try:
            answer: dict[str, Any] = operation(**params)
        except Exception as err:
            code = error_code(err)
            if code in DOCUMENT_ERRORS:
                return _Refused(f"{code}: {err}")
            raise ProofUnavailable(f"{getattr(operation, '__name__', 'check')} failed: {err!r}") from err
        return answer


@dataclass(frozen=True)
class _Refused:
    """The service refused the document itself (a verdict against the change)."""

    message: str


def _verdict(check: str, answer: dict[str, Any] | _Refused) -> Proof:
    if isinstance(answer, _Refused):
        return Proof(check, FAIL, answer.message)
    result = str(answer.get("result", ""))
    if result == PASS:
        return Proof(check, PASS, str(answer.get("message", "")))
    reasons = "; ".join(str(r.get("description", "")) for r in answer.get("reasons", []))
    return Proof(check, FAIL, f"{result or 'no result'}: {reasons or answer.get('message', '')}")


def _statement_list(document: str) -> list[dict[str, Any]]:
    statements = json.loads(document).get("Statement", [])
    if isinstance(statements, dict):
        return [statements]
    return [s for s in statements if isinstance(s, dict)] if isinstance(statements, list) else []


def _statements(document: str) -> bool:
    return bool(_statement_list(document))


def proven(
    prover: Prover,
    resource_type: str,
    document: str,
    outcomes: Sequence[Outcome],
    before: Policy,
    *,
    stamp: Callable[[Outcome], Outcome],
) -> list[Outcome]:
    """`outcomes` (one cycle's plans on one resource) with the proofs of their write: each writing outcome carries
    the verdicts (record field `proofs`, a notice line); when a check FAILs every one of them becomes a notify of
    its own (PROOF_REFUSED: nothing is written). `stamp` re-stamps an outcome's record under its id. Raises
    ProofUnavailable when a check could not be made."""
    writing = [o for o in outcomes if o.decision == "remediate" and o.policy_after is not None and o.finding]
    if not writing:
        return list(outcomes)
    after = writing[-1].policy_after
    assert after is not None
    if after == before:
        reason = f"no {document} is written (the change is beside it)"
        proofs = Proofs(tuple(Proof(check, NOT_APPLICABLE, reason) for check in CHECKS))
    else:
        proofs = prover.prove(resource_type, before, after, any(o.finding.is_public for o in writing if o.finding))
    line = proofs.line()
    result = []
    for outcome in outcomes:
        if outcome not in writing or outcome.plan is None:
            result.append(outcome)
            continue
        plan = replace(outcome.plan, notes=(*outcome.plan.notes, line))
        changed = replace(outcome, plan=plan, proofs=tuple(p.to_json() for p in proofs.proofs))
        if proofs.refused:
            summary = proofs.refusal(document)
            plan = replace(plan, decision="notify", reason=PROOF_REFUSED, summary=summary, policy_after=None)
            changed = replace(
                changed,
                decision="notify",
                reason=PROOF_REFUSED,
                summary=summary,
                plan=plan,
                entries=(),
                policy_after=None,
            )
        result.append(stamp(changed))
    return result
