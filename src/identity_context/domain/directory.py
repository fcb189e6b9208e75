"""The tenant directory: applications, profiles, scopes, groups, memberships, access profiles."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from identity_context.domain.identifiers import ScopeKind, TenantId
from identity_context.domain.tenancy import etag_of

__all__ = [
    "AccessProfile",
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


@dataclass(frozen=True, slots=True)
class AccessProfile:
    """An access-profile template (its requirement fields are kept as a definition document)."""

    access_profile_id: str
    display_name: str
    definition: Mapping[str, object] = field(default_factory=dict)
    version: int = 1
    created_at: dt.datetime | None = None

    @property
    def profile_defaults(self) -> dict[str, str]:
        """The profile defaults, the lowest layer of profile resolution."""
        raw = self.definition.get("profile_defaults", {})
        return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, Mapping) else {}

    @property
    def etag(self) -> str:
        """The profile's etag."""
        return etag_of(self.version)
