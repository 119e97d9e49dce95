-- Vaults are documents like environments. Their credentials keep the public API object in
-- `body` and the secret fields in `sealed`, encrypted by the server before they reach the
-- database (`sealed` is cleared when a credential is archived).
CREATE TABLE vaults (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    version     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    archived_at BIGINT,
    body        TEXT NOT NULL
);
CREATE INDEX vaults_by_tenant ON vaults (tenant_id, id);

-- Deleting a vault deletes its credentials.
CREATE TABLE vault_credentials (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    vault_id       TEXT NOT NULL REFERENCES vaults (id) ON DELETE CASCADE,
    auth_type      TEXT NOT NULL,
    mcp_server_url TEXT,
    version        BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    archived_at    BIGINT,
    body           TEXT NOT NULL,
    sealed         BYTEA
);
CREATE INDEX vault_credentials_by_vault ON vault_credentials (tenant_id, vault_id, id);
-- At most one active credential per vault and MCP server; archived ones may repeat a URL.
CREATE UNIQUE INDEX vault_credentials_active_url ON vault_credentials (vault_id, mcp_server_url)
    WHERE archived_at IS NULL AND mcp_server_url IS NOT NULL;
