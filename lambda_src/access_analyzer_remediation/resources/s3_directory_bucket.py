"""The S3 directory bucket adapter (S3 Express One Zone): an explicit Deny of `s3express:CreateSession` appended
to the bucket policy (GetBucketPolicy / PutBucketPolicy on the Zonal endpoint; botocore routes a `--x-s3` bucket
name there); a revert that leaves no statement the tool did not write deletes the policy.

Every data request to a directory bucket goes through a session that `s3express:CreateSession` creates, and that
is the only action a directory bucket policy can name: denying it to the finding's principal denies everything the
policy grants them (a session they already hold lasts at most 5 minutes). Directory buckets have no Block Public
Access of their own and no ownership check on these calls; their tags are not read (`protected_resource_arns`
exempts one). Limit: 20 KB.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING

from .. import planner
from ..clients import error_code
from ..findings import S3_DIRECTORY_BUCKET, Finding, ResourceRef
from ..planner import Plan, Quota
from ..policy import Policy, compact, statements
from ..settings import Settings
from ..state import Intended
from . import Change, Rejection
from .resource_policy import PolicyAdapterBase, PolicyLimits, PolicyState, plan_policy, policy_from_text, rejection

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

RESOURCE_TYPE = S3_DIRECTORY_BUCKET
BUCKET_POLICY_MAX_BYTES = 20 * 1024
LIMITS = PolicyLimits(Quota(BUCKET_POLICY_MAX_BYTES, planner.POLICY_QUOTA, "bucket policy", "byte"))
SESSION_ACTION = "s3express:CreateSession"
_IAM_ACTIONS = {
    "GetBucketPolicy": "s3express:GetBucketPolicy",
    "PutBucketPolicy": "s3express:PutBucketPolicy",
    "DeleteBucketPolicy": "s3express:DeleteBucketPolicy",
}
_REJECTIONS: dict[str, tuple[planner.Decision, str]] = {
    "MalformedPolicy": ("notify", planner.POLICY_REJECTED),
    "InvalidArgument": ("notify", planner.POLICY_REJECTED),
    "NoSuchBucket": ("skip", planner.RESOURCE_NOT_FOUND),
}


def changes_for(ref: ResourceRef, document: Policy) -> list[Change]:
    """Pure: the one write that puts `document` in place; no statement left deletes the policy."""
    if not statements(document):
        return [{"api": "s3express:DeleteBucketPolicy", "params": {"Bucket": ref.name}}]
    return [{"api": "s3express:PutBucketPolicy", "params": {"Bucket": ref.name, "Policy": compact(document)}}]


@dataclass(frozen=True)
class S3DirectoryBucketAdapter(PolicyAdapterBase):
    """An S3 directory bucket's policy: a Deny of s3express:CreateSession appended (the Zonal endpoint)."""

    s3express: S3Client  # an S3 client: directory bucket names route it to the Zonal endpoint
    resource_type: str = RESOURCE_TYPE
    limits: PolicyLimits = LIMITS
    iam_actions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(_IAM_ACTIONS))
    propagation_seconds: float = 0.0  # no documented delay: the engine's consistency window covers it

    def plan(
        self, finding: Finding, snapshot: PolicyState, settings: Settings, intended: Sequence[Intended], now: float
    ) -> Plan:
        # Whatever the finding lists, the session is what grants it: the Deny names the one action there is.
        session = replace(finding, actions=(SESSION_ACTION,))
        resources = self.resources(finding.resource)
        return plan_policy(session, snapshot, settings, self.limits, resources=resources, intended=intended, now=now)

    def read(self, ref: ResourceRef) -> PolicyState | None:
        try:
            text: str | None = self.s3express.get_bucket_policy(Bucket=ref.name)["Policy"]
        except Exception as err:
            code = error_code(err)
            if code == "NoSuchBucket":
                return None
            if code != "NoSuchBucketPolicy":
                raise
            text = None
        policy, had = policy_from_text(text, "bucket policy")
        return PolicyState(ref.arn, ref.name, {}, policy, had)

    def changes(self, ref: ResourceRef, document: Policy, planned_on: PolicyState) -> list[Change]:
        return changes_for(ref, document)

    def write(self, ref: ResourceRef, document: Policy, planned_on: PolicyState) -> Rejection | None:
        (change,) = self.changes(ref, document, planned_on)
        try:
            if change["api"] == "s3express:DeleteBucketPolicy":
                self.s3express.delete_bucket_policy(**change["params"])
            else:
                self.s3express.put_bucket_policy(**change["params"])
        except Exception as err:
            refused = rejection("S3", error_code(err), _REJECTIONS)
            if refused is None:
                raise
            return refused
        return None
