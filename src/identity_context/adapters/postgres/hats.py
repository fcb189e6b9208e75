"""Factor evidence, hat approvals, active hats and their grounds, in the tenant's transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from psycopg.types.json import Jsonb

from identity_context.adapters.postgres.directory import access_profile_of
from identity_context.adapters.postgres.repositories import Row, Session
from identity_context.domain.actors import AssuranceLevel
from identity_context.domain.directory import AccessProfile
from identity_context.domain.hats import (
    ActiveHat,
    Approval,
    ApprovalState,
    Evidence,
    Grounds,
    Hat,
    HeldRelation,
    RecordedEvidence,
)
from identity_context.domain.identifiers import ScopeKind, TenantId
from identity_context.domain.tenancy import AccountState, TenantState

__all__ = ["PgHatRepository", "active_hat_of"]

_MAX_SCOPES = 10_000


def _scope_kind(scope_id: str) -> ScopeKind:
    return ScopeKind(scope_id.split(":", 1)[0])


def active_hat_of(tenant: TenantId, row: Sequence[Any]) -> ActiveHat:
    """An ActiveHat from its stored columns, in the order of ``_ACTIVE`` (scope NULL:
    the tenant itself)."""
    (
        user_id,
        profile_id,
        scope_id,
        realm,
        service_area,
        asset,
        evidence_ids,
        approval_id,
        selected_at,
        expires_at,
        scope_parents,
    ) = row
    scope = scope_id or str(tenant)
    return ActiveHat(
        user_id,
        Hat(profile_id, scope, _scope_kind(scope)),
        realm or "",
        service_area or "",
        asset or "",
        tuple(evidence_ids),
        approval_id or "",
        selected_at,
        expires_at,
        tuple(sorted((str(k), str(v or "")) for k, v in (scope_parents or {}).items())),
    )


def _approval(row: Row, tenant: TenantId) -> Approval:
    scope = row["scope_id"] or str(tenant)
    state = ApprovalState(row["state"])
    pending_until = row["pending_until"]
    if state is ApprovalState.PENDING and pending_until is not None and row["now"] >= pending_until:
        state = ApprovalState.EXPIRED
    return Approval(
        approval_id=row["approval_id"],
        user_id=row["user_id"],
        hat=f"{row['access_profile_id']}@{scope}",
        justification=row["justification"],
        state=state,
        decided_by=row["decided_by"] or "",
        created_at=row["created_at"],
        decided_at=row["decided_at"],
        expires_at=row["expires_at"],
        requested_duration_s=row["requested_duration_s"],
        pending_until=pending_until,
        version=int(row["version"]),
    )


class PgHatRepository:
    """Hats of one tenant (row-level security holds every statement to it)."""

    def __init__(self, db: Session, tenant: TenantId) -> None:
        self._db = db
        self._tenant = tenant
        self._tid = str(tenant)

    def _scope_column(self, scope_id: str) -> str | None:
        return None if scope_id == self._tid else scope_id

    async def grounds(self, user_id: str, anchors: Sequence[str] | None) -> Grounds:
        """What the user's hats can rest on now (see HatRepository.grounds)."""
        head = await self._db.fetch_one(
            "SELECT (SELECT state FROM tenants WHERE tenant_id = %s) AS tenant_state,"
            " (SELECT state FROM tenant_accounts WHERE tenant_id = %s AND user_id = %s)"
            " AS account_state, now() AS now",
            (self._tid, self._tid, user_id),
        )
        assert head is not None
        held = await self._db.fetch_tuples(
            "SELECT m.relation, coalesce(m.object_scope_id, m.tenant_id), '', m.valid_until"
            " FROM memberships m WHERE m.tenant_id = %s AND m.subject_user_id = %s"
            " AND m.state = 'active' AND (m.valid_from IS NULL OR m.valid_from <= now())"
            " AND (m.valid_until IS NULL OR now() < m.valid_until)"
            " UNION ALL"
            " SELECT m.relation, coalesce(m.object_scope_id, m.tenant_id), g.group_id,"
            " m.valid_until FROM group_members g JOIN memberships m"
            " ON m.tenant_id = g.tenant_id AND m.subject_group_id = g.group_id"
            " WHERE g.tenant_id = %s AND g.user_id = %s AND m.state = 'active'"
            " AND (m.valid_from IS NULL OR m.valid_from <= now())"
            " AND (m.valid_until IS NULL OR now() < m.valid_until)",
            (self._tid, user_id, self._tid, user_id),
        )
        if anchors is None:
            scopes = await self._db.fetch_tuples(
                "SELECT scope_id, coalesce(parent_scope_id, '') FROM scopes"
                " WHERE tenant_id = %s ORDER BY scope_id LIMIT %s",
                (self._tid, _MAX_SCOPES),
            )
        else:
            scopes = await self._db.fetch_tuples(
                "WITH RECURSIVE chain AS ("
                " SELECT scope_id, parent_scope_id FROM scopes"
                " WHERE tenant_id = %s AND scope_id = ANY(%s)"
                " UNION SELECT s.scope_id, s.parent_scope_id FROM scopes s"
                " JOIN chain c ON s.tenant_id = %s AND s.scope_id = c.parent_scope_id)"
                " SELECT scope_id, coalesce(parent_scope_id, '') FROM chain",
                (self._tid, [a for a in anchors if a != self._tid], self._tid),
            )
        evidence = await self._db.fetch_tuples(
            "SELECT evidence_id, factor_type, assurance_level, verified_at, expires_at"
            " FROM factor_evidence WHERE tenant_id = %s AND user_id = %s AND expires_at > now()"
            " ORDER BY evidence_id",
            (self._tid, user_id),
        )
        approvals = await self._db.fetch_all(
            "SELECT *, now() AS now FROM hat_approvals WHERE tenant_id = %s AND user_id = %s"
            " AND state = 'approved' AND expires_at > now() ORDER BY approval_id",
            (self._tid, user_id),
        )
        return Grounds(
            tenant=self._tenant,
            tenant_state=TenantState(head["tenant_state"] or TenantState.ARCHIVED.value),
            account_state=AccountState(head["account_state"]) if head["account_state"] else None,
            held=[HeldRelation(r, o, via, until) for r, o, via, until in held],
            parents={scope: parent for scope, parent in scopes},
            evidence=[
                Evidence(i, t, AssuranceLevel(level), verified, expires)
                for i, t, level, verified, expires in evidence
            ],
            approvals=[_approval(row, self._tenant) for row in approvals],
        )

    async def visible_profiles(self) -> list[AccessProfile]:
        """The tenant's access profiles and the platform templates, ordered by id."""
        rows = await self._db.fetch_all(
            "SELECT * FROM access_profiles WHERE tenant_id IN (%s, 'tenant:platform')"
            " ORDER BY access_profile_id",
            (self._tid,),
        )
        return [access_profile_of(row) for row in rows]

    async def record_evidence(
        self, evidence: Evidence, *, user_id: str, issuer: str, evidence_ref: str
    ) -> RecordedEvidence:
        """Store factor evidence."""
        row = await self._db.fetch_one(
            "INSERT INTO factor_evidence (tenant_id, evidence_id, user_id, factor_type,"
            " assurance_level, verified_at, expires_at, issuer, evidence_ref)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING created_at",
            (
                self._tid,
                evidence.evidence_id,
                user_id,
                evidence.factor_type,
                int(evidence.assurance_level),
                evidence.verified_at,
                evidence.expires_at,
                issuer,
                evidence_ref,
            ),
        )
        assert row is not None
        return RecordedEvidence(evidence, user_id, issuer, evidence_ref, row["created_at"])

    _ACTIVE = (
        "SELECT user_id, access_profile_id, scope_id, realm_id, service_area_id, asset_id,"
        " evidence_refs, approval_id, selected_at, expires_at, scope_parents FROM active_contexts"
    )

    def _active(self, row: tuple[Any, ...]) -> ActiveHat:
        return active_hat_of(self._tenant, row)

    async def active(self, user_id: str) -> ActiveHat | None:
        """The hat the user wears, as stored."""
        rows = await self._db.fetch_tuples(
            f"{self._ACTIVE} WHERE tenant_id = %s AND user_id = %s",
            (self._tid, user_id),
        )
        return self._active(rows[0]) if rows else None

    async def wearers(self, user_ids: Sequence[str]) -> list[ActiveHat]:
        """The stored hats of those of *user_ids* wearing one."""
        rows = await self._db.fetch_tuples(
            f"{self._ACTIVE} WHERE tenant_id = %s AND user_id = ANY(%s)"
            " ORDER BY user_id FOR UPDATE",
            (self._tid, list(user_ids)),
        )
        return [self._active(row) for row in rows]

    async def put_on(self, hat: ActiveHat) -> ActiveHat | None:
        """Make *hat* the user's active hat; return the one it replaced."""
        previous = await self.take_off(hat.user_id)
        await self._db.execute(
            "INSERT INTO active_contexts (tenant_id, user_id, access_profile_id, scope_id,"
            " realm_id, service_area_id, asset_id, evidence_refs, approval_id, selected_at,"
            " expires_at, scope_parents) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                self._tid,
                hat.user_id,
                hat.hat.access_profile_id,
                self._scope_column(hat.hat.scope_id),
                hat.realm_id or None,
                hat.service_area_id or None,
                hat.asset_id or None,
                list(hat.evidence_ids),
                hat.approval_id or None,
                hat.selected_at,
                hat.expires_at,
                Jsonb(dict(hat.scope_parents)),
            ),
        )
        return previous

    async def take_off(self, user_id: str) -> ActiveHat | None:
        """End the user's active hat; return it."""
        rows = await self._db.fetch_tuples(
            "DELETE FROM active_contexts WHERE tenant_id = %s AND user_id = %s"
            " RETURNING user_id, access_profile_id, scope_id, realm_id, service_area_id,"
            " asset_id, evidence_refs, approval_id, selected_at, expires_at, scope_parents",
            (self._tid, user_id),
        )
        return self._active(rows[0]) if rows else None

    async def insert_approval(self, approval: Approval) -> Approval:
        """Store a pending approval."""
        profile, _, scope = approval.hat.partition("@")
        row = await self._db.fetch_one(
            "INSERT INTO hat_approvals (tenant_id, approval_id, user_id, access_profile_id,"
            " scope_id, justification, state, requested_duration_s, pending_until)"
            " VALUES (%s, %s, %s, %s, %s, %s, 'pending', %s, %s) RETURNING *, now() AS now",
            (
                self._tid,
                approval.approval_id,
                approval.user_id,
                profile,
                self._scope_column(scope),
                approval.justification,
                approval.requested_duration_s,
                approval.pending_until,
            ),
        )
        assert row is not None
        return _approval(row, self._tenant)

    async def approval(self, approval_id: str) -> Approval | None:
        """Return the approval, or None."""
        row = await self._db.fetch_one(
            "SELECT *, now() AS now FROM hat_approvals WHERE tenant_id = %s AND approval_id = %s",
            (self._tid, approval_id),
        )
        return _approval(row, self._tenant) if row else None

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
        """Decide a pending approval at *expected_version*."""
        row = await self._db.fetch_one(
            "UPDATE hat_approvals SET state = %s, decided_by = %s, decided_at = now(),"
            " expires_at = %s, decide_comment = %s, version = version + 1"
            " WHERE tenant_id = %s AND approval_id = %s AND state = 'pending' AND version = %s"
            " RETURNING *, now() AS now",
            (
                state.value,
                decided_by,
                expires_at,
                comment,
                self._tid,
                approval_id,
                expected_version,
            ),
        )
        return _approval(row, self._tenant) if row else None

    async def group_members(self, group_id: str) -> list[str]:
        """Every member of a group."""
        rows = await self._db.fetch_tuples(
            "SELECT user_id FROM group_members WHERE tenant_id = %s AND group_id = %s"
            " ORDER BY user_id",
            (self._tid, group_id),
        )
        return [str(row[0]) for row in rows]
