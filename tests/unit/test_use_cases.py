"""Every use case against small fakes of its ports: an allowed and a denied path each, no I/O."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fakes import NOW, FakeAuthorization, FakeStore, FixedClock

from identity_context.application import commands as c
from identity_context.application.invocation import Invocation
from identity_context.application.pagination import PageTokens
from identity_context.bootstrap import build_use_cases
from identity_context.domain.actors import Actor
from identity_context.domain.directory import AccessProfileDefinition, ProfileLayer
from identity_context.domain.errors import (
    ErrorReason,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from identity_context.domain.identifiers import PLATFORM_TENANT, ActorKind, TenantId
from identity_context.domain.tenancy import AccountState, TenantState

COULOMB = TenantId("coulomb")
PAGES = PageTokens([b"k" * 32])


@dataclass
class Setup:
    store: FakeStore
    engine: FakeAuthorization
    uc: Any

    def inv(self, tenant: TenantId = COULOMB, actor: str = "user:carol", **kw: Any) -> Invocation:
        home = PLATFORM_TENANT if actor == "user:olivia" else COULOMB
        return Invocation(tenant, Actor(actor, ActorKind.USER, home, "test"), "corr", **kw)

    def actions(self) -> list[str]:
        return [change.action for _, change in self.store.state.changes]


@pytest.fixture
def setup() -> Setup:
    store = FakeStore()
    state = store.state
    state.add_tenant(PLATFORM_TENANT)
    state.add_tenant(COULOMB)
    for user in ("user:carol", "user:alice"):
        state.add_account(COULOMB, user)
    state.add_account(PLATFORM_TENANT, "user:olivia")
    state.grant(PLATFORM_TENANT, "user:olivia", "platform-operator")
    state.grant(COULOMB, "user:carol", "tenant-admin")
    engine = FakeAuthorization()
    return Setup(store, engine, build_use_cases(store, engine, PAGES, clock=FixedClock()))


def deny_all(setup: Setup) -> None:
    setup.engine.rule = lambda request: False


async def denied(setup: Setup, call: Callable[[], Awaitable[Any]]) -> PermissionDenied:
    deny_all(setup)
    before = list(setup.store.state.changes)
    with pytest.raises(PermissionDenied) as raised:
        await call()
    assert setup.store.state.changes == before  # nothing written
    return raised.value


# ---- tenants --------------------------------------------------------------------------


async def test_create_tenant_allowed_is_audited_in_the_platform(setup: Setup) -> None:
    inv = setup.inv(PLATFORM_TENANT, "user:olivia")
    tenant = await setup.uc.tenants.create(inv, c.CreateTenant("tenant:faraday", "Faraday"))
    assert str(tenant.tenant_id) == "tenant:faraday"
    assert setup.store.state.changes[-1][0] == "tenant:platform"
    assert setup.store.units == 1  # one transaction


async def test_create_tenant_denied_for_a_tenant_admin_is_platform_root(setup: Setup) -> None:
    inv = setup.inv(PLATFORM_TENANT)
    error = await denied(
        setup, lambda: setup.uc.tenants.create(inv, c.CreateTenant("tenant:xyz", ""))
    )
    assert error.reason is ErrorReason.PLATFORM_ROOT_DENIED


async def test_get_tenant_allowed_and_denied(setup: Setup) -> None:
    assert (await setup.uc.tenants.get(setup.inv(), "")).tenant_id == COULOMB
    await denied(setup, lambda: setup.uc.tenants.get(setup.inv(), ""))


async def test_list_tenants_allowed_and_denied(setup: Setup) -> None:
    inv = setup.inv(PLATFORM_TENANT, "user:olivia")
    page = await setup.uc.tenants.list(inv, 1, "", None)
    assert len(page.items) == 1 and page.next_page_token
    again = await setup.uc.tenants.list(inv, 1, page.next_page_token, None)
    assert again.items[0].tenant_id != page.items[0].tenant_id
    await denied(setup, lambda: setup.uc.tenants.list(inv, 1, "", None))


async def test_set_tenant_state_allowed_and_denied(setup: Setup) -> None:
    inv = setup.inv(PLATFORM_TENANT, "user:olivia")
    command = c.SetTenantState("tenant:coulomb", TenantState.SUSPENDED, "audit", "")
    assert (await setup.uc.tenants.set_state(inv, command)).state is TenantState.SUSPENDED
    await denied(setup, lambda: setup.uc.tenants.set_state(inv, command))


async def test_a_suspended_tenant_is_read_only_without_oversight(setup: Setup) -> None:
    setup.store.state.add_tenant(COULOMB, TenantState.SUSPENDED)
    with pytest.raises(FailedPrecondition) as raised:
        await setup.uc.accounts.upsert(setup.inv(), c.UpsertTenantUser("user:new", "", None, ""))
    assert raised.value.reason is ErrorReason.TENANT_NOT_ACTIVE
    # The operator oversees: allowed (the decision says so, from the roles).
    olivia = setup.inv(COULOMB, "user:olivia")
    await setup.uc.accounts.upsert(olivia, c.UpsertTenantUser("user:new", "", None, ""))


# ---- applications ---------------------------------------------------------------------


async def test_bind_application_allowed_and_denied(setup: Setup) -> None:
    binding = await setup.uc.applications.bind(setup.inv(), c.BindApplication("app:mail"))
    assert binding.application_id == "app:mail"
    with pytest.raises(NotFound):
        await setup.uc.applications.bind(setup.inv(), c.BindApplication("app:nope"))
    await denied(
        setup, lambda: setup.uc.applications.bind(setup.inv(), c.BindApplication("app:drive"))
    )


async def test_list_applications_allowed_and_denied(setup: Setup) -> None:
    catalog = await setup.uc.applications.list(setup.inv(PLATFORM_TENANT, "user:olivia"), 0, "")
    assert {b.application_id for b in catalog.items} == {"app:mail", "app:drive"}
    await denied(setup, lambda: setup.uc.applications.list(setup.inv(), 0, ""))


# ---- accounts -------------------------------------------------------------------------


async def test_upsert_tenant_user_allowed_and_denied(setup: Setup) -> None:
    created = await setup.uc.accounts.upsert(
        setup.inv(), c.UpsertTenantUser("user:bob", "Bob", AccountState.ACTIVE, "")
    )
    assert created.created and created.account.state is AccountState.ACTIVE
    assert setup.actions()[-1] == "tenant.user.upsert"
    with pytest.raises(InvalidArgument):
        await setup.uc.accounts.upsert(setup.inv(), c.UpsertTenantUser("bob", "", None, ""))
    await denied(
        setup,
        lambda: setup.uc.accounts.upsert(setup.inv(), c.UpsertTenantUser("user:x", "", None, "")),
    )


async def test_an_idempotent_upsert_replays_its_first_result(setup: Setup) -> None:
    inv = setup.inv(request_id="once")
    command = c.UpsertTenantUser("user:idem", "Idem", None, "")
    first = await setup.uc.accounts.upsert(inv, command)
    again = await setup.uc.accounts.upsert(inv, command)
    assert again == first and setup.actions().count("tenant.user.upsert") == 1
    with pytest.raises(FailedPrecondition):
        await setup.uc.accounts.upsert(inv, c.UpsertTenantUser("user:idem", "Other", None, ""))


async def test_get_tenant_user_allowed_and_denied(setup: Setup) -> None:
    assert (await setup.uc.accounts.get(setup.inv(), "user:alice")).user_id == "user:alice"
    with pytest.raises(NotFound):
        await setup.uc.accounts.get(setup.inv(), "user:ghost")
    await denied(setup, lambda: setup.uc.accounts.get(setup.inv(), "user:alice"))


async def test_list_tenant_users_allowed_and_denied(setup: Setup) -> None:
    page = await setup.uc.accounts.list(setup.inv(), 0, "", None)
    assert [a.user_id for a in page.items] == ["user:alice", "user:carol"]
    await denied(setup, lambda: setup.uc.accounts.list(setup.inv(), 0, "", None))


async def test_set_account_state_allowed_and_denied(setup: Setup) -> None:
    command = c.SetAccountState("user:alice", AccountState.SUSPENDED, "left", "")
    assert (await setup.uc.accounts.set_state(setup.inv(), command)).state is AccountState.SUSPENDED
    await denied(setup, lambda: setup.uc.accounts.set_state(setup.inv(), command))


# ---- profiles -------------------------------------------------------------------------


async def test_set_profile_values_allowed_and_denied(setup: Setup) -> None:
    command = c.SetProfileValues(
        "user:alice", ProfileLayer.TENANT, (c.ProfileWrite("ssn", "078-05-1120", True),), (), ""
    )
    update = await setup.uc.profiles.set_values(setup.inv(), command)
    assert [v.key for v in update.values] == ["ssn"]
    assert setup.store.state.changes[-1][1].sensitive_values == frozenset({"078-05-1120"})
    await denied(setup, lambda: setup.uc.profiles.set_values(setup.inv(), command))


async def test_the_global_layer_is_asked_as_a_platform_root_action(setup: Setup) -> None:
    command = c.SetProfileValues(
        "user:alice", ProfileLayer.GLOBAL, (c.ProfileWrite("locale", "de"),), (), ""
    )
    error = await denied(setup, lambda: setup.uc.profiles.set_values(setup.inv(), command))
    assert setup.engine.asked[-1].action == "platform.profile.set_global"
    assert error.reason is ErrorReason.PLATFORM_ROOT_DENIED


async def test_resolve_profile_allowed_and_denied(setup: Setup) -> None:
    command = c.SetProfileValues(
        "user:alice", ProfileLayer.TENANT, (c.ProfileWrite("ssn", "1", True),), (), ""
    )
    await setup.uc.profiles.set_values(setup.inv(), command)
    resolved = await setup.uc.profiles.resolve(setup.inv(), "user:alice", "")
    assert resolved.values[0].value == "[REDACTED]"  # carol is not alice
    own = await setup.uc.profiles.resolve(setup.inv(actor="user:alice"), "user:alice", "")
    assert own.values[0].value == "1"
    await denied(setup, lambda: setup.uc.profiles.resolve(setup.inv(), "user:alice", ""))


# ---- audit trail ----------------------------------------------------------------------


async def test_list_audit_records_allowed_and_denied(setup: Setup) -> None:
    await setup.uc.accounts.upsert(setup.inv(), c.UpsertTenantUser("user:a1", "", None, ""))
    page = await setup.uc.audit.list(setup.inv(), 0, "", "", 0)
    assert [r.action for r in page.items] == ["tenant.user.upsert"]
    await denied(setup, lambda: setup.uc.audit.list(setup.inv(), 0, "", "", 0))


async def test_verify_audit_chain_denied(setup: Setup) -> None:
    await denied(setup, lambda: setup.uc.audit.verify(setup.inv()))


async def test_diagnose_tenant_allowed_and_denied(setup: Setup) -> None:
    report = await setup.uc.diagnostics.diagnose(setup.inv())
    checks = {c.name: c.status.name for c in report.checks}
    assert checks["administration.admins"] == "PASS"  # carol
    assert checks["applications.required_bound"] == "FAIL" and not report.ready  # no app:mail
    assert setup.store.state.changes == []  # nothing recorded
    await setup.uc.applications.bind(setup.inv(), c.BindApplication("app:mail"))
    assert (await setup.uc.diagnostics.diagnose(setup.inv())).ready
    await denied(setup, lambda: setup.uc.diagnostics.diagnose(setup.inv()))


# ---- scopes, groups, memberships ------------------------------------------------------


async def test_create_scope_allowed_and_denied(setup: Setup) -> None:
    scope = await setup.uc.memberships.create_scope(
        setup.inv(), c.CreateScope("realm:coulomb/research", "", "Research")
    )
    assert scope.parent_scope_id == "tenant:coulomb"
    with pytest.raises(InvalidArgument):  # another tenant's scope
        await setup.uc.memberships.create_scope(
            setup.inv(), c.CreateScope("realm:bravo/secret", "", "")
        )
    await denied(
        setup,
        lambda: setup.uc.memberships.create_scope(
            setup.inv(), c.CreateScope("realm:coulomb/x", "", "")
        ),
    )


async def test_list_scopes_allowed_and_denied(setup: Setup) -> None:
    page = await setup.uc.memberships.list_scopes(setup.inv(), 0, "", "", None)
    assert list(page.items) == []
    await denied(setup, lambda: setup.uc.memberships.list_scopes(setup.inv(), 0, "", "", None))


async def test_groups_and_members_allowed_and_denied(setup: Setup) -> None:
    uc = setup.uc.memberships
    await uc.create_group(setup.inv(), c.CreateGroup("group:coulomb/eds", "Editors"))
    await uc.add_group_member(setup.inv(), c.AddGroupMember("group:coulomb/eds", "user:alice"))
    members = await uc.list_group_members(setup.inv(), "group:coulomb/eds", 0, "")
    assert [m.user_id for m in members.items] == ["user:alice"]
    assert (await uc.list_groups(setup.inv(), 0, "")).items[0].group_id == "group:coulomb/eds"
    removed = await uc.remove_group_member(
        setup.inv(), c.RemoveGroupMember("group:coulomb/eds", "user:alice")
    )
    assert removed.removed
    deny_all(setup)
    for call in (
        lambda: uc.create_group(setup.inv(), c.CreateGroup("group:coulomb/x", "")),
        lambda: uc.add_group_member(
            setup.inv(), c.AddGroupMember("group:coulomb/eds", "user:carol")
        ),
        lambda: uc.remove_group_member(
            setup.inv(), c.RemoveGroupMember("group:coulomb/eds", "user:carol")
        ),
        lambda: uc.list_group_members(setup.inv(), "group:coulomb/eds", 0, ""),
        lambda: uc.list_groups(setup.inv(), 0, ""),
    ):
        with pytest.raises(PermissionDenied):
            await call()


async def test_grant_membership_allowed_and_denied(setup: Setup) -> None:
    granted = await setup.uc.memberships.grant_membership(
        setup.inv(), c.GrantMembership("user:alice", "editor", "tenant:coulomb")
    )
    assert granted.relation == "editor"
    asked = setup.engine.asked[-1]
    assert asked.resource.properties["relation"] == "editor"
    assert asked.subject.properties["roles"] == ["tenant-admin"]  # read in the transaction
    with pytest.raises(InvalidArgument):
        await setup.uc.memberships.grant_membership(
            setup.inv(), c.GrantMembership("user:alice", "Editor!", "tenant:coulomb")
        )
    await denied(
        setup,
        lambda: setup.uc.memberships.grant_membership(
            setup.inv(), c.GrantMembership("user:alice", "viewer", "tenant:coulomb")
        ),
    )


async def test_revoke_membership_asks_with_the_stored_relation_and_is_denied(setup: Setup) -> None:
    granted = await setup.uc.memberships.grant_membership(
        setup.inv(), c.GrantMembership("user:alice", "editor", "tenant:coulomb")
    )
    revoked = await setup.uc.memberships.revoke_membership(
        setup.inv(), c.RevokeMembership(granted.membership_id, "", "done")
    )
    assert revoked.state.value == "revoked"
    assert setup.engine.asked[-1].resource.properties["relation"] == "editor"
    with pytest.raises(FailedPrecondition):
        await setup.uc.memberships.revoke_membership(
            setup.inv(), c.RevokeMembership(granted.membership_id, "", "")
        )
    error = await denied(
        setup,
        lambda: setup.uc.memberships.revoke_membership(
            setup.inv(), c.RevokeMembership("m0000", "", "")
        ),
    )
    assert error.reason is ErrorReason.PERMISSION_DENIED


async def test_list_memberships_allowed_and_denied(setup: Setup) -> None:
    page = await setup.uc.memberships.list_memberships(
        setup.inv(), subject="", object_="", relation="", state=None, page_size=0, page_token=""
    )
    assert {m.relation for m in page.items} == {"tenant-admin"}
    await denied(
        setup,
        lambda: setup.uc.memberships.list_memberships(
            setup.inv(), subject="", object_="", relation="", state=None, page_size=0, page_token=""
        ),
    )


# ---- access profiles ------------------------------------------------------------------


async def test_create_access_profile_allowed_and_denied(setup: Setup) -> None:
    command = c.CreateAccessProfile("profile:coulomb/ed", "Editor", AccessProfileDefinition())
    created = await setup.uc.access_profiles.create(setup.inv(), command)
    assert created.access_profile_id == "profile:coulomb/ed"
    other = c.CreateAccessProfile("profile:bravo/ed", "", AccessProfileDefinition())
    with pytest.raises(InvalidArgument) as raised:
        await setup.uc.access_profiles.create(setup.inv(), other)
    assert raised.value.reason is ErrorReason.CROSS_TENANT_DENIED
    template = c.CreateAccessProfile("profile:platform/t", "", AccessProfileDefinition())
    error = await denied(setup, lambda: setup.uc.access_profiles.create(setup.inv(), template))
    assert error.reason is ErrorReason.PLATFORM_ROOT_DENIED


async def test_list_access_profiles_allowed_and_denied(setup: Setup) -> None:
    assert list((await setup.uc.access_profiles.list(setup.inv(), 0, "")).items) == []
    await denied(setup, lambda: setup.uc.access_profiles.list(setup.inv(), 0, ""))


# ---- the port fails closed ------------------------------------------------------------


async def test_an_engine_error_is_unavailable_and_writes_nothing(setup: Setup) -> None:
    from identity_context.domain.errors import Unavailable

    def broken(request: Any) -> bool:
        raise RuntimeError("engine down")

    setup.engine.rule = broken
    with pytest.raises(Unavailable) as raised:
        await setup.uc.accounts.upsert(setup.inv(), c.UpsertTenantUser("user:z", "", None, ""))
    assert raised.value.reason is ErrorReason.AUTHZ_UNAVAILABLE
    assert setup.store.state.changes == []


# ---- hats ------------------------------------------------------------------------------

REALM = "realm:coulomb/r"
HAT = f"profile:coulomb/editor@{REALM}"


def _hat_world(setup: Setup, **definition: Any) -> None:
    from identity_context.domain.directory import AccessProfile, MembershipRequirement, Scope
    from identity_context.domain.identifiers import ScopeKind

    state = setup.store.state
    state.scopes[("tenant:coulomb", REALM)] = Scope(REALM, ScopeKind.REALM, "", "R", NOW)
    state.access_profiles[("tenant:coulomb", "profile:coulomb/editor")] = AccessProfile(
        "profile:coulomb/editor",
        "Editor",
        AccessProfileDefinition(
            membership_requirements=(MembershipRequirement("editor"),), **definition
        ),
    )
    state.grant(COULOMB, "user:alice", "editor", REALM)


def _evidence_command(**kw: Any) -> c.RecordFactorEvidence:
    import datetime as dt

    from identity_context.domain.actors import AssuranceLevel

    base: dict[str, Any] = {
        "user_id": "user:alice",
        "factor_type": "webauthn",
        "assurance_level": AssuranceLevel.AAL2,
        "verified_at": NOW - dt.timedelta(minutes=1),
        "expires_at": NOW + dt.timedelta(hours=1),
        "issuer": "gw",
        "evidence_ref": "webauthn:cred-12345678",
    }
    base.update(kw)
    return c.RecordFactorEvidence(**base)


async def test_record_evidence_allowed_and_denied(setup: Setup) -> None:
    recorded = await setup.uc.hats.record_evidence(setup.inv(), _evidence_command())
    assert recorded.evidence.factor_type == "webauthn"
    change = setup.store.state.changes[-1][1]
    assert change.action == "tenant.evidence.record"
    assert "webauthn:cred-12345678" in change.sensitive_values  # never stored as is
    await denied(setup, lambda: setup.uc.hats.record_evidence(setup.inv(), _evidence_command()))
    with pytest.raises(InvalidArgument):
        await setup.uc.hats.record_evidence(setup.inv(), _evidence_command(evidence_ref="123456"))


async def test_select_and_clear_allowed_and_denied(setup: Setup) -> None:
    _hat_world(setup)
    inv = setup.inv(actor="user:alice")
    active = await setup.uc.hats.select(inv, c.SelectActiveHat("user:alice", HAT))
    assert str(active.hat) == HAT and active.realm_id == REALM
    assert (await setup.uc.hats.clear(inv, c.ClearActiveHat("user:alice"))).cleared
    assert setup.actions()[-2:] == ["tenant.hat.select", "tenant.hat.clear"]
    await denied(setup, lambda: setup.uc.hats.select(inv, c.SelectActiveHat("user:alice", HAT)))
    await denied(setup, lambda: setup.uc.hats.clear(inv, c.ClearActiveHat("user:alice")))


async def test_select_fails_closed_on_each_missing_ground(setup: Setup) -> None:
    from identity_context.domain.actors import AssuranceLevel

    _hat_world(setup, min_assurance=AssuranceLevel.AAL2)
    inv = setup.inv(actor="user:alice")
    with pytest.raises(PermissionDenied) as raised:
        await setup.uc.hats.select(inv, c.SelectActiveHat("user:alice", HAT))
    assert raised.value.reason is ErrorReason.FACTOR_ASSURANCE_MISSING
    await setup.uc.hats.record_evidence(setup.inv(), _evidence_command())
    await setup.uc.hats.select(inv, c.SelectActiveHat("user:alice", HAT))
    # Revoking the membership ends the hat in the same change.
    membership = next(m for m in setup.store.state.memberships.values() if m.relation == "editor")
    await setup.uc.memberships.revoke_membership(
        setup.inv(), c.RevokeMembership(membership.membership_id, "", "done")
    )
    assert setup.actions()[-2:] == ["tenant.membership.revoke", "active_context.end"]
    with pytest.raises(PermissionDenied) as raised:
        await setup.uc.hats.select(inv, c.SelectActiveHat("user:alice", HAT))
    assert raised.value.reason is ErrorReason.MEMBERSHIP_MISSING


async def test_approvals_allowed_and_denied(setup: Setup) -> None:
    from identity_context.domain.hats import ApprovalState

    _hat_world(setup, requires_approval=True, approver_relation="approver")
    inv = setup.inv(actor="user:alice")
    request = c.RequestHatApproval("user:alice", HAT, "INC-1", 600)
    approval = await setup.uc.hats.request_approval(inv, request)
    assert approval.state is ApprovalState.PENDING
    decided = await setup.uc.hats.decide_approval(
        setup.inv(), c.DecideHatApproval(approval.approval_id, ApprovalState.APPROVED)
    )
    assert decided.state is ApprovalState.APPROVED and decided.decided_by == "user:carol"
    await setup.uc.hats.select(inv, c.SelectActiveHat("user:alice", HAT))
    await denied(setup, lambda: setup.uc.hats.request_approval(inv, request))
    await denied(
        setup,
        lambda: setup.uc.hats.decide_approval(
            setup.inv(), c.DecideHatApproval(approval.approval_id, ApprovalState.REJECTED)
        ),
    )


async def test_eligible_hats_and_identity_context_allowed_and_denied(setup: Setup) -> None:
    _hat_world(setup)
    inv = setup.inv(actor="user:alice")
    found = await setup.uc.hats.list_eligible(inv, "user:alice", "")
    # Candidates: scopes at or below where alice holds a relation (the realm only).
    assert [(str(e.hat), e.verdict.eligible) for e in found] == [(HAT, True)]
    await setup.uc.hats.select(inv, c.SelectActiveHat("user:alice", HAT))
    context = await setup.uc.identity_contexts.get(inv, "user:alice")
    assert context.active is not None and str(context.active.hat) == HAT
    claims = await setup.uc.identity_contexts.claims(inv, "user:alice", "service:mail")
    assert claims.claims == {"hat": HAT, "sub": "user:alice", "tenant": "tenant:coulomb"}
    await denied(setup, lambda: setup.uc.hats.list_eligible(inv, "user:alice", ""))
    await denied(setup, lambda: setup.uc.identity_contexts.get(inv, "user:alice"))
    await denied(setup, lambda: setup.uc.identity_contexts.claims(inv, "user:alice", "service:x"))
