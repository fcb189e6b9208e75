"""The authorization port fails closed: no answer means UNAVAILABLE and nothing written."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest
from conftest import (
    ProvisionedDatabase,
    RunningService,
    create_tenant,
    start_service,
    unique_tenant,
)
from identitycontext.v1 import common_pb2, tenant_admin_pb2
from world import Caller, World

from identity_context.adapters.auth.local_issuer import LocalIssuer
from identity_context.adapters.authz.authzen import AuthZenClient
from identity_context.adapters.postgres.unit_of_work import PostgresStore
from identity_context.config import Settings
from identity_context.domain.identifiers import TenantId

UNAVAILABLE = (grpc.StatusCode.UNAVAILABLE, "AUTHZ_UNAVAILABLE")


class AuthZenServer:
    """A real AuthZEN endpoint on loopback whose behaviour the test picks."""

    def __init__(self) -> None:
        self.mode = "allow"
        self.discovery: dict[str, Any] | None = None  # the well-known document, None: 404
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                outer.requests.append({"path": self.path, "body": None})
                if self.path == "/.well-known/authzen-configuration" and outer.discovery:
                    self._send(200, outer.discovery)
                else:
                    self._send(404, {"error": "not found"})

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(
                    {
                        "path": self.path,
                        "body": body,
                        "authorization": self.headers["Authorization"],
                    }
                )
                mode = outer.mode
                if mode == "timeout":
                    time.sleep(2.0)
                if mode == "500":
                    self._send(500, {"error": "boom"})
                elif mode == "yes":
                    self._send(200, {"decision": "yes"})
                elif mode == "duplicate-decision":
                    self._send(200, None, raw=b'{"decision": false, "decision": true}')
                elif mode == "one":
                    self._send(200, {"decision": 1})
                elif mode == "null":
                    self._send(200, {"decision": None})
                elif mode == "not-json":
                    self._send(200, None, raw=b"<html>")
                elif self.path.endswith("/evaluations"):
                    count = len(body["evaluations"]) - (1 if mode == "short-batch" else 0)
                    self._send(200, {"evaluations": [{"decision": True}] * count})
                elif mode == "deny":
                    self._send(
                        200, {"decision": False, "context": {"reason": "CROSS_TENANT_DENIED"}}
                    )
                else:
                    self._send(
                        200, {"decision": True, "context": {"policy_ids": ["remote-policy-7"]}}
                    )

            def _send(self, status: int, payload: Any, raw: bytes | None = None) -> None:
                data = raw if raw is not None else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def authzen_server() -> Iterator[AuthZenServer]:
    server = AuthZenServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
async def remote(
    database: ProvisionedDatabase, authzen_server: AuthZenServer, tmp_path: Path
) -> AsyncIterator[RunningService]:
    settings = Settings(
        listen="127.0.0.1:0",
        data_dir=tmp_path,
        database_url=database.runtime_url,
        migration_database_url=database.migration_url,
        shutdown_grace_s=0.5,
        authz="authzen",
        authzen_url=authzen_server.url,
        authz_timeout_s=0.5,
        authz_selftest=False,  # this PDP answers what each test picks, not the manifest
    )
    started = await start_service(settings)
    try:
        yield started
    finally:
        await started.service.stop()


async def _seeded(running: RunningService) -> tuple[Caller, TenantId]:
    tenant = unique_tenant("authz")
    assert running.service.store is not None
    await create_tenant(running.service.store, tenant)
    channel = grpc.aio.insecure_channel(running.address)
    token = LocalIssuer(running.settings.data_dir).mint("user:zed", str(tenant))
    return Caller(channel, token, str(tenant)), tenant


async def _written(store: PostgresStore, tenant: TenantId) -> tuple[int, int]:
    from conftest import context

    async def read(uow: Any) -> tuple[int, int]:
        row = await uow.tenants.get()
        accounts = await uow.accounts.list(after="", state=None, limit=10)
        return row.last_seq, len(accounts)

    return await store.run(context(tenant), read, read_only=True)


UPSERT = tenant_admin_pb2.UpsertTenantUserRequest(
    user_id="user:victim", initial_state=common_pb2.ACCOUNT_STATE_ACTIVE
)


@pytest.mark.parametrize(
    "mode", ["timeout", "500", "yes", "not-json", "duplicate-decision", "one", "null"]
)
async def test_authzen_failure_is_unavailable_and_writes_nothing(
    remote: RunningService, authzen_server: AuthZenServer, mode: str
) -> None:
    caller, tenant = await _seeded(remote)
    authzen_server.mode = mode
    assert await caller.fails("TenantAdminService", "UpsertTenantUser", UPSERT) == UNAVAILABLE
    assert remote.service.store is not None
    assert await _written(remote.service.store, tenant) == (0, 0)
    await caller.channel.close()


async def test_hat_selection_and_the_hot_path_fail_closed_when_the_port_fails(
    remote: RunningService, authzen_server: AuthZenServer
) -> None:
    from identitycontext.v1 import active_context_pb2 as ac

    caller, tenant = await _seeded(remote)
    authzen_server.mode = "allow"
    await caller.call("TenantAdminService", "UpsertTenantUser", UPSERT)
    slug = tenant.slug
    hat = f"profile:{slug}/p@realm:{slug}/r"
    for mode in ("500", "timeout"):
        authzen_server.mode = mode
        assert (
            await caller.fails(
                "ActiveContextService",
                "SelectActiveHat",
                ac.SelectActiveHatRequest(user_id="user:victim", hat_id=hat),
            )
            == UNAVAILABLE
        )
        assert (
            await caller.fails(
                "ActiveContextService",
                "GetIdentityContext",
                ac.GetIdentityContextRequest(user_id="user:victim"),
            )
            == UNAVAILABLE
        )
    assert remote.service.store is not None
    assert await _written(remote.service.store, tenant) == (1, 1)  # only the upsert
    await caller.channel.close()


async def test_authzen_deny_is_permission_denied_with_its_reason(
    remote: RunningService, authzen_server: AuthZenServer
) -> None:
    caller, tenant = await _seeded(remote)
    authzen_server.mode = "deny"
    assert await caller.fails("TenantAdminService", "UpsertTenantUser", UPSERT) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "CROSS_TENANT_DENIED",
    )
    await caller.channel.close()


async def test_authzen_allow_writes_with_the_remote_policy_ids(
    remote: RunningService, authzen_server: AuthZenServer, admin_conn
) -> None:
    caller, tenant = await _seeded(remote)
    authzen_server.mode = "allow"
    authzen_server.requests.clear()
    reply = await caller.call("TenantAdminService", "UpsertTenantUser", UPSERT)
    assert reply.created
    sent = authzen_server.requests[-1]
    assert sent["path"] == "/access/v1/evaluation"
    body = sent["body"]
    assert body["subject"] == {
        "type": "user",
        "id": "user:zed",
        "properties": {
            "actor_tenant": str(tenant),
            "assurance_level": 0,
            "roles": [],
            "active_hat": "",
        },
    }
    assert body["action"] == {"name": "tenant.user.upsert"}
    assert body["resource"]["type"] == "tenant_user"
    assert body["resource"]["properties"]["tenant"] == str(tenant)
    assert body["context"]["correlation_id"] == caller.last_correlation_id
    row = await (
        await admin_conn.execute(
            "SELECT policy_ids FROM audit_records WHERE tenant_id = %s AND correlation_id = %s",
            (str(tenant), caller.last_correlation_id),
        )
    ).fetchone()
    assert row == (["remote-policy-7"],)
    await caller.channel.close()


async def test_authzen_batch_evaluations(authzen_server: AuthZenServer) -> None:
    from identity_context.application.authorization import (
        AuthorizationUnavailable,
        AuthzEntity,
        AuthzRequest,
    )

    client = AuthZenClient(authzen_server.url)
    request = AuthzRequest(
        AuthzEntity("user", "user:a"), "tenant.read", AuthzEntity("tenant", "tenant:x")
    )
    other = AuthzRequest(
        AuthzEntity("user", "user:a"), "tenant.read", AuthzEntity("tenant", "tenant:y")
    )
    try:
        authzen_server.mode = "allow"
        decisions = await client.evaluate_batch([request, other], timeout_s=1)
        assert [d.allowed for d in decisions] == [True, True]
        assert authzen_server.requests[-1]["path"] == "/access/v1/evaluations"
        assert len(authzen_server.requests[-1]["body"]["evaluations"]) == 2
        # Two questions about one resource never share a call (engines key answers by resource).
        before = len(authzen_server.requests)
        decisions = await client.evaluate_batch([request, request, other], timeout_s=1)
        assert [d.allowed for d in decisions] == [True, True, True]
        sizes = sorted(
            len(r["body"]["evaluations"]) for r in authzen_server.requests[before:] if r["body"]
        )
        assert sizes == [1, 2]
        authzen_server.mode = "short-batch"
        with pytest.raises(AuthorizationUnavailable):
            await client.evaluate_batch([request, other], timeout_s=1)
    finally:
        await client.close()


async def test_authzen_endpoints_come_from_the_discovery_document(
    authzen_server: AuthZenServer, tmp_path: Path
) -> None:
    from identity_context.application.authorization import AuthzEntity, AuthzRequest
    from identity_context.bootstrap import build_authorization

    request = AuthzRequest(
        AuthzEntity("user", "user:a"), "tenant.read", AuthzEntity("tenant", "tenant:x")
    )
    settings = Settings(
        data_dir=tmp_path,
        authz="authzen",
        authzen_url=authzen_server.url,
        authzen_token="pdp-secret",
    )
    authzen_server.mode = "allow"
    authzen_server.discovery = {
        "policy_decision_point": authzen_server.url,
        "access_evaluation_endpoint": f"{authzen_server.url}/v2/evaluation",
        "access_evaluations_endpoint": f"{authzen_server.url}/v2/evaluations",
    }
    client = build_authorization(settings)
    assert isinstance(client, AuthZenClient)
    try:
        assert (await client.evaluate(request, timeout_s=1)).allowed
        asked = authzen_server.requests[-1]
        assert asked["path"] == "/v2/evaluation"
        assert asked["authorization"] == "Bearer pdp-secret"
        await client.evaluate_batch([request], timeout_s=1)
        assert authzen_server.requests[-1]["path"] == "/v2/evaluations"
    finally:
        await client.close()
        authzen_server.discovery = None
    # No discovery document: the configured (default) paths, and no token unless configured.
    plain = AuthZenClient(authzen_server.url)
    try:
        assert (await plain.evaluate(request, timeout_s=1)).allowed
        asked = authzen_server.requests[-1]
        assert asked["path"] == "/access/v1/evaluation"
        assert asked["authorization"] is None
    finally:
        await plain.close()


async def test_authzen_batches_respect_the_batch_limit(authzen_server: AuthZenServer) -> None:
    from dataclasses import replace

    from identity_context.adapters.authz.mapping import load_mapping
    from identity_context.application.authorization import AuthzEntity, AuthzRequest

    client = AuthZenClient(
        authzen_server.url, mapping=replace(load_mapping("generic"), batch_limit=2)
    )
    requests = [
        AuthzRequest(AuthzEntity("user", "user:a"), "tenant.read", AuthzEntity("tenant", f"t:{i}"))
        for i in range(5)
    ]
    try:
        authzen_server.mode = "allow"
        before = len(authzen_server.requests)
        decisions = await client.evaluate_batch(requests, timeout_s=1)
        assert len(decisions) == 5 and all(d.allowed for d in decisions)
        sizes = sorted(
            len(r["body"]["evaluations"]) for r in authzen_server.requests[before:] if r["body"]
        )
        assert sizes == [1, 2, 2]
    finally:
        await client.close()


async def test_embedded_engine_raising_is_unavailable_and_writes_nothing(
    world: World, running: RunningService, monkeypatch: pytest.MonkeyPatch
) -> None:
    import identity_context.adapters.authz.cedar as cedar_adapter

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("policy engine crashed")

    before = (
        await world.admin.call(
            "TenantAdminService", "GetTenant", tenant_admin_pb2.GetTenantRequest()
        )
    ).tenant.last_seq
    monkeypatch.setattr(cedar_adapter.cedarpy, "is_authorized", explode)
    assert (
        await world.admin.fails(
            "TenantAdminService",
            "UpsertTenantUser",
            tenant_admin_pb2.UpsertTenantUserRequest(user_id="user:never"),
        )
        == UNAVAILABLE
    )
    monkeypatch.undo()
    after = (
        await world.admin.call(
            "TenantAdminService", "GetTenant", tenant_admin_pb2.GetTenantRequest()
        )
    ).tenant.last_seq
    assert after == before
