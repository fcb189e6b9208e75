"""The grpc.aio server: our four services, health per service and server reflection."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection
from identitycontext.v1 import (
    active_context_pb2,
    active_context_pb2_grpc,
    fact_export_pb2,
    fact_export_pb2_grpc,
    membership_pb2,
    membership_pb2_grpc,
    tenant_admin_pb2,
    tenant_admin_pb2_grpc,
)

from identity_context.api.interceptors import (
    AuthenticationInterceptor,
    CorrelationInterceptor,
    ErrorMappingInterceptor,
    TenantContextInterceptor,
)
from identity_context.api.servicers import (
    ActiveContextServicer,
    FactExportServicer,
    MembershipServicer,
    TenantAdminServicer,
)
from identity_context.application.access_profiles import AccessProfiles
from identity_context.application.memberships import MembershipAdministration
from identity_context.application.ports import TokenVerifier
from identity_context.application.tenant_admin import TenantAdministration

__all__ = ["SERVICE_NAMES", "ServerLimits", "UseCases", "build_server", "set_serving"]

SERVICE_NAMES: tuple[str, ...] = (
    tenant_admin_pb2.DESCRIPTOR.services_by_name["TenantAdminService"].full_name,
    membership_pb2.DESCRIPTOR.services_by_name["MembershipService"].full_name,
    active_context_pb2.DESCRIPTOR.services_by_name["ActiveContextService"].full_name,
    fact_export_pb2.DESCRIPTOR.services_by_name["FactExportService"].full_name,
)
_HEALTH_NAMES = ("", *SERVICE_NAMES)


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """Transport limits; exceeding one answers RESOURCE_EXHAUSTED."""

    max_message_bytes: int = 4 * 1024 * 1024
    max_metadata_bytes: int = 16 * 1024
    max_concurrent_rpcs: int = 1000


@dataclass(frozen=True, slots=True)
class UseCases:
    """The application services the servicers call."""

    tenants: TenantAdministration
    memberships: MembershipAdministration
    access_profiles: AccessProfiles


def build_server(
    *,
    verifier: TokenVerifier,
    use_cases: UseCases,
    health: HealthServicer,
    limits: ServerLimits,
    outer_interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> grpc.aio.Server:
    """Assemble the server (not yet bound or started).

    Interceptors, outermost first: *outer_interceptors* (telemetry), correlation,
    authentication, tenant context, error mapping.
    """
    server = grpc.aio.server(
        interceptors=[
            *outer_interceptors,
            CorrelationInterceptor(),
            AuthenticationInterceptor(verifier),
            TenantContextInterceptor(),
            ErrorMappingInterceptor(),
        ],
        options=[
            ("grpc.max_receive_message_length", limits.max_message_bytes),
            ("grpc.max_send_message_length", limits.max_message_bytes),
            ("grpc.max_metadata_size", limits.max_metadata_bytes),
            ("grpc.so_reuseport", 0),
        ],
        maximum_concurrent_rpcs=limits.max_concurrent_rpcs,
    )
    tenant_admin_pb2_grpc.add_TenantAdminServiceServicer_to_server(
        TenantAdminServicer(use_cases.tenants), server
    )
    membership_pb2_grpc.add_MembershipServiceServicer_to_server(
        MembershipServicer(use_cases.memberships), server
    )
    active_context_pb2_grpc.add_ActiveContextServiceServicer_to_server(
        ActiveContextServicer(use_cases.access_profiles), server
    )
    fact_export_pb2_grpc.add_FactExportServiceServicer_to_server(FactExportServicer(), server)
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection.enable_server_reflection(
        (
            *SERVICE_NAMES,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    return server


async def set_serving(health: HealthServicer, serving: bool) -> None:
    """Set every service's health status (and the server's, named "")."""
    status = (
        health_pb2.HealthCheckResponse.SERVING
        if serving
        else health_pb2.HealthCheckResponse.NOT_SERVING
    )
    for name in _HEALTH_NAMES:
        await health.set(name, status)
