//! Files and skills (`FileRecords`, `SkillRecords`) over the queries in `files.rs`.

use crate::*;

#[async_trait]
impl FileRecords for SqliteStore {
    async fn insert_file(&self, file: &FileRow) -> StoreResult<()> {
        let file = file.clone();
        self.pool.write(move |c| files::insert_file(c, &file)).await
    }

    async fn get_file(&self, tenant_id: &str, id: &str, now: i64) -> StoreResult<Option<FileRow>> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .read(move |c| files::get_file(c, &tenant_id, &id, now))
            .await
    }

    async fn list_files(
        &self,
        tenant_id: &str,
        query: &FileQuery,
        now: i64,
    ) -> StoreResult<Vec<FileRow>> {
        let (tenant_id, query) = (tenant_id.to_owned(), query.clone());
        self.pool
            .read(move |c| files::list_files(c, &tenant_id, &query, now))
            .await
    }

    async fn scoped_files(&self, tenant_id: &str, scope_id: &str) -> StoreResult<Vec<FileRow>> {
        let (tenant_id, scope_id) = (tenant_id.to_owned(), scope_id.to_owned());
        self.pool
            .read(move |c| files::scoped_files(c, &tenant_id, &scope_id))
            .await
    }

    async fn replace_file(&self, file: &FileRow) -> StoreResult<bool> {
        let file = file.clone();
        self.pool
            .write(move |c| files::replace_file(c, &file))
            .await
    }

    async fn delete_file(&self, tenant_id: &str, id: &str) -> StoreResult<bool> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .write(move |c| files::delete_file(c, &tenant_id, &id))
            .await
    }

    async fn expired_files(&self, now: i64, limit: u32) -> StoreResult<Vec<FileRow>> {
        self.pool
            .read(move |c| files::expired_files(c, now, limit))
            .await
    }
}

#[async_trait]
impl SkillRecords for SqliteStore {
    async fn insert_skill(&self, skill: &SkillRow, first: &SkillVersionRow) -> StoreResult<()> {
        let (skill, first) = (skill.clone(), first.clone());
        self.pool
            .write(move |c| files::insert_skill(c, &skill, &first))
            .await
    }

    async fn get_skill(&self, tenant_id: &str, id: &str) -> StoreResult<Option<SkillRow>> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .read(move |c| files::get_skill(c, &tenant_id, &id))
            .await
    }

    async fn list_skills(
        &self,
        tenant_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<SkillRow>> {
        let (tenant_id, query) = (tenant_id.to_owned(), query.clone());
        self.pool
            .read(move |c| files::list_skills(c, &tenant_id, &query))
            .await
    }

    async fn add_skill_version(
        &self,
        skill: &SkillRow,
        version: &SkillVersionRow,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let (skill, version) = (skill.clone(), version.clone());
        self.pool
            .write(move |c| files::add_skill_version(c, &skill, &version, expected_version))
            .await
    }

    async fn get_skill_version(
        &self,
        tenant_id: &str,
        skill_id: &str,
        version_id: &str,
    ) -> StoreResult<Option<SkillVersionRow>> {
        let (tenant_id, skill_id, version_id) = (
            tenant_id.to_owned(),
            skill_id.to_owned(),
            version_id.to_owned(),
        );
        self.pool
            .read(move |c| files::get_skill_version(c, &tenant_id, &skill_id, &version_id))
            .await
    }

    async fn list_skill_versions(
        &self,
        tenant_id: &str,
        skill_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<SkillVersionRow>> {
        let (tenant_id, skill_id, query) =
            (tenant_id.to_owned(), skill_id.to_owned(), query.clone());
        self.pool
            .read(move |c| files::list_skill_versions(c, &tenant_id, &skill_id, &query))
            .await
    }

    async fn delete_skill_version(
        &self,
        skill: &SkillRow,
        version_id: &str,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let (skill, version_id) = (skill.clone(), version_id.to_owned());
        self.pool
            .write(move |c| files::delete_skill_version(c, &skill, &version_id, expected_version))
            .await
    }

    async fn delete_skill(&self, tenant_id: &str, id: &str) -> StoreResult<bool> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .write(move |c| files::delete_skill(c, &tenant_id, &id))
            .await
    }
}
