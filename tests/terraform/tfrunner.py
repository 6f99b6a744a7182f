"""Run Terraform offline: find the binary, point it at a provider mirror, share one plugin cache.

The runner itself lives in `sandbox.terraform` (the demo needs it without pytest); this module re-exports it
unchanged and adds the pytest-only `require_terraform`:

    binary = terraform_binary()              # None when there is no Terraform
    tf = Terraform.create(work_dir)          # writes work_dir/cli.tfrc, uses work_dir/plugin-cache
    tf.run("init", "-backend=false", cwd=module_dir)   # CompletedProcess[str]; raises on failure unless check=False
    dest = copy_module(tmp)                  # the module (+ lambda_dist, tests, examples, modules/) in tmp

Environment: TERRAFORM_BIN (binary; default `terraform` on PATH), TF_PROVIDER_MIRROR (folder above
registry.terraform.io of a filesystem mirror; empty = Terraform's normal installation), AAR_REQUIRE_TERRAFORM=1
(turns "skip when missing or older than 1.7.0" into a failure, see `require_terraform`).
"""

from __future__ import annotations

import functools
import os
import warnings

from sandbox.terraform import (
    MIN_TEST_TERRAFORM,
    MODULE_DIRS,
    MODULE_FILES,
    REPO_ROOT,
    ROOT_MODULE_DIRS,
    SUBMODULE_DIRS,
    Terraform,
    copy_module,
    terraform_binary,
    terraform_version,
    too_old_for_tests,
    write_cli_config,
)
from sandbox.terraform import hcl_string as _hcl_string

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
