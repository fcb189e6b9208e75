"""Tenants (the platform plane's tenant lifecycle) and a tenant reading itself."""

from __future__ import annotations

from identity_context.application.actions import Action
from identity_context.application.authorization import Target
from identity_context.application.commands import CreateTenant, SetTenantState
from identity_context.application.guarded import Guarded
from identity_context.application.invocation import Invocation
from identity_context.application.pagination import Page
from identity_context.application.ports import UnitOfWork
from identity_context.domain.changes import Change, Decision
from identity_context.domain.errors import (
    Aborted,
    ErrorReason,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from identity_context.domain.identifiers import PLATFORM_TENANT, parse_tenant_id
from identity_context.domain.tenancy import Tenant, TenantState, check_etag
from identity_context.domain.text import MAX_DISPLAY_NAME, MAX_REASON, check_text

__all__ = ["Tenants", "require_platform_header"]


def require_platform_header(invocation: Invocation) -> None:
    """Raise InvalidArgument unless the RPC was called with ``x-tenant-id: tenant:platform``."""
    if not invocation.tenant.is_platform:
        raise InvalidArgument.for_field("x-tenant-id", "this RPC is called with tenant:platform")


class Tenants:
    """Create, read, list and change the state of tenants."""

    def __init__(self, guarded: Guarded) -> None:
        self._g = guarded

    async def create(self, inv: Invocation, cmd: CreateTenant) -> Tenant:
        """Create a tenant plane (platform operators)."""
        tenant = parse_tenant_id(cmd.tenant_id)
        display_name = check_text(
            cmd.display_name, field="display_name", max_length=MAX_DISPLAY_NAME
        )

        async def execute(uow: UnitOfWork, allowed: Decision) -> Tenant:
            created = await uow.tenants.platform_create(tenant, display_name)
            await uow.record(
                Change(
                    cmd.action,
                    "tenant.created",
                    {"tenant_id": str(tenant), "display_name": display_name},
                    allowed,
                    target_tenant=tenant,
                )
            )
            return created

        return await self._g.mutate(
            inv,
            cmd,
            Target("tenant", str(tenant), PLATFORM_TENANT),
            execute,
            result_type=Tenant,
            platform=True,
            require=lambda: require_platform_header(inv),
        )

    async def get(self, inv: Invocation, tenant_id: str) -> Tenant:
        """Return a tenant: the caller's own (tenant.read), or any (platform)."""
        tenant = parse_tenant_id(tenant_id) if tenant_id else inv.tenant
        if tenant == inv.tenant:

            async def own(uow: UnitOfWork) -> Tenant | None:
                return await uow.tenants.get()

            found = await self._g.read(
                inv, Action.TENANT_READ, Target("tenant", str(tenant), tenant), own
            )
        else:

            async def other(uow: UnitOfWork) -> Tenant | None:
                return await uow.platform_tenants.get(tenant)

            found = await self._g.read(
                inv,
                Action.PLATFORM_TENANT_READ,
                Target("tenant", str(tenant), PLATFORM_TENANT),
                other,
                platform=True,
                require=lambda: require_platform_header(inv),
            )
        if found is None:
            raise NotFound(f"{tenant} not found")
        return found

    async def list(
        self, inv: Invocation, page_size: int, page_token: str, state: TenantState | None
    ) -> Page[Tenant]:
        """List every tenant (platform operators)."""
        page = self._g.pages.parse(inv.tenant, "tenants", page_size, page_token, state)
        return await self._g.page(
            inv,
            Action.PLATFORM_TENANT_LIST,
            Target("tenant", "*", PLATFORM_TENANT),
            request=page,
            key="tenant_id",
            fetch=lambda uow, after, limit: uow.tenants.platform_list(
                after=after, state=state, limit=limit
            ),
            platform=True,
            require=lambda: require_platform_header(inv),
        )

    async def set_state(self, inv: Invocation, cmd: SetTenantState) -> Tenant:
        """Activate, suspend or archive a tenant (platform operators)."""
        tenant = parse_tenant_id(cmd.tenant_id)
        reason = check_text(cmd.reason, field="reason", max_length=MAX_REASON)

        def require() -> None:
            require_platform_header(inv)
            if tenant.is_platform:
                raise FailedPrecondition("the platform plane cannot change state")

        async def execute(uow: UnitOfWork, allowed: Decision) -> Tenant:
            current = await uow.platform_tenants.get(tenant)
            if current is None:
                raise NotFound(f"{tenant} not found")
            check_etag(cmd.etag, current.etag)
            if current.state is TenantState.ARCHIVED:
                raise FailedPrecondition(f"{tenant} is archived")
            changed = await uow.platform_tenants.set_state(tenant, cmd.state, current.version)
            if changed is None:
                raise Aborted("the tenant changed concurrently", reason=ErrorReason.ETAG_MISMATCH)
            await uow.record(
                Change(
                    cmd.action,
                    "tenant.state_changed",
                    {
                        "tenant_id": str(tenant),
                        "state": cmd.state.value,
                        "previous_state": current.state.value,
                        "reason": reason,
                    },
                    allowed,
                    target_tenant=tenant,
                )
            )
            return changed

        return await self._g.mutate(
            inv,
            cmd,
            Target("tenant", str(tenant), PLATFORM_TENANT),
            execute,
            result_type=Tenant,
            platform=True,
            require=require,
        )
