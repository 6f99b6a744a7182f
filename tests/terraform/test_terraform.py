"""terraform fmt, validate (root module and examples) and `terraform test` (tests/*.tftest.hcl, mocked AWS)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.terraform.tfrunner import MODULE_DIRS, REPO_ROOT, Terraform

pytestmark = pytest.mark.terraform


def test_fmt(terraform: Terraform, module_copy: Path) -> None:
    proc = terraform.run("fmt", "-check", "-recursive", "-diff", "-no-color", cwd=module_copy, check=False)
    assert proc.returncode == 0, f"terraform fmt -check failed (run `terraform fmt -recursive`):\n{proc.stdout}"


@pytest.mark.parametrize("relative", MODULE_DIRS)
def test_validate(terraform: Terraform, initialized: Callable[[str], Path], relative: str) -> None:
    proc = terraform.run("validate", "-json", "-no-color", cwd=initialized(relative), check=False)
    result = json.loads(proc.stdout)
    assert result["valid"], json.dumps(result["diagnostics"], indent=2)
    assert result["warning_count"] == 0, json.dumps(result["diagnostics"], indent=2)


def test_terraform_test(terraform: Terraform, initialized: Callable[[str], Path]) -> None:
    proc = terraform.run("test", "-no-color", cwd=initialized("."), check=False, timeout=300)
    assert proc.returncode == 0, f"terraform test failed:\n{proc.stdout}\n{proc.stderr}"
    runs = sum(len(re.findall(r'^run "', p.read_text(), re.M)) for p in (REPO_ROOT / "tests").glob("*.tftest.hcl"))
    assert runs > 0
    assert f"Success! {runs} passed, 0 failed." in proc.stdout, proc.stdout
