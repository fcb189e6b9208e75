"""Repositories of the tenant directory: applications, profiles, scopes, groups, memberships."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from psycopg.types.json import Jsonb

from identity_context.adapters.postgres.repositories import Row, Session, tenant_from_row
from identity_context.application.ports import CatalogEntry
from identity_context.domain.directory import (
    AccessProfile,
    AccessProfileDefinition,
    ApplicationBinding,
    Group,
    GroupMember,
    Membership,
    MembershipState,
    ProfileLayer,
    ProfileValue,
    Scope,
)
from identity_context.domain.identifiers import ScopeKind, TenantId
from identity_context.domain.tenancy import AccountState, Tenant, TenantState

__all__ = [
    "PgAccessProfileRepository",
    "access_profile_of",
    "PgApplicationRepository",
    "PgDiagnosticsRepository",
    "PgGroupRepository",
    "PgMembershipRepository",
    "PgPlatformTenants",
    "PgProfileRepository",
    "PgScopeRepository",
]


class _Repository:
    def __init__(self, db: Session, tenant: TenantId) -> None:
        self._db = db
        self._tenant = tenant
        self._tid = str(tenant)


class PgPlatformTenants(_Repository):
    """Other tenants' rows through the platform_* definer functions (platform context)."""

    async def get(self, tenant_id: TenantId) -> Tenant | None:
        """Return any tenant, or None."""
        row = await self._db.fetch_one("SELECT * FROM platform_get_tenant(%s)", (str(tenant_id),))
        return tenant_from_row(row) if row else None

    async def set_state(
        self, tenant_id: TenantId, state: TenantState, expected_version: int | None
    ) -> Tenant | None:
        """Change a tenant's state; None when absent or the version differs."""
        row = await self._db.fetch_one(
            "SELECT * FROM platform_set_tenant_state(%s, %s, %s)",
            (str(tenant_id), state.value, expected_version),
        )
        return tenant_from_row(row) if row else None


def _binding(row: Row, tenant: TenantId) -> ApplicationBinding:
    return ApplicationBinding(
        tenant, row["application_id"], row["display_name"], bool(row["required"]), row["created_at"]
    )


class PgApplicationRepository(_Repository):
    """The catalog (platform-wide) and this tenant's bindings."""

    async def catalog_entry(self, application_id: str) -> Row | None:
        """Return the catalog row of *application_id*, or None."""
        return await self._db.fetch_one(
            "SELECT * FROM applications WHERE application_id = %s", (application_id,)
        )

    async def bind(self, application_id: str) -> ApplicationBinding:
        """Bind a catalog application to this tenant. Raise AlreadyExists / NotFound."""
        await self._db.execute(
            "INSERT INTO tenant_applications (tenant_id, application_id) VALUES (%s, %s)",
            (self._tid, application_id),
        )
        row = await self.catalog_entry(application_id)
        assert row is not None
        return ApplicationBinding(
            self._tenant,
            application_id,
            row["display_name"],
            bool(row["required"]),
            dt.datetime.now(dt.UTC),
        )

    async def list(self, *, after: str, limit: int, catalog: bool) -> list[ApplicationBinding]:
        """List this tenant's bindings, or the whole catalog when *catalog*."""
        if catalog:
            rows = await self._db.fetch_all(
                "SELECT * FROM applications WHERE application_id > %s"
                " ORDER BY application_id LIMIT %s",
                (after, limit),
            )
        else:
            rows = await self._db.fetch_all(
                "SELECT b.application_id, a.display_name, a.required, b.created_at"
                " FROM tenant_applications b JOIN applications a USING (application_id)"
                " WHERE b.tenant_id = %s AND b.application_id > %s"
                " ORDER BY b.application_id LIMIT %s",
                (self._tid, after, limit),
            )
        return [_binding(row, self._tenant) for row in rows]


def _profile_value(row: Row, layer: ProfileLayer) -> ProfileValue:
    return ProfileValue(
        row["user_id"], row["key"], row["value"], layer, bool(row["sensitive"]), row["updated_at"]
    )


