"""The PostgreSQL unit of work: one transaction per command, facts first, changes flushed last.

Statements of a command, in order:

1. ``BEGIN`` (``BEGIN READ ONLY`` for reads);
2. the facts: the tenant setting and the actor's roles, one statement;
3. the command's own reads and writes; a writing command takes the tenant
   row lock (with its idempotency record) once, after its decision;
4. the changes: audit records, outbox events, the tenant's new head and the
   idempotency record in one statement, which also re-reads the actor's roles
   under the lock (a revocation committed before the lock is honoured);
5. ``COMMIT``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import random
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self, TypeVar

import psycopg
from psycopg import pq
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from identity_context.adapters.postgres.directory import (
    PgAccessProfileRepository,
    PgApplicationRepository,
    PgDiagnosticsRepository,
    PgGroupRepository,
    PgMembershipRepository,
    PgPlatformTenants,
    PgProfileRepository,
    PgScopeRepository,
)
from identity_context.adapters.postgres.errors import RETRYABLE, to_domain_error
from identity_context.adapters.postgres.facts import PgFactWindowRepository
from identity_context.adapters.postgres.hats import PgHatRepository
from identity_context.adapters.postgres.hot_path import read_identity_context
from identity_context.adapters.postgres.repositories import (
    PgAccountRepository,
    PgAuditRepository,
    PgOutboxRepository,
    PgTenantRepository,
    Session,
)
from identity_context.application.ports import Clock, IdempotencyRecord, TenantLock
from identity_context.domain.audit import AuditRecord, record_hash
from identity_context.domain.changes import Change, ChangeContext, RecordedChange, redact
from identity_context.domain.errors import Aborted, IdentityContextError, NotFound, Unavailable
from identity_context.domain.identifiers import TenantId
from identity_context.domain.identity_context import ContextSnapshot
from identity_context.domain.roles import PLATFORM_ROLES, TENANT_ROLES
from identity_context.domain.tenancy import TenantState

__all__ = ["FactsChanged", "PostgresStore", "PostgresUnitOfWork", "SystemClock"]

_log = logging.getLogger(__name__)
T = TypeVar("T")

_FACTS = (
    "SELECT set_config('app.tenant_id', %s, true), set_config('app.platform', %s, true),"
    " app_actor_roles(%s, %s, %s, %s)"
)
# FOR NO KEY UPDATE serialises the tenant's writers without conflicting with
# the FOR KEY SHARE locks that foreign keys to tenants take.
_LOCK = "SELECT last_seq, last_hash, state FROM tenants WHERE tenant_id = %s FOR NO KEY UPDATE"
# A statement of its own, after the lock: its snapshot then sees the result of
# a concurrent request with the same id that committed while we waited.
_STORED_RESULT = (
    "SELECT operation, fingerprint, result FROM idempotency_records"
    " WHERE tenant_id = %s AND request_id = %s"
)
_AUDIT_COLUMNS = (
    "tenant_id, seq, recorded_at, actor, actor_tenant_id, target_tenant_id, action, decision,"
    " policy_ids, correlation_id, request_id, change_summary, break_glass, prev_hash, hash"
)
_OUTBOX_COLUMNS = (
    "tenant_id, seq, event_type, correlation_id, actor_tenant_id, target_tenant_id, payload,"
    " created_at"
)
_ROLES = "app_actor_roles(%s, %s, %s, %s)"
# The facts of what the command touched, diffed and logged at its last seq
# (migration 0007): same statement, same lock, so facts follow commit order.
_REFRESH_FACTS = "app_refresh_facts(%s, %s, true)"


def _values(count: int, width: int) -> str:
    row = "(" + ", ".join(["%s"] * width) + ")"
    return ", ".join([row] * count)


def _flush_sql(changes: int, remembered: bool) -> str:
    """The one statement that writes *changes* changes (and an idempotency record).

    Built from constants and placeholders only; every value is a parameter.
    """
    parts = []
    if changes:
        parts.append(
            f"audit AS (INSERT INTO audit_records ({_AUDIT_COLUMNS})"  # noqa: S608
            f" VALUES {_values(changes, 15)})"
        )
        parts.append(
            f"outbox AS (INSERT INTO outbox_events ({_OUTBOX_COLUMNS})"  # noqa: S608
            f" VALUES {_values(changes, 8)})"
        )
    if remembered:
        parts.append(
            "remembered AS (INSERT INTO idempotency_records"
            " (tenant_id, request_id, operation, fingerprint, result, actor)"
            " VALUES (%s, %s, %s, %s, %s, %s))"
        )
    head = "WITH " + ", ".join(parts) + " " if parts else ""
    if changes:
        return (
            f"{head}UPDATE tenants SET last_seq = %s, last_hash = %s"  # noqa: S608
            f" WHERE tenant_id = %s RETURNING {_ROLES}, {_REFRESH_FACTS}"
        )
    return f"{head}SELECT {_ROLES}"


_FLUSH_SQL = {(n, r): _flush_sql(n, r) for n in range(4) for r in (False, True)}


class FactsChanged(Exception):
    """The actor's roles changed between the decision and the tenant lock; retry the command."""


