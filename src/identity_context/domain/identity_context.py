"""The identity context of a user (the gateway hot path) and its per-audience claims.

Built from one snapshot the store reads in one statement (``ContextSnapshot``):
the active hat is shown only while its grounds hold at the snapshot's time
(``hat_holds``); sensitive profile values are redacted in the context and
never projected into claims.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from identity_context.domain.changes import REDACTED
from identity_context.domain.directory import (
    BASE_CLAIMS,
    AccessProfileDefinition,
    ClaimSource,
    ProfileLayer,
    ResolvedValue,
)
from identity_context.domain.hats import ActiveHat, Evidence, Grounds, HeldRelation, hat_holds
from identity_context.domain.identifiers import TenantId
from identity_context.domain.tenancy import AccountState, TenantState, etag_of

__all__ = [
    "BASE_CLAIMS",
    "ContextSnapshot",
    "Fact",
    "FactSource",
    "HeldMembership",
    "IdentityContext",
    "WEARS",
    "build_context",
    "project_claims",
]

# The relation of an ACTIVE_CONTEXT fact: user `wears` <hat-ref>.
WEARS = "wears"


@dataclass(frozen=True, slots=True)
class HeldMembership:
    """A membership holding now for the user: its own (``via`` empty) or a group's."""

    membership_id: str
    subject: str
    relation: str
    object: str
    via: str
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None
    created_at: dt.datetime
    version: int

    @property
    def etag(self) -> str:
        """The membership's etag."""
        return etag_of(self.version)


@dataclass(frozen=True, slots=True)
class ContextSnapshot:
    """What the hot path's one statement returns (times in UTC).

    ``roles`` are the caller's roles for the policy decision; ``values`` the
    profile values as (global layer?, key, value, sensitive); ``parents`` the
    scope chain of the active hat's anchors.
    """

    roles: frozenset[str]
    now: dt.datetime
    tenant: TenantId
    tenant_state: TenantState | None
    seq: int
    user_id: str
    account_state: AccountState | None
    values: Sequence[tuple[bool, str, str, bool]]
    groups: tuple[str, ...]
    memberships: Sequence[HeldMembership]
    active: ActiveHat | None
    definition: AccessProfileDefinition | None
    parents: Mapping[str, str]
    evidence: Sequence[Evidence]


class FactSource(enum.StrEnum):
    """Why an access-control fact holds."""

    DIRECT = "direct"
    GROUP = "group"
    ACTIVE_CONTEXT = "active_context"


@dataclass(frozen=True, slots=True)
class Fact:
    """``subject`` has ``relation`` on ``object`` in the tenant."""

    subject: str
    relation: str
    object: str
    source: FactSource
    via: str = ""
    evidence_ids: tuple[str, ...] = ()
    valid_until: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class IdentityContext:
    """Who a user is inside a tenant right now."""

    tenant: TenantId
    user_id: str
    account_state: AccountState
    profile: list[ResolvedValue]
    memberships: Sequence[HeldMembership]
    groups: tuple[str, ...]
    active: ActiveHat | None
    facts: list[Fact]
    evidence: Sequence[Evidence]
    seq: int


def _resolved(
    defaults: Mapping[str, str], values: Sequence[tuple[bool, str, str, bool]]
) -> list[ResolvedValue]:
    """access-profile defaults < GLOBAL < TENANT, by key; sensitive values redacted."""
    resolved = {
        key: ResolvedValue(key, value, ProfileLayer.ACCESS_PROFILE_DEFAULT, False)
        for key, value in defaults.items()
    }
    for is_global in (True, False):  # GLOBAL first, TENANT on top
        for layer_global, key, value, sensitive in values:
            if layer_global is is_global:
                layer = ProfileLayer.GLOBAL if is_global else ProfileLayer.TENANT
                resolved[key] = ResolvedValue(
                    key, REDACTED if sensitive else value, layer, sensitive
                )
    return [resolved[key] for key in sorted(resolved)]


def _grounds(snapshot: ContextSnapshot) -> Grounds:
    return Grounds(
        tenant=snapshot.tenant,
        tenant_state=snapshot.tenant_state or TenantState.ARCHIVED,
        account_state=snapshot.account_state,
        held=[
            HeldRelation(m.relation, m.object, m.via, m.valid_until) for m in snapshot.memberships
        ],
        parents=snapshot.parents,
    )


def build_context(snapshot: ContextSnapshot) -> IdentityContext:
    """Assemble the identity context; the account must exist (the caller checked)."""
    assert snapshot.account_state is not None
    active = snapshot.active
    definition = snapshot.definition
    if active is not None and hat_holds(active, definition, _grounds(snapshot), snapshot.now):
        active = None  # a hat whose grounds are gone is never shown
    user = snapshot.user_id
    facts = [
        Fact(
            user,
            m.relation,
            m.object,
            FactSource.GROUP if m.via else FactSource.DIRECT,
            m.via,
            (),
            m.valid_until,
        )
        for m in snapshot.memberships
    ]
    if active is not None:
        facts.append(
            Fact(
                user,
                WEARS,
                str(active.hat),
                FactSource.ACTIVE_CONTEXT,
                "",
                active.evidence_ids,
                active.expires_at,
            )
        )
    defaults = dict(definition.profile_defaults) if active is not None and definition else {}
    return IdentityContext(
        tenant=snapshot.tenant,
        user_id=user,
        account_state=snapshot.account_state,
        profile=_resolved(defaults, snapshot.values),
        memberships=snapshot.memberships,
        groups=snapshot.groups,
        active=active,
        facts=facts,
        evidence=snapshot.evidence,
        seq=snapshot.seq,
    )


def project_claims(
    context: IdentityContext,
    definition: AccessProfileDefinition | None,
    audience: str,
    parents: Mapping[str, str],
) -> dict[str, Any]:
    """The claims *audience* sees: ``sub``, ``tenant``, ``hat``, then the active access
    profile's rules for the audience, keys sorted. Sensitive values are never projected."""
    active = context.active
    claims: dict[str, Any] = {
        "sub": context.user_id,
        "tenant": str(context.tenant),
        "hat": str(active.hat) if active else None,
    }
    if active is None or definition is None:
        return dict(sorted(claims.items()))
    profile = {v.key: v for v in context.profile}
    grounds_chain: list[str] | None = None
    for rule in definition.claims_for(audience):
        source = rule.source
        value: Any
        if source is ClaimSource.PROFILE:
            found = profile.get(rule.source_key)
            if found is None or found.sensitive:
                continue
            value = found.value
        elif source is ClaimSource.CONSTANT:
            value = rule.source_key
        elif source is ClaimSource.HAT:
            value = str(active.hat)
        elif source is ClaimSource.REALM:
            value = active.realm_id or None
        elif source is ClaimSource.SERVICE_AREA:
            value = active.service_area_id or None
        elif source is ClaimSource.ASSET:
            value = active.asset_id or None
        elif source is ClaimSource.GROUPS:
            value = list(context.groups)
        else:  # RELATIONS: held on the hat's scope or above
            if grounds_chain is None:
                grounds_chain = Grounds(
                    context.tenant, TenantState.ACTIVE, None, (), parents
                ).chain(active.hat.scope_id)
            chain = set(grounds_chain)
            value = sorted({m.relation for m in context.memberships if m.object in chain})
        claims[rule.claim] = value
    return dict(sorted(claims.items()))
