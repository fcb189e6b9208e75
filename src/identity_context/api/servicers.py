"""gRPC servicers: map the request in, await the use case, map the result out.

An RPC not overridden here falls through to the generated base class, whose
NotImplementedError the error-mapping interceptor answers as UNIMPLEMENTED.
"""

from __future__ import annotations

from identitycontext.v1 import (
    active_context_pb2_grpc,
    fact_export_pb2_grpc,
    membership_pb2_grpc,
    tenant_admin_pb2_grpc,
)

__all__ = [
    "ActiveContextServicer",
    "FactExportServicer",
    "MembershipServicer",
    "TenantAdminServicer",
]


class TenantAdminServicer(tenant_admin_pb2_grpc.TenantAdminServiceServicer):
    """identitycontext.v1.TenantAdminService."""


class MembershipServicer(membership_pb2_grpc.MembershipServiceServicer):
    """identitycontext.v1.MembershipService."""


class ActiveContextServicer(active_context_pb2_grpc.ActiveContextServiceServicer):
    """identitycontext.v1.ActiveContextService."""


class FactExportServicer(fact_export_pb2_grpc.FactExportServiceServicer):
    """identitycontext.v1.FactExportService."""
