"""The audit trail of a tenant: listing its records and verifying its hash chain."""

from __future__ import annotations

import re

from identity_context.application.actions import Action
from identity_context.application.authorization import Target
from identity_context.application.guarded import Guarded
from identity_context.application.invocation import Invocation
from identity_context.application.pagination import Page
from identity_context.application.ports import UnitOfWork
from identity_context.domain.audit import AuditRecord, ChainVerification, ChainVerifier
from identity_context.domain.errors import InvalidArgument, NotFound

__all__ = ["AuditTrail", "verify_stored_chain"]

_ACTION_FILTER = re.compile(r"[a-z][a-z0-9_.]{0,63}")


async def verify_stored_chain(uow: UnitOfWork, last_seq: int) -> ChainVerification:
    """Verify the unit of work's tenant's chain, record by record (constant memory)."""
    verifier = ChainVerifier()
    async for record in uow.audit.each():
        if not verifier.add(record):
            break
    return verifier.result(expected_last_seq=last_seq)


class AuditTrail:
    """Read the tenant's audit records (already redacted when written) and verify them."""

    def __init__(self, guarded: Guarded) -> None:
        self._g = guarded

    async def list(
        self, inv: Invocation, page_size: int, page_token: str, action: str, after_seq: int
    ) -> Page[AuditRecord]:
        """List the tenant's audit records, oldest first, optionally of one action."""
        if after_seq < 0:
            raise InvalidArgument.for_field("after_seq", "must not be negative")
        if action and not _ACTION_FILTER.fullmatch(action):
            raise InvalidArgument.for_field("action", "is not an action name")
        page = self._g.pages.parse(inv.tenant, "audit", page_size, page_token, action, after_seq)
        return await self._g.page(
            inv,
            Action.TENANT_AUDIT_LIST,
            Target("audit_trail", str(inv.tenant), inv.tenant),
            request=page,
            key="seq",
            fetch=lambda uow, after, limit: uow.audit.list(
                after_seq=max(after_seq, int(after or 0)), action=action, limit=limit
            ),
        )

    async def verify(self, inv: Invocation) -> ChainVerification:
        """Recompute the tenant's audit hash chain (streamed: constant memory)."""

        async def read(uow: UnitOfWork) -> ChainVerification:
            tenant = await uow.tenants.get()
            if tenant is None:
                raise NotFound(f"{inv.tenant} not found")
            return await verify_stored_chain(uow, tenant.last_seq)

        return await self._g.read(
            inv,
            Action.TENANT_AUDIT_VERIFY,
            Target("audit_trail", str(inv.tenant), inv.tenant),
            read,
        )
