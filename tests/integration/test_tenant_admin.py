"""Tenant administration through the gRPC API: allowed, denied, cross-tenant, break-glass."""

from __future__ import annotations

import json
import secrets
from typing import Any

import grpc
import psycopg
import pytest
from identitycontext.v1 import (
    active_context_pb2,
    common_pb2,
    membership_pb2,
    tenant_admin_pb2,
)
from world import Caller, World, onboard

TA, MS, AC = "TenantAdminService", "MembershipService", "ActiveContextService"
ta, mb = tenant_admin_pb2, membership_pb2
PLATFORM = "tenant:platform"


def new_user(prefix: str = "user:u") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def slug(tenant: str) -> str:
    return tenant.split(":", 1)[1]


async def add_user(caller: Caller, user_id: str, **options: Any) -> ta.UpsertTenantUserResponse:
    return await caller.call(
        TA,
        "UpsertTenantUser",
        ta.UpsertTenantUserRequest(
            user_id=user_id, display_name=user_id, initial_state=common_pb2.ACCOUNT_STATE_ACTIVE
        ),
        **options,
    )


async def audit_rows(
    conn: psycopg.AsyncConnection[Any], tenant: str, correlation_id: str | None = None
) -> list[tuple[Any, ...]]:
    query = (
        "SELECT seq, actor, actor_tenant_id, target_tenant_id, action, policy_ids,"
        " correlation_id, change_summary, break_glass FROM audit_records"
        " WHERE tenant_id = %s"
    )
    params: list[Any] = [tenant]
    if correlation_id is not None:
        query += " AND correlation_id = %s"
        params.append(correlation_id)
    return await (await conn.execute(query + " ORDER BY seq", params)).fetchall()


async def outbox_rows(
    conn: psycopg.AsyncConnection[Any], tenant: str, correlation_id: str
) -> list[tuple[Any, ...]]:
    return await (
        await conn.execute(
            "SELECT seq, event_type, payload FROM outbox_events WHERE tenant_id = %s"
            " AND correlation_id = %s ORDER BY seq",
            (tenant, correlation_id),
        )
    ).fetchall()


async def assert_audited_once(
    conn: psycopg.AsyncConnection[Any],
    caller: Caller,
    tenant: str,
    action: str,
    policy: str,
    *,
    target: str | None = None,
) -> tuple[Any, ...]:
    rows = await audit_rows(conn, tenant, caller.last_correlation_id)
    assert len(rows) == 1, rows
    seq, actor, actor_tenant, target_tenant, recorded_action, policy_ids, correlation, *_ = rows[0]
    assert recorded_action == action
    assert actor_tenant == caller.tenant and target_tenant == (target or tenant)
    assert correlation == caller.last_correlation_id
    assert policy in policy_ids, policy_ids
    assert len(await outbox_rows(conn, tenant, caller.last_correlation_id)) == 1
    return rows[0]


# ---- tenant admin: allowed -------------------------------------------------------


async def test_tenant_admin_can_upsert_users(world: World, admin_conn) -> None:
    user = new_user()
    created = await add_user(world.admin, user)
    assert created.created and created.tenant_user.state == common_pb2.ACCOUNT_STATE_ACTIVE
    await assert_audited_once(
        admin_conn, world.admin, world.tenant, "tenant.user.upsert", "tenant-admin"
    )
    renamed = await world.admin.call(
        TA,
        "UpsertTenantUser",
        ta.UpsertTenantUserRequest(
            user_id=user, display_name="Renamed", etag=created.tenant_user.etag
        ),
    )
    assert not renamed.created and renamed.tenant_user.display_name == "Renamed"
    stale = await world.admin.fails(
        TA,
        "UpsertTenantUser",
        ta.UpsertTenantUserRequest(
            user_id=user, display_name="Again", etag=created.tenant_user.etag
        ),
    )
    assert stale == (grpc.StatusCode.ABORTED, "ETAG_MISMATCH")


