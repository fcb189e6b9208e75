"""JSON Web Key Sets from a file, a URL or memory, cached, with a cooldown for unknown kids."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import httpx
import jwt

from identity_context.domain.errors import Unauthenticated

__all__ = ["JwksKeySource", "KeySource", "StaticKeySource"]

_log = logging.getLogger(__name__)
_MAX_JWKS_BYTES = 1 << 20


class KeySource(Protocol):
    """Finds the verification key of a token by its ``kid``."""

    async def key_for(self, kid: str | None) -> jwt.PyJWK:
        """Return the key named *kid*; raise Unauthenticated when there is none."""
        ...


def _select(keys: Mapping[str, jwt.PyJWK], kid: str | None) -> jwt.PyJWK | None:
    if kid is None:
        # A token without kid is only unambiguous against a one-key set.
        return next(iter(keys.values())) if len(keys) == 1 else None
    return keys.get(kid)


def _index(document: Mapping[str, Any]) -> dict[str, jwt.PyJWK]:
    key_set = jwt.PyJWKSet.from_dict(dict(document))
    indexed: dict[str, jwt.PyJWK] = {}
    for position, key in enumerate(key_set.keys):
        indexed[key.key_id or f"#{position}"] = key
    return indexed


class StaticKeySource:
    """A fixed key set held in memory (the local development issuer)."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._keys = _index(document)

    async def key_for(self, kid: str | None) -> jwt.PyJWK:
        """Return the key named *kid*; raise Unauthenticated when unknown."""
        key = _select(self._keys, kid)
        if key is None:
            raise Unauthenticated("token signing key is unknown")
        return key


class JwksKeySource:
    """Keys loaded from a JWKS file or URL.

    The set is cached for *cache_ttl_s*. A call whose key is cached never waits:
    a stale set is refreshed in the background while the cached key answers.
    A token naming an unknown ``kid`` makes the source refetch at most once per
    *unknown_kid_cooldown_s* (a flood of forged kids is not a flood of
    fetches); such calls wait for that one fetch, which is bounded as a whole
    (connect, transfer and size) by *fetch_timeout_s* and
    :data:`_MAX_JWKS_BYTES`, so a trickling endpoint cannot hold anyone for
    longer. A failed refetch keeps the previous keys.
    """

    def __init__(
        self,
        *,
        jwks_file: Path | None = None,
        jwks_url: str | None = None,
        cache_ttl_s: float = 300.0,
        unknown_kid_cooldown_s: float = 30.0,
        fetch_timeout_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if (jwks_file is None) == (jwks_url is None):
            raise ValueError("exactly one of jwks_file and jwks_url is required")
        if jwks_url is not None and not jwks_url.startswith(("https://", "http://")):
            raise ValueError("jwks_url must be http(s)")
        self._file = jwks_file
        self._url = jwks_url
        self._ttl = cache_ttl_s
        self._cooldown = unknown_kid_cooldown_s
        self._timeout = fetch_timeout_s
        self._monotonic = monotonic
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None  # when the last fetch started
        self._fetch: asyncio.Task[None] | None = None  # the one fetch under way
        self.fetch_count = 0

    @property
    def location(self) -> str:
        """Where the keys come from, for logs."""
        return str(self._file) if self._file is not None else str(self._url)

    async def key_for(self, kid: str | None) -> jwt.PyJWK:
        """Return the key named *kid*; raise Unauthenticated when it cannot be found."""
        now = self._monotonic()
        key = _select(self._keys, kid)
        if key is not None:
            if self._fetched_at is None or now - self._fetched_at >= self._ttl:
                self._start_fetch()  # stale: refresh for the next callers, answer now
            return key
        fetching = self._fetch is not None and not self._fetch.done()
        if fetching or self._fetched_at is None or now - self._fetched_at >= self._cooldown:
            # shield: a caller that gives up does not cancel the fetch others wait on
            await asyncio.shield(self._start_fetch())
            key = _select(self._keys, kid)
        if key is None:
            raise Unauthenticated("token signing key is unknown")
        return key

    def _start_fetch(self) -> asyncio.Task[None]:
        if self._fetch is None or self._fetch.done():
            self._fetched_at = self._monotonic()
            self.fetch_count += 1
            self._fetch = asyncio.create_task(self._refresh(), name=f"jwks {self.location}")
        return self._fetch

    async def _refresh(self) -> None:
        try:
            document = await asyncio.wait_for(self._load(), self._timeout)
            self._keys = _index(document)
        except (TimeoutError, OSError, ValueError, httpx.HTTPError, jwt.PyJWKSetError,
                jwt.PyJWKError) as exc:  # fmt: skip
            _log.warning(
                "cannot load JWKS from %s: %s", self.location, str(exc) or type(exc).__name__
            )

    async def _load(self) -> Mapping[str, Any]:
        if self._file is not None:
            raw = await asyncio.to_thread(self._file.read_bytes)
        else:
            assert self._url is not None
            raw = await self._download(self._url)
        if len(raw) > _MAX_JWKS_BYTES:
            raise ValueError("JWKS document is larger than 1 MiB")
        document = json.loads(raw)
        if not isinstance(document, dict):
            raise ValueError("JWKS document is not a JSON object")
        return document

    async def _download(self, url: str) -> bytes:
        body = bytearray()
        timeout = httpx.Timeout(self._timeout)
        async with (
            httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise ValueError(f"HTTP {response.status_code}")
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > _MAX_JWKS_BYTES:
                    raise ValueError("JWKS document is larger than 1 MiB")
        return bytes(body)
