-- Which memory stores each session has among its resources, so sessions can be listed by
-- memory store through an index instead of a text match on their bodies.
CREATE TABLE session_memory_stores (
    session_id      TEXT NOT NULL REFERENCES sessions (id),
    memory_store_id TEXT NOT NULL,
    PRIMARY KEY (memory_store_id, session_id)
) WITHOUT ROWID;
CREATE INDEX session_memory_stores_by_session ON session_memory_stores (session_id);

INSERT OR IGNORE INTO session_memory_stores (session_id, memory_store_id)
SELECT sessions.id, json_extract(resource.value, '$.memory_store_id')
FROM sessions, json_each(sessions.body, '$.resources') AS resource
WHERE json_extract(resource.value, '$.type') = 'memory_store'
  AND json_extract(resource.value, '$.memory_store_id') IS NOT NULL;
