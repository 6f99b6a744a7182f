"""What a first event does side by side (docs/benchmarks.md, "Cold start"): the clients it will need are made while
its first calls wait (AwsClients.prepare, Remediator._prepare_clients), and the notices are published while the
containments' confirmations are scheduled (Remediator.process's `meanwhile`). Neither changes what is decided."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from access_analyzer_remediation.clients import AwsClients
from access_analyzer_remediation.engine import Remediator
from access_analyzer_remediation.findings import FindingRef
from access_analyzer_remediation.outcomes import Outcome

from .conftest import ANALYZER, EXTERNAL, OWNER, ROLE_ARN, Aws, make_finding, make_settings, trust_policy

WAIT = 10.0  # seconds a test waits for the other thread before it fails


# -- clients made ahead ----------------------------------------------------------------------------------------
def test_prepared_clients_are_made_on_another_thread_in_order_and_kept() -> None:
    made: list[tuple[str, str | None, str]] = []

    def factory(service: str, region: str | None) -> object:
        made.append((service, region, threading.current_thread().name))
        return object()

    clients = AwsClients(factory)
    clients.prepare([clients.iam, lambda: clients.sqs("eu-west-1")]).join(WAIT)
    assert made == [("iam", None, "aar-clients"), ("sqs", "eu-west-1", "aar-clients")]
    assert clients.iam() is clients.iam() and len(made) == 2  # the asker gets the client made ahead


def test_a_client_the_thread_could_not_make_is_made_again_by_the_asker_who_gets_the_error() -> None:
    attempts: list[str] = []

    def factory(service: str, region: str | None) -> object:
        attempts.append(threading.current_thread().name)
        raise RuntimeError("no credentials")

    clients = AwsClients(factory)
    clients.prepare([clients.iam]).join(WAIT)
    with pytest.raises(RuntimeError, match="no credentials"):
        clients.iam()
    assert attempts == ["aar-clients", threading.current_thread().name]


def test_a_client_being_made_ahead_is_waited_for_not_made_twice() -> None:
    started, release = threading.Event(), threading.Event()
    made: list[str] = []

    def factory(service: str, region: str | None) -> object:
        made.append(service)
        started.set()
        assert release.wait(WAIT)
        return object()

    clients = AwsClients(factory)
    thread = clients.prepare([clients.iam])
    assert started.wait(WAIT)
    threading.Timer(0.2, release.set).start()
    first = clients.iam()  # waits for the thread's, then reads it
    thread.join(WAIT)
    assert made == ["iam"] and clients.iam() is first


class _Recording(AwsClients):
    """Clients whose `prepare` runs the makers at once, on the caller's thread, and keeps what they asked for."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str | None]] = []
        super().__init__(self._make)
        self.prepared = 0

    def _make(self, service: str, region: str | None) -> object:
        self.asked.append((service, region))
        return object()

    def prepare(self, makers: Sequence[Callable[[], object]]) -> threading.Thread:
        self.prepared += 1
        for make in makers:
            make()
        thread = threading.Thread(target=lambda: None)
        thread.start()
        return thread


def _ref(owner: str = OWNER, analyzer: str = ANALYZER) -> FindingRef:
    claim = make_finding(resource=ROLE_ARN.replace(OWNER, owner))
    return FindingRef(analyzer, claim.id, claim)


def test_the_clients_of_a_claimed_role_are_prepared_once_per_environment() -> None:
    clients = _Recording()
    remediator = Remediator(make_settings(confirm_changes=True, queue_url=_QUEUE), clients)
    before = list(clients.asked)  # the audit table's client, made by the constructor
    remediator._prepare_clients([_ref(), _ref()])
    assert clients.asked[len(before) :] == [("accessanalyzer", "us-west-2"), ("iam", None), ("sqs", "us-west-2")]
    remediator._prepare_clients([_ref()])
    assert clients.prepared == 1  # the second event's clients exist: no thread


_QUEUE = f"https://sqs.us-west-2.amazonaws.com/{OWNER}/aar-findings"


