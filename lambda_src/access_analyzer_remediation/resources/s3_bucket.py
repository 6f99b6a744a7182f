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
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .. import planner
from ..clients import error_code
from ..findings import NOUN_AND_DOCUMENT, S3_BUCKET, Finding, ResourceRef
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
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "PutBucketPolicy": "s3:PutBucketPolicy",
    "DeleteBucketPolicy": "s3:DeleteBucketPolicy",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "GetBucketAcl": "s3:GetBucketAcl",
    "PutBucketAcl": "s3:PutBucketAcl",
}
# Calls only a revert makes, with the operator's credentials (the Lambda role is not granted what they need
# beyond _IAM_ACTIONS).
_OPERATOR_ACTIONS = {"DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock"}
# Block Public Access: the two settings that act on grants already in place (the other two only refuse new ones).
BPA_SETTINGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
BPA_CONTAINING = ("RestrictPublicBuckets", "IgnorePublicAcls")
BPA_KEY = "s3:PublicAccessBlock"
ACL_KEY = "s3:AclGrantsOf:"  # + the canonical user id
# S3's permanent refusals of PutBucketPolicy / DeleteBucketPolicy: reported, never retried.
_REJECTIONS: dict[str, tuple[planner.Decision, str]] = {
    "MalformedPolicy": ("notify", planner.POLICY_REJECTED),
    "InvalidArgument": ("notify", planner.POLICY_REJECTED),
    "PolicyTooLarge": ("notify", planner.POLICY_QUOTA),
    "NoSuchBucket": ("skip", planner.RESOURCE_NOT_FOUND),
}
# S3's permanent refusals of PutPublicAccessBlock: the Deny contains the finding; the notice says what was not done.
_SIDE_REFUSALS = frozenset({"AccessDenied", "InvalidRequest", "NoSuchBucket", "AccessControlListNotSupported"})
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
    """What GetBucketPolicy, GetBucketTagging and GetPublicAccessBlock returned. `policy` is empty (no statements)
    when the bucket has none; `public_access_block` is None when the bucket has no Block Public Access
    configuration (every setting off)."""

    arn: str
    name: str
    tags: Mapping[str, str]
    policy: Policy
    public_access_block: Mapping[str, bool] | None = None
    acl: Mapping[str, Any] | None = None  # GetBucketAcl's Owner and Grants (None: not read)
    settings_read: bool = True  # false offline without --attributes: Block Public Access taken as none

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
    if set(finding.principal) == {"CanonicalUser"} and plan.reason == "unsupported_principal":
        return _without_acl_grants(plan, finding, bucket, settings)
    plan = replace(plan, notes=(*plan.notes, *notes)) if notes else plan
    held_back = plan.decision == "notify" and plan.reason == planner.NOTIFY_MODE
    if not finding.is_public or not (plan.decision == "remediate" or held_back) or plan.policy_after is None:
        return plan
    if not bucket.settings_read:
        plan = replace(plan, notes=(*plan.notes, "Block Public Access taken as off: none in --attributes"))
    return _with_public_access_block(plan, finding, bucket, settings)


def _with_public_access_block(plan: Plan, finding: Finding, bucket: BucketState, settings: Settings) -> Plan:
    """A public finding: also turn on the Block Public Access settings that act on existing grants, when that
    cannot cut off the zone of trust. RestrictPublicBuckets leaves a bucket with a public policy to its own
    account and AWS services, IgnorePublicAcls drops public ACL grants: a trusted account, organization or
    allowlisted principal of another account reaching the bucket through that public grant would lose it, so
    then only the Deny (which spares them) is written. S3 refuses a public policy while BlockPublicPolicy is on:
    then the settings are the containment and the policy is left as it is."""
    ref = finding.resource
    current = dict.fromkeys(BPA_SETTINGS, False) | dict(bucket.public_access_block or {})
    turn_on = [name for name in BPA_CONTAINING if not current[name]]
    if not turn_on:
        return plan
    refused_policy = current["BlockPublicPolicy"] and plan.decision == "remediate"
    beyond = _zone_beyond_owner(ref.account_id, settings)
    if beyond:
        note = (
            f"Block Public Access not changed: {' and '.join(turn_on)} would also cut off {', '.join(beyond)}"
            " (the zone of trust or the allowlist) where a public grant serves them"
        )
        if refused_policy:
            return Plan(
                "notify",
                planner.POLICY_REJECTED,
                "S3 refuses a public bucket policy while BlockPublicPolicy is on, so the Deny cannot be written, and"
                f" {note[:1].lower()}{note[1:]}: remove the public statement by hand",
                added=plan.added,
                notes=plan.notes,
            )
        return replace(plan, notes=(*plan.notes, note))
    wanted = current | dict.fromkeys(turn_on, True)
    owner = {"Bucket": ref.name, "ExpectedBucketOwner": ref.account_id}
    had = bucket.public_access_block
    kept = ", ".join(f"{n}={str(current[n]).lower()}" for n in BPA_SETTINGS if n not in turn_on)
    undo: Change = (
        {"api": "s3:PutPublicAccessBlock", "params": {**owner, "PublicAccessBlockConfiguration": dict(current)}}
        if had is not None
        else {"api": "s3:DeletePublicAccessBlock", "params": owner}
    )
    change = planner.SideChange(
        BPA_KEY,
        f"turned on Block Public Access {' and '.join(turn_on)} of bucket {ref.name} (off before; "
        + (f"{kept} kept)" if had is not None else "the bucket had no Block Public Access configuration)"),
        {"api": "s3:PutPublicAccessBlock", "params": {**owner, "PublicAccessBlockConfiguration": wanted}},
        undo,
        f"turns {' and '.join(turn_on)} back off (a setting changed since is kept)",
    )
    if plan.decision == "notify":
        return replace(plan, notes=(*plan.notes, f"would also have {change.summary}"))
    if refused_policy:
        return replace(
            plan,
            summary=f"{change.summary}: S3 refuses a public bucket policy while BlockPublicPolicy is on, so this is"
            " the containment (no Deny written)",
            added=(),
            policy_after=bucket.policy,
            side_changes=(change,),
        )
    return replace(plan, side_changes=(change,))


