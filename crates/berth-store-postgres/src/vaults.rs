//! Vault credentials. Vaults themselves are documents; deleting one deletes its credentials
//! through the foreign key's `ON DELETE CASCADE`.

use berth_store::{CredentialInsert, CredentialRow, DocumentQuery, StoreResult};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

use crate::connect::pg;
use crate::rows::{Param, push_filters, refs};

const COLUMNS: &str = "id, tenant_id, vault_id, auth_type, mcp_server_url, version, created_at, \
                       updated_at, archived_at, body, sealed";

/// The partial unique index allowing one active credential per vault and MCP server URL.
const ACTIVE_URL_INDEX: &str = "vault_credentials_active_url";

fn credential(row: &Row) -> CredentialRow {
    CredentialRow {
        id: row.get(0),
        tenant_id: row.get(1),
        vault_id: row.get(2),
        auth_type: row.get(3),
        mcp_server_url: row.get(4),
        version: row.get(5),
        created_at: row.get(6),
        updated_at: row.get(7),
        archived_at: row.get(8),
        body: row.get(9),
        sealed: row.get(10),
    }
}

fn is_duplicate_url(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().is_some_and(|db| {
        db.code() == &SqlState::UNIQUE_VIOLATION && db.constraint() == Some(ACTIVE_URL_INDEX)
    })
}

/// Checks the vault and its size and inserts. Must run in a transaction, committed only on
/// [`CredentialInsert::Inserted`]: the vault row stays locked until then, so concurrent inserts
/// into the same vault queue behind each other and cannot pass the limit together.
pub async fn insert<C: GenericClient>(
    tx: &C,
    c: &CredentialRow,
    max_per_vault: u32,
) -> StoreResult<CredentialInsert> {
    let lock = tx
        .prepare_cached(
            "SELECT archived_at FROM vaults WHERE id = $1 AND tenant_id = $2 FOR UPDATE",
        )
        .await
        .map_err(pg)?;
    let vault = tx
        .query_opt(&lock, &[&c.vault_id, &c.tenant_id])
        .await
        .map_err(pg)?;
    let archived_at: Option<i64> = match &vault {
        Some(row) => row.get(0),
        None => return Ok(CredentialInsert::NoVault),
    };
    if archived_at.is_some() {
        return Ok(CredentialInsert::NoVault);
    }
    let count = tx
        .prepare_cached("SELECT COUNT(*) FROM vault_credentials WHERE vault_id = $1")
        .await
        .map_err(pg)?;
    let held: i64 = tx
        .query_one(&count, &[&c.vault_id])
        .await
        .map_err(pg)?
        .get(0);
    if held >= i64::from(max_per_vault) {
        return Ok(CredentialInsert::VaultFull);
    }
    let stmt = tx
        .prepare_cached(&format!(
            "INSERT INTO vault_credentials ({COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .await
        .map_err(pg)?;
    let inserted = tx
        .execute(
            &stmt,
            &[
                &c.id,
                &c.tenant_id,
                &c.vault_id,
                &c.auth_type,
                &c.mcp_server_url,
                &c.version,
                &c.created_at,
                &c.updated_at,
                &c.archived_at,
                &c.body,
                &c.sealed,
            ],
        )
        .await;
    match inserted {
        Ok(_) => Ok(CredentialInsert::Inserted),
        Err(e) if is_duplicate_url(&e) => Ok(CredentialInsert::DuplicateUrl),
        Err(e) => Err(pg(e)),
    }
}

pub async fn get<C: GenericClient>(
    client: &C,
    tenant_id: &str,
    vault_id: &str,
    id: &str,
) -> StoreResult<Option<CredentialRow>> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM vault_credentials
             WHERE id = $1 AND tenant_id = $2 AND vault_id = $3"
        ))
        .await
        .map_err(pg)?;
    Ok(client
        .query_opt(&stmt, &[&id, &tenant_id, &vault_id])
        .await
        .map_err(pg)?
        .as_ref()
        .map(credential))
}

pub async fn list<C: GenericClient>(
    client: &C,
    tenant_id: &str,
    vault_id: &str,
    query: &DocumentQuery,
) -> StoreResult<Vec<CredentialRow>> {
    let mut sql =
        format!("SELECT {COLUMNS} FROM vault_credentials WHERE tenant_id = $1 AND vault_id = $2");
    let mut params: Vec<Param> = vec![
        Box::new(tenant_id.to_owned()),
        Box::new(vault_id.to_owned()),
    ];
    push_filters(&mut sql, &mut params, query, "id", false, true);
    let rows = client.query(&sql, &refs(&params)).await.map_err(pg)?;
    Ok(rows.iter().map(credential).collect())
}

/// A unique violation (a duplicate active URL) surfaces as `StoreError::Conflict`.
pub async fn replace<C: GenericClient>(
    client: &C,
    c: &CredentialRow,
    expected_version: i64,
) -> StoreResult<bool> {
    let stmt = client
        .prepare_cached(
            "UPDATE vault_credentials SET auth_type = $4, mcp_server_url = $5, version = $6,
                 updated_at = $7, archived_at = $8, body = $9, sealed = $10
             WHERE id = $1 AND tenant_id = $2 AND vault_id = $3 AND version = $11",
        )
        .await
        .map_err(pg)?;
    let n = client
        .execute(
            &stmt,
            &[
                &c.id,
                &c.tenant_id,
                &c.vault_id,
                &c.auth_type,
                &c.mcp_server_url,
                &c.version,
                &c.updated_at,
                &c.archived_at,
                &c.body,
                &c.sealed,
                &expected_version,
            ],
        )
        .await
        .map_err(pg)?;
    Ok(n > 0)
}

pub async fn delete<C: GenericClient>(
    client: &C,
    tenant_id: &str,
    vault_id: &str,
    id: &str,
) -> StoreResult<bool> {
    let stmt = client
        .prepare_cached(
            "DELETE FROM vault_credentials WHERE id = $1 AND tenant_id = $2 AND vault_id = $3",
        )
        .await
        .map_err(pg)?;
    let n = client
        .execute(&stmt, &[&id, &tenant_id, &vault_id])
        .await
        .map_err(pg)?;
    Ok(n > 0)
}

pub async fn of_vaults<C: GenericClient>(
    client: &C,
    tenant_id: &str,
    vault_ids: &[String],
) -> StoreResult<Vec<CredentialRow>> {
    if vault_ids.is_empty() {
        return Ok(Vec::new());
    }
    let stmt = client
        .prepare_cached(
            "SELECT c.id, c.tenant_id, c.vault_id, c.auth_type, c.mcp_server_url, c.version,
                    c.created_at, c.updated_at, c.archived_at, c.body, c.sealed
             FROM vault_credentials c JOIN vaults v ON v.id = c.vault_id
             WHERE c.vault_id = ANY($1) AND v.tenant_id = $2 AND c.tenant_id = $2
               AND v.archived_at IS NULL AND c.archived_at IS NULL",
        )
        .await
        .map_err(pg)?;
    let rows = client
        .query(&stmt, &[&vault_ids, &tenant_id])
        .await
        .map_err(pg)?;
    Ok(rows.iter().map(credential).collect())
}
