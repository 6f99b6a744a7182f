"""Hooks shared by the whole test suite. Keep each one small; append new ones below."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.terraform.tfrunner import terraform_binary, terraform_required, too_old_for_tests


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """pytest-terraform raises in its pytest_configure when there is no terraform binary, ending the whole session.

    Without a binary (and without AAR_REQUIRE_TERRAFORM=1) block that plugin, so everything else runs and the
    Terraform tests skip loudly (tests/terraform/tfrunner.py: require_terraform). Also adds ``--lanes`` (below).
    """
    parser.addoption(
        "--lanes",
        action="store_true",
        help="with pytest-xdist (-n 2): the tests of LANE_APART on a worker of their own, every other test on one "
        "worker in collection order (make test)",
    )
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


# `make test` runs `pytest -n 2 --lanes`: two pytest-xdist workers, and this scheduler gives each a lane. The tests of
# LANE_APART (node id prefixes) run on one worker, in this order; every other test runs on the other worker, in
# collection order, exactly as in a plain `pytest` run (package fixtures, process-wide checks, the load suites one at a
# time). LANE_APART holds what needs no company: `terraform test` (three Terraform processes, about a minute) while
# the other lane waits for its first apply, then test_uninstall.py, which spends most of its ~4 minutes in the AWS
# provider's fixed SQS waiters (two applies, two destroys), then the integration tests that apply an example into a
# local AWS of their own (no session fixture shared with the other lane): two Regions, forwarding, the organization.
LANE_APART = (
    "tests/terraform/test_terraform.py::test_terraform_test",
    "tests/integration/test_uninstall.py::",
    "tests/integration/test_regions.py::",
    "tests/integration/test_regional.py::",
    "tests/integration/test_organization.py::",
)


def _lane_apart_rank(nodeid: str) -> int:
    """The index of the LANE_APART prefix `nodeid` starts with; len(LANE_APART) when none (the main lane)."""
    return next((rank for rank, prefix in enumerate(LANE_APART) if nodeid.startswith(prefix)), len(LANE_APART))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if not config.getoption("lanes"):
        return None
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    class Lanes(LoadScopeScheduling):  # type: ignore[misc]
        """LoadScopeScheduling with two scopes, each sent whole to one worker; the apart one in LANE_APART's order."""

        def _split_scope(self, nodeid: str) -> str:
            return "apart" if _lane_apart_rank(nodeid) < len(LANE_APART) else "main"

        def _assign_work_unit(self, node: Any) -> None:
            if "apart" in self.workqueue:
                unit = self.workqueue["apart"]
                self.workqueue["apart"] = dict(sorted(unit.items(), key=lambda item: _lane_apart_rank(item[0])))
            super()._assign_work_unit(node)

    return Lanes(config, log)


# How many hypothesis examples the hostile-input properties ran (each test also asserts its own minimum): each test
# hands its count on in its report (tests/load/conftest.py), so the totals are the same with or without xdist.
HYPOTHESIS_EXAMPLES = "hypothesis examples"
_examples_ran: Counter[str] = Counter()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for name, value in report.user_properties:
        if name == HYPOTHESIS_EXAMPLES and isinstance(value, dict):
            _examples_ran.update(value)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _examples_ran:
        return
    terminalreporter.section("hypothesis examples (tests/load/test_hostile_input.py)")
    for name, count in sorted(_examples_ran.items()):
        terminalreporter.write_line(f"{count:>7,}  {name}")
    terminalreporter.write_line(f"{sum(_examples_ran.values()):>7,}  in all")
