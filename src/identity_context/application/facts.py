"""The access-control fact stream: snapshot exports, the gapless change stream, its tokens.

Who may consume: the policy decides (``tenant.facts.export`` /
``tenant.facts.watch``): a tenant admin for their own tenant, a service
principal holding ``fact-consumer`` on tenant:platform for any tenant. The
decision is taken before anything is read and again at every heartbeat of a
watch, so a revoked consumer stops receiving.

Positions and tokens: a facts token is an HMAC-signed stream position bound
to the tenant, the mode and the filter. An export's token is its snapshot's
seq; a watch delivers exactly the changes after it. Every watch message says
which part of the stream it covers (``previous`` .. ``position``), so a
consumer proves continuity from the messages alone.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from identity_context.application.actions import Action
from identity_context.application.authorization import Target
from identity_context.application.guarded import Guarded
from identity_context.application.invocation import Invocation
from identity_context.application.pagination import PageTokens
from identity_context.application.ports import (
    EncodedFacts,
    FactFeed,
    FactSnapshot,
    Store,
    UnitOfWork,
)
from identity_context.domain.changes import Change, ChangeContext, Decision
from identity_context.domain.errors import (
    ErrorReason,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
)
from identity_context.domain.facts import (
    ALL_CHANGES,
    DEFAULT_EXPORT_BATCH,
    MAX_EXPORT_BATCH,
    ExportMode,
    FactChange,
    FactFilter,
    Position,
)
from identity_context.domain.identifiers import PLATFORM_TENANT, TenantId

__all__ = [
    "ExportBatch",
    "FactStream",
    "FactStreamLimits",
    "FactWindows",
    "Heartbeat",
    "WatchChange",
    "WatchEvent",
]

_log = logging.getLogger(__name__)
_WATCH_BATCH = 500
_MIN_HEARTBEAT_S = 1.0
_MAX_HEARTBEAT_S = 60.0
_DEFAULT_HEARTBEAT_S = 10.0
_WINDOW_BATCH = 100


@dataclass(frozen=True, slots=True)
class FactStreamLimits:
    """Limits of the fact streams of one process."""

    streams_per_tenant: int = 8
    max_stream_s: float = 3600.0
    poll_s: float = 1.0


@dataclass(frozen=True, slots=True)
class ExportBatch:
    """One message of an export: its facts as the store encoded them, and where it ends."""

    facts: EncodedFacts | None
    facts_token: str
    resume_cursor: str
    last: bool
    snapshot_seq: int


@dataclass(frozen=True, slots=True)
class WatchChange:
    """A change message: it covers the stream from *previous* to the change."""

    change: FactChange
    previous: Position
    facts_token: str

    @property
    def position(self) -> Position:
        """Where the message leaves the stream."""
        return self.change.position


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A heartbeat: nothing that matches happened between *previous* and *position*."""

    previous: Position
    position: Position
    facts_token: str
    sent_at: dt.datetime


WatchEvent = WatchChange | Heartbeat


def _mode(mode: ExportMode | None) -> ExportMode:
    return mode or ExportMode.NATIVE


