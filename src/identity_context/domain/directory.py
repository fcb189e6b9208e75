"""The tenant directory: applications, profiles, scopes, groups, memberships, access profiles."""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from identity_context.domain.actors import AssuranceLevel
from identity_context.domain.errors import FieldViolation, InvalidArgument
from identity_context.domain.identifiers import (
    ScopeKind,
    TenantId,
    parse_relation,
    parse_scope_ref,
    parse_service_ref,
)
from identity_context.domain.tenancy import etag_of
from identity_context.domain.text import MAX_PROFILE_VALUE, MAX_REASON, check_text

__all__ = [
    "BASE_CLAIMS",
    "DEFAULT_APPROVAL_VALIDITY_S",
    "PROFILE_KEY",
    "AccessProfile",
    "AccessProfileDefinition",
    "ClaimSource",
    "ClaimsRule",
    "MembershipRequirement",
    "ApplicationBinding",
    "Group",
    "GroupMember",
    "Membership",
    "MembershipState",
    "ProfileLayer",
    "ProfileValue",
    "ResolvedValue",
    "Scope",
    "resolve_profile",
]


PROFILE_KEY = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
_FACTOR_TYPE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_CLAIM = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,63}")
_MAX_DURATION_S = 366 * 24 * 3600
_MAX_ITEMS = 64
DEFAULT_APPROVAL_VALIDITY_S = 3600.0
# Claims every projection carries (ProjectClaims); no claims rule may name them.
BASE_CLAIMS = ("sub", "tenant", "hat")


@dataclass(frozen=True, slots=True)
class ApplicationBinding:
    """A catalog application bound to a tenant (or a catalog entry for the platform)."""

    tenant_id: TenantId
    application_id: str
    display_name: str
    required: bool
    created_at: dt.datetime


class ProfileLayer(enum.StrEnum):
    """Profile layers, lowest precedence first."""

    ACCESS_PROFILE_DEFAULT = "access_profile_default"
    GLOBAL = "global"
    TENANT = "tenant"


@dataclass(frozen=True, slots=True)
class ProfileValue:
    """One stored profile value of one layer."""

    user_id: str
    key: str
    value: str
    layer: ProfileLayer
    sensitive: bool
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class ResolvedValue:
    """A profile key after resolution, with the layer that supplied it."""

    key: str
    value: str
    source_layer: ProfileLayer
    sensitive: bool


def resolve_profile(
    defaults: Mapping[str, str],
    global_values: Iterable[ProfileValue],
    tenant_values: Iterable[ProfileValue],
) -> list[ResolvedValue]:
    """Resolve access-profile defaults < GLOBAL < TENANT; the result is ordered by key."""
    resolved: dict[str, ResolvedValue] = {
        key: ResolvedValue(key, value, ProfileLayer.ACCESS_PROFILE_DEFAULT, False)
        for key, value in defaults.items()
    }
    for layer, values in (
        (ProfileLayer.GLOBAL, global_values),
        (ProfileLayer.TENANT, tenant_values),
    ):
        for value in values:
            resolved[value.key] = ResolvedValue(value.key, value.value, layer, value.sensitive)
    return [resolved[key] for key in sorted(resolved)]


@dataclass(frozen=True, slots=True)
class Scope:
    """A realm, service area or asset of a tenant."""

    scope_id: str
    kind: ScopeKind
    parent_scope_id: str
    display_name: str
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Group:
    """A group of users inside a tenant."""

    group_id: str
    display_name: str
    member_count: int
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class GroupMember:
    """A user in a group."""

    group_id: str
    user_id: str
    created_at: dt.datetime


class MembershipState(enum.StrEnum):
    """Lifecycle of a membership."""

    ACTIVE = "active"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class Membership:
    """``subject`` holds ``relation`` on ``object`` (the tenant or one of its scopes)."""

    membership_id: str
    subject: str
    relation: str
    object: str
    state: MembershipState
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None
    version: int
    created_at: dt.datetime
    revoked_at: dt.datetime | None

    @property
    def etag(self) -> str:
        """The membership's etag."""
        return etag_of(self.version)


class ClaimSource(enum.StrEnum):
    """Where a projected claim takes its value from."""

    PROFILE = "profile"
    HAT = "hat"
    REALM = "realm"
    SERVICE_AREA = "service_area"
    ASSET = "asset"
    GROUPS = "groups"
    RELATIONS = "relations"
    CONSTANT = "constant"


