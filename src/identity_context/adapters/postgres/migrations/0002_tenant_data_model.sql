-- Tenant-scoped data model with isolation enforced by the database.
--
-- Rules (checked by tests/integration/test_isolation.py against the catalog):
--   * every tenant-scoped table has tenant_id as the first primary-key column;
--   * every foreign key between tenant-scoped tables includes tenant_id;
--   * every unique index on them includes tenant_id;
--   * row-level security is ENABLED and FORCED, keyed on the transaction-local
--     setting app.tenant_id (empty or missing matches nothing).
-- Platform-wide tables are few and explicit: users, applications.
-- Cross-tenant platform operations go through the SECURITY DEFINER functions
-- platform_* at the end, never by switching row-level security off.

CREATE FUNCTION app_current_tenant() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '') $$;

CREATE FUNCTION app_platform_context() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(current_setting('app.platform', true), '') = 'on' $$;

-- Platform-wide ------------------------------------------------------------

CREATE TABLE users (
    user_id     text PRIMARY KEY CHECK (user_id ~ '^user:[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$'),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE applications (
    application_id text PRIMARY KEY CHECK (application_id ~ '^app:[a-z0-9][a-z0-9._-]{0,62}$'),
    display_name   text NOT NULL DEFAULT '',
    required       boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- Tenant-scoped ------------------------------------------------------------

CREATE TABLE tenants (
    tenant_id    text NOT NULL CHECK (tenant_id ~ '^tenant:[a-z][a-z0-9-]{1,61}[a-z0-9]$'),
    display_name text NOT NULL DEFAULT '',
    plane        text NOT NULL CHECK (plane IN ('platform', 'tenant')),
    state        text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'suspended', 'archived')),
    last_seq     bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    version      bigint NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id),
    CHECK ((plane = 'platform') = (tenant_id = 'tenant:platform'))
);

CREATE TABLE tenant_applications (
    tenant_id      text NOT NULL REFERENCES tenants (tenant_id),
    application_id text NOT NULL REFERENCES applications (application_id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, application_id)
);

CREATE TABLE tenant_accounts (
    tenant_id    text NOT NULL REFERENCES tenants (tenant_id),
    user_id      text NOT NULL REFERENCES users (user_id),
    display_name text NOT NULL DEFAULT '',
    state        text NOT NULL CHECK (state IN ('invited', 'active', 'suspended', 'deprovisioned')),
    version      bigint NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id)
);

-- The rows of tenant:platform are the GLOBAL layer; every other tenant's rows
-- are that tenant's layer.
CREATE TABLE profile_values (
    tenant_id  text NOT NULL REFERENCES tenants (tenant_id),
    user_id    text NOT NULL REFERENCES users (user_id),
    key        text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_.-]{0,63}$'),
    value      text NOT NULL CHECK (length(value) <= 4096),
    sensitive  boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id, key)
);

CREATE TABLE scopes (
    tenant_id       text NOT NULL REFERENCES tenants (tenant_id),
    scope_id        text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('realm', 'service', 'asset')),
    parent_scope_id text,
    display_name    text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, scope_id),
    FOREIGN KEY (tenant_id, parent_scope_id) REFERENCES scopes (tenant_id, scope_id),
    CHECK (split_part(scope_id, ':', 1) = kind),
    -- realms hang off the tenant itself (no parent row); the others need one
    CHECK ((kind = 'realm') = (parent_scope_id IS NULL))
);

CREATE TABLE groups (
    tenant_id    text NOT NULL REFERENCES tenants (tenant_id),
    group_id     text NOT NULL CHECK (group_id ~ '^group:'),
    display_name text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, group_id)
);

CREATE TABLE group_members (
    tenant_id  text NOT NULL,
    group_id   text NOT NULL,
    user_id    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, group_id, user_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, group_id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES tenant_accounts (tenant_id, user_id)
);
CREATE INDEX group_members_by_user ON group_members (tenant_id, user_id);

