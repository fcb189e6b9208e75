"""Repositories over one connection whose transaction already carries the tenant setting."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row

from identity_context.application.ports import OutboxEvent
from identity_context.domain.audit import AuditRecord
from identity_context.domain.errors import NotFound
from identity_context.domain.identifiers import TenantId
from identity_context.domain.tenancy import (
    AccountState,
    Tenant,
    TenantAccount,
    TenantPlane,
    TenantState,
)

__all__ = [
    "PgAccountRepository",
    "PgAuditRepository",
    "PgOutboxRepository",
    "PgTenantRepository",
    "Session",
]

Row = dict[str, Any]
_AUDIT_BATCH = 500
Connection = psycopg.AsyncConnection[Any]


class Session:
    """The unit of work's connection as its repositories see it.

    Every repository statement goes through here, so the unit of work knows
    whether anything beyond its own bookkeeping ran (``statements``).
    """

    __slots__ = ("conn", "statements")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.statements = 0

    async def execute(self, query: Any, params: Sequence[Any] = ()) -> psycopg.AsyncCursor[Any]:
        """Run one statement; return its cursor."""
        self.statements += 1
        return await self.conn.execute(query, params)

    async def fetch_all(self, query: Any, params: Sequence[Any] = ()) -> list[Row]:
        """Run one statement; return its rows as dicts."""
        self.statements += 1
        async with self.conn.cursor(row_factory=dict_row) as cursor:
            await cursor.execute(query, params)
            return await cursor.fetchall()

    async def fetch_tuples(self, query: Any, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement; return its rows as tuples (long lists: no dict per row)."""
        self.statements += 1
        return await (await self.conn.execute(query, params)).fetchall()

    async def fetch_one(self, query: Any, params: Sequence[Any] = ()) -> Row | None:
        """Run one statement; return its first row as a dict, or None."""
        rows = await self.fetch_all(query, params)
        return rows[0] if rows else None


