"""The one path of every privileged use case: authorize, then one unit of work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from identity_context.application.authorization import Authorizer, AuthzEntity
from identity_context.application.idempotency import run_idempotent
from identity_context.application.invocation import Invocation
from identity_context.application.pagination import Page, PageRequest
from identity_context.application.ports import Store, UnitOfWork
from identity_context.domain.changes import Change, Decision
from identity_context.domain.errors import ErrorReason, FailedPrecondition
from identity_context.domain.identifiers import TenantId
from identity_context.domain.tenancy import TenantState

__all__ = ["Guarded", "Target"]

R = TypeVar("R")
T = TypeVar("T")
BREAK_GLASS_POLICY = "break-glass"
# Policies that may still change a suspended or archived tenant.
_OVERSIGHT_POLICIES = ("platform-operator", BREAK_GLASS_POLICY)


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

    @property
    def entity(self) -> AuthzEntity:
        """The AuthZEN resource."""
        return AuthzEntity(self.resource_type, self.resource_id, dict(self.properties))


class Guarded:
    """Runs reads and mutations behind the authorization port, failing closed."""

    def __init__(self, store: Store, authorizer: Authorizer) -> None:
        self.store = store
        self.authorizer = authorizer

    async def authorize(self, invocation: Invocation, action: str, target: Target) -> Decision:
        """Ask the port; raise PermissionDenied / Unavailable unless allowed."""
        return await self.authorizer.require(
            invocation, action=action, resource=target.entity, resource_tenant=target.tenant
        )

    async def read(
        self,
        invocation: Invocation,
        action: str,
        target: Target,
        fn: Callable[[UnitOfWork], Awaitable[R]],
        *,
        tenant: TenantId | None = None,
        platform: bool = False,
        decision: Decision | None = None,
    ) -> R:
        """Authorize (unless *decision* is given), then run *fn* read-only in *tenant*."""
        if decision is None:
            await self.authorize(invocation, action, target)
        context = invocation.change_context(tenant=tenant, platform=platform)
        return await self.store.run(context, fn, read_only=True)

    async def page(
        self,
        invocation: Invocation,
        action: str,
        target: Target,
        *,
        request: PageRequest,
        key: str,
        fetch: Callable[[UnitOfWork, str, int], Awaitable[Sequence[T]]],
        platform: bool = False,
        decision: Decision | None = None,
    ) -> Page[T]:
        """Authorize, then fetch one page: ``fetch(uow, after, size + 1)``, ordered by *key*.

        The extra row tells whether another page follows.
        """

        async def rows(uow: UnitOfWork) -> Sequence[T]:
            return await fetch(uow, request.after, request.size + 1)

        found = await self.read(
            invocation, action, target, rows, platform=platform, decision=decision
        )
        return request.page(found, key)

    async def mutate(
        self,
        invocation: Invocation,
        action: str,
        target: Target,
        *,
        command: Any,
        result_type: type[R],
        execute: Callable[[UnitOfWork, Decision], Awaitable[R]],
        tenant: TenantId | None = None,
        platform: bool = False,
        decision: Decision | None = None,
    ) -> R:
        """Authorize, then run *execute* once per request id in one unit of work.

        When the break-glass policy allowed it, a ``break_glass.used`` change is
        recorded first and every audit record of the command is flagged. A tenant
        that is not active is read-only except for platform operators and
        break-glass (FAILED_PRECONDITION / TENANT_NOT_ACTIVE).
        """
        if decision is None:
            decision = await self.authorize(invocation, action, target)
        allowed = decision
        break_glass = BREAK_GLASS_POLICY in allowed.policy_ids
        context = invocation.change_context(
            tenant=tenant, platform=platform, break_glass=break_glass
        )

        oversight = any(p.startswith(_OVERSIGHT_POLICIES) for p in allowed.policy_ids)

        async def work(uow: UnitOfWork) -> R:
            state = uow.tenant_state
            if state is not None and state is not TenantState.ACTIVE and not oversight:
                raise FailedPrecondition(
                    f"{context.tenant} is {state.value}; it is read-only",
                    reason=ErrorReason.TENANT_NOT_ACTIVE,
                )

            async def run() -> R:
                if break_glass:
                    await uow.record(
                        Change(
                            "break_glass.use",
                            "break_glass.used",
                            {"action": action, "break_glass_reason": invocation.break_glass_reason},
                            allowed,
                        )
                    )
                return await execute(uow, allowed)

            return await run_idempotent(
                uow, operation=action, command=command, result_type=result_type, execute=run
            )

        return await self.store.run(context, work)