def _without_acl_grants(plan: Plan, finding: Finding, bucket: BucketState, settings: Settings) -> Plan:
    """A bucket ACL grant to another account's canonical user: no condition key names a canonical user, so no Deny
    can catch it; the tool removes exactly that grantee's grants from the ACL (PutBucketAcl, every other grant and
    the owner as they are) and keeps them for the revert. A canonical id names no account, so it could belong to a
    trusted account or an allowlisted one: only when the zone of trust is the bucket's own account (Access Analyzer
    found the grantee outside it); otherwise, and in notify mode, the notice gives the exact put-bucket-acl."""
    ref = finding.resource
    grantee = finding.principal["CanonicalUser"]
    grants = list((bucket.acl or {}).get("Grants", []))
    theirs = [
        g for g in grants if g.get("Grantee", {}).get("Type") == "CanonicalUser" and g["Grantee"].get("ID") == grantee
    ]
    if bucket.acl is None:
        return replace(plan, notes=(*plan.notes, "the bucket ACL was not read (offline: give get-bucket-acl output)"))
    if not theirs:  # removed already (by this tool, a redelivery, or by hand): the access is gone
        return Plan("skip", planner.ALREADY_CONTAINED, f"the bucket ACL grants canonical user {grantee} nothing")
    owner = {"Bucket": ref.name, "ExpectedBucketOwner": ref.account_id}
    kept = {"Owner": dict(bucket.acl.get("Owner", {})), "Grants": [g for g in grants if g not in theirs]}
    permissions = "/".join(str(g.get("Permission")) for g in theirs)
    command = (
        f"aws s3api put-bucket-acl --bucket {ref.name} --expected-bucket-owner {ref.account_id}"
        f" --access-control-policy {shlex.quote(compact(kept))}"
    )
    beyond = _zone_beyond_owner(ref.account_id, settings)
    if beyond or settings.mode == "notify":
        why = "notify mode" if not beyond else f"the grantee could be {', '.join(beyond)}"
        note = f"the bucket ACL grants canonical user {grantee} {permissions} ({why}): to remove it: {command}"
        return replace(plan, notes=(*plan.notes, note))
    change = planner.SideChange(
        f"{ACL_KEY}{grantee}",
        f"removed the bucket ACL grants of canonical user {grantee} ({permissions}) from bucket {ref.name}",
        {"api": "s3:PutBucketAcl", "params": {**owner, "AccessControlPolicy": kept}},
        {"api": "s3:PutBucketAcl", "params": {**owner, "AccessControlPolicy": {**kept, "Grants": grants}}},
        "adds exactly those grants back (the ACL's other grants as they are then)",
    )
    return Plan(
        "remediate",
        planner.ACL_ACCESS,
        f"{change.summary}: no Deny can name a canonical user",
        policy_after=bucket.policy,
        notes=tuple(n for n in plan.notes if "cannot be denied" not in n),
        side_changes=(change,),
    )


def _zone_beyond_owner(owner_account: str, settings: Settings) -> list[str]:
    """Who the zone of trust and the allowlist hold outside the bucket's own account."""
    beyond = [f"account {a}" for a in sorted(settings.trusted_account_ids - {owner_account})]
    beyond += [f"organization {settings.trusted_org_id}"] if settings.trusted_org_id else []
    return beyond + [
        f"allowlisted {p}" for p in settings.allowed_principals if p != owner_account and f"::{owner_account}:" not in p
    ]


