//! Documents and agent history (`DocumentRecords`, `AgentHistory`) over the queries in
//! `documents.rs`.

use crate::*;

async fn insert_version<C: GenericClient>(client: &C, doc: &Document) -> StoreResult<()> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO agent_versions (agent_id, tenant_id, version, created_at, updated_at, body)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .await
        .map_err(pg)?;
    client
        .execute(
            &stmt,
            &[
                &doc.id,
                &doc.tenant_id,
                &doc.version,
                &doc.created_at,
                &doc.updated_at,
                &doc.body,
            ],
        )
        .await
        .map_err(pg)?;
    Ok(())
}

#[async_trait]
impl DocumentRecords for PostgresStore {
    async fn insert_document(&self, collection: Collection, doc: &Document) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let stmt = tx
            .prepare_cached(&format!(
                "INSERT INTO {} ({DOC_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                collection.table()
            ))
            .await
            .map_err(pg)?;
        tx.execute(
            &stmt,
            &[
                &doc.id,
                &doc.tenant_id,
                &doc.version,
                &doc.created_at,
                &doc.updated_at,
                &doc.archived_at,
                &doc.body,
            ],
        )
        .await
        .map_err(pg)?;
        if collection.keeps_history() {
            insert_version(&tx, doc).await?;
        }
        tx.commit().await.map_err(pg)
    }

    async fn get_document(
        &self,
        collection: Collection,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<Option<Document>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {DOC_COLUMNS} FROM {} WHERE id = $1 AND tenant_id = $2",
                collection.table()
            ))
            .await
            .map_err(pg)?;
        let row = client
            .query_opt(&stmt, &[&id, &tenant_id])
            .await
            .map_err(pg)?;
        Ok(row.as_ref().map(rows::document))
    }

    async fn list_documents(
        &self,
        collection: Collection,
        tenant_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<Document>> {
        let client = self.client().await?;
        let mut sql = format!(
            "SELECT {DOC_COLUMNS} FROM {} WHERE tenant_id = $1",
            collection.table()
        );
        let mut params: Vec<Param> = vec![Box::new(tenant_id.to_owned())];
        push_filters(&mut sql, &mut params, query, "id", false, true);
        let stmt = client.prepare_cached(&sql).await.map_err(pg)?;
        let rows = client.query(&stmt, &refs(&params)).await.map_err(pg)?;
        Ok(rows.iter().map(rows::document).collect())
    }

    async fn replace_document(
        &self,
        collection: Collection,
        doc: &Document,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let stmt = tx
            .prepare_cached(&format!(
                "UPDATE {} SET version = $3, updated_at = $4, archived_at = $5, body = $6
                 WHERE id = $1 AND tenant_id = $2 AND version = $7",
                collection.table()
            ))
            .await
            .map_err(pg)?;
        let changed = tx
            .execute(
                &stmt,
                &[
                    &doc.id,
                    &doc.tenant_id,
                    &doc.version,
                    &doc.updated_at,
                    &doc.archived_at,
                    &doc.body,
                    &expected_version,
                ],
            )
            .await
            .map_err(pg)?;
        if changed == 0 {
            return Ok(false);
        }
        if collection.keeps_history() {
            if doc.version != expected_version {
                insert_version(&tx, doc).await?;
            } else {
                tx.execute(
                    "UPDATE agent_versions SET body = $3, updated_at = $4
                     WHERE agent_id = $1 AND version = $2",
                    &[&doc.id, &doc.version, &doc.body, &doc.updated_at],
                )
                .await
                .map_err(pg)?;
            }
        }
        tx.commit().await.map_err(pg)?;
        Ok(true)
    }

    async fn delete_document(
        &self,
        collection: Collection,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<DeleteOutcome> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        if collection == Collection::Environments {
            // Lock the environment so no session can be created on it meanwhile.
            let exists = tx
                .query_opt(
                    "SELECT 1 FROM environments WHERE id = $1 AND tenant_id = $2 FOR UPDATE",
                    &[&id, &tenant_id],
                )
                .await
                .map_err(pg)?;
            if exists.is_none() {
                return Ok(DeleteOutcome::NotFound);
            }
            let in_use = tx
                .query_opt(
                    "SELECT 1 FROM sessions WHERE environment_id = $1 AND tenant_id = $2
                       AND archived_at IS NULL AND deleted_at IS NULL LIMIT 1",
                    &[&id, &tenant_id],
                )
                .await
                .map_err(pg)?;
            if in_use.is_some() {
                return Ok(DeleteOutcome::InUse);
            }
        }
        let n = tx
            .execute(
                &format!(
                    "DELETE FROM {} WHERE id = $1 AND tenant_id = $2",
                    collection.table()
                ),
                &[&id, &tenant_id],
            )
            .await
            .map_err(pg)?;
        tx.commit().await.map_err(pg)?;
        Ok(if n == 0 {
            DeleteOutcome::NotFound
        } else {
            DeleteOutcome::Deleted
        })
    }
}

#[async_trait]
impl AgentHistory for PostgresStore {
    async fn get_agent_version(
        &self,
        tenant_id: &str,
        id: &str,
        version: i64,
    ) -> StoreResult<Option<Document>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT v.agent_id, v.tenant_id, v.version, v.created_at, v.updated_at, a.archived_at, v.body
                 FROM agent_versions v JOIN agents a ON a.id = v.agent_id
                 WHERE v.agent_id = $1 AND v.tenant_id = $2 AND v.version = $3",
            )
            .await
            .map_err(pg)?;
        let row = client
            .query_opt(&stmt, &[&id, &tenant_id, &version])
            .await
            .map_err(pg)?;
        Ok(row.as_ref().map(rows::document))
    }

    async fn list_agent_versions(
        &self,
        tenant_id: &str,
        id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<Document>> {
        let client = self.client().await?;
        let mut sql = String::from(
            "SELECT agent_id, tenant_id, version, created_at, updated_at, NULL::BIGINT, body
             FROM agent_versions WHERE agent_id = $1 AND tenant_id = $2",
        );
        let mut params: Vec<Param> = vec![Box::new(id.to_owned()), Box::new(tenant_id.to_owned())];
        push_filters(&mut sql, &mut params, query, "version", true, false);
        let rows = client.query(&sql, &refs(&params)).await.map_err(pg)?;
        Ok(rows.iter().map(rows::document).collect())
    }

    async fn current_agent_versions(
        &self,
        tenant_id: &str,
        ids: &[String],
    ) -> StoreResult<Vec<(String, i64)>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, version FROM agents WHERE tenant_id = $1 AND id = ANY($2)",
                &[&tenant_id, &ids],
            )
            .await
            .map_err(pg)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}
