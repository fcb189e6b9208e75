"""The gateway hot path: GetIdentityContext and ProjectClaims, one statement each.

The store returns the caller's roles and the user's whole context from one
statement; the policy decides on what came back before anything leaves the
process (a deny reveals nothing, not even whether the user exists).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from identity_context.application.actions import Action
from identity_context.application.authorization import Target
from identity_context.application.guarded import Guarded
from identity_context.application.invocation import Invocation
from identity_context.domain.errors import NotFound
from identity_context.domain.identifiers import parse_service_ref, parse_user_ref
from identity_context.domain.identity_context import (
    ContextSnapshot,
    IdentityContext,
    build_context,
    project_claims,
)

__all__ = ["Claims", "IdentityContexts"]


@dataclass(frozen=True, slots=True)
class Claims:
    """The claims of one audience, and the tenant's change sequence they were read at."""

    audience: str
    claims: dict[str, Any]
    seq: int


class IdentityContexts:
    """Identity contexts and claims of the request's tenant (the user, tenant admins, gateways)."""

    def __init__(self, guarded: Guarded) -> None:
        self._g = guarded

    async def _read(self, inv: Invocation, user: str, action: Action) -> ContextSnapshot:
        snapshot = await self._g.store.read_identity_context(inv.actor.subject, inv.tenant, user)
        await self._g.authorizer.decide(
            inv,
            roles=snapshot.roles,
            roles_tenant=inv.tenant,
            action=action,
            target=Target("identity_context", user, inv.tenant, target_user=user),
        )
        if snapshot.tenant_state is None:
            raise NotFound(f"{inv.tenant} does not exist")
        if snapshot.account_state is None:
            raise NotFound(f"{user} has no account in {inv.tenant}")
        return snapshot

    async def get(self, inv: Invocation, user_id: str) -> IdentityContext:
        """The identity context of a user."""
        user = parse_user_ref(user_id)
        return build_context(await self._read(inv, user, Action.TENANT_IDENTITY_CONTEXT_READ))

    async def claims(self, inv: Invocation, user_id: str, audience: str) -> Claims:
        """The claims one service audience sees for a user."""
        user = parse_user_ref(user_id)
        service = parse_service_ref(audience, field="audience")
        snapshot = await self._read(inv, user, Action.TENANT_CLAIMS_PROJECT)
        context = build_context(snapshot)
        definition = snapshot.definition if context.active is not None else None
        return Claims(
            service,
            project_claims(context, definition, service, snapshot.parents),
            snapshot.seq,
        )
