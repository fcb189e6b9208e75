"""Roles: the relations that take part in authorization, and the reserved platform relations."""

from __future__ import annotations

__all__ = [
    "BREAK_GLASS",
    "FACT_CONSUMER",
    "FACT_RELATIONS",
    "GATEWAY",
    "PLATFORM_OPERATOR",
    "PLATFORM_PLANE_RELATIONS",
    "PLATFORM_ROLES",
    "RESERVED_PLATFORM_RELATIONS",
    "TENANT_ADMIN",
    "TENANT_ROLES",
]

PLATFORM_OPERATOR = "platform-operator"
BREAK_GLASS = "break-glass"
TENANT_ADMIN = "tenant-admin"
# Service principals: a gateway acts for the users of a tenant on the hot path
# (held on tenant:platform: every tenant; on a tenant: that tenant); a fact
# consumer reads the tenant's access-control facts.
GATEWAY = "gateway"
FACT_CONSUMER = "fact-consumer"

# Relations that count only when held on tenant:platform itself.
PLATFORM_PLANE_RELATIONS: frozenset[str] = frozenset({PLATFORM_OPERATOR, BREAK_GLASS})

# Relations only platform operators may grant or revoke, in any tenant. The
# Cedar policy "platform-root.reserved-relations" lists the same set (a test
# keeps them equal).
RESERVED_PLATFORM_RELATIONS: frozenset[str] = PLATFORM_PLANE_RELATIONS | {GATEWAY, FACT_CONSUMER}

# The actor's roles a decision needs: these held on tenant:platform itself...
PLATFORM_ROLES: tuple[str, ...] = (BREAK_GLASS, FACT_CONSUMER, GATEWAY, PLATFORM_OPERATOR)
# ...and these held on the target tenant itself.
TENANT_ROLES: tuple[str, ...] = (GATEWAY, TENANT_ADMIN)

# Relations the fact stream derives and no membership may use: `wears` (the
# active hat on its scope) and `parent` (a scope's place in the tree) would be
# indistinguishable from a membership of that name in an authorization engine.
FACT_RELATIONS: frozenset[str] = frozenset({"wears", "parent"})
