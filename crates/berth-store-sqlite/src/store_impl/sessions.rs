//! Sessions' own rows (`SessionRecords`) over the queries in `sessions.rs`.

use crate::*;

#[async_trait]
impl SessionRecords for SqliteStore {
    async fn create_session(
        &self,
        row: &SessionRow,
        memory_store_ids: &[String],
        events: &[NewEvent],
    ) -> StoreResult<Vec<StoredEvent>> {
        let (row, stores, events) = (row.clone(), memory_store_ids.to_vec(), events.to_vec());
        self.pool
            .write(move |c| sessions::create(c, &row, &stores, &events))
            .await
    }

    async fn get_session(&self, tenant_id: &str, id: &str) -> StoreResult<Option<SessionRow>> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .read(move |c| sessions::get(c, &tenant_id, &id))
            .await
    }

    async fn list_sessions(
        &self,
        tenant_id: &str,
        query: &SessionQuery,
    ) -> StoreResult<Vec<SessionRow>> {
        let (tenant_id, query) = (tenant_id.to_owned(), query.clone());
        self.pool
            .read(move |c| sessions::list(c, &tenant_id, &query))
            .await
    }

    async fn change_session(&self, change: &SessionChange) -> StoreResult<ChangeOutcome> {
        let change = change.clone();
        self.pool.write(move |c| sessions::change(c, &change)).await
    }

    async fn archive_session(
        &self,
        tenant_id: &str,
        id: &str,
        now: i64,
        events: &[NewEvent],
    ) -> StoreResult<Option<Vec<StoredEvent>>> {
        let (tenant_id, id, events) = (tenant_id.to_owned(), id.to_owned(), events.to_vec());
        self.pool
            .write(move |c| sessions::archive(c, &tenant_id, &id, now, &events))
            .await
    }

    async fn delete_session(
        &self,
        tenant_id: &str,
        id: &str,
        now: i64,
        events: &[NewEvent],
    ) -> StoreResult<DeleteSessionOutcome> {
        let (tenant_id, id, events) = (tenant_id.to_owned(), id.to_owned(), events.to_vec());
        self.pool
            .write(move |c| sessions::delete(c, &tenant_id, &id, now, &events))
            .await
    }
}
