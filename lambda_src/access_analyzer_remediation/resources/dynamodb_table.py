"""The DynamoDB table and stream adapters: an explicit Deny appended to the resource policy (GetResourcePolicy /
PutResourcePolicy with ExpectedRevisionId, ConfirmRemoveSelfResourceAccess never true); a revert that leaves no
statement the tool did not write deletes the policy (DeleteResourcePolicy, also conditional).

The write is a real conditional write: it names the RevisionId of the read the document was planned on (or
NO_POLICY when there was none), so DynamoDB refuses it when anyone changed the policy since. A lost race raises
`Conflict` and the finding is retried on a fresh read. The lease is therefore not what keeps a concurrent writer's
change: DynamoDB does. It still orders the tool's own workers (one plan, one intent, one notice per change) and
carries the ledger. Reads after a write are eventually consistent (GetResourcePolicy may return the old policy or
none for a while): the engine's reads under a lease wait for the ledger's entries to show. Limit: 20 KB, whitespace
included (the tool writes compact JSON). Table statements name the table and its indexes; a stream's its stream.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from .. import planner
from ..clients import error_code
from ..findings import DYNAMODB_STREAM, DYNAMODB_TABLE, ResourceRef
from ..planner import Quota
from ..policy import Policy, compact, statements
from . import Change, Conflict, Rejection
from .resource_policy import PolicyAdapterBase, PolicyLimits, PolicyState, policy_from_text, rejection

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

RESOURCE_POLICY_MAX_BYTES = 20 * 1024
LIMITS = PolicyLimits(Quota(RESOURCE_POLICY_MAX_BYTES, planner.POLICY_QUOTA, "resource policy", "byte"))
NO_POLICY = "NO_POLICY"  # ExpectedRevisionId for "only if the resource has no policy yet"
_IAM_ACTIONS = {
    "GetResourcePolicy": "dynamodb:GetResourcePolicy",
    "ListTagsOfResource": "dynamodb:ListTagsOfResource",
    "PutResourcePolicy": "dynamodb:PutResourcePolicy",
    "DeleteResourcePolicy": "dynamodb:DeleteResourcePolicy",
}
# DynamoDB's permanent refusals: reported, never retried. PolicyNotFoundException on a conditional write is not one:
# it is also what a revision mismatch returns (a Conflict, retried).
_REJECTIONS: dict[str, tuple[planner.Decision, str]] = {
    "ValidationException": ("notify", planner.POLICY_REJECTED),
    "ResourceNotFoundException": ("skip", planner.RESOURCE_NOT_FOUND),
}


def changes_for(ref: ResourceRef, document: Policy, planned_on: PolicyState) -> list[Change]:
    """Pure: the one conditional write that puts `document` in place on top of `planned_on`."""
    expected = planned_on.revision if planned_on.had_policy and planned_on.revision else NO_POLICY
    if not statements(document):
        return [
            {"api": "dynamodb:DeleteResourcePolicy", "params": {"ResourceArn": ref.arn, "ExpectedRevisionId": expected}}
        ]
    params = {
        "ResourceArn": ref.arn,
        "Policy": compact(document),
        "ExpectedRevisionId": expected,
        "ConfirmRemoveSelfResourceAccess": False,
    }
    return [{"api": "dynamodb:PutResourcePolicy", "params": params}]


@dataclass(frozen=True)
class DynamoDbTableAdapter(PolicyAdapterBase):
    """A DynamoDB table's resource policy: a Deny appended (PutResourcePolicy with ExpectedRevisionId)."""

    dynamodb: DynamoDBClient
    resource_type: str = DYNAMODB_TABLE
    limits: PolicyLimits = LIMITS
    iam_actions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(_IAM_ACTIONS))
    propagation_seconds: float = 0.0  # no documented bound: the engine's consistency window covers it

    def resources(self, ref: ResourceRef) -> tuple[str, ...]:
        # A table's statements name the table and its indexes (a Query on an index acts on the index's ARN).
        return (ref.arn, f"{ref.arn}/index/*") if self.resource_type == DYNAMODB_TABLE else (ref.arn,)

    def read(self, ref: ResourceRef) -> PolicyState | None:
        try:
            try:
                response = self.dynamodb.get_resource_policy(ResourceArn=ref.arn)
                text: str | None = response.get("Policy")
                revision = str(response.get("RevisionId", ""))
            except Exception as err:
                if error_code(err) != "PolicyNotFoundException":
                    raise
                text, revision = None, ""
            tags = self._tags(ref)
        except Exception as err:
            if error_code(err) == "ResourceNotFoundException":
                return None
            raise
        policy, had = policy_from_text(text, "resource policy")
        return PolicyState(ref.arn, ref.name, tags, policy, had, revision)

    def _tags(self, ref: ResourceRef) -> dict[str, str]:
        if self.resource_type != DYNAMODB_TABLE:
            return {}  # streams carry no tags of their own; protected_resource_arns exempts one
        tags: dict[str, str] = {}
        token: str | None = None
        while True:
            page = (
                self.dynamodb.list_tags_of_resource(ResourceArn=ref.arn, NextToken=token)
                if token
                else self.dynamodb.list_tags_of_resource(ResourceArn=ref.arn)
            )
            tags.update({str(t["Key"]): str(t.get("Value", "")) for t in page.get("Tags", [])})
            token = page.get("NextToken")
            if not token:
                return tags

    def changes(self, ref: ResourceRef, document: Policy, planned_on: PolicyState) -> list[Change]:
        return changes_for(ref, document, planned_on)

    def write(self, ref: ResourceRef, document: Policy, planned_on: PolicyState) -> Rejection | None:
        (change,) = self.changes(ref, document, planned_on)
        try:
            if change["api"] == "dynamodb:DeleteResourcePolicy":
                self.dynamodb.delete_resource_policy(**change["params"])
            else:
                self.dynamodb.put_resource_policy(**change["params"])
        except Exception as err:
            code = error_code(err)
            if code in ("PolicyNotFoundException", "ConditionalCheckFailedException"):
                raise Conflict(
                    f"the resource policy of {ref.arn} changed since revision"
                    f" {change['params']['ExpectedRevisionId']} was read: nothing written, retried on a fresh read"
                ) from err
            refused = rejection("DynamoDB", code, _REJECTIONS)
            if refused is None:
                raise
            return refused
        return None


@dataclass(frozen=True)
class DynamoDbStreamAdapter(DynamoDbTableAdapter):
    """A DynamoDB stream's resource policy: a table's, on the stream ARN."""

    resource_type: str = DYNAMODB_STREAM
