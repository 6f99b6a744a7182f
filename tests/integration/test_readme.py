"""README's CLI reference, line by line, against the deployment (tests/readme_blocks.py maps every README block).

Each `aa-remediate` line runs as written, with FINDING_ID and ARN replaced by a finding the deployment just handled
and by the deployment's analyzer; the environment is the deployment's `cli_environment` (the `eval` line; on its own
it is tested by test_cli_environment_output_alone_configures_the_cli). The offline lines (plan, --version) run in
tests/unit/test_readme.py. Every line must succeed and do what its comment says.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sandbox.deployment import CliResult, trust_policy
from tests.integration.targets import SandboxTarget
from tests.readme_blocks import cli_lines, cli_reference

OFFLINE = {"plan", "--version"}


def _external(target: SandboxTarget) -> tuple[str, str, dict[str, Any]]:
    """A role granting the external account: (name, ARN, trust policy as IAM stored it)."""
    name = target.unique("aar-readme-")
    statement = {"Effect": "Allow", "Principal": {"AWS": target.external_account}, "Action": "sts:AssumeRole"}
    arn = target.create_role(name, trust_policy(target.guard(statement)))
    return name, arn, target.trust_policy(name)


def _remediated(target: SandboxTarget) -> tuple[str, str, dict[str, Any]]:
    """(role name, finding id, original trust policy) of a finding the deployed function has just contained."""
    name, arn, original = _external(target)
    with target.enforcing():
        contained = target.contain(arn, expected=1)
    [finding] = contained.findings
    assert target.trust_policy(name) != original
    return name, str(finding["id"]), original


def test_every_cli_line_runs(sandbox: SandboxTarget) -> None:
    target, analyzer_arn = sandbox, sandbox.local.deployment.analyzer_arns[0]
    lines = cli_lines(cli_reference())
    checked: list[str] = []

    def run(argv: tuple[str, ...], finding_id: str) -> CliResult:
        words = [finding_id if w == "FINDING_ID" else analyzer_arn if w == "ARN" else w for w in argv]
        result = target.cli(*words)
        assert result.code == 0, f"{' '.join(argv)}: {result.stdout}\n{result.stderr}"
        return result

    def status(argv: tuple[str, ...]) -> None:
        _, finding_id, _ = _remediated(target)
        trail = run(argv, finding_id).stdout  # "the audit trail of one finding"
        assert "DECISION remediate external_access_denied" in trail and target.external_account in trail, trail

    def revert(argv: tuple[str, ...]) -> None:
        name, finding_id, original = _remediated(target)
        run(argv, finding_id)
        assert target.trust_policy(name) == original  # exactly the Deny added for it is gone

    def revert_all_dry_run(argv: tuple[str, ...]) -> None:
        name, finding_id, _ = _remediated(target)
        before = target.trust_policy(name)
        output = run(argv, finding_id).stdout
        assert target.trust_policy(name) == before and name in output, output  # listed, not removed

    def remediate_dry_run(argv: tuple[str, ...]) -> None:
        name, arn, original = _external(target)
        [finding] = target.rescan(arn, "", "ACTIVE")
        output = run(argv, str(finding["id"])).stdout
        assert "remediate" in output and target.trust_policy(name) == original, output
        assert target.queued_events() is not None  # the function takes the finding's event off the queue

    def sweep(argv: tuple[str, ...]) -> None:
        name, arn, original = _external(target)
        target.rescan(arn, "", "ACTIVE")
        run(argv, "")
        assert target.trust_policy(name) != original  # "every ACTIVE IAM role finding, here and now"
        target.queued_events()

    checks: dict[tuple[str, ...], Callable[[tuple[str, ...]], None]] = {
        ("status", "--finding-id", "FINDING_ID"): status,
        ("revert", "--finding-id", "FINDING_ID"): revert,
        ("revert", "--finding-id", "FINDING_ID", "--archive"): revert,
        ("revert", "--all"): revert_all_dry_run,
        ("remediate", "--analyzer-arn", "ARN", "--finding-id", "FINDING_ID", "--dry-run"): remediate_dry_run,
        ("sweep", "--analyzer-arn", "ARN"): sweep,
    }
    for line in lines:
        if line.argv[0] in OFFLINE:
            continue
        assert line.argv in checks, f"a README line no test runs: {line.text}"
        checks[line.argv](line.argv)
        checked.append(line.text)
    assert len(checked) == len(checks), json.dumps(checked, indent=2)