async def test_tenant_admin_can_set_account_state(world: World, admin_conn) -> None:
    user = new_user()
    await add_user(world.admin, user)
    suspended = await world.admin.call(
        TA,
        "SetAccountState",
        ta.SetAccountStateRequest(
            user_id=user, state=common_pb2.ACCOUNT_STATE_SUSPENDED, reason="left the project"
        ),
    )
    assert suspended.tenant_user.state == common_pb2.ACCOUNT_STATE_SUSPENDED
    row = await assert_audited_once(
        admin_conn, world.admin, world.tenant, "tenant.account.set_state", "tenant-admin"
    )
    assert row[7]["previous_state"] == "active" and row[7]["state"] == "suspended"
    await world.admin.call(
        TA,
        "SetAccountState",
        ta.SetAccountStateRequest(user_id=user, state=common_pb2.ACCOUNT_STATE_DEPROVISIONED),
    )
    back = await world.admin.fails(
        TA,
        "SetAccountState",
        ta.SetAccountStateRequest(user_id=user, state=common_pb2.ACCOUNT_STATE_ACTIVE),
    )
    assert back == (grpc.StatusCode.FAILED_PRECONDITION, "FAILED_PRECONDITION")


async def test_tenant_admin_can_set_tenant_profile_values(world: World, admin_conn) -> None:
    user = new_user()
    await add_user(world.admin, user)
    reply = await world.admin.call(
        TA,
        "SetProfileValues",
        ta.SetProfileValuesRequest(
            user_id=user,
            layer=common_pb2.PROFILE_LAYER_TENANT,
            values=[ta.ProfileValueInput(key="locale", value="de-CH")],
        ),
    )
    assert [(v.key, v.value) for v in reply.values] == [("locale", "de-CH")]
    await assert_audited_once(
        admin_conn, world.admin, world.tenant, "tenant.profile.set", "tenant-admin"
    )


async def test_tenant_admin_can_create_scopes(world: World, admin_conn) -> None:
    s = slug(world.tenant)
    realm = await world.admin.call(
        MS,
        "CreateScope",
        mb.CreateScopeRequest(scope_id=f"realm:{s}/research", display_name="Research"),
    )
    assert realm.scope.kind == mb.SCOPE_KIND_REALM and realm.scope.parent_scope_id == world.tenant
    await assert_audited_once(
        admin_conn, world.admin, world.tenant, "tenant.scope.create", "tenant-admin"
    )
    area = await world.admin.call(
        MS,
        "CreateScope",
        mb.CreateScopeRequest(
            scope_id=f"service:{s}/research/mail", parent_scope_id=f"realm:{s}/research"
        ),
    )
    assert area.scope.kind == mb.SCOPE_KIND_SERVICE_AREA
    asset = await world.admin.call(
        MS,
        "CreateScope",
        mb.CreateScopeRequest(
            scope_id=f"asset:{s}/research/mail/inbox", parent_scope_id=f"service:{s}/research/mail"
        ),
    )
    assert asset.scope.kind == mb.SCOPE_KIND_ASSET
    wrong = await world.admin.fails(
        MS,
        "CreateScope",
        mb.CreateScopeRequest(scope_id=f"asset:{s}/orphan", parent_scope_id=f"realm:{s}/research"),
    )
    assert wrong == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    listed = await world.admin.call(
        MS, "ListScopes", mb.ListScopesRequest(parent_scope_id=f"realm:{s}/research")
    )
    assert [x.scope_id for x in listed.scopes] == [f"service:{s}/research/mail"]


async def test_tenant_admin_can_create_groups_and_add_members(world: World, admin_conn) -> None:
    s = slug(world.tenant)
    group = f"group:{s}/editors-{secrets.token_hex(2)}"
    user = new_user()
    await add_user(world.admin, user)
    await world.admin.call(
        MS, "CreateGroup", mb.CreateGroupRequest(group_id=group, display_name="Editors")
    )
    await assert_audited_once(
        admin_conn, world.admin, world.tenant, "tenant.group.create", "tenant-admin"
    )
    added = await world.admin.call(
        MS, "AddGroupMember", mb.AddGroupMemberRequest(group_id=group, user_id=user)
    )
    assert added.group_member.user_id == user
    await assert_audited_once(
        admin_conn, world.admin, world.tenant, "tenant.group_member.add", "tenant-admin"
    )
    members = await world.admin.call(
        MS, "ListGroupMembers", mb.ListGroupMembersRequest(group_id=group)
    )
    assert [x.user_id for x in members.group_members] == [user]
    stranger = await world.admin.fails(
        MS, "AddGroupMember", mb.AddGroupMemberRequest(group_id=group, user_id=new_user())
    )
    assert stranger == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")


