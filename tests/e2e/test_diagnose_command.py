"""``identity-context diagnose``: through a running server or straight against the database."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path

import grpc
import pytest
from conftest import ProvisionedDatabase
from identitycontext.v1 import tenant_admin_pb2, tenant_admin_pb2_grpc
from support import ServerProcess, cli

from identity_context.adapters.auth.local_issuer import LocalIssuer
from identity_context.bootstrap import bootstrap_platform
from identity_context.config import Settings

pytestmark = pytest.mark.e2e


def diagnose(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("IDENTITY_CONTEXT_")}
    return subprocess.run(
        [*cli(), "diagnose", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
        env={**clean, **env},
    )


@pytest.fixture
async def fresh_tenant(
    database: ProvisionedDatabase, tmp_path: Path
) -> tuple[ServerProcess, str, str, dict[str, str]]:
    env = {
        "IDENTITY_CONTEXT_DATABASE_URL": database.runtime_url,
        "IDENTITY_CONTEXT_MIGRATION_DATABASE_URL": database.migration_url,
        "IDENTITY_CONTEXT_DATA_DIR": str(tmp_path / "data"),
    }
    server = ServerProcess(env, cwd=tmp_path).wait_serving()
    operator = f"user:op-{secrets.token_hex(3)}"
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database.runtime_url,
        migration_database_url=database.migration_url,
    )
    await bootstrap_platform(settings, operator)
    token = LocalIssuer(tmp_path / "data").mint(operator, "tenant:platform", acr="aal2")
    tenant = f"tenant:cli-{secrets.token_hex(3)}"
    with grpc.insecure_channel(server.address) as channel:
        tenant_admin_pb2_grpc.TenantAdminServiceStub(channel).CreateTenant(
            tenant_admin_pb2.CreateTenantRequest(tenant_id=tenant),
            metadata=[("authorization", f"Bearer {token}"), ("x-tenant-id", "tenant:platform")],
            timeout=10,
        )
    return server, token, tenant, env


async def test_exit_code_follows_the_worst_status_and_json_has_the_same_checks(
    fresh_tenant: tuple[ServerProcess, str, str, dict[str, str]], tmp_path: Path
) -> None:
    server, token, tenant, env = fresh_tenant
    try:
        table = diagnose(
            tenant, "--address", server.address, "--token", token, env={}, cwd=tmp_path
        )
        assert table.returncode == 1, table.stderr
        assert f"{tenant}: NOT READY" in table.stdout
        assert "FAIL  administration.admins" in table.stdout and "remedy:" in table.stdout
        as_json = diagnose(
            tenant, "--json", "--address", server.address, "--token", token, env={}, cwd=tmp_path
        )
        assert as_json.returncode == 1
        report = json.loads(as_json.stdout)
        assert report["tenant_id"] == tenant and report["ready"] is False
        names = [c["name"] for c in report["checks"]]
        assert names and all(name in table.stdout for name in names)
        statuses = {c["name"]: c["status"] for c in report["checks"]}
        assert statuses["applications.required_bound"] == "FAIL"
        assert token not in table.stdout + as_json.stdout
        # Straight against the database, as an operator tool: the same checks.
        direct = diagnose(tenant, "--json", env=env, cwd=tmp_path)
        assert direct.returncode == 1, direct.stderr
        assert [c["name"] for c in json.loads(direct.stdout)["checks"]] == names
    finally:
        server.kill()


async def test_a_policy_engine_that_does_not_answer_fails_its_check(
    fresh_tenant: tuple[ServerProcess, str, str, dict[str, str]], tmp_path: Path
) -> None:
    server, _, tenant, env = fresh_tenant
    server.kill()
    broken = {
        **env,
        "IDENTITY_CONTEXT_AUTHZ": "authzen",
        "IDENTITY_CONTEXT_AUTHZEN_URL": "http://127.0.0.1:1",
        "IDENTITY_CONTEXT_AUTHZ_TIMEOUT_S": "0.5",
    }
    direct = diagnose(tenant, "--json", env=broken, cwd=tmp_path)
    assert direct.returncode == 1, direct.stderr
    statuses = {c["name"]: c["status"] for c in json.loads(direct.stdout)["checks"]}
    assert statuses["policy.engine"] == "FAIL"


def test_a_malformed_tenant_is_refused(tmp_path: Path) -> None:
    refused = diagnose("coulomb", env={}, cwd=tmp_path)
    assert refused.returncode == 2 and "tenant" in refused.stderr
