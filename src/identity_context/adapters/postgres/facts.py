"""The fact feed over PostgreSQL: snapshot exports, change batches, wake-ups and jobs.

The facts and their changes are kept by migration 0007 (``facts``,
``fact_changes``, maintained by ``app_refresh_facts`` in each command's closing
statement). This adapter only reads them:

- an export is one REPEATABLE READ transaction on a connection of its own,
  read through a server-side cursor (``DECLARE`` / ``FETCH``), so memory stays
  flat; its snapshot is exported (``pg_export_snapshot``) so that an
  interrupted export can continue at the same snapshot, on any replica, while
  the transaction that holds it stays open (the resume window);
- a change batch is one statement: the changes after a position and the
  tenant's head as the same snapshot sees them, so a batch that is not full
  proves that nothing up to the head is missing;
- wake-ups come from ``LISTEN identity_context_facts`` (``app_refresh_facts``
  notifies at commit); callers also poll, so a lost listener only adds delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from identity_context.adapters.postgres.errors import to_domain_error
from identity_context.application.ports import ChangeBatch, EncodedFacts
from identity_context.domain.errors import (
    ErrorReason,
    FailedPrecondition,
    IdentityContextError,
    NotFound,
)
from identity_context.domain.facts import (
    ExportMode,
    Fact,
    FactChange,
    FactFilter,
    FactOperation,
    FactSource,
    Position,
)
from identity_context.domain.identifiers import TenantId

__all__ = ["PgFactFeed", "PgFactSnapshot", "PgFactWindowRepository"]

_log = logging.getLogger(__name__)
_CHANNEL = "identity_context_facts"
_SNAPSHOT_ID = re.compile(r"[0-9A-F]{1,16}-[0-9A-F]{1,16}(-[0-9]{1,10})?")
# The filter of an export or a watch (empty arrays: everything).
_FILTERS = (
    " AND (cardinality(%(relations)s::text[]) = 0 OR relation = ANY(%(relations)s::text[]))"
    " AND (cardinality(%(sources)s::smallint[]) = 0 OR source = ANY(%(sources)s::smallint[]))"
)
_EXPORT = (
    "DECLARE facts_export NO SCROLL CURSOR FOR SELECT pb"  # noqa: S608 - constants only
    " FROM facts WHERE tenant_id = %(tenant)s AND mode = %(mode)s"
    " AND (subject, relation, object) > (%(subject)s, %(relation)s, %(object)s)"
    + _FILTERS
    + " ORDER BY subject, relation, object"
)
_CHANGES = (
    "SELECT t.last_seq, coalesce(r.pruned_through, 0), c.seq, c.ord, c.op, c.committed_at,"  # noqa: S608
    " c.subject, c.relation, c.object, c.source, c.via, c.evidence_refs, c.access_profile,"
    " c.valid_from, c.valid_until"
    " FROM tenants t LEFT JOIN fact_retention r ON r.tenant_id = t.tenant_id"
    " LEFT JOIN LATERAL (SELECT * FROM fact_changes"
    " WHERE tenant_id = t.tenant_id AND mode = %(mode)s AND (seq, ord) > (%(seq)s, %(ord)s)"
    + _FILTERS
    + " ORDER BY seq, ord LIMIT %(limit)s) c ON true"
    " WHERE t.tenant_id = %(tenant)s ORDER BY c.seq, c.ord"
)
_HEAD = (
    "SELECT t.last_seq, coalesce(r.pruned_through, 0) FROM tenants t"
    " LEFT JOIN fact_retention r ON r.tenant_id = t.tenant_id WHERE t.tenant_id = %s"
)
_SET_TENANT = "SELECT set_config('app.tenant_id', %s, true)"
# Rows per FETCH: several export batches per round trip.
_FETCH_ROWS = 4000
# Export snapshots kept for a resume at once, per process.
_MAX_HELD = 8


def _fact(tenant: str, row: Sequence[Any]) -> Fact:
    subject, relation, object_, source, via, evidence, profile, valid_from, valid_until = row
    return Fact(
        tenant_id=tenant,
        subject=subject,
        relation=relation,
        object=object_,
        source=FactSource(source),
        via=tuple(via),
        evidence_refs=tuple(evidence),
        access_profile=profile,
        valid_from=valid_from,
        valid_until=valid_until,
    )


def _filter_params(filt: FactFilter) -> dict[str, Any]:
    return {"relations": list(filt.relations), "sources": [int(s) for s in filt.sources]}


@dataclass
class PgFactSnapshot:
    """An export's snapshot: its seq, its exported id, and its facts in batches."""

    tenant: str
    seq: int
    snapshot_id: str
    _conn: psycopg.AsyncConnection[Any]

    async def _fetch(self, size: int) -> list[bytes]:
        cursor = self._conn.cursor(binary=True)
        await cursor.execute(f"FETCH FORWARD {int(size)} FROM facts_export")
        return [row[0] for row in await cursor.fetchall()]

    async def batches(self, size: int) -> AsyncIterator[EncodedFacts]:
        """Yield the facts in key order, *size* per batch.

        Rows are fetched a few batches at a time (fewer round trips), and the next
        rows are read from the database while the caller sends the current ones:
        a bounded number of rows in memory, whatever the export's size.
        """
        chunk = max(size, _FETCH_ROWS // size * size)
        ahead = asyncio.ensure_future(self._fetch(chunk))
        try:
            while True:
                rows = await ahead
                more = len(rows) == chunk
                if more:
                    ahead = asyncio.ensure_future(self._fetch(chunk))
                for start in range(0, len(rows), size):
                    part = rows[start : start + size]
                    yield EncodedFacts(b"".join(part), len(part), _key_of(part[-1]))
                if not more:
                    return
        finally:
            if not ahead.done():
                ahead.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await ahead


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


def _key_of(framed: bytes) -> tuple[str, str, str]:
    """(subject, relation, object) of one stored fact: fields 2, 3, 4 of the encoded
    AccessControlFact inside its frame (field 1 of ExportFactsResponse)."""
    _, at = _varint(framed, 1)  # skip the frame's tag byte and length
    found: dict[int, str] = {}
    while at < len(framed) and len(found) < 3:
        tag, at = _varint(framed, at)
        field, wire = tag >> 3, tag & 7
        if wire == 2:
            length, at = _varint(framed, at)
            if field in (2, 3, 4):
                found[field] = framed[at : at + length].decode()
            at += length
        else:  # varint (the source)
            _, at = _varint(framed, at)
    return found.get(2, ""), found.get(3, ""), found.get(4, "")


class _Listener:
    """One LISTEN connection per process; wakes the waiters of a tenant on its notifications."""

    def __init__(self) -> None:
        self._generation: dict[str, int] = {}
        self._events: dict[str, asyncio.Event] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self, conninfo: str) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._listen(conninfo), name="facts-listener")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def generation(self, tenant: str) -> int:
        return self._generation.get(tenant, 0)

    def _wake(self, tenant: str) -> None:
        self._generation[tenant] = self.generation(tenant) + 1
        event = self._events.pop(tenant, None)
        if event is not None:
            event.set()

    async def wait(self, tenant: str, since: int, max_wait: float) -> None:
        if self.generation(tenant) != since:
            return
        event = self._events.setdefault(tenant, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), max_wait)

    async def _listen(self, conninfo: str) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {_CHANNEL}")
                    # wake everyone: changes may have committed while not listening
                    for tenant in list(self._generation):
                        self._wake(tenant)
                    async for note in conn.notifies():
                        self._wake(note.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # polling covers the gap; try again soon
                _log.warning("facts listener lost: %s", type(exc).__name__)
                await asyncio.sleep(1.0)


class PgFactFeed:
    """Reads facts and fact changes for the fact stream (the FactFeed port)."""

    def __init__(
        self, pool: AsyncConnectionPool, conninfo: str, *, resume_window_s: float = 60.0
    ) -> None:
        self._pool = pool
        self._conninfo = conninfo
        self._resume_window_s = resume_window_s
        self._listener = _Listener()
        self._held: dict[asyncio.Task[None], None] = {}  # insertion ordered: oldest first

    def use_pool(self, pool: AsyncConnectionPool) -> None:
        """Use *pool* from now on (the store renewed its pool)."""
        self._pool = pool

    async def close(self) -> None:
        """Stop listening and release every snapshot kept for resumption."""
        await self._listener.close()
        for task in list(self._held):
            task.cancel()
        for task in list(self._held):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @contextlib.asynccontextmanager
    async def export(
        self,
        tenant: TenantId,
        mode: ExportMode,
        filt: FactFilter,
        *,
        snapshot_id: str = "",
        after: tuple[str, str, str] = ("", "", ""),
    ) -> AsyncIterator[PgFactSnapshot]:
        """Open the export's snapshot (a new one, or *snapshot_id* to continue one).

        Raise FailedPrecondition (EXPORT_RESTART_REQUIRED) when *snapshot_id*
        can no longer be imported, NotFound when the tenant does not exist.
        """
        try:
            conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
        except Exception as exc:
            raise _mapped(exc) from exc
        keep = False
        try:
            try:
                await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                if snapshot_id:
                    await _import_snapshot(conn, snapshot_id)
                row = await (
                    await conn.execute(f"{_SET_TENANT}, pg_export_snapshot()", (str(tenant),))
                ).fetchone()
                assert row is not None
                exported = str(row[1])
                head = await (await conn.execute(_HEAD, (str(tenant),))).fetchone()
                if head is None:
                    raise NotFound(f"{tenant} does not exist")
                subject, relation, object_ = after
                await conn.execute(
                    _EXPORT,
                    {
                        "tenant": str(tenant),
                        "mode": int(mode),
                        "subject": subject,
                        "relation": relation,
                        "object": object_,
                        **_filter_params(filt),
                    },
                )
            except IdentityContextError:
                raise
            except Exception as exc:
                raise _mapped(exc) from exc
            snapshot = PgFactSnapshot(str(tenant), int(head[0]), exported, conn)
            # Kept for a resume even when every message was sent: sent is not
            # received (the consumer may drop the stream before it read them all).
            keep = self._resume_window_s > 0
            yield snapshot
        finally:
            if keep:
                self._hold(conn)
            else:
                await _close(conn)

    def _hold(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Keep *conn*'s snapshot for the resume window; at most _MAX_HELD at once (the
        oldest is let go first: each holds a database connection and pins old rows)."""

        async def hold() -> None:
            try:
                await asyncio.sleep(self._resume_window_s)
            finally:
                await _close(conn)

        while len(self._held) >= _MAX_HELD:
            oldest = next(iter(self._held))
            oldest.cancel()
            self._held.pop(oldest)
        task = asyncio.ensure_future(hold())
        self._held[task] = None
        task.add_done_callback(lambda done: self._held.pop(done, None))

    async def changes(
        self, tenant: TenantId, mode: ExportMode, filt: FactFilter, after: Position, limit: int
    ) -> ChangeBatch:
        """The changes after *after* (at most *limit*), the head and the retention, one snapshot."""
        params = {
            "tenant": str(tenant),
            "mode": int(mode),
            "seq": after.seq,
            "ord": after.change,
            "limit": limit,
            **_filter_params(filt),
        }
        try:
            async with self._pool.connection() as conn:
                await conn.execute(_SET_TENANT, (str(tenant),))
                rows = await (await conn.execute(_CHANGES, params)).fetchall()
        except Exception as exc:
            raise _mapped(exc) from exc
        if not rows:
            raise NotFound(f"{tenant} does not exist")
        head, pruned = int(rows[0][0]), int(rows[0][1])
        changes = [
            FactChange(
                seq=int(row[2]),
                change=int(row[3]),
                operation=FactOperation(row[4]),
                fact=_fact(str(tenant), row[6:]),
                committed_at=row[5],
            )
            for row in rows
            if row[2] is not None
        ]
        return ChangeBatch(head, pruned, changes)

    def generation(self, tenant: TenantId) -> int:
        """A counter that moves when the tenant's facts change (start listening if needed)."""
        self._listener.start(self._conninfo)
        return self._listener.generation(str(tenant))

    async def wait(self, tenant: TenantId, since: int, max_wait: float) -> None:
        """Return once the tenant's facts changed after generation *since*, or *max_wait* s."""
        await self._listener.wait(str(tenant), since, max_wait)

    async def due_windows(self, limit: int) -> list[TenantId]:
        """Tenants with a membership window that opened or closed and is not yet recorded."""
        try:
            async with self._pool.connection() as conn:
                rows = await (
                    await conn.execute("SELECT * FROM app_due_fact_windows(%s)", (limit,))
                ).fetchall()
        except Exception as exc:
            raise _mapped(exc) from exc
        return [TenantId(str(row[0]).removeprefix("tenant:")) for row in rows]

    async def prune(self, keep: dt.timedelta) -> int:
        """Delete fact changes and outbox events older than *keep*; return the rows deleted."""
        try:
            async with self._pool.connection() as conn:
                if conn.read_only is not None:  # a read left it read-only
                    await conn.set_read_only(None)
                row = await (
                    await conn.execute("SELECT app_prune_fact_changes(%s)", (keep,))
                ).fetchone()
        except Exception as exc:
            raise _mapped(exc) from exc
        return int(row[0]) if row else 0


class PgFactWindowRepository:
    """Inside a tenant's unit of work: mark the owners of due windows for the closing refresh."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn

    async def fire(self) -> int:
        """Return how many windows were due (their facts are refreshed at commit)."""
        row = await (await self._conn.execute("SELECT app_fire_fact_windows()")).fetchone()
        return int(row[0]) if row else 0


async def _import_snapshot(conn: psycopg.AsyncConnection[Any], snapshot_id: str) -> None:
    if not _SNAPSHOT_ID.fullmatch(snapshot_id):
        raise _restart()
    try:
        await conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot_id)))
    except psycopg.Error as exc:
        if isinstance(exc, psycopg.OperationalError) and exc.sqlstate is None:
            raise
        raise _restart() from exc


def _restart() -> FailedPrecondition:
    return FailedPrecondition(
        "the export's snapshot is gone; start the export again without resume_cursor",
        reason=ErrorReason.EXPORT_RESTART_REQUIRED,
    )


async def _close(conn: psycopg.AsyncConnection[Any]) -> None:
    with contextlib.suppress(Exception):
        await conn.close()


def _mapped(exc: Exception) -> Exception:
    mapped = to_domain_error(exc)
    return mapped if mapped is not None else exc
