"""Use cases of TenantAdminService: tenants, applications, accounts, profiles, audit."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from identity_context.application.actions import Action
from identity_context.application.guarded import Guarded, Target
from identity_context.application.invocation import Invocation
from identity_context.application.pagination import Page, PageRequest
from identity_context.application.ports import UnitOfWork
from identity_context.domain.audit import AuditRecord, ChainVerification, verify_chain
from identity_context.domain.changes import REDACTED, Change, Decision
from identity_context.domain.directory import (
    ApplicationBinding,
    ProfileLayer,
    ProfileValue,
    ResolvedValue,
    resolve_profile,
)
from identity_context.domain.errors import (
    Aborted,
    ErrorReason,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
)
from identity_context.domain.identifiers import (
    PLATFORM_TENANT,
    TenantId,
    parse_application_ref,
    parse_profile_ref,
    parse_tenant_id,
    parse_user_ref,
)
from identity_context.domain.tenancy import (
    AccountState,
    Tenant,
    TenantAccount,
    TenantState,
    check_etag,
)

__all__ = [
    "ProfileUpdate",
    "ProfileWrite",
    "ResolvedProfile",
    "TenantAdministration",
    "UpsertResult",
    "require_platform_header",
]

_KEY = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
_MAX_VALUE = 4096


def require_platform_header(invocation: Invocation) -> None:
    """Raise InvalidArgument unless the RPC was called with ``x-tenant-id: tenant:platform``."""
    if not invocation.tenant.is_platform:
        raise InvalidArgument.for_field("x-tenant-id", "this RPC is called with tenant:platform")


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """The account after UpsertTenantUser and whether it was created."""

    account: TenantAccount
    created: bool


@dataclass(frozen=True, slots=True)
class ProfileWrite:
    """One value to write."""

    key: str
    value: str
    sensitive: bool = False


@dataclass(frozen=True, slots=True)
class ProfileUpdate:
    """The layer after SetProfileValues."""

    values: tuple[ProfileValue, ...]
    etag: str


@dataclass(frozen=True, slots=True)
class ResolvedProfile:
    """The resolved profile of a user."""

    values: tuple[ResolvedValue, ...]


@dataclass(frozen=True, slots=True)
class _SetProfile:
    user_id: str
    layer: str
    values: tuple[ProfileWrite, ...]
    remove_keys: tuple[str, ...]
    etag: str


class TenantAdministration:
    """Tenants (platform plane), bindings, accounts, profile values and the audit trail."""

    def __init__(self, guarded: Guarded) -> None:
        self._g = guarded

    # ---- tenants ----------------------------------------------------------

    async def create_tenant(self, inv: Invocation, tenant_id: str, display_name: str) -> Tenant:
        """Create a tenant plane (platform operators)."""
        tenant = parse_tenant_id(tenant_id)
        target = Target("tenant", str(tenant), PLATFORM_TENANT)
        decision = await self._g.authorize(inv, Action.PLATFORM_TENANT_CREATE, target)
        require_platform_header(inv)

        async def execute(uow: UnitOfWork, allowed: Decision) -> Tenant:
            created = await uow.tenants.platform_create(tenant, display_name)
            await uow.record(
                Change(
                    Action.PLATFORM_TENANT_CREATE,
                    "tenant.created",
                    {"tenant_id": str(tenant), "display_name": display_name},
                    allowed,
                    target_tenant=tenant,
                )
            )
            return created

        return await self._g.mutate(
            inv,
            Action.PLATFORM_TENANT_CREATE,
            target,
            command=(str(tenant), display_name),
            result_type=Tenant,
            execute=execute,
            platform=True,
            decision=decision,
        )

    async def get_tenant(self, inv: Invocation, tenant_id: str) -> Tenant:
        """Return a tenant: the caller's own (tenant.read), or any (platform)."""
        tenant = parse_tenant_id(tenant_id) if tenant_id else inv.tenant
        if tenant == inv.tenant:

            async def own(uow: UnitOfWork) -> Tenant | None:
                return await uow.tenants.get()

            found = await self._g.read(
                inv, Action.TENANT_READ, Target("tenant", str(tenant), tenant), own
            )
        else:
            decision = await self._g.authorize(
                inv, Action.PLATFORM_TENANT_READ, Target("tenant", str(tenant), PLATFORM_TENANT)
            )
            require_platform_header(inv)

            async def other(uow: UnitOfWork) -> Tenant | None:
                return await uow.platform_tenants.get(tenant)

            found = await self._g.read(
                inv,
                Action.PLATFORM_TENANT_READ,
                Target("tenant", str(tenant), PLATFORM_TENANT),
                other,
                platform=True,
                decision=decision,
            )
        if found is None:
            raise NotFound(f"{tenant} not found")
        return found

    async def list_tenants(
        self, inv: Invocation, page_size: int, page_token: str, state: TenantState | None
    ) -> Page[Tenant]:
        """List every tenant (platform operators)."""
        target = Target("tenant", "*", PLATFORM_TENANT)
        decision = await self._g.authorize(inv, Action.PLATFORM_TENANT_LIST, target)
        require_platform_header(inv)
        page = PageRequest.parse(inv.tenant, page_size, page_token, "tenants", state)

        return await self._g.page(
            inv,
            Action.PLATFORM_TENANT_LIST,
            target,
            request=page,
            key="tenant_id",
            fetch=lambda uow, after, limit: uow.tenants.platform_list(
                after=after, state=state, limit=limit
            ),
            platform=True,
            decision=decision,
        )

    async def set_tenant_state(
        self, inv: Invocation, tenant_id: str, state: TenantState, reason: str, etag: str
    ) -> Tenant:
        """Activate, suspend or archive a tenant (platform operators)."""
        tenant = parse_tenant_id(tenant_id)
        target = Target("tenant", str(tenant), PLATFORM_TENANT)
        decision = await self._g.authorize(inv, Action.PLATFORM_TENANT_SET_STATE, target)
        require_platform_header(inv)
        if tenant.is_platform:
            raise FailedPrecondition("the platform plane cannot change state")

        async def execute(uow: UnitOfWork, allowed: Decision) -> Tenant:
            current = await uow.platform_tenants.get(tenant)
            if current is None:
                raise NotFound(f"{tenant} not found")
            check_etag(etag, current.etag)
            if current.state is TenantState.ARCHIVED:
                raise FailedPrecondition(f"{tenant} is archived")
            changed = await uow.platform_tenants.set_state(tenant, state, current.version)
            if changed is None:
                raise Aborted("the tenant changed concurrently", reason=ErrorReason.ETAG_MISMATCH)
            await uow.record(
                Change(
                    Action.PLATFORM_TENANT_SET_STATE,
                    "tenant.state_changed",
                    {
                        "tenant_id": str(tenant),
                        "state": state.value,
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
            Action.PLATFORM_TENANT_SET_STATE,
            target,
            command=(str(tenant), state.value, reason, etag),
            result_type=Tenant,
            execute=execute,
            platform=True,
            decision=decision,
        )

    # ---- applications -----------------------------------------------------

    async def bind_application(self, inv: Invocation, application_id: str) -> ApplicationBinding:
        """Bind a catalog application to the request's tenant (platform operators)."""
        app = parse_application_ref(application_id)
        target = Target("application_binding", app, inv.tenant)

        async def execute(uow: UnitOfWork, allowed: Decision) -> ApplicationBinding:
            if await uow.applications.catalog_entry(app) is None:
                raise NotFound(f"{app} is not in the application catalog")
            binding = await uow.applications.bind(app)
            await uow.record(
                Change(
                    Action.PLATFORM_APPLICATION_BIND,
                    "application.bound",
                    {"application_id": app, "tenant_id": str(inv.tenant)},
                    allowed,
                )
            )
            return binding

        return await self._g.mutate(
            inv,
            Action.PLATFORM_APPLICATION_BIND,
            target,
            command=app,
            result_type=ApplicationBinding,
            execute=execute,
        )

    async def list_applications(
        self, inv: Invocation, page_size: int, page_token: str
    ) -> Page[ApplicationBinding]:
        """List the tenant's bindings, or the catalog for tenant:platform."""
        catalog = inv.tenant.is_platform
        action = Action.PLATFORM_APPLICATION_CATALOG if catalog else Action.TENANT_APPLICATION_LIST
        resource_type = "application" if catalog else "application_binding"
        page = PageRequest.parse(inv.tenant, page_size, page_token, "applications")

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

    # ---- accounts ---------------------------------------------------------

    async def upsert_tenant_user(
        self,
        inv: Invocation,
        user_id: str,
        display_name: str,
        initial_state: AccountState | None,
        etag: str,
    ) -> UpsertResult:
        """Create the account of a user in the tenant, or update its display name."""
        user = parse_user_ref(user_id)
        target = Target("tenant_user", user, inv.tenant, target_user=user)

        async def execute(uow: UnitOfWork, allowed: Decision) -> UpsertResult:
            existing = await uow.accounts.get(user)
            if existing is None:
                state = initial_state or AccountState.INVITED
                account = await uow.accounts.insert(user, display_name, state)
                await uow.record(
                    Change(
                        Action.TENANT_USER_UPSERT,
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
            check_etag(etag, existing.etag)
            account = await uow.accounts.update(user, display_name=display_name)
            await uow.record(
                Change(
                    Action.TENANT_USER_UPSERT,
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
            Action.TENANT_USER_UPSERT,
            target,
            command=(user, display_name, initial_state and initial_state.value, etag),
            result_type=UpsertResult,
            execute=execute,
        )

    async def get_tenant_user(self, inv: Invocation, user_id: str) -> TenantAccount:
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

    async def list_tenant_users(
        self, inv: Invocation, page_size: int, page_token: str, state: AccountState | None
    ) -> Page[TenantAccount]:
        """List the tenant's accounts."""
        page = PageRequest.parse(inv.tenant, page_size, page_token, "accounts", state)

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

    async def set_account_state(
        self, inv: Invocation, user_id: str, state: AccountState, reason: str, etag: str
    ) -> TenantAccount:
        """Move an account between states; deprovisioned is terminal."""
        user = parse_user_ref(user_id)
        target = Target("tenant_user", user, inv.tenant, target_user=user)

        async def execute(uow: UnitOfWork, allowed: Decision) -> TenantAccount:
            current = await uow.accounts.get(user)
            if current is None:
                raise NotFound(f"{user} has no account in {inv.tenant}")
            check_etag(etag, current.etag)
            if current.state is state:
                return current
            if current.state is AccountState.DEPROVISIONED:
                raise FailedPrecondition(f"{user} is deprovisioned in {inv.tenant}")
            changed = await uow.accounts.update(user, state=state)
            await uow.record(
                Change(
                    Action.TENANT_ACCOUNT_SET_STATE,
                    "tenant_user.state_changed",
                    {
                        "user_id": user,
                        "state": state.value,
                        "previous_state": current.state.value,
                        "reason": reason,
                    },
                    allowed,
                )
            )
            return changed

        return await self._g.mutate(
            inv,
            Action.TENANT_ACCOUNT_SET_STATE,
            target,
            command=(user, state.value, reason, etag),
            result_type=TenantAccount,
            execute=execute,
        )

    # ---- profiles ---------------------------------------------------------

    async def set_profile_values(
        self,
        inv: Invocation,
        *,
        user_id: str,
        layer: ProfileLayer,
        values: Sequence[ProfileWrite],
        remove_keys: Sequence[str],
        etag: str,
    ) -> ProfileUpdate:
        """Write values of one user in the GLOBAL (platform) or TENANT layer."""
        user = parse_user_ref(user_id)
        violations = [
            FieldViolation(f"values[{i}].key", "must match [a-z][a-z0-9_.-]{0,63}")
            for i, v in enumerate(values)
            if not _KEY.fullmatch(v.key)
        ]
        violations += [
            FieldViolation(f"values[{i}].value", f"at most {_MAX_VALUE} characters")
            for i, v in enumerate(values)
            if len(v.value) > _MAX_VALUE
        ]
        violations += [
            FieldViolation(f"remove_keys[{i}]", "is not a profile key")
            for i, k in enumerate(remove_keys)
            if not _KEY.fullmatch(k)
        ]
        if layer is ProfileLayer.ACCESS_PROFILE_DEFAULT:
            violations.append(FieldViolation("layer", "must be GLOBAL or TENANT"))
        if layer is ProfileLayer.TENANT and inv.tenant.is_platform:
            violations.append(FieldViolation("layer", "tenant:platform's layer is GLOBAL"))
        if violations:
            raise InvalidArgument("invalid profile values", violations=violations)
        is_global = layer is ProfileLayer.GLOBAL
        home = PLATFORM_TENANT if is_global else inv.tenant
        action = Action.PLATFORM_PROFILE_SET_GLOBAL if is_global else Action.TENANT_PROFILE_SET
        target = Target("profile_values", user, home, target_user=user, layer=layer.value)
        command = _SetProfile(user, layer.value, tuple(values), tuple(remove_keys), etag)

        async def execute(uow: UnitOfWork, allowed: Decision) -> ProfileUpdate:
            if not is_global and await uow.accounts.get(user) is None:
                raise NotFound(f"{user} has no account in {inv.tenant}")
            check_etag(etag, await uow.profiles.version(user))
            await uow.profiles.upsert(user, {v.key: (v.value, v.sensitive) for v in values})
            removed = [k for k in remove_keys if k not in {v.key for v in values}]
            if removed:
                await uow.profiles.remove(user, removed)
            await uow.record(
                Change(
                    action,
                    "profile_values.set",
                    {
                        "user_id": user,
                        "layer": layer.value,
                        "profile_values": {v.key: v.value for v in values},
                        "removed_keys": removed,
                    },
                    allowed,
                    sensitive_values=frozenset(v.value for v in values if v.sensitive),
                    target_tenant=inv.tenant,
                )
            )
            return ProfileUpdate(
                tuple(await uow.profiles.values(user)), await uow.profiles.version(user)
            )

        return await self._g.mutate(
            inv,
            action,
            target,
            command=command,
            result_type=ProfileUpdate,
            execute=execute,
            tenant=home,
        )

    async def get_resolved_profile(
        self, inv: Invocation, user_id: str, access_profile_id: str
    ) -> ResolvedProfile:
        """Resolve defaults < GLOBAL < TENANT; sensitive values only for the user themself."""
        user = parse_user_ref(user_id)
        profile_ref = (
            parse_profile_ref(access_profile_id, field="access_profile_id")
            if access_profile_id
            else ""
        )
        target = Target("profile_values", user, inv.tenant, target_user=user, layer="resolved")
        decision = await self._g.authorize(inv, Action.TENANT_PROFILE_READ, target)

        async def tenant_layer(uow: UnitOfWork) -> tuple[bool, list[ProfileValue]]:
            return (await uow.accounts.get(user) is not None, await uow.profiles.values(user))

        has_account, tenant_values = await self._g.read(
            inv, Action.TENANT_PROFILE_READ, target, tenant_layer, decision=decision
        )
        if not has_account:
            raise NotFound(f"{user} has no account in {inv.tenant}")

        async def global_layer(uow: UnitOfWork) -> list[ProfileValue]:
            return await uow.profiles.values(user)

        global_values = (
            tenant_values
            if inv.tenant.is_platform
            else await self._g.read(
                inv,
                Action.TENANT_PROFILE_READ,
                target,
                global_layer,
                tenant=PLATFORM_TENANT,
                decision=decision,
            )
        )
        if inv.tenant.is_platform:
            tenant_values = []
        defaults: dict[str, str] = {}
        if profile_ref:
            home = (
                PLATFORM_TENANT
                if profile_ref.startswith("profile:platform/")
                else TenantId(profile_ref.split(":", 1)[1].split("/", 1)[0])
            )
            if home not in (inv.tenant, PLATFORM_TENANT):
                raise NotFound(f"{profile_ref} not found")

            async def load(uow: UnitOfWork) -> dict[str, str] | None:
                found = await uow.access_profiles.get(profile_ref)
                return found.profile_defaults if found else None

            loaded = await self._g.read(
                inv, Action.TENANT_PROFILE_READ, target, load, tenant=home, decision=decision
            )
            if loaded is None:
                raise NotFound(f"{profile_ref} not found")
            defaults = loaded
        resolved = resolve_profile(defaults, global_values, tenant_values)
        if inv.actor.subject != user:
            resolved = [
                ResolvedValue(r.key, REDACTED, r.source_layer, True) if r.sensitive else r
                for r in resolved
            ]
        return ResolvedProfile(tuple(resolved))

    # ---- audit ------------------------------------------------------------

    async def list_audit_records(
        self, inv: Invocation, page_size: int, page_token: str, action: str, after_seq: int
    ) -> Page[AuditRecord]:
        """List the tenant's audit records, oldest first (already redacted at write)."""
        if after_seq < 0:
            raise InvalidArgument.for_field("after_seq", "must not be negative")
        page = PageRequest.parse(inv.tenant, page_size, page_token, "audit", action, after_seq)
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

    async def verify_audit_chain(self, inv: Invocation) -> ChainVerification:
        """Recompute the tenant's audit hash chain."""

        async def read(uow: UnitOfWork) -> ChainVerification:
            tenant = await uow.tenants.get()
            if tenant is None:
                raise NotFound(f"{inv.tenant} not found")
            return verify_chain(await uow.audit.all(), expected_last_seq=tenant.last_seq)

        return await self._g.read(
            inv,
            Action.TENANT_AUDIT_VERIFY,
            Target("audit_trail", str(inv.tenant), inv.tenant),
            read,
        )
