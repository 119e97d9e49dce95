//! Model cards.

use berth_store::{DocumentQuery, ModelCardRow, StoreResult};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use crate::connect::pg;
use crate::rows::{Param, push_filters, refs};

const COLUMNS: &str = "id, tenant_id, model_id, provider, version, created_at, updated_at, body, \
                       sealed, is_default, archived_at";

fn card(row: &Row) -> ModelCardRow {
    ModelCardRow {
        id: row.get(0),
        tenant_id: row.get(1),
        model_id: row.get(2),
        provider: row.get(3),
        version: row.get(4),
        created_at: row.get(5),
        updated_at: row.get(6),
        body: row.get(7),
        sealed: row.get(8),
        is_default: row.get(9),
        archived_at: row.get(10),
    }
}

/// Clears the tenant's default before `c` takes it (the caller holds a transaction).
async fn clear_default<C: GenericClient>(client: &C, c: &ModelCardRow) -> StoreResult<()> {
    if c.is_default {
        client
            .execute(
                "UPDATE model_cards SET is_default = FALSE
                 WHERE tenant_id = $1 AND is_default AND id <> $2",
                &[&c.tenant_id, &c.id],
            )
            .await
            .map_err(pg)?;
    }
    Ok(())
}

/// Inserts a card (the caller holds a transaction).
pub async fn insert<C: GenericClient>(client: &C, c: &ModelCardRow) -> StoreResult<()> {
    clear_default(client, c).await?;
    client
        .execute(
            &format!(
                "INSERT INTO model_cards ({COLUMNS})
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            ),
            &[
                &c.id,
                &c.tenant_id,
                &c.model_id,
                &c.provider,
                &c.version,
                &c.created_at,
                &c.updated_at,
                &c.body,
                &c.sealed,
                &c.is_default,
                &c.archived_at,
            ],
        )
        .await
        .map_err(pg)?;
    Ok(())
}

pub async fn default_card<C: GenericClient>(
    client: &C,
    tenant_id: &str,
) -> StoreResult<Option<ModelCardRow>> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM model_cards
             WHERE tenant_id = $1 AND is_default AND archived_at IS NULL"
        ))
        .await
        .map_err(pg)?;
    Ok(client
        .query_opt(&stmt, &[&tenant_id])
        .await
        .map_err(pg)?
        .as_ref()
        .map(card))
}

pub async fn get<C: GenericClient>(
    client: &C,
    tenant_id: &str,
    id: &str,
) -> StoreResult<Option<ModelCardRow>> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM model_cards WHERE id = $1 AND tenant_id = $2"
        ))
        .await
        .map_err(pg)?;
    Ok(client
        .query_opt(&stmt, &[&id, &tenant_id])
        .await
        .map_err(pg)?
        .as_ref()
        .map(card))
}

pub async fn find<C: GenericClient>(
    client: &C,
    tenant_id: &str,
    model_id: &str,
) -> StoreResult<Option<ModelCardRow>> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM model_cards
             WHERE tenant_id = $1 AND model_id = $2 AND archived_at IS NULL"
        ))
        .await
        .map_err(pg)?;
    Ok(client
        .query_opt(&stmt, &[&tenant_id, &model_id])
        .await
        .map_err(pg)?
        .as_ref()
        .map(card))
}

pub async fn list<C: GenericClient>(
    client: &C,
    tenant_id: &str,
    provider: Option<&str>,
    query: &DocumentQuery,
) -> StoreResult<Vec<ModelCardRow>> {
    let mut sql =
        format!("SELECT {COLUMNS} FROM model_cards WHERE tenant_id = $1 AND archived_at IS NULL");
    let mut params: Vec<Param> = vec![Box::new(tenant_id.to_owned())];
    if let Some(provider) = provider {
        params.push(Box::new(provider.to_owned()));
        sql.push_str(&format!(" AND provider = ${}", params.len()));
    }
    push_filters(&mut sql, &mut params, query, "id", false, false);
    let rows = client.query(&sql, &refs(&params)).await.map_err(pg)?;
    Ok(rows.iter().map(card).collect())
}

/// Replaces a card if its version is still `expected_version` (the caller holds a transaction).
pub async fn replace<C: GenericClient>(
    client: &C,
    c: &ModelCardRow,
    expected_version: i64,
) -> StoreResult<bool> {
    let current = client
        .query_opt(
            "SELECT version FROM model_cards WHERE id = $1 AND tenant_id = $2 FOR UPDATE",
            &[&c.id, &c.tenant_id],
        )
        .await
        .map_err(pg)?;
    if current.map(|row| row.get::<_, i64>(0)) != Some(expected_version) {
        return Ok(false);
    }
    clear_default(client, c).await?;
    let n = client
        .execute(
            "UPDATE model_cards SET model_id = $3, provider = $4, version = $5, updated_at = $6,
                 body = $7, sealed = $8, is_default = $10, archived_at = $11
             WHERE id = $1 AND tenant_id = $2 AND version = $9",
            &[
                &c.id,
                &c.tenant_id,
                &c.model_id,
                &c.provider,
                &c.version,
                &c.updated_at,
                &c.body,
                &c.sealed,
                &expected_version,
                &c.is_default,
                &c.archived_at,
            ],
        )
        .await
        .map_err(pg)?;
    Ok(n > 0)
}

pub async fn delete<C: GenericClient>(client: &C, tenant_id: &str, id: &str) -> StoreResult<bool> {
    let n = client
        .execute(
            "DELETE FROM model_cards WHERE id = $1 AND tenant_id = $2",
            &[&id, &tenant_id],
        )
        .await
        .map_err(pg)?;
    Ok(n > 0)
}
