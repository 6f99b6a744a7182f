"""What a release needs: the license, one version number everywhere, and a CLI that installs from the source alone.

pyproject.toml's `version` is the source; README (the module's usage and reference), CHANGELOG and UPGRADING.md must
say the same. The install test builds a wheel from the working tree and installs it into a fresh venv with nothing
but that wheel and its runtime dependencies (`pip install --no-index`), as `pip install "git+<repo url>"` or `pipx`
would from a clone: it costs about 20 s (a venv, botocore's many files), most of it in the install.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
PYPROJECT: dict[str, Any] = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
VERSION = str(PYPROJECT["project"]["version"])
# sha256 of the Apache License 2.0 as the ASF publishes it (https://www.apache.org/licenses/LICENSE-2.0.txt, 202
# lines, appendix included); the same bytes as s3transfer's and Debian's /usr/share/common-licenses/Apache-2.0.
APACHE_2_0_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def read(name: str) -> str:
    return (REPO_ROOT / name).read_text()


# ============================================================================================================ license
def test_license_is_the_complete_apache_2_0_text() -> None:
    text = read("LICENSE")
    assert hashlib.sha256(text.encode()).hexdigest() == APACHE_2_0_SHA256
    assert text.lstrip().startswith("Apache License\n                           Version 2.0, January 2004")
    for part in ("TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION", "END OF TERMS AND CONDITIONS"):
        assert part in text
    assert "APPENDIX: How to apply the Apache License to your work." in text


def test_package_metadata_declares_the_license_as_spdx() -> None:
    project = PYPROJECT["project"]
    assert project["license"] == "Apache-2.0"  # PEP 639: an SPDX expression, not the deprecated table
    assert project["license-files"] == ["LICENSE"]
    [backend] = PYPROJECT["build-system"]["requires"]
    assert re.fullmatch(r"setuptools>=(\d+)", backend) and int(backend.split(">=")[1]) >= 77, backend  # PEP 639


# ============================================================================================================ version
def test_one_version_number() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION), VERSION
    readme = read("README.md")
    constraints = re.findall(r'^\s*version\s*=\s*"~> ([0-9.]+)"', readme, re.M)
    assert constraints == [VERSION], f"README's module blocks pin {constraints}, pyproject says {VERSION}"
    assert f"This reference describes version {VERSION}" in readme

    changelog = read("CHANGELOG.md")
    headings = re.findall(r"^## \[([^]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", changelog, re.M)
    assert headings[0] == ("Unreleased", ""), headings
    assert headings[1][0] == VERSION and headings[1][1], f"the newest release in CHANGELOG is {headings[1]}"
    assert [v for v, _ in headings[1:]] == sorted((v for v, _ in headings[1:]), key=_semver, reverse=True)
    # Keep a Changelog: each kind of change (Added, Changed, ...) once per version, from its list of kinds.
    for section in re.split(r"^## ", changelog, flags=re.M)[1:]:
        kinds = re.findall(r"^### (.+)$", section, re.M)
        version = section.split("\n", 1)[0]
        assert len(kinds) == len(set(kinds)), f"CHANGELOG {version}: a kind of change twice: {kinds}"
        assert set(kinds) <= _CHANGE_KINDS, f"CHANGELOG {version}: {set(kinds) - _CHANGE_KINDS}"

    upgrading = read("UPGRADING.md")
    assert re.search(rf"^## From [0-9.]+ to {re.escape(VERSION)}$", upgrading, re.M), "UPGRADING.md: no section"


_CHANGE_KINDS = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def _semver(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def test_security_policy_exists() -> None:
    text = read("SECURITY.md")
    for heading in ("## Threat model", "## Recommended protections", "## Reporting a vulnerability"):
        assert heading in text, heading


# ============================================================================================================ install
def run(*command: str | Path, cwd: Path = REPO_ROOT, timeout: float = 300) -> str:
    proc = subprocess.run(
        [str(c) for c in command], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, (
        f"{' '.join(map(str, command))} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
    )
    return proc.stdout + proc.stderr


def test_the_cli_installs_from_a_wheel_of_the_source_tree(tmp_path: Path) -> None:
    """`pip wheel .` as pip/pipx do from a git URL, then a fresh venv with --no-index: nothing of this checkout or of
    the dev venv can leak in. The build runs without isolation (no download of setuptools; the dev venv has it)."""
    setuptools = installed_version("setuptools")
    assert int(setuptools.split(".")[0]) >= 77, f"setuptools {setuptools}: the dev venv needs >= 77 (make install)"
    wheels = tmp_path / "wheels"
    # -v: the backend's own output, where setuptools warns about deprecated metadata such as a `project.license` table.
    build = run(sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "-v", "-w", wheels)
    assert "SetuptoolsDeprecationWarning" not in build and "adding license file 'LICENSE'" in build, build[-3000:]
    [wheel] = wheels.glob("access_analyzer_remediation-*.whl")
    assert wheel.name == f"access_analyzer_remediation-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        info = Parser().parsestr(archive.read(f"access_analyzer_remediation-{VERSION}.dist-info/METADATA").decode())
        names = archive.namelist()
    assert (info["Version"], info["License-Expression"], info["License-File"]) == (
        VERSION,
        "Apache-2.0",
        "LICENSE",
    )
    assert f"access_analyzer_remediation-{VERSION}.dist-info/licenses/LICENSE" in names
    assert not [n for n in names if n.startswith(("tests/", "sandbox/", "scripts/"))], "the wheel ships test code"

    # The runtime dependencies the wheel declares, from this machine's pip index (its configured indexes and cache).
    run(sys.executable, "-m", "pip", "download", "--only-binary=:all:", "-d", wheels, "--find-links", wheels, wheel)
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    run(venv / "bin" / "python", "-m", "pip", "install", "--no-index", "--find-links", wheels, wheel)
    reported = run(venv / "bin" / "aa-remediate", "--version", cwd=tmp_path)
    assert reported.strip() == f"aa-remediate {VERSION}"
    # The installed CLI works without this checkout: an offline plan of a sample event.
    event = REPO_ROOT / "tests" / "events" / "iam_role_active.json"
    policy = tmp_path / "trust.json"
    policy.write_text(
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},'
        '"Action":"sts:AssumeRole"}]}'
    )
    planned = run(venv / "bin" / "aa-remediate", "plan", "--event", event, "--policy", policy, "--json", cwd=tmp_path)
    assert "AccessAnalyzerDeny" in planned, planned
