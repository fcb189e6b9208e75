-- Foundation: the runtime group role and what it may see of the bookkeeping.
-- Runs as the owner role. The runtime group role is normally created by the
-- provisioning step (embedded server, tests) or by the operator; it is created
-- here only when the migrating role may create roles.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'identity_context_runtime') THEN
        CREATE ROLE identity_context_runtime NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
END
$$;

REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO identity_context_runtime;
GRANT SELECT ON schema_migrations TO identity_context_runtime;
