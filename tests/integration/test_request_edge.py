"""The request edge against a real server on loopback: tenant, token, correlation, spans."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
import jwt
import pytest
from conftest import RunningService, start_service
from identitycontext.v1 import tenant_admin_pb2, tenant_admin_pb2_grpc
from support import (
    RsaTestIssuer,
    hs256_with_key,
    rich_status,
    unsigned_token,
)

from identity_context.adapters.auth.local_issuer import LocalIssuer
from identity_context.config import Mode

GET_TENANT_USER = tenant_admin_pb2.GetTenantUserRequest(user_id="user:alice")


async def call(
    running: RunningService,
    metadata: list[tuple[str, str]],
) -> tuple[grpc.StatusCode, grpc.aio.AioRpcError]:
    async with grpc.aio.insecure_channel(running.address) as channel:
        stub = tenant_admin_pb2_grpc.TenantAdminServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.GetTenantUser(GET_TENANT_USER, metadata=metadata, timeout=10)
    return raised.value.code(), raised.value


def bearer(token: str) -> tuple[str, str]:
    return ("authorization", f"Bearer {token}")


TENANT = ("x-tenant-id", "tenant:coulomb")


async def test_valid_token_and_tenant_reach_the_handler(
    running: RunningService, test_issuer: RsaTestIssuer
) -> None:
    # alice reads her own account (self-service) and has none: NOT_FOUND from
    # the store proves every interceptor and the policy let the call through.
    code, error = await call(running, [bearer(test_issuer.token()), TENANT])
    assert code is grpc.StatusCode.NOT_FOUND
    info, _ = rich_status(error)
    assert info is not None and info.reason == "NOT_FOUND"
    assert info.domain == "identitycontext"


async def test_missing_tenant_is_invalid_argument_tenant_context_missing(
    running: RunningService, test_issuer: RsaTestIssuer
) -> None:
    code, error = await call(running, [bearer(test_issuer.token())])
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    info, bad = rich_status(error)
    assert info is not None and info.reason == "TENANT_CONTEXT_MISSING"
    assert bad is not None and [v.field for v in bad.field_violations] == ["x-tenant-id"]


@pytest.mark.parametrize(
    "tenant",
    [
        "coulomb",
        "tenant:",
        "tenant:Coulomb",
        "tenant:a",
        "tenant:-abc",
        "tenant:abc/def",
        "tenant:" + "a" * 64,
        "user:alice",
    ],
)
async def test_malformed_tenant_is_invalid_argument_with_field_violation(
    running: RunningService, test_issuer: RsaTestIssuer, tenant: str
) -> None:
    code, error = await call(running, [bearer(test_issuer.token()), ("x-tenant-id", tenant)])
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    info, bad = rich_status(error)
    assert info is not None and info.reason == "TENANT_CONTEXT_INVALID"
    assert bad is not None
    assert [v.field for v in bad.field_violations] == ["x-tenant-id"]


async def test_no_token_is_unauthenticated(running: RunningService) -> None:
    code, error = await call(running, [TENANT])
    assert code is grpc.StatusCode.UNAUTHENTICATED
    info, _ = rich_status(error)
    assert info is not None and info.reason == "TOKEN_MISSING"


def _bad_tokens(issuer: RsaTestIssuer, tmp: Path) -> dict[str, str]:
    now = int(time.time())
    other = RsaTestIssuer(tmp / "other", kid=issuer.kid)
    return {
        "expired": issuer.token(iat=now - 3600, nbf=now - 3600, exp=now - 600),
        "not_yet_valid": issuer.token(nbf=now + 600),
        "wrong_issuer": issuer.token(iss="https://evil.example/"),
        "wrong_audience": issuer.token(aud="some-other-service"),
        "alg_none": unsigned_token(issuer.claims(), {"alg": "none", "typ": "JWT"}),
        "alg_none_with_kid": unsigned_token(
            issuer.claims(), {"alg": "none", "typ": "JWT", "kid": issuer.kid}
        ),
        "hs256_signed_with_public_key": hs256_with_key(
            issuer.claims(), issuer.public_pem, issuer.kid
        ),
        "unknown_kid": issuer.token(headers={"kid": "no-such-key"}),
        "signed_by_another_key_same_kid": other.token(),
        "missing_sub": issuer.token(sub=None),
        "malformed_sub": issuer.token(sub="alice"),
        "missing_tenant_claim": issuer.token(tenant=None),
        "missing_exp": issuer.token(exp=None),
        "garbage": "not.a.jwt",
        "tampered_payload": _tamper(issuer.token()),
    }


def _tamper(token: str) -> str:
    head, body, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["tenant"] = "tenant:platform"
    import base64
    import json

    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{signature}"


BAD_TOKEN_CASES = [
    "expired",
    "not_yet_valid",
    "wrong_issuer",
    "wrong_audience",
    "alg_none",
    "alg_none_with_kid",
    "hs256_signed_with_public_key",
    "unknown_kid",
    "signed_by_another_key_same_kid",
    "missing_sub",
    "malformed_sub",
    "missing_tenant_claim",
    "missing_exp",
    "garbage",
    "tampered_payload",
]


@pytest.mark.parametrize("case", BAD_TOKEN_CASES)
async def test_bad_token_is_unauthenticated(
    running: RunningService, test_issuer: RsaTestIssuer, tmp_path: Path, case: str
) -> None:
    token = _bad_tokens(test_issuer, tmp_path)[case]
    code, error = await call(running, [bearer(token), TENANT])
    assert code is grpc.StatusCode.UNAUTHENTICATED, case
    info, _ = rich_status(error)
    expected = "TOKEN_EXPIRED" if case == "expired" else "TOKEN_INVALID"
    assert info is not None and info.reason == expected
    if case == "expired":
        assert error.details() == "token has expired"


async def test_non_bearer_scheme_is_unauthenticated(
    running: RunningService, test_issuer: RsaTestIssuer
) -> None:
    code, _ = await call(running, [("authorization", f"Basic {test_issuer.token()}"), TENANT])
    assert code is grpc.StatusCode.UNAUTHENTICATED


async def test_local_issuer_token_is_accepted_in_development(running: RunningService) -> None:
    token = LocalIssuer(running.settings.data_dir).mint("user:alice", "tenant:coulomb")
    code, _ = await call(running, [bearer(token), TENANT])
    assert code is grpc.StatusCode.NOT_FOUND


async def test_local_issuer_token_is_unauthenticated_in_production(
    database, test_issuer: RsaTestIssuer, tmp_path: Path
) -> None:
    from identity_context.config import Settings

    settings = Settings(
        mode=Mode.PRODUCTION,
        listen="127.0.0.1:0",
        data_dir=tmp_path,
        database_url=database.runtime_url,
        issuers_file=test_issuer.issuers_path,
        local_issuer=False,
        migrate_on_start=False,
        shutdown_grace_s=0.5,
    )
    production = await start_service(settings)
    try:
        local_token = LocalIssuer(tmp_path).mint("user:alice", "tenant:coulomb")
        code, error = await call(production, [bearer(local_token), TENANT])
        assert code is grpc.StatusCode.UNAUTHENTICATED
        info, _ = rich_status(error)
        assert info is not None and info.reason == "TOKEN_INVALID"
        # The trusted issuer's token still works in the same server.
        code, _ = await call(production, [bearer(test_issuer.token()), TENANT])
        assert code is grpc.StatusCode.NOT_FOUND
    finally:
        await production.service.stop()


async def test_given_correlation_id_is_echoed_in_trailers_and_error_info(
    running: RunningService, test_issuer: RsaTestIssuer
) -> None:
    _, error = await call(
        running, [bearer(test_issuer.token()), TENANT, ("x-correlation-id", "req-4711.a:b")]
    )
    assert ("x-correlation-id", "req-4711.a:b") in tuple(error.trailing_metadata() or ())
    info, _ = rich_status(error)
    assert info is not None and info.metadata["correlation_id"] == "req-4711.a:b"


async def test_correlation_id_is_echoed_in_the_trailers_of_a_successful_call(
    running: RunningService, test_issuer: RsaTestIssuer
) -> None:
    async with grpc.aio.insecure_channel(running.address) as channel:
        stub = tenant_admin_pb2_grpc.TenantAdminServiceStub(channel)
        call = stub.GetTenant(
            tenant_admin_pb2.GetTenantRequest(),
            metadata=[
                bearer(test_issuer.token(tenant="tenant:platform")),
                ("x-tenant-id", "tenant:platform"),
                ("x-correlation-id", "ok-1"),
            ],
            timeout=10,
        )
        with pytest.raises(grpc.aio.AioRpcError):
            await call  # alice is no operator: denied, but the echo is the point
        assert ("x-correlation-id", "ok-1") in tuple(await call.trailing_metadata() or ())


@pytest.mark.parametrize("given", [None, "", "has space", "x" * 129, "semi;colon", "-leading-dash"])
async def test_missing_or_malformed_correlation_id_is_replaced_by_a_generated_one(
    running: RunningService, test_issuer: RsaTestIssuer, given: str | None
) -> None:
    metadata = [bearer(test_issuer.token()), TENANT]
    if given is not None:
        metadata.append(("x-correlation-id", given))
    _, error = await call(running, metadata)
    echoed = dict(error.trailing_metadata() or ())["x-correlation-id"]
    assert echoed and echoed != given
    assert len(echoed) == 32 and all(c in "0123456789abcdef" for c in echoed)


async def test_correlation_id_is_echoed_on_authentication_failure(
    running: RunningService,
) -> None:
    _, error = await call(running, [TENANT, ("x-correlation-id", "denied-1")])
    assert dict(error.trailing_metadata() or ())["x-correlation-id"] == "denied-1"


async def test_server_span_carries_tenant_correlation_id_and_actor_tenant(
    running: RunningService, test_issuer: RsaTestIssuer
) -> None:
    running.spans.clear()
    await call(
        running,
        [
            bearer(test_issuer.token(tenant="tenant:platform")),
            TENANT,
            ("x-correlation-id", "span-check-1"),
        ],
    )
    spans = [
        s
        for s in running.spans.get_finished_spans()
        if s.name == "/identitycontext.v1.TenantAdminService/GetTenantUser"
    ]
    assert len(spans) == 1
    attributes = dict(spans[0].attributes or {})
    assert attributes["tenant.id"] == "tenant:coulomb"
    assert attributes["identitycontext.correlation_id"] == "span-check-1"
    assert attributes["identitycontext.actor_tenant"] == "tenant:platform"
    assert attributes["rpc.grpc.status_code"] == grpc.StatusCode.PERMISSION_DENIED.value[0]


async def test_health_and_reflection_need_no_token(running: RunningService) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    async with grpc.aio.insecure_channel(running.address) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="identitycontext.v1.MembershipService")
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_health_is_not_serving_until_the_store_is_migrated(
    pg_admin_url: str, tmp_path: Path
) -> None:
    from conftest import make_database
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from identity_context.adapters.postgres.migrations import apply_migrations
    from identity_context.bootstrap import IdentityContextService
    from identity_context.config import Settings

    fresh = await make_database(pg_admin_url, migrate=False)
    settings = Settings(
        mode=Mode.PRODUCTION,
        listen="127.0.0.1:0",
        data_dir=tmp_path,
        database_url=fresh.runtime_url,
        local_issuer=False,
        migrate_on_start=False,
        shutdown_grace_s=0.5,
    )
    service = IdentityContextService(settings)
    await service.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            for name in ("", "identitycontext.v1.TenantAdminService"):
                reply = await stub.Check(health_pb2.HealthCheckRequest(service=name))
                assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
            await asyncio.sleep(2.5)  # a readiness round later, still not migrated
            reply = await stub.Check(health_pb2.HealthCheckRequest())
            assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
            await apply_migrations(fresh.migration_url)
            for _ in range(50):
                reply = await stub.Check(health_pb2.HealthCheckRequest())
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    break
                await asyncio.sleep(0.2)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        await service.stop()


async def test_unexpected_errors_are_internal_without_internals(
    running: RunningService, test_issuer: RsaTestIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from identity_context.application.accounts import Accounts

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("password=hunter2 at /srv/secret.py line 7")

    monkeypatch.setattr(Accounts, "get", broken)
    code, error = await call(running, [bearer(test_issuer.token()), TENANT])
    assert code is grpc.StatusCode.INTERNAL
    assert error.details() == "internal error"
    info, _ = rich_status(error)
    assert info is not None and info.reason == "INTERNAL"
    assert "hunter2" not in str(error.trailing_metadata())
