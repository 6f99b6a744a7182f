"""The fault injector itself: its errors are the services' real errors, as botocore sees them.

If an injected "throttle" did not parse as the service's throttling error, or botocore did not classify and retry
it as it does the real one, the burst test would prove nothing about production. So, for each service the engine
calls, with the operation the engine calls: the error code, HTTP status and modelled exception class match the
service model; botocore's standard retry mode calls it throttling (or transient) and retries it; and the
"after processing" faults really reach the service first.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.retries.standard import RetryContext, ThrottlingErrorDetector, TransientRetryableChecker

from access_analyzer_remediation.policy import tool_entries
from sandbox.access_analyzer import build_finding_event
from tests.load.faults import (
    ACCESS_ANALYZER,
    DYNAMODB,
    IAM,
    KILLED_EXIT_CODE,
    LOST_RESPONSE,
    NO_FAULTS,
    SERVER_ERROR,
    SERVER_ERROR_AFTER,
    SNS,
    THROTTLE,
    FaultInjector,
    FaultRates,
    Outage,
    OutageWindow,
    route_access_analyzer,
)
from tests.load.harness import (
    ACCOUNT,
    INVOCATION_KILLED,
    AnalyzerRerun,
    BatchResult,
    HandlerPool,
    Message,
    QueueFeed,
    RevertRacer,
    SqsSimulator,
    SweepPlan,
    cli_env,
    consistent_iam,
    create_findings_queue,
    decision_items,
    handler_env,
    revert_commands,
    run_cli,
    scan_table,
    sqs_event,
    stand_in_endpoints,
)
from tests.load.serial_moto import SerialMotoServer
from tests.unit.conftest import Aws

# botocore's Config counts retries in "max_attempts" and attempts in "total_max_attempts".
NO_RETRY = Config(retries={"mode": "standard", "total_max_attempts": 1})
ONE_RETRY = Config(retries={"mode": "standard", "total_max_attempts": 2})
ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}

Call = Callable[[Any], Any]


def _engine_calls(aws: Aws) -> dict[str, tuple[str, Call]]:
    """Per service: the client's service name and one call the engine makes, against existing resources."""
    aws.client("iam").create_role(RoleName="Probe", AssumeRolePolicyDocument=json.dumps(ROLE_POLICY))
    standin = aws.standins["us-east-1"]
    finding = standin.add_finding(resource=f"arn:aws:iam::{ACCOUNT}:role/Probe", publish=False)
    return {
        IAM: ("iam", lambda c: c.get_role(RoleName="Probe")),
        SNS: ("sns", lambda c: c.publish(TopicArn=aws.topic_arn, Message="probe")),
        DYNAMODB: ("dynamodb", lambda c: c.put_item(TableName=aws.table, Item={"pk": {"S": "p"}, "sk": {"S": "s"}})),
        ACCESS_ANALYZER: (
            "accessanalyzer",
            lambda c: c.get_finding(analyzerArn=standin.analyzer_arn, id=finding["id"]),
        ),
    }


def _client(aws: Aws, service: str, config: Config, injector: FaultInjector) -> Any:
    endpoints = {"accessanalyzer": aws.standins["us-east-1"].endpoint_url}
    client = aws.moto.session(service_endpoints=endpoints).client(service, region_name="us-east-1", config=config)
    injector.register(client.meta.events)
    return client


# What each service answers, per its botocore model: (code, HTTP status, modelled exception class or None).
EXPECTED = {
    (IAM, THROTTLE): ("Throttling", 400, None),
    (IAM, SERVER_ERROR): ("ServiceFailure", 500, "ServiceFailureException"),
    (SNS, THROTTLE): ("Throttled", 429, "ThrottledException"),
    (SNS, SERVER_ERROR): ("InternalError", 500, "InternalErrorException"),
    (DYNAMODB, THROTTLE): ("ThrottlingException", 400, "ThrottlingException"),
    (DYNAMODB, SERVER_ERROR): ("InternalServerError", 500, "InternalServerError"),
    (ACCESS_ANALYZER, THROTTLE): ("ThrottlingException", 429, "ThrottlingException"),
    (ACCESS_ANALYZER, SERVER_ERROR): ("InternalServerException", 500, "InternalServerException"),
}


