"""`aa-remediate`: plan offline, remediate one finding, sweep, revert, approve or reject, and read the audit trail.

`approve` and `reject` decide a change that approve mode left pending (approval.py).

Exit codes: 0 done, 1 an operation failed (one line on stderr naming the cause), 2 bad input (one line on stderr,
nothing changed). Deployment settings come from the same AAR_* variables as the Lambda
(`terraform output -raw cli_environment`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from .approval import NotPending
from .audit import AuditStore
from .clients import AwsClients
from .findings import (
    EBS_SNAPSHOT,
    IAM_ROLE,
    KMS_KEY,
    NOUN_AND_DOCUMENT,
    RDS_CLUSTER_SNAPSHOT,
    RDS_DB_SNAPSHOT,
    Finding,
    FindingRef,
    Ignored,
    MalformedEvent,
    parse_event,
)
from .planner import EXTERNAL_ACCESS_DENIED, NOTIFY_MODE, Plan
from .policy import PolicyError, grants, statements
from .resources import Adapter, Change, registry
from .resources.s3_bucket import policy_from_api
from .settings import ACCOUNT_ID_RE, ANALYZER_ARN_RE, ORG_ID_RE, Settings, SettingsError, parse_mode

_UNUSED_TOPIC = "arn:aws:sns:us-east-1:000000000000:unused"


class UsageError(ValueError):
    """Bad input: reported on one line, exit 2."""


class OperationFailed(RuntimeError):
    """An operation could not be done (AWS refused or could not be reached): one line, exit 1."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.command(args))
    except (UsageError, SettingsError, MalformedEvent, PolicyError, NotPending) as err:
        print(f"aa-remediate: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except Exception as err:  # the contract is one line naming the cause, never a traceback
        cause = _aws_cause(err)
        if cause is None:
            raise
        print(f"aa-remediate: error: {cause}", file=sys.stderr)
        return 1


def _aws_cause(err: BaseException) -> str | None:
    """One line for an AWS failure (no credentials or Region, unreachable endpoint, an API error), else None."""
    from botocore.exceptions import BotoCoreError, ClientError

    from .approval import ApprovalError
    from .engine import NotificationFailed, SweepFailed
    from .revert import RevertRefused

    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        operation = getattr(err, "operation_name", "an AWS call")
        return f"{operation} failed: {error.get('Code', 'Unknown')}: {_one_line(error.get('Message', ''))}"
    if isinstance(err, BotoCoreError):
        return f"{type(err).__name__}: {_one_line(err)}"
    if isinstance(err, NotificationFailed | SweepFailed | RevertRefused | OperationFailed | ApprovalError):
        return _one_line(err)
    if isinstance(err, RuntimeError) and type(err).__name__ in {"LockBusy", "LockLost", "StaleRead", "OutOfTime"}:
        return f"{_one_line(err)} (nothing was changed; try again)"
    return None


def _one_line(err: object) -> str:
    return " ".join(str(err).split())[:500]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aa-remediate", description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    plan = sub.add_parser("plan", help="offline: what the tool would do for EVENT on a resource with POLICY")
    plan.add_argument("--event", required=True, type=Path, help="an Access Analyzer Finding event (JSON file)")
    plan.add_argument(
        "--policy",
        required=True,
        type=Path,
        help="the resource's policy as its read API returns it: trust policy or `aws iam get-role` output;"
        " `aws s3api get-bucket-policy` output ({} for a bucket without one); `aws kms get-key-policy` output",
    )
    plan.add_argument(
        "--attributes",
        type=Path,
        help="what the resource holds beside its policy, as its read API returns it: for a bucket `aws s3api"
        " get-public-access-block` and/or `get-bucket-acl` output (merged: jq -s add), for a key `aws kms list-grants`",
    )
    plan.add_argument("--trusted-account", action="append", default=[], metavar="ID")
    plan.add_argument("--trusted-org-id", metavar="ID")
    plan.add_argument("--allowed-principal", action="append", default=[], metavar="P")
    plan.add_argument("--mode", default="remediate", choices=["remediate", "notify"])
    plan.add_argument("--max-chars", type=int, default=2048, help="the account's trust policy length quota")
    plan.add_argument(
        "--prove",
        action="store_true",
        help="also run Access Analyzer's checks on the planned document (ValidatePolicy, CheckNoNewAccess,"
        " CheckNoPublicAccess; charged per call): needs credentials",
    )
    plan.set_defaults(command=cmd_plan)

    remediate = sub.add_parser("remediate", help="verify and contain one finding (same path as the Lambda)")
    remediate.add_argument("--analyzer-arn", required=True)
    remediate.add_argument("--finding-id", required=True)
    remediate.add_argument("--dry-run", action="store_true", help="compute and print; write and send nothing")
    remediate.add_argument("--no-notify", action="store_true", help="do not publish the e-mail digest")
    remediate.set_defaults(command=cmd_remediate)

    sweep = sub.add_parser("sweep", help="every ACTIVE IAM role finding of an analyzer (backfill)")
    sweep.add_argument("--analyzer-arn", required=True)
    sweep.add_argument("--dry-run", action="store_true")
    sweep.add_argument("--no-notify", action="store_true")
    sweep.set_defaults(command=cmd_sweep)

    revert = sub.add_parser("revert", help="remove exactly what the tool added for a finding (or --all of it)")
    which = revert.add_mutually_exclusive_group(required=True)
    which.add_argument("--finding-id")
    which.add_argument("--all", action="store_true", help="every Deny the tool placed (uninstall; a dry run first)")
    revert.add_argument("--archive", action="store_true", help="also archive the finding (access is intended)")
    revert.add_argument("--yes", action="store_true", help="with --all: really remove them (default: a dry run)")
    revert.set_defaults(command=cmd_revert)

    status = sub.add_parser("status", help="the audit trail of a finding (and its approval request)")
    status.add_argument("--finding-id", required=True)
    status.set_defaults(command=cmd_status)

    approve = sub.add_parser("approve", help="approve mode: re-verify and apply a pending change now")
    approve.add_argument("--finding-id", required=True)
    approve.set_defaults(command=cmd_approve)

    reject = sub.add_parser("reject", help="approve mode: keep the access of a pending change (nothing written)")
    reject.add_argument("--finding-id", required=True)
    reject.add_argument("--archive", action="store_true", help="also archive it in every analyzer (it is intended)")
    reject.set_defaults(command=cmd_reject)

    for command in (plan, remediate, sweep, revert, status, approve, reject):
        command.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


# -- plan (offline) -------------------------------------------------------------------------------------------
def cmd_plan(args: argparse.Namespace) -> int:
    event = _read_json(args.event, "event")
    document = _read_json(args.policy, "policy")
    for account in args.trusted_account:
        if not ACCOUNT_ID_RE.match(account):
            raise UsageError(f"--trusted-account {account!r} is not a 12-digit account id")
    if args.trusted_org_id and not ORG_ID_RE.match(args.trusted_org_id):
        raise UsageError(f"--trusted-org-id {args.trusted_org_id!r} is not an organization id (o-...)")
    if not 2048 <= args.max_chars <= 10240:
        raise UsageError("--max-chars must be between 2048 and 10240")
    parsed = parse_event(event)
    resource_type = parsed.claim.resource_type if not isinstance(parsed, Ignored) and parsed.claim else IAM_ROLE
    if resource_type not in _DOCUMENTS:
        raise UsageError(f"this tool does not contain {resource_type} findings: nothing to plan")
    if resource_type == IAM_ROLE:
        policy, tags = _policy_and_tags(document)
    else:
        policy, tags = _resource_policy(document, resource_type), {}
    attributes = _read_json(args.attributes, "attributes") if args.attributes else None
    offline: tuple[Adapter[Any, Any], Any, Any] | None = None
    if not isinstance(parsed, Ignored) and parsed.claim is not None:
        claim = parsed.claim
        offline = _offline_snapshot(claim, policy, tags, attributes)  # bad input is refused before anything is said
        # A snapshot's sharing attribute is no policy document: nothing to check the finding against.
        if resource_type not in _NO_DOCUMENT and not grants(policy, claim.principal, claim.actions):
            principal = ", ".join(f"{k}: {v}" for k, v in sorted(claim.principal.items()))
            noun = "role" if resource_type == IAM_ROLE else "resource"
            print(
                f"aa-remediate: warning: the {_DOCUMENTS[resource_type]} does not grant {principal}"
                f" {'/'.join(claim.actions)}: the finding may be stale, or this is not the {noun}'s current policy",
                file=sys.stderr,
            )
    if isinstance(parsed, Ignored):
        result = {
            "decision": "skip",
            "reason": parsed.reason,
            "summary": "event needs no action",
            "changes": [],
            "statements_added": [],
            "statements_removed": [],
            "policy": policy,
            "document": _DOCUMENTS[resource_type],
        }
        return _emit(args, result, _human_plan)
    assert parsed.claim is not None
    settings = Settings(
        analyzer_arns=(parsed.analyzer_arn,),
        audit_table_name="offline",
        topic_arn=_UNUSED_TOPIC,
        mode=parse_mode(args.mode),
        trusted_account_ids=frozenset(args.trusted_account),
        trusted_org_id=args.trusted_org_id,
        allowed_principals=tuple(args.allowed_principal),
        trust_policy_max_chars=args.max_chars,
    )
    assert offline is not None
    plan, changes = _offline_plan(parsed.claim, policy, offline, settings)
    result = _plan_json(plan, policy, changes, _DOCUMENTS[resource_type])
    if args.prove:
        result = _proven_plan(result, plan, policy, parsed.claim)
    return _emit(args, result, _human_plan)


def _proven_plan(result: dict[str, Any], plan: Plan, policy: dict[str, Any], claim: Finding) -> dict[str, Any]:
    """`plan --prove`: the checks the Lambda runs before its write, on the printed plan (proofs.py)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from .clients import AwsClients
    from .proofs import PROOF_REFUSED, ProofUnavailable, Prover

    if plan.decision != "remediate" or plan.policy_after is None:
        return {**result, "proofs": []}  # nothing would be written: nothing to prove
    region = claim.analyzer_arn.split(":")[3]
    try:
        proofs = Prover(AwsClients().access_analyzer(region)).prove(
            claim.resource_type, policy, plan.policy_after, claim.is_public
        )
    except (ProofUnavailable, BotoCoreError, ClientError) as err:
        raise UsageError(f"--prove: the checks could not be made: {err}") from err
    result = {**result, "proofs": proofs.to_json(), "notes": [*result.get("notes", []), proofs.line()]}
    if proofs.refused:
        summary = proofs.refusal(_DOCUMENTS[claim.resource_type])
        result |= {"decision": "notify", "reason": PROOF_REFUSED, "summary": summary, "changes": []}
        result |= {"statements_added": [], "policy": policy}
    return result


_DOCUMENTS = {resource_type: document for resource_type, (_, document) in NOUN_AND_DOCUMENT.items()}
_NO_DOCUMENT = frozenset({EBS_SNAPSHOT, RDS_DB_SNAPSHOT, RDS_CLUSTER_SNAPSHOT})


def _offline_snapshot(
    finding: Finding, policy: dict[str, Any], tags: dict[str, str], attributes: Any
) -> tuple[Adapter[Any, Any], Any, Any]:
    """The finding's adapter (built on clients that refuse every AWS call), its resource and the snapshot the
    given policy, tags and attributes make."""
    adapter = registry()[finding.resource_type](_NO_AWS, finding.region)
    ref = adapter.ref(finding.resource_arn, finding.resource_owner_account)
    try:
        return adapter, ref, adapter.offline(ref, policy, tags, attributes)
    except ValueError as err:
        raise UsageError(f"--attributes: {err}") from None


def _offline_plan(
    finding: Finding, policy: dict[str, Any], offline: tuple[Adapter[Any, Any], Any, Any], settings: Settings
) -> tuple[Plan, list[Change]]:
    """The adapter's guard and pure plan on the given snapshot, and the exact write calls it would make, the policy
    write first."""
    adapter, ref, snapshot = offline
    plan = adapter.guard(ref, settings, finding.analyzer_arn) or adapter.plan(finding, snapshot, settings, (), 0.0)
    if plan.decision != "remediate":
        return plan, []
    write = adapter.changes(ref, plan.policy_after, snapshot) if plan.policy_after not in (None, policy) else []
    return plan, [*write, *(dict(change.do) for change in plan.side_changes)]


def _refuse_aws(service: str, region: str | None) -> Any:
    return _NoAws(service)


class _NoAws:
    """What `plan` has instead of an AWS client: offline, any call is a bug."""

    def __init__(self, service: str) -> None:
        self._service = service

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"aa-remediate plan is offline: it never calls {self._service}.{name}")


_NO_AWS = AwsClients(factory=_refuse_aws)


# Where each read API's output holds the policy text: get-bucket-policy, get-key-policy, describe-file-system-policy,
# DynamoDB and Lambda get-(resource-)policy (`Policy`); Secrets Manager get-resource-policy (`ResourcePolicy`); ECR
# get-repository-policy (`policyText`); SQS get-queue-attributes and SNS get-topic-attributes (`Attributes.Policy`).
_POLICY_TEXT_KEYS = ("Policy", "ResourcePolicy", "policyText")


def _resource_policy(document: Any, resource_type: str) -> dict[str, Any]:
    """A resource's policy as given: its read API's output (the policy as JSON text) or the document itself; `{}` is
    a resource without a policy (any type but a key, which always has one)."""
    if isinstance(document, dict) and isinstance(document.get("Attributes"), dict):
        document = document["Attributes"] if "Policy" in document["Attributes"] else {}
    key = next((k for k in _POLICY_TEXT_KEYS if isinstance(document, dict) and isinstance(document.get(k), str)), None)
    if key is not None:
        try:
            document = json.loads(document[key])
        except ValueError:
            raise UsageError(f"--policy: {key} is not JSON text") from None
    if document == {} and resource_type != KMS_KEY:
        return policy_from_api(None)
    what = _DOCUMENTS[resource_type]
    if not isinstance(document, dict):
        raise UsageError(f"--policy is not a {what} document")
    body = statements(document)  # raises PolicyError when unreadable
    if not body or any(not isinstance(s.get("Effect"), str) or s.get("Effect") not in ("Allow", "Deny") for s in body):
        raise UsageError(f"--policy is not a {what}: every statement needs Effect Allow or Deny")
    # Every statement of a resource-based policy names who it applies to: without, this is an identity policy.
    if any("Principal" not in s and "NotPrincipal" not in s for s in body):
        raise UsageError(f"--policy is not a {what}: a statement has no Principal (an identity policy?)")
    return document


def _policy_and_tags(document: Any) -> tuple[dict[str, Any], dict[str, str]]:
    tags: dict[str, str] = {}
    if isinstance(document, dict) and isinstance(document.get("Role"), dict):  # `aws iam get-role` output
        role = document["Role"]
        raw_tags = role.get("Tags", [])
        if not isinstance(raw_tags, list) or not all(
            isinstance(t, dict) and isinstance(t.get("Key"), str) and isinstance(t.get("Value", ""), str)
            for t in raw_tags
        ):
            raise UsageError("--policy: Role.Tags is not a list of {Key, Value} strings")
        tags = {t["Key"]: t.get("Value", "") for t in raw_tags}
        document = role.get("AssumeRolePolicyDocument")
    if not isinstance(document, dict):
        raise UsageError("--policy is not a trust policy document")
    body = statements(document)  # raises PolicyError when unreadable
    # A trust policy names who may assume the role: statements with a Principal and no Resource. An identity or
    # permissions policy here would get a Deny appended that means nothing.
    if not body or any(not isinstance(s.get("Effect"), str) or s.get("Effect") not in ("Allow", "Deny") for s in body):
        raise UsageError("--policy is not a trust policy: every statement needs Effect Allow or Deny")
    if any("Resource" in s or "NotResource" in s for s in body):
        raise UsageError("--policy is not a trust policy: a statement has a Resource (an identity policy?)")
    if not any("Principal" in s or "NotPrincipal" in s for s in body):
        raise UsageError("--policy is not a trust policy: no statement has a Principal")
    return document, tags


def _plan_json(plan: Plan, policy: dict[str, Any], changes: list[Change], document: str) -> dict[str, Any]:
    """What a remediation would write; a notify or skip decision changes nothing, so it shows the policy as given
    (its summary says what would be denied)."""
    changed = plan.decision == "remediate" and plan.policy_after is not None
    return {
        "decision": plan.decision,
        "reason": plan.reason,
        "summary": plan.summary,
        "notes": list(plan.notes),
        "changes": changes,
        "statements_added": plan.statements_added() if changed else [],
        "statements_removed": [],  # the tool never removes a statement it did not write; a plan removes none
        "policy": plan.policy_after if changed else policy,
        "document": document,
    }


def _human_plan(result: dict[str, Any]) -> str:
    lines = [f"decision: {result['decision']} ({result['reason']})", f"  {result['summary']}"]
    lines += [f"  note: {note}" for note in result.get("notes", [])]
    for statement in result["statements_added"]:
        lines.append(f"  + {json.dumps(statement, separators=(',', ':'))}")
    lines += [f"  write: {change['api']}" for change in result.get("changes", [])]
    lines.append(f"resulting {result.get('document', 'trust policy')}:")
    lines.append(json.dumps(result["policy"], indent=2))
    return "\n".join(lines)


# -- commands that call AWS ------------------------------------------------------------------------------------
def cmd_remediate(args: argparse.Namespace) -> int:
    ref = FindingRef(_analyzer(args.analyzer_arn), _finding_id(args.finding_id))
    remediator = _remediator(args.analyzer_arn, args.dry_run)
    outcomes = remediator.process([ref])
    if not args.dry_run and not args.no_notify:
        remediator.announce(outcomes, "this account", flush=True)
    return _report(args, outcomes)


def cmd_sweep(args: argparse.Namespace) -> int:
    from .engine import sweep

    remediator = _remediator(_analyzer(args.analyzer_arn), args.dry_run)
    notify = not args.dry_run and not args.no_notify

    def progress(done: int, outcomes: list[Any]) -> None:
        counts = Counter(o.decision for o in outcomes)
        print(
            f"... {done} findings: " + ", ".join(f"{n} {d}" for d, n in sorted(counts.items())),
            file=sys.stderr,
        )

    def announce(outcomes: list[Any], first: bool) -> None:
        if notify:  # per chunk: a sweep stopped half way has announced what it did
            remediator.announce(outcomes, "this account", flush=first)

    outcomes = sweep(remediator, progress=progress, announce=announce)
    return _report(args, outcomes)


def cmd_revert(args: argparse.Namespace) -> int:
    from .revert import NothingToRevert, revert, revert_all

    remediator = _remediator(None, dry_run=False)
    if args.all:
        if args.archive:
            raise UsageError("--archive is for one finding: revert --all removes the Denies and archives nothing")
        rows = revert_all(remediator, dry_run=not args.yes)
        return _emit(args, {"dry_run": not args.yes, "roles": rows}, _human_revert_all)
    try:
        result = revert(remediator, _finding_id(str(args.finding_id)), archive=args.archive)
    except NothingToRevert as err:
        return _emit(args, {"reverted": False, "reason": str(err)}, lambda r: f"nothing reverted: {r['reason']}", 1)
    return _emit(args, result, _human_revert)


def _human_revert_all(result: dict[str, Any]) -> str:
    verb = "would remove" if result["dry_run"] else "removed"
    lines = []
    for row in result["roles"]:
        entries = row["entries"] if result["dry_run"] else row.get("removed", [])
        lines.append(f"{row['resource_arn']}: {verb} {len(entries)} Deny entr{'y' if len(entries) == 1 else 'ies'}")
        lines += [f"  - {e['value']} ({'/'.join(e['actions'])}) from {e['sid']}" for e in entries]
        if result["dry_run"]:
            lines += [f"  ~ {change}" for change in row.get("side_changes", [])]
        else:
            lines += [f"  ~ {restored}" for restored in row.get("restored", [])]
    total = sum(len(r["entries"] if result["dry_run"] else r.get("removed", [])) for r in result["roles"])
    lines.append(
        f"{'dry run: ' if result['dry_run'] else ''}{verb} {total} entries on {len(result['roles'])} resource(s)"
    )
    if result["dry_run"]:
        lines.append("run again with --yes to remove them (each removal is audited)")
    return "\n".join(lines)


def _human_revert(result: dict[str, Any]) -> str:
    lines = [f"reverted finding {result['finding_id']} on {result['resource_arn']}"]
    lines += [f"  - removed {e['value']} ({'/'.join(e['actions'])}) from {e['sid']}" for e in result["removed"]]
    lines += [f"  ~ {restored}" for restored in result.get("restored", [])]
    if result["archived"]:
        for rule in result["archive_rules"]:
            lines.append(f"  archive rule {rule}: findings for this resource and principal are archived")
        lines.append(f"  finding status: {result['finding_status']}")
    lines.append(f"{_DOCUMENTS.get(result.get('resource_type', IAM_ROLE), 'policy')} now:")
    lines.append(json.dumps(result["policy_after"], indent=2))
    return "\n".join(lines)


def cmd_status(args: argparse.Namespace) -> int:
    from .approval import store_of

    remediator = _remediator(None, dry_run=False)
    finding_id = _finding_id(args.finding_id)
    history = remediator.audit.history(finding_id)
    pending = store_of(remediator).get(finding_id)
    if not history and pending is None:
        return _emit(args, {"finding_id": args.finding_id, "records": []}, lambda r: "no records", 1)

    def human(result: dict[str, Any]) -> str:
        lines = [
            f"{r.get('decided_at')}  {r.get('record_type', ''):8} {r.get('decision', ''):9} {r.get('reason', '')}"
            f"  {r.get('summary', '')}{'' if r.get('notified') is not False else '  (notice not yet sent)'}"
            for r in result["records"]
        ]
        request = result.get("approval")
        if request:
            lines.append(
                f"approval: {request['status']} (requested {request['requested_at']}, deadline {request['deadline']})"
                + (f" by {request['decided_by']}: {request['why']}" if request["decided_by"] else "")
            )
        return "\n".join(lines)

    records = [{k: v for k, v in r.items() if k != "record"} for r in history]
    result: dict[str, Any] = {"finding_id": args.finding_id, "records": records}
    if pending is not None:
        result["approval"] = pending.to_json()
    return _emit(args, result, human)


def cmd_approve(args: argparse.Namespace) -> int:
    from .approval import approve, caller_arn, pending_for

    remediator = _remediator(None, dry_run=False)
    pending = pending_for(remediator, _finding_id(args.finding_id))
    decided = approve(remediator, pending, caller_arn(remediator))
    if decided.outcomes:
        remediator.announce(decided.outcomes, "this account")
    return _emit(args, decided.to_json(), _human_decided, 0 if decided.applied else 1)


def cmd_reject(args: argparse.Namespace) -> int:
    from .approval import caller_arn, pending_for, reject

    remediator = _remediator(None, dry_run=False)
    pending = pending_for(remediator, _finding_id(args.finding_id))
    decided = reject(remediator, pending, caller_arn(remediator), archive=args.archive)
    return _emit(args, decided.to_json(), _human_decided)


def _human_decided(result: dict[str, Any]) -> str:
    return f"finding {result['finding_id']}: {result['status']} by {result['decided_by']}: {result['why']}"


def _report(args: argparse.Namespace, outcomes: list[Any]) -> int:
    dry_run = args.dry_run
    # A dry run runs the engine in notify mode (nothing is written or recorded), but it answers "what would it do
    # now": under a deployment in remediate mode, "would deny X (notify mode)" is a remediation it would make.
    would_remediate = dry_run and parse_mode(os.environ.get("AAR_MODE", "remediate"), "AAR_MODE") == "remediate"
    rows = []
    for o in outcomes:
        decision, reason, summary = o.decision, o.reason, o.summary
        if would_remediate and (decision, reason) == ("notify", NOTIFY_MODE):
            decision, reason, summary = "remediate", EXTERNAL_ACCESS_DENIED, summary.removesuffix(" (notify mode)")
        rows.append(
            {
                "finding_id": o.ref.finding_id,
                "decision": decision,
                "reason": reason,
                "summary": summary,
                "resource": o.finding.resource_arn if o.finding else None,
                "statements_added": o.plan.statements_added() if o.plan and o.plan.policy_after else [],
            }
        )
    counts = dict(Counter(str(row["decision"]) for row in rows))
    result = {"dry_run": dry_run, "counts": counts, "findings": rows}

    def human(r: dict[str, Any]) -> str:
        lines = [f"{row['finding_id']}: {row['decision']} ({row['reason']}) {row['summary']}" for row in r["findings"]]
        summary = ", ".join(f"{n} {d}" for d, n in sorted(counts.items())) or "no findings"
        lines.append(f"{'dry run: ' if dry_run else ''}{summary}")
        return "\n".join(lines)

    return _emit(args, result, human, 1 if counts.get("failed") else 0)


def _remediator(analyzer_arn: str | None, dry_run: bool) -> Any:
    from .clients import AwsClients
    from .engine import CLI_LEASE_SECONDS, Remediator

    env = dict(os.environ)
    if analyzer_arn and not env.get("AAR_ANALYZER_ARNS", "").strip():
        env["AAR_ANALYZER_ARNS"] = json.dumps([analyzer_arn])
    env.setdefault("AAR_ANALYZER_ARNS", json.dumps(["arn:aws:access-analyzer:us-east-1:000000000000:analyzer/unused"]))
    env.setdefault("AAR_TOPIC_ARN", _UNUSED_TOPIC)
    if not env.get("AAR_AUDIT_TABLE_NAME"):
        raise UsageError("set AAR_AUDIT_TABLE_NAME (see `terraform output -raw cli_environment`)")
    # A person's CLI has no timeout to bound its writes, unlike the Lambda: hold a role's lock for the maximum lease.
    # The operator reads the CLI's own output, so a pending e-mail subscription does not hold its changes back.
    # The main queue takes messages from the rule and the Lambda role only (its policy): a containment the CLI
    # writes leaves its pending check to the deployment's sweep (confirmation.py), which scans and sends it.
    settings = replace(
        Settings.from_env(env),
        lock_lease_seconds=CLI_LEASE_SECONDS,
        require_confirmed_subscription=False,
        queue_url=None,
    )
    if analyzer_arn and analyzer_arn not in settings.analyzer_arns:
        raise UsageError(f"{analyzer_arn} is not in AAR_ANALYZER_ARNS")
    clients = AwsClients()
    if dry_run:
        return Remediator(
            settings.with_mode("notify"), clients, audit=_NoAudit(clients.dynamodb(), settings.audit_table_name)
        )
    return Remediator(
        settings,
        clients,
        AuditStore(clients.dynamodb(), settings.audit_table_name, settings.audit_retention_days),
    )


class _NoAudit(AuditStore):
    """Dry runs write nothing, not even the audit record."""

    def write(self, records: Any, outbox: Any = (), items: Any = ()) -> None:
        return None


def _finding_id(value: str) -> str:
    from .findings import FINDING_ID_RE

    value = value.strip()
    if not FINDING_ID_RE.match(value):
        raise UsageError(f"--finding-id {value[:80]!r} is not a finding id")
    return value


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("access-analyzer-remediation")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


def _analyzer(value: str) -> str:
    value = value.strip()
    if not ANALYZER_ARN_RE.match(value):
        raise UsageError(f"--analyzer-arn {value!r} is not an analyzer ARN")
    return value


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{what} file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"cannot read {what} file {path}: {err}") from None
    except json.JSONDecodeError as err:
        raise UsageError(f"{what} file {path} is not JSON: {err.msg} at line {err.lineno}") from None


def _emit(
    args: argparse.Namespace, result: dict[str, Any], human: Callable[[dict[str, Any]], str], code: int = 0
) -> int:
    print(json.dumps(result, indent=2, default=str) if args.json else human(result))
    return code


if __name__ == "__main__":
    sys.exit(main())
