"""The benchmark data set, written in bulk with SQL as the database superuser.

20 tenants (``tenant:bench-00``..``-19``), each with an active tenant admin;
``tenant:bench-00`` has 10,000 users, 50 scopes (10 realms, 20 service areas,
20 assets), 100 groups with every user in 2 of them, and 5 memberships per
user. The other tenants have 50 users each. Audit records are not written
for seeded rows (the benchmark measures the request path, not the seeding).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

TENANTS = 20
BIG_USERS = 10_000
SMALL_USERS = 50
GROUPS = 100


def tenant(index: int) -> str:
    return f"tenant:bench-{index:02d}"


def admin(index: int) -> str:
    return f"user:admin-{index:02d}"


def user(index: int, number: int) -> str:
    return f"user:t{index:02d}-u{number:05d}"


@dataclass(frozen=True)
class Seeded:
    """What the scenarios need to know about the data set."""

    big_tenant: str
    big_users: list[str]
    big_scopes: list[str]
    tenants: list[str]
    admins: list[str]
    small_users: dict[str, list[str]]


_SQL = """
INSERT INTO tenants (tenant_id, display_name, plane)
    SELECT format('tenant:bench-%%s', lpad(i::text, 2, '0')), 'Bench', 'tenant'
    FROM generate_series(0, %(tenants)s - 1) i ON CONFLICT DO NOTHING;
INSERT INTO users (user_id)
    SELECT format('user:admin-%%s', lpad(i::text, 2, '0'))
    FROM generate_series(0, %(tenants)s - 1) i
    UNION ALL
    SELECT format('user:t%%s-u%%s', lpad(t::text, 2, '0'), lpad(n::text, 5, '0'))
    FROM generate_series(0, %(tenants)s - 1) t,
         generate_series(0, CASE WHEN t = 0 THEN %(big)s ELSE %(small)s END - 1) n
    ON CONFLICT DO NOTHING;
INSERT INTO tenant_accounts (tenant_id, user_id, display_name, state)
    SELECT format('tenant:bench-%%s', lpad(i::text, 2, '0')),
           format('user:admin-%%s', lpad(i::text, 2, '0')), 'Admin', 'active'
    FROM generate_series(0, %(tenants)s - 1) i
    UNION ALL
    SELECT format('tenant:bench-%%s', lpad(t::text, 2, '0')),
           format('user:t%%s-u%%s', lpad(t::text, 2, '0'), lpad(n::text, 5, '0')),
           format('User %%s', n), 'active'
    FROM generate_series(0, %(tenants)s - 1) t,
         generate_series(0, CASE WHEN t = 0 THEN %(big)s ELSE %(small)s END - 1) n
    ON CONFLICT DO NOTHING;
INSERT INTO memberships (tenant_id, membership_id, subject_user_id, relation)
    SELECT format('tenant:bench-%%s', lpad(i::text, 2, '0')), format('m-admin-%%s', i),
           format('user:admin-%%s', lpad(i::text, 2, '0')), 'tenant-admin'
    FROM generate_series(0, %(tenants)s - 1) i ON CONFLICT DO NOTHING;
INSERT INTO scopes (tenant_id, scope_id, kind, parent_scope_id, display_name)
    SELECT 'tenant:bench-00', format('realm:bench-00/r%%s', r), 'realm', NULL, 'Realm'
    FROM generate_series(0, 9) r ON CONFLICT DO NOTHING;
INSERT INTO scopes (tenant_id, scope_id, kind, parent_scope_id, display_name)
    SELECT 'tenant:bench-00', format('service:bench-00/r%%s/s%%s', s %% 10, s), 'service',
           format('realm:bench-00/r%%s', s %% 10), 'Service area'
    FROM generate_series(0, 19) s ON CONFLICT DO NOTHING;
INSERT INTO scopes (tenant_id, scope_id, kind, parent_scope_id, display_name)
    SELECT 'tenant:bench-00', format('asset:bench-00/r%%s/s%%s/a%%s', a %% 10, a, a), 'asset',
           format('service:bench-00/r%%s/s%%s', a %% 10, a), 'Asset'
    FROM generate_series(0, 19) a ON CONFLICT DO NOTHING;
INSERT INTO groups (tenant_id, group_id, display_name)
    SELECT 'tenant:bench-00', format('group:bench-00/g%%s', g), 'Group'
    FROM generate_series(0, %(groups)s - 1) g ON CONFLICT DO NOTHING;
INSERT INTO group_members (tenant_id, group_id, user_id)
    SELECT 'tenant:bench-00', format('group:bench-00/g%%s', (n + k * 37) %% %(groups)s),
           format('user:t00-u%%s', lpad(n::text, 5, '0'))
    FROM generate_series(0, %(big)s - 1) n, generate_series(0, 1) k ON CONFLICT DO NOTHING;
INSERT INTO memberships (tenant_id, membership_id, subject_user_id, relation, object_scope_id)
    SELECT 'tenant:bench-00', format('m-seed-%%s-%%s', n, k),
           format('user:t00-u%%s', lpad(n::text, 5, '0')),
           (ARRAY['viewer', 'editor', 'operator', 'auditor', 'owner'])[k + 1],
           s.scope_id
    FROM generate_series(0, %(big)s - 1) n, generate_series(0, 4) k,
         LATERAL (SELECT scope_id FROM scopes WHERE tenant_id = 'tenant:bench-00'
                  ORDER BY scope_id OFFSET (n * 5 + k) %% 50 LIMIT 1) s
    ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS bench_floor_writes (id bigserial PRIMARY KEY, payload text NOT NULL);
GRANT ALL ON bench_floor_writes TO PUBLIC;
ANALYZE;
"""


def seed(admin_url: str, database: str) -> Seeded:
    """Write the data set (idempotent) into *database* as the superuser of *admin_url*."""
    params = psycopg.conninfo.conninfo_to_dict(admin_url)
    params["dbname"] = database
    with (
        psycopg.connect(psycopg.conninfo.make_conninfo("", **params), autocommit=True) as conn,
        psycopg.ClientCursor(conn) as cursor,  # several statements: bind client-side
    ):
        cursor.execute(
            _SQL, {"tenants": TENANTS, "big": BIG_USERS, "small": SMALL_USERS, "groups": GROUPS}
        )
    return Seeded(
        big_tenant=tenant(0),
        big_users=[user(0, n) for n in range(BIG_USERS)],
        big_scopes=(
            [f"realm:bench-00/r{r}" for r in range(10)]
            + [f"service:bench-00/r{s % 10}/s{s}" for s in range(20)]
            + [f"asset:bench-00/r{a % 10}/s{a}/a{a}" for a in range(20)]
        ),
        tenants=[tenant(i) for i in range(TENANTS)],
        admins=[admin(i) for i in range(TENANTS)],
        small_users={tenant(i): [user(i, n) for n in range(SMALL_USERS)] for i in range(TENANTS)},
    )
