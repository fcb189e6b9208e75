"""The authorization port: AuthZEN-shaped requests, and the guard privileged use cases call."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from identity_context.application.invocation import Invocation
from identity_context.application.ports import Store, UnitOfWork
from identity_context.domain.changes import ChangeContext, Decision
from identity_context.domain.errors import (
    ErrorReason,
    PermissionDenied,
    Unavailable,
)
from identity_context.domain.identifiers import PLATFORM_TENANT, ActorKind, TenantId

__all__ = [
    "PLATFORM_ROLES",
    "TENANT_ROLES",
    "AuthorizationClient",
    "AuthorizationUnavailable",
    "Authorizer",
    "AuthzEntity",
    "AuthzRequest",
]

_log = logging.getLogger(__name__)

# Roles are memberships: these on tenant:platform, TENANT_ROLES on the target tenant.
PLATFORM_ROLES = ("platform-operator", "break-glass")
TENANT_ROLES = ("tenant-admin",)
_DEFAULT_TIMEOUT_S = 2.0


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


class Authorizer:
    """Builds the request from verified facts, asks the port, and fails closed."""

    def __init__(self, client: AuthorizationClient, store: Store) -> None:
        self._client = client
        self._store = store

    async def roles(self, invocation: Invocation, target: TenantId) -> frozenset[str]:
        """Return the actor's roles relevant to *target*, read from the store."""
        actor = invocation.actor
        if actor.kind is not ActorKind.USER:
            return frozenset()

        def reader(tenant: TenantId, relations: Sequence[str]) -> Any:
            async def read(uow: UnitOfWork) -> set[str]:
                return await uow.memberships.relations_of(actor.subject, [str(tenant)], relations)

            return read

        found: set[str] = set()
        wanted: list[tuple[TenantId, Sequence[str]]] = [(PLATFORM_TENANT, PLATFORM_ROLES)]
        if target != PLATFORM_TENANT:
            wanted.append((target, TENANT_ROLES))
        for tenant, relations in wanted:
            context = ChangeContext(tenant, actor.subject, actor.tenant, invocation.correlation_id)
            found |= await self._store.run(context, reader(tenant, relations), read_only=True)
        return frozenset(found)

    async def require(
        self,
        invocation: Invocation,
        *,
        action: str,
        resource: AuthzEntity,
        resource_tenant: TenantId,
        context: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Return the allow decision for *action* on *resource*.

        Raise PermissionDenied (with the engine's reason) on deny and Unavailable
        (AUTHZ_UNAVAILABLE) when the engine gives no usable answer.
        """
        actor = invocation.actor
        roles = await self.roles(invocation, resource_tenant)
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
                resource.type,
                resource.id,
                {
                    "tenant": str(resource_tenant),
                    "plane": "platform" if resource_tenant.is_platform else "tenant",
                    **resource.properties,
                },
            ),
            context={
                "break_glass": bool(invocation.break_glass_reason),
                "break_glass_reason": invocation.break_glass_reason,
                "correlation_id": invocation.correlation_id,
                **(context or {}),
            },
        )
        timeout = (
            invocation.deadline_s if invocation.deadline_s is not None else (_DEFAULT_TIMEOUT_S)
        )
        try:
            decision = await asyncio.wait_for(
                self._client.evaluate(request, timeout_s=timeout), timeout=max(timeout, 0.001)
            )
        except Exception as exc:  # any failure of the port is a deny
            _log.warning("authorization unavailable for %s: %s", action, type(exc).__name__)
            raise Unavailable(
                "the authorization service gave no answer; denied",
                reason=ErrorReason.AUTHZ_UNAVAILABLE,
            ) from exc
        if not isinstance(decision, Decision) or decision.allowed is not True:
            reason = decision.reason if isinstance(decision, Decision) else ""
            raise PermissionDenied(
                f"{actor.subject} may not {action} in {resource_tenant}",
                reason=ErrorReason(reason)
                if reason in ErrorReason.__members__
                else ErrorReason.PERMISSION_DENIED,
            )
        return decision
