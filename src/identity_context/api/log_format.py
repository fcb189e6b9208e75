"""Structured JSON log lines carrying the correlation id, the tenant, the actor and the trace id."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import TextIO

from opentelemetry import trace

from identity_context.api.request_context import CallState, call_var

__all__ = ["AccessLog", "BatchingStreamHandler", "JsonLogFormatter"]


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


class AccessLog:
    """One line per RPC, written straight to the log stream.

    The same shape as a ``JsonLogFormatter`` record of logger
    ``identity_context.access`` (or a text line), without the logging
    machinery's cost on every call; flushed with the other INFO lines.
    """

    def __init__(self, stream: TextIO, *, json_lines: bool) -> None:
        self._stream = stream
        self._json = json_lines

    def write(self, state: CallState, code: str, reason: str, elapsed_ms: float) -> None:
        """Write the line of one finished RPC (never its token)."""
        now = dt.datetime.now(dt.UTC)
        actor = state.actor.subject if state.actor is not None else ""
        if not self._json:
            self._stream.write(
                f"{now:%Y-%m-%d %H:%M:%S,%f} INFO identity_context.access {state.method} {code}"
                f" {reason} {elapsed_ms:.1f}ms {state.correlation_id} {actor}\n"
            )
            return
        entry: dict[str, object] = {
            "time": now.isoformat(),
            "level": "INFO",
            "logger": "identity_context.access",
            "message": f"{state.method} {code} {elapsed_ms:.1f}ms",
            "correlation_id": state.correlation_id,
        }
        if state.tenant is not None:
            entry["tenant_id"] = str(state.tenant)
        entry["rpc"] = {
            "method": state.method,
            "code": code,
            "reason": reason,
            "duration_ms": round(elapsed_ms, 3),
            "actor": actor,
        }
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            entry["trace_id"] = format(span_context.trace_id, "032x")
            entry["span_id"] = format(span_context.span_id, "016x")
        self._stream.write(json.dumps(entry) + "\n")
