"""Containment adapters: one per Access Analyzer resource type, on one engine (docs/architecture.md, "Resource
types").

The engine (verification, lease, ledger, intent, records, outbox, digest, revert, sweep) never calls a service's
read or write API itself: it asks the adapter of the finding's `resourceType`. An adapter knows how to guard, read,
plan (a pure function) and write its resource, which IAM actions those calls need, and which `Resource` element its
policy statements carry. A type without an adapter is never changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from ..findings import Finding
    from ..planner import Decision, Plan
    from ..settings import Settings
    from ..state import Intended

RefT_contra = TypeVar("RefT_contra", contravariant=True)
SnapshotT = TypeVar("SnapshotT")
# A permanent refusal of a write by the service: (decision, reason, message); the write is not retried.
Rejection = tuple["Decision", str, str]


class Adapter(Protocol[RefT_contra, SnapshotT]):
    """What the engine needs of one resource type: `RefT_contra` names a resource, `read` returns a `SnapshotT`."""

    @property
    def resource_type(self) -> str: ...

    @property
    def resources(self) -> tuple[str, ...]:
        """The Resource element of the tool's statements (none in a trust policy)."""
        ...

    @property
    def iam_actions(self) -> Mapping[str, str]:
        """API operation -> IAM action, for every call the adapter makes."""
        ...

    def guard(self, ref: RefT_contra, settings: Settings, analyzer_arn: str) -> Plan | None:
        """A plan that changes nothing (protected, the tool's own, reserved), before any read; None to go on."""
        ...

    def read(self, ref: RefT_contra) -> SnapshotT | None:
        """The resource as the service returns it now (eventually consistent); None when it no longer exists."""
        ...

    def plan(
        self, finding: Finding, snapshot: SnapshotT, settings: Settings, intended: Sequence[Intended], now: float
    ) -> Plan:
        """Pure: the decision for one finding on top of `snapshot`."""
        ...

    def write(self, ref: RefT_contra, document: dict[str, Any]) -> Rejection | None:
        """Write the planned document; a permanent refusal is returned, anything else raises (a retry)."""
        ...
