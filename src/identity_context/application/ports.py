"""Ports the use cases depend on; adapters implement them."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from identity_context.domain.actors import Actor
from identity_context.domain.audit import AuditRecord
from identity_context.domain.changes import Change, ChangeContext, RecordedChange
from identity_context.domain.directory import (
    AccessProfile,
    ApplicationBinding,
    Group,
    GroupMember,
    Membership,
    MembershipState,
    ProfileValue,
    Scope,
)
from identity_context.domain.facts import ExportMode, FactChange, FactFilter, Position
from identity_context.domain.hats import (
    ActiveHat,
    Approval,
    ApprovalState,
    Evidence,
    Grounds,
    RecordedEvidence,
)
from identity_context.domain.identifiers import ScopeKind, TenantId
from identity_context.domain.identity_context import ContextSnapshot
from identity_context.domain.tenancy import AccountState, Tenant, TenantAccount, TenantState

__all__ = [
    "AccessProfileRepository",
    "AccountRepository",
    "ApplicationRepository",
    "GroupRepository",
    "HatRepository",
    "MembershipRepository",
    "PlatformTenantRepository",
    "ProfileRepository",
    "ScopeRepository",
    "AuditRepository",
    "CatalogEntry",
    "ChangeBatch",
    "EncodedFacts",
    "FactFeed",
    "FactSnapshot",
    "FactWindowRepository",
    "DiagnosticsRepository",
    "Clock",
    "IdempotencyRecord",
    "OutboxEvent",
    "OutboxRepository",
    "Store",
    "TenantLock",
    "TenantRepository",
    "TokenVerifier",
    "UnitOfWork",
]

T = TypeVar("T")


class TokenVerifier(Protocol):
    """Turns a bearer token into a verified actor."""

    async def verify(self, token: str) -> Actor:
        """Verify *token* and return its actor.

        Raise Unauthenticated when the token does not verify for any reason.
        """
        ...


class Clock(Protocol):
    """The source of the current time (UTC)."""

    def now(self) -> dt.datetime:
        """Return the current time, timezone-aware in UTC."""
        ...


class TenantRepository(Protocol):
    """Tenants: the unit of work's own tenant, plus the explicit platform path."""

    async def get(self) -> Tenant | None:
        """Return the unit of work's tenant, or None when it does not exist."""
        ...

    async def platform_create(self, tenant_id: TenantId, display_name: str) -> Tenant:
        """Create another tenant (platform context only). Raise AlreadyExists."""
        ...

    async def platform_list(
        self, *, after: str, state: TenantState | None, limit: int
    ) -> list[Tenant]:
        """List all tenants ordered by id (platform context only)."""
        ...


class AccountRepository(Protocol):
    """Tenant accounts of the unit of work's tenant."""

    async def get(self, user_id: str) -> TenantAccount | None:
        """Return the account of *user_id*, or None."""
        ...

    async def insert(self, user_id: str, display_name: str, state: AccountState) -> TenantAccount:
        """Create the account (and the global user when new). Raise AlreadyExists."""
        ...

    async def update(
        self, user_id: str, *, display_name: str | None = None, state: AccountState | None = None
    ) -> TenantAccount:
        """Change the account and bump its version. Raise NotFound."""
        ...

    async def list(
        self, *, after: str, state: AccountState | None, limit: int
    ) -> list[TenantAccount]:
        """List accounts ordered by user id, after *after*."""
        ...


class PlatformTenantRepository(Protocol):
    """Other tenants' rows, through the explicit platform path (platform context only)."""

    async def get(self, tenant_id: TenantId) -> Tenant | None:
        """Return any tenant, or None."""
        ...

    async def set_state(
        self, tenant_id: TenantId, state: TenantState, expected_version: int | None
    ) -> Tenant | None:
        """Change a tenant's state; None when absent or the version differs."""
        ...


class ApplicationRepository(Protocol):
    """The application catalog and the tenant's bindings."""

    async def catalog_entry(self, application_id: str) -> Mapping[str, Any] | None:
        """Return the catalog entry, or None."""
        ...

    async def bind(self, application_id: str) -> ApplicationBinding:
        """Bind an application to the tenant."""
        ...

    async def list(self, *, after: str, limit: int, catalog: bool) -> list[ApplicationBinding]:
        """List bindings (or the catalog)."""
        ...


