"""Run Terraform offline: find the binary, point it at a provider mirror, share one plugin cache.

The runner itself lives in `sandbox.terraform` (the demo needs it without pytest); this module re-exports it
unchanged and adds the pytest-only `require_terraform`:

    binary = terraform_binary()              # None when there is no Terraform
    tf = Terraform.create(work_dir)          # writes work_dir/cli.tfrc, uses work_dir/plugin-cache
    tf.run("init", "-backend=false", cwd=module_dir)   # CompletedProcess[str]; raises on failure unless check=False
    dest = copy_module(tmp)                  # the module (+ lambda_dist, tests/*.tftest.hcl, examples) in tmp

Environment: TERRAFORM_BIN (binary; default `terraform` on PATH), TF_PROVIDER_MIRROR (folder above
registry.terraform.io of a filesystem mirror; empty = Terraform's normal installation), AAR_REQUIRE_TERRAFORM=1
(turns "skip when missing" into a failure, see `require_terraform`).
"""

from __future__ import annotations

import os
import warnings

from sandbox.terraform import (
    MODULE_DIRS,
    MODULE_FILES,
    REPO_ROOT,
    Terraform,
    copy_module,
    terraform_binary,
    write_cli_config,
)
from sandbox.terraform import hcl_string as _hcl_string

__all__ = [
    "MODULE_DIRS",
    "MODULE_FILES",
    "REPO_ROOT",
    "Terraform",
    "_hcl_string",  # kept for callers of the old private name
    "copy_module",
    "require_terraform",
    "terraform_binary",
    "terraform_required",
    "write_cli_config",
]


def terraform_required() -> bool:
    return os.environ.get("AAR_REQUIRE_TERRAFORM") == "1"


def require_terraform() -> str:
    """The binary; otherwise skip the calling test loudly (skip + warning), or fail when AAR_REQUIRE_TERRAFORM=1."""
    import pytest  # only needed inside tests

    binary = terraform_binary()
    if binary:
        return binary
    message = "terraform binary not found (PATH or TERRAFORM_BIN): Terraform checks NOT RUN"
    if terraform_required():
        pytest.fail(f"{message} and AAR_REQUIRE_TERRAFORM=1")
    warnings.warn(message, UserWarning, stacklevel=2)
    pytest.skip(message)
