"""Per-RPC values read once from metadata by the interceptors (contextvars)."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

from identity_context.domain.actors import Actor
from identity_context.domain.errors import Unauthenticated
from identity_context.domain.identifiers import TenantId

__all__ = ["RequestScope", "actor_var", "correlation_id_var", "current", "tenant_var"]

correlation_id_var: contextvars.ContextVar[str] = contextvars.ContextVar(
    "identity_context_correlation_id", default=""
)
tenant_var: contextvars.ContextVar[TenantId | None] = contextvars.ContextVar(
    "identity_context_tenant", default=None
)
actor_var: contextvars.ContextVar[Actor | None] = contextvars.ContextVar(
    "identity_context_actor", default=None
)


@dataclass(frozen=True, slots=True)
class RequestScope:
    """The target tenant, the actor and the correlation id of the current RPC."""

    tenant: TenantId
    actor: Actor
    correlation_id: str


def current() -> RequestScope:
    """Return the scope the interceptors established for the current RPC.

    Raise Unauthenticated when the interceptors did not run (fail closed).
    """
    tenant, actor = tenant_var.get(), actor_var.get()
    if tenant is None or actor is None:
        raise Unauthenticated("request scope is missing")
    return RequestScope(tenant=tenant, actor=actor, correlation_id=correlation_id_var.get())
