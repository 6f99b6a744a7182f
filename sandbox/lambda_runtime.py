"""Run the COMMITTED Lambda zip in-process, the way the Lambda service would run the deployed function.

moto creates Lambda functions but cannot invoke them without Docker, so the sandbox plays the Lambda service itself:

- `LambdaPackage` opens ``lambda_dist/access-analyzer-remediation.zip`` (the bytes Terraform uploads; moto's
  ``CodeSha256`` of the deployed function can be compared with `LambdaPackage.code_sha256`) and extracts it.
- `LambdaInstance` is one execution environment: a cold start imports the handler named by the function's
  ``Handler`` setting FROM THE EXTRACTED ZIP in a module namespace of its own, never the source tree's package
  (`LambdaInstance.handler_file` proves it), with the function's environment and its execution role's
  credentials; later invocations reuse it (warm), like Lambda does.
- `EventSourceMapping` polls the function's SQS queue with the execution role's credentials and delivers the
  messages as an SQS event, deleting the records the handler did not report in ``batchItemFailures``
  (ReportBatchItemFailures), as the Lambda service's event source mapping does.

What "in-process" has to isolate, and how: while an instance runs, ``os.environ`` holds only the function's
variables plus what the Lambda runtime adds (no ``AWS_PROFILE`` or config files of the developer), the
``access_analyzer_remediation`` entries of ``sys.modules`` are the instance's own (the source tree's modules,
if imported, are put back afterwards; relative imports done lazily inside the handler therefore resolve to the
zip too), boto3's default session is the instance's (so its clients are signed with the role's credentials and
every AWS call is recorded in `LambdaInstance.calls`), stdout goes to the instance's log buffer, and the state of
the package's loggers is the instance's. Not emulated: the python3.13 runtime (the handler runs on this
interpreter), the Powertools layer (the installed aws-lambda-powertools is used) and X-Ray (Powertools disables
tracing outside Lambda).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib
import io
import json
import logging
import os
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import boto3.session

from sandbox.terraform import REPO_ROOT

LAMBDA_ZIP = REPO_ROOT / "lambda_dist" / "access-analyzer-remediation.zip"
# Variables that come from the function's configuration or the Lambda runtime, never from the caller's shell.
_ISOLATED_PREFIXES = ("AWS_", "AAR_", "POWERTOOLS_", "LAMBDA_", "_X_AMZN_", "_HANDLER")
# Logger attributes that describe the logger's place in the hierarchy, not its configuration.
_STRUCTURAL_LOGGER_KEYS = frozenset({"name", "parent", "manager", "_cache"})
_RUNTIME_LOCK = threading.RLock()


# ====================================================================================================== the zip
@dataclass(frozen=True)
class LambdaPackage:
    """The committed deployment package."""

    path: Path = LAMBDA_ZIP

    @property
    def code_sha256(self) -> str:
        """base64(sha256(zip)): what Lambda reports as ``CodeSha256`` (and Terraform as ``source_code_hash``)."""
        return base64.b64encode(hashlib.sha256(self.path.read_bytes()).digest()).decode()

    def extract(self, dest: Path) -> Path:
        """Unpack the zip into dest (created) and return dest: the function's code directory (LAMBDA_TASK_ROOT)."""
        dest.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(self.path) as archive:
            for name in archive.namelist():
                target = (dest / name).resolve()
                if not target.is_relative_to(dest.resolve()):
                    raise ValueError(f"{self.path}: entry {name!r} would be written outside {dest}")
            archive.extractall(dest)
        return dest