def changes_for(ref: ResourceRef, document: Policy) -> list[Change]:
    """Pure: the one write that puts `document` in place as the bucket policy; none left (a revert on a bucket that
    had no policy) deletes it, since S3 refuses a policy without statements."""
    owner = {"Bucket": ref.name, "ExpectedBucketOwner": ref.account_id}
    if not statements(document):
        return [{"api": "s3:DeleteBucketPolicy", "params": owner}]
    return [{"api": "s3:PutBucketPolicy", "params": {**owner, "Policy": compact(document)}}]


def block_from_api(attributes: Any) -> dict[str, bool] | None:
    """The Block Public Access settings in `aws s3api get-public-access-block` output (alone, or merged with
    get-bucket-acl output: `jq -s add`); None when it holds none."""
    if attributes is None:
        return None
    if not isinstance(attributes, dict) or set(attributes) - {"PublicAccessBlockConfiguration", "Owner", "Grants"}:
        raise ValueError("not get-public-access-block and/or get-bucket-acl output")
    config = attributes.get("PublicAccessBlockConfiguration")
    if config is None:
        return None
    if not isinstance(config, dict) or not all(
        name in BPA_SETTINGS and isinstance(value, bool) for name, value in config.items()
    ):
        raise ValueError("not get-public-access-block output (PublicAccessBlockConfiguration)")
    return {name: bool(config.get(name, False)) for name in BPA_SETTINGS}


def acl_from_api(attributes: Any) -> dict[str, Any] | None:
    """The Owner and Grants of `aws s3api get-bucket-acl` output; None when it holds none."""
    if not isinstance(attributes, dict) or "Grants" not in attributes:
        return None
    grants, owner = attributes["Grants"], attributes.get("Owner", {})
    if (
        not isinstance(grants, list)
        or not isinstance(owner, dict)
        or not all(
            isinstance(g, dict) and isinstance(g.get("Grantee"), dict) and isinstance(g.get("Permission"), str)
            for g in grants
        )
    ):
        raise ValueError("not get-bucket-acl output (Grants of Grantee and Permission)")
    return {"Owner": owner, "Grants": grants}


def restored_acl(change: planner.SideChange, now: Mapping[str, Any]) -> dict[str, Any] | None:
    """Pure: the ACL that undoes `change` on top of `now` (GetBucketAcl's output): every grant it removed added back
    where it is missing, every other grant as it is now. None when none is missing (undone already)."""
    removed = [
        g
        for g in change.undo["params"]["AccessControlPolicy"]["Grants"]
        if g not in change.do["params"]["AccessControlPolicy"]["Grants"]
    ]
    grants = list(now.get("Grants", []))
    missing = [g for g in removed if g not in grants]
    if not missing:
        return None
    return {"Owner": dict(now.get("Owner", {})), "Grants": [*grants, *missing]}


def restored_block(
    change: planner.SideChange, now: Mapping[str, bool] | None
) -> tuple[dict[str, bool] | None, list[str]]:
    """Pure: the Block Public Access configuration that undoes `change` on top of `now` (None: none), and the
    settings turned back off. Only a setting the change turned on and that is still on goes back; every other
    setting stays as it is now. None when nothing is left on and the bucket had no configuration before."""
    wanted = change.do["params"]["PublicAccessBlockConfiguration"]
    had = change.undo["params"].get("PublicAccessBlockConfiguration")
    before = dict.fromkeys(BPA_SETTINGS, False) | dict(had or {})
    current = dict.fromkeys(BPA_SETTINGS, False) | dict(now or {})
    ours = [name for name in BPA_SETTINGS if wanted.get(name) and not before[name] and current[name]]
    result = current | dict.fromkeys(ours, False)
    if had is None and not any(result.values()):
        return None, ours
    return result, ours


