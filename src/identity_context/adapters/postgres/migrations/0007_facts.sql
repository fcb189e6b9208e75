-- Access-control facts: the current facts of every tenant in both export
-- modes, and every change of them numbered by the tenant's change sequence.
--
-- The facts are derived from memberships, group members, active hats and
-- scopes. Triggers on those tables note which owners (a user, a group, a
-- scope) a transaction touched (fact_dirty); the unit of work's closing
-- statement calls app_refresh_facts(seq, ...) under the tenant lock, which
-- recomputes the facts of those owners, diffs them against `facts`, applies
-- the difference and appends it to fact_changes with the commit's last seq.
-- So fact_changes is commit ordered and gapless per tenant exactly like the
-- audit trail, and a snapshot that sees tenants.last_seq = N sees every fact
-- change up to N and none after.
--
-- Modes: 1 = NATIVE (group-held memberships stay on `group:...#member`),
-- 2 = FLATTENED (one fact per (subject, relation, object) of a user, holding
-- while any ground holds; `via` lists the groups).
-- Sources (FactSource numbers): 1 DIRECT, 2 GROUP, 3 ACTIVE_CONTEXT, 4 SCOPE.
-- These tables are derived and written only by the definer functions below:
-- no foreign keys (a referential check per written row would cost more than
-- the rest of the refresh), row-level security like every tenant table.

CREATE TABLE facts (
    tenant_id      text NOT NULL,
    mode           smallint NOT NULL CHECK (mode IN (1, 2)),
    owner          text NOT NULL,
    subject        text NOT NULL,
    relation       text NOT NULL,
    object         text NOT NULL,
    source         smallint NOT NULL CHECK (source BETWEEN 1 AND 4),
    via            text[] NOT NULL DEFAULT '{}',
    evidence_refs  text[] NOT NULL DEFAULT '{}',
    access_profile text NOT NULL DEFAULT '',
    valid_from     timestamptz,
    valid_until    timestamptz,
    -- the fact in the contract's wire encoding, framed as field 1 of
    -- ExportFactsResponse (app_pb_fact): an export streams these bytes
    pb             bytea NOT NULL,
    -- covering: an export is an index-only scan in key order (no heap visits)
    PRIMARY KEY (tenant_id, mode, subject, relation, object) INCLUDE (pb)
);
CREATE INDEX facts_by_owner ON facts (tenant_id, mode, owner);

CREATE TABLE fact_changes (
    tenant_id      text NOT NULL,
    mode           smallint NOT NULL CHECK (mode IN (1, 2)),
    seq            bigint NOT NULL CHECK (seq > 0),
    ord            integer NOT NULL CHECK (ord > 0),
    op             smallint NOT NULL CHECK (op IN (1, 2)),  -- 1 WRITE, 2 DELETE
    subject        text NOT NULL,
    relation       text NOT NULL,
    object         text NOT NULL,
    source         smallint NOT NULL,
    via            text[] NOT NULL DEFAULT '{}',
    evidence_refs  text[] NOT NULL DEFAULT '{}',
    access_profile text NOT NULL DEFAULT '',
    valid_from     timestamptz,
    valid_until    timestamptz,
    committed_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, mode, seq, ord)
);
CREATE INDEX fact_changes_by_time ON fact_changes (tenant_id, committed_at);

-- The highest seq whose fact changes the pruning job may have deleted; a
-- facts token before it is expired.
CREATE TABLE fact_retention (
    tenant_id      text PRIMARY KEY,
    pruned_through bigint NOT NULL DEFAULT 0
);

