"""Run Terraform offline: find the binary, point it at a provider mirror, copy the module out of the repository.

Used by the demo (`sandbox.demo`), the integration tests and, re-exported unchanged, by
``tests/terraform/tfrunner.py`` (which adds the pytest-only `require_terraform`):

    binary = terraform_binary()              # None when there is no Terraform
    too_old_for_tests(binary)                # "terraform 1.6.6 found, the tests need >= 1.7.0", or None
    tf = Terraform.create(work_dir)          # writes work_dir/cli.tfrc, uses work_dir/plugin-cache
    tf.run("init", "-backend=false", cwd=module_dir)   # CompletedProcess[str]; raises on failure unless check=False
    dest = copy_module(tmp)                  # the module (+ lambda_dist, tests/*.tftest.hcl, examples) in tmp

Environment: TERRAFORM_BIN (binary; default `terraform` on PATH), TF_PROVIDER_MIRROR (folder above
registry.terraform.io of a filesystem mirror; empty = Terraform's normal installation).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
MODULE_FILES = (
    "*.tf",
    "lambda_dist/*.zip",
    "tests/*.tftest.hcl",
    "examples/*/*.tf",
    "examples/*/README.md",
    "README.md",
    # The root module calls modules/permissions; the member-role and regional submodules are used on their own.
    "modules/*/*.tf",
    "modules/*/README.md",
    "modules/*/tests/*.tftest.hcl",
)
# The root module and the examples (relative to the repo root).
ROOT_MODULE_DIRS = (
    ".",
    "examples/basic",
    "examples/complete",
    "examples/multi-region",
    "examples/regional",
    "examples/organization",
)
# The submodules, each validated, scanned, documented and tested like the root module.
SUBMODULE_DIRS = ("modules/permissions", "modules/member-role", "modules/member-role-stackset", "modules/regional")
MODULE_DIRS = (*ROOT_MODULE_DIRS, "examples/member-role", *SUBMODULE_DIRS)


# The Makefile's default mirror (TF_PROVIDER_MIRROR ?= /opt/tf-plugins when it holds registry.terraform.io).
DEFAULT_PROVIDER_MIRROR = Path("/opt/tf-plugins")


def provider_mirror() -> str:
    """TF_PROVIDER_MIRROR when set (empty = Terraform's normal installation), else the Makefile's default when it
    exists, else "". For entry points that may run without make (the demo, `pytest tests/integration`)."""
    configured = os.environ.get("TF_PROVIDER_MIRROR")
    if configured is not None:
        return configured
    return str(DEFAULT_PROVIDER_MIRROR) if (DEFAULT_PROVIDER_MIRROR / "registry.terraform.io").is_dir() else ""


def terraform_binary() -> str | None:
    """TERRAFORM_BIN if set (must exist), else `terraform` on PATH, else None."""
    explicit = os.environ.get("TERRAFORM_BIN")
    if explicit:
        return explicit if Path(explicit).is_file() else shutil.which(explicit)
    return shutil.which("terraform")


# The oldest Terraform the TESTS run on: tests/*.tftest.hcl use mock_provider and override_resource (Terraform 1.7).
# The module itself needs only versions.tf's `required_version` (>= 1.5.7; the demo and users).
MIN_TEST_TERRAFORM = (1, 7, 0)


def terraform_version(binary: str) -> tuple[int, int, int] | None:
    """`terraform version -json`'s version as (major, minor, patch); None when it cannot be read."""
    try:
        proc = subprocess.run(
            [binary, "version", "-json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "CHECKPOINT_DISABLE": "1"},
        )
        text = str(json.loads(proc.stdout)["terraform_version"])
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, TypeError):
        return None
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", text)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def too_old_for_tests(binary: str) -> str | None:
    """Why `binary` cannot run the tests ("terraform X.Y.Z found, the tests need >= 1.7.0"), or None when it can."""
    found = terraform_version(binary)
    need = ".".join(map(str, MIN_TEST_TERRAFORM))
    if found is None:
        return f"terraform at {binary} did not report its version (`terraform version -json`), the tests need >= {need}"
    if found < MIN_TEST_TERRAFORM:
        return f"terraform {'.'.join(map(str, found))} found, the tests need >= {need}"
    return None


def write_cli_config(path: Path, mirror: str | None) -> Path:
    """A CLI config installing every registry.terraform.io provider from `mirror` (empty/None: an empty config)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if mirror:
        path.write_text(
            "provider_installation {\n"
            f"  filesystem_mirror {{\n    path    = {hcl_string(mirror)}\n"
            '    include = ["registry.terraform.io/*/*"]\n  }\n'
            '  direct {\n    exclude = ["registry.terraform.io/*/*"]\n  }\n}\n'
        )
    else:
        path.write_text("")
    return path


def hcl_string(value: str) -> str:
    """A quoted HCL string literal: backslashes and quotes escaped, ``${`` and ``%{`` kept literal."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped.replace("${", "$${").replace("%{", "%%{") + '"'


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

    def stream(
        self, *args: str, cwd: Path, on_line: Callable[[str], None], timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """Like `run` (check=True), but hands every output line to `on_line` as it arrives (progress output).

        stderr is merged into stdout so that an error shows up in order with the lines before it.
        """
        with subprocess.Popen(
            [self.binary, *args],
            cwd=cwd,
            env=dict(self.env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as proc:
            assert proc.stdout is not None
            lines: list[str] = []
            try:
                for line in proc.stdout:
                    lines.append(line)
                    on_line(line.rstrip("\n"))
                returncode = proc.wait(timeout=timeout)
            except BaseException:
                proc.kill()  # this one child: never leave a terraform (and its provider plugins) behind
                raise
        output = "".join(lines)
        if returncode != 0:
            raise AssertionError(f"terraform {' '.join(args)} failed in {cwd} (exit {returncode}):\n{output}")
        return subprocess.CompletedProcess([self.binary, *args], returncode, output, "")

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