async def test_tenant_admin_can_grant_and_revoke_memberships(world: World, admin_conn) -> None:
    user = new_user()
    await add_user(world.admin, user)
    granted = await world.admin.call(
        MS,
        "GrantMembership",
        mb.GrantMembershipRequest(subject=user, relation="viewer", object=world.tenant),
    )
    await assert_audited_once(
        admin_conn, world.admin, world.tenant, "tenant.membership.grant", "tenant-admin"
    )
    duplicate = await world.admin.fails(
        MS,
        "GrantMembership",
        mb.GrantMembershipRequest(subject=user, relation="viewer", object=world.tenant),
    )
    assert duplicate == (grpc.StatusCode.ALREADY_EXISTS, "ALREADY_EXISTS")
    revoked = await world.admin.call(
        MS,
        "RevokeMembership",
        mb.RevokeMembershipRequest(
            membership_id=granted.membership.membership_id, etag=granted.membership.etag
        ),
    )
    assert revoked.membership.state == mb.MEMBERSHIP_STATE_REVOKED
    await assert_audited_once(
        admin_conn, world.admin, world.tenant, "tenant.membership.revoke", "tenant-admin"
    )
    again = await world.admin.fails(
        MS,
        "RevokeMembership",
        mb.RevokeMembershipRequest(membership_id=granted.membership.membership_id),
    )
    assert again == (grpc.StatusCode.FAILED_PRECONDITION, "FAILED_PRECONDITION")


# ---- tenant admin: platform-root denied -------------------------------------------

PLATFORM_ROOT = (grpc.StatusCode.PERMISSION_DENIED, "PLATFORM_ROOT_DENIED")


async def test_tenant_admin_cannot_create_tenant(world: World) -> None:
    for header in (PLATFORM, world.tenant):
        assert (
            await world.admin.fails(
                TA,
                "CreateTenant",
                ta.CreateTenantRequest(tenant_id=f"tenant:rogue-{secrets.token_hex(2)}"),
                tenant=header,
            )
            == PLATFORM_ROOT
        )


async def test_tenant_admin_cannot_set_tenant_state(world: World) -> None:
    assert (
        await world.admin.fails(
            TA,
            "SetTenantState",
            ta.SetTenantStateRequest(tenant_id=world.tenant, state=ta.TENANT_STATE_SUSPENDED),
            tenant=PLATFORM,
        )
        == PLATFORM_ROOT
    )


async def test_tenant_admin_cannot_bind_application(world: World) -> None:
    assert (
        await world.admin.fails(
            TA, "BindApplication", ta.BindApplicationRequest(application_id="app:calendar")
        )
        == PLATFORM_ROOT
    )


async def test_tenant_admin_cannot_set_global_profile_values(world: World) -> None:
    assert (
        await world.admin.fails(
            TA,
            "SetProfileValues",
            ta.SetProfileValuesRequest(
                user_id=world.admin_id,
                layer=common_pb2.PROFILE_LAYER_GLOBAL,
                values=[ta.ProfileValueInput(key="locale", value="xx")],
            ),
        )
        == PLATFORM_ROOT
    )


async def test_tenant_admin_cannot_grant_memberships_in_platform(world: World) -> None:
    for relation in ("platform-operator", "tenant-admin", "viewer"):
        assert (
            await world.admin.fails(
                MS,
                "GrantMembership",
                mb.GrantMembershipRequest(
                    subject=world.admin_id, relation=relation, object=PLATFORM
                ),
                tenant=PLATFORM,
            )
            == PLATFORM_ROOT
        )


async def test_tenant_admin_cannot_grant_themselves_platform_operator(world: World) -> None:
    for relation in ("platform-operator", "break-glass"):
        assert (
            await world.admin.fails(
                MS,
                "GrantMembership",
                mb.GrantMembershipRequest(
                    subject=world.admin_id, relation=relation, object=world.tenant
                ),
            )
            == PLATFORM_ROOT
        )


async def test_tenant_admin_cannot_create_platform_access_profile_templates(world: World) -> None:
    template = active_context_pb2.AccessProfile(access_profile_id="profile:platform/auditor")
    for header in (PLATFORM, world.tenant):
        assert (
            await world.admin.fails(
                AC,
                "CreateAccessProfile",
                active_context_pb2.CreateAccessProfileRequest(access_profile=template),
                tenant=header,
            )
            == PLATFORM_ROOT
        )


