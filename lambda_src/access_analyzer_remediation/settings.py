"""All configuration, read once from the environment into one validated object.

A bad value raises `SettingsError` naming the variable, so a misconfigured deployment fails at cold start
with a clear message instead of misbehaving on the first finding.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

Mode = Literal["remediate", "notify", "approve"]
OnTimeout = Literal["apply", "expire"]
MODES: tuple[Mode, ...] = ("remediate", "notify", "approve")
MODE_RULES_MAX = 50

# Roles an account analyzer flags because the organization's management or automation reaches them: denying that
# access would lock the organization out. A pattern starting with "/" matches path + name, any other the role name.
DEFAULT_PROTECTED_ROLE_PATTERNS: tuple[str, ...] = (
    "OrganizationAccountAccessRole",
    "AWSControlTowerExecution",
    "aws-controltower-*",
    "AWSAFT*",
    "/aws-reserved/*",  # IAM Identity Center's AWSReservedSSO_* roles: IAM refuses every change (UnmodifiableEntity)
    "AWSCloudFormationStackSetExecutionRole",
    "AWSCloudFormationStackSetAdministrationRole",
    "stacksets-exec-*",
)
DEFAULT_EXEMPTION_TAG_KEY = "access-analyzer-remediation:exempt"
DEFAULT_TRUST_POLICY_MAX_CHARS = 2048

ACCOUNT_ID_RE = re.compile(r"^\d{12}$", re.ASCII)
ORG_ID_RE = re.compile(r"^o-[a-z0-9]{10,32}$", re.ASCII)
ANALYZER_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:access-analyzer:[a-z0-9-]+:\d{12}:analyzer/[A-Za-z0-9_.-]{1,255}$", re.ASCII
)
ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$", re.ASCII)
TOPIC_ARN_RE = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$", re.ASCII)
TABLE_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$", re.ASCII)
QUEUE_URL_RE = re.compile(r"^https?://\S+/\d{12}/[A-Za-z0-9_-]{1,80}(\.fifo)?$", re.ASCII)
# IAM wildcards are `*` and `?` only; a pattern is also an IAM resource ARN in the role's explicit Deny.
PROTECTED_PATTERN_RE = re.compile(r"^(/[\w+=,.@*?/-]*|[\w+=,.@*?-]+)$", re.ASCII)
# A resource of the deployment itself, or one never to be modified: exact ARNs of a contained type (a key by its key
# ARN, never an alias, which an IAM Deny on the key could not name either); no wildcards.
RESOURCE_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:(s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"
    r"|kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]{1,128}"
    r"|(sqs|sns|secretsmanager|ecr|elasticfilesystem|dynamodb|s3express|lambda|ec2|rds):[a-z0-9-]+:\d{0,12}:[^*?\s]+)$",
    re.ASCII,
)
RESOURCE_TYPE_NAME_RE = re.compile(r"^AWS::[A-Za-z0-9]{1,64}::[A-Za-z0-9]{1,64}$", re.ASCII)
# The types a deployment receives unless told otherwise (the module's default `resource_types`). Every type with an
# adapter (resources.registry()) is contained once listed; a listed type without one is reported only.
CONTAINED_TYPES = ("AWS::IAM::Role", "AWS::S3::Bucket", "AWS::KMS::Key")
ALLOWED_PRINCIPAL_RE = re.compile(r"^[^\s\[\]]{1,2048}$", re.ASCII)
# Organization mode: the member role's name (IAM's role-name characters; path "/") and STS's ExternalId.
ROLE_NAME_RE = re.compile(r"^[\w+=,.@-]{1,64}$", re.ASCII)
EXTERNAL_ID_RE = re.compile(r"^[\w+=,.@:/-]{2,1224}$", re.ASCII)


class SettingsError(ValueError):
    """A configuration value is missing or invalid."""


@dataclass(frozen=True)
class ModeRule:
    """One `mode_rules` entry: `mode` for the resources of these types in these accounts (None: any)."""

    mode: Mode
    resource_types: frozenset[str] | None = None
    account_ids: frozenset[str] | None = None

    def matches(self, account_id: str, resource_type: str) -> bool:
        return (self.resource_types is None or resource_type in self.resource_types) and (
            self.account_ids is None or account_id in self.account_ids
        )


@dataclass(frozen=True)
class Settings:
    """The deployment's configuration (Settings.from_env reads the Lambda's environment)."""

    analyzer_arns: tuple[str, ...]
    audit_table_name: str
    topic_arn: str
    mode: Mode = "remediate"
    trusted_account_ids: frozenset[str] = frozenset()
    trusted_org_id: str | None = None
    protected_role_patterns: tuple[str, ...] = DEFAULT_PROTECTED_ROLE_PATTERNS
    own_role_arns: frozenset[str] = frozenset()
    exemption_tag_key: str = DEFAULT_EXEMPTION_TAG_KEY
    allowed_principals: tuple[str, ...] = ()
    queue_url: str | None = None
    require_confirmed_subscription: bool = False
    trust_policy_max_chars: int = DEFAULT_TRUST_POLICY_MAX_CHARS
    audit_retention_days: int = 365
    lock_lease_seconds: int = 60
    tracing: bool = False
    resource_types: tuple[str, ...] = CONTAINED_TYPES  # the types this deployment receives (the event rule's)
    own_resource_arns: frozenset[str] = frozenset()  # the deployment's own buckets and keys: never modified
    protected_resource_arns: frozenset[str] = frozenset()  # buckets and keys never modified
    # Organization mode (docs/organizations.md): a finding of a resource in another account is contained there
    # through this role (None: reported only, "contain it from that account").
    member_role_name: str | None = None
    member_role_external_id: str | None = None
    management_account_id: str | None = None  # never modified unless allow_management_account
    allow_management_account: bool = False
    account_modes: tuple[tuple[str, Mode], ...] = ()  # account id -> mode, overriding `mode` for that account
    excluded_account_ids: frozenset[str] = frozenset()  # never modified, findings recorded only (no notice)
    # Ordered overrides by resource type and/or account: the first match wins, then account_modes, then mode.
    mode_rules: tuple[ModeRule, ...] = ()
    # Approve mode (approval.py): how long a pending change waits (None: until someone decides), then what the sweep
    # does with it: apply it (after re-verification) or let it expire (access kept, announced).
    approval_timeout_hours: int | None = None
    on_timeout: OnTimeout = "expire"
    # Not configuration: set by the engine on the settings of a cycle whose clients act in this member account
    # (through the member role). The guards then take that account, not the analyzer's, as the one they act in.
    member_account_id: str | None = None
    # Prove before writing (proofs.py): Access Analyzer's checks on every planned policy document. On for the
    # Lambda (the module's prove_changes); the dataclass default is off for the CLI (`plan --prove`) and tests.
    prove_changes: bool = False
    # Confirm after writing (confirmation.py): StartResourceScan, then a delayed GetFinding. Default on for the Lambda
    # (the module sets it); the dataclass default is off for the CLI and tests.
    confirm_changes: bool = False
    confirm_delay_seconds: int = 300  # SQS DelaySeconds of each check (at most 900)
    confirm_deadline_seconds: int = 3600  # still ACTIVE this long after the write: "did not resolve the finding"

    def with_mode(self, mode: Mode) -> Settings:
        """These settings in `mode`; notify holds every account (no `account_modes` entry or `mode_rules` entry
        remediates then: a dry run or a pending subscription writes nothing anywhere)."""
        if mode == "notify":
            return replace(self, mode=mode, account_modes=(), mode_rules=())
        return replace(self, mode=mode)

    @property
    def modes(self) -> frozenset[Mode]:
        """Every mode some resource may be in."""
        return frozenset({self.mode, *(m for _, m in self.account_modes), *(r.mode for r in self.mode_rules)})

    @property
    def may_remediate(self) -> bool:
        """Some resource may be changed: the mode, an `account_modes` or a `mode_rules` entry is remediate, or
        approve (an approved or timed-out change is written; its request must reach someone)."""
        return bool(self.modes & {"remediate", "approve"})

    def account_mode(self, account_id: str) -> Mode:
        """The mode for resources of `account_id`: its `account_modes` entry, else the deployment's."""
        return dict(self.account_modes).get(account_id, self.mode)

    def mode_for(self, account_id: str, resource_type: str) -> Mode:
        """The one answer to "which mode for this resource": the first matching `mode_rules` entry, else the
        account's `account_modes` entry, else `mode`. Every path (Lambda, sweep, CLI) asks this."""
        for rule in self.mode_rules:
            if rule.matches(account_id, resource_type):
                return rule.mode
        return self.account_mode(account_id)

    @property
    def queue_region(self) -> str:
        """The Region of the main queue (AAR_QUEUE_URL): the deployment's, the topic's."""
        return self.topic_arn.split(":")[3]

    @property
    def organization_mode(self) -> bool:
        return self.member_role_name is not None

    def __post_init__(self) -> None:
        if (
            self.member_role_name is not None
            and self.management_account_id is None
            and not self.allow_management_account
        ):
            raise SettingsError(
                "AAR_MEMBER_ROLE_NAME is set: set AAR_MANAGEMENT_ACCOUNT_ID (the organization's management account,"
                " never modified) or AAR_ALLOW_MANAGEMENT_ACCOUNT=true"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from `AAR_*` variables (see docs/architecture.md)."""
        return cls(
            analyzer_arns=tuple(_arn_list(env, "AAR_ANALYZER_ARNS", ANALYZER_ARN_RE, required=True)),
            audit_table_name=_matching(env, "AAR_AUDIT_TABLE_NAME", TABLE_NAME_RE),
            topic_arn=_matching(env, "AAR_TOPIC_ARN", TOPIC_ARN_RE),
            mode=parse_mode(env.get("AAR_MODE", "remediate"), "AAR_MODE"),
            trusted_account_ids=frozenset(_arn_list(env, "AAR_TRUSTED_ACCOUNT_IDS", ACCOUNT_ID_RE)),
            trusted_org_id=_optional_matching(env, "AAR_TRUSTED_ORG_ID", ORG_ID_RE),
            protected_role_patterns=tuple(
                _matching_list(
                    env, "AAR_PROTECTED_ROLE_PATTERNS", PROTECTED_PATTERN_RE, DEFAULT_PROTECTED_ROLE_PATTERNS
                )
            ),
            own_role_arns=frozenset(_arn_list(env, "AAR_OWN_ROLE_ARNS", ROLE_ARN_RE)),
            exemption_tag_key=_tag_key(env),
            allowed_principals=tuple(_matching_list(env, "AAR_ALLOWED_PRINCIPALS", ALLOWED_PRINCIPAL_RE, ())),
            queue_url=_optional_matching(env, "AAR_QUEUE_URL", QUEUE_URL_RE),
            # Default on for the Lambda (the module sets it); the dataclass default is off for the CLI and tests.
            require_confirmed_subscription=_bool(env, "AAR_REQUIRE_CONFIRMED_SUBSCRIPTION", "true"),
            trust_policy_max_chars=_int(env, "AAR_TRUST_POLICY_MAX_CHARS", DEFAULT_TRUST_POLICY_MAX_CHARS, 2048, 10240),
            audit_retention_days=_int(env, "AAR_AUDIT_RETENTION_DAYS", 365, 0, 36500),
            lock_lease_seconds=_int(env, "AAR_LOCK_LEASE_SECONDS", 60, 5, 900),
            tracing=_bool(env, "AAR_TRACING"),
            resource_types=tuple(_matching_list(env, "AAR_RESOURCE_TYPES", RESOURCE_TYPE_NAME_RE, CONTAINED_TYPES)),
            own_resource_arns=frozenset(_arn_list(env, "AAR_OWN_RESOURCE_ARNS", RESOURCE_ARN_RE)),
            protected_resource_arns=frozenset(_arn_list(env, "AAR_PROTECTED_RESOURCE_ARNS", RESOURCE_ARN_RE)),
            member_role_name=_optional_matching(env, "AAR_MEMBER_ROLE_NAME", ROLE_NAME_RE),
            member_role_external_id=_optional_secret(env, "AAR_MEMBER_ROLE_EXTERNAL_ID", EXTERNAL_ID_RE),
            management_account_id=_optional_matching(env, "AAR_MANAGEMENT_ACCOUNT_ID", ACCOUNT_ID_RE),
            allow_management_account=_bool(env, "AAR_ALLOW_MANAGEMENT_ACCOUNT"),
            account_modes=_account_modes(env, "AAR_ACCOUNT_MODES"),
            excluded_account_ids=frozenset(_arn_list(env, "AAR_EXCLUDED_ACCOUNT_IDS", ACCOUNT_ID_RE)),
            mode_rules=_mode_rules(env, "AAR_MODE_RULES"),
            approval_timeout_hours=_optional_int(env, "AAR_APPROVAL_TIMEOUT_HOURS", 1, 8760),
            on_timeout=_on_timeout(env, "AAR_ON_TIMEOUT"),
            prove_changes=_bool(env, "AAR_PROVE_CHANGES", "true"),
            confirm_changes=_bool(env, "AAR_CONFIRM_CHANGES", "true"),
            confirm_delay_seconds=_int(env, "AAR_CONFIRM_DELAY_SECONDS", 300, 0, 900),
            confirm_deadline_seconds=_int(env, "AAR_CONFIRM_DEADLINE_SECONDS", 3600, 0, 86400),
        )


def parse_mode(value: str, name: str = "mode") -> Mode:
    value = value.strip()
    for mode in MODES:
        if value == mode:
            return mode
    raise SettingsError(f"{name} must be 'remediate', 'notify' or 'approve', got {value!r}")


def _json(env: Mapping[str, str], name: str, what: str) -> Any:
    """The JSON value of `name`, None when it is unset or blank; not JSON: a SettingsError saying it must be `what`."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as err:
        raise SettingsError(f"{name} must be {what}: {err.msg}") from None


def _mode_rules(env: Mapping[str, str], name: str) -> tuple[ModeRule, ...]:
    """A JSON list of {"mode": ..., "resource_types": [...]?, "account_ids": [...]?}: ordered, first match wins."""
    value = _json(env, name, "a JSON list of mode rules")
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MODE_RULES_MAX:
        raise SettingsError(f"{name} must be a JSON list of at most {MODE_RULES_MAX} mode rules")
    rules = []
    for index, item in enumerate(value):
        where = f"{name}[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("mode"), str):
            raise SettingsError(f"{where} must be an object with a mode")
        unknown = set(item) - {"mode", "resource_types", "account_ids"}
        if unknown:
            raise SettingsError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        types = _rule_list(item.get("resource_types"), f"{where}.resource_types", RESOURCE_TYPE_NAME_RE)
        accounts = _rule_list(item.get("account_ids"), f"{where}.account_ids", ACCOUNT_ID_RE)
        if types is None and accounts is None:
            raise SettingsError(f"{where} names neither resource_types nor account_ids (set mode instead)")
        rules.append(ModeRule(parse_mode(item["mode"], f"{where}.mode"), types, accounts))
    return tuple(rules)


def _rule_list(value: object, name: str, pattern: re.Pattern[str]) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise SettingsError(f"{name} must be a non-empty list (or left out: any)")
    for item in value:
        if not isinstance(item, str) or not pattern.match(item):
            raise SettingsError(f"{name}: {str(item)[:80]!r} is not valid")
    return frozenset(value)


def _optional_int(env: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    return _int(env, name, low, low, high) if env.get(name, "").strip() else None


def _on_timeout(env: Mapping[str, str], name: str) -> OnTimeout:
    value = env.get(name, "").strip() or "expire"
    if value == "apply":
        return "apply"
    if value == "expire":
        return "expire"
    raise SettingsError(f"{name} must be 'apply' or 'expire', got {value!r}")


def _string_list(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> list[str]:
    value = _json(env, name, "a JSON list of strings")
    if value is None:
        return list(default)
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise SettingsError(f"{name} must be a JSON list of non-empty strings")
    return [item.strip() for item in value]


def _matching_list(env: Mapping[str, str], name: str, pattern: re.Pattern[str], default: tuple[str, ...]) -> list[str]:
    values = _string_list(env, name, default)
    for value in values:
        if len(value) > 2048 or not pattern.match(value):
            raise SettingsError(f"{name}: {value[:80]!r} is not valid (wildcards are * and ? only)")
    return values


def _arn_list(env: Mapping[str, str], name: str, pattern: re.Pattern[str], required: bool = False) -> list[str]:
    values = _string_list(env, name, ())
    if required and not values:
        raise SettingsError(f"{name} is required (JSON list, at least one value)")
    for value in values:
        if not pattern.match(value):
            raise SettingsError(f"{name}: {value!r} is not valid")
    return values


def _matching(env: Mapping[str, str], name: str, pattern: re.Pattern[str]) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} is required")
    if not pattern.match(value):
        raise SettingsError(f"{name}: {value!r} is not valid")
    return value


def _optional_matching(env: Mapping[str, str], name: str, pattern: re.Pattern[str]) -> str | None:
    return _matching(env, name, pattern) if env.get(name, "").strip() else None


def _optional_secret(env: Mapping[str, str], name: str, pattern: re.Pattern[str]) -> str | None:
    """Like _optional_matching, but a bad value is not repeated in the error (it may be a secret)."""
    value = env.get(name, "").strip()
    if not value:
        return None
    if not pattern.match(value):
        raise SettingsError(f"{name} is not valid (2-1224 letters, digits and _ + = , . @ : / -)")
    return value


def _account_modes(env: Mapping[str, str], name: str) -> tuple[tuple[str, Mode], ...]:
    value = _json(env, name, "a JSON object of account id -> mode")
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise SettingsError(f"{name} must be a JSON object of account id -> mode")
    modes: list[tuple[str, Mode]] = []
    for account, mode in sorted(value.items()):
        if not ACCOUNT_ID_RE.match(account) or not isinstance(mode, str):
            raise SettingsError(f"{name}: {account[:80]!r} is not a 12-digit account id with a mode")
        modes.append((account, parse_mode(mode, f"{name}[{account}]")))
    return tuple(modes)


def _tag_key(env: Mapping[str, str]) -> str:
    value = env.get("AAR_EXEMPTION_TAG_KEY", DEFAULT_EXEMPTION_TAG_KEY).strip()
    if not 1 <= len(value) <= 128:
        raise SettingsError("AAR_EXEMPTION_TAG_KEY must be 1 to 128 characters")
    return value


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: str = "false") -> bool:
    raw = (env.get(name, "").strip() or default).lower()
    if raw not in {"true", "false"}:
        raise SettingsError(f"{name} must be 'true' or 'false', got {raw!r}")
    return raw == "true"
