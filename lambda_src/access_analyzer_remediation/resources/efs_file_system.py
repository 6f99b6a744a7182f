"""The EFS file system adapter: an explicit Deny appended to the file system policy (DescribeFileSystemPolicy /
PutFileSystemPolicy, BypassPolicyLockoutSafetyCheck never true: EFS's check that the caller can still change the
policy stays on); a revert that leaves no statement the tool did not write deletes the policy
(DeleteFileSystemPolicy).

Access Analyzer also reports a file system reachable through mount targets from another account's or a public
subnet; no policy statement grants that, so such a finding's Deny names the principal the finding names and the
mount targets are left as they are. Limit: 20,000 characters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from .. import planner
from ..clients import error_code
from ..findings import EFS_FILE_SYSTEM, ResourceRef
from ..planner import Quota
from ..policy import Policy, compact, statements
from . import Change, Rejection
from .resource_policy import PolicyAdapterBase, PolicyLimits, PolicyState, policy_from_text, rejection

if TYPE_CHECKING:
    from mypy_boto3_efs import EFSClient

RESOURCE_TYPE = EFS_FILE_SYSTEM
FILE_SYSTEM_POLICY_MAX_CHARS = 20000
LIMITS = PolicyLimits(Quota(FILE_SYSTEM_POLICY_MAX_CHARS, planner.POLICY_QUOTA, "file system policy"))
_IAM_ACTIONS = {
    "DescribeFileSystemPolicy": "elasticfilesystem:DescribeFileSystemPolicy",
    "ListTagsForResource": "elasticfilesystem:ListTagsForResource",
    "PutFileSystemPolicy": "elasticfilesystem:PutFileSystemPolicy",
    "DeleteFileSystemPolicy": "elasticfilesystem:DeleteFileSystemPolicy",
}
# EFS's permanent refusals of PutFileSystemPolicy / DeleteFileSystemPolicy: reported, never retried.
_REJECTIONS: dict[str, tuple[planner.Decision, str]] = {
    "InvalidPolicyException": ("notify", planner.POLICY_REJECTED),
    "IncorrectFileSystemLifeCycleState": ("notify", planner.POLICY_REJECTED),
    "FileSystemNotFound": ("skip", planner.RESOURCE_NOT_FOUND),
}


def file_system_id(ref: ResourceRef) -> str:
    return ref.name  # the ARN's file-system/<id>: ARN_PATTERNS names the id


def changes_for(ref: ResourceRef, document: Policy) -> list[Change]:
    """Pure: the one write that puts `document` in place; no statement left deletes the policy."""
    if not statements(document):
        return [{"api": "elasticfilesystem:DeleteFileSystemPolicy", "params": {"FileSystemId": file_system_id(ref)}}]
    params = {"FileSystemId": file_system_id(ref), "Policy": compact(document), "BypassPolicyLockoutSafetyCheck": False}
    return [{"api": "elasticfilesystem:PutFileSystemPolicy", "params": params}]


@dataclass(frozen=True)
class EfsFileSystemAdapter(PolicyAdapterBase):
    """An EFS file system's policy (DescribeFileSystemPolicy / PutFileSystemPolicy)."""

    efs: EFSClient
    resource_type: str = RESOURCE_TYPE
    limits: PolicyLimits = LIMITS
    iam_actions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(_IAM_ACTIONS))
    propagation_seconds: float = 0.0  # no documented delay: the engine's consistency window covers it

    def read(self, ref: ResourceRef) -> PolicyState | None:
        try:
            try:
                text: str | None = self.efs.describe_file_system_policy(FileSystemId=file_system_id(ref))["Policy"]
            except Exception as err:
                if error_code(err) != "PolicyNotFound":
                    raise
                text = None
            tags = self.efs.list_tags_for_resource(ResourceId=file_system_id(ref)).get("Tags", [])
        except Exception as err:
            if error_code(err) == "FileSystemNotFound":
                return None
            raise
        policy, had = policy_from_text(text, "file system policy")
        named = {str(tag.get("Key")): str(tag.get("Value", "")) for tag in tags}
        return PolicyState(ref.arn, ref.name, named, policy, had)

    def changes(self, ref: ResourceRef, document: Policy, planned_on: PolicyState) -> list[Change]:
        return changes_for(ref, document)

    def write(self, ref: ResourceRef, document: Policy, planned_on: PolicyState) -> Rejection | None:
        (change,) = self.changes(ref, document, planned_on)
        try:
            if change["api"] == "elasticfilesystem:DeleteFileSystemPolicy":
                self.efs.delete_file_system_policy(**change["params"])
            else:
                self.efs.put_file_system_policy(**change["params"])
        except Exception as err:
            refused = rejection("EFS", error_code(err), _REJECTIONS)
            if refused is None:
                raise
            return refused
        return None
