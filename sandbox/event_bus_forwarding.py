"""EventBridge's event bus targets as AWS delivers them, for the moto server's child process.

A rule whose target is another event bus (another Region of the account, as `modules/regional` forwards Access
Analyzer findings to the central Region) puts the matched event on that bus unchanged: the same ``id``, ``source``,
``detail-type``, ``time``, ``resources``, ``detail``, ``account`` and ``region`` (still the source Region), and the
rules of the target bus match it as they match their own events. moto 5.2.5 instead re-puts it with PutEvents
semantics (``moto/events/models.py``, ``Rule.send_to_targets``): it drops ``resources`` and ``time`` and stamps the
target's Region and a new id, so a rule on the target bus that matches ``resources`` (the analyzer ARNs, as the
central module's rule does) never sees a forwarded finding. `forward_events_between_buses_as_aws_does` replaces that
branch; every other target kind is left to moto. Input transformers are not applied to a bus target (EventBridge
forwards the event itself). A disabled rule forwards nothing (moto 5.2.5 delivers a disabled rule's events to its
other targets; that is left as it is). The forwarding role (RoleArn) is not checked: moto does not evaluate it.
"""

from __future__ import annotations

import copy
from typing import Any


def is_event_bus_target(target: dict[str, Any]) -> bool:
    """A target ARN naming an event bus: arn:<partition>:events:<region>:<account>:event-bus/<name>."""
    parts = str(target.get("Arn", "")).split(":", 5)
    return len(parts) == 6 and parts[2] == "events" and parts[5].startswith("event-bus/")


def deliver_to_bus(target_arn: str, event: dict[str, Any]) -> None:
    """Put `event` unchanged on the bus `target_arn` names: every rule of that bus gets its own copy."""
    from moto.events.models import events_backends

    _, _, _, region, account, resource = target_arn.split(":", 5)
    bus = events_backends[account][region].describe_event_bus(resource.removeprefix("event-bus/"))
    for rule in list(bus.rules.values()):
        if rule.state == "ENABLED":
            rule.send_to_targets(copy.deepcopy(event))  # type: ignore[arg-type]  # moto's TypedDict, the same keys


class _OtherTargets:
    """The rule as moto's own send_to_targets sees it, with the event bus targets taken out."""

    def __init__(self, rule: Any) -> None:
        self._rule = rule
        self.targets = [t for t in rule.targets if not is_event_bus_target(t)]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rule, name)


def forward_events_between_buses_as_aws_does() -> None:
    """Patch moto's Rule.send_to_targets (a global class: call it in the server's child process only)."""
    from moto.events.models import Rule

    original: Any = Rule.send_to_targets  # called with the rule seen through _OtherTargets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if not self.event_pattern.matches_event(original_event):
            return
        for target in list(self.targets) if self.state == "ENABLED" else []:
            if is_event_bus_target(target):
                deliver_to_bus(str(target["Arn"]), dict(original_event))
        original(_OtherTargets(self), original_event, transform_input)

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]
