"""The gateway hot path's read: one statement, ``app_identity_context()``, in autocommit.

The function (migration 0006) sets the tenant for its own single-statement
transaction, so row-level security applies as in every tenant transaction,
and returns the caller's roles and the user's whole context as one JSON
document. Nothing else is sent: no BEGIN, no COMMIT.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import OrderedDict
from typing import Any

import orjson
from psycopg_pool import AsyncConnectionPool

from identity_context.adapters.postgres.hats import active_hat_of
from identity_context.domain.actors import AssuranceLevel
from identity_context.domain.directory import AccessProfileDefinition
from identity_context.domain.hats import Evidence
from identity_context.domain.identifiers import TenantId
from identity_context.domain.identity_context import ContextSnapshot, HeldMembership
from identity_context.domain.roles import PLATFORM_ROLES, TENANT_ROLES
from identity_context.domain.tenancy import AccountState, TenantState

__all__ = ["read_identity_context"]


def _array(names: tuple[str, ...]) -> str:
    # Role names are constants of the code (lower-case letters and '-'): a literal
    # keeps the call to three text parameters (no array to encode per call).
    assert all(n.replace("-", "").isalpha() and n.islower() for n in names)
    return "'{" + ",".join(names) + "}'"


_SQL = f"SELECT app_identity_context(%s, %s, %s, {_array(PLATFORM_ROLES)}, {_array(TENANT_ROLES)})"
_TENANT_STATES = {s.value: s for s in TenantState}
_ACCOUNT_STATES = {s.value: s for s in AccountState}
_LEVELS = {int(level): level for level in AssuranceLevel}
# Access profiles change only by creating new ones; a definition is parsed once
# per (profile, version).
_DEFINITIONS: OrderedDict[tuple[str, int], AccessProfileDefinition] = OrderedDict()
_MAX_DEFINITIONS = 4096
_UTC = dt.UTC


def _time(seconds: float | None) -> dt.datetime | None:
    return None if seconds is None else dt.datetime.fromtimestamp(seconds, _UTC)


def _definition(profile_id: str, version: int, document: Any) -> AccessProfileDefinition | None:
    if document is None:
        return None
    key = (profile_id, version)
    found = _DEFINITIONS.get(key)
    if found is None:
        found = _DEFINITIONS[key] = AccessProfileDefinition.from_document(document)
        if len(_DEFINITIONS) > _MAX_DEFINITIONS:
            _DEFINITIONS.popitem(last=False)
    return found


def _snapshot(tenant: TenantId, user_id: str, raw: str | bytes) -> ContextSnapshot:
    doc = orjson.loads(raw)
    head = doc["tenant"]
    active_row = doc["active"]
    active = definition = None
    if active_row is not None:
        (profile_id, scope, realm, area, asset, evidence, approval, selected, expires, parents,
         document, version) = active_row  # fmt: skip
        active = active_hat_of(
            tenant,
            (user_id, profile_id, scope, realm, area, asset, evidence or (), approval,
             _time(selected), _time(expires), parents),
        )  # fmt: skip
        definition = _definition(profile_id, int(version or 0), document)
    account = doc["account"]
    return ContextSnapshot(
        roles=frozenset(doc["roles"] or ()),
        now=dt.datetime.fromtimestamp(doc["now"], _UTC),
        tenant=tenant,
        tenant_state=_TENANT_STATES[head[0]] if head else None,
        seq=int(head[1]) if head else 0,
        user_id=user_id,
        account_state=_ACCOUNT_STATES[account] if account else None,
        values=[(g, k, v, s) for g, k, v, s in doc["values"] or ()],
        groups=tuple(doc["groups"] or ()),
        memberships=[
            HeldMembership(
                mid,
                subject,
                relation,
                obj,
                via or "",
                _time(since),
                _time(until),
                dt.datetime.fromtimestamp(created, _UTC),
                int(version),
            )
            for mid, subject, relation, obj, via, since, until, created, version in (
                doc["memberships"] or ()
            )
        ],
        active=active,
        definition=definition,
        parents=dict(active.scope_parents) if active is not None else {},
        evidence=[
            Evidence(
                eid,
                factor,
                _LEVELS[level],
                dt.datetime.fromtimestamp(verified, _UTC),
                dt.datetime.fromtimestamp(expires, _UTC),
            )
            for eid, factor, level, verified, expires in doc["evidence"] or ()
        ],
    )


async def read_identity_context(
    pool: AsyncConnectionPool, actor: str, tenant: TenantId, user_id: str
) -> ContextSnapshot:
    """Read the caller's roles and *user_id*'s context in one statement (autocommit).

    Database errors propagate (the store maps them).
    """
    conn = await pool.getconn()
    try:
        await conn.set_autocommit(True)
        cursor = await conn.execute(_SQL, (actor, str(tenant), user_id))
        row = await cursor.fetchone()
        await conn.set_autocommit(False)
    except BaseException:
        # Never hand an autocommit connection back to the units of work: close it
        # (the pool replaces closed connections).
        with contextlib.suppress(Exception):
            await conn.close()
        await pool.putconn(conn)
        raise
    await pool.putconn(conn)
    assert row is not None
    return _snapshot(tenant, user_id, row[0])
