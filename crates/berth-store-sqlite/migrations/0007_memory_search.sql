-- Memory search. The full-text index is an external-content FTS5 table over the memories'
-- paths and contents, kept current by triggers, so it changes in the same transaction as the
-- memory. Content vectors live in a table of their own, one compact row per memory (a search
-- reads a whole store's), written in the memory's transaction and gone with it.
CREATE VIRTUAL TABLE memories_fts USING fts5(
    path,
    content,
    content = 'memories',
    content_rowid = 'seq',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
INSERT INTO memories_fts (memories_fts) VALUES ('rebuild');

CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts (rowid, path, content) VALUES (new.seq, new.path, new.content);
END;
CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, path, content)
    VALUES ('delete', old.seq, old.path, old.content);
END;
CREATE TRIGGER memories_fts_update AFTER UPDATE OF path, content ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, path, content)
    VALUES ('delete', old.seq, old.path, old.content);
    INSERT INTO memories_fts (rowid, path, content) VALUES (new.seq, new.path, new.content);
END;

-- `vector` is little-endian: an f32 scale, then one i8 per dimension; `model` names the
-- embedder (vectors of different embedders are never compared). Every write of a vector is a
-- new row with a new `seq` (AUTOINCREMENT never reuses one), so a store's count, sum and
-- largest `seq` change with every change to its vectors: servers cache a store's vectors and
-- check that signature, read from the index alone, before each search.
CREATE TABLE memory_vectors (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    memory_id TEXT NOT NULL UNIQUE REFERENCES memories (id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    store_id  TEXT NOT NULL,
    model     TEXT NOT NULL,
    vector    BLOB NOT NULL
);
CREATE INDEX memory_vectors_by_store ON memory_vectors (store_id, model, tenant_id, seq);
