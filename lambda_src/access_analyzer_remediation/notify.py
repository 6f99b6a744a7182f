"""The e-mail digest: what was found, what was done and how to keep or undo it, in as many SNS messages as it takes.

Everything taken from a policy, a finding or an event is escaped before it is rendered (a newline in a condition
value must not be able to forge a "[REMEDIATED] ... run this command" block), and sizes are counted in UTF-8 bytes,
as SNS counts them.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .findings import IAM_ROLE, KMS_KEY, NOUN_AND_DOCUMENT, S3_BUCKET, Finding, ResourceRef
from .policy import DenyEntry

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

SUBJECT_MAX = 99  # SNS e-mail subjects must be ASCII and under 100 characters
MESSAGE_MAX_BYTES = 240_000  # SNS takes 262,144 bytes per message; room for the header and SNS's e-mail footer
NOTICE_MAX_BYTES = 60_000  # one finding's block; the statements it shows are cut beyond this (the audit has them)
_CONSOLE = {
    "aws": "console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}
# Access stays open although nobody said it is intended: these notices are loud.
INTENDED_REASONS = frozenset({"exempt_tag", "allowlisted_principal", "intended_by_operator"})
HELD_BACK_REASONS = frozenset({"notify_mode", "no_confirmed_subscription", "approval_pending"})
# The confirmation after a write (confirmation.py) found the access still open: loud.
UNRESOLVED_REASONS = frozenset({"containment_unresolved", "new_finding_after_change"})


@dataclass(frozen=True)
class Notice:
    """One finding's part of the digest. `entries`: the tool's Deny entries that contain it (added now, or already
    in place), so the notice can say how to undo exactly them."""

    decision: str
    reason: str
    summary: str
    finding: Finding
    mode: str
    statements: Sequence[Mapping[str, Any]] = ()
    notes: Sequence[str] = ()
    entries: Sequence[DenyEntry] = ()
    completed: bool = False  # an interrupted invocation's change, finished and announced by a later one
    side_changes: int = 0  # changes beside the policy (in `notes`) that a revert undoes too

    @property
    def headline(self) -> str:
        if self.decision == "remediate":
            return "REMEDIATED"
        if self.decision == "skip":
            return "ALREADY CONTAINED"
        if self.reason == "approval_pending":  # approve mode (approval.py): nothing written yet
            return "APPROVAL NEEDED"
        if self.reason in HELD_BACK_REASONS:
            return "NOTIFY ONLY"
        if self.reason in INTENDED_REASONS:
            return "INTENDED"
        if self.reason in UNRESOLVED_REASONS:
            return "NOT RESOLVED"
        return "NOT CONTAINED"

    def to_json(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "reason": self.reason,
            "summary": self.summary,
            "finding": self.finding.to_json(),
            "mode": self.mode,
            "statements": [dict(s) for s in self.statements],
            "notes": list(self.notes),
            "entries": [e.to_json() for e in self.entries],
            "completed": self.completed,
            "side_changes": self.side_changes,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Notice:
        return cls(
            str(data["decision"]),
            str(data["reason"]),
            str(data["summary"]),
            Finding.from_json(data["finding"]),
            str(data["mode"]),
            [dict(s) for s in data.get("statements", [])],
            [str(n) for n in data.get("notes", [])],
            [DenyEntry.from_json(e) for e in data.get("entries", [])],
            bool(data.get("completed", False)),
            int(data.get("side_changes", 0)),
        )


# ==================================================================================================== escaping
def clean(text: object) -> str:
    """Printable text only: control, format and line-separator characters become visible escapes."""
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in str(text))


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _json(value: object) -> str:
    # ensure_ascii escapes every control and non-ASCII character: nothing in it can break a line.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True)


# ==================================================================================================== rendering
def subject(notices: Sequence[Notice], account: str, part: int = 1, parts: int = 1) -> str:
    if len(notices) == 1:
        notice = notices[0]
        verb = {
            "REMEDIATED": "Denied external access to",
            "ALREADY CONTAINED": "Already contained:",
            "NOT CONTAINED": "NOT CONTAINED: external access to",
            "INTENDED": "Intended external access to",
            "APPROVAL NEEDED": "Approval needed: external access to",
            "NOT RESOLVED": "NOT RESOLVED by the containment:",
        }.get(notice.headline, "External access to")
        text = f"[Access Analyzer] {verb} {_noun(notice.finding)} {notice.finding.resource.name}"
    else:
        counts = ", ".join(f"{n} {label.lower()}" for label, n in _counts(notices))
        text = f"[Access Analyzer] {len(notices)} findings in {account}: {counts}"
    if parts > 1:
        text += f" ({part}/{parts})"
    ascii_text = re.sub(r"[^\x20-\x7e]", "?", text)
    return ascii_text if len(ascii_text) <= SUBJECT_MAX else ascii_text[: SUBJECT_MAX - 3] + "..."


def digests(notices: Sequence[Notice], prologue: str = "") -> list[str]:
    """The messages for `notices`: every notice whole, none bigger than MESSAGE_MAX_BYTES."""
    counts = ", ".join(f"{n} {label.lower()}" for label, n in _counts(notices))
    types = {notice.finding.resource_type for notice in notices}
    what = "IAM roles" if types <= {IAM_ROLE} else "AWS resources"
    header = f"IAM Access Analyzer reported external access to {what} ({counts}).\n"
    if prologue:
        header += "\n" + clean(prologue) + "\n"
    messages: list[list[str]] = [[header]]
    size = _bytes(header)
    for notice in notices:
        block = render(notice)
        length = _bytes(block) + 1
        if size + length > MESSAGE_MAX_BYTES and len(messages[-1]) > 1:
            messages.append([f"IAM Access Analyzer findings, continued ({counts}).\n"])
            size = _bytes(messages[-1][0])
        messages[-1].append(block)
        size += length
    return ["\n".join(parts) for parts in messages]


def digest(notices: Sequence[Notice], prologue: str = "") -> str:
    """All of it as one text (the CLI and tests); publish() sends `digests`."""
    return "\n".join(digests(notices, prologue))


def render(notice: Notice) -> str:
    finding = notice.finding
    role = finding.resource
    noun, document = NOUN_AND_DOCUMENT.get(finding.resource_type, ("resource", "policy"))
    principal = ", ".join(f"{clean(k)}: {clean(v)}" for k, v in sorted(finding.principal.items()))
    condition = ", ".join(f"{clean(k)}={clean(v)}" for k, v in sorted(finding.condition.items())) or "none"
    actions = ", ".join(clean(a) for a in finding.actions)
    lines = [
        "=" * 78,
        f"[{notice.headline}] {noun} {clean(role.name)} ({clean(notice.reason)})",
        f"  {noun.capitalize() + ':':<12}{clean(role.arn)}",
        f"  Finding:    {clean(finding.id)} (analyzer {clean(finding.analyzer_arn)})",
        f"  Found:      {principal} can {actions} (public: {'yes' if finding.is_public else 'no'};"
        f" conditions: {condition})",
        f"  {'Done:' if notice.decision == 'remediate' else 'Decision:':<11} {clean(notice.summary)}",
    ]
    if notice.completed:
        lines.append("  Note:       written by an invocation that was interrupted; completed and announced now")
    lines += [f"  Note:       {clean(note)}" for note in notice.notes]
    if notice.statements:
        label = "Added" if notice.decision == "remediate" else "Would add"
        lines.append(f"  {label} to the {document}:")
        shown = 0
        for statement in notice.statements:
            text = f"    {_json(statement)}"
            if shown + len(text) > NOTICE_MAX_BYTES:
                lines.append("    ... (cut here: `aa-remediate status` shows the whole change)")
                break
            lines.append(text)
            shown += len(text)
    if (notice.entries or notice.side_changes) and notice.decision in ("remediate", "skip"):
        lines += _keep_or_undo(finding, role, notice.entries, document)
    elif notice.reason == "notify_mode":
        lines.append(
            f"  To apply:   aa-remediate remediate --analyzer-arn {clean(finding.analyzer_arn)} --finding-id"
            f" {clean(finding.id)} (with AAR_MODE=remediate and no notify entry for the account in"
            " AAR_ACCOUNT_MODES), or set the module's mode (or the account's account_modes entry) to remediate"
        )
        lines += _intended(finding)
    elif notice.decision == "notify":
        lines += _intended(finding)
    link = console_link(role)
    if link:
        lines.append(f"  Console:    {link}")
    return "\n".join(lines) + "\n"


def _keep_or_undo(finding: Finding, role: ResourceRef, entries: Sequence[DenyEntry], document: str) -> list[str]:
    # No "aws iam update-assume-role-policy" with a whole document: run later, it would undo every change made to
    # the role since. Revert removes exactly this finding's entries from the policy as it is when it runs.
    keep = " If the role is unused, delete it and the finding resolves." if finding.resource_type == IAM_ROLE else ""
    lines = [
        f"  Keep it:    nothing to do.{keep}",
        f"  Undo:       aa-remediate revert --finding-id {clean(finding.id)} --archive   (the access is intended)",
        f"              aa-remediate revert --finding-id {clean(finding.id)}   (undo the change only)"
        if not entries
        else f"              aa-remediate revert --finding-id {clean(finding.id)}   (remove the Deny only)",
    ]
    for entry in entries:
        lines.append(
            f"  By hand:    in the {document} of {clean(role.name)}, remove {_json(entry.value)} from statement"
            f" {clean(entry.sid)} (the whole statement if nothing else is left in it)"
        )
    return lines + _intended(finding)


def _intended(finding: Finding) -> list[str]:
    region = finding.region
    analyzer_name = finding.analyzer_arn.rsplit("/", 1)[-1]
    criteria = {"resource": {"eq": [finding.resource_arn]}} | {
        f"principal.{key}": {"eq": [value]} for key, value in sorted(finding.principal.items())
    }
    rule_filter = shlex.quote(_json(criteria))
    return [
        f"  Intended?   aws accessanalyzer update-findings --region {region} --analyzer-arn {finding.analyzer_arn}"
        f" --ids {clean(finding.id)} --status ARCHIVED",
        f"  and/or an archive rule: aws accessanalyzer create-archive-rule --region {region} --analyzer-name"
        f" {analyzer_name} --rule-name allow-{_rule_suffix(finding.resource.name)} --filter {clean(rule_filter)}",
    ]


def _rule_suffix(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", name)[:200]


def _noun(finding: Finding) -> str:
    return NOUN_AND_DOCUMENT.get(finding.resource_type, ("resource", "policy"))[0]


def console_link(resource: ResourceRef) -> str:
    """Where the console shows the resource's policy ("" for a type without a known page)."""
    host = _CONSOLE.get(resource.partition, _CONSOLE["aws"])
    if resource.resource_type == IAM_ROLE:
        return f"https://{host}/iam/home#/roles/details/{resource.name}?section=trust_relationships"
    if resource.resource_type == S3_BUCKET:
        return f"https://{host}/s3/buckets/{resource.name}?tab=permissions"
    if resource.resource_type == KMS_KEY:
        return f"https://{host}/kms/home?region={resource.region}#/kms/keys/{resource.name}"
    return ""


def publish(
    client: SNSClient, topic_arn: str, notices: Sequence[Notice], account: str, prologue: str = ""
) -> list[str]:
    """Publish the digest (one message per part); botocore retries throttling. Raises when SNS still refuses."""
    messages = digests(notices, prologue)
    ids = []
    for number, message in enumerate(messages, 1):
        subject_line = subject(notices, account, number, len(messages)) if notices else "[Access Analyzer] Notice"
        ids.append(client.publish(TopicArn=topic_arn, Subject=subject_line, Message=message)["MessageId"])
    return ids


def _bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def _counts(notices: Sequence[Notice]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for notice in notices:
        counts[notice.headline] = counts.get(notice.headline, 0) + 1
    return sorted(counts.items())
