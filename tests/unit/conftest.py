"""Shared builders for the unit tests: settings, findings and trust policies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from access_analyzer_remediation.findings import Finding
from access_analyzer_remediation.planner import RoleState
from access_analyzer_remediation.settings import Settings

EVENTS = Path(__file__).resolve().parents[1] / "events"
ANALYZER = "arn:aws:access-analyzer:us-west-2:111122223333:analyzer/MyAnalyzer"
OWNER = "111122223333"
EXTERNAL = "999988887777"
ROLE_ARN = f"arn:aws:iam::{OWNER}:role/Audit_CrossAccountRole"
TOPIC = f"arn:aws:sns:us-west-2:{OWNER}:aar-topic"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"analyzer_arns": (ANALYZER,), "audit_table_name": "aar-audit", "topic_arn": TOPIC}
    values.update(overrides)
    return Settings(**values)


def make_finding(
    principal: dict[str, str] | None = None,
    actions: tuple[str, ...] = ("sts:AssumeRole",),
    resource: str = ROLE_ARN,
    finding_id: str = "f-1",
    status: str = "ACTIVE",
) -> Finding:
    return Finding(
        id=finding_id,
        analyzer_arn=ANALYZER,
        resource_type="AWS::IAM::Role",
        resource_arn=resource,
        status=status,
        principal=principal or {"AWS": EXTERNAL},
        actions=actions,
        condition={},
        is_public=(principal or {}).get("AWS") == "*",
        resource_owner_account=resource.split(":")[4],
    )


def trust_policy(*principals: dict[str, Any], action: str = "sts:AssumeRole") -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": p, "Action": action} for p in principals],
    }


def role_state(policy: dict[str, Any], arn: str = ROLE_ARN, tags: dict[str, str] | None = None) -> RoleState:
    return RoleState(arn, "/", tags or {}, policy)


@pytest.fixture
def settings() -> Settings:
    return make_settings()
