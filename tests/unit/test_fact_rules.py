"""Fact stream rules: facts tokens and resume cursors, filters, positions, the OpenFGA model."""

from __future__ import annotations

import re
import string
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from identity_context.adapters.openfga import STANDARD_RELATIONS, model, shipped_model, tuple_of
from identity_context.application.facts import FactStream
from identity_context.application.pagination import PageTokens
from identity_context.domain.errors import ErrorReason, InvalidArgument
from identity_context.domain.facts import (
    ALL_CHANGES,
    ExportMode,
    Fact,
    FactFilter,
    FactSource,
    Position,
)
from identity_context.domain.identifiers import TenantId
from identity_context.domain.roles import FACT_RELATIONS

TENANT, OTHER = TenantId("acme"), TenantId("other")
NATIVE, FLAT = ExportMode.NATIVE, ExportMode.FLATTENED


def _stream() -> FactStream:
    none: Any = None
    return FactStream(none, none, PageTokens([b"k" * 32]))


def _refused(call: Any, field: str = "facts_token") -> bool:
    with pytest.raises(InvalidArgument) as raised:
        call()
    assert raised.value.reason is ErrorReason.FACTS_TOKEN_INVALID
    assert raised.value.violations[0].field == field
    return True


def test_a_token_round_trips_its_position_in_its_tenant_mode_and_filter_only() -> None:
    stream, every = _stream(), FactFilter()
    for position in (Position(0), Position(41), Position(41, 3)):
        token = stream._token(TENANT, NATIVE, every, position)
        assert stream._position(TENANT, NATIVE, every, token) == position
    token = stream._token(TENANT, NATIVE, every, Position(7))
    assert _refused(lambda: stream._position(OTHER, NATIVE, every, token))
    assert _refused(lambda: stream._position(TENANT, FLAT, every, token))
    editors = FactFilter.of(["editor"], [])
    assert _refused(lambda: stream._position(TENANT, NATIVE, editors, token))
    assert _refused(lambda: stream._position(TENANT, NATIVE, every, ""))


@given(st.text(alphabet=string.printable, max_size=120))
def test_no_garbage_token_is_anything_but_invalid(garbage: str) -> None:
    stream = _stream()
    real = stream._token(TENANT, NATIVE, FactFilter(), Position(3))
    if garbage != real:
        assert _refused(lambda: stream._position(TENANT, NATIVE, FactFilter(), garbage))
        assert _refused(
            lambda: stream._resume(TENANT, NATIVE, FactFilter(), garbage), "resume_cursor"
        )


def test_an_export_cursor_carries_snapshot_and_key_and_is_bound_like_tokens() -> None:
    stream = _stream()
    key = ("user:a", "editor", "realm:acme/r")
    cursor = stream._cursor(TENANT, FLAT, FactFilter(), ("00000003-0000001B-1", 12), key)
    assert stream._resume(TENANT, FLAT, FactFilter(), cursor) == ("00000003-0000001B-1", 12, key)
    assert _refused(lambda: stream._resume(TENANT, NATIVE, FactFilter(), cursor), "resume_cursor")
    assert _refused(lambda: stream._resume(OTHER, FLAT, FactFilter(), cursor), "resume_cursor")
    # a facts token is no cursor and a cursor no token
    token = stream._token(TENANT, FLAT, FactFilter(), Position(12))
    assert _refused(lambda: stream._resume(TENANT, FLAT, FactFilter(), token), "resume_cursor")
    assert _refused(lambda: stream._position(TENANT, FLAT, FactFilter(), cursor))


relation = st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True)


@given(st.lists(relation, max_size=8), st.lists(st.sampled_from(FactSource), max_size=4))
def test_a_filter_is_canonical(relations: list[str], sources: list[FactSource]) -> None:
    one = FactFilter.of(relations, sources)
    other = FactFilter.of(list(reversed(relations)) + relations, sources[::-1])
    assert one == other and one.canonical() == other.canonical()
    assert list(one.relations) == sorted(set(relations))


@given(st.lists(st.text(max_size=12), min_size=1, max_size=4))
def test_a_filter_with_a_bad_relation_names_it(relations: list[str]) -> None:
    bad = [i for i, r in enumerate(relations) if not re.fullmatch(r"[a-z][a-z0-9_-]{0,62}", r)]
    if not bad:
        assert FactFilter.of(relations, []).relations
        return
    with pytest.raises(InvalidArgument) as raised:
        FactFilter.of(relations, [])
    assert raised.value.violations[0].field == f"filter.relations[{bad[0]}]"


def test_positions_order_as_the_stream() -> None:
    assert Position(4, 1) < Position(4, 2) < Position(4) < Position(5, 1)
    assert Position(4).change == ALL_CHANGES and Position(4).at_boundary
    assert not Position(4, 2).at_boundary


def test_the_shipped_openfga_model_is_the_rendered_one() -> None:
    assert shipped_model() == model()
    rendered = model(["oncall"])
    assert "define oncall: [user, group#member] or oncall from parent" in rendered
    for reserved in FACT_RELATIONS:  # derived relations are defined once, by the model
        assert rendered.count(f"define {reserved}:") == 4 - (reserved == "parent")
    assert all(f"define {r}:" in model() for r in STANDARD_RELATIONS)


def test_a_fact_is_its_tuple() -> None:
    fact = Fact("tenant:acme", "group:acme/ops#member", "viewer", "realm:acme/r", FactSource.DIRECT)
    assert tuple_of(fact) == {
        "user": "group:acme/ops#member",
        "relation": "viewer",
        "object": "realm:acme/r",
    }
