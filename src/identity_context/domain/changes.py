"""Changes: what a command did, who did it, and the redacted summary that audit and events carry."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from identity_context.domain.identifiers import TenantId

__all__ = [
    "AUDIT_FIELD_ALLOW_LIST",
    "REDACTED",
    "Change",
    "ChangeContext",
    "Decision",
    "RecordedChange",
    "redact",
]

REDACTED = "[REDACTED]"

# Fields of a change summary that may appear in audit records and events as
# they are. Everything else is replaced by REDACTED; so is any value marked
# sensitive, wherever it appears.
AUDIT_FIELD_ALLOW_LIST = frozenset(
    {
        "tenant_id",
        "display_name",
        "plane",
        "state",
        "previous_state",
        "reason",
        "user_id",
        "application_id",
        "layer",
        "profile_values",
        "removed_keys",
        "scope_id",
        "kind",
        "parent_scope_id",
        "group_id",
        "membership_id",
        "subject",
        "relation",
        "object",
        "valid_from",
        "valid_until",
        "access_profile_id",
        "hat_id",
        "evidence_id",
        "factor_type",
        "assurance_level",
        "expires_at",
        "approval_id",
        "decision",
        "break_glass_reason",
        "created",
        "evidence_ids",
        "issuer",
        "previous_hat_id",
        "realm_id",
        "service_area_id",
        "asset_id",
        "cause",
        "justification",
        "comment",
        "requested_duration_s",
        "pending_until",
    }
)


@dataclass(frozen=True, slots=True)
class Decision:
    """The authorization port's answer for one operation.

    ``policy_ids`` are the policies that decided (a remote engine may name
    none); ``reason`` names why a deny happened (an ErrorReason value such as
    ``PLATFORM_ROOT_DENIED``). ``break_glass`` and ``oversight`` are facts the
    application derives from the request, never from policy ids: the allow
    used break-glass (every such change is flagged in the audit trail), and
    the actor oversees the platform (platform operator or break-glass), so a
    suspended tenant stays writable for them.
    """

    allowed: bool
    policy_ids: tuple[str, ...] = ()
    reason: str = ""
    break_glass: bool = False
    oversight: bool = False


@dataclass(frozen=True, slots=True)
class ChangeContext:
    """Who changes what, where: the context a unit of work records with every change.

    ``platform`` marks a platform-plane command that may use the explicit
    cross-tenant path; ``break_glass_reason`` is the break-glass reason the
    request gave (recorded only with changes whose decision used break-glass).
    """

    tenant: TenantId
    actor: str
    actor_tenant: TenantId
    correlation_id: str
    request_id: str = ""
    platform: bool = False
    break_glass_reason: str = ""


@dataclass(frozen=True, slots=True)
class Change:
    """One state change: an audited action and the event consumers see.

    ``summary`` is the raw description; it is redacted (allow-list plus
    ``sensitive_values``) before it is stored anywhere.
    """

    action: str
    event_type: str
    summary: Mapping[str, Any]
    decision: Decision
    sensitive_values: frozenset[str] = field(default_factory=frozenset)
    target_tenant: TenantId | None = None


@dataclass(frozen=True, slots=True)
class RecordedChange:
    """A change as committed: its sequence number and time."""

    seq: int
    recorded_at: dt.datetime


def _scrub(value: Any, sensitive: Collection[str]) -> Any:
    if isinstance(value, str):
        # Longest first, so a value that contains another is replaced whole.
        for secret in sensitive:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, Mapping):
        return {str(k): _scrub(v, sensitive) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(v, sensitive) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float):
        return value
    return _scrub(str(value), sensitive)


def redact(summary: Mapping[str, Any], sensitive_values: Collection[str] = ()) -> dict[str, Any]:
    """Return *summary* with fields off the allow-list and every sensitive value redacted.

    A sensitive value is replaced wherever it occurs, inside longer free text too.
    """
    sensitive = sorted({v for v in sensitive_values if v}, key=len, reverse=True)
    return {
        str(key): _scrub(value, sensitive) if key in AUDIT_FIELD_ALLOW_LIST else REDACTED
        for key, value in summary.items()
    }