_RETRY: tuple[type[Exception], ...] = (*RETRYABLE, FactsChanged)


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> dt.datetime:
        """Return the current time, timezone-aware in UTC."""
        return dt.datetime.now(dt.UTC)


class PostgresUnitOfWork:
    """One transaction on one pooled connection, bound to one tenant.

    On enter it sets ``app.tenant_id`` (and ``app.platform`` for platform
    commands) with ``set_config(..., true)``, so the settings die with the
    transaction, and reads the actor's roles (``actor_roles``) in the same
    statement. ``lock_tenant()`` takes the tenant row lock once; changes are
    kept in memory and written by ``commit()``. Writes of one tenant are
    serialised by that lock, which makes ``seq = last_seq + 1`` gapless and
    commit-ordered. Leaving without ``commit()`` rolls back (a unit of work
    that ran nothing but its facts commits instead, which is the same and
    keeps the connection's prepared statements).
    """

    def __init__(
        self,
        pool: AsyncConnectionPool,
        context: ChangeContext,
        *,
        clock: Clock,
        read_only: bool = False,
    ) -> None:
        self.context = context
        self._pool = pool
        self._clock = clock
        self._read_only = read_only
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._session: Session | None = None
        self._committed = False
        self._lock: TenantLock | None = None
        self._last_seq = 0
        self._last_hash = ""
        self._changes: list[AuditRecord] = []
        self._events: list[tuple[Any, ...]] = []
        self._remembered: IdempotencyRecord | None = None
        self._raw = False
        self.actor_roles: frozenset[str] = frozenset()

    async def __aenter__(self) -> Self:
        conn = await self._pool.getconn()
        self._conn = conn
        try:
            if conn.autocommit:  # never left so by the hot path; be sure anyway
                await conn.set_autocommit(False)
            wanted = True if self._read_only else None  # None: a plain BEGIN
            if conn.read_only is not wanted:
                await conn.set_read_only(wanted)
            ctx = self.context
            tenant = str(ctx.tenant)
            row = await (
                await conn.execute(
                    _FACTS,
                    (tenant, "on" if ctx.platform else "", *self._roles_params()),
                )
            ).fetchone()
            assert row is not None
            self.actor_roles = frozenset(row[2])
        except BaseException:
            await self._release(clean=False)
            raise
        session = Session(conn)
        self._session = session
        tid = ctx.tenant
        self.tenants = PgTenantRepository(session, tid)
        self.accounts = PgAccountRepository(session, tid)
        self.audit = PgAuditRepository(session, tid)
        self.outbox = PgOutboxRepository(session, tid)
        self.platform_tenants = PgPlatformTenants(session, tid)
        self.applications = PgApplicationRepository(session, tid)
        self.profiles = PgProfileRepository(session, tid)
        self.scopes = PgScopeRepository(session, tid)
        self.groups = PgGroupRepository(session, tid)
        self.memberships = PgMembershipRepository(session, tid)
        self.access_profiles = PgAccessProfileRepository(session, tid)
        self.diagnostics = PgDiagnosticsRepository(session, tid)
        self.hats = PgHatRepository(session, tid)
        self.fact_windows = PgFactWindowRepository(conn)
        return self

    def _roles_params(self) -> tuple[Any, ...]:
        ctx = self.context
        return (ctx.actor, str(ctx.tenant), list(PLATFORM_ROLES), list(TENANT_ROLES))

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._committed:
            await self._release(clean=True)
            return
        pristine = self._read_only or (
            self._session is not None
            and self._session.statements == 0
            and self._lock is None
            and not self._raw
        )
        await self._release(clean=pristine)

    async def _release(self, *, clean: bool) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if not conn.closed:
                status = conn.info.transaction_status
                if clean and status == pq.TransactionStatus.INTRANS:
                    # Nothing was written: COMMIT equals ROLLBACK here, and a
                    # ROLLBACK would make psycopg drop the prepared statements.
                    await conn.commit()
                elif status != pq.TransactionStatus.IDLE:
                    await conn.rollback()
        finally:
            await self._pool.putconn(conn)

    @property
    def connection(self) -> psycopg.AsyncConnection[Any]:
        """The transaction's connection (for adapters that extend the unit of work)."""
        if self._conn is None:
            raise RuntimeError("unit of work is not active")
        self._raw = True  # what runs on it is unknown: leaving without commit rolls back
        return self._conn

    async def lock_tenant(self) -> TenantLock:
        """Lock the tenant row (once) and return its state and this request id's first result.

        Raise NotFound when the tenant does not exist.
        """
        if self._lock is not None:
            return self._lock
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot take the tenant lock")
        ctx = self.context
        conn = self._conn
        assert conn is not None
        tenant = str(ctx.tenant)
        row = await (await conn.execute(_LOCK, (tenant,))).fetchone()
        if row is None:
            raise NotFound(f"{ctx.tenant} does not exist")
        last_seq, last_hash, state = row
        self._last_seq, self._last_hash = int(last_seq), str(last_hash)
        replay = None
        if ctx.request_id:
            stored = await (await conn.execute(_STORED_RESULT, (tenant, ctx.request_id))).fetchone()
            if stored is not None:
                replay = IdempotencyRecord(ctx.request_id, *stored)
        self._lock = TenantLock(TenantState(state), replay)
        return self._lock

    async def record(self, change: Change) -> RecordedChange:
        """Assign the next seq and keep the change's audit record and outbox event for commit."""
        await self.lock_tenant()
        ctx = self.context
        seq = self._last_seq + 1
        now = self._clock.now().astimezone(dt.UTC)
        raw = dict(change.summary)
        break_glass = change.decision.break_glass and bool(ctx.break_glass_reason)
        if break_glass:
            raw["break_glass_reason"] = ctx.break_glass_reason
        summary = redact(raw, change.sensitive_values)
        target = str(change.target_tenant or ctx.tenant)
        unsigned = AuditRecord(
            tenant_id=str(ctx.tenant),
            seq=seq,
            recorded_at=now,
            actor=ctx.actor,
            actor_tenant_id=str(ctx.actor_tenant),
            target_tenant_id=target,
            action=change.action,
            decision="allow" if change.decision.allowed else "deny",
            policy_ids=change.decision.policy_ids,
            correlation_id=ctx.correlation_id,
            request_id=ctx.request_id,
            change_summary=summary,
            break_glass=break_glass,
            prev_hash=self._last_hash,
            hash="",
        )
        record = dataclasses.replace(unsigned, hash=record_hash(unsigned))
        self._changes.append(record)
        self._events.append(
            (
                record.tenant_id,
                seq,
                change.event_type,
                ctx.correlation_id,
                record.actor_tenant_id,
                target,
                Jsonb(summary),
                now,
            )
        )
        self._last_seq, self._last_hash = seq, record.hash
        return RecordedChange(seq=seq, recorded_at=now)

    def remember(self, record: IdempotencyRecord) -> None:
        """Keep the first result of the request id, written by commit()."""
        self._remembered = record

    async def commit(self) -> None:
        """Write the kept changes in one statement, check the roles held, and commit.

        Raise FactsChanged (the command is retried) when the actor's roles
        differ from those read when the command started.
        """
        conn = self._conn
        if conn is None:
            raise RuntimeError("unit of work is not active")
        if self._changes or self._remembered is not None:
            await self._flush(conn)
        await conn.commit()
        self._committed = True

    async def _flush(self, conn: psycopg.AsyncConnection[Any]) -> None:
        changes, remembered = self._changes, self._remembered
        params: list[Any] = []
        for record in changes:
            params += (
                record.tenant_id,
                record.seq,
                record.recorded_at,
                record.actor,
                record.actor_tenant_id,
                record.target_tenant_id,
                record.action,
                record.decision,
                list(record.policy_ids),
                record.correlation_id,
                record.request_id,
                Jsonb(dict(record.change_summary)),
                record.break_glass,
                record.prev_hash,
                record.hash,
            )
        for event in self._events:
            params += event
        tenant = str(self.context.tenant)
        if remembered is not None:
            params += (
                tenant,
                remembered.request_id,
                remembered.operation,
                remembered.fingerprint,
                Jsonb(dict(remembered.result)),
                self.context.actor,
            )
        if changes:
            params += (self._last_seq, self._last_hash, tenant)
        params += self._roles_params()
        if changes:
            params += (self._last_seq, changes[-1].recorded_at)
        key = (len(changes), remembered is not None)
        sql = _FLUSH_SQL.get(key) or _flush_sql(*key)
        row = await (await conn.execute(sql, params)).fetchone()
        if row is None:
            raise NotFound(f"{tenant} does not exist")
        if frozenset(row[0]) != self.actor_roles:
            raise FactsChanged(f"roles of {self.context.actor} changed during the command")


