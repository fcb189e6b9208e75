"""The runtime role check refuses every role that could switch row-level security off."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from conftest import ProvisionedDatabase
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool

from identity_context.adapters.postgres.provisioning import OWNER_ROLE, RUNTIME_GROUP_ROLE
from identity_context.bootstrap import StoreRoleError, check_runtime_role

PASSWORD = "role-check-" + secrets.token_hex(4)


@pytest.fixture
async def admin(
    pg_admin_url: str, database: ProvisionedDatabase
) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    url = make_conninfo(pg_admin_url, dbname=database.database)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        yield conn


async def _role(admin: psycopg.AsyncConnection[Any], options: str, *member_of: str) -> str:
    name = f"ic_check_{secrets.token_hex(3)}"
    await admin.execute(
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} " + options).format(
            sql.Identifier(name), sql.Literal(PASSWORD)
        )
    )
    for group in (RUNTIME_GROUP_ROLE, *member_of):
        await admin.execute(
            sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(name))
        )
    return name


async def _check(database: ProvisionedDatabase, role: str) -> None:
    params = conninfo_to_dict(database.runtime_url)
    params.update(user=role, password=PASSWORD)
    pool = AsyncConnectionPool(make_conninfo("", **params), min_size=1, max_size=1, open=False)
    await pool.open(wait=True)
    try:
        await check_runtime_role(pool)
    finally:
        await pool.close()


async def test_a_plain_member_of_the_runtime_group_is_accepted(
    admin: Any, database: ProvisionedDatabase
) -> None:
    await _check(database, await _role(admin, ""))


@pytest.mark.parametrize(
    ("options", "member_of", "named"),
    [
        ("SUPERUSER", (), "SUPERUSER"),
        ("BYPASSRLS", (), "BYPASSRLS"),
        ("CREATEROLE", (), "CREATEROLE"),
        ("", (OWNER_ROLE,), OWNER_ROLE),
        ("NOINHERIT", (OWNER_ROLE,), OWNER_ROLE),  # SET ROLE still works
    ],
)
async def test_a_role_that_could_bypass_rls_is_refused_by_name(
    admin: Any, database: ProvisionedDatabase, options: str, member_of: tuple[str, ...], named: str
) -> None:
    role = await _role(admin, options, *member_of)
    with pytest.raises(StoreRoleError) as refused:
        await _check(database, role)
    assert named in str(refused.value) and role in str(refused.value)


async def test_a_member_of_the_owner_really_could_switch_rls_off(
    admin: Any, database: ProvisionedDatabase
) -> None:
    # Why the check matters: such a role can do it (rolled back here).
    role = await _role(admin, "", OWNER_ROLE)
    params = conninfo_to_dict(database.runtime_url)
    params.update(user=role, password=PASSWORD)
    async with await psycopg.AsyncConnection.connect(make_conninfo("", **params)) as conn:
        await conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(OWNER_ROLE)))
        await conn.execute("ALTER TABLE groups DISABLE ROW LEVEL SECURITY")
        await conn.rollback()