class ProfileRepository(Protocol):
    """Profile values of the tenant's layer (GLOBAL for tenant:platform)."""

    async def values(self, user_id: str) -> list[ProfileValue]:
        """Return the user's values, ordered by key."""
        ...

    async def resolution_layers(
        self, user_id: str
    ) -> tuple[list[ProfileValue], list[ProfileValue]]:
        """Return the user's GLOBAL values and this tenant's values, each ordered by key."""
        ...

    async def version(self, user_id: str) -> str:
        """Return the etag of the user's values."""
        ...

    async def upsert(self, user_id: str, values: Mapping[str, tuple[str, bool]]) -> None:
        """Create or replace values (key -> (value, sensitive))."""
        ...

    async def remove(self, user_id: str, keys: Sequence[str]) -> int:
        """Remove keys; return how many existed."""
        ...


class ScopeRepository(Protocol):
    """Scopes of the tenant."""

    async def get(self, scope_id: str) -> Scope | None:
        """Return the scope, or None."""
        ...

    async def insert(
        self, scope_id: str, kind: ScopeKind, parent: str | None, display_name: str
    ) -> Scope:
        """Create a scope."""
        ...

    async def list(
        self, *, after: str, parent: str | None, kind: ScopeKind | None, limit: int
    ) -> list[Scope]:
        """List scopes."""
        ...


class GroupRepository(Protocol):
    """Groups and members of the tenant."""

    async def insert(self, group_id: str, display_name: str) -> Group:
        """Create a group."""
        ...

    async def exists(self, group_id: str) -> bool:
        """True when the group exists."""
        ...

    async def list(self, *, after: str, limit: int) -> list[Group]:
        """List groups."""
        ...

    async def add_member(self, group_id: str, user_id: str) -> GroupMember:
        """Add a member."""
        ...

    async def remove_member(self, group_id: str, user_id: str) -> bool:
        """Remove a member; False when not a member."""
        ...

    async def members(self, group_id: str, *, after: str, limit: int) -> Sequence[GroupMember]:
        """List members of a group."""
        ...


class MembershipRepository(Protocol):
    """Memberships of the tenant."""

    async def insert(
        self,
        membership_id: str,
        *,
        subject: str,
        relation: str,
        object_: str,
        valid_from: dt.datetime | None,
        valid_until: dt.datetime | None,
    ) -> Membership:
        """Grant a membership."""
        ...

    async def get(self, membership_id: str) -> Membership | None:
        """Return the membership, or None."""
        ...

    async def revoke(self, membership_id: str, expected_version: int) -> Membership | None:
        """Revoke an active membership at *expected_version*; None when it is not."""
        ...

    async def list(
        self,
        *,
        subject: str,
        object_: str,
        relation: str,
        state: MembershipState,
        after: str,
        limit: int,
    ) -> list[Membership]:
        """List memberships."""
        ...

    async def relations_of(
        self, user_id: str, objects: Sequence[str], relations: Sequence[str]
    ) -> set[str]:
        """Which of *relations* the user holds on *objects*, directly or via groups."""
        ...


class AccessProfileRepository(Protocol):
    """Access profiles of the tenant."""

    async def insert(self, profile: AccessProfile) -> AccessProfile:
        """Create a profile."""
        ...

    async def get(self, access_profile_id: str) -> AccessProfile | None:
        """Return the profile, or None."""
        ...

    async def list(self, *, after: str, limit: int) -> list[AccessProfile]:
        """List profiles."""
        ...


class HatRepository(Protocol):
    """Factor evidence, hat approvals and active hats of the tenant, and what hats rest on."""

    async def grounds(self, user_id: str, anchors: Sequence[str] | None) -> Grounds:
        """What the user's hats can rest on now: tenant and account state, the relations
        held now (directly and through groups), unexpired evidence, approvals in force,
        and the parents of *anchors* and their ancestors (None: of every scope)."""
        ...

    async def visible_profiles(self) -> list[AccessProfile]:
        """The tenant's access profiles and the platform templates, ordered by id."""
        ...

    async def record_evidence(
        self, evidence: Evidence, *, user_id: str, issuer: str, evidence_ref: str
    ) -> RecordedEvidence:
        """Store factor evidence (metadata and the gateway's opaque reference)."""
        ...

    async def active(self, user_id: str) -> ActiveHat | None:
        """The hat the user wears, as stored (not re-validated), or None."""
        ...

    async def wearers(self, user_ids: Sequence[str]) -> list[ActiveHat]:
        """The stored hats of those of *user_ids* wearing one."""
        ...

    async def put_on(self, hat: ActiveHat) -> ActiveHat | None:
        """Make *hat* the user's active hat; return the one it replaced, if any."""
        ...

    async def take_off(self, user_id: str) -> ActiveHat | None:
        """End the user's active hat; return it, or None when there was none."""
        ...

    async def insert_approval(self, approval: Approval) -> Approval:
        """Store a pending approval."""
        ...

    async def approval(self, approval_id: str) -> Approval | None:
        """Return the approval, or None."""
        ...

    async def decide_approval(
        self,
        approval_id: str,
        *,
        state: ApprovalState,
        decided_by: str,
        expires_at: dt.datetime | None,
        comment: str,
        expected_version: int,
    ) -> Approval | None:
        """Decide a pending approval at *expected_version*; None when it changed."""
        ...

    async def group_members(self, group_id: str) -> list[str]:
        """Every member of a group."""
        ...


