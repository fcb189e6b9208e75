"""The application catalog and the applications bound to a tenant."""

from __future__ import annotations

from identity_context.application.actions import Action
from identity_context.application.authorization import Target
from identity_context.application.commands import BindApplication
from identity_context.application.guarded import Guarded
from identity_context.application.invocation import Invocation
from identity_context.application.pagination import Page
from identity_context.application.ports import UnitOfWork
from identity_context.domain.changes import Change, Decision
from identity_context.domain.directory import ApplicationBinding
from identity_context.domain.errors import NotFound
from identity_context.domain.identifiers import parse_application_ref

__all__ = ["Applications"]


class Applications:
    """Bind catalog applications to tenants and list them."""

    def __init__(self, guarded: Guarded) -> None:
        self._g = guarded

    async def bind(self, inv: Invocation, cmd: BindApplication) -> ApplicationBinding:
        """Bind a catalog application to the request's tenant (platform operators)."""
        app = parse_application_ref(cmd.application_id)

        async def execute(uow: UnitOfWork, allowed: Decision) -> ApplicationBinding:
            if await uow.applications.catalog_entry(app) is None:
                raise NotFound(f"{app} is not in the application catalog")
            binding = await uow.applications.bind(app)
            await uow.record(
                Change(
                    cmd.action,
                    "application.bound",
                    {"application_id": app, "tenant_id": str(inv.tenant)},
                    allowed,
                )
            )
            return binding

        return await self._g.mutate(
            inv,
            cmd,
            Target("application_binding", app, inv.tenant),
            execute,
            result_type=ApplicationBinding,
        )

    async def list(
        self, inv: Invocation, page_size: int, page_token: str
    ) -> Page[ApplicationBinding]:
        """List the tenant's bindings, or the catalog for tenant:platform."""
        catalog = inv.tenant.is_platform
        action = Action.PLATFORM_APPLICATION_CATALOG if catalog else Action.TENANT_APPLICATION_LIST
        resource_type = "application" if catalog else "application_binding"
        page = self._g.pages.parse(inv.tenant, "applications", page_size, page_token)
        return await self._g.page(
            inv,
            action,
            Target(resource_type, "*", inv.tenant),
            request=page,
            key="application_id",
            fetch=lambda uow, after, limit: uow.applications.list(
                after=after, limit=limit, catalog=catalog
            ),
        )
