"""Bad input of every kind is INVALID_ARGUMENT naming the field; limits hold; never INTERNAL."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from pathlib import Path
from typing import Any

import grpc
import pytest
from conftest import ProvisionedDatabase, RunningService, start_service
from google.protobuf import duration_pb2, timestamp_pb2
from identitycontext.v1 import active_context_pb2, common_pb2, membership_pb2, tenant_admin_pb2
from support import rich_status
from world import Caller, World

from identity_context.adapters.postgres.pool import pool_answers
from identity_context.adapters.postgres.provisioning import provision
from identity_context.config import Settings

TA, MS, AC = "TenantAdminService", "MembershipService", "ActiveContextService"
ta, mb, ac = tenant_admin_pb2, membership_pb2, active_context_pb2


async def violation(caller: Caller, service: str, method: str, request: Any, **kw: Any) -> str:
    """Call, expect INVALID_ARGUMENT, return the one field the BadRequest names."""
    try:
        await caller.call(service, method, request, **kw)
    except grpc.aio.AioRpcError as error:
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT, (error.code(), error.details())
        _, bad = rich_status(error)
        assert bad is not None and bad.field_violations, error.details()
        return str(bad.field_violations[0].field)
    raise AssertionError(f"{method} unexpectedly succeeded")


def slug(tenant: str) -> str:
    return tenant.split(":", 1)[1]


# ---- timestamps, durations, enums ----------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "nanos"),
    [(-62_135_596_801, 0), (253_402_300_800, 0), (0, 1_000_000_000), (0, -1), (2**62, 0)],
)
async def test_out_of_range_timestamps_name_the_field(
    world: World, seconds: int, nanos: int
) -> None:
    request = mb.GrantMembershipRequest(
        subject=world.admin_id,
        relation="viewer",
        object=world.tenant,
        valid_from=timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos),
    )
    assert await violation(world.admin, MS, "GrantMembership", request) == "valid_from"


@pytest.mark.parametrize(
    ("seconds", "nanos"), [(2**62, 0), (1, -5), (-1, 5), (0, 1_000_000_000), (0, 0)]
)
async def test_bad_durations_name_the_field(world: World, seconds: int, nanos: int) -> None:
    profile = ac.AccessProfile(
        access_profile_id=f"profile:{slug(world.tenant)}/d{secrets.token_hex(3)}",
        max_active_duration=duration_pb2.Duration(seconds=seconds, nanos=nanos),
    )
    field = await violation(
        world.admin,
        AC,
        "CreateAccessProfile",
        ac.CreateAccessProfileRequest(access_profile=profile),
    )
    assert field == "access_profile.max_active_duration"


@pytest.mark.parametrize(
    ("method", "request_factory", "field"),
    [
        ("ListTenantUsers", lambda: ta.ListTenantUsersRequest(state=99), "state"),
        ("SetAccountState", lambda: ta.SetAccountStateRequest(user_id="user:x", state=-3), "state"),
        (
            "SetProfileValues",
            lambda: ta.SetProfileValuesRequest(user_id="user:x", layer=42),
            "layer",
        ),
    ],
)
async def test_undefined_enum_numbers_name_the_field(
    world: World, method: str, request_factory: Any, field: str
) -> None:
    assert await violation(world.admin, TA, method, request_factory()) == field


async def test_undefined_numbers_in_repeated_enums_name_the_element(world: World) -> None:
    profile = ac.AccessProfile(
        access_profile_id=f"profile:{slug(world.tenant)}/e{secrets.token_hex(3)}",
        scope_kinds=[mb.SCOPE_KIND_REALM, 77],
    )
    field = await violation(
        world.admin,
        AC,
        "CreateAccessProfile",
        ac.CreateAccessProfileRequest(access_profile=profile),
    )
    assert field == "access_profile.scope_kinds[1]"


# ---- page tokens ----------------------------------------------------------------------


def _forged(body: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        _forged(None),
        _forged("abc"),
        _forged([1, 2]),
        _forged({"t": "x", "f": "y", "a": "user:a"}),
        "abc",
        "a.b",
        "\u00e9t\u00e9",
        "x" * 5000,
    ],
)
async def test_tampered_page_tokens_are_page_token_invalid(world: World, token: str) -> None:
    assert await world.admin.fails(
        TA, "ListTenantUsers", ta.ListTenantUsersRequest(page_token=token)
    ) == (grpc.StatusCode.INVALID_ARGUMENT, "PAGE_TOKEN_INVALID")


async def test_a_page_token_is_bound_to_its_rpc(world: World) -> None:
    groups = [f"group:{slug(world.tenant)}/pt-{i}-{secrets.token_hex(2)}" for i in range(3)]
    for group in groups:
        await world.admin.call(MS, "CreateGroup", mb.CreateGroupRequest(group_id=group))
    first = await world.admin.call(MS, "ListGroups", mb.ListGroupsRequest(page_size=1))
    assert first.next_page_token
    following = await world.admin.call(
        MS, "ListGroups", mb.ListGroupsRequest(page_size=1, page_token=first.next_page_token)
    )
    assert following.groups[0].group_id > first.groups[0].group_id
    # The same token on another list of the same tenant does not verify.
    assert await world.admin.fails(
        MS, "ListScopes", mb.ListScopesRequest(page_token=first.next_page_token)
    ) == (grpc.StatusCode.INVALID_ARGUMENT, "PAGE_TOKEN_INVALID")
    # Nor does one with a flipped character, in its signature or its padding bits.
    token = first.next_page_token
    flipped = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
    padding = token[:-1] + ("B" if token[-1] == "A" else "A" if token[-1] == "B" else token[-1])
    if padding != token:
        assert await world.admin.fails(
            MS, "ListGroups", mb.ListGroupsRequest(page_token=padding)
        ) == (grpc.StatusCode.INVALID_ARGUMENT, "PAGE_TOKEN_INVALID")
    assert await world.admin.fails(MS, "ListGroups", mb.ListGroupsRequest(page_token=flipped)) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "PAGE_TOKEN_INVALID",
    )


# ---- identifiers and free text --------------------------------------------------------


async def test_access_profile_references_are_checked_and_bound_to_the_tenant(world: World) -> None:
    other = slug(world.other)
    mine = slug(world.tenant)

    def profile(**fields: Any) -> ac.CreateAccessProfileRequest:
        return ac.CreateAccessProfileRequest(
            access_profile=ac.AccessProfile(
                access_profile_id=f"profile:{mine}/p{secrets.token_hex(3)}", **fields
            )
        )

    cases = {
        "access_profile.membership_requirements[0].object": profile(
            membership_requirements=[
                ac.MembershipRequirement(relation="editor", object=f"realm:{other}/secret")
            ]
        ),
        "access_profile.membership_requirements[0].relation": profile(
            membership_requirements=[ac.MembershipRequirement(relation="Editor!")]
        ),
    }
    for expected, request in cases.items():
        assert await violation(world.admin, AC, "CreateAccessProfile", request) == expected
    for relation in ("\ufeff", "\u0435ditor", "editor\x00"):  # BOM, Cyrillic e, NUL
        request = profile(membership_requirements=[ac.MembershipRequirement(relation=relation)])
        field = await violation(world.admin, AC, "CreateAccessProfile", request)
        assert field == "access_profile.membership_requirements[0].relation"
    for target in (f"tenant:{other}", f"group:{other}/team", "user:../../x"):
        request = profile(
            membership_requirements=[ac.MembershipRequirement(relation="r", object=target)]
        )
        field = await violation(world.admin, AC, "CreateAccessProfile", request)
        assert field == "access_profile.membership_requirements[0].object"
    for audience in ("mail", "user:alice", "service:Mail", f"service:{'x' * 70}"):
        request = profile(
            claims_rules=[
                ac.ClaimsProjectionRule(audience=audience, claim="role", source=ac.CLAIM_SOURCE_HAT)
            ]
        )
        field = await violation(world.admin, AC, "CreateAccessProfile", request)
        assert field == "access_profile.claims_rules[0].audience"
    created = await world.admin.call(
        AC,
        "CreateAccessProfile",
        profile(
            membership_requirements=[ac.MembershipRequirement(relation="editor")],
            claims_rules=[
                ac.ClaimsProjectionRule(
                    audience="service:mail", claim="role", source=ac.CLAIM_SOURCE_HAT
                )
            ],
            profile_defaults={"locale": "en"},
            min_assurance_level=common_pb2.ASSURANCE_LEVEL_AAL2,
        ),
    )
    assert created.access_profile.claims_rules[0].audience == "service:mail"
    assert created.access_profile.min_assurance_level == common_pb2.ASSURANCE_LEVEL_AAL2


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("x" * 201, "at most 200"),
        ("a\x00b", "control"),
        ("line\nbreak", "control"),
        ("\u202eevil", "control"),
    ],
)
async def test_display_names_are_bounded_and_printable(
    world: World, text: str, reason: str
) -> None:
    request = ta.UpsertTenantUserRequest(
        user_id=f"user:t-{secrets.token_hex(3)}", display_name=text
    )
    try:
        await world.admin.call(TA, "UpsertTenantUser", request)
    except grpc.aio.AioRpcError as error:
        _, bad = rich_status(error)
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert bad is not None and bad.field_violations[0].field == "display_name"
        assert reason in bad.field_violations[0].description
    else:
        raise AssertionError("accepted")


async def test_reasons_are_bounded(world: World) -> None:
    user = f"user:r-{secrets.token_hex(3)}"
    await world.admin.call(TA, "UpsertTenantUser", ta.UpsertTenantUserRequest(user_id=user))
    request = ta.SetAccountStateRequest(
        user_id=user, state=common_pb2.ACCOUNT_STATE_SUSPENDED, reason="r" * 1001
    )
    assert await violation(world.admin, TA, "SetAccountState", request) == "reason"
    request.reason = "r" * 1000
    await world.admin.call(TA, "SetAccountState", request)


@pytest.mark.parametrize("request_id", ["a\x00b", "has space", "x" * 129, "\u00fcber"])
async def test_request_ids_have_a_grammar(world: World, request_id: str) -> None:
    request = mb.CreateGroupRequest(
        group_id=f"group:{slug(world.tenant)}/rid-{secrets.token_hex(3)}", request_id=request_id
    )
    assert await violation(world.admin, MS, "CreateGroup", request) == "request_id"


async def test_a_nul_byte_anywhere_names_its_field(world: World) -> None:
    user = f"user:n-{secrets.token_hex(3)}"
    await world.admin.call(TA, "UpsertTenantUser", ta.UpsertTenantUserRequest(user_id=user))
    request = ta.SetProfileValuesRequest(
        user_id=user,
        layer=common_pb2.PROFILE_LAYER_TENANT,
        values=[ta.ProfileValueInput(key="locale", value="de\x00")],
    )
    assert await violation(world.admin, TA, "SetProfileValues", request) == "values[0].value"
    revoke = mb.RevokeMembershipRequest(membership_id="m\x00")
    assert await violation(world.admin, MS, "RevokeMembership", revoke) == "membership_id"
    audit = ta.ListAuditRecordsRequest(action="tenant.\x00")
    assert await violation(world.admin, TA, "ListAuditRecords", audit) == "action"


async def test_already_exists_and_not_found_name_the_field(world: World) -> None:
    group = f"group:{slug(world.tenant)}/dup-{secrets.token_hex(3)}"
    await world.admin.call(MS, "CreateGroup", mb.CreateGroupRequest(group_id=group))
    try:
        await world.admin.call(MS, "CreateGroup", mb.CreateGroupRequest(group_id=group))
    except grpc.aio.AioRpcError as error:
        info, _ = rich_status(error)
        assert error.code() is grpc.StatusCode.ALREADY_EXISTS
        assert info is not None and info.metadata["field"] == "group_id"
        assert "group" in error.details()
    else:
        raise AssertionError("created twice")
    try:
        await world.admin.call(
            MS,
            "GrantMembership",
            mb.GrantMembershipRequest(
                subject="user:nobody-here", relation="viewer", object=world.tenant
            ),
        )
    except grpc.aio.AioRpcError as error:
        info, _ = rich_status(error)
        assert error.code() is grpc.StatusCode.NOT_FOUND
        assert info is not None and info.metadata["field"] == "subject"
    else:
        raise AssertionError("granted to a user without an account")


# ---- a page never exceeds the response limit ------------------------------------------


async def test_a_page_is_cut_to_fit_the_response_limit(
    database: ProvisionedDatabase, tmp_path: Path
) -> None:
    from world import build_world

    settings = Settings(
        listen="127.0.0.1:0",
        data_dir=tmp_path,
        database_url=database.runtime_url,
        migration_database_url=database.migration_url,
        shutdown_grace_s=0.5,
        shutdown_pause_s=0,
        max_message_bytes=64 * 1024,
    )
    small: RunningService = await start_service(settings)
    try:
        built = await build_world(settings, small.address)
        for i in range(12):  # ~8 KiB of display names each: more than one page can hold
            user = f"user:big-{i:02d}-{secrets.token_hex(2)}"
            await built.admin.call(
                TA,
                "UpsertTenantUser",
                ta.UpsertTenantUserRequest(user_id=user, display_name="n" * 200),
            )
            await built.admin.call(
                TA,
                "SetProfileValues",
                ta.SetProfileValuesRequest(
                    user_id=user,
                    layer=common_pb2.PROFILE_LAYER_TENANT,
                    values=[ta.ProfileValueInput(key=f"k{j}", value="v" * 4000) for j in range(2)],
                ),
            )
        seen, token, pages = 0, "", 0
        while True:
            page = await built.admin.call(
                TA, "ListAuditRecords", ta.ListAuditRecordsRequest(page_size=1000, page_token=token)
            )
            assert page.ByteSize() <= 64 * 1024
            seen, token, pages = seen + len(page.records), page.next_page_token, pages + 1
            if not token:
                break
        assert pages > 1
        verified = await built.admin.call(TA, "VerifyAuditChain", ta.VerifyAuditChainRequest())
        assert seen == verified.last_seq
        await built.channel.close()
    finally:
        await small.service.stop()


# ---- health and reflection stay answerable under the RPC limit -------------------------


class _SlowEngine:
    """Holds every decision until released."""

    def __init__(self, holding: int) -> None:
        self.release = asyncio.Event()
        self.all_held = asyncio.Event()
        self._holding = holding
        self.waiting = 0

    async def evaluate(self, request: Any, *, timeout_s: float) -> Any:
        from identity_context.domain.changes import Decision

        self.waiting += 1
        if self.waiting >= self._holding:
            self.all_held.set()
        await self.release.wait()
        return Decision(False, ())

    async def evaluate_batch(self, requests: Any, *, timeout_s: float) -> Any:
        return [await self.evaluate(r, timeout_s=timeout_s) for r in requests]


async def test_health_and_reflection_do_not_count_against_the_rpc_limit(
    database: ProvisionedDatabase, tmp_path: Path
) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    from identity_context.adapters.auth.local_issuer import LocalIssuer
    from identity_context.bootstrap import IdentityContextService

    settings = Settings(
        listen="127.0.0.1:0",
        data_dir=tmp_path,
        database_url=database.runtime_url,
        migration_database_url=database.migration_url,
        shutdown_grace_s=0.5,
        shutdown_pause_s=0,
        max_concurrent_rpcs=2,
    )
    engine = _SlowEngine(holding=2)
    service = IdentityContextService(settings, authorization=engine)
    await service.start()
    try:
        for _ in range(200):
            if service.health._server_status.get("") == health_pb2.HealthCheckResponse.SERVING:
                break
            await asyncio.sleep(0.05)
        token = LocalIssuer(tmp_path).mint("user:busy", "tenant:platform")
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{service.port}")
        caller = Caller(channel, token, "tenant:platform")
        held = [
            asyncio.ensure_future(
                caller.call(TA, "GetTenantUser", ta.GetTenantUserRequest(user_id="user:busy"))
            )
            for _ in range(2)
        ]
        await asyncio.wait_for(engine.all_held.wait(), 10)
        assert await caller.fails(
            TA, "GetTenantUser", ta.GetTenantUserRequest(user_id="user:busy")
        ) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED")
        for _ in range(5):
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        stream = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        async for answer in stream:
            names = {s.name for s in answer.list_services_response.service}
            assert "identitycontext.v1.TenantAdminService" in names
        engine.release.set()
        for call in held:
            with pytest.raises(grpc.aio.AioRpcError):
                await call
        await channel.close()
    finally:
        await service.stop()


# ---- store operations -----------------------------------------------------------------


async def test_concurrent_provisioning_of_one_database_succeeds(pg_admin_url: str) -> None:
    name = f"ic_race_{secrets.token_hex(3)}"
    results = await asyncio.gather(
        *(provision(pg_admin_url, database=name, password="race-pass") for _ in range(6)),
        return_exceptions=True,
    )
    assert all(not isinstance(r, BaseException) for r in results), results


async def test_the_readiness_probe_keeps_prepared_statements(database: ProvisionedDatabase) -> None:
    from psycopg_pool import AsyncConnectionPool

    pool = AsyncConnectionPool(database.runtime_url, min_size=1, max_size=1, open=False)
    await pool.open(wait=True)
    try:
        async with pool.connection() as conn:
            for _ in range(6):  # prepared after psycopg's threshold
                await conn.execute("SELECT 1 WHERE %s", (True,))
            await conn.commit()
        assert await pool_answers(pool)
        async with pool.connection() as conn:
            row = await (
                await conn.execute("SELECT count(*) FROM pg_prepared_statements")
            ).fetchone()
            await conn.commit()
        assert row is not None and row[0] >= 1
    finally:
        await pool.close()
