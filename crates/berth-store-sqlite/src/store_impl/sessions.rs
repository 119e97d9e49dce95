//! Bodies of the `Store` methods for sessions; the trait impl in `lib.rs` forwards here.

use crate::*;

impl SqliteStore {
    pub(crate) async fn create_session_inner(
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

    pub(crate) async fn get_session_inner(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<Option<SessionRow>> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .read(move |c| sessions::get(c, &tenant_id, &id))
            .await
    }

    pub(crate) async fn list_sessions_inner(
        &self,
        tenant_id: &str,
        query: &SessionQuery,
    ) -> StoreResult<Vec<SessionRow>> {
        let (tenant_id, query) = (tenant_id.to_owned(), query.clone());
        self.pool
            .read(move |c| sessions::list(c, &tenant_id, &query))
            .await
    }

    pub(crate) async fn change_session_inner(
        &self,
        change: &SessionChange,
    ) -> StoreResult<ChangeOutcome> {
        let change = change.clone();
        self.pool.write(move |c| sessions::change(c, &change)).await
    }

    pub(crate) async fn archive_session_inner(
        &self,
        tenant_id: &str,
        id: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .write(move |c| sessions::archive(c, &tenant_id, &id, now))
            .await
    }

    pub(crate) async fn delete_session_inner(
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

    pub(crate) async fn runnable_sessions_inner(
        &self,
        lease_cutoff: i64,
        limit: u32,
    ) -> StoreResult<Vec<String>> {
        self.pool
            .read(move |c| runner::runnable(c, lease_cutoff, limit))
            .await
    }

    pub(crate) async fn claim_session_inner(
        &self,
        session_id: &str,
        owner: &str,
        lease_cutoff: i64,
        expires_at: i64,
    ) -> StoreResult<Option<Lease>> {
        let (session_id, owner) = (session_id.to_owned(), owner.to_owned());
        self.pool
            .write(move |c| runner::claim(c, &session_id, &owner, lease_cutoff, expires_at))
            .await
    }
}