class PostgresStore:
    """Runs commands in units of work over the runtime pool (the Store port)."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        *,
        clock: Clock | None = None,
        max_attempts: int = 4,
        on_unavailable: Callable[[], None] | None = None,
    ) -> None:
        self._pool = pool
        self._clock = clock or SystemClock()
        self._max_attempts = max_attempts
        self._on_unavailable = on_unavailable

    @property
    def pool(self) -> AsyncConnectionPool:
        """The runtime pool the units of work use."""
        return self._pool

    def replace_pool(self, pool: AsyncConnectionPool) -> AsyncConnectionPool:
        """Use *pool* from now on; return the previous one (the caller closes it)."""
        previous, self._pool = self._pool, pool
        return previous

    def unit_of_work(
        self, context: ChangeContext, *, read_only: bool = False
    ) -> PostgresUnitOfWork:
        """Return a unit of work for *context* (use it with ``async with``)."""
        return PostgresUnitOfWork(self._pool, context, clock=self._clock, read_only=read_only)

    async def expired_hats(self, limit: int) -> list[tuple[TenantId, str]]:
        """(tenant, user) of active hats past their expiry, in every tenant, oldest first."""
        try:
            async with self._pool.connection() as conn:
                rows = await (
                    await conn.execute("SELECT * FROM app_expired_hats(%s)", (limit,))
                ).fetchall()
        except Exception as exc:
            mapped = to_domain_error(exc)
            if mapped is None:
                raise
            raise mapped from exc
        return [(TenantId(str(t).removeprefix("tenant:")), str(u)) for t, u in rows]

    async def read_identity_context(
        self, actor: str, tenant: TenantId, user_id: str
    ) -> ContextSnapshot:
        """The hot path's one statement: the caller's roles and the user's context.

        Raise Unavailable when the store is down.
        """
        try:
            return await read_identity_context(self._pool, actor, tenant, user_id)
        except Exception as exc:
            mapped = to_domain_error(exc)
            if mapped is None:
                raise
            if isinstance(mapped, Unavailable) and self._on_unavailable is not None:
                self._on_unavailable()
            raise mapped from exc

    async def run(
        self,
        context: ChangeContext,
        work: Callable[[PostgresUnitOfWork], Awaitable[T]],
        *,
        read_only: bool = False,
    ) -> T:
        """Run *work* in a fresh unit of work and commit it; retry transient conflicts.

        Raise Aborted after the last retry, Unavailable when the store is down,
        and the mapped domain error for constraint violations.
        """
        for attempt in range(1, self._max_attempts + 1):
            try:
                async with self.unit_of_work(context, read_only=read_only) as uow:
                    result = await work(uow)
                    await uow.commit()
                    return result
            except _RETRY as exc:
                if attempt == self._max_attempts:
                    raise Aborted(
                        "the change conflicted with concurrent changes; retry it"
                    ) from exc
                _log.info("retrying after %s (attempt %d)", type(exc).__name__, attempt)
                await asyncio.sleep(random.uniform(0, 0.01 * 2**attempt))  # noqa: S311
            except IdentityContextError:
                raise
            except Exception as exc:
                mapped = to_domain_error(exc)
                if mapped is None:
                    raise
                if isinstance(mapped, Unavailable) and self._on_unavailable is not None:
                    self._on_unavailable()  # health reports it at once, not at the next probe
                raise mapped from exc
        raise AssertionError("unreachable")  # pragma: no cover
