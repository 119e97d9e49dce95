//! Files and skills (`FileRecords`, `SkillRecords`) over the queries in `files.rs`.

use crate::*;

#[async_trait]
impl FileRecords for PostgresStore {
    async fn insert_file(&self, file: &FileRow) -> StoreResult<()> {
        files::insert_file(&self.client().await?, file).await
    }

    async fn get_file(&self, tenant_id: &str, id: &str, now: i64) -> StoreResult<Option<FileRow>> {
        files::get_file(&self.client().await?, tenant_id, id, now).await
    }

    async fn list_files(
        &self,
        tenant_id: &str,
        query: &FileQuery,
        now: i64,
    ) -> StoreResult<Vec<FileRow>> {
        files::list_files(&self.client().await?, tenant_id, query, now).await
    }

    async fn scoped_files(&self, tenant_id: &str, scope_id: &str) -> StoreResult<Vec<FileRow>> {
        files::scoped_files(&self.client().await?, tenant_id, scope_id).await
    }

    async fn replace_file(&self, file: &FileRow) -> StoreResult<bool> {
        files::replace_file(&self.client().await?, file).await
    }

    async fn delete_file(&self, tenant_id: &str, id: &str) -> StoreResult<bool> {
        files::delete_file(&self.client().await?, tenant_id, id).await
    }

    async fn expired_files(&self, now: i64, limit: u32) -> StoreResult<Vec<FileRow>> {
        files::expired_files(&self.client().await?, now, limit).await
    }
}

#[async_trait]
impl SkillRecords for PostgresStore {
    async fn insert_skill(&self, skill: &SkillRow, first: &SkillVersionRow) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        files::insert_skill(&tx, skill, first).await?;
        tx.commit().await.map_err(pg)
    }

    async fn get_skill(&self, tenant_id: &str, id: &str) -> StoreResult<Option<SkillRow>> {
        files::get_skill(&self.client().await?, tenant_id, id).await
    }

    async fn list_skills(
        &self,
        tenant_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<SkillRow>> {
        files::list_skills(&self.client().await?, tenant_id, query).await
    }

    async fn add_skill_version(
        &self,
        skill: &SkillRow,
        version: &SkillVersionRow,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let done = files::add_skill_version(&tx, skill, version, expected_version).await?;
        tx.commit().await.map_err(pg)?;
        Ok(done)
    }

    async fn get_skill_version(
        &self,
        tenant_id: &str,
        skill_id: &str,
        version_id: &str,
    ) -> StoreResult<Option<SkillVersionRow>> {
        files::get_skill_version(&self.client().await?, tenant_id, skill_id, version_id).await
    }

    async fn list_skill_versions(
        &self,
        tenant_id: &str,
        skill_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<SkillVersionRow>> {
        files::list_skill_versions(&self.client().await?, tenant_id, skill_id, query).await
    }

    async fn delete_skill_version(
        &self,
        skill: &SkillRow,
        version_id: &str,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let done = files::delete_skill_version(&tx, skill, version_id, expected_version).await?;
        tx.commit().await.map_err(pg)?;
        Ok(done)
    }

    async fn delete_skill(&self, tenant_id: &str, id: &str) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let done = files::delete_skill(&tx, tenant_id, id).await?;
        tx.commit().await.map_err(pg)?;
        Ok(done)
    }
}
