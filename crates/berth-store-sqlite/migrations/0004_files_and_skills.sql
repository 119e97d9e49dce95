-- Files (uploads and session outputs) and skills. Their bytes live in blob storage; these rows
-- hold the API objects and the columns lists filter on.
CREATE TABLE files (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    scope_id    TEXT,
    output_path TEXT,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    size_bytes  INTEGER NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX files_by_tenant ON files (tenant_id, id);
CREATE INDEX files_by_scope ON files (tenant_id, scope_id, id);
CREATE UNIQUE INDEX files_by_output ON files (scope_id, output_path) WHERE output_path IS NOT NULL;
CREATE INDEX files_expiring ON files (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE skills (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    body       TEXT NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE INDEX skills_by_tenant ON skills (tenant_id, id);

CREATE TABLE skill_versions (
    skill_id   TEXT NOT NULL,
    id         TEXT NOT NULL,
    tenant_id  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    body       TEXT NOT NULL,
    manifest   TEXT NOT NULL,
    PRIMARY KEY (skill_id, id)
);
