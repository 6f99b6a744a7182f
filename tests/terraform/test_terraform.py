"""terraform fmt, validate (root module, submodules and examples) and `terraform test` (tests/*.tftest.hcl and
modules/*/tests/*.tftest.hcl, mocked AWS)."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.terraform.tfrunner import MODULE_DIRS, REPO_ROOT, SUBMODULE_DIRS, Terraform

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
    """Every tests/*.tftest.hcl file passes, each with all of its run blocks.

    One `terraform test -filter=FILE` per file, all at once: a single `terraform test` runs the files one after
    the other on one core, and the files share nothing (each file's run blocks have their own state).
    """
    module = initialized(".")
    files = sorted((REPO_ROOT / "tests").glob("*.tftest.hcl"))
    runs = {f"tests/{p.name}": len(re.findall(r'^run "', p.read_text(), re.M)) for p in files}
    assert sum(runs.values()) > 0, runs
    assert sorted(str(p.relative_to(module)) for p in (module / "tests").glob("*.tftest.hcl")) == sorted(runs)

    def run(name: str) -> subprocess.CompletedProcess[str]:
        return terraform.run("test", "-no-color", f"-filter={name}", cwd=module, check=False, timeout=300)

    with ThreadPoolExecutor(max_workers=len(runs)) as pool:
        procs = dict(zip(runs, pool.map(run, runs), strict=True))
    for name, proc in procs.items():
        assert proc.returncode == 0, f"terraform test {name} failed:\n{proc.stdout}\n{proc.stderr}"
        assert f"{name}... pass" in proc.stdout, proc.stdout
        assert f"Success! {runs[name]} passed, 0 failed." in proc.stdout, proc.stdout


@pytest.mark.parametrize("relative", SUBMODULE_DIRS)
def test_submodule_terraform_test(terraform: Terraform, initialized: Callable[[str], Path], relative: str) -> None:
    """Each submodule's own tests (modules/<name>/tests/*.tftest.hcl) pass, with all of their run blocks; the
    root's tests/member_role.tftest.hcl (in test_terraform_test) compares the submodules with the root module."""
    files = sorted((REPO_ROOT / relative / "tests").glob("*.tftest.hcl"))
    runs = sum(len(re.findall(r'^run "', p.read_text(), re.M)) for p in files)
    assert files and runs > 0, f"{relative} has no tests/*.tftest.hcl"
    proc = terraform.run("test", "-no-color", cwd=initialized(relative), check=False, timeout=300)
    assert proc.returncode == 0, f"terraform test in {relative} failed:\n{proc.stdout}\n{proc.stderr}"
    assert f"Success! {runs} passed, 0 failed." in proc.stdout, proc.stdout
