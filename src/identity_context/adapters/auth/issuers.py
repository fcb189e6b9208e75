"""Trusted issuers: their configuration file and the JWT verifier built from them."""

from __future__ import annotations

import hashlib
import json
import time
import tomllib
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from identity_context.adapters.auth.jwks import JwksKeySource, KeySource
from identity_context.domain.actors import Actor, AssuranceLevel
from identity_context.domain.errors import ErrorReason, InvalidArgument, Unauthenticated
from identity_context.domain.identifiers import parse_actor_ref, parse_tenant_id

__all__ = [
    "ALLOWED_ALGORITHMS",
    "IssuerConfigError",
    "JwtTokenVerifier",
    "TrustedIssuer",
    "load_issuers_file",
]

# Asymmetric algorithms only: a shared HMAC secret would let every verifier mint
# tokens, and allowing HS* next to RS*/ES* invites key-confusion attacks.
ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class IssuerConfigError(ValueError):
    """The trusted-issuer configuration is unusable."""


@dataclass(frozen=True, slots=True)
class TrustedIssuer:
    """One issuer whose tokens the service accepts."""

    issuer: str
    audiences: tuple[str, ...]
    algorithms: tuple[str, ...]
    keys: KeySource


def _strings(entry: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = entry.get(key)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise IssuerConfigError(f"{where}: {key!r} must be a non-empty string or list of strings")
    return tuple(value)


def _issuer_from(entry: Mapping[str, Any], where: str, base: Path) -> TrustedIssuer:
    issuer = entry.get("issuer")
    if not isinstance(issuer, str) or not issuer:
        raise IssuerConfigError(f"{where}: 'issuer' is required")
    audiences = _strings(entry, "audience" if "audience" in entry else "audiences", where)
    algorithms = _strings(entry, "algorithms", where)
    refused = sorted(set(algorithms) - ALLOWED_ALGORITHMS)
    if refused:
        raise IssuerConfigError(
            f"{where}: algorithms {refused} are not allowed; use {sorted(ALLOWED_ALGORITHMS)}"
        )
    jwks_file, jwks_url = entry.get("jwks_file"), entry.get("jwks_url")
    if (jwks_file is None) == (jwks_url is None):
        raise IssuerConfigError(f"{where}: exactly one of 'jwks_file' and 'jwks_url' is required")
    if jwks_file is not None:
        path = Path(str(jwks_file))
        keys = JwksKeySource(jwks_file=path if path.is_absolute() else base / path)
    else:
        keys = JwksKeySource(jwks_url=str(jwks_url))
    return TrustedIssuer(issuer, audiences, algorithms, keys)


def load_issuers_file(path: Path) -> list[TrustedIssuer]:
    """Read trusted issuers from a TOML or JSON file (``[[issuers]]`` / ``{"issuers": [...]}``).

    Relative ``jwks_file`` paths are resolved against the file's folder.
    Raise IssuerConfigError when the file is unreadable or an entry is invalid.
    """
    try:
        text = path.read_text()
        document = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as exc:
        raise IssuerConfigError(f"cannot read issuers file {path}: {exc}") from exc
    entries = document.get("issuers") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise IssuerConfigError(f"{path}: expected a list 'issuers'")
    issuers = []
    for index, entry in enumerate(entries):
        where = f"{path}: issuers[{index}]"
        if not isinstance(entry, dict):
            raise IssuerConfigError(f"{where} must be a table/object")
        issuers.append(_issuer_from(entry, where, path.parent))
    names = [i.issuer for i in issuers]
    if len(set(names)) != len(names):
        raise IssuerConfigError(f"{path}: an issuer is listed twice")
    return issuers


class JwtTokenVerifier:
    """Verifies bearer JWTs against a fixed list of trusted issuers (a TokenVerifier).

    Verified tokens are cached (bounded LRU, keyed by the SHA-256 of the whole
    token) until their ``exp``, never beyond it and never with the leeway: a
    repeated token skips the signature check. Only tokens that verified are
    cached, so the cache cannot turn a rejected token into an accepted one.
    """

    def __init__(
        self,
        issuers: Sequence[TrustedIssuer],
        *,
        leeway_s: float = 30.0,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._issuers = {issuer.issuer: issuer for issuer in issuers}
        self._leeway = leeway_s
        self._cache: OrderedDict[bytes, tuple[Actor, float]] = OrderedDict()
        self._cache_size = cache_size
        self._clock = clock

    @property
    def issuers(self) -> tuple[str, ...]:
        """The names of the trusted issuers."""
        return tuple(self._issuers)

    async def verify(self, token: str) -> Actor:
        """Verify *token* and return its actor.

        Raise Unauthenticated on any failure: malformed token, untrusted issuer,
        algorithm off the issuer's list, unknown key, bad signature, wrong audience,
        outside its time window (reason TOKEN_EXPIRED once ``exp`` passed), or
        missing/invalid ``sub``/``tenant`` claims.
        """
        key = hashlib.sha256(token.encode()).digest()
        cached = self._cache.get(key)
        if cached is not None:
            actor, expires = cached
            if self._clock() < expires:
                self._cache.move_to_end(key)
                return actor
            del self._cache[key]
        actor, expires = await self._verify(token)
        self._cache[key] = (actor, expires)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return actor

    async def _verify(self, token: str) -> tuple[Actor, float]:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise Unauthenticated("token is malformed") from exc
        claimed_issuer = unverified.get("iss")
        issuer = self._issuers.get(claimed_issuer) if isinstance(claimed_issuer, str) else None
        if issuer is None:
            raise Unauthenticated("token issuer is not trusted")
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in issuer.algorithms:
            raise Unauthenticated("token algorithm is not allowed for its issuer")
        kid = header.get("kid")
        key = await issuer.keys.key_for(kid if isinstance(kid, str) else None)
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                audience=list(issuer.audiences),
                issuer=issuer.issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("token has expired", reason=ErrorReason.TOKEN_EXPIRED) from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"token rejected: {exc}") from exc
        return _actor(claims, issuer.issuer), float(claims["exp"])


def _actor(claims: Mapping[str, Any], issuer: str) -> Actor:
    subject, tenant = claims.get("sub"), claims.get("tenant")
    if not isinstance(subject, str) or not isinstance(tenant, str):
        raise Unauthenticated("token needs string 'sub' and 'tenant' claims")
    try:
        kind, _ = parse_actor_ref(subject, field="sub")
        actor_tenant = parse_tenant_id(tenant, field="tenant")
    except InvalidArgument as exc:
        raise Unauthenticated(f"token claims are invalid: {exc.message}") from exc
    acr = claims.get("acr")
    return Actor(
        subject=subject,
        kind=kind,
        tenant=actor_tenant,
        issuer=issuer,
        assurance=AssuranceLevel.from_acr(acr if isinstance(acr, str) else None),
    )
