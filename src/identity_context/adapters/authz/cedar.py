"""The embedded policy engine: Cedar (cedarpy) with the shipped schema and policies."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from importlib import resources
from typing import Any

import cedarpy

from identity_context.application.authorization import (
    AuthorizationUnavailable,
    AuthzRequest,
)
from identity_context.domain.changes import Decision

__all__ = ["CedarAuthorizationClient", "load_policy_texts"]

_NAMESPACE = "IdentityContext"
_PRINCIPAL_TYPES = {"user": "User", "service": "Service"}
_RESOURCE_TYPES = {
    "tenant": "Tenant",
    "application": "Application",
    "application_binding": "ApplicationBinding",
    "tenant_user": "TenantUser",
    "profile_values": "ProfileValues",
    "scope": "Scope",
    "group": "Group",
    "group_member": "GroupMember",
    "membership": "Membership",
    "access_profile": "AccessProfile",
    "audit_trail": "AuditTrail",
}
_MEMO_SIZE = 16384


def load_policy_texts() -> tuple[str, str]:
    """Return the shipped (schema, policies) texts."""
    folder = resources.files(__package__) / "policies"
    return (
        (folder / "identity_context.cedarschema").read_text(),
        (folder / "identity_context.cedar").read_text(),
    )


class CedarAuthorizationClient:
    """Evaluates AuthZEN-shaped requests with Cedar; policies and schema are parsed once.

    Decisions are memoized on their complete Cedar input (principal and its
    attributes, action, resource and its attributes, context): the policy set
    is fixed for the life of the process, so the same input has the same
    answer. The memo is a bounded LRU. Raise ValueError at construction when
    the policies do not validate against the schema (the manifest), so a
    broken policy set never serves.
    """

    def __init__(self, schema_text: str | None = None, policy_text: str | None = None) -> None:
        shipped_schema, shipped_policies = load_policy_texts()
        schema_text = schema_text or shipped_schema
        policy_text = policy_text or shipped_policies
        validation = cedarpy.validate_policies(policy_text, schema_text)
        if not validation.validation_passed:
            raise ValueError(f"Cedar policies do not validate: {validation.errors}")
        self._schema = cedarpy.Schema.from_str(schema_text)
        self._policies = cedarpy.PolicySet.from_str(policy_text)
        self._memo: OrderedDict[tuple[Any, ...], Decision] = OrderedDict()

    def _cedar_request(self, request: AuthzRequest) -> tuple[dict[str, Any], list[Any]]:
        principal_type = _PRINCIPAL_TYPES.get(request.subject.type)
        resource_type = _RESOURCE_TYPES.get(request.resource.type)
        if principal_type is None or resource_type is None:
            raise AuthorizationUnavailable(
                f"no Cedar type for {request.subject.type}/{request.resource.type}"
            )
        subject = request.subject.properties
        principal = {"type": f"{_NAMESPACE}::{principal_type}", "id": request.subject.id}
        resource = {"type": f"{_NAMESPACE}::{resource_type}", "id": request.resource.id}
        entities = [
            {
                "uid": principal,
                "attrs": {
                    "subject": request.subject.id,
                    "actor_tenant": str(subject.get("actor_tenant", "")),
                    "assurance_level": int(subject.get("assurance_level", 0)),
                    "roles": list(subject.get("roles", ())),
                    "active_hat": str(subject.get("active_hat", "")),
                },
                "parents": [],
            },
            {"uid": resource, "attrs": dict(request.resource.properties), "parents": []},
        ]
        cedar = {
            "principal": principal,
            "action": {"type": f"{_NAMESPACE}::Action", "id": request.action},
            "resource": resource,
            "context": {
                "break_glass": bool(request.context.get("break_glass")),
                "break_glass_reason": str(request.context.get("break_glass_reason", "")),
            },
        }
        return cedar, entities

    @staticmethod
    def _key(request: AuthzRequest) -> tuple[Any, ...]:
        subject, resource, context = request.subject, request.resource, request.context
        return (
            subject.type,
            subject.id,
            tuple(sorted((k, _frozen(v)) for k, v in subject.properties.items())),
            request.action,
            resource.type,
            resource.id,
            tuple(sorted((k, _frozen(v)) for k, v in resource.properties.items())),
            bool(context.get("break_glass")),
            str(context.get("break_glass_reason", "")),
        )

    def _decide(self, request: AuthzRequest) -> Decision:
        key = self._key(request)
        memo = self._memo
        found = memo.get(key)
        if found is not None:
            memo.move_to_end(key)
            return found
        decision = self._evaluate(request)
        memo[key] = decision
        if len(memo) > _MEMO_SIZE:
            memo.popitem(last=False)
        return decision

    def _evaluate(self, request: AuthzRequest) -> Decision:
        cedar, entities = self._cedar_request(request)
        result = cedarpy.is_authorized(cedar, self._policies, entities, schema=self._schema)
        if result.diagnostics.errors:
            raise AuthorizationUnavailable(f"Cedar evaluation errors: {result.diagnostics.errors}")
        by_reason = result.diagnostics.id_annotations_by_reason
        policy_ids = tuple(sorted(by_reason.get(r, r) for r in result.diagnostics.reasons))
        if result.decision is cedarpy.Decision.Allow:
            return Decision(True, policy_ids)
        if result.decision is cedarpy.Decision.Deny:
            return Decision(False, policy_ids)
        raise AuthorizationUnavailable(f"Cedar gave no decision: {result.decision}")

    async def evaluate(self, request: AuthzRequest, *, timeout_s: float) -> Decision:
        """Evaluate one request (in-process, microseconds; the timeout is not needed)."""
        return self._decide(request)

    async def evaluate_batch(
        self, requests: Sequence[AuthzRequest], *, timeout_s: float
    ) -> list[Decision]:
        """Evaluate requests in order."""
        return [self._decide(request) for request in requests]


def _frozen(value: Any) -> Any:
    """A hashable form of an attribute value (lists become tuples)."""
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    return value
