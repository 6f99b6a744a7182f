"""AWS clients, created lazily and injectable.

The clients are botocore's: the package needs nothing of boto3's resource layer, and importing boto3 (which pulls in
s3transfer) costs a cold start about 100 ms more than botocore alone. Where the host has already set up boto3's
default session (the sandbox's Lambda runtime, with the execution role's credentials; tests that hook into it), the
clients come from that session instead, so they carry its credentials and hooks. Tests and the sandbox may also pass
their own `factory` (e.g. clients pointed at a moto server).
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_accessanalyzer import AccessAnalyzerClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_efs import EFSClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sts import STSClient

logger = logging.getLogger(__name__)

ClientFactory = Callable[[str, "str | None"], Any]
# A client of (service, Region) acting with other credentials: an assumed role's session in a member account.
CredentialedFactory = Callable[[str, "str | None", "Credentials"], Any]


@dataclass(frozen=True)
class Credentials:
    """A temporary session (STS AssumeRole's `Credentials`)."""

    access_key_id: str = field(repr=False)
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)


# Standard retry mode backs off on Throttling / 5xx; 9 attempts ride out an IAM or Access Analyzer burst before
# the record is handed back to SQS for a later retry. AWS_MAX_ATTEMPTS (the SDK's own variable) overrides it.
_DEFAULT_MAX_ATTEMPTS = 9


_SESSION_LOCK = threading.Lock()
_sessions: list[Any] = []