-- A membership's subject is a user (subject_user_id) or a group
-- (subject_group_id); its object is the tenant itself (object_scope_id NULL)
-- or one of the tenant's scopes.
CREATE TABLE memberships (
    tenant_id        text NOT NULL REFERENCES tenants (tenant_id),
    membership_id    text NOT NULL,
    subject_user_id  text,
    subject_group_id text,
    relation         text NOT NULL CHECK (relation ~ '^[a-z][a-z0-9_-]{0,62}$'),
    object_scope_id  text,
    state            text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'revoked')),
    valid_from       timestamptz,
    valid_until      timestamptz,
    version          bigint NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    revoked_at       timestamptz,
    PRIMARY KEY (tenant_id, membership_id),
    FOREIGN KEY (tenant_id, subject_user_id) REFERENCES tenant_accounts (tenant_id, user_id),
    FOREIGN KEY (tenant_id, subject_group_id) REFERENCES groups (tenant_id, group_id),
    FOREIGN KEY (tenant_id, object_scope_id) REFERENCES scopes (tenant_id, scope_id),
    CHECK ((subject_user_id IS NULL) <> (subject_group_id IS NULL)),
    CHECK (valid_until IS NULL OR valid_from IS NULL OR valid_until > valid_from)
);
-- One active grant per (subject, relation, object).
CREATE UNIQUE INDEX memberships_active_unique ON memberships (
    tenant_id, coalesce(subject_user_id, subject_group_id), relation, coalesce(object_scope_id, '')
) WHERE state = 'active';
CREATE INDEX memberships_by_user ON memberships (tenant_id, subject_user_id) WHERE subject_user_id IS NOT NULL;
CREATE INDEX memberships_by_group ON memberships (tenant_id, subject_group_id) WHERE subject_group_id IS NOT NULL;

CREATE TABLE access_profiles (
    tenant_id         text NOT NULL REFERENCES tenants (tenant_id),
    access_profile_id text NOT NULL CHECK (access_profile_id ~ '^profile:'),
    display_name      text NOT NULL DEFAULT '',
    definition        jsonb NOT NULL DEFAULT '{}'::jsonb,
    version           bigint NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, access_profile_id)
);

-- Evidence that a factor was proved; never the factor itself.
CREATE TABLE factor_evidence (
    tenant_id       text NOT NULL,
    evidence_id     text NOT NULL,
    user_id         text NOT NULL,
    factor_type     text NOT NULL CHECK (factor_type ~ '^[a-z][a-z0-9_-]{0,31}$'),
    assurance_level smallint NOT NULL CHECK (assurance_level BETWEEN 1 AND 3),
    verified_at     timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    issuer          text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, evidence_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES tenant_accounts (tenant_id, user_id),
    CHECK (expires_at > verified_at)
);
CREATE INDEX factor_evidence_by_user ON factor_evidence (tenant_id, user_id, expires_at);

CREATE TABLE hat_approvals (
    tenant_id         text NOT NULL,
    approval_id       text NOT NULL,
    user_id           text NOT NULL,
    access_profile_id text NOT NULL,
    scope_id          text,
    justification     text NOT NULL DEFAULT '',
    state             text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'rejected')),
    decided_by        text,
    version           bigint NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL DEFAULT now(),
    decided_at        timestamptz,
    expires_at        timestamptz,
    PRIMARY KEY (tenant_id, approval_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES tenant_accounts (tenant_id, user_id),
    FOREIGN KEY (tenant_id, access_profile_id) REFERENCES access_profiles (tenant_id, access_profile_id),
    FOREIGN KEY (tenant_id, scope_id) REFERENCES scopes (tenant_id, scope_id)
);

-- The hat a user is wearing; at most one per user and tenant.
CREATE TABLE active_contexts (
    tenant_id         text NOT NULL,
    user_id           text NOT NULL,
    access_profile_id text NOT NULL,
    scope_id          text,
    evidence_refs     text[] NOT NULL DEFAULT '{}',
    approval_id       text,
    selected_at       timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES tenant_accounts (tenant_id, user_id),
    FOREIGN KEY (tenant_id, access_profile_id) REFERENCES access_profiles (tenant_id, access_profile_id),
    FOREIGN KEY (tenant_id, scope_id) REFERENCES scopes (tenant_id, scope_id),
    FOREIGN KEY (tenant_id, approval_id) REFERENCES hat_approvals (tenant_id, approval_id)
);

-- One row per committed change, hash-chained per tenant; append-only.
CREATE TABLE audit_records (
    tenant_id        text NOT NULL REFERENCES tenants (tenant_id),
    seq              bigint NOT NULL CHECK (seq > 0),
    recorded_at      timestamptz NOT NULL,
    actor            text NOT NULL,
    actor_tenant_id  text NOT NULL,
    target_tenant_id text NOT NULL,
    action           text NOT NULL,
    decision         text NOT NULL CHECK (decision IN ('allow', 'deny')),
    policy_ids       text[] NOT NULL DEFAULT '{}',
    correlation_id   text NOT NULL,
    request_id       text NOT NULL DEFAULT '',
    change_summary   jsonb NOT NULL,
    break_glass      boolean NOT NULL DEFAULT false,
    prev_hash        text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash             text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
    PRIMARY KEY (tenant_id, seq)
);

