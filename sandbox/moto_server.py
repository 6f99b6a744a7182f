"""A moto server on 127.0.0.1 for integration tests and the demo, plus boto3 sessions that point at it.

Why a server and not `moto.mock_aws`: the code under test (the Lambda handler, the CLI, Terraform) talks to AWS
over HTTP with ordinary clients. A server lets every one of them share one fake account, exactly as they would
share a real one, and lets us switch moto's IAM authorization on to prove the least-privilege role is enough.

Two ways to run it:

- ``mode="process"`` (the default): moto runs in a child Python process. Its state (backends and the process-global
  authorization switch) is isolated from any in-process ``mock_aws`` used by unit tests in the same pytest run.
  The child blocks on its stdin and exits when the pipe closes, so it cannot outlive the parent even if the
  parent is killed.
- ``mode="thread"``: moto's ``ThreadedMotoServer`` in this process. Faster to start (no second interpreter), but it
  shares moto's global state with ``mock_aws`` and with ``moto.settings``: only use it when nothing else in the
  process uses moto at the same time.

Either way the server binds port 0 on the loopback interface (the kernel picks a free port, so there is no race
between choosing a port and binding it) and `start()` returns only when it answers HTTP.

IAM authorization in server mode: moto reads ``settings.INITIAL_NO_AUTH_ACTION_COUNT`` (default infinity = never
check). A POST to ``/moto-api/reset-auth`` whose body is the new count as a plain number (``b"0"``, ``b"inf"``)
sets it inside the server and resets moto's request counter; the response carries the previous value in
``PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT``. This is what ``moto.core.set_initial_no_auth_action_count`` does in
server mode (moto 5.2.5, ``moto/moto_api/_internal/responses.py``). With the count at N, the first N requests are
free and every later one must be signed with an access key that exists in moto's IAM and is allowed by its
policies.

Resource-level permissions: moto 5.2.5 checks IAM and SQS requests against the ARN they act on, but every other
service against Resource ``"*"``, which a least-privilege statement (``"Resource": "<table ARN>"``) never matches:
the correct policy would be denied. The child process therefore teaches moto the resource of the DynamoDB, SNS,
CloudWatch Logs, KMS, Secrets Manager, ECR, Lambda, EC2 snapshot and RDS snapshot operations and of SQS GetQueueUrl
(`scope_authorization_to_resources`), so a statement scoped to the wrong table, topic, log group, secret, function
or snapshot is denied exactly as AWS would deny it. Conditions are still evaluated only as far as moto does. It also
verifies the signature of a GET or DELETE without a body as AWS does (moto 5.2.5 refuses every such Lambda call).

Lambda policies (process mode): RemovePermission's RevisionId is compared and a removal makes a new one, and
AddPermission's principal is kept as Lambda shows it (an account id as its root ARN), see
`_keep_lambda_policies_as_aws_does`.

Secrets Manager's ValidateResourcePolicy (process mode): moto 5.2.5 does not implement it; the child answers it with
`sandbox.analysis.secret.validate_resource_policy` (a syntax check and a conservative broad-access check, see
`implement_validate_resource_policy`). moto's PutResourcePolicy still ignores ``BlockPublicPolicy``.

Event bus targets (process mode): a rule's event bus target (another Region's bus) receives the event unchanged, as
from AWS (`sandbox.event_bus_forwarding`; moto 5.2.5 drops its ``resources`` and stamps the target's Region).

IAM read lag (process mode): the child serves moto behind `sandbox.iam_consistency.IamReadLagMiddleware`, so a test
can make GetRole (and ListRoles) answer with a trust policy that was current a moment ago, as IAM's eventual
consistency does: ``server.set_iam_read_lag(3.0, probability=0.5)`` (``POST /moto-api/iam-read-lag``); 0 turns it
off, and so does `reset`. Writes are never delayed. ``server.iam_read_lag_stats()`` counts the stale answers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import selectors
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from typing import IO, Any, Literal

import boto3
import boto3.session

DEFAULT_REGION = "us-east-1"
# moto's default account: every resource created with the dummy credentials below lives here.
DEFAULT_ACCOUNT_ID = "123456789012"
# Credentials that moto accepts while authorization is off. They are not secrets and never reach AWS.
DUMMY_ACCESS_KEY_ID = "testing"
DUMMY_SECRET_ACCESS_KEY = "testing"

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

_LOG = logging.getLogger(__name__)
# The sandbox only ever talks to 127.0.0.1: never let an HTTP(S)_PROXY variable reroute that traffic.
_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class MotoServerError(RuntimeError):
    """The moto server did not start, did not answer, or refused an admin call."""


class SandboxSession(boto3.session.Session):
    """A boto3 session whose clients and resources default to the sandbox endpoints.

    boto3 has no per-session "endpoint for every service" setting (only environment variables and the shared
    config file, both process- or user-wide), so the session fills in ``endpoint_url`` when the caller did not.
    ``service_endpoints`` overrides it per service name, e.g. ``{"accessanalyzer": standin.endpoint_url}``.
    """

    def __init__(
        self,
        *,
        endpoint_url: str,
        service_endpoints: Mapping[str, str] | None = None,
        region_name: str = DEFAULT_REGION,
        aws_access_key_id: str = DUMMY_ACCESS_KEY_ID,
        aws_secret_access_key: str = DUMMY_SECRET_ACCESS_KEY,
        aws_session_token: str | None = None,
    ) -> None:
        super().__init__(
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            aws_session_token=aws_session_token,
            region_name=region_name,
        )
        self.sandbox_endpoint_url = endpoint_url
        self.service_endpoints = dict(service_endpoints or {})

    def endpoint_for(self, service_name: str) -> str:
        """The URL a client of `service_name` made by this session talks to."""
        return self.service_endpoints.get(service_name, self.sandbox_endpoint_url)

    def client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        """`boto3.Session.client`, with ``endpoint_url`` defaulting to the sandbox."""
        if kwargs.get("endpoint_url") is None:
            kwargs["endpoint_url"] = self.endpoint_for(service_name)
        return super().client(service_name, *args, **kwargs)  # type: ignore[call-overload]

    def resource(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        """`boto3.Session.resource`, with ``endpoint_url`` defaulting to the sandbox."""
        if kwargs.get("endpoint_url") is None:
            kwargs["endpoint_url"] = self.endpoint_for(service_name)
        return super().resource(service_name, *args, **kwargs)  # type: ignore[call-overload]


def wait_for_http(url: str, timeout: float = 30.0) -> None:
    """Block until `url` answers any HTTP response (status codes do not matter), or raise MotoServerError."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with _NO_PROXY_OPENER.open(url, timeout=2.0) as response:
                response.read()
            return
        except urllib.error.HTTPError:
            return  # an HTTP error status is still an answer
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as error:
            last_error = error
            time.sleep(0.05)
    raise MotoServerError(f"{url} did not answer within {timeout:.0f} s: {last_error}")


