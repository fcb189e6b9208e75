"""The benchmark data set, written in bulk with SQL as the database superuser.

20 tenants (``tenant:bench-00``..``-19``), each with an active tenant admin;
``tenant:bench-00`` has 10,000 users, 50 scopes (10 realms, 20 service areas,
20 assets), 100 groups with every user in 2 of them, and 5 memberships per
user. The other tenants have 50 users each. For the hot path,
``tenant:bench-00`` has 20 access profiles, and every 4th user factor
evidence and an active hat (one of the profiles, on the scope where they are
an editor); ``service:bench-gw`` holds ``gateway`` and ``service:bench-fc``
``fact-consumer`` on tenant:platform. The access-control facts of the seeded
rows are built once at the end (``app_rebuild_facts``). Audit
records are not written for seeded rows (the benchmark measures the request
path, not the seeding).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

TENANTS = 20
BIG_USERS = 10_000
SMALL_USERS = 50
GROUPS = 100
GATEWAY = "service:bench-gw"
FACT_CONSUMER = "service:bench-fc"
HAT_SHARE = 4  # every 4th user of the big tenant wears a hat


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
    gateway: str
    wearers: list[str]


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
INSERT INTO memberships (tenant_id, membership_id, subject_service_id, relation)
    VALUES ('tenant:platform', 'm-bench-gw', 'service:bench-gw', 'gateway')
    ON CONFLICT DO NOTHING;
INSERT INTO access_profiles (tenant_id, access_profile_id, display_name, definition)
    SELECT 'tenant:bench-00', format('profile:bench-00/p%%s', lpad(p::text, 2, '0')), 'Profile',
           jsonb_build_object(
               'scope_kinds', jsonb_build_array('realm', 'service', 'asset'),
               'membership_requirements',
                   jsonb_build_array(jsonb_build_object('relation', 'editor', 'object', '')),
               'min_assurance', 2,
               'required_factor_types', jsonb_build_array('webauthn', 'totp'),
               'profile_defaults', jsonb_build_object('locale', 'en', 'desk', format('d%%s', p)),
               'claims_rules', jsonb_build_array(
                   jsonb_build_object('audience', 'service:mail', 'claim', 'locale',
                                      'source', 'profile', 'source_key', 'locale'),
                   jsonb_build_object('audience', 'service:mail', 'claim', 'realm',
                                      'source', 'realm', 'source_key', ''),
                   jsonb_build_object('audience', 'service:mail', 'claim', 'groups',
                                      'source', 'groups', 'source_key', ''),
                   jsonb_build_object('audience', 'service:drive', 'claim', 'relations',
                                      'source', 'relations', 'source_key', '')),
               'max_active_duration_s', 86400)
    FROM generate_series(0, 19) p ON CONFLICT DO NOTHING;
INSERT INTO factor_evidence (tenant_id, evidence_id, user_id, factor_type, assurance_level,
                             verified_at, expires_at, issuer, evidence_ref)
    SELECT 'tenant:bench-00', format('ev-seed-%%s', n),
           format('user:t00-u%%s', lpad(n::text, 5, '0')), 'webauthn', 2, now(),
           now() + interval '1 day', 'bench', ''
    FROM generate_series(0, %(big)s - 1, %(share)s) n ON CONFLICT DO NOTHING;
INSERT INTO active_contexts (tenant_id, user_id, access_profile_id, scope_id, realm_id,
                             service_area_id, asset_id, evidence_refs, selected_at, expires_at,
                             scope_parents)
    SELECT 'tenant:bench-00', m.subject_user_id,
           format('profile:bench-00/p%%s', lpad((n %% 20)::text, 2, '0')), s.scope_id,
           coalesce(r.scope_id, CASE WHEN s.kind = 'realm' THEN s.scope_id END),
           CASE WHEN s.kind = 'service' THEN s.scope_id WHEN s.kind = 'asset'
                THEN s.parent_scope_id END,
           CASE WHEN s.kind = 'asset' THEN s.scope_id END,
           ARRAY[format('ev-seed-%%s', n)], now(), now() + interval '1 day',
           (SELECT jsonb_object_agg(k, v) FROM (VALUES
                (s.scope_id, coalesce(s.parent_scope_id, '')),
                (p.scope_id, coalesce(p.parent_scope_id, '')),
                (r.scope_id, '')) x(k, v) WHERE k IS NOT NULL)
    FROM generate_series(0, %(big)s - 1, %(share)s) n
    JOIN memberships m ON m.tenant_id = 'tenant:bench-00'
         AND m.membership_id = format('m-seed-%%s-1', n)
    JOIN scopes s ON s.tenant_id = m.tenant_id AND s.scope_id = m.object_scope_id
    LEFT JOIN scopes p ON p.tenant_id = s.tenant_id AND p.scope_id = s.parent_scope_id
    LEFT JOIN scopes r ON r.tenant_id = s.tenant_id AND r.kind = 'realm'
         AND r.scope_id IN (p.scope_id, p.parent_scope_id)
    ON CONFLICT DO NOTHING;
INSERT INTO memberships (tenant_id, membership_id, subject_service_id, relation)
    VALUES ('tenant:platform', 'm-bench-fc', 'service:bench-fc', 'fact-consumer')
    ON CONFLICT DO NOTHING;
-- the access-control facts of the seeded rows (the service keeps them from here on)
DO $$
DECLARE
    t text;
BEGIN
    FOR t IN SELECT tenant_id FROM tenants LOOP
        PERFORM set_config('app.tenant_id', t, true);
        PERFORM app_rebuild_facts();
    END LOOP;
END
$$;
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
            _SQL,
            {
                "tenants": TENANTS,
                "big": BIG_USERS,
                "small": SMALL_USERS,
                "groups": GROUPS,
                "share": HAT_SHARE,
            },
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
        gateway=GATEWAY,
        wearers=[user(0, n) for n in range(0, BIG_USERS, HAT_SHARE)],
    )
