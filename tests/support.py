"""Shared test helpers: a test token issuer, a server subprocess and rich-status parsing."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import grpc
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

REPO = Path(__file__).resolve().parents[1]
TEST_ISSUER = "https://issuer.test.identity-context.invalid/"
TEST_AUDIENCE = "identity-context-tests"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class RsaTestIssuer:
    """An RS256 issuer with a JWKS file and an issuers TOML file in *folder*."""

    def __init__(self, folder: Path, *, kid: str = "test-key-1") -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.kid = kid
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = self.private_key.public_key()
        self.public_pem = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        numbers = public.public_numbers()
        jwk = {
            "kty": "RSA",
            "kid": kid,
            "alg": "RS256",
            "use": "sig",
            "n": _b64(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": _b64(numbers.e.to_bytes(3, "big")),
        }
        self.jwks_path = folder / "jwks.json"
        self.jwks_path.write_text(json.dumps({"keys": [jwk]}))
        self.issuers_path = folder / "issuers.toml"
        self.issuers_path.write_text(
            "[[issuers]]\n"
            f'issuer = "{TEST_ISSUER}"\n'
            f'audience = "{TEST_AUDIENCE}"\n'
            'algorithms = ["RS256"]\n'
            'jwks_file = "jwks.json"\n'
        )

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        base: dict[str, Any] = {
            "iss": TEST_ISSUER,
            "aud": TEST_AUDIENCE,
            "sub": "user:alice",
            "tenant": "tenant:coulomb",
            "iat": now,
            "nbf": now,
            "exp": now + 600,
        }
        base.update(overrides)
        return {k: v for k, v in base.items() if v is not None}

    def token(self, *, headers: Mapping[str, Any] | None = None, **claims: Any) -> str:
        return jwt.encode(
            self.claims(**claims),
            self.private_key,
            algorithm="RS256",
            headers={"kid": self.kid, **(headers or {})},
        )


def unsigned_token(claims: Mapping[str, Any], header: Mapping[str, Any]) -> str:
    """Build a JWT by hand (for ``alg: none`` and forged headers)."""
    head = _b64(json.dumps(dict(header)).encode())
    body = _b64(json.dumps(dict(claims)).encode())
    return f"{head}.{body}."


def hs256_with_key(claims: Mapping[str, Any], secret: bytes, kid: str) -> str:
    """Sign *claims* with HMAC-SHA256 using *secret* (e.g. a public key's PEM), by hand."""
    import hashlib
    import hmac

    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = _b64(json.dumps(dict(claims)).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


def rich_status(
    error: grpc.RpcError,
) -> tuple[error_details_pb2.ErrorInfo | None, error_details_pb2.BadRequest | None]:
    """Return the ErrorInfo and BadRequest details of a failed call."""
    trailers = error.trailing_metadata() or ()  # type: ignore[attr-defined]
    raw = next((v for k, v in trailers if k == "grpc-status-details-bin"), None)
    if raw is None:
        return None, None
    status = status_pb2.Status.FromString(raw)
    info = bad = None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
    return info, bad


def readme_block(name: str) -> str:
    """The shell block of README.md between ``<!-- name:start -->`` and ``<!-- name:end -->``."""
    readme = (REPO / "README.md").read_text()
    block = re.search(
        rf"<!-- {name}:start -->\n```sh\n(.*?)\n```\n<!-- {name}:end -->", readme, re.S
    )
    assert block, f"README has no {name} block"
    return block.group(1)


def cli() -> list[str]:
    """The ``identity-context`` command of the interpreter running the tests."""
    return [sys.executable, "-m", "identity_context.cli"]


def tool(name: str) -> str:
    """Path of a console tool installed beside the interpreter (grpcurl, buf, fga)."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


_PORT = re.compile(r"listening on \S+ \(port (\d+),")


class ServerProcess:
    """``identity-context serve`` as a subprocess on an ephemeral loopback port."""

    def __init__(self, env: Mapping[str, str], *, cwd: Path) -> None:
        # Only what the test passes configures the server, never the caller's shell.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("IDENTITY_CONTEXT_")}
        full_env = {**inherited, **env}
        full_env.setdefault("IDENTITY_CONTEXT_LISTEN", "127.0.0.1:0")
        full_env.setdefault("IDENTITY_CONTEXT_LOG_FORMAT", "text")
        full_env.setdefault("IDENTITY_CONTEXT_SHUTDOWN_GRACE_S", "2")
        full_env.setdefault("IDENTITY_CONTEXT_SHUTDOWN_PAUSE_S", "0.2")
        self.process = subprocess.Popen(
            [*cli(), "serve"],
            cwd=cwd,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # The service logs to stdout; stderr is what gRPC core (or a crash) prints.
        self.lines: list[str] = []
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        self._port_seen = threading.Event()
        self.port = 0
        self._readers = [
            threading.Thread(target=self._read, args=(stream, kept), daemon=True)
            for stream, kept in (
                (self.process.stdout, self.stdout_lines),
                (self.process.stderr, self.stderr_lines),
            )
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: Any, kept: list[str]) -> None:
        assert stream is not None
        for line in stream:
            kept.append(line)
            self.lines.append(line)
            match = _PORT.search(line)
            if match and not self.port:
                self.port = int(match.group(1))
                self._port_seen.set()
        if stream is self.process.stdout:
            self._port_seen.set()

    @property
    def log(self) -> str:
        return "".join(self.lines)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def wait_serving(self, timeout: float = 60.0) -> ServerProcess:
        if not self._port_seen.wait(timeout) or not self.port:
            raise AssertionError(f"server did not start:\n{self.log}")
        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(self.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                try:
                    reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=2)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return self
                except grpc.RpcError:
                    pass
                if self.process.poll() is not None:
                    break
                time.sleep(0.2)
        raise AssertionError(f"server never became SERVING:\n{self.log}")

    def terminate(self, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            for reader in self._readers:
                reader.join(5)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
