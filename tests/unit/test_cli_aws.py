"""`aa-remediate remediate | sweep | revert | status` against the sandbox (same code path as the Lambda)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from access_analyzer_remediation.cli import main

from .conftest import Aws, trust_policy

EXTERNAL = "999988887777"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_a_dry_run_under_notify_mode_says_notify(
    cli_env: Aws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    aws = cli_env
    monkeypatch.setenv("AAR_MODE", "notify")
    aws.create_role("NotifyOnly", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    code, dry = _run(
        capsys, "remediate", "--analyzer-arn", aws.standin.analyzer_arn, "--finding-id", finding["id"], "--dry-run"
    )
    assert code == 0 and dry["counts"] == {"notify": 1}
    [row] = dry["findings"]
    assert (row["reason"], row["summary"]) == ("notify_mode", f"would deny {EXTERNAL} (sts:AssumeRole) (notify mode)")


def test_remediate_dry_run_writes_nothing_then_remediate_then_status_then_revert(
    cli_env: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    aws = cli_env
    original = trust_policy({"AWS": EXTERNAL})
    aws.create_role("Cli", original)
    [finding] = aws.analyze()
    analyzer = aws.standin.analyzer_arn

    code, dry = _run(capsys, "remediate", "--analyzer-arn", analyzer, "--finding-id", finding["id"], "--dry-run")
    assert code == 0 and dry["dry_run"] is True and dry["counts"] == {"remediate": 1}  # what it would do now
    [row] = dry["findings"]
    assert (row["reason"], row["summary"]) == ("external_access_denied", f"would deny {EXTERNAL} (sts:AssumeRole)")
    assert aws.policy("Cli") == original and aws.audit_items() == [] and aws.emails() == []

    code, done = _run(capsys, "remediate", "--analyzer-arn", analyzer, "--finding-id", finding["id"])
    assert code == 0 and done["counts"] == {"remediate": 1}
    assert aws.policy("Cli") != original
    assert len(aws.emails()) == 1

    code, status = _run(capsys, "status", "--finding-id", finding["id"])
    assert code == 0 and [r["decision"] for r in status["records"]] == ["remediate"]

    code, reverted = _run(capsys, "revert", "--finding-id", finding["id"], "--archive")
    assert code == 0 and reverted["archived"] is True
    assert aws.policy("Cli") == original
    assert aws.standin.findings()[0]["status"] == "ARCHIVED"

    code, again = _run(capsys, "revert", "--finding-id", finding["id"])
    assert code == 1 and again["reverted"] is False


def test_sweep_reports_progress_and_counts(cli_env: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    aws = cli_env
    for n in range(3):
        aws.create_role(f"Sweep{n}", trust_policy({"AWS": EXTERNAL}))
    aws.analyze()
    code = main(["sweep", "--analyzer-arn", aws.standin.analyzer_arn, "--no-notify"])
    captured = capsys.readouterr()
    assert code == 0
    assert "... 3 findings: 3 remediate" in captured.err
    assert captured.out.strip().endswith("3 remediate")


@pytest.mark.parametrize(
    "argv",
    [
        ["remediate", "--analyzer-arn", "not-an-arn", "--finding-id", "x"],
        [
            "remediate",
            "--analyzer-arn",
            "arn:aws:access-analyzer:us-east-1:123456789012:analyzer/other",
            "--finding-id",
            "x",
        ],
    ],
)
def test_bad_analyzer_exits_2(cli_env: Aws, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("aa-remediate: error:")


def test_missing_table_setting_exits_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("AAR_AUDIT_TABLE_NAME", raising=False)
    assert main(["status", "--finding-id", "x"]) == 2
    assert "AAR_AUDIT_TABLE_NAME" in capsys.readouterr().err


def test_revert_all_is_a_dry_run_first_then_removes_every_deny_audited(
    cli_env: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    aws = cli_env
    originals = {}
    for name, principal in (("AllOne", {"AWS": EXTERNAL}), ("AllTwo", {"AWS": f"arn:aws:iam::{EXTERNAL}:user/Bob"})):
        originals[name] = trust_policy(principal)
        aws.create_role(name, originals[name])
    findings = aws.analyze()
    code, _ = _run(capsys, "sweep", "--analyzer-arn", aws.standin.analyzer_arn, "--no-notify")
    assert code == 0 and all(aws.policy(n) != p for n, p in originals.items())

    code, dry = _run(capsys, "revert", "--all")
    assert code == 0 and dry["dry_run"] is True
    assert sorted(r["role_arn"].rsplit("/", 1)[-1] for r in dry["roles"]) == ["AllOne", "AllTwo"]
    assert all(aws.policy(n) != p for n, p in originals.items())  # a dry run changes nothing

    code, done = _run(capsys, "revert", "--all", "--yes")
    assert code == 0 and done["dry_run"] is False
    assert {n: aws.policy(n) for n in originals} == originals
    reverts = [i for i in aws.audit_items() if i["record_type"]["S"] == "REVERT"]
    assert sorted(i["finding_id"]["S"] for i in reverts) == sorted(f["id"] for f in findings)
    assert {i["reason"]["S"] for i in reverts} == {"uninstall"}
    code, again = _run(capsys, "revert", "--all", "--yes")
    assert code == 0 and again["roles"] == []
