-- Hats and the gateway hot path.
--
-- * Service principals (gateways, fact consumers) can hold memberships.
-- * Factor evidence keeps the gateway's opaque reference (never a factor).
-- * Hat approvals carry the requested duration and a pending window.
-- * Hats and approvals may use platform templates, which live in
--   tenant:platform: their foreign keys to access_profiles go.
-- * app_identity_context(): the hot path's one statement.

-- Service principals as membership subjects -----------------------------------

ALTER TABLE memberships
    ADD COLUMN subject_service_id text
        CHECK (subject_service_id ~ '^service:[a-z0-9][a-z0-9._-]{0,62}$');

DO $$
DECLARE
    found text;
BEGIN
    -- The unnamed CHECK ((subject_user_id IS NULL) <> (subject_group_id IS NULL)).
    SELECT conname INTO found FROM pg_constraint
    WHERE conrelid = 'memberships'::regclass AND contype = 'c'
      AND pg_get_constraintdef(oid) LIKE '%subject_user_id IS NULL%subject_group_id IS NULL%';
    EXECUTE format('ALTER TABLE memberships DROP CONSTRAINT %I', found);
END
$$;
ALTER TABLE memberships ADD CONSTRAINT memberships_one_subject
    CHECK (num_nonnulls(subject_user_id, subject_group_id, subject_service_id) = 1);

DROP INDEX memberships_active_unique;
CREATE UNIQUE INDEX memberships_active_unique ON memberships (
    tenant_id, coalesce(subject_user_id, subject_group_id, subject_service_id), relation,
    coalesce(object_scope_id, '')
) WHERE state = 'active';
CREATE INDEX memberships_by_service ON memberships (tenant_id, subject_service_id)
    WHERE subject_service_id IS NOT NULL;