-- One event per committed change, read by the fact change stream by seq.
CREATE TABLE outbox_events (
    tenant_id        text NOT NULL REFERENCES tenants (tenant_id),
    seq              bigint NOT NULL CHECK (seq > 0),
    event_type       text NOT NULL,
    correlation_id   text NOT NULL,
    actor_tenant_id  text NOT NULL,
    target_tenant_id text NOT NULL,
    payload          jsonb NOT NULL,
    created_at       timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);

CREATE TABLE idempotency_records (
    tenant_id   text NOT NULL REFERENCES tenants (tenant_id),
    request_id  text NOT NULL CHECK (length(request_id) BETWEEN 1 AND 128),
    operation   text NOT NULL,
    fingerprint text NOT NULL,
    result      jsonb NOT NULL,
    actor       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, request_id)
);

-- Row-level security on every tenant-scoped table ---------------------------

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'tenants', 'tenant_applications', 'tenant_accounts', 'profile_values', 'scopes',
        'groups', 'group_members', 'memberships', 'access_profiles', 'factor_evidence',
        'hat_approvals', 'active_contexts', 'audit_records', 'outbox_events',
        'idempotency_records'
    ] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (tenant_id = app_current_tenant())'
            ' WITH CHECK (tenant_id = app_current_tenant())', t);
    END LOOP;
END
$$;

-- Audit records are append-only, for every role -----------------------------

CREATE FUNCTION audit_records_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit records are append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_records_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_records
    FOR EACH ROW EXECUTE FUNCTION audit_records_append_only();
CREATE TRIGGER audit_records_no_truncate
    BEFORE TRUNCATE ON audit_records
    FOR EACH STATEMENT EXECUTE FUNCTION audit_records_append_only();

-- The explicit platform path -------------------------------------------------
-- SECURITY DEFINER functions owned by the owner role. They refuse to run
-- unless the transaction declared the platform context (app.platform = on),
-- which the unit of work sets only for platform-plane commands.

-- FORCE ROW LEVEL SECURITY binds the owner too, so the definer functions see
-- other tenants' rows through this policy, which applies to the owner role only
-- (the role running this migration) and only in the platform context.
CREATE POLICY platform_definer ON tenants TO CURRENT_USER
    USING (app_platform_context()) WITH CHECK (app_platform_context());

CREATE FUNCTION platform_require_context() RETURNS void
    LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT app_platform_context() THEN
        RAISE EXCEPTION 'platform context required' USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;

CREATE FUNCTION platform_create_tenant(p_tenant_id text, p_display_name text)
    RETURNS SETOF tenants
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM platform_require_context();
    RETURN QUERY
        INSERT INTO tenants (tenant_id, display_name, plane)
        VALUES (p_tenant_id, p_display_name,
                CASE WHEN p_tenant_id = 'tenant:platform' THEN 'platform' ELSE 'tenant' END)
        RETURNING *;
END
$$;

CREATE FUNCTION platform_list_tenants(p_after text, p_state text, p_limit integer)
    RETURNS SETOF tenants
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp STABLE AS $$
BEGIN
    PERFORM platform_require_context();
    RETURN QUERY
        SELECT * FROM tenants
        WHERE tenant_id > coalesce(p_after, '')
          AND (p_state IS NULL OR state = p_state)
        ORDER BY tenant_id
        LIMIT least(greatest(p_limit, 1), 1001);
END
$$;

-- The platform plane always exists.
SELECT set_config('app.platform', 'on', true);
SELECT platform_create_tenant('tenant:platform', 'Platform');
SELECT set_config('app.platform', '', true);

-- Grants to the runtime group role -----------------------------------------

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;
REVOKE ALL ON FUNCTION platform_create_tenant(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION platform_list_tenants(text, text, integer) FROM PUBLIC;

GRANT SELECT, INSERT ON users TO identity_context_runtime;
GRANT SELECT ON applications TO identity_context_runtime;
GRANT SELECT, UPDATE ON tenants TO identity_context_runtime;
GRANT SELECT, INSERT, UPDATE, DELETE ON
    tenant_applications, tenant_accounts, profile_values, scopes, groups, group_members,
    memberships, access_profiles, factor_evidence, hat_approvals, active_contexts
    TO identity_context_runtime;
GRANT SELECT, INSERT ON audit_records, outbox_events, idempotency_records
    TO identity_context_runtime;
GRANT EXECUTE ON FUNCTION platform_create_tenant(text, text) TO identity_context_runtime;
GRANT EXECUTE ON FUNCTION platform_list_tenants(text, text, integer) TO identity_context_runtime;
