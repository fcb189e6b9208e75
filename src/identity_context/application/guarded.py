"""The one path of every privileged use case: one transaction, decision inside it, fail closed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from identity_context.application.actions import Action
from identity_context.application.authorization import Authorizer, Target
from identity_context.application.commands import Command
from identity_context.application.idempotency import run_idempotent
from identity_context.application.invocation import Invocation
from identity_context.application.pagination import Page, PageRequest, PageTokens
from identity_context.application.ports import Clock, Store, UnitOfWork
from identity_context.domain.changes import Change, Decision
from identity_context.domain.errors import ErrorReason, FailedPrecondition
from identity_context.domain.identifiers import TenantId
from identity_context.domain.tenancy import TenantState

__all__ = ["Guarded", "Target", "TargetOf"]

R = TypeVar("R")
T = TypeVar("T")
# The target of an operation, or how to find it in the transaction (when the
# decision depends on stored state, e.g. the relation of a membership to revoke).
TargetOf = Target | Callable[[UnitOfWork], Awaitable[Target]]


class Guarded:
    """Runs reads and mutations behind the authorization port, failing closed.

    Every call is one unit of work: the actor's roles are read by its first
    statement, the decision is taken inside it, and a mutation takes the
    tenant lock only after the decision, so a slow policy engine never holds
    up the tenant's other writers.
    """

    def __init__(
        self, store: Store, authorizer: Authorizer, pages: PageTokens, clock: Clock
    ) -> None:
        self.store = store
        self.authorizer = authorizer
        self.pages = pages
        self.clock = clock

    async def _decide(
        self,
        uow: UnitOfWork,
        invocation: Invocation,
        action: str,
        target: TargetOf,
        require: Callable[[], object] | None,
    ) -> Decision:
        found = target if isinstance(target, Target) else await target(uow)
        decision = await self.authorizer.decide(
            invocation,
            roles=uow.actor_roles,
            roles_tenant=uow.context.tenant,
            action=action,
            target=found,
        )
        if require is not None:
            require()
        return decision

    async def read(
        self,
        invocation: Invocation,
        action: Action,
        target: TargetOf,
        fn: Callable[[UnitOfWork], Awaitable[R]],
        *,
        tenant: TenantId | None = None,
        platform: bool = False,
        require: Callable[[], object] | None = None,
        writable: bool = False,
    ) -> R:
        """Authorize, then run *fn*, in one read-only unit of work in *tenant*.

        *require* runs right after an allow (checks that come after the
        decision, so a caller who may not do something learns only that).
        *writable* opens a read-write transaction that records nothing (a
        diagnostic write probe that it rolls back itself).
        """

        async def work(uow: UnitOfWork) -> R:
            await self._decide(uow, invocation, action, target, require)
            return await fn(uow)

        context = invocation.change_context(tenant=tenant, platform=platform)
        return await self.store.run(context, work, read_only=not writable)

    async def page(
        self,
        invocation: Invocation,
        action: Action,
        target: TargetOf,
        *,
        request: PageRequest,
        key: str,
        fetch: Callable[[UnitOfWork, str, int], Awaitable[Sequence[T]]],
        platform: bool = False,
        require: Callable[[], object] | None = None,
    ) -> Page[T]:
        """Authorize, then fetch one page: ``fetch(uow, after, size + 1)``, ordered by *key*.

        The extra row tells whether another page follows.
        """

        async def rows(uow: UnitOfWork) -> Sequence[T]:
            return await fetch(uow, request.after, request.size + 1)

        found = await self.read(
            invocation, action, target, rows, platform=platform, require=require
        )
        return request.page(found, key)

    async def mutate(
        self,
        invocation: Invocation,
        command: Command,
        target: TargetOf,
        execute: Callable[[UnitOfWork, Decision], Awaitable[R]],
        *,
        result_type: type[R],
        action: Action | None = None,
        tenant: TenantId | None = None,
        platform: bool = False,
        require: Callable[[], object] | None = None,
    ) -> R:
        """Authorize, then run *execute* once per request id, in one unit of work.

        *action* defaults to the command's; *require* runs right after an
        allow, as for reads. After the decision the tenant lock
        is taken. A tenant that is not active is read-only except under
        oversight (platform operators, break-glass): FAILED_PRECONDITION /
        TENANT_NOT_ACTIVE. When the allow used break-glass, a
        ``break_glass.used`` change is recorded first and every audit record of
        the command is flagged.
        """
        act = action or command.action

        async def work(uow: UnitOfWork) -> R:
            decision = await self._decide(uow, invocation, act, target, require)
            lock = await uow.lock_tenant()
            if lock.state is not TenantState.ACTIVE and not decision.oversight:
                raise FailedPrecondition(
                    f"{uow.context.tenant} is {lock.state.value}; it is read-only",
                    reason=ErrorReason.TENANT_NOT_ACTIVE,
                )

            async def run() -> R:
                if decision.break_glass:
                    await uow.record(
                        Change(
                            "break_glass.use",
                            "break_glass.used",
                            {"action": act, "break_glass_reason": invocation.break_glass_reason},
                            decision,
                        )
                    )
                return await execute(uow, decision)

            return await run_idempotent(
                uow, operation=act, command=command, result_type=result_type, execute=run
            )

        context = invocation.change_context(tenant=tenant, platform=platform)
        return await self.store.run(context, work)
