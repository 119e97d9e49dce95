//! Bodies of the `Store` methods for generic documents and agent versions; the trait impl in `lib.rs` forwards here.

use crate::*;

impl SqliteStore {
    pub(crate) async fn insert_document_inner(
        &self,
        collection: Collection,
        doc: &Document,
    ) -> StoreResult<()> {
        let doc = doc.clone();
        self.pool
            .write(move |c| documents::insert(c, collection, &doc))
            .await
    }

    pub(crate) async fn get_document_inner(
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

    pub(crate) async fn list_documents_inner(
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

    pub(crate) async fn replace_document_inner(
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

    pub(crate) async fn delete_document_inner(
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

    pub(crate) async fn get_agent_version_inner(
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

    pub(crate) async fn list_agent_versions_inner(
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

    pub(crate) async fn current_agent_versions_inner(
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
