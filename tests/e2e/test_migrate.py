"""``identity-context migrate`` against a server URL and against the embedded database."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import make_database
from support import cli

from identity_context.adapters.postgres.migrations import available_migrations

pytestmark = pytest.mark.e2e


def migrate(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("IDENTITY_CONTEXT_")}
    return subprocess.run(
        [*cli(), "migrate"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=cwd,
        env={**clean, **env},
    )


async def _catalog(url: str) -> list[Any]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        rows = []
        for query in (
            "SELECT relname, relkind, relrowsecurity, relforcerowsecurity FROM pg_class"
            " WHERE relnamespace = 'public'::regnamespace ORDER BY relname",
            "SELECT polname, polrelid::regclass::text FROM pg_policy ORDER BY 2, 1",
            "SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace ORDER BY 1",
            "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version",
            "SELECT grantee, table_name, privilege_type FROM information_schema.table_privileges"
            " WHERE table_schema = 'public' ORDER BY 1, 2, 3",
        ):
            rows.append(await (await conn.execute(query)).fetchall())
        return rows


async def test_migrate_against_a_database_url_is_idempotent(
    pg_admin_url: str, tmp_path: Path
) -> None:
    fresh = await make_database(pg_admin_url, migrate=False)
    env = {
        "IDENTITY_CONTEXT_DATABASE_URL": fresh.runtime_url,
        "IDENTITY_CONTEXT_MIGRATION_DATABASE_URL": fresh.migration_url,
    }
    first = migrate(env, tmp_path)
    assert first.returncode == 0, first.stderr
    shipped = available_migrations()
    assert f"{len(shipped)} migration(s) applied" in first.stdout
    before = await _catalog(fresh.migration_url)
    second = migrate(env, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "0 migration(s) applied" in second.stdout
    assert await _catalog(fresh.migration_url) == before


def test_migrate_against_the_embedded_database_is_idempotent(tmp_path: Path) -> None:
    env = {"IDENTITY_CONTEXT_DATA_DIR": str(tmp_path / "data")}
    first = migrate(env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"{len(available_migrations())} migration(s) applied" in first.stdout
    second = migrate(env, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "0 migration(s) applied" in second.stdout
    # The embedded server migrate started is stopped again.
    assert not (tmp_path / "data" / "postgres" / "postmaster.pid").exists()


async def test_migrate_refuses_a_changed_history(pg_admin_url: str, tmp_path: Path) -> None:
    fresh = await make_database(pg_admin_url)
    async with await psycopg.AsyncConnection.connect(fresh.migration_url) as owner:
        await owner.execute("UPDATE schema_migrations SET checksum = 'tampered' WHERE version = 1")
        await owner.commit()
    refused = migrate(
        {
            "IDENTITY_CONTEXT_DATABASE_URL": fresh.runtime_url,
            "IDENTITY_CONTEXT_MIGRATION_DATABASE_URL": fresh.migration_url,
        },
        tmp_path,
    )
    assert refused.returncode != 0
    assert "changed after it was applied" in refused.stderr


@pytest.mark.parametrize("mode", ["development", "production"])
async def test_migrate_with_only_the_owner_url_migrates_that_database_and_embeds_nothing(
    pg_admin_url: str, tmp_path: Path, mode: str
) -> None:
    fresh = await make_database(pg_admin_url, migrate=False)
    ran = migrate(
        {
            "IDENTITY_CONTEXT_MODE": mode,
            "IDENTITY_CONTEXT_MIGRATION_DATABASE_URL": fresh.migration_url,
        },
        tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    assert f"{len(available_migrations())} migration(s) applied" in ran.stdout
    assert f"database {fresh.database} on" in ran.stdout
    assert not (tmp_path / ".identity-context").exists()  # no embedded database
    async with await psycopg.AsyncConnection.connect(fresh.migration_url) as conn:
        row = await (await conn.execute("SELECT count(*) FROM schema_migrations")).fetchone()
    assert row == (len(available_migrations()),)


def test_production_migrate_without_any_url_refuses(tmp_path: Path) -> None:
    ran = migrate({"IDENTITY_CONTEXT_MODE": "production"}, tmp_path)
    assert ran.returncode == 2
    assert "IDENTITY_CONTEXT_MIGRATION_DATABASE_URL" in ran.stderr
    assert not (tmp_path / ".identity-context").exists()