class PgProfileRepository(_Repository):
    """Profile values of this tenant's layer (the GLOBAL layer is tenant:platform's)."""

    @property
    def _layer(self) -> ProfileLayer:
        return ProfileLayer.GLOBAL if self._tenant.is_platform else ProfileLayer.TENANT

    async def values(self, user_id: str) -> list[ProfileValue]:
        """Return the user's values in this layer, ordered by key."""
        rows = await self._db.fetch_all(
            "SELECT * FROM profile_values WHERE tenant_id = %s AND user_id = %s ORDER BY key",
            (self._tid, user_id),
        )
        return [_profile_value(row, self._layer) for row in rows]

    async def resolution_layers(
        self, user_id: str
    ) -> tuple[list[ProfileValue], list[ProfileValue]]:
        """Return the user's GLOBAL values and this tenant's values, each ordered by key.

        For tenant:platform itself every value is GLOBAL and the tenant layer is empty.
        """
        rows = await self._db.fetch_all(
            "SELECT * FROM profile_values WHERE tenant_id IN (%s, 'tenant:platform')"
            " AND user_id = %s ORDER BY key",
            (self._tid, user_id),
        )
        global_values = [
            _profile_value(row, ProfileLayer.GLOBAL)
            for row in rows
            if row["tenant_id"] == "tenant:platform"
        ]
        tenant_values = [
            _profile_value(row, ProfileLayer.TENANT)
            for row in rows
            if row["tenant_id"] != "tenant:platform"
        ]
        return global_values, tenant_values

    async def version(self, user_id: str) -> str:
        """Return an etag over the user's values in this layer."""
        row = await self._db.fetch_one(
            "SELECT count(*) AS n, coalesce(max(updated_at), 'epoch'::timestamptz) AS latest"
            " FROM profile_values WHERE tenant_id = %s AND user_id = %s",
            (self._tid, user_id),
        )
        assert row is not None
        return f"{row['n']}-{int(row['latest'].timestamp() * 1_000_000)}"

    async def upsert(self, user_id: str, values: Mapping[str, tuple[str, bool]]) -> None:
        """Create or replace values: key -> (value, sensitive)."""
        await self._db.execute(
            "INSERT INTO users (user_id) VALUES (%s) ON CONFLICT (user_id) DO NOTHING", (user_id,)
        )
        for key, (value, sensitive) in values.items():
            await self._db.execute(
                "INSERT INTO profile_values (tenant_id, user_id, key, value, sensitive)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (tenant_id, user_id, key) DO UPDATE"
                " SET value = excluded.value, sensitive = excluded.sensitive,"
                " updated_at = clock_timestamp()",
                (self._tid, user_id, key, value, sensitive),
            )

    async def remove(self, user_id: str, keys: Sequence[str]) -> int:
        """Remove keys; return how many existed."""
        result = await self._db.execute(
            "DELETE FROM profile_values WHERE tenant_id = %s AND user_id = %s AND key = ANY(%s)",
            (self._tid, user_id, list(keys)),
        )
        return result.rowcount


def _scope(row: Row, tenant: TenantId) -> Scope:
    return Scope(
        row["scope_id"],
        ScopeKind(row["kind"]),
        row["parent_scope_id"] or str(tenant),
        row["display_name"],
        row["created_at"],
    )


class PgScopeRepository(_Repository):
    """Realms, service areas and assets of this tenant."""

    async def get(self, scope_id: str) -> Scope | None:
        """Return the scope, or None."""
        row = await self._db.fetch_one(
            "SELECT * FROM scopes WHERE tenant_id = %s AND scope_id = %s",
            (self._tid, scope_id),
        )
        return _scope(row, self._tenant) if row else None

    async def insert(
        self, scope_id: str, kind: ScopeKind, parent: str | None, display_name: str
    ) -> Scope:
        """Create the scope. Raise AlreadyExists / NotFound (parent)."""
        row = await self._db.fetch_one(
            "INSERT INTO scopes (tenant_id, scope_id, kind, parent_scope_id, display_name)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING *",
            (self._tid, scope_id, kind.value, parent, display_name),
        )
        assert row is not None
        return _scope(row, self._tenant)

    async def list(
        self, *, after: str, parent: str | None, kind: ScopeKind | None, limit: int
    ) -> list[Scope]:
        """List scopes ordered by id, optionally children of *parent* or of one kind."""
        root = parent == self._tid
        rows = await self._db.fetch_all(
            "SELECT * FROM scopes WHERE tenant_id = %s AND scope_id > %s"
            " AND (%s::text IS NULL OR (%s AND parent_scope_id IS NULL)"
            "      OR parent_scope_id = %s)"
            " AND (%s::text IS NULL OR kind = %s) ORDER BY scope_id LIMIT %s",
            (
                self._tid,
                after,
                parent,
                root,
                parent,
                kind and kind.value,
                kind and kind.value,
                limit,
            ),
        )
        return [_scope(row, self._tenant) for row in rows]


