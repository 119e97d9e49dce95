//! Tenants and API keys (`TenantRecords`) over the queries in `keys.rs`.

use crate::*;

pub(crate) async fn upsert_key<C: GenericClient>(
    client: &C,
    key: &NewApiKey,
) -> StoreResult<String> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO api_keys (id, tenant_id, name, prefix, hash, is_admin, source, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (hash) DO UPDATE SET
                 revoked_at = NULL, tenant_id = excluded.tenant_id, is_admin = excluded.is_admin,
                 source = excluded.source, name = excluded.name
             RETURNING id",
        )
        .await
        .map_err(pg)?;
    let row = client
        .query_one(
            &stmt,
            &[
                &key.id,
                &key.tenant_id,
                &key.name,
                &key.prefix,
                &key.hash,
                &key.is_admin,
                &key.source,
                &key.created_at,
            ],
        )
        .await
        .map_err(pg)?;
    Ok(row.get(0))
}

#[async_trait]
impl TenantRecords for PostgresStore {
    async fn create_tenant(&self, tenant: &TenantRow, first_key: &NewApiKey) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        tx.execute(
            "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)",
            &[&tenant.id, &tenant.name, &tenant.created_at],
        )
        .await
        .map_err(pg)?;
        upsert_key(&tx, first_key).await?;
        tx.commit().await.map_err(pg)
    }

    async fn get_tenant(&self, id: &str) -> StoreResult<Option<TenantRow>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT id, name, created_at FROM tenants WHERE id = $1")
            .await
            .map_err(pg)?;
        let row = client.query_opt(&stmt, &[&id]).await.map_err(pg)?;
        Ok(row.as_ref().map(rows::tenant))
    }

    async fn list_tenants(&self, query: &DocumentQuery) -> StoreResult<Vec<TenantRow>> {
        let client = self.client().await?;
        let mut sql = String::from("SELECT id, name, created_at FROM tenants WHERE TRUE");
        let mut params: Vec<Param> = Vec::new();
        push_filters(&mut sql, &mut params, query, "id", false, false);
        let rows = client.query(&sql, &refs(&params)).await.map_err(pg)?;
        Ok(rows.iter().map(rows::tenant).collect())
    }

    async fn upsert_api_key(&self, key: &NewApiKey) -> StoreResult<String> {
        store_impl::upsert_key(&self.client().await?, key).await
    }

    async fn find_api_key(&self, hash: &[u8]) -> StoreResult<Option<ApiKeyRow>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = $1 AND revoked_at IS NULL"
            ))
            .await
            .map_err(pg)?;
        let row = client.query_opt(&stmt, &[&hash]).await.map_err(pg)?;
        Ok(row.as_ref().map(rows::api_key))
    }

    async fn list_api_keys(
        &self,
        tenant_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<ApiKeyRow>> {
        let client = self.client().await?;
        let mut sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL"
        );
        let mut params: Vec<Param> = vec![Box::new(tenant_id.to_owned())];
        push_filters(&mut sql, &mut params, query, "id", false, false);
        let rows = client.query(&sql, &refs(&params)).await.map_err(pg)?;
        Ok(rows.iter().map(rows::api_key).collect())
    }

    async fn revoke_api_key(
        &self,
        tenant_id: &str,
        id: &str,
        now: i64,
    ) -> StoreResult<RevokeOutcome> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        // Lock the tenant's active keys so two concurrent revocations cannot both pass the
        // last-key check.
        let active = tx
            .query(
                "SELECT id FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL FOR UPDATE",
                &[&tenant_id],
            )
            .await
            .map_err(pg)?;
        let outcome = if !active.iter().any(|r| r.get::<_, &str>(0) == id) {
            RevokeOutcome::NotFound
        } else if active.len() <= 1 {
            RevokeOutcome::LastActiveKey
        } else {
            tx.execute(
                "UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2",
                &[&tenant_id, &id, &now],
            )
            .await
            .map_err(pg)?;
            RevokeOutcome::Revoked
        };
        tx.commit().await.map_err(pg)?;
        Ok(outcome)
    }

    async fn revoke_keys_from_source(
        &self,
        tenant_id: &str,
        source: &str,
        keep_id: &str,
        now: i64,
    ) -> StoreResult<u64> {
        self.client()
            .await?
            .execute(
                "UPDATE api_keys SET revoked_at = $4
                 WHERE tenant_id = $1 AND source = $2 AND id <> $3 AND revoked_at IS NULL",
                &[&tenant_id, &source, &keep_id, &now],
            )
            .await
            .map_err(pg)
    }

    async fn touch_api_key(&self, id: &str, now: i64) -> StoreResult<()> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
            .await
            .map_err(pg)?;
        client.execute(&stmt, &[&id, &now]).await.map_err(pg)?;
        Ok(())
    }
}
