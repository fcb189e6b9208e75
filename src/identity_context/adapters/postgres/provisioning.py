"""Create the database and its roles on a server the service administers (embedded, tests)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

__all__ = ["OWNER_ROLE", "RUNTIME_GROUP_ROLE", "RUNTIME_LOGIN_ROLE", "Provisioned", "provision"]

OWNER_ROLE = "identity_context_owner"
RUNTIME_GROUP_ROLE = "identity_context_runtime"
RUNTIME_LOGIN_ROLE = "identity_context_app"
# Serialises provisioning across processes (replicas starting together): ALTER
# ROLE from two sessions at once fails with "tuple concurrently updated".
_LOCK_KEY = 0x1DC0_7E48


@dataclass(frozen=True, slots=True)
class Provisioned:
    """Conninfo strings for the owner (migrations) and the runtime role (the service)."""

    migration_url: str
    runtime_url: str


async def _ensure_role(
    conn: psycopg.AsyncConnection[Any], name: str, options: str, password: str | None = None
) -> None:
    exists = await (
        await conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
    ).fetchone()
    statement = sql.SQL("{} ROLE {} {}").format(
        sql.SQL("ALTER" if exists else "CREATE"), sql.Identifier(name), sql.SQL(options)
    )
    if password is not None:
        statement = sql.SQL("{} PASSWORD {}").format(statement, sql.Literal(password))
    await conn.execute(statement)


async def _provision(
    conn: psycopg.AsyncConnection[Any], database: str, password: str | None
) -> None:
    login = "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE INHERIT"
    await _ensure_role(conn, OWNER_ROLE, login, password)
    await _ensure_role(conn, RUNTIME_GROUP_ROLE, "NOLOGIN NOSUPERUSER NOBYPASSRLS")
    await _ensure_role(conn, RUNTIME_LOGIN_ROLE, login, password)
    await conn.execute(
        sql.SQL("GRANT {} TO {}").format(
            sql.Identifier(RUNTIME_GROUP_ROLE), sql.Identifier(RUNTIME_LOGIN_ROLE)
        )
    )
    found = await (
        await conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
    ).fetchone()
    if not found:
        await conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8' TEMPLATE template0").format(
                sql.Identifier(database), sql.Identifier(OWNER_ROLE)
            )
        )


async def provision(
    admin_url: str, *, database: str = "identity_context", password: str | None = None
) -> Provisioned:
    """Create (or repair) the roles and the database on the server behind *admin_url*.

    *admin_url* must connect as a superuser that needs no password for the new
    roles (the embedded server trusts local connections), or *password* is set on
    both login roles and put in the returned conninfo strings.
    The runtime login role is never superuser, never BYPASSRLS and owns nothing.
    Idempotent, and safe when several processes provision at once (they take
    turns on an advisory lock).
    """
    async with await psycopg.AsyncConnection.connect(admin_url, autocommit=True) as conn:
        # Released when the session ends, whatever happens in between.
        await conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        await _provision(conn, database, password)
    params: dict[str, Any] = dict(conninfo_to_dict(admin_url))
    params.pop("password", None)
    params["dbname"] = database
    if password is not None:
        params["password"] = password
    return Provisioned(
        migration_url=make_conninfo("", **{**params, "user": OWNER_ROLE}),
        runtime_url=make_conninfo("", **{**params, "user": RUNTIME_LOGIN_ROLE}),
    )
