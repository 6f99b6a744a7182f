"""S3 general-purpose buckets (``AWS::S3::Bucket``, resource ``arn:aws:s3:::<bucket>``) for the stand-in.

`read_bucket` reads what the analysis needs from S3 (moto): GetBucketLocation (only buckets of the analyzer's Region
are analysed), GetBucketPolicy, GetBucketAcl and the bucket's GetPublicAccessBlock. `compute_bucket_access` applies
this small model:

- Scopes: the bucket ``arn:aws:s3:::b`` and its objects ``arn:aws:s3:::b/*`` (see `sandbox.analysis` for how Allow
  and Deny ``Resource`` elements meet them).
- Bucket policy: the shared resource-policy rules of `sandbox.analysis` with service ``s3``; source ``POLICY``.
- Bucket ACL, source ``BUCKET_ACL``: a grant to the ``AllUsers`` or ``AuthenticatedUsers`` group is public
  (principal ``{"AWS": "*"}``, isPublic); a grant to a canonical user other than the bucket owner is cross-account
  (principal ``{"CanonicalUser": "<id>"}``: the model cannot map a canonical id to an account, so every id but the
  owner's is outside the zone). Other groups (``LogDelivery``) and e-mail grantees are not modelled. Permissions
  map to actions as the S3 User Guide's ACL overview maps them: READ -> ``s3:ListBucket``,
  ``s3:ListBucketMultipartUploads``, ``s3:ListBucketVersions`` (on the bucket); WRITE -> ``s3:PutObject``,
  ``s3:DeleteObject`` (on the objects); READ_ACP -> ``s3:GetBucketAcl``; WRITE_ACP -> ``s3:PutBucketAcl``;
  FULL_CONTROL -> all of these. The bucket policy's Denies remove ACL-granted actions too (an explicit Deny wins
  however the access is granted).
- Block Public Access of the bucket: ``IgnorePublicAcls`` -> public ACL grants count for nothing;
  ``RestrictPublicBuckets`` with a policy whose access left after its Denies is public -> nothing the policy grants
  counts, cross-account statements of the same policy included (S3 then limits the bucket to AWS services and its own
  account). ``BlockPublicAcls`` / ``BlockPublicPolicy`` only refuse new grants: no effect on the analysis.
- One finding per principal: the actions of both sources (sorted), the policy's conditions, and ``sources`` in the
  order POLICY, BUCKET_ACL. The owner is the stand-in's account (a bucket ARN names none).

Not modelled: account-level Block Public Access (s3control), access points and Multi-Region Access Points (sources
``S3_ACCESS_POINT*``), object ACLs, directory buckets, ``CanonicalUser`` / ``Service`` principals in the policy, and
error findings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from sandbox.analysis import (
    Grants,
    PrincipalKey,
    ResourceAccess,
    allow_grants,
    denies_of,
    policy_statements,
    remaining_access,
)
from sandbox.analysis.iam_role import TrustZone

RESOURCE_TYPE = "AWS::S3::Bucket"
POLICY = "POLICY"
BUCKET_ACL = "BUCKET_ACL"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
BUCKET_ARN_RE = re.compile(r"^arn:[\w-]+:s3:::(?P<name>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])$")

_READ = (("s3:ListBucket", False), ("s3:ListBucketMultipartUploads", False), ("s3:ListBucketVersions", False))
_WRITE = (("s3:PutObject", True), ("s3:DeleteObject", True))
# ACL permission -> (action, granted on the objects rather than the bucket)
ACL_ACTIONS: dict[str, tuple[tuple[str, bool], ...]] = {
    "READ": _READ,
    "WRITE": _WRITE,
    "READ_ACP": (("s3:GetBucketAcl", False),),
    "WRITE_ACP": (("s3:PutBucketAcl", False),),
    "FULL_CONTROL": (*_READ, *_WRITE, ("s3:GetBucketAcl", False), ("s3:PutBucketAcl", False)),
}
_GONE = frozenset({"NoSuchBucket"})


@dataclass(frozen=True)
class BucketState:
    """One bucket as S3 returns it: what the analysis reads."""

    name: str
    region: str
    policy: Mapping[str, Any] | None
    owner_id: str | None  # the owner's canonical user id (GetBucketAcl)
    acl_grants: tuple[Mapping[str, Any], ...]
    public_access_block: Mapping[str, bool]

    @property
    def arn(self) -> str:
        """``arn:aws:s3:::<name>``: the finding's resource."""
        return f"arn:aws:s3:::{self.name}"

    @property
    def scopes(self) -> tuple[str, str]:
        """The bucket and its objects."""
        return (self.arn, f"{self.arn}/*")


