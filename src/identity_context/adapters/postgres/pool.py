"""The runtime connection pool and the store's readiness probe."""

from __future__ import annotations

import asyncio

import psycopg
from psycopg_pool import AsyncConnectionPool

from identity_context.adapters.postgres.migrations import MigrationError, pending

__all__ = ["open_pool", "pool_answers", "store_ready"]


async def open_pool(
    conninfo: str, *, min_size: int = 2, max_size: int = 10, timeout_s: float = 5.0
) -> AsyncConnectionPool:
    """Create the pool of runtime-role connections without waiting for the server.

    Connections are made in the background; use store_ready() to learn when the
    store answers.
    """
    pool = AsyncConnectionPool(
        conninfo,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout_s,
        open=False,
        name="identity-context",
        kwargs={"autocommit": False, "application_name": "identity-context"},
    )
    await pool.open(wait=False)
    return pool


async def store_ready(conninfo: str, *, timeout_s: float = 2.0) -> str | None:
    """Return None when the store answers and is fully migrated, else why not.

    It connects on its own, outside the pool: it tells whether the database is
    reachable now, whatever the pool's reconnection backoff.
    """
    try:
        async with await psycopg.AsyncConnection.connect(
            conninfo, connect_timeout=max(1, int(timeout_s)), autocommit=True
        ) as conn:
            missing = await asyncio.wait_for(pending(conn), timeout_s)
    except (psycopg.Error, OSError) as exc:
        return f"store unreachable: {type(exc).__name__}"
    except MigrationError as exc:
        return f"store schema conflicts with this build: {exc}"
    except TimeoutError:
        return "store unreachable: timeout"
    if missing:
        return f"store not migrated: {len(missing)} pending migration(s)"
    return None


async def pool_answers(pool: AsyncConnectionPool, *, timeout_s: float = 0.5) -> bool:
    """True when the pool hands out a working connection within *timeout_s*."""
    try:
        async with pool.connection(timeout=timeout_s) as conn:
            await conn.execute("SELECT 1")
            # COMMIT, not ROLLBACK: a rollback makes psycopg drop the pooled
            # connection's prepared statements.
            await conn.commit()
    except (psycopg.Error, OSError, TimeoutError):
        return False
    return True
