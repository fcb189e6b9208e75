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


async def test_jwks_url_is_fetched_cached_and_refetched_once_per_cooldown(tmp_path: Path) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    issuer = RsaTestIssuer(tmp_path)
    body = issuer.jwks_path.read_bytes()
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        clock = FakeMonotonic()
        source = JwksKeySource(
            jwks_url=f"http://127.0.0.1:{httpd.server_address[1]}/jwks.json",
            unknown_kid_cooldown_s=30,
            monotonic=clock,
        )
        for _ in range(3):
            assert (await source.key_for(issuer.kid)).key_id == issuer.kid
        assert hits == ["/jwks.json"]
        clock.now += 31
        for _ in range(5):
            with pytest.raises(Unauthenticated):
                await source.key_for("forged")
        assert len(hits) == 2
    finally:
        httpd.shutdown()
        httpd.server_close()
