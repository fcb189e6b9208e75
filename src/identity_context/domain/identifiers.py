"""Canonical identifiers (DESIGN section 3): grammar, parsing and tenant binding."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from identity_context.domain.errors import ErrorReason, InvalidArgument

__all__ = [
    "PLATFORM_TENANT",
    "ActorKind",
    "ScopeKind",
    "ScopeRef",
    "TenantId",
    "parse_actor_ref",
    "parse_application_ref",
    "parse_group_ref",
    "parse_hat_ref",
    "parse_membership_id",
    "parse_profile_ref",
    "parse_relation",
    "parse_request_id",
    "parse_scope_ref",
    "parse_service_ref",
    "parse_tenant_id",
    "parse_user_ref",
]

_SLUG = r"[a-z][a-z0-9-]{1,61}[a-z0-9]"
_USER_ID = r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}"
_NAME = r"[a-z0-9][a-z0-9._-]{0,62}"
_PATH = r"[a-z0-9][a-z0-9._-]*(?:/[a-z0-9][a-z0-9._-]*)*"
_MAX_REF = 512

_TENANT_RE = re.compile(rf"tenant:(?P<slug>{_SLUG})")
_USER_RE = re.compile(rf"user:(?P<id>{_USER_ID})")
_SERVICE_RE = re.compile(rf"service:(?P<name>{_NAME})")
_GROUP_RE = re.compile(rf"group:(?P<slug>{_SLUG})/(?P<name>{_NAME})")
_SCOPE_RE = re.compile(rf"(?P<kind>realm|service|asset):(?P<slug>{_SLUG})/(?P<path>{_PATH})")
_PROFILE_RE = re.compile(rf"profile:(?P<slug>{_SLUG})/(?P<name>{_NAME})")
_APP_RE = re.compile(rf"app:(?P<name>{_NAME})")
_RELATION_RE = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_MEMBERSHIP_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}")


@dataclass(frozen=True, slots=True, order=True)
class TenantId:
    """A tenant reference, ``tenant:<slug>``."""

    slug: str

    def __str__(self) -> str:
        return f"tenant:{self.slug}"

    @property
    def is_platform(self) -> bool:
        """True for ``tenant:platform``, the platform plane."""
        return self.slug == PLATFORM_TENANT.slug


PLATFORM_TENANT = TenantId("platform")


class ActorKind(enum.StrEnum):
    """Who can act: a human user or a service principal."""

    USER = "user"
    SERVICE = "service"


class ScopeKind(enum.StrEnum):
    """Levels of a tenant's scope tree."""

    TENANT = "tenant"
    REALM = "realm"
    SERVICE_AREA = "service"
    ASSET = "asset"


@dataclass(frozen=True, slots=True)
class ScopeRef:
    """A scope reference: the tenant itself or ``realm|service|asset:<slug>/<path>``."""

    kind: ScopeKind
    tenant: TenantId
    path: str

    def __str__(self) -> str:
        if self.kind is ScopeKind.TENANT:
            return str(self.tenant)
        return f"{self.kind.value}:{self.tenant.slug}/{self.path}"


def _invalid(
    field: str, value: str, grammar: str, reason: ErrorReason | None = None
) -> InvalidArgument:
    shown = value if len(value) <= 80 else value[:77] + "..."
    return InvalidArgument.for_field(field, f"{shown!r} is not {grammar}", reason=reason)


def _match(pattern: re.Pattern[str], value: str) -> re.Match[str] | None:
    if len(value) > _MAX_REF or not value.isascii():
        return None
    return pattern.fullmatch(value)


def parse_tenant_id(value: str, *, field: str = "tenant_id") -> TenantId:
    """Parse ``tenant:<slug>``.

    Raise InvalidArgument (a field violation on *field*) when malformed.
    """
    match = _match(_TENANT_RE, value)
    if match is None:
        raise _invalid(field, value, "a tenant reference tenant:<slug>")
    return TenantId(match["slug"])


def parse_user_ref(value: str, *, field: str = "user_id") -> str:
    """Return *value* when it is ``user:<id>``; raise InvalidArgument otherwise."""
    if _match(_USER_RE, value) is None:
        raise _invalid(field, value, "a user reference user:<id>")
    return value


def parse_actor_ref(value: str, *, field: str = "sub") -> tuple[ActorKind, str]:
    """Parse an actor, ``user:<id>`` or ``service:<name>``.

    Raise InvalidArgument when it is neither.
    """
    if _match(_USER_RE, value) is not None:
        return ActorKind.USER, value
    if _match(_SERVICE_RE, value) is not None:
        return ActorKind.SERVICE, value
    raise _invalid(field, value, "user:<id> or service:<name>")