_GC_LOCK = threading.Lock()
_gc_pause = {"depth": 0, "was_enabled": False}


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while loading what lives as long as the process, then that frozen out of it.

    Importing the package, Powertools and botocore, and loading a client's service model and endpoint rules, make
    a few hundred thousand objects that all survive: meanwhile the collector runs every 700 allocations and finds
    next to nothing (some 500 objects in a whole cold start), yet its passes over them, young and full, cost the
    bench's cold start about 50 ms (docs/benchmarks.md, "Cold start"). Reference counting frees everything as
    usual; only the search for reference cycles waits. At the end `gc.freeze()` moves every object tracked then
    into the permanent generation, which no later collection walks, and the collector is back on as it was. What
    a freeze can keep from collection is the cyclic garbage that exists at that moment, once per client made (one
    per service and Region). Nestable and thread-safe (clients are made on threads)."""
    with _GC_LOCK:
        if _gc_pause["depth"] == 0:
            _gc_pause["was_enabled"] = gc.isenabled()
            gc.disable()
        _gc_pause["depth"] += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _gc_pause["depth"] -= 1
            if _gc_pause["depth"] == 0:
                gc.freeze()
                if _gc_pause["was_enabled"]:
                    gc.enable()


def _botocore_session() -> Any:
    """boto3's default session's botocore session when the host set one up, else one botocore session per process."""
    boto3 = sys.modules.get("boto3")
    default = getattr(boto3, "DEFAULT_SESSION", None) if boto3 is not None else None
    if default is not None:
        return default._session
    with _SESSION_LOCK:
        if not _sessions:
            import botocore.session

            session = botocore.session.get_session()
            _look_up_services_one_by_one(session.get_component("data_loader"))
            _sessions.append(session)
        return _sessions[0]


def _look_up_services_one_by_one(loader: Any) -> None:
    """Before loading a service's model, botocore's loader checks that the service is known, by listing every
    service directory of its search paths (some 450, each with its API versions): once for the models, once for
    the endpoint rules, about 17 ms of a cold start for the four clients a first event needs. Here that check
    looks in the asked service's directories only (the loader's own `list_api_versions`, which loading the model
    calls next anyway): the same answer from the same paths, in the same order; the full list is still made where
    something iterates it (botocore's UnknownServiceError names every known service)."""
    every = loader.list_available_services

    def list_available_services(type_name: str) -> Sequence[str]:
        return _ServiceNames(loader, type_name, every)

    loader.list_available_services = list_available_services


class _ServiceNames(Sequence[str]):
    """The services a loader has `type_name` data for: `in` asks about one service, anything else lists them all."""

    def __init__(self, loader: Any, type_name: str, every: Callable[[str], list[str]]) -> None:
        self._loader = loader
        self._type_name = type_name
        self._every = every

    def __contains__(self, name: object) -> bool:
        from botocore.exceptions import DataNotFoundError

        if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or os.sep in name:
            return name in self._every(self._type_name)
        try:
            return bool(self._loader.list_api_versions(name, self._type_name))
        except DataNotFoundError:
            return False

    def __getitem__(self, index: Any) -> Any:
        return self._every(self._type_name)[index]

    def __len__(self) -> int:
        return len(self._every(self._type_name))


def default_factory(service: str, region: str | None) -> Any:
    with gc_paused():  # a client's service model and endpoint rules live as long as the process
        return _create_client(service, region)


def default_credentialed_factory(service: str, region: str | None, credentials: Credentials) -> Any:
    with gc_paused():
        return _create_client(service, region, credentials)


def _create_client(service: str, region: str | None, credentials: Credentials | None = None) -> Any:
    from botocore.config import Config

    # AWS_MAX_ATTEMPTS counts every attempt, the first included (botocore's total_max_attempts).
    attempts = max(1, int(os.environ.get("AWS_MAX_ATTEMPTS", _DEFAULT_MAX_ATTEMPTS)))
    # One connection per worker thread of a batch (engine.WORKERS) and a few spare.
    config = Config(
        retries={"mode": "standard", "total_max_attempts": attempts},
        connect_timeout=5,
        read_timeout=20,
        max_pool_connections=20,
    )
    # botocore reads AWS_DEFAULT_REGION only; the Lambda runtime and `cli_environment` also set AWS_REGION.
    region = region or os.environ.get("AWS_REGION") or None
    keys: dict[str, str] = {}
    if credentials is not None:
        keys = {
            "aws_access_key_id": credentials.access_key_id,
            "aws_secret_access_key": credentials.secret_access_key,
            "aws_session_token": credentials.session_token,
        }
    return _botocore_session().create_client(service, region_name=region, config=config, **keys)


class AwsClients:
    """One client per (service, Region), created on first use."""

    def __init__(
        self, factory: ClientFactory = default_factory, *, credentialed: CredentialedFactory | None = None
    ) -> None:
        self._factory = factory
        # How clients with other credentials are made (`assumed`): botocore's, unless the host injects its own.
        self._credentialed = credentialed or (default_credentialed_factory if factory is default_factory else None)
        self._cache: dict[tuple[str, str | None], Any] = {}
        self._lock = threading.Lock()  # clients are thread-safe once made; making them is not

    def assumed(self, credentials: Credentials) -> AwsClients:
        """Clients of the same kind that act with `credentials` (another account's session), made on first use."""
        make = self._credentialed
        if make is None:
            raise RuntimeError("these clients were injected without a way to make clients with other credentials")

        def factory(service: str, region: str | None) -> Any:
            return make(service, region, credentials)

        return AwsClients(factory, credentialed=make)

    def prepare(self, makers: Sequence[Callable[[], object]]) -> threading.Thread:
        """Call `makers` (each makes one or more clients, in the order they will be asked for) on a background
        thread while the caller goes on. Making a client is CPU work (its service model, endpoint rules, class)
        and a first event's AWS calls wait on the network: made meanwhile, the next clients cost the event next to
        nothing. A client asked for before the thread made it is made by the asker (`_get`'s lock), as without
        `prepare`. What the thread could not make is not kept: the asker makes it again and gets the error where
        it can handle it."""

        def make_all() -> None:
            for make in makers:
                try:
                    make()
                except Exception as err:  # ahead of time only: the asker's own attempt raises
                    logger.debug("making a client ahead of time failed", extra={"error": repr(err)})

        thread = threading.Thread(target=make_all, name="aar-clients", daemon=True)
        thread.start()
        return thread

    def _get(self, service: str, region: str | None) -> Any:
        key = (service, region)
        made = self._cache.get(key)  # a made client is read without the lock: `prepare` may hold it meanwhile
        if made is not None:
            return made
        with self._lock:
            if key not in self._cache:
                self._cache[key] = self._factory(service, region)
            return self._cache[key]

    def access_analyzer(self, region: str) -> AccessAnalyzerClient:
        return self._get("accessanalyzer", region)  # type: ignore[no-any-return]

    def iam(self) -> IAMClient:
        return self._get("iam", None)  # type: ignore[no-any-return]

    def dynamodb(self, region: str | None = None) -> DynamoDBClient:
        """The audit table's Region (None), or a Region whose tables' resource policies an adapter edits."""
        return self._get("dynamodb", region)  # type: ignore[no-any-return]

    def sns(self, region: str) -> SNSClient:
        return self._get("sns", region)  # type: ignore[no-any-return]

    def sqs(self, region: str) -> SQSClient:
        return self._get("sqs", region)  # type: ignore[no-any-return]

    def s3(self, region: str) -> S3Client:
        return self._get("s3", region)  # type: ignore[no-any-return]

    def kms(self, region: str) -> KMSClient:
        return self._get("kms", region)  # type: ignore[no-any-return]

    def secretsmanager(self, region: str) -> SecretsManagerClient:
        return self._get("secretsmanager", region)  # type: ignore[no-any-return]

    def ecr(self, region: str) -> ECRClient:
        return self._get("ecr", region)  # type: ignore[no-any-return]

    def efs(self, region: str) -> EFSClient:
        return self._get("efs", region)  # type: ignore[no-any-return]

    def lambda_(self, region: str) -> LambdaClient:
        return self._get("lambda", region)  # type: ignore[no-any-return]

    def ec2(self, region: str) -> EC2Client:
        return self._get("ec2", region)  # type: ignore[no-any-return]

    def rds(self, region: str) -> RDSClient:
        return self._get("rds", region)  # type: ignore[no-any-return]

    def sts(self) -> STSClient:
        return self._get("sts", None)  # type: ignore[no-any-return]


def error_code(error: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError, else None (without importing botocore)."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None
