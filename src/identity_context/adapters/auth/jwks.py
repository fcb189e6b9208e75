"""JSON Web Key Sets from a file, a URL or memory, cached, with a cooldown for unknown kids."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

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

    The set is cached for *cache_ttl_s*. A token naming an unknown ``kid`` makes
    the source refetch at most once per *unknown_kid_cooldown_s*, so a flood of
    forged kids cannot turn into a flood of fetches. A failed refetch keeps the
    previous keys.
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
        self._file = jwks_file
        self._url = jwks_url
        self._ttl = cache_ttl_s
        self._cooldown = unknown_kid_cooldown_s
        self._timeout = fetch_timeout_s
        self._monotonic = monotonic
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetch_count = 0

    @property
    def location(self) -> str:
        """Where the keys come from, for logs."""
        return str(self._file) if self._file is not None else str(self._url)

    async def key_for(self, kid: str | None) -> jwt.PyJWK:
        """Return the key named *kid*, refreshing the set when stale or when *kid* is new.

        Raise Unauthenticated when the key cannot be found.
        """
        async with self._lock:
            now = self._monotonic()
            stale = self._fetched_at is None or now - self._fetched_at >= self._ttl
            if stale:
                await self._refresh()
            key = _select(self._keys, kid)
            if key is None and not stale and self._cooldown_over(now):
                await self._refresh()
                key = _select(self._keys, kid)
        if key is None:
            raise Unauthenticated("token signing key is unknown")
        return key

    def _cooldown_over(self, now: float) -> bool:
        return self._fetched_at is None or now - self._fetched_at >= self._cooldown

    async def _refresh(self) -> None:
        self._fetched_at = self._monotonic()
        self.fetch_count += 1
        try:
            document = await asyncio.to_thread(self._load)
            self._keys = _index(document)
        except (OSError, ValueError, jwt.PyJWKSetError, jwt.PyJWKError) as exc:
            _log.warning("cannot load JWKS from %s: %s", self.location, exc)

    def _load(self) -> Mapping[str, Any]:
        if self._file is not None:
            raw = self._file.read_bytes()[: _MAX_JWKS_BYTES + 1]
        else:
            assert self._url is not None
            if not self._url.startswith(("https://", "http://")):
                raise ValueError("jwks_url must be http(s)")
            with urllib.request.urlopen(self._url, timeout=self._timeout) as response:  # noqa: S310
                raw = response.read(_MAX_JWKS_BYTES + 1)
        if len(raw) > _MAX_JWKS_BYTES:
            raise ValueError("JWKS document is larger than 1 MiB")
        document = json.loads(raw)
        if not isinstance(document, dict):
            raise ValueError("JWKS document is not a JSON object")
        return document
