"""The registry from PostgreSQL SQLSTATEs (and pool failures) to domain errors."""

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


def to_domain_error(exc: BaseException) -> IdentityContextError | None:
    """Return the domain error for a database failure, or None when it is not one we map.

    The returned messages never include SQL, values or constraint internals.
    """
    if isinstance(exc, pg.UniqueViolation):
        return AlreadyExists("the object already exists")
    if isinstance(exc, pg.ForeignKeyViolation):
        detail = (exc.diag.message_detail or "") if exc.diag else ""
        if "is still referenced" in detail:
            return FailedPrecondition("the object is still referenced by other objects")
        return NotFound("a referenced object does not exist in this tenant")
    if isinstance(exc, pg.InsufficientPrivilege):
        # Row-level security WITH CHECK failures land here: a write aimed at
        # another tenant's rows.
        return PermissionDenied(
            "the change crosses the tenant boundary", reason=ErrorReason.CROSS_TENANT_DENIED
        )
    if isinstance(exc, pg.IntegrityError | pg.DataError):
        return InvalidArgument("the request violates a data constraint")
    if isinstance(exc, PoolTimeout | pg.QueryCanceled | psycopg.OperationalError):
        return Unavailable("the store is unavailable", reason=ErrorReason.STORE_UNAVAILABLE)
    if isinstance(exc, psycopg.InterfaceError | OSError):
        return Unavailable("the store is unavailable", reason=ErrorReason.STORE_UNAVAILABLE)
    return None
