"""checkov (pinned, its own venv, offline) finds nothing on the module and the examples; every skip has a reason."""

from __future__ import annotations

import json
import os
import subprocess
import warnings
from pathlib import Path
from typing import Any

import pytest

from tests.terraform.tfrunner import MODULE_DIRS, REPO_ROOT, ROOT_MODULE_DIRS, copy_module

# Reviewed inline skips (#checkov:skip=ID:reason); a new skip must be added here on purpose.
# CKV_AWS_109/111/356: key policies (Resource "*" means that key) of the topic key and of examples/complete's key.
MODULE_SKIPS = {
    "CKV_AWS_116",
    "CKV_AWS_117",
    "CKV_AWS_173",
    "CKV_AWS_272",
    "CKV_AWS_297",
    "CKV_AWS_109",
    "CKV_AWS_111",
    "CKV_AWS_356",
}
EXPECTED_SKIPS = dict.fromkeys(ROOT_MODULE_DIRS, MODULE_SKIPS)
# The submodules and their example carry no inline skip; they are small (modules/permissions is one policy
# document), so fewer checks apply to them than to the root module and its examples.
EXPECTED_SKIPS |= {relative: set() for relative in MODULE_DIRS if relative not in EXPECTED_SKIPS}
MIN_PASSED = {relative: 50 if relative in ROOT_MODULE_DIRS else 10 for relative in MODULE_DIRS}


def checkov_binary() -> str:
    configured = os.environ.get("CHECKOV_BIN")
    if configured:
        assert Path(configured).is_file(), f"CHECKOV_BIN={configured} does not exist (make .venv-checkov/.installed)"
        return configured
    default = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
    if default.is_file():
        return str(default)
    message = "checkov not found (CHECKOV_BIN or .venv-checkov): checkov NOT RUN; `make test` installs it"
    warnings.warn(message, UserWarning, stacklevel=2)
    pytest.skip(message)


@pytest.fixture(scope="module")
def scan_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_module(tmp_path_factory.mktemp("checkov"))


@pytest.mark.parametrize("relative", MODULE_DIRS)
def test_checkov(scan_root: Path, relative: str) -> None:
    command = [checkov_binary(), "-d", str(scan_root / relative), "--framework", "terraform", "--skip-download"]
    # checkov cannot parse .tftest.hcl files (the root's tests/, each submodule's tests/).
    command += ["--skip-path", "tests"]
    if relative == ".":
        command += ["--skip-path", "examples"]
    proc = subprocess.run(
        [*command, "--output", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.stdout.strip(), proc.stderr
    reports: Any = json.loads(proc.stdout)
    report = next(r for r in (reports if isinstance(reports, list) else [reports]) if r["check_type"] == "terraform")
    summary, results = report["summary"], report["results"]
    failed = [f"{c['check_id']} {c['resource']} {c['file_path']}" for c in results["failed_checks"]]
    assert summary["failed"] == 0, "\n".join(failed)
    assert summary["parsing_errors"] == 0, results["parsing_errors"]
    assert summary["passed"] > MIN_PASSED[relative], summary
    skipped = {c["check_id"]: c["check_result"].get("suppress_comment", "") for c in results["skipped_checks"]}
    assert set(skipped) == EXPECTED_SKIPS[relative]
    assert all(len(reason) > 20 for reason in skipped.values()), skipped
