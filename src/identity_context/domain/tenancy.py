"""Tenants and tenant accounts: states and the value objects the store returns."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from identity_context.domain.errors import Aborted, ErrorReason
from identity_context.domain.identifiers import TenantId

__all__ = [
    "AccountState",
    "Tenant",
    "TenantAccount",
    "TenantPlane",
    "TenantState",
    "check_etag",
    "etag_of",
]


class TenantPlane(enum.StrEnum):
    """The platform plane (``tenant:platform``) or a tenant plane."""

    PLATFORM = "platform"
    TENANT = "tenant"


class TenantState(enum.StrEnum):
    """Lifecycle of a tenant."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    ARCHIVED = "archived"


class AccountState(enum.StrEnum):
    """Lifecycle of a user's account inside a tenant."""

    INVITED = "invited"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DEPROVISIONED = "deprovisioned"


def etag_of(version: int) -> str:
    """Return the opaque etag of a stored version."""
    return f"v{version}"


def check_etag(given: str, current: str) -> None:
    """Raise Aborted (ETAG_MISMATCH) when *given* is set and differs from *current*."""
    if given and given != current:
        raise Aborted(
            "the object changed since it was read (etag mismatch)", reason=ErrorReason.ETAG_MISMATCH
        )


@dataclass(frozen=True, slots=True)
class Tenant:
    """A tenant as stored."""

    tenant_id: TenantId
    display_name: str
    plane: TenantPlane
    state: TenantState
    last_seq: int
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def etag(self) -> str:
        """The tenant's etag."""
        return etag_of(self.version)


@dataclass(frozen=True, slots=True)
class TenantAccount:
    """A user's account inside one tenant."""

    tenant_id: TenantId
    user_id: str
    display_name: str
    state: AccountState
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def etag(self) -> str:
        """The account's etag."""
        return etag_of(self.version)
