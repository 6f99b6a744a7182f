"""The READMEs' Terraform blocks, as written, against a mocked AWS (`terraform test`, command = apply): each module
block of README.md as a root module of its own, and each example's `terraform apply -var ...` line with its
variables. Validations, the module's types, preconditions and checks must all accept them. With the defaults the
test's own teardown (a mocked destroy) meets uninstall.tf's destroy guard, as a real destroy would: that refusal is
the one teardown error allowed.

Substitutions, and why: the registry `source` becomes the module copy (the registry is not reachable here) and the
registry-only `version` argument goes; the mocked provider is tests/module.tftest.hcl's, its overrides addressed
inside the module.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from tests.readme_blocks import Block, all_blocks, kind
from tests.terraform.tfrunner import REPO_ROOT, Terraform, copy_module

pytestmark = pytest.mark.terraform
MODULE_NAME = "access_analyzer_remediation"


def mocked_provider() -> str:
    """tests/module.tftest.hcl's mock_provider block, its override targets moved into the module call."""
    text = (REPO_ROOT / "tests" / "module.tftest.hcl").read_text()
    start = text.index('mock_provider "aws" {')
    block = text[start : text.index("\n}\n", start) + 3]
    return re.sub(r"(target\s*=\s*)(aws_\w+\.\w+)", rf"\1module.{MODULE_NAME}.\2", block)


def tftest_file(variables: dict[str, str]) -> str:
    assigned = "".join(f'  {name} = "{value}"\n' for name, value in variables.items())
    return f'{mocked_provider()}\nvariables {{\n{assigned}}}\n\nrun "readme" {{\n  command = apply\n}}\n'


def run_readme_test(terraform: Terraform, root: Path) -> None:
    terraform.init(root)
    proc = terraform.run("test", "-no-color", cwd=root, check=False, timeout=300)
    output = f"{proc.stdout}\n{proc.stderr}"
    assert 'run "readme"... pass' in proc.stdout and "! 1 passed, 0 failed." in proc.stdout, output
    if proc.returncode != 0:  # only the destroy guard may refuse the teardown
        errors = re.findall(r"^\s*Error: (.*)$", output, re.MULTILINE)
        assert set(errors) == {"local-exec provisioner error"}, output
        assert "terraform_data.destroy_guard" in output and "STOP: terraform destroy has removed nothing" in output


@pytest.fixture(scope="module")
def readme_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A module copy of its own: the roots written into it must not reach the session copy that `terraform fmt`
    and `validate` check."""
    return copy_module(tmp_path_factory.mktemp("readme-module"))


def of_kind(name: str) -> list[Block]:
    found = [block for block in all_blocks() if kind(block) == name]
    assert found, name
    return found


@pytest.mark.parametrize("block", of_kind("module-block"), ids=lambda b: b.where)
def test_module_blocks_plan(terraform: Terraform, readme_copy: Path, block: Block) -> None:
    root = readme_copy / "readme" / f"line-{block.line}"  # two levels below the module copy, as examples/*
    root.mkdir(parents=True)
    source = re.sub(r'^(\s*source\s*=\s*)"[^"]*"$', r'\1"../.."', block.text, count=1, flags=re.MULTILINE)
    source = re.sub(r"^\s*version\s*=.*\n", "", source, flags=re.MULTILINE)
    assert source.count('"../.."') == 1 and "version" not in source, source
    (root / "main.tf").write_text(source)
    shutil.copy(readme_copy / "examples" / "basic" / "versions.tf", root)  # what a root module declares anyway
    (root / "readme.tftest.hcl").write_text(tftest_file({}))
    run_readme_test(terraform, root)


@pytest.mark.parametrize("block", of_kind("example-apply"), ids=lambda b: b.where)
def test_example_commands_plan(terraform: Terraform, readme_copy: Path, block: Block) -> None:
    [apply] = [shlex.split(line) for line in block.text.splitlines() if line.startswith("terraform apply")]
    variables = dict(a.split("=", 1) for a in apply[apply.index("-var") + 1 :: 2])
    assert apply[2::2] == ["-var"] * len(variables), apply  # nothing but -var NAME=VALUE pairs
    example = Path(block.document).parent.name
    root = readme_copy / "readme-examples" / example  # the same depth as examples/<name>: source "../.." holds
    shutil.copytree(readme_copy / "examples" / example, root, ignore=shutil.ignore_patterns(".terraform*"))
    (root / "readme.tftest.hcl").write_text(tftest_file(variables))
    run_readme_test(terraform, root)
