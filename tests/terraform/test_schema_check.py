"""The module and examples against the hashicorp/aws 6.25 schema (../shared/tools/tf-schema-check)."""

from __future__ import annotations

import subprocess
import sys
import warnings
from importlib.metadata import version

import pytest

from tests.terraform.tfrunner import MODULE_DIRS, REPO_ROOT

CHECKER = REPO_ROOT.parent / "shared" / "tools" / "tf-schema-check" / "tf_schema_check.py"


def test_schema_check() -> None:
    if not CHECKER.is_file():
        message = f"{CHECKER} not found (clone the repo next to shared/): provider 6.x schema check NOT RUN"
        warnings.warn(message, UserWarning, stacklevel=1)
        pytest.skip(message)
    assert version("python-hcl2") == "8.1.4", "tf-schema-check is pinned to python-hcl2 8.1.4"
    proc = subprocess.run(
        [sys.executable, str(CHECKER), *MODULE_DIRS], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines()[-1].startswith("OK: "), proc.stdout