-- Bookkeeping of the definer functions only (no grants to the runtime role):
-- the owners a transaction touched, consumed before it commits, and the
-- moments a membership window opens or closes. Row-level security like every
-- tenant table, plus a policy for the owner role whose definer functions keep
-- them (rows written by SQL loads without a tenant context included).
CREATE UNLOGGED TABLE fact_dirty (
    tenant_id text NOT NULL,
    owner     text NOT NULL,
    PRIMARY KEY (tenant_id, owner)
);
CREATE TABLE fact_timers (
    tenant_id text NOT NULL,
    due_at    timestamptz NOT NULL,
    owner     text NOT NULL,
    PRIMARY KEY (tenant_id, due_at, owner)
);
CREATE INDEX fact_timers_due ON fact_timers (due_at);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['facts', 'fact_changes', 'fact_retention', 'fact_dirty',
                             'fact_timers'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (tenant_id = app_current_tenant())'
            ' WITH CHECK (tenant_id = app_current_tenant())', t);
    END LOOP;
END
$$;
GRANT SELECT ON facts, fact_changes, fact_retention TO identity_context_runtime;

CREATE POLICY fact_bookkeeping ON fact_dirty TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY fact_bookkeeping ON fact_timers TO CURRENT_USER USING (true) WITH CHECK (true);

-- The pruning job works across tenants (definer functions below).
CREATE POLICY fact_pruning_definer ON fact_changes TO CURRENT_USER
    USING (app_platform_context()) WITH CHECK (app_platform_context());
CREATE POLICY fact_pruning_definer ON fact_retention TO CURRENT_USER
    USING (app_platform_context()) WITH CHECK (app_platform_context());
CREATE POLICY fact_pruning_definer ON outbox_events TO CURRENT_USER
    USING (app_platform_context()) WITH CHECK (app_platform_context());

-- The protobuf wire encoding of a fact ------------------------------------------
-- identitycontext.v1.AccessControlFact, fields in number order, proto3
-- defaults omitted, exactly as the Python runtime serializes it (a test
-- compares the two), framed as field 1 (`facts`) of ExportFactsResponse.

CREATE FUNCTION app_pb_varint(p_value numeric) RETURNS bytea
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    v numeric := CASE WHEN p_value < 0 THEN p_value + 18446744073709551616 ELSE p_value END;
    out bytea := '';
    b integer;
BEGIN
    LOOP
        b := (v % 128)::integer;
        v := div(v, 128);
        IF v = 0 THEN
            RETURN out || set_byte('\x00'::bytea, 0, b);
        END IF;
        out := out || set_byte('\x00'::bytea, 0, b + 128);
    END LOOP;
END
$$;

-- A varint below 2^35 (lengths, enum numbers, timestamps until the year 3058),
-- as one expression the planner inlines.
CREATE FUNCTION app_pb_vi(n bigint) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        WHEN n < 128 THEN set_byte('\x00'::bytea, 0, n::integer)
        WHEN n < 16384 THEN set_byte(set_byte('\x0000'::bytea, 0, (n % 128 + 128)::integer),
                                     1, (n / 128)::integer)
        WHEN n < 2097152 THEN set_byte(set_byte(set_byte('\x000000'::bytea,
            0, (n % 128 + 128)::integer), 1, (n / 128 % 128 + 128)::integer),
            2, (n / 16384)::integer)
        WHEN n < 268435456 THEN set_byte(set_byte(set_byte(set_byte('\x00000000'::bytea,
            0, (n % 128 + 128)::integer), 1, (n / 128 % 128 + 128)::integer),
            2, (n / 16384 % 128 + 128)::integer), 3, (n / 2097152)::integer)
        ELSE set_byte(set_byte(set_byte(set_byte(set_byte('\x0000000000'::bytea,
            0, (n % 128 + 128)::integer), 1, (n / 128 % 128 + 128)::integer),
            2, (n / 16384 % 128 + 128)::integer), 3, (n / 2097152 % 128 + 128)::integer),
            4, (n / 268435456)::integer)
    END
$$;

-- A google.protobuf.Timestamp's body (seconds, nanos; zeros omitted).
CREATE FUNCTION app_pb_timestamp(p_value timestamptz) RETURNS bytea
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    seconds bigint := floor(extract(epoch FROM p_value))::bigint;
    nanos bigint := (extract(microseconds FROM p_value)::bigint % 1000000) * 1000;
    body bytea := '';
