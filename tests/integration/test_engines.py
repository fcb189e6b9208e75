"""The same scenarios with the embedded Cedar engine and with the real Cerbos PDP (AuthZEN,
cerbos preset, the shipped reference policies): answers and reasons equal; the start-up
self-test catches a PDP whose policies do not read the facts where the request puts them."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from cerbos import CerbosServer
from conftest import ProvisionedDatabase, RunningService, start_service
from grpc_health.v1 import health_pb2
from identitycontext.v1 import common_pb2, membership_pb2, tenant_admin_pb2
from world import World, build_world

from identity_context.adapters.authz import cerbos_policies
from identity_context.adapters.authz.authzen import AuthZenClient
from identity_context.adapters.authz.cedar import CedarAuthorizationClient
from identity_context.adapters.authz.mapping import load_mapping
from identity_context.application.actions import Action
from identity_context.application.authorization import Target, build_request, self_test
from identity_context.bootstrap import IdentityContextService
from identity_context.config import Settings
from identity_context.domain.actors import Actor, AssuranceLevel
from identity_context.domain.identifiers import PLATFORM_TENANT, ActorKind, TenantId

TA, MS = "TenantAdminService", "MembershipService"
ta, mb = tenant_admin_pb2, membership_pb2
PLATFORM = "tenant:platform"


@pytest.fixture(scope="module")
def cerbos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CerbosServer]:
    server = CerbosServer(cerbos_policies.folder(), tmp_path_factory.mktemp("cerbos") / "log")
    try:
        yield server
    finally:
        server.stop()


def _remote(database: ProvisionedDatabase, url: str, preset: str) -> Settings:
    return Settings(
        listen="127.0.0.1:0",
        data_dir=Path(tempfile.mkdtemp(prefix=f"{preset}-")),
        database_url=database.runtime_url,
        migration_database_url=database.migration_url,
        shutdown_grace_s=0.5,
        shutdown_pause_s=0,
        authz="authzen",
        authzen_url=url,
        authzen_preset=preset,
        authz_timeout_s=5,
    )


@pytest.fixture(scope="module")
async def cerbos_world(database: ProvisionedDatabase, cerbos: CerbosServer) -> AsyncIterator[World]:
    settings = _remote(database, cerbos.url, "cerbos")
    started: RunningService = await start_service(settings)
    built = await build_world(settings, started.address)
    try:
        yield built
    finally:
        await built.channel.close()
        await started.service.stop()


@pytest.fixture(params=["cedar", "cerbos"])
def engine_world(request: pytest.FixtureRequest, world: World) -> World:
    return world if request.param == "cedar" else request.getfixturevalue("cerbos_world")


def _slug(tenant: str) -> str:
    return tenant.split(":", 1)[1]


async def test_the_walkthrough_steps_are_allowed(engine_world: World) -> None:
    w = engine_world
    tenant = f"tenant:eng-{secrets.token_hex(3)}"
    admin = f"user:adm-{secrets.token_hex(3)}"
    await w.operator.call(
        TA, "CreateTenant", ta.CreateTenantRequest(tenant_id=tenant), tenant=PLATFORM
    )
    await w.operator.call(
        TA, "BindApplication", ta.BindApplicationRequest(application_id="app:mail"), tenant=tenant
    )
    await w.operator.call(
        TA,
        "UpsertTenantUser",
        ta.UpsertTenantUserRequest(user_id=admin, initial_state=common_pb2.ACCOUNT_STATE_ACTIVE),
        tenant=tenant,
    )
    await w.operator.call(
        MS,
        "GrantMembership",
        mb.GrantMembershipRequest(subject=admin, relation="tenant-admin", object=tenant),
        tenant=tenant,
    )
    carol = w.caller(admin, tenant)
    realm = f"realm:{_slug(tenant)}/research"
    group = f"group:{_slug(tenant)}/editors"
    await carol.call(MS, "CreateScope", mb.CreateScopeRequest(scope_id=realm))
    await carol.call(MS, "CreateGroup", mb.CreateGroupRequest(group_id=group))
    await carol.call(
        MS,
        "GrantMembership",
        mb.GrantMembershipRequest(subject=group, relation="editor", object=realm),
    )
    verified = await carol.call(TA, "VerifyAuditChain", ta.VerifyAuditChainRequest())
    assert verified.valid and verified.last_seq == 6
    own = await w.caller(admin, tenant).call(
        TA, "GetTenantUser", ta.GetTenantUserRequest(user_id=admin)
    )
    assert own.tenant_user.user_id == admin
    report = await carol.call(TA, "DiagnoseTenant", ta.DiagnoseTenantRequest())
    assert report.ready


async def test_the_denied_cases_have_the_same_reasons(engine_world: World) -> None:
    w = engine_world
    assert await w.admin.fails(
        TA, "CreateTenant", ta.CreateTenantRequest(tenant_id="tenant:rogue"), tenant=PLATFORM
    ) == (grpc.StatusCode.PERMISSION_DENIED, "PLATFORM_ROOT_DENIED")
    for relation in ("platform-operator", "break-glass"):
        assert await w.admin.fails(
            MS,
            "GrantMembership",
            mb.GrantMembershipRequest(subject=w.admin_id, relation=relation, object=w.tenant),
        ) == (grpc.StatusCode.PERMISSION_DENIED, "PLATFORM_ROOT_DENIED")
    assert await w.admin.fails(
        TA, "GetTenantUser", ta.GetTenantUserRequest(user_id=w.other_admin_id), tenant=w.other
    ) == (grpc.StatusCode.PERMISSION_DENIED, "CROSS_TENANT_DENIED")
    plain = f"user:plain-{secrets.token_hex(3)}"
    await w.admin.call(
        TA,
        "UpsertTenantUser",
        ta.UpsertTenantUserRequest(user_id=plain, initial_state=common_pb2.ACCOUNT_STATE_ACTIVE),
    )
    assert await w.caller(plain, w.tenant).fails(
        MS, "CreateScope", mb.CreateScopeRequest(scope_id=f"realm:{_slug(w.tenant)}/x")
    ) == (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")


async def test_break_glass_is_flagged_in_the_audit_trail(engine_world: World, admin_conn) -> None:
    from test_tenant_admin import _break_glass_holder, add_user, audit_rows, new_user

    holder = await _break_glass_holder(engine_world)
    caller = engine_world.caller(holder, PLATFORM, acr="aal2")
    await add_user(caller, new_user(), tenant=engine_world.tenant, break_glass="INC-9 locked out")
    rows = await audit_rows(admin_conn, engine_world.tenant, caller.last_correlation_id)
    assert [r[4] for r in rows] == ["break_glass.use", "tenant.user.upsert"]
    assert all(r[8] for r in rows)
    low = engine_world.caller(holder, PLATFORM, acr="aal1")
    assert await low.fails(
        TA,
        "UpsertTenantUser",
        ta.UpsertTenantUserRequest(user_id=new_user()),
        tenant=engine_world.tenant,
        break_glass="INC-10",
    ) == (grpc.StatusCode.PERMISSION_DENIED, "BREAK_GLASS_DENIED")


# ---- the two engines agree, question for question ------------------------------------


def _questions() -> list[Any]:
    home, other = TenantId("acme"), TenantId("other")
    actors = {
        "operator": (Actor("user:op", ActorKind.USER, PLATFORM_TENANT, "t"), {"platform-operator"}),
        "admin": (Actor("user:adm", ActorKind.USER, home, "t"), {"tenant-admin"}),
        "user": (Actor("user:u", ActorKind.USER, home, "t"), set()),
        "responder": (
            Actor("user:bg", ActorKind.USER, PLATFORM_TENANT, "t", AssuranceLevel.AAL2),
            {"break-glass"},
        ),
        "service": (Actor("service:edge", ActorKind.SERVICE, home, "t"), set()),
        "gateway": (Actor("service:gw", ActorKind.SERVICE, PLATFORM_TENANT, "t"), {"gateway"}),
        "tenant-gateway": (Actor("service:tgw", ActorKind.SERVICE, home, "t"), {"gateway"}),
        "user-with-gateway": (Actor("user:g", ActorKind.USER, home, "t"), {"gateway"}),
    }
    targets = {
        "tenant": lambda t: Target("tenant", str(t), t),
        "tenant_user:self": lambda t: Target("tenant_user", "user:u", t, target_user="user:u"),
        "tenant_user:other": lambda t: Target("tenant_user", "user:x", t, target_user="user:x"),
        "profile_values": lambda t: Target(
            "profile_values", "user:u", t, target_user="user:u", layer="tenant"
        ),
        "membership:editor": lambda t: Target("membership", "m", t, relation="editor", subject="s"),
        "membership:admin": lambda t: Target(
            "membership", "m", t, relation="tenant-admin", subject="s"
        ),
        "membership:operator": lambda t: Target(
            "membership", "m", t, relation="platform-operator", subject="s"
        ),
        "scope": lambda t: Target("scope", "realm:x/r", t),
        "group": lambda t: Target("group", "group:x/g", t),
        "audit_trail": lambda t: Target("audit_trail", str(t), t),
        "application_binding": lambda t: Target("application_binding", "app:mail", t),
        "factor_evidence:self": lambda t: Target("factor_evidence", "u", t, target_user="user:u"),
        "factor_evidence:other": lambda t: Target("factor_evidence", "x", t, target_user="user:x"),
        "hat:self": lambda t: Target("hat", "h", t, target_user="user:u"),
        "hat:admin-self": lambda t: Target("hat", "h", t, target_user="user:adm"),
        "hat:other": lambda t: Target("hat", "h", t, target_user="user:x"),
        "identity_context:self": lambda t: Target("identity_context", "u", t, target_user="user:u"),
        "identity_context:other": lambda t: Target(
            "identity_context", "x", t, target_user="user:x"
        ),
        "hat_approval:own-approver": lambda t: Target(
            "hat_approval", "a", t, target_user="user:adm", approver=True
        ),
        "hat_approval:approver": lambda t: Target(
            "hat_approval", "a", t, target_user="user:x", approver=True
        ),
        "hat_approval:self": lambda t: Target(
            "hat_approval", "a", t, target_user="user:u", approver=False
        ),
        "hat_approval:other": lambda t: Target(
            "hat_approval", "a", t, target_user="user:x", approver=False
        ),
    }
    manifest = cerbos_policies.manifest()
    questions = []
    for (who, (actor, roles)), (kind, target), place, reason in itertools.product(
        actors.items(), targets.items(), (home, other, PLATFORM_TENANT), ("", "INC-1")
    ):
        resource = target(place)
        for action in itertools.chain(*manifest[resource.resource_type].values()):
            request = build_request(
                actor, frozenset(roles), Action(action), resource, break_glass_reason=reason
            )
            questions.append((f"{who} {action} {kind}@{place} bg={bool(reason)}", request))
    return questions


async def test_cerbos_and_cedar_answer_every_question_alike(cerbos: CerbosServer) -> None:
    cedar = CedarAuthorizationClient()
    remote = AuthZenClient(cerbos.url, mapping=load_mapping("cerbos"), max_timeout_s=10)
    try:
        questions = _questions()
        assert len(questions) > 2000
        differ = []
        for start in range(0, len(questions), 100):
            batch = questions[start : start + 100]
            answers = await remote.evaluate_batch([r for _, r in batch], timeout_s=10)
            for (name, request), answer in zip(batch, answers, strict=True):
                expected = await cedar.evaluate(request, timeout_s=1)
                if answer.allowed is not expected.allowed:
                    differ.append(f"{name}: cedar {expected.allowed}, cerbos {answer.allowed}")
        assert not differ, differ[:10]
    finally:
        await remote.close()


# ---- the self-test -------------------------------------------------------------------


async def test_the_self_test_passes_with_the_cerbos_preset_and_catches_the_generic_one(
    cerbos: CerbosServer,
) -> None:
    for preset, passes in (("cerbos", True), ("generic", False)):
        client = AuthZenClient(cerbos.url, mapping=load_mapping(preset), max_timeout_s=5)
        try:
            failures = await self_test(client)
        finally:
            await client.close()
        assert (not failures) is passes, (preset, failures)


async def test_a_pdp_that_ignores_the_mapping_keeps_the_service_not_serving(
    database: ProvisionedDatabase, cerbos: CerbosServer, caplog: pytest.LogCaptureFixture
) -> None:
    # generic puts roles in `roles`; Cerbos reads `cerbos.roles`: every allow is lost.
    service = IdentityContextService(_remote(database, cerbos.url, "generic"))
    await service.start()
    try:
        for _ in range(40):
            await asyncio.sleep(0.1)
            if "fails the self-test" in caplog.text:
                break
        status = service.health._server_status.get("")
        assert status == health_pb2.HealthCheckResponse.NOT_SERVING
        assert "fails the self-test" in caplog.text
        assert "a platform operator creates a tenant: expected allow, got deny" in caplog.text
    finally:
        await service.stop()


def test_the_shipped_cerbos_policies_are_what_the_generator_renders() -> None:
    folder = cerbos_policies.folder()
    shipped = {p.name: p.read_text() for p in folder.glob("*.json")}
    assert shipped == cerbos_policies.render()
