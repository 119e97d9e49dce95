-- The user each session's sandbox runs as: unique, so no two live sessions share one. Deleting
-- a session deletes its row; `disk_bytes` is the sandbox's last measured size.
CREATE TABLE sandbox_users (
    uid        INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL UNIQUE REFERENCES sessions (id),
    tenant_id  TEXT NOT NULL,
    disk_bytes BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX sandbox_users_by_tenant ON sandbox_users (tenant_id);

-- Rate-limit counters: units used per key and window, shared by every replica.
CREATE TABLE rate_windows (
    key          TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    used         BIGINT NOT NULL,
    PRIMARY KEY (key, window_start)
);
CREATE INDEX rate_windows_by_start ON rate_windows (window_start);
