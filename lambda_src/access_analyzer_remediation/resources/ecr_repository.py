"""The ECR repository adapter: an explicit Deny appended to the repository policy (GetRepositoryPolicy /
SetRepositoryPolicy, `force` never true: it would only skip ECR's check that the caller keeps access); a revert that
leaves no statement the tool did not write deletes the policy (DeleteRepositoryPolicy).

Repository policy statements name no Resource (the repository is implied; ECR refuses one), like a trust policy.
Limit: 10,240 characters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from .. import planner
from ..clients import error_code
from ..findings import ECR_REPOSITORY, ResourceRef
from ..planner import Quota
from ..policy import Policy, compact, statements
from . import Change, Rejection
from .resource_policy import PolicyAdapterBase, PolicyLimits, PolicyState, policy_from_text, rejection

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

RESOURCE_TYPE = ECR_REPOSITORY
REPOSITORY_POLICY_MAX_CHARS = 10240
LIMITS = PolicyLimits(Quota(REPOSITORY_POLICY_MAX_CHARS, planner.POLICY_QUOTA, "repository policy"))
_IAM_ACTIONS = {
    "GetRepositoryPolicy": "ecr:GetRepositoryPolicy",
    "ListTagsForResource": "ecr:ListTagsForResource",
    "SetRepositoryPolicy": "ecr:SetRepositoryPolicy",
    "DeleteRepositoryPolicy": "ecr:DeleteRepositoryPolicy",
}
# ECR's permanent refusals of SetRepositoryPolicy / DeleteRepositoryPolicy: reported, never retried.
_REJECTIONS: dict[str, tuple[planner.Decision, str]] = {
    "InvalidParameterException": ("notify", planner.POLICY_REJECTED),
    "RepositoryNotFoundException": ("skip", planner.RESOURCE_NOT_FOUND),
    "RepositoryPolicyNotFoundException": ("skip", planner.ALREADY_CONTAINED),  # a revert's delete: gone already
}


def changes_for(ref: ResourceRef, document: Policy) -> list[Change]:
    """Pure: the one write that puts `document` in place; no statement left deletes the policy."""
    owner = {"registryId": ref.account_id, "repositoryName": ref.name}
    if not statements(document):
        return [{"api": "ecr:DeleteRepositoryPolicy", "params": owner}]
    return [{"api": "ecr:SetRepositoryPolicy", "params": {**owner, "policyText": compact(document), "force": False}}]


@dataclass(frozen=True)
class EcrRepositoryAdapter(PolicyAdapterBase):
    """An ECR repository's policy (GetRepositoryPolicy / SetRepositoryPolicy)."""

    ecr: ECRClient
    resource_type: str = RESOURCE_TYPE
    limits: PolicyLimits = LIMITS
    iam_actions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(_IAM_ACTIONS))
    propagation_seconds: float = 0.0  # no documented delay: the engine's consistency window covers it

    def resources(self, ref: ResourceRef) -> tuple[str, ...]:
        return ()  # repository policy statements name no resource

    def read(self, ref: ResourceRef) -> PolicyState | None:
        owner = {"registryId": ref.account_id, "repositoryName": ref.name}
        try:
            try:
                text: str | None = self.ecr.get_repository_policy(**owner)["policyText"]
            except Exception as err:
                if error_code(err) != "RepositoryPolicyNotFoundException":
                    raise
                text = None
            tags = self.ecr.list_tags_for_resource(resourceArn=ref.arn).get("tags", [])
        except Exception as err:
            if error_code(err) == "RepositoryNotFoundException":
                return None
            raise
        policy, had = policy_from_text(text, "repository policy")
        named = {str(tag.get("Key")): str(tag.get("Value", "")) for tag in tags}
        return PolicyState(ref.arn, ref.name, named, policy, had)

    def changes(self, ref: ResourceRef, document: Policy, planned_on: PolicyState) -> list[Change]:
        return changes_for(ref, document)

    def write(self, ref: ResourceRef, document: Policy, planned_on: PolicyState) -> Rejection | None:
        (change,) = self.changes(ref, document, planned_on)
        try:
            if change["api"] == "ecr:DeleteRepositoryPolicy":
                self.ecr.delete_repository_policy(**change["params"])
            else:
                self.ecr.set_repository_policy(**change["params"])
        except Exception as err:
            refused = rejection("ECR", error_code(err), _REJECTIONS)
            if refused is None:
                raise
            return refused
        return None
