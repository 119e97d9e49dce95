-- Memory stores are documents like vaults. Their memories are rows of their own, unique by
-- path within a store; every change to a memory also writes a row to memory_versions, which
-- outlives the memory (no foreign key to memories) but not the store.
CREATE TABLE memory_stores (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    version     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    archived_at BIGINT,
    body        TEXT NOT NULL
);
CREATE INDEX memory_stores_by_tenant ON memory_stores (tenant_id, id);

-- Paths use the "C" collation so they order bytewise, as on SQLite, whatever the database's
-- locale: list pages and prefix ranges (`path >= prefix AND path < bound`) depend on it.
-- `content` is plain text, ready for a GIN index on its tsvector when search comes.
CREATE TABLE memories (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    store_id       TEXT NOT NULL REFERENCES memory_stores (id) ON DELETE CASCADE,
    path           TEXT COLLATE "C" NOT NULL,
    content        TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    size_bytes     BIGINT NOT NULL,
    version_id     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
-- One memory per path in a store; also the index lists page through.
CREATE UNIQUE INDEX memories_by_path ON memories (store_id, path);
CREATE INDEX memories_by_recency ON memories (store_id, updated_at, id);

CREATE TABLE memory_versions (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    store_id       TEXT NOT NULL REFERENCES memory_stores (id) ON DELETE CASCADE,
    memory_id      TEXT NOT NULL,
    operation      TEXT NOT NULL CHECK (operation IN ('created', 'modified', 'deleted')),
    -- Path, content, digest and size are NULL once the version is redacted.
    path           TEXT,
    content        TEXT,
    content_sha256 TEXT,
    size_bytes     BIGINT,
    actor          TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    redacted_at    BIGINT,
    redacted_by    TEXT
);
CREATE INDEX memory_versions_by_store ON memory_versions (store_id, id);
CREATE INDEX memory_versions_by_memory ON memory_versions (memory_id, id);
CREATE INDEX memory_versions_by_age ON memory_versions (created_at);
