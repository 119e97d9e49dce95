//! Model cards.

use berth_store::{DocumentQuery, ModelCardRow, StoreResult};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use crate::connect::pg;
use crate::rows::{Param, push_filters, refs};

const COLUMNS: &str =
    "id, tenant_id, model_id, provider, version, created_at, updated_at, body, sealed";

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
    }
}

pub async fn insert<C: GenericClient>(client: &C, c: &ModelCardRow) -> StoreResult<()> {
    client
        .execute(
            &format!(
                "INSERT INTO model_cards ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
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
            ],
        )
        .await
        .map_err(pg)?;
    Ok(())
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
            "SELECT {COLUMNS} FROM model_cards WHERE tenant_id = $1 AND model_id = $2"
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
    let mut sql = format!("SELECT {COLUMNS} FROM model_cards WHERE tenant_id = $1");
    let mut params: Vec<Param> = vec![Box::new(tenant_id.to_owned())];
    if let Some(provider) = provider {
        params.push(Box::new(provider.to_owned()));
        sql.push_str(&format!(" AND provider = ${}", params.len()));
    }
    push_filters(&mut sql, &mut params, query, "id", false, false);
    let rows = client.query(&sql, &refs(&params)).await.map_err(pg)?;
    Ok(rows.iter().map(card).collect())
}

pub async fn replace<C: GenericClient>(
    client: &C,
    c: &ModelCardRow,
    expected_version: i64,
) -> StoreResult<bool> {
    let n = client
        .execute(
            "UPDATE model_cards SET model_id = $3, provider = $4, version = $5, updated_at = $6,
                 body = $7, sealed = $8
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
