"""Identifier grammar (DESIGN section 3)."""

from __future__ import annotations

import pytest

from identity_context.domain.errors import ErrorReason, InvalidArgument
from identity_context.domain.identifiers import (
    ScopeKind,
    TenantId,
    parse_actor_ref,
    parse_group_ref,
    parse_hat_ref,
    parse_scope_ref,
    parse_tenant_id,
    parse_user_ref,
)

COULOMB = TenantId("coulomb")


@pytest.mark.parametrize("value", ["tenant:coulomb", "tenant:platform", "tenant:a1b", "tenant:x-9"])
def test_valid_tenant_ids_parse(value: str) -> None:
    assert str(parse_tenant_id(value)) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "coulomb",
        "tenant:",
        "tenant:ab",
        "tenant:Coulomb",
        "tenant:1abc",
        "tenant:abc-",
        "tenant:" + "a" * 64,
        "tenant:co ulomb",
        "tenant:coulomb\n",
        "TENANT:coulomb",
    ],
)
def test_malformed_tenant_ids_are_field_violations(value: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        parse_tenant_id(value, field="x-tenant-id")
    assert [v.field for v in raised.value.violations] == ["x-tenant-id"]


def test_platform_tenant_is_the_platform_plane() -> None:
    assert parse_tenant_id("tenant:platform").is_platform
    assert not parse_tenant_id("tenant:coulomb").is_platform


@pytest.mark.parametrize("value", ["user:alice", "user:Alice.B+c@x-y_z", "user:" + "a" * 128])
def test_valid_user_refs(value: str) -> None:
    assert parse_user_ref(value) == value


@pytest.mark.parametrize(
    "value", ["alice", "user:", "user:.alice", "user:a b", "user:" + "a" * 129]
)
def test_invalid_user_refs(value: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_user_ref(value)


def test_actor_is_user_or_service() -> None:
    assert parse_actor_ref("service:edge-gateway")[0].value == "service"
    assert parse_actor_ref("user:alice")[0].value == "user"
    with pytest.raises(InvalidArgument):
        parse_actor_ref("group:coulomb/x")


def test_group_of_another_tenant_is_a_cross_tenant_reference() -> None:
    assert parse_group_ref("group:coulomb/research-editors", tenant=COULOMB)
    with pytest.raises(InvalidArgument) as raised:
        parse_group_ref("group:other/research-editors", tenant=COULOMB)
    assert raised.value.reason is ErrorReason.CROSS_TENANT_DENIED


def test_scope_refs_parse_with_kind_and_tenant() -> None:
    realm = parse_scope_ref("realm:coulomb/research", tenant=COULOMB)
    assert realm.kind is ScopeKind.REALM and str(realm) == "realm:coulomb/research"
    asset = parse_scope_ref("asset:coulomb/research/mail/inbox-1")
    assert asset.kind is ScopeKind.ASSET and asset.path == "research/mail/inbox-1"
    assert parse_scope_ref("tenant:coulomb", tenant=COULOMB).kind is ScopeKind.TENANT
    with pytest.raises(InvalidArgument):
        parse_scope_ref("realm:other/research", tenant=COULOMB)
    with pytest.raises(InvalidArgument):
        parse_scope_ref("realm:coulomb/Research")
    with pytest.raises(InvalidArgument):
        parse_scope_ref("realm:coulomb/")


def test_hat_is_profile_at_scope_of_the_same_tenant() -> None:
    profile, scope = parse_hat_ref(
        "profile:coulomb/research-editor@realm:coulomb/research", tenant=COULOMB
    )
    assert profile == "profile:coulomb/research-editor" and scope.kind is ScopeKind.REALM
    with pytest.raises(InvalidArgument):
        parse_hat_ref("profile:coulomb/research-editor", tenant=COULOMB)
    with pytest.raises(InvalidArgument):
        parse_hat_ref("profile:coulomb/editor@realm:other/research", tenant=COULOMB)