@pytest.mark.parametrize(("service", "kind"), sorted(EXPECTED))
def test_injected_errors_are_the_services_own_errors(load_aws: Aws, service: str, kind: str) -> None:
    name, call = _engine_calls(load_aws)[service]
    code, status, exception_class = EXPECTED[(service, kind)]
    client = _client(load_aws, name, NO_RETRY, FaultInjector(scripted=[kind]))
    with pytest.raises(ClientError) as raised:
        call(client)
    error = raised.value
    assert error.response["Error"]["Code"] == code
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == status
    if exception_class is not None:
        assert isinstance(error, getattr(client.exceptions, exception_class))
    operation = client.meta.service_model.operation_model(error.operation_name)
    context = RetryContext(
        attempt_number=1,
        operation_model=operation,
        parsed_response=error.response,
        http_response=type("Response", (), {"status_code": status, "headers": {}})(),
    )
    if kind == THROTTLE:
        assert ThrottlingErrorDetector(None).is_throttling_error_from_context(context)
    else:
        assert TransientRetryableChecker().is_retryable(context)


@pytest.mark.parametrize("kind", [THROTTLE, SERVER_ERROR, SERVER_ERROR_AFTER, LOST_RESPONSE])
@pytest.mark.parametrize("service", [IAM, SNS, DYNAMODB, ACCESS_ANALYZER])
def test_botocore_retries_every_injected_fault(load_aws: Aws, service: str, kind: str) -> None:
    name, call = _engine_calls(load_aws)[service]
    injector = FaultInjector(scripted=[kind, None])
    response = call(_client(load_aws, name, ONE_RETRY, injector))
    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    assert sum(injector.attempts.values()) == 2 and sum(injector.injected.values()) == 1


def test_faults_after_processing_reach_the_service(load_aws: Aws) -> None:
    """A 5xx or a lost answer after the service acted: the write happened although the caller saw an error."""
    for kind, expected in ((SERVER_ERROR_AFTER, ClientError), (LOST_RESPONSE, ReadTimeoutError)):
        iam = _client(load_aws, "iam", NO_RETRY, FaultInjector(scripted=[kind]))
        name = f"Written-{kind.replace('_', '-')}"
        with pytest.raises(expected):
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(ROLE_POLICY))
        assert load_aws.client("iam").get_role(RoleName=name)["Role"]["RoleName"] == name
    # With a retry, the second attempt meets the first one's effect: the hazard the engine must absorb.
    iam = _client(load_aws, "iam", ONE_RETRY, FaultInjector(scripted=[LOST_RESPONSE]))
    with pytest.raises(ClientError, match="EntityAlreadyExists"):
        iam.create_role(RoleName="Twice", AssumeRolePolicyDocument=json.dumps(ROLE_POLICY))


def test_the_same_seed_gives_the_same_faults_at_the_configured_rates() -> None:
    rates = FaultRates(throttle=0.20, server_error=0.03, server_error_after=0.02, lost_response=0.01)
    draws = 20_000

    def sequence(seed: str) -> list[str | None]:
        injector = FaultInjector(rates, seed=seed)
        return [injector.rates.pick(injector._random.random()) for _ in range(draws)]

    first, again, other = sequence("a"), sequence("a"), sequence("b")
    assert first == again and first != other
    counts = Counter(first)
    assert abs(counts[THROTTLE] / draws - 0.20) < 0.015
    assert abs((counts[SERVER_ERROR] + counts[SERVER_ERROR_AFTER]) / draws - 0.05) < 0.008
    assert abs(counts[LOST_RESPONSE] / draws - 0.01) < 0.004


