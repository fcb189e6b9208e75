"""Tenant accounts: a user's account and its state inside one tenant."""

from __future__ import annotations

from dataclasses import dataclass

from identity_context.application.actions import Action
from identity_context.application.authorization import Target
from identity_context.application.commands import SetAccountState, UpsertTenantUser
from identity_context.application.guarded import Guarded
from identity_context.application.hats import end_broken_hats
from identity_context.application.invocation import Invocation
from identity_context.application.pagination import Page
from identity_context.application.ports import UnitOfWork
from identity_context.domain.changes import Change, Decision
from identity_context.domain.errors import FailedPrecondition, NotFound
from identity_context.domain.identifiers import parse_user_ref
from identity_context.domain.tenancy import AccountState, TenantAccount, check_etag
from identity_context.domain.text import MAX_DISPLAY_NAME, MAX_REASON, check_text

__all__ = ["Accounts", "UpsertResult"]


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """The account after UpsertTenantUser and whether it was created."""

    account: TenantAccount
    created: bool


class Accounts:
    """Create, rename, read, list and change the state of tenant accounts."""

    def __init__(self, guarded: Guarded) -> None:
        self._g = guarded

    async def upsert(self, inv: Invocation, cmd: UpsertTenantUser) -> UpsertResult:
        """Create the account of a user in the tenant, or update its display name."""
        user = parse_user_ref(cmd.user_id)
        display_name = check_text(
            cmd.display_name, field="display_name", max_length=MAX_DISPLAY_NAME
        )

        async def execute(uow: UnitOfWork, allowed: Decision) -> UpsertResult:
            existing = await uow.accounts.get(user)
            if existing is None:
                state = cmd.initial_state or AccountState.INVITED
                account = await uow.accounts.insert(user, display_name, state)
                await uow.record(
                    Change(
                        cmd.action,
                        "tenant_user.created",
                        {
                            "user_id": user,
                            "display_name": display_name,
                            "state": state.value,
                            "created": True,
                        },
                        allowed,
                    )
                )
                return UpsertResult(account, True)
            check_etag(cmd.etag, existing.etag)
            account = await uow.accounts.update(user, display_name=display_name)
            await uow.record(
                Change(
                    cmd.action,
                    "tenant_user.updated",
                    {
                        "user_id": user,
                        "display_name": display_name,
                        "previous_display_name": existing.display_name,
                        "created": False,
                    },
                    allowed,
                )
            )
            return UpsertResult(account, False)

        return await self._g.mutate(
            inv,
            cmd,
            Target("tenant_user", user, inv.tenant, target_user=user),
            execute,
            result_type=UpsertResult,
        )

    async def get(self, inv: Invocation, user_id: str) -> TenantAccount:
        """Return the account of a user in the tenant; NOT_FOUND when there is none."""
        user = parse_user_ref(user_id)

        async def read(uow: UnitOfWork) -> TenantAccount | None:
            return await uow.accounts.get(user)

        found = await self._g.read(
            inv,
            Action.TENANT_USER_READ,
            Target("tenant_user", user, inv.tenant, target_user=user),
            read,
        )
        if found is None:
            raise NotFound(f"{user} has no account in {inv.tenant}")
        return found

    async def list(
        self, inv: Invocation, page_size: int, page_token: str, state: AccountState | None
    ) -> Page[TenantAccount]:
        """List the tenant's accounts."""
        page = self._g.pages.parse(inv.tenant, "accounts", page_size, page_token, state)
        return await self._g.page(
            inv,
            Action.TENANT_USER_LIST,
            Target("tenant_user", "*", inv.tenant, target_user=""),
            request=page,
            key="user_id",
            fetch=lambda uow, after, limit: uow.accounts.list(
                after=after, state=state, limit=limit
            ),
        )

    async def set_state(self, inv: Invocation, cmd: SetAccountState) -> TenantAccount:
        """Move an account between states; deprovisioned is terminal."""
        user = parse_user_ref(cmd.user_id)
        reason = check_text(cmd.reason, field="reason", max_length=MAX_REASON)

        async def execute(uow: UnitOfWork, allowed: Decision) -> TenantAccount:
            current = await uow.accounts.get(user)
            if current is None:
                raise NotFound(f"{user} has no account in {inv.tenant}")
            check_etag(cmd.etag, current.etag)
            if current.state is cmd.state:
                return current
            if current.state is AccountState.DEPROVISIONED:
                raise FailedPrecondition(f"{user} is deprovisioned in {inv.tenant}")
            changed = await uow.accounts.update(user, state=cmd.state)
            await uow.record(
                Change(
                    cmd.action,
                    "tenant_user.state_changed",
                    {
                        "user_id": user,
                        "state": cmd.state.value,
                        "previous_state": current.state.value,
                        "reason": reason,
                    },
                    allowed,
                )
            )
            if cmd.state is not AccountState.ACTIVE:
                await end_broken_hats(
                    uow, [user], allowed, f"account.{cmd.state.value}", self._g.clock.now()
                )
            return changed

        return await self._g.mutate(
            inv,
            cmd,
            Target("tenant_user", user, inv.tenant, target_user=user),
            execute,
            result_type=TenantAccount,
        )
