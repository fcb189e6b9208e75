"""Page tokens: signed, bound to their scope, one spelling each, rotatable keys."""

from __future__ import annotations

import string
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from identity_context.application.pagination import PageTokens
from identity_context.domain.errors import ErrorReason, InvalidArgument
from identity_context.domain.identifiers import TenantId

OLD, NEW = b"o" * 32, b"n" * 32
ALPHABET = string.ascii_letters + string.digits + "-_"


def _invalid(tokens: PageTokens, scope: bytes, token: str) -> bool:
    with pytest.raises(InvalidArgument) as raised:
        tokens.verify(scope, token)
    assert raised.value.reason is ErrorReason.PAGE_TOKEN_INVALID
    assert raised.value.violations[0].field == "page_token"
    return True


def test_a_token_verifies_in_its_scope_only() -> None:
    tokens = PageTokens([NEW])
    token = tokens.sign(b"tenant:a\x1fgroups", "group:a/x")
    assert tokens.verify(b"tenant:a\x1fgroups", token) == "group:a/x"
    assert _invalid(tokens, b"tenant:b\x1fgroups", token)
    assert _invalid(tokens, b"tenant:a\x1fscopes", token)


def test_every_changed_character_is_refused() -> None:
    tokens = PageTokens([NEW])
    scope = b"s"
    token = tokens.sign(scope, "user:alice")
    for position, char in enumerate(token):
        for other in ALPHABET + ".=":
            if other != char:
                forged = token[:position] + other + token[position + 1 :]
                assert _invalid(tokens, scope, forged), (position, other)


def test_keys_rotate_the_first_signs_all_verify() -> None:
    old_token = PageTokens([OLD]).sign(b"s", "k")
    rotated = PageTokens([NEW, OLD])
    assert rotated.verify(b"s", old_token) == "k"
    assert rotated.sign(b"s", "k") == PageTokens([NEW]).sign(b"s", "k")
    assert _invalid(PageTokens([NEW]), b"s", old_token)


@dataclass(frozen=True)
class Item:
    key: str


def test_parse_binds_tenant_rpc_and_filter() -> None:
    tokens = PageTokens([NEW])
    request = tokens.parse(TenantId("alpha"), "memberships", 2, "", "user:a", None)
    page = request.page([Item("a"), Item("b"), Item("c")], "key")
    assert [i.key for i in page.items] == ["a", "b"] and page.next_page_token
    again = tokens.parse(TenantId("alpha"), "memberships", 2, page.next_page_token, "user:a", None)
    assert again.after == "b"
    for tenant, rpc, value in (("beta", "memberships", "user:a"), ("alpha", "groups", "user:a"),
                               ("alpha", "memberships", "user:b")):  # fmt: skip
        with pytest.raises(InvalidArgument):
            tokens.parse(TenantId(tenant), rpc, 2, page.next_page_token, value, None)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_junk_is_never_a_token(junk: str) -> None:
    assert _invalid(PageTokens([NEW]), b"s", junk)
