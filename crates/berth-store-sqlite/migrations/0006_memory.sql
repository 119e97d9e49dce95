-- Memory stores are documents like vaults. Their memories are rows of their own, unique by
-- path within a store; every change to a memory also writes a row to memory_versions, which
-- outlives the memory (no foreign key to memories) but not the store.
CREATE TABLE memory_stores (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    archived_at INTEGER,
    body        TEXT NOT NULL
);
CREATE INDEX memory_stores_by_tenant ON memory_stores (tenant_id, id);

-- `seq` is an explicit rowid: an external-content FTS5 index over `content` (search, later)
-- keys on the rowid, and VACUUM may renumber an implicit one.
CREATE TABLE memories (
    seq            INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    store_id       TEXT NOT NULL REFERENCES memory_stores (id) ON DELETE CASCADE,
    path           TEXT NOT NULL,
    content        TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    size_bytes     INTEGER NOT NULL,
    version_id     TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
-- One memory per path in a store; also the index lists page through (paths compare bytewise,
-- SQLite's default BINARY collation).
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
    size_bytes     INTEGER,
    actor          TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    redacted_at    INTEGER,
    redacted_by    TEXT
);
CREATE INDEX memory_versions_by_store ON memory_versions (store_id, id);
CREATE INDEX memory_versions_by_memory ON memory_versions (memory_id, id);
CREATE INDEX memory_versions_by_age ON memory_versions (created_at);
