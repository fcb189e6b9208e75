"""A remote policy engine over AuthZEN 1.0 Access Evaluation (HTTP JSON)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from identity_context.adapters.authz.mapping import AuthZenMapping, load_mapping
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


class AuthZenClient:
    """A remote PDP over AuthZEN 1.0: ``evaluation`` for one question, ``evaluations`` for many.

    The request's facts go where the *mapping* says; a deny's reason and the
    deciding policy ids are read where it says (when the engine sends none,
    the application derives the reasons itself). The endpoints come from
    ``{base}/.well-known/authzen-configuration`` when the PDP publishes it
    (their paths, on the configured base URL), from the mapping otherwise.
    The timeout of each call is what remains of the RPC's deadline, capped by
    *max_timeout_s*. Errors, timeouts, non-2xx answers and answers without a
    JSON boolean decision raise AuthorizationUnavailable (a deny upstream).
    """

    def __init__(
        self,
        base_url: str,
        *,
        mapping: AuthZenMapping | None = None,
        max_timeout_s: float = 2.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._mapping = mapping or load_mapping("generic")
        self._max_timeout = max_timeout_s
        self._client = httpx.AsyncClient(headers={**self._mapping.headers, **(headers or {})})
        self._endpoints: tuple[str, str] | None = None

    @property
    def mapping(self) -> AuthZenMapping:
        """Where facts and answers go."""
        return self._mapping

    async def _discover(self, limit_s: float) -> tuple[str, str]:
        if self._endpoints is not None:
            return self._endpoints
        single, many = self._mapping.evaluation_path, self._mapping.evaluations_path
        if self._mapping.discover:
            try:
                response = await asyncio.wait_for(
                    self._client.get(
                        f"{self._base}/.well-known/authzen-configuration", timeout=limit_s
                    ),
                    limit_s,
                )
                document = response.json() if response.status_code == 200 else {}
            except (httpx.HTTPError, ValueError, TimeoutError):
                document = None  # not known yet: ask again next time
            if isinstance(document, dict):
                single = _path_of(document.get("access_evaluation_endpoint")) or single
                many = _path_of(document.get("access_evaluations_endpoint")) or many
                self._endpoints = (single, many)
        else:
            self._endpoints = (single, many)
        return single, many

    def body(self, request: AuthzRequest) -> dict[str, Any]:
        """The AuthZEN request of *request*, its facts placed by the mapping."""
        body: dict[str, Any] = {
            "subject": {"type": request.subject.type, "id": request.subject.id, "properties": {}},
            "action": {"name": request.action},
            "resource": {
                "type": request.resource.type,
                "id": request.resource.id,
                "properties": dict(request.resource.properties),
            },
            "context": {},
        }
        facts = {**request.subject.properties, **request.context}
        facts["principal_roles"] = [request.subject.type, *facts.get("roles", ())]
        self._mapping.place(body, facts)
        context = body["context"].pop("properties", {})
        body["context"] = context
        return body

    def _decision(self, answer: Any) -> Decision:
        # Only a JSON boolean counts; "yes", 1 or null are no answer (a deny upstream).
        if not isinstance(answer, Mapping) or not isinstance(answer.get("decision"), bool):
            raise AuthorizationUnavailable("AuthZEN answer has no boolean 'decision'")
        raw_ids = self._mapping.answer(answer, self._mapping.policy_ids_path)
        policy_ids = tuple(str(p) for p in raw_ids) if isinstance(raw_ids, list) else ()
        reason = self._mapping.answer(answer, self._mapping.reason_path)
        reason = reason if isinstance(reason, str) and reason in _KNOWN_REASONS else ""
        if answer["decision"] is True:
            return Decision(True, policy_ids)
        return Decision(False, policy_ids, reason)

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
        single, _ = await self._discover(min(timeout_s, self._max_timeout))
        return self._decision(await self._post(single, self.body(request), timeout_s))

    async def evaluate_batch(
        self, requests: Sequence[AuthzRequest], *, timeout_s: float
    ) -> list[Decision]:
        """Evaluate requests with ``evaluations`` calls; each answer must match one-to-one.

        The requests are split into calls of at most ``batch_limit`` items in
        which no resource (type, id) appears twice: engines that translate a
        batch into one check over a set of resources (Cerbos does) key their
        answers by resource and would give two questions about one resource
        the same answer. The calls run concurrently.
        """
        _, many = await self._discover(min(timeout_s, self._max_timeout))
        calls = _calls(requests, self._mapping.batch_limit)
        answers = await asyncio.gather(
            *(self._ask_many(many, [requests[i] for i in call], timeout_s) for call in calls)
        )
        decisions: list[Decision | None] = [None] * len(requests)
        for call, answer in zip(calls, answers, strict=True):
            for index, decision in zip(call, answer, strict=True):
                decisions[index] = decision
        return [d for d in decisions if d is not None]

    async def _ask_many(
        self, path: str, requests: list[AuthzRequest], timeout_s: float
    ) -> list[Decision]:
        answer = await self._post(
            path, {"evaluations": [self.body(request) for request in requests]}, timeout_s
        )
        results = answer.get("evaluations") if isinstance(answer, Mapping) else None
        if not isinstance(results, list) or len(results) != len(requests):
            raise AuthorizationUnavailable("AuthZEN batch answer does not match the requests")
        return [self._decision(result) for result in results]

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._client.aclose()


def _calls(requests: Sequence[AuthzRequest], limit: int) -> list[list[int]]:
    """Indexes of *requests* grouped into calls: at most *limit* each, no resource twice."""
    calls: list[list[int]] = []
    seen: list[set[tuple[str, str]]] = []
    for index, request in enumerate(requests):
        key = (request.resource.type, request.resource.id)
        for call, keys in zip(calls, seen, strict=True):
            if len(call) < limit and key not in keys:
                call.append(index)
                keys.add(key)
                break
        else:
            calls.append([index])
            seen.append({key})
    return calls


def _path_of(url: object) -> str:
    """The path of a discovered endpoint URL ('' when it is not one)."""
    if not isinstance(url, str) or not url:
        return ""
    return httpx.URL(url).path or ""
