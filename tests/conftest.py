"""Fixtures: a real PostgreSQL (embedded, or IDENTITY_CONTEXT_TEST_DATABASE_URL) and servers."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

sys.path.insert(0, str(Path(__file__).resolve().parent))

from psycopg_pool import AsyncConnectionPool  # noqa: E402
from support import RsaTestIssuer  # noqa: E402
from world import World, build_world  # noqa: E402

from identity_context.adapters.postgres.embedded import EmbeddedPostgres  # noqa: E402
from identity_context.adapters.postgres.migrations import apply_migrations  # noqa: E402
from identity_context.adapters.postgres.provisioning import provision  # noqa: E402
from identity_context.adapters.postgres.unit_of_work import PostgresStore  # noqa: E402
from identity_context.application.ports import UnitOfWork  # noqa: E402
from identity_context.bootstrap import IdentityContextService  # noqa: E402
from identity_context.config import Settings  # noqa: E402
from identity_context.domain.changes import Change, ChangeContext, Decision  # noqa: E402
from identity_context.domain.identifiers import PLATFORM_TENANT, TenantId  # noqa: E402
from identity_context.domain.tenancy import AccountState  # noqa: E402


@dataclass(frozen=True)
class ProvisionedDatabase:
    """A freshly provisioned, migrated database on the test server."""

    admin_url: str
    database: str
    runtime_url: str
    migration_url: str


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Superuser conninfo of a real PostgreSQL server for the whole session."""
    given = os.environ.get("IDENTITY_CONTEXT_TEST_DATABASE_URL")
    if given:
        yield given
        return
    embedded = EmbeddedPostgres(tmp_path_factory.mktemp("pg"))
    url = embedded.start()
    try:
        yield url
    finally:
        embedded.stop()


async def make_database(admin_url: str, *, migrate: bool = True) -> ProvisionedDatabase:
    """Provision a new database (roles with a random password) and migrate it."""
    name = f"ic_test_{secrets.token_hex(4)}"
    provisioned = await provision(admin_url, database=name, password=_ROLE_PASSWORD)
    if migrate:
        await apply_migrations(provisioned.migration_url)
    return ProvisionedDatabase(admin_url, name, provisioned.runtime_url, provisioned.migration_url)


# One password for the whole run: provisioning sets it on the shared roles.
_ROLE_PASSWORD = secrets.token_urlsafe(16)


@pytest.fixture(scope="session")
async def database(pg_admin_url: str) -> ProvisionedDatabase:
    """One migrated database shared by the session's servers."""
    return await make_database(pg_admin_url)


@pytest.fixture(scope="session")
def test_issuer(tmp_path_factory: pytest.TempPathFactory) -> RsaTestIssuer:
    """An RS256 issuer trusted by the test servers."""
    return RsaTestIssuer(tmp_path_factory.mktemp("issuer"))


@dataclass
class RunningService:
    """An in-process service on a loopback port, with its span exporter."""

    service: IdentityContextService
    spans: InMemorySpanExporter
    settings: Settings

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.service.port}"


async def start_service(settings: Settings) -> RunningService:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    service = IdentityContextService(settings, tracer_provider=provider)
    await service.start()
    for _ in range(200):
        from grpc_health.v1 import health_pb2

        status = service.health._server_status.get("")
        if status == health_pb2.HealthCheckResponse.SERVING:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("service never became SERVING")
    return RunningService(service, exporter, settings)


@pytest.fixture(scope="session")
async def running(
    database: ProvisionedDatabase,
    test_issuer: RsaTestIssuer,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[RunningService]:
    """The service in development mode: test issuer plus the local issuer."""
    settings = Settings(
        listen="127.0.0.1:0",
        data_dir=tmp_path_factory.mktemp("data"),
        database_url=database.runtime_url,
        migration_database_url=database.migration_url,
        issuers_file=test_issuer.issuers_path,
        shutdown_grace_s=1.0,
        token_leeway_s=5.0,
        hat_sweep_s=0.2,  # expired hats end (and are recorded) quickly
    )
    started = await start_service(settings)
    try:
        yield started
    finally:
        await started.service.stop()


@pytest.fixture
async def admin_conn(
    pg_admin_url: str, database: ProvisionedDatabase
) -> AsyncIterator[psycopg.AsyncConnection[tuple[object, ...]]]:
    """A superuser connection to the session database."""
    params = psycopg.conninfo.conninfo_to_dict(pg_admin_url)
    params["dbname"] = database.database
    async with await psycopg.AsyncConnection.connect(
        psycopg.conninfo.make_conninfo("", **params), autocommit=True
    ) as conn:
        yield conn


@pytest.fixture(scope="session")
async def runtime_pool(database: ProvisionedDatabase) -> AsyncIterator[AsyncConnectionPool]:
    """A pool of runtime-role connections to the session database."""
    pool = AsyncConnectionPool(
        database.runtime_url, min_size=1, max_size=8, open=False, kwargs={"autocommit": False}
    )
    await pool.open(wait=True)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture(scope="session")
def store(runtime_pool: AsyncConnectionPool) -> PostgresStore:
    """The Store adapter over the runtime pool."""
    return PostgresStore(runtime_pool)


def unique_tenant(prefix: str = "t") -> TenantId:
    """A fresh tenant id (tests share one database)."""
    return TenantId(f"{prefix}-{secrets.token_hex(4)}")


def context(
    tenant: TenantId,
    *,
    actor: str = "user:tester",
    platform: bool = False,
    request_id: str = "",
    correlation_id: str = "test-correlation",
) -> ChangeContext:
    return ChangeContext(
        tenant=tenant,
        actor=actor,
        actor_tenant=PLATFORM_TENANT if platform else tenant,
        correlation_id=correlation_id,
        request_id=request_id,
        platform=platform,
    )


async def create_tenant(store: PostgresStore, tenant: TenantId) -> None:
    """Create *tenant* through the platform path, audited in tenant:platform."""

    async def work(uow: UnitOfWork) -> None:
        await uow.tenants.platform_create(tenant, f"Tenant {tenant.slug}")
        await uow.record(
            Change(
                "platform.tenant.create",
                "tenant.created",
                {"tenant_id": str(tenant)},
                Decision(True, ("test",)),
                target_tenant=tenant,
            )
        )

    await store.run(context(PLATFORM_TENANT, platform=True), work)


async def add_account(
    store: PostgresStore, tenant: TenantId, user_id: str, state: AccountState = AccountState.ACTIVE
) -> None:
    """Create an account in *tenant* (audited)."""

    async def work(uow: UnitOfWork) -> None:
        await uow.accounts.insert(user_id, user_id, state)
        await uow.record(
            Change(
                "tenant.user.upsert",
                "tenant_user.created",
                {"user_id": user_id, "state": state.value},
                Decision(True, ("test",)),
            )
        )

    await store.run(context(tenant), work)


@pytest.fixture(scope="session")
async def world(running: RunningService) -> AsyncIterator[World]:
    """Operator, two onboarded tenants with admins, on the session's server."""
    built = await build_world(running.settings, running.address)
    try:
        yield built
    finally:
        await built.channel.close()
