"""The fault injector itself: its errors are the services' real errors, as botocore sees them.

If an injected "throttle" did not parse as the service's throttling error, or botocore did not classify and retry
it as it does the real one, the burst test would prove nothing about production. So, for each service the engine
calls, with the operation the engine calls: the error code, HTTP status and modelled exception class match the
service model; botocore's standard retry mode calls it throttling (or transient) and retries it; and the
"after processing" faults really reach the service first.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.retries.standard import RetryContext, ThrottlingErrorDetector, TransientRetryableChecker

from tests.load.faults import (
    ACCESS_ANALYZER,
    DYNAMODB,
    IAM,
    LOST_RESPONSE,
    SERVER_ERROR,
    SERVER_ERROR_AFTER,
    SNS,
    THROTTLE,
    FaultInjector,
    FaultRates,
    route_access_analyzer,
)
from tests.load.harness import ACCOUNT
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


def test_each_region_reaches_its_own_stand_in(load_aws: Aws) -> None:
    session = load_aws.moto.session(service_endpoints={"accessanalyzer": load_aws.standins["us-east-1"].endpoint_url})
    route_access_analyzer(session.events, {r: s.endpoint_url for r, s in load_aws.standins.items()})
    for region, standin in load_aws.standins.items():
        analyzers = session.client("accessanalyzer", region_name=region).list_analyzers()["analyzers"]
        assert [a["arn"] for a in analyzers] == [standin.analyzer_arn]
