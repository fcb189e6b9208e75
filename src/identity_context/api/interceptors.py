"""The request interceptor: one pass per RPC for correlation, limits, span, token, tenant,
error mapping and the access log.

It wraps the behaviour of the RPC handler, so what it puts in the contextvar
is visible in the handler's own task. It applies to the ``identitycontext.v1``
services only: health and reflection need neither a token nor a tenant, and
never count against the concurrency limit.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeAlias

import grpc
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from identity_context.api.errors import abort_with, code_of, to_domain_error
from identity_context.api.log_format import AccessLog
from identity_context.api.request_context import CallState, call_var
from identity_context.application.ports import TokenVerifier
from identity_context.domain.errors import (
    ErrorReason,
    FieldViolation,
    InvalidArgument,
    ResourceExhausted,
    Unauthenticated,
)
from identity_context.domain.identifiers import parse_tenant_id

__all__ = [
    "BREAK_GLASS_HEADER",
    "CORRELATION_HEADER",
    "SERVICE_PREFIX",
    "TENANT_HEADER",
    "RequestInterceptor",
]

_log = logging.getLogger(__name__)

SERVICE_PREFIX = "/identitycontext.v1."
CORRELATION_HEADER = "x-correlation-id"
TENANT_HEADER = "x-tenant-id"
BREAK_GLASS_HEADER = "x-break-glass-reason"
_CORRELATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_MAX_BREAK_GLASS_REASON = 512
_TRACE_HEADERS = frozenset({"traceparent", "tracestate", "baggage"})
# Codes a server span marks as an error (OpenTelemetry gRPC conventions).
_SPAN_ERRORS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)

Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
Behavior: TypeAlias = Callable[..., Any]
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"


class _Call:
    """One RPC on its way through the interceptor."""

    __slots__ = ("code", "reason", "span", "started", "state", "token")

    def __init__(self, state: CallState) -> None:
        self.state = state
        self.started = time.perf_counter()
        self.code = grpc.StatusCode.OK
        self.reason = ""
        self.span: trace.Span | None = None
        self.token: object = None


class RequestInterceptor(grpc.aio.ServerInterceptor):
    """Everything an RPC of our services needs before and after its handler, in one pass.

    *tracer* makes a server span per RPC; with None (nothing is exported) no
    span is made, and an incoming ``traceparent`` is still adopted so the logs
    carry the caller's trace id.
    """

    def __init__(
        self,
        verifier: TokenVerifier,
        *,
        tracer: trace.Tracer | None = None,
        max_concurrent_rpcs: int = 1000,
        access_log: AccessLog | None = None,
    ) -> None:
        self._verifier = verifier
        self._tracer = tracer
        self._max_concurrent = max_concurrent_rpcs
        self._access_log = access_log
        self.in_flight = 0
        self.last_started = 0.0

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

    # ---- the pass --------------------------------------------------------

    def _begin(self, method: str, context: Context) -> tuple[_Call, tuple[Any, Any, Any]]:
        """Read the metadata once, set the correlation id, the contextvar and the span."""
        metadata: Sequence[tuple[str, Any]] = tuple(context.invocation_metadata() or ())
        given_correlation = authorization = tenant_value = break_glass = None
        carrier: dict[str, str] | None = None
        for key, value in metadata:
            if key == CORRELATION_HEADER:
                given_correlation = value
            elif key == "authorization":
                authorization = value
            elif key == TENANT_HEADER:
                tenant_value = value
            elif key == BREAK_GLASS_HEADER:
                break_glass = value
            elif key in _TRACE_HEADERS and isinstance(value, str):
                carrier = carrier or {}
                carrier[key] = value
        correlation_id = (
            given_correlation
            if isinstance(given_correlation, str) and _CORRELATION_ID.fullmatch(given_correlation)
            else uuid.uuid4().hex
        )
        context.set_trailing_metadata(((CORRELATION_HEADER, correlation_id),))
        call = _Call(CallState(method, correlation_id))
        parent = propagate.extract(carrier) if carrier else None
        if self._tracer is not None:
            call.span = self._tracer.start_span(method, context=parent, kind=trace.SpanKind.SERVER)
            call.token = otel_context.attach(trace.set_span_in_context(call.span, parent))
        elif parent is not None:
            call.token = otel_context.attach(parent)
        call_var.set(call.state)
        return call, (authorization, tenant_value, break_glass)

    async def _admit(self, call: _Call, headers: tuple[Any, Any, Any]) -> None:
        """Check the token, the tenant and the break-glass header; raise when one fails."""
        authorization, tenant_value, break_glass = headers
        state = call.state
        state.actor = await self._authenticate(authorization)
        state.tenant = _tenant(tenant_value)
        state.break_glass_reason = _break_glass_reason(break_glass)

    def _count(self) -> None:
        if self.in_flight >= self._max_concurrent:
            raise ResourceExhausted(
                f"more than {self._max_concurrent} RPCs in flight; retry with backoff"
            )
        self.in_flight += 1
        self.last_started = time.monotonic()

    async def _authenticate(self, header: object) -> Any:
        if not header or not isinstance(header, str):
            raise Unauthenticated(
                "authorization: Bearer <token> is required", reason=ErrorReason.TOKEN_MISSING
            )
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("authorization must use the Bearer scheme")
        return await self._verifier.verify(token.strip())

    async def _fail(self, call: _Call, context: Context, exc: BaseException) -> None:
        """End the RPC with the rich status of *exc* (which never leaks internals)."""
        error = to_domain_error(exc, call.state.method)
        call.code, call.reason = code_of(error), error.reason.value
        await abort_with(context, error, correlation_id=call.state.correlation_id)

    def _exit(self, call: _Call) -> None:
        state = call.state
        elapsed_ms = (time.perf_counter() - call.started) * 1000
        span = call.span
        if span is not None:
            if span.is_recording():
                attributes: dict[str, Any] = {
                    "rpc.system": "grpc",
                    "rpc.grpc.status_code": call.code.value[0],
                    "identitycontext.correlation_id": state.correlation_id,
                }
                if state.tenant is not None:
                    attributes["tenant.id"] = str(state.tenant)
                if state.actor is not None:
                    attributes["identitycontext.actor_tenant"] = str(state.actor.tenant)
                if call.reason:
                    attributes["identitycontext.error_reason"] = call.reason
                span.set_attributes(attributes)
                if call.code in _SPAN_ERRORS:
                    span.set_status(trace.Status(trace.StatusCode.ERROR, call.code.name))
            span.end()
        if self._access_log is not None:
            self._access_log.write(state, call.code.name, call.reason, elapsed_ms)
        if call.token is not None:
            otel_context.detach(call.token)  # type: ignore[arg-type]

    def _unary(self, method: str) -> Callable[[Behavior], Behavior]:
        def wrap(behavior: Behavior) -> Behavior:
            async def run(request: Any, context: Context) -> Any:
                call, headers = self._begin(method, context)
                counted = False
                try:
                    self._count()
                    counted = True
                    await self._admit(call, headers)
                    return await behavior(request, context)
                except grpc.aio.AbortError:
                    raise
                except asyncio.CancelledError:
                    call.code = grpc.StatusCode.CANCELLED
                    raise
                except Exception as exc:
                    await self._fail(call, context, exc)
                finally:
                    if counted:
                        self.in_flight -= 1
                    self._exit(call)

            return run

        return wrap

    def _stream(self, method: str) -> Callable[[Behavior], Behavior]:
        def wrap(behavior: Behavior) -> Behavior:
            async def run(request: Any, context: Context) -> AsyncIterator[Any]:
                call, headers = self._begin(method, context)
                counted = False
                try:
                    self._count()
                    counted = True
                    await self._admit(call, headers)
                    async for response in behavior(request, context):
                        yield response
                except (grpc.aio.AbortError, GeneratorExit):
                    raise
                except asyncio.CancelledError:
                    call.code = grpc.StatusCode.CANCELLED
                    raise
                except Exception as exc:
                    await self._fail(call, context, exc)
                finally:
                    if counted:
                        self.in_flight -= 1
                    self._exit(call)

            return run

        return wrap


def _tenant(value: object) -> Any:
    if not value or not isinstance(value, str):
        raise InvalidArgument(
            f"{TENANT_HEADER} metadata is required",
            violations=(FieldViolation(TENANT_HEADER, "required on tenant-scoped RPCs"),),
            reason=ErrorReason.TENANT_CONTEXT_MISSING,
        )
    try:
        return parse_tenant_id(value, field=TENANT_HEADER)
    except InvalidArgument as error:
        raise InvalidArgument(
            error.message, violations=error.violations, reason=ErrorReason.TENANT_CONTEXT_INVALID
        ) from error


def _break_glass_reason(value: object) -> str:
    if value is None:
        return ""
    reason = value.strip() if isinstance(value, str) else ""
    if (
        not isinstance(value, str)
        or len(reason) > _MAX_BREAK_GLASS_REASON
        or not reason.isprintable()
    ):
        raise InvalidArgument.for_field(
            BREAK_GLASS_HEADER, f"printable, at most {_MAX_BREAK_GLASS_REASON} characters"
        )
    return reason


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
