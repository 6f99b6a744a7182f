"""The S3 bucket adapter: an explicit Deny appended to the bucket policy (GetBucketPolicy / PutBucketPolicy with
ExpectedBucketOwner, never ConfirmRemoveSelfBucketAccess); a bucket without a policy gets one holding only the Deny,
and a revert that leaves nothing the tool did not write deletes it again.

An explicit Deny in the bucket policy overrides every Allow, whatever grants it (the policy, the bucket ACL, an
access point's policy), so one Deny contains a finding from any of its `sources`; the notice names the grant that
stays in place (an ACL grant, an access point) so that it can be removed for good. The public Deny spares AWS
services acting for the account (`aws:PrincipalIsAWSService`): CloudFront origin access control, S3 server access
logging and replication keep working.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING

from .. import planner
from ..clients import error_code
from ..findings import S3_BUCKET, Finding, ResourceRef
from ..planner import Plan, Quota
from ..policy import POLICY_VERSION, Policy, compact, statements
from ..settings import Settings
from ..state import Intended
from . import Change, Rejection, guard_resource

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

RESOURCE_TYPE = S3_BUCKET
BUCKET_POLICY_MAX_BYTES = 20 * 1024  # S3 User Guide: a bucket policy is at most 20 KB
_IAM_ACTIONS = {
    "GetBucketPolicy": "s3:GetBucketPolicy",
    "GetBucketTagging": "s3:GetBucketTagging",
    "PutBucketPolicy": "s3:PutBucketPolicy",
    "DeleteBucketPolicy": "s3:DeleteBucketPolicy",
}
# S3's permanent refusals of PutBucketPolicy / DeleteBucketPolicy: reported, never retried.
_REJECTIONS: dict[str, tuple[planner.Decision, str]] = {
    "MalformedPolicy": ("notify", planner.POLICY_REJECTED),
    "InvalidArgument": ("notify", planner.POLICY_REJECTED),
    "PolicyTooLarge": ("notify", planner.POLICY_QUOTA),
    "NoSuchBucket": ("skip", planner.RESOURCE_NOT_FOUND),
}
_SOURCE_NOTES = {
    "BUCKET_ACL": "the bucket ACL grants this access too: the Deny overrides it; to remove the grant for good, drop"
    " it from the ACL (aws s3api get-bucket-acl / put-bucket-acl --bucket {name}) or turn on IgnorePublicAcls",
    "S3_ACCESS_POINT": "access point {detail} grants this access too: the Deny overrides it for this bucket; review"
    " the access point's policy",
    "S3_ACCESS_POINT_ACCOUNT": "an access point of account {detail} reaches this bucket: the Deny overrides it;"
    " review the bucket policy statement that delegates access to that account's access points",
}


@dataclass(frozen=True)
class BucketState:
    """What GetBucketPolicy and GetBucketTagging returned. `policy` is empty (no statements) when the bucket has
    none."""

    arn: str
    name: str
    tags: Mapping[str, str]
    policy: Policy

    def with_policy(self, policy: Policy) -> BucketState:
        return replace(self, policy=policy)


def bucket_resources(ref: ResourceRef) -> tuple[str, ...]:
    """The bucket and its objects: bucket-level actions act on the first, object-level ones on the second."""
    return (ref.arn, f"{ref.arn}/*")


def policy_from_api(text: str | None) -> Policy:
    """GetBucketPolicy's `Policy` string (None: the bucket has no policy) as a document the planner can extend."""
    if text is None:
        return {"Version": POLICY_VERSION, "Statement": []}
    loaded = json.loads(text)
    if not isinstance(loaded, dict):
        raise ValueError("the bucket policy is not a JSON object")
    return loaded


def plan_bucket(
    finding: Finding, bucket: BucketState, settings: Settings, intended: Sequence[Intended] = (), now: float = 0.0
) -> Plan:
    """Pure: the Deny for `finding` appended to the bucket policy, with a note for every other source of the access."""
    ref = finding.resource
    plan = planner.plan_deny(
        finding,
        bucket.policy,
        bucket.tags,
        settings,
        intended=intended,
        now=now,
        quota=Quota(BUCKET_POLICY_MAX_BYTES, planner.POLICY_QUOTA, "bucket policy", "byte"),
        noun="bucket",
        resources=bucket_resources(ref),
    )
    notes = [
        _SOURCE_NOTES[source.type].format(name=bucket.name, detail=source.detail or "(unnamed)")
        if source.type in _SOURCE_NOTES
        else f"source {source.type}: not a source this tool knows; the Deny overrides any Allow for this bucket"
        for source in finding.sources
        if source.type != "POLICY"
    ]
    return replace(plan, notes=(*plan.notes, *notes)) if notes else plan


def changes_for(ref: ResourceRef, document: Policy) -> list[Change]:
    """Pure: the one write that puts `document` in place as the bucket policy; none left (a revert on a bucket that
    had no policy) deletes it, since S3 refuses a policy without statements."""
    owner = {"Bucket": ref.name, "ExpectedBucketOwner": ref.account_id}
    if not statements(document):
        return [{"api": "s3:DeleteBucketPolicy", "params": owner}]
    return [{"api": "s3:PutBucketPolicy", "params": {**owner, "Policy": compact(document)}}]


@dataclass(frozen=True)
class S3BucketAdapter:
    s3: S3Client
    resource_type: str = RESOURCE_TYPE
    document: str = "bucket policy"
    iam_actions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(_IAM_ACTIONS))

    def ref(self, arn: str, owner_account: str) -> ResourceRef:
        return ResourceRef.parse(RESOURCE_TYPE, arn, owner_account)

    def resources(self, ref: ResourceRef) -> tuple[str, ...]:
        return bucket_resources(ref)

    def guard(self, ref: ResourceRef, settings: Settings, analyzer_arn: str) -> Plan | None:
        return guard_resource(ref, settings, analyzer_arn, "bucket")

    def read(self, ref: ResourceRef) -> BucketState | None:
        try:
            text: str | None = self.s3.get_bucket_policy(Bucket=ref.name, ExpectedBucketOwner=ref.account_id)["Policy"]
        except Exception as err:
            code = error_code(err)
            if code == "NoSuchBucket":
                return None
            if code != "NoSuchBucketPolicy":
                raise
            text = None
        try:
            tag_set = self.s3.get_bucket_tagging(Bucket=ref.name, ExpectedBucketOwner=ref.account_id)["TagSet"]
        except Exception as err:
            if error_code(err) == "NoSuchBucket":
                return None
            if error_code(err) != "NoSuchTagSet":
                raise
            tag_set = []
        tags = {str(tag.get("Key")): str(tag.get("Value", "")) for tag in tag_set}
        return BucketState(ref.arn, ref.name, tags, policy_from_api(text))

    def plan(
        self, finding: Finding, snapshot: BucketState, settings: Settings, intended: Sequence[Intended], now: float
    ) -> Plan:
        return plan_bucket(finding, snapshot, settings, intended, now)

    def changes(self, ref: ResourceRef, document: Policy) -> list[Change]:
        return changes_for(ref, document)

    def write(self, ref: ResourceRef, document: Policy) -> Rejection | None:
        (change,) = self.changes(ref, document)
        try:
            if change["api"] == "s3:DeleteBucketPolicy":
                self.s3.delete_bucket_policy(**change["params"])
            else:
                self.s3.put_bucket_policy(**change["params"])
        except Exception as err:
            code = error_code(err)
            if code in _REJECTIONS:
                decision, reason = _REJECTIONS[code]
                return decision, reason, f"S3 refused the change ({code}): nothing written"
            raise
        return None
