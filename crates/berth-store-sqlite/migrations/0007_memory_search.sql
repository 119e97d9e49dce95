-- Memory search. The full-text index is an external-content FTS5 table over the memories'
-- paths and contents, kept current by triggers, so it changes in the same transaction as the
-- memory. The content's vector (little-endian f32s) and the embedder that made it sit on the
-- memory's row and are written with its content.
ALTER TABLE memories ADD COLUMN embedding BLOB;
ALTER TABLE memories ADD COLUMN embedding_model TEXT;
CREATE INDEX memories_by_embedding_model ON memories (embedding_model);

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
