"""The shipped Cedar policies and their schema (the resource/action manifest)."""

from __future__ import annotations

import re

import cedarpy
import pytest
from support import REPO

from identity_context.adapters.authz.cedar import (
    RESOURCE_TYPES,
    CedarAuthorizationClient,
    load_policy_texts,
)
from identity_context.application.actions import Action
from identity_context.application.authorization import AuthzEntity, AuthzRequest
from identity_context.domain.roles import RESERVED_PLATFORM_RELATIONS

APPLICATION = REPO / "src" / "identity_context" / "application"


def _manifest_actions() -> set[str]:
    schema, _ = load_policy_texts()
    names = set()
    for declaration in re.findall(r'action ((?:"[^"]+",?\s*)+)', schema):
        names.update(re.findall(r'"([^"]+)"', declaration))
    return names - {"platform-root", "tenant-plane"}


def test_policies_validate_against_the_manifest() -> None:
    schema, policies = load_policy_texts()
    assert cedarpy.validate_policies(policies, schema).validation_passed


def test_the_action_enum_is_the_manifest() -> None:
    assert {a.value for a in Action} == _manifest_actions()


def test_use_cases_name_actions_only_through_the_enum() -> None:
    for path in APPLICATION.glob("*.py"):
        if path.name != "actions.py":
            literals = re.findall(r'"((?:platform|tenant)\.[a-z_]+\.[a-z_.]+)"', path.read_text())
            assert not set(literals) & _manifest_actions(), path.name


def test_policies_are_named_and_separate() -> None:
    _, policies = load_policy_texts()
    ids = re.findall(r'@id\("([^"]+)"\)', policies)
    assert len(ids) == len(set(ids))
    for required in (
        "platform-operator.platform-root",
        "tenant-admin",
        "self-service.read-own-account",
        "break-glass",
        "platform-root.tenant-lifecycle",
        "platform-root.platform-tenant",
        "cross-tenant",
    ):
        assert required in ids


def test_a_broken_policy_set_is_refused_at_start() -> None:
    schema, _ = load_policy_texts()
    with pytest.raises(ValueError, match="do not validate"):
        CedarAuthorizationClient(
            schema, 'permit (principal, action == IdentityContext::Action::"nope", resource);'
        )


def _request(action: str, roles: list[str], resource_tenant: str, **extra: object) -> AuthzRequest:
    return AuthzRequest(
        AuthzEntity(
            "user",
            "user:carol",
            {
                "actor_tenant": "tenant:coulomb",
                "assurance_level": 1,
                "roles": roles,
                "active_hat": "",
            },
        ),
        action,
        AuthzEntity("membership", "m", {"tenant": resource_tenant, "plane": "tenant", **extra}),
        {"break_glass": False, "break_glass_reason": "", "correlation_id": "c"},
    )


async def test_forbid_beats_permit_for_a_tenant_admin_holding_a_reserved_relation_grant() -> None:
    client = CedarAuthorizationClient()
    allowed = await client.evaluate(
        _request("tenant.membership.grant", ["tenant-admin"], "tenant:coulomb", relation="editor"),
        timeout_s=1,
    )
    assert allowed.allowed and allowed.policy_ids == ("tenant-admin",)
    denied = await client.evaluate(
        _request(
            "tenant.membership.grant",
            ["tenant-admin"],
            "tenant:coulomb",
            relation="platform-operator",
        ),
        timeout_s=1,
    )
    assert not denied.allowed
    assert denied.policy_ids == ("platform-root.reserved-relations",)


def test_the_reserved_relations_policy_lists_the_reserved_platform_relations() -> None:
    _, policies = load_policy_texts()
    block = policies.split('@id("platform-root.reserved-relations")', 1)[1].split("@id(", 1)[0]
    listed = re.search(r"when \{\s*resource has relation &&\s*\[([^\]]*)\]", block)
    assert listed is not None
    assert set(re.findall(r'"([^"]+)"', listed.group(1))) == set(RESERVED_PLATFORM_RELATIONS)


async def test_the_memo_answers_a_repeated_input_without_evaluating_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = CedarAuthorizationClient()
    calls = 0
    evaluate = cedarpy.is_authorized

    def counting(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return evaluate(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cedarpy, "is_authorized", counting)
    request = _request("tenant.membership.grant", ["tenant-admin"], "tenant:coulomb", relation="x")
    first = await client.evaluate(request, timeout_s=1)
    again = await client.evaluate(request, timeout_s=1)
    assert first == again and first.allowed and calls == 1
    # Any part of the input differs: a new evaluation, and a different answer here.
    other = _request("tenant.membership.grant", [], "tenant:coulomb", relation="x")
    assert not (await client.evaluate(other, timeout_s=1)).allowed and calls == 2


def test_the_engine_sees_exactly_the_resource_attributes_the_schema_declares() -> None:
    schema, _ = load_policy_texts()
    declared: dict[str, set[str]] = {}
    for names, body in re.findall(r"entity ([A-Za-z, ]+?)\s*=\s*\{(.*?)\};", schema, re.S):
        attributes = set(re.findall(r"(\w+)\??:", body))
        for name in names.split(","):
            declared[name.strip()] = attributes
    for cedar_type, attributes in RESOURCE_TYPES.values():
        assert declared[cedar_type] == set(attributes), cedar_type


def test_the_policies_never_name_a_resource_by_its_uid() -> None:
    # The adapter gives every resource one uid (decisions are memoized on the
    # attributes), which is only right while no policy names a resource uid.
    _, policies = load_policy_texts()
    for cedar_type, _ in RESOURCE_TYPES.values():
        assert f'IdentityContext::{cedar_type}::"' not in policies, cedar_type


def test_target_user_is_only_compared_with_the_principals_subject() -> None:
    # The memo keeps only whether target_user is the principal (cedar._attribute);
    # that is exact only while no policy looks at target_user any other way.
    _, policies = load_policy_texts()
    uses = re.findall(r"[^\s(]*target_user[^\n&|)}]*", policies)
    assert uses and {u.strip() for u in uses} == {"resource.target_user == principal.subject"}, uses


async def test_decisions_about_different_users_share_a_memo_entry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = CedarAuthorizationClient()
    calls = 0
    evaluate = cedarpy.is_authorized

    def counting(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return evaluate(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cedarpy, "is_authorized", counting)

    def read(subject: str, target: str) -> AuthzRequest:
        return AuthzRequest(
            AuthzEntity("user", subject, {"actor_tenant": "tenant:coulomb", "roles": []}),
            "tenant.user.read",
            AuthzEntity(
                "tenant_user",
                target,
                {"tenant": "tenant:coulomb", "plane": "tenant", "target_user": target},
            ),
        )

    assert (await client.evaluate(read("user:a", "user:a"), timeout_s=1)).allowed
    assert not (await client.evaluate(read("user:a", "user:b"), timeout_s=1)).allowed
    assert not (await client.evaluate(read("user:a", "user:c"), timeout_s=1)).allowed
    assert calls == 2  # user:b and user:c are both "someone else"
    assert (await client.evaluate(read("user:b", "user:b"), timeout_s=1)).allowed
