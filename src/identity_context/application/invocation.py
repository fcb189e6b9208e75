"""What a use case knows about the RPC that invoked it."""

from __future__ import annotations

from dataclasses import dataclass

from identity_context.domain.actors import Actor
from identity_context.domain.changes import ChangeContext
from identity_context.domain.identifiers import TenantId

__all__ = ["Invocation"]


@dataclass(frozen=True, slots=True)
class Invocation:
    """The target tenant, verified actor, correlation and idempotency key of one call.

    ``deadline_s`` is what remains of the caller's deadline (None: no deadline).
    ``break_glass_reason`` is the explicit break-glass request, if any.
    """

    tenant: TenantId
    actor: Actor
    correlation_id: str
    request_id: str = ""
    break_glass_reason: str = ""
    deadline_s: float | None = None

    def change_context(
        self, *, tenant: TenantId | None = None, platform: bool = False
    ) -> ChangeContext:
        """Return the unit-of-work context for a change in *tenant* (default: the target)."""
        return ChangeContext(
            tenant=tenant or self.tenant,
            actor=self.actor.subject,
            actor_tenant=self.actor.tenant,
            correlation_id=self.correlation_id,
            request_id=self.request_id,
            platform=platform,
            break_glass_reason=self.break_glass_reason,
        )
