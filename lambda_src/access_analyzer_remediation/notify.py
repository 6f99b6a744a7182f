"""The e-mail digest: one SNS message per batch, saying what was found, what was done and how to keep or undo it."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .findings import Finding, RoleRef
from .policy import Policy, compact

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

SUBJECT_MAX = 99  # SNS e-mail subjects must be ASCII and under 100 characters
MESSAGE_MAX = 240_000  # SNS allows 256 KB; keep room for the footer
_CONSOLE = {
    "aws": "console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}
_HEADLINES = {"remediate": "REMEDIATED", "notify": "NOTIFY ONLY", "skip": "ALREADY CONTAINED"}


@dataclass(frozen=True)
class Notice:
    """One finding's part of the digest."""

    decision: str
    reason: str
    summary: str
    finding: Finding
    mode: str
    statements: Sequence[dict[str, Any]] = ()
    revert_policy: Policy | None = None
    notes: Sequence[str] = ()


def subject(notices: Sequence[Notice], account: str) -> str:
    if len(notices) == 1:
        notice = notices[0]
        role = notice.finding.role.name
        verb = {"remediate": "Denied external access to", "notify": "External access to"}.get(
            notice.decision, "Already contained:"
        )
        text = f"[Access Analyzer] {verb} role {role}"
    else:
        counts = _counts(notices)
        text = f"[Access Analyzer] {len(notices)} findings in {account}: " + ", ".join(
            f"{n} {label.lower()}" for label, n in counts
        )
    ascii_text = re.sub(r"[^\x20-\x7e]", "?", text)
    return ascii_text if len(ascii_text) <= SUBJECT_MAX else ascii_text[: SUBJECT_MAX - 3] + "..."


def digest(notices: Sequence[Notice]) -> str:
    counts = ", ".join(f"{n} {label.lower()}" for label, n in _counts(notices))
    parts = [f"IAM Access Analyzer reported external access to IAM roles ({counts}).\n"]
    size = len(parts[0])
    for index, notice in enumerate(notices):
        block = render(notice)
        if size + len(block) > MESSAGE_MAX:
            rest = len(notices) - index
            parts.append(f"... and {rest} more finding(s): see the audit table or `aa-remediate status`.\n")
            break
        parts.append(block)
        size += len(block)
    return "\n".join(parts)


def render(notice: Notice) -> str:
    finding = notice.finding
    role = finding.role
    principal = ", ".join(f"{k}: {v}" for k, v in sorted(finding.principal.items()))
    condition = ", ".join(f"{k}={v}" for k, v in sorted(finding.condition.items())) or "none"
    lines = [
        "=" * 78,
        f"[{_HEADLINES.get(notice.decision, notice.decision.upper())}] role {role.name} ({notice.reason})",
        f"  Role:       {role.arn}",
        f"  Finding:    {finding.id} (analyzer {finding.analyzer_arn})",
        f"  Found:      {principal} can {', '.join(finding.actions)} (public: {'yes' if finding.is_public else 'no'};"
        f" conditions: {condition})",
        f"  {'Done:' if notice.decision == 'remediate' else 'Decision:':<11} {notice.summary}",
    ]
    lines += [f"  Note:       {note}" for note in notice.notes]
    if notice.statements:
        label = "Added" if notice.decision == "remediate" else "Would add"
        lines.append(f"  {label} to the trust policy:")
        lines += [f"    {json.dumps(s, separators=(',', ':'))}" for s in notice.statements]
    if notice.decision == "remediate":
        lines += _keep_or_undo(finding, role, notice.revert_policy)
    elif notice.reason == "notify_mode":
        lines.append(
            f"  To apply:   aa-remediate remediate --analyzer-arn {finding.analyzer_arn} --finding-id {finding.id}"
            " (with AAR_MODE=remediate), or set the module's mode to remediate"
        )
        lines += _intended(finding)
    elif notice.decision == "notify":
        lines += _intended(finding)
    lines.append(f"  Console:    {console_link(role)}")
    return "\n".join(lines) + "\n"


def _keep_or_undo(finding: Finding, role: RoleRef, revert_policy: Policy | None) -> list[str]:
    lines = [
        "  Keep it:    nothing to do. If the role is unused, delete it and the finding resolves.",
        f"  Undo:       aa-remediate revert --finding-id {finding.id} --archive",
    ]
    if revert_policy is not None:
        document = shlex.quote(compact(revert_policy))
        lines.append(
            f"  or AWS CLI: aws iam update-assume-role-policy --role-name {role.name} --policy-document {document}"
        )
    return lines + _intended(finding)


def _intended(finding: Finding) -> list[str]:
    region = finding.region
    analyzer_name = finding.analyzer_arn.rsplit("/", 1)[-1]
    criteria = {"resource": {"eq": [finding.role.arn]}} | {
        f"principal.{key}": {"eq": [value]} for key, value in sorted(finding.principal.items())
    }
    rule_filter = shlex.quote(json.dumps(criteria, separators=(",", ":")))
    return [
        f"  Intended?   aws accessanalyzer update-findings --region {region} --analyzer-arn {finding.analyzer_arn}"
        f" --ids {finding.id} --status ARCHIVED",
        f"  and/or an archive rule: aws accessanalyzer create-archive-rule --region {region} --analyzer-name"
        f" {analyzer_name} --rule-name allow-{_rule_suffix(finding.role.name)} --filter {rule_filter}",
    ]


def _rule_suffix(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", name)[:200]


def console_link(role: RoleRef) -> str:
    host = _CONSOLE.get(role.partition, _CONSOLE["aws"])
    return f"https://{host}/iam/home#/roles/details/{role.name}?section=trust_relationships"


def publish(client: SNSClient, topic_arn: str, notices: Sequence[Notice], account: str) -> str:
    """Publish one digest; botocore retries throttling. Raises when SNS still refuses (the caller retries)."""
    response = client.publish(TopicArn=topic_arn, Subject=subject(notices, account), Message=digest(notices))
    return response["MessageId"]


def _counts(notices: Sequence[Notice]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for notice in notices:
        label = _HEADLINES.get(notice.decision, notice.decision.upper())
        counts[label] = counts.get(label, 0) + 1
    return sorted(counts.items())
