-- Which memory stores each session has among its resources, so sessions can be listed by
-- memory store through an index instead of a text match on their bodies.
CREATE TABLE session_memory_stores (
    session_id      TEXT NOT NULL REFERENCES sessions (id),
    memory_store_id TEXT NOT NULL,
    PRIMARY KEY (memory_store_id, session_id)
);
CREATE INDEX session_memory_stores_by_session ON session_memory_stores (session_id);

INSERT INTO session_memory_stores (session_id, memory_store_id)
SELECT sessions.id, resource ->> 'memory_store_id'
FROM sessions, jsonb_array_elements(
    CASE WHEN jsonb_typeof(sessions.body::jsonb -> 'resources') = 'array'
         THEN sessions.body::jsonb -> 'resources' ELSE '[]'::jsonb END
) AS resource
WHERE resource ->> 'type' = 'memory_store' AND resource ->> 'memory_store_id' IS NOT NULL
ON CONFLICT DO NOTHING;
