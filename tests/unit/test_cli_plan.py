"""`aa-remediate plan`: offline, on the documented sample event; bad input exits 2 with one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from access_analyzer_remediation.cli import main

from .conftest import EVENTS, trust_policy


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(trust_policy({"AWS": "arn:aws:iam::999988887777:user/Alice"}, {"AWS": "999988887777"})))
    return path


def test_plan_json_on_the_documented_sample_event(policy_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["plan", "--event", str(EVENTS / "iam_role_active.json"), "--policy", str(policy_file), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(result) >= {"decision", "reason", "statements_added", "policy"}
    assert result["decision"] == "remediate"
    assert result["statements_added"][0]["Principal"] == {"AWS": ["999988887777"]}
    assert result["policy"]["Statement"][-1] == result["statements_added"][0]


def test_plan_accepts_get_role_output_and_honours_tags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    get_role = {
        "Role": {
            "AssumeRolePolicyDocument": trust_policy({"AWS": "999988887777"}),
            "Tags": [{"Key": "access-analyzer-remediation:exempt", "Value": "true"}],
        }
    }
    path = tmp_path / "role.json"
    path.write_text(json.dumps(get_role))
    code = main(["plan", "--event", str(EVENTS / "iam_role_active.json"), "--policy", str(path), "--json"])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["reason"] == "exempt_tag"


@pytest.mark.parametrize(
    ("flags", "decision", "reason"),
    [
        (["--trusted-account", "999988887777"], "skip", "principal_in_zone_of_trust"),
        (["--mode", "notify"], "notify", "notify_mode"),
        (["--allowed-principal", "999988887777"], "notify", "allowlisted_principal"),
    ],
)
def test_plan_flags(
    policy_file: Path, capsys: pytest.CaptureFixture[str], flags: list[str], decision: str, reason: str
) -> None:
    main(["plan", "--event", str(EVENTS / "iam_role_active.json"), "--policy", str(policy_file), "--json", *flags])
    result = json.loads(capsys.readouterr().out)
    assert (result["decision"], result["reason"]) == (decision, reason)


def test_plan_human_output(policy_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--event", str(EVENTS / "iam_role_active.json"), "--policy", str(policy_file)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("decision: remediate (external_access_denied)")
    assert '+ {"Sid":"AccessAnalyzerDenyAccount' in out


def test_plan_of_an_ignored_event_is_skip(policy_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["plan", "--event", str(EVENTS / "iam_role_archived.json"), "--policy", str(policy_file), "--json"])
    assert json.loads(capsys.readouterr().out)["decision"] == "skip"


@pytest.mark.parametrize(
    "bad",
    [
        ["--event", "missing.json"],
        ["--trusted-account", "12"],
        ["--trusted-org-id", "org"],
        ["--max-chars", "100"],
        ["--event", "__not_json__"],
        ["--event", "__bad_event__"],
        ["--policy", "__bad_policy__"],
    ],
)
def test_bad_input_exits_2_with_one_line(
    policy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: list[str]
) -> None:
    (tmp_path / "__not_json__").write_text("{nope")
    (tmp_path / "__bad_event__").write_text(json.dumps({"source": "aws.access-analyzer"}))
    (tmp_path / "__bad_policy__").write_text(json.dumps({"Version": "2012-10-17"}))
    args = {"--event": str(EVENTS / "iam_role_active.json"), "--policy": str(policy_file)}
    for flag, value in zip(bad[::2], bad[1::2], strict=True):
        args[flag] = str(tmp_path / value) if value.startswith("__") else value
    argv = ["plan"] + [item for pair in args.items() for item in pair]
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("aa-remediate: error: ")