async def test_platform_operator_is_allowed_the_platform_root_operations(
    world: World, admin_conn
) -> None:
    tenant = f"tenant:op-{secrets.token_hex(3)}"
    created = await world.operator.call(
        TA, "CreateTenant", ta.CreateTenantRequest(tenant_id=tenant, display_name="Op")
    )
    assert created.tenant.plane == ta.TENANT_PLANE_TENANT
    await assert_audited_once(
        admin_conn,
        world.operator,
        PLATFORM,
        "platform.tenant.create",
        "platform-operator.platform-root",
        target=tenant,
    )
    suspended = await world.operator.call(
        TA,
        "SetTenantState",
        ta.SetTenantStateRequest(
            tenant_id=tenant, state=ta.TENANT_STATE_SUSPENDED, etag=created.tenant.etag
        ),
    )
    assert suspended.tenant.state == ta.TENANT_STATE_SUSPENDED
    template = await world.operator.call(
        AC,
        "CreateAccessProfile",
        active_context_pb2.CreateAccessProfileRequest(
            access_profile=active_context_pb2.AccessProfile(
                access_profile_id=f"profile:platform/t-{slug(tenant)}",
                profile_defaults={"theme": "dark"},
            )
        ),
    )
    assert template.access_profile.profile_defaults["theme"] == "dark"
    listed = await world.operator.call(TA, "ListTenants", ta.ListTenantsRequest(page_size=1000))
    assert tenant in [t.tenant_id for t in listed.tenants]


async def test_platform_operator_needs_break_glass_for_tenant_plane_work(world: World) -> None:
    assert await world.operator.fails(
        MS,
        "CreateGroup",
        mb.CreateGroupRequest(group_id=f"group:{slug(world.tenant)}/ops"),
        tenant=world.tenant,
    ) == (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")


# ---- cross-tenant ----------------------------------------------------------------


async def test_tenant_admin_in_another_tenant_is_cross_tenant_denied(world: World) -> None:
    for service, method, request in (
        (TA, "ListTenantUsers", ta.ListTenantUsersRequest()),
        (TA, "UpsertTenantUser", ta.UpsertTenantUserRequest(user_id=new_user())),
        (MS, "ListMemberships", mb.ListMembershipsRequest()),
        (MS, "CreateGroup", mb.CreateGroupRequest(group_id=f"group:{slug(world.other)}/x")),
        (TA, "ListAuditRecords", ta.ListAuditRecordsRequest()),
    ):
        assert await world.admin.fails(service, method, request, tenant=world.other) == (
            grpc.StatusCode.PERMISSION_DENIED,
            "CROSS_TENANT_DENIED",
        ), method


async def test_naming_another_tenants_group_or_scope_is_refused(world: World) -> None:
    other = slug(world.other)
    for request in (
        mb.GrantMembershipRequest(
            subject=f"group:{other}/editors", relation="viewer", object=world.tenant
        ),
        mb.GrantMembershipRequest(
            subject=world.admin_id, relation="viewer", object=f"realm:{other}/research"
        ),
        mb.GrantMembershipRequest(subject=world.admin_id, relation="viewer", object=world.other),
    ):
        code, reason = await world.admin.fails(MS, "GrantMembership", request)
        assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "CROSS_TENANT_DENIED")
    code, reason = await world.admin.fails(
        MS,
        "AddGroupMember",
        mb.AddGroupMemberRequest(group_id=f"group:{other}/editors", user_id=world.admin_id),
    )
    assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "CROSS_TENANT_DENIED")


async def test_reading_another_tenants_user_by_id_is_not_found(world: World) -> None:
    only_there = new_user()
    await add_user(world.other_admin, only_there)
    assert await world.admin.fails(
        TA, "GetTenantUser", ta.GetTenantUserRequest(user_id=only_there)
    ) == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")
    never = await world.admin.fails(
        TA, "GetTenantUser", ta.GetTenantUserRequest(user_id=new_user())
    )
    assert never == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")


