//! Tenants and API keys (`TenantRecords`) over the queries in `keys.rs`.

use crate::*;

#[async_trait]
impl TenantRecords for SqliteStore {
    async fn create_tenant(&self, tenant: &TenantRow, first_key: &NewApiKey) -> StoreResult<()> {
        let (tenant, key) = (tenant.clone(), first_key.clone());
        self.pool
            .write(move |c| {
                keys::insert_tenant(c, &tenant)?;
                keys::upsert_api_key(c, &key)?;
                Ok(())
            })
            .await
    }

    async fn get_tenant(&self, id: &str) -> StoreResult<Option<TenantRow>> {
        let id = id.to_owned();
        self.pool.read(move |c| keys::get_tenant(c, &id)).await
    }

    async fn list_tenants(&self, query: &DocumentQuery) -> StoreResult<Vec<TenantRow>> {
        let query = query.clone();
        self.pool.read(move |c| keys::list_tenants(c, &query)).await
    }

    async fn upsert_api_key(&self, key: &NewApiKey) -> StoreResult<String> {
        let key = key.clone();
        self.pool
            .write(move |c| keys::upsert_api_key(c, &key))
            .await
    }

    async fn find_api_key(&self, hash: &[u8]) -> StoreResult<Option<ApiKeyRow>> {
        let hash = hash.to_vec();
        self.pool.read(move |c| keys::find_api_key(c, &hash)).await
    }

    async fn list_api_keys(
        &self,
        tenant_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<ApiKeyRow>> {
        let (tenant_id, query) = (tenant_id.to_owned(), query.clone());
        self.pool
            .read(move |c| keys::list_api_keys(c, &tenant_id, &query))
            .await
    }

    async fn revoke_api_key(
        &self,
        tenant_id: &str,
        id: &str,
        now: i64,
    ) -> StoreResult<RevokeOutcome> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .write(move |c| keys::revoke_api_key(c, &tenant_id, &id, now))
            .await
    }

    async fn revoke_keys_from_source(
        &self,
        tenant_id: &str,
        source: &str,
        keep_id: &str,
        now: i64,
    ) -> StoreResult<u64> {
        let (tenant_id, source, keep_id) =
            (tenant_id.to_owned(), source.to_owned(), keep_id.to_owned());
        self.pool
            .write(move |c| keys::revoke_keys_from_source(c, &tenant_id, &source, &keep_id, now))
            .await
    }

    async fn touch_api_key(&self, id: &str, now: i64) -> StoreResult<()> {
        let id = id.to_owned();
        self.pool
            .write(move |c| keys::touch_api_key(c, &id, now))
            .await
    }
}
