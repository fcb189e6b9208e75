"""A seeded platform for end-to-end tests through the gRPC API: operator, tenants, admins."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import grpc
from identitycontext.v1 import (
    active_context_pb2_grpc,
    common_pb2,
    membership_pb2,
    membership_pb2_grpc,
    tenant_admin_pb2,
    tenant_admin_pb2_grpc,
)
from support import rich_status

from identity_context.adapters.auth.local_issuer import LocalIssuer
from identity_context.bootstrap import bootstrap_platform
from identity_context.config import Settings

SERVICES = {
    "TenantAdminService": tenant_admin_pb2_grpc.TenantAdminServiceStub,
    "MembershipService": membership_pb2_grpc.MembershipServiceStub,
    "ActiveContextService": active_context_pb2_grpc.ActiveContextServiceStub,
}


@dataclass
class Caller:
    """One actor calling the API with its own token."""

    channel: grpc.aio.Channel
    token: str
    tenant: str
    last_correlation_id: str = ""

    async def call(
        self,
        service: str,
        method: str,
        request: Any,
        *,
        tenant: str | None = None,
        break_glass: str | None = None,
        correlation_id: str | None = None,
    ) -> Any:
        self.last_correlation_id = correlation_id or f"t-{secrets.token_hex(6)}"
        metadata = [
            ("authorization", f"Bearer {self.token}"),
            ("x-tenant-id", tenant or self.tenant),
            ("x-correlation-id", self.last_correlation_id),
        ]
        if break_glass is not None:
            metadata.append(("x-break-glass-reason", break_glass))
        stub = SERVICES[service](self.channel)
        return await getattr(stub, method)(request, metadata=metadata, timeout=15)

    async def fails(
        self, service: str, method: str, request: Any, **options: Any
    ) -> tuple[grpc.StatusCode, str]:
        try:
            await self.call(service, method, request, **options)
        except grpc.aio.AioRpcError as error:
            info, _ = rich_status(error)
            return error.code(), info.reason if info else ""
        raise AssertionError(f"{method} unexpectedly succeeded")


@dataclass
class World:
    """tenant:platform with an operator, and two tenants each with an active admin."""

    settings: Settings
    channel: grpc.aio.Channel
    issuer: LocalIssuer
    operator_id: str
    tenant: str
    other: str
    admin_id: str
    other_admin_id: str
    callers: dict[str, Caller] = field(default_factory=dict)

    def caller(self, subject: str, tenant: str, *, acr: str | None = None) -> Caller:
        key = f"{subject}@{tenant}/{acr}"
        if key not in self.callers:
            self.callers[key] = Caller(
                self.channel, self.issuer.mint(subject, tenant, acr=acr), tenant
            )
        return self.callers[key]

    @property
    def operator(self) -> Caller:
        return self.caller(self.operator_id, "tenant:platform", acr="aal2")

    @property
    def admin(self) -> Caller:
        return self.caller(self.admin_id, self.tenant)

    @property
    def other_admin(self) -> Caller:
        return self.caller(self.other_admin_id, self.other)


async def onboard(operator: Caller, tenant: str, admin_id: str) -> None:
    """Create *tenant*, bind app:mail and make *admin_id* its active tenant admin."""
    await operator.call(
        "TenantAdminService",
        "CreateTenant",
        tenant_admin_pb2.CreateTenantRequest(tenant_id=tenant, display_name=tenant),
    )
    await operator.call(
        "TenantAdminService",
        "BindApplication",
        tenant_admin_pb2.BindApplicationRequest(application_id="app:mail"),
        tenant=tenant,
    )
    await operator.call(
        "TenantAdminService",
        "UpsertTenantUser",
        tenant_admin_pb2.UpsertTenantUserRequest(
            user_id=admin_id, display_name="Admin", initial_state=common_pb2.ACCOUNT_STATE_ACTIVE
        ),
        tenant=tenant,
    )
    await operator.call(
        "MembershipService",
        "GrantMembership",
        membership_pb2.GrantMembershipRequest(
            subject=admin_id, relation="tenant-admin", object=tenant
        ),
        tenant=tenant,
    )


async def build_world(settings: Settings, address: str) -> World:
    suffix = secrets.token_hex(3)
    operator_id = f"user:olivia-{suffix}"
    await bootstrap_platform(settings, operator_id)
    channel = grpc.aio.insecure_channel(address)
    world = World(
        settings,
        channel,
        LocalIssuer(settings.data_dir),
        operator_id,
        tenant=f"tenant:coulomb-{suffix}",
        other=f"tenant:other-{suffix}",
        admin_id=f"user:carol-{suffix}",
        other_admin_id=f"user:dave-{suffix}",
    )
    await onboard(world.operator, world.tenant, world.admin_id)
    await onboard(world.operator, world.other, world.other_admin_id)
    return world
