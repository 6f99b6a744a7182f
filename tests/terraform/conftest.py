"""Session fixtures: one Terraform CLI config + plugin cache, one copy of the module, one `init` per directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.terraform.tfrunner import Terraform, copy_module, require_terraform


@pytest.fixture(scope="session")
def terraform(tmp_path_factory: pytest.TempPathFactory) -> Terraform:
    binary = require_terraform()
    return Terraform.create(tmp_path_factory.mktemp("terraform-cli"), binary=binary)


@pytest.fixture(scope="session")
def module_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module, its tests and examples copied out of the repo, so no .terraform folder appears in it."""
    return copy_module(tmp_path_factory.mktemp("module"))


@pytest.fixture(scope="session")
def initialized(terraform: Terraform, module_copy: Path) -> Callable[[str], Path]:
    """initialized("examples/basic") -> that directory of the copy, `terraform init` done once per session."""
    done: set[str] = set()

    def init(relative: str) -> Path:
        directory = module_copy / relative
        if relative not in done:
            terraform.init(directory)
            done.add(relative)
        return directory

    return init