class PgGroupRepository(_Repository):
    """Groups and group members of this tenant."""

    async def insert(self, group_id: str, display_name: str) -> Group:
        """Create the group. Raise AlreadyExists."""
        row = await self._db.fetch_one(
            "INSERT INTO groups (tenant_id, group_id, display_name) VALUES (%s, %s, %s)"
            " RETURNING *",
            (self._tid, group_id, display_name),
        )
        assert row is not None
        return Group(row["group_id"], row["display_name"], 0, row["created_at"])

    async def exists(self, group_id: str) -> bool:
        """True when the group exists in this tenant."""
        return (
            await self._db.fetch_one(
                "SELECT 1 FROM groups WHERE tenant_id = %s AND group_id = %s",
                (self._tid, group_id),
            )
            is not None
        )

    async def list(self, *, after: str, limit: int) -> list[Group]:
        """List groups ordered by id, with member counts."""
        rows = await self._db.fetch_all(
            "SELECT g.*, (SELECT count(*) FROM group_members m WHERE m.tenant_id = g.tenant_id"
            " AND m.group_id = g.group_id) AS member_count FROM groups g"
            " WHERE g.tenant_id = %s AND g.group_id > %s ORDER BY g.group_id LIMIT %s",
            (self._tid, after, limit),
        )
        return [
            Group(r["group_id"], r["display_name"], int(r["member_count"]), r["created_at"])
            for r in rows
        ]

    async def add_member(self, group_id: str, user_id: str) -> GroupMember:
        """Add a user. Raise AlreadyExists / NotFound (group or account)."""
        row = await self._db.fetch_one(
            "INSERT INTO group_members (tenant_id, group_id, user_id) VALUES (%s, %s, %s)"
            " RETURNING *",
            (self._tid, group_id, user_id),
        )
        assert row is not None
        return GroupMember(row["group_id"], row["user_id"], row["created_at"])

    async def remove_member(self, group_id: str, user_id: str) -> bool:
        """Remove a user; False when not a member."""
        result = await self._db.execute(
            "DELETE FROM group_members WHERE tenant_id = %s AND group_id = %s AND user_id = %s",
            (self._tid, group_id, user_id),
        )
        return result.rowcount > 0

    async def members(self, group_id: str, *, after: str, limit: int) -> Sequence[GroupMember]:
        """List members of a group ordered by user id."""
        rows = await self._db.fetch_all(
            "SELECT * FROM group_members WHERE tenant_id = %s AND group_id = %s AND user_id > %s"
            " ORDER BY user_id LIMIT %s",
            (self._tid, group_id, after, limit),
        )
        return [GroupMember(r["group_id"], r["user_id"], r["created_at"]) for r in rows]


_MEMBERSHIP_STATES = {state.value: state for state in MembershipState}
# The columns of a Membership, in the order _membership_of() reads them.
_MEMBERSHIP_COLUMNS = (
    "membership_id, coalesce(subject_user_id, subject_group_id, subject_service_id), relation,"
    " coalesce(object_scope_id, tenant_id), state, valid_from, valid_until, version,"
    " created_at, revoked_at"
)


