"""A remote policy engine over AuthZEN 1.0 Access Evaluation (HTTP JSON)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from identity_context.application.authorization import AuthorizationUnavailable, AuthzRequest
from identity_context.domain.changes import Decision
from identity_context.domain.errors import ErrorReason

__all__ = ["AuthZenClient"]

_KNOWN_REASONS = {r.value for r in ErrorReason}


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build a JSON object, refusing duplicate keys (``{"decision": false, "decision": true}``).

    A duplicate is ambiguous: parsers disagree on which one wins. Raise ValueError.
    """
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"duplicate key {key!r}")
        found[key] = value
    return found


def _decision(answer: Any) -> Decision:
    # Only a JSON boolean counts; "yes", 1 or null are no answer (a deny upstream).
    if not isinstance(answer, Mapping) or not isinstance(answer.get("decision"), bool):
        raise AuthorizationUnavailable("AuthZEN answer has no boolean 'decision'")
    context = answer.get("context")
    context = context if isinstance(context, Mapping) else {}
    raw_ids = context.get("policy_ids", ())
    policy_ids = tuple(str(p) for p in raw_ids) if isinstance(raw_ids, list) else ()
    reason = context.get("reason", "")
    reason = reason if isinstance(reason, str) and reason in _KNOWN_REASONS else ""
    if answer["decision"]:
        return Decision(True, policy_ids or ("authzen",))
    return Decision(False, policy_ids, reason or ErrorReason.PERMISSION_DENIED.value)


class AuthZenClient:
    """POSTs to ``{base}/access/v1/evaluation`` and ``{base}/access/v1/evaluations``.

    The timeout of each call is what remains of the RPC's deadline, capped by
    *max_timeout_s*. Errors, timeouts, non-2xx answers and answers without a
    boolean decision raise AuthorizationUnavailable (a deny upstream).
    """

    def __init__(
        self, base_url: str, *, max_timeout_s: float = 2.0, headers: Mapping[str, str] | None = None
    ) -> None:
        self._base = base_url.rstrip("/")
        self._max_timeout = max_timeout_s
        self._client = httpx.AsyncClient(headers=dict(headers or {}))

    async def _post(self, path: str, body: Mapping[str, Any], timeout_s: float) -> Any:
        timeout = max(min(timeout_s, self._max_timeout), 0.001)
        try:
            # httpx bounds each phase; wait_for bounds the whole exchange.
            response = await asyncio.wait_for(
                self._client.post(f"{self._base}{path}", json=body, timeout=timeout), timeout
            )
        except TimeoutError as exc:
            raise AuthorizationUnavailable("AuthZEN did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise AuthorizationUnavailable(f"AuthZEN request failed: {type(exc).__name__}") from exc
        if not 200 <= response.status_code < 300:
            raise AuthorizationUnavailable(f"AuthZEN answered HTTP {response.status_code}")
        try:
            return json.loads(response.content, object_pairs_hook=_unique_keys)
        except ValueError as exc:
            raise AuthorizationUnavailable(f"AuthZEN answer is not usable JSON: {exc}") from exc

    async def evaluate(self, request: AuthzRequest, *, timeout_s: float) -> Decision:
        """Evaluate one request."""
        return _decision(await self._post("/access/v1/evaluation", request.to_authzen(), timeout_s))

    async def evaluate_batch(
        self, requests: Sequence[AuthzRequest], *, timeout_s: float
    ) -> list[Decision]:
        """Evaluate requests with one ``evaluations`` call; the answer must match one-to-one."""
        answer = await self._post(
            "/access/v1/evaluations",
            {"evaluations": [request.to_authzen() for request in requests]},
            timeout_s,
        )
        results = answer.get("evaluations") if isinstance(answer, Mapping) else None
        if not isinstance(results, list) or len(results) != len(requests):
            raise AuthorizationUnavailable("AuthZEN batch answer does not match the requests")
        return [_decision(result) for result in results]

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._client.aclose()
