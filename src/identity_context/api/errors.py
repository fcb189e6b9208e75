"""One table from errors to gRPC codes, and the rich google.rpc.Status built from them."""

from __future__ import annotations

import logging
from typing import NoReturn

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from identity_context.domain import errors as domain

__all__ = [
    "ERROR_DOMAIN",
    "STATUS_CODES",
    "abort_with",
    "code_of",
    "status_for",
    "to_domain_error",
]

_log = logging.getLogger(__name__)

ERROR_DOMAIN = "identitycontext"

STATUS_CODES: dict[type[domain.IdentityContextError], grpc.StatusCode] = {
    domain.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    domain.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    domain.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    domain.NotFound: grpc.StatusCode.NOT_FOUND,
    domain.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    domain.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    domain.Aborted: grpc.StatusCode.ABORTED,
    domain.Unavailable: grpc.StatusCode.UNAVAILABLE,
    domain.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    domain.DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
    domain.IdentityContextError: grpc.StatusCode.INTERNAL,
}


class _Unimplemented(domain.IdentityContextError):
    default_reason = domain.ErrorReason.NOT_IMPLEMENTED


_CODES = {**STATUS_CODES, _Unimplemented: grpc.StatusCode.UNIMPLEMENTED}


def code_of(error: domain.IdentityContextError) -> grpc.StatusCode:
    """Return the gRPC status code of *error* (the most specific class in the table)."""
    for cls in type(error).__mro__:
        if cls in _CODES:
            return _CODES[cls]
    return grpc.StatusCode.INTERNAL


def to_domain_error(exc: BaseException, method: str) -> domain.IdentityContextError:
    """Return the domain error to report for *exc* raised while serving *method*.

    Unexpected exceptions are logged with their traceback here and become an
    INTERNAL error whose message reveals nothing of them.
    """
    if isinstance(exc, domain.IdentityContextError):
        return exc
    if isinstance(exc, NotImplementedError):
        return _Unimplemented(f"{method} is not implemented by this server yet")
    _log.error("unexpected error in %s", method, exc_info=exc)
    return domain.IdentityContextError("internal error", reason=domain.ErrorReason.INTERNAL)


def status_for(error: domain.IdentityContextError, *, correlation_id: str = "") -> grpc.Status:
    """Build the grpc.Status (with ErrorInfo and BadRequest details) for *error*."""
    code = code_of(error)
    metadata = dict(error.metadata)
    if correlation_id:
        metadata["correlation_id"] = correlation_id
    info = error_details_pb2.ErrorInfo(
        reason=error.reason.value, domain=ERROR_DOMAIN, metadata=metadata
    )
    details = [any_pb2.Any()]
    details[0].Pack(info)
    if isinstance(error, domain.InvalidArgument) and error.violations:
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description
                )
                for v in error.violations
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(bad_request)
        details.append(packed)
    status = status_pb2.Status(
        code=getattr(code_pb2, code.name), message=error.message, details=details
    )
    converted: grpc.Status = rpc_status.to_status(status)
    return converted


async def abort_with(
    context: grpc.aio.ServicerContext[object, object],
    error: domain.IdentityContextError,
    *,
    correlation_id: str = "",
) -> NoReturn:
    """End the RPC with the rich status of *error*; the correlation id goes in the trailers."""
    status = status_for(error, correlation_id=correlation_id)
    trailers = tuple(status.trailing_metadata)
    if correlation_id:
        trailers += (("x-correlation-id", correlation_id),)
    await context.abort(status.code, status.details, trailers)
    raise AssertionError("context.abort returned")  # pragma: no cover
