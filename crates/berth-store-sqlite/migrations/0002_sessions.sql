-- Sessions: `body` is the static part of the API object; the other columns are live state.
CREATE TABLE sessions (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants (id),
    agent_id          TEXT NOT NULL,
    agent_version     INTEGER NOT NULL,
    environment_id    TEXT NOT NULL,
    status            TEXT NOT NULL,
    version           INTEGER NOT NULL,
    body              TEXT NOT NULL,
    private           TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    archived_at       INTEGER,
    deleted_at        INTEGER,
    last_seq          INTEGER NOT NULL DEFAULT 0,
    pending_inputs    INTEGER NOT NULL DEFAULT 0,
    usage_input       INTEGER NOT NULL DEFAULT 0,
    usage_output      INTEGER NOT NULL DEFAULT 0,
    usage_cache_read  INTEGER NOT NULL DEFAULT 0,
    usage_cache_write INTEGER NOT NULL DEFAULT 0,
    active_micros     INTEGER NOT NULL DEFAULT 0,
    turn_started_at   INTEGER,
    lease_owner       TEXT,
    lease_expires_at  INTEGER,
    lease_generation  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_by_tenant ON sessions (tenant_id, id);
CREATE INDEX sessions_by_environment ON sessions (environment_id);
-- The runner's work queue: sessions with pending input or an unfinished turn.
CREATE INDEX sessions_with_work ON sessions (id)
    WHERE deleted_at IS NULL AND (pending_inputs > 0 OR status IN ('running', 'rescheduling'));

-- The event log, clustered by (session, seq) so pages and replays are range scans.
CREATE TABLE session_events (
    session_id   TEXT NOT NULL REFERENCES sessions (id),
    seq          INTEGER NOT NULL,
    id           TEXT NOT NULL UNIQUE,
    type         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    processed_at INTEGER,
    cancelled_at INTEGER,
    -- Position in the model's context: 2*seq when processed on arrival, 2*(last seq at
    -- promotion)+1 for queued inputs; NULL while pending or when cancelled.
    ctx_order    INTEGER,
    body         TEXT NOT NULL,
    private      TEXT,
    PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;
CREATE INDEX session_events_pending ON session_events (session_id, seq)
    WHERE processed_at IS NULL AND cancelled_at IS NULL;
CREATE INDEX session_events_context ON session_events (session_id, ctx_order)
    WHERE ctx_order IS NOT NULL;

-- Text streamed for events not yet written, so a crash mid-stream can close them.
CREATE TABLE stream_buffers (
    session_id TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    kind       TEXT NOT NULL,
    text       TEXT NOT NULL,
    PRIMARY KEY (session_id, event_id)
);