def test_permanent_failures_hit_only_their_targets(load_aws: Aws) -> None:
    iam_client = load_aws.client("iam")
    for name in ("Refused", "Allowed"):
        iam_client.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(ROLE_POLICY))
    standin = load_aws.standins["us-east-1"]
    finding = standin.add_finding(resource=f"arn:aws:iam::{ACCOUNT}:role/Allowed", publish=False)
    injector = FaultInjector(FaultRates(0, 0, 0, 0), poison_roles={"Refused"}, poison_analyzers={standin.analyzer_arn})
    iam = _client(load_aws, "iam", NO_RETRY, injector)
    with pytest.raises(ClientError, match="AccessDenied"):
        iam.update_assume_role_policy(RoleName="Refused", PolicyDocument=json.dumps(ROLE_POLICY))
    iam.update_assume_role_policy(RoleName="Allowed", PolicyDocument=json.dumps(ROLE_POLICY))
    analyzer = _client(load_aws, "accessanalyzer", NO_RETRY, injector)
    with pytest.raises(analyzer.exceptions.AccessDeniedException):
        analyzer.get_finding(analyzerArn=standin.analyzer_arn, id=finding["id"])
    with pytest.raises(analyzer.exceptions.AccessDeniedException):  # the sweep may not list it either
        analyzer.list_findings_v2(analyzerArn=standin.analyzer_arn)


def test_each_region_reaches_its_own_stand_in(load_aws: Aws) -> None:
    session = load_aws.moto.session(service_endpoints={"accessanalyzer": load_aws.standins["us-east-1"].endpoint_url})
    route_access_analyzer(session.events, {r: s.endpoint_url for r, s in load_aws.standins.items()})
    for region, standin in load_aws.standins.items():
        analyzers = session.client("accessanalyzer", region_name=region).list_analyzers()["analyzers"]
        assert [a["arn"] for a in analyzers] == [standin.analyzer_arn]


# ==================================================================================================== new faults
EXTERNAL_A, EXTERNAL_B = "999988887777", "222233334444"