# ====================================================================================================== context
@dataclass
class LambdaContext:
    """The parts of the Lambda context object the handler and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    log_group_name: str
    log_stream_name: str
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


@dataclass(frozen=True)
class AwsCall:
    """One AWS API call the handler made (as botocore saw it, before sending)."""

    service: str  # botocore service name, e.g. "accessanalyzer", "iam", "dynamodb"
    operation: str  # e.g. "GetFinding"
    endpoint: str


@dataclass(frozen=True)
class Invocation:
    """One invocation's result, what it printed (Powertools logs and metrics) and the AWS calls it made."""

    result: Any
    logs: tuple[str, ...]
    calls: tuple[AwsCall, ...]
    request_id: str
    error: BaseException | None = None

    def log_records(self) -> list[dict[str, Any]]:
        """The JSON log lines (Powertools Logger and EMF metrics), parsed; other lines are skipped."""
        records = []
        for line in self.logs:
            with contextlib.suppress(ValueError):
                parsed = json.loads(line)
                if isinstance(parsed, dict):
                    records.append(parsed)
        return records


# ====================================================================================================== runtime
class LambdaInstance:
    """One execution environment of the function: cold-started from the code directory, then kept warm."""

    def __init__(
        self,
        code_dir: Path,
        handler: str,
        environment: Mapping[str, str],
        context_factory: Callable[[], LambdaContext],
    ) -> None:
        module_name, _, function_name = handler.rpartition(".")
        if not module_name:
            raise ValueError(f"handler {handler!r} is not <module>.<function>")
        self.code_dir = code_dir.resolve()
        self.handler = handler
        self.package = module_name.split(".", 1)[0]
        self.environment = dict(environment)
        self.new_context = context_factory
        self.calls: list[AwsCall] = []
        self._logs = io.StringIO()
        self._log_offset = 0
        self._modules: dict[str, ModuleType] = {}
        self._logger_state: dict[str, dict[str, Any]] = {}
        self._session: boto3.session.Session | None = None
        service_name = self.environment.get("POWERTOOLS_SERVICE_NAME", "")
        self._logger_roots = tuple(n for n in (self.package, service_name) if n)
        with self._runtime():
            importlib.invalidate_caches()
            module = importlib.import_module(module_name)
            self.handler_file = Path(str(module.__file__)).resolve()
            if not self.handler_file.is_relative_to(self.code_dir):
                raise RuntimeError(f"{module_name} was imported from {self.handler_file}, not from {self.code_dir}")
            self._function = getattr(module, function_name)

    # ------------------------------------------------------------------ public
    def invoke(self, event: Any, context: LambdaContext | None = None) -> Invocation:
        """Call the handler once. An exception is returned in `Invocation.error` (Lambda reports it too)."""
        calls_before = len(self.calls)
        context = context or self.new_context()
        result: Any = None
        error: BaseException | None = None
        with self._runtime():
            try:
                result = self._function(event, context)
            except Exception as err:  # an unhandled error is the invocation's result, not the harness's failure
                error = err
        text = self._logs.getvalue()
        new, self._log_offset = text[self._log_offset :], len(text)
        return Invocation(
            result, tuple(new.splitlines()), tuple(self.calls[calls_before:]), context.aws_request_id, error
        )

    # ------------------------------------------------------------------ isolation
    @contextlib.contextmanager
    def _runtime(self) -> Iterator[None]:
        with _RUNTIME_LOCK, contextlib.ExitStack() as stack:
            stack.enter_context(_environment(self.environment))
            stack.enter_context(self._own_modules())
            stack.enter_context(self._own_loggers())
            stack.enter_context(self._own_boto3_session())
            stack.enter_context(contextlib.redirect_stdout(self._logs))
            yield

    def _is_package_module(self, name: str) -> bool:
        return name == self.package or name.startswith(self.package + ".")

    @contextlib.contextmanager
    def _own_modules(self) -> Iterator[None]:
        saved = {name: sys.modules.pop(name) for name in list(sys.modules) if self._is_package_module(name)}
        sys.modules.update(self._modules)
        sys.path.insert(0, str(self.code_dir))
        try:
            yield
        finally:
            sys.path.remove(str(self.code_dir))
            self._modules = {name: sys.modules.pop(name) for name in list(sys.modules) if self._is_package_module(name)}
            sys.modules.update(saved)

    def _matching_loggers(self) -> dict[str, logging.Logger]:
        return {
            name: logger
            for name, logger in logging.Logger.manager.loggerDict.items()
            if isinstance(logger, logging.Logger)
            and any(name == root or name.startswith(root + ".") for root in self._logger_roots)
        }

    @contextlib.contextmanager
    def _own_loggers(self) -> Iterator[None]:
        # Powertools configures the service logger and the package's loggers once, at import; a second cold start
        # in this process must start from unconfigured loggers, and the caller's configuration must come back.
        saved = {name: _logger_config(logger) for name, logger in self._matching_loggers().items()}
        for name, logger in self._matching_loggers().items():
            _set_logger_config(logger, self._logger_state.get(name, {}))
        try:
            yield
        finally:
            loggers = self._matching_loggers()
            self._logger_state = {name: _logger_config(logger) for name, logger in loggers.items()}
            for name, logger in loggers.items():
                _set_logger_config(logger, saved.get(name, {}))

    @contextlib.contextmanager
    def _own_boto3_session(self) -> Iterator[None]:
        if self._session is None:
            # Created inside the environment: credentials, Region and endpoints come from the function's variables.
            self._session = boto3.session.Session()
            self._session.events.register("before-call", self._record_call)
        saved = boto3.DEFAULT_SESSION
        boto3.DEFAULT_SESSION = self._session
        try:
            yield
        finally:
            boto3.DEFAULT_SESSION = saved

    def _record_call(self, model: Any, request_signer: Any = None, **kwargs: Any) -> None:
        del request_signer
        endpoint = ""
        with contextlib.suppress(KeyError, TypeError):
            endpoint = str(kwargs["params"]["url_path"])
        self.calls.append(AwsCall(model.service_model.service_name, model.name, endpoint))


