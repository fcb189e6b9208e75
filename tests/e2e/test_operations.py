"""Operating the real ``identity-context`` process: drain on SIGTERM, the access log,
bootstrap beside a server, several replicas starting together, reflection that
documents every file."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import grpc
import pytest
from conftest import ProvisionedDatabase
from identitycontext.v1 import tenant_admin_pb2, tenant_admin_pb2_grpc
from support import ServerProcess, cli, tool

from identity_context.adapters.auth.local_issuer import LocalIssuer

pytestmark = pytest.mark.e2e


def store_env(database: ProvisionedDatabase, data: Path) -> dict[str, str]:
    return {
        "IDENTITY_CONTEXT_DATABASE_URL": database.runtime_url,
        "IDENTITY_CONTEXT_MIGRATION_DATABASE_URL": database.migration_url,
        "IDENTITY_CONTEXT_DATA_DIR": str(data),
    }


async def _flood(address: str, token: str, calls: int, channels: int) -> list[grpc.StatusCode]:
    opened = [grpc.aio.insecure_channel(address) for _ in range(channels)]
    metadata = (("authorization", f"Bearer {token}"), ("x-tenant-id", "tenant:coulomb"))

    async def one(index: int) -> grpc.StatusCode:
        stub = tenant_admin_pb2_grpc.TenantAdminServiceStub(opened[index % channels])
        request = tenant_admin_pb2.GetTenantUserRequest(user_id="user:alice")
        try:
            await stub.GetTenantUser(request, metadata=metadata, timeout=30)
        except grpc.aio.AioRpcError as error:
            return error.code()
        return grpc.StatusCode.OK

    try:
        return await asyncio.gather(*(one(i) for i in range(calls)))
    finally:
        for channel in opened:
            await channel.close()


def test_sigterm_drains_every_call_sent_before_it(
    database: ProvisionedDatabase, tmp_path: Path
) -> None:
    server = ServerProcess(
        {
            **store_env(database, tmp_path / "data"),
            "IDENTITY_CONTEXT_SHUTDOWN_PAUSE_S": "0",  # the drain alone must hold
            "IDENTITY_CONTEXT_SHUTDOWN_GRACE_S": "20",
        },
        cwd=tmp_path,
    ).wait_serving()
    token = LocalIssuer(tmp_path / "data").mint("user:alice", "tenant:coulomb")

    async def scenario() -> list[grpc.StatusCode]:
        flood = asyncio.ensure_future(_flood(server.address, token, calls=300, channels=3))
        await asyncio.sleep(0.05)  # every call is on its way
        server.process.send_signal(15)
        return await flood

    try:
        codes = asyncio.run(scenario())
        assert server.process.wait(60) == 0, server.log
    finally:
        server.kill()
    # alice has no account: NOT_FOUND is a completed call; nothing was cut off.
    assert set(codes) == {grpc.StatusCode.NOT_FOUND}, {c: codes.count(c) for c in set(codes)}
    assert "draining" in server.log and "drained" in server.log


def test_access_log_is_one_json_line_per_rpc_on_stdout(
    database: ProvisionedDatabase, tmp_path: Path
) -> None:
    server = ServerProcess(
        {**store_env(database, tmp_path / "data"), "IDENTITY_CONTEXT_LOG_FORMAT": "json"},
        cwd=tmp_path,
    ).wait_serving()
    token = LocalIssuer(tmp_path / "data").mint("user:alice", "tenant:coulomb")
    try:
        with grpc.insecure_channel(server.address) as channel:
            stub = tenant_admin_pb2_grpc.TenantAdminServiceStub(channel)
            for correlation in ("log-1", "log-2"):
                with pytest.raises(grpc.RpcError):
                    stub.GetTenantUser(
                        tenant_admin_pb2.GetTenantUserRequest(user_id="user:alice"),
                        metadata=[
                            ("authorization", f"Bearer {token}"),
                            ("x-tenant-id", "tenant:coulomb"),
                            ("x-correlation-id", correlation),
                        ],
                        timeout=10,
                    )
            with pytest.raises(grpc.RpcError):
                stub.GetTenantUser(tenant_admin_pb2.GetTenantUserRequest(), timeout=10)
        assert server.terminate() == 0
    finally:
        server.kill()
    entries = [json.loads(line) for line in server.stdout_lines]  # every line is JSON
    access = [e for e in entries if e["logger"] == "identity_context.access"]
    assert len(access) == 3, access
    first = next(e for e in access if e.get("correlation_id") == "log-1")
    assert first["rpc"]["method"] == "/identitycontext.v1.TenantAdminService/GetTenantUser"
    assert first["rpc"]["code"] == "NOT_FOUND" and first["rpc"]["reason"] == "NOT_FOUND"
    assert first["rpc"]["actor"] == "user:alice" and first["tenant_id"] == "tenant:coulomb"
    assert first["rpc"]["duration_ms"] >= 0
    anonymous = [e for e in access if e["rpc"]["reason"] == "TOKEN_MISSING"]
    assert len(anonymous) == 1 and anonymous[0]["rpc"]["actor"] == ""
    assert token not in "".join(server.lines)
    assert any("received SIGTERM" in e["message"] for e in entries)


def test_bootstrap_beside_a_running_server_leaves_its_database_running(tmp_path: Path) -> None:
    server = ServerProcess({}, cwd=tmp_path).wait_serving(timeout=120)
    try:
        made = subprocess.run(
            [*cli(), "bootstrap-platform", "--operator", "user:olivia"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=tmp_path,
        )
        assert made.returncode == 0, made.stderr
        assert "embedded PostgreSQL stopped" not in made.stdout + made.stderr
        assert "detached" in made.stdout + made.stderr
        token = LocalIssuer(tmp_path / ".identity-context").mint("user:olivia", "tenant:platform")
        with grpc.insecure_channel(server.address) as channel:
            reply = tenant_admin_pb2_grpc.TenantAdminServiceStub(channel).GetTenant(
                tenant_admin_pb2.GetTenantRequest(),
                metadata=[("authorization", f"Bearer {token}"), ("x-tenant-id", "tenant:platform")],
                timeout=10,
            )
        assert reply.tenant.tenant_id == "tenant:platform"
        assert server.terminate() == 0, server.log
    finally:
        server.kill()


def test_replicas_starting_together_on_one_database_all_serve(tmp_path: Path) -> None:
    replicas = [ServerProcess({}, cwd=tmp_path) for _ in range(3)]
    try:
        for replica in replicas:
            replica.wait_serving(timeout=180)
        for replica in replicas:
            assert "tuple concurrently updated" not in replica.log
    finally:
        for replica in replicas:
            replica.terminate()
            replica.kill()


def test_reflection_documents_every_file_errors_proto_included(
    database: ProvisionedDatabase, tmp_path: Path
) -> None:
    server = ServerProcess(store_env(database, tmp_path / "data"), cwd=tmp_path).wait_serving()
    try:
        described = subprocess.run(
            [
                tool("grpcurl"),
                "-plaintext",
                server.address,
                "describe",
                "identitycontext.v1.ErrorReason",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert described.returncode == 0, described.stderr
        assert "ERROR_REASON_TOKEN_EXPIRED" in described.stdout
        assert "get a new token" in described.stdout  # the proto comment
        field = subprocess.run(
            [
                tool("grpcurl"),
                "-plaintext",
                server.address,
                "describe",
                "identitycontext.v1.GrantMembershipRequest.relation",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert field.returncode == 0, field.stderr
        assert "//" in field.stdout, field.stdout
    finally:
        server.kill()
