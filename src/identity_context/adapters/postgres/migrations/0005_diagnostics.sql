-- Onboarding diagnostics: what the catalog requires of every tenant, and how
-- far the consumers of each tenant's outbox have read.

-- Scopes a bound application needs in the tenant, as '<kind>:<path>' templates
-- (realm:files means realm:<slug>/files of the tenant it is bound to).
ALTER TABLE applications
    ADD COLUMN required_scopes text[] NOT NULL DEFAULT '{}'
        CHECK (array_position(required_scopes, NULL) IS NULL);

-- Every tenant needs mail; drive, once bound, keeps its files in a realm.
UPDATE applications SET required = true WHERE application_id = 'app:mail';
UPDATE applications SET required_scopes = '{realm:files}' WHERE application_id = 'app:drive';

-- How far each consumer of a tenant's outbox (the fact stream and others) has
-- read; the slowest one decides what is still unconsumed.
CREATE TABLE outbox_cursors (
    tenant_id  text NOT NULL REFERENCES tenants (tenant_id),
    consumer   text NOT NULL CHECK (consumer ~ '^[a-z][a-z0-9:._-]{0,127}$'),
    last_seq   bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, consumer)
);
ALTER TABLE outbox_cursors ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox_cursors FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON outbox_cursors USING (tenant_id = app_current_tenant())
    WITH CHECK (tenant_id = app_current_tenant());
GRANT SELECT, INSERT, UPDATE ON outbox_cursors TO identity_context_runtime;