def _external_role(aws: Aws, name: str, *accounts: str) -> list[dict[str, Any]]:
    """A role trusting `accounts`; its ACTIVE findings (us-east-1 stand-in)."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": list(accounts)}, "Action": "sts:AssumeRole"}],
    }
    arn = aws.create_role(name, policy)
    aws.standin.scan_role(arn, consistent_iam(aws))
    return aws.standin.findings(resource=arn, status="ACTIVE")


def _finding_message(aws: Aws, finding: dict[str, Any], message_id: str) -> Message:
    event = build_finding_event(finding, aws.standin.analyzer_arn, "us-east-1", ACCOUNT)
    return Message(message_id, finding["id"], json.dumps(event))


def _tool_values(aws: Aws, name: str) -> set[str]:
    policy = consistent_iam(aws).get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
    return {entry.value for entry in tool_entries(policy)}


def _sid_policy(sid: str) -> dict[str, Any]:
    statement = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    return {"Version": "2012-10-17", "Statement": [statement]}


def test_serial_moto_lags_iam_reads_too(load_aws: Aws, serial_moto: SerialMotoServer) -> None:
    iam, consistent = load_aws.client("iam"), consistent_iam(load_aws)
    load_aws.create_role("Laggy", _sid_policy("V0"))
    serial_moto.set_iam_read_lag(5.0, probability=1.0)
    iam.update_assume_role_policy(RoleName="Laggy", PolicyDocument=json.dumps(_sid_policy("V1")))
    sids = {iam.get_role(RoleName="Laggy")["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Sid"] for _ in range(5)}
    assert sids == {"V0"}
    assert consistent.get_role(RoleName="Laggy")["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Sid"] == "V1"
    assert serial_moto.iam_read_lag_stats()["stale_get_role"] == 5
    serial_moto.set_iam_read_lag(0)
    assert iam.get_role(RoleName="Laggy")["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Sid"] == "V1"
    serial_moto.set_iam_read_lag(5.0)
    serial_moto.reset()  # the next test's make_aws resets again: nothing of this test's AWS is needed below
    assert serial_moto.iam_read_lag_stats()["seconds"] == 0.0


def test_kill_after_write_kills_the_worker_once_the_write_landed_and_the_pool_lives_on(
    load_aws: Aws, tmp_path: Path
) -> None:
    aws = load_aws
    [first] = _external_role(aws, "Killed", EXTERNAL_A)
    [second] = _external_role(aws, "KilledToo", EXTERNAL_B)
    env = handler_env(aws, AAR_LOCK_LEASE_SECONDS="5", AWS_MAX_ATTEMPTS="2")
    rates = FaultRates(0.0, 0.0, 0.0, 0.0, kill_after_write=1.0)
    with HandlerPool(env, stand_in_endpoints(aws), workers=1, rates=rates, log_dir=str(tmp_path)) as pool:
        [started_pid] = pool.pids
        # 1. One invocation: UpdateAssumeRolePolicy reached IAM and succeeded, then the process died at once.
        killed = pool.submit(sqs_event([("m-1", _finding_message(aws, first, "m-1").body, 1)]), "kill").result(60)
        assert killed.killed and killed.exit_code == KILLED_EXIT_CODE and not killed.crashed
        assert killed.worker == started_pid and killed.response is None
        assert _tool_values(aws, "Killed") == {EXTERNAL_A}, "the write did not land"
        decided = {item["finding_id"]["S"] for item in decision_items(scan_table(aws))}
        assert first["id"] not in decided, "the audit record was written: the kill came too late"
        assert aws.emails() == [], "the digest was sent: the kill came too late"
        pool.wait_for_workers()
        assert pool.kills == 1 and pool.respawns == 1 and len(pool.pids) == 2 and pool.crashes == []
        # 2. Through the simulated queue: the killed batch is handed back whole, like a Lambda timeout.
        queue = SqsSimulator(pool, max_receive_count=1, visibility_timeout=0.2, duplicate_rate=0.0)
        result = queue.run([_finding_message(aws, second, "m-2")], deadline_seconds=60)
        assert result.killed_batches == 1 and result.crashes == []
        [dead] = result.dead_letters
        assert dead.finding_id == second["id"] and f"{INVOCATION_KILLED} (exit {KILLED_EXIT_CODE})" in dead.why
        assert _tool_values(aws, "KilledToo") == {EXTERNAL_B}
        # 3. The respawned worker is warm and serves the next batch (one without a write).
        served = pool.submit(sqs_event([("m-3", "not json", 1)]), "after").result(60)
        assert not served.killed and served.response == {"batchItemFailures": []}
        assert served.worker == pool.pids[-1] != started_pid
        pool.wait_for_workers()
    assert pool.kills == 2 and pool.respawns == 2 and len(set(pool.pids)) == 3


def test_unprocessed_items_come_back_in_dynamodb_wire_format(load_aws: Aws) -> None:
    injector = FaultInjector(FaultRates(0.0, 0.0, 0.0, 0.0, unprocessed_items=1.0), seed="unprocessed")
    dynamodb = _client(load_aws, "dynamodb", NO_RETRY, injector)
    plain = load_aws.client("dynamodb")
    plain.put_item(TableName=load_aws.table, Item={"pk": {"S": "old"}, "sk": {"S": "0"}})
    requests: list[dict[str, Any]] = [
        {"PutRequest": {"Item": {"pk": {"S": f"item-{n}"}, "sk": {"S": "0"}, "n": {"N": str(n)}}}} for n in range(12)
    ]
    requests.append({"DeleteRequest": {"Key": {"pk": {"S": "old"}, "sk": {"S": "0"}}}})
    response = dynamodb.batch_write_item(RequestItems={load_aws.table: requests})  # botocore checked the crc32
    unprocessed = response["UnprocessedItems"][load_aws.table]
    assert 1 <= len(unprocessed) < len(requests) and all(entry in requests for entry in unprocessed)
    assert injector.injected == Counter({"dynamodb.unprocessed_items": 1})
    stored = {item["pk"]["S"] for item in scan_table(load_aws)}
    for entry in requests:
        if "PutRequest" in entry:
            key = entry["PutRequest"]["Item"]["pk"]["S"]
            assert (key in stored) == (entry not in unprocessed), key
        else:
            assert ("old" in stored) == (entry in unprocessed)
    # Retrying exactly what came back completes the write.
    assert plain.batch_write_item(RequestItems=response["UnprocessedItems"])["UnprocessedItems"] == {}
    assert {item["pk"]["S"] for item in scan_table(load_aws)} == {f"item-{n}" for n in range(12)}


def test_an_sns_outage_fails_every_publish_in_its_window_then_sns_recovers(load_aws: Aws) -> None:
    now = time.time()
    window = Outage(start=0.0, end=1.0).window(now, batch_index=0)
    throttled = Outage(kind=THROTTLE, start=0.0, end=1.0).window(now, batch_index=0)
    assert window is not None and throttled is not None
    injector = FaultInjector(NO_FAULTS, outages=[window])
    sns = _client(load_aws, "sns", NO_RETRY, injector)
    for _ in range(3):
        with pytest.raises(ClientError) as raised:
            sns.publish(TopicArn=load_aws.topic_arn, Message="during the outage")
        assert raised.value.response["Error"]["Code"] == "InternalError"
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    injector.set_outages([throttled])
    with pytest.raises(ClientError, match="Throttled"):
        sns.publish(TopicArn=load_aws.topic_arn, Message="throttled")
    time.sleep(max(0.0, now + 1.05 - time.time()))
    sns.publish(TopicArn=load_aws.topic_arn, Message="after the outage")
    assert [mail["Message"] for mail in load_aws.emails()] == ["after the outage"]
    assert injector.injected == Counter({"sns.outage": 4})
    # The other window shape: every invocation among the first N batches, however long it runs.
    first_two = Outage(first_batches=2)
    assert first_two.window(now, 1) is not None and first_two.window(now, 2) is None
    assert not first_two.over(now, 1) and first_two.over(now, 2)


def test_send_message_batch_reports_entries_failed_or_fails_whole(load_aws: Aws) -> None:
    sqs_plain = load_aws.client("sqs")
    url = create_findings_queue(load_aws)
    entries = [{"Id": f"e{n}", "MessageBody": json.dumps({"n": n})} for n in range(10)]
    partial = FaultInjector(FaultRates(0.0, 0.0, 0.0, 0.0, send_batch_partial=1.0), seed="partial")
    response = _client(load_aws, "sqs", NO_RETRY, partial).send_message_batch(QueueUrl=url, Entries=entries)
    failed = {entry["Id"] for entry in response["Failed"]}
    sent = {entry["Id"] for entry in response["Successful"]}
    assert failed and sent and failed | sent == {e["Id"] for e in entries} and not failed & sent
    assert all(e["Code"] == "InternalError" and e["SenderFault"] is False for e in response["Failed"])
    queued = QueueFeed(load_aws, url).take()
    assert sorted(json.loads(m.body)["n"] for m in queued) == sorted(int(i[1:]) for i in sent)
    whole = FaultInjector(FaultRates(0.0, 0.0, 0.0, 0.0, send_batch_error=1.0))
    client = _client(load_aws, "sqs", NO_RETRY, whole)
    with pytest.raises(ClientError) as raised:
        client.send_message_batch(QueueUrl=url, Entries=entries)
    assert raised.value.response["Error"]["Code"] == "InternalError"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    context = RetryContext(
        attempt_number=1,
        operation_model=client.meta.service_model.operation_model("SendMessageBatch"),
        parsed_response=raised.value.response,
        http_response=type("Response", (), {"status_code": 500, "headers": {}})(),
    )
    assert TransientRetryableChecker().is_retryable(context)
    assert sqs_plain.receive_message(QueueUrl=url).get("Messages", []) == []
    assert partial.injected == Counter({"sqs.send_batch_partial": 1}) and whole.injected == Counter(
        {"sqs.send_batch_error": 1}
    )


class FakePool:
    """Stands in for HandlerPool in tests of the simulator itself: runs `handle` at once, in this process."""

    def __init__(self, handle: Callable[[dict[str, Any]], BatchResult], workers: int = 2) -> None:
        self.workers = workers
        self.handle = handle
        self.events: list[dict[str, Any]] = []
        self.outages: list[Sequence[OutageWindow]] = []
        self.rates: list[FaultRates | None] = []

    def submit(
        self,
        event: dict[str, Any],
        seed: str,
        outages: Sequence[OutageWindow] = (),
        rates: FaultRates | None = None,
    ) -> Future[BatchResult]:
        self.events.append(event)
        self.outages.append(outages)
        self.rates.append(rates)
        future: Future[BatchResult] = Future()
        future.set_result(self.handle(event))
        return future


def _batch_result(response: dict[str, Any] | None, error: str | None = None) -> BatchResult:
    return BatchResult(response, error, [], None, [], [], Counter(), Counter(), 0.0, 0)


def test_the_simulator_hands_outages_and_batch_rates_to_the_invocations_they_touch() -> None:
    messages = [Message(f"m-{n}", f"f-{n}", "{}") for n in range(4)]
    pool = FakePool(lambda event: _batch_result({"batchItemFailures": []}), workers=1)
    killer = FaultRates(0.0, 0.0, 0.0, 0.0, kill_after_write=1.0)
    outages = [Outage(first_batches=2), Outage(service=IAM, operation=None, start=0.0, end=3600.0)]
    queue = SqsSimulator(pool, batch_size=1, duplicate_rate=0.0, outages=outages, batch_rates={1: killer})
    queue.run(messages, deadline_seconds=10)
    services = [sorted(w.service for w in windows) for windows in pool.outages]
    assert services == [["iam", "sns"], ["iam", "sns"], ["iam"], ["iam"]]
    started = time.time()
    assert all(w.covers("iam", "GetRole", started) for windows in pool.outages for w in windows if w.service == "iam")
    assert pool.rates == [None, killer, None, None]


def test_the_analyzer_resolves_contained_findings_while_their_messages_are_redelivered(
    load_aws: Aws, serial_moto: SerialMotoServer
) -> None:
    aws = load_aws
    [finding] = _external_role(aws, "Contained", EXTERNAL_A)
    serial_moto.set_iam_read_lag(10.0, probability=1.0)  # the analyzer reads what IAM stores, not a stale copy
    seen: list[str] = []
    iam = aws.client("iam")

    def handle(event: dict[str, Any]) -> BatchResult:
        [record] = event["Records"]
        seen.append(aws.standin.findings(resource=finding["resource"])[0]["status"])
        if len(seen) == 1:  # contain the role, then hand the record back (say the audit write failed)
            iam.update_assume_role_policy(RoleName="Contained", PolicyDocument=json.dumps(ROLE_POLICY))
            return _batch_result({"batchItemFailures": [{"itemIdentifier": record["messageId"]}]})
        return _batch_result({"batchItemFailures": []})

    analyzer = AnalyzerRerun(aws, every_batches=1)
    queue = SqsSimulator(FakePool(handle), visibility_timeout=0.3, duplicate_rate=0.0, analyzer=analyzer)
    result = queue.run([_finding_message(aws, finding, "m-1")], deadline_seconds=30)
    assert seen == ["ACTIVE", "RESOLVED"], seen
    assert result.receives == Counter({2: 1}) and analyzer.runs >= 1 and analyzer.resolved >= 1
    assert analyzer.errors == []


def test_sweeps_are_retried_when_list_findings_fails_and_their_references_are_delivered(load_aws: Aws) -> None:
    aws = load_aws
    findings = _external_role(aws, "Swept", EXTERNAL_A, EXTERNAL_B)
    url = create_findings_queue(aws)
    analyzers = _client(aws, "accessanalyzer", NO_RETRY, FaultInjector(NO_FAULTS))
    sqs = aws.client("sqs")
    delivered: list[str] = []

    def handle(event: dict[str, Any]) -> BatchResult:
        if event.get("aar_action") == "sweep":  # what the engine's sweep does, by hand
            try:
                listed = analyzers.list_findings_v2(analyzerArn=aws.standin.analyzer_arn)["findings"]
            except ClientError as error:
                return _batch_result(None, f"sweep raised {error}")
            references = [
                {"aar_action": "verify", "analyzer_arn": aws.standin.analyzer_arn, "finding_id": f["id"]}
                for f in listed
            ]
            entries = [{"Id": str(n), "MessageBody": json.dumps(r)} for n, r in enumerate(references)]
            sqs.send_message_batch(QueueUrl=url, Entries=entries)
            return _batch_result({"queued": len(entries)})
        delivered.extend(json.loads(r["body"])["finding_id"] for r in event["Records"])
        return _batch_result({"batchItemFailures": []})

    plan = SweepPlan(
        final=True,
        feed=QueueFeed(aws, url),
        list_findings_failures=2,
        standins=[aws.standin],
        retry_seconds=0.1,
        max_attempts=4,
    )
    result = SqsSimulator(FakePool(handle), duplicate_rate=0.0, sweeps=plan).run([], deadline_seconds=30)
    assert [(s.attempt, s.ok) for s in result.sweeps] == [(1, False), (2, False), (3, True)]
    assert all("InternalServerException" in s.detail for s in result.sweeps[:2])
    assert sorted(delivered) == sorted(f["id"] for f in findings) == sorted(m.finding_id for m in result.fed)
    assert result.sweep_failures == []


def test_revert_racer_reverts_the_first_remediated_candidates_with_the_cli(load_aws: Aws) -> None:
    aws = load_aws
    findings = _external_role(aws, "Raced", EXTERNAL_A, EXTERNAL_B)
    env, endpoints = cli_env(aws, AWS_MAX_ATTEMPTS="2"), stand_in_endpoints(aws)
    for finding in findings:  # the engine's own path, as an operator would run it
        argv = ["remediate", "--analyzer-arn", aws.standin.analyzer_arn, "--finding-id", finding["id"]]
        done = run_cli(env, *argv, endpoints=endpoints)
        assert done.returncode == 0, done.stderr
    assert _tool_values(aws, "Raced") == {EXTERNAL_A, EXTERNAL_B}
    by_account = {f["principal"]["AWS"]: f["id"] for f in findings}
    racer = RevertRacer(env, [by_account[EXTERNAL_A]], count=1, archive=True, endpoints=endpoints)
    decisions = [(fid, "remediate", "", "") for fid in by_account.values()]
    for _ in range(2):  # the same decision seen twice starts one revert
        racer.on_batch(BatchResult(None, None, decisions, None, [], [], Counter(), Counter(), 0.0, 0))
    runs = racer.join()
    assert list(runs) == [by_account[EXTERNAL_A]], runs
    run = runs[by_account[EXTERNAL_A]]
    assert run.exit_code == 0 and run.reverted and [e["value"] for e in run.removed] == [EXTERNAL_A], run
    assert racer.reverted == {by_account[EXTERNAL_A]}
    assert _tool_values(aws, "Raced") == {EXTERNAL_B}
    assert aws.standin.findings(resource=findings[0]["resource"], status="ARCHIVED") != []


def test_revert_commands_and_decision_items() -> None:
    mails = [
        "  Undo:       aa-remediate revert --finding-id f-1 --archive\n  Undo: aa-remediate revert --finding-id f-2",
        "aa-remediate remediate --analyzer-arn a --finding-id f-3",
    ]
    assert revert_commands(mails) == {"f-1", "f-2"}
    items = [
        {"pk": {"S": "FINDING#a"}, "sk": {"S": "DECISION#2024#1"}},
        {"pk": {"S": "FINDING#a"}, "sk": {"S": "CLAIM#2024#1"}},
        {"pk": {"S": "FINDING#a"}, "sk": {"S": "REVERT#2024#1"}},
        {"pk": {"S": "RESOURCE#r"}, "sk": {"S": "STATE"}},
    ]
    assert decision_items(items) == items[:1]
