"""Hats and the gateway hot path, end to end through the gRPC API on a real server and database:
access profiles, factor evidence from gateways, eligibility, fail-closed selection, approvals,
hats that hold only while their grounds hold, identity contexts and per-audience claims."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2, json_format, timestamp_pb2
from identitycontext.v1 import (
    active_context_pb2,
    common_pb2,
    membership_pb2,
    tenant_admin_pb2,
)
from support import ServerProcess
from world import Caller, World

AC, MS, TA = "ActiveContextService", "MembershipService", "TenantAdminService"
ac, mb, ta = active_context_pb2, membership_pb2, tenant_admin_pb2
PLATFORM = "tenant:platform"
SECRET_REF = "webauthn:cred-SECRET0REF"
SECRET_VALUE = "s3cret-national-id-4711"


def _ts(delta_s: float) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delta_s))
    return stamp


def _duration(seconds: float) -> duration_pb2.Duration:
    value = duration_pb2.Duration()
    value.FromTimedelta(dt.timedelta(seconds=seconds))
    return value


@dataclass
class Lab:
    """A tenant set up for hats: scopes, a group, profiles, and a gateway."""

    world: World
    slug: str
    realm: str
    area: str
    asset: str
    group: str
    editor: str  # profile: editor on the scope or above, aal2 webauthn/totp, 1h old at most
    guarded: str  # profile: editor, plus an approval by an `approver`
    gateway: Caller  # `gateway` on tenant:platform
    tenant_gateway: Caller  # `gateway` on world.other only

    @property
    def admin(self) -> Caller:
        return self.world.admin

    async def user(self, *, relation_on: str | None = None, group: bool = False) -> str:
        user = f"user:hat-{secrets.token_hex(4)}"
        await self.admin.call(
            TA,
            "UpsertTenantUser",
            ta.UpsertTenantUserRequest(user_id=user, initial_state=common_pb2.ACCOUNT_STATE_ACTIVE),
        )
        if relation_on:
            await self.grant(user, "editor", relation_on)
        if group:
            await self.admin.call(
                MS, "AddGroupMember", mb.AddGroupMemberRequest(group_id=self.group, user_id=user)
            )
        return user

    async def grant(self, subject: str, relation: str, obj: str) -> mb.Membership:
        reply = await self.admin.call(
            MS,
            "GrantMembership",
            mb.GrantMembershipRequest(subject=subject, relation=relation, object=obj),
        )
        return reply.membership

    async def evidence(
        self,
        user: str,
        *,
        factor: str = "webauthn",
        level: int = common_pb2.ASSURANCE_LEVEL_AAL2,
        verified_ago: float = 60,
        expires_in: float = 3600,
        ref: str = "",
    ) -> ac.FactorEvidence:
        reply = await self.gateway.call(
            AC,
            "RecordFactorEvidence",
            ac.RecordFactorEvidenceRequest(
                user_id=user,
                factor_type=factor,
                assurance_level=level,
                verified_at=_ts(-verified_ago),
                expires_at=_ts(expires_in),
                issuer="https://gateway.example/",
                evidence_ref=ref,
            ),
            tenant=self.world.tenant,
        )
        return reply.evidence

    def me(self, user: str) -> Caller:
        return self.world.caller(user, self.world.tenant)

    async def select(self, user: str, hat: str, *, by: Caller | None = None) -> Any:
        return await (by or self.me(user)).call(
            AC,
            "SelectActiveHat",
            ac.SelectActiveHatRequest(user_id=user, hat_id=hat),
            tenant=self.world.tenant,
        )

    async def select_fails(self, user: str, hat: str, *, by: Caller | None = None) -> Any:
        return await (by or self.me(user)).fails(
            AC,
            "SelectActiveHat",
            ac.SelectActiveHatRequest(user_id=user, hat_id=hat),
            tenant=self.world.tenant,
        )

    async def context(self, user: str, *, by: Caller | None = None) -> ac.IdentityContext:
        reply = await (by or self.gateway).call(
            AC,
            "GetIdentityContext",
            ac.GetIdentityContextRequest(user_id=user),
            tenant=self.world.tenant,
        )
        return reply.identity_context

    async def claims(self, user: str, audience: str) -> dict[str, Any]:
        reply = await self.gateway.call(
            AC,
            "ProjectClaims",
            ac.ProjectClaimsRequest(user_id=user, audience=audience),
            tenant=self.world.tenant,
        )
        assert reply.audience == audience
        return json_format.MessageToDict(reply.claims)


async def _profile(admin: Caller, profile: ac.AccessProfile) -> None:
    await admin.call(
        AC, "CreateAccessProfile", ac.CreateAccessProfileRequest(access_profile=profile)
    )


@pytest.fixture(scope="module")
async def lab(world: World) -> AsyncIterator[Lab]:
    slug = world.tenant.split(":", 1)[1]
    tag = secrets.token_hex(3)
    realm, area = f"realm:{slug}/lab-{tag}", f"service:{slug}/lab-{tag}/app"
    asset, group = f"asset:{slug}/lab-{tag}/app/db", f"group:{slug}/lab-{tag}"
    admin = world.admin
    await admin.call(MS, "CreateScope", mb.CreateScopeRequest(scope_id=realm))
    await admin.call(MS, "CreateScope", mb.CreateScopeRequest(scope_id=area, parent_scope_id=realm))
    await admin.call(MS, "CreateScope", mb.CreateScopeRequest(scope_id=asset, parent_scope_id=area))
    await admin.call(MS, "CreateGroup", mb.CreateGroupRequest(group_id=group))
    await admin.call(
        MS,
        "GrantMembership",
        mb.GrantMembershipRequest(subject=group, relation="editor", object=realm),
    )
    editor, guarded = f"profile:{slug}/editor-{tag}", f"profile:{slug}/guarded-{tag}"
    kinds = [mb.SCOPE_KIND_REALM, mb.SCOPE_KIND_SERVICE_AREA, mb.SCOPE_KIND_ASSET]
    await _profile(
        admin,
        ac.AccessProfile(
            access_profile_id=editor,
            display_name="Editor",
            scope_kinds=kinds,
            membership_requirements=[ac.MembershipRequirement(relation="editor")],
            min_assurance_level=common_pb2.ASSURANCE_LEVEL_AAL2,
            required_factor_types=["webauthn", "totp"],
            max_evidence_age=_duration(3600),
            max_active_duration=_duration(8 * 3600),
            profile_defaults={"locale": "en", "desk": "default"},
            claims_rules=[
                ac.ClaimsProjectionRule(
                    audience="service:mail",
                    claim="email",
                    source=ac.CLAIM_SOURCE_PROFILE,
                    source_key="email",
                ),
                ac.ClaimsProjectionRule(
                    audience="service:mail",
                    claim="national_id",
                    source=ac.CLAIM_SOURCE_PROFILE,
                    source_key="national_id",
                ),
                ac.ClaimsProjectionRule(
                    audience="service:mail", claim="realm", source=ac.CLAIM_SOURCE_REALM
                ),
                ac.ClaimsProjectionRule(
                    audience="service:mail", claim="groups", source=ac.CLAIM_SOURCE_GROUPS
                ),
                ac.ClaimsProjectionRule(
                    audience="service:drive",
                    claim="role",
                    source=ac.CLAIM_SOURCE_CONSTANT,
                    source_key="editor",
                ),
                ac.ClaimsProjectionRule(
                    audience="service:drive", claim="relations", source=ac.CLAIM_SOURCE_RELATIONS
                ),
                ac.ClaimsProjectionRule(
                    audience="service:drive", claim="area", source=ac.CLAIM_SOURCE_SERVICE_AREA
                ),
            ],
        ),
    )
    await _profile(
        admin,
        ac.AccessProfile(
            access_profile_id=guarded,
            display_name="Guarded",
            scope_kinds=kinds,
            membership_requirements=[ac.MembershipRequirement(relation="editor")],
            requires_approval=True,
            approver_relation="approver",
            max_approval_validity=_duration(3600),
        ),
    )
    gateway_id, tenant_gateway_id = f"service:gw-{tag}", f"service:tgw-{tag}"
    await world.operator.call(
        MS,
        "GrantMembership",
        mb.GrantMembershipRequest(subject=gateway_id, relation="gateway", object=PLATFORM),
        tenant=PLATFORM,
    )
    await world.operator.call(
        MS,
        "GrantMembership",
        mb.GrantMembershipRequest(
            subject=tenant_gateway_id, relation="gateway", object=world.other
        ),
        tenant=world.other,
    )
    yield Lab(
        world,
        slug,
        realm,
        area,
        asset,
        group,
        editor,
        guarded,
        world.caller(gateway_id, PLATFORM),
        world.caller(tenant_gateway_id, world.other),
    )


async def _rows(conn: Any, table: str, tenant: str, correlation_id: str) -> list[Any]:
    column = "change_summary" if table == "audit_records" else "payload"
    kind = "action" if table == "audit_records" else "event_type"
    return await (
        await conn.execute(
            f"SELECT {kind}, {column} FROM {table} WHERE tenant_id = %s"  # noqa: S608
            " AND correlation_id = %s ORDER BY seq",
            (tenant, correlation_id),
        )
    ).fetchall()


# ---- selection -------------------------------------------------------------------------


async def test_a_hat_is_selected_with_a_direct_membership(lab: Lab, admin_conn: Any) -> None:
    alice = await lab.user(relation_on=lab.realm)
    evidence = await lab.evidence(alice)
    hat = f"{lab.editor}@{lab.realm}"
    reply = await lab.select(alice, hat)
    active = reply.active_context
    assert active.hat.hat_id == hat and active.realm_id == lab.realm
    assert list(active.evidence_refs) == [evidence.evidence_id]
    # expiry: the earliest of 8h (profile), the evidence's expiry and its maximum age
    age_limit = evidence.verified_at.ToDatetime(dt.UTC) + dt.timedelta(hours=1)
    assert active.expires_at.ToDatetime(dt.UTC) == age_limit
    rows = await _rows(
        admin_conn, "audit_records", lab.world.tenant, lab.me(alice).last_correlation_id
    )
    assert [r[0] for r in rows] == ["tenant.hat.select"]
    events = await _rows(
        admin_conn, "outbox_events", lab.world.tenant, lab.me(alice).last_correlation_id
    )
    assert [e[0] for e in events] == ["active_context.selected"]


async def test_a_group_membership_on_an_ancestor_scope_carries_a_hat_below_it(lab: Lab) -> None:
    bob = await lab.user(group=True)  # editor on the realm through the group
    await lab.evidence(bob, factor="totp")
    for scope in (lab.area, lab.asset):
        reply = await lab.select(bob, f"{lab.editor}@{scope}")
        active = reply.active_context
        assert active.realm_id == lab.realm and active.service_area_id == lab.area
    assert active.asset_id == lab.asset
    # Not on the tenant itself: the profile is not worn on a tenant.
    assert await lab.select_fails(bob, f"{lab.editor}@{lab.world.tenant}") == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
    )


async def test_selecting_without_the_membership_is_denied(lab: Lab) -> None:
    carl = await lab.user()
    await lab.evidence(carl)
    assert await lab.select_fails(carl, f"{lab.editor}@{lab.realm}") == (
        grpc.StatusCode.PERMISSION_DENIED,
        "MEMBERSHIP_MISSING",
    )


@pytest.mark.parametrize(
    ("evidence", "case"),
    [
        (None, "missing"),
        ({"verified_ago": 2 * 3600}, "too old"),
        ({"level": common_pb2.ASSURANCE_LEVEL_AAL1}, "too weak"),
        ({"factor": "sms"}, "wrong type"),
    ],
)
async def test_factor_assurance_is_required(lab: Lab, evidence: Any, case: str) -> None:
    user = await lab.user(relation_on=lab.realm)
    if evidence is not None:
        await lab.evidence(user, **evidence)
    hat = f"{lab.editor}@{lab.realm}"
    assert await lab.select_fails(user, hat) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "FACTOR_ASSURANCE_MISSING",
    ), case
    listed = await lab.me(user).call(
        AC, "ListEligibleHats", ac.ListEligibleHatsRequest(user_id=user)
    )
    verdict = {h.hat.hat_id: h for h in listed.hats}[hat]
    assert not verdict.eligible
    assert list(verdict.reasons) == [ac.INELIGIBILITY_REASON_FACTOR_ASSURANCE_MISSING]
    # After fresh, strong evidence of an allowed type, the same hat is eligible.
    await lab.evidence(user)
    listed = await lab.me(user).call(
        AC, "ListEligibleHats", ac.ListEligibleHatsRequest(user_id=user, scope_id=lab.realm)
    )
    assert {h.hat.hat_id: h.eligible for h in listed.hats}[hat]


async def test_a_suspended_account_cannot_select(lab: Lab) -> None:
    user = await lab.user(relation_on=lab.realm)
    await lab.evidence(user)
    await lab.admin.call(
        TA,
        "SetAccountState",
        ta.SetAccountStateRequest(user_id=user, state=common_pb2.ACCOUNT_STATE_SUSPENDED),
    )
    assert await lab.select_fails(user, f"{lab.editor}@{lab.realm}", by=lab.gateway) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "ACCOUNT_NOT_ACTIVE",
    )


async def test_the_policy_denies_a_tenant_admin_selecting_for_a_user(lab: Lab) -> None:
    user = await lab.user(relation_on=lab.realm)
    await lab.evidence(user)
    hat = f"{lab.editor}@{lab.realm}"
    # Everything else holds: the port's deny is what refuses it.
    assert await lab.select_fails(user, hat, by=lab.admin) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_DENIED",
    )
    # ...while the gateway, acting for the user, may; and the tenant admin may end it.
    await lab.select(user, hat, by=lab.gateway)
    cleared = await lab.admin.call(AC, "ClearActiveHat", ac.ClearActiveHatRequest(user_id=user))
    assert cleared.cleared
    assert not (await lab.context(user)).HasField("active_context")


async def test_cross_tenant_hats_and_contexts_are_denied(lab: Lab) -> None:
    world = lab.world
    user = await lab.user(relation_on=lab.realm)
    other_slug = world.other.split(":", 1)[1]
    foreign = f"profile:{other_slug}/editor@realm:{other_slug}/lab"
    assert await lab.select_fails(user, foreign) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "CROSS_TENANT_DENIED",
    )
    # A gateway holding `gateway` only on the other tenant: not here.
    assert await lab.tenant_gateway.fails(
        AC,
        "GetIdentityContext",
        ac.GetIdentityContextRequest(user_id=user),
        tenant=world.tenant,
    ) == (grpc.StatusCode.PERMISSION_DENIED, "CROSS_TENANT_DENIED")
    # ...but there, for that tenant's users.
    other_context = await lab.tenant_gateway.call(
        AC,
        "GetIdentityContext",
        ac.GetIdentityContextRequest(user_id=world.other_admin_id),
        tenant=world.other,
    )
    assert other_context.identity_context.user_id == world.other_admin_id
    # A tenant admin of the other tenant cannot read a context here.
    assert await world.other_admin.fails(
        AC,
        "GetIdentityContext",
        ac.GetIdentityContextRequest(user_id=user),
        tenant=world.tenant,
    ) == (grpc.StatusCode.PERMISSION_DENIED, "CROSS_TENANT_DENIED")
    # A plain user reads only their own context; the tenant admin reads any here.
    stranger = await lab.user()
    assert await lab.me(stranger).fails(
        AC, "GetIdentityContext", ac.GetIdentityContextRequest(user_id=user)
    ) == (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")
    own = await lab.me(stranger).call(
        AC, "GetIdentityContext", ac.GetIdentityContextRequest(user_id=stranger)
    )
    assert own.identity_context.user_id == stranger
    read = await lab.admin.call(
        AC, "GetIdentityContext", ac.GetIdentityContextRequest(user_id=user)
    )
    assert read.identity_context.user_id == user


async def test_only_gateways_record_evidence_and_never_raw_factor_values(lab: Lab) -> None:
    user = await lab.user()
    request = ac.RecordFactorEvidenceRequest(
        user_id=user,
        factor_type="webauthn",
        assurance_level=common_pb2.ASSURANCE_LEVEL_AAL2,
        verified_at=_ts(-5),
        expires_at=_ts(600),
    )
    for caller in (lab.me(user), lab.admin):
        assert await caller.fails(AC, "RecordFactorEvidence", request) == (
            grpc.StatusCode.PERMISSION_DENIED,
            "PERMISSION_DENIED",
        )
    for raw in ("123456", "hunter2", "webauthn:short", "otp:123 456"):
        bad = ac.RecordFactorEvidenceRequest()
        bad.CopyFrom(request)
        bad.evidence_ref = raw
        assert await lab.gateway.fails(
            AC, "RecordFactorEvidence", bad, tenant=lab.world.tenant
        ) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"), raw


# ---- approvals -----------------------------------------------------------------------------


async def _approver(lab: Lab) -> str:
    approver = await lab.user()
    await lab.grant(approver, "approver", lab.world.tenant)
    return approver


async def _request_approval(
    lab: Lab, user: str, hat: str, seconds: float = 3600, justification: str = "INC-7"
) -> Any:
    reply = await lab.me(user).call(
        AC,
        "RequestHatApproval",
        ac.RequestHatApprovalRequest(
            user_id=user,
            hat_id=hat,
            justification=justification,
            requested_duration=_duration(seconds),
        ),
    )
    return reply.approval


async def test_an_approval_is_required_granted_by_an_approver_and_expires(
    lab: Lab, admin_conn: Any
) -> None:
    user = await lab.user(relation_on=lab.realm)
    await lab.admin.call(
        TA,
        "SetProfileValues",
        ta.SetProfileValuesRequest(
            user_id=user,
            layer=common_pb2.PROFILE_LAYER_TENANT,
            values=[ta.ProfileValueInput(key="national_id", value=SECRET_VALUE, sensitive=True)],
        ),
    )
    hat = f"{lab.guarded}@{lab.realm}"
    assert await lab.select_fails(user, hat) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "APPROVAL_REQUIRED",
    )
    approval = await _request_approval(
        lab, user, hat, justification=f"incident INC-7; my id is {SECRET_VALUE}"
    )
    assert approval.state == ac.HAT_APPROVAL_STATE_PENDING
    # The justification is audited, with the user's sensitive values redacted.
    rows = await _rows(
        admin_conn, "audit_records", lab.world.tenant, lab.me(user).last_correlation_id
    )
    assert "INC-7" in json.dumps(rows[0][1]) and SECRET_VALUE not in json.dumps(rows[0][1])
    # Neither the requester (even holding the approver relation) nor a non-approver decides.
    await lab.grant(user, "approver", lab.world.tenant)
    decide = ac.DecideHatApprovalRequest(
        approval_id=approval.approval_id,
        decision=ac.HAT_APPROVAL_STATE_APPROVED,
        valid_for=_duration(1.5),
    )
    assert await lab.me(user).fails(AC, "DecideHatApproval", decide) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_DENIED",
    )
    bystander = await lab.user()
    assert await lab.me(bystander).fails(AC, "DecideHatApproval", decide) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_DENIED",
    )
    assert await lab.admin.fails(AC, "DecideHatApproval", decide) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_DENIED",
    )  # a tenant admin is no approver either
    approver = await _approver(lab)
    decided = await lab.me(approver).call(AC, "DecideHatApproval", decide)
    assert decided.approval.state == ac.HAT_APPROVAL_STATE_APPROVED
    assert decided.approval.decided_by == approver
    # Deciding again: it is no longer pending.
    assert await lab.me(approver).fails(AC, "DecideHatApproval", decide) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "FAILED_PRECONDITION",
    )
    reply = await lab.select(user, hat)
    assert reply.active_context.approval_id == approval.approval_id
    assert reply.active_context.expires_at == decided.approval.expires_at
    await asyncio.sleep(1.6)
    # The approval (and so the hat) expired.
    assert not (await lab.context(user)).HasField("active_context")
    assert await lab.select_fails(user, hat) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "APPROVAL_REQUIRED",
    )


async def test_an_approval_covers_only_its_user_profile_and_scope(lab: Lab) -> None:
    user = await lab.user(relation_on=lab.realm)
    approval = await _request_approval(lab, user, f"{lab.guarded}@{lab.area}")
    approver = await _approver(lab)
    await lab.me(approver).call(
        AC,
        "DecideHatApproval",
        ac.DecideHatApprovalRequest(
            approval_id=approval.approval_id, decision=ac.HAT_APPROVAL_STATE_APPROVED
        ),
    )
    assert await lab.select_fails(user, f"{lab.guarded}@{lab.realm}") == (
        grpc.StatusCode.PERMISSION_DENIED,
        "APPROVAL_REQUIRED",
    )
    await lab.select(user, f"{lab.guarded}@{lab.area}")
    # A request longer than the profile allows is refused.
    assert await lab.me(user).fails(
        AC,
        "RequestHatApproval",
        ac.RequestHatApprovalRequest(
            user_id=user,
            hat_id=f"{lab.guarded}@{lab.realm}",
            justification="x",
            requested_duration=_duration(7200),
        ),
    ) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")


# ---- grounds ------------------------------------------------------------------------------


async def _wearing(lab: Lab, **kind: Any) -> tuple[str, mb.Membership | None]:
    user = await lab.user(group=kind.get("group", False))
    membership = None if kind.get("group") else await lab.grant(user, "editor", lab.realm)
    await lab.evidence(user, expires_in=kind.get("expires_in", 3600))
    await lab.select(user, f"{lab.editor}@{lab.realm}")
    assert (await lab.context(user)).active_context.hat.hat_id == f"{lab.editor}@{lab.realm}"
    return user, membership


async def _ended(lab: Lab, admin_conn: Any, user: str, correlation_id: str, cause: str) -> None:
    assert not (await lab.context(user)).HasField("active_context")
    rows = await _rows(admin_conn, "audit_records", lab.world.tenant, correlation_id)
    ended = [r for r in rows if r[0] == "active_context.end"]
    assert len(ended) == 1 and ended[0][1]["cause"] == cause and ended[0][1]["user_id"] == user
    events = await _rows(admin_conn, "outbox_events", lab.world.tenant, correlation_id)
    assert [e for e in events if e[0] == "active_context.ended"]


async def test_revoking_the_membership_ends_the_hat_in_the_same_change(
    lab: Lab, admin_conn: Any
) -> None:
    user, membership = await _wearing(lab)
    assert membership is not None
    await lab.admin.call(
        MS,
        "RevokeMembership",
        mb.RevokeMembershipRequest(membership_id=membership.membership_id),
    )
    await _ended(lab, admin_conn, user, lab.admin.last_correlation_id, "membership.revoked")


async def test_leaving_the_group_ends_the_hat(lab: Lab, admin_conn: Any) -> None:
    user, _ = await _wearing(lab, group=True)
    await lab.admin.call(
        MS, "RemoveGroupMember", mb.RemoveGroupMemberRequest(group_id=lab.group, user_id=user)
    )
    await _ended(lab, admin_conn, user, lab.admin.last_correlation_id, "group_member.removed")


async def test_suspending_the_account_ends_the_hat(lab: Lab, admin_conn: Any) -> None:
    user, _ = await _wearing(lab)
    await lab.admin.call(
        TA,
        "SetAccountState",
        ta.SetAccountStateRequest(user_id=user, state=common_pb2.ACCOUNT_STATE_SUSPENDED),
    )
    await _ended(lab, admin_conn, user, lab.admin.last_correlation_id, "account.suspended")


async def test_an_expired_evidence_ends_the_hat_at_once_and_the_sweep_records_it(
    lab: Lab, admin_conn: Any
) -> None:
    user, _ = await _wearing(lab, expires_in=1.5)
    await asyncio.sleep(1.6)
    # The very next read: gone (re-validated on read, before any sweep).
    assert not (await lab.context(user)).HasField("active_context")
    for _ in range(50):
        row = await (
            await admin_conn.execute(
                "SELECT correlation_id FROM audit_records WHERE tenant_id = %s"
                " AND action = 'active_context.end' AND change_summary->>'user_id' = %s",
                (lab.world.tenant, user),
            )
        ).fetchone()
        if row:
            break
        await asyncio.sleep(0.1)
    assert row, "the sweeper did not record the ending"
    await _ended(lab, admin_conn, user, row[0], "expired")


async def test_a_revocation_through_one_replica_is_honoured_by_another(
    lab: Lab, running: Any, database: Any, tmp_path: Any
) -> None:
    # Replica B: another `identity-context serve` process on the same database
    # (and data directory: the same dev-token key), no cache shared with A.
    settings = running.settings
    replica = ServerProcess(
        {
            "IDENTITY_CONTEXT_DATABASE_URL": database.runtime_url,
            "IDENTITY_CONTEXT_MIGRATION_DATABASE_URL": database.migration_url,
            "IDENTITY_CONTEXT_DATA_DIR": str(settings.data_dir),
        },
        cwd=tmp_path,
    )
    try:
        await asyncio.to_thread(replica.wait_serving, 120)
        channel = grpc.aio.insecure_channel(replica.address)
        gateway_b = Caller(channel, lab.gateway.token, lab.gateway.tenant)
        user, membership = await _wearing(lab)  # through replica A

        async def seen_by_b() -> ac.IdentityContext:
            reply = await gateway_b.call(
                AC,
                "GetIdentityContext",
                ac.GetIdentityContextRequest(user_id=user),
                tenant=lab.world.tenant,
            )
            return reply.identity_context

        assert (await seen_by_b()).HasField("active_context")
        assert membership is not None
        await lab.admin.call(  # through replica A
            MS,
            "RevokeMembership",
            mb.RevokeMembershipRequest(membership_id=membership.membership_id),
        )
        after = await seen_by_b()  # B's very next call
        assert not after.HasField("active_context")
        assert all(m.membership_id != membership.membership_id for m in after.memberships)
        await channel.close()
        assert await asyncio.to_thread(replica.terminate) == 0, replica.log
    finally:
        replica.kill()


# ---- the identity context and claims -----------------------------------------------------


async def test_the_identity_context_shows_everything_with_provenance(lab: Lab) -> None:
    world = lab.world
    user = await lab.user(relation_on=lab.area, group=True)
    await world.operator.call(
        TA,
        "SetProfileValues",
        ta.SetProfileValuesRequest(
            user_id=user,
            layer=common_pb2.PROFILE_LAYER_GLOBAL,
            values=[
                ta.ProfileValueInput(key="email", value="global@example.com"),
                ta.ProfileValueInput(key="locale", value="de"),
            ],
        ),
        tenant=PLATFORM,
    )
    await lab.admin.call(
        TA,
        "SetProfileValues",
        ta.SetProfileValuesRequest(
            user_id=user,
            layer=common_pb2.PROFILE_LAYER_TENANT,
            values=[
                ta.ProfileValueInput(key="email", value="tenant@example.com"),
                ta.ProfileValueInput(key="national_id", value=SECRET_VALUE, sensitive=True),
            ],
        ),
    )
    evidence = await lab.evidence(user, ref=SECRET_REF)
    await lab.select(user, f"{lab.editor}@{lab.asset}")
    context = await lab.context(user)
    assert context.tenant_id == world.tenant and context.user_id == user
    assert context.account_state == common_pb2.ACCOUNT_STATE_ACTIVE
    active = context.active_context
    assert active.hat.hat_id == f"{lab.editor}@{lab.asset}"
    assert (active.realm_id, active.service_area_id, active.asset_id) == (
        lab.realm,
        lab.area,
        lab.asset,
    )
    assert context.access_profile_id == lab.editor
    assert list(active.evidence_refs) == [evidence.evidence_id]
    profile = {v.key: (v.value, v.source_layer, v.sensitive) for v in context.profile}
    assert profile == {
        "desk": ("default", common_pb2.PROFILE_LAYER_ACCESS_PROFILE_DEFAULT, False),
        "email": ("tenant@example.com", common_pb2.PROFILE_LAYER_TENANT, False),
        "locale": ("de", common_pb2.PROFILE_LAYER_GLOBAL, False),
        "national_id": ("[REDACTED]", common_pb2.PROFILE_LAYER_TENANT, True),
    }
    assert list(context.groups) == [lab.group]
    held = {(m.subject, m.relation, m.object) for m in context.memberships}
    assert held == {(user, "editor", lab.area), (lab.group, "editor", lab.realm)}
    facts = {(f.subject, f.relation, f.object, f.source, f.via) for f in context.facts}
    assert facts == {
        (user, "editor", lab.area, common_pb2.FACT_SOURCE_DIRECT, ""),
        (user, "editor", lab.realm, common_pb2.FACT_SOURCE_GROUP, lab.group),
        (user, "wears", active.hat.hat_id, common_pb2.FACT_SOURCE_ACTIVE_CONTEXT, ""),
    }
    assert [e.evidence_id for e in context.evidence] == [evidence.evidence_id]
    assert context.seq > 0
    assert SECRET_REF not in str(context) and SECRET_VALUE not in str(context)


async def test_claims_differ_per_audience_and_never_carry_secrets(
    lab: Lab, admin_conn: Any
) -> None:
    user = await lab.user(relation_on=lab.area, group=True)
    await lab.admin.call(
        TA,
        "SetProfileValues",
        ta.SetProfileValuesRequest(
            user_id=user,
            layer=common_pb2.PROFILE_LAYER_TENANT,
            values=[
                ta.ProfileValueInput(key="email", value="u@example.com"),
                ta.ProfileValueInput(key="national_id", value=SECRET_VALUE, sensitive=True),
            ],
        ),
    )
    # Before a hat: the base claims only.
    hat = f"{lab.editor}@{lab.area}"
    assert await lab.claims(user, "service:mail") == {
        "sub": user,
        "tenant": lab.world.tenant,
        "hat": None,
    }
    await lab.evidence(user, ref=SECRET_REF)
    await lab.select(user, hat)
    mail = await lab.claims(user, "service:mail")
    drive = await lab.claims(user, "service:drive")
    other = await lab.claims(user, "service:calendar")
    base = {"sub": user, "tenant": lab.world.tenant, "hat": hat}
    assert mail == {**base, "email": "u@example.com", "realm": lab.realm, "groups": [lab.group]}
    assert drive == {**base, "role": "editor", "relations": ["editor"], "area": lab.area}
    assert other == base
    # On the wire the claims' keys come sorted (deterministic serialization): the
    # same claims are the same bytes.
    raw = lab.gateway.channel.unary_unary(
        "/identitycontext.v1.ActiveContextService/ProjectClaims",
        request_serializer=ac.ProjectClaimsRequest.SerializeToString,
        response_deserializer=None,
    )
    wire = await raw(
        ac.ProjectClaimsRequest(user_id=user, audience="service:mail"),
        metadata=[
            ("authorization", f"Bearer {lab.gateway.token}"),
            ("x-tenant-id", lab.world.tenant),
        ],
    )
    parsed = ac.ProjectClaimsResponse.FromString(wire)
    assert wire == parsed.SerializeToString(deterministic=True)
    keys = [k.encode() for k in sorted(mail)]
    offsets = [wire.index(k) for k in keys]
    assert offsets == sorted(offsets)
    # The secrets appear in no claims, audit record or event of the tenant.
    for table, column in (("audit_records", "change_summary"), ("outbox_events", "payload")):
        hits = await (
            await admin_conn.execute(
                f"SELECT count(*) FROM {table} WHERE tenant_id = %s"  # noqa: S608
                f" AND ({column}::text LIKE %s OR {column}::text LIKE %s)",
                (lab.world.tenant, f"%{SECRET_VALUE}%", f"%{SECRET_REF}%"),
            )
        ).fetchone()
        assert hits == (0,), table
    assert SECRET_VALUE not in json.dumps([mail, drive, other])


async def test_a_hat_is_re_validated_on_every_read(lab: Lab, admin_conn: Any) -> None:
    # The membership's window closes with no change through the service (nothing
    # ends the hat, and its stored expiry is hours away): the next read hides it.
    user, membership = await _wearing(lab)
    assert membership is not None
    await admin_conn.execute(
        "UPDATE memberships SET valid_from = now() - interval '1 hour',"
        " valid_until = now() - interval '1 second'"
        " WHERE tenant_id = %s AND membership_id = %s",
        (lab.world.tenant, membership.membership_id),
    )
    context = await lab.context(user)
    assert not context.HasField("active_context")
    assert all(m.membership_id != membership.membership_id for m in context.memberships)
    claims = await lab.claims(user, "service:mail")
    assert claims["hat"] is None and "realm" not in claims
    stored = await (
        await admin_conn.execute(
            "SELECT count(*) FROM active_contexts WHERE tenant_id = %s AND user_id = %s",
            (lab.world.tenant, user),
        )
    ).fetchone()
    assert stored == (1,)  # still stored: only the read decided it no longer holds


async def test_a_platform_template_is_worn_in_a_tenant(lab: Lab) -> None:
    world = lab.world
    template = f"profile:platform/auditor-{secrets.token_hex(3)}"
    await world.operator.call(
        AC,
        "CreateAccessProfile",
        ac.CreateAccessProfileRequest(
            access_profile=ac.AccessProfile(
                access_profile_id=template,
                scope_kinds=[mb.SCOPE_KIND_REALM],
                membership_requirements=[ac.MembershipRequirement(relation="auditor")],
            )
        ),
        tenant=PLATFORM,
    )
    user = await lab.user()
    await lab.grant(user, "auditor", lab.realm)
    hat = f"{template}@{lab.realm}"
    listed = await lab.me(user).call(
        AC, "ListEligibleHats", ac.ListEligibleHatsRequest(user_id=user, scope_id=lab.realm)
    )
    assert {h.hat.hat_id: h.eligible for h in listed.hats}[hat]
    reply = await lab.select(user, hat)
    assert reply.active_context.hat.access_profile_id == template
    assert (await lab.context(user)).access_profile_id == template
    # A tenant never edits a template: creating one from a tenant is platform-root.
    assert await lab.admin.fails(
        AC,
        "CreateAccessProfile",
        ac.CreateAccessProfileRequest(
            access_profile=ac.AccessProfile(access_profile_id=f"{template}-2")
        ),
        tenant=PLATFORM,
    ) == (grpc.StatusCode.PERMISSION_DENIED, "PLATFORM_ROOT_DENIED")