BEGIN
    IF seconds <> 0 THEN
        body := '\x08'::bytea || CASE WHEN seconds < 0 OR seconds >= 34359738368
                                      THEN app_pb_varint(seconds) ELSE app_pb_vi(seconds) END;
    END IF;
    IF nanos <> 0 THEN
        body := body || '\x10'::bytea || app_pb_vi(nanos);
    END IF;
    RETURN body;
END
$$;

CREATE FUNCTION app_pb_fact(
    p_tenant text, p_subject text, p_relation text, p_object text, p_source smallint,
    p_via text[], p_evidence_refs text[], p_access_profile text,
    p_valid_from timestamptz, p_valid_until timestamptz
) RETURNS bytea
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    b bytea := '';
    v bytea;
    e text;
BEGIN
    v := convert_to(p_tenant, 'UTF8');
    IF length(v) > 0 THEN b := b || '\x0a'::bytea || app_pb_vi(length(v)) || v; END IF;
    v := convert_to(p_subject, 'UTF8');
    IF length(v) > 0 THEN b := b || '\x12'::bytea || app_pb_vi(length(v)) || v; END IF;
    v := convert_to(p_relation, 'UTF8');
    IF length(v) > 0 THEN b := b || '\x1a'::bytea || app_pb_vi(length(v)) || v; END IF;
    v := convert_to(p_object, 'UTF8');
    IF length(v) > 0 THEN b := b || '\x22'::bytea || app_pb_vi(length(v)) || v; END IF;
    IF p_source <> 0 THEN b := b || '\x28'::bytea || app_pb_vi(p_source); END IF;
    v := convert_to(coalesce(p_via[1], ''), 'UTF8');
    IF length(v) > 0 THEN b := b || '\x32'::bytea || app_pb_vi(length(v)) || v; END IF;
    FOREACH e IN ARRAY coalesce(p_evidence_refs, '{}') LOOP
        v := convert_to(e, 'UTF8');
        b := b || '\x3a'::bytea || app_pb_vi(length(v)) || v;
    END LOOP;
    IF p_valid_until IS NOT NULL THEN
        v := app_pb_timestamp(p_valid_until);
        b := b || '\x42'::bytea || app_pb_vi(length(v)) || v;
    END IF;
    FOREACH e IN ARRAY coalesce(p_via, '{}') LOOP
        v := convert_to(e, 'UTF8');
        b := b || '\x4a'::bytea || app_pb_vi(length(v)) || v;
    END LOOP;
    IF p_valid_from IS NOT NULL THEN
        v := app_pb_timestamp(p_valid_from);
        b := b || '\x52'::bytea || app_pb_vi(length(v)) || v;
    END IF;
    v := convert_to(p_access_profile, 'UTF8');
    IF length(v) > 0 THEN b := b || '\x5a'::bytea || app_pb_vi(length(v)) || v; END IF;
    RETURN '\x0a'::bytea || app_pb_vi(length(b)) || b;
END
$$;

-- Triggers: note the owners a change touches -----------------------------------

CREATE FUNCTION app_note_fact_owner() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r record;
    who text;
