"""Structured JSON log lines carrying the correlation id, the tenant, the actor and the trace id."""

from __future__ import annotations

import datetime as dt
import json
import logging

from opentelemetry import trace

from identity_context.api.request_context import call_var

__all__ = ["BatchingStreamHandler", "JsonLogFormatter"]


class JsonLogFormatter(logging.Formatter):
    """Formats a record as one JSON object per line (access-log records add an ``rpc`` object)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        state = call_var.get()
        if state is not None:
            entry["correlation_id"] = state.correlation_id
            if state.tenant is not None:
                entry["tenant_id"] = str(state.tenant)
        rpc = getattr(record, "rpc", None)
        if isinstance(rpc, dict):
            entry["rpc"] = rpc
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            entry["trace_id"] = format(span_context.trace_id, "032x")
            entry["span_id"] = format(span_context.span_id, "016x")
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class BatchingStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that flushes WARNING and above at once, the rest in batches.

    One access-log line per RPC must not cost a write system call per RPC:
    INFO lines are flushed by ``flush()``, which the service calls a few times
    a second and at shutdown.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + self.terminator)
            if record.levelno >= logging.WARNING:
                self.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)
