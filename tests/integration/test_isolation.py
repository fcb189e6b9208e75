"""Tenant isolation enforced by PostgreSQL itself, checked as the runtime role."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import psycopg
import pytest
from conftest import (
    ProvisionedDatabase,
    add_account,
    context,
    create_tenant,
    unique_tenant,
)
from psycopg import errors as pg
from psycopg_pool import AsyncConnectionPool

from identity_context.adapters.postgres.provisioning import RUNTIME_LOGIN_ROLE
from identity_context.adapters.postgres.unit_of_work import PostgresStore
from identity_context.application.ports import UnitOfWork
from identity_context.domain.identifiers import TenantId

# The platform-wide tables, few and explicit. A new table without tenant_id
# must be added here on purpose, or this suite fails.
PLATFORM_TABLES = {"schema_migrations", "users", "applications"}


async def _tenant_scoped_tables(conn: psycopg.AsyncConnection[Any]) -> dict[str, int]:
    rows = await (
        await conn.execute(
            "SELECT c.relname, a.attnum FROM pg_class c"
            " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'"
            " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')"
        )
    ).fetchall()
    return {name: attnum for name, attnum in rows}


@pytest.fixture
async def runtime_conn(database: ProvisionedDatabase):
    async with await psycopg.AsyncConnection.connect(database.runtime_url) as conn:
        yield conn


async def test_every_table_is_tenant_scoped_or_an_explicit_platform_table(runtime_conn) -> None:
    scoped = await _tenant_scoped_tables(runtime_conn)
    rows = await (
        await runtime_conn.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace"
            " AND relkind IN ('r', 'p')"
        )
    ).fetchall()
    others = {name for (name,) in rows} - set(scoped)
    assert others == PLATFORM_TABLES
    assert {
        "tenants",
        "tenant_accounts",
        "profile_values",
        "memberships",
        "audit_records",
        "outbox_events",
        "idempotency_records",
        "group_members",
        "scopes",
    } <= set(scoped)


async def test_tenant_scoped_tables_force_row_level_security_with_check(runtime_conn) -> None:
    scoped = await _tenant_scoped_tables(runtime_conn)
    rows = await (
        await runtime_conn.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,"
            " EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polroles = '{0}'"
            "         AND p.polcmd = '*' AND p.polpermissive"
            "         AND pg_get_expr(p.polqual, c.oid) LIKE '%%app_current_tenant()%%'"
            "         AND pg_get_expr(p.polwithcheck, c.oid) LIKE '%%app_current_tenant()%%')"
            " FROM pg_class c WHERE c.relname = ANY(%s)"
            " AND c.relnamespace = 'public'::regnamespace",
            (list(scoped),),
        )
    ).fetchall()
    assert len(rows) == len(scoped)
    for name, enabled, forced, isolated in rows:
        assert enabled and forced and isolated, name


async def test_tenant_id_leads_every_primary_key(runtime_conn) -> None:
    scoped = await _tenant_scoped_tables(runtime_conn)
    rows = await (
        await runtime_conn.execute(
            "SELECT c.relname, con.conkey[1] FROM pg_constraint con JOIN pg_class c"
            " ON c.oid = con.conrelid WHERE con.contype = 'p' AND c.relname = ANY(%s)"
            " AND c.relnamespace = 'public'::regnamespace",
            (list(scoped),),
        )
    ).fetchall()
    assert {name for name, _ in rows} == set(scoped)
    for name, first in rows:
        assert first == scoped[name], name


async def test_foreign_keys_between_tenant_tables_include_tenant_id(runtime_conn) -> None:
    scoped = await _tenant_scoped_tables(runtime_conn)
    rows = await (
        await runtime_conn.execute(
            "SELECT con.conname, c.relname, r.relname, con.conkey, con.confkey"
            " FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid"
            " JOIN pg_class r ON r.oid = con.confrelid"
            " WHERE con.contype = 'f' AND c.relnamespace = 'public'::regnamespace"
        )
    ).fetchall()
    between = [row for row in rows if row[1] in scoped and row[2] in scoped]
    assert len(between) >= 15
    for name, table, referenced, keys, referenced_keys in between:
        pairs = set(zip(keys, referenced_keys, strict=True))
        assert (scoped[table], scoped[referenced]) in pairs, f"{name} on {table}"


async def test_unique_indexes_on_tenant_tables_include_tenant_id(runtime_conn) -> None:
    scoped = await _tenant_scoped_tables(runtime_conn)
    rows = await (
        await runtime_conn.execute(
            "SELECT i.indexrelid::regclass::text, c.relname, i.indkey::int2[]"
            " FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid"
            " WHERE i.indisunique AND c.relname = ANY(%s)"
            " AND c.relnamespace = 'public'::regnamespace",
            (list(scoped),),
        )
    ).fetchall()
    assert len(rows) >= len(scoped)
    for index, table, keys in rows:
        assert scoped[table] in keys, index


async def test_runtime_role_is_not_superuser_bypassrls_or_owner(runtime_conn) -> None:
    row = await (
        await runtime_conn.execute(
            "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
    ).fetchone()
    assert row == (RUNTIME_LOGIN_ROLE, False, False)
    owned = await (
        await runtime_conn.execute(
            "SELECT count(*) FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace"
            " AND pg_has_role(current_user, c.relowner, 'USAGE')"
        )
    ).fetchone()
    assert owned == (0,)


async def _seed_two_tenants(store: PostgresStore) -> tuple[TenantId, TenantId]:
    alpha, beta = unique_tenant("alpha"), unique_tenant("beta")
    for tenant in (alpha, beta):
        await create_tenant(store, tenant)
        await add_account(store, tenant, "user:alice")
        await add_account(store, tenant, f"user:only-{tenant.slug}")
    return alpha, beta


async def _as_tenant(conn: psycopg.AsyncConnection[Any], tenant: TenantId | None) -> None:
    if tenant is not None:
        await conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenant),))


async def test_raw_sql_under_one_tenant_cannot_read_or_write_another(
    store: PostgresStore, database: ProvisionedDatabase
) -> None:
    alpha, beta = await _seed_two_tenants(store)
    async with await psycopg.AsyncConnection.connect(database.runtime_url) as conn:
        await _as_tenant(conn, alpha)
        rows = await (
            await conn.execute(
                "SELECT tenant_id, user_id FROM tenant_accounts WHERE tenant_id IN (%s, %s)",
                (str(alpha), str(beta)),
            )
        ).fetchall()
        assert rows and {t for t, _ in rows} == {str(alpha)}
        for table in ("tenant_accounts", "audit_records", "outbox_events", "tenants"):
            count = await (
                await conn.execute(
                    f"SELECT count(*) FROM {table} WHERE tenant_id = %s", (str(beta),)
                )
            ).fetchone()
            assert count == (0,), table
        updated = await conn.execute(
            "UPDATE tenant_accounts SET display_name = 'hijacked' WHERE tenant_id = %s",
            (str(beta),),
        )
        assert updated.rowcount == 0
        with pytest.raises(pg.InsufficientPrivilege):
            await conn.execute(
                "INSERT INTO tenant_accounts (tenant_id, user_id, state) VALUES (%s, %s, 'active')",
                (str(beta), "user:alice"),
            )
        await conn.rollback()
        await _as_tenant(conn, alpha)
        with pytest.raises(pg.InsufficientPrivilege):
            await conn.execute(
                "UPDATE tenant_accounts SET tenant_id = %s WHERE tenant_id = %s",
                (str(beta), str(alpha)),
            )
        await conn.rollback()
        await _as_tenant(conn, beta)
        names = await (
            await conn.execute(
                "SELECT display_name FROM tenant_accounts WHERE user_id = 'user:alice'"
            )
        ).fetchall()
        assert names == [("user:alice",)]
        await conn.rollback()


@pytest.mark.parametrize("setting", [None, ""])
async def test_without_a_tenant_setting_nothing_is_visible(
    store: PostgresStore, database: ProvisionedDatabase, setting: str | None
) -> None:
    await _seed_two_tenants(store)
    async with await psycopg.AsyncConnection.connect(database.runtime_url) as conn:
        if setting is not None:
            await conn.execute("SELECT set_config('app.tenant_id', %s, true)", (setting,))
        for table in ("tenants", "tenant_accounts", "audit_records", "outbox_events"):
            count = await (await conn.execute(f"SELECT count(*) FROM {table}")).fetchone()
            assert count == (0,), table
        with pytest.raises(pg.InsufficientPrivilege):
            await conn.execute(
                "INSERT INTO tenant_accounts (tenant_id, user_id, state)"
                " VALUES ('tenant:platform', 'user:alice', 'active')"
            )


async def test_platform_functions_refuse_outside_the_platform_context(
    database: ProvisionedDatabase,
) -> None:
    async with await psycopg.AsyncConnection.connect(database.runtime_url) as conn:
        await conn.execute("SELECT set_config('app.tenant_id', 'tenant:platform', true)")
        with pytest.raises(pg.InsufficientPrivilege):
            await conn.execute("SELECT * FROM platform_list_tenants('', NULL, 10)")
        await conn.rollback()
        with pytest.raises(pg.InsufficientPrivilege):
            await conn.execute("SELECT * FROM platform_create_tenant('tenant:sneaky', 'x')")


async def test_repositories_see_only_their_tenant(store: PostgresStore) -> None:
    alpha, beta = await _seed_two_tenants(store)

    async def read(uow: UnitOfWork) -> tuple[Any, ...]:
        return (
            await uow.accounts.list(after="", state=None, limit=100),
            await uow.accounts.get(f"user:only-{beta.slug}"),
            await uow.audit.all(),
            await uow.outbox.list(after_seq=0, limit=100),
            await uow.tenants.get(),
        )

    accounts, foreign, audit, outbox, tenant = await store.run(context(alpha), read, read_only=True)
    assert {a.user_id for a in accounts} == {"user:alice", f"user:only-{alpha.slug}"}
    assert all(a.tenant_id == alpha for a in accounts)
    assert foreign is None
    assert {r.tenant_id for r in audit} == {str(alpha)}
    assert {e.tenant_id for e in outbox} == {str(alpha)}
    assert tenant is not None and tenant.tenant_id == alpha


async def test_pool_never_leaks_a_tenant_setting_between_transactions(
    store: PostgresStore, runtime_pool: AsyncConnectionPool
) -> None:
    alpha, beta = await _seed_two_tenants(store)
    rng = random.Random(7)
    leaks: list[str] = []
    failures = 0

    class Boom(Exception):
        pass

    async def one(index: int) -> None:
        nonlocal failures
        tenant, other = (alpha, beta) if index % 2 else (beta, alpha)
        if index % 3 == 0:
            async with runtime_pool.connection() as raw:
                before = await (
                    await raw.execute("SELECT current_setting('app.tenant_id', true)")
                ).fetchone()
                if before not in ((None,), ("",)):
                    leaks.append(f"{index}: raw connection saw {before}")

        async def work(uow: UnitOfWork) -> None:
            seen = await (
                await uow.connection.execute(  # type: ignore[attr-defined]
                    "SELECT current_setting('app.tenant_id', true),"
                    " (SELECT count(*) FROM tenant_accounts WHERE tenant_id = %s)",
                    (str(other),),
                )
            ).fetchone()
            if seen != (str(tenant), 0):
                leaks.append(f"{index}: {seen}")
            if rng.random() < 0.1:
                raise Boom

        try:
            await store.run(context(tenant), work, read_only=True)
        except Boom:
            failures += 1

    for start in range(0, 1000, 20):
        await asyncio.gather(*(one(i) for i in range(start, start + 20)))
    assert not leaks, leaks[:5]
    assert 50 <= failures <= 150
