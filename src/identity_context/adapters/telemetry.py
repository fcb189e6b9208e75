"""OpenTelemetry: the tracer provider and the gRPC server span interceptor."""

from __future__ import annotations

import os
from collections.abc import Mapping

import grpc
from opentelemetry.instrumentation.grpc import aio_server_interceptor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from identity_context import __version__

__all__ = ["build_tracer_provider", "server_span_interceptor"]

_OTLP_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def build_tracer_provider(environ: Mapping[str, str] | None = None) -> TracerProvider:
    """Return a tracer provider; it exports over OTLP only when an OTLP endpoint is set.

    Without ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``..._TRACES_ENDPOINT``) spans are
    made, so attributes and trace ids reach logs, but nothing leaves the process.
    """
    env = os.environ if environ is None else environ
    resource = Resource.create(
        {
            "service.name": env.get("OTEL_SERVICE_NAME", "identity-context"),
            "service.version": __version__,
        }
    )
    provider = TracerProvider(resource=resource)
    if any(env.get(name) for name in _OTLP_VARIABLES):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def _traced(details: grpc.HandlerCallDetails) -> bool:
    # Health Watch writes through context.write(), which the instrumentation's
    # stream wrapper cannot iterate; health and reflection are infrastructure.
    method = str(getattr(details, "method", ""))
    return not method.startswith(("/grpc.health.v1.Health/Watch", "/grpc.reflection."))


def server_span_interceptor(provider: TracerProvider) -> grpc.aio.ServerInterceptor:
    """Return the interceptor that opens a server span for every traced RPC."""
    interceptor: grpc.aio.ServerInterceptor = aio_server_interceptor(
        tracer_provider=provider, filter_=_traced
    )
    return interceptor
