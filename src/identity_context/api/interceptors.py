"""Server interceptors: correlation, authentication, tenant context and error mapping.

Each one wraps the behaviour of the RPC handler, so what it puts in a
contextvar is visible in the handler's own task. They apply to the
``identitycontext.v1`` services only; health and reflection need neither a
token nor a tenant.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeAlias

import grpc
from opentelemetry import trace

from identity_context.api import request_context
from identity_context.api.errors import abort_with, to_domain_error
from identity_context.application.ports import TokenVerifier
from identity_context.domain.errors import (
    ErrorReason,
    FieldViolation,
    IdentityContextError,
    InvalidArgument,
    Unauthenticated,
)
from identity_context.domain.identifiers import parse_tenant_id

__all__ = [
    "SERVICE_PREFIX",
    "AuthenticationInterceptor",
    "CorrelationInterceptor",
    "ErrorMappingInterceptor",
    "TenantContextInterceptor",
]

_log = logging.getLogger(__name__)

SERVICE_PREFIX = "/identitycontext.v1."
CORRELATION_HEADER = "x-correlation-id"
TENANT_HEADER = "x-tenant-id"
_CORRELATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
Behavior: TypeAlias = Callable[..., Any]
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"


def _metadata(context: Context, key: str) -> str | None:
    for item_key, value in context.invocation_metadata() or ():
        if item_key == key:
            return value if isinstance(value, str) else None
    return None


class _ScopeInterceptor(grpc.aio.ServerInterceptor):
    """Runs every RPC of our services inside ``self.scope(method, context)``.

    An IdentityContextError raised by the scope itself (not by the handler,
    whose errors the innermost interceptor maps) ends the RPC with its status.
    """

    def scope(self, method: str, context: Context) -> AbstractAsyncContextManager[None]:
        raise NotImplementedError

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        method = str(getattr(handler_call_details, "method", ""))
        if handler is None or not method.startswith(SERVICE_PREFIX):
            return handler
        return _rewrap(handler, self._unary(method), self._stream(method))

    def _unary(self, method: str) -> Callable[[Behavior], Behavior]:
        def wrap(behavior: Behavior) -> Behavior:
            async def run(request: Any, context: Context) -> Any:
                try:
                    async with self.scope(method, context):
                        return await behavior(request, context)
                except IdentityContextError as error:
                    await abort_with(
                        context, error, correlation_id=request_context.correlation_id_var.get()
                    )

            return run

        return wrap

    def _stream(self, method: str) -> Callable[[Behavior], Behavior]:
        def wrap(behavior: Behavior) -> Behavior:
            async def run(request: Any, context: Context) -> AsyncIterator[Any]:
                try:
                    async with self.scope(method, context):
                        async for response in behavior(request, context):
                            yield response
                except IdentityContextError as error:
                    await abort_with(
                        context, error, correlation_id=request_context.correlation_id_var.get()
                    )

            return run

        return wrap


def _rewrap(
    handler: Handler,
    unary: Callable[[Behavior], Behavior],
    stream: Callable[[Behavior], Behavior],
) -> Handler:
    if handler.request_streaming and handler.response_streaming:
        factory, behavior = grpc.stream_stream_rpc_method_handler, handler.stream_stream
    elif handler.request_streaming:
        factory, behavior = grpc.stream_unary_rpc_method_handler, handler.stream_unary
    elif handler.response_streaming:
        factory, behavior = grpc.unary_stream_rpc_method_handler, handler.unary_stream
    else:
        factory, behavior = grpc.unary_unary_rpc_method_handler, handler.unary_unary
    assert behavior is not None
    wrapped = stream(behavior) if handler.response_streaming else unary(behavior)
    result: Handler = factory(
        wrapped,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
    return result


class CorrelationInterceptor(_ScopeInterceptor):
    """Takes a well-formed ``x-correlation-id`` or makes one; echoes it in both metadata sets."""

    @asynccontextmanager
    async def scope(self, method: str, context: Context) -> AsyncIterator[None]:
        given = _metadata(context, CORRELATION_HEADER)
        correlation_id = (
            given if given is not None and _CORRELATION_ID.fullmatch(given) else uuid.uuid4().hex
        )
        token = request_context.correlation_id_var.set(correlation_id)
        try:
            trace.get_current_span().set_attribute("identitycontext.correlation_id", correlation_id)
            echo = ((CORRELATION_HEADER, correlation_id),)
            await context.send_initial_metadata(echo)
            context.set_trailing_metadata(echo)
            yield
        finally:
            request_context.correlation_id_var.reset(token)


class AuthenticationInterceptor(_ScopeInterceptor):
    """Verifies ``authorization: Bearer <JWT>``; any failure is UNAUTHENTICATED."""

    def __init__(self, verifier: TokenVerifier) -> None:
        self._verifier = verifier

    @asynccontextmanager
    async def scope(self, method: str, context: Context) -> AsyncIterator[None]:
        header = _metadata(context, "authorization")
        if not header:
            raise Unauthenticated(
                "authorization: Bearer <token> is required", reason=ErrorReason.TOKEN_MISSING
            )
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("authorization must use the Bearer scheme")
        actor = await self._verifier.verify(token.strip())
        reset = request_context.actor_var.set(actor)
        try:
            trace.get_current_span().set_attribute(
                "identitycontext.actor_tenant", str(actor.tenant)
            )
            yield
        finally:
            request_context.actor_var.reset(reset)


class TenantContextInterceptor(_ScopeInterceptor):
    """Requires a valid ``x-tenant-id`` on every RPC of our services."""

    @asynccontextmanager
    async def scope(self, method: str, context: Context) -> AsyncIterator[None]:
        value = _metadata(context, TENANT_HEADER)
        if not value:
            raise InvalidArgument(
                f"{TENANT_HEADER} metadata is required",
                violations=(FieldViolation(TENANT_HEADER, "required on tenant-scoped RPCs"),),
                reason=ErrorReason.TENANT_CONTEXT_MISSING,
            )
        try:
            tenant = parse_tenant_id(value, field=TENANT_HEADER)
        except InvalidArgument as error:
            raise InvalidArgument(
                error.message,
                violations=error.violations,
                reason=ErrorReason.TENANT_CONTEXT_INVALID,
            ) from error
        token = request_context.tenant_var.set(tenant)
        try:
            trace.get_current_span().set_attribute("tenant.id", str(tenant))
            yield
        finally:
            request_context.tenant_var.reset(token)


class ErrorMappingInterceptor(_ScopeInterceptor):
    """Innermost: turns every error of a handler into a rich status; nothing leaks."""

    @asynccontextmanager
    async def scope(self, method: str, context: Context) -> AsyncIterator[None]:
        try:
            yield
        except (grpc.aio.AbortError, asyncio.CancelledError, GeneratorExit):
            raise
        except Exception as exc:
            error = to_domain_error(exc, method)
            trace.get_current_span().set_attribute("identitycontext.error_reason", error.reason)
            raise error from None