BEGIN
    FOR r IN SELECT * FROM (VALUES (1), (2)) v(i) LOOP
        IF (r.i = 1 AND TG_OP = 'INSERT') OR (r.i = 2 AND TG_OP = 'DELETE') THEN
            CONTINUE;
        END IF;
        -- i = 1: the old row, i = 2: the new row
        IF TG_TABLE_NAME = 'memberships' THEN
            IF r.i = 1 THEN
                who := coalesce(OLD.subject_user_id, OLD.subject_group_id);
            ELSE
                who := coalesce(NEW.subject_user_id, NEW.subject_group_id);
                IF NEW.state = 'active' AND NEW.valid_from > now() THEN
                    INSERT INTO fact_timers VALUES (NEW.tenant_id, NEW.valid_from, who)
                        ON CONFLICT DO NOTHING;
                END IF;
                IF NEW.state = 'active' AND NEW.valid_until > now() THEN
                    INSERT INTO fact_timers VALUES (NEW.tenant_id, NEW.valid_until, who)
                        ON CONFLICT DO NOTHING;
                END IF;
            END IF;
        ELSIF TG_TABLE_NAME = 'scopes' THEN
            who := CASE WHEN r.i = 1 THEN OLD.scope_id ELSE NEW.scope_id END;
        ELSE  -- group_members, active_contexts
            who := CASE WHEN r.i = 1 THEN OLD.user_id ELSE NEW.user_id END;
        END IF;
        -- memberships of service principals carry no facts
        IF who IS NOT NULL THEN
            INSERT INTO fact_dirty VALUES (
                CASE WHEN r.i = 1 THEN OLD.tenant_id ELSE NEW.tenant_id END, who)
                ON CONFLICT DO NOTHING;
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE TRIGGER memberships_facts AFTER INSERT OR UPDATE OR DELETE ON memberships
    FOR EACH ROW EXECUTE FUNCTION app_note_fact_owner();
CREATE TRIGGER group_members_facts AFTER INSERT OR UPDATE OR DELETE ON group_members
    FOR EACH ROW EXECUTE FUNCTION app_note_fact_owner();
CREATE TRIGGER active_contexts_facts AFTER INSERT OR UPDATE OR DELETE ON active_contexts
    FOR EACH ROW EXECUTE FUNCTION app_note_fact_owner();
CREATE TRIGGER scopes_facts AFTER INSERT OR UPDATE OR DELETE ON scopes
    FOR EACH ROW EXECUTE FUNCTION app_note_fact_owner();

