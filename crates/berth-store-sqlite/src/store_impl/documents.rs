//! Documents and agent history (`DocumentRecords`, `AgentHistory`) over the queries in
//! `documents.rs`.

use crate::*;

#[async_trait]
impl DocumentRecords for SqliteStore {
    async fn insert_document(&self, collection: Collection, doc: &Document) -> StoreResult<()> {
        let doc = doc.clone();
        self.pool
            .write(move |c| documents::insert(c, collection, &doc))
            .await
    }

    async fn get_document(
        &self,
        collection: Collection,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<Option<Document>> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .read(move |c| documents::get(c, collection, &tenant_id, &id))
            .await
    }

    async fn list_documents(
        &self,
        collection: Collection,
        tenant_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<Document>> {
        let (tenant_id, query) = (tenant_id.to_owned(), query.clone());
        self.pool
            .read(move |c| documents::list(c, collection, &tenant_id, &query))
            .await
    }

    async fn replace_document(
        &self,
        collection: Collection,
        doc: &Document,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let doc = doc.clone();
        self.pool
            .write(move |c| documents::replace(c, collection, &doc, expected_version))
            .await
    }

    async fn delete_document(
        &self,
        collection: Collection,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<DeleteOutcome> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .write(move |c| documents::delete(c, collection, &tenant_id, &id))
            .await
    }
}

#[async_trait]
impl AgentHistory for SqliteStore {
    async fn get_agent_version(
        &self,
        tenant_id: &str,
        id: &str,
        version: i64,
    ) -> StoreResult<Option<Document>> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .read(move |c| documents::get_version(c, &tenant_id, &id, version))
            .await
    }

    async fn list_agent_versions(
        &self,
        tenant_id: &str,
        id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<Document>> {
        let (tenant_id, id, query) = (tenant_id.to_owned(), id.to_owned(), query.clone());
        self.pool
            .read(move |c| documents::list_versions(c, &tenant_id, &id, &query))
            .await
    }

    async fn current_agent_versions(
        &self,
        tenant_id: &str,
        ids: &[String],
    ) -> StoreResult<Vec<(String, i64)>> {
        let (tenant_id, ids) = (tenant_id.to_owned(), ids.to_vec());
        self.pool
            .read(move |c| documents::current_versions(c, &tenant_id, &ids))
            .await
    }
}
