//! Bodies of the `Store` methods for files and skills; the trait impl in `lib.rs` forwards here.

use crate::*;

impl PostgresStore {
    pub(crate) async fn insert_skill_inner(
        &self,
        skill: &SkillRow,
        first: &SkillVersionRow,
    ) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        files::insert_skill(&tx, skill, first).await?;
        tx.commit().await.map_err(pg)
    }

    pub(crate) async fn add_skill_version_inner(
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

    pub(crate) async fn delete_skill_version_inner(
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

    pub(crate) async fn delete_skill_inner(&self, tenant_id: &str, id: &str) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let done = files::delete_skill(&tx, tenant_id, id).await?;
        tx.commit().await.map_err(pg)?;
        Ok(done)
    }
}
