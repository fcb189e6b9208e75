"""Domain errors: one root type, one subclass per outcome, a fixed list of reasons."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "Aborted",
    "AlreadyExists",
    "DeadlineExceeded",
    "ErrorReason",
    "FailedPrecondition",
    "FieldViolation",
    "IdentityContextError",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
]


class ErrorReason(enum.StrEnum):
    """The reasons clients see in ``google.rpc.ErrorInfo.reason``.

    Mirrors ``identitycontext.v1.ErrorReason`` (without its ``ERROR_REASON_`` prefix);
    a test keeps the two in step.
    """

    TENANT_CONTEXT_MISSING = "TENANT_CONTEXT_MISSING"
    TENANT_CONTEXT_INVALID = "TENANT_CONTEXT_INVALID"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    TOKEN_MISSING = "TOKEN_MISSING"
    TOKEN_INVALID = "TOKEN_INVALID"
    CROSS_TENANT_DENIED = "CROSS_TENANT_DENIED"
    PLATFORM_ROOT_DENIED = "PLATFORM_ROOT_DENIED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    FACTOR_ASSURANCE_MISSING = "FACTOR_ASSURANCE_MISSING"
    APPROVAL_REQUIRED = "APPROVAL_REQUIRED"
    AUTHZ_UNAVAILABLE = "AUTHZ_UNAVAILABLE"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    ETAG_MISMATCH = "ETAG_MISMATCH"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    STORE_UNAVAILABLE = "STORE_UNAVAILABLE"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    ABORTED = "ABORTED"
    NOT_IMPLEMENTED = "NOT_IMPLEMENTED"
    INTERNAL = "INTERNAL"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    ACCOUNT_NOT_ACTIVE = "ACCOUNT_NOT_ACTIVE"
    MEMBERSHIP_MISSING = "MEMBERSHIP_MISSING"
    PAGE_TOKEN_INVALID = "PAGE_TOKEN_INVALID"
    FACTS_TOKEN_INVALID = "FACTS_TOKEN_INVALID"
    TENANT_NOT_ACTIVE = "TENANT_NOT_ACTIVE"
    BREAK_GLASS_DENIED = "BREAK_GLASS_DENIED"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    EXPORT_RESTART_REQUIRED = "EXPORT_RESTART_REQUIRED"


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One invalid field of a request (or metadata key), as in ``google.rpc.BadRequest``."""

    field: str
    description: str


class IdentityContextError(Exception):
    """Root of every error the service reports to a caller.

    The message is safe to show to the caller: never put secrets, SQL or stack
    details in it.
    """

    default_reason: ErrorReason = ErrorReason.INTERNAL

    def __init__(
        self,
        message: str,
        *,
        reason: ErrorReason | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata: dict[str, str] = dict(metadata or {})


class InvalidArgument(IdentityContextError):
    """The request is malformed; ``violations`` names each bad field."""

    default_reason = ErrorReason.INVALID_ARGUMENT

    def __init__(
        self,
        message: str,
        *,
        violations: Sequence[FieldViolation] = (),
        reason: ErrorReason | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.violations = tuple(violations)

    @classmethod
    def for_field(
        cls, field: str, description: str, *, reason: ErrorReason | None = None
    ) -> InvalidArgument:
        """Build the error for a single bad field."""
        return cls(
            f"invalid {field}: {description}",
            violations=(FieldViolation(field, description),),
            reason=reason,
        )


class Unauthenticated(IdentityContextError):
    """The caller's credentials are missing or do not verify."""

    default_reason = ErrorReason.TOKEN_INVALID


class PermissionDenied(IdentityContextError):
    """The caller is authenticated but not allowed to do this."""

    default_reason = ErrorReason.PERMISSION_DENIED


class NotFound(IdentityContextError):
    """The object does not exist in the caller's tenant (no existence oracle)."""

    default_reason = ErrorReason.NOT_FOUND


class AlreadyExists(IdentityContextError):
    """An object with the same identifier exists."""

    default_reason = ErrorReason.ALREADY_EXISTS


class FailedPrecondition(IdentityContextError):
    """The system is not in a state that allows the operation."""

    default_reason = ErrorReason.FAILED_PRECONDITION


class Aborted(IdentityContextError):
    """A concurrent change (etag, serialization) made the operation fail."""

    default_reason = ErrorReason.ABORTED


class Unavailable(IdentityContextError):
    """A dependency (store, policy engine) gave no usable answer; fail closed."""

    default_reason = ErrorReason.STORE_UNAVAILABLE


class ResourceExhausted(IdentityContextError):
    """A limit was exceeded."""

    default_reason = ErrorReason.RESOURCE_EXHAUSTED


class DeadlineExceeded(IdentityContextError):
    """The caller's deadline passed."""

    default_reason = ErrorReason.DEADLINE_EXCEEDED
