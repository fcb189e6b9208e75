"""DiagnoseTenant through the gRPC API: failing checks with remedies, readiness after onboarding,
tampering and stalls noticed, who may diagnose whom, nothing sensitive in the report."""

from __future__ import annotations

import secrets
from typing import Any

import grpc
import psycopg
from identitycontext.v1 import active_context_pb2, common_pb2, membership_pb2, tenant_admin_pb2
from world import World, onboard

TA = "TenantAdminService"
ta = tenant_admin_pb2
PASS, WARN, FAIL = (
    ta.DIAGNOSTIC_STATUS_PASS,
    ta.DIAGNOSTIC_STATUS_WARN,
    ta.DIAGNOSTIC_STATUS_FAIL,
)


def _checks(report: Any) -> dict[str, Any]:
    return {check.name: check for check in report.checks}


async def _diagnose(world: World, tenant: str) -> Any:
    return await world.operator.call(
        TA, "DiagnoseTenant", ta.DiagnoseTenantRequest(), tenant=tenant
    )


async def _new_tenant(world: World) -> str:
    tenant = f"tenant:diag-{secrets.token_hex(3)}"
    await world.operator.call(
        TA, "CreateTenant", ta.CreateTenantRequest(tenant_id=tenant), tenant="tenant:platform"
    )
    return tenant


async def test_a_fresh_tenant_fails_on_admin_and_applications_with_remedies(world: World) -> None:
    tenant = await _new_tenant(world)
    report = await _diagnose(world, tenant)
    checks = _checks(report)
    assert report.tenant_id == tenant and not report.ready
    apps = checks["applications.required_bound"]
    assert apps.status == FAIL and "app:mail" in apps.detail
    assert "BindApplication" in apps.remedy and "app:mail" in apps.remedy
    admins = checks["administration.admins"]
    assert admins.status == FAIL and "tenant-admin" in admins.detail
    assert "GrantMembership" in admins.remedy
    assert checks["tenant.active"].status == PASS
    assert checks["store.write"].status == PASS
    assert [c.name for c in report.checks] == [
        "tenant.active",
        "applications.required_bound",
        "applications.scopes",
        "administration.admins",
        "policy.relations",
        "policy.engine",
        "access_profiles.requirements",
        "audit.chain",
        "audit.outbox",
        "store.write",
    ]


async def test_an_onboarded_tenant_passes_every_check(world: World) -> None:
    tenant = f"tenant:ready-{secrets.token_hex(3)}"
    await onboard(world.operator, tenant, f"user:adm-{secrets.token_hex(3)}")
    report = await _diagnose(world, tenant)
    assert report.ready
    assert {c.name: c.status for c in report.checks if c.status != PASS} == {}


async def test_a_bound_application_needs_its_catalog_scopes(world: World) -> None:
    tenant = f"tenant:drive-{secrets.token_hex(3)}"
    admin = f"user:adm-{secrets.token_hex(3)}"
    await onboard(world.operator, tenant, admin)
    await world.operator.call(
        TA, "BindApplication", ta.BindApplicationRequest(application_id="app:drive"), tenant=tenant
    )
    scopes = _checks(await _diagnose(world, tenant))["applications.scopes"]
    slug = tenant.split(":", 1)[1]
    assert scopes.status == FAIL and f"realm:{slug}/files" in scopes.detail
    await world.caller(admin, tenant).call(
        "MembershipService",
        "CreateScope",
        membership_pb2.CreateScopeRequest(scope_id=f"realm:{slug}/files"),
    )
    assert _checks(await _diagnose(world, tenant))["applications.scopes"].status == PASS


async def test_a_tampered_audit_row_fails_the_chain_check(
    world: World, admin_conn: psycopg.AsyncConnection[Any]
) -> None:
    tenant = f"tenant:tamper-{secrets.token_hex(3)}"
    await onboard(world.operator, tenant, f"user:adm-{secrets.token_hex(3)}")
    await admin_conn.execute(
        "ALTER TABLE audit_records DISABLE TRIGGER audit_records_no_update_delete"
    )
    try:
        await admin_conn.execute(
            "UPDATE audit_records SET change_summary = '{\"forged\": true}'"
            " WHERE tenant_id = %s AND seq = 1",
            (tenant,),
        )
    finally:
        await admin_conn.execute(
            "ALTER TABLE audit_records ENABLE TRIGGER audit_records_no_update_delete"
        )
    report = await _diagnose(world, tenant)
    chain = _checks(report)["audit.chain"]
    assert not report.ready and chain.status == FAIL and "seq 1" in chain.detail
    assert chain.remedy


