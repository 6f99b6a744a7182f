"""Run Terraform offline: find the binary, point it at a provider mirror, share one plugin cache.

The runner itself lives in `sandbox.terraform` (the demo needs it without pytest); this module re-exports it and
adds the pytest-only `require_terraform`, and the submodules (modules/*: their .tf files, README and
tests/*.tftest.hcl) to `copy_module`, `MODULE_FILES` and `MODULE_DIRS`:

    binary = terraform_binary()              # None when there is no Terraform
    tf = Terraform.create(work_dir)          # writes work_dir/cli.tfrc, uses work_dir/plugin-cache
    tf.run("init", "-backend=false", cwd=module_dir)   # CompletedProcess[str]; raises on failure unless check=False
    dest = copy_module(tmp)                  # the module (+ lambda_dist, tests/*.tftest.hcl, examples) in tmp

Environment: TERRAFORM_BIN (binary; default `terraform` on PATH), TF_PROVIDER_MIRROR (folder above
registry.terraform.io of a filesystem mirror; empty = Terraform's normal installation), AAR_REQUIRE_TERRAFORM=1
(turns "skip when missing or older than 1.7.0" into a failure, see `require_terraform`).
"""

from __future__ import annotations

import functools
import os
import shutil
import warnings
from pathlib import Path

from sandbox.terraform import (
    MIN_TEST_TERRAFORM,
    REPO_ROOT,
    Terraform,
    terraform_binary,
    terraform_version,
    too_old_for_tests,
    write_cli_config,
)
from sandbox.terraform import MODULE_DIRS as ROOT_MODULE_DIRS
from sandbox.terraform import MODULE_FILES as ROOT_MODULE_FILES
from sandbox.terraform import copy_module as copy_root_module
from sandbox.terraform import hcl_string as _hcl_string

# The root module calls modules/permissions; modules/member-role and modules/member-role-stackset are used on their
# own (examples/member-role). Each submodule is validated, scanned and documented like the root module.
SUBMODULE_FILES = ("modules/*/*.tf", "modules/*/README.md", "modules/*/tests/*.tftest.hcl")
SUBMODULE_DIRS = ("modules/permissions", "modules/member-role", "modules/member-role-stackset")
MODULE_FILES = (*ROOT_MODULE_FILES, *SUBMODULE_FILES)
MODULE_DIRS = (*ROOT_MODULE_DIRS, "examples/member-role", *SUBMODULE_DIRS)


def copy_module(dest: Path, source: Path = REPO_ROOT) -> Path:
    """sandbox.terraform.copy_module (the root module, its zip, tests and examples) plus the submodules."""
    copy_root_module(dest, source)
    for pattern in SUBMODULE_FILES:
        for path in sorted(source.glob(pattern)):
            target = dest / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    return dest


__all__ = [
    "MIN_TEST_TERRAFORM",
    "MODULE_DIRS",
    "MODULE_FILES",
    "REPO_ROOT",
    "ROOT_MODULE_DIRS",
    "SUBMODULE_DIRS",
    "Terraform",
    "_hcl_string",  # kept for callers of the old private name
    "copy_module",
    "require_terraform",
    "terraform_binary",
    "terraform_required",
    "terraform_version",
    "too_old_for_tests",
    "write_cli_config",
]


def terraform_required() -> bool:
    return os.environ.get("AAR_REQUIRE_TERRAFORM") == "1"


def require_terraform() -> str:
    """The binary, when it is recent enough for the tests (MIN_TEST_TERRAFORM: mock_provider needs 1.7); otherwise
    skip the calling test loudly (skip + warning), or fail when AAR_REQUIRE_TERRAFORM=1."""
    import pytest  # only needed inside tests

    binary = terraform_binary()
    if binary is None:
        message = "terraform binary not found (PATH or TERRAFORM_BIN): Terraform checks NOT RUN"
    else:
        reason = _too_old(binary)
        if reason is None:
            return binary
        message = f"{reason}: Terraform checks NOT RUN"
    if terraform_required():
        pytest.fail(f"{message} and AAR_REQUIRE_TERRAFORM=1")
    warnings.warn(message, UserWarning, stacklevel=2)
    pytest.skip(message)


@functools.cache
def _too_old(binary: str) -> str | None:
    """too_old_for_tests, asked once per binary and session (every Terraform test calls require_terraform)."""
    return too_old_for_tests(binary)
