"""Hats: what wearing an access profile on a scope rests on, and whether it still holds.

One home for the rules, used by selection (SelectActiveHat), eligibility
(ListEligibleHats), the removal of grounds by mutations, and the hot path
(GetIdentityContext / ProjectClaims), which re-validates the active hat on
every read:

* the tenant and the account are active;
* every membership requirement is held, directly or through a group, on its
  anchor (the requirement's object, or the hat's scope when it names none)
  or on an ancestor of the anchor (the tenant is the root of every chain);
* with a factor requirement (a minimum assurance level or a list of allowed
  factor types), one piece of unexpired evidence of an allowed type, young
  enough (``max_evidence_age``) and at least at the level;
* with an approval requirement, an approval of that user, profile and scope
  in force.

A selected hat expires at the earliest of: the profile's maximum active
duration, the expiry (or maximum age) of the evidence it rests on, the
approval's expiry, and the end of the memberships it rests on.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from identity_context.domain.actors import AssuranceLevel
from identity_context.domain.directory import AccessProfileDefinition
from identity_context.domain.errors import ErrorReason, InvalidArgument
from identity_context.domain.identifiers import (
    PLATFORM_TENANT,
    ScopeKind,
    TenantId,
    parse_profile_ref,
    parse_scope_ref,
)
from identity_context.domain.tenancy import AccountState, TenantState

__all__ = [
    "ActiveHat",
    "Approval",
    "ApprovalState",
    "Evidence",
    "Grounds",
    "Hat",
    "HeldRelation",
    "RecordedEvidence",
    "Unmet",
    "Verdict",
    "check_hat",
    "hat_holds",
    "parse_evidence_ref",
    "parse_hat",
    "placement",
]

_EVIDENCE_REF = re.compile(r"[a-z][a-z0-9-]{0,31}:[A-Za-z0-9._~-]{8,128}")


def parse_evidence_ref(value: str, *, field: str = "evidence_ref") -> str:
    """Return *value* (empty: none) when it is an opaque evidence reference.

    ``<scheme>:<id>``: a scheme ``[a-z][a-z0-9-]{0,31}`` and an id of 8 to 128
    characters ``[A-Za-z0-9._~-]``, e.g. ``webauthn:cred-7f3a91c2``. A raw
    factor value (a one-time code, a password, a key) is no reference and is
    refused. Raise InvalidArgument otherwise.
    """
    if value and (not value.isascii() or _EVIDENCE_REF.fullmatch(value) is None):
        raise InvalidArgument.for_field(
            field, "must be an opaque reference <scheme>:<id> (8-128 of [A-Za-z0-9._~-])"
        )
    return value


class Unmet(enum.StrEnum):
    """Why a user cannot wear a hat (the ErrorInfo reason of a refused selection)."""

    TENANT_NOT_ACTIVE = "TENANT_NOT_ACTIVE"
    ACCOUNT_NOT_ACTIVE = "ACCOUNT_NOT_ACTIVE"
    SCOPE_KIND_NOT_ALLOWED = "SCOPE_KIND_NOT_ALLOWED"
    MEMBERSHIP_MISSING = "MEMBERSHIP_MISSING"
    FACTOR_ASSURANCE_MISSING = "FACTOR_ASSURANCE_MISSING"
    APPROVAL_REQUIRED = "APPROVAL_REQUIRED"

    @property
    def reason(self) -> ErrorReason:
        """The ErrorInfo reason of a selection refused for this."""
        if self is Unmet.SCOPE_KIND_NOT_ALLOWED:
            return ErrorReason.INVALID_ARGUMENT
        return ErrorReason(self.value)


@dataclass(frozen=True, slots=True)
class Hat:
    """An access profile worn on a scope: ``<profile-ref>@<scope-ref>``."""

    access_profile_id: str
    scope_id: str
    scope_kind: ScopeKind

    def __str__(self) -> str:
        return f"{self.access_profile_id}@{self.scope_id}"


def parse_hat(value: str, *, tenant: TenantId, field: str = "hat_id") -> Hat:
    """Parse a hat reference of *tenant* (a platform template may be worn in any tenant).

    Raise InvalidArgument when malformed or bound to another tenant.
    """
    profile, sep, scope_text = value.partition("@")
    if not sep:
        raise InvalidArgument.for_field(field, "must be a hat reference <profile-ref>@<scope-ref>")
    ref = parse_profile_ref(profile, field=field)
    if not ref.startswith(f"profile:{PLATFORM_TENANT.slug}/"):
        parse_profile_ref(profile, tenant=tenant, field=field)
    scope = parse_scope_ref(scope_text, tenant=tenant, field=field)
    return Hat(ref, str(scope), scope.kind)


@dataclass(frozen=True, slots=True)
class HeldRelation:
    """A relation the user holds now on *object*: directly (``via`` empty) or through a group."""

    relation: str
    object: str
    via: str = ""
    valid_until: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    """Factor evidence of the user (metadata only)."""

    evidence_id: str
    factor_type: str
    assurance_level: AssuranceLevel
    verified_at: dt.datetime
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class RecordedEvidence:
    """Factor evidence as stored: the metadata, who verified it, the gateway's reference."""

    evidence: Evidence
    user_id: str
    issuer: str
    evidence_ref: str
    created_at: dt.datetime