class FactStream:
    """ExportFacts, WatchFacts and GetFactsToken of the request's tenant."""

    def __init__(
        self,
        guarded: Guarded,
        feed: FactFeed,
        tokens: PageTokens,
        limits: FactStreamLimits | None = None,
    ) -> None:
        self._g = guarded
        self._feed = feed
        self._tokens = tokens
        self._limits = limits or FactStreamLimits()
        self._streams: dict[TenantId, int] = {}
        self._closing = asyncio.Event()

    def close(self) -> None:
        """Shutting down: watches end after a last heartbeat, exports after their batch."""
        self._closing.set()

    # ---- tokens -------------------------------------------------------------

    def _scope(self, tenant: TenantId, kind: str, mode: ExportMode, filt: FactFilter) -> bytes:
        return "\x1f".join([str(tenant), kind, str(int(mode)), filt.canonical()]).encode()

    def _token(
        self, tenant: TenantId, mode: ExportMode, filt: FactFilter, position: Position
    ) -> str:
        scope = self._scope(tenant, "facts", mode, filt)
        change = 0 if position.at_boundary else position.change
        return self._tokens.sign(scope, f"{position.seq}.{change}")

    def _position(
        self, tenant: TenantId, mode: ExportMode, filt: FactFilter, token: str
    ) -> Position:
        if not token:
            raise InvalidArgument.for_field(
                "facts_token", "is required", reason=ErrorReason.FACTS_TOKEN_INVALID
            )
        invalid = InvalidArgument.for_field(
            "facts_token",
            "is not a facts token of this tenant, mode and filter",
            reason=ErrorReason.FACTS_TOKEN_INVALID,
        )
        try:
            body = self._tokens.verify(self._scope(tenant, "facts", mode, filt), token)
        except InvalidArgument:
            raise invalid from None
        seq, _, change = body.partition(".")
        if not (seq.isdigit() and change.isdigit()):
            raise invalid
        return Position(int(seq), int(change) or ALL_CHANGES)

    def _cursor(
        self,
        tenant: TenantId,
        mode: ExportMode,
        filt: FactFilter,
        snapshot: tuple[str, int],
        key: tuple[str, str, str],
    ) -> str:
        scope = self._scope(tenant, "export", mode, filt)
        return self._tokens.sign(scope, json.dumps([*snapshot, *key], separators=(",", ":")))

    def _resume(
        self, tenant: TenantId, mode: ExportMode, filt: FactFilter, cursor: str
    ) -> tuple[str, int, tuple[str, str, str]]:
        invalid = InvalidArgument.for_field(
            "resume_cursor",
            "is not a cursor of an export of this tenant, mode and filter",
            reason=ErrorReason.FACTS_TOKEN_INVALID,
        )
        try:
            body = self._tokens.verify(self._scope(tenant, "export", mode, filt), cursor)
            snapshot_id, seq, subject, relation, object_ = json.loads(body)
        except (InvalidArgument, ValueError, TypeError):
            raise invalid from None
        return str(snapshot_id), int(seq), (str(subject), str(relation), str(object_))

    # ---- authorization --------------------------------------------------------

    async def _authorize(self, inv: Invocation, action: Action) -> int:
        """Decide (fail closed); return the tenant's current seq."""

        async def head(uow: UnitOfWork) -> int:
            tenant = await uow.tenants.get()
            if tenant is None:
                raise NotFound(f"{inv.tenant} does not exist")
            return tenant.last_seq

        return await self._g.read(inv, action, Target("facts", str(inv.tenant), inv.tenant), head)

    def _admit(self, tenant: TenantId) -> Callable[[], None]:
        if self._closing.is_set():
            raise Unavailable("the server is shutting down; try another replica")
        count = self._streams.get(tenant, 0)
        if count >= self._limits.streams_per_tenant:
            raise ResourceExhausted(
                f"{tenant} already has {count} fact streams on this server (the maximum)",
                metadata={"limit": "streams_per_tenant"},
            )
        self._streams[tenant] = count + 1

        def release() -> None:
            left = self._streams.get(tenant, 1) - 1
            if left:
                self._streams[tenant] = left
            else:
                self._streams.pop(tenant, None)

        return release

    def _too_long(self, started: float) -> ResourceExhausted | None:
        if time.monotonic() - started < self._limits.max_stream_s:
            return None
        return ResourceExhausted(
            f"the stream reached its maximum duration ({self._limits.max_stream_s:.0f} s);"
            " continue from the last token",
            metadata={"limit": "stream_duration"},
        )

    # ---- use cases -------------------------------------------------------------

    async def token(
        self, inv: Invocation, mode: ExportMode | None, filt: FactFilter
    ) -> tuple[str, int]:
        """The token of the tenant's current change sequence, and its seq."""
        chosen = _mode(mode)
        seq = await self._authorize(inv, Action.TENANT_FACTS_WATCH)
        return self._token(inv.tenant, chosen, filt, Position(seq)), seq

    async def export(
        self,
        inv: Invocation,
        mode: ExportMode | None,
        filt: FactFilter,
        batch_size: int,
        resume_cursor: str,
    ) -> AsyncIterator[ExportBatch]:
        """Every fact at one snapshot, in bounded batches; the last message says so."""
        chosen = _mode(mode)
        if batch_size < 0 or batch_size > MAX_EXPORT_BATCH:
            raise InvalidArgument.for_field(
                "batch_size", f"must be between 0 (default) and {MAX_EXPORT_BATCH}"
            )
        size = batch_size or DEFAULT_EXPORT_BATCH
        resume = self._resume(inv.tenant, chosen, filt, resume_cursor) if resume_cursor else None
        await self._authorize(inv, Action.TENANT_FACTS_EXPORT)
        release = self._admit(inv.tenant)
        started = time.monotonic()
        try:
            snapshot_id, _, after = resume or ("", 0, ("", "", ""))
            async with self._feed.export(
                inv.tenant, chosen, filt, snapshot_id=snapshot_id, after=after
            ) as snap:
                token = self._token(inv.tenant, chosen, filt, Position(snap.seq))
                key = after
                pending: EncodedFacts | None = None
                async for batch in snap.batches(size):
                    if pending is not None:
                        yield self._batch(
                            tenant=inv.tenant,
                            mode=chosen,
                            filt=filt,
                            snap=snap,
                            token=token,
                            facts=pending,
                            last=False,
                        )
                        if self._closing.is_set():
                            raise Unavailable(
                                "the server is shutting down; resume with the last cursor"
                            )
                        if (exceeded := self._too_long(started)) is not None:
                            raise exceeded
                    pending = batch
                    key = batch.last_key
                yield self._batch(
                    tenant=inv.tenant,
                    mode=chosen,
                    filt=filt,
                    snap=snap,
                    token=token,
                    facts=pending,
                    last=True,
                    key=key,
                )
        finally:
            release()

    def _batch(
        self,
        *,
        tenant: TenantId,
        mode: ExportMode,
        filt: FactFilter,
        snap: FactSnapshot,
        token: str,
        facts: EncodedFacts | None,
        last: bool,
        key: tuple[str, str, str] = ("", "", ""),
    ) -> ExportBatch:
        at = facts.last_key if facts is not None else key
        cursor = self._cursor(tenant, mode, filt, (snap.snapshot_id, snap.seq), at)
        return ExportBatch(facts, token, cursor, last, snap.seq)

    async def watch(
        self,
        inv: Invocation,
        mode: ExportMode | None,
        filt: FactFilter,
        facts_token: str,
        heartbeat: dt.timedelta | None,
    ) -> AsyncIterator[WatchEvent]:
        """The changes after the token, in order, with heartbeats when idle."""
        chosen = _mode(mode)
        start = self._position(inv.tenant, chosen, filt, facts_token)
        interval = _DEFAULT_HEARTBEAT_S if heartbeat is None else heartbeat.total_seconds()
        if not _MIN_HEARTBEAT_S <= interval <= _MAX_HEARTBEAT_S:
            raise InvalidArgument.for_field(
                "heartbeat_interval",
                f"must be between {_MIN_HEARTBEAT_S:.0f} s and {_MAX_HEARTBEAT_S:.0f} s",
            )
        head = await self._authorize(inv, Action.TENANT_FACTS_WATCH)
        if start.seq > head:
            raise InvalidArgument.for_field(
                "facts_token",
                "is ahead of the tenant's change sequence",
                reason=ErrorReason.FACTS_TOKEN_INVALID,
            )
        release = self._admit(inv.tenant)
        tenant = inv.tenant
        started = last_sent = last_decided = time.monotonic()
        position = start
        beaten = False

        try:
            while True:
                generation = self._feed.generation(tenant)
                batch = await self._feed.changes(tenant, chosen, filt, position, _WATCH_BATCH)
                if position.seq < batch.pruned_through:
                    raise _expired(batch.pruned_through)
                for change in batch.changes:
                    token = self._token(tenant, chosen, filt, change.position)
                    yield WatchChange(change, position, token)
                    position = change.position
                    last_sent = time.monotonic()
                if len(batch.changes) == _WATCH_BATCH:
                    continue  # more are waiting: no heartbeat inside a backlog
                now = time.monotonic()
                if self._closing.is_set():
                    yield self._heartbeat(tenant, chosen, filt, position, batch.head)
                    raise Unavailable(
                        "the server is shutting down; watch again from the last token"
                    )
                if (exceeded := self._too_long(started)) is not None:
                    yield self._heartbeat(tenant, chosen, filt, position, batch.head)
                    raise exceeded
                if not beaten or now - last_sent >= interval:
                    if now - last_decided >= interval:
                        await self._authorize(inv, Action.TENANT_FACTS_WATCH)
                        last_decided = now
                    beat = self._heartbeat(tenant, chosen, filt, position, batch.head)
                    yield beat
                    position, last_sent, beaten = beat.position, time.monotonic(), True
                wait = min(self._limits.poll_s, max(interval - (time.monotonic() - last_sent), 0))
                await self._sleep(tenant, generation, wait)
        finally:
            release()

    async def _sleep(self, tenant: TenantId, generation: int, seconds: float) -> None:
        """Until the tenant's facts change, the server shuts down, or *seconds* pass."""
        waiter = asyncio.ensure_future(self._feed.wait(tenant, generation, seconds))
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            await asyncio.wait([waiter, closing], return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            closing.cancel()

    def _heartbeat(
        self, tenant: TenantId, mode: ExportMode, filt: FactFilter, previous: Position, head: int
    ) -> Heartbeat:
        # every change up to the head was delivered: the position moves to its boundary
        position = max(previous, Position(head))
        return Heartbeat(
            previous,
            position,
            self._token(tenant, mode, filt, position),
            dt.datetime.now(dt.UTC),
        )


def _expired(pruned: int) -> FailedPrecondition:
    return FailedPrecondition(
        f"the facts token is older than the retained changes (pruned through seq {pruned});"
        " export again and watch from the export's token",
        reason=ErrorReason.TOKEN_EXPIRED,
    )


_WINDOW_DECISION = Decision(True, ("system.fact-windows",))
WINDOWS_ACTOR = "system:fact-windows"


class FactWindows:
    """Records membership windows that opened or closed as changes of their tenants."""

    def __init__(self, store: Store, feed: FactFeed) -> None:
        self._store = store
        self._feed = feed

    async def fire(self) -> int:
        """Record every due window (one change per tenant); return the tenants changed."""
        changed = 0
        for tenant in await self._feed.due_windows(_WINDOW_BATCH):
            context = ChangeContext(
                tenant=tenant,
                actor=WINDOWS_ACTOR,
                actor_tenant=PLATFORM_TENANT,
                correlation_id=f"fact-windows-{secrets.token_hex(6)}",
            )

            async def work(uow: UnitOfWork) -> int:
                due = await uow.fact_windows.fire()
                if not due:
                    return 0
                await uow.lock_tenant()
                await uow.record(
                    Change(
                        "facts.window",
                        "membership.window_passed",
                        {"windows": due},
                        _WINDOW_DECISION,
                    )
                )
                return 1

            changed += await self._store.run(context, work)
        return changed
