"""The README's offline blocks, run as written: `aa-remediate plan` and `--version`, and the remediation example."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from access_analyzer_remediation.cli import main
from tests.readme_blocks import REPO_ROOT, all_blocks, cli_lines, cli_reference, kind

# "role Audit_CrossAccountRole can be assumed by account 999988887777": the trust policy behind README's example.
GRANTING = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"}
    ],
}


def readme_line(command: str) -> tuple[str, ...]:
    [line] = [line for line in cli_lines(cli_reference()) if line.argv[:1] == (command,)]
    return line.argv


def run(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as done:  # argparse's --version
        code = int(done.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_the_remediation_example_is_what_plan_adds(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "trust-policy.json").write_text(json.dumps(GRANTING))
    monkeypatch.chdir(tmp_path)
    argv = tuple(str(REPO_ROOT / a) if a.startswith("tests/events/") else a for a in readme_line("plan"))
    code, out, err = run(capsys, argv)
    assert (code, err) == (0, ""), err
    [example] = [b.text.strip() for b in all_blocks() if kind(b) == "remediation-statement"]
    assert f"  + {example}\n" in out, out
    assert out.startswith("decision: remediate (external_access_denied)\n"), out


def test_version_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, readme_line("--version"))
    assert (code, err) == (0, "") and out.startswith("aa-remediate ") and out.count("\n") == 1, out
