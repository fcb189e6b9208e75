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

__all__ = ["RESOURCE_TYPES", "CedarAuthorizationClient", "load_policy_texts"]

_NAMESPACE = "IdentityContext"
_PRINCIPAL_TYPES = {"user": "User", "service": "Service"}
_PLANE = ("tenant", "plane")
# AuthZEN resource type -> (Cedar entity type, the attributes the schema declares
# for it). The engine sees exactly these; a test keeps them equal to the schema.
RESOURCE_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "tenant": ("Tenant", _PLANE),
    "application": ("Application", _PLANE),
    "application_binding": ("ApplicationBinding", _PLANE),
    "tenant_user": ("TenantUser", (*_PLANE, "target_user")),
    "profile_values": ("ProfileValues", (*_PLANE, "target_user", "layer")),
    "scope": ("Scope", _PLANE),
    "group": ("Group", _PLANE),
    "group_member": ("GroupMember", (*_PLANE, "target_user")),
    "membership": ("Membership", (*_PLANE, "relation")),
    "access_profile": ("AccessProfile", _PLANE),
    "audit_trail": ("AuditTrail", _PLANE),
    "factor_evidence": ("FactorEvidence", (*_PLANE, "target_user")),
    "hat": ("Hat", (*_PLANE, "target_user")),
    "hat_approval": ("HatApproval", (*_PLANE, "target_user", "approver")),
    "identity_context": ("IdentityContext", (*_PLANE, "target_user")),
    "facts": ("FactStream", _PLANE),
}
# Typed attributes (everything else is a String).
_BOOLEAN_ATTRIBUTES = frozenset({"approver"})
# The policies compare target_user only with the principal's subject (a test
# checks it), so the memo keeps just whether they are equal: decisions about
# different users of one tenant share a memo entry.
_SELF, _OTHER = "\x00self", "\x00other"
# The shipped policies judge a resource by its attributes and never name one
# by its uid (a test checks it), so every resource is the same uid to Cedar
# and decisions about different objects with the same attributes share a memo.
_RESOURCE_ID = "resource"
_MEMO_SIZE = 16384


def _attribute(name: str, value: Any, subject: str) -> Any:
    """A resource attribute as the memo keys it (see _SELF)."""
    if name in _BOOLEAN_ATTRIBUTES:
        return value is True
    if name == "target_user":
        return _SELF if value == subject else _OTHER
    return str(value)


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

    @staticmethod
    def _key(request: AuthzRequest) -> tuple[Any, ...]:
        """The complete Cedar input of *request*, as a hashable value."""
        subject, context = request.subject, request.context
        described = RESOURCE_TYPES.get(request.resource.type)
        if described is None or request.subject.type not in _PRINCIPAL_TYPES:
            raise AuthorizationUnavailable(
                f"no Cedar type for {request.subject.type}/{request.resource.type}"
            )
        resource_type, attributes = described
        properties = request.resource.properties
        return (
            subject.type,
            subject.id,
            str(subject.properties.get("actor_tenant", "")),
            int(subject.properties.get("assurance_level", 0)),
            tuple(subject.properties.get("roles", ())),
            str(subject.properties.get("active_hat", "")),
            request.action,
            resource_type,
            tuple(
                (name, _attribute(name, properties[name], subject.id))
                for name in attributes
                if name in properties
            ),
            bool(context.get("break_glass")),
            str(context.get("break_glass_reason", "")),
        )

    @staticmethod
    def _cedar_request(key: tuple[Any, ...]) -> tuple[dict[str, Any], list[Any]]:
        (
            subject_type,
            subject_id,
            actor_tenant,
            assurance,
            roles,
            active_hat,
            action,
            resource_type,
            attributes,
            break_glass,
            break_glass_reason,
        ) = key
        principal = {"type": f"{_NAMESPACE}::{_PRINCIPAL_TYPES[subject_type]}", "id": subject_id}
        resource = {"type": f"{_NAMESPACE}::{resource_type}", "id": _RESOURCE_ID}
        attrs = {
            name: (subject_id if value == _SELF else "" if value == _OTHER else value)
            for name, value in attributes
        }
        entities = [
            {
                "uid": principal,
                "attrs": {
                    "subject": subject_id,
                    "actor_tenant": actor_tenant,
                    "assurance_level": assurance,
                    "roles": list(roles),
                    "active_hat": active_hat,
                },
                "parents": [],
            },
            {"uid": resource, "attrs": attrs, "parents": []},
        ]
        cedar = {
            "principal": principal,
            "action": {"type": f"{_NAMESPACE}::Action", "id": action},
            "resource": resource,
            "context": {"break_glass": break_glass, "break_glass_reason": break_glass_reason},
        }
        return cedar, entities

    def _decide(self, request: AuthzRequest) -> Decision:
        key = self._key(request)
        memo = self._memo
        found = memo.get(key)
        if found is not None:
            memo.move_to_end(key)
            return found
        decision = self._evaluate(key)
        memo[key] = decision
        if len(memo) > _MEMO_SIZE:
            memo.popitem(last=False)
        return decision

    def _evaluate(self, key: tuple[Any, ...]) -> Decision:
        cedar, entities = self._cedar_request(key)
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