-- Recompute the facts of the owners this transaction touched (a user's facts
-- in both modes, a group's NATIVE `#member` facts, the FLATTENED facts of every
-- member of a group, a scope's SCOPE fact), apply the difference and (p_log)
-- append it to fact_changes at p_seq. Runs in the
-- tenant's transaction (app.tenant_id), under its lock. Returns the number
-- of fact changes.
CREATE FUNCTION app_refresh_facts(p_seq bigint, p_at timestamptz, p_log boolean)
RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_tenant text := app_current_tenant();
    v_modes smallint[];
    v_owners text[];
    v_changes integer;
BEGIN
    IF v_tenant IS NULL THEN
        RAISE EXCEPTION 'tenant context required' USING ERRCODE = 'insufficient_privilege';
    END IF;
    WITH consumed AS (
        DELETE FROM fact_dirty WHERE tenant_id = v_tenant RETURNING owner
    ), touched AS (
        SELECT DISTINCT owner FROM consumed
    ), owners AS (
        SELECT 1::smallint AS mode, owner FROM touched
        UNION
        SELECT 2::smallint, owner FROM touched WHERE owner NOT LIKE 'group:%'
        UNION  -- a group's memberships changed: the FLATTENED facts of its members
        SELECT 2::smallint, g.user_id FROM touched t
        JOIN group_members g ON g.tenant_id = v_tenant AND g.group_id = t.owner
    )
    SELECT array_agg(mode), array_agg(owner) INTO v_modes, v_owners FROM owners;
    IF v_owners IS NULL THEN
        RETURN 0;
    END IF;
    IF cardinality(v_owners) > 64 THEN  -- many owners: plan for their number (reverted at exit)
        PERFORM set_config('plan_cache_mode', 'force_custom_plan', true);
    END IF;
    WITH wanted (mode, owner, subject, relation, object, source, via, evidence_refs,
                 access_profile, valid_from, valid_until) AS (
            WITH owners AS (
                SELECT DISTINCT o.mode, o.owner FROM unnest(v_modes, v_owners) AS o(mode, owner)
            ), users AS (  -- each user once, with the modes wanted (no join back to owners)
                SELECT owner, bool_or(mode = 1) AS native, bool_or(mode = 2) AS flat
                FROM owners WHERE owner LIKE 'user:%' GROUP BY owner
            ), holding AS NOT MATERIALIZED (
                SELECT m.* FROM memberships m
                WHERE m.tenant_id = v_tenant AND m.state = 'active'
                  AND (m.valid_from IS NULL OR m.valid_from <= now())
                  AND (m.valid_until IS NULL OR m.valid_until > now())
            ), grounds AS (  -- a user's memberships held directly or through a group
                SELECT u.owner AS usr, u.native, u.flat, h.relation,
                       coalesce(h.object_scope_id, h.tenant_id) AS object,
                       NULL::text AS grp, h.valid_from, h.valid_until
                FROM users u JOIN holding h ON h.subject_user_id = u.owner
                UNION ALL
                SELECT u.owner, u.native, u.flat, h.relation, coalesce(h.object_scope_id, h.tenant_id),
                       g.group_id, h.valid_from, h.valid_until
                FROM users u
                JOIN group_members g ON g.tenant_id = v_tenant AND g.user_id = u.owner
                JOIN holding h ON h.subject_group_id = g.group_id
            )
            -- NATIVE: a user's own memberships
            SELECT 1::smallint, g.usr, g.usr, g.relation, g.object, 1::smallint, '{}'::text[],
                   '{}'::text[], '', g.valid_from, g.valid_until
            FROM grounds g
            WHERE g.grp IS NULL AND g.native
            UNION ALL
            -- NATIVE: a group's memberships, on its `#member` userset
            SELECT 1::smallint, o.owner, o.owner || '#member', h.relation,
                   coalesce(h.object_scope_id, h.tenant_id), 1::smallint, '{}'::text[], '{}'::text[], '',
                   h.valid_from, h.valid_until
            FROM owners o JOIN holding h ON h.subject_group_id = o.owner
            WHERE o.mode = 1 AND o.owner LIKE 'group:%'
            UNION ALL
            -- FLATTENED: one fact per (user, relation, object), while any ground holds
            SELECT 2::smallint, g.usr, g.usr, g.relation, g.object,
                   CASE WHEN bool_or(g.grp IS NULL) THEN 1 ELSE 2 END::smallint,
                   coalesce(array_agg(DISTINCT g.grp ORDER BY g.grp) FILTER (WHERE g.grp IS NOT NULL),
                            '{}'::text[]),
                   '{}'::text[], '',
                   CASE WHEN bool_or(g.valid_from IS NULL) THEN NULL ELSE min(g.valid_from) END,
                   CASE WHEN bool_or(g.valid_until IS NULL) THEN NULL ELSE max(g.valid_until) END
            FROM grounds g
            WHERE g.flat
            GROUP BY g.usr, g.relation, g.object
            UNION ALL
            -- both modes: the user is a member of a group
            SELECT o.mode, o.owner, o.owner, 'member', g.group_id, 2::smallint, '{}'::text[],
                   '{}'::text[], '', NULL::timestamptz, NULL::timestamptz
            FROM owners o JOIN group_members g ON g.tenant_id = v_tenant AND g.user_id = o.owner
            UNION ALL
            -- both modes: the hat the user wears, on its scope (or the tenant)
            SELECT o.mode, o.owner, o.owner, 'wears', coalesce(a.scope_id, a.tenant_id), 3::smallint,
                   '{}'::text[], a.evidence_refs, a.access_profile_id, a.selected_at, a.expires_at
            FROM owners o JOIN active_contexts a ON a.tenant_id = v_tenant AND a.user_id = o.owner
            UNION ALL
            -- both modes: a scope's parent (a realm's is the tenant)
            SELECT o.mode, o.owner, coalesce(s.parent_scope_id, s.tenant_id), 'parent', s.scope_id,
                   4::smallint, '{}'::text[], '{}'::text[], '', NULL::timestamptz, NULL::timestamptz
            FROM owners o JOIN scopes s ON s.tenant_id = v_tenant AND s.scope_id = o.owner
    ), held AS (
        SELECT f.* FROM facts f
        JOIN unnest(v_modes, v_owners) AS o(mode, owner)
          ON f.tenant_id = v_tenant AND f.mode = o.mode AND f.owner = o.owner
    ), gone AS (
        SELECT h.mode, h.owner, h.subject, h.relation, h.object, h.source, h.via,
               h.evidence_refs, h.access_profile, h.valid_from, h.valid_until
        FROM held h
        WHERE NOT EXISTS (
            SELECT 1 FROM wanted w
            WHERE w.mode = h.mode AND w.subject = h.subject AND w.relation = h.relation
              AND w.object = h.object)
    ), written AS (
        SELECT w.* FROM wanted w
        WHERE NOT EXISTS (
            SELECT 1 FROM held h
            WHERE h.mode = w.mode AND h.subject = w.subject AND h.relation = w.relation
              AND h.object = w.object AND h.source = w.source AND h.via = w.via
              AND h.evidence_refs = w.evidence_refs AND h.access_profile = w.access_profile
              AND h.valid_from IS NOT DISTINCT FROM w.valid_from
              AND h.valid_until IS NOT DISTINCT FROM w.valid_until)
    ), deleted AS (
        DELETE FROM facts f USING gone g
        WHERE f.tenant_id = v_tenant AND f.mode = g.mode AND f.subject = g.subject
          AND f.relation = g.relation AND f.object = g.object
    ), upserted AS (
        INSERT INTO facts (tenant_id, mode, owner, subject, relation, object, source, via,
                           evidence_refs, access_profile, valid_from, valid_until, pb)
        SELECT v_tenant, w.mode, w.owner, w.subject, w.relation, w.object, w.source, w.via,
               w.evidence_refs, w.access_profile, w.valid_from, w.valid_until,
               app_pb_fact(v_tenant, w.subject, w.relation, w.object, w.source, w.via,
                           w.evidence_refs, w.access_profile, w.valid_from, w.valid_until)
        FROM written w
        ON CONFLICT (tenant_id, mode, subject, relation, object) DO UPDATE SET
            owner = excluded.owner, source = excluded.source, via = excluded.via,
            evidence_refs = excluded.evidence_refs, access_profile = excluded.access_profile,
            valid_from = excluded.valid_from, valid_until = excluded.valid_until,
            pb = excluded.pb
    ), changed AS (
        SELECT 2::smallint AS op, g.* FROM gone g
        UNION ALL
        SELECT 1::smallint, w.* FROM written w
    ), logged AS (
        INSERT INTO fact_changes (tenant_id, mode, seq, ord, op, subject, relation, object,
                                  source, via, evidence_refs, access_profile, valid_from,
                                  valid_until, committed_at)
        SELECT v_tenant, c.mode, p_seq,
               row_number() OVER (PARTITION BY c.mode
                                  ORDER BY c.op DESC, c.subject, c.relation, c.object),
               c.op, c.subject, c.relation, c.object, c.source, c.via, c.evidence_refs,
               c.access_profile, c.valid_from, c.valid_until, p_at
        FROM changed c
        WHERE p_log
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM changed) INTO v_changes;
    IF p_log AND v_changes > 0 THEN
        PERFORM pg_notify('identity_context_facts', v_tenant);
    END IF;
    RETURN v_changes;
