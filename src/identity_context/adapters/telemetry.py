"""OpenTelemetry: the tracer provider, exporting over OTLP when an endpoint is configured."""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from identity_context import __version__

__all__ = ["build_tracer_provider", "exports_spans"]

_OTLP_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def exports_spans(environ: Mapping[str, str] | None = None) -> bool:
    """True when an OTLP endpoint is configured, so server spans are worth making."""
    env = os.environ if environ is None else environ
    return any(env.get(name) for name in _OTLP_VARIABLES)


def build_tracer_provider(environ: Mapping[str, str] | None = None) -> TracerProvider:
    """Return a tracer provider; it exports over OTLP only when an OTLP endpoint is set.

    Without ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``..._TRACES_ENDPOINT``) nothing
    leaves the process, and the service makes no spans at all (see exports_spans).
    """
    env = os.environ if environ is None else environ
    resource = Resource.create(
        {
            "service.name": env.get("OTEL_SERVICE_NAME", "identity-context"),
            "service.version": __version__,
        }
    )
    provider = TracerProvider(resource=resource)
    if exports_spans(env):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider
