-- Tenant administration: the application catalog, the platform path for
-- reading and changing other tenants, and indexes for the list RPCs.

INSERT INTO applications (application_id, display_name, required) VALUES
    ('app:mail', 'Mail', false),
    ('app:calendar', 'Calendar', false),
    ('app:drive', 'Drive', false),
    ('app:chat', 'Chat', false)
ON CONFLICT (application_id) DO NOTHING;

CREATE FUNCTION platform_get_tenant(p_tenant_id text)
    RETURNS SETOF tenants
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp STABLE AS $$
BEGIN
    PERFORM platform_require_context();
    RETURN QUERY SELECT * FROM tenants WHERE tenant_id = p_tenant_id;
END
$$;

-- Changes another tenant's state; p_expected_version NULL skips the etag check.
-- Returns no row when the tenant does not exist or the version differs.
CREATE FUNCTION platform_set_tenant_state(p_tenant_id text, p_state text, p_expected_version bigint)
    RETURNS SETOF tenants
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM platform_require_context();
    RETURN QUERY
        UPDATE tenants SET state = p_state, version = version + 1, updated_at = now()
        WHERE tenant_id = p_tenant_id
          AND (p_expected_version IS NULL OR version = p_expected_version)
        RETURNING *;
END
$$;

REVOKE ALL ON FUNCTION platform_get_tenant(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION platform_set_tenant_state(text, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION platform_get_tenant(text) TO identity_context_runtime;
GRANT EXECUTE ON FUNCTION platform_set_tenant_state(text, text, bigint) TO identity_context_runtime;

CREATE INDEX memberships_by_object ON memberships (tenant_id, object_scope_id);
CREATE INDEX scopes_by_parent ON scopes (tenant_id, parent_scope_id);
