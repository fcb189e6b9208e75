"""``identity-context serve`` as a subprocess, driven by the real grpcurl binary."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import psycopg
import pytest
from conftest import ProvisionedDatabase
from grpc_health.v1 import health_pb2, health_pb2_grpc
from support import REPO, RsaTestIssuer, ServerProcess, cli, tool

pytestmark = pytest.mark.e2e

SERVICES = [
    "identitycontext.v1.ActiveContextService",
    "identitycontext.v1.FactExportService",
    "identitycontext.v1.MembershipService",
    "identitycontext.v1.TenantAdminService",
]


def grpcurl(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("grpcurl"), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def store_env(database: ProvisionedDatabase) -> dict[str, str]:
    return {
        "IDENTITY_CONTEXT_DATABASE_URL": database.runtime_url,
        "IDENTITY_CONTEXT_MIGRATION_DATABASE_URL": database.migration_url,
    }


@pytest.fixture
def served(database: ProvisionedDatabase, tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(
        {**store_env(database), "IDENTITY_CONTEXT_DATA_DIR": str(tmp_path / "data")},
        cwd=tmp_path,
    )
    try:
        yield server.wait_serving()
    finally:
        server.kill()


def test_grpcurl_lists_all_services_health_and_reflection(served: ServerProcess) -> None:
    listed = grpcurl("-plaintext", served.address, "list")
    assert listed.returncode == 0, listed.stderr
    names = listed.stdout.split()
    for service in [*SERVICES, "grpc.health.v1.Health"]:
        assert service in names
    assert any(name.startswith("grpc.reflection.") for name in names)


@pytest.mark.parametrize("service", [*SERVICES, "grpc.health.v1.Health"])
def test_grpcurl_describes_each_service(served: ServerProcess, service: str) -> None:
    described = grpcurl("-plaintext", served.address, "describe", service)
    assert described.returncode == 0, described.stderr
    assert f"{service} is a service" in described.stdout
    assert "rpc " in described.stdout


def test_grpcurl_describes_a_message_with_comments(served: ServerProcess) -> None:
    described = grpcurl("-plaintext", served.address, "describe", "identitycontext.v1.Membership")
    assert described.returncode == 0, described.stderr
    assert "string relation = 3;" in described.stdout


def test_grpcurl_call_with_dev_token_reaches_the_service(
    served: ServerProcess, tmp_path: Path
) -> None:
    minted = subprocess.run(
        [*cli(), "dev-token", "--subject", "user:alice", "--tenant", "tenant:coulomb"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "IDENTITY_CONTEXT_DATA_DIR": str(tmp_path / "data")},
    )
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    answered = grpcurl(
        "-plaintext",
        "-H",
        f"authorization: Bearer {token}",
        "-H",
        "x-tenant-id: tenant:coulomb",
        "-H",
        "x-correlation-id: e2e-1",
        "-d",
        '{"user_id": "user:alice"}',
        served.address,
        "identitycontext.v1.TenantAdminService/GetTenantUser",
    )
    # The token is accepted and alice may read her own account; she has none.
    assert "Code: NotFound" in answered.stderr, answered.stderr
    assert '"reason":"NOT_FOUND"' in answered.stderr.replace(" ", "")


def test_grpcurl_health_check_reports_serving(served: ServerProcess) -> None:
    checked = grpcurl("-plaintext", served.address, "grpc.health.v1.Health/Check")
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["status"] == "SERVING"


def test_health_command_exits_zero_only_when_serving(served: ServerProcess) -> None:
    ok = subprocess.run(
        [*cli(), "health", "--address", served.address], capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0, ok.stderr
    assert "SERVING" in ok.stdout
    down = subprocess.run(
        [*cli(), "health", "--address", "127.0.0.1:1", "--timeout", "1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert down.returncode == 1
    # One short line, not an exception's repr.
    assert down.stderr.strip() == "127.0.0.1:1: UNAVAILABLE: no server answered"


def test_sigterm_turns_health_not_serving_then_exits_zero(served: ServerProcess) -> None:
    statuses: queue.Queue[int] = queue.Queue()
    channel = grpc.insecure_channel(served.address)
    stream = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""))

    def watch() -> None:
        try:
            for reply in stream:
                statuses.put(reply.status)
        except grpc.RpcError:
            pass

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert statuses.get(timeout=10) == health_pb2.HealthCheckResponse.SERVING
    served.process.send_signal(signal.SIGTERM)
    assert statuses.get(timeout=10) == health_pb2.HealthCheckResponse.NOT_SERVING
    assert served.process.wait(30) == 0, served.log
    watcher.join(10)
    channel.close()
    assert "identity-context stopped" in served.log


def test_production_with_local_issuer_refuses_to_start(
    database: ProvisionedDatabase, tmp_path: Path
) -> None:
    refused = subprocess.run(
        [*cli(), "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env={
            **os.environ,
            **store_env(database),
            "IDENTITY_CONTEXT_MODE": "production",
            "IDENTITY_CONTEXT_LOCAL_ISSUER": "on",
            "IDENTITY_CONTEXT_LISTEN": "127.0.0.1:0",
        },
    )
    assert refused.returncode == 2
    assert "IDENTITY_CONTEXT_LOCAL_ISSUER=on is not allowed in production" in refused.stderr


def test_production_without_local_issuer_starts_and_serves(
    database: ProvisionedDatabase, test_issuer: RsaTestIssuer, tmp_path: Path
) -> None:
    server = ServerProcess(
        {
            **store_env(database),
            "IDENTITY_CONTEXT_MODE": "production",
            "IDENTITY_CONTEXT_ISSUERS_FILE": str(test_issuer.issuers_path),
        },
        cwd=tmp_path,
    )
    try:
        server.wait_serving()
        assert server.terminate() == 0
    finally:
        server.kill()


def test_dev_token_is_refused_in_production_mode(tmp_path: Path) -> None:
    refused = subprocess.run(
        [*cli(), "dev-token", "--subject", "user:alice", "--tenant", "tenant:coulomb"],
        capture_output=True,
        text=True,
        check=False,
        env={
            **os.environ,
            "IDENTITY_CONTEXT_MODE": "production",
            "IDENTITY_CONTEXT_DATABASE_URL": "postgresql://unused",
            "IDENTITY_CONTEXT_DATA_DIR": str(tmp_path),
        },
    )
    assert refused.returncode == 2
    assert not refused.stdout.strip()


def test_serve_refuses_a_runtime_role_that_bypasses_rls(
    pg_admin_url: str, database: ProvisionedDatabase, tmp_path: Path
) -> None:
    superuser_url = psycopg.conninfo.make_conninfo(pg_admin_url, dbname=database.database)
    server = ServerProcess(
        {
            "IDENTITY_CONTEXT_DATABASE_URL": superuser_url,
            "IDENTITY_CONTEXT_MIGRATE_ON_START": "off",
            "IDENTITY_CONTEXT_DATA_DIR": str(tmp_path / "data"),
        },
        cwd=tmp_path,
    )
    try:
        assert server.process.wait(60) == 3
    finally:
        server.kill()
    assert "can bypass row-level security" in server.log


def test_readme_first_command_serves_with_embedded_postgres(tmp_path: Path) -> None:
    """What README's first command runs: no database settings, embedded PostgreSQL."""
    readme = (REPO / "README.md").read_text()
    assert "identity-context serve" in readme.split("\n## ", 1)[0]
    server = ServerProcess({}, cwd=tmp_path)
    try:
        server.wait_serving(timeout=120)
        assert (tmp_path / ".identity-context" / "postgres" / "PG_VERSION").exists()
        listed = grpcurl("-plaintext", server.address, "list")
        assert "identitycontext.v1.TenantAdminService" in listed.stdout
        assert server.terminate() == 0, server.log
    finally:
        server.kill()
    # The embedded server was stopped with the service.
    assert not (tmp_path / ".identity-context" / "postgres" / "postmaster.pid").exists()
