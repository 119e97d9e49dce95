-- Memory search. `search` is a generated tsvector of the path's words (weight A) and the
-- content (weight B), so PostgreSQL recomputes it in the statement that writes the memory; a
-- GIN index serves the matches. The content's vector (little-endian f32s) and the embedder
-- that made it are written with the content.
ALTER TABLE memories
    ADD COLUMN embedding BYTEA,
    ADD COLUMN embedding_model TEXT,
    ADD COLUMN search tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, translate(path, '/_-.', '    ')), 'A')
        || setweight(to_tsvector('english'::regconfig, content), 'B')
    ) STORED;
CREATE INDEX memories_search ON memories USING GIN (search);
CREATE INDEX memories_by_embedding_model ON memories (embedding_model);