class AuditRepository(Protocol):
    """The tenant's audit records (read side; writing is the unit of work's job)."""

    async def list(self, *, after_seq: int, action: str, limit: int) -> list[AuditRecord]:
        """Return records with seq > *after_seq*, ordered by seq."""
        ...

    async def all(self) -> Sequence[AuditRecord]:
        """Return every record of the tenant, ordered by seq."""
        ...

    def each(self) -> AsyncIterator[AuditRecord]:
        """Yield every record of the tenant, ordered by seq, a batch at a time."""
        ...


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """An application of the platform catalog and what it requires of a tenant."""

    application_id: str
    required: bool
    required_scopes: tuple[str, ...]  # '<kind>:<path>' templates, e.g. 'realm:files'


class DiagnosticsRepository(Protocol):
    """What onboarding diagnostics read about the tenant (and one write probe)."""

    async def catalog(self) -> list[CatalogEntry]:
        """The platform's application catalog."""
        ...

    async def bound_applications(self) -> set[str]:
        """The applications bound to the tenant."""
        ...

    async def scope_ids(self) -> set[str]:
        """Every scope of the tenant."""
        ...

    async def holders(self, relation: str) -> list[tuple[str, AccountState | None]]:
        """Users holding *relation* on the tenant itself now (directly or through a
        group), with their account state (None: no account)."""
        ...

    async def relations(self) -> set[tuple[str, str]]:
        """The (relation, object) pairs of the tenant's active memberships."""
        ...

    async def oldest_unconsumed(self) -> dt.datetime | None:
        """When the oldest outbox event no consumer has read yet was written."""
        ...

    async def write_probe(self) -> None:
        """Write a row and undo it; raise when the tenant cannot be written."""
        ...


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """One event of the tenant's outbox."""

    tenant_id: str
    seq: int
    event_type: str
    correlation_id: str
    actor_tenant_id: str
    target_tenant_id: str
    payload: Mapping[str, Any]
    created_at: dt.datetime


class OutboxRepository(Protocol):
    """The tenant's outbox events (read side)."""

    async def list(self, *, after_seq: int, limit: int) -> list[OutboxEvent]:
        """Return events with seq > *after_seq*, ordered by seq."""
        ...


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """The first result of a request id."""

    request_id: str
    operation: str
    fingerprint: str
    result: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class TenantLock:
    """What a writing unit of work learns when it takes the tenant lock.

    ``state`` is the tenant's state under the lock; ``replay`` the first result
    of the command's request id, when one was stored.
    """

    state: TenantState
    replay: IdempotencyRecord | None


class FactWindowRepository(Protocol):
    """Membership windows that opened or closed since the facts were last refreshed."""

    async def fire(self) -> int:
        """Mark the facts of the tenant's due windows for refresh at commit; return how many."""
        ...


@dataclass(frozen=True, slots=True)
class EncodedFacts:
    """One export batch as the store keeps it: the facts in the contract's wire encoding
    (``ExportFactsResponse.facts``, field 1, ready to send), how many, and the last key."""

    payload: bytes
    count: int
    last_key: tuple[str, str, str]


class FactSnapshot(Protocol):
    """An export's consistent snapshot of a tenant's facts."""

    @property
    def seq(self) -> int:
        """The tenant's change sequence as the snapshot sees it."""
        ...

    @property
    def snapshot_id(self) -> str:
        """The id by which another transaction can continue at this snapshot."""
        ...

    def batches(self, size: int) -> AsyncIterator[EncodedFacts]:
        """The facts in key order, *size* per batch (the last may be shorter)."""
        ...


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    """Changes after a position, with the head and the pruned seq as one snapshot saw them."""

    head: int
    pruned_through: int
    changes: list[FactChange]


