"""Per-RPC values read once from metadata by the request interceptor (one contextvar)."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

from identity_context.domain.actors import Actor
from identity_context.domain.errors import Unauthenticated
from identity_context.domain.identifiers import TenantId

__all__ = ["CallState", "RequestScope", "call_var", "current"]


class CallState:
    """What the interceptor has learned about the current RPC so far.

    Filled in order: the correlation id first (so every error carries it), then
    the actor and the tenant once they verified.
    """

    __slots__ = ("actor", "break_glass_reason", "correlation_id", "method", "tenant")

    def __init__(self, method: str, correlation_id: str) -> None:
        self.method = method
        self.correlation_id = correlation_id
        self.actor: Actor | None = None
        self.tenant: TenantId | None = None
        self.break_glass_reason = ""


call_var: contextvars.ContextVar[CallState | None] = contextvars.ContextVar(
    "identity_context_call", default=None
)


@dataclass(frozen=True, slots=True)
class RequestScope:
    """The target tenant, the actor and the correlation id of the current RPC."""

    tenant: TenantId
    actor: Actor
    correlation_id: str
    break_glass_reason: str


def current() -> RequestScope:
    """Return the scope the interceptor established for the current RPC.

    Raise Unauthenticated when the interceptor did not run (fail closed).
    """
    state = call_var.get()
    if state is None or state.tenant is None or state.actor is None:
        raise Unauthenticated("request scope is missing")
    return RequestScope(state.tenant, state.actor, state.correlation_id, state.break_glass_reason)
