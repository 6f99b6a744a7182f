"""AWS clients, created lazily and injectable.

The clients are botocore's: the package needs nothing of boto3's resource layer, and importing boto3 (which pulls in
s3transfer) costs a cold start about 100 ms more than botocore alone. Where the host has already set up boto3's
default session (the sandbox's Lambda runtime, with the execution role's credentials; tests that hook into it), the
clients come from that session instead, so they carry its credentials and hooks. Tests and the sandbox may also pass
their own `factory` (e.g. clients pointed at a moto server).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
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

ClientFactory = Callable[[str, "str | None"], Any]

# Standard retry mode backs off on Throttling / 5xx; 9 attempts ride out an IAM or Access Analyzer burst before
# the record is handed back to SQS for a later retry. AWS_MAX_ATTEMPTS (the SDK's own variable) overrides it.
_DEFAULT_MAX_ATTEMPTS = 9


_SESSION_LOCK = threading.Lock()
_sessions: list[Any] = []


def _botocore_session() -> Any:
    """boto3's default session's botocore session when the host set one up, else one botocore session per process."""
    boto3 = sys.modules.get("boto3")
    default = getattr(boto3, "DEFAULT_SESSION", None) if boto3 is not None else None
    if default is not None:
        return default._session
    with _SESSION_LOCK:
        if not _sessions:
            import botocore.session

            _sessions.append(botocore.session.get_session())
        return _sessions[0]


def default_factory(service: str, region: str | None) -> Any:
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
    return _botocore_session().create_client(service, region_name=region, config=config)


class AwsClients:
    """One client per (service, Region), created on first use."""

    def __init__(self, factory: ClientFactory = default_factory) -> None:
        self._factory = factory
        self._cache: dict[tuple[str, str | None], Any] = {}
        self._lock = threading.Lock()  # clients are thread-safe once made; making them is not

    def _get(self, service: str, region: str | None) -> Any:
        key = (service, region)
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