async def test_a_stalled_outbox_warns_and_a_consumer_cursor_clears_it(
    world: World, admin_conn: psycopg.AsyncConnection[Any]
) -> None:
    tenant = f"tenant:stall-{secrets.token_hex(3)}"
    await onboard(world.operator, tenant, f"user:adm-{secrets.token_hex(3)}")
    await admin_conn.execute(
        "UPDATE outbox_events SET created_at = created_at - interval '1 hour' WHERE tenant_id = %s",
        (tenant,),
    )
    report = await _diagnose(world, tenant)
    outbox = _checks(report)["audit.outbox"]
    assert outbox.status == WARN and report.ready  # a warning, not a failure
    await admin_conn.execute(
        "INSERT INTO outbox_cursors (tenant_id, consumer, last_seq)"
        " SELECT tenant_id, 'fact-stream', last_seq FROM tenants WHERE tenant_id = %s",
        (tenant,),
    )
    assert _checks(await _diagnose(world, tenant))["audit.outbox"].status == PASS


async def test_access_profile_requirements_nobody_meets_warn_and_missing_scopes_fail(
    world: World,
) -> None:
    tenant = f"tenant:prof-{secrets.token_hex(3)}"
    admin = f"user:adm-{secrets.token_hex(3)}"
    await onboard(world.operator, tenant, admin)
    slug = tenant.split(":", 1)[1]
    caller = world.caller(admin, tenant)

    async def profile(name: str, requirement: active_context_pb2.MembershipRequirement) -> None:
        await caller.call(
            "ActiveContextService",
            "CreateAccessProfile",
            active_context_pb2.CreateAccessProfileRequest(
                access_profile=active_context_pb2.AccessProfile(
                    access_profile_id=f"profile:{slug}/{name}",
                    membership_requirements=[requirement],
                )
            ),
        )

    await profile("auditor", active_context_pb2.MembershipRequirement(relation="auditor"))
    check = _checks(await _diagnose(world, tenant))["access_profiles.requirements"]
    assert check.status == WARN and "auditor" in check.detail
    await profile(
        "ghost",
        active_context_pb2.MembershipRequirement(
            relation="tenant-admin", object=f"realm:{slug}/ghost"
        ),
    )
    check = _checks(await _diagnose(world, tenant))["access_profiles.requirements"]
    assert check.status == FAIL and f"realm:{slug}/ghost" in check.detail


async def test_platform_relations_granted_inside_a_tenant_fail(
    world: World, admin_conn: psycopg.AsyncConnection[Any]
) -> None:
    tenant = f"tenant:rel-{secrets.token_hex(3)}"
    admin = f"user:adm-{secrets.token_hex(3)}"
    await onboard(world.operator, tenant, admin)
    await admin_conn.execute(
        "INSERT INTO memberships (tenant_id, membership_id, subject_user_id, relation)"
        " VALUES (%s, 'm-odd', %s, 'platform-operator')",
        (tenant, admin),
    )
    check = _checks(await _diagnose(world, tenant))["policy.relations"]
    assert check.status == FAIL and "platform-operator" in check.detail


async def test_a_tenant_admin_diagnoses_only_their_tenant_and_a_user_not_at_all(
    world: World,
) -> None:
    own = await world.admin.call(TA, "DiagnoseTenant", ta.DiagnoseTenantRequest())
    assert own.tenant_id == world.tenant
    assert await world.admin.fails(
        TA, "DiagnoseTenant", ta.DiagnoseTenantRequest(), tenant=world.other
    ) == (grpc.StatusCode.PERMISSION_DENIED, "CROSS_TENANT_DENIED")
    user = f"user:plain-{secrets.token_hex(3)}"
    await world.admin.call(
        TA,
        "UpsertTenantUser",
        ta.UpsertTenantUserRequest(user_id=user, initial_state=common_pb2.ACCOUNT_STATE_ACTIVE),
    )
    assert await world.caller(user, world.tenant).fails(
        TA, "DiagnoseTenant", ta.DiagnoseTenantRequest()
    ) == (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")


async def test_the_report_carries_no_sensitive_value_or_token(world: World) -> None:
    secret = f"ssn-{secrets.token_hex(8)}"
    await world.admin.call(
        TA,
        "SetProfileValues",
        ta.SetProfileValuesRequest(
            user_id=world.admin_id,
            layer=common_pb2.PROFILE_LAYER_TENANT,
            values=[ta.ProfileValueInput(key="ssn", value=secret, sensitive=True)],
        ),
    )
    report = await world.admin.call(TA, "DiagnoseTenant", ta.DiagnoseTenantRequest())
    text = str(report)
    assert secret not in text and world.admin.token not in text
