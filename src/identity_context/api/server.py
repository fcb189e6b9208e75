"""The grpc.aio server: our four services, health per service and server reflection."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc
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
from opentelemetry import trace

from identity_context.api.interceptors import RequestInterceptor
from identity_context.api.log_format import AccessLog
from identity_context.api.reflection import DocumentedReflection, load_files
from identity_context.api.servicers import (
    ActiveContextServicer,
    FactExportServicer,
    MembershipServicer,
    TenantAdminServicer,
)
from identity_context.application.access_profiles import AccessProfiles
from identity_context.application.accounts import Accounts
from identity_context.application.applications import Applications
from identity_context.application.audit_trail import AuditTrail
from identity_context.application.diagnostics import Diagnostics
from identity_context.application.facts import FactStream
from identity_context.application.hats import Hats
from identity_context.application.identity_contexts import IdentityContexts
from identity_context.application.memberships import MembershipAdministration
from identity_context.application.ports import TokenVerifier
from identity_context.application.profiles import Profiles
from identity_context.application.tenants import Tenants

__all__ = ["SERVICE_NAMES", "ServerLimits", "UseCases", "build_server", "set_serving"]

SERVICE_NAMES: tuple[str, ...] = (
    tenant_admin_pb2.DESCRIPTOR.services_by_name["TenantAdminService"].full_name,
    membership_pb2.DESCRIPTOR.services_by_name["MembershipService"].full_name,
    active_context_pb2.DESCRIPTOR.services_by_name["ActiveContextService"].full_name,
    fact_export_pb2.DESCRIPTOR.services_by_name["FactExportService"].full_name,
)
_HEALTH_NAMES = ("", *SERVICE_NAMES)
_RESPONSE_HEADROOM = 1024


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """Transport limits; exceeding one answers RESOURCE_EXHAUSTED."""

    max_message_bytes: int = 4 * 1024 * 1024
    max_metadata_bytes: int = 16 * 1024
    max_concurrent_rpcs: int = 1000


@dataclass(frozen=True, slots=True)
class UseCases:
    """The application services the servicers call."""

    tenants: Tenants
    applications: Applications
    accounts: Accounts
    profiles: Profiles
    audit: AuditTrail
    diagnostics: Diagnostics
    memberships: MembershipAdministration
    access_profiles: AccessProfiles
    hats: Hats
    identity_contexts: IdentityContexts
    facts: FactStream | None = None


class _Handlers:
    """Catches the method handlers a generated ``add_*_to_server`` registers."""

    def __init__(self) -> None:
        self.name = ""
        self.handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    def add_generic_rpc_handlers(self, _: object) -> None:
        pass

    def add_registered_method_handlers(
        self, name: str, handlers: dict[str, grpc.RpcMethodHandler[Any, Any]]
    ) -> None:
        self.name, self.handlers = name, dict(handlers)


def _deterministic(message: Any) -> bytes:
    data: bytes = message.SerializeToString(deterministic=True)
    return data


def _passthrough(message: Any) -> bytes:
    """Serialize a response the servicer may already have serialized."""
    return message if isinstance(message, bytes) else bytes(message.SerializeToString())


def _add_deterministic(
    add: Callable[[Any, Any], None],
    servicer: object,
    server: grpc.aio.Server,
    *,
    methods: tuple[str, ...] = (),
    passthrough: tuple[str, ...] = (),
) -> None:
    """Register a service whose *methods* answer with deterministic serialization (map
    entries, e.g. a Struct's keys, sorted): the same answer is the same bytes; and whose
    *passthrough* methods may answer with bytes already serialized."""
    caught = _Handlers()
    add(servicer, caught)
    handlers = caught.handlers
    for method in methods:
        handlers[method] = handlers[method]._replace(  # type: ignore[attr-defined]
            response_serializer=_deterministic
        )
    for method in passthrough:
        handlers[method] = handlers[method]._replace(  # type: ignore[attr-defined]
            response_serializer=_passthrough
        )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(caught.name, handlers),))
    server.add_registered_method_handlers(caught.name, handlers)


def build_server(
    *,
    verifier: TokenVerifier,
    use_cases: UseCases,
    health: HealthServicer,
    limits: ServerLimits,
    tracer: trace.Tracer | None = None,
    access_log: AccessLog | None = None,
) -> tuple[grpc.aio.Server, RequestInterceptor]:
    """Assemble the server (not yet bound or started) and its request interceptor.

    The interceptor is the one pass every RPC of our services makes; health
    and reflection bypass it and never count against the concurrency limit.
    """
    interceptor = RequestInterceptor(
        verifier,
        tracer=tracer,
        max_concurrent_rpcs=limits.max_concurrent_rpcs,
        access_log=access_log,
    )
    server = grpc.aio.server(
        interceptors=[interceptor],
        options=[
            ("grpc.max_receive_message_length", limits.max_message_bytes),
            ("grpc.max_send_message_length", limits.max_message_bytes),
            ("grpc.max_metadata_size", limits.max_metadata_bytes),
            ("grpc.so_reuseport", 0),
        ],
    )
    # A page leaves room for the response's metadata and trailers.
    page_bytes = limits.max_message_bytes - _RESPONSE_HEADROOM
    tenant_admin_pb2_grpc.add_TenantAdminServiceServicer_to_server(
        TenantAdminServicer(
            tenants=use_cases.tenants,
            applications=use_cases.applications,
            accounts=use_cases.accounts,
            profiles=use_cases.profiles,
            audit=use_cases.audit,
            diagnostics=use_cases.diagnostics,
            page_bytes=page_bytes,
        ),
        server,
    )
    membership_pb2_grpc.add_MembershipServiceServicer_to_server(
        MembershipServicer(use_cases.memberships, page_bytes=page_bytes), server
    )
    _add_deterministic(
        active_context_pb2_grpc.add_ActiveContextServiceServicer_to_server,
        ActiveContextServicer(
            use_cases.access_profiles,
            use_cases.hats,
            use_cases.identity_contexts,
            page_bytes=page_bytes,
        ),
        server,
        methods=("ProjectClaims",),
    )
    _add_deterministic(
        fact_export_pb2_grpc.add_FactExportServiceServicer_to_server,
        FactExportServicer(use_cases.facts),
        server,
        passthrough=("ExportFacts",),
    )
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(
        DocumentedReflection(
            (
                *SERVICE_NAMES,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ),
            load_files(),
        ),
        server,
    )
    return server, interceptor


async def set_serving(health: HealthServicer, serving: bool) -> None:
    """Set every service's health status (and the server's, named "")."""
    status = (
        health_pb2.HealthCheckResponse.SERVING
        if serving
        else health_pb2.HealthCheckResponse.NOT_SERVING
    )
    for name in _HEALTH_NAMES:
        await health.set(name, status)
