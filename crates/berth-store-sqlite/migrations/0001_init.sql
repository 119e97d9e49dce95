-- Settings that must survive restarts (e.g. the root secret's check value).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Keys are stored as SHA-256 hashes only.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    hash         BLOB NOT NULL UNIQUE,
    is_admin     INTEGER NOT NULL DEFAULT 0,
    source       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, id);

-- Documents hold the rendered API object in `body`; the other columns exist to filter and page.
CREATE TABLE agents (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    archived_at INTEGER,
    body        TEXT NOT NULL
);
CREATE INDEX agents_by_tenant ON agents (tenant_id, id);

CREATE TABLE agent_versions (
    agent_id   TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    tenant_id  TEXT NOT NULL,
    version    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (agent_id, version)
);

CREATE TABLE environments (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    archived_at INTEGER,
    body        TEXT NOT NULL
);
CREATE INDEX environments_by_tenant ON environments (tenant_id, id);
