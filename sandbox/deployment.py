"""The module deployed into the local AWS, and the steps that drive a finding through it (demo and tests share them).

Terraform side: a COPY of the module (`sandbox.terraform.copy_module`) gets a provider override file
(`write_sandbox_files`: ``sandbox_override.tf`` with dummy credentials and every service endpoint the module uses
pointed at the moto server) and, when the example does not declare the variables the sandbox needs, a module
override in the same file (Terraform merges ``module`` blocks of override files argument by argument). The
shipped module and examples are never touched.

AWS side (`LocalAws`): a moto server, the Access Analyzer stand-in, an administrator user for the harness, and
IAM authorization enforcement for both (`LocalAws.authorization`): moto checks its own services, and
`MotoPolicyAuthorizer` makes the stand-in check ``access-analyzer:*`` actions against the caller's policies in
moto with moto's own policy evaluator.

The deployment (`LocalDeployment`): the Terraform outputs, the function's configuration read back from moto's
Lambda API, and `LocalLambda`, which plays the Lambda service for the deployed function: it assumes the
function's execution role, runs the COMMITTED zip (`sandbox.lambda_runtime`) with the function's environment
(only endpoints, Region and credentials are the sandbox's), polls the deployed queue as the event source mapping
does and ships the function's output to its log group. Every AWS call the function and its event source mapping
make is signed with the execution role's credentials, so with authorization enforced a permission missing from
the module's policy shows up as AccessDenied.
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from sandbox.access_analyzer import (
    TYPE_CLIENTS,
    AccessAnalyzerStandIn,
    AnalysisResult,
    AuthorizationRequest,
    type_analysis_of_arn,
)
from sandbox.lambda_runtime import (
    AwsCall,
    EventSourceMapping,
    Invocation,
    LambdaContext,
    LambdaInstance,
    LambdaPackage,
    QueueMessage,
    aws_environment,
    runtime_variables,
    sqs_event,
)
from sandbox.moto_server import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, MotoServer, SandboxSession
from sandbox.terraform import Terraform, hcl_string

# Every service the module and the examples create resources in (plus sts for the provider's identity check).
# accessanalyzer is listed so that nothing can reach the real service; with create_analyzer = false it is unused.
SANDBOX_SERVICES = (
    "accessanalyzer",
    "cloudwatch",
    "dynamodb",
    "events",
    "iam",
    "kms",
    "lambda",
    "logs",
    "scheduler",
    "sns",
    "sqs",
    "sts",
)
OVERRIDE_FILE = "sandbox_override.tf"
TFVARS_FILE = "sandbox.auto.tfvars.json"
MODULE_BLOCK = "access_analyzer_remediation"  # the module block's name in examples/basic and examples/complete
ADMIN_USER = "sandbox-admin"


# ====================================================================================================== Terraform
def hcl_value(value: Any) -> str:
    """A Terraform expression for a JSON-like value (strings are literal: no interpolation)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return hcl_string(value)
    if isinstance(value, Mapping):
        items = ", ".join(f"{hcl_string(str(k))} = {hcl_value(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, Sequence):
        return "[" + ", ".join(hcl_value(v) for v in value) + "]"
    raise TypeError(f"no HCL literal for {type(value).__name__}")


def provider_override(
    endpoint_url: str,
    region: str = DEFAULT_REGION,
    *,
    service_endpoints: Mapping[str, str] | None = None,
) -> str:
    """A ``provider "aws"`` block that sends every service the module uses to the sandbox."""
    endpoints = dict.fromkeys(SANDBOX_SERVICES, endpoint_url) | dict(service_endpoints or {})
    width = max(len(service) for service in endpoints)
    lines = [
        "# Written by sandbox.deployment: send every AWS call of this copy of the module to the local sandbox.",
        'provider "aws" {',
        f"  region                      = {hcl_string(region)}",
        '  access_key                  = "testing"',
        '  secret_key                  = "testing"',
        "  skip_credentials_validation = true",
        "  skip_metadata_api_check     = true",
        "  skip_requesting_account_id  = true",
        "",
        "  endpoints {",
        *(f"    {service:<{width}} = {hcl_string(url)}" for service, url in sorted(endpoints.items())),
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def module_override(arguments: Mapping[str, Any], module: str = MODULE_BLOCK) -> str:
    """A ``module`` block that overrides (only) these arguments of the example's module call."""
    width = max((len(name) for name in arguments), default=0)
    lines = [f'module "{module}" {{']
    lines += [f"  {name:<{width}} = {hcl_value(value)}" for name, value in arguments.items()]
    return "\n".join([*lines, "}"]) + "\n"


def write_sandbox_files(
    module_dir: Path,
    endpoint_url: str | None,
    *,
    region: str = DEFAULT_REGION,
    variables: Mapping[str, Any] | None = None,
    module_arguments: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Write the override file (provider for `endpoint_url` when given, module arguments when given) and the
    variables file into `module_dir` (a copy of an example). Returns the files written."""
    written = []
    parts = []
    if endpoint_url is not None:
        parts.append(provider_override(endpoint_url, region))
    if module_arguments:
        parts.append(
            "# The example does not declare these as variables: override the module call's arguments instead.\n"
            + module_override(module_arguments)
        )
    if parts:
        override = module_dir / OVERRIDE_FILE
        override.write_text("\n".join(parts))
        written.append(override)
    if variables:
        tfvars = module_dir / TFVARS_FILE
        tfvars.write_text(json.dumps(dict(variables), indent=2) + "\n")
        written.append(tfvars)
    return written


def output_values(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """``{"name": {"value": v, ...}}`` (``terraform output -json``, a state file's outputs) -> ``{"name": v}``."""
    return {
        name: (item["value"] if isinstance(item, Mapping) and "value" in item else item)
        for name, item in outputs.items()
    }


def terraform_outputs(terraform: Terraform, module_dir: Path) -> dict[str, Any]:
    """The root module's outputs, as plain values."""
    proc = terraform.run("output", "-json", "-no-color", cwd=module_dir)
    return output_values(json.loads(proc.stdout))


def apply(
    terraform: Terraform,
    module_dir: Path,
    *,
    parallelism: int = 32,
    on_line: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """init + apply (auto-approved) in module_dir; returns the outputs. `on_line` receives the apply's output."""
    terraform.init(module_dir)
    args = ("apply", "-auto-approve", "-input=false", "-no-color", f"-parallelism={parallelism}")
    if on_line is None:
        terraform.run(*args, cwd=module_dir)
    else:
        terraform.stream(*args, cwd=module_dir, on_line=on_line)
    return terraform_outputs(terraform, module_dir)


def parse_cli_environment(text: str) -> dict[str, str]:
    """The ``cli_environment`` output (``export NAME='value'`` lines) as a dict."""
    variables: dict[str, str] = {}
    for line in text.splitlines():
        words = shlex.split(line)
        if not words:
            continue
        if words[0] != "export" or len(words) != 2 or "=" not in words[1]:
            raise ValueError(f"not an export line: {line!r}")
        name, _, value = words[1].partition("=")
        variables[name] = value
    return variables


@dataclass(frozen=True)
class Deployment:
    """What Terraform says it deployed (the root module's outputs)."""

    module_dir: Path
    outputs: Mapping[str, Any]

    def _output(self, name: str) -> Any:
        if name not in self.outputs:
            raise KeyError(f"the root module in {self.module_dir} has no output {name!r}")
        return self.outputs[name]

    @property
    def function_name(self) -> str:
        return str(self._output("lambda_function_name"))

    @property
    def topic_arn(self) -> str:
        return str(self._output("sns_topic_arn"))

    @property
    def audit_table(self) -> str:
        return str(self._output("audit_table_name"))

    @property
    def cli_environment(self) -> dict[str, str]:
        return parse_cli_environment(str(self._output("cli_environment")))

    @property
    def analyzer_arns(self) -> list[str]:
        return list(json.loads(self.cli_environment["AAR_ANALYZER_ARNS"]))

    @property
    def region(self) -> str:
        return self.cli_environment.get("AWS_REGION", DEFAULT_REGION)


# ====================================================================================================== local AWS
@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def as_sts(self) -> dict[str, str]:
        """In the shape of STS's ``Credentials`` (what `runtime_variables` takes)."""
        return {
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "SessionToken": self.session_token or "",
        }

    def env(self) -> dict[str, str]:
        env = {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}
        if self.session_token:
            env["AWS_SESSION_TOKEN"] = self.session_token
        return env


class MotoPolicyAuthorizer:
    """Authorizes Access Analyzer stand-in requests against the caller's IAM policies in moto.

    The caller is identified by the access key id of its SigV4 signature, which must be one the sandbox handed out
    (`register`): the administrator's key or a role session it assumed. Its identity policies (inline and attached)
    are read from moto's IAM and evaluated with moto's own evaluator (``moto.iam.access_control.IAMPolicy``), the
    one moto applies to its own services: an explicit Deny wins, otherwise one Allow is needed. Enforcement is off
    until `enforcing` is set (`LocalAws.authorization` does it together with moto's).
    """

    def __init__(self, iam_client: Callable[[], Any]) -> None:
        self._iam = iam_client
        self._principals: dict[str, tuple[str, str]] = {}
        self.enforcing = False
        self.decisions: list[tuple[AuthorizationRequest, bool]] = []

    def register(self, access_key_id: str, kind: str, name: str) -> None:
        """`kind` is "user" or "role"; `name` the user's or role's name."""
        if kind not in ("user", "role"):
            raise ValueError(kind)
        self._principals[access_key_id] = (kind, name)

    def __call__(self, request: AuthorizationRequest) -> None:
        if not self.enforcing:
            return
        principal = self._principals.get(request.access_key_id or "")
        if principal is None:
            self.decisions.append((request, False))
            raise PermissionError("The security token included in the request is invalid.")
        allowed = self._allowed(principal, request.action, request.resource)
        self.decisions.append((request, allowed))
        if not allowed:
            kind, name = principal
            who = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:{kind}/{name}"
            raise PermissionError(
                f"User: {who} is not authorized to perform: {request.action} on resource: {request.resource}"
            )

    def _allowed(self, principal: tuple[str, str], action: str, resource: str) -> bool:
        from moto.iam.access_control import IAMPolicy, PermissionResult

        permitted = False
        for document in self._policies(*principal):
            result = IAMPolicy(json.dumps(document)).is_action_permitted(action, resource)
            if result == PermissionResult.DENIED:
                return False
            permitted = permitted or result == PermissionResult.PERMITTED
        return permitted

    def _policies(self, kind: str, name: str) -> list[Any]:
        iam = self._iam()
        documents: list[Any] = []
        if kind == "role":
            for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
                documents.append(iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"])
            attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        else:
            for policy_name in iam.list_user_policies(UserName=name)["PolicyNames"]:
                documents.append(iam.get_user_policy(UserName=name, PolicyName=policy_name)["PolicyDocument"])
            attached = iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]
        for policy in attached:
            version = iam.get_policy(PolicyArn=policy["PolicyArn"])["Policy"]["DefaultVersionId"]
            documents.append(
                iam.get_policy_version(PolicyArn=policy["PolicyArn"], VersionId=version)["PolicyVersion"]["Document"]
            )
        return documents


class LocalAws:
    """The local AWS of the demo and the integration tests: moto server + Access Analyzer stand-in, on 127.0.0.1."""

    def __init__(self, region: str = DEFAULT_REGION) -> None:
        self.region = region
        self.moto = MotoServer(region=region)
        self.standin = AccessAnalyzerStandIn(account_id=DEFAULT_ACCOUNT_ID, region=region)
        self.admin_credentials: Credentials | None = None
        self.authorizer = MotoPolicyAuthorizer(lambda: self.admin.client("iam"))
        self.standin.authorizer = self.authorizer

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> LocalAws:
        self.moto.start()
        self.standin.start()
        return self

    def stop(self) -> None:
        self.standin.stop()
        self.moto.stop()

    @property
    def endpoint_url(self) -> str:
        """The moto server's URL (every service but Access Analyzer)."""
        return self.moto.endpoint_url

    @property
    def endpoints(self) -> dict[str, str]:
        """The variables that point an SDK at the sandbox (botocore reads them at client creation)."""
        return {"AWS_ENDPOINT_URL": self.endpoint_url, "AWS_ENDPOINT_URL_ACCESSANALYZER": self.standin.endpoint_url}

    def session(self, credentials: Credentials | None = None) -> SandboxSession:
        """A session on the sandbox; moto's dummy credentials unless given."""
        endpoints = {"accessanalyzer": self.standin.endpoint_url}
        if credentials is None:
            return self.moto.session(service_endpoints=endpoints)
        return self.moto.session(
            service_endpoints=endpoints,
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
        )

    @property
    def admin(self) -> SandboxSession:
        """The harness's session: the administrator once created (needed under enforcement), else moto's dummy."""
        return self.session(self.admin_credentials)

    def create_administrator(self) -> Credentials:
        """An IAM user allowed everything, for the harness and the human-run CLI. Idempotent."""
        if self.admin_credentials is not None:
            return self.admin_credentials
        iam = self.session().client("iam")
        iam.create_user(UserName=ADMIN_USER)
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam.put_user_policy(UserName=ADMIN_USER, PolicyName="everything", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
        self.admin_credentials = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
        self.authorizer.register(key["AccessKeyId"], "user", ADMIN_USER)
        # Every type the stand-in analyses, with the administrator's clients (keyword = "<service>_client").
        self.standin.attach(
            iam_client=self.admin.client("iam"),
            events_client=self.admin.client("events"),
            s3_client=self.admin.client("s3"),
            kms_client=self.admin.client("kms"),
            **{name: self.admin.client(name.removesuffix("_client")) for name in TYPE_CLIENTS},
        )
        return self.admin_credentials

    def assume_role(self, role_arn: str, session_name: str) -> Credentials:
        """STS AssumeRole in moto. Call it while enforcement is off: a role that trusts only a service principal
        (lambda.amazonaws.com) cannot be assumed by the harness under enforcement, just as in AWS, where the
        Lambda service assumes it."""
        response = self.admin.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name[:64])
        credentials = response["Credentials"]
        self.authorizer.register(credentials["AccessKeyId"], "role", role_arn.rsplit("/", 1)[-1])
        return Credentials(credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"])

    @contextlib.contextmanager
    def authorization(self) -> Iterator[None]:
        """Enforce IAM authorization in moto and in the stand-in inside the block (the administrator must exist)."""
        if self.admin_credentials is None:
            raise RuntimeError("create_administrator() first: under enforcement moto's dummy credentials are refused")
        previous = self.authorizer.enforcing
        self.authorizer.enforcing = True
        try:
            with self.moto.authorization():
                yield
        finally:
            self.authorizer.enforcing = previous


# ====================================================================================================== the function
@dataclass(frozen=True)
class FunctionConfiguration:
    """The deployed function as the Lambda API reports it (not as Terraform's outputs say)."""

    name: str
    arn: str
    role_arn: str
    handler: str
    runtime: str
    memory_size: int
    timeout: int
    code_sha256: str
    environment: Mapping[str, str]
    log_group: str

    @classmethod
    def read(cls, lambda_client: Any, name: str) -> FunctionConfiguration:
        config = lambda_client.get_function_configuration(FunctionName=name)
        return cls(
            name=config["FunctionName"],
            arn=config["FunctionArn"],
            role_arn=config["Role"],
            handler=config["Handler"],
            runtime=config["Runtime"],
            memory_size=int(config.get("MemorySize", 128)),
            timeout=int(config.get("Timeout", 3)),
            code_sha256=config.get("CodeSha256", ""),
            environment=dict(config.get("Environment", {}).get("Variables", {})),
            log_group=config.get("LoggingConfig", {}).get("LogGroup") or f"/aws/lambda/{config['FunctionName']}",
        )


def event_source_queue_url(lambda_client: Any, sqs_client: Any, function_arn: str) -> str:
    """The URL of the one SQS queue the function's event source mapping polls (read back from the Lambda API)."""
    # Every mapping, matched on FunctionArn: moto 5.2.5 filters FunctionName= on the string the mapping was created
    # with (Terraform passes the ARN), so a filter by name finds nothing there.
    mappings = [
        mapping
        for page in lambda_client.get_paginator("list_event_source_mappings").paginate()
        for mapping in page["EventSourceMappings"]
        if mapping.get("FunctionArn") == function_arn
    ]
    queues = [m["EventSourceArn"] for m in mappings if str(m.get("EventSourceArn", "")).startswith("arn:aws:sqs:")]
    if len(queues) != 1:
        raise LookupError(f"{function_arn} has {len(queues)} SQS event source mappings, expected 1: {mappings}")
    _, _, _, _, account, name = queues[0].split(":", 5)
    return str(sqs_client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])


@dataclass(frozen=True)
class Delivery:
    """One batch the event source mapping delivered: the messages, the invocation, what went back to the queue."""

    messages: tuple[QueueMessage, ...]
    invocation: Invocation
    failed: tuple[QueueMessage, ...]

    @property
    def events(self) -> list[dict[str, Any]]:
        return [message.event() for message in self.messages]


class LocalLambda:
    """Plays the Lambda service for the deployed function (see the module docstring)."""

    def __init__(
        self,
        aws: LocalAws,
        configuration: FunctionConfiguration,
        queue_url: str,
        work_dir: Path,
        package: LambdaPackage,
    ) -> None:
        self.aws = aws
        self.configuration = configuration
        self.package = package
        self.code_dir = package.extract(work_dir / "task")
        self.credentials = aws.assume_role(configuration.role_arn, configuration.name)
        self.role_session = aws.session(self.credentials)
        # Every call made with the execution role: by the handler (recorded by its instance) and by the service on
        # the function's behalf (event source mapping, log delivery), recorded here.
        self.calls: list[AwsCall] = []
        self.role_session.events.register("before-call", self._record_call)
        self.event_source = EventSourceMapping(self.role_session.client("sqs"), queue_url, aws.region)
        self.instance: LambdaInstance | None = None
        self.instances = 0
        self._logs = self.role_session.client("logs")
        self.log_delivery_errors: list[ClientError] = []
        self._log_stream: str | None = None

    @property
    def environment_overrides(self) -> dict[str, str]:
        """The only variables that differ from the deployed function's: where AWS is, and who the function is."""
        return {**self.aws.endpoints, **self.credentials.env(), "AWS_REGION": self.aws.region}

    def environment(self, log_stream: str) -> dict[str, str]:
        config = self.configuration
        runtime = runtime_variables(
            function_name=config.name,
            region=self.aws.region,
            memory_size=config.memory_size,
            log_group_name=config.log_group,
            log_stream_name=log_stream,
            handler=config.handler,
            credentials=self.credentials.as_sts(),
        )
        return {**config.environment, **runtime, **self.aws.endpoints}

    def cold_start(self) -> LambdaInstance:
        """A new execution environment (the handler module imported afresh from the zip)."""
        stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        config = self.configuration

        def context() -> LambdaContext:
            return LambdaContext(config.name, config.arn, config.memory_size, config.timeout, config.log_group, stream)

        self.instance = LambdaInstance(self.code_dir, config.handler, self.environment(stream), context)
        self.instances += 1
        self._log_stream = None
        return self.instance

    def invoke(self, event: Any) -> Invocation:
        """Invoke (cold-starting an instance when none is warm) and ship the output to the function's log group."""
        instance = self.instance or self.cold_start()
        started = time.monotonic()
        invocation = instance.invoke(event)
        self.calls += invocation.calls
        self._ship_logs(instance, invocation, time.monotonic() - started)
        return invocation

    def _record_call(self, model: Any, **kwargs: Any) -> None:
        self.calls.append(AwsCall(model.service_model.service_name, model.name, ""))

    def redeliver(self, messages: Sequence[QueueMessage]) -> Invocation:
        """The same batch again (SQS delivers at least once): same records, nothing deleted afterwards."""
        return self.invoke(sqs_event(messages, self.event_source.queue_arn, self.aws.region))

    def deliver(self, messages: Sequence[QueueMessage]) -> Delivery:
        """What the event source mapping does with a batch: invoke with it, delete the records that succeeded."""
        invocation = self.invoke(sqs_event(messages, self.event_source.queue_arn, self.aws.region))
        failed = self.event_source.delete_succeeded(messages, invocation.result) if invocation.error is None else []
        return Delivery(tuple(messages), invocation, tuple(failed if invocation.error is None else messages))

    def _ship_logs(self, instance: LambdaInstance, invocation: Invocation, seconds: float) -> None:
        # The Lambda service writes the function's output to its log group with the execution role (logs:*).
        request = invocation.request_id
        lines = [
            f"START RequestId: {request} Version: $LATEST",
            *invocation.logs,
            f"END RequestId: {request}",
            f"REPORT RequestId: {request}\tDuration: {seconds * 1000:.2f} ms",
        ]
        stream = instance.environment["AWS_LAMBDA_LOG_STREAM_NAME"]
        try:
            if self._log_stream != stream:
                self._logs.create_log_stream(logGroupName=self.configuration.log_group, logStreamName=stream)
                self._log_stream = stream
            now = int(time.time() * 1000)
            self._logs.put_log_events(
                logGroupName=self.configuration.log_group,
                logStreamName=stream,
                logEvents=[{"timestamp": now, "message": line} for line in lines],
            )
        except ClientError as error:  # as in Lambda: lost logs do not fail the invocation
            self.log_delivery_errors.append(error)


# ====================================================================================================== mail, CLI
@dataclass(frozen=True)
class Email:
    subject: str
    message: str


class Mailbox:
    """An SQS queue subscribed to the topic: what an e-mail subscriber would receive (Subject + Message)."""

    def __init__(self, sqs: Any, queue_url: str, subscription_arn: str) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.subscription_arn = subscription_arn

    @classmethod
    def subscribe(cls, session: Any, topic_arn: str, name: str) -> Mailbox:
        sqs, sns = session.client("sqs"), session.client("sns")
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        # Lets the topic deliver to the queue (moto does not check it; AWS does).
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "FromTheTopic",
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
        subscription = sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, ReturnSubscriptionArn=True)
        return cls(sqs, url, subscription["SubscriptionArn"])

    def receive(self, expected: int = 1, timeout: float = 10.0) -> list[Email]:
        """Wait for `expected` e-mails (or `timeout`), then return every e-mail waiting, deleting them."""
        emails: list[Email] = []
        deadline = time.monotonic() + timeout
        while True:
            done = len(emails) >= expected
            batch = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0 if done else 1
            ).get("Messages", [])
            for message in batch:
                body = json.loads(message["Body"])
                emails.append(Email(str(body.get("Subject", "")), str(body["Message"])))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            if not batch and (done or time.monotonic() > deadline):
                return emails


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(argv: Sequence[str], environment: Mapping[str, str]) -> CliResult:
    """``aa-remediate ARGV`` (the installed package's CLI, as an operator runs it) with exactly `environment`."""
    out, err = io.StringIO(), io.StringIO()
    with aws_environment(environment), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        from access_analyzer_remediation.cli import main

        try:
            code = main(list(argv))
        except SystemExit as stop:  # argparse
            code = stop.code if isinstance(stop.code, int) else 2
        except Exception:  # what the process would do: print the traceback, exit 1
            traceback.print_exc()
            code = 1
    return CliResult(code, out.getvalue(), err.getvalue())


# ====================================================================================================== the flow
def trust_policy(*statements: Mapping[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [dict(s) for s in statements]}


def allow(principal: Mapping[str, Any] | str, action: str = "sts:AssumeRole", **extra: Any) -> dict[str, Any]:
    """One Allow statement of a trust policy."""
    return {"Effect": "Allow", "Principal": principal, "Action": action, **extra}


@dataclass
class LocalDeployment:
    """The module applied into `LocalAws`, with the steps of the demo (and of the integration tests).

    Build it after the apply; `prepare` creates the administrator and starts the function's role session, which
    must happen before enforcement is switched on.
    """

    aws: LocalAws
    deployment: Deployment
    work_dir: Path
    package: LambdaPackage = field(default_factory=LambdaPackage)
    queue_url: str = field(init=False)
    function: LocalLambda = field(init=False)

    def __post_init__(self) -> None:
        self.aws.create_administrator()
        lambda_client = self.aws.admin.client("lambda")
        configuration = FunctionConfiguration.read(lambda_client, self.deployment.function_name)
        self.queue_url = event_source_queue_url(lambda_client, self.aws.admin.client("sqs"), configuration.arn)
        self.function = LocalLambda(self.aws, configuration, self.queue_url, self.work_dir, self.package)

    # -------------------------------------------------------------- arrange (before enforcement)
    def create_role(
        self,
        name: str,
        policy: Mapping[str, Any],
        *,
        path: str = "/",
        tags: Mapping[str, str] | None = None,
    ) -> str:
        response = self.aws.admin.client("iam").create_role(
            RoleName=name,
            Path=path,
            AssumeRolePolicyDocument=json.dumps(policy),
            Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
        )
        return str(response["Role"]["Arn"])

    def subscribe_mailbox(self, name: str) -> Mailbox:
        return Mailbox.subscribe(self.aws.admin, self.deployment.topic_arn, name)

    # -------------------------------------------------------------- the flow
    def trust_policy(self, role_name: str) -> dict[str, Any]:
        role = self.aws.admin.client("iam").get_role(RoleName=role_name)["Role"]
        return dict(role["AssumeRolePolicyDocument"])

    def raise_findings(self) -> AnalysisResult:
        """The stand-in analyses every role, bucket and key and puts an event per new or changed finding on the
        default bus."""
        return self.aws.standin.analyze()

    def rescan(self, resource_arn: str) -> AnalysisResult:
        """StartResourceScan's effect: the resource (a role, bucket, key or any type the stand-in analyses) is
        analysed again; changed findings emit events."""
        standin = self.aws.standin
        if resource_arn.startswith("arn:aws:s3:::"):
            return standin.scan_bucket(resource_arn)
        if ":kms:" in resource_arn:
            return standin.scan_key(resource_arn)
        if type_analysis_of_arn(resource_arn) is not None:
            return standin.scan_resource(resource_arn)
        return standin.scan_role(resource_arn)

    def receive_findings(self, expected: int, timeout: float = 10.0) -> list[QueueMessage]:
        """What the deployed rule delivered to the deployed queue (polled with the function's role)."""
        return self.function.event_source.receive(expected, timeout)

    def run_function(self, messages: Sequence[QueueMessage]) -> Delivery:
        return self.function.deliver(messages)

    def audit_records(self, finding_id: str) -> list[dict[str, Any]]:
        """The audit table's records of a finding, oldest first, as plain values."""
        from boto3.dynamodb.types import TypeDeserializer

        response = self.aws.admin.client("dynamodb").query(
            TableName=self.deployment.audit_table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"FINDING#{finding_id}"}},
        )
        deserializer = TypeDeserializer()
        return [{k: deserializer.deserialize(v) for k, v in item.items()} for item in response["Items"]]

    def cli_environment(self) -> dict[str, str]:
        """The Terraform output `cli_environment`, pointed at the sandbox, with the administrator's credentials."""
        assert self.aws.admin_credentials is not None
        return {**self.deployment.cli_environment, **self.aws.endpoints, **self.aws.admin_credentials.env()}

    def cli(self, *argv: str) -> CliResult:
        return run_cli(argv, self.cli_environment())

    def finding(self, finding_id: str) -> dict[str, Any]:
        """GetFinding, as the administrator."""
        analyzer = self.deployment.analyzer_arns[0]
        try:
            return dict(
                self.aws.admin.client("accessanalyzer").get_finding(analyzerArn=analyzer, id=finding_id)["finding"]
            )
        except ClientError as error:
            raise LookupError(f"finding {finding_id}: {error}") from error
