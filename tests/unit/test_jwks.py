"""JWKS caching and the refetch cooldown for unknown key ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import RsaTestIssuer

from identity_context.adapters.auth.jwks import JwksKeySource
from identity_context.domain.errors import Unauthenticated


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_unknown_kid_refetches_at_most_once_per_cooldown(tmp_path: Path) -> None:
    issuer = RsaTestIssuer(tmp_path)
    clock = FakeMonotonic()
    source = JwksKeySource(
        jwks_file=issuer.jwks_path, cache_ttl_s=300, unknown_kid_cooldown_s=30, monotonic=clock
    )
    assert (await source.key_for(issuer.kid)).key_id == issuer.kid
    assert source.fetch_count == 1
    clock.now += 31
    for _ in range(20):
        with pytest.raises(Unauthenticated):
            await source.key_for("forged")
    assert source.fetch_count == 2  # one refetch for the whole flood
    clock.now += 31
    with pytest.raises(Unauthenticated):
        await source.key_for("forged")
    assert source.fetch_count == 3


async def test_rotated_key_is_found_after_the_cooldown(tmp_path: Path) -> None:
    issuer = RsaTestIssuer(tmp_path / "a", kid="k1")
    rotated = RsaTestIssuer(tmp_path / "b", kid="k2")
    clock = FakeMonotonic()
    source = JwksKeySource(jwks_file=issuer.jwks_path, unknown_kid_cooldown_s=30, monotonic=clock)
    await source.key_for("k1")
    both = (
        json.loads(issuer.jwks_path.read_text())["keys"]
        + json.loads(rotated.jwks_path.read_text())["keys"]
    )
    issuer.jwks_path.write_text(json.dumps({"keys": both}))
    with pytest.raises(Unauthenticated):
        await source.key_for("k2")  # still inside the cooldown of the first fetch
    clock.now += 30
    assert (await source.key_for("k2")).key_id == "k2"


async def test_unreadable_jwks_keeps_previous_keys_and_fails_closed_without_any(
    tmp_path: Path,
) -> None:
    issuer = RsaTestIssuer(tmp_path)
    clock = FakeMonotonic()
    source = JwksKeySource(jwks_file=issuer.jwks_path, cache_ttl_s=10, monotonic=clock)
    await source.key_for(issuer.kid)
    issuer.jwks_path.write_text("{not json")
    clock.now += 11
    assert (await source.key_for(issuer.kid)).key_id == issuer.kid
    empty = JwksKeySource(jwks_file=tmp_path / "missing.json", monotonic=clock)
    with pytest.raises(Unauthenticated):
        await empty.key_for(issuer.kid)