-- The actor's roles now include those of service principals (the third branch).
-- Each branch is gated on the kind of actor (a one-time filter): a user's
-- roles cost the same two index probes as before.
CREATE OR REPLACE FUNCTION app_actor_roles(
    p_actor text, p_tenant text, p_platform_relations text[], p_tenant_relations text[]
) RETURNS text[]
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    found text[];
BEGIN
    SELECT coalesce(array_agg(DISTINCT held.relation ORDER BY held.relation), '{}') INTO found
    FROM (
        SELECT m.tenant_id, m.relation, m.valid_from, m.valid_until
        FROM memberships m
        WHERE p_actor LIKE 'user:%' AND m.tenant_id IN ('tenant:platform', p_tenant)
          AND m.subject_user_id = p_actor
          AND m.state = 'active' AND m.object_scope_id IS NULL
        UNION ALL
        SELECT m.tenant_id, m.relation, m.valid_from, m.valid_until
        FROM group_members g
        JOIN memberships m ON m.tenant_id = g.tenant_id AND m.subject_group_id = g.group_id
        WHERE p_actor LIKE 'user:%' AND g.tenant_id IN ('tenant:platform', p_tenant)
          AND g.user_id = p_actor
          AND m.state = 'active' AND m.object_scope_id IS NULL
        UNION ALL
        SELECT m.tenant_id, m.relation, m.valid_from, m.valid_until
        FROM memberships m
        WHERE p_actor LIKE 'service:%' AND m.tenant_id IN ('tenant:platform', p_tenant)
          AND m.subject_service_id = p_actor
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

-- Factor evidence, approvals, active contexts ---------------------------------

ALTER TABLE factor_evidence
    ADD COLUMN evidence_ref text NOT NULL DEFAULT '' CHECK (length(evidence_ref) <= 160);

ALTER TABLE hat_approvals
    ADD COLUMN requested_duration_s double precision CHECK (requested_duration_s > 0),
    ADD COLUMN pending_until timestamptz,
    ADD COLUMN decide_comment text NOT NULL DEFAULT '';
CREATE INDEX hat_approvals_by_hat ON hat_approvals (tenant_id, user_id, access_profile_id);

-- scope_parents: the parent of every scope the hat's requirements are judged
-- on (its own scope, the requirements' objects, and their ancestors), fixed
-- at selection (scopes are never moved or deleted), so a read needs no walk
-- up the scope tree.
ALTER TABLE active_contexts
    ADD COLUMN realm_id text,
    ADD COLUMN service_area_id text,
    ADD COLUMN asset_id text,
    ADD COLUMN scope_parents jsonb NOT NULL DEFAULT '{}'::jsonb;

DO $$
DECLARE
    found record;
BEGIN
    FOR found IN
        SELECT conrelid::regclass AS tab, conname FROM pg_constraint
        WHERE contype = 'f' AND confrelid = 'access_profiles'::regclass
          AND conrelid IN ('hat_approvals'::regclass, 'active_contexts'::regclass)
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', found.tab, found.conname);
    END LOOP;
END
$$;

-- The hot path -----------------------------------------------------------------

-- Everything GetIdentityContext and ProjectClaims need, for one user of one
-- tenant, in one statement: the caller's roles (for the policy decision the
-- service takes before anything leaves it), the tenant's state and change
-- sequence, the account, both profile layers, the groups, the memberships
-- holding now (direct and through groups), the active hat with its access
-- profile and the parents of the scopes its requirements are judged on, and
-- the unexpired factor evidence. Times are epoch seconds. Every read is an
-- index probe.
--
-- The explicit, read-only path of the hot path. It sets the tenant for the
-- statement's own transaction (the caller runs it in autocommit), so
-- row-level security holds every table to p_tenant as in any tenant
-- transaction; as the owner it also reads the caller's platform-plane roles
-- (the same query as app_actor_roles, inline: one plan, no nested call) and
-- the memberships, group members and active hats through the owner's
-- definer policies, which is why every query names p_tenant itself. The
-- GLOBAL layer and platform templates come through their shared-read
-- policies.
CREATE FUNCTION app_identity_context(
    p_actor text, p_tenant text, p_user text,
    p_platform_relations text[], p_tenant_relations text[]
) RETURNS text
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    result json;
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant, true);
    SELECT json_build_object(
        'roles', (SELECT coalesce(array_agg(DISTINCT held.relation ORDER BY held.relation), '{}')
                  FROM (
                      SELECT m.tenant_id, m.relation, m.valid_from, m.valid_until
                      FROM memberships m
                      WHERE p_actor LIKE 'user:%' AND m.tenant_id IN ('tenant:platform', p_tenant)
                        AND m.subject_user_id = p_actor
                        AND m.state = 'active' AND m.object_scope_id IS NULL
                      UNION ALL
                      SELECT m.tenant_id, m.relation, m.valid_from, m.valid_until
                      FROM group_members g
                      JOIN memberships m
                        ON m.tenant_id = g.tenant_id AND m.subject_group_id = g.group_id
                      WHERE p_actor LIKE 'user:%' AND g.tenant_id IN ('tenant:platform', p_tenant)
                        AND g.user_id = p_actor
                        AND m.state = 'active' AND m.object_scope_id IS NULL
                      UNION ALL
                      SELECT m.tenant_id, m.relation, m.valid_from, m.valid_until
                      FROM memberships m
                      WHERE p_actor LIKE 'service:%' AND m.tenant_id IN ('tenant:platform', p_tenant)
                        AND m.subject_service_id = p_actor
                        AND m.state = 'active' AND m.object_scope_id IS NULL
                  ) held
                  WHERE (held.valid_from IS NULL OR held.valid_from <= now())
                    AND (held.valid_until IS NULL OR now() < held.valid_until)
                    AND ((held.tenant_id = 'tenant:platform'
                          AND held.relation = ANY (p_platform_relations))
                         OR (held.tenant_id = p_tenant AND p_tenant <> 'tenant:platform'
                             AND held.relation = ANY (p_tenant_relations)))),
        'now', extract(epoch FROM now()),
        'tenant', (SELECT json_build_array(t.state, t.last_seq) FROM tenants t
                   WHERE t.tenant_id = p_tenant),
        'account', (SELECT a.state FROM tenant_accounts a
                    WHERE a.tenant_id = p_tenant AND a.user_id = p_user),
        'values', (SELECT json_agg(json_build_array(
                        v.tenant_id = 'tenant:platform', v.key, v.value, v.sensitive)
                        ORDER BY v.key)
                   FROM profile_values v
                   WHERE v.tenant_id IN (p_tenant, 'tenant:platform') AND v.user_id = p_user),
        'groups', (SELECT json_agg(g.group_id ORDER BY g.group_id) FROM group_members g
                   WHERE g.tenant_id = p_tenant AND g.user_id = p_user),
        'memberships', (SELECT json_agg(json_build_array(
                             h.membership_id, h.subject, h.relation,
                             coalesce(h.object_scope_id, p_tenant), h.via,
                             extract(epoch FROM h.valid_from), extract(epoch FROM h.valid_until),
                             extract(epoch FROM h.created_at), h.version)
                             ORDER BY h.membership_id, h.via)
                        FROM (
                            SELECT m.*, m.subject_user_id AS subject, NULL::text AS via
                            FROM memberships m
                            WHERE m.tenant_id = p_tenant AND m.subject_user_id = p_user
                              AND m.state = 'active'
                            UNION ALL
                            SELECT m.*, m.subject_group_id AS subject, g.group_id AS via
                            FROM group_members g
                            JOIN memberships m
                              ON m.tenant_id = g.tenant_id AND m.subject_group_id = g.group_id
                            WHERE g.tenant_id = p_tenant AND g.user_id = p_user
                              AND m.state = 'active'
                        ) h
                        WHERE (h.valid_from IS NULL OR h.valid_from <= now())
                          AND (h.valid_until IS NULL OR now() < h.valid_until)),
        'active', (SELECT json_build_array(
                        ac.access_profile_id, coalesce(ac.scope_id, p_tenant),
                        ac.realm_id, ac.service_area_id, ac.asset_id,
                        to_json(ac.evidence_refs), ac.approval_id,
                        extract(epoch FROM ac.selected_at), extract(epoch FROM ac.expires_at),
                        ac.scope_parents, ap.definition, ap.version)
                   FROM active_contexts ac
                   LEFT JOIN access_profiles ap
                     ON ap.tenant_id = CASE WHEN ac.access_profile_id LIKE 'profile:platform/%'
                                            THEN 'tenant:platform' ELSE p_tenant END
                    AND ap.access_profile_id = ac.access_profile_id
                   WHERE ac.tenant_id = p_tenant AND ac.user_id = p_user),
        'evidence', (SELECT json_agg(json_build_array(
                          e.evidence_id, e.factor_type, e.assurance_level,
                          extract(epoch FROM e.verified_at), extract(epoch FROM e.expires_at))
                          ORDER BY e.evidence_id)
                     FROM factor_evidence e
                     WHERE e.tenant_id = p_tenant AND e.user_id = p_user
                       AND e.expires_at > now())
    ) INTO result;
    RETURN result::text;
END
$$;

REVOKE ALL ON FUNCTION app_identity_context(text, text, text, text[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_identity_context(text, text, text, text[], text[])
    TO identity_context_runtime;

-- Hats that expire -------------------------------------------------------------

-- The hats past their expiry, in every tenant, oldest first, for the sweeper
-- that ends them (each ending is then recorded in its tenant's own unit of
-- work). Definer: the owner may read active_contexts across tenants here
-- (FORCE ROW LEVEL SECURITY binds it too); the runtime role learns only
-- (tenant, user) pairs of expired hats.
CREATE INDEX active_contexts_by_expiry ON active_contexts (expires_at)
    WHERE expires_at IS NOT NULL;
CREATE POLICY hat_expiry_definer ON active_contexts FOR SELECT TO CURRENT_USER USING (true);
CREATE FUNCTION app_expired_hats(p_limit integer)
RETURNS TABLE (tenant_id text, user_id text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT a.tenant_id, a.user_id FROM active_contexts a
    WHERE a.expires_at IS NOT NULL AND a.expires_at <= now()
    ORDER BY a.expires_at LIMIT p_limit
$$;
REVOKE ALL ON FUNCTION app_expired_hats(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_expired_hats(integer) TO identity_context_runtime;
