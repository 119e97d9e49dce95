-- Memory search. `search` is a generated tsvector of the path's words (weight A) and the
-- content (weight B), so PostgreSQL recomputes it in the statement that writes the memory; a
-- GIN index serves the matches. Content vectors live in a table of their own, one compact row
-- per memory (a search reads a whole store's), written in the memory's transaction and gone
-- with it.
ALTER TABLE memories
    ADD COLUMN search tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, translate(path, '/_-.', '    ')), 'A')
        || setweight(to_tsvector('english'::regconfig, content), 'B')
    ) STORED;
CREATE INDEX memories_search ON memories USING GIN (search);

-- `vector` is little-endian: an f32 scale, then one i8 per dimension; `model` names the
-- embedder (vectors of different embedders are never compared). Every write of a vector is a
-- new row with a new `seq`, so a store's count, sum and largest `seq` change with every change
-- to its vectors (the sum catches sequence values committed out of order): servers cache a
-- store's vectors and check that signature, read from the index alone, before each search.
CREATE TABLE memory_vectors (
    seq       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    memory_id TEXT NOT NULL UNIQUE REFERENCES memories (id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    store_id  TEXT NOT NULL,
    model     TEXT NOT NULL,
    vector    BYTEA NOT NULL
);
CREATE INDEX memory_vectors_by_store ON memory_vectors (store_id, model, tenant_id, seq);
