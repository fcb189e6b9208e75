"""Structured JSON log lines carrying the correlation id, the tenant and the trace id."""

from __future__ import annotations

import datetime as dt
import json
import logging

from opentelemetry import trace

from identity_context.api import request_context

__all__ = ["JsonLogFormatter"]


class JsonLogFormatter(logging.Formatter):
    """Formats a record as one JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        correlation_id = request_context.correlation_id_var.get()
        if correlation_id:
            entry["correlation_id"] = correlation_id
        tenant = request_context.tenant_var.get()
        if tenant is not None:
            entry["tenant_id"] = str(tenant)
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            entry["trace_id"] = format(span_context.trace_id, "032x")
            entry["span_id"] = format(span_context.span_id, "016x")
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