class ApprovalState(enum.StrEnum):
    """Lifecycle of a hat approval (EXPIRED: pending past its window, never decided)."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Approval:
    """A request to wear a hat that needs approval, and its decision."""

    approval_id: str
    user_id: str
    hat: str
    justification: str
    state: ApprovalState
    decided_by: str
    created_at: dt.datetime
    decided_at: dt.datetime | None
    expires_at: dt.datetime | None
    requested_duration_s: float | None
    pending_until: dt.datetime | None
    version: int = 1

    def in_force(self, now: dt.datetime) -> bool:
        """True when approved and not yet expired."""
        return (
            self.state is ApprovalState.APPROVED
            and self.expires_at is not None
            and now < self.expires_at
        )


@dataclass(frozen=True, slots=True)
class Grounds:
    """What a user's hats can rest on, read in one transaction.

    ``parents`` maps a scope to its parent scope (absent or empty: the
    tenant); it needs the scopes of every anchor and their ancestors.
    """

    tenant: TenantId
    tenant_state: TenantState
    account_state: AccountState | None
    held: Sequence[HeldRelation]
    parents: Mapping[str, str]
    evidence: Sequence[Evidence] = ()
    approvals: Sequence[Approval] = ()

    def chain(self, scope_id: str) -> list[str]:
        """*scope_id* and its ancestors up to and including the tenant."""
        found, seen = [scope_id], {scope_id}
        current = scope_id
        while current != str(self.tenant):
            parent = self.parents.get(current) or str(self.tenant)
            if parent in seen:  # a cycle cannot be stored; stop rather than loop
                break
            found.append(parent)
            seen.add(parent)
            current = parent
        return found


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a hat can be worn now; when it can, what it rests on and until when."""

    unmet: tuple[tuple[Unmet, str], ...]
    evidence_ids: tuple[str, ...] = ()
    approval_id: str = ""
    expires_at: dt.datetime | None = None

    @property
    def eligible(self) -> bool:
        """True when every requirement holds."""
        return not self.unmet


def _earliest(*times: dt.datetime | None) -> dt.datetime | None:
    known = [t for t in times if t is not None]
    return min(known) if known else None


def _memberships(
    definition: AccessProfileDefinition, hat: Hat, grounds: Grounds
) -> tuple[list[str], dt.datetime | None, bool]:
    """(details of the missing requirements, when the held ones end, any ends-never)."""
    missing: list[str] = []
    ends: list[dt.datetime | None] = []
    for requirement in definition.membership_requirements:
        anchor = requirement.object or hat.scope_id
        chain = set(grounds.chain(anchor))
        holding = [
            h for h in grounds.held if h.relation == requirement.relation and h.object in chain
        ]
        if not holding:
            missing.append(f"needs {requirement.relation} on {anchor} or above")
            continue
        # The ground that lasts longest carries the hat.
        if any(h.valid_until is None for h in holding):
            ends.append(None)
        else:
            ends.append(max(h.valid_until for h in holding if h.valid_until is not None))
    bounded = [e for e in ends if e is not None]
    return missing, (min(bounded) if bounded else None), bool(ends)


def _factor(
    definition: AccessProfileDefinition, evidence: Iterable[Evidence], now: dt.datetime
) -> tuple[str, Evidence | None, dt.datetime | None]:
    """(why the factor requirement fails, the evidence that meets it, when that stops)."""
    wanted_level = definition.min_assurance
    allowed = set(definition.required_factor_types)
    if wanted_level is AssuranceLevel.NONE and not allowed:
        return "", None, None
    max_age = (
        dt.timedelta(seconds=definition.max_evidence_age_s)
        if definition.max_evidence_age_s is not None
        else None
    )
    unexpired = [e for e in evidence if e.expires_at > now]
    if not unexpired:
        return "no unexpired factor evidence", None, None
    typed = [e for e in unexpired if not allowed or e.factor_type in allowed]
    if not typed:
        return f"no evidence of an allowed factor type ({', '.join(sorted(allowed))})", None, None
    fresh = [e for e in typed if max_age is None or now - e.verified_at <= max_age]
    if not fresh:
        return "the factor evidence is too old", None, None
    strong = [e for e in fresh if e.assurance_level >= wanted_level]
    if not strong:
        return f"the factor evidence is below {wanted_level.name.lower()}", None, None

    def lasts(e: Evidence) -> dt.datetime:
        return e.expires_at if max_age is None else min(e.expires_at, e.verified_at + max_age)

    best = max(strong, key=lambda e: (lasts(e), e.evidence_id))
    return "", best, lasts(best)


