"""The PostgreSQL unit of work: tenant setting, tenant lock, gapless seq, audit and outbox."""

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
from psycopg_pool import AsyncConnectionPool

from identity_context.adapters.postgres.directory import (
    PgAccessProfileRepository,
    PgApplicationRepository,
    PgGroupRepository,
    PgMembershipRepository,
    PgPlatformTenants,
    PgProfileRepository,
    PgScopeRepository,
)
from identity_context.adapters.postgres.errors import RETRYABLE, to_domain_error
from identity_context.adapters.postgres.repositories import (
    PgAccountRepository,
    PgAuditRepository,
    PgIdempotencyRepository,
    PgOutboxRepository,
    PgTenantRepository,
)
from identity_context.application.ports import Clock, OutboxEvent, UnitOfWork
from identity_context.domain.audit import GENESIS_HASH, AuditRecord, record_hash
from identity_context.domain.changes import Change, ChangeContext, RecordedChange, redact
from identity_context.domain.errors import Aborted, IdentityContextError, NotFound
from identity_context.domain.tenancy import TenantState

__all__ = ["PostgresStore", "PostgresUnitOfWork", "SystemClock"]

_log = logging.getLogger(__name__)
T = TypeVar("T")


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> dt.datetime:
        """Return the current time, timezone-aware in UTC."""
        return dt.datetime.now(dt.UTC)


class PostgresUnitOfWork:
    """One transaction on one pooled connection, bound to one tenant.

    On enter it sets ``app.tenant_id`` (and ``app.platform`` for platform
    commands) with ``set_config(..., true)``, so the settings die with the
    transaction. A writing unit of work locks the tenant row first: writes of
    one tenant are serialised, which makes ``seq = last_seq + 1`` gapless and
    commit-ordered. Leaving without ``commit()`` rolls back.
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
        self._committed = False
        self._last_seq = 0
        self.tenant_state: TenantState | None = None

    async def __aenter__(self) -> Self:
        conn = await self._pool.getconn()
        self._conn = conn
        try:
            if self._read_only:
                await conn.execute("SET TRANSACTION READ ONLY")
            await conn.execute(
                "SELECT set_config('app.tenant_id', %s, true),"
                " set_config('app.platform', %s, true)",
                (str(self.context.tenant), "on" if self.context.platform else ""),
            )
            if not self._read_only:
                row = await (
                    await conn.execute(
                        "SELECT last_seq, state FROM tenants WHERE tenant_id = %s FOR UPDATE",
                        (str(self.context.tenant),),
                    )
                ).fetchone()
                if row is None:
                    raise NotFound(f"{self.context.tenant} does not exist")
                self._last_seq = int(row[0])
                self.tenant_state = TenantState(row[1])
        except BaseException:
            await self._release(rollback=True)
            raise
        tenant = self.context.tenant
        self.tenants = PgTenantRepository(conn, tenant)
        self.accounts = PgAccountRepository(conn, tenant)
        self.audit = PgAuditRepository(conn, tenant)
        self.outbox = PgOutboxRepository(conn, tenant)
        self.idempotency = PgIdempotencyRepository(conn, tenant)
        self.platform_tenants = PgPlatformTenants(conn, tenant)
        self.applications = PgApplicationRepository(conn, tenant)
        self.profiles = PgProfileRepository(conn, tenant)
        self.scopes = PgScopeRepository(conn, tenant)
        self.groups = PgGroupRepository(conn, tenant)
        self.memberships = PgMembershipRepository(conn, tenant)
        self.access_profiles = PgAccessProfileRepository(conn, tenant)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._release(rollback=not self._committed)

    async def _release(self, *, rollback: bool) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if rollback and not conn.closed:
                await conn.rollback()
        finally:
            await self._pool.putconn(conn)

    @property
    def connection(self) -> psycopg.AsyncConnection[Any]:
        """The transaction's connection (for adapters that extend the unit of work)."""
        if self._conn is None:
            raise RuntimeError("unit of work is not active")
        return self._conn

    async def record(self, change: Change) -> RecordedChange:
        """Assign the next seq and write the change's audit record and outbox event."""
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot record changes")
        conn = self.connection
        ctx = self.context
        seq = self._last_seq + 1
        await conn.execute(
            "UPDATE tenants SET last_seq = %s WHERE tenant_id = %s", (seq, str(ctx.tenant))
        )
        prev_hash = GENESIS_HASH if seq == 1 else await self.audit.head_hash(seq - 1)
        if prev_hash is None:
            raise NotFound(f"audit record {seq - 1} of {ctx.tenant} is missing")
        now = self._clock.now().astimezone(dt.UTC)
        raw = dict(change.summary)
        if ctx.break_glass_reason:
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
            break_glass=bool(ctx.break_glass_reason),
            prev_hash=prev_hash,
            hash="",
        )
        record = dataclasses.replace(unsigned, hash=record_hash(unsigned))
        await self.audit.append(record)
        await self.outbox.append(
            OutboxEvent(
                tenant_id=str(ctx.tenant),
                seq=seq,
                event_type=change.event_type,
                correlation_id=ctx.correlation_id,
                actor_tenant_id=str(ctx.actor_tenant),
                target_tenant_id=target,
                payload=summary,
                created_at=now,
            )
        )
        self._last_seq = seq
        return RecordedChange(seq=seq, recorded_at=now)

    async def commit(self) -> None:
        """Commit; the unit of work is finished afterwards."""
        await self.connection.commit()
        self._committed = True


class PostgresStore:
    """Runs commands in units of work over the runtime pool (the Store port)."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        *,
        clock: Clock | None = None,
        max_attempts: int = 4,
    ) -> None:
        self._pool = pool
        self._clock = clock or SystemClock()
        self._max_attempts = max_attempts

    def unit_of_work(
        self, context: ChangeContext, *, read_only: bool = False
    ) -> PostgresUnitOfWork:
        """Return a unit of work for *context* (use it with ``async with``)."""
        return PostgresUnitOfWork(self._pool, context, clock=self._clock, read_only=read_only)

    async def run(
        self,
        context: ChangeContext,
        work: Callable[[UnitOfWork], Awaitable[T]],
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
            except RETRYABLE as exc:
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
                raise mapped from exc
        raise AssertionError("unreachable")  # pragma: no cover
