"""Organization mode: the account rails of a finding, and the clients that act in the account of its resource.

A central deployment (the delegated administrator's, or any security tooling account's) receives findings of
resources in member accounts (`detail.accountId` / `resourceOwnerAccount`). Before any read, per finding:

1. An excluded account (`excluded_account_ids`) is never modified: the finding is recorded, nothing announced.
2. The organization's management account (`management_account_id`) is never modified unless
   `allow_management_account`: reported only.
3. `Settings.mode_for` (mode_rules, account_modes, mode) sets the mode for the resource (the subscription gate still
   holds everything back); approve plans like notify (nothing written) and approval.py records the plan as pending.
4. A resource of another account than the analyzer's: with `member_role_name` set, the engine assumes that role in
   the resource's account (one session per account per invocation, its name carrying the id of the finding that
   opened it) and the finding's cycle reads and writes with those clients; its lease, ledger, audit records and
   outbox stay in the central table. A member role that cannot be assumed (AccessDenied, NoSuchEntity) makes the
   finding notify-only, with how to deploy the role: it is never handed back for a retry. Without
   `member_role_name` the adapter's guard reports it ("contain it from that account"), as before.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, replace

from . import planner
from .clients import AwsClients, Credentials, error_code
from .findings import Finding
from .planner import Plan
from .settings import Settings

logger = logging.getLogger(__name__)

SESSION_PREFIX = "aar-"
SESSION_NAME_MAX = 64  # STS RoleSessionName: 2-64 characters of [\w+=,.@-]
SESSION_SECONDS = 900  # STS's minimum: a session outlives no invocation by much (Lambda: 15 minutes at most)
# AssumeRole refusals that a retry does not change: the role is missing, does not trust this deployment, or STS is
# off in the Region. Anything else (throttling, a network error) raises and the finding is retried as usual.
UNAVAILABLE_CODES = frozenset({"AccessDenied", "AccessDeniedException", "NoSuchEntity", "RegionDisabledException"})
_SESSION_CHARS = re.compile(r"[^\w+=,.@-]", re.ASCII)


def session_name(finding_id: str) -> str:
    """`aar-<finding id>`, in STS's RoleSessionName alphabet and length: CloudTrail shows it on every call."""
    return (SESSION_PREFIX + _SESSION_CHARS.sub("-", finding_id))[:SESSION_NAME_MAX]


def member_role_arn(partition: str, account_id: str, role_name: str) -> str:
    return f"arn:{partition}:iam::{account_id}:role/{role_name}"


def account_guard(finding: Finding, settings: Settings) -> Plan | None:
    """The account rails that need nothing but the finding's account: excluded, the management account."""
    account = finding.resource_owner_account
    if account in settings.excluded_account_ids:
        return Plan("skip", planner.ACCOUNT_EXCLUDED, f"account {account} is excluded: never modified")
    if account == settings.management_account_id and not settings.allow_management_account:
        return Plan(
            "notify",
            planner.MANAGEMENT_ACCOUNT,
            f"account {account} is the organization's management account: never modified (set"
            " allow_management_account to contain it); review this access by hand",
        )
    return None


@dataclass(frozen=True)
class Route:
    """Where one finding's cycle acts: the settings it decides with and the clients it reads and writes with."""

    settings: Settings
    clients: AwsClients
    account: str  # the account the clients act in


class MemberAccess:
    """The clients of each account findings of one invocation need: one AssumeRole per member account (or the
    reason it failed), made on first use. Make one per invocation: sessions are short."""

    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients
        self._made: dict[str, AwsClients | Plan] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def route(self, finding: Finding, settings: Settings, gated: bool = False) -> Route | Plan:
        """The route of `finding`'s cycle, or the plan that changes nothing (an account rail, no member role).
        `settings` are the batch's (already notify-only when `gated`: the subscription gate wins)."""
        guarded = account_guard(finding, settings)
        if guarded is not None:
            return guarded
        account = finding.resource_owner_account
        mode = settings.mode if gated else settings.mode_for(account, finding.resource_type)
        if mode == "approve":  # planned, never written here: approval.hold records the plan as pending
            mode = "notify"
        if mode != settings.mode:
            settings = settings.with_mode(mode)
        return self.acting(account, finding.analyzer_arn, finding.id, settings)

    def acting(self, account: str, analyzer_arn: str, finding_id: str, settings: Settings) -> Route | Plan:
        """The clients that act in `account` for a finding of `analyzer_arn`: this deployment's own in the
        analyzer's account (and wherever no member role is configured: the guards report another account's
        resource), else the member role's, or the plan saying it could not be assumed."""
        home = analyzer_arn.split(":")[4]
        role_name = settings.member_role_name
        if account == home or role_name is None:
            return Route(settings, self._clients, home)
        arn = member_role_arn(analyzer_arn.split(":")[1], account, role_name)
        with self._lock:
            lock = self._locks.setdefault(account, threading.Lock())
        with lock:  # one AssumeRole per account, whichever finding's thread asks first
            if account not in self._made:
                self._made[account] = self._assume(arn, account, finding_id, settings.member_role_external_id)
            made = self._made[account]
        if isinstance(made, Plan):
            return made
        return Route(replace(settings, member_account_id=account), made, account)

    def _assume(self, arn: str, account: str, finding_id: str, external_id: str | None) -> AwsClients | Plan:
        credentials = assume(self._clients, arn, finding_id, external_id)
        if isinstance(credentials, str):
            logger.warning("member role unavailable", extra={"role_arn": arn, "error": credentials})
            return unavailable(arn, account, credentials, external_id is not None)
        return self._clients.assumed(credentials)


def assume(clients: AwsClients, role_arn: str, finding_id: str, external_id: str | None) -> Credentials | str:
    """A session of `role_arn` named after the finding, or the AWS error code of a refusal a retry cannot change;
    anything else raises."""
    params: dict[str, object] = {
        "RoleArn": role_arn,
        "RoleSessionName": session_name(finding_id),
        "DurationSeconds": SESSION_SECONDS,
    }
    if external_id is not None:
        params["ExternalId"] = external_id
    try:
        response = clients.sts().assume_role(**params)  # type: ignore[arg-type]
    except Exception as err:
        code = error_code(err)
        if code in UNAVAILABLE_CODES:
            return code or "AccessDenied"
        raise
    given = response["Credentials"]
    return Credentials(given["AccessKeyId"], given["SecretAccessKey"], given["SessionToken"])


def unavailable(role_arn: str, account: str, code: str, external_id: bool) -> Plan:
    extra = " and external_id (this deployment's member_role_external_id)" if external_id else ""
    return Plan(
        "notify",
        planner.MEMBER_ROLE_UNAVAILABLE,
        f"could not assume {role_arn} ({code}): nothing changed in account {account}; review this access by hand",
        notes=(
            f"to contain findings of account {account}, deploy modules/member-role there (or modules/member-role-"
            f"stackset across the organization) with name = {role_arn.rsplit('/', 1)[-1]}, central_role_arn = this"
            f" deployment's lambda_role_arn output{extra}",
        ),
    )
