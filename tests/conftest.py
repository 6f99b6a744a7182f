"""Hooks shared by the whole test suite. Keep each one small; append new ones below."""

from __future__ import annotations

import pytest

from tests.terraform.tfrunner import terraform_binary, terraform_required, too_old_for_tests


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """pytest-terraform raises in its pytest_configure when there is no terraform binary, ending the whole session.

    Without a binary (and without AAR_REQUIRE_TERRAFORM=1) block that plugin, so everything else runs and the
    Terraform tests skip loudly (tests/terraform/tfrunner.py: require_terraform).
    """
    del parser
    if terraform_binary() is None and not terraform_required():
        pluginmanager.set_blocked("terraform")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Hand TERRAFORM_BIN to pytest-terraform too (it looks only at PATH and --tf-binary)."""
    binary = terraform_binary()
    if binary and hasattr(config.option, "dest_tf_binary") and not config.option.dest_tf_binary:
        config.option.dest_tf_binary = binary


def pytest_report_header() -> str:
    binary = terraform_binary()
    if binary is None:
        return "terraform: NOT FOUND: Terraform tests are skipped"
    too_old = too_old_for_tests(binary)
    return f"terraform: {binary}" + (f" ({too_old}: Terraform tests are skipped)" if too_old else "")


# Hypothesis: with CI set, every property is derandomised (the same examples on every run, no example database).
# Settings given on a test (max_examples, deadline...) still apply; the profile fills in the rest.
import os  # noqa: E402

from hypothesis import settings as hypothesis_settings  # noqa: E402

hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")
