"""ECR repositories (``AWS::ECR::Repository``, resource ``arn:aws:ecr:<region>:<account>:repository/<name>``) for the
stand-in.

`read_repository` reads what the analysis needs from ECR (moto): DescribeRepositories (the repository exists) and
GetRepositoryPolicy. `compute_repository_access` applies this small model:

- One scope, the repository ARN. Repository policy statements name no Resource (the repository is implied; ECR
  refuses one), so every Allow reaches the repository and every Deny covers it (a statement that does name a
  Resource is matched against the ARN like any other: moto 5.2.5 accepts one).
- Repository policy: the shared resource-policy rules of `sandbox.analysis` with service ``ecr``, plus the source
  rule of `sandbox.analysis.resource_policy`.
- One finding per principal (actions sorted, the Allow's conditions); no ``sources``. The owner is the ARN's account
  (the registry id).

Not modelled: the real analyzer's rule that a principal counts only if it can also call ``ecr:GetAuthorizationToken``
(an identity policy of the other account, which an account analyzer cannot read: resource-types.md §1 notes the rule,
the stand-in reports every grant), registry policies (replication), ``Service`` principals, error findings.
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

RESOURCE_TYPE = "AWS::ECR::Repository"
SERVICE = "ecr"
REPOSITORY_ARN_RE = re.compile(
    r"^arn:[\w-]+:ecr:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):repository/(?P<name>[a-z0-9][a-z0-9._/-]{0,255})$"
)


def arn_parts(resource_arn: str) -> tuple[str, str] | None:
    """(Region, account) of a repository ARN; None for anything else."""
    match = REPOSITORY_ARN_RE.match(resource_arn)
    return (match["region"], match["account"]) if match else None


def resource_arns(ecr: Any, account: str) -> list[str]:
    """The ARN of every repository of the client's Region in `account`'s registry (DescribeRepositories)."""
    arns: list[str] = []
    for page in ecr.get_paginator("describe_repositories").paginate(registryId=account):
        arns.extend(str(repository["repositoryArn"]) for repository in page.get("repositories", []))
    return arns


def read_repository(ecr: Any, repository_arn: str) -> PolicyState | None:
    """The repository's policy; None when the repository does not exist."""
    match = REPOSITORY_ARN_RE.match(repository_arn)
    if match is None:
        raise ValueError(f"not an ECR repository ARN: {repository_arn!r}")
    owner = {"registryId": match["account"], "repositoryName": match["name"]}
    try:
        ecr.describe_repositories(registryId=match["account"], repositoryNames=[match["name"]])
    except ClientError as error:
        if error_code(error) == "RepositoryNotFoundException":
            return None
        raise
    try:
        text: str | None = ecr.get_repository_policy(**owner)["policyText"]
    except ClientError as error:
        if error_code(error) == "RepositoryNotFoundException":
            return None
        if error_code(error) != "RepositoryPolicyNotFoundException":
            raise
        text = None
    return PolicyState(repository_arn, match["account"], parse_policy(text), (repository_arn,))


def compute_repository_access(state: PolicyState, zone: TrustZone) -> Access:
    """External access to the repository after its Denies: {(kind, value): ResourceAccess}."""
    return compute_state_access(state, zone, SERVICE)


def analyse(ecr: Any, repository_arn: str, zone_of: ZoneOf) -> Analysis | None:
    """(owner, external access) of the repository; None when it does not exist."""
    state = read_repository(ecr, repository_arn)
    if state is None:
        return None
    return state.owner, compute_repository_access(state, zone_of(state.owner))
