"""Run Terraform offline: find the binary, point it at a provider mirror, share one plugin cache.

Reusable outside pytest-terraform (the sandbox imports it too):

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
import shutil
import subprocess
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
MODULE_FILES = (
    "*.tf",
    "lambda_dist/*.zip",
    "tests/*.tftest.hcl",
    "examples/*/*.tf",
    "examples/*/README.md",
    "README.md",
)
# The root module and the examples (relative to the repo root).
MODULE_DIRS = (".", "examples/basic", "examples/complete")


def terraform_binary() -> str | None:
    """TERRAFORM_BIN if set (must exist), else `terraform` on PATH, else None."""
    explicit = os.environ.get("TERRAFORM_BIN")
    if explicit:
        return explicit if Path(explicit).is_file() else shutil.which(explicit)
    return shutil.which("terraform")


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


def write_cli_config(path: Path, mirror: str | None) -> Path:
    """A CLI config installing every registry.terraform.io provider from `mirror` (empty/None: an empty config)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if mirror:
        path.write_text(
            "provider_installation {\n"
            f"  filesystem_mirror {{\n    path    = {_hcl_string(mirror)}\n"
            '    include = ["registry.terraform.io/*/*"]\n  }\n'
            '  direct {\n    exclude = ["registry.terraform.io/*/*"]\n  }\n}\n'
        )
    else:
        path.write_text("")
    return path


def _hcl_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Terraform:
    binary: str
    env: Mapping[str, str]

    @classmethod
    def create(cls, work_dir: Path, *, binary: str | None = None, mirror: str | None = None) -> Terraform:
        """Write work_dir/cli.tfrc and use work_dir/plugin-cache; mirror defaults to env TF_PROVIDER_MIRROR."""
        found = binary or terraform_binary()
        if not found:
            raise FileNotFoundError("terraform binary not found (PATH or TERRAFORM_BIN)")
        mirror = os.environ.get("TF_PROVIDER_MIRROR", "") if mirror is None else mirror
        cache = work_dir / "plugin-cache"
        cache.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "TF_CLI_CONFIG_FILE": str(write_cli_config(work_dir / "cli.tfrc", mirror)),
            "TF_PLUGIN_CACHE_DIR": str(cache),
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
        }
        return cls(binary=found, env=env)

    def run(
        self, *args: str, cwd: Path, check: bool = True, stdin: str | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """`terraform <args>` in cwd; raises AssertionError with the output on failure when check."""
        proc = subprocess.run(
            [self.binary, *args],
            cwd=cwd,
            env=dict(self.env),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"terraform {' '.join(args)} failed in {cwd} (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def init(self, cwd: Path) -> subprocess.CompletedProcess[str]:
        return self.run("init", "-backend=false", "-input=false", "-no-color", cwd=cwd)


def copy_module(dest: Path, source: Path = REPO_ROOT) -> Path:
    """Copy the root module, its zip, its .tftest.hcl files and the examples to dest (same layout); returns dest."""
    for pattern in MODULE_FILES:
        for path in sorted(source.glob(pattern)):
            target = dest / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    return dest