def _bound(field: str, value: str, slug: str, tenant: TenantId | None) -> None:
    if tenant is not None and slug != tenant.slug:
        raise InvalidArgument.for_field(
            field,
            f"{value!r} belongs to tenant:{slug}, not to the request's tenant {tenant}",
            reason=ErrorReason.CROSS_TENANT_DENIED,
        )


def parse_group_ref(value: str, *, tenant: TenantId | None = None, field: str = "group_id") -> str:
    """Parse ``group:<slug>/<name>``, bound to *tenant* when given.

    Raise InvalidArgument when malformed or when the slug is another tenant's
    (reason CROSS_TENANT_DENIED).
    """
    match = _match(_GROUP_RE, value)
    if match is None:
        raise _invalid(field, value, "a group reference group:<slug>/<name>")
    _bound(field, value, match["slug"], tenant)
    return value


def parse_scope_ref(
    value: str, *, tenant: TenantId | None = None, field: str = "scope_id"
) -> ScopeRef:
    """Parse a scope reference (the tenant, a realm, a service area or an asset).

    Raise InvalidArgument when malformed or bound to another tenant.
    """
    match = _match(_SCOPE_RE, value)
    if match is not None:
        _bound(field, value, match["slug"], tenant)
        kind = ScopeKind(match["kind"])
        return ScopeRef(kind, TenantId(match["slug"]), match["path"])
    tenant_match = _match(_TENANT_RE, value)
    if tenant_match is not None:
        _bound(field, value, tenant_match["slug"], tenant)
        return ScopeRef(ScopeKind.TENANT, TenantId(tenant_match["slug"]), "")
    raise _invalid(field, value, "a scope reference (tenant:, realm:, service: or asset:)")


def parse_profile_ref(
    value: str, *, tenant: TenantId | None = None, field: str = "access_profile_id"
) -> str:
    """Parse ``profile:<slug>/<name>``, bound to *tenant* when given.

    Raise InvalidArgument when malformed or bound to another tenant.
    """
    match = _match(_PROFILE_RE, value)
    if match is None:
        raise _invalid(field, value, "an access profile reference profile:<slug>/<name>")
    _bound(field, value, match["slug"], tenant)
    return value


def parse_hat_ref(
    value: str, *, tenant: TenantId | None = None, field: str = "hat_id"
) -> tuple[str, ScopeRef]:
    """Parse ``<profile-ref>@<scope-ref>``.

    Raise InvalidArgument when malformed or bound to another tenant.
    """
    profile, sep, scope = value.partition("@")
    if not sep:
        raise _invalid(field, value, "a hat reference <profile-ref>@<scope-ref>")
    return (
        parse_profile_ref(profile, tenant=tenant, field=field),
        parse_scope_ref(scope, tenant=tenant, field=field),
    )


def parse_application_ref(value: str, *, field: str = "application_id") -> str:
    """Return *value* when it is ``app:<name>``; raise InvalidArgument otherwise."""
    if _match(_APP_RE, value) is None:
        raise _invalid(field, value, "an application reference app:<name>")
    return value


def parse_service_ref(value: str, *, field: str = "audience") -> str:
    """Return *value* when it is a service principal ``service:<name>``; raise InvalidArgument."""
    if _match(_SERVICE_RE, value) is None:
        raise _invalid(field, value, "a service principal service:<name>")
    return value


def parse_relation(value: str, *, field: str = "relation") -> str:
    """Return *value* when it is a relation (role) name: lower-case ASCII, digits, ``-``, ``_``.

    Raise InvalidArgument otherwise.
    """
    if _match(_RELATION_RE, value) is None:
        raise _invalid(field, value, "a relation matching [a-z][a-z0-9_-]{0,62}")
    return value


def parse_membership_id(value: str, *, field: str = "membership_id") -> str:
    """Return *value* when it is a membership id; raise InvalidArgument otherwise."""
    if _match(_MEMBERSHIP_ID_RE, value) is None:
        raise _invalid(field, value, "a membership id")
    return value


def parse_request_id(value: str, *, field: str = "request_id") -> str:
    """Return *value* (empty: none) when it is a valid idempotency key; raise InvalidArgument.

    A request id is 1-128 printable ASCII characters from ``[A-Za-z0-9._:@/+=-]``
    (UUIDs, ULIDs and base64 keys fit).
    """
    if value and _match(_REQUEST_ID_RE, value) is None:
        raise _invalid(field, value, "a request id of [A-Za-z0-9._:@/+=-], at most 128 long")
    return value
