"""The SNS topic adapter: an explicit Deny appended to the topic policy (GetTopicAttributes / SetTopicAttributes
`Policy`).

A topic always has a policy (SNS gives each a default one, limited to the owner by AWS:SourceOwner); the tool's
Deny goes beside it and a revert removes exactly the tool's entries, so a topic is never left without one. Limits:
30 KB, 100 statements, unique Sids (the tool's Sids are unique by construction). AddPermission grants are
statements of the same policy: the Deny overrides them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from .. import planner
from ..clients import error_code
from ..findings import SNS_TOPIC, ResourceRef
from ..planner import Quota
from ..policy import Policy, compact
from . import Change, Rejection
from .resource_policy import PolicyAdapterBase, PolicyLimits, PolicyState, policy_from_text, rejection

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

RESOURCE_TYPE = SNS_TOPIC
TOPIC_POLICY_MAX_BYTES = 30 * 1024
LIMITS = PolicyLimits(Quota(TOPIC_POLICY_MAX_BYTES, planner.POLICY_QUOTA, "topic policy", "byte"), max_statements=100)
_IAM_ACTIONS = {
    "GetTopicAttributes": "sns:GetTopicAttributes",
    "ListTagsForResource": "sns:ListTagsForResource",
    "SetTopicAttributes": "sns:SetTopicAttributes",
}
# SNS's permanent refusals of SetTopicAttributes: reported, never retried.
_REJECTIONS: dict[str, tuple[planner.Decision, str]] = {
    "InvalidParameter": ("notify", planner.POLICY_REJECTED),
    "InvalidParameterValue": ("notify", planner.POLICY_REJECTED),
    "NotFound": ("skip", planner.RESOURCE_NOT_FOUND),
}


def changes_for(ref: ResourceRef, document: Policy) -> list[Change]:
    """Pure: the one write that puts `document` in place as the topic policy."""
    params = {"TopicArn": ref.arn, "AttributeName": "Policy", "AttributeValue": compact(document)}
    return [{"api": "sns:SetTopicAttributes", "params": params}]


@dataclass(frozen=True)
class SnsTopicAdapter(PolicyAdapterBase):
    """An SNS topic's policy (its Policy attribute)."""

    sns: SNSClient
    resource_type: str = RESOURCE_TYPE
    limits: PolicyLimits = LIMITS
    iam_actions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(_IAM_ACTIONS))
    propagation_seconds: float = 0.0  # no documented delay: the engine's consistency window covers it

    def read(self, ref: ResourceRef) -> PolicyState | None:
        try:
            attributes = self.sns.get_topic_attributes(TopicArn=ref.arn)["Attributes"]
            tags = self.sns.list_tags_for_resource(ResourceArn=ref.arn).get("Tags", [])
        except Exception as err:
            if error_code(err) == "NotFound":
                return None
            raise
        policy, had = policy_from_text(attributes.get("Policy"), "topic policy")
        named = {str(tag["Key"]): str(tag.get("Value", "")) for tag in tags}
        return PolicyState(ref.arn, ref.name, named, policy, had)

    def changes(self, ref: ResourceRef, document: Policy, planned_on: PolicyState) -> list[Change]:
        return changes_for(ref, document)

    def write(self, ref: ResourceRef, document: Policy, planned_on: PolicyState) -> Rejection | None:
        (change,) = self.changes(ref, document, planned_on)
        try:
            self.sns.set_topic_attributes(**change["params"])
        except Exception as err:
            refused = rejection("SNS", error_code(err), _REJECTIONS)
            if refused is None:
                raise
            return refused
        return None
