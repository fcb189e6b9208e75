"""Small in-memory fakes of the ports (store and unit of work, authorization) for use-case tests.

They keep the contracts the use cases rely on, not the database's: one
transaction per ``run`` (committed as a whole or not at all), the tenant lock
once, a change per ``record``. Fakes live here, never in ``src/``.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from identity_context.application.authorization import AuthzRequest
from identity_context.application.ports import (
    CatalogEntry,
    IdempotencyRecord,
    OutboxEvent,
    TenantLock,
)
from identity_context.domain.audit import AuditRecord
from identity_context.domain.changes import Change, ChangeContext, Decision, RecordedChange
from identity_context.domain.directory import (
    AccessProfile,
    ApplicationBinding,
    Group,
    GroupMember,
    Membership,
    MembershipState,
    ProfileLayer,
    ProfileValue,
    Scope,
)
from identity_context.domain.errors import AlreadyExists, NotFound
from identity_context.domain.hats import (
    ActiveHat,
    Approval,
    ApprovalState,
    Evidence,
    Grounds,
    HeldRelation,
    RecordedEvidence,
)
from identity_context.domain.identifiers import PLATFORM_TENANT, ScopeKind, TenantId
from identity_context.domain.identity_context import ContextSnapshot, HeldMembership
from identity_context.domain.roles import PLATFORM_ROLES, TENANT_ROLES
from identity_context.domain.tenancy import (
    AccountState,
    Tenant,
    TenantAccount,
    TenantPlane,
    TenantState,
)

T = TypeVar("T")
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
CATALOG = {"app:mail": "Mail", "app:drive": "Drive"}


@dataclass
class State:
    """Everything the fake store holds, per tenant where the schema is per tenant."""

    tenants: dict[str, Tenant] = field(default_factory=dict)
    accounts: dict[tuple[str, str], TenantAccount] = field(default_factory=dict)
    bindings: dict[tuple[str, str], ApplicationBinding] = field(default_factory=dict)
    profiles: dict[tuple[str, str, str], ProfileValue] = field(default_factory=dict)
    scopes: dict[tuple[str, str], Scope] = field(default_factory=dict)
    groups: dict[tuple[str, str], Group] = field(default_factory=dict)
    members: dict[tuple[str, str, str], GroupMember] = field(default_factory=dict)
    memberships: dict[tuple[str, str], Membership] = field(default_factory=dict)
    access_profiles: dict[tuple[str, str], AccessProfile] = field(default_factory=dict)
    changes: list[tuple[str, Change]] = field(default_factory=list)
    evidence: dict[tuple[str, str], RecordedEvidence] = field(default_factory=dict)
    approvals: dict[tuple[str, str], Approval] = field(default_factory=dict)
    active: dict[tuple[str, str], ActiveHat] = field(default_factory=dict)
    results: dict[tuple[str, str], IdempotencyRecord] = field(default_factory=dict)

    def add_tenant(self, tenant: TenantId, state: TenantState = TenantState.ACTIVE) -> None:
        plane = TenantPlane.PLATFORM if tenant.is_platform else TenantPlane.TENANT
        self.tenants[str(tenant)] = Tenant(tenant, str(tenant), plane, state, 0, 1, NOW, NOW)

    def add_account(self, tenant: TenantId, user: str) -> None:
        self.accounts[(str(tenant), user)] = TenantAccount(
            tenant, user, user, AccountState.ACTIVE, 1, NOW, NOW
        )

    def grant(self, tenant: TenantId, subject: str, relation: str, obj: str = "") -> None:
        key = (str(tenant), f"m{len(self.memberships):04d}")
        self.memberships[key] = Membership(
            key[1], subject, relation, obj or str(tenant), MembershipState.ACTIVE,
            None, None, 1, NOW, None,
        )  # fmt: skip

    def holds(self, tenant: str, user: str, relations: Sequence[str]) -> set[str]:
        groups = {g for (t, g, u) in self.members if t == tenant and u == user}
        return {
            m.relation
            for (t, _), m in self.memberships.items()
            if t == tenant
            and m.state is MembershipState.ACTIVE
            and m.object == tenant
            and m.relation in relations
            and (m.subject == user or m.subject in groups)
        }


class _Repo:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.s = uow.state
        self.t = str(uow.context.tenant)
        self.tenant = uow.context.tenant


def _page(items: list[T], key: Callable[[T], Any], after: Any, limit: int) -> list[T]:
    return sorted((i for i in items if key(i) > after), key=key)[:limit]


class Tenants(_Repo):
    async def get(self) -> Tenant | None:
        return self.s.tenants.get(self.t)

    async def platform_create(self, tenant_id: TenantId, display_name: str) -> Tenant:
        if str(tenant_id) in self.s.tenants:
            raise AlreadyExists("a tenant with this id already exists (tenant_id)")
        self.s.add_tenant(tenant_id)
        return self.s.tenants[str(tenant_id)]

    async def platform_list(self, *, after: str, state: Any, limit: int) -> list[Tenant]:
        found = [t for t in self.s.tenants.values() if state is None or t.state is state]
        return _page(found, lambda t: str(t.tenant_id), after, limit)


class PlatformTenants(_Repo):
    async def get(self, tenant_id: TenantId) -> Tenant | None:
        return self.s.tenants.get(str(tenant_id))

    async def set_state(self, tenant_id: TenantId, state: TenantState, version: Any) -> Any:
        current = self.s.tenants.get(str(tenant_id))
        if current is None or (version is not None and current.version != version):
            return None
        changed = dataclasses.replace(current, state=state, version=current.version + 1)
        self.s.tenants[str(tenant_id)] = changed
        return changed


class Accounts(_Repo):
    async def get(self, user_id: str) -> TenantAccount | None:
        return self.s.accounts.get((self.t, user_id))

    async def insert(self, user_id: str, display_name: str, state: AccountState) -> TenantAccount:
        if (self.t, user_id) in self.s.accounts:
            raise AlreadyExists("an account of this user in the tenant already exists")
        account = TenantAccount(self.tenant, user_id, display_name, state, 1, NOW, NOW)
        self.s.accounts[(self.t, user_id)] = account
        return account

    async def update(self, user_id: str, *, display_name: Any = None, state: Any = None) -> Any:
        current = self.s.accounts[(self.t, user_id)]
        changed = dataclasses.replace(
            current,
            display_name=current.display_name if display_name is None else display_name,
            state=current.state if state is None else state,
            version=current.version + 1,
        )
        self.s.accounts[(self.t, user_id)] = changed
        return changed

    async def list(self, *, after: str, state: Any, limit: int) -> list[TenantAccount]:
        found = [
            a
            for (t, _), a in self.s.accounts.items()
            if t == self.t and (state is None or a.state is state)
        ]
        return _page(found, lambda a: a.user_id, after, limit)


class Applications(_Repo):
    async def catalog_entry(self, application_id: str) -> Mapping[str, Any] | None:
        name = CATALOG.get(application_id)
        return {"application_id": application_id, "display_name": name} if name else None

    async def bind(self, application_id: str) -> ApplicationBinding:
        if (self.t, application_id) in self.s.bindings:
            raise AlreadyExists("this application binding already exists")
        binding = ApplicationBinding(
            self.tenant, application_id, CATALOG[application_id], False, NOW
        )
        self.s.bindings[(self.t, application_id)] = binding
        return binding

    async def list(self, *, after: str, limit: int, catalog: bool) -> list[ApplicationBinding]:
        found = (
            [ApplicationBinding(self.tenant, a, n, False, NOW) for a, n in CATALOG.items()]
            if catalog
            else [b for (t, _), b in self.s.bindings.items() if t == self.t]
        )
        return _page(found, lambda b: b.application_id, after, limit)


class Profiles(_Repo):
    def _layer(self, tenant: str) -> ProfileLayer:
        return ProfileLayer.GLOBAL if tenant == str(PLATFORM_TENANT) else ProfileLayer.TENANT

    async def values(self, user_id: str) -> list[ProfileValue]:
        found = [v for (t, u, _), v in self.s.profiles.items() if t == self.t and u == user_id]
        return sorted(found, key=lambda v: v.key)

    async def resolution_layers(self, user_id: str) -> tuple[list[Any], list[Any]]:
        platform = str(PLATFORM_TENANT)
        pick = lambda t: sorted(  # noqa: E731
            (v for (tt, u, _), v in self.s.profiles.items() if tt == t and u == user_id),
            key=lambda v: v.key,
        )
        return pick(platform), ([] if self.t == platform else pick(self.t))

    async def version(self, user_id: str) -> str:
        return str(len(await self.values(user_id)))

    async def upsert(self, user_id: str, values: Mapping[str, tuple[str, bool]]) -> None:
        for key, (value, sensitive) in values.items():
            self.s.profiles[(self.t, user_id, key)] = ProfileValue(
                user_id, key, value, self._layer(self.t), sensitive, NOW
            )

    async def remove(self, user_id: str, keys: Sequence[str]) -> int:
        gone = [k for k in keys if self.s.profiles.pop((self.t, user_id, k), None)]
        return len(gone)


class Scopes(_Repo):
    async def get(self, scope_id: str) -> Scope | None:
        return self.s.scopes.get((self.t, scope_id))

    async def insert(self, scope_id: str, kind: ScopeKind, parent: Any, display_name: str) -> Scope:
        if (self.t, scope_id) in self.s.scopes:
            raise AlreadyExists("a scope with this id already exists (scope_id)")
        if parent is not None and (self.t, parent) not in self.s.scopes:
            raise NotFound("parent_scope_id: the parent scope does not exist")
        scope = Scope(scope_id, kind, parent or self.t, display_name, NOW)
        self.s.scopes[(self.t, scope_id)] = scope
        return scope

    async def list(self, *, after: str, parent: Any, kind: Any, limit: int) -> list[Scope]:
        found = [
            s
            for (t, _), s in self.s.scopes.items()
            if t == self.t
            and (parent is None or s.parent_scope_id == parent)
            and (kind is None or s.kind is kind)
        ]
        return _page(found, lambda s: s.scope_id, after, limit)


class Groups(_Repo):
    async def insert(self, group_id: str, display_name: str) -> Group:
        if (self.t, group_id) in self.s.groups:
            raise AlreadyExists("a group with this id already exists (group_id)")
        self.s.groups[(self.t, group_id)] = Group(group_id, display_name, 0, NOW)
        return self.s.groups[(self.t, group_id)]

    async def exists(self, group_id: str) -> bool:
        return (self.t, group_id) in self.s.groups

    async def list(self, *, after: str, limit: int) -> list[Group]:
        found = [g for (t, _), g in self.s.groups.items() if t == self.t]
        return _page(found, lambda g: g.group_id, after, limit)

    async def add_member(self, group_id: str, user_id: str) -> GroupMember:
        if (self.t, user_id) not in self.s.accounts or (self.t, group_id) not in self.s.groups:
            raise NotFound("user_id: the user has no account in this tenant")
        member = GroupMember(group_id, user_id, NOW)
        self.s.members[(self.t, group_id, user_id)] = member
        return member

    async def remove_member(self, group_id: str, user_id: str) -> bool:
        return self.s.members.pop((self.t, group_id, user_id), None) is not None

    async def members(self, group_id: str, *, after: str, limit: int) -> list[GroupMember]:
        found = [m for (t, g, _), m in self.s.members.items() if t == self.t and g == group_id]
        return _page(found, lambda m: m.user_id, after, limit)


class Memberships(_Repo):
    async def insert(self, membership_id: str, *, subject: str, relation: str, object_: str,
                     valid_from: Any, valid_until: Any) -> Membership:  # fmt: skip
        if subject.startswith("user:") and (self.t, subject) not in self.s.accounts:
            raise NotFound("subject: the user has no account in this tenant")
        created = Membership(
            membership_id, subject, relation, object_, MembershipState.ACTIVE,
            valid_from, valid_until, 1, NOW, None,
        )  # fmt: skip
        self.s.memberships[(self.t, membership_id)] = created
        return created

    async def get(self, membership_id: str) -> Membership | None:
        return self.s.memberships.get((self.t, membership_id))

    async def revoke(self, membership_id: str, expected_version: int) -> Membership | None:
        current = self.s.memberships.get((self.t, membership_id))
        if current is None or current.version != expected_version:
            return None
        revoked = dataclasses.replace(
            current, state=MembershipState.REVOKED, version=current.version + 1, revoked_at=NOW
        )
        self.s.memberships[(self.t, membership_id)] = revoked
        return revoked

    async def list(self, *, subject: str, object_: str, relation: str, state: Any, after: str,
                   limit: int) -> list[Membership]:  # fmt: skip
        found = [
            m
            for (t, _), m in self.s.memberships.items()
            if t == self.t
            and m.state is state
            and (not subject or m.subject == subject)
            and (not object_ or m.object == object_)
            and (not relation or m.relation == relation)
        ]
        return _page(found, lambda m: m.membership_id, after, limit)

    async def relations_of(self, user_id: str, objects: Any, relations: Any) -> set[str]:
        return self.s.holds(self.t, user_id, relations)


class AccessProfiles(_Repo):
    async def insert(self, profile: AccessProfile) -> AccessProfile:
        if (self.t, profile.access_profile_id) in self.s.access_profiles:
            raise AlreadyExists("an access profile with this id already exists")
        created = dataclasses.replace(profile, created_at=NOW)
        self.s.access_profiles[(self.t, profile.access_profile_id)] = created
        return created

    async def get(self, access_profile_id: str) -> AccessProfile | None:
        return self.s.access_profiles.get(
            (self.t, access_profile_id)
        ) or self.s.access_profiles.get((str(PLATFORM_TENANT), access_profile_id))

    async def list(self, *, after: str, limit: int) -> list[AccessProfile]:
        found = [p for (t, _), p in self.s.access_profiles.items() if t == self.t]
        return _page(found, lambda p: p.access_profile_id, after, limit)


class Audit(_Repo):
    def _records(self) -> list[AuditRecord]:
        return [
            AuditRecord(
                self.t,
                seq,
                NOW,
                "a",
                "t",
                self.t,
                c.action,
                "allow",
                c.decision.policy_ids,
                "c",
                "",
                dict(c.summary),
                c.decision.break_glass,
                "",
                "",
            )  # fmt: skip
            for seq, (t, c) in enumerate((x for x in self.s.changes if x[0] == self.t), start=1)
        ]

    async def list(self, *, after_seq: int, action: str, limit: int) -> list[AuditRecord]:
        found = [
            r for r in self._records() if r.seq > after_seq and (not action or r.action == action)
        ]
        return found[:limit]

    async def all(self) -> list[AuditRecord]:
        return self._records()

    async def each(self) -> Any:
        # The fake keeps no hash chain (the integration tests prove that part):
        # its tenants stay at seq 0 and their chains empty.
        for record in ():
            yield record


class Diagnostics(_Repo):
    """Reads for the diagnostics checks (the fake's audit records are not a real chain)."""

    async def catalog(self) -> list[CatalogEntry]:
        return [CatalogEntry(a, a == "app:mail", ()) for a in sorted(CATALOG)]

    async def bound_applications(self) -> set[str]:
        return {a for (t, a) in self.s.bindings if t == self.t}

    async def scope_ids(self) -> set[str]:
        return {s for (t, s) in self.s.scopes if t == self.t}

    async def holders(self, relation: str) -> list[tuple[str, Any]]:
        users = {
            m.subject
            for (t, _), m in self.s.memberships.items()
            if t == self.t and m.relation == relation and m.state is MembershipState.ACTIVE
        }
        return [
            (u, getattr(self.s.accounts.get((self.t, u)), "state", None)) for u in sorted(users)
        ]

    async def relations(self) -> set[tuple[str, str]]:
        return {(m.relation, m.object) for (t, _), m in self.s.memberships.items() if t == self.t}

    async def oldest_unconsumed(self) -> dt.datetime | None:
        return None

    async def write_probe(self) -> None:
        return None


class Hats(_Repo):
    """Evidence, approvals and active hats; grounds from the fake's memberships (no windows)."""

    def _held(self, user: str) -> list[HeldRelation]:
        groups = {g for (t, g, u) in self.s.members if t == self.t and u == user}
        return [
            HeldRelation(m.relation, m.object, "" if m.subject == user else m.subject)
            for (t, _), m in self.s.memberships.items()
            if t == self.t
            and m.state is MembershipState.ACTIVE
            and (m.subject == user or m.subject in groups)
        ]

    async def grounds(self, user_id: str, anchors: Sequence[str] | None) -> Grounds:
        tenant = self.s.tenants.get(self.t)
        account = self.s.accounts.get((self.t, user_id))
        return Grounds(
            tenant=self.tenant,
            tenant_state=tenant.state if tenant else TenantState.ARCHIVED,
            account_state=account.state if account else None,
            held=self._held(user_id),
            parents={
                sid: scope.parent_scope_id
                for (t, sid), scope in self.s.scopes.items()
                if t == self.t
            },
            evidence=[
                r.evidence for (t, _), r in sorted(self.s.evidence.items())
                if t == self.t and r.user_id == user_id and r.evidence.expires_at > NOW
            ],
            approvals=[
                a for (t, _), a in sorted(self.s.approvals.items())
                if t == self.t and a.user_id == user_id
            ],
        )  # fmt: skip

    async def visible_profiles(self) -> list[AccessProfile]:
        found = [
            p for (t, _), p in self.s.access_profiles.items() if t in (self.t, str(PLATFORM_TENANT))
        ]
        return sorted(found, key=lambda p: p.access_profile_id)

    async def record_evidence(
        self, evidence: Evidence, *, user_id: str, issuer: str, evidence_ref: str
    ) -> RecordedEvidence:
        if (self.t, user_id) not in self.s.accounts:
            raise NotFound("user_id: the user has no account in this tenant")
        recorded = RecordedEvidence(evidence, user_id, issuer, evidence_ref, NOW)
        self.s.evidence[(self.t, evidence.evidence_id)] = recorded
        return recorded

    async def active(self, user_id: str) -> ActiveHat | None:
        return self.s.active.get((self.t, user_id))

    async def wearers(self, user_ids: Sequence[str]) -> list[ActiveHat]:
        return [
            self.s.active[(self.t, u)] for u in sorted(user_ids) if (self.t, u) in self.s.active
        ]

    async def put_on(self, hat: ActiveHat) -> ActiveHat | None:
        previous = self.s.active.get((self.t, hat.user_id))
        self.s.active[(self.t, hat.user_id)] = hat
        return previous

    async def take_off(self, user_id: str) -> ActiveHat | None:
        return self.s.active.pop((self.t, user_id), None)

    async def insert_approval(self, approval: Approval) -> Approval:
        self.s.approvals[(self.t, approval.approval_id)] = approval
        return approval

    async def approval(self, approval_id: str) -> Approval | None:
        return self.s.approvals.get((self.t, approval_id))

    async def decide_approval(
        self, approval_id: str, *, state: ApprovalState, decided_by: str,
        expires_at: dt.datetime | None, comment: str, expected_version: int,
    ) -> Approval | None:  # fmt: skip
        current = self.s.approvals.get((self.t, approval_id))
        if current is None or current.version != expected_version:
            return None
        decided = dataclasses.replace(
            current, state=state, decided_by=decided_by, decided_at=NOW,
            expires_at=expires_at, version=current.version + 1,
        )  # fmt: skip
        self.s.approvals[(self.t, approval_id)] = decided
        return decided

    async def group_members(self, group_id: str) -> list[str]:
        return sorted(u for (t, g, u) in self.s.members if t == self.t and g == group_id)


class Outbox(_Repo):
    async def list(self, *, after_seq: int, limit: int) -> list[OutboxEvent]:
        return []


class FakeUnitOfWork:
    """One transaction over a copy of the state; ``commit`` makes the copy the state."""

    def __init__(self, store: FakeStore, context: ChangeContext, read_only: bool) -> None:
        self.context = context
        self.state = copy.deepcopy(store.state)
        self.read_only = read_only
        self.locked: TenantLock | None = None
        platform = self.state.holds(str(PLATFORM_TENANT), context.actor, PLATFORM_ROLES)
        here = (
            set()
            if context.tenant.is_platform
            else self.state.holds(str(context.tenant), context.actor, TENANT_ROLES)
        )
        self.actor_roles = frozenset(platform | here)
        self.tenants = Tenants(self)
        self.platform_tenants = PlatformTenants(self)
        self.accounts = Accounts(self)
        self.applications = Applications(self)
        self.profiles = Profiles(self)
        self.scopes = Scopes(self)
        self.groups = Groups(self)
        self.memberships = Memberships(self)
        self.access_profiles = AccessProfiles(self)
        self.audit = Audit(self)
        self.outbox = Outbox(self)
        self.diagnostics = Diagnostics(self)
        self.hats = Hats(self)

    async def lock_tenant(self) -> TenantLock:
        assert not self.read_only, "a read-only unit of work took the tenant lock"
        if self.locked is None:
            tenant = self.state.tenants.get(str(self.context.tenant))
            if tenant is None:
                raise NotFound(f"{self.context.tenant} does not exist")
            replay = self.state.results.get((str(self.context.tenant), self.context.request_id))
            self.locked = TenantLock(tenant.state, replay)
        return self.locked

    def remember(self, record: IdempotencyRecord) -> None:
        self.state.results[(str(self.context.tenant), record.request_id)] = record

    async def record(self, change: Change) -> RecordedChange:
        await self.lock_tenant()
        self.state.changes.append((str(self.context.tenant), change))
        return RecordedChange(len(self.state.changes), NOW)


class FakeStore:
    """The Store port over in-memory state; ``units`` counts the units of work run."""

    def __init__(self) -> None:
        self.state = State()
        self.units = 0

    async def run(
        self,
        context: ChangeContext,
        work: Callable[[Any], Awaitable[T]],
        *,
        read_only: bool = False,
    ) -> T:
        self.units += 1
        uow = FakeUnitOfWork(self, context, read_only)
        result = await work(uow)
        self.state = uow.state  # commit
        return result

    async def expired_hats(self, limit: int) -> list[tuple[TenantId, str]]:
        found = [
            (TenantId(t.removeprefix("tenant:")), u)
            for (t, u), hat in sorted(self.state.active.items())
            if hat.expires_at is not None and hat.expires_at <= NOW
        ]
        return found[:limit]

    async def read_identity_context(
        self, actor: str, tenant: TenantId, user_id: str
    ) -> ContextSnapshot:
        """The hot path's snapshot, from the state (roles as a unit of work reads them)."""
        self.units += 1
        uow = FakeUnitOfWork(self, ChangeContext(tenant, actor, tenant, "c"), True)
        grounds = await uow.hats.grounds(user_id, None)
        found = self.state.tenants.get(str(tenant))
        active = self.state.active.get((str(tenant), user_id))
        profile = await uow.access_profiles.get(active.hat.access_profile_id) if active else None
        values = [
            (t == str(PLATFORM_TENANT), v.key, v.value, v.sensitive)
            for (t, u, _), v in sorted(self.state.profiles.items())
            if u == user_id and t in (str(tenant), str(PLATFORM_TENANT))
        ]
        return ContextSnapshot(
            roles=uow.actor_roles,
            now=NOW,
            tenant=tenant,
            tenant_state=found.state if found else None,
            seq=len(self.state.changes),
            user_id=user_id,
            account_state=grounds.account_state,
            values=values,
            groups=tuple(sorted(
                g for (t, g, u) in self.state.members if t == str(tenant) and u == user_id
            )),
            memberships=[
                HeldMembership(f"m-{h.relation}-{h.object}", h.via or user_id, h.relation,
                               h.object, h.via, None, None, NOW, 1)
                for h in grounds.held
            ],
            active=active,
            definition=profile.definition if profile else None,
            parents=grounds.parents,
            evidence=grounds.evidence,
        )  # fmt: skip


class FixedClock:
    """The Clock port, stopped at NOW (the fakes' evidence and approvals are judged then)."""

    def now(self) -> dt.datetime:
        return NOW


class FakeAuthorization:
    """The authorization port: allows what *rule* says, records every question."""

    def __init__(self, rule: Callable[[AuthzRequest], bool] | None = None) -> None:
        self.rule = rule or (lambda request: True)
        self.asked: list[AuthzRequest] = []

    async def evaluate(self, request: AuthzRequest, *, timeout_s: float) -> Decision:
        self.asked.append(request)
        allowed = self.rule(request)
        return Decision(allowed, ("fake",) if allowed else ())

    async def evaluate_batch(
        self, requests: Sequence[AuthzRequest], *, timeout_s: float
    ) -> list[Decision]:
        return [await self.evaluate(r, timeout_s=timeout_s) for r in requests]