class MotoServer:
    """Start, reset and stop one moto server on the loopback interface.

    Use it as a context manager (``with MotoServer() as moto: moto.client("iam")...``) or call `start` / `stop`.
    """

    def __init__(
        self,
        *,
        mode: Literal["process", "thread"] = "process",
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = DEFAULT_REGION,
        startup_timeout: float = 30.0,
    ) -> None:
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"the sandbox only listens on the loopback interface, not {host!r}")
        if mode not in ("process", "thread"):
            raise ValueError(f"mode must be 'process' or 'thread', not {mode!r}")
        self.mode = mode
        self.host = host
        self.region = region
        self.startup_timeout = startup_timeout
        self._requested_port = port
        self._port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._threaded: Any = None  # moto.server.ThreadedMotoServer, imported lazily (it pulls in Flask)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True between a successful `start` and `stop` (and while the child process is alive)."""
        if self._port is None:
            return False
        if self._process is not None:
            return self._process.poll() is None
        return self._threaded is not None

    @property
    def port(self) -> int:
        """The TCP port the server listens on (known only once started)."""
        if self._port is None:
            raise MotoServerError("the moto server is not running")
        return self._port

    @property
    def endpoint_url(self) -> str:
        """Base URL for every boto3 client: ``http://127.0.0.1:<port>``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> MotoServer:
        """Start the server and return only once it answers HTTP. Idempotent."""
        with self._lock:
            if self.running:
                return self
            if self.mode == "thread":
                self._start_thread()
            else:
                self._start_process()
        try:
            wait_for_http(f"{self.endpoint_url}/moto-api/", self.startup_timeout)
        except MotoServerError:
            self.stop()
            raise
        _LOG.debug("moto server (%s) on %s", self.mode, self.endpoint_url)
        return self

    def _start_thread(self) -> None:
        from moto.server import ThreadedMotoServer

        werkzeug_log = logging.getLogger("werkzeug")
        if werkzeug_log.level == logging.NOTSET:  # no access line per request, unless someone asked for them
            werkzeug_log.setLevel(logging.WARNING)
        server = ThreadedMotoServer(ip_address=self.host, port=self._requested_port, verbose=False)
        server.start()
        self._threaded = server
        self._port = int(server.get_host_and_port()[1])

    def _start_process(self) -> None:
        self._log_file = tempfile.TemporaryFile(prefix="moto-server-", suffix=".log")  # noqa: SIM115
        self._process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve-child", self.host, str(self._requested_port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            close_fds=True,
        )
        try:
            self._port = self._read_child_port(self._process)
        except MotoServerError:
            self.stop()
            raise

    def _read_child_port(self, process: subprocess.Popen[bytes]) -> int:
        """Read the ``{"port": N}`` line the child prints once it has bound its socket."""
        assert process.stdout is not None
        deadline = time.monotonic() + self.startup_timeout
        buffer = b""
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while b"\n" not in buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise MotoServerError(
                        f"moto server did not start in {self.startup_timeout:.0f} s{self._log_tail()}"
                    )
                if not selector.select(timeout=min(remaining, 0.5)):
                    if process.poll() is not None:
                        raise MotoServerError(f"moto server exited with {process.returncode}{self._log_tail()}")
                    continue
                chunk = os.read(process.stdout.fileno(), 4096)
                if not chunk:
                    raise MotoServerError(f"moto server exited before it listened{self._log_tail()}")
                buffer += chunk
        try:
            return int(json.loads(buffer.split(b"\n", 1)[0])["port"])
        except (ValueError, KeyError, TypeError) as error:
            raise MotoServerError(f"unexpected start line from the moto child: {buffer[:200]!r}") from error

    def _log_tail(self) -> str:
        if self._log_file is None:
            return ""
        self._log_file.seek(0)
        tail = self._log_file.read()[-2000:].decode("utf-8", "replace").strip()
        return f"\n--- moto server log ---\n{tail}" if tail else ""

    def stop(self) -> None:
        """Stop the server and release its port, thread or process. Safe to call more than once."""
        with self._lock:
            process, self._process = self._process, None
            threaded, self._threaded = self._threaded, None
            self._port = None
            if process is not None:
                _stop_child(process)
            if threaded is not None:
                threaded.stop()
                # ThreadedMotoServer.stop() shuts the loop down but leaves the listening socket open.
                inner = getattr(threaded, "_server", None)
                if inner is not None:
                    inner.server_close()
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None

    # ------------------------------------------------------------------ admin API
    def _admin_post(self, path: str, body: bytes = b"") -> dict[str, Any]:
        # Not form-encoded: moto reads the raw body (request.data), which Flask leaves empty for form posts.
        request = urllib.request.Request(
            f"{self.endpoint_url}{path}",
            data=body,
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        try:
            with _NO_PROXY_OPENER.open(request, timeout=10.0) as response:
                payload = response.read()
        except urllib.error.URLError as error:
            raise MotoServerError(f"POST {path} failed: {error}{self._log_tail()}") from error
        result = json.loads(payload or b"{}")
        if not isinstance(result, dict):
            raise MotoServerError(f"POST {path}: unexpected answer {payload[:200]!r}")
        return result

    def reset(self) -> None:
        """Delete every resource in every moto backend (``POST /moto-api/reset``). Auth settings are kept; the IAM
        read lag is turned off."""
        self._admin_post("/moto-api/reset")

    def _admin_get(self, path: str) -> dict[str, Any]:
        try:
            with _NO_PROXY_OPENER.open(f"{self.endpoint_url}{path}", timeout=10.0) as response:
                payload = response.read()
        except urllib.error.URLError as error:
            raise MotoServerError(f"GET {path} failed: {error}{self._log_tail()}") from error
        result = json.loads(payload or b"{}")
        if not isinstance(result, dict):
            raise MotoServerError(f"GET {path}: unexpected answer {payload[:200]!r}")
        return result

    def set_iam_read_lag(
        self, seconds: float, probability: float = 1.0, seed: int | str | None = None
    ) -> dict[str, Any]:
        """IAM eventual consistency from now on (see `sandbox.iam_consistency`); returns the previous settings.

        For `seconds` after each CreateRole / UpdateAssumeRolePolicy of a role, each GetRole of it (and each of its
        ListRoles entries) answers, with `probability`, an earlier trust policy that was current within the last
        `seconds` instead of the latest. 0 turns it off (so does `reset`). Writes always apply to the latest.
        Process mode only: the switch lives in the server's child process.
        """
        self._require_child("the IAM read lag")
        if seconds < 0 or not 0.0 <= probability <= 1.0:
            raise ValueError(f"need seconds >= 0 and 0 <= probability <= 1, not {seconds!r}, {probability!r}")
        from sandbox.iam_consistency import ADMIN_PATH

        body = json.dumps({"seconds": seconds, "probability": probability, "seed": seed}).encode()
        previous = self._admin_post(ADMIN_PATH, body).get("previous")
        if not isinstance(previous, dict):
            raise MotoServerError("the moto child does not support the IAM read lag (no previous settings)")
        return previous

    def iam_read_lag_stats(self) -> dict[str, Any]:
        """The read-lag settings and counters: ``reads``, ``stale`` (``stale_get_role``, ``stale_list_roles``)..."""
        self._require_child("the IAM read lag")
        from sandbox.iam_consistency import ADMIN_PATH

        return self._admin_get(ADMIN_PATH)

    def _require_child(self, what: str) -> None:
        if self.mode != "process":
            raise MotoServerError(f"{what} needs mode='process' (it is switched inside the server's child)")

    def set_auth_threshold(self, initial_no_auth_action_count: float) -> float:
        """Set moto's INITIAL_NO_AUTH_ACTION_COUNT in the server; return the previous value.

        0 = check every request from now on; ``float("inf")`` = never check (moto's default). The request counter
        restarts at 0, so with N the next N requests are free.
        """
        body = "inf" if initial_no_auth_action_count == float("inf") else str(initial_no_auth_action_count)
        result = self._admin_post("/moto-api/reset-auth", body.encode("ascii"))
        return float(result["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"])

    def enable_auth(self, after_requests: int = 0) -> float:
        """Enforce IAM authorization (signature + policies) after `after_requests` more requests."""
        return self.set_auth_threshold(after_requests)

    def disable_auth(self) -> float:
        """Stop checking authorization (moto's default)."""
        return self.set_auth_threshold(float("inf"))

    @contextlib.contextmanager
    def authorization(self, after_requests: int = 0) -> Iterator[None]:
        """Enforce IAM authorization inside the block, then restore whatever was set before."""
        previous = self.enable_auth(after_requests)
        try:
            yield
        finally:
            self.set_auth_threshold(previous)

    # ------------------------------------------------------------------ clients
    def session(
        self,
        *,
        service_endpoints: Mapping[str, str] | None = None,
        region_name: str | None = None,
        aws_access_key_id: str = DUMMY_ACCESS_KEY_ID,
        aws_secret_access_key: str = DUMMY_SECRET_ACCESS_KEY,
        aws_session_token: str | None = None,
    ) -> SandboxSession:
        """A boto3 session whose clients talk to this server (dummy credentials unless given)."""
        return SandboxSession(
            endpoint_url=self.endpoint_url,
            service_endpoints=service_endpoints,
            region_name=region_name or self.region,
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            aws_session_token=aws_session_token,
        )

    def client(self, service_name: str, **kwargs: Any) -> Any:
        """Shortcut for ``self.session().client(service_name, **kwargs)``."""
        return self.session().client(service_name, **kwargs)

    def env(self, service_endpoints: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment variables that point code which builds its own boto3 clients at this server.

        botocore reads ``AWS_ENDPOINT_URL`` (all services) and ``AWS_ENDPOINT_URL_<SERVICE_ID>`` (one service,
        e.g. ``AWS_ENDPOINT_URL_ACCESSANALYZER``); pass ``{"accessanalyzer": url}`` for the latter.
        """
        env = {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }
        for service, url in (service_endpoints or {}).items():
            env[f"AWS_ENDPOINT_URL_{_service_env_suffix(service)}"] = url
        return env


def _service_env_suffix(service_name: str) -> str:
    """botocore's env var suffix: the model's serviceId, upper-cased, spaces and dashes to underscores."""
    import botocore.session

    service_id = botocore.session.get_session().get_service_model(service_name).service_id
    return str(service_id).upper().replace(" ", "_").replace("-", "_")


def _stop_child(process: subprocess.Popen[bytes]) -> None:
    """Ask the child to exit by closing its stdin; escalate to SIGTERM, then SIGKILL, of that one pid."""
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    try:
        process.wait(timeout=10)
        return
    except subprocess.TimeoutExpired:
        process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def scope_authorization_to_resources() -> None:
    """Make moto authorize DynamoDB, SNS, CloudWatch Logs and KMS requests against the resource's ARN, not ``"*"``,
    and S3 requests with the ``s3:ResourceAccount`` condition key AWS sets.

    moto asks a response class for ``_determine_resource()`` when it has one (IAM, SQS, STS do) and uses ``"*"``
    otherwise. This adds the method to the four classes the remediation's role is scoped on. moto evaluates
    conditions only on the keys a request hands it, and S3 requests hand it none: ``s3:ResourceAccount`` is the
    account moto created the named bucket in (a member account's, in organization mode), else the default account
    (a bucket not created yet, a request naming no bucket). It changes moto's global classes, so it runs only in
    the server's child process (`_serve_child`), never in a process that also uses ``mock_aws``.
    """
    from moto.dynamodb.responses import DynamoHandler
    from moto.iam.access_control import IAMPolicy
    from moto.kms.responses import KmsResponse
    from moto.logs.responses import LogsResponse
    from moto.sns.responses import SNSResponse
    from moto.utilities.utils import get_partition

    def dynamodb_resource(self: Any) -> str:
        # BatchWriteItem/BatchGetItem name their tables in RequestItems; moto checks one resource per request.
        # The resource-policy calls (GetResourcePolicy, PutResourcePolicy, ...) name a table or stream ARN.
        name = (
            self._get_param("TableName")
            or self._get_param("ResourceArn")
            or next(iter(self._get_param("RequestItems") or {}), None)
        )
        if not name:
            return "*"
        if str(name).startswith("arn:"):
            return str(name)
        return f"arn:{get_partition(self.region)}:dynamodb:{self.region}:{self.current_account}:table/{name}"

    def sns_resource(self: Any) -> str:
        return str(self._get_param("TopicArn") or self._get_param("TargetArn") or self._get_param("ResourceArn") or "*")

    def logs_resource(self: Any) -> str:
        group = self._get_param("logGroupName")
        if not group:
            return "*"
        arn = f"arn:{get_partition(self.region)}:logs:{self.region}:{self.current_account}:log-group:{group}"
        stream = self._get_param("logStreamName")
        return f"{arn}:log-stream:{stream}" if stream else f"{arn}:*"

    def kms_resource(self: Any) -> str:
        key = str(self._get_param("KeyId") or "")
        if not key:
            return "*"
        if key.startswith("arn:"):
            return key
        prefix = f"arn:{get_partition(self.region)}:kms:{self.region}:{self.current_account}"
        return f"{prefix}:{key}" if key.startswith("alias/") else f"{prefix}:key/{key}"

    permitted = IAMPolicy.is_action_permitted

    def s3_resource_account(resource: str) -> str:
        """The account owning the bucket the resource names (moto records each bucket's account), else the default
        one (a bucket not created yet, ListAllMyBuckets)."""
        from moto.s3.models import s3_backends

        name = resource.removeprefix("arn:aws:s3:::").split("/", 1)[0] if resource.startswith("arn:") else ""
        owner = s3_backends.bucket_accounts.get(name)
        return owner[1] if owner is not None else DEFAULT_ACCOUNT_ID

    def with_s3_resource_account(
        self: Any, action: str, resource: str = "*", principal: str | None = None, incoming: Any = None
    ) -> Any:
        if incoming is None and action.startswith("s3:"):
            incoming = {"s3:ResourceAccount": s3_resource_account(resource)}
        return permitted(self, action, resource, principal, incoming)

    KmsResponse._determine_resource = kms_resource  # type: ignore[attr-defined]
    IAMPolicy.is_action_permitted = with_s3_resource_account  # type: ignore[method-assign,assignment]
    DynamoHandler._determine_resource = dynamodb_resource  # type: ignore[attr-defined]
    SNSResponse._determine_resource = sns_resource  # type: ignore[attr-defined]
    LogsResponse._determine_resource = logs_resource  # type: ignore[attr-defined]
    _scope_contained_types_to_resources()
    _check_signatures_of_requests_without_a_body()
    _authorize_actions_as_aws_names_them()
    _leave_event_source_mappings_to_the_sandbox()


def _scope_contained_types_to_resources() -> None:
    """The resource of the calls the remediation makes on the other contained types, as AWS authorizes them: a
    secret's, a repository's, a function's or layer version's, an EBS snapshot's ARN (no account in it), an RDS
    snapshot's, and the queue GetQueueUrl names (moto 5.2.5 reads a QueueUrl that GetQueueUrl does not have and
    answers ``"*"``)."""
    from urllib.parse import unquote

    from moto.awslambda.responses import LambdaResponse
    from moto.ec2.responses import EC2Response
    from moto.ecr.responses import ECRResponse
    from moto.rds.responses import RDSResponse
    from moto.secretsmanager.responses import SecretsManagerResponse
    from moto.sqs.exceptions import QueueDoesNotExist
    from moto.sqs.responses import SQSResponse
    from moto.utilities.utils import get_partition

    def secret_resource(self: Any) -> str:
        secret_id = self._get_param("SecretId")
        if not secret_id:
            return "*"
        backend = self.backend
        if backend._is_valid_identifier(secret_id):
            return str(backend.secrets[secret_id].arn)
        if str(secret_id).startswith("arn:"):
            return str(secret_id)
        prefix = f"arn:{get_partition(self.region)}:secretsmanager:{self.region}:{self.current_account}"
        return f"{prefix}:secret:{secret_id}"

    def lambda_resource(self: Any) -> str:
        prefix = f"arn:{get_partition(self.region)}:lambda:{self.region}:{self.current_account}"
        parts = [unquote(p) for p in self.path.split("?")[0].split("/")]
        if len(parts) > 3 and parts[2] == "functions":
            name = parts[3]
            return name if name.startswith("arn:") else f"{prefix}:function:{name}"
        if len(parts) > 5 and parts[2] == "layers" and parts[4] == "versions":
            return f"{prefix}:layer:{parts[3]}:{parts[5]}"
        if len(parts) > 3 and parts[2] == "tags":
            return "/".join(parts[3:])
        return "*"

    def ec2_resource(self: Any) -> str:
        snapshot = self._get_param("SnapshotId")
        return f"arn:{get_partition(self.region)}:ec2:{self.region}::snapshot/{snapshot}" if snapshot else "*"

    queue_resource = SQSResponse._determine_resource

    def sqs_resource(self: Any) -> str:
        name = self._get_param("QueueName")
        if name and not self._get_param("QueueUrl"):
            try:
                return str(self.sqs_backend.get_queue(name).queue_arn)
            except QueueDoesNotExist:  # AWS authorizes the named queue's ARN all the same
                return f"arn:{get_partition(self.region)}:sqs:{self.region}:{self.current_account}:{name}"
        return str(queue_resource(self))

    def ecr_resource(self: Any) -> str:
        arn = self._get_param("resourceArn")
        name = self._get_param("repositoryName")
        if arn or not name:
            return str(arn or "*")
        account = self._get_param("registryId") or self.current_account
        return f"arn:{get_partition(self.region)}:ecr:{self.region}:{account}:repository/{name}"

    def rds_resource(self: Any) -> str:
        prefix = f"arn:{get_partition(self.region)}:rds:{self.region}:{self.current_account}"
        if snapshot := self._get_param("DBSnapshotIdentifier"):
            return str(snapshot) if str(snapshot).startswith("arn:") else f"{prefix}:snapshot:{snapshot}"
        if cluster := self._get_param("DBClusterSnapshotIdentifier"):
            return str(cluster) if str(cluster).startswith("arn:") else f"{prefix}:cluster-snapshot:{cluster}"
        return str(self._get_param("ResourceName") or "*")

    SecretsManagerResponse._determine_resource = secret_resource  # type: ignore[attr-defined]
    ECRResponse._determine_resource = ecr_resource  # type: ignore[attr-defined]
    RDSResponse._determine_resource = rds_resource  # type: ignore[attr-defined]
    LambdaResponse._determine_resource = lambda_resource  # type: ignore[attr-defined]
    EC2Response._determine_resource = ec2_resource  # type: ignore[attr-defined]
    SQSResponse._determine_resource = sqs_resource  # type: ignore[method-assign]


def _check_signatures_of_requests_without_a_body() -> None:
    """moto 5.2.5 verifies a SigV4 signature over ``raw body or data``. For a GET or DELETE its ``data`` is the query
    string or, without one, the request's headers, neither of which is the payload: every such Lambda call
    (GetPolicy, GetFunction, ListFunctions, RemovePermission) is refused as SignatureDoesNotMatch under enforcement.
    The client signed an empty payload (the query string is part of the signed path). A POST's form body reaches moto
    parsed, as ``data`` (SQS, SNS, EC2): those are left as they are."""
    from moto.iam.access_control import IAMRequestBase

    original = IAMRequestBase._create_aws_request

    def create(self: Any) -> Any:
        request = original(self)
        if not self._body and self._method in ("GET", "DELETE", "HEAD"):
            request.data = b""
        return request

    IAMRequestBase._create_aws_request = create  # type: ignore[method-assign]


def _keep_lambda_policies_as_aws_does() -> None:
    """Lambda's function and layer version policies as Lambda keeps them: their RevisionId and their principals.
    moto 5.2.5 reads RemovePermission's RevisionId (a query parameter) as a list, so it refuses every one, current
    or stale, and keeps a policy's revision when a statement is removed. Here the revision is compared as a string
    and a removal makes a new one, as AddPermission already does."""
    from moto.awslambda.exceptions import PreconditionFailedException, UnknownPolicyException
    from moto.awslambda.policy import Policy
    from moto.moto_api._internal import mock_random

    def del_statement(self: Any, sid: str, revision: Any = "") -> None:
        expected = revision[0] if isinstance(revision, list) and revision else revision or ""
        if expected and self.revision != expected:
            raise PreconditionFailedException(
                "The RevisionId provided does not match the latest RevisionId for the Lambda function or alias."
            )
        for statement in self.statements:
            if statement.get("Sid") == sid:
                self.statements.remove(statement)
                self.revision = str(mock_random.uuid4())
                return
        raise UnknownPolicyException()

    Policy.del_statement = del_statement  # type: ignore[method-assign]

    # AddPermission's Principal as GetPolicy shows it in AWS: an account id becomes its root ARN and an IAM ARN an
    # ``{"AWS": ...}`` principal (moto keeps both as the bare string, which no policy grammar allows); ``*`` stays.
    formatter = Policy.principal_formatter

    def principal_formatter(self: Any, obj: Any) -> Any:
        if isinstance(obj, str) and obj.isdigit() and len(obj) == 12:
            return {"AWS": f"arn:aws:iam::{obj}:root"}
        if isinstance(obj, str) and obj.startswith("arn:") and ":iam::" in obj:
            return {"AWS": obj}
        return formatter(self, obj)

    Policy.principal_formatter = principal_formatter  # type: ignore[method-assign]


# IAM actions as AWS names them where moto 5.2.5 asks for another name, which a correct least-privilege policy never
# grants. SQS has no actions of its own for its batch calls: AWS authorizes each under the single call's action.
_ACTIONS_AS_AWS_NAMES_THEM = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}
# A bucket's Block Public Access calls: moto 5.2.5 looks for a `public_access_block` query parameter, finds none (the
# request says `publicAccessBlock`) and asks for s3:ListBucket / s3:CreateBucket / s3:DeleteBucket. AWS authorizes
# them as s3:GetBucketPublicAccessBlock and s3:PutBucketPublicAccessBlock (the delete too).
_BUCKET_PUBLIC_ACCESS_BLOCK = {
    "GET": "GetBucketPublicAccessBlock",
    "PUT": "PutBucketPublicAccessBlock",
    "DELETE": "PutBucketPublicAccessBlock",
}


def _leave_event_source_mappings_to_the_sandbox() -> None:
    """moto "runs" an SQS event source mapping itself: every message sent to the queue makes it receive a batch
    and try to invoke the function (which cannot run without Docker), then make the batch visible again. Each of
    those receives counts towards the queue's maxReceiveCount, so a burst of sent messages ends in the dead-letter
    queue before anybody could process them. The sandbox plays the event source mapping itself
    (sandbox.lambda_runtime.EventSourceMapping), so moto's is switched off."""
    from moto.sqs.models import Queue

    class _NoMappings(dict[str, Any]):
        def __setitem__(self, key: str, value: Any) -> None:
            return None

    original = Queue.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.lambda_event_source_mappings = _NoMappings()

    Queue.__init__ = init  # type: ignore[method-assign]


def _authorize_actions_as_aws_names_them() -> None:
    from moto.iam.access_control import IAMRequestBase
    from moto.s3.responses import ACTION_MAP

    for method, action in _BUCKET_PUBLIC_ACCESS_BLOCK.items():
        ACTION_MAP["BUCKET"][method]["publicAccessBlock"] = action

    original = IAMRequestBase.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self._action = _ACTIONS_AS_AWS_NAMES_THEM.get(self._action, self._action)

    IAMRequestBase.__init__ = init  # type: ignore[method-assign]


# What IAM checks for each action of a DynamoDB transaction (moto checks `dynamodb:TransactWriteItems`, an action
# IAM does not have, on "*").
_TRANSACTION_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


def authorize_transactions_per_item() -> None:
    """Authorize TransactWriteItems as AWS does: each of its actions as its own call on its own table (PutItem,
    UpdateItem, DeleteItem, ConditionCheckItem), all of them or the request is refused. Installed after
    `sandbox.callers.record_callers`, so the callers log names those actions. Child process only."""
    from moto.iam.access_control import IAMRequestBase
    from moto.utilities.utils import get_partition

    checked = IAMRequestBase.check_action_permitted

    def check_action_permitted(self: Any, resource: str) -> None:
        if self._action != "dynamodb:TransactWriteItems":
            checked(self, resource)
            return
        raw = self._body or self._data
        body = json.loads(raw) if isinstance(raw, str | bytes) else dict(raw or {})
        prefix = f"arn:{get_partition(self._region)}:dynamodb:{self._region}:{self.account_id}:table/"
        try:
            for item in body.get("TransactItems", []):
                for kind, spec in item.items():
                    self._action = _TRANSACTION_ACTIONS[kind]
                    table = str(spec["TableName"])
                    checked(self, table if table.startswith("arn:") else prefix + table)
        finally:
            self._action = "dynamodb:TransactWriteItems"

    IAMRequestBase.check_action_permitted = check_action_permitted  # type: ignore[method-assign]


def implement_validate_resource_policy() -> None:
    """Teach moto Secrets Manager's ValidateResourcePolicy, which moto 5.2.5 does not implement (a request for it
    fails with "not implemented"). The answer is `sandbox.analysis.secret.validate_resource_policy`'s: a syntax check
    and a conservative broad-access check (its docstring); a SecretId moto does not know is
    ``ResourceNotFoundException``. moto's PutResourcePolicy still ignores ``BlockPublicPolicy`` (a public policy is
    stored). It changes moto's global class, so it runs only in the server's child process (`_serve_child`)."""
    from moto.secretsmanager.exceptions import SecretNotFoundException
    from moto.secretsmanager.responses import SecretsManagerResponse

    def validate_resource_policy(self: Any) -> str:
        from sandbox.analysis.secret import validate_resource_policy as validate

        secret_id = self._get_param("SecretId")
        owner, secret_arn = str(self.current_account), None
        if secret_id:
            backend = self.backend
            if not backend._is_valid_identifier(secret_id):
                raise SecretNotFoundException()
            secret_arn = str(backend.secrets[secret_id].arn)
            owner = secret_arn.split(":")[4]
        return json.dumps(validate(str(self._get_param("ResourcePolicy") or ""), owner, secret_arn))

    SecretsManagerResponse.validate_resource_policy = validate_resource_policy  # type: ignore[attr-defined]


def _serve_child(host: str, port: int) -> None:
    """Child-process entry point: serve moto until stdin reaches EOF (the parent closed it or died)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log per request
    scope_authorization_to_resources()
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # `sandbox` as a package
    implement_validate_resource_policy()
    _keep_lambda_policies_as_aws_does()
    from sandbox.event_bus_forwarding import forward_events_between_buses_as_aws_does

    forward_events_between_buses_as_aws_does()
    from sandbox.callers import CallersMiddleware, record_callers
    from sandbox.iam_consistency import moto_app

    record_callers()  # the caller of each authorized request; AssumeRole of a missing role refused (sandbox.callers)
    authorize_transactions_per_item()
    # What moto.server.ThreadedMotoServer serves, behind the IAM read-lag middleware (off until switched on).
    app = CallersMiddleware(moto_app())
    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    sys.stdout.write(json.dumps({"port": server.server_address[1]}) + "\n")
    sys.stdout.flush()
    try:
        sys.stdin.buffer.read()
    finally:
        server.shutdown()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-child":
        _serve_child(sys.argv[2], int(sys.argv[3]))
    else:
        sys.stderr.write("usage: moto_server.py --serve-child HOST PORT (started by sandbox.moto_server)\n")
        sys.exit(2)
