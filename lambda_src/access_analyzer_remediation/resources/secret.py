"""The Secrets Manager secret adapter: an explicit Deny appended to the secret's resource policy (GetResourcePolicy /
PutResourcePolicy with BlockPublicPolicy, after ValidateResourcePolicy); a revert that leaves no statement the tool
did not write deletes the policy (DeleteResourcePolicy).

ValidateResourcePolicy checks the planned document first (syntax, broad access, and that the caller keeps access):
a failure the current document does not have as well means nothing is written and the finding is reported with
Secrets Manager's own words. BlockPublicPolicy makes Secrets Manager refuse a policy that would still grant public
access. In a secret's policy `Resource: "*"` is the secret itself. Limit: 20,480 characters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from .. import planner
from ..clients import error_code
from ..findings import SECRETS_MANAGER_SECRET, ResourceRef
from ..planner import Quota
from ..policy import Policy, compact, statements
from . import Change, Rejection
from .resource_policy import PolicyAdapterBase, PolicyLimits, PolicyState, policy_from_text, rejection

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

RESOURCE_TYPE = SECRETS_MANAGER_SECRET
SECRET_POLICY_MAX_CHARS = 20480
LIMITS = PolicyLimits(Quota(SECRET_POLICY_MAX_CHARS, planner.POLICY_QUOTA, "secret's resource policy"))
_IAM_ACTIONS = {
    "GetResourcePolicy": "secretsmanager:GetResourcePolicy",
    "DescribeSecret": "secretsmanager:DescribeSecret",
    "ValidateResourcePolicy": "secretsmanager:ValidateResourcePolicy",
    "PutResourcePolicy": "secretsmanager:PutResourcePolicy",
    "DeleteResourcePolicy": "secretsmanager:DeleteResourcePolicy",
}
# Secrets Manager's permanent refusals of PutResourcePolicy / DeleteResourcePolicy: reported, never retried.
_REJECTIONS: dict[str, tuple[planner.Decision, str]] = {
    "MalformedPolicyDocumentException": ("notify", planner.POLICY_REJECTED),
    "PublicPolicyException": ("notify", planner.POLICY_REJECTED),
    "InvalidRequestException": ("notify", planner.POLICY_REJECTED),  # e.g. a secret scheduled for deletion
    "ResourceNotFoundException": ("skip", planner.RESOURCE_NOT_FOUND),
}


def changes_for(ref: ResourceRef, document: Policy) -> list[Change]:
    """Pure: the one write that puts `document` in place; no statement left deletes the policy."""
    if not statements(document):
        return [{"api": "secretsmanager:DeleteResourcePolicy", "params": {"SecretId": ref.arn}}]
    params = {"SecretId": ref.arn, "ResourcePolicy": compact(document), "BlockPublicPolicy": True}
    return [{"api": "secretsmanager:PutResourcePolicy", "params": params}]


@dataclass(frozen=True)
class SecretAdapter(PolicyAdapterBase):
    """A Secrets Manager secret's resource policy (GetResourcePolicy / PutResourcePolicy)."""

    secretsmanager: SecretsManagerClient
    resource_type: str = RESOURCE_TYPE
    limits: PolicyLimits = LIMITS
    iam_actions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(_IAM_ACTIONS))
    propagation_seconds: float = 0.0  # no documented delay: the engine's consistency window covers it

    def resources(self, ref: ResourceRef) -> tuple[str, ...]:
        return ("*",)  # in a secret's resource policy, "*" is the secret

    def read(self, ref: ResourceRef) -> PolicyState | None:
        try:
            text = self.secretsmanager.get_resource_policy(SecretId=ref.arn).get("ResourcePolicy")
            described = self.secretsmanager.describe_secret(SecretId=ref.arn)
        except Exception as err:
            if error_code(err) == "ResourceNotFoundException":
                return None
            raise
        policy, had = policy_from_text(text, "secret's resource policy")
        tags = {str(tag.get("Key")): str(tag.get("Value", "")) for tag in described.get("Tags", [])}
        return PolicyState(ref.arn, ref.name, tags, policy, had)

    def changes(self, ref: ResourceRef, document: Policy, planned_on: PolicyState) -> list[Change]:
        return changes_for(ref, document)

    def write(self, ref: ResourceRef, document: Policy, planned_on: PolicyState) -> Rejection | None:
        (change,) = self.changes(ref, document, planned_on)
        try:
            if change["api"] == "secretsmanager:DeleteResourcePolicy":
                self.secretsmanager.delete_resource_policy(**change["params"])
                return None
            failed = self._new_failures(ref, document, planned_on)
            if failed:
                return "notify", planner.POLICY_REJECTED, f"ValidateResourcePolicy: {failed}: nothing written"
            self.secretsmanager.put_resource_policy(**change["params"])
        except Exception as err:
            refused = rejection("Secrets Manager", error_code(err), _REJECTIONS)
            if refused is None:
                raise
            return refused
        return None

    def _new_failures(self, ref: ResourceRef, document: Policy, planned_on: PolicyState) -> str:
        """What ValidateResourcePolicy finds wrong with `document` that it does not find with the current policy
        (a check the policy failed before the Deny is not the Deny's doing: the Deny only takes access away)."""
        planned = self._failures(ref, document)
        if not planned or not planned_on.had_policy:
            return "; ".join(planned)
        before = set(self._failures(ref, planned_on.policy))
        return "; ".join(f for f in planned if f not in before)

    def _failures(self, ref: ResourceRef, document: Policy) -> list[str]:
        result = self.secretsmanager.validate_resource_policy(SecretId=ref.arn, ResourcePolicy=compact(document))
        if result.get("PolicyValidationPassed", False):
            return []
        errors = result.get("ValidationErrors", [])
        return [f"{e.get('CheckName', 'check')}: {e.get('ErrorMessage', '')}".strip() for e in errors] or ["failed"]
