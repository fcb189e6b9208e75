"""Spans are exported over OTLP only when an OTLP endpoint is configured."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from identity_context.adapters.telemetry import build_tracer_provider


def _processors(provider: object) -> tuple[object, ...]:
    return tuple(provider._active_span_processor._span_processors)  # type: ignore[attr-defined]


def test_nothing_is_exported_without_an_endpoint() -> None:
    provider = build_tracer_provider({})
    assert _processors(provider) == ()
    assert provider.resource.attributes["service.name"] == "identity-context"


def test_an_otlp_endpoint_adds_a_batch_otlp_exporter() -> None:
    provider = build_tracer_provider({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317"})
    try:
        (processor,) = _processors(provider)
        assert isinstance(processor, BatchSpanProcessor)
        assert isinstance(processor.span_exporter, OTLPSpanExporter)
    finally:
        provider.shutdown()