def tenant_from_row(row: Row) -> Tenant:
    return Tenant(
        tenant_id=TenantId(str(row["tenant_id"]).removeprefix("tenant:")),
        display_name=row["display_name"],
        plane=TenantPlane(row["plane"]),
        state=TenantState(row["state"]),
        last_seq=int(row["last_seq"]),
        version=int(row["version"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class PgTenantRepository:
    """Tenants: this transaction's tenant, and the platform_* definer functions."""

    def __init__(self, db: Session, tenant: TenantId) -> None:
        self._db = db
        self._tenant = tenant

    async def get(self) -> Tenant | None:
        """Return this tenant, or None (also when row-level security hides it)."""
        row = await self._db.fetch_one(
            "SELECT * FROM tenants WHERE tenant_id = %s", (str(self._tenant),)
        )
        return tenant_from_row(row) if row else None

    async def platform_create(self, tenant_id: TenantId, display_name: str) -> Tenant:
        """Create a tenant through the platform path. Raise AlreadyExists (unique violation)."""
        row = await self._db.fetch_one(
            "SELECT * FROM platform_create_tenant(%s, %s)",
            (str(tenant_id), display_name),
        )
        assert row is not None
        return tenant_from_row(row)

    async def platform_list(
        self, *, after: str, state: TenantState | None, limit: int
    ) -> list[Tenant]:
        """List tenants across the platform (platform context only)."""
        rows = await self._db.fetch_all(
            "SELECT * FROM platform_list_tenants(%s, %s, %s)",
            (after, state.value if state else None, limit),
        )
        return [tenant_from_row(row) for row in rows]


def _account(row: Row) -> TenantAccount:
    return TenantAccount(
        tenant_id=TenantId(str(row["tenant_id"]).removeprefix("tenant:")),
        user_id=row["user_id"],
        display_name=row["display_name"],
        state=AccountState(row["state"]),
        version=int(row["version"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class PgAccountRepository:
    """Tenant accounts of this transaction's tenant."""

    def __init__(self, db: Session, tenant: TenantId) -> None:
        self._db = db
        self._tenant = tenant

    async def get(self, user_id: str) -> TenantAccount | None:
        """Return the account of *user_id* in this tenant, or None."""
        row = await self._db.fetch_one(
            "SELECT * FROM tenant_accounts WHERE tenant_id = %s AND user_id = %s",
            (str(self._tenant), user_id),
        )
        return _account(row) if row else None

    async def insert(self, user_id: str, display_name: str, state: AccountState) -> TenantAccount:
        """Create the account; the global user is created when new."""
        await self._db.execute(
            "INSERT INTO users (user_id) VALUES (%s) ON CONFLICT (user_id) DO NOTHING", (user_id,)
        )
        row = await self._db.fetch_one(
            "INSERT INTO tenant_accounts (tenant_id, user_id, display_name, state)"
            " VALUES (%s, %s, %s, %s) RETURNING *",
            (str(self._tenant), user_id, display_name, state.value),
        )
        assert row is not None
        return _account(row)

    async def update(
        self, user_id: str, *, display_name: str | None = None, state: AccountState | None = None
    ) -> TenantAccount:
        """Change the account, bump its version. Raise NotFound when absent."""
        row = await self._db.fetch_one(
            "UPDATE tenant_accounts SET display_name = coalesce(%s, display_name),"
            " state = coalesce(%s, state), version = version + 1, updated_at = now()"
            " WHERE tenant_id = %s AND user_id = %s RETURNING *",
            (display_name, state.value if state else None, str(self._tenant), user_id),
        )
        if row is None:
            raise NotFound(f"{user_id} has no account in {self._tenant}")
        return _account(row)

    async def list(
        self, *, after: str, state: AccountState | None, limit: int
    ) -> list[TenantAccount]:
        """List accounts ordered by user id."""
        rows = await self._db.fetch_all(
            "SELECT * FROM tenant_accounts WHERE tenant_id = %s AND user_id > %s"
            " AND (%s::text IS NULL OR state = %s) ORDER BY user_id LIMIT %s",
            (
                str(self._tenant),
                after,
                state.value if state else None,
                state.value if state else None,
                limit,
            ),
        )
        return [_account(row) for row in rows]


def _audit(row: Row) -> AuditRecord:
    return AuditRecord(
        tenant_id=row["tenant_id"],
        seq=int(row["seq"]),
        recorded_at=row["recorded_at"],
        actor=row["actor"],
        actor_tenant_id=row["actor_tenant_id"],
        target_tenant_id=row["target_tenant_id"],
        action=row["action"],
        decision=row["decision"],
        policy_ids=tuple(row["policy_ids"]),
        correlation_id=row["correlation_id"],
        request_id=row["request_id"],
        change_summary=row["change_summary"],
        break_glass=bool(row["break_glass"]),
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


class PgAuditRepository:
    """Audit records of this transaction's tenant (the unit of work writes them)."""

    def __init__(self, db: Session, tenant: TenantId) -> None:
        self._db = db
        self._tenant = tenant

    async def list(self, *, after_seq: int, action: str, limit: int) -> list[AuditRecord]:
        """Return records after *after_seq*, ordered by seq, optionally of one action."""
        rows = await self._db.fetch_all(
            "SELECT * FROM audit_records WHERE tenant_id = %s AND seq > %s"
            " AND (%s = '' OR action = %s) ORDER BY seq LIMIT %s",
            (str(self._tenant), after_seq, action, action, limit),
        )
        return [_audit(row) for row in rows]

    async def all(self) -> Sequence[AuditRecord]:
        """Return every record of the tenant, ordered by seq."""
        rows = await self._db.fetch_all(
            "SELECT * FROM audit_records WHERE tenant_id = %s ORDER BY seq",
            (str(self._tenant),),
        )
        return [_audit(row) for row in rows]

    async def each(self) -> AsyncIterator[AuditRecord]:
        """Yield every record of the tenant, ordered by seq, from a server-side cursor.

        Memory stays constant whatever the length of the chain.
        """
        self._db.statements += 1
        async with self._db.conn.cursor(name="audit_chain", row_factory=dict_row) as cursor:
            cursor.itersize = _AUDIT_BATCH
            await cursor.execute(
                "SELECT * FROM audit_records WHERE tenant_id = %s ORDER BY seq",
                (str(self._tenant),),
            )
            async for row in cursor:
                yield _audit(row)


class PgOutboxRepository:
    """Outbox events of this transaction's tenant."""

    def __init__(self, db: Session, tenant: TenantId) -> None:
        self._db = db
        self._tenant = tenant

    async def list(self, *, after_seq: int, limit: int) -> list[OutboxEvent]:
        """Return events after *after_seq*, ordered by seq."""
        rows = await self._db.fetch_all(
            "SELECT * FROM outbox_events WHERE tenant_id = %s AND seq > %s ORDER BY seq LIMIT %s",
            (str(self._tenant), after_seq, limit),
        )
        return [
            OutboxEvent(
                tenant_id=row["tenant_id"],
                seq=int(row["seq"]),
                event_type=row["event_type"],
                correlation_id=row["correlation_id"],
                actor_tenant_id=row["actor_tenant_id"],
                target_tenant_id=row["target_tenant_id"],
                payload=row["payload"],
                created_at=row["created_at"],
            )
            for row in rows
        ]
