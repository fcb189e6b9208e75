"""JWKS caching and the refetch cooldown for unknown key ids."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


class SlowJwks:
    """A real HTTP JWKS endpoint whose pace the test sets.

    ``mode``: "fast" answers at once; "hold" sends headers, then waits until
    ``release`` is set; "trickle" sends one byte every 0.2 s, forever.
    """

    def __init__(self, body: bytes) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.mode = "fast"
        self.release = threading.Event()
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.requests += 1
                mode = outer.mode
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body) + 10_000))
                self.end_headers()
                try:
                    if mode == "fast":
                        self.wfile.write(body + b" " * 10_000)
                    elif mode == "hold":
                        outer.release.wait(30)
                        self.wfile.write(body + b" " * 10_000)
                    else:
                        for _ in range(150):
                            self.wfile.write(b" ")
                            self.wfile.flush()
                            outer.release.wait(0.2)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def slow(tmp_path: Path) -> Iterator[tuple[SlowJwks, RsaTestIssuer]]:
    issuer = RsaTestIssuer(tmp_path)
    server = SlowJwks(issuer.jwks_path.read_bytes())
    try:
        yield server, issuer
    finally:
        server.close()


async def test_a_trickling_endpoint_cannot_hold_a_fetch_past_its_bound(slow: Any) -> None:
    server, issuer = slow
    server.mode = "trickle"
    source = JwksKeySource(jwks_url=server.url, fetch_timeout_s=0.5)
    # Fails closed, and at all: the test's own bound only proves it returns.
    with pytest.raises(Unauthenticated):
        await asyncio.wait_for(source.key_for(issuer.kid), 20)
    assert server.requests == 1


async def test_a_cached_key_never_waits_for_a_refetch(slow: Any) -> None:
    server, issuer = slow
    clock = FakeMonotonic()
    source = JwksKeySource(
        jwks_url=server.url, unknown_kid_cooldown_s=30, fetch_timeout_s=20, monotonic=clock
    )
    assert (await source.key_for(issuer.kid)).key_id == issuer.kid  # fetched once, fast
    server.mode = "hold"
    clock.now += 31
    forged = asyncio.ensure_future(source.key_for("forged"))  # starts a refetch; it hangs
    while server.requests < 2:  # noqa: ASYNC110 - a counter of the server thread
        await asyncio.sleep(0.01)
    for _ in range(50):  # the known key answers while the refetch is still held
        assert (await source.key_for(issuer.kid)).key_id == issuer.kid
    assert not server.release.is_set() and not forged.done()
    # Other unknown kids join the one fetch under way instead of starting more.
    joined = asyncio.ensure_future(source.key_for("also-forged"))
    await asyncio.sleep(0.05)
    assert server.requests == 2
    server.release.set()
    for waiting in (forged, joined):
        with pytest.raises(Unauthenticated):
            await waiting
    assert source.fetch_count == 2


async def test_a_stale_set_is_refreshed_in_the_background(slow: Any) -> None:
    server, issuer = slow
    clock = FakeMonotonic()
    source = JwksKeySource(jwks_url=server.url, cache_ttl_s=10, monotonic=clock)
    await source.key_for(issuer.kid)
    server.mode = "hold"
    clock.now += 11
    assert (await source.key_for(issuer.kid)).key_id == issuer.kid  # answered from the cache
    while server.requests < 2:  # noqa: ASYNC110 - a counter of the server thread
        await asyncio.sleep(0.01)
    assert not server.release.is_set()
    server.release.set()
