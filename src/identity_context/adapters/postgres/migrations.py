"""Versioned SQL migrations shipped in ``migrations/NNNN_name.sql``, applied in order, once."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg

__all__ = ["Migration", "MigrationError", "apply_migrations", "available_migrations", "pending"]

_log = logging.getLogger(__name__)
_NAME = re.compile(r"(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql")
# Any constant works; it only has to be the same for every migrator of this schema.
_LOCK_KEY = 0x1DC0_7E47

_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(RuntimeError):
    """The database's migration history does not match the shipped migrations."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the file's text; an applied migration must never change."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available_migrations() -> list[Migration]:
    """Return the shipped migrations, ordered by version.

    Raise MigrationError when two files share a version.
    """
    found: dict[int, Migration] = {}
    for entry in (resources.files(__package__) / "migrations").iterdir():
        match = _NAME.fullmatch(entry.name)
        if match is None:
            continue
        migration = Migration(int(match["version"]), match["name"], entry.read_text())
        if migration.version in found:
            raise MigrationError(f"two migrations have version {migration.version}")
        found[migration.version] = migration
    return [found[v] for v in sorted(found)]


async def _applied(conn: psycopg.AsyncConnection[Any]) -> dict[int, str]:
    exists = await (
        await conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
    ).fetchone()
    if not exists or not exists[0]:
        return {}
    rows = await (await conn.execute("SELECT version, checksum FROM schema_migrations")).fetchall()
    return {int(version): str(checksum) for version, checksum in rows}


def _check_history(applied: dict[int, str], shipped: list[Migration]) -> list[Migration]:
    known = {m.version: m for m in shipped}
    unknown = sorted(set(applied) - set(known))
    if unknown:
        raise MigrationError(f"database has migrations this build does not know: {unknown}")
    for version, checksum in applied.items():
        if known[version].checksum != checksum:
            raise MigrationError(f"migration {version} was changed after it was applied")
    return [m for m in shipped if m.version not in applied]


async def pending(conn: psycopg.AsyncConnection[Any]) -> list[Migration]:
    """Return the shipped migrations not yet applied on *conn*'s database.

    Raise MigrationError when the history conflicts with the shipped files.
    """
    return _check_history(await _applied(conn), available_migrations())


async def apply_migrations(conninfo: str) -> list[Migration]:
    """Apply every pending migration, each in its own transaction; return those applied.

    Concurrent migrators serialise on an advisory lock, so running this twice
    (or from two replicas) applies each migration once. Raise MigrationError on
    a conflicting history and psycopg errors when a migration fails (that
    migration is rolled back; earlier ones stay).
    """
    applied_now: list[Migration] = []
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        await conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            await conn.execute(_BOOKKEEPING)
            for migration in await pending(conn):
                async with conn.transaction():
                    await conn.execute(migration.sql.encode())
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum)"
                        " VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                _log.info("applied migration %04d_%s", migration.version, migration.name)
                applied_now.append(migration)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now
