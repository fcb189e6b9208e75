"""The authorization port: AuthZEN-shaped requests built from facts, and typed decisions.

The facts (the actor's roles) are read by the unit of work inside the
command's own transaction; the decision is taken there. What the
application does differently for break-glass and operator oversight, and the
reason of a deny, are derived here from the request's facts, never from
policy-id strings, so an engine that names no policies behaves the same.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from identity_context.application.actions import Action
from identity_context.application.invocation import Invocation
from identity_context.domain.actors import Actor, AssuranceLevel
from identity_context.domain.changes import Decision
from identity_context.domain.errors import ErrorReason, PermissionDenied, Unavailable
from identity_context.domain.identifiers import PLATFORM_TENANT, ActorKind, TenantId
from identity_context.domain.roles import (
    BREAK_GLASS,
    PLATFORM_OPERATOR,
    PLATFORM_ROLES,
    RESERVED_PLATFORM_RELATIONS,
    TENANT_ADMIN,
)

__all__ = [
    "AuthorizationClient",
    "AuthorizationUnavailable",
    "Authorizer",
    "AuthzEntity",
    "AuthzRequest",
    "NO_ANSWER",
    "Target",
    "build_request",
    "deny_reason",
    "self_test",
]

_log = logging.getLogger(__name__)
_DEFAULT_TIMEOUT_S = 2.0
_MEMBERSHIP_CHANGES = frozenset({Action.TENANT_MEMBERSHIP_GRANT, Action.TENANT_MEMBERSHIP_REVOKE})
# Reasons an engine may give that say more than "denied".
_SPECIFIC_REASONS = frozenset(ErrorReason) - {ErrorReason.PERMISSION_DENIED}


class AuthorizationUnavailable(Exception):
    """The policy engine gave no usable answer (error, timeout, malformed reply)."""


@dataclass(frozen=True, slots=True)
class AuthzEntity:
    """An AuthZEN subject or resource: type, id and properties."""

    type: str
    id: str
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuthzRequest:
    """An AuthZEN 1.0 access evaluation request."""

    subject: AuthzEntity
    action: str
    resource: AuthzEntity
    context: Mapping[str, Any] = field(default_factory=dict)

    def to_authzen(self) -> dict[str, Any]:
        """Return the AuthZEN JSON body."""
        return {
            "subject": {
                "type": self.subject.type,
                "id": self.subject.id,
                "properties": dict(self.subject.properties),
            },
            "action": {"name": self.action},
            "resource": {
                "type": self.resource.type,
                "id": self.resource.id,
                "properties": dict(self.resource.properties),
            },
            "context": dict(self.context),
        }


class AuthorizationClient(Protocol):
    """Asks a policy engine; adapters: embedded Cedar, remote AuthZEN."""

    async def evaluate(self, request: AuthzRequest, *, timeout_s: float) -> Decision:
        """Return the decision; raise AuthorizationUnavailable when there is none."""
        ...

    async def evaluate_batch(
        self, requests: Sequence[AuthzRequest], *, timeout_s: float
    ) -> list[Decision]:
        """Return one decision per request, in order."""
        ...


class Target:
    """What an operation acts on: the AuthZEN resource and the tenant it lives in."""

    __slots__ = ("properties", "resource_id", "resource_type", "tenant")

    def __init__(
        self, resource_type: str, resource_id: str, tenant: TenantId, **properties: Any
    ) -> None:
        self.resource_type = resource_type
        self.resource_id = resource_id
        self.tenant = tenant
        self.properties: Mapping[str, Any] = properties


def deny_reason(
    action: str,
    target: Target,
    *,
    actor_tenant: TenantId,
    roles: frozenset[str],
    break_glass_requested: bool,
) -> ErrorReason:
    """Return why a deny happened, from the request's facts alone.

    The platform-root boundary (platform operations, ``tenant:platform``, the
    reserved platform relations) and the tenant boundary are known without the
    engine's help, so the documented reasons hold with any engine.
    """
    if PLATFORM_OPERATOR not in roles:
        if target.tenant.is_platform or action.startswith("platform."):
            return ErrorReason.PLATFORM_ROOT_DENIED
        if (
            action in _MEMBERSHIP_CHANGES
            and target.properties.get("relation") in RESERVED_PLATFORM_RELATIONS
        ):
            return ErrorReason.PLATFORM_ROOT_DENIED
        if target.tenant != actor_tenant and not break_glass_requested:
            return ErrorReason.CROSS_TENANT_DENIED
    if break_glass_requested:
        return ErrorReason.BREAK_GLASS_DENIED
    return ErrorReason.PERMISSION_DENIED


def build_request(
    actor: Actor,
    roles: frozenset[str],
    action: str,
    target: Target,
    *,
    break_glass_reason: str = "",
    correlation_id: str = "",
) -> AuthzRequest:
    """The AuthZEN-shaped request of *actor* doing *action* on *target*, from the facts."""
    return AuthzRequest(
        subject=AuthzEntity(
            actor.kind.value,
            actor.subject,
            {
                "actor_tenant": str(actor.tenant),
                "assurance_level": int(actor.assurance),
                "roles": sorted(roles),
                "active_hat": "",
            },
        ),
        action=action,
        resource=AuthzEntity(
            target.resource_type,
            target.resource_id,
            {
                "tenant": str(target.tenant),
                "plane": "platform" if target.tenant.is_platform else "tenant",
                **target.properties,
            },
        ),
        context={
            "break_glass": bool(break_glass_reason),
            "break_glass_reason": break_glass_reason,
            "correlation_id": correlation_id,
        },
    )


NO_ANSWER = "no answer from the authorization engine"


def _self_test_cases() -> list[tuple[str, AuthzRequest, bool]]:
    """Known answers of the shipped manifest: (name, request, allowed)."""
    home, other = TenantId("selftest"), TenantId("selftest-other")
    operator = Actor("user:selftest-operator", ActorKind.USER, PLATFORM_TENANT, "selftest")
    admin = Actor("user:selftest-admin", ActorKind.USER, home, "selftest")
    plain = Actor("user:selftest-user", ActorKind.USER, home, "selftest")
    responder = Actor(
        "user:selftest-responder", ActorKind.USER, PLATFORM_TENANT, "selftest", AssuranceLevel.AAL2
    )
    ops, admins = frozenset({PLATFORM_OPERATOR}), frozenset({TENANT_ADMIN})
    none: frozenset[str] = frozenset()
    read_other = Target("tenant_user", "user:other", home, target_user="user:other")
    return [
        (
            "a platform operator creates a tenant",
            build_request(
                operator,
                ops,
                Action.PLATFORM_TENANT_CREATE,
                Target("tenant", str(home), PLATFORM_TENANT),
            ),
            True,
        ),
        (
            "a tenant admin reads an account of their tenant",
            build_request(admin, admins, Action.TENANT_USER_READ, read_other),
            True,
        ),
        (
            "a user reads their own account",
            build_request(
                plain,
                none,
                Action.TENANT_USER_READ,
                Target("tenant_user", plain.subject, home, target_user=plain.subject),
            ),
            True,
        ),
        (
            "break-glass with a reason at aal2 acts in a tenant",
            build_request(
                responder,
                frozenset({BREAK_GLASS}),
                Action.TENANT_USER_UPSERT,
                read_other,
                break_glass_reason="selftest",
            ),
            True,
        ),
        (
            "a tenant admin may not create a tenant",
            build_request(
                admin,
                admins,
                Action.PLATFORM_TENANT_CREATE,
                Target("tenant", "tenant:x", PLATFORM_TENANT),
            ),
            False,
        ),
        (
            "a tenant admin may not act in another tenant",
            build_request(
                admin,
                admins,
                Action.TENANT_USER_READ,
                Target("tenant_user", "user:other", other, target_user="user:other"),
            ),
            False,
        ),
        (
            "a tenant admin may not grant a platform relation",
            build_request(
                admin,
                admins,
                Action.TENANT_MEMBERSHIP_GRANT,
                Target("membership", "m", home, relation=PLATFORM_OPERATOR, subject=admin.subject),
            ),
            False,
        ),
        (
            "a user may not create a scope",
            build_request(
                plain, none, Action.TENANT_SCOPE_CREATE, Target("scope", "realm:selftest/r", home)
            ),
            False,
        ),
        (
            "break-glass without a reason is not break-glass",
            build_request(
                responder, frozenset({BREAK_GLASS}), Action.TENANT_USER_UPSERT, read_other
            ),
            False,
        ),
    ]


async def self_test(client: AuthorizationClient, *, timeout_s: float = 5.0) -> list[str]:
    """Ask *client* the known cases of the shipped manifest in one batch.

    Return one line per case answered wrongly (or every case, when the engine
    gives no answer at all); an empty list means the engine decides as the
    manifest says. Catches an engine that reads the facts elsewhere than the
    request puts them (a mapping that does not match its policies).
    """
    cases = _self_test_cases()
    try:
        decisions = await client.evaluate_batch([r for _, r, _ in cases], timeout_s=timeout_s)
    except Exception as exc:  # the finding, for the log line
        return [f"{NO_ANSWER}: {type(exc).__name__}: {exc}"]
    return [
        f"{name}: expected {'allow' if allowed else 'deny'}, got "
        f"{'allow' if decision.allowed else 'deny'}"
        for (name, _, allowed), decision in zip(cases, decisions, strict=True)
        if decision.allowed is not allowed
    ]


class Authorizer:
    """Builds the request from verified facts, asks the port, and fails closed."""

    def __init__(self, client: AuthorizationClient) -> None:
        self._client = client

    async def probe(self, tenant: TenantId) -> str | None:
        """Ask the engine one question about *tenant*; return why it gave no answer, or None.

        Any well-formed answer, allow or deny, means the engine works.
        """
        prober = Actor("user:diagnose-probe", ActorKind.USER, tenant, "diagnose")
        request = build_request(
            prober, frozenset(), Action.TENANT_READ, Target("tenant", str(tenant), tenant)
        )
        try:
            decision = await self._client.evaluate(request, timeout_s=_DEFAULT_TIMEOUT_S)
        except Exception as exc:  # the finding, not an error of the caller
            return type(exc).__name__ if not str(exc) else str(exc)[:200]
        return None if isinstance(decision, Decision) else "not a decision"

    async def decide(
        self,
        invocation: Invocation,
        *,
        roles: frozenset[str],
        roles_tenant: TenantId,
        action: str,
        target: Target,
    ) -> Decision:
        """Return the allow decision for *action* on *target*.

        *roles* are the actor's roles read in the command's transaction: those
        on tenant:platform, and those on *roles_tenant* (which count only when
        the target lives there). Raise PermissionDenied (with the reason) on
        deny and Unavailable (AUTHZ_UNAVAILABLE) when the engine gives no
        usable answer.
        """
        actor = invocation.actor
        if target.tenant != roles_tenant:
            roles = roles.intersection(PLATFORM_ROLES)
        break_glass_requested = bool(invocation.break_glass_reason)
        request = build_request(
            actor,
            roles,
            action,
            target,
            break_glass_reason=invocation.break_glass_reason,
            correlation_id=invocation.correlation_id,
        )
        timeout = invocation.deadline_s if invocation.deadline_s is not None else _DEFAULT_TIMEOUT_S
        try:
            # The adapter bounds its own wait (a remote engine by its HTTP
            # timeout); the embedded engine answers in-process.
            decision = await self._client.evaluate(request, timeout_s=max(timeout, 0.001))
        except Exception as exc:  # any failure of the port is a deny
            _log.warning("authorization unavailable for %s: %s", action, type(exc).__name__)
            raise Unavailable(
                "the authorization service gave no answer; denied",
                reason=ErrorReason.AUTHZ_UNAVAILABLE,
            ) from exc
        if not isinstance(decision, Decision) or decision.allowed is not True:
            given = decision.reason if isinstance(decision, Decision) else ""
            reason = (
                ErrorReason(given)
                if given in _SPECIFIC_REASONS
                else deny_reason(
                    action,
                    target,
                    actor_tenant=actor.tenant,
                    roles=roles,
                    break_glass_requested=break_glass_requested,
                )
            )
            raise PermissionDenied(
                f"{actor.subject} may not {action} in {target.tenant}", reason=reason
            )
        break_glass = break_glass_requested and BREAK_GLASS in roles
        return Decision(
            True,
            decision.policy_ids,
            break_glass=break_glass,
            oversight=break_glass or PLATFORM_OPERATOR in roles,
        )