class FactFeed(Protocol):
    """The stored facts and their change stream (read side)."""

    def export(
        self,
        tenant: TenantId,
        mode: ExportMode,
        filt: FactFilter,
        *,
        snapshot_id: str = "",
        after: tuple[str, str, str] = ("", "", ""),
    ) -> AbstractAsyncContextManager[FactSnapshot]:
        """A new snapshot, or (*snapshot_id*) the one an interrupted export used.

        Raise FailedPrecondition (EXPORT_RESTART_REQUIRED) when that one is gone.
        """
        ...

    async def changes(
        self, tenant: TenantId, mode: ExportMode, filt: FactFilter, after: Position, limit: int
    ) -> ChangeBatch:
        """At most *limit* changes after *after*, with the head, from one snapshot."""
        ...

    def generation(self, tenant: TenantId) -> int:
        """A counter that moves whenever the tenant's facts change."""
        ...

    async def wait(self, tenant: TenantId, since: int, max_wait: float) -> None:
        """Return once the counter moved past *since*, or after *max_wait* seconds."""
        ...

    async def due_windows(self, limit: int) -> list[TenantId]:
        """Tenants with membership windows to record."""
        ...

    async def prune(self, keep: dt.timedelta) -> int:
        """Drop changes older than *keep*; return the rows dropped."""
        ...


class UnitOfWork(Protocol):
    """One command = one transaction in one tenant.

    Entering it reads the facts the policy decision needs (``actor_roles``)
    inside the transaction. Leaving it without ``commit()`` rolls everything
    back. ``record()`` assigns the next gapless sequence number of the tenant
    (taking the tenant lock, once) and the audit record and the outbox event
    of the change are written in the same transaction.
    """

    @property
    def context(self) -> ChangeContext:
        """Tenant, actor and correlation of the command."""
        ...

    @property
    def actor_roles(self) -> frozenset[str]:
        """The actor's roles on tenant:platform and on the unit of work's tenant."""
        ...

    async def lock_tenant(self) -> TenantLock:
        """Take the tenant row lock (once); raise NotFound when the tenant does not exist."""
        ...

    def remember(self, record: IdempotencyRecord) -> None:
        """Store the first result of the command's request id with its changes."""
        ...

    @property
    def tenants(self) -> TenantRepository:
        """Tenants."""
        ...

    @property
    def accounts(self) -> AccountRepository:
        """Tenant accounts."""
        ...

    @property
    def platform_tenants(self) -> PlatformTenantRepository:
        """Other tenants (platform context only)."""
        ...

    @property
    def applications(self) -> ApplicationRepository:
        """Catalog and bindings."""
        ...

    @property
    def profiles(self) -> ProfileRepository:
        """Profile values of this tenant's layer."""
        ...

    @property
    def scopes(self) -> ScopeRepository:
        """Scopes."""
        ...

    @property
    def groups(self) -> GroupRepository:
        """Groups and members."""
        ...

    @property
    def memberships(self) -> MembershipRepository:
        """Memberships."""
        ...

    @property
    def access_profiles(self) -> AccessProfileRepository:
        """Access profiles."""
        ...

    @property
    def audit(self) -> AuditRepository:
        """Audit records (read)."""
        ...

    @property
    def hats(self) -> HatRepository:
        """Factor evidence, approvals and active hats."""
        ...

    @property
    def outbox(self) -> OutboxRepository:
        """Outbox events (read)."""
        ...

    @property
    def diagnostics(self) -> DiagnosticsRepository:
        """What onboarding diagnostics read."""
        ...

    @property
    def fact_windows(self) -> FactWindowRepository:
        """Membership windows due to open or close in the fact stream."""
        ...

    async def record(self, change: Change) -> RecordedChange:
        """Write the audit record and outbox event of *change*; return its seq."""
        ...

    async def commit(self) -> None:
        """Write the recorded changes and commit the transaction.

        The actor's roles are read again under the tenant lock; when they
        changed since the decision, the store retries the whole command.
        """
        ...


class Store(Protocol):
    """Runs units of work."""

    async def run(
        self,
        context: ChangeContext,
        work: Callable[[UnitOfWork], Awaitable[T]],
        *,
        read_only: bool = False,
    ) -> T:
        """Run *work* in a unit of work for ``context.tenant`` and commit.

        Serialization failures and deadlocks are retried a bounded number of
        times, then raise Aborted. Store outages raise Unavailable.
        """
        ...

    async def expired_hats(self, limit: int) -> list[tuple[TenantId, str]]:
        """(tenant, user) of active hats past their expiry, in every tenant, oldest first."""
        ...

    async def read_identity_context(
        self, actor: str, tenant: TenantId, user_id: str
    ) -> ContextSnapshot:
        """The hot path's read: *actor*'s roles (for the policy decision) and everything
        about *user_id* in *tenant*, in one statement. Raise Unavailable when the store
        is down."""
        ...
