"""Undo a remediation: remove exactly the Deny entries the tool added for one finding, keep everything else.

Trust nothing here either: only verified decision records count (never an event's claim), they must agree on the
role and the principal, and GetFinding must still know the finding with that role and principal. The archive step
(`--archive`: the access is intended) comes only after the revert succeeded, in every configured analyzer, so the
finding does not come back from the analyzer of another Region.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .audit import DECISION, REVERT, AuditRecord, denied_entries, side_changes
from .clients import AwsClients, error_code
from .cycle import Budget, ResourceCycle
from .engine import Remediator
from .findings import IAM_ROLE, ResourceRef, type_of_arn
from .members import MemberAccess, Route
from .policy import DenyEntry
from .resources import registry
from .settings import ACCOUNT_ID_RE
from .state import INTENDED_SECONDS, Intended


class NothingToRevert(LookupError):
    """The audit trail shows no Deny of this tool for the finding that is still in place."""


class RevertRefused(ValueError):
    """The records or the finding do not allow a safe revert (they disagree, or the finding is unknown)."""


def revert(remediator: Remediator, finding_id: str, archive: bool = False) -> dict[str, Any]:
    history = remediator.audit.history(finding_id)
    decisions = [r for r in history if r.get("record_type") == DECISION]
    if not decisions:
        raise NothingToRevert(f"no verified decision is recorded for finding {finding_id}")
    resource_arn, analyzer_arn, principal = _agreed(decisions)
    finding = _confirmed(remediator, analyzer_arn, finding_id, resource_arn, principal)
    resource_type = str(finding.get("resourceType", "")).strip()
    owner = str(finding.get("resourceOwnerAccount") or analyzer_arn.split(":")[4])
    clients = _acting(remediator, owner, analyzer_arn, finding_id)
    cycle = _cycle(remediator, resource_type, analyzer_arn, clients=clients)
    role = cycle.adapter.ref(resource_arn, owner)
    entries = [DenyEntry.from_json(entry) for entry in denied_entries(history)]
    undo = side_changes(history)
    if not entries and not undo:
        raise NothingToRevert(f"no Deny or other change of this tool is recorded for finding {finding_id}")
    actions = tuple(sorted({a for d in decisions for a in d.get("actions") or []}))
    keep = Intended(principal, actions, remediator.clock() + INTENDED_SECONDS, finding_id) if archive else None
    original = next((str(r["policy_before"]) for r in decisions if r.get("policy_before")), None)
    record = AuditRecord(
        finding_id=finding_id,
        kind=REVERT,
        decision="revert",
        reason="reverted_by_operator",
        summary="",
        mode=remediator.settings.mode,
        analyzer_arn=analyzer_arn,
        resource_arn=role.arn,
        principal=principal,
        actions=actions,
        extra={"archive": "true" if archive else "false", "caller": _caller(remediator)},
    )
    settings = remediator.settings
    try:
        done = cycle.revert(role, entries, [record], keep, original, undo=undo)
    except LookupError as err:
        raise NothingToRevert(str(err)) from None
    before, after, removed = done.before, done.after, done.removed
    if not removed and not done.restored:
        raise NothingToRevert(f"the Deny added for finding {finding_id} is no longer in the {cycle.adapter.document}")
    rules: list[str] = []
    finding_status = None
    if archive:
        rules = [_archive_rule(remediator, arn, role.arn, role.name, principal) for arn in settings.analyzer_arns]
        finding_status = _archive_finding(remediator, analyzer_arn, finding_id)
    return {
        "reverted": True,
        "finding_id": finding_id,
        "finding_status_before": finding["status"],
        **({"role_arn": role.arn} if resource_type == IAM_ROLE else {}),
        "resource_arn": role.arn,
        "resource_type": resource_type,
        "removed": [e.to_json() for e in removed],
        "restored": done.restored,
        "archived": archive,
        "archive_rules": rules,
        "archive_rule": rules[0] if rules else None,
        "finding_status": finding_status,
        "policy_before": before,
        "policy_after": after,
    }


def revert_all(remediator: Remediator, dry_run: bool = True) -> list[dict[str, Any]]:
    """Every Deny the tool has in place (the ledgers) and every change beside a policy (the decisions' side changes,
    also where no Deny was written), undone resource by resource with the rails of a revert, each removal
    audited as a REVERT record of the finding it answered (reason `uninstall`). A dry run changes nothing and
    lists what would be removed. The uninstall path: run this before `terraform destroy`."""
    caller = "dry-run" if dry_run else _caller(remediator)
    report = []
    home = remediator.settings.analyzer_arns[0]
    sided = remediator.audit.side_change_findings()
    for state in remediator.state.all_states():
        entries = state.ledger.entries()
        # The findings with a Deny here, and those whose containment here was a side change only (no ledger entry).
        denied = {f for e in entries for f in state.ledger.findings_of(e)}
        undo_of = {f: side_changes(remediator.audit.history(f)) for f in denied | sided.get(state.resource_arn, set())}
        if not entries and not any(undo_of.values()):
            continue
        resource_type = type_of_arn(state.resource_arn)
        # A key's ARN names its Region; a bucket's does not (S3 redirects a request sent to another Region).
        region = ResourceRef.parse(resource_type, state.resource_arn, home.split(":")[4]).region or home.split(":")[3]
        findings = sorted(denied | {f for f, changes in undo_of.items() if changes}) or ["unknown"]
        owner = _owner(remediator, state.resource_arn, findings, home.split(":")[4])
        try:
            clients = _acting(remediator, owner, home, findings[0])
        except RevertRefused as err:  # that account's resources stay as they are; the others are reverted
            report.append({"resource_arn": state.resource_arn, "findings": findings, "error": str(err)})
            continue
        cycle = _cycle(remediator, resource_type, home, region, clients=clients)
        role = cycle.adapter.ref(state.resource_arn, owner)
        undo = [c for finding_id in findings for c in undo_of.get(finding_id, [])]
        row: dict[str, Any] = {
            **({"role_arn": role.arn} if resource_type == IAM_ROLE else {}),
            "resource_arn": role.arn,
            "findings": findings,
            "entries": [e.to_json() for e in entries],
            "side_changes": [c.announced for c in undo],
        }
        if not dry_run:
            records = [
                AuditRecord(
                    finding_id=finding_id,
                    kind=REVERT,
                    decision="revert",
                    reason="uninstall",
                    summary="",
                    mode=remediator.settings.mode,
                    analyzer_arn="",
                    resource_arn=role.arn,
                    extra={
                        "caller": caller,
                        "removed": json.dumps(
                            [e.to_json() for e in entries if finding_id in state.ledger.findings_of(e)],
                            sort_keys=True,
                        ),
                    },
                )
                for finding_id in findings
            ]
            restored: list[str] = []
            try:
                done = cycle.revert(role, entries, records, undo=undo)
                after, removed, restored = done.after, done.removed, done.restored
            except LookupError:  # the resource is gone, and its Denies with it
                after, removed = None, []
            row |= {"removed": [e.to_json() for e in removed], "restored": restored, "policy_after": after}
        report.append(row)
    return report


def _owner(remediator: Remediator, resource_arn: str, findings: Sequence[str], home: str) -> str:
    """The account of a resource with a ledger: its ARN's; for an ARN naming none (an S3 bucket) in organization
    mode, GetFinding's resourceOwnerAccount of a finding recorded on it; else this deployment's account (S3 then
    refuses a request to another account's bucket: ExpectedBucketOwner)."""
    named = resource_arn.split(":")[4] if resource_arn.count(":") >= 5 else ""
    if named or not remediator.settings.organization_mode:
        return named or home
    for finding_id in findings:
        for record in remediator.audit.history(finding_id):
            analyzer_arn = str(record.get("analyzer_arn") or "")
            if record.get("record_type") != DECISION or analyzer_arn not in remediator.settings.analyzer_arns:
                continue
            try:
                client = remediator.clients.access_analyzer(analyzer_arn.split(":")[3])
                found = client.get_finding(analyzerArn=analyzer_arn, id=finding_id)["finding"]
            except Exception:  # noqa: S112 - another record may name an analyzer that still knows the finding
                continue
            owner = str(found.get("resourceOwnerAccount") or "")
            if ACCOUNT_ID_RE.match(owner):
                return owner
    return home


def _acting(remediator: Remediator, account: str, analyzer_arn: str, finding_id: str) -> AwsClients:
    """The clients that act in the resource's account: the caller's own, or (organization mode) the member role's,
    assumed with the caller's credentials, as the Lambda does. A caller the member role does not trust is told so."""
    route = MemberAccess(remediator.clients).acting(account, analyzer_arn, finding_id, remediator.settings)
    if isinstance(route, Route):
        return route.clients
    raise RevertRefused(
        f"{route.summary}. A revert in account {account} assumes the member role as the Lambda does: run it with"
        " credentials the member role trusts (its trust policy names only the central Lambda role: add the"
        " operator's role to it), or as a principal of that account with access to the audit table"
        " (AAR_MEMBER_ROLE_NAME unset)"
    )


def _cycle(
    remediator: Remediator,
    resource_type: str,
    analyzer_arn: str,
    region: str | None = None,
    clients: AwsClients | None = None,
) -> ResourceCycle[Any, Any]:
    adapters = registry()
    if resource_type not in adapters:
        raise RevertRefused(f"this tool does not change {resource_type[:80]} resources: nothing to revert")
    return ResourceCycle(
        remediator.settings,
        adapters[resource_type](clients or remediator.clients, region or analyzer_arn.split(":")[3]),
        remediator.audit,
        remediator.state,
        Budget(),
        clock=remediator.clock,
        sleep=remediator.sleep,
        lock_wait_seconds=remediator.lock_wait_seconds,
    )


def _agreed(decisions: Sequence[Mapping[str, Any]]) -> tuple[str, str, dict[str, str]]:
    """The one role, analyzer and principal every verified decision names: any disagreement refuses the revert."""
    resources = {str(d["resource_arn"]) for d in decisions}
    analyzers = {str(d["analyzer_arn"]) for d in decisions}
    principals = {str(d.get("principal", "{}")) for d in decisions}
    if len(resources) != 1 or len(analyzers) != 1 or len(principals) != 1:
        raise RevertRefused(
            "the records of this finding disagree on the role, analyzer or principal: not reverted "
            f"(roles {sorted(resources)}, principals {sorted(principals)})"
        )
    principal = json.loads(principals.pop())
    return resources.pop(), analyzers.pop(), {str(k): str(v) for k, v in principal.items()}


def _confirmed(
    remediator: Remediator, analyzer_arn: str, finding_id: str, resource_arn: str, principal: Mapping[str, str]
) -> dict[str, Any]:
    """GetFinding must still know the finding, for the same role and principal as the records."""
    if analyzer_arn not in remediator.settings.analyzer_arns:
        raise RevertRefused(f"the finding's analyzer {analyzer_arn} is not one of AAR_ANALYZER_ARNS: not reverted")
    client = remediator.clients.access_analyzer(analyzer_arn.split(":")[3])
    try:
        finding = dict(client.get_finding(analyzerArn=analyzer_arn, id=finding_id)["finding"])
    except Exception as err:
        if error_code(err) == "ResourceNotFoundException":
            raise RevertRefused(f"Access Analyzer does not know finding {finding_id}: not reverted") from None
        raise
    resource = re.sub(r"\s+", "", str(finding.get("resource", "")))
    if resource != resource_arn:
        raise RevertRefused(f"finding {finding_id} is not about {resource_arn} any more: not reverted")
    named = finding.get("principal")
    if not isinstance(named, dict) or {str(k): str(v) for k, v in named.items()} != dict(principal):
        raise RevertRefused(f"finding {finding_id} names another principal than its records: not reverted")
    return finding


def _archive_rule(
    remediator: Remediator, analyzer_arn: str, resource_arn: str, name: str, principal: Mapping[str, str]
) -> str:
    """An archive rule for this resource and principal (idempotent: the name is derived from both), applied at once
    to the analyzer's existing findings (those of the other Regions included)."""
    criteria = {"resource": {"eq": [resource_arn]}} | {
        f"principal.{k}": {"eq": [v]} for k, v in sorted(principal.items())
    }
    digest = hashlib.sha256(json.dumps(criteria, sort_keys=True).encode()).hexdigest()[:10]
    rule = f"aar-intended-{re.sub(r'[^A-Za-z0-9_.-]', '-', name)[:200]}-{digest}"
    analyzer_name = analyzer_arn.rsplit("/", 1)[-1]
    client = remediator.clients.access_analyzer(analyzer_arn.split(":")[3])
    try:
        client.create_archive_rule(analyzerName=analyzer_name, ruleName=rule, filter=criteria)  # type: ignore[arg-type]
    except Exception as err:
        if error_code(err) != "ConflictException":  # the rule already exists
            raise
    client.apply_archive_rule(analyzerArn=analyzer_arn, ruleName=rule)
    return rule


def _archive_finding(remediator: Remediator, analyzer_arn: str, finding_id: str) -> str:
    """Archive the finding itself and report its real status (a RESOLVED finding may stay RESOLVED)."""
    client = remediator.clients.access_analyzer(analyzer_arn.split(":")[3])
    client.update_findings(analyzerArn=analyzer_arn, ids=[finding_id], status="ARCHIVED")
    return str(client.get_finding(analyzerArn=analyzer_arn, id=finding_id)["finding"]["status"])


def _caller(remediator: Remediator) -> str:
    """Who reverted (recorded with the revert); unknown when STS cannot say."""
    try:
        sts = remediator.clients.sts()
        return str(sts.get_caller_identity()["Arn"])
    except Exception:  # the revert must not depend on STS; the record says it could not tell
        return "unknown"
