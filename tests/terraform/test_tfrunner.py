"""The Terraform version the tests need is checked, with a message that says what was found and what is needed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.terraform import tfrunner


def fake_terraform(tmp_path: Path, version: str) -> Path:
    """An executable that answers `terraform version -json` like Terraform `version` does."""
    script = tmp_path / f"terraform-{version}"
    answer = json.dumps({"terraform_version": version, "platform": "linux_amd64"})
    script.write_text(f"#!/bin/sh\necho '{answer}'\n")
    script.chmod(0o755)
    return script


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    tfrunner._too_old.cache_clear()
    yield
    tfrunner._too_old.cache_clear()


@pytest.mark.parametrize("version", ["1.5.7", "1.6.6"])
def test_an_older_terraform_is_skipped_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    monkeypatch.setenv("TERRAFORM_BIN", str(fake_terraform(tmp_path, version)))
    monkeypatch.delenv("AAR_REQUIRE_TERRAFORM", raising=False)
    message = rf"terraform {version} found, the tests need >= 1\.7\.0"
    with pytest.warns(UserWarning, match=message), pytest.raises(pytest.skip.Exception, match=message):
        tfrunner.require_terraform()


def test_an_older_terraform_fails_when_terraform_is_required(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERRAFORM_BIN", str(fake_terraform(tmp_path, "1.6.6")))
    monkeypatch.setenv("AAR_REQUIRE_TERRAFORM", "1")
    with pytest.raises(pytest.fail.Exception, match=r"terraform 1\.6\.6 found, the tests need >= 1\.7\.0"):
        tfrunner.require_terraform()


@pytest.mark.parametrize("version", ["1.7.0", "1.11.4", "1.12.0-alpha20250101"])
def test_a_recent_terraform_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    binary = fake_terraform(tmp_path, version)
    monkeypatch.setenv("TERRAFORM_BIN", str(binary))
    assert tfrunner.require_terraform() == str(binary)


def test_a_binary_that_does_not_say_its_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "terraform"
    script.write_text("#!/bin/sh\necho 'Terraform v1.2.3'\n")  # before -json (Terraform < 0.13)
    script.chmod(0o755)
    monkeypatch.setenv("TERRAFORM_BIN", str(script))
    monkeypatch.setenv("AAR_REQUIRE_TERRAFORM", "1")
    with pytest.raises(pytest.fail.Exception, match="did not report its version"):
        tfrunner.require_terraform()
