//! Bodies of the `Store` methods for files and skills; the trait impl in `lib.rs` forwards here.

use crate::*;

impl SqliteStore {
    pub(crate) async fn insert_file_inner(&self, file: &FileRow) -> StoreResult<()> {
        let file = file.clone();
        self.pool.write(move |c| files::insert_file(c, &file)).await
    }

    pub(crate) async fn get_file_inner(
        &self,
        tenant_id: &str,
        id: &str,
        now: i64,
    ) -> StoreResult<Option<FileRow>> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .read(move |c| files::get_file(c, &tenant_id, &id, now))
            .await
    }

    pub(crate) async fn list_files_inner(
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

    pub(crate) async fn scoped_files_inner(
        &self,
        tenant_id: &str,
        scope_id: &str,
    ) -> StoreResult<Vec<FileRow>> {
        let (tenant_id, scope_id) = (tenant_id.to_owned(), scope_id.to_owned());
        self.pool
            .read(move |c| files::scoped_files(c, &tenant_id, &scope_id))
            .await
    }

    pub(crate) async fn replace_file_inner(&self, file: &FileRow) -> StoreResult<bool> {
        let file = file.clone();
        self.pool
            .write(move |c| files::replace_file(c, &file))
            .await
    }

    pub(crate) async fn delete_file_inner(&self, tenant_id: &str, id: &str) -> StoreResult<bool> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .write(move |c| files::delete_file(c, &tenant_id, &id))
            .await
    }

    pub(crate) async fn expired_files_inner(
        &self,
        now: i64,
        limit: u32,
    ) -> StoreResult<Vec<FileRow>> {
        self.pool
            .read(move |c| files::expired_files(c, now, limit))
            .await
    }

    pub(crate) async fn insert_skill_inner(
        &self,
        skill: &SkillRow,
        first: &SkillVersionRow,
    ) -> StoreResult<()> {
        let (skill, first) = (skill.clone(), first.clone());
        self.pool
            .write(move |c| files::insert_skill(c, &skill, &first))
            .await
    }

    pub(crate) async fn get_skill_inner(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<Option<SkillRow>> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .read(move |c| files::get_skill(c, &tenant_id, &id))
            .await
    }

    pub(crate) async fn list_skills_inner(
        &self,
        tenant_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<SkillRow>> {
        let (tenant_id, query) = (tenant_id.to_owned(), query.clone());
        self.pool
            .read(move |c| files::list_skills(c, &tenant_id, &query))
            .await
    }

    pub(crate) async fn add_skill_version_inner(
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

    pub(crate) async fn get_skill_version_inner(
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

    pub(crate) async fn list_skill_versions_inner(
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

    pub(crate) async fn delete_skill_version_inner(
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

    pub(crate) async fn delete_skill_inner(&self, tenant_id: &str, id: &str) -> StoreResult<bool> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .write(move |c| files::delete_skill(c, &tenant_id, &id))
            .await
    }
}
