-- The one-transaction request path.
--
-- * app_actor_roles(): the actor's roles on tenant:platform and on the target
--   tenant, in one statement, for the policy decision taken inside the
--   command's own transaction (and re-read before commit, under the tenant
--   lock, so a revocation committed before the lock is always honoured).
-- * tenants.last_hash: the head of the audit chain, read together with
--   last_seq under the tenant lock, so recording a change needs no extra read.

ALTER TABLE tenants
    ADD COLUMN last_hash text NOT NULL DEFAULT repeat('0', 64) CHECK (last_hash ~ '^[0-9a-f]{64}$');

UPDATE tenants t SET last_hash = a.hash
FROM audit_records a
WHERE a.tenant_id = t.tenant_id AND a.seq = t.last_seq AND t.last_seq > 0;

-- FORCE ROW LEVEL SECURITY binds the owner too. The definer function below
-- reads the platform plane's memberships and the target tenant's in one
-- statement, so the owner role (the role running this migration, which owns
-- these tables and could switch row-level security off anyway) may read them.
-- The runtime role gains nothing: it still sees only its tenant's rows.
CREATE POLICY actor_roles_definer ON memberships FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY actor_roles_definer ON group_members FOR SELECT TO CURRENT_USER USING (true);

-- Which of the given relations the actor holds, directly or through a group,
-- on tenant:platform itself (p_platform_relations) and on the tenant p_tenant
-- itself (p_tenant_relations), now. Returned sorted and distinct.
CREATE FUNCTION app_actor_roles(
    p_actor text, p_tenant text, p_platform_relations text[], p_tenant_relations text[]
) RETURNS text[]
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    found text[];
BEGIN
    -- Two index lookups (held directly; held through a group), never a scan:
    -- memberships_by_user, group_members_by_user and memberships_by_group.
    SELECT coalesce(array_agg(DISTINCT held.relation ORDER BY held.relation), '{}') INTO found
    FROM (
        SELECT m.tenant_id, m.relation, m.valid_from, m.valid_until
        FROM memberships m
        WHERE m.tenant_id IN ('tenant:platform', p_tenant) AND m.subject_user_id = p_actor
          AND m.state = 'active' AND m.object_scope_id IS NULL
        UNION ALL
        SELECT m.tenant_id, m.relation, m.valid_from, m.valid_until
        FROM group_members g
        JOIN memberships m ON m.tenant_id = g.tenant_id AND m.subject_group_id = g.group_id
        WHERE g.tenant_id IN ('tenant:platform', p_tenant) AND g.user_id = p_actor
          AND m.state = 'active' AND m.object_scope_id IS NULL
    ) held
    WHERE (held.valid_from IS NULL OR held.valid_from <= now())
      AND (held.valid_until IS NULL OR now() < held.valid_until)
      AND ((held.tenant_id = 'tenant:platform' AND held.relation = ANY (p_platform_relations))
           OR (held.tenant_id = p_tenant AND p_tenant <> 'tenant:platform'
               AND held.relation = ANY (p_tenant_relations)));
    RETURN found;
END
$$;

REVOKE ALL ON FUNCTION app_actor_roles(text, text, text[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_actor_roles(text, text, text[], text[]) TO identity_context_runtime;

-- Platform templates (access profiles of tenant:platform) and the GLOBAL
-- profile layer (profile values of tenant:platform) apply in every tenant:
-- any tenant context may read them, never write them (and without a tenant
-- context nothing is visible, as everywhere else).
CREATE POLICY platform_shared_read ON access_profiles FOR SELECT
    USING (tenant_id = 'tenant:platform' AND app_current_tenant() IS NOT NULL);
CREATE POLICY platform_shared_read ON profile_values FOR SELECT
    USING (tenant_id = 'tenant:platform' AND app_current_tenant() IS NOT NULL);
