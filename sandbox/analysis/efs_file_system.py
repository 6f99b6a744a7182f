"""EFS file systems (``AWS::EFS::FileSystem``, resource
``arn:aws:elasticfilesystem:<region>:<account>:file-system/fs-...``) for the stand-in.

`read_file_system` reads what the analysis needs from EFS (moto): DescribeFileSystems (the file system exists: moto
5.2.5 answers DescribeFileSystemPolicy of an unknown id with an internal error, a ``KeyError``, instead of
``FileSystemNotFound``) and DescribeFileSystemPolicy. `compute_file_system_access` applies this small model:

- One scope, the file system ARN.
- File system policy: the shared resource-policy rules of `sandbox.analysis` with service ``elasticfilesystem``, plus
  the source rule of `sandbox.analysis.resource_policy`.
- One finding per principal (actions sorted, the Allow's conditions); no ``sources``. The owner is the ARN's account.

Not modelled: access through mount targets in another account's or a public subnet (the real analyzer reports it;
moto holds no subnet ownership worth analysing), access points, the ``elasticfilesystem:AccessedViaMountTarget``
condition (reported as a condition like any other), ``Service`` principals, error findings.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from sandbox.analysis.iam_role import TrustZone
from sandbox.analysis.resource_policy import (
    Access,
    Analysis,
    PolicyState,
    ZoneOf,
    compute_state_access,
    error_code,
    parse_policy,
)

RESOURCE_TYPE = "AWS::EFS::FileSystem"
SERVICE = "elasticfilesystem"
FILE_SYSTEM_ARN_RE = re.compile(
    r"^arn:[\w-]+:elasticfilesystem:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):file-system/(?P<id>fs-[0-9a-f]{8,40})$"
)


def arn_parts(resource_arn: str) -> tuple[str, str] | None:
    """(Region, account) of a file system ARN; None for anything else (access points, other services)."""
    match = FILE_SYSTEM_ARN_RE.match(resource_arn)
    return (match["region"], match["account"]) if match else None


def resource_arns(efs: Any, account: str) -> list[str]:
    """The ARN of every file system of the client's Region that `account` owns (DescribeFileSystems)."""
    arns: list[str] = []
    for page in efs.get_paginator("describe_file_systems").paginate():
        for file_system in page.get("FileSystems", []):
            arn = str(file_system.get("FileSystemArn", ""))
            parts = arn_parts(arn)
            if parts is not None and parts[1] == account:
                arns.append(arn)
    return arns


def read_file_system(efs: Any, file_system_arn: str) -> PolicyState | None:
    """The file system's policy; None when the file system does not exist."""
    match = FILE_SYSTEM_ARN_RE.match(file_system_arn)
    if match is None:
        raise ValueError(f"not an EFS file system ARN: {file_system_arn!r}")
    try:
        efs.describe_file_systems(FileSystemId=match["id"])
        try:
            text: str | None = efs.describe_file_system_policy(FileSystemId=match["id"])["Policy"]
        except ClientError as error:
            if error_code(error) != "PolicyNotFound":
                raise
            text = None
    except ClientError as error:
        if error_code(error) == "FileSystemNotFound":
            return None
        raise
    return PolicyState(file_system_arn, match["account"], parse_policy(text), (file_system_arn,))


def compute_file_system_access(state: PolicyState, zone: TrustZone) -> Access:
    """External access to the file system after its Denies: {(kind, value): ResourceAccess}."""
    return compute_state_access(state, zone, SERVICE)


def analyse(efs: Any, file_system_arn: str, zone_of: ZoneOf) -> Analysis | None:
    """(owner, external access) of the file system; None when it does not exist."""
    state = read_file_system(efs, file_system_arn)
    if state is None:
        return None
    return state.owner, compute_file_system_access(state, zone_of(state.owner))