@dataclass(frozen=True)
class S3BucketAdapter:
    """An S3 bucket's policy: a Deny appended (GetBucketPolicy / PutBucketPolicy with ExpectedBucketOwner)."""

    s3: S3Client
    resource_type: str = RESOURCE_TYPE
    document: str = NOUN_AND_DOCUMENT[RESOURCE_TYPE][1]
    iam_actions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(_IAM_ACTIONS))
    propagation_seconds: float = 0.0

    def ref(self, arn: str, owner_account: str) -> ResourceRef:
        return ResourceRef.parse(RESOURCE_TYPE, arn, owner_account)

    def gone(self) -> Plan:
        return Plan("skip", planner.RESOURCE_NOT_FOUND, f"the {NOUN_AND_DOCUMENT[RESOURCE_TYPE][0]} no longer exists")

    def resources(self, ref: ResourceRef) -> tuple[str, ...]:
        return bucket_resources(ref)

    def guard(self, ref: ResourceRef, settings: Settings, analyzer_arn: str) -> Plan | None:
        return guard_resource(ref, settings, analyzer_arn, NOUN_AND_DOCUMENT[RESOURCE_TYPE][0])

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
        try:
            block = self._public_access_block(ref)
            acl = self._acl(ref)
        except LookupError:
            return None
        return BucketState(ref.arn, ref.name, tags, policy_from_api(text), block, acl)

    def _acl(self, ref: ResourceRef) -> dict[str, Any]:
        """The bucket ACL's owner and grants (LookupError: no bucket)."""
        try:
            response = self.s3.get_bucket_acl(Bucket=ref.name, ExpectedBucketOwner=ref.account_id)
        except Exception as err:
            if error_code(err) == "NoSuchBucket":
                raise LookupError(ref.arn) from None
            raise
        return {"Owner": dict(response.get("Owner", {})), "Grants": [dict(g) for g in response.get("Grants", [])]}

    def _public_access_block(self, ref: ResourceRef) -> dict[str, bool] | None:
        """The bucket's Block Public Access settings, None when it has no configuration (LookupError: no bucket)."""
        try:
            response = self.s3.get_public_access_block(Bucket=ref.name, ExpectedBucketOwner=ref.account_id)
        except Exception as err:
            if error_code(err) == "NoSuchBucket":
                raise LookupError(ref.arn) from None
            if error_code(err) != "NoSuchPublicAccessBlockConfiguration":
                raise
            return None
        config = response["PublicAccessBlockConfiguration"]
        return {name: bool(config.get(name, False)) for name in BPA_SETTINGS}

    def plan(
        self, finding: Finding, snapshot: BucketState, settings: Settings, intended: Sequence[Intended], now: float
    ) -> Plan:
        return plan_bucket(finding, snapshot, settings, intended, now)

    def changes(self, ref: ResourceRef, document: Policy, planned_on: BucketState) -> list[Change]:
        return changes_for(ref, document)

    def write(self, ref: ResourceRef, document: Policy, planned_on: BucketState) -> Rejection | None:
        (change,) = self.changes(ref, document, planned_on)
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

    def offline(self, ref: ResourceRef, policy: Policy, tags: Mapping[str, str], attributes: Any) -> BucketState:
        block, acl = block_from_api(attributes), acl_from_api(attributes)
        read = attributes is not None and "PublicAccessBlockConfiguration" in attributes
        return BucketState(ref.arn, ref.name, dict(tags), policy, block, acl, settings_read=read)

    def apply(self, ref: ResourceRef, change: planner.SideChange) -> str | None:
        api = change.do["api"]
        try:
            if api == "s3:PutPublicAccessBlock":
                self.s3.put_public_access_block(**change.do["params"])
            elif api == "s3:PutBucketAcl":
                self.s3.put_bucket_acl(**change.do["params"])
            else:
                raise ValueError(f"not a side change of a bucket: {api}")
        except Exception as err:
            if error_code(err) in _SIDE_REFUSALS:
                return f"S3 refused {api.split(':')[1]} ({error_code(err)})"
            raise
        return None

    def undo(self, ref: ResourceRef, change: planner.SideChange) -> str:
        if change.key.startswith(ACL_KEY):
            return self._undo_acl(ref, change)
        if change.key != BPA_KEY:
            raise ValueError(f"not a side change of a bucket: {change.key}")
        try:
            now = self._public_access_block(ref)
        except LookupError:
            return f"bucket {ref.name} no longer exists: its Block Public Access settings went with it"
        result, ours = restored_block(change, now)
        owner = {"Bucket": ref.name, "ExpectedBucketOwner": ref.account_id}
        if not ours:
            return f"Block Public Access of bucket {ref.name} left as it is (the settings turned on are off again)"
        if result is None:
            self.s3.delete_public_access_block(**owner)
        else:
            self.s3.put_public_access_block(**owner, PublicAccessBlockConfiguration=result)  # type: ignore[arg-type]
        return f"turned Block Public Access {' and '.join(ours)} of bucket {ref.name} back off" + (
            " (no configuration left, as before)" if result is None else ""
        )

    def _undo_acl(self, ref: ResourceRef, change: planner.SideChange) -> str:
        try:
            now = self._acl(ref)
        except LookupError:
            return f"bucket {ref.name} no longer exists: its ACL went with it"
        grantee = change.key.removeprefix(ACL_KEY)
        restored = restored_acl(change, now)
        if restored is None:
            return f"the bucket ACL grants of canonical user {grantee} are on bucket {ref.name} already: none added"
        self.s3.put_bucket_acl(
            Bucket=ref.name,
            ExpectedBucketOwner=ref.account_id,
            AccessControlPolicy=restored,  # type: ignore[arg-type]
        )
        return f"added the bucket ACL grants of canonical user {grantee} back to bucket {ref.name}"
