"""The rules of hats (domain.hats) and the identity context built from a snapshot."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from identity_context.domain.actors import AssuranceLevel
from identity_context.domain.directory import (
    AccessProfileDefinition,
    ClaimSource,
    ClaimsRule,
    MembershipRequirement,
)
from identity_context.domain.errors import InvalidArgument
from identity_context.domain.hats import (
    ActiveHat,
    Approval,
    ApprovalState,
    Evidence,
    Grounds,
    Hat,
    HeldRelation,
    Unmet,
    check_hat,
    hat_holds,
    parse_evidence_ref,
    parse_hat,
    placement,
)
from identity_context.domain.identifiers import ScopeKind, TenantId
from identity_context.domain.identity_context import (
    ContextSnapshot,
    HeldMembership,
    build_context,
    project_claims,
)
from identity_context.domain.tenancy import AccountState, TenantState

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
ACME = TenantId("acme")
REALM, AREA = "realm:acme/r", "service:acme/r/s"
PARENTS = {REALM: "", AREA: REALM}
HAT = Hat("profile:acme/editor", AREA, ScopeKind.SERVICE_AREA)
EDITOR = AccessProfileDefinition(
    scope_kinds=(ScopeKind.REALM, ScopeKind.SERVICE_AREA),
    membership_requirements=(MembershipRequirement("editor"),),
    min_assurance=AssuranceLevel.AAL2,
    required_factor_types=("webauthn",),
    max_evidence_age_s=3600,
    max_active_duration_s=8 * 3600,
)


def _evidence(
    level: AssuranceLevel = AssuranceLevel.AAL2,
    factor: str = "webauthn",
    age_s: float = 60,
    left_s: float = 7200,
) -> Evidence:
    return Evidence(
        "ev1", factor, level, NOW - dt.timedelta(seconds=age_s), NOW + dt.timedelta(seconds=left_s)
    )


def _grounds(**changes: object) -> Grounds:
    base: dict[str, object] = {
        "tenant": ACME,
        "tenant_state": TenantState.ACTIVE,
        "account_state": AccountState.ACTIVE,
        "held": [HeldRelation("editor", REALM, "group:acme/g")],
        "parents": PARENTS,
        "evidence": [_evidence()],
    }
    base.update(changes)
    return Grounds(**base)  # type: ignore[arg-type]


def test_a_hat_is_worn_on_a_membership_held_above_its_scope() -> None:
    verdict = check_hat(EDITOR, HAT, _grounds(), NOW)
    assert verdict.eligible and verdict.evidence_ids == ("ev1",)
    # The evidence's maximum age ends first (verified 60 s ago, 1 h at most).
    assert verdict.expires_at == NOW + dt.timedelta(seconds=3540)


def test_a_membership_below_the_scope_does_not_count() -> None:
    realm_hat = Hat("profile:acme/editor", REALM, ScopeKind.REALM)
    verdict = check_hat(EDITOR, realm_hat, _grounds(held=[HeldRelation("editor", AREA)]), NOW)
    assert [u for u, _ in verdict.unmet] == [Unmet.MEMBERSHIP_MISSING]


@pytest.mark.parametrize(
    ("evidence", "detail"),
    [
        ([], "no unexpired factor evidence"),
        ([_evidence(factor="sms")], "allowed factor type"),
        ([_evidence(age_s=7200)], "too old"),
        ([_evidence(level=AssuranceLevel.AAL1)], "below aal2"),
        ([_evidence(left_s=-1)], "no unexpired factor evidence"),
    ],
)
def test_each_factor_shortfall_is_factor_assurance_missing(
    evidence: list[Evidence], detail: str
) -> None:
    verdict = check_hat(EDITOR, HAT, _grounds(evidence=evidence), NOW)
    assert [u for u, _ in verdict.unmet] == [Unmet.FACTOR_ASSURANCE_MISSING]
    assert detail in verdict.unmet[0][1]


def test_every_unmet_requirement_is_reported_in_order() -> None:
    guarded = AccessProfileDefinition(
        scope_kinds=(ScopeKind.REALM,),
        membership_requirements=(MembershipRequirement("editor"),),
        min_assurance=AssuranceLevel.AAL1,
        requires_approval=True,
        approver_relation="approver",
    )
    grounds = _grounds(
        account_state=AccountState.SUSPENDED, tenant_state=TenantState.SUSPENDED, held=[],
        evidence=[],
    )  # fmt: skip
    verdict = check_hat(guarded, HAT, grounds, NOW)
    assert [u for u, _ in verdict.unmet] == [
        Unmet.TENANT_NOT_ACTIVE,
        Unmet.ACCOUNT_NOT_ACTIVE,
        Unmet.SCOPE_KIND_NOT_ALLOWED,
        Unmet.MEMBERSHIP_MISSING,
        Unmet.FACTOR_ASSURANCE_MISSING,
        Unmet.APPROVAL_REQUIRED,
    ]


def test_an_approval_counts_for_its_hat_while_in_force() -> None:
    guarded = AccessProfileDefinition(requires_approval=True, approver_relation="approver")

    def approval(hat: str, state: ApprovalState, left_s: float) -> Approval:
        return Approval(
            "ap1", "user:u", hat, "why", state, "user:a", NOW, NOW,
            NOW + dt.timedelta(seconds=left_s), 3600, None,
        )  # fmt: skip

    for approvals, ok in (
        ([approval(str(HAT), ApprovalState.APPROVED, 60)], True),
        ([approval(str(HAT), ApprovalState.APPROVED, -1)], False),
        ([approval(str(HAT), ApprovalState.PENDING, 60)], False),
        ([approval(f"profile:acme/editor@{REALM}", ApprovalState.APPROVED, 60)], False),
    ):
        verdict = check_hat(guarded, HAT, _grounds(approvals=approvals), NOW)
        assert verdict.eligible is ok
        if ok:
            assert verdict.approval_id == "ap1"
            assert verdict.expires_at == NOW + dt.timedelta(seconds=60)


def test_a_held_hat_stops_holding_when_a_ground_goes() -> None:
    active = ActiveHat(
        "user:u", HAT, REALM, AREA, "", ("ev1",), "", NOW, NOW + dt.timedelta(hours=1)
    )
    assert hat_holds(active, EDITOR, _grounds(), NOW) == ""
    assert hat_holds(active, EDITOR, _grounds(held=[]), NOW)
    assert hat_holds(active, EDITOR, _grounds(account_state=AccountState.SUSPENDED), NOW)
    assert hat_holds(active, EDITOR, _grounds(), NOW + dt.timedelta(hours=1))
    assert hat_holds(active, None, _grounds(), NOW)


def test_placement_derives_realm_area_and_asset_from_the_scope_chain() -> None:
    asset = "asset:acme/r/s/db"
    grounds = _grounds(parents={**PARENTS, asset: AREA})
    assert placement(Hat("profile:acme/x", asset, ScopeKind.ASSET), grounds) == (
        REALM,
        AREA,
        asset,
    )
    assert placement(Hat("profile:acme/x", "tenant:acme", ScopeKind.TENANT), grounds) == (
        "",
        "",
        "",
    )


def test_hat_references_bind_to_the_tenant_except_platform_templates() -> None:
    assert parse_hat(f"profile:acme/editor@{AREA}", tenant=ACME) == HAT
    template = parse_hat(f"profile:platform/auditor@{REALM}", tenant=ACME)
    assert template.access_profile_id == "profile:platform/auditor"
    for bad in (
        "profile:other/editor@realm:acme/r",
        "profile:acme/editor@realm:other/r",
        "profile:acme/editor",
        "@realm:acme/r",
    ):
        with pytest.raises(InvalidArgument):
            parse_hat(bad, tenant=ACME)


@given(st.text(max_size=200))
def test_an_evidence_reference_is_an_opaque_id_or_refused(value: str) -> None:
    try:
        parsed = parse_evidence_ref(value)
    except InvalidArgument as error:
        assert error.violations[0].field == "evidence_ref"
        return
    assert parsed == value
    if value:
        scheme, _, ident = value.partition(":")
        assert scheme and 8 <= len(ident) <= 128 and value.isascii()


@pytest.mark.parametrize(
    "raw", ["123456", "hunter2", "otp:1234567", "x:" + "a" * 129, "é:abcdefgh"]
)
def test_raw_factor_values_are_no_evidence_reference(raw: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_evidence_ref(raw)


def _snapshot(**changes: object) -> ContextSnapshot:
    active = ActiveHat(
        "user:u", HAT, REALM, AREA, "", ("ev1",), "", NOW, NOW + dt.timedelta(hours=1)
    )
    definition = AccessProfileDefinition(
        membership_requirements=(MembershipRequirement("editor"),),
        profile_defaults=(("desk", "d"), ("email", "default@x")),
        claims_rules=(
            ClaimsRule("service:mail", "email", ClaimSource.PROFILE, "email"),
            ClaimsRule("service:mail", "secret", ClaimSource.PROFILE, "national_id"),
            ClaimsRule("service:mail", "relations", ClaimSource.RELATIONS),
        ),
    )
    base: dict[str, object] = {
        "roles": frozenset(),
        "now": NOW,
        "tenant": ACME,
        "tenant_state": TenantState.ACTIVE,
        "seq": 7,
        "user_id": "user:u",
        "account_state": AccountState.ACTIVE,
        "values": [(True, "email", "g@x", False), (False, "national_id", "S3CRET", True)],
        "groups": ("group:acme/g",),
        "memberships": [
            HeldMembership(
                "m1", "group:acme/g", "editor", REALM, "group:acme/g", None, None, NOW, 1
            )
        ],
        "active": active,
        "definition": definition,
        "parents": PARENTS,
        "evidence": [_evidence()],
    }
    base.update(changes)
    return ContextSnapshot(**base)  # type: ignore[arg-type]


def test_the_context_redacts_sensitive_values_and_claims_never_carry_them() -> None:
    snapshot = _snapshot()
    context = build_context(snapshot)
    assert context.active is not None
    values = {v.key: (v.value, v.source_layer.value) for v in context.profile}
    assert values == {
        "desk": ("d", "access_profile_default"),
        "email": ("g@x", "global"),
        "national_id": ("[REDACTED]", "tenant"),
    }
    claims = project_claims(context, snapshot.definition, "service:mail", snapshot.parents)
    assert claims == {
        "email": "g@x",
        "hat": str(HAT),
        "relations": ["editor"],
        "sub": "user:u",
        "tenant": "tenant:acme",
    }
    assert list(claims) == sorted(claims)
    assert project_claims(context, snapshot.definition, "service:other", snapshot.parents) == {
        "hat": str(HAT),
        "sub": "user:u",
        "tenant": "tenant:acme",
    }


def test_a_hat_whose_grounds_are_gone_is_not_in_the_context() -> None:
    context = build_context(_snapshot(memberships=[]))
    assert context.active is None
    assert [f.relation for f in context.facts] == []
    assert {v.key for v in context.profile} == {"email", "national_id"}  # no profile defaults