async def test_plain_user_cannot_administer_but_can_read_self(world: World) -> None:
    user = new_user()
    await add_user(world.admin, user)
    plain = world.caller(user, world.tenant)
    own = await plain.call(TA, "GetTenantUser", ta.GetTenantUserRequest(user_id=user))
    assert own.tenant_user.user_id == user
    assert await plain.fails(
        TA, "GetTenantUser", ta.GetTenantUserRequest(user_id=world.admin_id)
    ) == (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")
    assert await plain.fails(
        TA, "UpsertTenantUser", ta.UpsertTenantUserRequest(user_id=new_user())
    ) == (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")


# ---- break-glass -----------------------------------------------------------------


async def _break_glass_holder(world: World) -> str:
    holder = new_user("user:bg")
    await add_user(world.operator, holder, tenant=PLATFORM)
    await world.operator.call(
        MS,
        "GrantMembership",
        mb.GrantMembershipRequest(subject=holder, relation="break-glass", object=PLATFORM),
        tenant=PLATFORM,
    )
    return holder


async def test_break_glass_with_role_reason_and_aal2_is_allowed_and_flagged(
    world: World, admin_conn
) -> None:
    holder = await _break_glass_holder(world)
    caller = world.caller(holder, PLATFORM, acr="aal2")
    user = new_user()
    await add_user(caller, user, tenant=world.tenant, break_glass="INC-4711 admin locked out")
    rows = await audit_rows(admin_conn, world.tenant, caller.last_correlation_id)
    assert [r[4] for r in rows] == ["break_glass.use", "tenant.user.upsert"]
    assert all(r[8] for r in rows)  # flagged
    assert all("break-glass" in r[5] for r in rows)
    assert rows[1][7]["break_glass_reason"] == "INC-4711 admin locked out"
    events = await outbox_rows(admin_conn, world.tenant, caller.last_correlation_id)
    assert events[0][1] == "break_glass.used"
    assert events[0][2]["break_glass_reason"] == "INC-4711 admin locked out"


async def test_break_glass_without_reason_is_denied(world: World) -> None:
    holder = await _break_glass_holder(world)
    caller = world.caller(holder, PLATFORM, acr="aal2")
    assert await caller.fails(
        TA, "UpsertTenantUser", ta.UpsertTenantUserRequest(user_id=new_user()), tenant=world.tenant
    ) == (grpc.StatusCode.PERMISSION_DENIED, "CROSS_TENANT_DENIED")


async def test_break_glass_at_aal1_is_denied(world: World, admin_conn) -> None:
    holder = await _break_glass_holder(world)
    caller = world.caller(holder, PLATFORM, acr="aal1")
    assert await caller.fails(
        TA,
        "UpsertTenantUser",
        ta.UpsertTenantUserRequest(user_id=new_user()),
        tenant=world.tenant,
        break_glass="INC-1",
    ) == (grpc.StatusCode.PERMISSION_DENIED, "BREAK_GLASS_DENIED")
    assert await audit_rows(admin_conn, world.tenant, caller.last_correlation_id) == []


async def test_break_glass_reason_without_the_role_is_denied(world: World) -> None:
    assert await world.operator.fails(
        MS,
        "CreateGroup",
        mb.CreateGroupRequest(group_id=f"group:{slug(world.tenant)}/bg"),
        tenant=world.tenant,
        break_glass="INC-2",
    ) == (grpc.StatusCode.PERMISSION_DENIED, "BREAK_GLASS_DENIED")


# ---- audit, redaction, profiles, membership history --------------------------------


async def test_sensitive_values_never_reach_audit_or_outbox(world: World, admin_conn) -> None:
    user = new_user()
    await add_user(world.admin, user)
    secret = f"SSN-{secrets.token_hex(8)}"
    await world.admin.call(
        TA,
        "SetProfileValues",
        ta.SetProfileValuesRequest(
            user_id=user,
            layer=common_pb2.PROFILE_LAYER_TENANT,
            values=[
                ta.ProfileValueInput(key="national_id", value=secret, sensitive=True),
                ta.ProfileValueInput(key="locale", value="fr"),
            ],
        ),
    )
    for table in ("audit_records", "outbox_events"):
        count = await (
            await admin_conn.execute(
                f"SELECT count(*) FROM {table} WHERE {table}::text LIKE %s", (f"%{secret}%",)
            )
        ).fetchone()
        assert count == (0,), table
    rows = await audit_rows(admin_conn, world.tenant, world.admin.last_correlation_id)
    assert rows[0][7]["profile_values"] == {"national_id": "[REDACTED]", "locale": "fr"}
    listed = await world.admin.call(
        TA,
        "ListAuditRecords",
        ta.ListAuditRecordsRequest(action="tenant.profile.set", page_size=1000),
    )
    assert secret not in str(listed)
    resolved = await world.admin.call(
        TA, "GetResolvedProfile", ta.GetResolvedProfileRequest(user_id=user)
    )
    assert {v.key: v.value for v in resolved.values}["national_id"] == "[REDACTED]"
    own = await world.caller(user, world.tenant).call(
        TA, "GetResolvedProfile", ta.GetResolvedProfileRequest(user_id=user)
    )
    assert {v.key: v.value for v in own.values}["national_id"] == secret


async def test_every_mutation_in_the_tenant_is_audited_and_the_chain_verifies(
    world: World, admin_conn
) -> None:
    verified = await world.admin.call(TA, "VerifyAuditChain", ta.VerifyAuditChainRequest())
    assert verified.valid and verified.records_checked > 0
    seqs = [r[0] for r in await audit_rows(admin_conn, world.tenant)]
    assert seqs == list(range(1, len(seqs) + 1))
    events = await (
        await admin_conn.execute(
            "SELECT seq FROM outbox_events WHERE tenant_id = %s ORDER BY seq", (world.tenant,)
        )
    ).fetchall()
    assert [e[0] for e in events] == seqs


@pytest.mark.parametrize(
    ("default", "global_", "tenant", "expected"),
    [
        (None, None, None, None),
        ("d", None, None, ("d", common_pb2.PROFILE_LAYER_ACCESS_PROFILE_DEFAULT)),
        ("d", "g", None, ("g", common_pb2.PROFILE_LAYER_GLOBAL)),
        ("d", None, "t", ("t", common_pb2.PROFILE_LAYER_TENANT)),
        ("d", "g", "t", ("t", common_pb2.PROFILE_LAYER_TENANT)),
        (None, "g", None, ("g", common_pb2.PROFILE_LAYER_GLOBAL)),
        (None, "g", "t", ("t", common_pb2.PROFILE_LAYER_TENANT)),
        (None, None, "t", ("t", common_pb2.PROFILE_LAYER_TENANT)),
    ],
)
async def test_profile_precedence_default_global_tenant(
    world: World,
    default: str | None,
    global_: str | None,
    tenant: str | None,
    expected: tuple[str, int] | None,
) -> None:
    user = new_user()
    await add_user(world.admin, user)
    profile = f"profile:{slug(world.tenant)}/p-{secrets.token_hex(3)}"
    await world.admin.call(
        AC,
        "CreateAccessProfile",
        active_context_pb2.CreateAccessProfileRequest(
            access_profile=active_context_pb2.AccessProfile(
                access_profile_id=profile, profile_defaults={"color": default} if default else {}
            )
        ),
    )
    if global_:
        await world.operator.call(
            TA,
            "SetProfileValues",
            ta.SetProfileValuesRequest(
                user_id=user,
                layer=common_pb2.PROFILE_LAYER_GLOBAL,
                values=[ta.ProfileValueInput(key="color", value=global_)],
            ),
            tenant=world.tenant,
        )
    if tenant:
        await world.admin.call(
            TA,
            "SetProfileValues",
            ta.SetProfileValuesRequest(
                user_id=user,
                layer=common_pb2.PROFILE_LAYER_TENANT,
                values=[ta.ProfileValueInput(key="color", value=tenant)],
            ),
        )
    answers = []
    for _ in range(2):  # deterministic: the same answer every time
        resolved = await world.admin.call(
            TA,
            "GetResolvedProfile",
            ta.GetResolvedProfileRequest(user_id=user, access_profile_id=profile),
        )
        answers.append({v.key: (v.value, v.source_layer) for v in resolved.values})
    assert answers[0] == answers[1]
    assert answers[0].get("color") == expected


async def test_membership_history_in_list_and_outbox_in_seq_order(world: World, admin_conn) -> None:
    s = slug(world.tenant)
    user = new_user()
    group = f"group:{s}/hist-{secrets.token_hex(2)}"
    await add_user(world.admin, user)
    await world.admin.call(MS, "CreateGroup", mb.CreateGroupRequest(group_id=group))
    start = (await world.admin.call(TA, "GetTenant", ta.GetTenantRequest())).tenant.last_seq

    async def active(subject: str) -> list[str]:
        listed = await world.admin.call(
            MS, "ListMemberships", mb.ListMembershipsRequest(subject=subject)
        )
        return [f"{x.subject}#{x.relation}@{x.object}" for x in listed.memberships]

    first = await world.admin.call(
        MS,
        "GrantMembership",
        mb.GrantMembershipRequest(subject=user, relation="editor", object=world.tenant),
    )
    assert await active(user) == [f"{user}#editor@{world.tenant}"]
    await world.admin.call(
        MS,
        "RevokeMembership",
        mb.RevokeMembershipRequest(membership_id=first.membership.membership_id),
    )
    assert await active(user) == []
    await world.admin.call(
        MS,
        "GrantMembership",
        mb.GrantMembershipRequest(subject=user, relation="editor", object=world.tenant),
    )
    assert await active(user) == [f"{user}#editor@{world.tenant}"]
    await world.admin.call(
        MS,
        "GrantMembership",
        mb.GrantMembershipRequest(subject=group, relation="viewer", object=world.tenant),
    )
    await world.admin.call(
        MS, "AddGroupMember", mb.AddGroupMemberRequest(group_id=group, user_id=user)
    )
    removed = await world.admin.call(
        MS, "RemoveGroupMember", mb.RemoveGroupMemberRequest(group_id=group, user_id=user)
    )
    assert removed.removed
    assert not (
        await world.admin.call(
            MS, "RemoveGroupMember", mb.RemoveGroupMemberRequest(group_id=group, user_id=user)
        )
    ).removed
    revoked = await world.admin.call(
        MS,
        "ListMemberships",
        mb.ListMembershipsRequest(subject=user, state=mb.MEMBERSHIP_STATE_REVOKED),
    )
    assert [x.membership_id for x in revoked.memberships] == [first.membership.membership_id]
    events = await (
        await admin_conn.execute(
            "SELECT seq, event_type, payload FROM outbox_events WHERE tenant_id = %s AND seq > %s"
            " ORDER BY seq",
            (world.tenant, start),
        )
    ).fetchall()
    assert [e[1] for e in events] == [
        "membership.granted",
        "membership.revoked",
        "membership.granted",
        "membership.granted",
        "group_member.added",
        "group_member.removed",
    ]
    assert [e[0] for e in events] == list(range(start + 1, start + 7))
    assert json.dumps(events[1][2]["subject"]) == json.dumps(user)


async def test_request_id_replays_the_first_result_over_grpc(world: World, admin_conn) -> None:
    user = new_user()
    request = ta.UpsertTenantUserRequest(
        user_id=user, display_name="Once", request_id=f"req-{secrets.token_hex(4)}"
    )
    first = await world.admin.call(TA, "UpsertTenantUser", request)
    again = await world.admin.call(TA, "UpsertTenantUser", request)
    assert first == again and first.created
    assert len(await audit_rows(admin_conn, world.tenant, world.admin.last_correlation_id)) == 0
    changed = ta.UpsertTenantUserRequest(
        user_id=user, display_name="Twice", request_id=request.request_id
    )
    assert await world.admin.fails(TA, "UpsertTenantUser", changed) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "IDEMPOTENCY_KEY_REUSED",
    )


async def test_pagination_tokens_are_bound_to_tenant_and_filter(world: World) -> None:
    for _ in range(3):
        await add_user(world.admin, new_user())
    first = await world.admin.call(TA, "ListTenantUsers", ta.ListTenantUsersRequest(page_size=2))
    assert len(first.tenant_users) == 2 and first.next_page_token
    second = await world.admin.call(
        TA,
        "ListTenantUsers",
        ta.ListTenantUsersRequest(page_size=2, page_token=first.next_page_token),
    )
    assert second.tenant_users[0].user_id > first.tenant_users[-1].user_id
    assert await world.admin.fails(
        TA,
        "ListTenantUsers",
        ta.ListTenantUsersRequest(
            page_size=2, page_token=first.next_page_token, state=common_pb2.ACCOUNT_STATE_SUSPENDED
        ),
    ) == (grpc.StatusCode.INVALID_ARGUMENT, "PAGE_TOKEN_INVALID")
    assert await world.other_admin.fails(
        TA, "ListTenantUsers", ta.ListTenantUsersRequest(page_token=first.next_page_token)
    ) == (grpc.StatusCode.INVALID_ARGUMENT, "PAGE_TOKEN_INVALID")


async def test_suspended_tenant_is_read_only_for_its_admin(world: World) -> None:
    tenant = f"tenant:susp-{secrets.token_hex(3)}"
    admin = new_user("user:adm")
    await onboard(world.operator, tenant, admin)
    caller = world.caller(admin, tenant)
    await add_user(caller, new_user())
    current = await world.operator.call(
        TA, "GetTenant", ta.GetTenantRequest(tenant_id=tenant), tenant=PLATFORM
    )
    await world.operator.call(
        TA,
        "SetTenantState",
        ta.SetTenantStateRequest(
            tenant_id=tenant, state=ta.TENANT_STATE_SUSPENDED, etag=current.tenant.etag
        ),
        tenant=PLATFORM,
    )
    assert await caller.fails(
        TA, "UpsertTenantUser", ta.UpsertTenantUserRequest(user_id=new_user())
    ) == (grpc.StatusCode.FAILED_PRECONDITION, "TENANT_NOT_ACTIVE")
    listed = await caller.call(TA, "ListTenantUsers", ta.ListTenantUsersRequest())
    assert len(listed.tenant_users) == 2  # reads still work
    # The platform operator still onboards in a suspended tenant.
    await add_user(world.operator, new_user(), tenant=tenant)
    stale = await world.operator.fails(
        TA,
        "SetTenantState",
        ta.SetTenantStateRequest(
            tenant_id=tenant, state=ta.TENANT_STATE_ACTIVE, etag=current.tenant.etag
        ),
        tenant=PLATFORM,
    )
    assert stale == (grpc.StatusCode.ABORTED, "ETAG_MISMATCH")
    await world.operator.call(
        TA,
        "SetTenantState",
        ta.SetTenantStateRequest(tenant_id=tenant, state=ta.TENANT_STATE_ACTIVE),
        tenant=PLATFORM,
    )
    await add_user(caller, new_user())


async def test_bootstrap_is_audited_as_system_and_idempotent(world: World, admin_conn) -> None:
    from identity_context.bootstrap import bootstrap_platform

    rows = await (
        await admin_conn.execute(
            "SELECT action, actor, actor_tenant_id FROM audit_records WHERE tenant_id = %s"
            " AND change_summary->>'user_id' = %s OR (tenant_id = %s AND"
            " change_summary->>'subject' = %s) ORDER BY seq",
            (PLATFORM, world.operator_id, PLATFORM, world.operator_id),
        )
    ).fetchall()
    assert rows == [
        ("tenant.user.upsert", "system:bootstrap", PLATFORM),
        ("tenant.membership.grant", "system:bootstrap", PLATFORM),
    ]
    before = (await world.operator.call(TA, "GetTenant", ta.GetTenantRequest())).tenant.last_seq
    assert await bootstrap_platform(world.settings, world.operator_id) == []
    after = (await world.operator.call(TA, "GetTenant", ta.GetTenantRequest())).tenant.last_seq
    assert after == before


@pytest.mark.parametrize(
    ("service", "method", "request_", "field"),
    [
        (TA, "UpsertTenantUser", ta.UpsertTenantUserRequest(user_id="alice"), "user_id"),
        (TA, "GetTenantUser", ta.GetTenantUserRequest(user_id="user:"), "user_id"),
        (
            TA,
            "SetProfileValues",
            ta.SetProfileValuesRequest(
                user_id="user:a",
                layer=common_pb2.PROFILE_LAYER_TENANT,
                values=[ta.ProfileValueInput(key="Bad Key", value="x")],
            ),
            "values[0].key",
        ),
        (TA, "SetProfileValues", ta.SetProfileValuesRequest(user_id="user:a"), "layer"),
        (TA, "SetAccountState", ta.SetAccountStateRequest(user_id="user:a", state=99), "state"),
        (TA, "ListTenantUsers", ta.ListTenantUsersRequest(page_size=-1), "page_size"),
        (TA, "ListTenantUsers", ta.ListTenantUsersRequest(page_token="garbage!"), "page_token"),
        (TA, "BindApplication", ta.BindApplicationRequest(application_id="mail"), "application_id"),
        (
            MS,
            "GrantMembership",
            mb.GrantMembershipRequest(
                subject="user:a", relation="Not A Relation", object="tenant:x"
            ),
            "relation",
        ),
        (
            MS,
            "GrantMembership",
            mb.GrantMembershipRequest(subject="nobody", relation="viewer", object="tenant:x"),
            "subject",
        ),
        (MS, "CreateScope", mb.CreateScopeRequest(scope_id="realm:"), "scope_id"),
        (MS, "CreateGroup", mb.CreateGroupRequest(group_id="editors"), "group_id"),
        (MS, "RevokeMembership", mb.RevokeMembershipRequest(), "membership_id"),
        (
            TA,
            "UpsertTenantUser",
            ta.UpsertTenantUserRequest(user_id="user:a", request_id="r" * 129),
            "request_id",
        ),
    ],
)
async def test_malformed_requests_are_invalid_argument_with_the_field(
    world: World, service: str, method: str, request_: Any, field: str
) -> None:
    from support import rich_status

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await world.admin.call(service, method, request_)
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    _, bad = rich_status(raised.value)
    assert bad is not None and field in [v.field for v in bad.field_violations]
