"""The SQS queue adapter: an explicit Deny appended to the queue policy (GetQueueAttributes / SetQueueAttributes
`Policy`); a revert that leaves no statement the tool did not write removes the policy again (an empty `Policy`).

SQS's policy limits are tight: 8,192 bytes, 20 statements, 7 actions per statement (SQS "policy quotas"). A Deny
that would pass one of them is never written: the finding is reported with what it would take (the usual way out is
removing the granting statement by hand, as the notice says). Changes take up to 60 s to show in reads
(`propagation_seconds`). A queue's AddPermission grants are statements of the same policy: the Deny overrides them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from .. import planner
from ..clients import error_code
from ..findings import SQS_QUEUE, ResourceRef
from ..planner import Quota
from ..policy import Policy, compact, statements
from . import Change, Rejection
from .resource_policy import PolicyAdapterBase, PolicyLimits, PolicyState, policy_from_text, rejection

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

RESOURCE_TYPE = SQS_QUEUE
QUEUE_POLICY_MAX_BYTES = 8192
LIMITS = PolicyLimits(
    Quota(QUEUE_POLICY_MAX_BYTES, planner.POLICY_QUOTA, "queue policy", "byte"),
    max_statements=20,
    max_actions_per_statement=7,
)
_IAM_ACTIONS = {
    "GetQueueUrl": "sqs:GetQueueUrl",
    "GetQueueAttributes": "sqs:GetQueueAttributes",
    "ListQueueTags": "sqs:ListQueueTags",
    "SetQueueAttributes": "sqs:SetQueueAttributes",
}
_GONE = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NonExistentQueue"})
# SQS's permanent refusals of SetQueueAttributes: reported, never retried.
_REJECTIONS: dict[str, tuple[planner.Decision, str]] = {
    "InvalidAttributeValue": ("notify", planner.POLICY_REJECTED),
    "InvalidParameterValue": ("notify", planner.POLICY_REJECTED),
    **dict.fromkeys(_GONE, ("skip", planner.RESOURCE_NOT_FOUND)),
}


def queue_url(ref: ResourceRef) -> str:
    """The queue URL offline (`plan`): SQS's standard form for the Region (online the URL GetQueueUrl returns)."""
    return f"https://sqs.{ref.region}.amazonaws.com/{ref.account_id}/{ref.name}"


def changes_for(url: str, document: Policy) -> list[Change]:
    """Pure: the one write that puts `document` in place; no statement left removes the policy."""
    text = compact(document) if statements(document) else ""
    return [{"api": "sqs:SetQueueAttributes", "params": {"QueueUrl": url, "Attributes": {"Policy": text}}}]


@dataclass(frozen=True)
class SqsQueueAdapter(PolicyAdapterBase):
    """An SQS queue's policy (its Policy attribute)."""

    sqs: SQSClient
    resource_type: str = RESOURCE_TYPE
    limits: PolicyLimits = LIMITS
    iam_actions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(_IAM_ACTIONS))
    propagation_seconds: float = 60.0  # SQS: "changes take up to 60 seconds"

    def read(self, ref: ResourceRef) -> PolicyState | None:
        try:
            url = self.sqs.get_queue_url(QueueName=ref.name, QueueOwnerAWSAccountId=ref.account_id)["QueueUrl"]
            attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get("Attributes", {})
            tags = self.sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
        except Exception as err:
            if error_code(err) in _GONE:
                return None
            raise
        policy, had = policy_from_text(attributes.get("Policy"), "queue policy")
        return PolicyState(ref.arn, ref.name, {str(k): str(v) for k, v in tags.items()}, policy, had, address=url)

    def offline(self, ref: ResourceRef, policy: Policy, tags: Mapping[str, str], attributes: object) -> PolicyState:
        state = super().offline(ref, policy, tags, attributes)
        return PolicyState(state.arn, state.name, state.tags, policy, state.had_policy, address=queue_url(ref))

    def changes(self, ref: ResourceRef, document: Policy, planned_on: PolicyState) -> list[Change]:
        return changes_for(planned_on.address or queue_url(ref), document)

    def write(self, ref: ResourceRef, document: Policy, planned_on: PolicyState) -> Rejection | None:
        (change,) = self.changes(ref, document, planned_on)
        try:
            self.sqs.set_queue_attributes(**change["params"])
        except Exception as err:
            refused = rejection("SQS", error_code(err), _REJECTIONS)
            if refused is None:
                raise
            return refused
        return None