END
$$;
REVOKE ALL ON FUNCTION app_refresh_facts(bigint, timestamptz, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_refresh_facts(bigint, timestamptz, boolean)
    TO identity_context_runtime;

-- Rebuild every fact of the current tenant without logging changes (after
-- the migration, and for data loaded by SQL).
CREATE FUNCTION app_rebuild_facts() RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_tenant text := app_current_tenant();
BEGIN
    INSERT INTO fact_dirty
        SELECT v_tenant, u.user_id FROM tenant_accounts u WHERE u.tenant_id = v_tenant
        UNION SELECT v_tenant, g.group_id FROM groups g WHERE g.tenant_id = v_tenant
        UNION SELECT v_tenant, s.scope_id FROM scopes s WHERE s.tenant_id = v_tenant
        UNION SELECT v_tenant, f.owner FROM facts f WHERE f.tenant_id = v_tenant
        ON CONFLICT DO NOTHING;
    RETURN app_refresh_facts(0, now(), false);
END
$$;
REVOKE ALL ON FUNCTION app_rebuild_facts() FROM PUBLIC;

DO $$
DECLARE
    t text;
BEGIN
    PERFORM set_config('app.platform', 'on', true);
    FOR t IN SELECT tenant_id FROM tenants LOOP
        PERFORM set_config('app.tenant_id', t, true);
        PERFORM app_rebuild_facts();
    END LOOP;
    PERFORM set_config('app.tenant_id', '', true);
    PERFORM set_config('app.platform', '', true);
END
$$;

-- Membership windows that open or close ----------------------------------------

-- The tenants with a window due, for the job that records each as a change
-- in its tenant's own unit of work.
CREATE FUNCTION app_due_fact_windows(p_limit integer) RETURNS SETOF text
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT DISTINCT tenant_id FROM (
        SELECT tenant_id FROM fact_timers WHERE due_at <= now() ORDER BY due_at LIMIT p_limit
    ) due
$$;
REVOKE ALL ON FUNCTION app_due_fact_windows(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_due_fact_windows(integer) TO identity_context_runtime;

-- In the tenant's transaction: mark the owners of its due windows for the
-- refresh at commit; return how many windows were due.
CREATE FUNCTION app_fire_fact_windows() RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_tenant text := app_current_tenant();
    v_count integer;
BEGIN
    WITH due AS (
        DELETE FROM fact_timers WHERE tenant_id = v_tenant AND due_at <= now() RETURNING owner
    ), noted AS (
        INSERT INTO fact_dirty SELECT DISTINCT v_tenant, owner FROM due
            ON CONFLICT DO NOTHING RETURNING 1
    )
    SELECT count(*) INTO v_count FROM due;
    RETURN v_count;
END
$$;
REVOKE ALL ON FUNCTION app_fire_fact_windows() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_fire_fact_windows() TO identity_context_runtime;

-- Retention -------------------------------------------------------------------

-- Delete fact changes and outbox events older than p_keep, in every tenant,
-- and remember per tenant the highest seq deleted. Returns the rows deleted.
CREATE FUNCTION app_prune_fact_changes(p_keep interval) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_rows bigint;
BEGIN
    PERFORM set_config('app.platform', 'on', true);
    WITH pruned AS (
        DELETE FROM fact_changes WHERE committed_at < now() - p_keep
        RETURNING tenant_id, seq
    ), events AS (
        DELETE FROM outbox_events WHERE created_at < now() - p_keep
        RETURNING tenant_id, seq
    ), highest AS (
        SELECT tenant_id, max(seq) AS seq FROM (
            SELECT * FROM pruned UNION ALL SELECT * FROM events
        ) d GROUP BY tenant_id
    ), kept AS (
        INSERT INTO fact_retention (tenant_id, pruned_through)
        SELECT tenant_id, seq FROM highest
        ON CONFLICT (tenant_id) DO UPDATE
            SET pruned_through = greatest(fact_retention.pruned_through, excluded.pruned_through)
    )
    SELECT (SELECT count(*) FROM pruned) + (SELECT count(*) FROM events) INTO v_rows;
    PERFORM set_config('app.platform', '', true);
    RETURN v_rows;
END
$$;
REVOKE ALL ON FUNCTION app_prune_fact_changes(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_prune_fact_changes(interval) TO identity_context_runtime;