def _logger_config(logger: logging.Logger) -> dict[str, Any]:
    config = {k: v for k, v in vars(logger).items() if k not in _STRUCTURAL_LOGGER_KEYS}
    config["handlers"] = list(logger.handlers)
    config["filters"] = list(logger.filters)
    return config


def _set_logger_config(logger: logging.Logger, config: Mapping[str, Any]) -> None:
    for key in [k for k in vars(logger) if k not in _STRUCTURAL_LOGGER_KEYS]:
        delattr(logger, key)
    # A logger that was never configured in this context starts as logging.getLogger() creates it.
    defaults: dict[str, Any] = {"level": logging.NOTSET, "propagate": True, "disabled": False}
    for key, value in {**defaults, "handlers": [], "filters": [], **config}.items():
        setattr(logger, key, value)
    logger.manager._clear_cache()  # type: ignore[attr-defined]  # effective levels are cached per logger


@contextlib.contextmanager
def _environment(variables: Mapping[str, str]) -> Iterator[None]:
    """os.environ without the caller's AWS/AAR/Powertools settings, plus `variables`; restored afterwards."""
    saved = {k: v for k, v in os.environ.items() if k.startswith(_ISOLATED_PREFIXES)}
    for key in saved:
        del os.environ[key]
    os.environ.update(variables)
    try:
        yield
    finally:
        for key in [k for k in os.environ if k.startswith(_ISOLATED_PREFIXES) or k in variables]:
            del os.environ[key]
        os.environ.update(saved)


