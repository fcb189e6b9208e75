"""Roles: the relations that take part in authorization, and the reserved platform relations."""

from __future__ import annotations

__all__ = [
    "BREAK_GLASS",
    "PLATFORM_OPERATOR",
    "PLATFORM_ROLES",
    "RESERVED_PLATFORM_RELATIONS",
    "TENANT_ADMIN",
    "TENANT_ROLES",
]

PLATFORM_OPERATOR = "platform-operator"
BREAK_GLASS = "break-glass"
TENANT_ADMIN = "tenant-admin"

# Relations only platform operators may grant or revoke, in any tenant. The
# Cedar policy "platform-root.reserved-relations" lists the same set (a test
# keeps them equal).
RESERVED_PLATFORM_RELATIONS: frozenset[str] = frozenset({PLATFORM_OPERATOR, BREAK_GLASS})

# The actor's roles a decision needs: these held on tenant:platform itself...
PLATFORM_ROLES: tuple[str, ...] = (BREAK_GLASS, PLATFORM_OPERATOR)
# ...and these held on the target tenant itself.
TENANT_ROLES: tuple[str, ...] = (TENANT_ADMIN,)