@dataclass(frozen=True, slots=True)
class MembershipRequirement:
    """A relation the user must hold; ``object`` empty means the scope the hat is worn on."""

    relation: str
    object: str = ""


@dataclass(frozen=True, slots=True)
class ClaimsRule:
    """One claim of the projection for one service audience."""

    audience: str
    claim: str
    source: ClaimSource
    source_key: str = ""


@dataclass(frozen=True, slots=True)
class AccessProfileDefinition:
    """What a user must hold to wear a hat of this profile, and what wearing it projects."""

    scope_kinds: tuple[ScopeKind, ...] = ()
    membership_requirements: tuple[MembershipRequirement, ...] = ()
    min_assurance: AssuranceLevel = AssuranceLevel.NONE
    required_factor_types: tuple[str, ...] = ()
    max_evidence_age_s: float | None = None
    requires_approval: bool = False
    profile_defaults: tuple[tuple[str, str], ...] = ()
    claims_rules: tuple[ClaimsRule, ...] = ()
    max_active_duration_s: float | None = None
    approver_relation: str = ""
    max_approval_validity_s: float | None = None

    @property
    def approval_limit_s(self) -> float:
        """The longest an approval of this profile may hold (one hour when unset)."""
        return self.max_approval_validity_s or DEFAULT_APPROVAL_VALIDITY_S

    def claims_for(self, audience: str) -> tuple[ClaimsRule, ...]:
        """The claims rules of one service audience, in their order."""
        return tuple(rule for rule in self.claims_rules if rule.audience == audience)

    def validate(self, home: TenantId, *, field: str = "access_profile") -> None:
        """Check every part against its grammar, bound to the profile's *home* tenant.

        A platform template (home ``tenant:platform``) is used by every tenant,
        so its membership requirements name no object. Raise InvalidArgument
        with one field violation per bad part.
        """
        bad: list[FieldViolation] = []

        def check(name: str, test: Callable[..., object], *args: Any, **kwargs: Any) -> None:
            try:
                test(*args, **kwargs)
            except InvalidArgument as error:
                bad.extend(FieldViolation(name, v.description) for v in error.violations)

        if len(set(self.scope_kinds)) != len(self.scope_kinds):
            bad.append(FieldViolation(f"{field}.scope_kinds", "lists a scope kind twice"))
        for name, items in (
            ("membership_requirements", self.membership_requirements),
            ("required_factor_types", self.required_factor_types),
            ("profile_defaults", self.profile_defaults),
            ("claims_rules", self.claims_rules),
        ):
            if len(items) > _MAX_ITEMS:
                bad.append(FieldViolation(f"{field}.{name}", f"at most {_MAX_ITEMS} entries"))
        for i, req in enumerate(self.membership_requirements):
            where = f"{field}.membership_requirements[{i}]"
            check(f"{where}.relation", parse_relation, req.relation)
            if req.object and home.is_platform:
                bad.append(FieldViolation(f"{where}.object", "a platform template names no object"))
            elif req.object:
                check(f"{where}.object", parse_scope_ref, req.object, tenant=home)
        for i, factor in enumerate(self.required_factor_types):
            if not _FACTOR_TYPE.fullmatch(factor):
                bad.append(
                    FieldViolation(
                        f"{field}.required_factor_types[{i}]",
                        "must match [a-z][a-z0-9_-]{0,31}",
                    )
                )
        if self.requires_approval and not self.approver_relation:
            bad.append(
                FieldViolation(
                    f"{field}.approver_relation", "is required when the profile requires approval"
                )
            )
        elif self.approver_relation:
            check(f"{field}.approver_relation", parse_relation, self.approver_relation)
        for name, seconds in (
            ("max_evidence_age", self.max_evidence_age_s),
            ("max_active_duration", self.max_active_duration_s),
            ("max_approval_validity", self.max_approval_validity_s),
        ):
            if seconds is not None and not 0 < seconds <= _MAX_DURATION_S:
                bad.append(
                    FieldViolation(f"{field}.{name}", "must be positive and at most 366 days")
                )
        keys = [key for key, _ in self.profile_defaults]
        if len(set(keys)) != len(keys):
            bad.append(FieldViolation(f"{field}.profile_defaults", "lists a key twice"))
        for key, value in self.profile_defaults:
            if not PROFILE_KEY.fullmatch(key):
                bad.append(
                    FieldViolation(
                        f"{field}.profile_defaults", f"key {key[:40]!r} is not a profile key"
                    )
                )
            check(
                f"{field}.profile_defaults[{key[:40]}]",
                check_text,
                value,
                field="value",
                max_length=MAX_PROFILE_VALUE,
            )
        for i, rule in enumerate(self.claims_rules):
            where = f"{field}.claims_rules[{i}]"
            check(f"{where}.audience", parse_service_ref, rule.audience)
            if not _CLAIM.fullmatch(rule.claim):
                bad.append(
                    FieldViolation(f"{where}.claim", "must match [A-Za-z_][A-Za-z0-9_.:-]{0,63}")
                )
            elif rule.claim in BASE_CLAIMS:
                bad.append(FieldViolation(f"{where}.claim", "sub, tenant and hat are base claims"))
            if rule.source is ClaimSource.PROFILE and not PROFILE_KEY.fullmatch(rule.source_key):
                bad.append(FieldViolation(f"{where}.source_key", "must be a profile key"))
            elif rule.source is ClaimSource.CONSTANT:
                check(
                    f"{where}.source_key",
                    check_text,
                    rule.source_key,
                    field="source_key",
                    max_length=MAX_REASON,
                )
            elif rule.source not in (ClaimSource.PROFILE, ClaimSource.CONSTANT) and rule.source_key:
                bad.append(FieldViolation(f"{where}.source_key", "is unused for this source"))
        if bad:
            raise InvalidArgument("invalid access profile", violations=bad)

    def to_document(self) -> dict[str, object]:
        """Return the JSON document the store keeps."""
        return {
            "scope_kinds": [k.value for k in self.scope_kinds],
            "membership_requirements": [
                {"relation": r.relation, "object": r.object} for r in self.membership_requirements
            ],
            "min_assurance": int(self.min_assurance),
            "required_factor_types": list(self.required_factor_types),
            "max_evidence_age_s": self.max_evidence_age_s,
            "requires_approval": self.requires_approval,
            "profile_defaults": dict(self.profile_defaults),
            "claims_rules": [
                {
                    "audience": r.audience,
                    "claim": r.claim,
                    "source": r.source.value,
                    "source_key": r.source_key,
                }
                for r in self.claims_rules
            ],
            "max_active_duration_s": self.max_active_duration_s,
            "approver_relation": self.approver_relation,
            "max_approval_validity_s": self.max_approval_validity_s,
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, object]) -> AccessProfileDefinition:
        """Rebuild the definition from the stored document."""

        def items(key: str) -> list[Any]:
            value = doc.get(key)
            return list(value) if isinstance(value, list) else []

        raw_defaults = doc.get("profile_defaults")
        defaults = raw_defaults if isinstance(raw_defaults, dict) else {}
        age, duration = doc.get("max_evidence_age_s"), doc.get("max_active_duration_s")
        approval = doc.get("max_approval_validity_s")
        return cls(
            scope_kinds=tuple(ScopeKind(k) for k in items("scope_kinds")),
            membership_requirements=tuple(
                MembershipRequirement(str(r["relation"]), str(r.get("object", "")))
                for r in items("membership_requirements")
            ),
            min_assurance=AssuranceLevel(int(str(doc.get("min_assurance", 0)))),
            required_factor_types=tuple(str(f) for f in items("required_factor_types")),
            max_evidence_age_s=float(age) if isinstance(age, int | float) else None,
            requires_approval=bool(doc.get("requires_approval", False)),
            profile_defaults=tuple((str(k), str(v)) for k, v in defaults.items()),
            claims_rules=tuple(
                ClaimsRule(
                    str(r["audience"]), str(r["claim"]), ClaimSource(r["source"]), r["source_key"]
                )
                for r in items("claims_rules")
            ),
            max_active_duration_s=float(duration) if isinstance(duration, int | float) else None,
            approver_relation=str(doc.get("approver_relation") or ""),
            max_approval_validity_s=float(approval) if isinstance(approval, int | float) else None,
        )


@dataclass(frozen=True, slots=True)
class AccessProfile:
    """An access-profile template."""

    access_profile_id: str
    display_name: str
    definition: AccessProfileDefinition = field(default_factory=AccessProfileDefinition)
    version: int = 1
    created_at: dt.datetime | None = None

    @property
    def profile_defaults(self) -> dict[str, str]:
        """The profile defaults, the lowest layer of profile resolution."""
        return dict(self.definition.profile_defaults)

    @property
    def etag(self) -> str:
        """The profile's etag."""
        return etag_of(self.version)
