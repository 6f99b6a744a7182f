"""What every type whose resource-based policy can hold an explicit Deny shares (SQS queues, SNS topics, Secrets
Manager secrets, ECR repositories, EFS file systems, DynamoDB tables and streams, S3 directory buckets): the
snapshot, the plan (`planner.plan_deny` on the type's quota, statement limit and Resource element) and the parts of
the adapter contract that do not depend on the service. Each type's module reads and writes its own service, so
every call it makes stands in that file beside its IAM action.

A Deny appended to the policy overrides every Allow the policy holds; nothing else of the policy changes, and a
revert removes exactly the tool's entries. No side changes: these types have nothing beside the policy that grants
access (a queue's, topic's AddPermission grants are statements of the same policy).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .. import planner
from ..findings import NOUN_AND_DOCUMENT, Finding, ResourceRef
from ..planner import Plan, Quota
from ..policy import POLICY_VERSION, Policy, statements
from ..settings import Settings
from ..state import Intended
from . import Rejection, TypeAdapterBase


@dataclass(frozen=True)
class PolicyState:
    """A resource's policy as its read API returned it, and its tags. `policy` has no statements when the resource
    has none (`had_policy` false); `revision` is the service's revision of the policy where it keeps one
    (DynamoDB's RevisionId: a conditional write names it); `address` is how the API names the resource where that
    is not its ARN (an SQS queue URL)."""

    arn: str
    name: str
    tags: Mapping[str, str]
    policy: Policy
    had_policy: bool = True
    revision: str = ""
    address: str = ""

    def with_policy(self, policy: Policy) -> PolicyState:
        return replace(self, policy=policy)


@dataclass(frozen=True)
class PolicyLimits:
    """A type's policy limits, as its service counts them: size (`quota`), statements, actions per statement."""

    quota: Quota
    max_statements: int | None = None
    max_actions_per_statement: int | None = None


def policy_from_text(text: str | None, what: str) -> tuple[Policy, bool]:
    """A read API's policy text (None or "": no policy) as a document the planner can extend, and whether there
    was one."""
    if not text:
        return {"Version": POLICY_VERSION, "Statement": []}, False
    loaded = json.loads(text)
    if not isinstance(loaded, dict):
        raise ValueError(f"the {what} is not a JSON object")
    return loaded, True


def plan_policy(
    finding: Finding,
    snapshot: PolicyState,
    settings: Settings,
    limits: PolicyLimits,
    *,
    resources: Sequence[str],
    intended: Sequence[Intended] = (),
    now: float = 0.0,
) -> Plan:
    """Pure: the Deny for `finding` appended to the policy, or why not. Beyond the size quota, a service that caps
    statements (SQS 20, SNS 100) or actions per statement (SQS 7) refuses a policy over the cap: such a Deny is
    reported with what it would take, never written."""
    noun, document = NOUN_AND_DOCUMENT[finding.resource_type]
    plan = planner.plan_deny(
        finding,
        snapshot.policy,
        snapshot.tags,
        settings,
        intended=intended,
        now=now,
        quota=limits.quota,
        noun=noun,
        resources=resources,
    )
    after = plan.policy_after
    if after is None or plan.decision not in ("remediate", "notify") or not plan.added:
        return plan
    body = statements(after)
    if limits.max_statements is not None and len(body) > limits.max_statements:
        return _over(plan, document, f"{len(body)} statements, over the {limits.max_statements}-statement limit")
    if limits.max_actions_per_statement is not None:
        widest = max(len(_actions(s)) for s in body)
        if widest > limits.max_actions_per_statement:
            limit = limits.max_actions_per_statement
            return _over(plan, document, f"a statement of {widest} actions, over the {limit}-action limit")
    return plan


def _over(plan: Plan, document: str, what: str) -> Plan:
    return Plan(
        "notify",
        planner.POLICY_QUOTA,
        f"the Deny would make the {document} hold {what}: nothing written; make room (merge or remove statements)"
        " or remove the granting statement by hand",
        added=plan.added,
        notes=plan.notes,
    )


def _actions(statement: Mapping[str, Any]) -> list[Any]:
    value = statement.get("Action", statement.get("NotAction", []))
    return value if isinstance(value, list) else [value]


class PolicyAdapterBase(TypeAdapterBase):
    """The service-independent part of a policy type's adapter: the subclass names its type, limits and Resource
    element, and makes its reads and writes."""

    limits: PolicyLimits

    def resources(self, ref: ResourceRef) -> tuple[str, ...]:
        return (ref.arn,)

    def plan(
        self, finding: Finding, snapshot: PolicyState, settings: Settings, intended: Sequence[Intended], now: float
    ) -> Plan:
        resources = self.resources(finding.resource)
        return plan_policy(finding, snapshot, settings, self.limits, resources=resources, intended=intended, now=now)

    def offline(self, ref: ResourceRef, policy: Policy, tags: Mapping[str, str], attributes: Any) -> PolicyState:
        if attributes is not None:
            raise ValueError(f"a {self.noun} has nothing beside its policy (give it in --policy)")
        return PolicyState(ref.arn, ref.name, dict(tags), policy, had_policy=bool(statements(policy)))

    def apply(self, ref: ResourceRef, change: planner.SideChange) -> str | None:
        raise ValueError(f"a {self.document} has no side changes: {change.key}")  # plan_policy never plans one

    def undo(self, ref: ResourceRef, change: planner.SideChange) -> str:
        raise ValueError(f"a {self.document} has no side changes: {change.key}")


def rejection(
    service: str, code: str | None, rejections: Mapping[str, tuple[planner.Decision, str]]
) -> Rejection | None:
    """A permanent refusal of a write as (decision, reason, message); None for anything else (a retry)."""
    if code is None or code not in rejections:
        return None
    decision, reason = rejections[code]
    return decision, reason, f"{service} refused the change ({code}): nothing written"
