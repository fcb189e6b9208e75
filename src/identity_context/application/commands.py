"""Commands: what a caller asks for, as frozen values (the idempotency fingerprint is theirs)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import ClassVar

from identity_context.application.actions import Action
from identity_context.domain.actors import AssuranceLevel
from identity_context.domain.directory import AccessProfileDefinition, ProfileLayer
from identity_context.domain.hats import ApprovalState
from identity_context.domain.tenancy import AccountState, TenantState

__all__ = [
    "AddGroupMember",
    "BindApplication",
    "ClearActiveHat",
    "Command",
    "CreateAccessProfile",
    "CreateGroup",
    "CreateScope",
    "CreateTenant",
    "DecideHatApproval",
    "GrantMembership",
    "ProfileWrite",
    "RecordFactorEvidence",
    "RemoveGroupMember",
    "RequestHatApproval",
    "SelectActiveHat",
    "RevokeMembership",
    "SetAccountState",
    "SetProfileValues",
    "SetTenantState",
    "UpsertTenantUser",
]


@dataclass(frozen=True, slots=True)
class Command:
    """A mutation; ``action`` names it to the authorization port and the audit trail."""

    action: ClassVar[Action]


@dataclass(frozen=True, slots=True)
class CreateTenant(Command):
    """Create a tenant plane."""

    action: ClassVar[Action] = Action.PLATFORM_TENANT_CREATE
    tenant_id: str
    display_name: str


@dataclass(frozen=True, slots=True)
class SetTenantState(Command):
    """Activate, suspend or archive a tenant."""

    action: ClassVar[Action] = Action.PLATFORM_TENANT_SET_STATE
    tenant_id: str
    state: TenantState
    reason: str
    etag: str


@dataclass(frozen=True, slots=True)
class BindApplication(Command):
    """Bind a catalog application to the request's tenant."""

    action: ClassVar[Action] = Action.PLATFORM_APPLICATION_BIND
    application_id: str


@dataclass(frozen=True, slots=True)
class UpsertTenantUser(Command):
    """Create a user's account in the tenant, or rename it."""

    action: ClassVar[Action] = Action.TENANT_USER_UPSERT
    user_id: str
    display_name: str
    initial_state: AccountState | None
    etag: str


@dataclass(frozen=True, slots=True)
class SetAccountState(Command):
    """Move an account to another state."""

    action: ClassVar[Action] = Action.TENANT_ACCOUNT_SET_STATE
    user_id: str
    state: AccountState
    reason: str
    etag: str


@dataclass(frozen=True, slots=True)
class ProfileWrite:
    """One profile value to write."""

    key: str
    value: str
    sensitive: bool = False


@dataclass(frozen=True, slots=True)
class SetProfileValues(Command):
    """Write and remove values of one user in the GLOBAL or TENANT layer."""

    action: ClassVar[Action] = Action.TENANT_PROFILE_SET
    user_id: str
    layer: ProfileLayer
    values: tuple[ProfileWrite, ...]
    remove_keys: tuple[str, ...]
    etag: str

    @property
    def layer_action(self) -> Action:
        """The GLOBAL layer is a platform-root resource."""
        if self.layer is ProfileLayer.GLOBAL:
            return Action.PLATFORM_PROFILE_SET_GLOBAL
        return Action.TENANT_PROFILE_SET


@dataclass(frozen=True, slots=True)
class CreateScope(Command):
    """Create a realm, service area or asset."""

    action: ClassVar[Action] = Action.TENANT_SCOPE_CREATE
    scope_id: str
    parent_scope_id: str
    display_name: str


@dataclass(frozen=True, slots=True)
class CreateGroup(Command):
    """Create a group."""

    action: ClassVar[Action] = Action.TENANT_GROUP_CREATE
    group_id: str
    display_name: str


@dataclass(frozen=True, slots=True)
class AddGroupMember(Command):
    """Add a user to a group."""

    action: ClassVar[Action] = Action.TENANT_GROUP_MEMBER_ADD
    group_id: str
    user_id: str


@dataclass(frozen=True, slots=True)
class RemoveGroupMember(Command):
    """Remove a user from a group."""

    action: ClassVar[Action] = Action.TENANT_GROUP_MEMBER_REMOVE
    group_id: str
    user_id: str


@dataclass(frozen=True, slots=True)
class GrantMembership(Command):
    """Grant a user or group a relation on the tenant or one of its scopes."""

    action: ClassVar[Action] = Action.TENANT_MEMBERSHIP_GRANT
    subject: str
    relation: str
    object: str
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class RevokeMembership(Command):
    """Revoke a membership."""

    action: ClassVar[Action] = Action.TENANT_MEMBERSHIP_REVOKE
    membership_id: str
    etag: str
    reason: str


@dataclass(frozen=True, slots=True)
class CreateAccessProfile(Command):
    """Create an access profile (a platform template when in ``profile:platform/``)."""

    action: ClassVar[Action] = Action.TENANT_ACCESS_PROFILE_CREATE
    access_profile_id: str
    display_name: str
    definition: AccessProfileDefinition


@dataclass(frozen=True, slots=True)
class RecordFactorEvidence(Command):
    """Record that a user proved a factor (metadata and the gateway's opaque reference)."""

    action: ClassVar[Action] = Action.TENANT_EVIDENCE_RECORD
    user_id: str
    factor_type: str
    assurance_level: AssuranceLevel
    verified_at: dt.datetime | None
    expires_at: dt.datetime | None
    issuer: str
    evidence_ref: str


@dataclass(frozen=True, slots=True)
class SelectActiveHat(Command):
    """Put on a hat."""

    action: ClassVar[Action] = Action.TENANT_HAT_SELECT
    user_id: str
    hat_id: str


@dataclass(frozen=True, slots=True)
class ClearActiveHat(Command):
    """Take off the active hat."""

    action: ClassVar[Action] = Action.TENANT_HAT_CLEAR
    user_id: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RequestHatApproval(Command):
    """Ask for the approval a hat requires."""

    action: ClassVar[Action] = Action.TENANT_HAT_APPROVAL_REQUEST
    user_id: str
    hat_id: str
    justification: str
    requested_duration_s: float | None = None


@dataclass(frozen=True, slots=True)
class DecideHatApproval(Command):
    """Approve or reject a pending hat approval."""

    action: ClassVar[Action] = Action.TENANT_HAT_APPROVAL_DECIDE
    approval_id: str
    decision: ApprovalState
    valid_for_s: float | None = None
    comment: str = ""
    etag: str = ""
