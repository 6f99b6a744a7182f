"""Fixtures of the load, fault and hostile-input suite: a serialising moto server and two Access Analyzer stand-ins.

Separate from tests/unit's fixtures on purpose: these tests run many clients at once, which needs moto to apply each
request atomically (tests/load/serial_moto.py). Package-scoped, so the server and the stand-ins (and their threads)
are gone before the next directory's tests run: tests/sandbox checks that no stand-in thread is left in the process.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator

import pytest

from sandbox.access_analyzer import AccessAnalyzerStandIn
from tests.conftest import HYPOTHESIS_EXAMPLES
from tests.load.serial_moto import SerialMotoServer
from tests.unit.conftest import Aws, make_aws


@pytest.fixture(scope="package")
def serial_moto() -> Iterator[SerialMotoServer]:
    server = SerialMotoServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def load_standins() -> Iterator[dict[str, AccessAnalyzerStandIn]]:
    east = AccessAnalyzerStandIn(region="us-east-1").start()
    west = AccessAnalyzerStandIn(region="eu-west-1").start()
    try:
        yield {"us-east-1": east, "eu-west-1": west}
    finally:
        east.stop()
        west.stop()


@pytest.fixture
def load_aws(serial_moto: SerialMotoServer, load_standins: dict[str, AccessAnalyzerStandIn]) -> Iterator[Aws]:
    aws = make_aws(serial_moto, load_standins)
    yield aws
    for standin in load_standins.values():
        assert standin.internal_errors == [], "the Access Analyzer stand-in produced an invalid response"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """How many hypothesis examples the hostile-input properties ran, handed on with the test's report (its
    user_properties, which pytest-xdist carries to the controller): tests/conftest.py prints the totals."""
    before = Counter(_examples())
    try:
        return (yield)
    finally:
        ran = Counter(_examples())
        ran.subtract(before)
        if +ran:
            item.user_properties.append((HYPOTHESIS_EXAMPLES, dict(+ran)))


def _examples() -> Counter[str]:
    module = sys.modules.get("tests.load.test_hostile_input")
    return Counter(getattr(module, "EXAMPLES", None) or {})
