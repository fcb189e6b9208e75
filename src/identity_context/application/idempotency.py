"""Idempotent mutations (AIP-155): a request id replays its first result and writes nothing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import json
import types
import typing
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from identity_context.application.ports import IdempotencyRecord, UnitOfWork
from identity_context.domain.errors import ErrorReason, FailedPrecondition

__all__ = ["decode", "encode", "fingerprint", "run_idempotent"]

R = TypeVar("R")


def encode(value: Any) -> Any:
    """Turn dataclasses, enums, datetimes, tuples and mappings into JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return [encode(v) for v in value]
    if isinstance(value, typing.Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    return value


def decode(cls: Any, data: Any) -> Any:
    """Rebuild a value of type *cls* from what encode() produced."""
    origin = typing.get_origin(cls)
    if origin in (typing.Union, types.UnionType):
        arms = [arm for arm in typing.get_args(cls) if arm is not type(None)]
        return None if data is None else decode(arms[0], data)
    if origin in (tuple, list, set, frozenset):
        inner = typing.get_args(cls)[0] if typing.get_args(cls) else Any
        return origin(decode(inner, v) for v in data)
    if origin is not None and issubclass(origin, typing.Mapping):
        _, inner = typing.get_args(cls) or (Any, Any)
        return {k: decode(inner, v) for k, v in data.items()}
    if isinstance(cls, type) and dataclasses.is_dataclass(cls):
        hints = typing.get_type_hints(cls)
        return cls(
            **{
                f.name: decode(hints[f.name], data[f.name])
                for f in dataclasses.fields(cls)
                if f.name in data
            }
        )
    if isinstance(cls, type) and issubclass(cls, enum.Enum):
        return cls(data)
    if cls is dt.datetime:
        return dt.datetime.fromisoformat(data)
    return data


def fingerprint(operation: str, actor: str, command: Any) -> str:
    """Return a digest of what was asked, by whom; the request id itself is left out."""
    body = encode(command)
    if isinstance(body, dict):
        body.pop("request_id", None)
    canonical = json.dumps([operation, actor, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def run_idempotent(
    uow: UnitOfWork,
    *,
    operation: str,
    command: Any,
    result_type: type[R],
    execute: Callable[[], Awaitable[R]],
) -> R:
    """Run *execute* once per ``uow.context.request_id`` in the tenant.

    Without a request id it just runs. With one already seen for the same
    operation, actor and command, return the stored first result without
    running anything. Raise FailedPrecondition (IDEMPOTENCY_KEY_REUSED) when
    the id was used for a different request. The stored result is read under
    the tenant lock, so two concurrent requests with one id are serialised.
    """
    request_id = uow.context.request_id
    if not request_id:
        return await execute()
    digest = fingerprint(operation, uow.context.actor, command)
    seen = (await uow.lock_tenant()).replay
    if seen is not None:
        if seen.operation != operation or seen.fingerprint != digest:
            raise FailedPrecondition(
                f"request_id {request_id!r} was already used for a different request",
                reason=ErrorReason.IDEMPOTENCY_KEY_REUSED,
            )
        replayed: R = decode(result_type, seen.result)
        return replayed
    result = await execute()
    uow.remember(IdempotencyRecord(request_id, operation, digest, encode(result)))
    return result
