-- Per-tenant model credentials. `body` is the public card; `sealed` holds the key and header
-- values, encrypted by the server (AES-256-GCM) before they reach the database.
CREATE TABLE model_cards (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    model_id   TEXT NOT NULL,
    provider   TEXT NOT NULL,
    version    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    body       TEXT NOT NULL,
    sealed     BYTEA NOT NULL,
    UNIQUE (tenant_id, model_id)
);
CREATE INDEX model_cards_by_tenant ON model_cards (tenant_id, id);
