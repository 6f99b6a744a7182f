"""The cold-start measures of clients.py: the garbage collector's pause and botocore's one-service look-up."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import botocore.session
import pytest
from botocore.exceptions import UnknownServiceError

from access_analyzer_remediation import clients


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


@pytest.mark.usefixtures("collector_on")
def test_the_collector_waits_inside_the_pause_and_is_back_after_it() -> None:
    with clients.gc_paused():
        assert not gc.isenabled()
        with clients.gc_paused():  # nested: the inner end does not turn it back on
            assert not gc.isenabled()
        assert not gc.isenabled()
        kept = object()  # made during the pause: frozen out of later collections at its end
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0
    del kept


@pytest.mark.usefixtures("collector_on")
def test_the_collector_is_back_after_a_failure_inside_the_pause() -> None:
    with pytest.raises(RuntimeError), clients.gc_paused():
        raise RuntimeError("client creation failed")
    assert gc.isenabled()


def test_a_collector_turned_off_by_the_host_stays_off() -> None:
    was = gc.isenabled()
    gc.disable()
    try:
        with clients.gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()


@pytest.mark.usefixtures("collector_on")
def test_pauses_on_several_threads_end_with_the_collector_on() -> None:
    start = threading.Barrier(4)

    def pause() -> None:
        start.wait()
        for _ in range(200):
            with clients.gc_paused():
                pass

    threads = [threading.Thread(target=pause) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert gc.isenabled()


@pytest.mark.parametrize("type_name", ["service-2", "endpoint-rule-set-1", "paginators-1"])
def test_one_service_look_up_answers_as_botocore_listing_every_service(type_name: str) -> None:
    ours = clients._botocore_session().get_component("data_loader").list_available_services(type_name)
    every = botocore.session.Session().get_component("data_loader").list_available_services(type_name)
    for name in [*every, "iam", "dynamodb", "accessanalyzer", "sns", "no-such-service", "", ".", "..", "iam/x"]:
        assert (name in ours) == (name in every), name
    assert list(ours) == every
    assert len(ours) == len(every)


def test_an_unknown_service_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(UnknownServiceError, match="accessanalyzer"):
        clients._botocore_session().create_client("no-such-service", region_name="us-east-1")


def test_the_default_factory_makes_working_clients_of_the_latest_model() -> None:
    iam = clients.default_factory("iam", "us-east-1")
    assert iam.meta.service_model.api_version == "2010-05-08"
    assert callable(iam.update_assume_role_policy)