def check_hat(
    definition: AccessProfileDefinition,
    hat: Hat,
    grounds: Grounds,
    now: dt.datetime,
) -> Verdict:
    """Judge every requirement of wearing *hat* now; report each one that fails."""
    unmet: list[tuple[Unmet, str]] = []
    if grounds.tenant_state is not TenantState.ACTIVE:
        unmet.append((Unmet.TENANT_NOT_ACTIVE, f"{grounds.tenant} is not active"))
    if grounds.account_state is not AccountState.ACTIVE:
        state = grounds.account_state.value if grounds.account_state else "missing"
        unmet.append((Unmet.ACCOUNT_NOT_ACTIVE, f"the account is {state}"))
    if definition.scope_kinds and hat.scope_kind not in definition.scope_kinds:
        unmet.append(
            (Unmet.SCOPE_KIND_NOT_ALLOWED, f"the profile is not worn on a {hat.scope_kind.value}")
        )
    missing, memberships_end, _ = _memberships(definition, hat, grounds)
    unmet += [(Unmet.MEMBERSHIP_MISSING, detail) for detail in missing]
    why, evidence, evidence_end = _factor(definition, grounds.evidence, now)
    if why:
        unmet.append((Unmet.FACTOR_ASSURANCE_MISSING, why))
    approval: Approval | None = None
    if definition.requires_approval:
        in_force = [a for a in grounds.approvals if a.hat == str(hat) and a.in_force(now)]
        approval = max(in_force, key=lambda a: (a.expires_at, a.approval_id), default=None)
        if approval is None:
            unmet.append((Unmet.APPROVAL_REQUIRED, "no approval of this hat is in force"))
    if unmet:
        return Verdict(tuple(unmet))
    duration_end = (
        now + dt.timedelta(seconds=definition.max_active_duration_s)
        if definition.max_active_duration_s is not None
        else None
    )
    return Verdict(
        (),
        (evidence.evidence_id,) if evidence else (),
        approval.approval_id if approval else "",
        _earliest(
            duration_end,
            evidence_end,
            approval.expires_at if approval else None,
            memberships_end,
        ),
    )


@dataclass(frozen=True, slots=True)
class ActiveHat:
    """The hat a user is wearing, as stored at selection."""

    user_id: str
    hat: Hat
    realm_id: str
    service_area_id: str
    asset_id: str
    evidence_ids: tuple[str, ...]
    approval_id: str
    selected_at: dt.datetime
    expires_at: dt.datetime | None
    # The parent of each scope its requirements are judged on (fixed at selection).
    scope_parents: tuple[tuple[str, str], ...] = ()


def hat_holds(
    active: ActiveHat,
    definition: AccessProfileDefinition | None,
    grounds: Grounds,
    now: dt.datetime,
) -> str:
    """Return why *active* no longer holds now ('' while it does).

    Re-validated on every read: tenant and account active, not expired, and
    every membership requirement still held (evidence and approval expiry
    are part of the stored expiry).
    """
    if definition is None:
        return "the access profile is gone"
    if grounds.tenant_state is not TenantState.ACTIVE:
        return "the tenant is not active"
    if grounds.account_state is not AccountState.ACTIVE:
        return "the account is not active"
    if active.expires_at is not None and now >= active.expires_at:
        return "the hat expired"
    missing, _, _ = _memberships(definition, active.hat, grounds)
    if missing:
        return "a membership it rests on is gone"
    return ""


def placement(hat: Hat, grounds: Grounds) -> tuple[str, str, str]:
    """The (realm, service area, asset) of the hat's scope: itself and its ancestors."""
    found: dict[str, str] = {}
    for scope in grounds.chain(hat.scope_id):
        found.setdefault(scope.split(":", 1)[0], scope)
    return (
        found.get(ScopeKind.REALM.value, ""),
        found.get(ScopeKind.SERVICE_AREA.value, ""),
        found.get(ScopeKind.ASSET.value, ""),
    )
