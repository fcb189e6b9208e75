"""The authorization port: AuthZEN-shaped requests built from facts, and typed decisions.

The facts (the actor's roles) are read by the unit of work inside the
command's own transaction; the decision is taken there. What the
application does differently for break-glass and operator oversight, and the
reason of a deny, are derived here from the request's facts, never from
policy-id strings, so an engine that names no policies behaves the same.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from identity_context.application.actions import Action
from identity_context.application.invocation import Invocation
from identity_context.domain.changes import Decision
from identity_context.domain.errors import ErrorReason, PermissionDenied, Unavailable
from identity_context.domain.identifiers import TenantId
from identity_context.domain.roles import (
    BREAK_GLASS,
    PLATFORM_OPERATOR,
    PLATFORM_ROLES,
    RESERVED_PLATFORM_RELATIONS,
)

__all__ = [
    "AuthorizationClient",
    "AuthorizationUnavailable",
    "Authorizer",
    "AuthzEntity",
    "AuthzRequest",
    "Target",
    "deny_reason",
]

_log = logging.getLogger(__name__)
_DEFAULT_TIMEOUT_S = 2.0
_MEMBERSHIP_CHANGES = frozenset({Action.TENANT_MEMBERSHIP_GRANT, Action.TENANT_MEMBERSHIP_REVOKE})
# Reasons an engine may give that say more than "denied".
_SPECIFIC_REASONS = frozenset(ErrorReason) - {ErrorReason.PERMISSION_DENIED}


class AuthorizationUnavailable(Exception):
    """The policy engine gave no usable answer (error, timeout, malformed reply)."""


@dataclass(frozen=True, slots=True)
class AuthzEntity:
    """An AuthZEN subject or resource: type, id and properties."""

    type: str
    id: str
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuthzRequest:
    """An AuthZEN 1.0 access evaluation request."""

    subject: AuthzEntity
    action: str
    resource: AuthzEntity
    context: Mapping[str, Any] = field(default_factory=dict)

    def to_authzen(self) -> dict[str, Any]:
        """Return the AuthZEN JSON body."""
        return {
            "subject": {
                "type": self.subject.type,
                "id": self.subject.id,
                "properties": dict(self.subject.properties),
            },
            "action": {"name": self.action},
            "resource": {
                "type": self.resource.type,
                "id": self.resource.id,
                "properties": dict(self.resource.properties),
            },
            "context": dict(self.context),
        }


class AuthorizationClient(Protocol):
    """Asks a policy engine; adapters: embedded Cedar, remote AuthZEN."""

    async def evaluate(self, request: AuthzRequest, *, timeout_s: float) -> Decision:
        """Return the decision; raise AuthorizationUnavailable when there is none."""
        ...

    async def evaluate_batch(
        self, requests: Sequence[AuthzRequest], *, timeout_s: float
    ) -> list[Decision]:
        """Return one decision per request, in order."""
        ...


class Target:
    """What an operation acts on: the AuthZEN resource and the tenant it lives in."""

    __slots__ = ("properties", "resource_id", "resource_type", "tenant")

    def __init__(
        self, resource_type: str, resource_id: str, tenant: TenantId, **properties: Any
    ) -> None:
        self.resource_type = resource_type
        self.resource_id = resource_id
        self.tenant = tenant
        self.properties: Mapping[str, Any] = properties


def deny_reason(
    action: str,
    target: Target,
    *,
    actor_tenant: TenantId,
    roles: frozenset[str],
    break_glass_requested: bool,
) -> ErrorReason:
    """Return why a deny happened, from the request's facts alone.

    The platform-root boundary (platform operations, ``tenant:platform``, the
    reserved platform relations) and the tenant boundary are known without the
    engine's help, so the documented reasons hold with any engine.
    """
    if PLATFORM_OPERATOR not in roles:
        if target.tenant.is_platform or action.startswith("platform."):
            return ErrorReason.PLATFORM_ROOT_DENIED
        if (
            action in _MEMBERSHIP_CHANGES
            and target.properties.get("relation") in RESERVED_PLATFORM_RELATIONS
        ):
            return ErrorReason.PLATFORM_ROOT_DENIED
        if target.tenant != actor_tenant and not break_glass_requested:
            return ErrorReason.CROSS_TENANT_DENIED
    if break_glass_requested:
        return ErrorReason.BREAK_GLASS_DENIED
    return ErrorReason.PERMISSION_DENIED


class Authorizer:
    """Builds the request from verified facts, asks the port, and fails closed."""

    def __init__(self, client: AuthorizationClient) -> None:
        self._client = client

    async def probe(self, tenant: TenantId) -> str | None:
        """Ask the engine one question about *tenant*; return why it gave no answer, or None.

        Any well-formed answer, allow or deny, means the engine works.
        """
        request = AuthzRequest(
            AuthzEntity(
                "user",
                "user:diagnose-probe",
                {"actor_tenant": str(tenant), "assurance_level": 0, "roles": [], "active_hat": ""},
            ),
            Action.TENANT_READ,
            AuthzEntity(
                "tenant",
                str(tenant),
                {"tenant": str(tenant), "plane": "platform" if tenant.is_platform else "tenant"},
            ),
            {"break_glass": False, "break_glass_reason": "", "correlation_id": "diagnose"},
        )
        try:
            decision = await self._client.evaluate(request, timeout_s=_DEFAULT_TIMEOUT_S)
        except Exception as exc:  # the finding, not an error of the caller
            return type(exc).__name__ if not str(exc) else str(exc)[:200]
        return None if isinstance(decision, Decision) else "not a decision"

    async def decide(
        self,
        invocation: Invocation,
        *,
        roles: frozenset[str],
        roles_tenant: TenantId,
        action: str,
        target: Target,
    ) -> Decision:
        """Return the allow decision for *action* on *target*.

        *roles* are the actor's roles read in the command's transaction: those
        on tenant:platform, and those on *roles_tenant* (which count only when
        the target lives there). Raise PermissionDenied (with the reason) on
        deny and Unavailable (AUTHZ_UNAVAILABLE) when the engine gives no
        usable answer.
        """
        actor = invocation.actor
        if target.tenant != roles_tenant:
            roles = roles.intersection(PLATFORM_ROLES)
        break_glass_requested = bool(invocation.break_glass_reason)
        request = AuthzRequest(
            subject=AuthzEntity(
                actor.kind.value,
                actor.subject,
                {
                    "actor_tenant": str(actor.tenant),
                    "assurance_level": int(actor.assurance),
                    "roles": sorted(roles),
                    "active_hat": "",
                },
            ),
            action=action,
            resource=AuthzEntity(
                target.resource_type,
                target.resource_id,
                {
                    "tenant": str(target.tenant),
                    "plane": "platform" if target.tenant.is_platform else "tenant",
                    **target.properties,
                },
            ),
            context={
                "break_glass": break_glass_requested,
                "break_glass_reason": invocation.break_glass_reason,
                "correlation_id": invocation.correlation_id,
            },
        )
        timeout = invocation.deadline_s if invocation.deadline_s is not None else _DEFAULT_TIMEOUT_S
        try:
            # The adapter bounds its own wait (a remote engine by its HTTP
            # timeout); the embedded engine answers in-process.
            decision = await self._client.evaluate(request, timeout_s=max(timeout, 0.001))
        except Exception as exc:  # any failure of the port is a deny
            _log.warning("authorization unavailable for %s: %s", action, type(exc).__name__)
            raise Unavailable(
                "the authorization service gave no answer; denied",
                reason=ErrorReason.AUTHZ_UNAVAILABLE,
            ) from exc
        if not isinstance(decision, Decision) or decision.allowed is not True:
            given = decision.reason if isinstance(decision, Decision) else ""
            reason = (
                ErrorReason(given)
                if given in _SPECIFIC_REASONS
                else deny_reason(
                    action,
                    target,
                    actor_tenant=actor.tenant,
                    roles=roles,
                    break_glass_requested=break_glass_requested,
                )
            )
            raise PermissionDenied(
                f"{actor.subject} may not {action} in {target.tenant}", reason=reason
            )
        break_glass = break_glass_requested and BREAK_GLASS in roles
        return Decision(
            True,
            decision.policy_ids,
            break_glass=break_glass,
            oversight=break_glass or PLATFORM_OPERATOR in roles,
        )
