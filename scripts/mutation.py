"""Mutation check (`make mutation`): take out one rail of the engine at a time and show the test suite notices.

Each mutant is a textual change to a copy of the repository (the working tree is never touched). The copy's unit
tests run with `-x`, the tests meant to catch the mutant first; a mutant is killed when pytest fails. Exit 0 only
when every mutant is killed. A mutant whose anchor text is missing is an error: the engine changed and the mutant
must be updated, not silently skipped.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "lambda_src/access_analyzer_remediation"
COPIED = ("lambda_src", "tests", "sandbox", "pyproject.toml")


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    old: str
    new: str
    catchers: tuple[str, ...]  # the tests that should fail first (then all of tests/unit)


MUTANTS = (
    Mutant(
        "a late write taken for done",
        f"{PACKAGE}/cycle.py",
        "            self.state.mark_late_write(lease)\n            raise\n",
        "            self.state.mark_late_write(lease)\n",
        ("tests/unit/test_rails.py::test_a_write_that_outlives_its_lease_is_handed_back_and_its_retry_undoes_it",),
    ),
    Mutant(
        "a late write left unsettled",
        f"{PACKAGE}/cycle.py",
        "        if not peeked.intents and not peeked.late_write_unsettled:\n",
        "        if not peeked.intents:\n",
        ("tests/unit/test_rails.py::test_a_write_that_outlives_its_lease_is_handed_back_and_its_retry_undoes_it",),
    ),
    Mutant(
        "no lease-margin check",
        f"{PACKAGE}/cycle.py",
        "        if not self.state.still_held(lease, margin):\n"
        '            raise LockLost(f"lease on {role.arn} is nearly over: not writing a policy read under it")\n',
        "",
        ("tests/unit/test_rails.py::test_no_write_starts_when_the_lease_is_nearly_over",),
    ),
    Mutant(
        "no ledger check",
        f"{PACKAGE}/cycle.py",
        "        read = pre if self._consistent(role, pre.policy, state) else self._await_consistent(role, lease)\n"
        "        now = self.clock()\n"
        "        base, repaired = restore_entries(read.policy, state.ledger.in_place())\n",
        "        read = pre\n        now = self.clock()\n        base, repaired = read.policy, []\n",
        (
            "tests/unit/test_promises.py::test_1_a_stale_read_after_another_workers_write_does_not_drop_its_deny",
            "tests/unit/test_promises.py::test_1_a_revert_soon_after_a_remediation_keeps_the_newer_deny",
        ),
    ),
    Mutant(
        "release before write",
        f"{PACKAGE}/cycle.py",
        "        try:\n            rejection = self.write(role, policy, planned_on)\n",
        "        self.state.release(lease)\n        try:\n"
        "            rejection = self.write(role, policy, planned_on)\n",
        ("tests/unit/test_rails.py::test_a_remediation_commits_its_ledger_and_leaves_no_intent_behind",),
    ),
    Mutant(
        "unconditional unlock",
        f"{PACKAGE}/state.py",
        '                ConditionExpression="#owner = :owner",\n',
        "",
        ("tests/unit/test_rails.py::test_a_lease_taken_over_cannot_be_committed_or_released_by_its_old_holder",),
    ),
    Mutant(
        "dropped UnprocessedItems",
        f"{PACKAGE}/audit.py",
        '                pending = response.get("UnprocessedItems") or {}\n',
        "                pending = {}\n",
        ("tests/unit/test_rails.py::test_unprocessed_items_are_written_again_until_none_is_left",),
    ),
    Mutant(
        "audit failure swallowed",
        f"{PACKAGE}/audit.py",
        "            if pending:\n                left = len(pending.get(self._table, []))\n"
        '                raise AuditWriteFailed(f"DynamoDB left {left} audit writes unprocessed after retries")\n',
        "",
        ("tests/unit/test_rails.py::test_items_dynamodb_never_takes_fail_the_write",),
    ),
    Mutant(
        "audit failure swallowed (records of the rest)",
        f"{PACKAGE}/engine.py",
        "            for index, outcome in pending:\n"
        '                outcomes[index] = replace(outcome, decision="failed", reason="audit_failed", error=err)\n',
        "            pass\n",
        ("tests/unit/test_rails.py::test_a_record_that_cannot_be_stored_hands_its_finding_back",),
    ),
    Mutant(
        "notice skipped for resolved findings",
        f"{PACKAGE}/engine.py",
        "        for pairs in self._parallel(complete, [arn for arn in resolved if arn not in groups]):\n",
        "        for pairs in self._parallel(complete, []):\n",
        (
            "tests/unit/test_promises.py::test_2_a_deny_written_before_its_audit_failed_is_recorded_and_announced",
            "tests/unit/test_promises.py::test_2_an_invocation_stopped_between_write_and_audit_is_completed_by_the_next",
        ),
    ),
    Mutant(
        "member account's finding handled with the central clients",
        f"{PACKAGE}/engine.py",
        "            self._adapters[finding.resource_type](clients, finding.region),\n",
        "            self._adapters[finding.resource_type](self.clients, finding.region),\n",
        (
            "tests/unit/test_organization.py::"
            "test_a_member_account_role_is_contained_there_with_the_central_audit_and_reverted_there",
        ),
    ),
    Mutant(
        "management account modified",
        f"{PACKAGE}/members.py",
        "    if account == settings.management_account_id and not settings.allow_management_account:\n",
        "    if False:\n",
        ("tests/unit/test_organization.py::test_the_management_account_is_modified_only_when_allowed",),
    ),
    Mutant(
        "member role refusal handed back for a retry",
        f"{PACKAGE}/members.py",
        "        if code in UNAVAILABLE_CODES:\n",
        "        if False:\n",
        (
            "tests/unit/test_organization.py::"
            "test_an_account_without_the_member_role_is_reported_with_how_to_deploy_it_and_never_retried",
        ),
    ),
    Mutant(
        "notice left in the outbox on a redelivery",
        f"{PACKAGE}/handler.py",
        "        retry.extend(_finish([*outcomes, *(o for _, o in confirmed)], account, flush=redelivered))\n",
        "        retry.extend(_finish([*outcomes, *(o for _, o in confirmed)], account, flush=False))\n",
        ("tests/unit/test_promises.py::test_2_a_notice_lost_to_sns_goes_out_as_remediated_after_the_finding_resolved",),
    ),
    Mutant(
        "a failed subscription check taken for no subscription",
        f"{PACKAGE}/subscription.py",
        '        paginator = self._sns.get_paginator("list_subscriptions_by_topic")\n',
        "        self._checked_at = self._clock()\n"
        '        paginator = self._sns.get_paginator("list_subscriptions_by_topic")\n',
        ("tests/unit/test_rails.py::test_a_failed_subscription_check_retries_the_batch_and_is_not_taken_for_no",),
    ),
    Mutant(
        "an intent left while its holder's lease runs",
        f"{PACKAGE}/cycle.py",
        '            raise LockBusy(f"{role.arn} has a change in progress: retry after its lease")\n',
        "            return False\n",
        ("tests/unit/test_rails.py::test_a_resolved_finding_waits_for_an_intent_under_a_running_lease",),
    ),
    Mutant(
        "side changes of an interrupted change never completed",
        f"{PACKAGE}/cycle.py",
        "        ready.completed = self._sides(role, lease, ready.completed, progress)\n",
        "",
        (
            "tests/unit/test_side_changes.py::test_a_write_interrupted_before_the_settings_is_completed_by_the_next_holder",
        ),
    ),
    Mutant(
        "a revert that leaves the side changes in place",
        f"{PACKAGE}/revert.py",
        "    undo = side_changes(history)\n",
        "    undo = []\n",
        (
            "tests/unit/test_side_changes.py::"
            "test_a_public_bucket_gets_the_deny_and_the_settings_and_revert_restores_both_keeping_later_changes",
        ),
    ),
    Mutant(
        "coverage by Sid shape only",
        f"{PACKAGE}/policy.py",
        "    candidates = [(target, zone.exclusions(target))]\n",
        "    for statement in statements(policy):\n"
        '        match = _SID.match(str(statement.get("Sid", "")))\n'
        '        if match and match.group(1) == target.kind and statement.get("Effect") == "Deny":\n'
        "            exclusions = zone.exclusions(target)\n"
        '            return OwnStatement(str(statement["Sid"]), target.kind, (action,), exclusions, (target.value,))\n'
        "    candidates = [(target, zone.exclusions(target))]\n",
        (
            "tests/unit/test_promises.py::test_3_a_decoy_deny_is_not_containment",
            "tests/unit/test_policy.py::test_a_decoy_with_our_sid_shape_covers_nothing",
        ),
    ),
    Mutant(
        "pending check not stored with the containment",
        f"{PACKAGE}/cycle.py",
        "        self.audit.write(records, outbox, [confirmation.pending_item(c) for c in checks])\n",
        "        self.audit.write(records, outbox)\n",
        (
            "tests/unit/test_confirmation_delivery.py::test_a_crash_between_the_commit_and_the_message_is_recovered_by_the_sweep",
        ),
    ),
    Mutant(
        "a verdict concluded twice",
        f"{PACKAGE}/confirmation.py",
        '            "ConditionExpression": "attribute_not_exists(#state) OR #state <> :done",\n',
        "",
        ("tests/unit/test_confirmation_delivery.py::test_a_confirmation_delivered_twice_records_and_announces_once",),
    ),
)


def copy_repository(destination: Path) -> None:
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, destination / name)


def apply(mutant: Mutant, root: Path) -> None:
    path = root / mutant.path
    text = path.read_text()
    if text.count(mutant.old) != 1:
        raise SystemExit(f"mutation: the anchor of {mutant.name!r} is not once in {mutant.path}: update the mutant")
    path.write_text(text.replace(mutant.old, mutant.new))


def run(mutant: Mutant, timeout: float) -> tuple[bool, str, float]:
    """(killed, the first failing test or why it survived, seconds): the catchers first, then all of tests/unit."""
    with tempfile.TemporaryDirectory(prefix="aar-mutant-") as tmp:
        root = Path(tmp)
        copy_repository(root)
        apply(mutant, root)
        started = time.monotonic()
        for selection in (list(mutant.catchers), ["tests/unit"]):
            command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *selection]
            try:
                proc = subprocess.run(  # noqa: S603 - this interpreter, test paths of this repository
                    command, cwd=root, capture_output=True, text=True, timeout=timeout, check=False
                )
            except subprocess.TimeoutExpired:
                return True, f"the suite did not finish within {timeout:.0f} s (a hang counts as caught)", timeout
            if proc.returncode == 0:
                continue
            failed = [line for line in proc.stdout.splitlines() if line.startswith(("FAILED ", "ERROR tests/"))]
            if proc.returncode != 1:
                return True, f"pytest exited {proc.returncode}: {proc.stdout.strip().splitlines()[-1:]}", 0.0
            return True, failed[0] if failed else "a test failed", time.monotonic() - started
        return False, "SURVIVED: every test passed", time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--only", action="append", default=[], help="run only mutants whose name contains this")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per mutant")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.only or any(o in m.name for o in args.only)]
    survivors = []
    for mutant in chosen:
        killed, detail, seconds = run(mutant, args.timeout)
        print(f"{'killed  ' if killed else 'SURVIVED'} {mutant.name:<48} {seconds:6.1f} s  {detail}", flush=True)
        if not killed:
            survivors.append(mutant.name)
    print(f"{len(chosen) - len(survivors)} of {len(chosen)} mutants killed")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
