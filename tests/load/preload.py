"""Imported once by the fork server, so that each worker process starts with botocore and Powertools loaded."""

import boto3
import botocore.session
from aws_lambda_powertools import Logger, Metrics  # noqa: F401

_session = botocore.session.get_session()
for _service in ("iam", "sns", "dynamodb", "accessanalyzer"):
    _session.get_service_model(_service)
del boto3