def _membership(row: Row, tenant: TenantId) -> Membership:
    return Membership(
        membership_id=row["membership_id"],
        subject=row["subject_user_id"] or row["subject_group_id"] or row["subject_service_id"],
        relation=row["relation"],
        object=row["object_scope_id"] or str(tenant),
        state=MembershipState(row["state"]),
        valid_from=row["valid_from"],
        valid_until=row["valid_until"],
        version=int(row["version"]),
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


def _membership_of(row: tuple[Any, ...]) -> Membership:
    """A Membership from a tuple row of _MEMBERSHIP_COLUMNS (lists: no dict per row)."""
    membership_id, subject, relation, object_, state, since, until, version, created, ended = row
    return Membership(
        membership_id,
        subject,
        relation,
        object_,
        _MEMBERSHIP_STATES[state],
        since,
        until,
        version,
        created,
        ended,
    )


class PgMembershipRepository(_Repository):
    """Memberships of this tenant."""

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
        """Grant. Raise AlreadyExists (active duplicate) / NotFound (subject or object)."""
        kind = subject.split(":", 1)[0]
        row = await self._db.fetch_one(
            "INSERT INTO memberships (tenant_id, membership_id, subject_user_id,"
            " subject_group_id, subject_service_id, relation, object_scope_id, valid_from,"
            " valid_until) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING *",
            (
                self._tid,
                membership_id,
                subject if kind == "user" else None,
                subject if kind == "group" else None,
                subject if kind == "service" else None,
                relation,
                None if object_ == self._tid else object_,
                valid_from,
                valid_until,
            ),
        )
        assert row is not None
        return _membership(row, self._tenant)

    async def get(self, membership_id: str) -> Membership | None:
        """Return the membership, or None."""
        row = await self._db.fetch_one(
            "SELECT * FROM memberships WHERE tenant_id = %s AND membership_id = %s",
            (self._tid, membership_id),
        )
        return _membership(row, self._tenant) if row else None

    async def revoke(self, membership_id: str, expected_version: int) -> Membership | None:
        """Mark an active membership revoked and bump its version.

        Return None when it is absent, not active or not at *expected_version*.
        """
        row = await self._db.fetch_one(
            "UPDATE memberships SET state = 'revoked', revoked_at = now(),"
            " version = version + 1 WHERE tenant_id = %s AND membership_id = %s"
            " AND state = 'active' AND version = %s RETURNING *",
            (self._tid, membership_id, expected_version),
        )
        return _membership(row, self._tenant) if row else None

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
        """List memberships ordered by id, filtered (empty filter = any)."""
        object_scope = None if object_ in ("", self._tid) else object_
        rows = await self._db.fetch_tuples(
            f"SELECT {_MEMBERSHIP_COLUMNS} FROM memberships"  # noqa: S608 - constant columns
            " WHERE tenant_id = %s AND membership_id > %s"
            " AND state = %s"
            " AND (%s = '' OR coalesce(subject_user_id, subject_group_id, subject_service_id) = %s)"
            " AND (%s = '' OR relation = %s)"
            " AND (%s = '' OR object_scope_id IS NOT DISTINCT FROM %s)"
            " ORDER BY membership_id LIMIT %s",
            (
                self._tid,
                after,
                state.value,
                subject,
                subject,
                relation,
                relation,
                object_,
                object_scope,
                limit,
            ),
        )
        return [_membership_of(row) for row in rows]

    async def relations_of(
        self, user_id: str, objects: Sequence[str], relations: Sequence[str]
    ) -> set[str]:
        """Return which of *relations* the user holds (directly or via a group) on *objects*."""
        scope_ids = [None if o == self._tid else o for o in objects]
        rows = await self._db.fetch_all(
            "SELECT DISTINCT m.relation FROM memberships m WHERE m.tenant_id = %s"
            " AND m.state = 'active' AND m.relation = ANY(%s)"
            " AND (m.valid_from IS NULL OR m.valid_from <= now())"
            " AND (m.valid_until IS NULL OR now() < m.valid_until)"
            " AND (m.object_scope_id = ANY(%s) OR (%s AND m.object_scope_id IS NULL))"
            " AND (m.subject_user_id = %s OR m.subject_group_id IN (SELECT g.group_id"
            "      FROM group_members g WHERE g.tenant_id = m.tenant_id AND g.user_id = %s))",
            (
                self._tid,
                list(relations),
                [s for s in scope_ids if s],
                None in scope_ids,
                user_id,
                user_id,
            ),
        )
        return {str(row["relation"]) for row in rows}


class PgAccessProfileRepository(_Repository):
    """Access profiles of this tenant (platform templates live in tenant:platform)."""

    async def insert(self, profile: AccessProfile) -> AccessProfile:
        """Create a profile. Raise AlreadyExists."""
        row = await self._db.fetch_one(
            "INSERT INTO access_profiles (tenant_id, access_profile_id, display_name, definition)"
            " VALUES (%s, %s, %s, %s) RETURNING *",
            (
                self._tid,
                profile.access_profile_id,
                profile.display_name,
                Jsonb(profile.definition.to_document()),
            ),
        )
        assert row is not None
        return access_profile_of(row)

    async def get(self, access_profile_id: str) -> AccessProfile | None:
        """Return the profile of this tenant, or the platform template, or None."""
        row = await self._db.fetch_one(
            "SELECT * FROM access_profiles WHERE tenant_id IN (%s, 'tenant:platform')"
            " AND access_profile_id = %s",
            (self._tid, access_profile_id),
        )
        return access_profile_of(row) if row else None

    async def list(self, *, after: str, limit: int) -> list[AccessProfile]:
        """List profiles ordered by id."""
        rows = await self._db.fetch_all(
            "SELECT * FROM access_profiles WHERE tenant_id = %s AND access_profile_id > %s"
            " ORDER BY access_profile_id LIMIT %s",
            (self._tid, after, limit),
        )
        return [access_profile_of(row) for row in rows]


def access_profile_of(row: Row) -> AccessProfile:
    """An AccessProfile from its row."""
    return AccessProfile(
        row["access_profile_id"],
        row["display_name"],
        AccessProfileDefinition.from_document(row["definition"] or {}),
        int(row["version"]),
        row["created_at"],
    )


class PgDiagnosticsRepository(_Repository):
    """What onboarding diagnostics read about this tenant (and one write probe)."""

    async def catalog(self) -> list[CatalogEntry]:
        """The platform's application catalog."""
        rows = await self._db.fetch_tuples(
            "SELECT application_id, required, required_scopes FROM applications"
            " ORDER BY application_id"
        )
        return [CatalogEntry(app, bool(required), tuple(scopes)) for app, required, scopes in rows]

    async def bound_applications(self) -> set[str]:
        """The applications bound to this tenant."""
        rows = await self._db.fetch_tuples(
            "SELECT application_id FROM tenant_applications WHERE tenant_id = %s", (self._tid,)
        )
        return {str(app) for (app,) in rows}

    async def scope_ids(self) -> set[str]:
        """Every scope of this tenant."""
        rows = await self._db.fetch_tuples(
            "SELECT scope_id FROM scopes WHERE tenant_id = %s", (self._tid,)
        )
        return {str(scope) for (scope,) in rows}

    async def holders(self, relation: str) -> list[tuple[str, AccountState | None]]:
        """Users holding *relation* on this tenant itself now, with their account state."""
        rows = await self._db.fetch_tuples(
            "SELECT DISTINCT coalesce(m.subject_user_id, g.user_id), a.state"
            " FROM memberships m"
            " LEFT JOIN group_members g"
            "   ON g.tenant_id = m.tenant_id AND g.group_id = m.subject_group_id"
            " LEFT JOIN tenant_accounts a ON a.tenant_id = m.tenant_id"
            "   AND a.user_id = coalesce(m.subject_user_id, g.user_id)"
            " WHERE m.tenant_id = %s AND m.relation = %s AND m.state = 'active'"
            "   AND m.object_scope_id IS NULL"
            "   AND (m.valid_from IS NULL OR m.valid_from <= now())"
            "   AND (m.valid_until IS NULL OR now() < m.valid_until)"
            "   AND coalesce(m.subject_user_id, g.user_id) IS NOT NULL"
            " ORDER BY 1",
            (self._tid, relation),
        )
        return [(str(user), AccountState(state) if state else None) for user, state in rows]

    async def relations(self) -> set[tuple[str, str]]:
        """The (relation, object) pairs of this tenant's active memberships."""
        rows = await self._db.fetch_tuples(
            "SELECT DISTINCT relation, coalesce(object_scope_id, tenant_id) FROM memberships"
            " WHERE tenant_id = %s AND state = 'active'",
            (self._tid,),
        )
        return {(str(relation), str(obj)) for relation, obj in rows}

    async def oldest_unconsumed(self) -> dt.datetime | None:
        """When the first outbox event past the slowest consumer's cursor was written."""
        row = await self._db.fetch_one(
            "SELECT created_at FROM outbox_events WHERE tenant_id = %s AND seq > coalesce("
            " (SELECT min(last_seq) FROM outbox_cursors WHERE tenant_id = %s), 0)"
            " ORDER BY seq LIMIT 1",
            (self._tid, self._tid),
        )
        return row["created_at"] if row else None

    async def write_probe(self) -> None:
        """Write a cursor row and roll it back (a savepoint): nothing stays."""
        await self._db.execute("SAVEPOINT diagnose_write_probe")
        try:
            await self._db.execute(
                "INSERT INTO outbox_cursors (tenant_id, consumer) VALUES (%s, 'diagnose-probe')"
                " ON CONFLICT DO NOTHING",
                (self._tid,),
            )
        finally:
            await self._db.execute("ROLLBACK TO SAVEPOINT diagnose_write_probe")