@contextlib.contextmanager
def aws_environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Run code that builds its own boto3 clients (e.g. the CLI) with exactly these AWS settings.

    Like a Lambda instance's environment: the caller's AWS variables are hidden, and boto3's default session is a
    fresh one created from `variables` (a session made earlier would have cached other credentials).
    """
    with _RUNTIME_LOCK, _environment(variables):
        saved = boto3.DEFAULT_SESSION
        boto3.DEFAULT_SESSION = boto3.session.Session()
        try:
            yield
        finally:
            boto3.DEFAULT_SESSION = saved


def runtime_variables(
    *,
    function_name: str,
    region: str,
    memory_size: int,
    log_group_name: str,
    log_stream_name: str,
    handler: str,
    credentials: Mapping[str, str],
) -> dict[str, str]:
    """The reserved variables the Lambda runtime sets (AWS Lambda Developer Guide, "Defined runtime environment
    variables"), minus LAMBDA_TASK_ROOT: Powertools reads it to switch X-Ray tracing on, and there is no X-Ray here."""
    return {
        "_HANDLER": handler,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": log_group_name,
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream_name,
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
        # No shared config or credentials files in Lambda: a developer's ~/.aws must not leak into the function.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


# ====================================================================================================== SQS source
@dataclass(frozen=True)
class QueueMessage:
    """One SQS message as ReceiveMessage returned it."""

    message_id: str
    receipt_handle: str
    body: str
    md5_of_body: str
    attributes: Mapping[str, str]

    def event(self) -> dict[str, Any]:
        """The body parsed as JSON (an EventBridge event, for the deployed queue)."""
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


def sqs_event(messages: Sequence[QueueMessage], queue_arn: str, region: str) -> dict[str, Any]:
    """The event the Lambda service passes to a function for an SQS batch (AWS Lambda Developer Guide)."""
    return {
        "Records": [
            {
                "messageId": m.message_id,
                "receiptHandle": m.receipt_handle,
                "body": m.body,
                "attributes": dict(m.attributes),
                "messageAttributes": {},
                "md5OfBody": m.md5_of_body,
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


class EventSourceMapping:
    """The SQS event source mapping: poll with the function's role, invoke, delete what succeeded."""

    def __init__(self, sqs_client: Any, queue_url: str, region: str) -> None:
        self.sqs = sqs_client  # signed with the execution role's credentials: its sqs:* permissions are exercised
        self.queue_url = queue_url
        self.region = region
        self._queue_arn: str | None = None

    @property
    def queue_arn(self) -> str:
        if self._queue_arn is None:  # the mapping reads the queue's attributes (sqs:GetQueueAttributes)
            attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
            self._queue_arn = str(attributes["Attributes"]["QueueArn"])
        return self._queue_arn

    def receive(self, expected: int, timeout: float = 10.0, batch_size: int = 10) -> list[QueueMessage]:
        """Poll until `expected` messages arrived (or `timeout`); then one more short poll, so that extra,
        unexpected messages are returned too instead of being left for the next test."""
        messages: list[QueueMessage] = []
        deadline = time.monotonic() + timeout
        self.queue_arn  # noqa: B018 - GetQueueAttributes first, as the mapping does
        while True:
            done = len(messages) >= expected
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(batch_size, 10),
                WaitTimeSeconds=0 if done else 1,
                MessageSystemAttributeNames=["All"],
            )
            batch = response.get("Messages", [])
            messages += [
                QueueMessage(
                    m["MessageId"], m["ReceiptHandle"], m["Body"], m.get("MD5OfBody", ""), m.get("Attributes", {})
                )
                for m in batch
            ]
            if (done and not batch) or (time.monotonic() > deadline and not batch):
                return messages

    def delete_succeeded(self, messages: Sequence[QueueMessage], result: Any) -> list[QueueMessage]:
        """Delete every message not reported in ``batchItemFailures``; return the failed ones (left in the queue:
        they become visible again after the visibility timeout and are eventually dead-lettered)."""
        failed_ids = set()
        if isinstance(result, Mapping):
            failed_ids = {str(f.get("itemIdentifier")) for f in result.get("batchItemFailures", [])}
        for message in messages:
            # One DeleteMessage each: AWS authorizes DeleteMessageBatch as sqs:DeleteMessage, moto as
            # sqs:DeleteMessageBatch, which the role (rightly) does not have.
            if message.message_id not in failed_ids:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message.receipt_handle)
        return [m for m in messages if m.message_id in failed_ids]
