"""The registry from PostgreSQL SQLSTATEs (and pool failures) to domain errors.

Constraint violations name the field (or object) of the request they concern,
from the constraint's name: a client learns which part of its request clashed,
never SQL or constraint internals.
"""

from __future__ import annotations

import psycopg
from psycopg import errors as pg
from psycopg_pool import PoolTimeout

from identity_context.domain.errors import (
    AlreadyExists,
    ErrorReason,
    FailedPrecondition,
    IdentityContextError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)

__all__ = ["RETRYABLE", "to_domain_error"]

# Transient conflicts: the whole transaction may be retried.
RETRYABLE: tuple[type[psycopg.Error], ...] = (pg.SerializationFailure, pg.DeadlockDetected)

# Unique constraints -> (request field, what already exists).
_DUPLICATES: dict[str, tuple[str, str]] = {
    "tenants_pkey": ("tenant_id", "a tenant with this id"),
    "tenant_applications_pkey": ("application_id", "this application binding"),
    "tenant_accounts_pkey": ("user_id", "an account of this user in the tenant"),
    "scopes_pkey": ("scope_id", "a scope with this id"),
    "groups_pkey": ("group_id", "a group with this id"),
    "group_members_pkey": ("user_id", "this member of the group"),
    "memberships_pkey": ("membership_id", "a membership with this id"),
    "memberships_active_unique": (
        "relation",
        "an active membership with this subject, relation and object",
    ),
    "access_profiles_pkey": ("access_profile.access_profile_id", "an access profile with this id"),
    "idempotency_records_pkey": ("request_id", "a result for this request id"),
}
# Foreign keys -> (request field, what is missing).
_MISSING: dict[str, tuple[str, str]] = {
    "memberships_tenant_id_subject_user_id_fkey": ("subject", "the user has no account"),
    "memberships_tenant_id_subject_group_id_fkey": ("subject", "the group does not exist"),
    "memberships_tenant_id_object_scope_id_fkey": ("object", "the scope does not exist"),
    "group_members_tenant_id_group_id_fkey": ("group_id", "the group does not exist"),
    "group_members_tenant_id_user_id_fkey": ("user_id", "the user has no account"),
    "scopes_tenant_id_parent_scope_id_fkey": ("parent_scope_id", "the parent scope does not exist"),
    "tenant_applications_application_id_fkey": ("application_id", "not in the catalog"),
    "tenant_accounts_tenant_id_fkey": ("x-tenant-id", "the tenant does not exist"),
    "factor_evidence_tenant_id_user_id_fkey": ("user_id", "the user has no account"),
    "hat_approvals_tenant_id_user_id_fkey": ("user_id", "the user has no account"),
    "hat_approvals_tenant_id_scope_id_fkey": ("hat_id", "the scope does not exist"),
    "active_contexts_tenant_id_user_id_fkey": ("user_id", "the user has no account"),
    "active_contexts_tenant_id_scope_id_fkey": ("hat_id", "the scope does not exist"),
}


def _constraint(exc: psycopg.Error) -> str:
    return (exc.diag.constraint_name or "") if exc.diag else ""


def to_domain_error(exc: BaseException) -> IdentityContextError | None:
    """Return the domain error for a database failure, or None when it is not one we map.

    The returned messages never include SQL, values or constraint internals.
    """
    if isinstance(exc, pg.UniqueViolation):
        field, what = _DUPLICATES.get(_constraint(exc), ("request", "the object"))
        return AlreadyExists(f"{what} already exists ({field})", metadata={"field": field})
    if isinstance(exc, pg.ForeignKeyViolation):
        detail = (exc.diag.message_detail or "") if exc.diag else ""
        if "is still referenced" in detail:
            return FailedPrecondition("the object is still referenced by other objects")
        field, what = _MISSING.get(_constraint(exc), ("request", "a referenced object"))
        return NotFound(f"{field}: {what} in this tenant", metadata={"field": field})
    if isinstance(exc, pg.InsufficientPrivilege):
        # Row-level security WITH CHECK failures land here: a write aimed at
        # another tenant's rows.
        return PermissionDenied(
            "the change crosses the tenant boundary", reason=ErrorReason.CROSS_TENANT_DENIED
        )
    if isinstance(exc, pg.CheckViolation):
        # <table>_<column>_check, as PostgreSQL names column checks
        name = _constraint(exc)
        table = (exc.diag.table_name or "") if exc.diag else ""
        field = name.removeprefix(f"{table}_").removesuffix("_check") or "request"
        return InvalidArgument.for_field(field, "is not an allowed value")
    if isinstance(exc, pg.IntegrityError | pg.DataError | psycopg.DataError):
        return InvalidArgument.for_field("request", "a value cannot be stored (e.g. a NUL byte)")
    if isinstance(exc, PoolTimeout | pg.QueryCanceled | psycopg.OperationalError):
        return Unavailable("the store is unavailable", reason=ErrorReason.STORE_UNAVAILABLE)
    if isinstance(exc, psycopg.InterfaceError | OSError):
        return Unavailable("the store is unavailable", reason=ErrorReason.STORE_UNAVAILABLE)
    return None
