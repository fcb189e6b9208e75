"""The local development issuer: an ES256 key in the data directory that mints dev tokens."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from identity_context.adapters.auth.issuers import TrustedIssuer
from identity_context.adapters.auth.jwks import StaticKeySource
from identity_context.domain.identifiers import parse_actor_ref, parse_tenant_id

__all__ = ["LOCAL_AUDIENCE", "LOCAL_ISSUER", "LocalIssuer"]

LOCAL_ISSUER = "urn:identity-context:local-dev-issuer"
LOCAL_AUDIENCE = "identity-context"
_ALGORITHM = "ES256"
_KEY_FILE = "local-issuer/es256-private-key.pem"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class LocalIssuer:
    """Mints development tokens with a key kept in ``<data_dir>/local-issuer/``.

    The key is created on first use (mode 0600). The service trusts it only in
    development mode; production refuses both the issuer and its tokens.
    """

    def __init__(self, data_dir: Path) -> None:
        self._key_path = data_dir / _KEY_FILE
        self._private_key = self._load_or_create()
        self._jwk = self._public_jwk()

    @property
    def key_path(self) -> Path:
        """Where the private key lives."""
        return self._key_path

    @property
    def kid(self) -> str:
        """The key id: the RFC 7638 thumbprint of the public key."""
        return str(self._jwk["kid"])

    def _load_or_create(self) -> ec.EllipticCurvePrivateKey:
        try:
            key = serialization.load_pem_private_key(self._key_path.read_bytes(), password=None)
        except FileNotFoundError:
            key = self._create()
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{self._key_path} is not an EC private key")
        return key

    def _create(self) -> Any:
        self._key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(self._key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            # Another process (serve or dev-token) created it first: use theirs.
            return serialization.load_pem_private_key(self._key_path.read_bytes(), password=None)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        return key

    def _public_jwk(self) -> dict[str, str]:
        numbers = self._private_key.public_key().public_numbers()
        jwk = {
            "crv": "P-256",
            "kty": "EC",
            "x": _b64(numbers.x.to_bytes(32, "big")),
            "y": _b64(numbers.y.to_bytes(32, "big")),
        }
        canonical = json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()
        return {
            **jwk,
            "kid": _b64(hashlib.sha256(canonical).digest()),
            "alg": _ALGORITHM,
            "use": "sig",
        }

    def jwks(self) -> dict[str, Any]:
        """Return the public key set."""
        return {"keys": [dict(self._jwk)]}

    def trusted_issuer(self) -> TrustedIssuer:
        """Return the TrustedIssuer entry that accepts this issuer's tokens."""
        return TrustedIssuer(
            issuer=LOCAL_ISSUER,
            audiences=(LOCAL_AUDIENCE,),
            algorithms=(_ALGORITHM,),
            keys=StaticKeySource(self.jwks()),
        )

    def mint(
        self,
        subject: str,
        tenant: str,
        *,
        ttl_s: int = 3600,
        acr: str | None = None,
        now: float | None = None,
    ) -> str:
        """Return a signed token for *subject* in *tenant*, valid for *ttl_s* seconds.

        Raise InvalidArgument when *subject* or *tenant* is malformed, ValueError
        when *ttl_s* is not positive.
        """
        parse_actor_ref(subject, field="subject")
        parse_tenant_id(tenant, field="tenant")
        if ttl_s <= 0:
            raise ValueError("ttl must be positive")
        issued = int(time.time() if now is None else now)
        claims: dict[str, Any] = {
            "iss": LOCAL_ISSUER,
            "aud": LOCAL_AUDIENCE,
            "sub": subject,
            "tenant": tenant,
            "iat": issued,
            "nbf": issued,
            "exp": issued + ttl_s,
            "jti": _b64(os.urandom(12)),
        }
        if acr:
            claims["acr"] = acr
        return jwt.encode(
            claims, self._private_key, algorithm=_ALGORITHM, headers={"kid": self.kid}
        )