def bucket_name(resource_arn: str) -> str | None:
    """The bucket name of a bucket ARN; None for anything else (objects, access points, other services)."""
    match = BUCKET_ARN_RE.match(resource_arn)
    return match["name"] if match else None


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def read_bucket(s3: Any, name: str) -> BucketState | None:
    """The bucket's policy, ACL, Block Public Access and Region; None when the bucket does not exist."""
    try:
        location = s3.get_bucket_location(Bucket=name).get("LocationConstraint")
        acl = s3.get_bucket_acl(Bucket=name)
    except ClientError as error:
        if _code(error) in _GONE:
            return None
        raise
    region = "us-east-1" if not location else "eu-west-1" if location == "EU" else str(location)
    policy: Mapping[str, Any] | None = None
    try:
        document = json.loads(s3.get_bucket_policy(Bucket=name)["Policy"])
        policy = document if isinstance(document, Mapping) else None
    except ClientError as error:
        if _code(error) in _GONE:
            return None
        if _code(error) != "NoSuchBucketPolicy":
            raise
    block: Mapping[str, bool] = {}
    try:
        block = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
    except ClientError as error:
        if _code(error) in _GONE:
            return None
        if _code(error) != "NoSuchPublicAccessBlockConfiguration":
            raise
    owner = acl.get("Owner", {}).get("ID")
    return BucketState(name, region, policy, owner, tuple(acl.get("Grants", [])), dict(block))


def acl_grants(state: BucketState, *, ignore_public_acls: bool) -> dict[PrincipalKey, Grants]:
    """What the bucket ACL grants to principals outside the zone, before the policy's Denies."""
    bucket, objects = state.scopes
    granted: dict[PrincipalKey, Grants] = {}
    for grant in state.acl_grants:
        grantee = grant.get("Grantee") or {}
        key: PrincipalKey
        if grantee.get("Type") == "Group" and grantee.get("URI") in (ALL_USERS, AUTHENTICATED_USERS):
            if ignore_public_acls:
                continue
            key = ("AWS", "*")
        elif grantee.get("Type") == "CanonicalUser" and grantee.get("ID") and grantee.get("ID") != state.owner_id:
            key = ("CanonicalUser", str(grantee["ID"]))
        else:
            continue
        entry = granted.setdefault(key, Grants())
        for action, on_objects in ACL_ACTIONS.get(str(grant.get("Permission")), ()):
            entry.add((action,), (objects if on_objects else bucket,))
    return {key: entry for key, entry in granted.items() if entry.actions}


def compute_bucket_access(state: BucketState, zone: TrustZone) -> dict[PrincipalKey, ResourceAccess]:
    """External access to the bucket after its Denies and Block Public Access: {(kind, value): ResourceAccess}."""
    statements = policy_statements(state.policy)
    denies = denies_of(statements)
    from_policy = remaining_access(allow_grants(statements, zone, "s3", state.scopes), denies, zone)
    if state.public_access_block.get("RestrictPublicBuckets") and any(v == "*" for _, v in from_policy):
        from_policy = {}
    ignore_acls = bool(state.public_access_block.get("IgnorePublicAcls"))
    from_acl = remaining_access(acl_grants(state, ignore_public_acls=ignore_acls), denies, zone)
    result: dict[PrincipalKey, ResourceAccess] = {}
    for key in sorted(set(from_policy) | set(from_acl)):
        actions: set[str] = set()
        condition: dict[str, str] = {}
        sources: list[str] = []
        for source, found in ((POLICY, from_policy), (BUCKET_ACL, from_acl)):
            if key in found:
                actions.update(found[key][0])
                for name, value in found[key][1].items():
                    condition.setdefault(name, value)
                sources.append(source)
        kind, value = key
        result[key] = ResourceAccess(kind, value, tuple(sorted(actions)), condition, value == "*", tuple(sources))
    return result