@pytest.mark.parametrize(
    ("ref", "why"),
    [
        (_ref(analyzer=ANALYZER.replace("MyAnalyzer", "Other")), "an analyzer not configured"),
        (FindingRef(ANALYZER, "f-1"), "no claim (the sweep, the CLI)"),
    ],
)
def test_nothing_is_prepared_for_what_a_finding_does_not_need(ref: FindingRef, why: str) -> None:
    clients = _Recording()
    remediator = Remediator(make_settings(), clients)
    before = list(clients.asked)
    remediator._prepare_clients([ref])
    expected = [] if "analyzer" in why else [("accessanalyzer", "us-west-2")]
    assert clients.asked[len(before) :] == expected, why


def test_a_member_accounts_resource_gets_no_client_of_this_account() -> None:
    clients = _Recording()
    remediator = Remediator(make_settings(), clients)
    before = list(clients.asked)
    remediator._prepare_clients([_ref(owner=EXTERNAL)])
    assert clients.asked[len(before) :] == [("accessanalyzer", "us-west-2")]  # GetFinding: no IAM client here


# -- the notices go out while the confirmations are scheduled ---------------------------------------------------
def _contained(aws: Aws) -> tuple[Remediator, FindingRef]:
    aws.create_role("SideBySide", trust_policy({"AWS": EXTERNAL}))
    [finding] = aws.analyze()
    queue_url = str(aws.client("sqs").create_queue(QueueName="aar-findings")["QueueUrl"])
    settings = aws.settings(confirm_changes=True, confirm_delay_seconds=0, queue_url=queue_url)
    remediator = Remediator(settings, aws.clients(), lock_wait_seconds=10)
    return remediator, FindingRef(aws.standin.analyzer_arn, finding["id"])


def test_the_notices_are_published_while_the_confirmations_are_scheduled(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    remediator, ref = _contained(aws)
    announcing = threading.Event()
    schedule = remediator.confirmer.schedule
    seen: list[bool] = []

    def scheduled_meanwhile(outcomes: Sequence[Outcome], time_left: Callable[[], float] | None = None) -> None:
        seen.append(announcing.wait(WAIT))  # sequential scheduling would wait here in vain
        schedule(outcomes, time_left)

    monkeypatch.setattr(remediator.confirmer, "schedule", scheduled_meanwhile)
    published: list[str] = []

    def announce(outcomes: list[Outcome]) -> None:
        announcing.set()
        published.extend(remediator.announce(outcomes, OWNER))

    [outcome] = remediator.process([ref], meanwhile=announce)
    assert outcome.decision == "remediate" and seen == [True] and len(published) == 1
    assert remediator.confirmer.counters.take() == {"ConfirmationScheduled": 1}
    assert "Deny" in json.dumps(aws.policy("SideBySide"))


def test_what_meanwhile_raises_is_raised_once_the_confirmations_are_scheduled(aws: Aws) -> None:
    remediator, ref = _contained(aws)

    def fails(outcomes: list[Outcome]) -> None:
        time.sleep(0.05)
        raise RuntimeError("SNS is down")

    with pytest.raises(RuntimeError, match="SNS is down"):
        remediator.process([ref], meanwhile=fails)
    assert remediator.confirmer.counters.take() == {"ConfirmationScheduled": 1}  # scheduled all the same


def test_a_failed_subscription_check_still_reaches_meanwhile(monkeypatch: pytest.MonkeyPatch) -> None:
    clients = _Recording()
    remediator = Remediator(make_settings(require_confirmed_subscription=True), clients)

    def unreadable() -> Any:
        raise RuntimeError("sns:ListSubscriptionsByTopic denied")

    monkeypatch.setattr(remediator, "_effective_settings", unreadable)
    monkeypatch.setattr(remediator, "_verify_safely", lambda ref: make_finding())
    handed: list[list[Outcome]] = []
    [outcome] = remediator.process([_ref()], meanwhile=handed.append)
    assert (outcome.decision, outcome.reason) == ("failed", "subscription_check_failed") and handed == [[outcome]]
    assert clients.prepared == 1  # the event's clients were made ahead before anything was read
